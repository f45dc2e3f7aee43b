//! Set and delete: test first unless the resource pretests, `_exist: false` through delete,
//! the after state by what `set` returns, and what-if (the manifest's, set's `whatIfArg`, or
//! synthesized from test).

use super::*;
use crate::compare::differing_properties;
use crate::discovery::Resource;
use crate::error::Result;
use crate::manifest::{Arg, ReturnKind};
use crate::results::SetResult;
use crate::trace::MessageSink;
use serde_json::Value;

impl Engine {
    /// Sets an instance to the desired state (or, with `what_if`, says what set would do).
    ///
    /// - Unless set `implementsPretest`, test runs first; an instance already in the desired
    ///   state is not set, and its before and after states are the actual state.
    /// - `_exist: false` on a resource with `delete` and without `handlesExist`: get, delete, get.
    /// - `return: state`: the output is the after state; `stateAndDiff`: the after state and the
    ///   changed property names; absent: the after state comes from a second get.
    /// - What-if: the manifest's `whatIf` method, else set with its `whatIfArg`, else synthesized
    ///   from test (before = actual state, after = actual state updated with the desired one).
    pub fn set(
        &self,
        r: &Resource,
        desired: &Value,
        what_if: bool,
        sink: &mut dyn MessageSink,
    ) -> Result<SetResult> {
        let Some(set) = &r.manifest.set else {
            return Err(not_implemented(r, "set"));
        };
        self.check_input(r, desired, sink)?;
        if what_if {
            return self.set_what_if(r, desired, sink);
        }
        let mut before: Option<Value> = None;
        if set.implements_pretest != Some(true) {
            let t = self.test(r, desired, sink)?;
            let actual = strip_in_desired_state(t.actual_state);
            if t.in_desired_state {
                return Ok(SetResult {
                    before_state: actual.clone(),
                    after_state: actual,
                    changed_properties: Vec::new(),
                });
            }
            before = Some(actual);
        }
        if exist_is_false(desired) && r.manifest.delete.is_some() && set.handles_exist != Some(true)
        {
            let before = match before {
                Some(b) => b,
                None => self.get(r, Some(desired), sink)?.actual_state,
            };
            self.delete(r, desired, false, sink)?;
            let after = self.get(r, Some(desired), sink)?.actual_state;
            let changed = differing_properties(&after, &before, None);
            return Ok(SetResult {
                before_state: before,
                after_state: after,
                changed_properties: changed,
            });
        }
        let before = match before {
            Some(b) => b,
            None => self.get(r, Some(desired), sink)?.actual_state,
        };
        let m = MethodRef {
            operation: "set",
            executable: &set.executable,
            args: set.args.as_deref(),
            input: set.input,
        };
        let out = self.invoke(r, &m, Some(desired), false, sink)?;
        self.finish_set(r, "set", set.returns, &out.stdout, desired, before, sink)
    }

    fn set_what_if(
        &self,
        r: &Resource,
        desired: &Value,
        sink: &mut dyn MessageSink,
    ) -> Result<SetResult> {
        let set = r
            .manifest
            .set
            .as_ref()
            .ok_or_else(|| not_implemented(r, "set"))?;
        let (method, returns) = if let Some(w) = &r.manifest.what_if {
            (
                MethodRef {
                    operation: "whatIf",
                    executable: &w.executable,
                    args: w.args.as_deref(),
                    input: w.input,
                },
                w.returns,
            )
        } else if set
            .args
            .iter()
            .flatten()
            .any(|a| matches!(a, Arg::WhatIf(_)))
        {
            (
                MethodRef {
                    operation: "set",
                    executable: &set.executable,
                    args: set.args.as_deref(),
                    input: set.input,
                },
                set.what_if_returns.or(set.returns),
            )
        } else {
            let t = self.test(r, desired, sink)?;
            let before = strip_in_desired_state(t.actual_state);
            let mut after = before.clone();
            if let (Some(a), Some(d)) = (after.as_object_mut(), desired.as_object()) {
                for (k, v) in d {
                    if k != "$schema" {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
            return Ok(SetResult {
                before_state: before,
                after_state: after,
                changed_properties: t.differing_properties,
            });
        };
        let before = self.get(r, Some(desired), sink)?.actual_state;
        let out = self.invoke(r, &method, Some(desired), true, sink)?;
        self.finish_set(
            r,
            method.operation,
            returns,
            &out.stdout,
            desired,
            before,
            sink,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_set(
        &self,
        r: &Resource,
        operation: &'static str,
        returns: Option<ReturnKind>,
        stdout: &str,
        desired: &Value,
        before: Value,
        sink: &mut dyn MessageSink,
    ) -> Result<SetResult> {
        let (after, changed) = match returns {
            Some(ReturnKind::State) => {
                let after = parse_one(r, operation, stdout)?;
                self.check_output(r, operation, &after, sink)?;
                let changed = differing_properties(&after, &before, None);
                (after, changed)
            }
            Some(ReturnKind::StateAndDiff) => {
                let (after, changed) = parse_state_and_diff(r, operation, stdout)?;
                self.check_output(r, operation, &after, sink)?;
                (after, changed)
            }
            None => {
                let after = self.get(r, Some(desired), sink)?.actual_state;
                let changed = differing_properties(&after, &before, None);
                (after, changed)
            }
        };
        Ok(SetResult {
            before_state: before,
            after_state: after,
            changed_properties: changed,
        })
    }

    /// Deletes an instance. With `what_if`, returns what would change: from the resource when
    /// its delete has a `whatIfArg` (its output, if any, is the after state), else synthesized
    /// (the after state is the actual state with `_exist: false`).
    pub fn delete(
        &self,
        r: &Resource,
        input: &Value,
        what_if: bool,
        sink: &mut dyn MessageSink,
    ) -> Result<Option<SetResult>> {
        let Some(delete) = &r.manifest.delete else {
            return Err(not_implemented(r, "delete"));
        };
        self.check_input(r, input, sink)?;
        let m = MethodRef::of("delete", delete);
        if !what_if {
            self.invoke(r, &m, Some(input), false, sink)?;
            return Ok(None);
        }
        let before = match &r.manifest.get {
            Some(_) => self.get(r, Some(input), sink)?.actual_state,
            None => input.clone(),
        };
        let has_arg = delete
            .args
            .iter()
            .flatten()
            .any(|a| matches!(a, Arg::WhatIf(_)));
        let after = if has_arg {
            let out = self.invoke(r, &m, Some(input), true, sink)?;
            if out.stdout.trim().is_empty() {
                None
            } else {
                Some(parse_one(r, "delete", &out.stdout)?)
            }
        } else {
            None
        };
        let after = after.unwrap_or_else(|| {
            let mut a = before.clone();
            if let Some(map) = a.as_object_mut() {
                map.insert("_exist".into(), Value::Bool(false));
            } else {
                a = serde_json::json!({"_exist": false});
            }
            a
        });
        let changed = differing_properties(&after, &before, None);
        Ok(Some(SetResult {
            before_state: before,
            after_state: after,
            changed_properties: changed,
        }))
    }
}

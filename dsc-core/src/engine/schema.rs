//! Instance schemas: embedded or printed by the schema command (run at most once per resource
//! per engine), compiled once, and instances checked against them going in and coming out.

use super::*;
use crate::discovery::Resource;
use crate::error::{Error, Result};
use crate::manifest::{Kind, SchemaSource};
use crate::text;
use crate::trace::MessageSink;
use serde_json::Value;
use std::sync::Arc;

impl Engine {
    /// The instance JSON Schema (embedded, or printed by the schema command, which runs at most
    /// once per resource per engine).
    pub fn schema(&self, r: &Resource, sink: &mut dyn MessageSink) -> Result<Value> {
        match self.instance_schema(r, sink)? {
            Some(s) => Ok(s.json.clone()),
            None => Err(Error::NotImplemented {
                resource: r.type_name.clone(),
                operation: "schema",
            }),
        }
    }

    // ----- schema handling --------------------------------------------------------------

    pub(super) fn instance_schema(
        &self,
        r: &Resource,
        sink: &mut dyn MessageSink,
    ) -> Result<Option<Arc<InstanceSchema>>> {
        let Some(source) = &r.manifest.schema else {
            return Ok(None);
        };
        let key = r
            .path
            .join(r.type_name.to_lowercase())
            .join(r.version.to_string());
        if let Some(s) = lock(&self.schemas).get(&key) {
            return Ok(Some(Arc::clone(s)));
        }
        let json = match source {
            SchemaSource::Embedded(s) => s.to_value().map_err(|e| {
                bad_output(
                    r,
                    "schema",
                    format!("the embedded instance schema cannot be read: {e}"),
                )
            })?,
            SchemaSource::Command(c) => {
                let m = MethodRef {
                    operation: "schema",
                    executable: &c.executable,
                    args: c.args.as_deref(),
                    input: None,
                };
                let out = self.invoke(r, &m, None, false, sink)?;
                parse_one(r, "schema", &out.stdout)?
            }
        };
        let validator = jsonschema::validator_for(&json).map_err(|e| {
            bad_output(
                r,
                "schema",
                format!("the instance schema is not a valid JSON Schema: {e}"),
            )
        })?;
        let compiled = Arc::new(InstanceSchema { json, validator });
        lock(&self.schemas).insert(key, Arc::clone(&compiled));
        Ok(Some(compiled))
    }

    pub(super) fn check_input(
        &self,
        r: &Resource,
        input: &Value,
        sink: &mut dyn MessageSink,
    ) -> Result<()> {
        if !input.is_object() {
            return Err(Error::InvalidInput(format!(
                "input for resource '{}' must be a JSON object, not {}",
                r.type_name,
                text::type_name(input)
            )));
        }
        if r.kind != Kind::Resource {
            return Ok(());
        }
        if let Some(schema) = self.instance_schema(r, sink)?
            && let Some(e) = first_schema_error(&schema.validator, input)
        {
            return Err(Error::InvalidInput(format!(
                "input for resource '{}' does not match its schema: {e}",
                r.type_name
            )));
        }
        Ok(())
    }

    pub(super) fn check_output(
        &self,
        r: &Resource,
        operation: &'static str,
        output: &Value,
        sink: &mut dyn MessageSink,
    ) -> Result<()> {
        if r.kind != Kind::Resource {
            return Ok(());
        }
        if let Some(schema) = self.instance_schema(r, sink)?
            && let Some(e) = first_schema_error(&schema.validator, output)
        {
            return Err(bad_output(
                r,
                operation,
                format!("output does not match the instance schema: {e}"),
            ));
        }
        Ok(())
    }
}

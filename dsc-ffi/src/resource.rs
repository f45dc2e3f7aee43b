//! Resource discovery and invocation.

use crate::*;
use dsc_core::discovery::ResourceFilter;
use dsc_core::frontend::{FrontendError, ResourceOp, invoke_resource};
use std::ffi::c_int;

/// Lists resources whose type matches `filter` (NULL for all; `*` and `?` wildcards) as a JSON
/// array of what `traek resource list` prints for each: `{type, kind, version, capabilities,
/// description, tags, path, directory, requireAdapter, deprecationMessage}`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn traek_resource_list(
    engine: *mut traek_engine,
    filter: *const c_char,
    out_json: *mut *mut c_char,
) -> traek_result {
    unsafe {
        with_engine(engine, out_json, |e| {
            let filter = ResourceFilter {
                type_pattern: opt_arg(filter, "filter")?.map(str::to_string),
                ..ResourceFilter::default()
            };
            let mut sink = e.sink();
            let resources = e.engine.list_resources(None, &filter, &mut sink);
            let list: Vec<_> = resources.iter().map(|r| r.summary()).collect();
            serde_json::to_string(&list).map_err(|err| Failure(TRAEK_ERR_RESOURCE, err.to_string()))
        })
    }
}

/// Invokes a resource. `operation` is `get`, `set`, `test`, `delete`, `export` or `schema`;
/// `version_req` (`=1.0.0`, `^2`, ...) and `input_json` (JSON or YAML) may be NULL; `what_if`
/// (non-zero) applies to set and delete. The result JSON has Microsoft dsc's shape
/// (`{"actualState": ...}` for get, and so on; `null` for a delete; the instance schema for
/// schema). The built-in group types (`Microsoft.DSC/Group`, `Microsoft.DSC/Assertion`,
/// `Microsoft.DSC/Include`) run their nested resources, as `traek resource` does; their result
/// is what the CLI prints, and a nested failure is reported in it, not as a result code.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn traek_resource_invoke(
    engine: *mut traek_engine,
    operation: *const c_char,
    resource_type: *const c_char,
    version_req: *const c_char,
    input_json: *const c_char,
    what_if: c_int,
    out_json: *mut *mut c_char,
) -> traek_result {
    unsafe {
        with_engine(engine, out_json, |e| {
            let op = ResourceOp::parse(arg(operation, "operation")?, what_if != 0)
                .map_err(frontend_error)?;
            let ty = arg(resource_type, "resource_type")?;
            let req = opt_arg(version_req, "version_req")?;
            let input = opt_arg(input_json, "input_json")?
                .map(|t| parse_json(t, "input"))
                .transpose()?;
            let mut sink = e.sink();
            let outcome = invoke_resource(&e.engine, ty, req, op, input, &mut sink).map_err(
                |err| match err {
                    FrontendError::MissingInput { operation } => Failure(
                        TRAEK_ERR_INVALID_ARGUMENT,
                        format!("'{operation}' needs input_json (the instance)"),
                    ),
                    other => frontend_error(other),
                },
            )?;
            e.log_all(outcome.messages);
            Ok(outcome.output.to_json().to_string())
        })
    }
}

//! `traek mcp`: a Model Context Protocol server on stdin/stdout (rmcp), with the tools dsc's
//! `mcp` offers: list resources (and adapted ones), show one, invoke a resource operation, invoke
//! a configuration document, list functions, invoke a function or an expression, show a schema. Each tool is a thin call into `dsc-core`; results
//! are the JSON the CLI would print, and failures are tool errors (`isError: true`) whose text
//! says what went wrong. Messages from resources go to stderr.

use dsc_core::config::run::Operation;
use dsc_core::discovery::ResourceFilter;
use dsc_core::frontend::{self, ResourceOp};
use dsc_core::{Engine, EngineOptions};
use rmcp::handler::server::{router::tool::ToolRouter, wrapper::Parameters};
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ErrorData as McpError, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::sync::Arc;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct ListResources {
    /// Only resources whose type matches this pattern (`*` and `?` wildcards).
    #[serde(default)]
    type_filter: Option<String>,
    /// List the resources of the adapters matching this pattern instead.
    #[serde(default)]
    adapter: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct ShowResource {
    /// The resource type, like Microsoft/OSInfo.
    r#type: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
enum ResourceOperation {
    Get,
    Set,
    Test,
    Export,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct InvokeResource {
    operation: ResourceOperation,
    /// The resource type.
    r#type: String,
    /// The instance's properties (JSON object).
    #[serde(default)]
    properties: Option<Value>,
    /// With `set`: report what would change, change nothing.
    #[serde(default)]
    what_if: bool,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
enum ConfigOperation {
    Get,
    Set,
    Test,
    Export,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct InvokeConfig {
    operation: ConfigOperation,
    /// The configuration document, as JSON or YAML text.
    configuration: String,
    /// Parameter values, by name.
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
    /// With `set`: report what would change, change nothing.
    #[serde(default)]
    what_if: bool,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct InvokeFunction {
    /// The name of the function, like `concat` (see `list_dsc_functions`).
    function: String,
    /// The arguments, as a JSON array.
    parameters: Value,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct InvokeExpression {
    /// The expression, like `[concat('a', 'b')]` (text without brackets is returned as is).
    expression: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct ShowSchema {
    /// Which schema: `configuration`, `resource-manifest` or `package-manifest`.
    r#type: String,
}

#[derive(Clone)]
struct Server {
    engine: Arc<Engine>,
    tool_router: ToolRouter<Self>,
}

/// A tool's answer: the JSON text, or the error as a tool error.
fn answer(result: Result<Value, String>) -> Result<CallToolResult, McpError> {
    Ok(match result {
        Ok(v) => CallToolResult::success(vec![ContentBlock::text(v.to_string())]),
        Err(e) => CallToolResult::error(vec![ContentBlock::text(e)]),
    })
}

impl Server {
    /// Runs blocking engine work off the async runtime.
    async fn blocking(
        &self,
        work: impl FnOnce(&Engine) -> Result<Value, String> + Send + 'static,
    ) -> Result<CallToolResult, McpError> {
        let engine = Arc::clone(&self.engine);
        let result = tokio::task::spawn_blocking(move || work(&engine))
            .await
            .unwrap_or_else(|e| Err(format!("the tool did not finish: {e}")));
        answer(result)
    }
}

#[tool_router]
impl Server {
    #[tool(
        description = "List the DSC resources traek finds (type, kind, version, capabilities, description, ...)"
    )]
    async fn list_dsc_resources(
        &self,
        Parameters(a): Parameters<ListResources>,
    ) -> Result<CallToolResult, McpError> {
        self.blocking(move |engine| {
            let sink = &mut crate::print_message;
            let filter = ResourceFilter {
                type_pattern: a.type_filter,
                ..ResourceFilter::default()
            };
            let resources = engine.list_resources(a.adapter.as_deref(), &filter, sink);
            Ok(Value::Array(
                resources.iter().map(|r| r.summary().to_value()).collect(),
            ))
        })
        .await
    }

    #[tool(description = "Show one DSC resource: what it is and the JSON Schema of its instances")]
    async fn show_dsc_resource(
        &self,
        Parameters(a): Parameters<ShowResource>,
    ) -> Result<CallToolResult, McpError> {
        self.blocking(move |engine| {
            let sink = &mut crate::print_message;
            let r = engine
                .find(&a.r#type, None, sink)
                .map_err(|e| e.to_string())?;
            let mut v = r.summary().to_value();
            if let (Ok(schema), Some(m)) = (engine.schema(&r, sink), v.as_object_mut()) {
                m.insert("schema".into(), schema);
            }
            Ok(v)
        })
        .await
    }

    #[tool(description = "Invoke get, set, test or export on a DSC resource instance")]
    async fn invoke_dsc_resource(
        &self,
        Parameters(a): Parameters<InvokeResource>,
    ) -> Result<CallToolResult, McpError> {
        self.blocking(move |engine| invoke_resource(engine, a))
            .await
    }

    #[tool(description = "Run get, set, test or export over a DSC configuration document")]
    async fn invoke_dsc_config(
        &self,
        Parameters(a): Parameters<InvokeConfig>,
    ) -> Result<CallToolResult, McpError> {
        self.blocking(move |engine| invoke_config(engine, a)).await
    }

    #[tool(description = "Invoke a DSC function with the given arguments (a JSON array)")]
    async fn invoke_dsc_function(
        &self,
        Parameters(a): Parameters<InvokeFunction>,
    ) -> Result<CallToolResult, McpError> {
        answer(invoke_function(a))
    }

    #[tool(description = "Evaluate a DSC expression, like [concat('a', 'b')]")]
    async fn invoke_dsc_expression(
        &self,
        Parameters(a): Parameters<InvokeExpression>,
    ) -> Result<CallToolResult, McpError> {
        answer(
            dsc_core::expr::evaluate_string(&a.expression, &dsc_core::expr::Standalone)
                .map(|v| serde_json::json!({"result": v}))
                .map_err(|e| format!("expression '{}': {e}", a.expression)),
        )
    }

    #[tool(
        description = "Get the JSON Schema of a DSC format: a configuration document, a resource manifest, a package manifest"
    )]
    async fn show_dsc_schema(
        &self,
        Parameters(a): Parameters<ShowSchema>,
    ) -> Result<CallToolResult, McpError> {
        answer(
            frontend::schema(&a.r#type)
                .map(|s| serde_json::json!({"schema": s}))
                .ok_or_else(|| {
                    format!(
                        "unknown schema type '{}' (expected one of: {})",
                        a.r#type,
                        frontend::SCHEMAS.join(", ")
                    )
                }),
        )
    }

    #[tool(description = "List the functions configuration expressions can call")]
    async fn list_dsc_functions(&self) -> Result<CallToolResult, McpError> {
        answer(
            serde_json::to_value(dsc_core::expr::functions::FUNCTIONS).map_err(|e| e.to_string()),
        )
    }
}

fn invoke_resource(engine: &Engine, a: InvokeResource) -> Result<Value, String> {
    let op = match a.operation {
        ResourceOperation::Get => ResourceOp::Get,
        ResourceOperation::Test => ResourceOp::Test,
        ResourceOperation::Set => ResourceOp::Set { what_if: a.what_if },
        ResourceOperation::Export => ResourceOp::Export,
    };
    let input = a.properties.or_else(|| Some(Value::Object(Map::new())));
    let sink = &mut crate::print_message;
    let outcome = frontend::invoke_resource(engine, &a.r#type, None, op, input, sink)
        .map_err(|e| e.to_string())?;
    answered(outcome)
}

fn invoke_function(a: InvokeFunction) -> Result<Value, String> {
    let Value::Array(args) = a.parameters else {
        return Err("'parameters' must be a JSON array of the function's arguments".into());
    };
    dsc_core::expr::invoke_function(&a.function, &args, &dsc_core::expr::Standalone)
        .map(|v| serde_json::json!({"result": v}))
}

/// A tool's value: the outcome's output; its messages go to stderr.
fn answered(outcome: frontend::Outcome) -> Result<Value, String> {
    for m in outcome.messages {
        crate::print_message(m);
    }
    Ok(outcome.output.to_json())
}

fn invoke_config(engine: &Engine, a: InvokeConfig) -> Result<Value, String> {
    let operation = match a.operation {
        ConfigOperation::Get => Operation::Get,
        ConfigOperation::Test => Operation::Test,
        ConfigOperation::Set => Operation::Set { what_if: a.what_if },
        ConfigOperation::Export => Operation::Export,
    };
    let parameters = a.parameters.unwrap_or_default();
    let outcome = frontend::run_document(engine, &a.configuration, &parameters, operation)
        .map_err(|e| e.to_string())?;
    answered(outcome)
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::default();
        info.capabilities = ServerCapabilities::builder().enable_tools().build();
        info.server_info = Implementation::new("traek", env!("CARGO_PKG_VERSION"));
        info.instructions = Some(
            "Tools to discover and invoke DSC v3 resources and configuration documents with traek."
                .into(),
        );
        info
    }
}

/// Serves MCP on stdin/stdout until the client closes stdin.
pub fn serve(options: EngineOptions) -> Result<(), crate::Failure> {
    let failure = |e: String| crate::Failure {
        code: crate::exit::RESOURCE_ERROR,
        message: e,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| failure(format!("starting the runtime: {e}")))?;
    let server = Server {
        engine: Arc::new(Engine::new(options)),
        tool_router: Server::tool_router(),
    };
    runtime.block_on(async move {
        let running = server
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| failure(format!("MCP handshake failed: {e}")))?;
        running
            .waiting()
            .await
            .map_err(|e| failure(format!("MCP session ended with an error: {e}")))?;
        Ok(())
    })
}

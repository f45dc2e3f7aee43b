//! Export as a configuration document, including exporter resources (`kind: exporter`), whose
//! export prints resource instance definitions (`{"name", "type", "properties"}`) to export in
//! turn, recursively.

use super::*;
use crate::results::CONFIG_DOCUMENT_SCHEMA;

/// How many exporters may lead to one another.
const MAX_EXPORTER_DEPTH: usize = 8;

impl Engine {
    /// Exports every instance (filtered by `input`) as a configuration document.
    pub fn export_configuration(
        &self,
        r: &Resource,
        input: Option<&Value>,
        sink: &mut dyn MessageSink,
    ) -> Result<Value> {
        let exported = self.export(r, input, sink)?;
        let resources = self.exported_resources(r, &exported, sink)?;
        Ok(serde_json::json!({"$schema": CONFIG_DOCUMENT_SCHEMA, "resources": resources}))
    }

    /// The document resources an export stands for: the instances themselves, or for an
    /// exporter, the export of each definition it printed.
    pub fn exported_resources(
        &self,
        r: &Resource,
        exported: &ExportResult,
        sink: &mut dyn MessageSink,
    ) -> Result<Vec<Value>> {
        self.exported_resources_at(r, exported, sink, 0)
    }

    fn exported_resources_at(
        &self,
        r: &Resource,
        exported: &ExportResult,
        sink: &mut dyn MessageSink,
        depth: usize,
    ) -> Result<Vec<Value>> {
        if r.kind != Kind::Exporter {
            let doc = exported.to_configuration(&r.type_name);
            return Ok(doc
                .get("resources")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default());
        }
        if depth >= MAX_EXPORTER_DEPTH {
            return Err(bad_output(
                r,
                "export",
                format!("exporters lead to one another more than {MAX_EXPORTER_DEPTH} deep"),
            ));
        }
        let mut out = Vec::new();
        for definition in &exported.actual_state {
            let Some(type_name) = definition.get("type").and_then(Value::as_str) else {
                return Err(bad_output(
                    r,
                    "export",
                    format!(
                        "an exporter must print resource definitions with a 'type', got {definition}"
                    ),
                ));
            };
            let target = self.find(type_name, None, sink)?;
            let filter = definition.get("properties");
            let inner = self.export(&target, filter, sink)?;
            out.extend(self.exported_resources_at(&target, &inner, sink, depth + 1)?);
        }
        Ok(out)
    }
}

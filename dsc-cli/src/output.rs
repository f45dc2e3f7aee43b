//! Printing results: JSON, pretty JSON or YAML, and the resource table.

use crate::Failure;
use dsc_core::Resource;
use serde::Serialize;
use serde_json::Value;
use std::io::Write;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Json,
    PrettyJson,
    Yaml,
}

fn default_format() -> OutputFormat {
    if crate::stdout_is_terminal() {
        OutputFormat::Yaml
    } else {
        OutputFormat::Json
    }
}

fn render(value: &Value, format: OutputFormat) -> String {
    match format {
        OutputFormat::Json => value.to_string(),
        OutputFormat::PrettyJson => {
            serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
        }
        OutputFormat::Yaml => {
            let mut s = serde_norway::to_string(value).unwrap_or_else(|_| value.to_string());
            while s.ends_with('\n') {
                s.pop();
            }
            s
        }
    }
}

/// A value that could not be written as JSON.
fn unwritable(e: serde_json::Error) -> Failure {
    Failure {
        code: 3,
        message: e.to_string(),
    }
}

/// One item of a list: compact JSON is written directly; the other formats go through
/// [`render`].
fn render_item<T: Serialize>(item: &T, format: OutputFormat) -> Result<String, Failure> {
    match format {
        OutputFormat::Json => serde_json::to_string(item).map_err(unwritable),
        _ => Ok(render(
            &serde_json::to_value(item).map_err(unwritable)?,
            format,
        )),
    }
}

fn write_line(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    stdout_result(writeln!(out, "{text}").and_then(|_| out.flush()))
}

/// What a write to stdout came to: a closed pipe (`traek ... | head`) is not an error worth
/// reporting.
fn stdout_result(written: std::io::Result<()>) -> Result<(), Failure> {
    match written {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure {
            code: 2,
            message: format!("writing to stdout: {e}"),
        }),
    }
}

pub fn print_text(text: &str) -> Result<(), Failure> {
    write_line(text)
}

pub fn print_value(value: &Value, format: Option<OutputFormat>) -> Result<(), Failure> {
    write_line(&render(value, format.unwrap_or_else(default_format)))
}

pub fn print_serialize<T: Serialize>(
    value: &T,
    format: Option<OutputFormat>,
) -> Result<(), Failure> {
    let v = serde_json::to_value(value).map_err(|e| Failure {
        code: 3,
        message: e.to_string(),
    })?;
    print_value(&v, format)
}

/// A table on a terminal (unless a format is chosen), else one JSON value per line.
pub fn print_resource_list(
    resources: &[Arc<Resource>],
    format: Option<OutputFormat>,
) -> Result<(), Failure> {
    let items: Vec<_> = resources.iter().map(|r| r.summary()).collect();
    print_list(&items, || table(resources), format)
}

/// `traek function list`: a table on a terminal, else one JSON value per function.
pub fn print_function_list(
    functions: &[&dsc_core::expr::functions::FunctionInfo],
    format: Option<OutputFormat>,
) -> Result<(), Failure> {
    let items: Vec<Value> = functions
        .iter()
        .filter_map(|f| serde_json::to_value(f).ok())
        .collect();
    let table = || {
        let rows: Vec<Vec<String>> = functions
            .iter()
            .map(|f| {
                let max = if f.max_args == usize::MAX {
                    "*".to_string()
                } else {
                    f.max_args.to_string()
                };
                vec![
                    f.name.to_string(),
                    f.category.to_string(),
                    f.min_args.to_string(),
                    max,
                    f.return_types.join(","),
                    f.description.to_string(),
                ]
            })
            .collect();
        render_table(
            &[
                "Name",
                "Category",
                "MinArgs",
                "MaxArgs",
                "ReturnTypes",
                "Description",
            ],
            &rows,
        )
    };
    print_list(&items, table, format)
}

/// One value per line (YAML documents separated by `---`).
pub fn print_values(items: &[Value], format: Option<OutputFormat>) -> Result<(), Failure> {
    print_list(
        items,
        String::new,
        Some(format.unwrap_or_else(default_format)),
    )
}

/// A table on a terminal (unless a format is chosen), else one value per line (YAML documents
/// separated by `---`).
fn print_list<T: serde::Serialize>(
    items: &[T],
    table: impl FnOnce() -> String,
    format: Option<OutputFormat>,
) -> Result<(), Failure> {
    if format.is_none() && crate::stdout_is_terminal() {
        return write_line(&table());
    }
    let format = format.unwrap_or(OutputFormat::Json);
    // Items stream through one buffer of bounded size, whatever the length of the list.
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    for (i, item) in items.iter().enumerate() {
        let mut written = Ok(());
        if format == OutputFormat::Yaml && i > 0 {
            written = out.write_all(b"---\n");
        }
        if format == OutputFormat::Json {
            if let Err(e) = serde_json::to_writer(&mut out, item) {
                match e.io_error_kind() {
                    Some(kind) => written = Err(std::io::Error::from(kind)),
                    None => return Err(unwritable(e)),
                }
            }
        } else {
            let text = render_item(item, format)?;
            written = written.and_then(|_| out.write_all(text.as_bytes()));
        }
        written = written.and_then(|_| out.write_all(b"\n"));
        if written.is_err() {
            return stdout_result(written);
        }
    }
    stdout_result(out.flush())
}

fn table(resources: &[Arc<Resource>]) -> String {
    let rows: Vec<Vec<String>> = resources
        .iter()
        .map(|r| {
            vec![
                r.type_name.clone(),
                r.kind.as_str().to_string(),
                r.version.to_string(),
                r.manifest.capabilities().join(","),
                r.manifest.description.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let mut out = render_table(
        &["Type", "Kind", "Version", "Capabilities", "Description"],
        &rows,
    );
    if rows.is_empty() {
        out.push_str("\n(no resources found: check DSC_RESOURCE_PATH or PATH)");
    }
    out
}

/// A plain-text table: a header, a rule, and the rows; the last column is not padded.
pub fn render_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        let last = cells.len().saturating_sub(1);
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = vec![
        line(header.to_vec()),
        line(
            widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str)
                .collect(),
        ),
    ];
    for row in rows {
        out.push(line(row.iter().map(String::as_str).collect()));
    }
    out.join("\n")
}

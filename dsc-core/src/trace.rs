//! Trace levels, messages, and the parsing of a resource's stderr lines.
//!
//! Like Microsoft's `dsc`, a command resource reports progress by writing lines to stderr:
//! - `{"error": "text"}` (or `warn`, `info`, `debug`, `trace`): a message at that level;
//! - a tracing-subscriber JSON line, `{"timestamp": .., "level": "INFO", "fields": {"message": "text"}}`;
//! - `{"level": "warning", "message": "text"}`, the form the resource-anatomy document describes.
//!
//! Any other line is plain text: kept, and shown when the resource fails.

use crate::text;
use serde::Serialize;
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

/// A trace level, from most to least severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl Level {
    /// All levels, most severe first.
    pub const ALL: [Level; 5] = [
        Level::Error,
        Level::Warn,
        Level::Info,
        Level::Debug,
        Level::Trace,
    ];

    /// The lowercase name, as passed in `DSC_TRACE_LEVEL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }

    /// Whether a message at `self` is shown when the chosen level is `threshold`.
    pub fn enabled_at(self, threshold: Level) -> bool {
        self <= threshold
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A level name was not recognised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown trace level '{0}' (expected error, warn, info, debug or trace)")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "error" | "err" => Ok(Level::Error),
            "warn" | "warning" => Ok(Level::Warn),
            "info" | "information" | "informational" => Ok(Level::Info),
            "debug" | "verbose" => Ok(Level::Debug),
            "trace" => Ok(Level::Trace),
            _ => Err(UnknownLevel(s.to_string())),
        }
    }
}

/// One message from a resource or from the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub level: Level,
    /// The resource type the message came from, or `None` for the engine itself.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    pub message: String,
}

impl Message {
    /// A message from the engine itself.
    pub fn engine(level: Level, message: impl Into<String>) -> Self {
        Message {
            level,
            resource_type: None,
            message: message.into(),
        }
    }
}

/// Receives messages as they happen.
///
/// `Vec<Message>` collects them; any `FnMut(Message)` closure works too.
pub trait MessageSink {
    fn message(&mut self, message: Message);
}

impl MessageSink for Vec<Message> {
    fn message(&mut self, message: Message) {
        self.push(message);
    }
}

impl<F: FnMut(Message)> MessageSink for F {
    fn message(&mut self, message: Message) {
        self(message)
    }
}

/// What one stderr line of a resource turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StderrLine {
    /// A structured message at a level.
    Message(Level, String),
    /// Anything else, kept verbatim (without the line ending).
    Plain(String),
}

/// Classifies one line a resource wrote to stderr. Never fails: what is not a recognised
/// JSON message is plain text.
pub fn parse_stderr_line(line: &str) -> StderrLine {
    let trimmed = line.trim();
    if trimmed.starts_with('{')
        && let Ok(Value::Object(map)) = serde_json::from_str::<Value>(trimmed)
    {
        // {"error": "msg"} and friends: exactly one key that is a level.
        if map.len() == 1
            && let Some((k, v)) = map.iter().next()
            && let Ok(level) = k.parse::<Level>()
        {
            return StderrLine::Message(level, text::plain(v));
        }
        // tracing JSON: {"timestamp", "level", "fields": {"message"}}
        if let Some(level) = map
            .get("level")
            .and_then(Value::as_str)
            .and_then(|l| l.parse::<Level>().ok())
            && let Some(msg) = map
                .get("fields")
                .and_then(|f| f.get("message"))
                .or_else(|| map.get("message"))
        {
            return StderrLine::Message(level, text::plain(msg));
        }
    }
    StderrLine::Plain(line.trim_end_matches(['\r', '\n']).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_key_level_objects_are_messages() {
        assert_eq!(
            parse_stderr_line(r#"{"warn":"disk almost full"}"#),
            StderrLine::Message(Level::Warn, "disk almost full".into())
        );
        assert_eq!(
            parse_stderr_line(r#"{"Error": 42}"#),
            StderrLine::Message(Level::Error, "42".into())
        );
    }

    #[test]
    fn tracing_json_lines_are_messages() {
        let line = r#"{"timestamp":"2024-01-01T00:00:00Z","level":"DEBUG","fields":{"message":"hello"},"target":"x"}"#;
        assert_eq!(
            parse_stderr_line(line),
            StderrLine::Message(Level::Debug, "hello".into())
        );
    }

    #[test]
    fn anything_else_is_plain_text() {
        for line in [
            "plain",
            "{not json",
            r#"{"a":1}"#,
            r#"{"level":"loud","message":"x"}"#,
            "[1]",
        ] {
            assert_eq!(parse_stderr_line(line), StderrLine::Plain(line.into()));
        }
    }

    #[test]
    fn levels_order_from_error_to_trace() {
        assert!(Level::Error.enabled_at(Level::Warn));
        assert!(!Level::Info.enabled_at(Level::Warn));
        assert!(Level::Trace.enabled_at(Level::Trace));
    }
}

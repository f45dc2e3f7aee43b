//! The built-in functions of configuration expressions: the table `traek function list` prints
//! (name, category, argument counts, return types, description) and the dispatch to one module
//! per category. Names are matched case-insensitively, as in dsc.
//!
//! `if`, `map`, `filter`, `lambda` and `lambdaVariables` need unevaluated arguments and are
//! evaluated in [`super::eval`]; they are listed here all the same.

mod collection;
mod logic;
mod network;
mod numeric;
mod string;
pub mod system;
mod table;

use super::Context;
use crate::text::type_name;
use serde_json::Value;
pub use table::{FUNCTIONS, FunctionInfo};

/// The function of that name (case-insensitive).
pub fn lookup(name: &str) -> Option<&'static FunctionInfo> {
    FUNCTIONS.iter().find(|f| f.name.eq_ignore_ascii_case(name))
}

/// Calls a function whose arguments are evaluated and counted. The error is the reason,
/// without the function's name.
pub(super) fn call(name: &'static str, a: &[Value], ctx: &dyn Context) -> Result<Value, String> {
    logic::call(name, a)
        .or_else(|| numeric::call(name, a, ctx))
        .or_else(|| string::call(name, a))
        .or_else(|| collection::call(name, a))
        .or_else(|| network::call(name, a))
        .or_else(|| system::call(name, a, ctx))
        .unwrap_or_else(|| Err(format!("'{name}' needs its arguments unevaluated")))
}

fn as_str<'a>(v: &'a Value, what: &str) -> Result<&'a str, String> {
    v.as_str()
        .ok_or_else(|| format!("{what} must be a string, got {}", type_name(v)))
}

fn as_int(v: &Value, what: &str) -> Result<i64, String> {
    v.as_i64()
        .ok_or_else(|| format!("{what} must be an integer, got {}", type_name(v)))
}

fn as_array<'a>(v: &'a Value, what: &str) -> Result<&'a Vec<Value>, String> {
    v.as_array()
        .ok_or_else(|| format!("{what} must be an array, got {}", type_name(v)))
}

fn as_object<'a>(v: &'a Value, what: &str) -> Result<&'a serde_json::Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("{what} must be an object, got {}", type_name(v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_lists_the_83_functions_of_dsc_3_4() {
        let names: Vec<&str> = FUNCTIONS.iter().map(|f| f.name).collect();
        let mut sorted = names.clone();
        sorted.sort_by_key(|n| n.to_lowercase());
        assert_eq!(names, sorted);
        assert_eq!(names.len(), 85);
        for f in FUNCTIONS {
            assert!(f.min_args <= f.max_args, "{}", f.name);
        }
    }
}

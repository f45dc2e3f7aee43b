//! Integer arithmetic, `min`/`max`, `range`, `int` and `copyIndex`. Numbers in expressions are
//! 64-bit integers; overflow is an error, never a wrapped value.

use super::{Context, as_int, as_str};
use crate::text::type_name;
use serde_json::Value;

/// The most elements `range()` creates.
const MAX_RANGE: i64 = 10_000;

pub(super) fn call(name: &str, a: &[Value], ctx: &dyn Context) -> Option<Result<Value, String>> {
    Some(match name {
        "add" => arith(a, i64::checked_add),
        "sub" => arith(a, i64::checked_sub),
        "mul" => arith(a, i64::checked_mul),
        "div" => divide(a, i64::checked_div),
        "mod" => divide(a, i64::checked_rem),
        "min" => extreme(a, Iterator::min),
        "max" => extreme(a, Iterator::max),
        "range" => range(a),
        "int" => to_int(&a[0]),
        "copyIndex" => copy_index(a, ctx),
        _ => return None,
    })
}

fn operands(a: &[Value]) -> Result<(i64, i64), String> {
    Ok((
        as_int(&a[0], "the first operand")?,
        as_int(&a[1], "the second operand")?,
    ))
}

fn arith(a: &[Value], op: fn(i64, i64) -> Option<i64>) -> Result<Value, String> {
    let (x, y) = operands(a)?;
    op(x, y)
        .map(Value::from)
        .ok_or_else(|| format!("the result of {x} and {y} overflows a 64-bit integer"))
}

fn divide(a: &[Value], op: fn(i64, i64) -> Option<i64>) -> Result<Value, String> {
    let (x, y) = operands(a)?;
    if y == 0 {
        return Err("cannot divide by zero".into());
    }
    op(x, y)
        .map(Value::from)
        .ok_or_else(|| format!("the result of {x} and {y} overflows a 64-bit integer"))
}

fn extreme(a: &[Value], pick: fn(std::vec::IntoIter<i64>) -> Option<i64>) -> Result<Value, String> {
    let items: &[Value] = match a {
        [Value::Array(items)] => items,
        _ => a,
    };
    let ints = items
        .iter()
        .map(|v| as_int(v, "every value"))
        .collect::<Result<Vec<_>, _>>()?;
    pick(ints.into_iter())
        .map(Value::from)
        .ok_or_else(|| "needs at least one integer (the array is empty)".into())
}

fn range(a: &[Value]) -> Result<Value, String> {
    let start = as_int(&a[0], "the start index")?;
    let count = as_int(&a[1], "the count")?;
    if !(0..=MAX_RANGE).contains(&count) {
        return Err(format!(
            "the count must be between 0 and {MAX_RANGE}, got {count}"
        ));
    }
    if start
        .checked_add(count)
        .is_none_or(|end| end > i64::from(i32::MAX))
    {
        return Err("the start index plus the count must not exceed 2147483647".into());
    }
    Ok(Value::Array(
        (start..start + count).map(Value::from).collect(),
    ))
}

/// `int()`: an integer as it is; a string parsed as a number (`'4.0'` too) and truncated
/// toward zero, as dsc does. A fractional number is refused.
fn to_int(v: &Value) -> Result<Value, String> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(Value::from)
            .ok_or_else(|| format!("{n} is not an integer")),
        Value::String(s) => {
            let f: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
            // i64::MAX as f64 rounds up to 2^63, which does not fit: the bound is exclusive.
            const BOUND: f64 = 9_223_372_036_854_775_808.0;
            if !f.is_finite() || !(-BOUND..BOUND).contains(&f) {
                return Err(format!("'{s}' does not fit in a 64-bit integer"));
            }
            Ok(Value::from(f.trunc() as i64))
        }
        other => Err(format!("cannot convert {} to an integer", type_name(other))),
    }
}

fn copy_index(a: &[Value], ctx: &dyn Context) -> Result<Value, String> {
    let outside = || "copyIndex() can only be used inside a copy loop".to_string();
    let (loop_name, offset) = match a {
        [] => (None, 0),
        [Value::String(name)] => (Some(name.as_str()), 0),
        [Value::Number(_)] => {
            let offset = as_int(&a[0], "the offset")?;
            if offset < 0 {
                return Err("the offset must not be negative".into());
            }
            (None, offset)
        }
        [name, offset] => (
            Some(as_str(name, "the loop name")?),
            as_int(offset, "the offset")?,
        ),
        _ => return Err("takes a loop name and/or an integer offset".into()),
    };
    let index = ctx.copy_index(loop_name).ok_or_else(|| match loop_name {
        Some(n) if ctx.copy_index(None).is_some() => format!("there is no copy loop named '{n}'"),
        _ => outside(),
    })?;
    index
        .checked_add(offset)
        .map(Value::from)
        .ok_or_else(|| "the index overflows".into())
}

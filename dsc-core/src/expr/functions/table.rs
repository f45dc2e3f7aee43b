//! The table of built-in functions: name, category, argument counts, return types and
//! description, as `traek function list` prints it.

use serde::Serialize;

/// One built-in function, as `traek function list -o json` prints it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionInfo {
    pub name: &'static str,
    pub category: &'static str,
    pub min_args: usize,
    /// `usize::MAX`: no maximum.
    pub max_args: usize,
    pub return_types: &'static [&'static str],
    pub description: &'static str,
}

const fn f(
    name: &'static str,
    category: &'static str,
    min_args: usize,
    max_args: usize,
    return_types: &'static [&'static str],
    description: &'static str,
) -> FunctionInfo {
    FunctionInfo {
        name,
        category,
        min_args,
        max_args,
        return_types,
        description,
    }
}

const MANY: usize = usize::MAX;
const ANY: &[&str] = &["array", "boolean", "null", "number", "object", "string"];
const STR: &[&str] = &["string"];
const NUM: &[&str] = &["number"];
const BOOL: &[&str] = &["boolean"];
const ARR: &[&str] = &["array"];
const OBJ: &[&str] = &["object"];

/// Every built-in function, sorted by name.
#[rustfmt::skip]
pub const FUNCTIONS: &[FunctionInfo] = &[
    f("add", "Numeric", 2, 2, NUM, "Adds two integers"),
    f("and", "Logical", 2, MANY, BOOL, "Returns true if all arguments are true"),
    f("array", "Array", 1, 1, ARR, "Wraps a value in an array"),
    f("base64", "String", 1, 1, STR, "Encodes a string to Base64"),
    f("base64ToString", "String", 1, 1, STR, "Decodes a Base64 string"),
    f("bool", "Logical", 1, 1, BOOL, "Converts a string or number to a boolean"),
    f("cidrHost", "String", 2, 2, STR, "Returns the usable host address at an index of a network"),
    f("cidrSubnet", "String", 3, 3, STR, "Returns the subnet at an index when splitting a network into a longer prefix"),
    f("coalesce", "Comparison", 1, MANY, ANY, "Returns the first argument that is not null"),
    f("concat", "String", 2, MANY, &["string", "array"], "Joins strings, or arrays, into one"),
    f("contains", "Array", 2, 2, BOOL, "Whether an array, object or string contains a value"),
    f("context", "Deployment", 0, 0, OBJ, "Information about the operating system and the security context"),
    f("copyIndex", "Numeric", 0, 2, NUM, "The index of the current (or the named) copy loop, plus an offset"),
    f("createArray", "Array", 0, MANY, ARR, "Creates an array from the arguments"),
    f("createObject", "Object", 0, MANY, OBJ, "Creates an object from key and value pairs"),
    f("dataUri", "String", 1, 1, STR, "Converts a string to a data URI"),
    f("dataUriToString", "String", 1, 1, STR, "Decodes a data URI to a string"),
    f("div", "Numeric", 2, 2, NUM, "Divides two integers (rounding toward zero)"),
    f("empty", "Array", 1, 1, BOOL, "Whether an array, object or string is empty, or the value is null"),
    f("endsWith", "String", 2, 2, BOOL, "Whether a string ends with another (case-sensitive)"),
    f("envvar", "System", 1, 1, STR, "The value of an environment variable"),
    f("equals", "Comparison", 2, 2, BOOL, "Whether two values are equal"),
    f("false", "Logical", 0, 0, BOOL, "Returns false"),
    f("filter", "Lambda", 2, 2, ARR, "The elements of an array for which a lambda returns true"),
    f("first", "Array", 1, 1, ANY, "The first element of an array, or first character of a string"),
    f("format", "String", 1, MANY, STR, "Formats a string with {0}-style placeholders"),
    f("greater", "Comparison", 2, 2, BOOL, "Whether the first value is greater than the second"),
    f("greaterOrEquals", "Comparison", 2, 2, BOOL, "Whether the first value is greater than or equal to the second"),
    f("if", "Logical", 3, 3, ANY, "Returns one of two values depending on a condition"),
    f("indexOf", "Array", 2, 2, NUM, "The index of the first occurrence of an item in an array, or -1"),
    f("int", "Numeric", 1, 1, NUM, "Converts a string or number to an integer"),
    f("intersection", "Array", 2, MANY, &["array", "object"], "The elements (or key/value pairs) common to all arguments"),
    f("items", "Object", 1, 1, ARR, "An object's properties as an array of {key, value} objects"),
    f("join", "String", 2, 2, STR, "Joins an array's elements with a delimiter"),
    f("json", "Object", 1, 1, ANY, "Parses a JSON string"),
    f("lambda", "Lambda", 2, 3, &["lambda"], "Defines a lambda for map() and filter(): parameter names, then an expression"),
    f("lambdaVariables", "Lambda", 1, 1, ANY, "The value of a lambda parameter"),
    f("last", "Array", 1, 1, ANY, "The last element of an array, or last character of a string"),
    f("lastIndexOf", "Array", 2, 2, NUM, "The index of the last occurrence of an item in an array, or -1"),
    f("length", "Array", 1, 1, NUM, "The number of elements, properties or characters"),
    f("less", "Comparison", 2, 2, BOOL, "Whether the first value is less than the second"),
    f("lessOrEquals", "Comparison", 2, 2, BOOL, "Whether the first value is less than or equal to the second"),
    f("loadFileAsBase64", "System", 1, 1, STR, "The Base64 encoding of a file's bytes (at most 96 KiB)"),
    f("loadTextContent", "System", 1, 2, STR, "The text of a file (utf-8, utf-16, utf-16BE, iso-8859-1 or us-ascii)"),
    f("map", "Lambda", 2, 2, ARR, "Applies a lambda to each element of an array"),
    f("max", "Numeric", 1, MANY, NUM, "The largest of integers, or of an array of integers"),
    f("min", "Numeric", 1, MANY, NUM, "The smallest of integers, or of an array of integers"),
    f("mod", "Numeric", 2, 2, NUM, "The remainder of dividing two integers"),
    f("mul", "Numeric", 2, 2, NUM, "Multiplies two integers"),
    f("not", "Logical", 1, 1, BOOL, "Negates a boolean"),
    f("null", "Object", 0, 0, &["null"], "Returns null"),
    f("objectKeys", "Object", 1, 1, ARR, "The keys of an object"),
    f("or", "Logical", 2, MANY, BOOL, "Returns true if any argument is true"),
    f("parameters", "Deployment", 1, 1, ANY, "The value of a configuration parameter"),
    f("parseCidr", "Object", 1, 1, OBJ, "Network, netmask, broadcast and usable range of a CIDR"),
    f("path", "System", 2, MANY, STR, "Joins path segments with the system's separator"),
    f("range", "Array", 2, 2, ARR, "An array of consecutive integers from a start, of a count"),
    f("reference", "Resource", 1, 1, ANY, "The result of a resource that ran earlier"),
    f("resourceId", "Resource", 2, 2, STR, "The id of a resource of the document, from its type and name"),
    f("restartRequired", "System", 1, 2, BOOL, "Whether a resource reported that a process, service or the system needs a restart"),
    f("secret", "Deployment", 1, 2, STR, "A secret from an extension with the secret capability"),
    f("shallowMerge", "Object", 1, 1, OBJ, "Merges an array of objects, later properties replacing earlier ones"),
    f("skip", "Array", 2, 2, &["array", "string"], "An array or string without its first elements"),
    f("startsWith", "String", 2, 2, BOOL, "Whether a string starts with another (case-sensitive)"),
    f("stateChanged", "System", 1, 1, BOOL, "Whether a resource changed state in this run"),
    f("stdout", "System", 0, 0, STR, "The standard output of an extension's import command"),
    f("string", "String", 1, 1, STR, "Converts a value to a string"),
    f("sub", "Numeric", 2, 2, NUM, "Subtracts two integers"),
    f("substring", "String", 2, 3, STR, "Part of a string, from a start index, of a length"),
    f("systemRoot", "System", 0, 0, STR, "The root of the system's file system"),
    f("take", "Array", 2, 2, &["array", "string"], "The first elements of an array or string"),
    f("toLower", "String", 1, 1, STR, "Converts a string to lower case"),
    f("toUpper", "String", 1, 1, STR, "Converts a string to upper case"),
    f("trim", "String", 1, 1, STR, "Removes leading and trailing whitespace"),
    f("true", "Logical", 0, 0, BOOL, "Returns true"),
    f("tryGet", "Object", 2, 2, ANY, "A property of an object or element of an array, or null when missing"),
    f("tryIndexFromEnd", "Array", 2, 2, ANY, "The element at a 1-based index from the end of an array, or null"),
    f("tryWhich", "System", 1, 1, &["string", "null"], "The full path of a command on PATH, or null"),
    f("union", "Array", 2, MANY, &["array", "object"], "All distinct elements (or merged properties) of the arguments"),
    f("uniqueString", "String", 1, MANY, STR, "A deterministic 13-character hash of the arguments"),
    f("uri", "String", 2, 2, STR, "Combines a base URI and a relative URI"),
    f("uriComponent", "String", 1, 1, STR, "Percent-encodes a URI component"),
    f("uriComponentToString", "String", 1, 1, STR, "Decodes a percent-encoded URI component"),
    f("utcNow", "Date", 0, 1, STR, "The current UTC time, formatted (default yyyyMMddTHHmmssZ)"),
    f("variables", "Deployment", 1, 1, ANY, "The value of a configuration variable"),
];

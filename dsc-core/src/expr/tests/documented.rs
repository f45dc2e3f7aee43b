//! Every function, with results taken from dsc's documentation and its function reference
//! examples.

use super::*;

/// Every function added for dsc 3.4 compatibility, with results taken from dsc's documentation
/// and its function reference examples; `Err(fragment)` is an error whose message holds it.
#[test]
fn every_function_returns_what_dsc_documents() {
    let ok = |v: Value| Ok::<Value, &str>(v);
    let cases: Vec<(&str, Result<Value, &str>)> = vec![
        // numeric
        ("[add(3, 4)]", ok(json!(7))),
        ("[add(-3, 1)]", ok(json!(-2))),
        ("[add('a', 1)]", Err("must be an integer")),
        ("[add(9223372036854775807, 1)]", Err("overflows")),
        ("[sub(7, 3)]", ok(json!(4))),
        ("[mul(6, -3)]", ok(json!(-18))),
        ("[div(7, 2)]", ok(json!(3))),
        ("[div(-7, 2)]", ok(json!(-3))),
        ("[div(1, 0)]", Err("divide by zero")),
        ("[mod(7, 3)]", ok(json!(1))),
        ("[mod(-7, 3)]", ok(json!(-1))),
        ("[mod(7, 0)]", Err("divide by zero")),
        ("[min(3, 1, 2)]", ok(json!(1))),
        ("[min(createArray(5, -2, 9))]", ok(json!(-2))),
        ("[max(3, 1, 2)]", ok(json!(3))),
        ("[max(createArray(5, -2, 9))]", ok(json!(9))),
        ("[max(createArray())]", Err("at least one integer")),
        ("[min(1, 'a')]", Err("must be an integer")),
        ("[range(1, 3)]", ok(json!([1, 2, 3]))),
        ("[range(-1, 2)]", ok(json!([-1, 0]))),
        ("[range(0, 0)]", ok(json!([]))),
        ("[range(0, -1)]", Err("between 0 and 10000")),
        ("[range(0, 10001)]", Err("between 0 and 10000")),
        ("[range(2147483647, 1)]", Err("2147483647")),
        ("[copyIndex()]", ok(json!(2))),
        ("[copyIndex(1)]", ok(json!(3))),
        ("[copyIndex('outer')]", ok(json!(1))),
        ("[copyIndex('outer', 10)]", ok(json!(11))),
        ("[copyIndex('nope')]", Err("no copy loop named 'nope'")),
        ("[copyIndex(-1)]", Err("must not be negative")),
        // arrays
        ("[first(createArray('hello', 'world'))]", ok(json!("hello"))),
        ("[first('hello')]", ok(json!("h"))),
        ("[first(createArray())]", Err("empty")),
        ("[first('')]", Err("empty")),
        ("[first(42)]", Err("an array or a string")),
        ("[last(createArray(1, 2, 3))]", ok(json!(3))),
        ("[last('héllo')]", ok(json!("o"))),
        ("[last(createArray())]", Err("empty")),
        ("[skip(createArray(1, 2, 3), 1)]", ok(json!([2, 3]))),
        ("[skip('hello', 2)]", ok(json!("llo"))),
        ("[skip(createArray(1, 2), 5)]", ok(json!([]))),
        ("[skip(createArray(1, 2), -1)]", ok(json!([1, 2]))),
        ("[take(createArray(1, 2, 3), 2)]", ok(json!([1, 2]))),
        ("[take('hello', 2)]", ok(json!("he"))),
        ("[take('hi', 9)]", ok(json!("hi"))),
        ("[take(createObject(), 1)]", Err("an array or a string")),
        (
            "[indexOf(createArray('apple', 'banana', 'cherry'), 'banana')]",
            ok(json!(1)),
        ),
        ("[indexOf(createArray('Apple'), 'apple')]", ok(json!(-1))),
        (
            "[indexOf(createArray(createArray('a'), createArray('c', 'd')), createArray('c', 'd'))]",
            ok(json!(1)),
        ),
        ("[indexOf('abc', 'b')]", Err("must be an array")),
        (
            "[lastIndexOf(createArray('a', 'b', 'a'), 'a')]",
            ok(json!(2)),
        ),
        ("[lastIndexOf(createArray(), 'a')]", ok(json!(-1))),
        ("[array('x')]", ok(json!(["x"]))),
        ("[array(createArray(1))]", ok(json!([[1]]))),
        (
            "[intersection(createArray(1, 2, 3), createArray(2, 3, 4))]",
            ok(json!([2, 3])),
        ),
        (
            "[intersection(createArray(1, 2, 2, 3), createArray(2, 2, 3, 4))]",
            ok(json!([2, 3])),
        ),
        (
            "[intersection(createObject('a', 1, 'b', 2), createObject('a', 2, 'b', 2))]",
            ok(json!({"b": 2})),
        ),
        (
            "[intersection(createArray(1), createObject('a', 1))]",
            Err("all arrays or all objects"),
        ),
        (
            "[tryIndexFromEnd(createArray('a', 'b', 'c'), 1)]",
            ok(json!("c")),
        ),
        (
            "[tryIndexFromEnd(createArray('a', 'b', 'c'), 3)]",
            ok(json!("a")),
        ),
        (
            "[tryIndexFromEnd(createArray('a', 'b', 'c'), 4)]",
            ok(json!(null)),
        ),
        ("[tryIndexFromEnd(createArray('a'), 0)]", ok(json!(null))),
        ("[tryIndexFromEnd(createArray('a'), -1)]", ok(json!(null))),
        ("[tryIndexFromEnd('abc', 1)]", Err("must be an array")),
        // objects
        (
            "[objectKeys(createObject('b', 1, 'a', 2))]",
            ok(json!(["b", "a"])),
        ),
        ("[objectKeys(createArray())]", Err("must be an object")),
        (
            "[items(createObject('a', 1, 'b', 'x'))]",
            ok(json!([{"key": "a", "value": 1}, {"key": "b", "value": "x"}])),
        ),
        (
            "[shallowMerge(createArray(createObject('one', 'a'), createObject('two', 'b'), createObject('two', 'c')))]",
            ok(json!({"one": "a", "two": "c"})),
        ),
        (
            "[shallowMerge(createArray(createObject('n', createObject('x', 1)), createObject('n', createObject('z', 3))))]",
            ok(json!({"n": {"z": 3}})),
        ),
        ("[shallowMerge(createArray())]", ok(json!({}))),
        ("[shallowMerge(createArray(1))]", Err("must be an object")),
        (
            "[shallowMerge(createObject('a', 1))]",
            Err("must be an array"),
        ),
        (
            "[tryGet(createObject('key1', 'value1'), 'key1')]",
            ok(json!("value1")),
        ),
        (
            "[tryGet(createObject('key1', 'value1'), 'key2')]",
            ok(json!(null)),
        ),
        ("[tryGet(createArray('v1', 'v2'), 1)]", ok(json!("v2"))),
        ("[tryGet(createArray('v1', 'v2'), 2)]", ok(json!(null))),
        ("[tryGet(createArray('v1', 'v2'), -1)]", ok(json!(null))),
        ("[tryGet(createObject('k', 1), 1)]", Err("must be a string")),
        ("[tryGet(createArray(1), '0')]", Err("must be an integer")),
        // strings
        ("[startsWith('hello', 'he')]", ok(json!(true))),
        ("[startsWith('hello', 'HE')]", ok(json!(false))),
        ("[startsWith(1, 'a')]", Err("must be a string")),
        ("[endsWith('hello', 'llo')]", ok(json!(true))),
        ("[endsWith('hello', 'he')]", ok(json!(false))),
        ("[substring('hello world', 6)]", ok(json!("world"))),
        ("[substring('hello world', 0, 5)]", ok(json!("hello"))),
        ("[substring('héllo', 1, 1)]", ok(json!("é"))),
        ("[substring('hello', 6)]", Err("outside the string")),
        ("[substring('hello', -1)]", Err("outside the string")),
        ("[substring('hello', 2, 9)]", Err("past the end")),
        ("[substring('hello', 1, -1)]", Err("must not be negative")),
        (
            "[join(createArray('a', 'b', 'c'), '-')]",
            ok(json!("a-b-c")),
        ),
        ("[join(createArray(1, 2), ',')]", ok(json!("1,2"))),
        ("[join(createArray(), ',')]", ok(json!(""))),
        (
            "[join(createArray(createArray()), ',')]",
            Err("strings, numbers or booleans"),
        ),
        (
            "[uniqueString('prod', 'billing', 'westus')]",
            ok(json!("f5saooq7aoueg")),
        ),
        (
            "[uniqueString('tenantA', 'metrics')]",
            ok(json!("i5w466eimgg52")),
        ),
        (
            "[concat('res-', uniqueString('analytics', 'eu-central'))]",
            ok(json!("res-ce56slj5eites")),
        ),
        ("[uniqueString(1)]", Err("must be a string")),
        (
            "[uri('https://example.com/', 'path/file.html')]",
            ok(json!("https://example.com/path/file.html")),
        ),
        (
            "[uri('https://example.com/', '/path/file.html')]",
            ok(json!("https://example.com/path/file.html")),
        ),
        (
            "[uri('https://example.com/api/v1', 'users')]",
            ok(json!("https://example.com/api/users")),
        ),
        (
            "[uri('https://example.com/api/v1', '/users')]",
            ok(json!("https://example.com/api/users")),
        ),
        (
            "[uri('https://example.com', 'path')]",
            ok(json!("https://example.com/path")),
        ),
        (
            "[uri('https://example.com', '/path')]",
            ok(json!("https://example.com/path")),
        ),
        (
            "[uri('//example.com/', 'path')]",
            ok(json!("//example.com/path")),
        ),
        (
            "[uri('https://example.com/', '')]",
            ok(json!("https://example.com/")),
        ),
        ("[uriComponent('hello world')]", ok(json!("hello%20world"))),
        (
            "[uriComponent(':/?#[]@!$&()*+,;=')]",
            ok(json!("%3A%2F%3F%23%5B%5D%40%21%24%26%28%29%2A%2B%2C%3B%3D")),
        ),
        (
            "[uriComponent('ABCabc123-_.~')]",
            ok(json!("ABCabc123-_.~")),
        ),
        ("[uriComponent('café')]", ok(json!("caf%C3%A9"))),
        (
            "[uriComponentToString('hello%20world')]",
            ok(json!("hello world")),
        ),
        ("[uriComponentToString('caf%C3%A9')]", ok(json!("café"))),
        ("[uriComponentToString('%FF')]", Err("not UTF-8")),
        (
            "[dataUri('Hello')]",
            ok(json!("data:text/plain;charset=utf8;base64,SGVsbG8=")),
        ),
        (
            "[dataUri('héllo')]",
            ok(json!("data:text/plain;charset=utf8;base64,aMOpbGxv")),
        ),
        (
            "[dataUri('')]",
            ok(json!("data:text/plain;charset=utf8;base64,")),
        ),
        ("[dataUri(123)]", Err("must be a string")),
        (
            "[dataUriToString('data:text/plain;charset=utf8;base64,SGVsbG8sIFdvcmxkIQ==')]",
            ok(json!("Hello, World!")),
        ),
        (
            "[dataUriToString('data:,Hello%2C%20World')]",
            Err("only base64 data URIs"),
        ),
        ("[dataUriToString('Hello')]", Err("not a data URI")),
        ("[dataUriToString('data:;base64,!!!')]", Err("not base64")),
        // networks
        (
            "[parseCidr('192.168.1.0/24')]",
            ok(
                json!({"network": "192.168.1.0", "netmask": "255.255.255.0", "broadcast": "192.168.1.255", "firstUsable": "192.168.1.1", "lastUsable": "192.168.1.254", "cidr": 24}),
            ),
        ),
        (
            "[parseCidr('10.144.0.0/20').lastUsable]",
            ok(json!("10.144.15.254")),
        ),
        (
            "[parseCidr('192.168.1.100/32').firstUsable]",
            ok(json!("192.168.1.100")),
        ),
        (
            "[parseCidr('192.168.1.100/24').network]",
            ok(json!("192.168.1.0")),
        ),
        ("[parseCidr('fe80::1/64').network]", ok(json!("fe80::"))),
        (
            "[parseCidr('192.168.1.0/33')]",
            Err("not a network in CIDR notation"),
        ),
        (
            "[parseCidr('192.168.1.0')]",
            Err("not a network in CIDR notation"),
        ),
        ("[cidrHost('192.168.1.0/24', 0)]", ok(json!("192.168.1.1"))),
        (
            "[cidrHost('192.168.1.0/24', 253)]",
            ok(json!("192.168.1.254")),
        ),
        ("[cidrHost('10.0.0.0/16', 99)]", ok(json!("10.0.0.100"))),
        ("[cidrHost('192.168.1.0/31', 1)]", ok(json!("192.168.1.1"))),
        ("[cidrHost('2001:db8::/64', 0)]", ok(json!("2001:db8::1"))),
        (
            "[cidrHost('2001:db8::1:0/127', 1)]",
            ok(json!("2001:db8::1:1")),
        ),
        ("[cidrHost('192.168.1.0/24', 254)]", Err("out of range")),
        (
            "[cidrHost('192.168.1.0/24', -1)]",
            Err("must not be negative"),
        ),
        ("[cidrHost('192.168.1.1/32', 0)]", Err("no usable host")),
        ("[cidrHost('invalid', 0)]", Err("CIDR notation")),
        (
            "[cidrSubnet('10.144.0.0/20', 24, 0)]",
            ok(json!("10.144.0.0/24")),
        ),
        (
            "[cidrSubnet('10.144.0.0/20', 24, 15)]",
            ok(json!("10.144.15.0/24")),
        ),
        (
            "[cidrSubnet('10.0.0.0/16', 18, 1)]",
            ok(json!("10.0.64.0/18")),
        ),
        (
            "[cidrSubnet('2001:db8::/32', 48, 1)]",
            ok(json!("2001:db8:1::/48")),
        ),
        (
            "[cidrSubnet('10.144.0.0/20', 20, 0)]",
            ok(json!("10.144.0.0/20")),
        ),
        ("[cidrSubnet('10.144.0.0/20', 24, 16)]", Err("out of range")),
        (
            "[cidrSubnet('10.144.0.0/20', 24, -1)]",
            Err("must not be negative"),
        ),
        (
            "[cidrSubnet('10.144.0.0/20', 16, 0)]",
            Err("shorter than the network's 20"),
        ),
        (
            "[cidrSubnet('10.144.0.0/20', 33, 0)]",
            Err("between 0 and 32"),
        ),
        (
            "[cidrSubnet('2001:db8::/32', 129, 0)]",
            Err("between 0 and 128"),
        ),
        // lambdas
        (
            "[map(createArray(1, 2, 3), lambda('x', mul(lambdaVariables('x'), 2)))]",
            ok(json!([2, 4, 6])),
        ),
        (
            "[map(createArray('a', 'b'), lambda('x', 'i', concat(lambdaVariables('x'), string(lambdaVariables('i')))))]",
            ok(json!(["a0", "b1"])),
        ),
        (
            "[filter(createArray(1, 5, 3), lambda('n', greater(lambdaVariables('n'), 2)))]",
            ok(json!([5, 3])),
        ),
        (
            "[map(createArray(createArray(1, 2)), lambda('row', map(lambdaVariables('row'), lambda('c', add(lambdaVariables('c'), 10)))))]",
            ok(json!([[11, 12]])),
        ),
        (
            "[filter(createArray(1), lambda('n', 1))]",
            Err("must return a boolean"),
        ),
        (
            "[map('abc', lambda('x', lambdaVariables('x')))]",
            Err("must be an array"),
        ),
        ("[map(createArray(1), 'x')]", Err("must be lambda(")),
        (
            "[map(createArray(1), lambda('a', 'b', 'c', 1))]",
            Err("one or two parameters"),
        ),
        (
            "[lambda('x', 1)]",
            Err("only be given as an argument of map() or filter()"),
        ),
        (
            "[lambdaVariables('x')]",
            Err("no lambda parameter named 'x'"),
        ),
        (
            "[map(createArray(1), lambda('x', lambdaVariables('y')))]",
            Err("no lambda parameter named 'y'"),
        ),
        // system and run
        ("[path('a', 'b', 'c.txt')]", ok(json!("a/b/c.txt"))),
        ("[path('/etc', 'traek')]", ok(json!("/etc/traek"))),
        ("[path('a', 1)]", Err("must be a string")),
        ("[systemRoot()]", ok(json!("/"))),
        (
            "[tryWhich('sh')]",
            ok(json!(functions::system::which("sh").unwrap_or_default())),
        ),
        (
            "[equals(tryWhich('traek-surely-not-a-command'), null())]",
            ok(json!(true)),
        ),
        ("[not(equals(tryWhich('sh'), null()))]", ok(json!(true))),
        ("[context().os.family]", ok(json!("Linux"))),
        (
            "[contains(createArray('elevated', 'restricted'), context().security)]",
            ok(json!(true)),
        ),
        ("[secret('db')]", ok(json!("s3cret"))),
        ("[secret('db', 'main')]", ok(json!("s3cret"))),
        ("[secret('nope')]", Err("was not found")),
        ("[secret(1)]", Err("must be a string")),
        ("[stdout()]", Err("No standard output is available")),
        ("[stateChanged('Test/File:f1')]", ok(json!(true))),
        (
            "[stateChanged('Test/File:other')]",
            Err("no state change information"),
        ),
        ("[restartRequired('service', 'sshd')]", ok(json!(true))),
        ("[restartRequired('process', 'nginx')]", ok(json!(true))),
        ("[restartRequired('process', 'sshd')]", ok(json!(false))),
        ("[restartRequired('system')]", ok(json!(false))),
        ("[restartRequired('system', 'x')]", Err("takes no name")),
        ("[restartRequired('service')]", Err("needs a name")),
        (
            "[restartRequired('reboot')]",
            Err("must be 'system', 'service' or 'process'"),
        ),
        (
            "[loadTextContent('/nonexistent/file.txt')]",
            Err("cannot open"),
        ),
        (
            "[loadTextContent('/', 'ebcdic')]",
            Err("unsupported encoding 'ebcdic'"),
        ),
        ("[loadFileAsBase64('/')]", Err("is not a file")),
        // user functions
        ("[math.double(21)]", ok(json!(42))),
        ("[Math.Quad(2)]", ok(json!(8))),
        ("[text.greet('you')]", ok(json!("hi you"))),
        (
            "[math.double('x')]",
            Err("parameter 'x' must be of type int"),
        ),
        ("[math.double()]", Err("takes 1 argument(s), got 0")),
        ("[text.leak()]", Err("no variable named 'v'")),
        ("[text.wrongtype()]", Err("output must be of type int")),
        ("[loop.forever()]", Err("nest more than 32 calls")),
        ("[no.such()]", Err("unknown user function 'no.such'")),
    ];
    let mut failures = Vec::new();
    for (text, want) in &cases {
        let got = eval(text);
        let fine = match (&got, want) {
            (Ok(v), Ok(w)) => v == w,
            (Err(e), Err(fragment)) => e.message.contains(fragment),
            _ => false,
        };
        if !fine {
            failures.push(format!("{text}: got {got:?}, want {want:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let covered: Vec<String> = cases
        .iter()
        .flat_map(|(text, _)| {
            functions::FUNCTIONS
                .iter()
                .filter(|f| text.contains(&format!("{}(", f.name)))
                .map(|f| f.name.to_string())
        })
        .collect();
    let untested: Vec<&str> = functions::FUNCTIONS
        .iter()
        .map(|f| f.name)
        .filter(|n| !covered.iter().any(|c| c == n))
        .filter(|n| !TESTED_ELSEWHERE.contains(n))
        .collect();
    assert!(
        untested.is_empty(),
        "functions without a case: {untested:?}"
    );
}

/// Functions covered by `expressions_evaluate_as_documented` (in `tests/mod.rs`).
const TESTED_ELSEWHERE: &[&str] = &[
    "and",
    "base64",
    "base64ToString",
    "bool",
    "coalesce",
    "contains",
    "empty",
    "envvar",
    "false",
    "format",
    "greaterOrEquals",
    "if",
    "int",
    "json",
    "less",
    "lessOrEquals",
    "null",
    "or",
    "parameters",
    "reference",
    "resourceId",
    "toLower",
    "toUpper",
    "trim",
    "true",
    "union",
    "utcNow",
    "variables",
    "length",
    "greater",
    "string",
];

"""The ctypes test of libtraek: python3 test_traek.py LIBTRAEK FIXTURES_DIR. Prints 'N passed, N failed'."""
import ctypes
import json
import sys

lib = ctypes.CDLL(sys.argv[1])
fixtures = sys.argv[2]
P = ctypes.c_void_p
lib.traek_version.restype = ctypes.c_char_p
lib.traek_engine_new.argtypes = [ctypes.c_char_p, ctypes.POINTER(P)]
lib.traek_engine_free.argtypes = [P]
lib.traek_engine_last_error.argtypes = [P]
lib.traek_engine_last_error.restype = ctypes.c_char_p
lib.traek_resource_list.argtypes = [P, ctypes.c_char_p, ctypes.POINTER(P)]
lib.traek_resource_invoke.argtypes = [P, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(P)]
lib.traek_config_run.argtypes = [P, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(P)]
lib.traek_pull_checksum.argtypes = [P, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(P)]
lib.traek_string_free.argtypes = [P]
LOG = ctypes.CFUNCTYPE(None, P, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p)
lib.traek_engine_set_log_callback.argtypes = [P, LOG, P]

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL", what, file=sys.stderr)


def take(out):
    s = ctypes.string_at(out).decode()
    lib.traek_string_free(out)
    return s


check(lib.traek_version().decode().count(".") == 2, "version")
engine = P()
check(lib.traek_engine_new(json.dumps({"resourcePath": [fixtures]}).encode(), ctypes.byref(engine)) == 0, "engine_new")
messages = []
callback = LOG(lambda _u, level, t, m: messages.append((level, t and t.decode(), m.decode())))
check(lib.traek_engine_set_log_callback(engine, callback, None) == 0, "set_log_callback")
out = P()
check(lib.traek_resource_list(engine, None, ctypes.byref(out)) == 0 and "Ffi/Echo" in take(out), "resource_list")
check(lib.traek_resource_invoke(engine, b"get", b"Ffi/Echo", None, '{"snow": "☃"}'.encode(), 0, ctypes.byref(out)) == 0
      and json.loads(take(out)) == {"actualState": {"snow": "☃"}}, "get with non-ASCII input")
check(lib.traek_resource_invoke(engine, b"get", b"Ffi/Fail", None, None, 0, ctypes.byref(out)) == 2
      and "widget failure" in lib.traek_engine_last_error(engine).decode(), "failing resource")
check(any(level == 1 and t == "Ffi/Fail" and "broken" in m for level, t, m in messages), "log callback got the error message")
check(lib.traek_resource_invoke(engine, b"get", b"Ffi/Echo", None, b"\xff\xfe", 0, ctypes.byref(out)) == 11, "invalid UTF-8")
check(lib.traek_resource_invoke(engine, None, b"Ffi/Echo", None, None, 0, ctypes.byref(out)) == 10, "NULL operation")
doc = b'{"$schema": "x", "resources": [{"name": "a", "type": "Ffi/Echo", "properties": {"k": 1}}]}'
check(lib.traek_config_run(engine, b"get", doc, None, 0, ctypes.byref(out)) == 0 and json.loads(take(out))["hadErrors"] is False, "config_run")
check(lib.traek_pull_checksum(engine, b"abc", 3, ctypes.byref(out)) == 0 and take(out).startswith("BA7816BF"), "pull_checksum")
lib.traek_engine_free(engine)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)

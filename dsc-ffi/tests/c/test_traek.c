/* The C ABI test: calls every libtraek function, success and error paths.
 * Usage: test_traek FIXTURES_DIR PACKAGE PUBLIC_KEY REGISTRATION_BODY
 * Exits 0 when every check passes; prints "N passed, N failed". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "traek.h"

static int passed = 0, failed = 0;

#define CHECK(cond, what)                                                        \
  do {                                                                           \
    if (cond) {                                                                  \
      passed++;                                                                  \
    } else {                                                                     \
      failed++;                                                                  \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, what);             \
    }                                                                            \
  } while (0)

static int errors_logged = 0, infos_logged = 0;

static void on_log(void *userdata, traek_level level, const char *type, const char *message) {
  int *calls = (int *)userdata;
  (*calls)++;
  if (level == TRAEK_LEVEL_ERROR && strstr(message, "the widget is broken") && type && strcmp(type, "Ffi/Fail") == 0) errors_logged++;
  if (level == TRAEK_LEVEL_INFO) infos_logged++;
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (fread(buf, 1, (size_t)n, f) != (size_t)n) { fclose(f); free(buf); return NULL; }
  fclose(f);
  buf[n] = 0;
  *len = (size_t)n;
  return buf;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s FIXTURES PACKAGE PUBLIC_KEY BODY\n", argv[0]);
    return 2;
  }
  const char *fixtures = argv[1], *package = argv[2], *public_key = argv[3], *body_path = argv[4];
  char *out = NULL;
  traek_result r;

  /* version */
  CHECK(traek_version() != NULL && strlen(traek_version()) > 0, "traek_version");

  /* engine creation: errors first */
  traek_engine *engine = NULL;
  CHECK(traek_engine_new(NULL, NULL) == TRAEK_ERR_NULL, "engine_new with NULL out");
  CHECK(traek_engine_new("{not json", &engine) == TRAEK_ERR_PARSE && engine == NULL, "engine_new with broken JSON");
  CHECK(traek_engine_new("{\"bogus\": 1}", &engine) == TRAEK_ERR_INVALID_ARGUMENT, "engine_new with an unknown option");
  CHECK(traek_engine_new("{\"traceLevel\": \"loud\"}", &engine) == TRAEK_ERR_INVALID_ARGUMENT, "engine_new with a bad level");
  char options[4096];
  snprintf(options, sizeof options, "{\"resourcePath\": [\"%s\"], \"traceLevel\": \"info\", \"timeoutSeconds\": 30}", fixtures);
  r = traek_engine_new(options, &engine);
  CHECK(r == TRAEK_OK && engine != NULL, "engine_new");
  CHECK(traek_engine_last_error(engine) == NULL, "no error yet");
  CHECK(traek_engine_last_error(NULL) == NULL, "last_error(NULL)");

  int log_calls = 0;
  CHECK(traek_engine_set_log_callback(NULL, on_log, &log_calls) == TRAEK_ERR_NULL, "set_log_callback(NULL)");
  CHECK(traek_engine_set_log_callback(engine, on_log, &log_calls) == TRAEK_OK, "set_log_callback");

  /* resource list */
  r = traek_resource_list(engine, NULL, &out);
  CHECK(r == TRAEK_OK && out && strstr(out, "\"Ffi/Echo\"") && strstr(out, "\"Ffi/Fail\""), "resource_list");
  traek_string_free(out);
  r = traek_resource_list(engine, "ffi/e*", &out);
  CHECK(r == TRAEK_OK && strstr(out, "Ffi/Echo") && !strstr(out, "Ffi/Fail"), "resource_list with a filter");
  traek_string_free(out);
  CHECK(traek_resource_list(NULL, NULL, &out) == TRAEK_ERR_NULL, "resource_list(NULL engine)");
  CHECK(traek_resource_list(engine, NULL, NULL) == TRAEK_ERR_NULL, "resource_list(NULL out)");

  /* resource operations */
  r = traek_resource_invoke(engine, "get", "ffi/echo", NULL, "{\"name\": \"x\", \"n\": 1}", 0, &out);
  CHECK(r == TRAEK_OK && out && strcmp(out, "{\"actualState\":{\"name\":\"x\",\"n\":1}}") == 0, "get");
  traek_string_free(out);
  r = traek_resource_invoke(engine, "get", "Ffi/Echo", "^1", "name: yaml", 0, &out);
  CHECK(r == TRAEK_OK && strstr(out, "\"yaml\""), "get with YAML input and a version requirement");
  traek_string_free(out);
  r = traek_resource_invoke(engine, "test", "Ffi/Echo", NULL, "{\"name\": \"x\"}", 0, &out);
  CHECK(r == TRAEK_OK && strstr(out, "\"inDesiredState\":true"), "synthetic test");
  traek_string_free(out);
  r = traek_resource_invoke(engine, "export", "Ffi/Echo", NULL, "{\"name\": \"x\"}", 0, &out);
  CHECK(r == TRAEK_OK && strstr(out, "\"resources\"") && strstr(out, "Ffi/Echo-0"), "export falls back to get");
  traek_string_free(out);
  r = traek_resource_invoke(engine, "set", "Ffi/Echo", NULL, "{\"name\": \"x\"}", 0, &out);
  CHECK(r == TRAEK_ERR_RESOURCE && out == NULL && strstr(traek_engine_last_error(engine), "does not implement 'set'"), "set without a set method");
  r = traek_resource_invoke(engine, "delete", "Ffi/Echo", NULL, "{\"name\": \"x\"}", 1, &out);
  CHECK(r == TRAEK_ERR_RESOURCE, "delete without a delete method");
  r = traek_resource_invoke(engine, "schema", "Ffi/Echo", NULL, NULL, 0, &out);
  CHECK(r == TRAEK_ERR_RESOURCE, "schema of a resource without one");
  r = traek_resource_invoke(engine, "test", "Ffi/Echo", NULL, NULL, 0, &out);
  CHECK(r == TRAEK_ERR_INVALID_ARGUMENT && strstr(traek_engine_last_error(engine), "needs input_json"), "test without input");
  r = traek_resource_invoke(engine, "get", "Ffi/Nothing", NULL, NULL, 0, &out);
  CHECK(r == TRAEK_ERR_NOT_FOUND && strstr(traek_engine_last_error(engine), "Ffi/Nothing"), "unknown type");
  r = traek_resource_invoke(engine, "get", "Ffi/Echo", "not a version", NULL, 0, &out);
  CHECK(r == TRAEK_ERR_INVALID_ARGUMENT, "bad version requirement");
  r = traek_resource_invoke(engine, "frobnicate", "Ffi/Echo", NULL, NULL, 0, &out);
  CHECK(r == TRAEK_ERR_INVALID_ARGUMENT && strstr(traek_engine_last_error(engine), "frobnicate"), "unknown operation");
  r = traek_resource_invoke(engine, NULL, "Ffi/Echo", NULL, NULL, 0, &out);
  CHECK(r == TRAEK_ERR_NULL, "NULL operation");
  r = traek_resource_invoke(engine, "get", "Ffi/Echo", NULL, "{\"name\": ", 0, &out);
  CHECK(r == TRAEK_ERR_PARSE, "broken JSON input");
  r = traek_resource_invoke(engine, "get", "Ffi/Echo", NULL, "[1]", 0, &out);
  CHECK(r == TRAEK_ERR_INVALID_INPUT, "input that is not an object");
  const char bad_utf8[] = {'{', '"', (char)0xff, '"', ':', '1', '}', 0};
  r = traek_resource_invoke(engine, "get", "Ffi/Echo", NULL, bad_utf8, 0, &out);
  CHECK(r == TRAEK_ERR_UTF8, "invalid UTF-8");
  log_calls = 0;
  r = traek_resource_invoke(engine, "get", "Ffi/Fail", NULL, NULL, 0, &out);
  CHECK(r == TRAEK_ERR_RESOURCE && strstr(traek_engine_last_error(engine), "widget failure"), "failing resource maps its exit code");
  CHECK(errors_logged == 1 && infos_logged >= 1 && log_calls >= 2, "log callback received the resource's messages");
  CHECK(traek_engine_set_log_callback(engine, NULL, NULL) == TRAEK_OK, "remove log callback");

  /* configuration documents */
  r = traek_config_run(engine, "get", "{\"$schema\": \"x\", \"parameters\": {\"p\": {\"type\": \"string\"}}, \"resources\": [{\"name\": \"a\", \"type\": \"Ffi/Echo\", \"properties\": {\"v\": \"[parameters('p')]\"}}]}",
                       "{\"parameters\": {\"p\": \"hello\"}}", 0, &out);
  CHECK(r == TRAEK_OK && strstr(out, "\"hadErrors\":false") && strstr(out, "\"v\":\"hello\""), "config get");
  traek_string_free(out);
  r = traek_config_run(engine, "test", "$schema: x\nresources:\n  - {name: bad, type: Ffi/Fail}\n", NULL, 0, &out);
  CHECK(r == TRAEK_OK && strstr(out, "\"hadErrors\":true"), "config with a failing resource reports hadErrors");
  traek_string_free(out);
  r = traek_config_run(engine, "get", "{\"$schema\": ", NULL, 0, &out);
  CHECK(r == TRAEK_ERR_PARSE, "config with a broken document");
  r = traek_config_run(engine, "get", "$schema: x\nparameters: {p: {type: int}}\nresources: []\n", NULL, 0, &out);
  CHECK(r == TRAEK_ERR_INVALID_INPUT && strstr(traek_engine_last_error(engine), "parameter 'p'"), "config with a missing parameter");
  r = traek_config_run(engine, "launch", "$schema: x\nresources: []\n", NULL, 0, &out);
  CHECK(r == TRAEK_ERR_INVALID_ARGUMENT, "config with an unknown operation");

  /* packages */
  char trusted[4096];
  snprintf(trusted, sizeof trusted, "[\"%s\"]", public_key);
  r = traek_package_verify(engine, package, trusted, 1, &out);
  CHECK(r == TRAEK_OK && strstr(out, "\"trusted\":true"), "package_verify with a trusted key");
  traek_string_free(out);
  r = traek_package_verify(engine, package, NULL, 1, &out);
  CHECK(r == TRAEK_ERR_INVALID_INPUT && strstr(traek_engine_last_error(engine), "trusted"), "package_verify without the key");
  r = traek_package_verify(engine, "/nonexistent.dscpkg", NULL, 0, &out);
  CHECK(r == TRAEK_ERR_RESOURCE, "package_verify of a missing file");
  r = traek_package_inspect(engine, package, trusted, &out);
  CHECK(r == TRAEK_OK && strstr(out, "\"configurationFile\""), "package_inspect");
  traek_string_free(out);
  r = traek_config_run_package(engine, "get", package, trusted, 0, NULL, 0, &out);
  CHECK(r == TRAEK_OK && strstr(out, "\"hadErrors\":false") && strstr(out, "from-package"), "config_run_package");
  traek_string_free(out);
  r = traek_config_run_package(engine, "get", package, NULL, 0, NULL, 0, &out);
  CHECK(r == TRAEK_ERR_INVALID_INPUT, "config_run_package refuses an untrusted package");
  r = traek_config_run_package(engine, "get", package, NULL, 1, NULL, 0, &out);
  CHECK(r == TRAEK_OK, "config_run_package with allow_unsigned");
  traek_string_free(out);

  /* pull-protocol helpers (test vector 2 of the protocol notes) */
  size_t body_len = 0;
  char *body = read_file(body_path, &body_len);
  CHECK(body != NULL && body_len == 669, "read the registration body");
  r = traek_pull_sign_registration(engine, "845279827-796-493", (const uint8_t *)body, body_len, "2016-08-22T16:29:17.1106741Z", &out);
  CHECK(r == TRAEK_OK && strcmp(out, "Shared WqfHbxnctwKMWt410LhK2cZgjirJdnzi81pqJg1ljww=") == 0, "pull_sign_registration");
  traek_string_free(out);
  r = traek_pull_verify_registration(engine, "[\"other\", \"845279827-796-493\"]", (const uint8_t *)body, body_len,
                                     "Shared WqfHbxnctwKMWt410LhK2cZgjirJdnzi81pqJg1ljww=", "2016-08-22T16:29:17.1106741Z", 4000000000ULL, &out);
  CHECK(r == TRAEK_OK && strcmp(out, "{\"matchedKey\":1}") == 0, "pull_verify_registration");
  traek_string_free(out);
  r = traek_pull_verify_registration(engine, "[\"845279827-796-493\"]", (const uint8_t *)body, body_len,
                                     "Shared WqfHbxnctwKMWt410LhK2cZgjirJdnzi81pqJg1ljww=", "2016-08-22T16:29:17.1106741Z", 300, &out);
  CHECK(r == TRAEK_ERR_INVALID_INPUT && strstr(traek_engine_last_error(engine), "x-ms-date"), "stale registration refused");
  r = traek_pull_verify_registration(engine, "[\"845279827-796-493\"]", (const uint8_t *)body, body_len, "Basic nope", "2016-08-22T16:29:17.1106741Z", 4000000000ULL, &out);
  CHECK(r == TRAEK_ERR_INVALID_INPUT, "malformed Authorization refused");
  r = traek_pull_verify_registration(engine, "not json", (const uint8_t *)body, body_len, NULL, NULL, 1, &out);
  CHECK(r == TRAEK_ERR_PARSE, "broken keys JSON");
  free(body);
  r = traek_pull_checksum(engine, (const uint8_t *)"abc", 3, &out);
  CHECK(r == TRAEK_OK && strcmp(out, "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD") == 0, "pull_checksum");
  traek_string_free(out);
  r = traek_pull_checksum(engine, NULL, 3, &out);
  CHECK(r == TRAEK_ERR_NULL, "pull_checksum(NULL data)");
  r = traek_pull_checksum(engine, NULL, 0, &out);
  CHECK(r == TRAEK_OK, "pull_checksum of empty data");
  traek_string_free(out);

  /* freeing NULL is harmless */
  traek_string_free(NULL);
  traek_engine_free(NULL);
  traek_engine_free(engine);

  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

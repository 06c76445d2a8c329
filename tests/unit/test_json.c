/*
 * JSON reader: every value type, escapes and UTF-8, the line of every value
 * and key, and each class of malformed input refused with its line.
 */
#include <stdlib.h>

#include "json.h"
#include "test.h"

static char err[256];

static struct zt_json *parse(const char *s) {
  return zt_json_parse(s, strlen(s), err, sizeof err);
}

/* The input is refused and the error names `line` and contains `what`. */
static int refused(const char *s, int line, const char *what) {
  char want[32];
  struct zt_json *j = parse(s);
  if (j) {
    zt_json_free(j);
    fprintf(stderr, "accepted: %s\n", s);
    return 0;
  }
  snprintf(want, sizeof want, "line %d: ", line);
  if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, what)) {
    fprintf(stderr, "input %s: error \"%s\", wanted \"%s...%s\"\n", s, err,
            want, what);
    return 0;
  }
  return 1;
}

/* ---- values ------------------------------------------------------------- */

static void test_scalars(void) {
  struct zt_json *j = parse(" true ");
  CHECK(j && j->type == ZT_JSON_BOOL && j->boolean);
  zt_json_free(j);
  j = parse("false");
  CHECK(j && j->type == ZT_JSON_BOOL && !j->boolean);
  zt_json_free(j);
  j = parse("null");
  CHECK(j && j->type == ZT_JSON_NULL);
  zt_json_free(j);
  j = parse("\"hi\"");
  CHECK(j && j->type == ZT_JSON_STRING);
  CHECK_STR(j->str, "hi");
  CHECK_EQ_INT(j->len, 2);
  zt_json_free(j);
}

static void test_numbers(void) {
  static const struct {
    const char *text;
    double value;
    int is_int;
  } cases[] = {
      {"0", 0, 1},        {"-0", 0, 1},      {"42", 42, 1},    {"-17", -17, 1},
      {"3.25", 3.25, 0},  {"-0.5", -0.5, 0}, {"1e3", 1000, 0}, {"1E+2", 100, 0},
      {"25e-2", 0.25, 0}, {"0.0", 0, 0},     {"1e-400", 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct zt_json *j = parse(cases[i].text);
    CHECK(j && j->type == ZT_JSON_NUMBER);
    CHECK(j->number == cases[i].value);
    CHECK_EQ_INT(j->is_int, cases[i].is_int);
    if (j->is_int)
      CHECK_EQ_INT(j->integer, (long long)cases[i].value);
    zt_json_free(j);
  }
  struct zt_json *j = parse("9223372036854775807");
  CHECK(j && j->is_int && j->integer == INT64_MAX);
  zt_json_free(j);
  j = parse("-9223372036854775808");
  CHECK(j && j->is_int && j->integer == INT64_MIN);
  zt_json_free(j);
  j = parse("9223372036854775808"); /* still a number, not an int64 */
  CHECK(j && j->type == ZT_JSON_NUMBER && !j->is_int);
  CHECK(j->number == 9223372036854775808.0);
  zt_json_free(j);
}

static void test_string_escapes(void) {
  struct zt_json *j =
      parse("\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\\u0041\\u00e9\\u20ac\"");
  CHECK(j && j->type == ZT_JSON_STRING);
  CHECK_STR(j->str, "a\"b\\c/d\be\ff\ng\rh\tiA\xc3\xa9\xe2\x82\xac");
  zt_json_free(j);

  /* U+1F600 as a surrogate pair, both hex cases. */
  j = parse("\"\\ud83d\\uDE00\"");
  CHECK(j && j->len == 4);
  CHECK_STR(j->str, "\xf0\x9f\x98\x80");
  zt_json_free(j);

  /* \u0000 is a real NUL inside the string, counted in len. */
  j = parse("\"a\\u0000b\"");
  CHECK(j && j->len == 3 && j->str[1] == '\0' && j->str[2] == 'b');
  zt_json_free(j);

  /* Raw UTF-8 passes through: 2, 3 and 4 byte sequences. */
  j = parse("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
  CHECK(j && j->len == 9);
  zt_json_free(j);
}

static void test_containers(void) {
  struct zt_json *j = parse("{\"a\": [1, \"x\", {}], \"b\": {\"c\": null},"
                            " \"e\": []}");
  CHECK(j && j->type == ZT_JSON_OBJECT && j->n == 3);
  const struct zt_json *a = zt_json_get(j, "a");
  CHECK(a && a->type == ZT_JSON_ARRAY && a->n == 3);
  CHECK_STR(a->key, "a");
  CHECK(a->items[0].is_int && a->items[0].integer == 1);
  CHECK(a->items[0].key == NULL);
  CHECK_STR(a->items[1].str, "x");
  CHECK(a->items[2].type == ZT_JSON_OBJECT && a->items[2].n == 0);
  const struct zt_json *c = zt_json_get(zt_json_get(j, "b"), "c");
  CHECK(c && c->type == ZT_JSON_NULL);
  CHECK(zt_json_get(j, "e")->n == 0);
  CHECK(zt_json_get(j, "zz") == NULL);
  CHECK(zt_json_get(a, "a") == NULL); /* not an object */
  zt_json_free(j);
}

static void test_duplicate_keys_kept(void) {
  struct zt_json *j = parse("{\"k\": 1, \"k\": 2}");
  CHECK(j && j->n == 2);
  CHECK_EQ_INT(zt_json_get(j, "k")->integer, 1);
  zt_json_free(j);
}

static void test_lines(void) {
  const char *text = "{\n"
                     "  \"one\": 1,\n"
                     "  \"two\":\n"
                     "\n"
                     "    [true,\r\n"
                     "     \"s\"],\n"
                     "  \"three\": {\"x\": null}\n"
                     "}\n";
  struct zt_json *j = parse(text);
  CHECK(j);
  CHECK_EQ_INT(j->line, 1);
  const struct zt_json *one = zt_json_get(j, "one");
  CHECK_EQ_INT(one->key_line, 2);
  CHECK_EQ_INT(one->line, 2);
  const struct zt_json *two = zt_json_get(j, "two");
  CHECK_EQ_INT(two->key_line, 3);
  CHECK_EQ_INT(two->line, 5);
  CHECK_EQ_INT(two->items[0].line, 5);
  CHECK_EQ_INT(two->items[1].line, 6);
  const struct zt_json *x = zt_json_get(zt_json_get(j, "three"), "x");
  CHECK_EQ_INT(x->key_line, 7);
  CHECK_EQ_INT(x->line, 7);
  zt_json_free(j);
}

static void test_not_nul_terminated(void) {
  /* Only len bytes count: the "]" past them is not seen. */
  const char text[] = "[1, 2]]";
  struct zt_json *j = zt_json_parse(text, 6, err, sizeof err);
  CHECK(j && j->n == 2);
  zt_json_free(j);
  j = zt_json_parse("\"abc\"", 4, err, sizeof err);
  CHECK(!j);
  CHECK_CONTAINS(err, "unterminated string");
}

static void test_bom_skipped(void) {
  struct zt_json *j = parse("\xef\xbb\xbf{\"a\": 1}");
  CHECK(j && j->n == 1);
  zt_json_free(j);
}

static void test_depth_limit(void) {
  char deep[2 * ZT_JSON_MAX_DEPTH + 4];
  size_t n = 0;
  for (int i = 0; i < ZT_JSON_MAX_DEPTH; i++)
    deep[n++] = '[';
  for (int i = 0; i < ZT_JSON_MAX_DEPTH; i++)
    deep[n++] = ']';
  struct zt_json *j = zt_json_parse(deep, n, err, sizeof err);
  CHECK(j);
  zt_json_free(j);

  n = 0;
  for (int i = 0; i <= ZT_JSON_MAX_DEPTH; i++)
    deep[n++] = '[';
  for (int i = 0; i <= ZT_JSON_MAX_DEPTH; i++)
    deep[n++] = ']';
  j = zt_json_parse(deep, n, err, sizeof err);
  CHECK(!j);
  CHECK_CONTAINS(err, "line 1: nested too deeply");
}

static void test_value_limit(void) {
  /* The root counts: an array holds at most MAX_NODES - 1 values. */
  size_t max = ZT_JSON_MAX_NODES - 1;
  char *text = malloc(2 * (max + 1) + 2);
  CHECK(text);
  size_t n = 0;
  text[n++] = '[';
  for (size_t i = 0; i < max; i++) {
    text[n++] = '0';
    text[n++] = ',';
  }
  text[n - 1] = ']';
  struct zt_json *j = zt_json_parse(text, n, err, sizeof err);
  int ok = j && j->n == max;
  zt_json_free(j);
  text[n - 1] = ',';
  text[n++] = '0';
  text[n++] = ']';
  j = zt_json_parse(text, n, err, sizeof err);
  free(text);
  CHECK(ok);
  CHECK(!j);
  CHECK_CONTAINS(err, "too many values");
}

/* ---- refusals ----------------------------------------------------------- */

static void test_syntax_errors(void) {
  CHECK(refused("", 1, "unexpected end of input"));
  CHECK(refused("   \n  ", 2, "unexpected end of input"));
  CHECK(refused("{} x", 1, "end of input after the document"));
  CHECK(refused("{}\n\n{}", 3, "end of input after the document"));
  CHECK(refused("[1,]", 1, "expected a value, got ']'"));
  CHECK(refused("{\"a\": 1,}", 1, "expected a string key, got '}'"));
  CHECK(refused("{\"a\" 1}", 1, "expected ':'"));
  CHECK(refused("{\"a\": 1\n\"b\": 2}", 2, "expected ',' or '}'"));
  CHECK(refused("[1 2]", 1, "expected ',' or ']'"));
  CHECK(refused("{a: 1}", 1, "expected a string key"));
  CHECK(refused("['a']", 1, "expected a value, got '''"));
  CHECK(refused("[1] // c", 1, "after the document"));
  CHECK(refused("/* c */ []", 1, "expected a value"));
  CHECK(refused("tru", 1, "expected a value"));
  CHECK(refused("nul", 1, "expected a value"));
  CHECK(refused("True", 1, "expected a value"));
  CHECK(refused("[\n\n", 3, "unexpected end of input"));
  CHECK(refused("{\"a\":\n\n", 3, "unexpected end of input"));
  CHECK(refused("\x01", 1, "byte 0x01"));
}

static void test_number_errors(void) {
  CHECK(refused("01", 1, "leading zeros"));
  CHECK(refused("[\n-00]", 2, "leading zeros"));
  CHECK(refused("1.", 1, "a digit after '.'"));
  CHECK(refused(".5", 1, "expected a value"));
  CHECK(refused("+1", 1, "expected a value"));
  CHECK(refused("-", 1, "a digit"));
  CHECK(refused("-a", 1, "a digit"));
  CHECK(refused("1e", 1, "exponent"));
  CHECK(refused("1e+", 1, "exponent"));
  CHECK(refused("NaN", 1, "expected a value"));
  CHECK(refused("Infinity", 1, "expected a value"));
  CHECK(refused("-Infinity", 1, "a digit"));
  CHECK(refused("1e999", 1, "out of range"));
  CHECK(refused("0x10", 1, "after the document"));
  char longnum[ZT_JSON_MAX_NUMBER + 2];
  memset(longnum, '1', sizeof longnum - 1);
  longnum[sizeof longnum - 1] = '\0';
  CHECK(refused(longnum, 1, "number too long"));
}

static void test_string_errors(void) {
  CHECK(refused("\"abc", 1, "unterminated string"));
  CHECK(refused("\"abc\\", 1, "unterminated string"));
  CHECK(refused("[\n\"a\nb\"]", 2, "control character 0x0a"));
  CHECK(refused("\"a\tb\"", 1, "control character 0x09"));
  CHECK(refused("\"\\x41\"", 1, "invalid escape"));
  CHECK(refused("\"\\u12\"", 1, "four hex digits"));
  CHECK(refused("\"\\u12g4\"", 1, "four hex digits"));
  CHECK(refused("\"\\ud83d\"", 1, "without a low surrogate"));
  CHECK(refused("\"\\ud83dx\"", 1, "without a low surrogate"));
  CHECK(refused("\"\\ud83d\\u0041\"", 1, "without a low surrogate"));
  CHECK(refused("\"\\ude00\"", 1, "lone low surrogate"));
  CHECK(refused("\"\x80\"", 1, "invalid UTF-8"));
  CHECK(refused("\"\xc0\x80\"", 1, "invalid UTF-8"));         /* overlong NUL */
  CHECK(refused("\"\xe0\x80\xaf\"", 1, "invalid UTF-8"));     /* overlong '/' */
  CHECK(refused("\"\xed\xa0\x80\"", 1, "invalid UTF-8"));     /* surrogate */
  CHECK(refused("\"\xf4\x90\x80\x80\"", 1, "invalid UTF-8")); /* > U+10FFFF */
  CHECK(refused("\"\xe2\x82\"", 1, "invalid UTF-8"));         /* truncated */
  CHECK(refused("\"\xff\"", 1, "invalid UTF-8"));
  CHECK(refused("{\"k\x01\": 1}", 1, "control character"));
}

static void test_err_optional(void) {
  /* A caller that does not want the message may pass none. */
  CHECK(zt_json_parse("[", 1, NULL, 0) == NULL);
  int line = -1;
  char reason[8];
  CHECK(zt_json_parse_detail("\n\n[", 3, &line, reason, sizeof reason) == NULL);
  CHECK_EQ_INT(line, 3);
  CHECK_EQ_INT(strlen(reason), sizeof reason - 1); /* cut, terminated */
  zt_json_free(NULL);
}

static void test_type_names(void) {
  CHECK_STR(zt_json_type_name(ZT_JSON_STRING), "a string");
  CHECK_STR(zt_json_type_name(ZT_JSON_OBJECT), "an object");
  CHECK_STR(zt_json_type_name(ZT_JSON_ARRAY), "an array");
  CHECK_STR(zt_json_type_name(ZT_JSON_NULL), "null");
}

int main(void) {
  RUN(test_scalars);
  RUN(test_numbers);
  RUN(test_string_escapes);
  RUN(test_containers);
  RUN(test_duplicate_keys_kept);
  RUN(test_lines);
  RUN(test_not_nul_terminated);
  RUN(test_bom_skipped);
  RUN(test_depth_limit);
  RUN(test_value_limit);
  RUN(test_syntax_errors);
  RUN(test_number_errors);
  RUN(test_string_errors);
  RUN(test_err_optional);
  RUN(test_type_names);
  return TEST_EXIT();
}

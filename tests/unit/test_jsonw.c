/* jsonw.c: escaping (names come from peers), commas and nesting, and the
 * output read back by core/json.c as proof that it is valid JSON. */
#include "json.h"
#include "jsonw.h"
#include "test.h"

static const char *esc(char *buf, size_t len, const char *s, size_t n) {
  struct zt_strbuf sb;
  zt_strbuf_init(&sb, buf, len);
  zt_jsonw_escape(&sb, s, n);
  return buf;
}

static void test_escape(void) {
  char b[128];
  CHECK_STR(esc(b, sizeof(b), "plain", 5), "\"plain\"");
  CHECK_STR(esc(b, sizeof(b), "a\"b\\c", 5), "\"a\\\"b\\\\c\"");
  CHECK_STR(esc(b, sizeof(b), "\n\t\x01\x1f\x7f", 5),
            "\"\\u000a\\u0009\\u0001\\u001f\\u007f\"");
  CHECK_STR(esc(b, sizeof(b), "a\0b", 3), "\"a\\u0000b\"");
  /* valid UTF-8 passes, invalid bytes become U+FFFD */
  CHECK_STR(esc(b, sizeof(b), "caf\xc3\xa9", 5), "\"caf\xc3\xa9\"");
  CHECK_STR(esc(b, sizeof(b), "\xff\xc3", 2), "\"\\ufffd\\ufffd\"");
  CHECK_STR(esc(b, sizeof(b), "\xc0\xaf", 2), "\"\\ufffd\\ufffd\""); /* overlong */
  CHECK_STR(esc(b, sizeof(b), "\xed\xa0\x80", 3),
            "\"\\ufffd\\ufffd\\ufffd\""); /* surrogate */
  CHECK_STR(esc(b, sizeof(b), "\xf0\x9f\x98\x80", 4), "\"\xf0\x9f\x98\x80\"");
}

static void test_structure(void) {
  char buf[512];
  struct zt_strbuf sb;
  struct zt_jsonw w;
  zt_strbuf_init(&sb, buf, sizeof(buf));
  zt_jsonw_init(&w, &sb);
  zt_jsonw_begin_object(&w, NULL);
  zt_jsonw_str(&w, "daemon", "agent");
  zt_jsonw_u64(&w, "version", 1);
  zt_jsonw_begin_array(&w, "list");
  zt_jsonw_u64(&w, NULL, 18446744073709551615ULL);
  zt_jsonw_bool(&w, NULL, true);
  zt_jsonw_null(&w, NULL);
  zt_jsonw_begin_object(&w, NULL);
  zt_jsonw_end_object(&w);
  zt_jsonw_end_array(&w);
  zt_jsonw_begin_array(&w, "empty");
  zt_jsonw_end_array(&w);
  zt_jsonw_bool(&w, "no", false);
  zt_jsonw_end_object(&w);
  CHECK_STR(buf, "{\"daemon\":\"agent\",\"version\":1,\"list\":"
                 "[18446744073709551615,true,null,{}],\"empty\":[],"
                 "\"no\":false}");
  CHECK_EQ_INT(w.depth, 0);
}

/* Every byte value in a name, as a key and as a value: core/json.c (strict)
 * parses the result and gets the valid parts back unchanged. */
static void test_parses_back(void) {
  char name[256], buf[4096], err[128];
  for (int i = 0; i < 256; i++)
    name[i] = (char)(i == 0 ? 'x' : i);
  struct zt_strbuf sb;
  struct zt_jsonw w;
  zt_strbuf_init(&sb, buf, sizeof(buf));
  zt_jsonw_init(&w, &sb);
  zt_jsonw_begin_object(&w, NULL);
  zt_jsonw_strn(&w, "name", name, sizeof(name));
  zt_jsonw_strn(&w, "q\"k\n", "v\\", 2);
  zt_jsonw_str(&w, "utf8", "\xe2\x82\xac \"euro\"\x01");
  zt_jsonw_end_object(&w);
  CHECK(sb.off < sizeof(buf));
  struct zt_json *j = zt_json_parse(buf, sb.off, err, sizeof(err));
  if (!j)
    fprintf(stderr, "parse: %s\n%s\n", err, buf);
  CHECK(j != NULL);
  const struct zt_json *n = zt_json_get(j, "name");
  CHECK(n && n->type == ZT_JSON_STRING);
  CHECK(n->len >= 127);
  CHECK(memcmp(n->str, name, 127) == 0); /* ASCII survives byte for byte */
  const struct zt_json *k = zt_json_get(j, "q\"k\n");
  CHECK(k && k->type == ZT_JSON_STRING);
  CHECK_STR(k->str, "v\\");
  const struct zt_json *u = zt_json_get(j, "utf8");
  CHECK(u != NULL);
  CHECK_STR(u->str, "\xe2\x82\xac \"euro\"\x01");
  zt_json_free(j);
}

static void test_cut_off_counts(void) {
  char buf[8];
  struct zt_strbuf sb;
  struct zt_jsonw w;
  zt_strbuf_init(&sb, buf, sizeof(buf));
  zt_jsonw_init(&w, &sb);
  zt_jsonw_begin_object(&w, NULL);
  zt_jsonw_str(&w, "key", "a long value");
  zt_jsonw_end_object(&w);
  CHECK(sb.off >= sizeof(buf)); /* the caller can tell and retry bigger */
  CHECK_EQ_INT(strlen(buf), sizeof(buf) - 1);
}

int main(void) {
  RUN(test_escape);
  RUN(test_structure);
  RUN(test_parses_back);
  RUN(test_cut_off_counts);
  return TEST_EXIT();
}

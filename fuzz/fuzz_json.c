/*
 * libFuzzer target for the JSON reader. Checks that
 *  - a refusal always says "line N: reason" with N within the input;
 *  - an accepted document's tree is sound: lines within the input and never
 *    before the enclosing value's, keys only on object members, strings
 *    NUL-terminated and valid UTF-8, integers equal to their double, depth
 *    and value count within the limits;
 *  - the tree written back out as JSON parses again to the same tree (the
 *    reader loses nothing it claims to have read).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static int input_lines;
static size_t values;

/* The text is well-formed UTF-8, NUL bytes allowed (from \u0000). */
static int utf8_ok(const unsigned char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    unsigned c = s[i];
    size_t k = c < 0x80                 ? 1
               : c >= 0xc2 && c <= 0xdf ? 2
               : c >= 0xe0 && c <= 0xef ? 3
               : c >= 0xf0 && c <= 0xf4 ? 4
                                        : 0;
    if (!k || i + k > n)
      return 0;
    unsigned cp = k == 1 ? c : c & (0x7f >> k);
    for (size_t j = 1; j < k; j++) {
      if ((s[i + j] & 0xc0) != 0x80)
        return 0;
      cp = cp << 6 | (s[i + j] & 0x3f);
    }
    static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    i += k;
  }
  return 1;
}

static void check_tree(const struct zt_json *j, int min_line, int depth,
                       int in_object) {
  values++;
  if (j->line < min_line || j->line > input_lines)
    abort();
  if (in_object) {
    if (!j->key || j->key[j->key_len] != '\0' || j->key_line > j->line ||
        j->key_line < min_line ||
        !utf8_ok((const unsigned char *)j->key, j->key_len))
      abort();
  } else if (j->key || j->key_len || j->key_line) {
    abort();
  }
  switch (j->type) {
  case ZT_JSON_STRING:
    if (!j->str || j->str[j->len] != '\0' ||
        !utf8_ok((const unsigned char *)j->str, j->len))
      abort();
    break;
  case ZT_JSON_NUMBER:
    if (j->number != j->number) /* NaN */
      abort();
    if (j->is_int && (double)j->integer != j->number)
      abort();
    break;
  case ZT_JSON_ARRAY:
  case ZT_JSON_OBJECT:
    if (depth > ZT_JSON_MAX_DEPTH || (j->n && !j->items))
      abort();
    for (size_t i = 0; i < j->n; i++)
      check_tree(&j->items[i], j->line, depth + 1, j->type == ZT_JSON_OBJECT);
    break;
  case ZT_JSON_NULL:
  case ZT_JSON_BOOL:
    break;
  default:
    abort();
  }
}

/* ---- writing the tree back out ------------------------------------------ */

struct out {
  char *buf;
  size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n) {
  if (o->len + n + 1 > o->cap) {
    o->cap = (o->len + n + 1) * 2;
    o->buf = realloc(o->buf, o->cap);
    if (!o->buf)
      abort();
  }
  memcpy(o->buf + o->len, s, n);
  o->len += n;
}

static void put_string(struct out *o, const char *s, size_t n) {
  put(o, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    if (c < 0x20 || c == '"' || c == '\\') {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      put(o, esc, 6);
    } else {
      put(o, (const char *)&s[i], 1);
    }
  }
  put(o, "\"", 1);
}

static void write_tree(struct out *o, const struct zt_json *j) {
  char num[64];
  switch (j->type) {
  case ZT_JSON_NULL:
    put(o, "null", 4);
    break;
  case ZT_JSON_BOOL:
    put(o, j->boolean ? "true" : "false", j->boolean ? 4 : 5);
    break;
  case ZT_JSON_NUMBER:
    /* %.17g round-trips every double exactly. */
    if (j->is_int)
      snprintf(num, sizeof num, "%lld", (long long)j->integer);
    else
      snprintf(num, sizeof num, "%.17g", j->number);
    put(o, num, strlen(num));
    break;
  case ZT_JSON_STRING:
    put_string(o, j->str, j->len);
    break;
  case ZT_JSON_ARRAY:
  case ZT_JSON_OBJECT:
    put(o, j->type == ZT_JSON_ARRAY ? "[" : "{", 1);
    for (size_t i = 0; i < j->n; i++) {
      if (i)
        put(o, ",\n", 2);
      if (j->type == ZT_JSON_OBJECT) {
        put_string(o, j->items[i].key, j->items[i].key_len);
        put(o, ":", 1);
      }
      write_tree(o, &j->items[i]);
    }
    put(o, j->type == ZT_JSON_ARRAY ? "]" : "}", 1);
    break;
  }
}

static int same_tree(const struct zt_json *a, const struct zt_json *b) {
  if (a->type != b->type || a->n != b->n || a->key_len != b->key_len ||
      (a->key && memcmp(a->key, b->key, a->key_len) != 0))
    return 0;
  switch (a->type) {
  case ZT_JSON_BOOL:
    return a->boolean == b->boolean;
  case ZT_JSON_NUMBER:
    /* "1e2" comes back as "100", an int: the value must not change. */
    return a->number == b->number &&
           (!a->is_int || (b->is_int && a->integer == b->integer));
  case ZT_JSON_STRING:
    return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
  default:
    for (size_t i = 0; i < a->n; i++)
      if (!same_tree(&a->items[i], &b->items[i]))
        return 0;
    return 1;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[256];
  input_lines = 1;
  for (size_t i = 0; i < size; i++)
    input_lines += data[i] == '\n';

  struct zt_json *j = zt_json_parse((const char *)data, size, err, sizeof err);
  if (!j) {
    int line = 0;
    if (sscanf(err, "line %d: ", &line) != 1 || line < 1 ||
        line > input_lines || !strstr(err, ": "))
      abort();
    return 0;
  }
  values = 0;
  check_tree(j, 1, 1, 0);
  if (values > ZT_JSON_MAX_NODES)
    abort();

  struct out o = {0};
  write_tree(&o, j);
  struct zt_json *k = zt_json_parse(o.buf, o.len, err, sizeof err);
  if (!k || !same_tree(j, k))
    abort();
  zt_json_free(k);
  free(o.buf);
  zt_json_free(j);
  return 0;
}

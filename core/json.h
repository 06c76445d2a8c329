/*
 * A small strict JSON (RFC 8259) reader for the configuration files. It
 * exists because config errors must name the line of the offending key or
 * value, not only of syntax errors, so every value and every object key
 * records the line it starts on.
 *
 * Strict: no comments, no trailing commas, no leading zeros, no raw control
 * characters or invalid UTF-8 in strings, nothing after the document (a
 * UTF-8 byte order mark at the start is skipped, as RFC 8259 8.1 permits).
 * Duplicate object keys are kept in order; zt_json_get returns the first, and
 * callers that care (config.c does) refuse them.
 *
 * Memory is bounded by the input: string bytes never exceed it, and the
 * number of values and the nesting depth are capped, so a hostile input
 * cannot make the parser allocate without limit or overflow the stack.
 */
#ifndef ZTNA_JSON_H
#define ZTNA_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZT_JSON_MAX_DEPTH 32    /* nested arrays/objects, root included */
#define ZT_JSON_MAX_NODES 65536 /* values in one document */
#define ZT_JSON_MAX_NUMBER 128  /* characters in one number */

enum zt_json_type {
  ZT_JSON_NULL,
  ZT_JSON_BOOL,
  ZT_JSON_NUMBER,
  ZT_JSON_STRING,
  ZT_JSON_ARRAY,
  ZT_JSON_OBJECT,
};

struct zt_json {
  enum zt_json_type type;
  int line; /* 1-based line of the value's first character */

  /* Members of an object: the key (NUL-terminated copy; key_len excludes the
   * NUL and the key may itself contain NUL bytes from \u0000) and its line.
   * NULL/0 for array elements and the root. */
  char *key;
  size_t key_len;
  int key_line;

  bool boolean; /* ZT_JSON_BOOL */

  /* ZT_JSON_NUMBER. is_int: written without fraction or exponent and fits
   * int64_t; then `integer` holds it exactly. */
  double number;
  bool is_int;
  int64_t integer;

  /* ZT_JSON_STRING: decoded UTF-8, NUL-terminated; len excludes the NUL and
   * may count NUL bytes from \u0000. */
  char *str;
  size_t len;

  /* ZT_JSON_ARRAY elements or ZT_JSON_OBJECT members, in document order. */
  struct zt_json *items;
  size_t n;
};

/* Parse len bytes (need not be NUL-terminated). Returns the root, to be
 * released with zt_json_free, or NULL with "line N: reason" in err. */
struct zt_json *zt_json_parse(const char *text, size_t len, char *err,
                              size_t errlen);

/* The same, but the error line and the reason come back separately, so a
 * caller can prefix its own file name ("conn.json:3: reason"). */
struct zt_json *zt_json_parse_detail(const char *text, size_t len,
                                     int *err_line, char *reason,
                                     size_t reasonlen);

void zt_json_free(struct zt_json *j);

/* The first member of object `obj` named `key`; NULL when there is none or
 * obj is not an object. */
const struct zt_json *zt_json_get(const struct zt_json *obj, const char *key);

/* Length of the well-formed UTF-8 sequence at p (avail bytes left; RFC
 * 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or 0.
 * The reader accepts exactly this, and the writer (jsonw.c) emits it. */
size_t zt_utf8_len(const unsigned char *p, size_t avail);

/* "a string", "an object", ...: for "expected X, got Y" messages. */
const char *zt_json_type_name(enum zt_json_type t);

#endif

/* Strict JSON reader with line numbers. See json.h. */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
  const char *p, *end;
  int line;
  int depth;
  size_t nodes;
  /* First error only: later ones are consequences of it. */
  bool failed;
  int err_line;
  char *reason;
  size_t reasonlen;
};

static bool fail(struct parser *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool fail(struct parser *ps, const char *fmt, ...) {
  if (ps->failed)
    return false;
  ps->failed = true;
  ps->err_line = ps->line;
  if (ps->reason && ps->reasonlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->reason, ps->reasonlen, fmt, ap);
    va_end(ap);
  }
  return false;
}

/* The character at p as people should see it in an error message. */
static const char *show_char(const char *p, char *buf, size_t len) {
  unsigned char c = (unsigned char)*p;
  if (c > 0x20 && c < 0x7f)
    snprintf(buf, len, "'%c'", c);
  else
    snprintf(buf, len, "byte 0x%02x", c);
  return buf;
}

static bool unexpected(struct parser *ps, const char *expected) {
  char c[16];
  if (ps->p >= ps->end)
    return fail(ps, "unexpected end of input, expected %s", expected);
  return fail(ps, "expected %s, got %s", expected,
              show_char(ps->p, c, sizeof c));
}

static void skip_ws(struct parser *ps) {
  while (ps->p < ps->end) {
    char c = *ps->p;
    if (c == '\n')
      ps->line++;
    else if (c != ' ' && c != '\t' && c != '\r')
      return;
    ps->p++;
  }
}

/* ---- strings ------------------------------------------------------------ */

static int hex4(const char *p) {
  int v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= c - '0';
    else if (c >= 'a' && c <= 'f')
      v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v |= c - 'A' + 10;
    else
      return -1;
  }
  return v;
}

static size_t put_utf8(char *o, uint32_t cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xc0 | cp >> 6);
    o[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xe0 | cp >> 12);
    o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
    o[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  o[0] = (char)(0xf0 | cp >> 18);
  o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
  o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
  o[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

size_t zt_utf8_len(const unsigned char *p, size_t avail) {
  unsigned char c = p[0];
  size_t n;
  unsigned char lo = 0x80, hi = 0xbf; /* bounds of the second byte */
  if (c >= 0xc2 && c <= 0xdf)
    n = 2;
  else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0)
      lo = 0xa0;
    else if (c == 0xed)
      hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0)
      lo = 0x90;
    else if (c == 0xf4)
      hi = 0x8f;
  } else
    return 0;
  if (avail < n || p[1] < lo || p[1] > hi)
    return 0;
  for (size_t i = 2; i < n; i++)
    if ((p[i] & 0xc0) != 0x80)
      return 0;
  return n;
}

/* A \uXXXX escape at p (pointing at the backslash), surrogate pairs joined
 * into one code point; *used is the bytes of input it took. */
static bool parse_u_escape(struct parser *ps, const char *p, const char *end,
                           uint32_t *cp, size_t *used) {
  int hi = end - p >= 6 ? hex4(p + 2) : -1;
  if (hi < 0)
    return fail(ps, "invalid \\u escape: four hex digits expected");
  if (hi >= 0xdc00 && hi <= 0xdfff)
    return fail(ps, "invalid \\u escape: lone low surrogate \\u%04x", hi);
  if (hi < 0xd800 || hi > 0xdbff) {
    *cp = (uint32_t)hi;
    *used = 6;
    return true;
  }
  int lo = end - p >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8) : -1;
  if (lo < 0xdc00 || lo > 0xdfff)
    return fail(ps,
                "invalid \\u escape: high surrogate \\u%04x without a "
                "low surrogate",
                hi);
  *cp = 0x10000 + ((uint32_t)(hi - 0xd800) << 10) + (uint32_t)(lo - 0xdc00);
  *used = 12;
  return true;
}

/* ps->p at the opening quote. The decoded string is never longer than its
 * source, so one allocation of the source's length suffices. */
static bool parse_string(struct parser *ps, char **out, size_t *outlen) {
  const char *s = ps->p + 1, *end = s;
  while (end < ps->end && *end != '"') {
    if (*end == '\\' && ps->end - end < 2)
      break; /* a backslash as the last byte */
    end += *end == '\\' ? 2 : 1;
  }
  if (end >= ps->end || *end != '"') {
    ps->p = ps->end;
    return fail(ps, "unterminated string");
  }
  char *buf = malloc((size_t)(end - s) + 1);
  if (!buf)
    return fail(ps, "out of memory");
  size_t n = 0;
  const char *p = s;
  while (p < end) {
    unsigned char c = (unsigned char)*p;
    if (c < 0x20) {
      free(buf);
      ps->p = p;
      return fail(ps, "control character 0x%02x in string (escape it)", c);
    }
    if (c >= 0x80) {
      size_t k = zt_utf8_len((const unsigned char *)p, (size_t)(end - p));
      if (!k) {
        free(buf);
        return fail(ps, "invalid UTF-8 in string");
      }
      memcpy(buf + n, p, k);
      n += k;
      p += k;
      continue;
    }
    if (c != '\\') {
      buf[n++] = (char)c;
      p++;
      continue;
    }
    char e = p[1], r;
    switch (e) {
    case '"':
      r = '"';
      break;
    case '\\':
      r = '\\';
      break;
    case '/':
      r = '/';
      break;
    case 'b':
      r = '\b';
      break;
    case 'f':
      r = '\f';
      break;
    case 'n':
      r = '\n';
      break;
    case 'r':
      r = '\r';
      break;
    case 't':
      r = '\t';
      break;
    case 'u': {
      uint32_t cp = 0;
      size_t used = 0;
      if (!parse_u_escape(ps, p, end, &cp, &used)) {
        free(buf);
        return false;
      }
      n += put_utf8(buf + n, cp);
      p += used;
      continue;
    }
    default: {
      char shown[16];
      free(buf);
      return fail(ps, "invalid escape '\\' followed by %s",
                  show_char(p + 1, shown, sizeof shown));
    }
    }
    buf[n++] = r;
    p += 2;
  }
  buf[n] = '\0';
  *out = buf;
  *outlen = n;
  ps->p = end + 1;
  return true;
}

/* ---- numbers ------------------------------------------------------------ */

static bool is_digit(const struct parser *ps, const char *p) {
  return p < ps->end && *p >= '0' && *p <= '9';
}

static bool parse_number(struct parser *ps, struct zt_json *j) {
  const char *start = ps->p, *p = ps->p;
  bool integral = true;
  if (*p == '-')
    p++;
  if (!is_digit(ps, p)) {
    ps->p = p;
    return unexpected(ps, "a digit");
  }
  if (*p == '0') {
    p++;
    if (is_digit(ps, p))
      return fail(ps, "leading zeros are not allowed in numbers");
  } else {
    while (is_digit(ps, p))
      p++;
  }
  if (p < ps->end && *p == '.') {
    integral = false;
    p++;
    if (!is_digit(ps, p)) {
      ps->p = p;
      return unexpected(ps, "a digit after '.'");
    }
    while (is_digit(ps, p))
      p++;
  }
  if (p < ps->end && (*p == 'e' || *p == 'E')) {
    integral = false;
    p++;
    if (p < ps->end && (*p == '+' || *p == '-'))
      p++;
    if (!is_digit(ps, p)) {
      ps->p = p;
      return unexpected(ps, "a digit in the exponent");
    }
    while (is_digit(ps, p))
      p++;
  }
  /* strtod/strtoll want a NUL-terminated copy; the grammar above already
   * matched, so they only convert. No daemon calls setlocale(), so the
   * decimal point is '.'. */
  char buf[ZT_JSON_MAX_NUMBER + 1];
  size_t len = (size_t)(p - start);
  if (len > ZT_JSON_MAX_NUMBER)
    return fail(ps, "number too long (max %d characters)", ZT_JSON_MAX_NUMBER);
  memcpy(buf, start, len);
  buf[len] = '\0';
  errno = 0;
  j->number = strtod(buf, NULL);
  if (isinf(j->number))
    return fail(ps, "number out of range: %s", buf);
  if (integral) {
    errno = 0;
    long long v = strtoll(buf, NULL, 10);
    if (errno != ERANGE) {
      j->is_int = true;
      j->integer = v;
    }
  }
  j->type = ZT_JSON_NUMBER;
  ps->p = p;
  return true;
}

/* ---- values ------------------------------------------------------------- */

static bool parse_value(struct parser *ps, struct zt_json *j);

/* A zeroed slot at the end of j->items, counted in j->n at once so that
 * zt_json_free releases whatever a failed parse left in it. */
static struct zt_json *add_item(struct parser *ps, struct zt_json *j,
                                size_t *cap) {
  if (j->n == *cap) {
    size_t ncap = *cap ? *cap * 2 : 4;
    struct zt_json *items = realloc(j->items, ncap * sizeof *items);
    if (!items) {
      fail(ps, "out of memory");
      return NULL;
    }
    j->items = items;
    *cap = ncap;
  }
  struct zt_json *it = &j->items[j->n++];
  memset(it, 0, sizeof *it);
  return it;
}

static bool enter(struct parser *ps) {
  if (++ps->depth > ZT_JSON_MAX_DEPTH)
    return fail(ps, "nested too deeply (max %d levels)", ZT_JSON_MAX_DEPTH);
  ps->p++; /* the bracket */
  return true;
}

static bool parse_array(struct parser *ps, struct zt_json *j) {
  size_t cap = 0;
  j->type = ZT_JSON_ARRAY;
  if (!enter(ps))
    return false;
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == ']') {
    ps->p++;
    ps->depth--;
    return true;
  }
  for (;;) {
    struct zt_json *it = add_item(ps, j, &cap);
    if (!it || !parse_value(ps, it))
      return false;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == ']') {
      ps->p++;
      ps->depth--;
      return true;
    }
    return unexpected(ps, "',' or ']' after an array element");
  }
}

static bool parse_object(struct parser *ps, struct zt_json *j) {
  size_t cap = 0;
  j->type = ZT_JSON_OBJECT;
  if (!enter(ps))
    return false;
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == '}') {
    ps->p++;
    ps->depth--;
    return true;
  }
  for (;;) {
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != '"')
      return unexpected(ps, "a string key");
    struct zt_json *it = add_item(ps, j, &cap);
    if (!it)
      return false;
    it->key_line = ps->line;
    if (!parse_string(ps, &it->key, &it->key_len))
      return false;
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != ':')
      return unexpected(ps, "':' after an object key");
    ps->p++;
    if (!parse_value(ps, it))
      return false;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == '}') {
      ps->p++;
      ps->depth--;
      return true;
    }
    return unexpected(ps, "',' or '}' after an object member");
  }
}

static bool literal(struct parser *ps, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
    return unexpected(ps, "a value");
  ps->p += n;
  return true;
}

static bool parse_value(struct parser *ps, struct zt_json *j) {
  skip_ws(ps);
  j->line = ps->line;
  if (++ps->nodes > ZT_JSON_MAX_NODES)
    return fail(ps, "too many values (max %d)", ZT_JSON_MAX_NODES);
  if (ps->p >= ps->end)
    return unexpected(ps, "a value");
  switch (*ps->p) {
  case '{':
    return parse_object(ps, j);
  case '[':
    return parse_array(ps, j);
  case '"':
    j->type = ZT_JSON_STRING;
    return parse_string(ps, &j->str, &j->len);
  case 't':
    j->type = ZT_JSON_BOOL;
    j->boolean = true;
    return literal(ps, "true");
  case 'f':
    j->type = ZT_JSON_BOOL;
    return literal(ps, "false");
  case 'n':
    j->type = ZT_JSON_NULL;
    return literal(ps, "null");
  default:
    if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
      return parse_number(ps, j);
    return unexpected(ps, "a value");
  }
}

/* ---- public ------------------------------------------------------------- */

struct zt_json *zt_json_parse_detail(const char *text, size_t len,
                                     int *err_line, char *reason,
                                     size_t reasonlen) {
  struct parser ps = {.p = text,
                      .end = text + len,
                      .line = 1,
                      .reason = reason,
                      .reasonlen = reasonlen};
  if (reason && reasonlen)
    reason[0] = '\0';
  if (err_line)
    *err_line = 0;
  if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
    ps.p += 3;

  struct zt_json *root = calloc(1, sizeof *root);
  if (!root) {
    fail(&ps, "out of memory");
  } else if (parse_value(&ps, root)) {
    skip_ws(&ps);
    if (ps.p == ps.end)
      return root;
    unexpected(&ps, "end of input after the document");
  }
  zt_json_free(root);
  if (err_line)
    *err_line = ps.err_line;
  return NULL;
}

struct zt_json *zt_json_parse(const char *text, size_t len, char *err,
                              size_t errlen) {
  char reason[256];
  int line;
  struct zt_json *root =
      zt_json_parse_detail(text, len, &line, reason, sizeof reason);
  if (!root && err && errlen)
    snprintf(err, errlen, "line %d: %s", line, reason);
  return root;
}

static void free_members(struct zt_json *j) {
  for (size_t i = 0; i < j->n; i++)
    free_members(&j->items[i]);
  free(j->items);
  free(j->key);
  free(j->str);
}

void zt_json_free(struct zt_json *j) {
  if (!j)
    return;
  free_members(j);
  free(j);
}

const struct zt_json *zt_json_get(const struct zt_json *obj, const char *key) {
  if (!obj || obj->type != ZT_JSON_OBJECT)
    return NULL;
  size_t klen = strlen(key);
  for (size_t i = 0; i < obj->n; i++)
    if (obj->items[i].key_len == klen &&
        memcmp(obj->items[i].key, key, klen) == 0)
      return &obj->items[i];
  return NULL;
}

const char *zt_json_type_name(enum zt_json_type t) {
  switch (t) {
  case ZT_JSON_NULL:
    return "null";
  case ZT_JSON_BOOL:
    return "a boolean";
  case ZT_JSON_NUMBER:
    return "a number";
  case ZT_JSON_STRING:
    return "a string";
  case ZT_JSON_ARRAY:
    return "an array";
  case ZT_JSON_OBJECT:
    return "an object";
  }
  return "an unknown type";
}

/*
 * A small JSON writer over struct zt_strbuf, for machine-readable status
 * (docs/status.md). Strings are escaped so that the output is always valid
 * JSON whatever a peer put in its name: quotes, backslashes and control
 * characters are escaped (\u00XX), and bytes that are not valid UTF-8
 * become U+FFFD. Commas are inserted by the writer, so callers only say
 * what comes next. Output past the buffer is cut off and counted, like
 * every strbuf: a caller that sees b->off >= b->len retries bigger.
 */
#ifndef ZTNA_JSONW_H
#define ZTNA_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#define ZT_JSONW_MAX_DEPTH 16

struct zt_jsonw {
  struct zt_strbuf *sb;
  int depth;
  bool first[ZT_JSONW_MAX_DEPTH]; /* nothing written yet at this level */
};

void zt_jsonw_init(struct zt_jsonw *w, struct zt_strbuf *sb);

/* `key` names the member inside an object; NULL at the top level and
 * inside arrays. Nesting deeper than ZT_JSONW_MAX_DEPTH is a programming
 * error: the extra levels are written but not tracked for commas. */
void zt_jsonw_begin_object(struct zt_jsonw *w, const char *key);
void zt_jsonw_end_object(struct zt_jsonw *w);
void zt_jsonw_begin_array(struct zt_jsonw *w, const char *key);
void zt_jsonw_end_array(struct zt_jsonw *w);

void zt_jsonw_str(struct zt_jsonw *w, const char *key, const char *s);
/* A string of n bytes (may hold NUL bytes, escaped as \u0000). */
void zt_jsonw_strn(struct zt_jsonw *w, const char *key, const char *s,
                   size_t n);
void zt_jsonw_u64(struct zt_jsonw *w, const char *key, uint64_t v);
void zt_jsonw_bool(struct zt_jsonw *w, const char *key, bool v);
void zt_jsonw_null(struct zt_jsonw *w, const char *key);

/* Just the escaped string, quotes included (exposed for tests). */
void zt_jsonw_escape(struct zt_strbuf *sb, const char *s, size_t n);

#endif

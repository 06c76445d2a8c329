/* See jsonw.h. */
#include "jsonw.h"

#include <inttypes.h>
#include <string.h>

#include "json.h"

void zt_jsonw_init(struct zt_jsonw *w, struct zt_strbuf *sb) {
  w->sb = sb;
  w->depth = 0;
  w->first[0] = true;
}

void zt_jsonw_escape(struct zt_strbuf *sb, const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  zt_strbuf_printf(sb, "\"");
  for (size_t i = 0; i < n;) {
    unsigned char c = p[i];
    if (c == '"' || c == '\\') {
      zt_strbuf_printf(sb, "\\%c", c);
      i++;
    } else if (c < 0x20 || c == 0x7f) {
      zt_strbuf_printf(sb, "\\u%04x", c);
      i++;
    } else if (c < 0x80) {
      zt_strbuf_printf(sb, "%c", c);
      i++;
    } else {
      size_t l = zt_utf8_len(p + i, n - i);
      if (l) {
        zt_strbuf_printf(sb, "%.*s", (int)l, (const char *)p + i);
        i += l;
      } else {
        zt_strbuf_printf(sb, "\\ufffd");
        i++;
      }
    }
  }
  zt_strbuf_printf(sb, "\"");
}

/* The comma before a value and its key, if any. */
static void lead(struct zt_jsonw *w, const char *key) {
  int d = w->depth < ZT_JSONW_MAX_DEPTH ? w->depth : ZT_JSONW_MAX_DEPTH - 1;
  if (!w->first[d])
    zt_strbuf_printf(w->sb, ",");
  w->first[d] = false;
  if (key) {
    zt_jsonw_escape(w->sb, key, strlen(key));
    zt_strbuf_printf(w->sb, ":");
  }
}

static void open(struct zt_jsonw *w, const char *key, char c) {
  lead(w, key);
  zt_strbuf_printf(w->sb, "%c", c);
  w->depth++;
  if (w->depth < ZT_JSONW_MAX_DEPTH)
    w->first[w->depth] = true;
}

static void close_(struct zt_jsonw *w, char c) {
  if (w->depth > 0)
    w->depth--;
  zt_strbuf_printf(w->sb, "%c", c);
}

void zt_jsonw_begin_object(struct zt_jsonw *w, const char *key) {
  open(w, key, '{');
}
void zt_jsonw_end_object(struct zt_jsonw *w) { close_(w, '}'); }
void zt_jsonw_begin_array(struct zt_jsonw *w, const char *key) {
  open(w, key, '[');
}
void zt_jsonw_end_array(struct zt_jsonw *w) { close_(w, ']'); }

void zt_jsonw_strn(struct zt_jsonw *w, const char *key, const char *s,
                   size_t n) {
  lead(w, key);
  zt_jsonw_escape(w->sb, s, n);
}

void zt_jsonw_str(struct zt_jsonw *w, const char *key, const char *s) {
  zt_jsonw_strn(w, key, s ? s : "", s ? strlen(s) : 0);
}

void zt_jsonw_u64(struct zt_jsonw *w, const char *key, uint64_t v) {
  lead(w, key);
  zt_strbuf_printf(w->sb, "%" PRIu64, v);
}

void zt_jsonw_bool(struct zt_jsonw *w, const char *key, bool v) {
  lead(w, key);
  zt_strbuf_printf(w->sb, "%s", v ? "true" : "false");
}

void zt_jsonw_null(struct zt_jsonw *w, const char *key) {
  lead(w, key);
  zt_strbuf_printf(w->sb, "null");
}

/* See strbuf.h. */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void zt_strbuf_init(struct zt_strbuf *b, char *buf, size_t len) {
  b->buf = buf;
  b->len = len;
  b->off = 0;
  if (len)
    buf[0] = 0;
}

void zt_strbuf_printf(struct zt_strbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b->off < b->len ? b->buf + b->off : NULL,
                    b->off < b->len ? b->len - b->off : 0, fmt, ap);
  va_end(ap);
  if (n > 0)
    b->off += (size_t)n;
}

char *zt_strbuf_render(int (*fn)(void *ud, char *buf, size_t cap), void *ud,
                       size_t first, size_t max, size_t *len, bool *cut) {
  size_t cap = first < max ? first : max;
  *cut = false;
  for (;;) {
    char *buf = malloc(cap);
    if (!buf)
      return NULL;
    int n = fn(ud, buf, cap);
    if (n < 0) {
      free(buf);
      return NULL;
    }
    if ((size_t)n < cap || cap >= max) {
      *cut = (size_t)n >= cap;
      *len = *cut ? cap - 1 : (size_t)n;
      buf[*len] = 0;
      return buf;
    }
    free(buf);
    cap = (size_t)n + 1 > cap * 2 ? (size_t)n + 1 : cap * 2;
    if (cap > max)
      cap = max;
  }
}

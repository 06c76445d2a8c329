/* See strbuf.h. */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>

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

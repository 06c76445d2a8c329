/*
 * Appending formatted text to a fixed buffer, for status reports: output
 * past the end is cut off (and still counted), never overflowed.
 */
#ifndef ZTNA_STRBUF_H
#define ZTNA_STRBUF_H

#include <stddef.h>

struct zt_strbuf {
  char *buf;
  size_t len; /* capacity */
  size_t off; /* what was written, or would have been */
};

void zt_strbuf_init(struct zt_strbuf *b, char *buf, size_t len);
void zt_strbuf_printf(struct zt_strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif

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

/* Runs fn(ud, buf, cap), which returns the length it needed (like a strbuf
 * writer), with buffers growing from `first` bytes until its output fits
 * or `max` is reached. Returns the malloc'd NUL-terminated output, its
 * length in *len, and *cut true when even max bytes were too few (the
 * output then holds what fitted). NULL: out of memory, or fn returned
 * less than 0. */
#include <stdbool.h>
char *zt_strbuf_render(int (*fn)(void *ud, char *buf, size_t cap), void *ud,
                       size_t first, size_t max, size_t *len, bool *cut);

#endif

/* heapstat: one status line on where the daemon's memory is (issue 10):
 * the C library's heap (in use, free inside it, free at its top that
 * malloc_trim could return) and the part of it ngtcp2 holds (quicmem.h),
 * by size class. */
#ifndef ZT_HEAPSTAT_H
#define ZT_HEAPSTAT_H

#include "strbuf.h"

void zt_heapstat_text(struct zt_strbuf *sb);

#endif

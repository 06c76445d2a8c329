/* pagepool: a page source for ngtcp2's large blocks (core/quicmem.h says
 * why): one reserved stretch of address space, handed out in whole pages
 * that the kernel backs only when written; a freed block's pages go back
 * to the kernel at once (MADV_DONTNEED) and the block to a free list of its
 * page count, so the next block of that size reuses the address range but
 * not the memory. ngtcp2's large blocks come in a handful of fixed sizes,
 * so one list per page count keeps the stretch from fragmenting.
 *
 * Not thread-safe: the daemon's loop is its only user. When the stretch is
 * full (or could not be reserved) alloc returns NULL and quicmem falls back
 * to malloc. */
#ifndef ZT_PAGEPOOL_H
#define ZT_PAGEPOOL_H

#include <stdbool.h>
#include <stddef.h>

#include "quicmem.h"

/* Reserves `reserve` bytes of address space (MAP_NORESERVE: no memory, no
 * commit charge until written); blocks above max_pages pages are refused
 * (NULL) so the caller uses malloc. The returned source is for
 * zq_mem_set_page_source(). NULL and a message in err if mmap failed. */
const struct zq_page_source *zt_pagepool_init(size_t reserve,
                                              size_t max_pages, char *err,
                                              size_t errlen);

struct zt_pagepool_stats {
  size_t pages_reserved, pages_handed_out, blocks_live, blocks_free;
};
void zt_pagepool_stats(struct zt_pagepool_stats *s);

/* Per block size (in pages, 1..ZT_PAGEPOOL_CLASSES): live blocks and how
 * many of their pages are resident (mincore), to see which of ngtcp2's
 * blocks the pool saves memory on. Walks the whole pool: for a status
 * request, not a hot path. -1 if it could not (out of memory). */
#define ZT_PAGEPOOL_CLASSES 16
struct zt_pagepool_class {
  size_t live, resident_pages;
};
int zt_pagepool_residency(struct zt_pagepool_class c[ZT_PAGEPOOL_CLASSES + 1]);

#endif

/* quicmem: the allocator handed to ngtcp2 for every connection (issue 10).
 *
 * It is the C library's malloc with live counters: bytes and blocks ngtcp2
 * holds right now, in all and per power-of-two size class, so the status
 * can say how much of an idle connection's memory is ngtcp2's and in which
 * sizes (docs/performance.md, "Scale of the Intermediate"). Sizes are
 * malloc_usable_size(), what the block really takes, not what was asked. */
#ifndef ZT_QUICMEM_H
#define ZT_QUICMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ngtcp2/ngtcp2.h>

/* Size classes: [0] up to 32 bytes, [i] up to 32 << i, the last one for
 * everything above 32 << (ZQ_MEM_CLASSES - 2) (256 KiB). */
#define ZQ_MEM_CLASSES 15

struct zq_mem_stats {
  uint64_t live_bytes, live_blocks;
  uint64_t class_bytes[ZQ_MEM_CLASSES], class_blocks[ZQ_MEM_CLASSES];
};

/* Where ngtcp2's large blocks go (ZQ_MEM_LARGE bytes and more) once a
 * daemon installs one (platform/pagepool.h). ngtcp2 0.12 allocates its
 * pools in fixed blocks of 4-12 KB (64 frames, 64 sent-packet entries, 64
 * streams, 8 skip-list nodes...) and a connection uses a few entries of
 * each: from the C library's heap, which reuses memory freed by earlier
 * handshakes, every page of such a block is resident; from a page source
 * that hands out untouched pages and returns freed ones to the kernel, only
 * the pages ngtcp2 writes are. blocks: every block it serves has
 * size(p) usable bytes; owns(p) says whether p is one of them. */
#define ZQ_MEM_LARGE 4096
struct zq_page_source {
  void *(*alloc)(size_t n); /* zeroed */
  void (*free)(void *p);
  size_t (*size)(const void *p);
  bool (*owns)(const void *p);
};
/* NULL: everything from malloc (the default). Install it before the first
 * connection exists: a block is freed by whoever allocated it. */
void zq_mem_set_page_source(const struct zq_page_source *ps);

/* The allocator for ngtcp2_conn_{client,server}_new. */
const ngtcp2_mem *zq_mem(void);
/* A snapshot of the counters of every block allocated through zq_mem(). */
void zq_mem_get_stats(struct zq_mem_stats *s);
/* Which class a block of usable size n counts in; the upper bound of class
 * i (0 for the last, unbounded one). */
unsigned zq_mem_class(size_t n);
size_t zq_mem_class_max(unsigned i);

#endif

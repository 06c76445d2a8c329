/* core/quicmem.c (ngtcp2's counting allocator) and platform/pagepool.c
 * (its page source for large blocks): the counters follow every block,
 * large blocks land in the pool, a pool block is zero and holds only the
 * pages written to it, a freed one gives its pages back and is reused. */
#include <malloc.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pagepool.h"
#include "quicmem.h"
#include "test.h"

static size_t page;

/* How many of the n pages from p on are resident. */
static size_t resident(const void *p, size_t n) {
  uintptr_t a = (uintptr_t)p & ~(uintptr_t)(page - 1);
  unsigned char vec[64];
  size_t np = ((uintptr_t)p + n - a + page - 1) / page, r = 0;
  if (np > sizeof(vec) || mincore((void *)a, np * page, vec) != 0)
    return SIZE_MAX;
  for (size_t i = 0; i < np; i++)
    r += vec[i] & 1;
  return r;
}

static void test_classes(void) {
  CHECK_EQ_INT(zq_mem_class(1), 0);
  CHECK_EQ_INT(zq_mem_class(32), 0);
  CHECK_EQ_INT(zq_mem_class(33), 1);
  CHECK_EQ_INT(zq_mem_class(8192), 8);
  CHECK_EQ_INT(zq_mem_class(8193), 9);
  CHECK_EQ_INT(zq_mem_class((size_t)1 << 30), ZQ_MEM_CLASSES - 1);
  CHECK(zq_mem_class_max(8) == 8192);
  CHECK(zq_mem_class_max(ZQ_MEM_CLASSES - 1) == 0);
}

/* Before any page source: everything from malloc, every block counted
 * while it lives and uncounted when freed or moved by realloc. */
static void test_counts(void) {
  const ngtcp2_mem *m = zq_mem();
  struct zq_mem_stats s0, s;
  zq_mem_get_stats(&s0);
  void *a = m->malloc(100, m->user_data);
  uint8_t *b = m->calloc(10, 1000, m->user_data);
  CHECK(a && b);
  zq_mem_get_stats(&s);
  CHECK(s.live_blocks == s0.live_blocks + 2);
  CHECK(s.live_bytes >= s0.live_bytes + 100 + 10000);
  CHECK(s.class_blocks[zq_mem_class(10000)] ==
        s0.class_blocks[zq_mem_class(10000)] + 1);
  for (int i = 0; i < 10000; i++)
    CHECK(b[i] == 0);
  a = m->realloc(a, 20000, m->user_data);
  CHECK(a);
  zq_mem_get_stats(&s);
  CHECK(s.live_blocks == s0.live_blocks + 2);
  CHECK(s.live_bytes >= s0.live_bytes + 30000);
  m->free(a, m->user_data);
  m->free(b, m->user_data);
  m->free(NULL, m->user_data);
  /* A count times a size that wraps is refused, not a short block. */
  CHECK(m->calloc(SIZE_MAX / 2 + 2, 2, m->user_data) == NULL);
  zq_mem_get_stats(&s);
  CHECK(s.live_blocks == s0.live_blocks);
  CHECK(s.live_bytes == s0.live_bytes);
  for (unsigned i = 0; i < ZQ_MEM_CLASSES; i++)
    CHECK(s.class_bytes[i] == s0.class_bytes[i]);
}

#define POOL_PAGES 64

static void test_pool(void) {
  char err[128];
  const struct zq_page_source *ps =
      zt_pagepool_init(POOL_PAGES * page, 16, err, sizeof(err));
  if (!ps)
    SKIP("%s", err);
  zq_mem_set_page_source(ps);
  const ngtcp2_mem *m = zq_mem();
  struct zq_mem_stats s0, s;
  zq_mem_get_stats(&s0);

  /* Small blocks stay with malloc, large ones go to the pool, zeroed and
   * not resident until written. */
  void *small = m->malloc(ZQ_MEM_LARGE - 1, m->user_data);
  uint8_t *big = m->malloc(12 * page, m->user_data);
  CHECK(small && big);
  CHECK(!ps->owns(small));
  CHECK(ps->owns(big));
  CHECK(ps->size(big) >= 12 * page);
  CHECK(resident(big, 12 * page) <= 1);
  big[0] = 1;
  big[12 * page - 1] = 2;
  CHECK_EQ_INT(resident(big, 12 * page), 2);
  /* The status's view: one live block of 13 pages (the header makes the
   * 13th), two of them resident. */
  struct zt_pagepool_class pc[ZT_PAGEPOOL_CLASSES + 1];
  CHECK_EQ_INT(zt_pagepool_residency(pc), 0);
  CHECK_EQ_INT(pc[13].live, 1);
  CHECK_EQ_INT(pc[13].resident_pages, 2);
  zq_mem_get_stats(&s);
  CHECK(s.live_bytes == s0.live_bytes + malloc_usable_size(small) +
                            ps->size(big));

  /* Freed: its pages go back; the next block of its size is the same
   * address range, zero, and not resident. */
  memset(big, 0xa5, 12 * page);
  m->free(big, m->user_data);
  CHECK(resident(big, 12 * page) == 0);
  uint8_t *again = m->calloc(1, 12 * page, m->user_data);
  CHECK(again == big);
  int nonzero = 0;
  for (size_t i = 0; i < 12 * page; i++)
    nonzero += again[i] != 0;
  CHECK_EQ_INT(nonzero, 0);

  /* realloc moves a block into the pool when it grows large, out of it
   * when it shrinks small, keeping the bytes. */
  memset(small, 0x5a, ZQ_MEM_LARGE - 1);
  uint8_t *grown = m->realloc(small, 2 * page, m->user_data);
  CHECK(grown && ps->owns(grown));
  CHECK(grown[0] == 0x5a && grown[ZQ_MEM_LARGE - 2] == 0x5a);
  uint8_t *shrunk = m->realloc(grown, 100, m->user_data);
  CHECK(shrunk && !ps->owns(shrunk));
  CHECK(shrunk[99] == 0x5a);

  /* Too large for a class, or the pool full: malloc serves it. */
  void *huge = m->malloc(20 * page, m->user_data);
  CHECK(huge && !ps->owns(huge));
  void *v[POOL_PAGES];
  size_t n = 0, in_pool = 0;
  for (; n < POOL_PAGES; n++) {
    v[n] = m->malloc(4 * page, m->user_data);
    CHECK(v[n]);
    in_pool += ps->owns(v[n]);
  }
  CHECK(in_pool > 0 && in_pool < POOL_PAGES);
  for (size_t i = 0; i < n; i++)
    m->free(v[i], m->user_data);
  m->free(huge, m->user_data);
  m->free(shrunk, m->user_data);
  m->free(again, m->user_data);
  zq_mem_get_stats(&s);
  CHECK(s.live_blocks == s0.live_blocks);
  CHECK(s.live_bytes == s0.live_bytes);
  struct zt_pagepool_stats pp;
  zt_pagepool_stats(&pp);
  CHECK(pp.blocks_live == 0);
  CHECK(pp.blocks_free > 0);
  zq_mem_set_page_source(NULL);
}

int main(void) {
  page = (size_t)sysconf(_SC_PAGESIZE);
  RUN(test_classes);
  RUN(test_counts);
  RUN(test_pool);
  return TEST_EXIT();
}

/* quicmem.h: ngtcp2's allocations, counted, the large ones from a page
 * source when the daemon installed one. */
#include "quicmem.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

/* Relaxed atomics: the counters are statistics, and the daemons' loops are
 * single-threaded, but a library user need not be. */
static struct zq_mem_stats stats;
static const struct zq_page_source *pages;

void zq_mem_set_page_source(const struct zq_page_source *ps) { pages = ps; }

unsigned zq_mem_class(size_t n) {
  unsigned i = 0;
  while (i < ZQ_MEM_CLASSES - 1 && n > ((size_t)32 << i))
    i++;
  return i;
}

size_t zq_mem_class_max(unsigned i) {
  return i < ZQ_MEM_CLASSES - 1 ? (size_t)32 << i : 0;
}

static bool paged(const void *p) { return pages && p && pages->owns(p); }

static size_t block_size(const void *p) {
  return paged(p) ? pages->size(p) : malloc_usable_size((void *)p);
}

static void count_size(size_t n, int sign) {
  unsigned c = zq_mem_class(n);
  uint64_t d = sign > 0 ? (uint64_t)n : -(uint64_t)n;
  uint64_t one = sign > 0 ? 1 : (uint64_t)-1;
  __atomic_fetch_add(&stats.live_bytes, d, __ATOMIC_RELAXED);
  __atomic_fetch_add(&stats.live_blocks, one, __ATOMIC_RELAXED);
  __atomic_fetch_add(&stats.class_bytes[c], d, __ATOMIC_RELAXED);
  __atomic_fetch_add(&stats.class_blocks[c], one, __ATOMIC_RELAXED);
}

static void count(const void *p, int sign) {
  if (p)
    count_size(block_size(p), sign);
}

/* A large block from the page source (zeroed), else from malloc. */
static void *get(size_t size, bool zero) {
  void *p = NULL;
  if (pages && size >= ZQ_MEM_LARGE)
    p = pages->alloc(size);
  if (!p)
    p = zero ? calloc(1, size ? size : 1) : malloc(size);
  count(p, 1);
  return p;
}

static void put(void *p) {
  if (!p)
    return;
  count(p, -1);
  if (paged(p))
    pages->free(p);
  else
    free(p);
}

static void *m_malloc(size_t size, void *ud) {
  (void)ud;
  return get(size, false);
}

static void m_free(void *ptr, void *ud) {
  (void)ud;
  put(ptr);
}

static void *m_calloc(size_t nmemb, size_t size, void *ud) {
  (void)ud;
  if (size && nmemb > SIZE_MAX / size)
    return NULL;
  return get(nmemb * size, true);
}

static void *m_realloc(void *ptr, size_t size, void *ud) {
  (void)ud;
  if (!ptr)
    return get(size, false);
  if (size == 0) {
    put(ptr);
    return NULL;
  }
  bool home_paged = pages && size >= ZQ_MEM_LARGE;
  if (!paged(ptr) && !home_paged) { /* malloc's, and stays there */
    size_t was = malloc_usable_size(ptr);
    void *p = realloc(ptr, size);
    if (!p)
      return NULL; /* the old block stands, still counted */
    count_size(was, -1);
    count(p, 1);
    return p;
  }
  size_t was = block_size(ptr);
  if (paged(ptr) && home_paged && size <= was)
    return ptr;
  /* Move: between the page source and malloc, or to a bigger block. */
  void *p = get(size, false);
  if (!p)
    return NULL;
  memcpy(p, ptr, was < size ? was : size);
  put(ptr);
  return p;
}

static const ngtcp2_mem mem = {NULL, m_malloc, m_free, m_calloc, m_realloc};

const ngtcp2_mem *zq_mem(void) { return &mem; }

void zq_mem_get_stats(struct zq_mem_stats *s) {
  s->live_bytes = __atomic_load_n(&stats.live_bytes, __ATOMIC_RELAXED);
  s->live_blocks = __atomic_load_n(&stats.live_blocks, __ATOMIC_RELAXED);
  for (unsigned i = 0; i < ZQ_MEM_CLASSES; i++) {
    s->class_bytes[i] =
        __atomic_load_n(&stats.class_bytes[i], __ATOMIC_RELAXED);
    s->class_blocks[i] =
        __atomic_load_n(&stats.class_blocks[i], __ATOMIC_RELAXED);
  }
}

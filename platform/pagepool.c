/* pagepool.h: whole-page blocks from one reserved stretch. */
#include "pagepool.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The block's first 16 bytes say its page count (16: malloc's alignment,
 * which ngtcp2 expects of what it gets). */
#define HDR 16
#define MAX_CLASSES 64

struct hdr {
  size_t npages;
};

/* Free blocks of n pages: a stack of addresses kept apart from the blocks,
 * whose pages stay with the kernel until handed out again. */
struct freelist {
  struct hdr **v;
  size_t n, cap;
};

/* The Intermediate's workers allocate from several threads: the lists and
 * counts are under one lock (blocks of 4 KB and up are rare next to
 * packets; the madvise() that frees pages runs outside it). */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

static struct {
  uint8_t *base;
  size_t size, used, page, max_pages, live, nfree;
  struct freelist free[MAX_CLASSES + 1];
} pool;

static bool pp_owns(const void *p) {
  return pool.base && (const uint8_t *)p >= pool.base &&
         (const uint8_t *)p < pool.base + pool.size;
}

static size_t pp_size(const void *p) {
  const struct hdr *h = (const void *)((const uint8_t *)p - HDR);
  return h->npages * pool.page - HDR;
}

static void *pp_alloc(size_t n) {
  size_t np = (n + HDR + pool.page - 1) / pool.page;
  struct hdr *h;
  if (np > pool.max_pages)
    return NULL;
  pthread_mutex_lock(&pool_lock);
  struct freelist *fl = &pool.free[np];
  if (fl->n) { /* its pages were given back: zero when touched */
    h = fl->v[--fl->n];
    pool.nfree--;
  } else if (pool.size - pool.used < np * pool.page) {
    pthread_mutex_unlock(&pool_lock);
    return NULL;
  } else {
    h = (struct hdr *)(void *)(pool.base + pool.used);
    pool.used += np * pool.page;
  }
  pool.live++;
  pthread_mutex_unlock(&pool_lock);
  h->npages = np;
  return (uint8_t *)h + HDR;
}

static void pp_free(void *p) {
  struct hdr *h = (void *)((uint8_t *)p - HDR);
  size_t np = h->npages;
  struct freelist *fl = &pool.free[np];
  /* Every page back to the kernel: a later block of this size starts with
   * none resident, and zeroed (alloc promises it). */
  madvise(h, np * pool.page, MADV_DONTNEED);
  pthread_mutex_lock(&pool_lock);
  pool.live--;
  if (fl->n == fl->cap) {
    size_t cap = fl->cap ? fl->cap * 2 : 64;
    struct hdr **v = realloc(fl->v, cap * sizeof(*v));
    if (!v) { /* no room to remember it: its address range stays unused */
      pthread_mutex_unlock(&pool_lock);
      return;
    }
    fl->v = v;
    fl->cap = cap;
  }
  fl->v[fl->n++] = h;
  pool.nfree++;
  pthread_mutex_unlock(&pool_lock);
}

static const struct zq_page_source source = {pp_alloc, pp_free, pp_size,
                                             pp_owns};

const struct zq_page_source *zt_pagepool_init(size_t reserve,
                                              size_t max_pages, char *err,
                                              size_t errlen) {
  if (pool.base)
    return &source;
  long pg = sysconf(_SC_PAGESIZE);
  pool.page = pg > 0 ? (size_t)pg : 4096;
  pool.max_pages = max_pages > MAX_CLASSES ? MAX_CLASSES : max_pages;
  reserve -= reserve % pool.page;
  void *b = mmap(NULL, reserve, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (b == MAP_FAILED) {
    snprintf(err, errlen, "cannot reserve %zu MiB of address space: %s",
             reserve >> 20, strerror(errno));
    return NULL;
  }
  pool.base = b;
  pool.size = reserve;
  return &source;
}

void zt_pagepool_stats(struct zt_pagepool_stats *s) {
  pthread_mutex_lock(&pool_lock);
  s->pages_reserved = pool.page ? pool.size / pool.page : 0;
  s->pages_handed_out = pool.page ? pool.used / pool.page : 0;
  s->blocks_live = pool.live;
  s->blocks_free = pool.nfree;
  pthread_mutex_unlock(&pool_lock);
}

struct freeblk {
  uintptr_t at;
  size_t np;
};

static int by_addr(const void *a, const void *b) {
  uintptr_t x = ((const struct freeblk *)a)->at,
            y = ((const struct freeblk *)b)->at;
  return x < y ? -1 : x > y;
}

static int residency(struct zt_pagepool_class c[ZT_PAGEPOOL_CLASSES + 1]);

/* Under the lock: no block is handed out or listed free meanwhile. */
int zt_pagepool_residency(struct zt_pagepool_class c[ZT_PAGEPOOL_CLASSES + 1]) {
  pthread_mutex_lock(&pool_lock);
  int rv = residency(c);
  pthread_mutex_unlock(&pool_lock);
  return rv;
}

static int residency(struct zt_pagepool_class c[ZT_PAGEPOOL_CLASSES + 1]) {
  memset(c, 0, sizeof(*c) * (ZT_PAGEPOOL_CLASSES + 1));
  size_t npages = pool.page ? pool.used / pool.page : 0;
  if (!npages)
    return 0;
  /* Free blocks' headers went back to the kernel with their pages: their
   * sizes come from the free lists, sorted by address for the walk. */
  struct freeblk *fb = malloc((pool.nfree ? pool.nfree : 1) * sizeof(*fb));
  unsigned char *vec = malloc(npages);
  if (!fb || !vec || mincore(pool.base, pool.used, vec) != 0) {
    free(fb);
    free(vec);
    return -1;
  }
  size_t nf = 0;
  for (size_t k = 0; k <= MAX_CLASSES; k++)
    for (size_t i = 0; i < pool.free[k].n && nf < pool.nfree; i++)
      fb[nf++] = (struct freeblk){(uintptr_t)pool.free[k].v[i], k};
  qsort(fb, nf, sizeof(*fb), by_addr);
  size_t f = 0;
  for (size_t pg = 0; pg < npages;) {
    uintptr_t at = (uintptr_t)(pool.base + pg * pool.page);
    size_t np;
    if (f < nf && fb[f].at == at) {
      np = fb[f++].np;
    } else {
      np = ((const struct hdr *)at)->npages;
      size_t k = np <= ZT_PAGEPOOL_CLASSES ? np : 0;
      c[k].live++;
      for (size_t i = 0; i < np && pg + i < npages; i++)
        c[k].resident_pages += vec[pg + i] & 1;
    }
    pg += np ? np : 1;
  }
  free(fb);
  free(vec);
  return 0;
}

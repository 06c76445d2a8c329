/* Min-heap of deadlines with index-in-heap. See deadline.h. */
#include "deadline.h"

#include <stdlib.h>
#include <string.h>

void zt_deadline_heap_init(struct zt_deadline_heap *h) {
  memset(h, 0, sizeof(*h));
}

void zt_deadline_heap_free(struct zt_deadline_heap *h) {
  for (size_t i = 0; i < h->n; i++)
    h->v[i]->at = ZT_DEADLINE_NONE;
  free(h->v);
  memset(h, 0, sizeof(*h));
}

void zt_deadline_init(struct zt_deadline *d) {
  d->at = ZT_DEADLINE_NONE;
  d->idx = 0;
}

static void place(struct zt_deadline_heap *h, size_t i, struct zt_deadline *d) {
  h->v[i] = d;
  d->idx = i;
}

static void sift_up(struct zt_deadline_heap *h, size_t i) {
  struct zt_deadline *d = h->v[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (h->v[parent]->at <= d->at)
      break;
    place(h, i, h->v[parent]);
    i = parent;
  }
  place(h, i, d);
}

static void sift_down(struct zt_deadline_heap *h, size_t i) {
  struct zt_deadline *d = h->v[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= h->n)
      break;
    if (c + 1 < h->n && h->v[c + 1]->at < h->v[c]->at)
      c++;
    if (d->at <= h->v[c]->at)
      break;
    place(h, i, h->v[c]);
    i = c;
  }
  place(h, i, d);
}

static int in_heap(const struct zt_deadline_heap *h,
                   const struct zt_deadline *d) {
  return d->at != ZT_DEADLINE_NONE && d->idx < h->n && h->v[d->idx] == d;
}

void zt_deadline_remove(struct zt_deadline_heap *h, struct zt_deadline *d) {
  if (!in_heap(h, d)) {
    d->at = ZT_DEADLINE_NONE;
    return;
  }
  size_t i = d->idx;
  struct zt_deadline *last = h->v[--h->n];
  d->at = ZT_DEADLINE_NONE;
  if (last == d)
    return;
  place(h, i, last);
  /* The last entry may belong above or below the hole it fills. */
  sift_up(h, i);
  sift_down(h, last->idx);
}

int zt_deadline_reserve(struct zt_deadline_heap *h, size_t n) {
  if (n <= h->cap)
    return 0;
  size_t ncap = h->cap ? h->cap : 64;
  while (ncap < n)
    ncap *= 2;
  struct zt_deadline **v = realloc(h->v, ncap * sizeof(*v));
  if (!v)
    return -1;
  h->v = v;
  h->cap = ncap;
  return 0;
}

int zt_deadline_set(struct zt_deadline_heap *h, struct zt_deadline *d,
                    uint64_t at) {
  if (at == ZT_DEADLINE_NONE) {
    zt_deadline_remove(h, d);
    return 0;
  }
  if (in_heap(h, d)) {
    uint64_t was = d->at;
    d->at = at;
    if (at < was)
      sift_up(h, d->idx);
    else if (at > was)
      sift_down(h, d->idx);
    return 0;
  }
  if (h->n == h->cap && zt_deadline_reserve(h, h->n + 1) != 0) {
    d->at = ZT_DEADLINE_NONE;
    return -1;
  }
  d->at = at;
  place(h, h->n++, d);
  sift_up(h, d->idx);
  return 0;
}

struct zt_deadline *zt_deadline_first(const struct zt_deadline_heap *h) {
  return h->n ? h->v[0] : NULL;
}

uint64_t zt_deadline_next(const struct zt_deadline_heap *h) {
  return h->n ? h->v[0]->at : ZT_DEADLINE_NONE;
}

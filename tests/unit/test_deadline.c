/* deadline: the min-heap against a model (a plain array scanned for its
 * minimum), with updates in both directions and removals from anywhere. */
#include "deadline.h"
#include "test.h"

static int heap_ok(const struct zt_deadline_heap *h) {
  for (size_t i = 0; i < h->n; i++) {
    if (h->v[i]->idx != i)
      return 0;
    if (i && h->v[(i - 1) / 2]->at > h->v[i]->at)
      return 0;
  }
  return 1;
}

static void test_basic(void) {
  struct zt_deadline_heap h;
  struct zt_deadline a, b, c;
  zt_deadline_heap_init(&h);
  zt_deadline_init(&a);
  zt_deadline_init(&b);
  zt_deadline_init(&c);
  CHECK(zt_deadline_first(&h) == NULL);
  CHECK(zt_deadline_next(&h) == ZT_DEADLINE_NONE);
  CHECK_EQ_INT(zt_deadline_set(&h, &a, 30), 0);
  CHECK_EQ_INT(zt_deadline_set(&h, &b, 10), 0);
  CHECK_EQ_INT(zt_deadline_set(&h, &c, 20), 0);
  CHECK(zt_deadline_first(&h) == &b);
  CHECK(zt_deadline_set(&h, &b, 40) == 0); /* later: c is first now */
  CHECK(zt_deadline_first(&h) == &c);
  CHECK(zt_deadline_set(&h, &a, 5) == 0); /* earlier */
  CHECK(zt_deadline_next(&h) == 5);
  zt_deadline_remove(&h, &a);
  CHECK(a.at == ZT_DEADLINE_NONE);
  zt_deadline_remove(&h, &a); /* not in: nothing */
  CHECK_EQ_INT(h.n, 2);
  CHECK(zt_deadline_set(&h, &c, ZT_DEADLINE_NONE) == 0); /* NONE: out */
  CHECK(zt_deadline_first(&h) == &b);
  CHECK_EQ_INT(h.n, 1);
  zt_deadline_heap_free(&h);
  CHECK(b.at == ZT_DEADLINE_NONE);
}

static void test_against_model(void) {
  enum { N = 500 };
  static struct zt_deadline d[N];
  static uint64_t model[N]; /* ZT_DEADLINE_NONE: not in */
  struct zt_deadline_heap h;
  uint32_t x = 777;
  zt_deadline_heap_init(&h);
  for (int i = 0; i < N; i++) {
    zt_deadline_init(&d[i]);
    model[i] = ZT_DEADLINE_NONE;
  }
  for (int round = 0; round < 50000; round++) {
    x = x * 1103515245u + 12345u;
    int i = (int)((x >> 8) % N);
    unsigned op = (x >> 20) % 4;
    if (op == 0) {
      zt_deadline_remove(&h, &d[i]);
      model[i] = ZT_DEADLINE_NONE;
    } else if (op == 1) { /* pop the first, as a timer handler does */
      struct zt_deadline *f = zt_deadline_first(&h);
      if (f) {
        zt_deadline_remove(&h, f);
        model[f - d] = ZT_DEADLINE_NONE;
      }
    } else {
      uint64_t at = (x >> 4) % 1000; /* many equal times */
      CHECK_EQ_INT(zt_deadline_set(&h, &d[i], at), 0);
      model[i] = at;
    }
    uint64_t min = ZT_DEADLINE_NONE;
    size_t count = 0;
    for (int k = 0; k < N; k++) {
      if (model[k] < min)
        min = model[k];
      count += model[k] != ZT_DEADLINE_NONE;
      CHECK(d[k].at == model[k]);
    }
    CHECK(zt_deadline_next(&h) == min);
    CHECK_EQ_INT(h.n, count);
    if (round % 97 == 0)
      CHECK(heap_ok(&h));
  }
  /* Draining yields the times in order. */
  uint64_t last = 0;
  while (zt_deadline_first(&h)) {
    struct zt_deadline *f = zt_deadline_first(&h);
    CHECK(f->at >= last);
    last = f->at;
    zt_deadline_remove(&h, f);
  }
  zt_deadline_heap_free(&h);
}

int main(void) {
  RUN(test_basic);
  RUN(test_against_model);
  return TEST_EXIT();
}

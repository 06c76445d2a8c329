/* keymap: insert, lookup, delete with backward shift, growth. */
#include <stdlib.h>
#include <string.h>

#include "keymap.h"
#include "test.h"

static void test_basic(void) {
  struct zt_keymap m;
  int a, b;
  zt_keymap_init(&m);
  CHECK(zt_keymap_get(&m, 1) == NULL);
  CHECK_EQ_INT(zt_keymap_put(&m, 1, &a), 0);
  CHECK_EQ_INT(zt_keymap_put(&m, 2, &b), 0);
  CHECK_EQ_INT(zt_keymap_put(&m, 1, &b), -1); /* duplicate */
  CHECK_EQ_INT(zt_keymap_put(&m, 0, &b), -1); /* reserved */
  CHECK(zt_keymap_get(&m, 1) == &a);
  CHECK(zt_keymap_get(&m, 2) == &b);
  CHECK(zt_keymap_del(&m, 1) == &a);
  CHECK(zt_keymap_get(&m, 1) == NULL);
  CHECK(zt_keymap_del(&m, 1) == NULL);
  CHECK_EQ_INT(m.count, 1);
  zt_keymap_free(&m);
}

/* Many keys, many of them colliding in small tables, deleted in an order
 * that exercises the backward shift: every survivor must stay findable. */
static void test_churn_against_model(void) {
  enum { N = 5000 };
  static void *model[N];
  struct zt_keymap m;
  uint32_t x = 12345;
  zt_keymap_init(&m);
  for (int round = 0; round < 20000; round++) {
    x = x * 1103515245u + 12345u;
    uint32_t k = 1 + (x >> 8) % N;
    if (model[k - 1]) {
      CHECK(zt_keymap_del(&m, k) == model[k - 1]);
      model[k - 1] = NULL;
    } else {
      model[k - 1] = (void *)(uintptr_t)(k * 8);
      CHECK_EQ_INT(zt_keymap_put(&m, k, model[k - 1]), 0);
    }
  }
  size_t count = 0;
  for (uint32_t k = 1; k <= N; k++) {
    CHECK(zt_keymap_get(&m, k) == model[k - 1]);
    count += model[k - 1] != NULL;
  }
  CHECK_EQ_INT(m.count, count);
  zt_keymap_free(&m);
}

/* Iteration returns every entry once, also while deleting the entry just
 * returned (collisions and wrap-around included: small tables, many keys
 * near the end of the slot array). */
static void test_iterate_while_deleting(void) {
  enum { N = 3000 };
  static unsigned char seen[N + 1];
  uint32_t x = 99;
  for (int round = 0; round < 40; round++) {
    struct zt_keymap m;
    struct zt_keymap_iter it;
    uint32_t key;
    void *val;
    size_t n = 1 + (size_t)round * 73 % N, returned = 0, deleted = 0;
    zt_keymap_init(&m);
    memset(seen, 0, sizeof(seen));
    for (uint32_t k = 1; k <= n; k++)
      CHECK_EQ_INT(zt_keymap_put(&m, k, (void *)(uintptr_t)(k * 8)), 0);
    for (zt_keymap_iter_init(&it, &m); zt_keymap_next(&it, &key, &val);) {
      CHECK(key >= 1 && key <= n);
      CHECK(val == (void *)(uintptr_t)(key * 8));
      CHECK_EQ_INT(seen[key], 0); /* never twice */
      seen[key] = 1;
      returned++;
      x = x * 1103515245u + 12345u;
      /* every other round deletes all: the teardown walk */
      if (round % 2 == 0 || (x >> 16) % 3 != 0) {
        CHECK(zt_keymap_del(&m, key) == val);
        seen[key] = 2;
        deleted++;
      }
    }
    CHECK_EQ_INT(returned, n); /* none missed */
    CHECK_EQ_INT(m.count, n - deleted);
    for (uint32_t k = 1; k <= n; k++)
      CHECK((zt_keymap_get(&m, k) != NULL) == (seen[k] == 1));
    zt_keymap_free(&m);
  }
  struct zt_keymap empty;
  struct zt_keymap_iter it;
  zt_keymap_init(&empty);
  zt_keymap_iter_init(&it, &empty);
  CHECK_EQ_INT(zt_keymap_next(&it, NULL, NULL), 0);
}

int main(void) {
  RUN(test_basic);
  RUN(test_iterate_while_deleting);
  RUN(test_churn_against_model);
  return TEST_EXIT();
}

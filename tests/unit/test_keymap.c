/* keymap: insert, lookup, delete with backward shift, growth. */
#include <stdlib.h>

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

int main(void) {
  RUN(test_basic);
  RUN(test_churn_against_model);
  return TEST_EXIT();
}

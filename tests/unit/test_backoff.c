/* Reconnect backoff and agent address allocation. */
#include "addrpool.h"
#include "backoff.h"
#include "test.h"

static void test_backoff_sequence(void) {
  struct zt_backoff b;
  static const uint64_t base[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000};
  zt_backoff_reset(&b);
  for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
    /* random 0 gives the lower edge (0.8x), 2^32-1 the upper (1.2x) */
    struct zt_backoff lo = b, hi = b;
    CHECK_EQ_INT(zt_backoff_next_ms(&lo, 0), base[i] * 8 / 10);
    uint64_t h = zt_backoff_next_ms(&hi, 0xffffffffu);
    CHECK(h < base[i] * 12 / 10 && h >= base[i] * 12 / 10 - 1);
    zt_backoff_next_ms(&b, 0x80000000u);
  }
  zt_backoff_reset(&b);
  CHECK_EQ_INT(zt_backoff_next_ms(&b, 0), 800);
  for (int i = 0; i < 100; i++) /* never overflows */
    zt_backoff_next_ms(&b, 0);
  CHECK_EQ_INT(zt_backoff_next_ms(&b, 0), 24000);
}

static void test_addrpool(void) {
  struct zt_addrpool p;
  int a, b, c;
  zt_addrpool_init(&p, 0x64400000u, 30); /* 100.64.0.0/30: two usable */
  uint32_t x = zt_addrpool_alloc(&p, "alice", 0, &a);
  uint32_t y = zt_addrpool_alloc(&p, "bob", 0, &b);
  CHECK(x == 0x64400001u || x == 0x64400002u);
  CHECK(y == 0x64400001u || y == 0x64400002u);
  CHECK(x != y);
  CHECK_EQ_INT(zt_addrpool_alloc(&p, "carol", 0, &c), 0); /* exhausted */
  zt_addrpool_release(&p, x, &b); /* not the owner: nothing happens */
  CHECK_EQ_INT(zt_addrpool_alloc(&p, "carol", x, &c), 0);
  zt_addrpool_release(&p, x, &a);
  CHECK_EQ_INT(zt_addrpool_alloc(&p, "carol", x, &c), x); /* hint honoured */
  zt_addrpool_free(&p);

  /* The same name gets the same address from a fresh pool. */
  zt_addrpool_init(&p, 0x64400000u, 16);
  x = zt_addrpool_alloc(&p, "alice", 0, &a);
  zt_addrpool_free(&p);
  zt_addrpool_init(&p, 0x64400000u, 16);
  CHECK_EQ_INT(zt_addrpool_alloc(&p, "alice", 0, &a), x);
  CHECK_EQ_INT(zt_addrpool_alloc(&p, "x", 0x0a000001u, &b) != 0x0a000001u, 1);
  CHECK(zt_addrpool_contains(&p, x));
  zt_addrpool_free(&p);
}

int main(void) {
  RUN(test_backoff_sequence);
  RUN(test_addrpool);
  return TEST_EXIT();
}

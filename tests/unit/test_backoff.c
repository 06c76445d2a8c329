/* Reconnect backoff. */
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

int main(void) {
  RUN(test_backoff_sequence);
  return TEST_EXIT();
}

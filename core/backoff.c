/* Reconnect backoff with jitter. See backoff.h. */
#include "backoff.h"

#include "wire.h"

void zt_backoff_reset(struct zt_backoff *b) { b->attempt = 0; }

uint64_t zt_backoff_next_ms(struct zt_backoff *b, uint32_t random) {
  uint64_t base = ZT_BACKOFF_INITIAL_MS;
  for (unsigned i = 0; i < b->attempt && base < ZT_BACKOFF_MAX_MS; i++)
    base *= 2;
  if (base > ZT_BACKOFF_MAX_MS)
    base = ZT_BACKOFF_MAX_MS;
  if (b->attempt < 32)
    b->attempt++;
  /* factor = 0.8 + 0.4 * random / 2^32, in integer arithmetic */
  return base * 8 / 10 + (base * 4 / 10) * random / 4294967296ULL;
}

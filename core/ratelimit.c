/* Token buckets. See ratelimit.h. */
#include "ratelimit.h"

#define NS_PER_SEC 1000000000ULL
#define LOG_RATE 2   /* lines a second per peer, sustained */
#define LOG_BURST 10 /* lines at once */

bool zt_bucket_take(struct zt_bucket *b, uint64_t now, uint32_t rate,
                    uint32_t burst) {
  if (!b->started) {
    b->started = true;
    b->tokens = burst;
    b->last = now;
  }
  if (rate && now > b->last) {
    uint64_t per = NS_PER_SEC / rate;
    uint64_t add = (now - b->last) / per;
    if (add) {
      b->tokens = add >= burst - b->tokens ? burst : b->tokens + (uint32_t)add;
      /* Keep the remainder: slow steady refills must not round to zero. */
      b->last += add * per;
      if (b->tokens == burst)
        b->last = now;
    }
  }
  if (b->tokens == 0)
    return false;
  b->tokens--;
  return true;
}

bool zt_loglimit_allow(struct zt_loglimit *l, uint64_t now,
                       uint64_t *suppressed) {
  if (!zt_bucket_take(&l->bucket, now, LOG_RATE, LOG_BURST)) {
    l->suppressed++;
    return false;
  }
  *suppressed = l->suppressed;
  l->suppressed = 0;
  return true;
}

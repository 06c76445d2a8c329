/* Rate limits. See ratelimit.h. */
#include "ratelimit.h"

#define NS_PER_SEC 1000000000ULL
#define LOG_RATE 2   /* lines a second per peer, sustained */
#define LOG_BURST 10 /* lines at once */

static uint64_t interval(unsigned rate) {
  return NS_PER_SEC / (rate ? rate : 1);
}

/* A request at now passes when the next arrival time is at most burst - 1
 * intervals ahead of it. */
bool zt_bucket_allows(const struct zt_bucket *b, uint64_t now, unsigned rate,
                      unsigned burst) {
  uint64_t tat = b->tat < now ? now : b->tat;
  return burst > 0 && tat - now <= (uint64_t)(burst - 1) * interval(rate);
}

void zt_bucket_charge(struct zt_bucket *b, uint64_t now, unsigned rate) {
  b->tat = (b->tat < now ? now : b->tat) + interval(rate);
}

bool zt_bucket_take(struct zt_bucket *b, uint64_t now, unsigned rate,
                    unsigned burst) {
  if (!zt_bucket_allows(b, now, rate, burst))
    return false;
  zt_bucket_charge(b, now, rate);
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

/*
 * Rate limits, for everything a peer (or a spoofed source) can make us do
 * more often than we want: session opens, log lines, answers to
 * unauthenticated packets. A token bucket kept as one timestamp (GCRA: the
 * "theoretical arrival time" of the next request), on the caller's clock in
 * ns. A zeroed bucket starts full.
 */
#ifndef ZTNA_RATELIMIT_H
#define ZTNA_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct zt_bucket {
  uint64_t tat; /* 0: never used */
};

/* Would one more request pass now? rate: per second; burst: at once. */
bool zt_bucket_allows(const struct zt_bucket *b, uint64_t now, unsigned rate,
                      unsigned burst);
/* Counts one request (after zt_bucket_allows said yes). Split from the
 * check so a request that must pass two buckets takes from neither unless
 * both allow it. */
void zt_bucket_charge(struct zt_bucket *b, uint64_t now, unsigned rate);
/* Both at once: true, and counted, when the request may pass. */
bool zt_bucket_take(struct zt_bucket *b, uint64_t now, unsigned rate,
                    unsigned burst);

/* Log lines one peer causes: at most `burst` at once and `rate` a second;
 * the rest are counted, and the next line that gets through says how many
 * were suppressed. */
struct zt_loglimit {
  struct zt_bucket bucket;
  uint64_t suppressed;
};
/* True when a line may be logged now; *suppressed gets the count of lines
 * dropped since the last one (then reset). */
bool zt_loglimit_allow(struct zt_loglimit *l, uint64_t now,
                       uint64_t *suppressed);

#endif

/*
 * A token bucket, for everything a peer can make us do more often than we
 * want: session opens, log lines, answers to unauthenticated packets.
 * Integer arithmetic on the caller's clock (ns); a zeroed bucket starts
 * full.
 */
#ifndef ZTNA_RATELIMIT_H
#define ZTNA_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct zt_bucket {
  uint32_t tokens;
  bool started;
  uint64_t last; /* time the tokens were last topped up */
};

/* Takes one token if there is one. rate: tokens per second; burst: the
 * bucket's size. */
bool zt_bucket_take(struct zt_bucket *b, uint64_t now, uint32_t rate,
                    uint32_t burst);

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

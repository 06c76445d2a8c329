/*
 * Reconnect backoff: 1, 2, 4, 8, 16, 30, 30... seconds, each scaled by a
 * random factor in [0.8, 1.2) so that a fleet of agents cut off by the same
 * Intermediate restart does not come back in lockstep. Sans-IO: the caller
 * passes the randomness.
 */
#ifndef ZTNA_BACKOFF_H
#define ZTNA_BACKOFF_H

#include <stdint.h>

struct zt_backoff {
  unsigned attempt;
};

void zt_backoff_reset(struct zt_backoff *b);
/* Delay before the next attempt, in ms; advances the attempt count. */
uint64_t zt_backoff_next_ms(struct zt_backoff *b, uint32_t random);

#endif

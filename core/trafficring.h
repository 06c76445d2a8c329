/*
 * The dashboard's traffic chart (docs/dashboard.md): the Intermediate's
 * relayed bytes sampled at a fixed interval into a ring of the last
 * ZT_TRAFFIC_SAMPLES samples (5 s x 60 = the last 5 minutes), served as
 * JSON. Kept by the daemon rather than the page, so a page opened now shows
 * the minutes before it was opened.
 */
#ifndef ZTNA_TRAFFICRING_H
#define ZTNA_TRAFFICRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZT_TRAFFIC_SAMPLES 60
#define ZT_TRAFFIC_INTERVAL_S 5

struct zt_traffic_ring {
  bool primed;          /* a first total has been seen */
  uint64_t last_total;  /* the counter at the previous sample */
  size_t next, n;       /* where the next sample goes; how many there are */
  struct {
    uint64_t at_ms; /* wall clock, ms since the epoch */
    uint64_t bytes; /* counter growth since the previous sample */
  } s[ZT_TRAFFIC_SAMPLES];
};

void zt_traffic_ring_init(struct zt_traffic_ring *r);
/* Records total (a counter that only grows) at at_ms: the first call only
 * primes; each later one stores the growth since the call before. A total
 * below the previous one (a counter reset) counts from 0. */
void zt_traffic_ring_sample(struct zt_traffic_ring *r, uint64_t at_ms,
                            uint64_t total);
/* {"interval_s":5,"samples":[[at_ms,bytes],...]}, oldest first. Returns
 * the length it needed, like snprintf. */
int zt_traffic_ring_json(const struct zt_traffic_ring *r, char *buf,
                         size_t len);

#endif

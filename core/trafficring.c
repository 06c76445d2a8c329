/* See trafficring.h. */
#include "trafficring.h"

#include <string.h>

#include "strbuf.h"

void zt_traffic_ring_init(struct zt_traffic_ring *r) {
  memset(r, 0, sizeof(*r));
}

void zt_traffic_ring_sample(struct zt_traffic_ring *r, uint64_t at_ms,
                            uint64_t total) {
  if (!r->primed) {
    r->primed = true;
    r->last_total = total;
    return;
  }
  uint64_t grew = total >= r->last_total ? total - r->last_total : total;
  r->last_total = total;
  r->s[r->next].at_ms = at_ms;
  r->s[r->next].bytes = grew;
  r->next = (r->next + 1) % ZT_TRAFFIC_SAMPLES;
  if (r->n < ZT_TRAFFIC_SAMPLES)
    r->n++;
}

int zt_traffic_ring_json(const struct zt_traffic_ring *r, char *buf,
                         size_t len) {
  struct zt_strbuf sb;
  zt_strbuf_init(&sb, buf, len);
  zt_strbuf_printf(&sb, "{\"interval_s\":%d,\"samples\":[",
                   ZT_TRAFFIC_INTERVAL_S);
  size_t first = (r->next + ZT_TRAFFIC_SAMPLES - r->n) % ZT_TRAFFIC_SAMPLES;
  for (size_t i = 0; i < r->n; i++) {
    size_t k = (first + i) % ZT_TRAFFIC_SAMPLES;
    zt_strbuf_printf(&sb, "%s[%llu,%llu]", i ? "," : "",
                     (unsigned long long)r->s[k].at_ms,
                     (unsigned long long)r->s[k].bytes);
  }
  zt_strbuf_printf(&sb, "]}");
  return (int)sb.off;
}

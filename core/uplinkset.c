/*
 * Several Intermediates' uplinks on one socket. See uplinkset.h.
 */
#include "uplinkset.h"

#include <string.h>

#include "netaddr.h"
#include "statusw.h"
#include "strbuf.h"

void zt_uplinks_init(struct zt_uplinks *s, const struct zq_config *qcfg,
                     const struct zt_io *io, const struct sockaddr *local,
                     socklen_t locallen, const struct sockaddr *first,
                     socklen_t firstlen, size_t n_more,
                     const struct sockaddr_storage *more,
                     const socklen_t *morelen,
                     const struct zt_uplink_handlers *h, void *ud) {
  memset(s, 0, sizeof(*s));
  zt_uplink_init(&s->u[0], qcfg, io, local, locallen, first, firstlen, h, ud);
  s->n = 1;
  for (size_t i = 0; i < n_more && s->n < ZT_MAX_INTERMEDIATES; i++, s->n++)
    zt_uplink_init(&s->u[s->n], qcfg, io, local, locallen,
                   (const struct sockaddr *)&more[i], morelen[i], h, ud);
}

void zt_uplinks_free(struct zt_uplinks *s) {
  for (size_t i = 0; i < s->n; i++)
    zt_uplink_free(&s->u[i]);
}

void zt_uplinks_start(struct zt_uplinks *s, uint64_t now) {
  for (size_t i = 0; i < s->n; i++) {
    zt_uplink_start(&s->u[i], now);
    zt_uplink_flush(&s->u[i], now);
  }
}

void zt_uplinks_shutdown(struct zt_uplinks *s, uint64_t now) {
  for (size_t i = 0; i < s->n; i++) {
    zt_uplink_flush(&s->u[i], now);
    zt_uplink_shutdown(&s->u[i], now);
  }
}

struct zt_uplink *zt_uplinks_owner(struct zt_uplinks *s,
                                   const struct sockaddr *from,
                                   const uint8_t *pkt, size_t len) {
  uint32_t key;
  if (zq_packet_key(pkt, len, &key) == 0)
    for (size_t i = 0; i < s->n; i++)
      if (s->u[i].q && zq_key(s->u[i].q) == key)
        return &s->u[i];
  for (size_t i = 0; i < s->n; i++)
    if (zt_uplink_owns(&s->u[i], from, pkt, len))
      return &s->u[i];
  return NULL;
}

void zt_uplinks_flush(struct zt_uplinks *s, uint64_t now) {
  for (size_t i = 0; i < s->n; i++)
    zt_uplink_flush(&s->u[i], now);
}

uint64_t zt_uplinks_expiry(const struct zt_uplinks *s) {
  uint64_t t = UINT64_MAX;
  for (size_t i = 0; i < s->n; i++) {
    uint64_t e = zt_uplink_expiry(&s->u[i]);
    if (e < t)
      t = e;
  }
  return t;
}

void zt_uplinks_handle_expiry(struct zt_uplinks *s, uint64_t now) {
  for (size_t i = 0; i < s->n; i++)
    if (zt_uplink_expiry(&s->u[i]) <= now)
      zt_uplink_handle_expiry(&s->u[i], now);
}

bool zt_uplinks_any_up(const struct zt_uplinks *s) {
  for (size_t i = 0; i < s->n; i++)
    if (zt_uplink_is_up(&s->u[i]))
      return true;
  return false;
}

uint64_t zt_uplinks_silent_at(const struct zt_uplink *u) {
  uint64_t at = u->last_rx + ZT_UPLINK_SILENT_NS;
  uint64_t poked = zt_uplink_unanswered_since(u);
  if (poked) {
    uint64_t wait = 3 * zt_uplink_rtt_ns(u);
    if (wait < ZT_UPLINK_POKE_ANSWER_NS)
      wait = ZT_UPLINK_POKE_ANSWER_NS;
    if (poked + wait < at)
      at = poked + wait;
  }
  return at;
}

bool zt_uplinks_silent(const struct zt_uplink *u, uint64_t now) {
  return now > u->last_rx && now >= zt_uplinks_silent_at(u);
}

size_t zt_uplinks_best(const struct zt_uplinks *s, uint32_t eligible,
                       uint64_t now) {
  size_t best = SIZE_MAX;
  for (size_t i = 0; i < s->n; i++) {
    const struct zt_uplink *u = &s->u[i];
    if (!(eligible & (1u << i)) || !zt_uplink_is_up(u) ||
        zt_uplinks_silent(u, now))
      continue;
    if (best == SIZE_MAX || zt_uplink_rtt_ns(u) < zt_uplink_rtt_ns(&s->u[best]))
      best = i;
  }
  return best;
}

size_t zt_uplinks_index(const struct zt_uplinks *s,
                        const struct zt_uplink *u) {
  return (size_t)(u - s->u);
}

static const char *state_name(const struct zt_uplink *u) {
  return u->replaced ? "replaced" : zt_uplink_is_up(u) ? "up" : "down";
}

void zt_uplinks_status_json(const struct zt_uplinks *s, struct zt_jsonw *w,
                            size_t in_use) {
  zt_jsonw_begin_array(w, "uplinks");
  for (size_t i = 0; i < s->n; i++) {
    const struct zt_uplink *u = &s->u[i];
    zt_jsonw_begin_object(w, NULL);
    zt_jsonw_str(w, "state", state_name(u));
    zt_statusw_relay_remote(w, "address", u);
    zt_jsonw_u64(w, "rtt_us", zt_uplink_rtt_ns(u) / 1000);
    if (in_use != SIZE_MAX)
      zt_jsonw_bool(w, "in_use", i == in_use);
    zt_jsonw_u64(w, "connects", u->stats.connects);
    zt_jsonw_u64(w, "disconnects", u->stats.disconnects);
    zt_jsonw_end_object(w);
  }
  zt_jsonw_end_array(w);
}

void zt_uplinks_status(const struct zt_uplinks *s, struct zt_strbuf *sb,
                       size_t in_use) {
  char addr[64];
  for (size_t i = 0; i < s->n; i++) {
    const struct zt_uplink *u = &s->u[i];
    zt_strbuf_printf(
        sb, "intermediate #%zu %s %s rtt %.1f ms%s\n", i,
        zt_netaddr_str((const struct sockaddr *)&u->server, addr,
                       sizeof(addr)),
        state_name(u), (double)zt_uplink_rtt_ns(u) / 1e6,
        i == in_use ? " (in use)" : "");
  }
  for (size_t i = 0; i < s->n; i++)
    zt_uplink_status(&s->u[i], sb);
}

void zt_uplinks_stats_sum(const struct zt_uplinks *s,
                          struct zt_uplink_stats *sum) {
  memset(sum, 0, sizeof(*sum));
  for (size_t i = 0; i < s->n; i++) {
    const struct zt_uplink_stats *st = &s->u[i].stats;
    sum->connects += st->connects;
    sum->disconnects += st->disconnects;
    sum->relay_malformed += st->relay_malformed;
    sum->relay_send_drops += st->relay_send_drops;
    zt_hist_add(&sum->handshake, &st->handshake);
  }
}

/* See statusw.h. */
#include "statusw.h"

#include "certexpiry.h"
#include "node_io.h"
#include "tls.h"

#include "ippkt.h"
#include "netaddr.h"
#include "pmtu.h"
#include "quic.h"
#include "uplink.h"

void zt_statusw_addr(struct zt_jsonw *w, const char *key,
                     const struct sockaddr *sa, socklen_t len) {
  char buf[64];
  if (!sa || !len || sa->sa_family == AF_UNSPEC)
    zt_jsonw_null(w, key);
  else
    zt_jsonw_str(w, key, zt_netaddr_str(sa, buf, sizeof(buf)));
}

void zt_statusw_cert(struct zt_jsonw *w, int64_t not_after, bool has_wall,
                     int64_t wall) {
  char when[40];
  if (not_after > 0) {
    zt_cert_time_str(not_after, when, sizeof(when));
    zt_jsonw_str(w, "cert_not_after", when);
  } else {
    zt_jsonw_null(w, "cert_not_after");
  }
  zt_jsonw_bool(w, "cert_expiring_soon",
                has_wall && zt_cert_expiring_soon(not_after, wall));
}

void zt_statusw_own_cert(struct zt_jsonw *w, const struct zt_tls_creds *creds,
                         const struct zt_io *io) {
  zt_statusw_cert(w, creds->own_not_after, io->wall_clock != NULL,
                  zt_io_wall(io));
  /* Which certificate is in use, after a reload (certificate rotation). */
  zt_jsonw_str(w, "cert_serial", creds->own_serial);
}

void zt_statusw_peer_cert(struct zt_jsonw *w, const struct zq_conn *q,
                          const struct zt_io *io) {
  zt_statusw_cert(w, q && zq_is_ready(q) ? zq_peer_cert(q)->not_after : 0,
                  io->wall_clock != NULL, zt_io_wall(io));
}

void zt_statusw_ip4(struct zt_jsonw *w, const char *key, uint32_t ip) {
  char buf[16];
  if (!ip)
    zt_jsonw_null(w, key);
  else
    zt_jsonw_str(w, key, zt_ip4_str(ip, buf));
}

void zt_statusw_begin(struct zt_jsonw *w, const char *daemon,
                      const char *identity) {
  zt_jsonw_begin_object(w, NULL);
  zt_jsonw_str(w, "daemon", daemon);
  zt_jsonw_u64(w, "version", ZT_STATUS_VERSION);
  zt_jsonw_str(w, "identity", identity);
}

/* The address the uplink's packets go to: the connection's current path
 * when there is one, else the configured address. */
static const struct sockaddr *uplink_remote(const struct zt_uplink *u,
                                            socklen_t *len) {
  if (u->q)
    return zq_remote(u->q, len);
  *len = u->serverlen;
  return (const struct sockaddr *)&u->server;
}

void zt_statusw_uplink_begin(struct zt_jsonw *w, const struct zt_uplink *u,
                             const char *intermediate_name) {
  socklen_t rlen;
  const struct sockaddr *r = uplink_remote(u, &rlen);
  bool up = zt_uplink_is_up(u);
  zt_jsonw_begin_object(w, "uplink");
  zt_jsonw_str(w, "state", u->replaced ? "replaced" : up ? "up" : "down");
  zt_jsonw_str(w, "intermediate", intermediate_name);
  zt_statusw_addr(w, "address", r, rlen);
  if (up)
    zt_statusw_addr(w, "observed", (const struct sockaddr *)&u->observed,
                    u->observedlen);
  else
    zt_jsonw_null(w, "observed");
  zt_jsonw_u64(w, "rtt_us", up ? zt_uplink_rtt_ns(u) / 1000 : 0);
  zt_jsonw_u64(w, "connects", u->stats.connects);
  zt_jsonw_u64(w, "disconnects", u->stats.disconnects);
  zt_jsonw_u64(w, "relay_malformed", u->stats.relay_malformed);
  zt_jsonw_u64(w, "relay_send_drops", u->stats.relay_send_drops);
  zt_statusw_peer_cert(w, u->q, u->io);
  zt_statusw_pmtu(w, u->q);
}

void zt_statusw_pmtu(struct zt_jsonw *w, const struct zq_conn *q) {
  if (!q) {
    zt_jsonw_null(w, "pmtu");
    return;
  }
  const struct zt_pmtu *p = zq_pmtu(q);
  zt_jsonw_begin_object(w, "pmtu");
  zt_jsonw_u64(w, "size", p->plpmtu);
  zt_jsonw_str(w, "state", zt_pmtu_state_name(p));
  zt_jsonw_str(w, "last_change", zt_pmtu_why_name(p->why));
  zt_jsonw_u64(w, "max_datagram", zq_max_datagram(q));
  zt_jsonw_u64(w, "probes_sent", p->probes_sent);
  zt_jsonw_u64(w, "probes_acked", p->probes_acked);
  zt_jsonw_u64(w, "probes_lost", p->probes_lost);
  zt_jsonw_u64(w, "black_holes", p->black_holes);
  zt_jsonw_end_object(w);
}

void zt_statusw_relay_remote(struct zt_jsonw *w, const char *key,
                             const struct zt_uplink *u) {
  socklen_t rlen;
  const struct sockaddr *r = uplink_remote(u, &rlen);
  zt_statusw_addr(w, key, r, rlen);
}

void zt_statusw_session_quic(struct zt_jsonw *w, const struct zq_conn *q) {
  static const struct zq_stats none;
  const struct zq_stats *st = q ? zq_get_stats(q) : &none;
  zt_jsonw_u64(w, "rtt_us", q ? zq_rtt_ns(q) / 1000 : 0);
  zt_statusw_pmtu(w, q);
  zt_jsonw_begin_object(w, "tx");
  zt_jsonw_u64(w, "packets", st->dgram_sent);
  zt_jsonw_u64(w, "bytes", st->dgram_bytes_sent);
  zt_jsonw_end_object(w);
  zt_jsonw_begin_object(w, "rx");
  zt_jsonw_u64(w, "packets", st->dgram_recv);
  zt_jsonw_u64(w, "bytes", st->dgram_bytes_recv);
  zt_jsonw_end_object(w);
  zt_jsonw_begin_object(w, "drops");
  zt_jsonw_u64(w, "lost", st->dgram_lost);
  zt_jsonw_u64(w, "queue_full", st->dgram_drop_queue_full);
  zt_jsonw_u64(w, "fair_share", st->dgram_drop_fair);
  zt_jsonw_u64(w, "too_big", st->dgram_drop_too_big);
  zt_jsonw_u64(w, "unplaced", st->dgram_drop_unplaced);
  zt_jsonw_u64(w, "refused", st->dgram_drop_state);
  zt_jsonw_end_object(w);
}

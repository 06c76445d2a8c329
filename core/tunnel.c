/* One end of an end-to-end session. See tunnel.h. */
#include "tunnel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.h"
#include "log.h"
#include "netaddr.h"
#include "secret.h"
#include "statusw.h"
#include "strbuf.h"

/* RFC 8446 7.5 exporter label; the 64 bytes are the agent's sending key
 * then the connector's. */
#define PROBE_KEY_LABEL "EXPORTER-ztna-path-probe"

/* ---- the path's callbacks ----------------------------------------------- */

/* The uplink of the session's relay channel. */
static struct zt_uplink *up_of(const struct zt_tunnel *t) {
  return t->up ? t->up : t->env->up;
}

static bool relay_up(const struct zt_tunnel *t) {
  return t->channel != 0 && zt_uplink_is_up(up_of(t));
}

static void path_send_direct(void *ud, const struct sockaddr *to,
                             socklen_t tolen, const uint8_t *pkt, size_t len) {
  struct zt_tunnel *t = ud;
  t->env->io->udp_send(t->env->io->ud, to, tolen, pkt, len);
}

static bool path_send_relay(void *ud, const uint8_t *pkt, size_t len) {
  struct zt_tunnel *t = ud;
  if (!relay_up(t))
    return false;
  return zt_uplink_send_relay(up_of(t), t->channel, pkt, len) == 0;
}

static void path_ping_result(void *ud, uint64_t cookie, bool timed_out,
                             bool direct, uint64_t rtt_ns) {
  struct zt_tunnel *t = ud;
  if (t->env->ping_result)
    t->env->ping_result(t->env->owner, t, cookie, timed_out, direct, rtt_ns);
}

static void path_switched(void *ud, bool direct, const char *reason) {
  struct zt_tunnel *t = ud;
  char addr[64];
  if (direct)
    zt_info("session with %s: direct path to %s (%s)", t->peer,
            zt_netaddr_str((const struct sockaddr *)&t->path.remote, addr,
                           sizeof(addr)),
            reason);
  else
    zt_info("session with %s: back to the relay (%s)", t->peer, reason);
  if (t->env->switched)
    t->env->switched(t->env->owner, t);
}

void zt_tunnel_init(struct zt_tunnel *t, const struct zt_tunnel_env *env,
                    bool at_agent, const char *peer) {
  struct zt_path_io pio = {
      .ud = t,
      .send_direct = path_send_direct,
      .send_relay = path_send_relay,
      .ping_result = path_ping_result,
      .switched = path_switched,
  };
  memset(t, 0, sizeof(*t));
  t->env = env;
  t->at_agent = at_agent;
  size_t n = strnlen(peer, sizeof(t->peer) - 1);
  memcpy(t->peer, peer, n);
  t->peer[n] = 0;
  zt_path_init(&t->path, env->direct, &pio);
}

void zt_tunnel_free(struct zt_tunnel *t) {
  zq_free(t->inner);
  t->inner = NULL;
  free(t->reader);
  t->reader = NULL;
  zt_path_free(&t->path);
}

/* ---- candidates --------------------------------------------------------- */

static bool have_cand(const struct zt_ctrl_msg *m,
                      const struct sockaddr_storage *a) {
  for (unsigned i = 0; i < m->u.candidates.n; i++)
    if (zt_netaddr_equal((const struct sockaddr *)&m->u.candidates.addrs[i],
                         (const struct sockaddr *)a))
      return true;
  return false;
}

static void add_cand(struct zt_ctrl_msg *m, const struct sockaddr_storage *a,
                     socklen_t len) {
  if (!len || m->u.candidates.n >= ZT_MAX_CANDIDATES || have_cand(m, a))
    return;
  m->u.candidates.addrs[m->u.candidates.n++] = *a;
}

/* Where the peer may reach us, best first: the address the Intermediate
 * sees (the NAT's mapping of our one socket, what a peer outside our
 * network must aim at), a fixed public port, then our own addresses (a
 * peer on the same network). None when direct paths are off: the message
 * still carries our probe key, which `ztna ping` over the relay needs. */
void zt_tunnel_send_candidates(struct zt_tunnel *t) {
  const struct zt_tunnel_env *env = t->env;
  struct zt_ctrl_msg m;
  uint8_t buf[ZT_CTRL_HDR_LEN + 4 + 1 + ZT_MAX_CANDIDATES * 19];
  struct sockaddr_storage local[ZT_MAX_CANDIDATES];

  if (!t->inner || !zq_is_ready(t->inner))
    return;
  memset(&m, 0, sizeof(m));
  m.type = ZT_MSG_CANDIDATES;
  m.u.candidates.probe_key = zq_key(t->inner);
  if (env->direct) {
    add_cand(&m, &up_of(t)->observed, up_of(t)->observedlen);
    add_cand(&m, &env->fixed, env->fixedlen);
    size_t n = env->io->local_addrs
                   ? env->io->local_addrs(env->io->ud, local, ZT_MAX_CANDIDATES)
                   : 0;
    for (size_t i = 0; i < n; i++)
      add_cand(&m, &local[i], sizeof(local[i]));
  }
  int len = zt_ctrl_encode(&m, buf, sizeof(buf));
  if (len > 0 && zq_send_stream(t->inner, buf, (size_t)len) == 0)
    t->cands_sent = true;
}

static void on_candidates(struct zt_tunnel *t, const struct zt_ctrl_msg *m) {
  char addr[64];
  t->stats.stream_msgs++;
  for (unsigned i = 0; i < m->u.candidates.n; i++)
    zt_dbg("session with %s: candidate %s", t->peer,
           zt_netaddr_str((const struct sockaddr *)&m->u.candidates.addrs[i],
                          addr, sizeof(addr)));
  zt_path_set_candidates(&t->path, m->u.candidates.probe_key,
                         m->u.candidates.addrs, m->u.candidates.n, t->now);
  /* The connector answers the agent's offer with its own (it cannot speak
   * first: the stream is the agent's to open). */
  if (!t->at_agent && !t->cands_sent)
    zt_tunnel_send_candidates(t);
}

static void on_stream_msg(void *ud, const struct zt_ctrl_msg *m) {
  struct zt_tunnel *t = ud;
  if (m->type == ZT_MSG_CANDIDATES)
    on_candidates(t, m);
  else
    t->stats.stream_bad++;
}

void zt_tunnel_stream(struct zt_tunnel *t, const uint8_t *data, size_t len) {
  /* The reader is big (a whole control body): held only while a message is
   * in flight, which on this stream is rare and short. */
  if (!t->reader) {
    if (!(t->reader = malloc(sizeof(*t->reader))))
      return;
    zt_ctrl_reader_init(t->reader);
  }
  uint64_t bad = t->reader->stats.malformed + t->reader->stats.oversized +
                 t->reader->stats.unknown;
  zt_ctrl_reader_feed(t->reader, data, len, on_stream_msg, t);
  t->stats.stream_bad += t->reader->stats.malformed +
                         t->reader->stats.oversized + t->reader->stats.unknown -
                         bad;
  if (t->reader->hdr_got == 0) {
    free(t->reader);
    t->reader = NULL;
  }
}

/* The inner session lives no longer than the peer's certificate. */
static void cert_check(struct zt_tunnel *t, uint64_t now) {
  if (t->inner && !zq_is_dead(t->inner) &&
      zt_cert_watch_run(&t->cert, t->inner, t->env->io, now,
                        t->at_agent ? "connector" : "agent", t->peer))
    zq_close(t->inner, ZT_ERR_CERT_EXPIRED, "peer certificate expired");
}

void zt_tunnel_ready(struct zt_tunnel *t, uint64_t now) {
  uint8_t km[2 * ZT_PROBE_KEY_LEN];
  t->now = now;
  if (zq_export_key(t->inner, PROBE_KEY_LABEL, km, sizeof(km)) == 0) {
    const uint8_t *agent_tx = km, *connector_tx = km + ZT_PROBE_KEY_LEN;
    if (t->at_agent)
      zt_path_set_keys(&t->path, agent_tx, connector_tx);
    else
      zt_path_set_keys(&t->path, connector_tx, agent_tx);
  }
  zt_wipe(km, sizeof(km));
  if (t->at_agent)
    zt_tunnel_send_candidates(t);
  cert_check(t, now);
}

/* ---- packets ------------------------------------------------------------ */

void zt_tunnel_feed_relay(struct zt_tunnel *t, const uint8_t *pkt, size_t len,
                          uint64_t now) {
  t->now = now;
  if (zt_probe_match(pkt, len)) {
    zt_path_on_probe(&t->path, NULL, 0, true, pkt, len, now);
    return;
  }
  if (t->inner)
    zt_e2e_feed(t->inner, t->at_agent, pkt, len, now);
}

void zt_tunnel_feed_direct(struct zt_tunnel *t, const struct sockaddr *from,
                           socklen_t fromlen, const uint8_t *pkt, size_t len,
                           uint64_t now) {
  t->now = now;
  if (zt_probe_match(pkt, len)) {
    zt_path_on_probe(&t->path, from, fromlen, false, pkt, len, now);
    return;
  }
  /* QUIC decides whether the packet is genuine; its arrival from the
   * path's peer is only a sign of life. */
  zt_path_on_direct_packet(&t->path, from, fromlen, now);
  if (t->inner)
    zt_e2e_feed(t->inner, t->at_agent, pkt, len, now);
}

bool zt_tunnel_flush(struct zt_tunnel *t, uint64_t now) {
  uint8_t pkt[ZT_INNER_UDP_PAYLOAD];
  struct sockaddr_storage to;
  socklen_t tolen;
  ssize_t n;

  t->now = now;
  if (!t->inner)
    return true;
  if (t->path.switches != t->path_switches) {
    /* Relay <-> direct: another path, its MTU unknown (RFC 8899). The
     * direct one carries 1200 bytes at least (its probes are that big). */
    t->path_switches = t->path.switches;
    zq_path_changed(t->inner, now);
  }
  while ((n = zq_write(t->inner, pkt, sizeof(pkt), &to, &tolen, now)) > 0) {
    bool ru = relay_up(t);
    unsigned route = zt_path_route(&t->path, ru, now);
    if (route & ZT_ROUTE_DIRECT)
      t->env->io->udp_send(t->env->io->ud,
                           (const struct sockaddr *)&t->path.remote,
                           t->path.remotelen, pkt, (size_t)n);
    if (route & ZT_ROUTE_RELAY)
      zt_uplink_send_relay(up_of(t), t->channel, pkt, (size_t)n);
    if (!route)
      t->stats.no_path++;
    else if (!(route & ZT_ROUTE_RELAY))
      zt_uplink_poke(t->env->up, now); /* is the Intermediate still there? */
  }
  return !zq_is_dead(t->inner);
}

void zt_tunnel_close(struct zt_tunnel *t, const char *reason, uint64_t now) {
  if (!t->inner)
    return;
  zq_close(t->inner, 0, reason);
  zt_tunnel_flush(t, now);
}

uint64_t zt_tunnel_expiry(const struct zt_tunnel *t) {
  uint64_t a = t->inner ? zq_expiry(t->inner) : UINT64_MAX;
  uint64_t b = zt_path_expiry(&t->path);
  if (t->cert.check_at && t->cert.check_at < a)
    a = t->cert.check_at;
  return a < b ? a : b;
}

void zt_tunnel_handle_expiry(struct zt_tunnel *t, uint64_t now) {
  t->now = now;
  if (t->inner && zq_expiry(t->inner) <= now)
    zq_handle_expiry(t->inner, now);
  if (t->cert.check_at && t->cert.check_at <= now)
    cert_check(t, now);
  zt_path_handle_expiry(&t->path, relay_up(t), now);
}

uint32_t zt_tunnel_key(const struct zt_tunnel *t) {
  return t->inner ? zq_key(t->inner) : 0;
}

bool zt_tunnel_ready_now(const struct zt_tunnel *t) {
  return t->inner && zq_is_ready(t->inner);
}

bool zt_tunnel_is_direct(const struct zt_tunnel *t) { return t->path.direct; }

int zt_tunnel_ping(struct zt_tunnel *t, uint64_t cookie, uint64_t now) {
  t->now = now;
  return zt_path_ping(&t->path, cookie, relay_up(t), now);
}

/* ---- status ------------------------------------------------------------- */

void zt_tunnel_status_json(const struct zt_tunnel *t, struct zt_jsonw *w) {
  const struct zt_path *p = &t->path;
  const struct zt_path_stats *ps = &p->stats;
  zt_jsonw_str(w, "path", zt_path_name(p));
  if (p->direct)
    zt_statusw_addr(w, "remote", (const struct sockaddr *)&p->remote,
                    p->remotelen);
  else
    zt_statusw_relay_remote(w, "remote", up_of(t));
  zt_statusw_session_quic(w, t->inner);
  zt_statusw_peer_cert(w, t->inner, t->env->io);
  zt_jsonw_u64(w, "direct_rtt_us", p->direct ? p->rtt_ns / 1000 : 0);
  zt_jsonw_bool(w, "relay", relay_up(t));
  zt_jsonw_bool(w, "suspect", p->suspect);
  zt_jsonw_u64(w, "path_switches", p->switches);
  zt_jsonw_str(w, "last_switch_reason", p->last_reason);
  zt_jsonw_u64(w, "candidates", p->n_cands);
  zt_jsonw_begin_object(w, "probes");
  zt_jsonw_u64(w, "sent", ps->probes_sent);
  zt_jsonw_u64(w, "received", ps->probes_received);
  zt_jsonw_u64(w, "malformed", ps->probe_malformed);
  zt_jsonw_u64(w, "bad_auth", ps->probe_bad_auth);
  zt_jsonw_u64(w, "replayed", ps->probe_replayed);
  zt_jsonw_u64(w, "stale", ps->probe_stale);
  zt_jsonw_u64(w, "keepalives_missed", ps->keepalives_missed);
  zt_jsonw_end_object(w);
  zt_jsonw_u64(w, "no_path_drops", t->stats.no_path);
}

void zt_tunnel_status(const struct zt_tunnel *t, struct zt_strbuf *sb) {
  const struct zt_path *p = &t->path;
  char addr[64];
  zt_strbuf_printf(
      sb, "session %s path %s%s%s switches %llu probes sent %llu recv %llu "
          "bad_auth %llu replayed %llu%s%s\n",
      t->peer, zt_path_name(p), p->direct ? " " : "",
      p->direct ? zt_netaddr_str((const struct sockaddr *)&p->remote, addr,
                                 sizeof(addr))
                : "",
      (unsigned long long)p->switches,
      (unsigned long long)p->stats.probes_sent,
      (unsigned long long)p->stats.probes_received,
      (unsigned long long)p->stats.probe_bad_auth,
      (unsigned long long)p->stats.probe_replayed,
      p->switches ? ", last: " : "", p->last_reason);
}

void zt_path_stats_add(struct zt_path_stats *acc,
                       const struct zt_path_stats *s) {
  acc->probes_sent += s->probes_sent;
  acc->probes_received += s->probes_received;
  acc->probe_malformed += s->probe_malformed;
  acc->probe_bad_auth += s->probe_bad_auth;
  acc->probe_replayed += s->probe_replayed;
  acc->probe_stale += s->probe_stale;
  acc->keepalives_missed += s->keepalives_missed;
  acc->switches_to_direct += s->switches_to_direct;
  acc->switches_to_relay += s->switches_to_relay;
}


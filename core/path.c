/* An inner session's path choice. See path.h. */
#include "path.h"

#include <gnutls/crypto.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "netaddr.h"
#include "secret.h"

#define NS_PER_MS 1000000ULL

static bool same_addr(const struct sockaddr *a, socklen_t alen,
                      const struct sockaddr_storage *b, socklen_t blen) {
  if (!a || alen == 0 || blen == 0 || a->sa_family != b->ss_family)
    return false;
  if (a->sa_family == AF_INET) {
    const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
    return x->sin_port == y->sin_port &&
           x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  if (a->sa_family == AF_INET6) {
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
  }
  return false;
}

void zt_path_init(struct zt_path *p, bool enabled,
                  const struct zt_path_io *io) {
  memset(p, 0, sizeof(*p));
  p->io = *io;
  p->enabled = enabled;
  p->backoff_ms = ZT_PATH_BACKOFF_MIN_MS;
  zt_replay_init(&p->replay);
}

void zt_path_free(struct zt_path *p) {
  zt_wipe(p->tx_key, sizeof(p->tx_key));
  zt_wipe(p->rx_key, sizeof(p->rx_key));
  p->keyed = false;
}

void zt_path_set_keys(struct zt_path *p, const uint8_t tx[ZT_PROBE_KEY_LEN],
                      const uint8_t rx[ZT_PROBE_KEY_LEN]) {
  memcpy(p->tx_key, tx, ZT_PROBE_KEY_LEN);
  memcpy(p->rx_key, rx, ZT_PROBE_KEY_LEN);
  p->keyed = true;
}

const char *zt_path_name(const struct zt_path *p) {
  return p->direct ? "direct" : "relay";
}

/* ---- sending probes ----------------------------------------------------- */

static struct zt_path_pending *pending_slot(struct zt_path *p, uint64_t now) {
  struct zt_path_pending *oldest = NULL;
  for (size_t i = 0; i < ZT_PATH_PENDING; i++) {
    struct zt_path_pending *e = &p->pending[i];
    if (!e->used)
      return e;
    if (!e->user && (!oldest || e->sent < oldest->sent))
      oldest = e;
  }
  /* All taken: the oldest path probe (never a user's ping, whose answer
   * someone waits for) makes room; its PONG will count as stale. */
  (void)now;
  return oldest;
}

/* One PING, direct to `to` or through the relay (to NULL). The pending
 * entry is returned so callers can mark it; NULL if nothing was sent. */
static struct zt_path_pending *send_ping(struct zt_path *p,
                                         const struct sockaddr *to,
                                         socklen_t tolen, uint64_t now) {
  uint8_t pkt[ZT_PROBE_LEN];
  struct zt_probe pr = {.type = ZT_PROBE_PING, .dst_key = p->peer_key};
  struct zt_path_pending *e;

  if (!p->keyed || !p->peer_key || !(e = pending_slot(p, now)))
    return NULL;
  pr.seq = ++p->tx_seq;
  gnutls_rnd(GNUTLS_RND_NONCE, pr.txid, sizeof(pr.txid));
  if (zt_probe_encode(&pr, p->tx_key, pkt, sizeof(pkt)) != ZT_PROBE_LEN)
    return NULL;
  if (to) {
    p->io.send_direct(p->io.ud, to, tolen, pkt, sizeof(pkt));
  } else if (!p->io.send_relay(p->io.ud, pkt, sizeof(pkt))) {
    return NULL;
  }
  memset(e, 0, sizeof(*e));
  e->used = true;
  e->via_relay = to == NULL;
  memcpy(e->txid, pr.txid, sizeof(e->txid));
  if (to) {
    memcpy(&e->to, to, tolen);
    e->tolen = tolen;
    if (p->direct && same_addr(to, tolen, &p->remote, p->remotelen)) {
      p->last_sent = now;
      if (!p->unanswered_since)
        p->unanswered_since = now;
    }
  }
  e->sent = now;
  p->stats.probes_sent++;
  return e;
}

/* ---- switching ---------------------------------------------------------- */

static void switch_to(struct zt_path *p, bool direct, const struct sockaddr *to,
                      socklen_t tolen, uint64_t now, const char *reason) {
  p->direct = direct;
  p->suspect = false;
  p->suspect_probes = 0;
  p->unanswered_since = 0;
  if (direct) {
    memcpy(&p->remote, to, tolen);
    p->remotelen = tolen;
    p->last_heard = now;
    p->last_sent = now;
    p->round_next = 0; /* no rounds while direct */
    p->backoff_ms = ZT_PATH_BACKOFF_MIN_MS;
    p->stats.switches_to_direct++;
  } else {
    /* Try again later, from the shortest wait: the path was good. */
    p->round_left = 0;
    p->round_next = now + p->backoff_ms * NS_PER_MS;
    p->stats.switches_to_relay++;
  }
  p->switches++;
  snprintf(p->last_reason, sizeof(p->last_reason), "%s", reason);
  if (p->io.switched)
    p->io.switched(p->io.ud, direct, reason);
}

/* ---- probing rounds ----------------------------------------------------- */

static void round_step(struct zt_path *p, uint64_t now);

static void start_round(struct zt_path *p, uint64_t now) {
  if (!p->enabled || p->direct || !p->n_cands)
    return;
  p->round_left = ZT_PATH_ROUND_PROBES;
  round_step(p, now);
}

/* One probe to every candidate; the next one after RETRY, or the next
 * round after the backoff, which doubles up to its cap. */
static void round_step(struct zt_path *p, uint64_t now) {
  for (size_t i = 0; i < p->n_cands; i++) {
    struct zt_path_cand *c = &p->cands[i];
    send_ping(p, (const struct sockaddr *)&c->addr, c->len, now);
    c->last_probe = now;
  }
  if (p->round_left > 1) {
    p->round_left--;
    p->round_next = now + ZT_PATH_RETRY_MS * NS_PER_MS;
  } else {
    p->round_left = 0;
    p->round_next = now + p->backoff_ms * NS_PER_MS;
    if (p->backoff_ms < ZT_PATH_BACKOFF_MAX_MS)
      p->backoff_ms *= 2;
  }
}

void zt_path_set_candidates(struct zt_path *p, uint32_t peer_key,
                            const struct sockaddr_storage *addrs, size_t n,
                            uint64_t now) {
  p->peer_key = peer_key;
  p->n_cands = 0;
  for (size_t i = 0; i < n && p->n_cands < ZT_MAX_CANDIDATES; i++) {
    int fam = addrs[i].ss_family;
    if (fam != AF_INET && fam != AF_INET6)
      continue;
    struct zt_path_cand *c = &p->cands[p->n_cands++];
    memset(c, 0, sizeof(*c));
    c->addr = addrs[i];
    c->len = fam == AF_INET ? sizeof(struct sockaddr_in)
                            : sizeof(struct sockaddr_in6);
  }
  p->backoff_ms = ZT_PATH_BACKOFF_MIN_MS;
  start_round(p, now);
}

/* A PING came from an address we did not know (the peer's mapping towards
 * us, when it differs from what the Intermediate saw): remember it. */
static struct zt_path_cand *add_reflexive(struct zt_path *p,
                                          const struct sockaddr *from,
                                          socklen_t fromlen) {
  struct zt_path_cand *c = NULL;
  for (size_t i = 0; i < p->n_cands; i++)
    if (same_addr(from, fromlen, &p->cands[i].addr, p->cands[i].len))
      return &p->cands[i];
  if (p->n_cands < ZT_MAX_CANDIDATES) {
    c = &p->cands[p->n_cands++];
  } else { /* replace the oldest learnt one; never a signalled one */
    for (size_t i = 0; i < p->n_cands; i++)
      if (p->cands[i].reflexive &&
          (!c || p->cands[i].last_probe < c->last_probe))
        c = &p->cands[i];
    if (!c)
      return NULL;
  }
  memset(c, 0, sizeof(*c));
  memcpy(&c->addr, from, fromlen);
  c->len = fromlen;
  c->reflexive = true;
  return c;
}

/* ---- receiving probes --------------------------------------------------- */

static void heard_from_remote(struct zt_path *p, uint64_t now) {
  p->last_heard = now;
  p->unanswered_since = 0;
  if (p->suspect) {
    p->suspect = false;
    p->suspect_probes = 0;
  }
}

static void on_ping(struct zt_path *p, const struct zt_probe *in,
                    const struct sockaddr *from, socklen_t fromlen,
                    bool via_relay, uint64_t now) {
  uint8_t pkt[ZT_PROBE_LEN];
  struct zt_probe out = {.type = ZT_PROBE_PONG, .dst_key = p->peer_key};

  if (!p->peer_key)
    return; /* its CANDIDATES (with its key) have not come yet */
  if (!via_relay && !p->enabled)
    return; /* direct paths are off here: no help finding one */
  out.seq = ++p->tx_seq;
  memcpy(out.txid, in->txid, sizeof(out.txid));
  if (!via_relay)
    memcpy(&out.observed, from, fromlen);
  if (zt_probe_encode(&out, p->tx_key, pkt, sizeof(pkt)) != ZT_PROBE_LEN)
    return;
  /* The answer goes back the way the question came, and is exactly as big:
   * a PING from a spoofed source draws one PONG no larger than itself. */
  if (via_relay) {
    p->io.send_relay(p->io.ud, pkt, sizeof(pkt));
    return;
  }
  p->io.send_direct(p->io.ud, from, fromlen, pkt, sizeof(pkt));
  /* A PING proves only that the peer reaches us, not that we reach it:
   * it is not proof of life of the path (a PONG or the peer's QUIC
   * packets, which answer ours, are). */
  if (p->direct && !p->suspect)
    return;
  /* The peer reached us from here (a new mapping, when our direct path is
   * in doubt because its NAT rebound): probe back at once. Both sides
   * probing each other at the same moment is what opens two stateful
   * NATs; waiting for our next round would let the peer's NAT mapping
   * for us go cold. */
  struct zt_path_cand *c = add_reflexive(p, from, fromlen);
  if (c && (!c->last_probe || now - c->last_probe >= 20 * NS_PER_MS)) {
    send_ping(p, from, fromlen, now);
    c->last_probe = now;
  }
}

static void on_pong(struct zt_path *p, const struct zt_probe *in,
                    const struct sockaddr *from, socklen_t fromlen,
                    bool via_relay, uint64_t now) {
  struct zt_path_pending *e = NULL;
  for (size_t i = 0; i < ZT_PATH_PENDING && !e; i++)
    if (p->pending[i].used &&
        memcmp(p->pending[i].txid, in->txid, ZT_PROBE_TXID_LEN) == 0)
      e = &p->pending[i];
  /* A PONG must answer a PING of ours, on the path it went: from the very
   * address it was sent to, or out of the relay if it went that way. */
  if (!e || e->via_relay != via_relay ||
      (!via_relay && !same_addr(from, fromlen, &e->to, e->tolen))) {
    p->stats.probe_stale++;
    return;
  }
  uint64_t rtt = now - e->sent;
  e->used = false;
  if (e->user && p->io.ping_result)
    p->io.ping_result(p->io.ud, e->cookie, false, !via_relay, rtt);
  if (via_relay)
    return;
  if (p->direct && same_addr(from, fromlen, &p->remote, p->remotelen)) {
    heard_from_remote(p, now);
    p->rtt_ns = p->rtt_ns ? (7 * p->rtt_ns + rtt) / 8 : rtt;
    return;
  }
  if (!p->enabled)
    return;
  /* First answered pair wins; a path in doubt yields to one that answers. */
  if (!p->direct || p->suspect) {
    char addr[64], reason[96];
    zt_netaddr_str(from, addr, sizeof(addr));
    snprintf(reason, sizeof(reason), "probe answered by %s in %.1f ms", addr,
             (double)rtt / 1e6);
    switch_to(p, true, from, fromlen, now, reason);
    p->rtt_ns = rtt;
  }
}

void zt_path_on_probe(struct zt_path *p, const struct sockaddr *from,
                      socklen_t fromlen, bool via_relay, const uint8_t *pkt,
                      size_t len, uint64_t now) {
  struct zt_probe in = {0};
  if (!p->keyed) {
    p->stats.probe_bad_auth++; /* nobody can have the key yet */
    return;
  }
  int rv = zt_probe_decode(pkt, len, p->rx_key, &in);
  if (rv == ZT_PROBE_EMALFORMED) {
    p->stats.probe_malformed++;
    return;
  }
  if (rv != 0) {
    p->stats.probe_bad_auth++;
    return;
  }
  /* Authentic, but maybe captured and sent again from elsewhere: a
   * replay must not draw an answer, let alone move the path. */
  if (!zt_replay_accept(&p->replay, in.seq)) {
    p->stats.probe_replayed++;
    return;
  }
  p->stats.probes_received++;
  if (in.type == ZT_PROBE_PING)
    on_ping(p, &in, from, fromlen, via_relay, now);
  else
    on_pong(p, &in, from, fromlen, via_relay, now);
}

void zt_path_on_direct_packet(struct zt_path *p, const struct sockaddr *from,
                              socklen_t fromlen, uint64_t now) {
  if (p->direct && same_addr(from, fromlen, &p->remote, p->remotelen))
    heard_from_remote(p, now);
}

/* ---- the per-packet choice ---------------------------------------------- */

static uint64_t suspect_after_ns(const struct zt_path *p) {
  uint64_t t = 3 * p->rtt_ns, min = ZT_PATH_SUSPECT_MIN_MS * NS_PER_MS;
  return t > min ? t : min;
}

static uint64_t suspect_retry_ns(const struct zt_path *p) {
  uint64_t t = 2 * p->rtt_ns, min = ZT_PATH_SUSPECT_RETRY_MIN_MS * NS_PER_MS;
  return t > min ? t : min;
}

unsigned zt_path_route(struct zt_path *p, bool relay_up, uint64_t now) {
  if (!p->direct)
    return relay_up ? ZT_ROUTE_RELAY : 0;
  p->last_sent = now;
  if (!p->unanswered_since)
    p->unanswered_since = now;
  if (p->suspect && relay_up)
    return ZT_ROUTE_DIRECT | ZT_ROUTE_RELAY;
  return ZT_ROUTE_DIRECT;
}

int zt_path_ping(struct zt_path *p, uint64_t cookie, bool relay_up,
                 uint64_t now) {
  struct zt_path_pending *e;
  if (p->direct)
    e = send_ping(p, (const struct sockaddr *)&p->remote, p->remotelen, now);
  else
    e = relay_up ? send_ping(p, NULL, 0, now) : NULL;
  if (!e)
    return -1;
  e->user = true;
  e->cookie = cookie;
  return 0;
}

/* ---- timers ------------------------------------------------------------- */

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

uint64_t zt_path_expiry(const struct zt_path *p) {
  uint64_t t = UINT64_MAX;
  for (size_t i = 0; i < ZT_PATH_PENDING; i++)
    if (p->pending[i].used)
      t = min_u64(t, p->pending[i].sent + ZT_PATH_PROBE_TIMEOUT_MS * NS_PER_MS);
  if (!p->keyed || !p->enabled)
    return t;
  if (p->direct) {
    if (p->suspect)
      t = min_u64(t, p->next_suspect_probe);
    else if (p->unanswered_since)
      t = min_u64(t, p->unanswered_since + suspect_after_ns(p));
    t = min_u64(t, p->last_sent + ZT_PATH_KEEPALIVE_MS * NS_PER_MS);
  } else if (p->round_next) {
    t = min_u64(t, p->round_next);
  }
  return t;
}

static void expire_pending(struct zt_path *p, uint64_t now) {
  for (size_t i = 0; i < ZT_PATH_PENDING; i++) {
    struct zt_path_pending *e = &p->pending[i];
    if (!e->used || now - e->sent < ZT_PATH_PROBE_TIMEOUT_MS * NS_PER_MS)
      continue;
    e->used = false;
    if (e->keepalive)
      p->stats.keepalives_missed++;
    if (e->user && p->io.ping_result)
      p->io.ping_result(p->io.ud, e->cookie, true, !e->via_relay, 0);
  }
}

static void direct_timers(struct zt_path *p, bool relay_up, uint64_t now) {
  const struct sockaddr *r = (const struct sockaddr *)&p->remote;
  if (p->suspect) {
    if (now < p->next_suspect_probe)
      return;
    if (p->suspect_probes >= ZT_PATH_SUSPECT_PROBES) {
      char reason[96];
      snprintf(reason, sizeof(reason),
               "direct path silent for %.0f ms, %u probes unanswered",
               (double)(now - p->unanswered_since) / 1e6, p->suspect_probes);
      switch_to(p, false, NULL, 0, now, reason);
      return;
    }
    send_ping(p, r, p->remotelen, now);
    p->suspect_probes++;
    p->next_suspect_probe = now + suspect_retry_ns(p);
    return;
  }
  if (p->unanswered_since && now - p->unanswered_since >= suspect_after_ns(p)) {
    /* Sent, and nothing heard back for several round trips: doubt the
     * path, ask it directly, and meanwhile send both ways. */
    p->suspect = true;
    p->suspect_probes = 1;
    send_ping(p, r, p->remotelen, now);
    p->next_suspect_probe = now + suspect_retry_ns(p);
    (void)relay_up;
    return;
  }
  if (now - p->last_sent >= ZT_PATH_KEEPALIVE_MS * NS_PER_MS) {
    /* Quiet: one probe keeps both NATs' mappings warm, and its answer (or
     * its absence) tells whether the path still works. */
    struct zt_path_pending *e = send_ping(p, r, p->remotelen, now);
    if (e)
      e->keepalive = true;
    p->last_sent = now;
  }
}

void zt_path_handle_expiry(struct zt_path *p, bool relay_up, uint64_t now) {
  expire_pending(p, now);
  if (!p->keyed || !p->enabled)
    return;
  if (p->direct)
    direct_timers(p, relay_up, now);
  else if (p->round_next && now >= p->round_next) {
    if (!p->round_left)
      p->round_left = ZT_PATH_ROUND_PROBES;
    round_step(p, now);
  }
}

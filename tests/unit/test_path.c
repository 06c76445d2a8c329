/* The path manager (core/path.c), two ends at once: A (the agent's side)
 * and B (the connector's side) joined by a tiny fake network with a
 * one-way delay, a relay, and cuts. Simulated time advances in 1 ms steps;
 * each end's timers run when due, packets are delivered when due.
 *
 * What is checked: both ends go direct within about one round trip of
 * learning each other's candidates; only a PONG answering a pending PING
 * of ours, from the address it went to, moves the path (replays, unknown
 * txids, other sources do not); forged probes draw nothing; a replayed
 * PING draws no PONG; a PONG is never larger than its PING; a cut path
 * is doubted (traffic both ways) and then left for the relay, and found
 * again after a backoff round once healed; keepalives; `ztna ping`; a
 * side with direct paths off; NAT rebinding moves the path only after an
 * answered probe. */
#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <netinet/in.h>

#include "path.h"
#include "probe.h"
#include "test.h"

#define MS 1000000ULL
#define SEC 1000000000ULL

#define KEY_A 0x0a0a0a0au /* A's probe key id (its inner connection key) */
#define KEY_B 0x0b0b0b0bu

/* Per direction, as tunnel.c exports them: A sends under k_ab, B checks
 * under k_ab; and the other way round. */
static uint8_t k_ab[ZT_PROBE_KEY_LEN], k_ba[ZT_PROBE_KEY_LEN];

/* ---- the fake network --------------------------------------------------- */

#define MAX_LOG 16384
#define MAX_Q 1024

struct sent { /* everything a node sent, in order */
  bool direct, data;
  struct sockaddr_in to;
  uint8_t pkt[ZT_PROBE_LEN];
  size_t len;
  uint64_t at;
};

struct node {
  struct net *net;
  const char *name;
  struct zt_path p;
  struct sockaddr_in addr; /* where its packets come from, where it is
                              reached */
  struct sent log[MAX_LOG];
  size_t n_log;
  size_t n_direct, n_relay; /* probes sent each way */
  size_t data_direct, data_relay;
  bool traffic; /* sends a data packet every traffic_gap */
  uint64_t next_traffic;
  /* ping_result */
  int results;
  bool res_timed_out, res_direct;
  uint64_t res_rtt, res_cookie, res_at;
  /* switched */
  int switched_calls;
  bool last_switch_direct;
};

struct pkt_q {
  bool used, data, via_relay;
  struct node *dst;
  struct sockaddr_in from;
  uint8_t pkt[ZT_PROBE_LEN];
  size_t len;
  uint64_t at;
};

struct net {
  uint64_t now;
  uint64_t delay;       /* one-way, direct */
  uint64_t relay_delay; /* one-way, through the relay */
  uint64_t traffic_gap;
  bool relay_up;
  bool cut;             /* direct packets dropped, both ways */
  bool cut_to_a;        /* direct packets to A dropped */
  bool b_probes_lost;   /* B's direct probes dropped (its data passes) */
  struct node a, b;
  struct pkt_q q[MAX_Q];
};

static struct net *N; /* the one in use (big: static) */
static struct net net_storage;

static struct node *peer_of(struct node *n) {
  return n == &n->net->a ? &n->net->b : &n->net->a;
}

static bool same_sin(const struct sockaddr_in *x, const struct sockaddr_in *y) {
  return x->sin_family == y->sin_family && x->sin_port == y->sin_port &&
         x->sin_addr.s_addr == y->sin_addr.s_addr;
}

static struct sockaddr_in sin4(const char *ip, uint16_t port) {
  struct sockaddr_in s;
  memset(&s, 0, sizeof(s));
  s.sin_family = AF_INET;
  s.sin_port = htons(port);
  inet_pton(AF_INET, ip, &s.sin_addr);
  return s;
}

static void log_sent(struct node *n, bool direct, bool data,
                     const struct sockaddr_in *to, const uint8_t *pkt,
                     size_t len) {
  if (n->n_log >= MAX_LOG)
    abort();
  struct sent *s = &n->log[n->n_log++];
  memset(s, 0, sizeof(*s));
  s->direct = direct;
  s->data = data;
  if (to)
    s->to = *to;
  s->len = len;
  memcpy(s->pkt, pkt, len < ZT_PROBE_LEN ? len : ZT_PROBE_LEN);
  s->at = n->net->now;
}

static void enqueue(struct net *net, struct node *dst,
                    const struct sockaddr_in *from, bool via_relay, bool data,
                    const uint8_t *pkt, size_t len, uint64_t delay) {
  for (size_t i = 0; i < MAX_Q; i++) {
    struct pkt_q *e = &net->q[i];
    if (e->used)
      continue;
    memset(e, 0, sizeof(*e));
    e->used = true;
    e->data = data;
    e->via_relay = via_relay;
    e->dst = dst;
    if (from)
      e->from = *from;
    memcpy(e->pkt, pkt, len < ZT_PROBE_LEN ? len : ZT_PROBE_LEN);
    e->len = len;
    e->at = net->now + delay;
    return;
  }
  abort();
}

/* A direct packet from n to `to`: reaches whichever node is at `to` now. */
static void net_send_direct(struct node *n, const struct sockaddr_in *to,
                            bool data, const uint8_t *pkt, size_t len) {
  struct net *net = n->net;
  struct node *peer = peer_of(n);
  log_sent(n, true, data, to, pkt, len);
  if (net->cut || (net->cut_to_a && peer == &net->a))
    return;
  if (!data && net->b_probes_lost && n == &net->b)
    return;
  if (!same_sin(to, &peer->addr))
    return; /* nobody there (an old address) */
  enqueue(net, peer, &n->addr, false, data, pkt, len, net->delay);
}

static void io_send_direct(void *ud, const struct sockaddr *to,
                           socklen_t tolen, const uint8_t *pkt, size_t len) {
  struct node *n = ud;
  if (tolen != sizeof(struct sockaddr_in) || to->sa_family != AF_INET)
    abort();
  n->n_direct++;
  net_send_direct(n, (const struct sockaddr_in *)to, false, pkt, len);
}

static bool io_send_relay(void *ud, const uint8_t *pkt, size_t len) {
  struct node *n = ud;
  if (!n->net->relay_up)
    return false;
  n->n_relay++;
  log_sent(n, false, false, NULL, pkt, len);
  enqueue(n->net, peer_of(n), NULL, true, false, pkt, len,
          n->net->relay_delay);
  return true;
}

static void io_ping_result(void *ud, uint64_t cookie, bool timed_out,
                           bool direct, uint64_t rtt_ns) {
  struct node *n = ud;
  n->results++;
  n->res_cookie = cookie;
  n->res_timed_out = timed_out;
  n->res_direct = direct;
  n->res_rtt = rtt_ns;
  n->res_at = n->net->now;
}

static void io_switched(void *ud, bool direct, const char *reason) {
  struct node *n = ud;
  (void)reason;
  n->switched_calls++;
  n->last_switch_direct = direct;
}

static void node_init(struct net *net, struct node *n, const char *name,
                      const char *ip, uint16_t port, bool enabled,
                      const uint8_t *tx, const uint8_t *rx) {
  memset(n, 0, sizeof(*n));
  n->net = net;
  n->name = name;
  n->addr = sin4(ip, port);
  struct zt_path_io io = {.ud = n,
                          .send_direct = io_send_direct,
                          .send_relay = io_send_relay,
                          .ping_result = io_ping_result,
                          .switched = io_switched};
  zt_path_init(&n->p, enabled, &io);
  if (tx)
    zt_path_set_keys(&n->p, tx, rx);
}

/* A fresh network: A at 192.0.2.1:4000, B at 198.51.100.2:5000, both
 * keyed, neither knowing the other's candidates yet. */
static struct net *net_new(bool a_enabled, bool b_enabled) {
  struct net *net = &net_storage;
  memset(net, 0, sizeof(*net));
  net->now = 1 * SEC; /* not 0: 0 means "never" in places */
  net->delay = 10 * MS;
  net->relay_delay = 20 * MS;
  net->traffic_gap = 5 * MS;
  net->relay_up = true;
  node_init(net, &net->a, "A", "192.0.2.1", 4000, a_enabled, k_ab, k_ba);
  node_init(net, &net->b, "B", "198.51.100.2", 5000, b_enabled, k_ba, k_ab);
  N = net;
  return net;
}

static void net_free(struct net *net) {
  zt_path_free(&net->a.p);
  zt_path_free(&net->b.p);
}

/* Each learns the other's address (as CANDIDATES would bring it) now. */
static void exchange_candidates(struct net *net) {
  struct sockaddr_storage ca, cb;
  memset(&ca, 0, sizeof(ca));
  memset(&cb, 0, sizeof(cb));
  memcpy(&ca, &net->a.addr, sizeof(net->a.addr));
  memcpy(&cb, &net->b.addr, sizeof(net->b.addr));
  zt_path_set_candidates(&net->a.p, KEY_B, &cb, 1, net->now);
  zt_path_set_candidates(&net->b.p, KEY_A, &ca, 1, net->now);
}

static void deliver(struct net *net, struct pkt_q *e) {
  struct node *d = e->dst;
  if (e->data) {
    if (!e->via_relay)
      zt_path_on_direct_packet(&d->p, (const struct sockaddr *)&e->from,
                               sizeof(e->from), net->now);
    return;
  }
  if (e->via_relay)
    zt_path_on_probe(&d->p, NULL, 0, true, e->pkt, e->len, net->now);
  else
    zt_path_on_probe(&d->p, (const struct sockaddr *)&e->from,
                     sizeof(e->from), false, e->pkt, e->len, net->now);
}

/* What a node sending inner packets does: asks the route, sends. */
static unsigned node_send_data(struct node *n) {
  static const uint8_t data[ZT_PROBE_LEN] = {0x40}; /* short header */
  unsigned r = zt_path_route(&n->p, n->net->relay_up, n->net->now);
  if (r & ZT_ROUTE_DIRECT) {
    n->data_direct++;
    net_send_direct(n, (const struct sockaddr_in *)&n->p.remote, true, data,
                    40);
  }
  if (r & ZT_ROUTE_RELAY) {
    n->data_relay++;
    enqueue(n->net, peer_of(n), NULL, true, true, data, 40,
            n->net->relay_delay);
  }
  return r;
}

/* One step of 1 ms: deliveries, then timers, then traffic. */
static void step(struct net *net) {
  net->now += 1 * MS;
  for (;;) { /* in order of arrival */
    struct pkt_q *first = NULL;
    for (size_t i = 0; i < MAX_Q; i++)
      if (net->q[i].used && net->q[i].at <= net->now &&
          (!first || net->q[i].at < first->at))
        first = &net->q[i];
    if (!first)
      break;
    struct pkt_q e = *first;
    first->used = false;
    deliver(net, &e);
  }
  struct node *nodes[2] = {&net->a, &net->b};
  for (int i = 0; i < 2; i++) {
    struct node *n = nodes[i];
    if (zt_path_expiry(&n->p) <= net->now)
      zt_path_handle_expiry(&n->p, net->relay_up, net->now);
    if (n->traffic && net->now >= n->next_traffic) {
      node_send_data(n);
      n->next_traffic = net->now + net->traffic_gap;
    }
  }
}

/* Runs for up to `for_ns`, or until done() holds; true if it did. */
static bool run_until(struct net *net, bool (*done)(struct net *),
                      uint64_t for_ns) {
  uint64_t end = net->now + for_ns;
  while (net->now < end) {
    if (done && done(net))
      return true;
    step(net);
  }
  return done ? done(net) : true;
}

static void run_for(struct net *net, uint64_t ns) { run_until(net, NULL, ns); }

static bool both_direct(struct net *net) {
  return net->a.p.direct && net->b.p.direct && !net->a.p.suspect &&
         !net->b.p.suspect;
}
static bool a_direct(struct net *net) { return net->a.p.direct; }

/* The last probe of `type` n sent (NULL if none). */
static const struct sent *last_probe_sent(const struct node *n, uint8_t type) {
  for (size_t i = n->n_log; i-- > 0;)
    if (!n->log[i].data && n->log[i].len == ZT_PROBE_LEN &&
        n->log[i].pkt[5] == type)
      return &n->log[i];
  return NULL;
}

static size_t count_probes(const struct node *n, uint8_t type) {
  size_t c = 0;
  for (size_t i = 0; i < n->n_log; i++)
    if (!n->log[i].data && n->log[i].pkt[5] == type)
      c++;
  return c;
}

/* Hands pkt to n's path as if from `from` (NULL: out of the relay). */
static void inject(struct node *n, const struct sockaddr_in *from,
                   const uint8_t *pkt, size_t len) {
  if (from)
    zt_path_on_probe(&n->p, (const struct sockaddr *)from, sizeof(*from),
                     false, pkt, len, n->net->now);
  else
    zt_path_on_probe(&n->p, NULL, 0, true, pkt, len, n->net->now);
}

static void encode(const struct zt_probe *pr, const uint8_t *key,
                   uint8_t out[ZT_PROBE_LEN]) {
  if (zt_probe_encode(pr, key, out, ZT_PROBE_LEN) != ZT_PROBE_LEN)
    abort();
}

/* Both ends up and direct (traffic off). */
static struct net *direct_pair(void) {
  struct net *net = net_new(true, true);
  exchange_candidates(net);
  if (!run_until(net, both_direct, 2 * SEC))
    return NULL;
  return net;
}

/* ---- the cases ---------------------------------------------------------- */

/* Relay at first; direct within about a round trip of the candidates. */
static void test_goes_direct(void) {
  struct net *net = net_new(true, true);
  CHECK_STR(zt_path_name(&net->a.p), "relay");
  CHECK_STR(zt_path_name(&net->b.p), "relay");
  CHECK_EQ_INT(zt_path_route(&net->a.p, true, net->now), ZT_ROUTE_RELAY);
  CHECK_EQ_INT(zt_path_route(&net->b.p, false, net->now), 0);
  /* keys but no candidates: nothing to probe, no timer */
  run_for(net, 3 * SEC);
  CHECK_EQ_INT(net->a.n_direct + net->b.n_direct, 0);
  CHECK(!net->a.p.direct && !net->b.p.direct);

  uint64_t t0 = net->now;
  exchange_candidates(net);
  CHECK(run_until(net, both_direct, 1 * SEC));
  uint64_t took = net->now - t0;
  printf("     both direct %.0f ms after the candidates (one-way %llu ms)\n",
         (double)took / 1e6, (unsigned long long)(net->delay / MS));
  /* a PING out, its PONG back: one round trip, and a step of slack */
  CHECK(took <= 2 * net->delay + 2 * MS);
  CHECK_STR(zt_path_name(&net->a.p), "direct");
  CHECK_STR(zt_path_name(&net->b.p), "direct");
  CHECK(same_sin((struct sockaddr_in *)&net->a.p.remote, &net->b.addr));
  CHECK(same_sin((struct sockaddr_in *)&net->b.p.remote, &net->a.addr));
  CHECK_CONTAINS(net->a.p.last_reason, "probe answered by 198.51.100.2:5000");
  CHECK_CONTAINS(net->b.p.last_reason, "probe answered by 192.0.2.1:4000");
  CHECK_EQ_INT(net->a.p.switches, 1);
  CHECK_EQ_INT(net->a.p.stats.switches_to_direct, 1);
  CHECK_EQ_INT(net->b.p.switches, 1);
  CHECK_EQ_INT(net->a.switched_calls, 1);
  CHECK(net->a.last_switch_direct);
  CHECK(net->a.p.rtt_ns >= 2 * net->delay &&
        net->a.p.rtt_ns <= 2 * net->delay + 2 * MS);
  CHECK_EQ_INT(zt_path_route(&net->a.p, true, net->now), ZT_ROUTE_DIRECT);
  /* a second of quiet afterwards changes nothing */
  run_for(net, 1 * SEC);
  CHECK(both_direct(net));
  CHECK_EQ_INT(net->a.p.switches, 1);
  CHECK_EQ_INT(net->a.p.stats.probe_stale + net->b.p.stats.probe_stale, 0);
  net_free(net);
}

/* Only a PONG answering a PING of ours still pending, from the address it
 * went to, switches. B's PONGs to A are captured (direct B->A cut) and
 * handed to A by the test. */
static void test_pong_must_answer_our_ping(void) {
  struct net *net = net_new(true, true);
  struct sockaddr_storage cb;
  memset(&cb, 0, sizeof(cb));
  memcpy(&cb, &net->b.addr, sizeof(net->b.addr));
  net->cut_to_a = true;
  /* B knows A's key but no candidates: it only answers (and probes back
   * the address A's PING came from). */
  zt_path_set_candidates(&net->b.p, KEY_A, NULL, 0, net->now);
  zt_path_set_candidates(&net->a.p, KEY_B, &cb, 1, net->now);
  run_for(net, 15 * MS); /* A's first PING reached B, B answered */
  const struct sent *pong_s = last_probe_sent(&net->b, ZT_PROBE_PONG);
  CHECK(pong_s != NULL);
  CHECK(same_sin(&pong_s->to, &net->a.addr));
  uint8_t pong[ZT_PROBE_LEN];
  memcpy(pong, pong_s->pkt, sizeof(pong));
  CHECK(!net->a.p.direct);
  CHECK_EQ_INT(net->a.p.stats.probe_stale, 0);

  /* the genuine PONG, from another address than the PING went to (another
   * port of B's host: what an attacker who copied it would do) */
  struct sockaddr_in other = sin4("198.51.100.2", 5001);
  inject(&net->a, &other, pong, sizeof(pong));
  CHECK_EQ_INT(net->a.p.stats.probe_stale, 1);
  CHECK(!net->a.p.direct);
  /* nor through the relay: the PING went direct */
  struct sockaddr_in *none = NULL;
  uint8_t pong2[ZT_PROBE_LEN];
  {
    struct zt_probe in;
    CHECK_EQ_INT(zt_probe_decode(pong, sizeof(pong), k_ba, &in), 0);
    in.seq = ++net->b.p.tx_seq; /* fresh (as B numbers them): no replay */
    encode(&in, k_ba, pong2);
  }
  inject(&net->a, none, pong2, sizeof(pong2));
  CHECK_EQ_INT(net->a.p.stats.probe_stale, 2);
  CHECK(!net->a.p.direct);

  /* the same PONG again, now from the right address: a replay */
  inject(&net->a, &net->b.addr, pong, sizeof(pong));
  CHECK_EQ_INT(net->a.p.stats.probe_replayed, 1);
  CHECK(!net->a.p.direct);

  /* a PONG for no PING of ours: right key, fresh seq, unknown txid */
  struct zt_probe forged = {.type = ZT_PROBE_PONG, .dst_key = KEY_A,
                            .seq = ++net->b.p.tx_seq};
  gnutls_rnd(GNUTLS_RND_NONCE, forged.txid, sizeof(forged.txid));
  memcpy(&forged.observed, &net->a.addr, sizeof(net->a.addr));
  uint8_t fp[ZT_PROBE_LEN];
  encode(&forged, k_ba, fp);
  inject(&net->a, &net->b.addr, fp, sizeof(fp));
  CHECK_EQ_INT(net->a.p.stats.probe_stale, 3);
  CHECK(!net->a.p.direct);
  CHECK_EQ_INT(net->a.p.switches, 0);

  /* A late PONG (its PING timed out) is stale too. */
  const struct sent *ping_s = last_probe_sent(&net->a, ZT_PROBE_PING);
  CHECK(ping_s != NULL);
  struct zt_probe ping_in;
  CHECK_EQ_INT(zt_probe_decode(ping_s->pkt, ZT_PROBE_LEN, k_ab, &ping_in), 0);
  run_for(net, ZT_PATH_PROBE_TIMEOUT_MS * MS + 5 * MS);
  struct zt_probe late = {.type = ZT_PROBE_PONG, .dst_key = KEY_A,
                          .seq = ++net->b.p.tx_seq};
  memcpy(late.txid, ping_in.txid, sizeof(late.txid));
  encode(&late, k_ba, fp);
  uint64_t stale0 = net->a.p.stats.probe_stale;
  inject(&net->a, &net->b.addr, fp, sizeof(fp));
  CHECK_EQ_INT(net->a.p.stats.probe_stale, stale0 + 1);
  CHECK(!net->a.p.direct);

  /* The control: the same PONG, fresh, while its PING is pending, from the
   * right address, does switch. */
  net->cut_to_a = false;
  CHECK(run_until(net, a_direct, 10 * SEC));
  CHECK_CONTAINS(net->a.p.last_reason, "probe answered");
  net_free(net);
}

/* Forged probes: counted, dropped, never answered. */
static void test_forged_probes(void) {
  struct net *net = net_new(true, true);
  exchange_candidates(net);
  CHECK(run_until(net, both_direct, 1 * SEC));
  size_t sent0 = net->b.n_log;
  uint64_t mal0 = net->b.p.stats.probe_malformed;
  uint64_t auth0 = net->b.p.stats.probe_bad_auth;
  uint64_t recv0 = net->b.p.stats.probes_received;
  struct sockaddr_in evil = sin4("203.0.113.66", 6666);

  /* random bytes behind the probe header */
  for (int i = 0; i < 50; i++) {
    uint8_t pkt[ZT_PROBE_LEN];
    gnutls_rnd(GNUTLS_RND_NONCE, pkt, sizeof(pkt));
    pkt[0] = 0xc0;
    pkt[1] = 0x7a, pkt[2] = 0x74, pkt[3] = 0x70, pkt[4] = 0x31;
    if (i % 2)
      pkt[5] = ZT_PROBE_PING, pkt[30] = 0;
    inject(&net->b, i % 3 ? &evil : &net->a.addr, pkt, sizeof(pkt));
    inject(&net->b, NULL, pkt, sizeof(pkt));
  }
  CHECK_EQ_INT((net->b.p.stats.probe_malformed - mal0) +
                   (net->b.p.stats.probe_bad_auth - auth0),
               100);
  /* well-formed PINGs and PONGs under a wrong key, and A's own probes
   * reflected back at A (one key per direction) */
  uint8_t wrong[ZT_PROBE_KEY_LEN];
  memset(wrong, 0x5a, sizeof(wrong));
  auth0 = net->b.p.stats.probe_bad_auth;
  for (uint64_t s = 1; s <= 20; s++) {
    struct zt_probe pr = {.type = s % 2 ? ZT_PROBE_PING : ZT_PROBE_PONG,
                          .dst_key = KEY_B, .seq = 100000 + s};
    gnutls_rnd(GNUTLS_RND_NONCE, pr.txid, sizeof(pr.txid));
    if (pr.type == ZT_PROBE_PONG)
      memcpy(&pr.observed, &net->b.addr, sizeof(net->b.addr));
    uint8_t pkt[ZT_PROBE_LEN];
    encode(&pr, s % 4 < 2 ? wrong : k_ba, pkt); /* k_ba: B's own tx key */
    inject(&net->b, &net->a.addr, pkt, sizeof(pkt));
    inject(&net->b, &evil, pkt, sizeof(pkt));
    inject(&net->b, NULL, pkt, sizeof(pkt));
  }
  CHECK_EQ_INT(net->b.p.stats.probe_bad_auth - auth0, 60);
  CHECK_EQ_INT(net->b.p.stats.probes_received, recv0);
  CHECK_EQ_INT(net->b.n_log, sent0); /* nothing answered */
  CHECK(same_sin((struct sockaddr_in *)&net->b.p.remote, &net->a.addr));
  CHECK_EQ_INT(net->b.p.switches, 1);

  /* a path without keys yet refuses everything */
  struct node *c = &net->a;
  zt_path_free(&c->p);
  struct zt_probe pr = {.type = ZT_PROBE_PING, .dst_key = KEY_A, .seq = 9};
  uint8_t pkt[ZT_PROBE_LEN];
  encode(&pr, k_ba, pkt);
  size_t a0 = c->n_log;
  auth0 = c->p.stats.probe_bad_auth;
  inject(c, &net->b.addr, pkt, sizeof(pkt));
  CHECK_EQ_INT(c->p.stats.probe_bad_auth, auth0 + 1);
  CHECK_EQ_INT(c->n_log, a0);
  net_free(net);
}

/* A replayed PING draws no PONG; a fresh one does, exactly as long. */
static void test_replayed_ping(void) {
  struct net *net = net_new(true, true);
  zt_path_set_candidates(&net->b.p, KEY_A, NULL, 0, net->now);
  struct zt_probe pr = {.type = ZT_PROBE_PING, .dst_key = KEY_B, .seq = 7};
  gnutls_rnd(GNUTLS_RND_NONCE, pr.txid, sizeof(pr.txid));
  uint8_t ping[ZT_PROBE_LEN];
  encode(&pr, k_ab, ping); /* as A would send it */

  size_t pongs0 = count_probes(&net->b, ZT_PROBE_PONG);
  inject(&net->b, &net->a.addr, ping, sizeof(ping));
  CHECK_EQ_INT(count_probes(&net->b, ZT_PROBE_PONG), pongs0 + 1);
  const struct sent *s = last_probe_sent(&net->b, ZT_PROBE_PONG);
  CHECK(s && s->len == ZT_PROBE_LEN && s->direct);
  CHECK(same_sin(&s->to, &net->a.addr));
  struct zt_probe pong;
  CHECK_EQ_INT(zt_probe_decode(s->pkt, s->len, k_ba, &pong), 0);
  CHECK(memcmp(pong.txid, pr.txid, sizeof(pr.txid)) == 0);
  CHECK(same_sin((struct sockaddr_in *)&pong.observed, &net->a.addr));

  size_t n0 = net->b.n_log;
  /* again, from the same address, another address, and the relay */
  struct sockaddr_in elsewhere = sin4("203.0.113.9", 9999);
  inject(&net->b, &net->a.addr, ping, sizeof(ping));
  inject(&net->b, &elsewhere, ping, sizeof(ping));
  inject(&net->b, NULL, ping, sizeof(ping));
  CHECK_EQ_INT(net->b.p.stats.probe_replayed, 3);
  CHECK_EQ_INT(net->b.n_log, n0);
  CHECK_EQ_INT(count_probes(&net->b, ZT_PROBE_PONG), pongs0 + 1);

  /* the same PING through the relay first: a PONG through the relay */
  pr.seq = 8;
  encode(&pr, k_ab, ping);
  size_t relay0 = net->b.n_relay;
  inject(&net->b, NULL, ping, sizeof(ping));
  CHECK_EQ_INT(net->b.n_relay, relay0 + 1);
  inject(&net->b, NULL, ping, sizeof(ping));
  inject(&net->b, &net->a.addr, ping, sizeof(ping));
  CHECK_EQ_INT(net->b.n_relay, relay0 + 1);
  CHECK_EQ_INT(net->b.p.stats.probe_replayed, 5);
  net_free(net);
}

/* Every PONG is exactly ZT_PROBE_LEN, and answers a PING of that length:
 * answering never amplifies. Checked over a busy run (discovery, a cut,
 * suspicion, fallback, healing, user pings). */
static void test_no_amplification(void) {
  struct net *net = net_new(true, true);
  exchange_candidates(net);
  net->a.traffic = net->b.traffic = true;
  run_for(net, 2 * SEC);
  zt_path_ping(&net->a.p, 1, true, net->now);
  net->cut = true;
  run_for(net, 3 * SEC);
  zt_path_ping(&net->a.p, 2, true, net->now);
  net->cut = false;
  run_for(net, 10 * SEC);
  CHECK(both_direct(net));
  struct node *nodes[2] = {&net->a, &net->b};
  for (int k = 0; k < 2; k++) {
    struct node *n = nodes[k], *peer = peer_of(n);
    size_t pongs = 0;
    for (size_t i = 0; i < n->n_log; i++) {
      const struct sent *s = &n->log[i];
      if (s->data)
        continue;
      CHECK_EQ_INT(s->len, ZT_PROBE_LEN);
      struct zt_probe pr;
      CHECK_EQ_INT(zt_probe_decode(s->pkt, s->len, k == 0 ? k_ab : k_ba, &pr),
                   0);
      if (pr.type != ZT_PROBE_PONG)
        continue;
      pongs++;
      /* the PING it answers: the peer's, same txid, same length */
      bool found = false;
      for (size_t j = 0; j < peer->n_log && !found; j++) {
        const struct sent *q = &peer->log[j];
        struct zt_probe pi;
        if (q->data || q->at > s->at ||
            zt_probe_decode(q->pkt, q->len, k == 0 ? k_ba : k_ab, &pi) != 0)
          continue;
        found = pi.type == ZT_PROBE_PING &&
                memcmp(pi.txid, pr.txid, sizeof(pi.txid)) == 0 &&
                q->len == s->len && q->direct == s->direct;
      }
      CHECK(found);
    }
    CHECK(pongs > 0);
    /* never more PONGs than authenticated probes received */
    CHECK(pongs <= n->p.stats.probes_received);
  }
  net_free(net);
}


/* Traffic both ways until the route says `want`; records when. */
static uint64_t run_until_route(struct net *net, unsigned want,
                                uint64_t for_ns) {
  uint64_t end = net->now + for_ns;
  while (net->now < end) {
    step(net);
    /* A's own traffic, each step: the route it would take now */
    unsigned r = node_send_data(&net->a);
    if (r == want)
      return net->now;
  }
  return 0;
}

/* A direct path cut while traffic flows: doubt (both ways) within
 * suspect_after, the relay alone after ZT_PATH_SUSPECT_PROBES probes,
 * and direct again after a backoff round once healed. */
static void test_cut_and_heal(void) {
  struct net *net = net_new(true, true);
  exchange_candidates(net);
  net->a.traffic = net->b.traffic = true;
  CHECK(run_until(net, both_direct, 1 * SEC));
  run_for(net, 2 * SEC); /* steady: rtt settled, traffic direct */
  CHECK(both_direct(net));
  CHECK(net->a.data_direct > 100 && net->b.data_direct > 100);
  size_t relay_data0 = net->a.data_relay;
  /* B's data keeps A's path alive without probes */
  CHECK_EQ_INT(net->a.p.stats.keepalives_missed, 0);
  uint64_t suspect_after = 3 * net->a.p.rtt_ns;
  if (suspect_after < ZT_PATH_SUSPECT_MIN_MS * MS)
    suspect_after = ZT_PATH_SUSPECT_MIN_MS * MS;
  uint64_t retry = 2 * net->a.p.rtt_ns;
  if (retry < ZT_PATH_SUSPECT_RETRY_MIN_MS * MS)
    retry = ZT_PATH_SUSPECT_RETRY_MIN_MS * MS;

  net->cut = true;
  uint64_t t_cut = net->now;
  uint64_t t_both = run_until_route(net, ZT_ROUTE_DIRECT | ZT_ROUTE_RELAY,
                                    2 * SEC);
  CHECK(t_both != 0);
  CHECK(net->a.p.suspect && net->a.p.direct);
  /* the last packet in flight lands one delay after the cut; the doubt
   * comes suspect_after later, give or take a traffic gap */
  CHECK(t_both - t_cut <= net->delay + suspect_after + net->traffic_gap +
                              2 * MS);
  CHECK(net->a.data_relay > relay_data0); /* packets went both ways */
  uint64_t t_relay = run_until_route(net, ZT_ROUTE_RELAY, 2 * SEC);
  CHECK(t_relay != 0);
  CHECK(!net->a.p.direct && !net->a.p.suspect);
  CHECK(t_relay - t_both <= ZT_PATH_SUSPECT_PROBES * retry + 2 * MS);
  printf("     cut -> both ways %.0f ms, cut -> relay %.0f ms (rtt %.1f ms)\n",
         (double)(t_both - t_cut) / 1e6, (double)(t_relay - t_cut) / 1e6,
         (double)net->a.p.rtt_ns / 1e6);
  CHECK_CONTAINS(net->a.p.last_reason, "unanswered");
  CHECK_CONTAINS(net->a.p.last_reason, "direct path silent");
  CHECK_EQ_INT(net->a.p.stats.switches_to_relay, 1);
  CHECK(!net->a.last_switch_direct);
  /* B, whose traffic also stopped being answered, left too */
  CHECK(run_until(net, NULL, 1 * SEC));
  CHECK(!net->b.p.direct);
  CHECK_STR(zt_path_name(&net->b.p), "relay");

  /* Still cut: rounds keep probing, with growing backoff, and fail. */
  run_for(net, 10 * SEC);
  CHECK(!net->a.p.direct && !net->b.p.direct);
  CHECK(net->a.p.backoff_ms > ZT_PATH_BACKOFF_MIN_MS);

  /* Healed: direct again within the longest backoff, and some slack for
   * the round's probes. */
  net->cut = false;
  uint64_t t_heal = net->now;
  CHECK(run_until(net, both_direct, ZT_PATH_BACKOFF_MAX_MS * MS + 500 * MS));
  printf("     healed -> direct %.0f ms\n", (double)(net->now - t_heal) / 1e6);
  CHECK_EQ_INT(net->a.p.stats.switches_to_direct, 2);
  CHECK_CONTAINS(net->a.p.last_reason, "probe answered");
  net_free(net);
}

/* No traffic: a keepalive probe on the direct path after
 * ZT_PATH_KEEPALIVE_MS, answered; with the path cut, counted missed. */
static void test_keepalive(void) {
  struct net *net = direct_pair();
  CHECK(net != NULL);
  run_for(net, 100 * MS);
  uint64_t sent0 = net->a.p.stats.probes_sent;
  uint64_t recv0 = net->a.p.stats.probes_received;
  size_t direct0 = net->a.n_direct;
  run_for(net, ZT_PATH_KEEPALIVE_MS * MS - 200 * MS);
  CHECK_EQ_INT(net->a.p.stats.probes_sent, sent0); /* not yet */
  run_for(net, 300 * MS);
  CHECK(net->a.p.stats.probes_sent > sent0);
  CHECK(net->a.n_direct > direct0); /* on the direct path */
  const struct sent *s = last_probe_sent(&net->a, ZT_PROBE_PING);
  CHECK(s && s->direct && same_sin(&s->to, &net->b.addr));
  run_for(net, 2 * SEC);
  CHECK(net->a.p.stats.probes_received > recv0); /* its PONG */
  CHECK(both_direct(net));
  CHECK_EQ_INT(net->a.p.stats.keepalives_missed, 0);
  CHECK_EQ_INT(net->b.p.stats.keepalives_missed, 0);
  CHECK_EQ_INT(net->a.p.switches, 1);

  net->cut = true;
  run_for(net, ZT_PATH_KEEPALIVE_MS * MS + 2 * SEC);
  CHECK(net->a.p.stats.keepalives_missed >= 1);
  CHECK(net->b.p.stats.keepalives_missed >= 1);
  CHECK(!net->a.p.direct); /* and the silence ended the path */
  net_free(net);
}

/* `ztna ping`: on the direct path, on the relay, and unanswered. */
static void test_user_ping(void) {
  struct net *net = direct_pair();
  CHECK(net != NULL);
  run_for(net, 50 * MS);
  CHECK_EQ_INT(zt_path_ping(&net->a.p, 42, true, net->now), 0);
  run_for(net, 100 * MS);
  CHECK_EQ_INT(net->a.results, 1);
  CHECK_EQ_INT(net->a.res_cookie, 42);
  CHECK(!net->a.res_timed_out);
  CHECK(net->a.res_direct);
  CHECK(net->a.res_rtt >= 2 * net->delay &&
        net->a.res_rtt <= 2 * net->delay + 2 * MS);
  net_free(net);

  /* relay: A has direct paths off, B knows A's key */
  net = net_new(false, true);
  exchange_candidates(net);
  run_for(net, 100 * MS);
  CHECK(!net->a.p.direct);
  CHECK_EQ_INT(zt_path_ping(&net->a.p, 43, false, net->now), -1);
  CHECK_EQ_INT(zt_path_ping(&net->a.p, 43, true, net->now), 0);
  run_for(net, 100 * MS);
  CHECK_EQ_INT(net->a.results, 1);
  CHECK_EQ_INT(net->a.res_cookie, 43);
  CHECK(!net->a.res_timed_out);
  CHECK(!net->a.res_direct);
  CHECK(net->a.res_rtt >= 2 * net->relay_delay &&
        net->a.res_rtt <= 2 * net->relay_delay + 2 * MS);
  net_free(net);

  /* the peer gone (direct path dead, relay swallowing everything) */
  net = direct_pair();
  CHECK(net != NULL);
  net->cut = true;
  uint64_t t0 = net->now;
  CHECK_EQ_INT(zt_path_ping(&net->a.p, 44, true, net->now), 0);
  run_for(net, ZT_PATH_PROBE_TIMEOUT_MS * MS - 5 * MS);
  CHECK_EQ_INT(net->a.results, 0);
  run_for(net, 10 * MS);
  CHECK_EQ_INT(net->a.results, 1);
  CHECK_EQ_INT(net->a.res_cookie, 44);
  CHECK(net->a.res_timed_out);
  CHECK(net->a.res_direct);
  CHECK(net->a.res_at - t0 >= ZT_PATH_PROBE_TIMEOUT_MS * MS &&
        net->a.res_at - t0 <= ZT_PATH_PROBE_TIMEOUT_MS * MS + 2 * MS);
  net_free(net);

  /* no keys: cannot ping */
  net = net_new(true, true);
  zt_path_free(&net->a.p);
  CHECK_EQ_INT(zt_path_ping(&net->a.p, 45, true, net->now), -1);
  net_free(net);
}

/* B has direct paths off: it answers no direct PING (sends nothing
 * direct at all) but answers through the relay; A stays on the relay. */
static void test_direct_disabled(void) {
  struct net *net = net_new(true, false);
  exchange_candidates(net);
  net->a.traffic = net->b.traffic = true;
  run_for(net, 20 * SEC);
  CHECK_EQ_INT(net->b.n_direct, 0);
  CHECK_EQ_INT(net->b.data_direct, 0);
  CHECK(net->b.p.stats.probes_received > 0); /* A's PINGs did arrive */
  CHECK(net->a.n_direct > 5);                /* several rounds */
  CHECK(!net->a.p.direct && !net->b.p.direct);
  CHECK_EQ_INT(net->a.p.switches, 0);
  CHECK_EQ_INT(net->a.data_direct, 0);
  /* over the relay it does answer */
  CHECK_EQ_INT(zt_path_ping(&net->a.p, 7, true, net->now), 0);
  run_for(net, 100 * MS);
  CHECK_EQ_INT(net->a.results, 1);
  CHECK(!net->a.res_timed_out && !net->a.res_direct);
  CHECK(net->b.n_relay > 0);
  net_free(net);
}

/* NAT rebinding: B's packets start coming from a new address. Data
 * packets from it are no proof of anything; the path moves only when a
 * probe to the new address is answered (B's PINGs from there make A
 * probe it back). */
static void test_nat_rebinding(void) {
  struct net *net = direct_pair();
  CHECK(net != NULL);
  net->a.traffic = net->b.traffic = true;
  run_for(net, 1 * SEC);
  CHECK(both_direct(net));
  struct sockaddr_in old = net->b.addr;
  struct sockaddr_in nu = sin4("198.51.100.2", 31337);

  /* Data alone from the new address: A learns nothing from it. Only B's
   * data (its probes are lost) reaches A, from nu; A's packets to old
   * are lost. */
  net->b_probes_lost = true;
  net->b.addr = nu;
  uint64_t t0 = net->now;
  uint64_t sw0 = net->a.p.switches;
  while (net->now - t0 < 30 * MS) {
    step(net);
    CHECK(same_sin((struct sockaddr_in *)&net->a.p.remote, &old));
  }
  /* injected data from nu, many times: still the old address, and the
   * doubt comes all the same */
  for (int i = 0; i < 200; i++) {
    zt_path_on_direct_packet(&net->a.p, (const struct sockaddr *)&nu,
                             sizeof(nu), net->now);
    step(net);
    CHECK(!net->a.p.direct ||
          same_sin((struct sockaddr_in *)&net->a.p.remote, &old));
    if (net->a.p.switches != sw0)
      CHECK(!net->a.p.direct); /* it can only have left for the relay */
  }
  CHECK(net->a.p.suspect || !net->a.p.direct);
  CHECK(!net->a.p.direct); /* not a word from old: back to the relay */
  for (size_t i = 0; i < net->a.p.n_cands; i++) /* nu is not even known */
    CHECK(!same_sin((struct sockaddr_in *)&net->a.p.cands[i].addr, &nu));

  /* B's PINGs get through from nu: A moves there, by an answered probe. */
  net->b_probes_lost = false;
  uint64_t t1 = net->now;
  bool moved = false;
  for (uint64_t t = 0; t < 20 * SEC && !moved; t += MS) {
    step(net);
    if (net->a.p.direct &&
        same_sin((struct sockaddr_in *)&net->a.p.remote, &nu))
      moved = true;
  }
  CHECK(moved);
  printf("     rebinding -> direct to the new address %.0f ms after B's "
         "probes pass\n",
         (double)(net->now - t1) / 1e6);
  CHECK_CONTAINS(net->a.p.last_reason, "probe answered by 198.51.100.2:31337");
  /* it was learnt from B's PINGs, not signalled */
  bool reflexive = false;
  for (size_t i = 0; i < net->a.p.n_cands; i++)
    if (same_sin((struct sockaddr_in *)&net->a.p.cands[i].addr, &nu))
      reflexive = net->a.p.cands[i].reflexive;
  CHECK(reflexive);
  run_for(net, 1 * SEC);
  CHECK(both_direct(net));
  net_free(net);
}

/* One direction broken (B -> A): A hears nothing, B still hears A's
 * packets. Both must end on the relay, B once A stops sending direct. */
static void test_one_way_failure(void) {
  struct net *net = direct_pair();
  CHECK(net != NULL);
  net->a.traffic = net->b.traffic = true;
  run_for(net, 1 * SEC);
  CHECK(both_direct(net));
  net->cut_to_a = true;
  uint64_t t0 = net->now;
  uint64_t ta = 0, tb = 0;
  while (net->now - t0 < 3 * SEC && (!ta || !tb)) {
    step(net);
    if (!ta && !net->a.p.direct)
      ta = net->now;
    if (!tb && !net->b.p.direct)
      tb = net->now;
  }
  CHECK(ta && tb);
  printf("     one-way cut: A on relay after %.0f ms, B after %.0f ms\n",
         (double)(ta - t0) / 1e6, (double)(tb - t0) / 1e6);
  CHECK(ta - t0 < 500 * MS && tb - t0 < 1 * SEC);
  /* and they stay there while it lasts: B's PONGs to A are lost, A's to
   * B do not count without B's PING having gone through */
  run_for(net, 10 * SEC);
  CHECK(!net->a.p.direct && !net->b.p.direct);
  net_free(net);
}

/* Data packets never move a path that is on the relay either. */
static void test_data_does_not_switch(void) {
  struct net *net = net_new(true, true);
  zt_path_set_candidates(&net->a.p, KEY_B, NULL, 0, net->now);
  for (int i = 0; i < 100; i++) {
    zt_path_on_direct_packet(&net->a.p, (const struct sockaddr *)&net->b.addr,
                             sizeof(net->b.addr), net->now);
    step(net);
  }
  CHECK(!net->a.p.direct);
  CHECK_EQ_INT(net->a.p.switches, 0);
  CHECK_EQ_INT(zt_path_route(&net->a.p, true, net->now), ZT_ROUTE_RELAY);
  net_free(net);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0); /* lines survive an abort() */
  gnutls_rnd(GNUTLS_RND_NONCE, k_ab, sizeof(k_ab));
  gnutls_rnd(GNUTLS_RND_NONCE, k_ba, sizeof(k_ba));
  RUN(test_goes_direct);
  RUN(test_pong_must_answer_our_ping);
  RUN(test_forged_probes);
  RUN(test_replayed_ping);
  RUN(test_no_amplification);
  RUN(test_cut_and_heal);
  RUN(test_keepalive);
  RUN(test_user_ping);
  RUN(test_direct_disabled);
  RUN(test_nat_rebinding);
  RUN(test_one_way_failure);
  RUN(test_data_does_not_switch);
  (void)N;
  return TEST_EXIT();
}

/*
 * The whole system in one process: a real Intermediate, connector and
 * agent (core/), their real QUIC and TLS, over a simulated network with
 * simulated time, NATs, loss and reordering (simnet.c). The connector's
 * "kernel" is a tiny responder that answers ICMP echo and UDP echo for the
 * service address, so packets make the full round trip:
 *
 *   agent TUN -> agent -> relay -> connector -> "kernel" -> connector ->
 *   relay -> agent -> agent TUN
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/test.h"
#include "agent.h"
#include "certgen.h"
#include "config.h"
#include "connector.h"
#include "ctrl.h"
#include "intermediate.h"
#include "ippkt.h"
#include "log.h"
#include "quic.h"
#include "relay.h"
#include "simnet.h"
#include "wire.h"

#define MS 1000000ULL
#define SEC 1000000000ULL
#define VIP 0x0a640001u /* 10.100.0.1 */
#define BACKEND 0x0a1e0002u

/* ---- certificates ------------------------------------------------------- */

static struct zt_pem ca, ca2, pem_im, pem_conn, pem_alice, pem_bob, pem_evil;

static void make_certs(void) {
  char err[256];
  if (ca.cert)
    return;
  if (zt_cert_make_ca("sim-ca", 1, &ca, err, sizeof(err)) ||
      zt_cert_make_ca("other-ca", 1, &ca2, err, sizeof(err)) ||
      zt_cert_issue(&ca, ZT_ROLE_INTERMEDIATE, "intermediate", 1, NULL, NULL,
                    &pem_im, err, sizeof(err)) ||
      zt_cert_issue(&ca, ZT_ROLE_CONNECTOR, "conn-a", 1, NULL, NULL, &pem_conn,
                    err, sizeof(err)) ||
      zt_cert_issue(&ca, ZT_ROLE_AGENT, "alice", 1, NULL, NULL, &pem_alice, err,
                    sizeof(err)) ||
      zt_cert_issue(&ca, ZT_ROLE_AGENT, "bob", 1, NULL, NULL, &pem_bob, err,
                    sizeof(err)) ||
      zt_cert_issue(&ca2, ZT_ROLE_AGENT, "alice", 1, NULL, NULL, &pem_evil,
                    err, sizeof(err))) {
    fprintf(stderr, "certgen: %s\n", err);
    exit(1);
  }
}

static struct zt_tls_creds *creds(const struct zt_pem *p) {
  char err[256];
  struct zt_tls_creds *c = zt_tls_creds_from_pem(ca.cert, p->cert, p->key, err,
                                                 sizeof(err));
  if (!c) {
    fprintf(stderr, "creds: %s\n", err);
    exit(1);
  }
  return c;
}

/* ---- the world ---------------------------------------------------------- */

#define MAX_REPLIES 4096

struct world {
  struct simnet net;
  struct sim_host *hi, *hc, *ha;
  struct zt_intermediate_config icfg;
  struct zt_connector_config ccfg;
  struct zt_tls_creds *ci, *cc, *ca_;
  struct zt_intermediate *im;
  struct zt_connector *conn;
  struct zt_agent *agent;
  struct zt_io io_i, io_c, io_a;
  /* the connector's "kernel": replies waiting to be read from its TUN */
  uint8_t *kq[MAX_REPLIES];
  size_t kq_len[MAX_REPLIES], kq_n;
  /* what the agent's TUN received */
  size_t agent_rx, agent_rx_bytes, agent_rx_bad;
  uint32_t routes[8];
  size_t n_routes;
};

static struct world *W;

static void udp_send(void *ud, const struct sockaddr *to, socklen_t tolen,
                     const uint8_t *d, size_t n) {
  sim_udp_send(ud, to, tolen, d, n);
}

/* Answers like the backend host behind NAT would: echo replies from the
 * service address back to the agent. */
static void connector_tun_write(void *ud, const uint8_t *pkt, size_t len) {
  struct world *w = ud;
  struct zt_ip_info ip;
  if (zt_ip_parse(pkt, len, &ip) != 0 || w->kq_n == MAX_REPLIES)
    return;
  uint8_t *r = malloc(len);
  memcpy(r, pkt, len);
  memcpy(r + 12, pkt + 16, 4); /* swap addresses */
  memcpy(r + 16, pkt + 12, 4);
  if (ip.proto == 1 && ip.icmp_type == 8) {
    r[ip.hdr_len] = 0; /* echo reply */
    r[ip.hdr_len + 2] = r[ip.hdr_len + 3] = 0;
    uint16_t ck = zt_ip_checksum(r + ip.hdr_len, len - ip.hdr_len);
    memcpy(r + ip.hdr_len + 2, &ck, 2);
  } else if (ip.proto == 17) {
    memcpy(r + ip.hdr_len, pkt + ip.hdr_len + 2, 2); /* swap ports */
    memcpy(r + ip.hdr_len + 2, pkt + ip.hdr_len, 2);
    r[ip.hdr_len + 6] = r[ip.hdr_len + 7] = 0; /* no UDP checksum */
  } else {
    free(r);
    return;
  }
  w->kq[w->kq_n] = r;
  w->kq_len[w->kq_n++] = len;
}

static void agent_tun_write(void *ud, const uint8_t *pkt, size_t len) {
  struct world *w = ud;
  struct zt_ip_info ip;
  if (zt_ip_parse(pkt, len, &ip) != 0 || ip.src != VIP) {
    w->agent_rx_bad++;
    return;
  }
  w->agent_rx++;
  w->agent_rx_bytes += len;
}

static void agent_route(void *ud, uint32_t vip, bool add) {
  struct world *w = ud;
  if (add && w->n_routes < 8)
    w->routes[w->n_routes++] = vip;
}

/* Each node's io: the simulated socket of its host. The io ud is the host
 * for udp_send, so the TUN callbacks reach the world through W. */
static void tun_c(void *ud, const uint8_t *p, size_t n) {
  (void)ud;
  connector_tun_write(W, p, n);
}
static void tun_a(void *ud, const uint8_t *p, size_t n) {
  (void)ud;
  agent_tun_write(W, p, n);
}
static void route_a(void *ud, uint32_t vip, bool add) {
  (void)ud;
  agent_route(W, vip, add);
}

static void deliver_i(void *n, const struct sockaddr *f, socklen_t fl,
                      const uint8_t *p, size_t l, uint64_t now) {
  zt_intermediate_feed_udp(n, f, fl, p, l, now);
}
static void deliver_c(void *n, const struct sockaddr *f, socklen_t fl,
                      const uint8_t *p, size_t l, uint64_t now) {
  zt_connector_feed_udp(n, f, fl, p, l, now);
}
static void deliver_a(void *n, const struct sockaddr *f, socklen_t fl,
                      const uint8_t *p, size_t l, uint64_t now) {
  zt_agent_feed_udp(n, f, fl, p, l, now);
}

static void start_intermediate(struct world *w) {
  w->im = zt_intermediate_new(&w->icfg, w->ci, &w->io_i,
                              (struct sockaddr *)&w->hi->priv,
                              sizeof(w->hi->priv));
  w->hi->node = w->im;
}

static void start_agent(struct world *w, const struct zt_pem *who) {
  w->ca_ = creds(who);
  struct zt_agent_options ao = {
      .creds = w->ca_,
      .intermediate_name = "intermediate",
      .local = (struct sockaddr *)&w->ha->priv,
      .locallen = sizeof(w->ha->priv),
      .server = (struct sockaddr *)&w->hi->pub,
      .serverlen = sizeof(w->hi->pub),
  };
  w->agent = zt_agent_new(&ao, &w->io_a, w->net.now);
  w->ha->node = w->agent;
}

static struct world *world_new(const struct zt_pem *agent_pem) {
  struct world *w = calloc(1, sizeof(*w));
  W = w;
  make_certs();
  sim_init(&w->net, 42);
  w->hi = sim_add_host(&w->net, "198.51.100.1", 4433, NULL, 0);
  w->hc = sim_add_host(&w->net, "10.20.1.2", 40000, "198.51.100.3", 50000);
  w->ha = sim_add_host(&w->net, "10.10.1.2", 40000, "198.51.100.2", 50001);
  w->hi->deliver = deliver_i;
  w->hc->deliver = deliver_c;
  w->ha->deliver = deliver_a;

  zt_intermediate_config_defaults(&w->icfg);
  w->icfg.n_services = 1;
  snprintf(w->icfg.services[0].name, sizeof(w->icfg.services[0].name), "echo");
  snprintf(w->icfg.services[0].connector, sizeof(w->icfg.services[0].connector),
           "conn-a");
  w->icfg.services[0].address = VIP;
  w->icfg.n_policy = 1;
  snprintf(w->icfg.policy[0].agent, sizeof(w->icfg.policy[0].agent), "alice");
  w->icfg.policy[0].n_services = 1;
  snprintf(w->icfg.policy[0].services[0], sizeof(w->icfg.policy[0].services[0]),
           "echo");

  zt_connector_config_defaults(&w->ccfg);
  w->ccfg.n_services = 1;
  snprintf(w->ccfg.services[0].name, sizeof(w->ccfg.services[0].name), "echo");
  w->ccfg.services[0].backend = BACKEND;
  w->ccfg.services[0].n_rules = 2;
  w->ccfg.services[0].rules[0] = (struct zt_port_rule){17, 7, 7};
  w->ccfg.services[0].rules[1] = (struct zt_port_rule){1, 0, 0};

  w->io_i = (struct zt_io){.ud = w->hi, .udp_send = udp_send};
  w->io_c = (struct zt_io){.ud = w->hc, .udp_send = udp_send, .tun_write = tun_c};
  w->io_a = (struct zt_io){
      .ud = w->ha, .udp_send = udp_send, .tun_write = tun_a, .route = route_a};

  w->ci = creds(&pem_im);
  w->cc = creds(&pem_conn);
  start_intermediate(w);
  struct zt_connector_options co = {
      .creds = w->cc,
      .intermediate_name = "intermediate",
      .local = (struct sockaddr *)&w->hc->priv,
      .locallen = sizeof(w->hc->priv),
      .server = (struct sockaddr *)&w->hi->pub,
      .serverlen = sizeof(w->hi->pub),
      .cfg = &w->ccfg,
  };
  w->conn = zt_connector_new(&co, &w->io_c, w->net.now);
  w->hc->node = w->conn;
  start_agent(w, agent_pem);
  return w;
}

static void world_free(struct world *w) {
  zt_agent_free(w->agent);
  zt_connector_free(w->conn);
  zt_intermediate_free(w->im);
  zt_tls_creds_free(w->ci);
  zt_tls_creds_free(w->cc);
  zt_tls_creds_free(w->ca_);
  for (size_t i = 0; i < w->kq_n; i++)
    free(w->kq[i]);
  sim_free(&w->net);
  free(w);
}

static uint64_t min3(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t m = a < b ? a : b;
  return m < c ? m : c;
}

/* Advances simulated time until `done` holds or `for_ns` has passed. */
static bool run(struct world *w, bool (*done)(struct world *), uint64_t for_ns) {
  uint64_t deadline = w->net.now + for_ns;
  while (w->net.now < deadline) {
    /* The "kernel" answers; its replies are read from the TUN device. */
    for (size_t i = 0; i < w->kq_n; i++) {
      zt_connector_feed_tun(w->conn, w->kq[i], w->kq_len[i], w->net.now);
      free(w->kq[i]);
    }
    w->kq_n = 0;
    if (done && done(w))
      return true;
    uint64_t t = min3(sim_next(&w->net),
                      w->im ? zt_intermediate_expiry(w->im) : UINT64_MAX,
                      zt_connector_expiry(w->conn));
    uint64_t ta = zt_agent_expiry(w->agent);
    if (ta < t)
      t = ta;
    if (t > deadline)
      t = deadline;
    if (t > w->net.now)
      w->net.now = t;
    sim_deliver_until(&w->net, w->net.now);
    if (w->im && zt_intermediate_expiry(w->im) <= w->net.now)
      zt_intermediate_handle_expiry(w->im, w->net.now);
    if (zt_connector_expiry(w->conn) <= w->net.now)
      zt_connector_handle_expiry(w->conn, w->net.now);
    if (zt_agent_expiry(w->agent) <= w->net.now)
      zt_agent_handle_expiry(w->agent, w->net.now);
  }
  return done ? done(w) : true;
}

static bool ready(struct world *w) {
  return zt_agent_is_connected(w->agent) &&
         zt_connector_registered(w->conn) == 1 && w->n_routes == 1 &&
         zt_agent_tunnel_addr(w->agent) != 0 &&
         zt_agent_service_online(w->agent, VIP);
}

/* ---- packets ------------------------------------------------------------ */

static size_t build_ip(uint8_t *p, uint8_t proto, uint32_t src, uint32_t dst,
                       size_t payload) {
  size_t len = 20 + payload;
  memset(p, 0, 20);
  p[0] = 0x45;
  p[2] = (uint8_t)(len >> 8);
  p[3] = (uint8_t)len;
  p[8] = 64;
  p[9] = proto;
  uint32_t s = htonl(src), d = htonl(dst);
  memcpy(p + 12, &s, 4);
  memcpy(p + 16, &d, 4);
  uint16_t ck = zt_ip_checksum(p, 20);
  memcpy(p + 10, &ck, 2);
  return len;
}

static size_t build_ping(uint8_t *p, uint32_t src, uint16_t seq, size_t size) {
  size_t len = build_ip(p, 1, src, VIP, size - 20);
  uint8_t *icmp = p + 20;
  memset(icmp, 0xab, size - 20);
  icmp[0] = 8;
  icmp[1] = 0;
  icmp[2] = icmp[3] = 0;
  icmp[4] = 0x12;
  icmp[5] = 0x34;
  icmp[6] = (uint8_t)(seq >> 8);
  icmp[7] = (uint8_t)seq;
  uint16_t ck = zt_ip_checksum(icmp, size - 20);
  memcpy(icmp + 2, &ck, 2);
  return len;
}

static size_t build_udp(uint8_t *p, uint32_t src, uint16_t dport,
                        size_t payload) {
  size_t len = build_ip(p, 17, src, VIP, 8 + payload);
  uint8_t *u = p + 20;
  u[0] = 0x9c;
  u[1] = 0x40; /* 40000 */
  u[2] = (uint8_t)(dport >> 8);
  u[3] = (uint8_t)dport;
  u[4] = (uint8_t)((8 + payload) >> 8);
  u[5] = (uint8_t)(8 + payload);
  u[6] = u[7] = 0;
  memset(u + 8, 0x5a, payload);
  return len;
}

static void send_pings(struct world *w, int n, uint64_t gap) {
  uint8_t p[1500];
  for (int i = 0; i < n; i++) {
    size_t len = build_ping(p, zt_agent_tunnel_addr(w->agent), (uint16_t)i, 84);
    zt_agent_feed_tun(w->agent, p, len, w->net.now);
    run(w, NULL, gap);
  }
}

/* ---- tests -------------------------------------------------------------- */

static void test_ping_through_relay(void) {
  struct world *w = world_new(&pem_alice);
  CHECK(run(w, ready, 10 * SEC));
  CHECK_EQ_INT(w->routes[0], VIP);
  send_pings(w, 20, 20 * MS);
  run(w, NULL, 500 * MS);
  /* The first packets wait for the end-to-end handshake, none are lost. */
  CHECK_EQ_INT(w->agent_rx, 20);
  CHECK_EQ_INT(w->agent_rx_bad, 0);
  CHECK(zt_intermediate_get_stats(w->im)->relay_frames >= 40);
  CHECK(zt_agent_session_ready(w->agent, VIP));
  world_free(w);
}

static void test_lossy_reordering_link(void) {
  struct world *w = world_new(&pem_alice);
  w->ha->loss = 0.05; /* each way through the agent's link */
  w->hc->loss = 0.05;
  w->ha->jitter_ns = 30 * MS; /* more than the gap between packets: reorders */
  w->hc->jitter_ns = 30 * MS;
  CHECK(run(w, ready, 30 * SEC)); /* handshakes and control stream recover */
  uint8_t p[1500];
  for (int i = 0; i < 300; i++) {
    size_t len = build_udp(p, zt_agent_tunnel_addr(w->agent), 7, 200);
    zt_agent_feed_tun(w->agent, p, len, w->net.now);
    run(w, NULL, 5 * MS);
  }
  run(w, NULL, 2 * SEC);
  /* Datagrams are unreliable by design (TCP inside recovers); a round trip
   * crosses four lossy hops at 10%: about 66% expected. */
  printf("  lossy link: %zu/300 UDP echoes returned\n", w->agent_rx);
  CHECK(w->agent_rx >= 150);
  CHECK(w->agent_rx < 300);
  CHECK_EQ_INT(w->agent_rx_bad, 0);
  CHECK(zt_agent_is_connected(w->agent));
  world_free(w);
}

static void test_largest_packet_fits(void) {
  struct world *w = world_new(&pem_alice);
  uint8_t p[2000];
  CHECK(run(w, ready, 10 * SEC));
  send_pings(w, 1, 200 * MS); /* session up */
  CHECK_EQ_INT(w->agent_rx, 1);
  /* A TUN-MTU-sized packet crosses both QUIC layers intact... */
  size_t len = build_udp(p, zt_agent_tunnel_addr(w->agent), 7, ZT_TUN_MTU - 28);
  CHECK_EQ_INT(len, ZT_TUN_MTU);
  zt_agent_feed_tun(w->agent, p, len, w->net.now);
  run(w, NULL, 300 * MS);
  CHECK_EQ_INT(w->agent_rx, 2);
  CHECK_EQ_INT(w->agent_rx_bytes - 84, ZT_TUN_MTU);
  /* ...and one byte more is refused and counted, never silently lost. */
  len = build_udp(p, zt_agent_tunnel_addr(w->agent), 7, ZT_TUN_MTU - 27);
  zt_agent_feed_tun(w->agent, p, len, w->net.now);
  run(w, NULL, 300 * MS);
  CHECK_EQ_INT(w->agent_rx, 2);
  CHECK_EQ_INT(zt_agent_get_stats(w->agent)->tun_too_big, 1);
  world_free(w);
}

static void test_nat_rebinding(void) {
  struct world *w = world_new(&pem_alice);
  CHECK(run(w, ready, 10 * SEC));
  send_pings(w, 5, 20 * MS);
  run(w, NULL, 500 * MS); /* the end-to-end handshake, then the replies */
  CHECK_EQ_INT(w->agent_rx, 5);
  /* The agent's NAT gives it a new public port mid-flow. */
  w->ha->pub.sin_port = htons(50999);
  send_pings(w, 20, 50 * MS);
  run(w, NULL, 1 * SEC);
  /* A few may be lost while the path changes; the session lives on. */
  printf("  after rebinding: %zu/25 replies\n", w->agent_rx);
  CHECK(w->agent_rx >= 20);
  CHECK(zt_agent_is_connected(w->agent));
  world_free(w);
}

static bool agent_down(struct world *w) {
  return !zt_agent_is_connected(w->agent);
}

static void test_intermediate_restart(void) {
  struct world *w = world_new(&pem_alice);
  CHECK(run(w, ready, 10 * SEC));
  uint32_t addr = zt_agent_tunnel_addr(w->agent);
  send_pings(w, 3, 20 * MS);
  run(w, NULL, 500 * MS);
  CHECK_EQ_INT(w->agent_rx, 3);
  /* Kill it: state gone, packets to it now unanswered. */
  zt_intermediate_free(w->im);
  w->im = NULL;
  w->hi->node = NULL;
  CHECK(run(w, agent_down, 60 * SEC)); /* idle timeout */
  start_intermediate(w);
  w->n_routes = 1; /* routes are kept; count re-adds only */
  CHECK(run(w, ready, 60 * SEC)); /* backoff, reconnect, re-register */
  CHECK_EQ_INT(zt_agent_tunnel_addr(w->agent), addr); /* same address back */
  size_t before = w->agent_rx;
  send_pings(w, 10, 20 * MS);
  run(w, NULL, 500 * MS);
  CHECK_EQ_INT(w->agent_rx - before, 10);
  world_free(w);
}

/* Restarted at once, the Intermediate answers packets of connections it no
 * longer knows with Stateless Resets (its reset secret comes from its key,
 * the same after a restart): agent and connector reconnect within a
 * keepalive interval instead of waiting out the 30 s idle timeout. */
static void test_restart_stateless_reset(void) {
  struct world *w = world_new(&pem_alice);
  CHECK(run(w, ready, 10 * SEC));
  send_pings(w, 3, 20 * MS);
  run(w, NULL, 500 * MS);
  CHECK_EQ_INT(w->agent_rx, 3);
  zt_intermediate_free(w->im);
  start_intermediate(w);
  uint64_t t0 = w->net.now;
  CHECK(run(w, agent_down, 15 * SEC));
  CHECK(w->net.now - t0 < ZT_IDLE_TIMEOUT_MS * MS / 2);
  CHECK(zt_intermediate_get_stats(w->im)->resets_sent >= 1);
  CHECK(run(w, ready, 20 * SEC));
  size_t before = w->agent_rx;
  send_pings(w, 5, 20 * MS);
  run(w, NULL, 500 * MS);
  CHECK_EQ_INT(w->agent_rx - before, 5);
  world_free(w);
}

static void test_foreign_ca_refused(void) {
  struct world *w = world_new(&pem_evil); /* "alice", but from another CA */
  CHECK(!run(w, ready, 5 * SEC));
  CHECK(zt_intermediate_get_stats(w->im)->handshakes_refused >= 1);
  CHECK(!zt_agent_is_connected(w->agent));
  CHECK_EQ_INT(zt_intermediate_get_stats(w->im)->peers_accepted, 1); /* conn */
  world_free(w);
}

static bool connected_only(struct world *w) {
  return zt_agent_is_connected(w->agent) &&
         zt_connector_registered(w->conn) == 1 && zt_agent_tunnel_addr(w->agent);
}

static void test_policy_default_deny(void) {
  struct world *w = world_new(&pem_bob); /* no policy names bob */
  CHECK(run(w, connected_only, 10 * SEC));
  run(w, NULL, 500 * MS);
  CHECK_EQ_INT(w->n_routes, 0); /* no service pushed, no route */
  send_pings(w, 3, 20 * MS);
  CHECK_EQ_INT(w->agent_rx, 0);
  CHECK_EQ_INT(zt_agent_get_stats(w->agent)->tun_no_service, 3);
  world_free(w);
}

/* A misbehaving but authenticated agent: a raw QUIC connection that sends
 * garbage on the control stream and in datagrams. The Intermediate counts
 * and drops it all and still answers a good HELLO afterwards. */
struct raw_peer {
  struct zq_conn *q;
  struct zt_ctrl_reader reader;
  int welcomes;
};

static void raw_msg(void *ud, const struct zt_ctrl_msg *m) {
  struct raw_peer *r = ud;
  r->welcomes += m->type == ZT_MSG_WELCOME;
}
static void raw_stream(struct zq_conn *q, const uint8_t *d, size_t n, void *ud) {
  (void)q;
  zt_ctrl_reader_feed(&((struct raw_peer *)ud)->reader, d, n, raw_msg, ud);
}
static void raw_deliver(void *n, const struct sockaddr *f, socklen_t fl,
                        const uint8_t *p, size_t l, uint64_t now) {
  struct raw_peer *r = n;
  struct sim_host *h = &W->net.hosts[3];
  zq_read(r->q, (struct sockaddr *)&h->priv, sizeof(h->priv), f, fl, p, l, now);
}
static void raw_flush(struct raw_peer *r, struct sim_host *h) {
  uint8_t buf[1500];
  struct sockaddr_storage to;
  socklen_t tolen;
  ssize_t n;
  while ((n = zq_write(r->q, buf, sizeof(buf), &to, &tolen, W->net.now)) > 0)
    sim_udp_send(h, (struct sockaddr *)&to, tolen, buf, (size_t)n);
}
static void raw_run(struct world *w, struct raw_peer *r, struct sim_host *h,
                    uint64_t for_ns) {
  uint64_t end = w->net.now + for_ns;
  while (w->net.now < end) {
    raw_flush(r, h);
    run(w, NULL, 10 * MS);
    if (zq_expiry(r->q) <= w->net.now)
      zq_handle_expiry(r->q, w->net.now);
  }
  raw_flush(r, h);
}

static void test_bad_input_counted_and_survived(void) {
  struct world *w = world_new(&pem_alice);
  CHECK(run(w, ready, 10 * SEC));
  struct sim_host *h = sim_add_host(&w->net, "10.10.1.3", 40000, "198.51.100.2", 50002);
  struct raw_peer r = {0};
  struct zq_config cfg;
  char err[256];
  struct zt_tls_creds *cb = creds(&pem_bob);
  static const struct zq_handlers rh = {.on_stream = raw_stream};
  zq_config_defaults(&cfg);
  cfg.creds = cb;
  cfg.alpn = ZT_ALPN_OUTER;
  cfg.expect.roles = 1u << ZT_ROLE_INTERMEDIATE;
  zt_ctrl_reader_init(&r.reader);
  r.q = zq_client_new(&cfg, &rh, &r, (struct sockaddr *)&h->priv,
                      sizeof(h->priv), (struct sockaddr *)&w->hi->pub,
                      sizeof(w->hi->pub), w->net.now, err, sizeof(err));
  CHECK(r.q);
  h->node = &r;
  h->deliver = raw_deliver;

  /* Garbage UDP from nowhere: not a QUIC packet of any connection. */
  uint8_t junk[64];
  memset(junk, 0x41, sizeof(junk));
  sim_udp_send(h, (struct sockaddr *)&w->hi->pub, sizeof(w->hi->pub), junk, 5);
  sim_udp_send(h, (struct sockaddr *)&w->hi->pub, sizeof(w->hi->pub), junk, 64);
  raw_run(w, &r, h, 1 * SEC);
  CHECK(zq_is_ready(r.q));
  CHECK(zt_intermediate_get_stats(w->im)->packets_unknown >= 2);

  /* Control stream: an unknown type, a truncated HELLO body, an oversized
   * frame, a REGISTER from an agent, then a good HELLO. */
  static const uint8_t bad[] = {
      0x7f, 0x00, 0x02, 0xde, 0xad,       /* unknown type */
      ZT_MSG_HELLO, 0x00, 0x01, 0x01,     /* HELLO body too short */
      ZT_MSG_REGISTER, 0xff, 0xff,        /* oversized: 65535 bytes skipped */
  };
  CHECK_EQ_INT(zq_send_stream(r.q, bad, sizeof(bad)), 0);
  uint8_t *skip = calloc(1, 65535);
  CHECK_EQ_INT(zq_send_stream(r.q, skip, 65535), 0);
  free(skip);
  static const uint8_t reg[] = {ZT_MSG_REGISTER, 0x00, 0x05, 1, 3, 'w', 'e', 'b'};
  CHECK_EQ_INT(zq_send_stream(r.q, reg, sizeof(reg)), 0);
  static const uint8_t hello[] = {ZT_MSG_HELLO, 0x00, 0x05, 1, 0, 0, 0, 0};
  CHECK_EQ_INT(zq_send_stream(r.q, hello, sizeof(hello)), 0);

  /* Datagrams: too short for a relay header, wrong type, unknown channel. */
  static const uint8_t d1[] = {0x01, 0x00};
  static const uint8_t d2[] = {0x09, 0, 0, 0, 1, 0xaa};
  static const uint8_t d3[] = {ZT_RELAY_DATA, 0x12, 0x34, 0x56, 0x78, 0xaa};
  zq_send_datagram(r.q, d1, sizeof(d1));
  zq_send_datagram(r.q, d2, sizeof(d2));
  zq_send_datagram(r.q, d3, sizeof(d3));
  raw_run(w, &r, h, 2 * SEC);

  const struct zt_intermediate_stats *st = zt_intermediate_get_stats(w->im);
  CHECK_EQ_INT(st->relay_malformed, 2);
  CHECK_EQ_INT(st->relay_unknown_channel, 1);
  CHECK(st->ctrl_unexpected >= 1); /* REGISTER before... from an agent */
  CHECK(zq_is_ready(r.q));          /* the connection lives on */
  CHECK_EQ_INT(r.welcomes, 1);      /* and the good HELLO was answered */
  /* The real agent never noticed. */
  send_pings(w, 3, 20 * MS);
  run(w, NULL, 300 * MS);
  CHECK_EQ_INT(w->agent_rx, 3);
  h->node = NULL;
  zq_free(r.q);
  zt_tls_creds_free(cb);
  world_free(w);
}

static void quiet_sink(enum zt_log_level level, const char *line, void *ud) {
  (void)ud;
  if (getenv("SIM_VERBOSE") || level == ZT_LOG_ERROR)
    fprintf(stderr, "  [log] %s\n", line);
}

int main(void) {
  zt_log_set_sink(quiet_sink, NULL);
  if (getenv("SIM_VERBOSE"))
    zt_log_set_level(ZT_LOG_DEBUG);
  RUN(test_ping_through_relay);
  RUN(test_lossy_reordering_link);
  RUN(test_largest_packet_fits);
  RUN(test_nat_rebinding);
  RUN(test_intermediate_restart);
  RUN(test_restart_stateless_reset);
  RUN(test_foreign_ca_refused);
  RUN(test_policy_default_deny);
  RUN(test_bad_input_counted_and_survived);
  zt_pem_free(&ca);
  zt_pem_free(&ca2);
  zt_pem_free(&pem_im);
  zt_pem_free(&pem_conn);
  zt_pem_free(&pem_alice);
  zt_pem_free(&pem_bob);
  zt_pem_free(&pem_evil);
  return TEST_EXIT();
}

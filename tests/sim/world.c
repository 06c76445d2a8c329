/* The simulated deployment. See world.h. */
#include "world.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "dnstun.h"
#include "e2e.h"
#include "ippkt.h"
#include "steer.h"
#include "log.h"
#include "relay.h"
#include "wire.h"

/* ---- certificates ------------------------------------------------------- */

struct sim_pki pki;

void sim_pki_init(void) {
  char err[256];
  if (pki.ca.cert)
    return;
  struct {
    struct zt_pem *out;
    struct zt_pem *ca;
    enum zt_role role;
    const char *name;
  } certs[] = {
      {&pki.im, &pki.ca, ZT_ROLE_INTERMEDIATE, "intermediate"},
      {&pki.conn, &pki.ca, ZT_ROLE_CONNECTOR, "conn-a"},
      {&pki.conn_b, &pki.ca, ZT_ROLE_CONNECTOR, "conn-b"},
      {&pki.alice, &pki.ca, ZT_ROLE_AGENT, "alice"},
      {&pki.bob, &pki.ca, ZT_ROLE_AGENT, "bob"},
      {&pki.carol, &pki.ca, ZT_ROLE_AGENT, "carol"},
      {&pki.evil, &pki.ca2, ZT_ROLE_AGENT, "alice"},
  };
  if (zt_cert_make_ca("sim-ca", 1, &pki.ca, err, sizeof(err)) ||
      zt_cert_make_ca("other-ca", 1, &pki.ca2, err, sizeof(err)))
    goto fail;
  for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
    if (zt_cert_issue(certs[i].ca, certs[i].role, certs[i].name, 1, NULL, NULL,
                      certs[i].out, err, sizeof(err)))
      goto fail;
  return;
fail:
  fprintf(stderr, "certgen: %s\n", err);
  exit(1);
}

void sim_pki_free(void) {
  struct zt_pem *all[] = {&pki.ca,    &pki.ca2,   &pki.im,  &pki.conn,
                          &pki.conn_b, &pki.alice, &pki.bob, &pki.carol,
                          &pki.evil};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    zt_pem_free(all[i]);
}

struct zt_tls_creds *sim_creds(const struct zt_pem *p) {
  char err[256];
  struct zt_tls_creds *c = zt_tls_creds_from_pem(pki.ca.cert, p->cert, p->key,
                                                 err, sizeof(err));
  if (!c) {
    fprintf(stderr, "creds: %s\n", err);
    exit(1);
  }
  return c;
}

/* ---- node I/O ----------------------------------------------------------- */

static void intermediate_udp(void *ud, const struct sockaddr *to,
                             socklen_t tolen, const uint8_t *d, size_t n) {
  sim_udp_send(ud, to, tolen, d, n);
}

static void agent_udp(void *ud, const struct sockaddr *to, socklen_t tolen,
                      const uint8_t *d, size_t n) {
  sim_udp_send(((struct sim_agent *)ud)->h, to, tolen, d, n);
}

static void conn_udp(void *ud, const struct sockaddr *to, socklen_t tolen,
                     const uint8_t *d, size_t n) {
  sim_udp_send(((struct sim_conn *)ud)->h, to, tolen, d, n);
}

/* Answers like the backend host behind NAT would: echo replies from the
 * service address back to the agent. */
static void conn_tun_write(void *ud, const uint8_t *pkt, size_t len) {
  struct sim_conn *c = ud;
  struct zt_ip_info ip;
  if (zt_ip_parse(pkt, len, &ip) != 0 || c->kq_n == MAX_REPLIES)
    return;
  c->delivered++;
  c->last_len = len;
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
  c->kq[c->kq_n] = r;
  c->kq_len[c->kq_n++] = len;
}

static void conn_route(void *ud, uint32_t addr, bool add) {
  (void)addr;
  (void)add;
  ((struct sim_conn *)ud)->route_changes++;
}

static void conn_forget(void *ud, uint32_t addr) {
  struct sim_conn *c = ud;
  c->forgets++;
  c->last_forgot = addr;
}

/* The agent's TUN: only packets from a service address (or the agent's
 * DNS address, when it answers DNS) are good. */
static void agent_tun_write(void *ud, const uint8_t *pkt, size_t len) {
  struct sim_agent *a = ud;
  struct zt_ip_info ip;
  if (zt_ip_parse(pkt, len, &ip) != 0 ||
      (ip.src != SIM_VIP && ip.src != SIM_VIP2 &&
       !(a->w->agent_dns && ip.src == ZT_DNS_DEFAULT_ADDR))) {
    a->rx_bad++;
    return;
  }
  a->rx++;
  a->rx_bytes += len;
  a->last_len = len;
  memcpy(a->last, pkt, len < sizeof(a->last) ? len : sizeof(a->last));
}

static void agent_route(void *ud, uint32_t vip, bool add) {
  struct sim_agent *a = ud;
  if (add) {
    a->route_adds++;
    for (size_t i = 0; i < a->n_routes; i++)
      if (a->routes[i] == vip)
        return;
    if (a->n_routes < sizeof(a->routes) / sizeof(a->routes[0]))
      a->routes[a->n_routes++] = vip;
    return;
  }
  for (size_t i = 0; i < a->n_routes; i++)
    if (a->routes[i] == vip)
      a->routes[i] = a->routes[--a->n_routes];
}

/* With workers, the daemon's loops: a worker looks at its expiry again
 * after each of its own calls and when another one wakes it (io->wake),
 * never otherwise, so a change that forgets to wake its owner shows here as
 * a timer that never fires. (A test that calls a control entry point of a
 * world with workers, such as a reload, calls worker_called(w, 0) after
 * it, as the daemon's main loop rearms worker 0 after its callbacks.) */
static void sim_wake(void *ud) {
  struct sim_im_worker *sw = ud;
  sw->woken = true;
}

static void worker_called(struct world *w, unsigned i) {
  w->imw[i].due = zt_intermediate_worker_expiry(w->im, i);
}

static void drain_workers(struct world *w, uint64_t now) {
  unsigned n = zt_intermediate_workers(w->im);
  for (bool again = true; again;) {
    again = false;
    for (unsigned i = 0; i < n; i++)
      if (w->imw[i].woken) {
        w->imw[i].woken = false;
        zt_intermediate_worker_mail(w->im, i, now);
        worker_called(w, i);
        again = true;
      }
  }
}

/* With workers, the kernel's steering (core/steer.h, the program's
 * rules); a first Initial, whose DCID the client made up, by its source
 * port instead, so that a test chooses where a peer lands by its port. */
static unsigned steer(struct zt_intermediate *im, const struct sockaddr *f,
                      const uint8_t *p, size_t l) {
  unsigned n = zt_intermediate_workers(im);
  if (zq_packet_is_initial(p, l))
    return ntohs(((const struct sockaddr_in *)f)->sin_port) % n;
  int i = zt_steer_worker(p, l, n);
  return i < 0 ? 0 : (unsigned)i; /* the kernel's hash: any one will do */
}

static void deliver_i(void *n, const struct sockaddr *f, socklen_t fl,
                      const uint8_t *p, size_t l, uint64_t now) {
  if (n != sim_world->im || zt_intermediate_workers(n) <= 1) {
    zt_intermediate_feed_udp(n, f, fl, p, l, now);
    return;
  }
  unsigned i = steer(n, f, p, l);
  zt_intermediate_worker_feed_udp(n, i, f, fl, p, l, now);
  worker_called(sim_world, i);
  drain_workers(sim_world, now);
}

static void deliver_c(void *n, const struct sockaddr *f, socklen_t fl,
                      const uint8_t *p, size_t l, uint64_t now) {
  zt_connector_feed_udp(((struct sim_conn *)n)->conn, f, fl, p, l, now);
}
static void deliver_a(void *n, const struct sockaddr *f, socklen_t fl,
                      const uint8_t *p, size_t l, uint64_t now) {
  zt_agent_feed_udp(((struct sim_agent *)n)->agent, f, fl, p, l, now);
}

/* ---- the deployment ----------------------------------------------------- */

/* The Intermediate's disk: what it saved survives world_stop_intermediate
 * and is loaded again at the next start. */
struct world *sim_world;

/* The io's ud is the Intermediate's host, which knows no world: there is
 * one world at a time, so the global does. */
static void intermediate_save_state(void *ud, const char *text, size_t len) {
  (void)ud;
  free(sim_world->state);
  sim_world->state = malloc(len + 1);
  memcpy(sim_world->state, text, len);
  sim_world->state[len] = '\0';
  sim_world->state_len = len;
  sim_world->state_saves++;
}

void world_start_intermediate(struct world *w) {
  char err[128];
  w->im = zt_intermediate_new(&w->icfg, w->ci, &w->io_i,
                              (struct sockaddr *)&w->hi->priv,
                              sizeof(w->hi->priv));
  for (unsigned i = 1; i < w->im_workers; i++) { /* one host, one socket */
    w->io_w[i] = w->io_i;
    if (zt_intermediate_add_worker(w->im, &w->io_w[i]) != 0)
      exit(1);
  }
  for (unsigned i = 0; i < w->im_workers; i++) {
    struct zt_io *io = i ? &w->io_w[i] : &w->io_i;
    w->imw[i] = (struct sim_im_worker){.idx = i};
    io->wake = sim_wake;
    io->wake_ud = &w->imw[i];
    worker_called(w, i);
  }
  if (w->state && zt_intermediate_load_state(w->im, w->state, w->state_len,
                                             err, sizeof(err)) != 0) {
    fprintf(stderr, "load state: %s\n", err);
    exit(1);
  }
  w->hi->node = w->im;
}

void world_stop_intermediate(struct world *w) {
  zt_intermediate_free(w->im);
  w->im = NULL;
  w->hi->node = NULL;
}

void world_start_intermediate2(struct world *w) {
  w->im2 = zt_intermediate_new(&w->icfg, w->ci, &w->io_i2,
                               (struct sockaddr *)&w->hi2->priv,
                               sizeof(w->hi2->priv));
  w->hi2->node = w->im2;
}

void world_stop_intermediate2(struct world *w) {
  zt_intermediate_free(w->im2);
  w->im2 = NULL;
  w->hi2->node = NULL;
}

struct sim_agent *world_add_agent(struct world *w, const struct zt_pem *pem,
                                  uint16_t pub_port) {
  char priv[32];
  struct sim_agent *a = &w->a[w->n_agents];
  snprintf(priv, sizeof(priv), "10.10.%zu.2", w->n_agents + 1);
  memset(a, 0, sizeof(*a));
  a->w = w;
  a->h = sim_add_host(&w->net, priv, 40000, "198.51.100.2", pub_port);
  a->h->deliver = deliver_a;
  a->creds = sim_creds(pem);
  a->io = (struct zt_io){.ud = a,
                         .udp_send = agent_udp,
                         .tun_write = agent_tun_write,
                         .route = agent_route,
                         .wall_clock = sim_wall_clock};
  struct zt_agent_options ao = {
      .creds = a->creds,
      .intermediate_name = "intermediate",
      .local = (struct sockaddr *)&a->h->priv,
      .locallen = sizeof(a->h->priv),
      .server = (struct sockaddr *)&w->hi->pub,
      .serverlen = sizeof(w->hi->pub),
      /* the daemon's default service_range (config.c): 10.100.0.0/16 */
      .service_range = 0x0a640000u,
      .service_range_len = 16,
      .direct = w->agent_direct,
      .dns_domain = w->agent_dns ? ZT_DNS_DEFAULT_DOMAIN : NULL,
      .dns_addr = w->agent_dns ? ZT_DNS_DEFAULT_ADDR : 0,
  };
  socklen_t im2len = sizeof(struct sockaddr_in);
  if (w->hi2) {
    ao.n_more_servers = 1;
    ao.more_servers = &w->im2_addr;
    ao.more_serverlens = &im2len;
  }
  a->agent = zt_agent_new(&ao, &a->io, w->net.now);
  a->h->node = a;
  w->n_agents++;
  return a;
}

void world_stop_agent(struct sim_agent *a) {
  zt_agent_free(a->agent);
  a->agent = NULL;
  a->h->node = NULL;
}

static void conn_start(struct world *w, struct sim_conn *c) {
  struct zt_connector_options co = {
      .creds = c->creds,
      .intermediate_name = "intermediate",
      .local = (struct sockaddr *)&c->h->priv,
      .locallen = sizeof(c->h->priv),
      .server = (struct sockaddr *)&w->hi->pub,
      .serverlen = sizeof(w->hi->pub),
      .cfg = &c->cfg,
  };
  socklen_t im2len = sizeof(struct sockaddr_in);
  if (w->hi2) {
    co.n_more_servers = 1;
    co.more_servers = &w->im2_addr;
    co.more_serverlens = &im2len;
  }
  c->conn = zt_connector_new(&co, &c->io, w->net.now);
  c->h->node = c;
}

void world_stop_connector(struct sim_conn *c, bool clean) {
  if (clean)
    zt_connector_shutdown(c->conn, c->w->net.now);
  zt_connector_free(c->conn);
  c->conn = NULL;
  c->h->node = NULL;
  if (c == &c->w->c[0])
    c->w->conn = NULL;
}

void world_start_connector(struct sim_conn *c) {
  conn_start(c->w, c);
  if (c == &c->w->c[0])
    c->w->conn = c->conn;
}

struct sim_conn *world_add_connector(struct world *w, const struct zt_pem *pem,
                                     const struct zt_connector_config *cfg,
                                     uint16_t pub_port) {
  char priv[32];
  struct sim_conn *c = &w->c[w->n_conns];
  snprintf(priv, sizeof(priv), "10.20.%zu.2", w->n_conns + 1);
  memset(c, 0, sizeof(*c));
  c->w = w;
  c->cfg = *cfg;
  c->h = sim_add_host(&w->net, priv, 40000, "198.51.100.3", pub_port);
  c->h->deliver = deliver_c;
  c->creds = sim_creds(pem);
  c->io = (struct zt_io){.ud = c,
                         .udp_send = conn_udp,
                         .tun_write = conn_tun_write,
                         .route = conn_route,
                         .forget_addr = conn_forget,
                         .wall_clock = sim_wall_clock};
  conn_start(w, c);
  w->n_conns++;
  return c;
}

static void default_config(struct world *w) {
  zt_intermediate_config_defaults(&w->icfg);
  w->icfg.n_services = 1;
  snprintf(w->icfg.services[0].name, sizeof(w->icfg.services[0].name), "echo");
  snprintf(w->icfg.services[0].connector, sizeof(w->icfg.services[0].connector),
           "conn-a");
  w->icfg.services[0].address = SIM_VIP;
  w->icfg.n_policy = 1;
  snprintf(w->icfg.policy[0].agent, sizeof(w->icfg.policy[0].agent), "alice");
  w->icfg.policy[0].n_services = 1;
  snprintf(w->icfg.policy[0].services[0], sizeof(w->icfg.policy[0].services[0]),
           "echo");

  struct zt_connector_config *cc = &w->c[0].cfg;
  zt_connector_config_defaults(cc);
  cc->n_services = 1;
  snprintf(cc->services[0].name, sizeof(cc->services[0].name), "echo");
  cc->services[0].backend = SIM_BACKEND;
  cc->services[0].n_rules = 2;
  cc->services[0].rules[0] = (struct zt_port_rule){17, 7, 7};
  cc->services[0].rules[1] = (struct zt_port_rule){1, 0, 0};
}

void world_echo_and_web(struct world *w) {
  struct zt_intermediate_config *ic = &w->icfg;
  ic->n_services = 2;
  snprintf(ic->services[1].name, sizeof(ic->services[1].name), "web");
  snprintf(ic->services[1].connector, sizeof(ic->services[1].connector),
           "conn-a");
  ic->services[1].address = SIM_VIP2;
  struct zt_connector_config *cc = &w->c[0].cfg;
  cc->n_services = 2;
  cc->services[1] = cc->services[0];
  snprintf(cc->services[1].name, sizeof(cc->services[1].name), "web");
}

int64_t sim_wall_clock(void *ud) {
  (void)ud;
  return sim_world->wall_base + sim_world->wall_skew +
         (int64_t)(sim_world->net.now / 1000000000ull);
}

struct world *world_new_with(const struct zt_pem *agent_pem,
                             void (*edit)(struct world *w)) {
  struct world *w = calloc(1, sizeof(*w));
  sim_pki_init();
  sim_init(&w->net, 42);
  w->hi = sim_add_host(&w->net, "198.51.100.1", 4433, NULL, 0);
  w->hi->deliver = deliver_i;
  sim_world = w;
  w->wall_base = (int64_t)time(NULL);
  w->io_i = (struct zt_io){.ud = w->hi,
                           .udp_send = intermediate_udp,
                           .save_state = intermediate_save_state,
                           .wall_clock = sim_wall_clock};
  default_config(w);
  if (edit)
    edit(w);
  w->ci = sim_creds(&pki.im);
  world_start_intermediate(w);
  if (w->second_im) {
    w->hi2 = sim_add_host(&w->net, "198.51.100.4", 4433, NULL, 0);
    w->hi2->deliver = deliver_i;
    w->io_i2 = (struct zt_io){.ud = w->hi2, .udp_send = intermediate_udp};
    memcpy(&w->im2_addr, &w->hi2->pub, sizeof(w->hi2->pub));
    world_start_intermediate2(w);
  }
  struct zt_connector_config cc = w->c[0].cfg;
  world_add_connector(w, &pki.conn, &cc, 50000);
  w->conn = w->c[0].conn;
  w->hc = w->c[0].h;
  if (agent_pem) {
    world_add_agent(w, agent_pem, 50001);
    w->agent = w->a[0].agent;
    w->ha = w->a[0].h;
  }
  return w;
}

struct world *world_new(const struct zt_pem *agent_pem) {
  return world_new_with(agent_pem, NULL);
}

void world_free(struct world *w) {
  if (w->fake)
    fake_im_free(w->fake);
  while (w->n_raw)
    raw_peer_free(w->raw[w->n_raw - 1]);
  for (size_t i = 0; i < w->n_agents; i++) {
    zt_agent_free(w->a[i].agent);
    zt_tls_creds_free(w->a[i].creds);
  }
  for (size_t i = 0; i < w->n_conns; i++) {
    zt_connector_free(w->c[i].conn);
    zt_tls_creds_free(w->c[i].creds);
    for (size_t k = 0; k < w->c[i].kq_n; k++)
      free(w->c[i].kq[k]);
  }
  zt_intermediate_free(w->im);
  zt_intermediate_free(w->im2);
  zt_tls_creds_free(w->ci);
  free(w->state);
  sim_free(&w->net);
  free(w);
}

/* ---- raw peers ---------------------------------------------------------- */

static void raw_msg(void *ud, const struct zt_ctrl_msg *m) {
  struct raw_peer *r = ud;
  r->got[m->type]++;
  r->last[m->type] = *m;
}

static void raw_stream(struct zq_conn *q, const uint8_t *d, size_t n,
                       void *ud) {
  (void)q;
  zt_ctrl_reader_feed(&((struct raw_peer *)ud)->reader, d, n, raw_msg, ud);
}

static void raw_inner_datagram(struct zq_conn *q, const uint8_t *d, size_t n,
                               void *ud) {
  struct raw_peer *r = ud;
  (void)q;
  r->inner_rx++;
  r->inner_last_len = n < sizeof(r->inner_last) ? n : sizeof(r->inner_last);
  memcpy(r->inner_last, d, r->inner_last_len);
}

static const struct zq_handlers raw_inner_handlers = {
    .on_datagram = raw_inner_datagram,
};

/* Relay frames on the raw peer's own inner channel feed its inner session
 * (the connector end starts it on the first one). */
static void raw_inner_relay(struct raw_peer *r, const uint8_t *d, size_t n) {
  uint32_t id;
  const uint8_t *p;
  size_t plen;
  if (zt_relay_parse(d, n, &id, &p, &plen) != 0)
    return;
  if (r->inner_listening && !r->inner && !r->inner_channel)
    r->inner_channel = id; /* listening on "the next channel" */
  if (id != r->inner_channel)
    return;
  if (!r->inner && r->inner_listening) {
    struct zq_config cfg;
    char err[256];
    zt_e2e_config(&cfg, r->creds, ZT_ROLE_AGENT, r->inner_peer);
    r->inner = zq_server_accept(
        &cfg, &raw_inner_handlers, r,
        (const struct sockaddr *)&zt_e2e_connector_addr,
        sizeof(zt_e2e_connector_addr),
        (const struct sockaddr *)&zt_e2e_agent_addr, sizeof(zt_e2e_agent_addr),
        p, plen, r->w->net.now, err, sizeof(err));
    if (!r->inner)
      fprintf(stderr, "raw inner accept: %s\n", err);
    return;
  }
  if (r->inner)
    zt_e2e_feed(r->inner, r->inner_at_agent, p, plen, r->w->net.now);
}

static void raw_datagram(struct zq_conn *q, const uint8_t *d, size_t n,
                         void *ud) {
  (void)q;
  ((struct raw_peer *)ud)->dgrams++;
  raw_inner_relay(ud, d, n);
}

static void raw_deliver(void *n, const struct sockaddr *f, socklen_t fl,
                        const uint8_t *p, size_t l, uint64_t now) {
  struct raw_peer *r = n;
  zq_read(r->q, (struct sockaddr *)&r->h->priv, sizeof(r->h->priv), f, fl, p,
          l, now);
}

static void raw_flush(struct raw_peer *r) {
  uint8_t buf[1500];
  struct sockaddr_storage to;
  socklen_t tolen;
  ssize_t n;
  /* The inner session's packets first: they become relay frames. */
  while (r->inner && (n = zq_write(r->inner, buf + ZT_RELAY_HDR_LEN,
                                   ZT_INNER_UDP_PAYLOAD, &to, &tolen,
                                   r->w->net.now)) > 0) {
    zt_relay_write_hdr(buf, r->inner_channel);
    zq_send_datagram(r->q, buf, (size_t)n + ZT_RELAY_HDR_LEN);
  }
  while ((n = zq_write(r->q, buf, sizeof(buf), &to, &tolen, r->w->net.now)) >
         0)
    sim_udp_send(r->h, (struct sockaddr *)&to, tolen, buf, (size_t)n);
}

struct raw_peer *raw_peer_new(struct world *w, const struct zt_pem *pem,
                              uint16_t pub_port) {
  static const struct zq_handlers rh = {.on_stream = raw_stream,
                                        .on_datagram = raw_datagram};
  struct raw_peer *r = calloc(1, sizeof(*r));
  struct zq_config cfg;
  char err[256], priv[32];
  snprintf(priv, sizeof(priv), "10.40.%zu.2", w->n_raw + 1);
  r->w = w;
  r->last = calloc(256, sizeof(*r->last));
  r->h = sim_add_host(&w->net, priv, 40000, "198.51.100.4", pub_port);
  r->h->deliver = raw_deliver;
  r->creds = sim_creds(pem);
  zq_config_defaults(&cfg);
  cfg.creds = r->creds;
  cfg.alpn = ZT_ALPN_OUTER;
  cfg.expect.roles = 1u << ZT_ROLE_INTERMEDIATE;
  zt_ctrl_reader_init(&r->reader);
  r->q = zq_client_new(&cfg, &rh, r, (struct sockaddr *)&r->h->priv,
                       sizeof(r->h->priv), (struct sockaddr *)&w->hi->pub,
                       sizeof(w->hi->pub), w->net.now, err, sizeof(err));
  if (!r->q) {
    fprintf(stderr, "raw peer: %s\n", err);
    free(r->last);
    zt_tls_creds_free(r->creds);
    free(r);
    return NULL;
  }
  r->h->node = r;
  w->raw[w->n_raw++] = r;
  raw_flush(r);
  return r;
}

int raw_send_msg(struct raw_peer *r, const struct zt_ctrl_msg *m) {
  uint8_t buf[ZT_CTRL_HDR_LEN + ZT_CTRL_BODY_MAX];
  int n = zt_ctrl_encode(m, buf, sizeof(buf));
  if (n < 0)
    return -1;
  int rv = zq_send_stream(r->q, buf, (size_t)n);
  raw_flush(r);
  return rv;
}

int raw_send_relay(struct raw_peer *r, uint32_t channel, const uint8_t *p,
                   size_t len) {
  uint8_t buf[ZT_OUTER_DGRAM_MAX];
  if (len + ZT_RELAY_HDR_LEN > sizeof(buf))
    return -1;
  zt_relay_write_hdr(buf, channel);
  memcpy(buf + ZT_RELAY_HDR_LEN, p, len);
  int rv = zq_send_datagram(r->q, buf, len + ZT_RELAY_HDR_LEN);
  raw_flush(r);
  return rv;
}

void raw_peer_free(struct raw_peer *r) {
  struct world *w = r->w;
  for (size_t i = 0; i < w->n_raw; i++)
    if (w->raw[i] == r)
      w->raw[i] = w->raw[--w->n_raw];
  r->h->node = NULL;
  zq_free(r->inner);
  zq_free(r->q);
  zt_tls_creds_free(r->creds);
  zt_tls_creds_free(r->inner_creds);
  free(r->last);
  free(r);
}

bool raw_ready(const struct raw_peer *r) {
  return zq_is_ready(r->q) && !zq_is_dead(r->q);
}
bool raw_dead(const struct raw_peer *r) { return zq_is_dead(r->q); }

/* ---- a fake Intermediate ------------------------------------------------ */

static void fake_msg(void *ud, const struct zt_ctrl_msg *m) {
  struct fake_im *f = ((struct fake_im_peer *)ud)->f;
  f->got[m->type]++;
  if (m->type == ZT_MSG_SESSION_CLOSE && f->n_closed < 256) {
    f->closed_status[f->n_closed] = m->u.session_close.status;
    f->closed[f->n_closed++] = m->u.session_close.channel;
  }
}

static void fake_stream(struct zq_conn *q, const uint8_t *d, size_t n,
                        void *ud) {
  (void)q;
  zt_ctrl_reader_feed(&((struct fake_im_peer *)ud)->reader, d, n, fake_msg,
                      ud);
}

static const struct zq_handlers fake_handlers = {.on_stream = fake_stream};

static void fake_flush(struct fake_im *f) {
  uint8_t buf[1500];
  struct sockaddr_storage to;
  socklen_t tolen;
  ssize_t n;
  for (size_t i = 0; i < f->n_peers; i++)
    while ((n = zq_write(f->peers[i].q, buf, sizeof(buf), &to, &tolen,
                         f->w->net.now)) > 0)
      sim_udp_send(f->w->hi, (struct sockaddr *)&to, tolen, buf, (size_t)n);
}

static void fake_deliver(void *n, const struct sockaddr *from, socklen_t fl,
                         const uint8_t *p, size_t l, uint64_t now) {
  struct fake_im *f = n;
  const struct sockaddr_in *sin = (const struct sockaddr_in *)from;
  struct sockaddr *local = (struct sockaddr *)&f->w->hi->priv;
  for (size_t i = 0; i < f->n_peers; i++) {
    struct fake_im_peer *pe = &f->peers[i];
    if (pe->addr.sin_addr.s_addr == sin->sin_addr.s_addr &&
        pe->addr.sin_port == sin->sin_port) {
      zq_read(pe->q, local, sizeof(f->w->hi->priv), from, fl, p, l, now);
      fake_flush(f);
      return;
    }
  }
  if (f->n_peers == FAKE_IM_MAX_PEERS || !zq_packet_is_initial(p, l))
    return;
  struct zq_config cfg;
  char err[256];
  zq_config_defaults(&cfg);
  cfg.creds = f->creds;
  cfg.alpn = ZT_ALPN_OUTER;
  cfg.expect.roles = 1u << ZT_ROLE_AGENT | 1u << ZT_ROLE_CONNECTOR;
  struct fake_im_peer *pe = &f->peers[f->n_peers];
  memset(pe, 0, sizeof(*pe));
  pe->f = f;
  pe->addr = *sin;
  zt_ctrl_reader_init(&pe->reader);
  pe->q = zq_server_accept(&cfg, &fake_handlers, pe, local,
                           sizeof(f->w->hi->priv), from, fl, p, l, now, err,
                           sizeof(err));
  if (!pe->q)
    return;
  f->n_peers++;
  fake_flush(f);
}

struct fake_im *fake_im_new(struct world *w) {
  struct fake_im *f = calloc(1, sizeof(*f));
  if (w->im)
    world_stop_intermediate(w);
  f->w = w;
  f->creds = sim_creds(&pki.im);
  w->hi->deliver = fake_deliver;
  w->hi->node = f;
  w->fake = f;
  return f;
}

void fake_im_free(struct fake_im *f) {
  for (size_t i = 0; i < f->n_peers; i++)
    zq_free(f->peers[i].q);
  zt_tls_creds_free(f->creds);
  f->w->fake = NULL;
  f->w->hi->node = NULL;
  f->w->hi->deliver = deliver_i;
  free(f);
}

struct zq_conn *fake_im_peer(struct fake_im *f, enum zt_role role,
                             const char *name) {
  for (size_t i = 0; i < f->n_peers; i++) {
    struct zq_conn *q = f->peers[i].q;
    if (zq_is_ready(q) && !zq_is_dead(q) && zq_peer_role(q) == role &&
        (!name || strcmp(zq_peer_name(q), name) == 0))
      return q;
  }
  return NULL;
}

int fake_im_send(struct fake_im *f, struct zq_conn *q,
                 const struct zt_ctrl_msg *m) {
  uint8_t buf[ZT_CTRL_HDR_LEN + ZT_CTRL_BODY_MAX];
  int n = zt_ctrl_encode(m, buf, sizeof(buf));
  if (n < 0)
    return -1;
  int rv = zq_send_stream(q, buf, (size_t)n);
  fake_flush(f);
  return rv;
}

int fake_im_relay(struct fake_im *f, struct zq_conn *q, uint32_t channel,
                  const uint8_t *p, size_t len) {
  uint8_t buf[ZT_OUTER_DGRAM_MAX];
  if (len + ZT_RELAY_HDR_LEN > sizeof(buf))
    return -1;
  zt_relay_write_hdr(buf, channel);
  memcpy(buf + ZT_RELAY_HDR_LEN, p, len);
  int rv = zq_send_datagram(q, buf, len + ZT_RELAY_HDR_LEN);
  fake_flush(f);
  return rv;
}

bool fake_im_closed(const struct fake_im *f, uint32_t channel) {
  for (size_t i = 0; i < f->n_closed; i++)
    if (f->closed[i] == channel)
      return true;
  return false;
}

int raw_inner_dial(struct raw_peer *r, uint32_t channel,
                   const char *connector) {
  return raw_inner_dial_as(r, channel, connector, NULL);
}

int raw_inner_dial_as(struct raw_peer *r, uint32_t channel,
                      const char *connector, const struct zt_pem *as) {
  struct zq_config cfg;
  char err[256];
  r->inner_channel = channel;
  r->inner_at_agent = true;
  snprintf(r->inner_peer, sizeof(r->inner_peer), "%s", connector);
  if (as && !r->inner_creds)
    r->inner_creds = sim_creds(as);
  zt_e2e_config(&cfg, as ? r->inner_creds : r->creds, ZT_ROLE_CONNECTOR,
                r->inner_peer);
  r->inner = zq_client_new(
      &cfg, &raw_inner_handlers, r, (const struct sockaddr *)&zt_e2e_agent_addr,
      sizeof(zt_e2e_agent_addr),
      (const struct sockaddr *)&zt_e2e_connector_addr,
      sizeof(zt_e2e_connector_addr), r->w->net.now, err, sizeof(err));
  if (!r->inner) {
    fprintf(stderr, "raw inner dial: %s\n", err);
    return -1;
  }
  raw_flush(r);
  return 0;
}

void raw_inner_listen(struct raw_peer *r, uint32_t channel,
                      const char *agent) {
  r->inner_channel = channel;
  r->inner_at_agent = false;
  r->inner_listening = true;
  snprintf(r->inner_peer, sizeof(r->inner_peer), "%s", agent);
}

bool raw_inner_ready(const struct raw_peer *r) {
  return r->inner && zq_is_ready(r->inner) && !zq_is_dead(r->inner);
}

int raw_inner_send(struct raw_peer *r, const uint8_t *pkt, size_t len) {
  if (!r->inner)
    return -1;
  int rv = zq_send_datagram(r->inner, pkt, len);
  raw_flush(r);
  return rv;
}

/* ---- running ------------------------------------------------------------ */

static uint64_t world_next(struct world *w) {
  uint64_t t = sim_next(&w->net);
#define EARLIER(x)                                                             \
  do {                                                                         \
    uint64_t e_ = (x);                                                         \
    if (e_ < t)                                                                \
      t = e_;                                                                  \
  } while (0)
  if (w->im && zt_intermediate_workers(w->im) > 1) {
    for (unsigned i = 0; i < zt_intermediate_workers(w->im); i++)
      EARLIER(w->imw[i].due);
  } else if (w->im) {
    EARLIER(zt_intermediate_expiry(w->im));
  }
  if (w->im2)
    EARLIER(zt_intermediate_expiry(w->im2));
  for (size_t i = 0; i < w->n_conns; i++)
    if (w->c[i].conn)
      EARLIER(zt_connector_expiry(w->c[i].conn));
  for (size_t i = 0; i < w->n_agents; i++)
    if (w->a[i].agent)
      EARLIER(zt_agent_expiry(w->a[i].agent));
  for (size_t i = 0; i < w->n_raw; i++) {
    EARLIER(zq_expiry(w->raw[i]->q));
    if (w->raw[i]->inner)
      EARLIER(zq_expiry(w->raw[i]->inner));
  }
  if (w->fake)
    for (size_t i = 0; i < w->fake->n_peers; i++)
      EARLIER(zq_expiry(w->fake->peers[i].q));
#undef EARLIER
  return t;
}

static void world_expire(struct world *w) {
  uint64_t now = w->net.now;
  if (w->im && zt_intermediate_workers(w->im) > 1) {
    for (unsigned i = 0; i < zt_intermediate_workers(w->im); i++)
      if (w->imw[i].due <= now) {
        zt_intermediate_worker_handle_expiry(w->im, i, now);
        worker_called(w, i);
        drain_workers(w, now);
      }
  } else if (w->im && zt_intermediate_expiry(w->im) <= now) {
    zt_intermediate_handle_expiry(w->im, now);
  }
  if (w->im2 && zt_intermediate_expiry(w->im2) <= now)
    zt_intermediate_handle_expiry(w->im2, now);
  for (size_t i = 0; i < w->n_conns; i++)
    if (w->c[i].conn && zt_connector_expiry(w->c[i].conn) <= now)
      zt_connector_handle_expiry(w->c[i].conn, now);
  for (size_t i = 0; i < w->n_agents; i++)
    if (w->a[i].agent && zt_agent_expiry(w->a[i].agent) <= now)
      zt_agent_handle_expiry(w->a[i].agent, now);
  for (size_t i = 0; i < w->n_raw; i++) {
    struct raw_peer *r = w->raw[i];
    if (zq_expiry(r->q) <= now)
      zq_handle_expiry(r->q, now);
    if (r->inner && zq_expiry(r->inner) <= now)
      zq_handle_expiry(r->inner, now);
    raw_flush(r);
  }
  if (w->fake) {
    for (size_t i = 0; i < w->fake->n_peers; i++)
      if (zq_expiry(w->fake->peers[i].q) <= now)
        zq_handle_expiry(w->fake->peers[i].q, now);
    fake_flush(w->fake);
  }
}

bool world_run(struct world *w, bool (*done)(struct world *),
               uint64_t for_ns) {
  uint64_t deadline = w->net.now + for_ns;
  for (size_t i = 0; i < w->n_raw; i++)
    raw_flush(w->raw[i]);
  while (w->net.now < deadline) {
    /* Each "kernel" answers; its replies are read from the TUN device. */
    for (size_t i = 0; i < w->n_conns; i++) {
      struct sim_conn *c = &w->c[i];
      for (size_t k = 0; k < c->kq_n; k++) {
        if (c->conn)
          zt_connector_feed_tun(c->conn, c->kq[k], c->kq_len[k], w->net.now);
        free(c->kq[k]);
      }
      c->kq_n = 0;
    }
    if (done && done(w))
      return true;
    uint64_t t = world_next(w);
    if (t > deadline)
      t = deadline;
    if (t > w->net.now)
      w->net.now = t;
    sim_deliver_until(&w->net, w->net.now);
    for (size_t i = 0; i < w->n_raw; i++)
      raw_flush(w->raw[i]);
    world_expire(w);
  }
  return done ? done(w) : true;
}

bool world_ready(struct world *w) {
  struct sim_agent *a = &w->a[0];
  return a->agent && zt_agent_is_connected(a->agent) &&
         zt_connector_registered(w->c[0].conn) == 1 && a->n_routes >= 1 &&
         zt_agent_tunnel_addr(a->agent) != 0 &&
         zt_agent_service_online(a->agent, SIM_VIP);
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

size_t sim_build_ping(uint8_t *p, uint32_t src, uint32_t dst, uint16_t seq,
                      size_t size) {
  size_t len = build_ip(p, 1, src, dst, size - 20);
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

size_t sim_build_udp(uint8_t *p, uint32_t src, uint32_t dst, uint16_t dport,
                     size_t payload) {
  size_t len = build_ip(p, 17, src, dst, 8 + payload);
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

void sim_send_pings(struct sim_agent *a, uint32_t dst, int n, uint64_t gap) {
  uint8_t p[1500];
  for (int i = 0; i < n; i++) {
    size_t len =
        sim_build_ping(p, zt_agent_tunnel_addr(a->agent), dst, (uint16_t)i, 84);
    zt_agent_feed_tun(a->agent, p, len, a->w->net.now);
    world_run(a->w, NULL, gap);
  }
}

/* ---- logs --------------------------------------------------------------- */

#define LOG_KEEP 512
static char *captured[LOG_KEEP];
static size_t n_captured;
static bool capturing;

static void sink(enum zt_log_level level, const char *line, void *ud) {
  (void)ud;
  if (getenv("SIM_VERBOSE") || level == ZT_LOG_ERROR)
    fprintf(stderr, "  [log] %s\n", line);
  if (capturing && n_captured < LOG_KEEP)
    captured[n_captured++] = strdup(line);
}

void sim_log_init(void) {
  zt_log_set_sink(sink, NULL);
  if (getenv("SIM_VERBOSE"))
    zt_log_set_level(ZT_LOG_DEBUG);
}

void sim_log_clear(void) {
  for (size_t i = 0; i < n_captured; i++)
    free(captured[i]);
  n_captured = 0;
}

void sim_log_capture(bool on) {
  capturing = on;
  if (!on)
    sim_log_clear();
}

bool sim_log_seen(const char *needle) {
  for (size_t i = 0; i < n_captured; i++)
    if (strstr(captured[i], needle))
      return true;
  return false;
}

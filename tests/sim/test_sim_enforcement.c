/*
 * Hostile peers: every security rule the nodes enforce today, each written
 * as the attack it prevents. Each test has a mutant in tests/mutants.list
 * that removes its rule from core/; `make mutants` proves the test fails
 * without the rule. Where a test could pass for a reason other than the
 * rule (the attack never reached the code, the path was broken anyway), a
 * positive control first shows the same path working with a legal packet.
 *
 * Attackers are raw peers (world.h): authenticated outer QUIC clients with
 * any certificate of the deployment. When a rule sits behind another node's
 * own filter (the agent drops packets not from its tunnel address before
 * the connector could), the raw peer runs an end-to-end session of its own
 * (raw_inner_dial / raw_inner_listen), i.e. it plays a modified agent or
 * connector whose packets bypass that filter, so each side's rule is
 * tested alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/test.h"
#include "ippkt.h"
#include "wire.h"
#include "world.h"

#define LAN_HOST 0x0a1e0009u /* 10.30.0.9: a host on the connector's LAN */

/* ---- helpers ------------------------------------------------------------ */

static const struct zt_intermediate_stats *ist(struct world *w) {
  return zt_intermediate_get_stats(w->im);
}
static const struct zt_connector_stats *cst(struct world *w) {
  return zt_connector_get_stats(w->conn);
}
static const struct zt_agent_stats *ast(struct world *w) {
  return zt_agent_get_stats(w->agent);
}

/* HELLO, answered by WELCOME: from here on only the role rules apply. */
static bool raw_hello(struct raw_peer *r) {
  struct zt_ctrl_msg m = {.type = ZT_MSG_HELLO};
  m.u.hello.version = ZT_PROTOCOL_VERSION;
  unsigned before = r->got[ZT_MSG_WELCOME];
  if (raw_send_msg(r, &m) != 0)
    return false;
  world_run(r->w, NULL, 300 * MS);
  return r->got[ZT_MSG_WELCOME] == before + 1;
}

static void raw_register(struct raw_peer *r, const char *service) {
  struct zt_ctrl_msg m = {.type = ZT_MSG_REGISTER};
  m.u.reg.n = 1;
  snprintf(m.u.reg.names[0], sizeof(m.u.reg.names[0]), "%s", service);
  raw_send_msg(r, &m);
  world_run(r->w, NULL, 300 * MS);
}

static void raw_session_open(struct raw_peer *r, uint32_t request,
                             const char *connector) {
  struct zt_ctrl_msg m = {.type = ZT_MSG_SESSION_OPEN};
  m.u.session_open.request_id = request;
  snprintf(m.u.session_open.connector, sizeof(m.u.session_open.connector),
           "%s", connector);
  raw_send_msg(r, &m);
  world_run(r->w, NULL, 300 * MS);
}

/* The channel of a[0]'s session with conn-a, as its status shows it: what
 * an attacker could learn (channel ids are not secrets, only handles). */
static uint32_t alice_channel(struct world *w) {
  static char buf[8192];
  unsigned ch = 0;
  zt_agent_status(w->agent, buf, sizeof(buf));
  const char *p = strstr(buf, "session conn-a channel ");
  if (!p || sscanf(p, "session conn-a channel %u", &ch) != 1)
    return 0;
  return ch;
}

static size_t channel_count(struct world *w) {
  static char buf[8192];
  size_t peers = 0, channels = 0;
  zt_intermediate_status(w->im, buf, sizeof(buf));
  if (sscanf(buf, "%zu peer(s), %zu channel(s)", &peers, &channels) != 2)
    return (size_t)-1;
  return channels;
}

/* The default world with a[0] = alice, her session to conn-a up. */
static struct world *alice_session_up(void) {
  struct world *w = world_new(&pki.alice);
  if (!world_run(w, world_ready, 10 * SEC)) {
    world_free(w);
    return NULL;
  }
  sim_send_pings(&w->a[0], SIM_VIP, 3, 20 * MS);
  world_run(w, NULL, 500 * MS);
  if (w->a[0].rx != 3 || !alice_channel(w)) {
    world_free(w);
    return NULL;
  }
  return w;
}

/* A UDP packet from the agent side, fed to the real agent's TUN. */
static void agent_sends_udp(struct world *w, uint32_t src, uint32_t dst,
                            uint16_t dport) {
  uint8_t p[256];
  size_t len = sim_build_udp(p, src, dst, dport, 32);
  zt_agent_feed_tun(w->agent, p, len, w->net.now);
  world_run(w, NULL, 200 * MS);
}

/* A UDP packet "from the backend", as the connector reads it from its TUN
 * (the same builder: addresses and ports are all that matter). */
static void conn_tun_reads_udp(struct world *w, uint32_t src, uint32_t dst) {
  uint8_t p[256];
  size_t len = sim_build_udp(p, src, dst, 40000, 32);
  zt_connector_feed_tun(w->conn, p, len, w->net.now);
  world_run(w, NULL, 200 * MS);
}

static void raw_inner_udp(struct raw_peer *r, uint32_t src, uint32_t dst,
                          uint16_t dport) {
  uint8_t p[256];
  size_t len = sim_build_udp(p, src, dst, dport, 32);
  raw_inner_send(r, p, len);
  world_run(r->w, NULL, 200 * MS);
}

static bool registered_two(struct world *w) {
  return zt_connector_registered(w->conn) == 2;
}
static bool registered_one(struct world *w) {
  return zt_connector_registered(w->conn) == 1;
}

/* ---- the Intermediate --------------------------------------------------- */

/* An agent certificate whose name is a connector's ("conn-a") says HELLO
 * like any agent, then REGISTERs conn-a's service. Only the role rule
 * stops it: the name check alone would let it take the service over and
 * receive every agent's sessions to conn-a. */
static void test_agent_may_not_register(void) {
  static struct zt_pem impostor;
  char err[256];
  if (!impostor.cert &&
      zt_cert_issue(&pki.ca, ZT_ROLE_AGENT, "conn-a", 1, NULL, NULL,
                    &impostor, err, sizeof(err)) != 0) {
    fprintf(stderr, "certgen: %s\n", err);
    CHECK(0);
  }
  struct world *w = world_new(&pki.alice);
  CHECK(world_run(w, world_ready, 10 * SEC));
  struct raw_peer *r = raw_peer_new(w, &impostor, 50002);
  CHECK(r);
  CHECK(raw_hello(r)); /* so the hello rule is not what refuses it */
  uint64_t unexpected = ist(w)->ctrl_unexpected;
  raw_register(r, "echo");
  CHECK_EQ_INT(r->got[ZT_MSG_REGISTER_ACK], 0);
  CHECK_EQ_INT(ist(w)->ctrl_unexpected, unexpected + 1);
  /* alice's session still goes to the real conn-a, not to the impostor. */
  sim_send_pings(&w->a[0], SIM_VIP, 3, 20 * MS);
  world_run(w, NULL, 500 * MS);
  CHECK_EQ_INT(w->a[0].rx, 3);
  CHECK_EQ_INT(r->got[ZT_MSG_SESSION_NEW], 0);
  zt_pem_free(&impostor);
  world_free(w);
}

/* An agent that skips HELLO has no tunnel address: a session opened now
 * would be announced to the connector for address 0.0.0.0. Refused until
 * HELLO, granted right after it (so policy is not what refused it). */
static void test_hello_before_anything(void) {
  struct world *w = world_new(NULL);
  CHECK(world_run(w, registered_one, 10 * SEC));
  struct raw_peer *r = raw_peer_new(w, &pki.alice, 50002);
  CHECK(r);
  world_run(w, NULL, 300 * MS);
  CHECK(raw_ready(r));
  size_t routes = w->c[0].route_changes;
  raw_session_open(r, 7, "conn-a");
  CHECK_EQ_INT(r->got[ZT_MSG_SESSION_READY], 0);
  CHECK_EQ_INT(ist(w)->sessions_opened, 0);
  CHECK_EQ_INT(ist(w)->ctrl_unexpected, 1);
  CHECK_EQ_INT(w->c[0].route_changes, routes); /* nothing announced */
  CHECK(raw_hello(r));
  raw_session_open(r, 8, "conn-a");
  CHECK_EQ_INT(r->got[ZT_MSG_SESSION_READY], 1);
  CHECK_EQ_INT(r->last[ZT_MSG_SESSION_READY].u.session_ready.status, ZT_OK);
  CHECK_EQ_INT(r->last[ZT_MSG_SESSION_READY].u.session_ready.request_id, 8);
  world_free(w);
}

/* bob is in no policy: he is told of no service, and asking for a session
 * to conn-a by name anyway is denied; conn-a hears nothing of it. */
static void test_session_open_honours_policy(void) {
  struct world *w = world_new(&pki.alice);
  CHECK(world_run(w, world_ready, 10 * SEC));
  struct raw_peer *r = raw_peer_new(w, &pki.bob, 50002);
  CHECK(r);
  CHECK(raw_hello(r));
  CHECK_EQ_INT(r->got[ZT_MSG_SERVICES], 1);
  CHECK_EQ_INT(r->last[ZT_MSG_SERVICES].u.services.n, 0);
  size_t routes = w->c[0].route_changes;
  raw_session_open(r, 1, "conn-a");
  CHECK_EQ_INT(r->got[ZT_MSG_SESSION_READY], 1);
  CHECK_EQ_INT(r->last[ZT_MSG_SESSION_READY].u.session_ready.status,
               ZT_ERR_NOT_ALLOWED);
  CHECK_EQ_INT(r->last[ZT_MSG_SESSION_READY].u.session_ready.channel, 0);
  CHECK_EQ_INT(ist(w)->sessions_denied, 1);
  CHECK_EQ_INT(w->c[0].route_changes, routes);
  world_free(w);
}

/* conn-b registers echo, which the configuration gives to conn-a: refused,
 * and alice's traffic keeps going to conn-a. */
static void test_connector_may_not_take_over_service(void) {
  struct world *w = world_new(&pki.alice);
  CHECK(world_run(w, world_ready, 10 * SEC));
  struct raw_peer *r = raw_peer_new(w, &pki.conn_b, 50002);
  CHECK(r);
  CHECK(raw_hello(r));
  raw_register(r, "echo");
  CHECK_EQ_INT(r->got[ZT_MSG_REGISTER_ACK], 1);
  CHECK_EQ_INT(r->last[ZT_MSG_REGISTER_ACK].u.reg_ack.n, 1);
  CHECK_EQ_INT(r->last[ZT_MSG_REGISTER_ACK].u.reg_ack.items[0].status,
               ZT_ERR_NOT_ALLOWED);
  CHECK_EQ_INT(r->last[ZT_MSG_REGISTER_ACK].u.reg_ack.items[0].vip, 0);
  sim_send_pings(&w->a[0], SIM_VIP, 3, 20 * MS);
  world_run(w, NULL, 500 * MS);
  CHECK_EQ_INT(w->a[0].rx, 3);
  CHECK_EQ_INT(r->got[ZT_MSG_SESSION_NEW], 0);
  world_free(w);
}

/* bob learns the id of alice's channel and sends relay frames on it: the
 * relay forwards a frame only from one end of a channel to the other. */
static void test_relay_only_between_channel_ends(void) {
  struct world *w = alice_session_up();
  CHECK(w);
  uint32_t ch = alice_channel(w);
  struct raw_peer *r = raw_peer_new(w, &pki.bob, 50002);
  CHECK(r);
  CHECK(raw_hello(r));
  world_run(w, NULL, 500 * MS); /* quiet: no frame of alice's in flight */
  uint64_t frames = ist(w)->relay_frames;
  uint8_t junk[200];
  memset(junk, 0x5a, sizeof(junk));
  CHECK_EQ_INT(raw_send_relay(r, ch, junk, sizeof(junk)), 0);
  world_run(w, NULL, 50 * MS);
  CHECK_EQ_INT(ist(w)->relay_wrong_peer, 1);
  CHECK_EQ_INT(ist(w)->relay_frames, frames);
  /* alice's session is untouched. */
  sim_send_pings(&w->a[0], SIM_VIP, 3, 20 * MS);
  world_run(w, NULL, 300 * MS);
  CHECK_EQ_INT(w->a[0].rx, 6);
  world_free(w);
}

/* bob sends SESSION_CLOSE for alice's channel: ignored. Had it worked,
 * alice would quietly reopen a session, so the proof is that the channel
 * and the session count are unchanged, not only that pings still work. */
static void test_stranger_cannot_close_channel(void) {
  struct world *w = alice_session_up();
  CHECK(w);
  uint32_t ch = alice_channel(w);
  uint64_t opened = ist(w)->sessions_opened;
  CHECK_EQ_INT(channel_count(w), 1);
  struct raw_peer *r = raw_peer_new(w, &pki.bob, 50002);
  CHECK(r);
  CHECK(raw_hello(r));
  struct zt_ctrl_msg m = {.type = ZT_MSG_SESSION_CLOSE};
  m.u.session_close.channel = ch;
  m.u.session_close.status = ZT_ERR_GONE;
  CHECK_EQ_INT(raw_send_msg(r, &m), 0);
  world_run(w, NULL, 300 * MS);
  CHECK_EQ_INT(channel_count(w), 1);
  CHECK_EQ_INT(alice_channel(w), ch);
  sim_send_pings(&w->a[0], SIM_VIP, 3, 20 * MS);
  world_run(w, NULL, 300 * MS);
  CHECK_EQ_INT(w->a[0].rx, 6);
  CHECK_EQ_INT(ist(w)->sessions_opened, opened);
  CHECK_EQ_INT(alice_channel(w), ch);
  world_free(w);
}

/* ---- the connector: packets from agents --------------------------------- */

/* conn-a serves echo (SIM_VIP) and web (SIM_VIP2, same port rules); policy
 * grants alice echo only (world_echo_and_web). No real agent: alice is a
 * raw peer. */

/* A raw alice with a working end-to-end session to conn-a (proved by an
 * echo round trip); her tunnel address in *tip. */
static struct raw_peer *raw_alice_session(struct world *w, uint32_t *tip) {
  struct raw_peer *r = raw_peer_new(w, &pki.alice, 50002);
  if (!r || !raw_hello(r))
    return NULL;
  *tip = r->last[ZT_MSG_WELCOME].u.welcome.tunnel_ip;
  raw_session_open(r, 1, "conn-a");
  const struct zt_ctrl_msg *rd = &r->last[ZT_MSG_SESSION_READY];
  if (r->got[ZT_MSG_SESSION_READY] != 1 || rd->u.session_ready.status != ZT_OK ||
      raw_inner_dial(r, rd->u.session_ready.channel, "conn-a") != 0)
    return NULL;
  world_run(w, NULL, 1 * SEC);
  if (!raw_inner_ready(r))
    return NULL;
  /* Positive control: a legal packet makes the round trip. */
  size_t delivered = w->c[0].delivered;
  raw_inner_udp(r, *tip, SIM_VIP, 7);
  if (w->c[0].delivered != delivered + 1 || r->inner_rx != 1)
    return NULL;
  return r;
}

static void allow_everyone(struct world *w) {
  snprintf(w->icfg.policy[0].agent, sizeof(w->icfg.policy[0].agent), "*");
}

/* Bob's session, but the inner handshake presents alice's certificate (a
 * stolen one, or a relay that splices channels): the connector expects the
 * agent the Intermediate announced and refuses anyone else, so nothing of
 * it reaches the kernel. Positive control: raw_alice_session() above, the
 * same dial with the right certificate, works. */
static void test_connector_refuses_inner_impersonation(void) {
  struct world *w = world_new_with(NULL, allow_everyone);
  CHECK(world_run(w, NULL, 2 * SEC));
  struct raw_peer *r = raw_peer_new(w, &pki.bob, 50003);
  CHECK(r && raw_hello(r));
  uint32_t tip = r->last[ZT_MSG_WELCOME].u.welcome.tunnel_ip;
  raw_session_open(r, 1, "conn-a");
  const struct zt_ctrl_msg *rd = &r->last[ZT_MSG_SESSION_READY];
  CHECK_EQ_INT(rd->u.session_ready.status, ZT_OK);
  CHECK_EQ_INT(raw_inner_dial_as(r, rd->u.session_ready.channel, "conn-a",
                                 &pki.alice),
               0);
  world_run(w, NULL, 2 * SEC);
  /* (The client may think its handshake done: TLS 1.3 servers judge the
   * client's certificate after the client's last flight.) */
  CHECK(cst(w)->sessions_refused >= 1);
  CHECK_EQ_INT(cst(w)->sessions_accepted, 0);
  size_t delivered = w->c[0].delivered;
  raw_inner_udp(r, tip, SIM_VIP, 7);
  world_run(w, NULL, 300 * MS);
  CHECK_EQ_INT(w->c[0].delivered, delivered);
  world_free(w);
}

/* A modified agent sends from an address that is not its tunnel address
 * (spoofing another agent, or a LAN host of its own): dropped. The real
 * agent drops such packets itself, hence the raw one. */
static void test_connector_checks_inner_source(void) {
  struct world *w = world_new_with(NULL, world_echo_and_web);
  CHECK(world_run(w, registered_two, 10 * SEC));
  uint32_t tip;
  struct raw_peer *r = raw_alice_session(w, &tip);
  CHECK(r);
  size_t delivered = w->c[0].delivered;
  raw_inner_udp(r, tip + 1, SIM_VIP, 7);
  CHECK_EQ_INT(cst(w)->rx_bad_source, 1);
  CHECK_EQ_INT(w->c[0].delivered, delivered);
  world_free(w);
}

/* A modified agent sends to web, a service of the same connector with the
 * same port rules that policy does not grant it: dropped, although the
 * connector serves web and the port is open. The real agent has no route
 * to web, hence the raw one. */
static void test_connector_checks_inner_destination(void) {
  struct world *w = world_new_with(NULL, world_echo_and_web);
  CHECK(world_run(w, registered_two, 10 * SEC));
  uint32_t tip;
  struct raw_peer *r = raw_alice_session(w, &tip);
  CHECK(r);
  size_t delivered = w->c[0].delivered;
  raw_inner_udp(r, tip, SIM_VIP2, 7);
  CHECK_EQ_INT(cst(w)->rx_not_allowed, 1);
  CHECK_EQ_INT(w->c[0].delivered, delivered);
  world_free(w);
}

/* The real agent does not filter ports (policy is per service): a packet
 * to a port echo does not list (udp/8; it allows udp/7 and icmp) crosses
 * the tunnel and is dropped by the connector. */
static void test_connector_checks_ports(void) {
  struct world *w = alice_session_up();
  CHECK(w);
  uint32_t tip = zt_agent_tunnel_addr(w->agent);
  size_t delivered = w->c[0].delivered;
  agent_sends_udp(w, tip, SIM_VIP, 7); /* positive control */
  CHECK_EQ_INT(w->c[0].delivered, delivered + 1);
  CHECK_EQ_INT(w->a[0].rx, 4);
  agent_sends_udp(w, tip, SIM_VIP, 8);
  CHECK_EQ_INT(cst(w)->rx_not_allowed, 1);
  CHECK_EQ_INT(w->c[0].delivered, delivered + 1);
  CHECK_EQ_INT(w->a[0].rx, 4);
  world_free(w);
}

/* A host on the connector's LAN sends to alice's tunnel address (the
 * connector routes it into its TUN): not from a service alice may reach,
 * so it never enters her session. */
static void test_connector_reply_only_from_reachable_source(void) {
  struct world *w = alice_session_up();
  CHECK(w);
  uint32_t tip = zt_agent_tunnel_addr(w->agent);
  conn_tun_reads_udp(w, SIM_VIP, tip); /* positive control */
  CHECK_EQ_INT(w->a[0].rx, 4);
  uint64_t no_session = cst(w)->tun_no_session;
  conn_tun_reads_udp(w, LAN_HOST, tip);
  CHECK_EQ_INT(cst(w)->tun_no_session, no_session + 1);
  CHECK_EQ_INT(ast(w)->rx_policy_drops, 0); /* nothing reached alice */
  CHECK_EQ_INT(w->a[0].rx, 4);
  world_free(w);
}

/* ---- the agent ---------------------------------------------------------- */

/* The agent only sends packets from its own tunnel address: whatever else
 * its host routes into the TUN device (another address of the machine) is
 * dropped before it reaches the tunnel. */
static void test_agent_sends_only_from_tunnel_address(void) {
  struct world *w = alice_session_up();
  CHECK(w);
  uint32_t tip = zt_agent_tunnel_addr(w->agent);
  size_t delivered = w->c[0].delivered;
  agent_sends_udp(w, tip + 1, SIM_VIP, 7);
  CHECK_EQ_INT(ast(w)->tun_bad_source, 1);
  CHECK_EQ_INT(cst(w)->rx_bad_source, 0); /* it never left the agent */
  CHECK_EQ_INT(w->c[0].delivered, delivered);
  world_free(w);
}

/* web (SIM_VIP2) is served by conn-b, here a raw peer: a modified
 * connector. policy grants alice echo and web. */
static void web_on_conn_b(struct world *w) {
  struct zt_intermediate_config *ic = &w->icfg;
  ic->n_services = 2;
  snprintf(ic->services[1].name, sizeof(ic->services[1].name), "web");
  snprintf(ic->services[1].connector, sizeof(ic->services[1].connector),
           "conn-b");
  ic->services[1].address = SIM_VIP2;
  ic->policy[0].n_services = 2;
  snprintf(ic->policy[0].services[1], sizeof(ic->policy[0].services[1]),
           "web");
}

/* The real alice opens a session to the raw conn-b (through web), which
 * answers one legal reply; its tunnel address in *tip. */
static struct raw_peer *evil_conn_b(struct world *w, uint32_t *tip) {
  if (!world_run(w, world_ready, 10 * SEC))
    return NULL;
  struct raw_peer *r = raw_peer_new(w, &pki.conn_b, 50002);
  if (!r || !raw_hello(r))
    return NULL;
  raw_inner_listen(r, 0, "alice");
  raw_register(r, "web");
  world_run(w, NULL, 300 * MS);
  if (!zt_agent_service_online(w->agent, SIM_VIP2))
    return NULL;
  *tip = zt_agent_tunnel_addr(w->agent);
  sim_send_pings(&w->a[0], SIM_VIP2, 1, 1 * SEC); /* opens the session */
  if (!raw_inner_ready(r) || r->inner_rx != 1)
    return NULL;
  /* Positive control: a reply from web's own address gets through. */
  size_t rx = w->a[0].rx;
  raw_inner_udp(r, SIM_VIP2, *tip, 40000);
  if (w->a[0].rx != rx + 1)
    return NULL;
  return r;
}

/* conn-b answers from echo's address, a service of conn-a: the agent
 * accepts replies only from the services of the session's connector, so
 * one connector cannot impersonate another's services. */
static void test_agent_accepts_only_its_connectors_services(void) {
  struct world *w = world_new_with(&pki.alice, web_on_conn_b);
  uint32_t tip;
  struct raw_peer *r = evil_conn_b(w, &tip);
  CHECK(r);
  size_t rx = w->a[0].rx;
  raw_inner_udp(r, SIM_VIP, tip, 40000);
  CHECK_EQ_INT(ast(w)->rx_policy_drops, 1);
  CHECK_EQ_INT(w->a[0].rx, rx);
  world_free(w);
}

/* conn-b sends to an address that is not alice's: dropped, not written to
 * her TUN (where her kernel would route it on). */
static void test_agent_accepts_only_its_address(void) {
  struct world *w = world_new_with(&pki.alice, web_on_conn_b);
  uint32_t tip;
  struct raw_peer *r = evil_conn_b(w, &tip);
  CHECK(r);
  size_t rx = w->a[0].rx;
  raw_inner_udp(r, SIM_VIP2, tip + 1, 40000);
  CHECK_EQ_INT(ast(w)->rx_policy_drops, 1);
  CHECK_EQ_INT(w->a[0].rx, rx);
  world_free(w);
}

int main(void) {
  sim_log_init();
  sim_pki_init(); /* the impostor's certificate needs the CA first */
  RUN(test_agent_may_not_register);
  RUN(test_hello_before_anything);
  RUN(test_session_open_honours_policy);
  RUN(test_connector_may_not_take_over_service);
  RUN(test_relay_only_between_channel_ends);
  RUN(test_stranger_cannot_close_channel);
  RUN(test_connector_refuses_inner_impersonation);
  RUN(test_connector_checks_inner_source);
  RUN(test_connector_checks_inner_destination);
  RUN(test_connector_checks_ports);
  RUN(test_connector_reply_only_from_reachable_source);
  RUN(test_agent_sends_only_from_tunnel_address);
  RUN(test_agent_accepts_only_its_connectors_services);
  RUN(test_agent_accepts_only_its_address);
  sim_pki_free();
  return TEST_EXIT();
}

/*
 * What one identity may hold at the Intermediate, each test written as the
 * attack (or the user mistake) it prevents:
 *  - a tunnel address stays bound to the agent that had it, even offline
 *    and across an Intermediate restart;
 *  - one live connection per identity: the newer replaces the older, both
 *    say so, and the older does not come back to fight;
 *  - one channel per agent and connector, SESSION_OPEN rate-limited;
 *  - a peer that does not acknowledge its control stream is closed;
 *  - the log lines a peer can cause are rate-limited.
 */
#include <stdlib.h>
#include <string.h>

#include "../unit/test.h"
#include "intermediate.h"
#include "log.h"
#include "uplink.h"
#include "wire.h"
#include "world.h"

static struct zt_ctrl_msg msg;

static void send_hello(struct raw_peer *r, uint32_t prev) {
  msg.type = ZT_MSG_HELLO;
  msg.u.hello.version = ZT_PROTOCOL_VERSION;
  msg.u.hello.prev_tunnel_ip = prev;
  raw_send_msg(r, &msg);
}

static void send_open(struct raw_peer *r, uint32_t request,
                      const char *connector) {
  msg.type = ZT_MSG_SESSION_OPEN;
  msg.u.session_open.request_id = request;
  snprintf(msg.u.session_open.connector, sizeof(msg.u.session_open.connector),
           "%s", connector);
  raw_send_msg(r, &msg);
}

static bool welcomed(struct world *w) {
  return w->raw[0]->got[ZT_MSG_WELCOME] > 0;
}

/* Bob asks for alice's address while she is offline: he gets another. */
static void test_address_takeover_refused(void) {
  struct world *w = world_new(&pki.alice);
  CHECK(world_run(w, world_ready, 10 * SEC));
  uint32_t alice_ip = zt_agent_tunnel_addr(w->agent);
  world_stop_agent(&w->a[0]);
  /* her connection times out: 30 s idle after the last ack-eliciting
   * packet, which may be the Intermediate's keepalive up to 10 s later */
  world_run(w, NULL, 45 * SEC);
  CHECK_EQ_INT(zt_intermediate_peer_count(w->im), 1); /* the connector */

  struct raw_peer *bob = raw_peer_new(w, &pki.bob, 50100);
  CHECK(world_run(w, NULL, 1 * SEC) && raw_ready(bob));
  send_hello(bob, alice_ip);
  CHECK(world_run(w, welcomed, 2 * SEC));
  uint32_t bob_ip = bob->last[ZT_MSG_WELCOME].u.welcome.tunnel_ip;
  CHECK(bob_ip != 0);
  CHECK(bob_ip != alice_ip);
  world_free(w);
}

/* The same, across a restart: the bindings come back from the state the
 * Intermediate saved, so the first to reconnect cannot take another's. */
static void test_address_binding_survives_restart(void) {
  struct world *w = world_new(&pki.alice);
  CHECK(world_run(w, world_ready, 10 * SEC));
  uint32_t alice_ip = zt_agent_tunnel_addr(w->agent);
  CHECK(w->state_saves >= 1);
  CHECK(strstr(w->state, "alice ") != NULL);
  world_stop_agent(&w->a[0]);
  world_stop_intermediate(w);
  world_start_intermediate(w);

  struct raw_peer *bob = raw_peer_new(w, &pki.bob, 50101);
  CHECK(world_run(w, NULL, 2 * SEC) && raw_ready(bob));
  send_hello(bob, alice_ip);
  CHECK(world_run(w, welcomed, 2 * SEC));
  CHECK(bob->last[ZT_MSG_WELCOME].u.welcome.tunnel_ip != alice_ip);
  world_free(w);
}

static bool second_alice_ready(struct world *w) {
  return w->n_agents == 2 && zt_agent_is_connected(w->a[1].agent) &&
         zt_agent_service_online(w->a[1].agent, SIM_VIP);
}

static bool first_agent_two_replies(struct world *w) { return w->a[0].rx >= 2; }

/* The same agent certificate on two hosts: the newer connection replaces
 * the older, which says why and stays down instead of fighting back. */
static void test_same_agent_twice_newer_replaces_older(void) {
  struct world *w = world_new(&pki.alice);
  sim_log_capture(true);
  CHECK(world_run(w, world_ready, 10 * SEC));
  uint32_t ip = zt_agent_tunnel_addr(w->agent);
  sim_send_pings(&w->a[0], SIM_VIP, 2, 50 * MS);
  /* The first ping opens the session: its handshake may take a little
   * longer than the 100 ms the pings took to send. */
  CHECK(world_run(w, first_agent_two_replies, 1 * SEC));
  CHECK_EQ_INT(w->a[0].rx, 2);

  struct sim_agent *a2 = world_add_agent(w, &pki.alice, 50009);
  CHECK(world_run(w, second_alice_ready, 10 * SEC));
  CHECK_EQ_INT(zt_agent_tunnel_addr(a2->agent), ip); /* hers, not a new one */
  CHECK_EQ_INT(zt_intermediate_get_stats(w->im)->peers_replaced, 1);
  CHECK(sim_log_seen("agent alice: new connection from"));
  CHECK(sim_log_seen("will not reconnect"));

  /* A minute later the older one has not come back to take over. */
  world_run(w, NULL, 60 * SEC);
  CHECK(!zt_agent_is_connected(w->a[0].agent));
  CHECK(zt_agent_is_connected(a2->agent));
  CHECK_EQ_INT(zt_intermediate_get_stats(w->im)->peers_replaced, 1);
  sim_send_pings(a2, SIM_VIP, 5, 50 * MS);
  world_run(w, NULL, 500 * MS);
  CHECK_EQ_INT(a2->rx, 5); /* every packet reaches the newer one */
  sim_log_capture(false);
  world_free(w);
}

static bool second_conn_serves(struct world *w) {
  return w->n_conns == 2 && zt_connector_registered(w->c[1].conn) == 1 &&
         !zt_connector_is_connected(w->c[0].conn);
}

/* The same connector identity twice: the newer takes the services over and
 * the older's leaving does not take them offline. */
static void test_same_connector_twice(void) {
  struct world *w = world_new(&pki.alice);
  CHECK(world_run(w, world_ready, 10 * SEC));
  struct sim_conn *c2 = world_add_connector(w, &pki.conn, &w->c[0].cfg, 50010);
  CHECK(world_run(w, second_conn_serves, 10 * SEC));
  world_run(w, NULL, 1 * SEC);
  CHECK(zt_agent_service_online(w->agent, SIM_VIP));
  zt_connector_free(w->c[0].conn); /* the older one goes away for good */
  w->c[0].conn = NULL;
  w->c[0].h->node = NULL;
  world_run(w, NULL, 1 * SEC);
  CHECK(zt_agent_service_online(w->agent, SIM_VIP));
  size_t before = c2->delivered;
  sim_send_pings(&w->a[0], SIM_VIP, 5, 50 * MS);
  world_run(w, NULL, 2 * SEC);
  CHECK(c2->delivered - before >= 5);
  world_free(w);
}

static void allow_bob(struct world *w) {
  snprintf(w->icfg.policy[0].agent, sizeof(w->icfg.policy[0].agent), "*");
}

/* 2,000 SESSION_OPENs from one agent: at most one channel lives, the rest
 * are refused by rate, and the connector does not see 2,000 sessions. */
static void test_session_open_flood_bounded(void) {
  struct world *w = world_new_with(NULL, allow_bob);
  CHECK(world_run(w, NULL, 2 * SEC));
  struct raw_peer *bob = raw_peer_new(w, &pki.bob, 50102);
  CHECK(world_run(w, NULL, 1 * SEC) && raw_ready(bob));
  send_hello(bob, 0);
  CHECK(world_run(w, welcomed, 2 * SEC));
  for (uint32_t i = 1; i <= 2000; i++) {
    send_open(bob, i, "conn-a");
    if (i % 100 == 0)
      world_run(w, NULL, 20 * MS);
  }
  world_run(w, NULL, 2 * SEC);
  const struct zt_intermediate_stats *st = zt_intermediate_get_stats(w->im);
  CHECK_EQ_INT(zt_intermediate_channel_count(w->im), 1);
  CHECK(st->sessions_rate_limited >= 1900);
  CHECK(st->sessions_opened <= ZT_SESSION_OPEN_BURST + 10);
  CHECK_EQ_INT(st->channels_replaced, st->sessions_opened - 1);
  CHECK(raw_ready(bob)); /* refused, not disconnected */
  world_free(w);
}

static void deaf(void *n, const struct sockaddr *f, socklen_t fl,
                 const uint8_t *p, size_t l, uint64_t now) {
  (void)n, (void)f, (void)fl, (void)p, (void)l, (void)now;
}

/* A peer that never acknowledges what we send it: the replies it provokes
 * would pile up without bound. It is closed past ZT_CTRL_BACKLOG_MAX. */
static void small_backlog(struct world *w) {
  /* A deaf peer acknowledges nothing, so its own sending stalls at QUIC's
   * initial window: a bound of 8 KB is what it can make us exceed. */
  w->icfg.ctrl_backlog_max = 8 * 1024;
}

static void test_unacknowledged_control_bytes_bounded(void) {
  struct world *w = world_new_with(NULL, small_backlog);
  CHECK(world_run(w, NULL, 2 * SEC));
  struct raw_peer *bob = raw_peer_new(w, &pki.bob, 50103);
  CHECK(world_run(w, NULL, 1 * SEC) && raw_ready(bob));
  send_hello(bob, 0);
  CHECK(world_run(w, welcomed, 2 * SEC));
  bob->h->deliver = deaf; /* hears nothing, acknowledges nothing */
  size_t peers = zt_intermediate_peer_count(w->im);
  /* Each denied open costs us a 12-byte SESSION_READY. */
  for (uint32_t i = 1; i <= 3000; i++) {
    send_open(bob, i, "conn-a");
    if (i % 100 == 0)
      world_run(w, NULL, 10 * MS);
  }
  world_run(w, NULL, 3 * SEC);
  CHECK_EQ_INT(zt_intermediate_get_stats(w->im)->ctrl_backlog_closes, 1);
  CHECK_EQ_INT(zt_intermediate_peer_count(w->im), peers - 1);
  world_free(w);
}

static size_t warn_lines;
static void count_warns(enum zt_log_level level, const char *line, void *ud) {
  (void)line, (void)ud;
  warn_lines += level == ZT_LOG_WARN;
}

/* 1,000 messages a peer may not send: each counted, few lines logged. */
static void test_peer_log_lines_rate_limited(void) {
  struct world *w = world_new(NULL);
  CHECK(world_run(w, NULL, 2 * SEC));
  struct raw_peer *bob = raw_peer_new(w, &pki.bob, 50104);
  CHECK(world_run(w, NULL, 1 * SEC) && raw_ready(bob));
  send_hello(bob, 0);
  CHECK(world_run(w, welcomed, 2 * SEC));
  zt_log_set_sink(count_warns, NULL);
  warn_lines = 0;
  msg.type = ZT_MSG_REGISTER; /* an agent may not register */
  msg.u.reg.n = 1;
  snprintf(msg.u.reg.names[0], sizeof(msg.u.reg.names[0]), "echo");
  for (int i = 0; i < 1000; i++)
    raw_send_msg(bob, &msg);
  world_run(w, NULL, 1 * SEC);
  sim_log_init();
  const struct zt_intermediate_stats *st = zt_intermediate_get_stats(w->im);
  CHECK_EQ_INT(st->ctrl_unexpected, 1000);
  CHECK(warn_lines <= 20);
  CHECK(st->log_suppressed >= 980);
  world_free(w);
}

int main(void) {
  sim_log_init();
  RUN(test_address_takeover_refused);
  RUN(test_address_binding_survives_restart);
  RUN(test_same_agent_twice_newer_replaces_older);
  RUN(test_same_connector_twice);
  RUN(test_session_open_flood_bounded);
  RUN(test_unacknowledged_control_bytes_bounded);
  RUN(test_peer_log_lines_rate_limited);
  sim_pki_free();
  return TEST_EXIT();
}

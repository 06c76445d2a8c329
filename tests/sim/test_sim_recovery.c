/*
 * Recovery from the other nodes' restarts and deaths, end to end in the
 * simulator:
 *  - a connector that leaves (killed, or stopped cleanly) is announced to
 *    the agents with a session to it (SESSION_CLOSE PEER_LOST from the
 *    Intermediate), and the agent reopens the session as soon as the
 *    connector is listed online again, without waiting for a packet;
 *  - an Intermediate restarted at once: the uplinks are redialled at once
 *    after the Stateless Reset, and the agent's relayed session comes back
 *    by itself;
 *  - an agent restarted (cleanly or killed) gets its tunnel address back,
 *    even while its old connection still lingers at the Intermediate;
 *  - refusals and empty grants are said in words that point at the cause.
 */
#include <stdlib.h>
#include <string.h>

#include "../unit/test.h"
#include "wire.h"
#include "world.h"

#define VIP SIM_VIP

static bool echo_offline(struct world *w) {
  return !zt_agent_service_online(w->agent, VIP);
}

static bool session_back(struct world *w) {
  return w->conn && zt_connector_registered(w->conn) == 1 &&
         zt_agent_session_ready(w->agent, VIP);
}

static bool conn_registered(struct world *w) {
  return w->conn && zt_connector_registered(w->conn) == 1;
}

/* A world with the session to echo up (one echo answered). */
static struct world *session_world(void) {
  struct world *w = world_new(&pki.alice);
  if (!world_run(w, world_ready, 10 * SEC)) {
    world_free(w);
    return NULL;
  }
  sim_send_pings(&w->a[0], VIP, 1, 300 * MS);
  if (w->a[0].rx != 1) {
    world_free(w);
    return NULL;
  }
  return w;
}

/* Waits for the connector to register, then for the agent's session to
 * come back with no packet sent; prints and returns how long the latter
 * took (UINT64_MAX: it did not). */
/* Five pings 20 ms apart through the session: how many came back. */
static size_t pings_answered(struct world *w) {
  size_t rx = w->a[0].rx;
  sim_send_pings(&w->a[0], VIP, 5, 20 * MS);
  world_run(w, NULL, 300 * MS);
  return w->a[0].rx - rx;
}

static uint64_t reopen_after_register(struct world *w) {
  if (!world_run(w, conn_registered, 20 * SEC))
    return UINT64_MAX;
  uint64_t t = w->net.now;
  size_t tun_before = zt_agent_get_stats(w->agent)->tun_packets;
  if (!world_run(w, session_back, 5 * SEC))
    return UINT64_MAX;
  /* by itself: no packet from the TUN asked for it */
  if (zt_agent_get_stats(w->agent)->tun_packets != tun_before)
    return UINT64_MAX;
  printf("  session reopened %.0f ms after the connector registered\n",
         (double)(w->net.now - t) / 1e6);
  return w->net.now - t;
}

/* Killed: the Intermediate notices at its idle timeout and tells the
 * agent at once; started again, the session comes back by itself. */
static void test_connector_killed_agent_told_then_reopens(void) {
  struct world *w = session_world();
  CHECK(w);
  if (!w)
    return;
  sim_log_capture(true);
  world_stop_connector(&w->c[0], false);
  uint64_t t0 = w->net.now;
  CHECK(world_run(w, echo_offline, 50 * SEC));
  printf("  agent told %.1f s after the connector died (Intermediate idle "
         "timeout %d s)\n",
         (double)(w->net.now - t0) / 1e9, ZT_IDLE_TIMEOUT_MS / 1000);
  /* idle timeout, counted from its last keepalive PING at worst */
  CHECK(w->net.now - t0 <= (ZT_IDLE_TIMEOUT_MS + ZT_KEEPALIVE_MS + 2000) * MS);
  world_run(w, NULL, 2 * SEC);
  world_start_connector(&w->c[0]);
  uint64_t took = reopen_after_register(w);
  CHECK(took < 1 * SEC);
  sim_send_pings(&w->a[0], VIP, 5, 20 * MS);
  world_run(w, NULL, 300 * MS);
  CHECK_EQ_INT(w->a[0].rx, 6);
  sim_log_capture(false);
  world_free(w);
}

/* Killed and started again at once: its new connection replaces the old
 * one still lingering at the Intermediate, which tells the agent at once
 * (PEER_LOST) instead of at its idle timeout, and the agent reopens. */
static void test_connector_killed_restarted_agent_told_at_once(void) {
  struct world *w = session_world();
  CHECK(w);
  if (!w)
    return;
  sim_log_capture(true);
  world_stop_connector(&w->c[0], false);
  uint64_t t0 = w->net.now;
  world_start_connector(&w->c[0]);
  uint64_t took = reopen_after_register(w);
  CHECK(took < 1 * SEC);
  CHECK(sim_log_seen("closed: the connector left the intermediate"));
  printf("  outage %.0f ms\n", (double)(w->net.now - t0) / 1e6);
  CHECK_EQ_INT(pings_answered(w), 5);
  sim_log_capture(false);
  world_free(w);
}

/* Stopped cleanly and started again at once (a restart): the agent hears
 * at once (the connector's CONNECTION_CLOSEs), and reopens as soon as the
 * new instance has registered. */
static void test_connector_restart_reopens(void) {
  struct world *w = session_world();
  CHECK(w);
  if (!w)
    return;
  world_stop_connector(&w->c[0], true);
  uint64_t t0 = w->net.now;
  CHECK(world_run(w, echo_offline, 2 * SEC));
  printf("  agent told %.0f ms after the connector left\n",
         (double)(w->net.now - t0) / 1e6);
  world_start_connector(&w->c[0]);
  uint64_t took = reopen_after_register(w);
  CHECK(took < 1 * SEC);
  printf("  outage %.0f ms\n", (double)(w->net.now - t0) / 1e6);
  CHECK_EQ_INT(pings_answered(w), 5);
  world_free(w);
}

/* The same under relayed traffic (pings every 20 ms): the connector, which
 * only answers, stops hearing relay frames; its uplink's silence after
 * relay traffic makes it poke, so it notices within a second, not at its
 * keepalive. */
static void test_intermediate_restart_under_relayed_traffic(void) {
  struct world *w = session_world();
  CHECK(w);
  if (!w)
    return;
  sim_send_pings(&w->a[0], VIP, 50, 20 * MS);
  /* killed when the connector has nothing in flight (on a fast link it
   * rarely has): nothing of its own will meet the new Intermediate */
  world_run(w, NULL, 300 * MS);
  world_stop_intermediate(w);
  uint64_t t0 = w->net.now, lost = 0;
  /* down for 300 ms: what was in flight is lost, pings go on */
  sim_send_pings(&w->a[0], VIP, 15, 20 * MS);
  world_start_intermediate(w);
  size_t rx = w->a[0].rx;
  for (int i = 0; i < 500 && (!lost || w->a[0].rx == rx); i++) {
    sim_send_pings(&w->a[0], VIP, 1, 20 * MS);
    if (!lost && !zt_connector_is_connected(w->conn))
      lost = w->net.now;
  }
  CHECK(lost);
  CHECK(w->a[0].rx > rx);
  printf("  connector noticed after %.0f ms; echo again after %.0f ms\n",
         (double)(lost - t0) / 1e6, (double)(w->net.now - t0) / 1e6);
  CHECK(lost - t0 < 2 * SEC);
  CHECK(w->net.now - t0 < 3 * SEC);
  world_free(w);
}

static bool agent_ready(struct world *w) {
  return zt_agent_is_connected(w->agent) && zt_agent_tunnel_addr(w->agent);
}

static bool agent_down(struct world *w) {
  return !zt_agent_is_connected(w->agent);
}

/* The Intermediate restarted at once: the agent's next packet meets a
 * Stateless Reset, the agent redials at once (no 1 s backoff step), and
 * its relayed session is back within about a second with no further
 * packet. */
static void test_intermediate_restart_session_back(void) {
  struct world *w = session_world();
  CHECK(w);
  if (!w)
    return;
  world_run(w, NULL, 2 * SEC); /* up for a while: the first redial is quick */
  sim_log_capture(true);
  world_stop_intermediate(w);
  world_start_intermediate(w);
  uint64_t t0 = w->net.now;
  sim_send_pings(&w->a[0], VIP, 1, 0); /* meets the reset */
  CHECK(world_run(w, agent_down, 2 * SEC));
  uint64_t down = w->net.now;
  CHECK(world_run(w, agent_ready, 100 * MS)); /* redialled at once */
  CHECK(sim_log_seen("reconnecting now"));
  sim_log_capture(false);
  CHECK(world_run(w, session_back, 15 * SEC));
  printf("  agent noticed after %.0f ms; session back %.0f ms later\n",
         (double)(down - t0) / 1e6, (double)(w->net.now - down) / 1e6);
  /* The connector, idle, learns at its keepalive at worst (10 s); the
   * agent waits for nothing but its own redial and the connector. */
  CHECK(w->net.now - t0 < (ZT_KEEPALIVE_MS + 2000) * MS);
  world_free(w);
}

static bool second_ready(struct world *w) {
  struct zt_agent *a = w->a[w->n_agents - 1].agent;
  return a && zt_agent_is_connected(a) && zt_agent_tunnel_addr(a) &&
         zt_agent_service_online(a, VIP);
}

/* An agent killed (no CONNECTION_CLOSE: its old connection lingers at the
 * Intermediate until the idle timeout) and started again at once, then
 * stopped cleanly and started again: its tunnel address stays the same. */
static void test_agent_restart_keeps_address(void) {
  struct world *w = world_new(&pki.alice);
  CHECK(world_run(w, agent_ready, 10 * SEC));
  uint32_t ip = zt_agent_tunnel_addr(w->agent);
  CHECK(ip != 0);

  world_stop_agent(&w->a[0]); /* kill -9 */
  struct sim_agent *a2 = world_add_agent(w, &pki.alice, 50011);
  CHECK(world_run(w, second_ready, 10 * SEC));
  CHECK_EQ_INT(zt_agent_tunnel_addr(a2->agent), ip);

  zt_agent_shutdown(a2->agent, w->net.now); /* SIGTERM */
  world_stop_agent(a2);
  struct sim_agent *a3 = world_add_agent(w, &pki.alice, 50012);
  CHECK(world_run(w, second_ready, 10 * SEC));
  CHECK_EQ_INT(zt_agent_tunnel_addr(a3->agent), ip);
  sim_send_pings(a3, VIP, 3, 100 * MS);
  CHECK_EQ_INT(a3->rx, 3);
  world_free(w);
}

static bool refused_9(struct world *w) {
  return zt_intermediate_get_stats(w->im)->handshakes_refused >= 9;
}
static bool tenth_logged(struct world *w) {
  (void)w;
  return sim_log_seen("(10 attempts in a row)");
}

/* A certificate from another CA: the agent says the Intermediate refused
 * it as unknown_ca and names its files; it never says "connected". The
 * Intermediate names the refused peer and the reason. Retries go on with
 * backoff but the log says it once per ZT_REPEAT_EVERY attempts. */
static void test_refused_agent_says_why(void) {
  sim_log_capture(true);
  struct world *w = world_new(&pki.evil);
  world_run(w, NULL, 3 * SEC);
  CHECK(!zt_agent_is_connected(w->agent));
  CHECK(sim_log_seen("refused peer at"));
  CHECK(sim_log_seen("issuer"));
  CHECK(sim_log_seen("cannot connect to intermediate: the intermediate "
                     "refused our certificate"));
  CHECK(sim_log_seen("unknown_ca"));
  sim_log_clear();
  /* Attempts up to the 9th: none logged. Counted, not timed: the backoff
   * has jitter. */
  CHECK(world_run(w, refused_9, 400 * SEC));
  CHECK(!sim_log_seen("cannot connect to intermediate"));
  /* the 10th is */
  CHECK(world_run(w, tenth_logged, 100 * SEC));
  CHECK(sim_log_seen("unknown_ca"));
  CHECK(!sim_log_seen("agent alice authenticated"));
  sim_log_capture(false);
  world_free(w);
}

static void policy_nothing(struct world *w) { w->icfg.n_policy = 0; }

/* Connected, but policy grants nothing: a warning names the agent and the
 * Intermediate's policy. */
static void test_nothing_granted_warned(void) {
  sim_log_capture(true);
  struct world *w = world_new_with(&pki.alice, policy_nothing);
  CHECK(world_run(w, agent_ready, 10 * SEC));
  world_run(w, NULL, 200 * MS);
  CHECK(sim_log_seen("policy grants agent alice no services"));
  sim_log_capture(false);
  world_free(w);
}

int main(void) {
  sim_log_init();
  RUN(test_connector_killed_agent_told_then_reopens);
  RUN(test_connector_killed_restarted_agent_told_at_once);
  RUN(test_connector_restart_reopens);
  RUN(test_intermediate_restart_session_back);
  RUN(test_intermediate_restart_under_relayed_traffic);
  RUN(test_agent_restart_keeps_address);
  RUN(test_refused_agent_says_why);
  RUN(test_nothing_granted_warned);
  sim_pki_free();
  return TEST_EXIT();
}

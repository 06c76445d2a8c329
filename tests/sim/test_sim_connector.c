/*
 * The connector (and the agent) against what the Intermediate tells them,
 * including what a compromised Intermediate would tell them.
 *
 * A raw peer cannot play the Intermediate (it is a client; nodes only talk
 * to a server holding the Intermediate's certificate), so most cases here
 * put a fake Intermediate (world.h, fake_im) in the real one's place: it
 * accepts the real connector's and agent's outer connections and sends them
 * any control message and relay frame. The real nodes run unchanged over
 * the simulated network; the world's io callbacks count route changes and
 * conntrack flushes (sim_conn.route_changes, .forgets).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/test.h"
#include "ctrl.h"
#include "log.h"
#include "wire.h"
#include "world.h"

#define AGENT_IP 0x64400007u  /* 100.64.0.7, inside the default pool */
#define AGENT_IP2 0x64400008u /* 100.64.0.8 */
#define GATEWAY 0x0a140101u   /* 10.20.1.1: the connector LAN's router */

static struct world *w;
static struct fake_im *f;

static bool conn_up(struct world *wd) {
  return fake_im_peer(wd->fake, ZT_ROLE_CONNECTOR, "conn-a") != NULL;
}

/* A world with only the connector, talking to a fake Intermediate. */
static bool start(void) {
  w = world_new(NULL);
  f = fake_im_new(w);
  return world_run(w, conn_up, 5 * SEC);
}

static void session_new(uint32_t channel, const char *agent, uint32_t ip) {
  struct zt_ctrl_msg m = {.type = ZT_MSG_SESSION_NEW};
  m.u.session_new.channel = channel;
  snprintf(m.u.session_new.agent, sizeof(m.u.session_new.agent), "%s", agent);
  m.u.session_new.agent_ip = ip;
  m.u.session_new.n = 1;
  m.u.session_new.vips[0] = SIM_VIP;
  fake_im_send(f, fake_im_peer(f, ZT_ROLE_CONNECTOR, NULL), &m);
}

static void session_close(uint32_t channel) {
  struct zt_ctrl_msg m = {.type = ZT_MSG_SESSION_CLOSE};
  m.u.session_close.channel = channel;
  m.u.session_close.status = ZT_ERR_GONE;
  fake_im_send(f, fake_im_peer(f, ZT_ROLE_CONNECTOR, NULL), &m);
}

static const struct zt_connector_stats *cstats(void) {
  return zt_connector_get_stats(w->c[0].conn);
}

/* ---- session replacement ------------------------------------------------ */

/* A newer session for the same agent address replaces the older one: the
 * older channel is closed at the Intermediate too, and the route stays in
 * place (no remove-and-add per SESSION_NEW). */
static void test_replaced_session_closed_upstream_route_kept(void) {
  CHECK(start());
  session_new(100, "alice", AGENT_IP);
  world_run(w, NULL, 200 * MS);
  CHECK_EQ_INT(w->c[0].route_changes, 1);
  CHECK_EQ_INT(f->n_closed, 0);

  session_new(101, "alice", AGENT_IP);
  world_run(w, NULL, 200 * MS);
  CHECK(fake_im_closed(f, 100));
  CHECK_EQ_INT(f->closed_status[0], ZT_ERR_GONE);
  CHECK(!fake_im_closed(f, 101));
  CHECK_EQ_INT(w->c[0].route_changes, 1);
  CHECK_EQ_INT(cstats()->sessions_replaced, 1);

  /* A storm of SESSION_NEWs for one address: still the one route. */
  for (uint32_t ch = 1000; ch < 3000; ch++)
    session_new(ch, "alice", AGENT_IP);
  world_run(w, NULL, 2 * SEC);
  CHECK_EQ_INT(cstats()->sessions_replaced, 2001);
  CHECK_EQ_INT(w->c[0].route_changes, 1);
  CHECK_EQ_INT(f->n_closed, 2001 < 256 ? 2001 : 256); /* recorded ones */
  CHECK(fake_im_closed(f, 1000));

  /* The last session closing takes its route away. */
  session_close(2999);
  world_run(w, NULL, 200 * MS);
  CHECK_EQ_INT(w->c[0].route_changes, 2);
  world_free(w);
}

/* ---- conntrack on address handover ------------------------------------- */

static void test_address_handover_forgets_flows(void) {
  CHECK(start());
  session_new(1, "alice", AGENT_IP);
  world_run(w, NULL, 200 * MS);
  CHECK_EQ_INT(w->c[0].forgets, 0); /* nobody held it before */

  session_new(2, "alice", AGENT_IP); /* alice again: her flows are hers */
  world_run(w, NULL, 200 * MS);
  CHECK_EQ_INT(w->c[0].forgets, 0);

  session_new(3, "bob", AGENT_IP); /* bob now: alice's flows must go */
  world_run(w, NULL, 200 * MS);
  CHECK_EQ_INT(w->c[0].forgets, 1);
  CHECK_EQ_INT(w->c[0].last_forgot, AGENT_IP);
  CHECK_EQ_INT(cstats()->addr_handovers, 1);

  /* The holder is remembered after its session ends: conntrack entries
   * outlive sessions. bob back after a close: nothing to forget... */
  session_close(3);
  world_run(w, NULL, 200 * MS);
  session_new(4, "bob", AGENT_IP);
  world_run(w, NULL, 200 * MS);
  CHECK_EQ_INT(w->c[0].forgets, 1);
  /* ...alice after bob's session closed: bob's flows go. */
  session_close(4);
  world_run(w, NULL, 200 * MS);
  session_new(5, "alice", AGENT_IP);
  world_run(w, NULL, 200 * MS);
  CHECK_EQ_INT(w->c[0].forgets, 2);

  /* Another address, first seen: no one to forget. */
  session_new(6, "bob", AGENT_IP2);
  world_run(w, NULL, 200 * MS);
  CHECK_EQ_INT(w->c[0].forgets, 2);
  world_free(w);
}

/* The real Intermediate restarting: the agent reconnects with the same
 * identity and address, and its TCP flows must survive, so nothing is
 * forgotten. */
static void test_reconnect_same_identity_keeps_flows(void) {
  struct world *rw = world_new(&pki.alice);
  CHECK(world_run(rw, world_ready, 10 * SEC));
  sim_send_pings(&rw->a[0], SIM_VIP, 3, 20 * MS);
  world_run(rw, NULL, 500 * MS);
  CHECK_EQ_INT(rw->a[0].rx, 3);
  world_stop_intermediate(rw);
  world_start_intermediate(rw);
  world_run(rw, NULL, 15 * SEC);
  CHECK(world_run(rw, world_ready, 20 * SEC));
  size_t before = rw->a[0].rx;
  sim_send_pings(&rw->a[0], SIM_VIP, 3, 20 * MS);
  world_run(rw, NULL, 500 * MS);
  CHECK_EQ_INT(rw->a[0].rx - before, 3);
  CHECK(zt_connector_get_stats(rw->c[0].conn)->sessions_accepted >= 2);
  CHECK_EQ_INT(rw->c[0].forgets, 0);
  world_free(rw);
}

/* ---- agent_pool pinned at the connector --------------------------------- */

static void test_agent_pool_pinned(void) {
  CHECK(start());
  sim_log_capture(true);
  session_new(7, "alice", GATEWAY);
  world_run(w, NULL, 200 * MS);
  CHECK_EQ_INT(w->c[0].route_changes, 0);
  CHECK_EQ_INT(cstats()->sessions_bad_addr, 1);
  CHECK(fake_im_closed(f, 7));
  CHECK_EQ_INT(f->closed_status[0], ZT_ERR_NOT_ALLOWED);
  CHECK(sim_log_seen("10.20.1.1 is outside agent_pool 100.64.0.0/16"));
  /* Just outside either end of the pool, and inside it. */
  session_new(8, "alice", 0x643fffffu); /* 100.63.255.255 */
  session_new(9, "alice", 0x64410000u); /* 100.65.0.0 */
  session_new(10, "alice", 0x6440ffffu); /* 100.64.255.255 */
  world_run(w, NULL, 200 * MS);
  CHECK_EQ_INT(cstats()->sessions_bad_addr, 3);
  CHECK_EQ_INT(w->c[0].route_changes, 1);
  sim_log_capture(false);
  world_free(w);
}

static void count_session(void *ud, const struct zt_connector_session_info *s) {
  (void)s;
  (*(size_t *)ud)++;
}

static size_t n_sessions(void) {
  size_t n = 0;
  zt_connector_foreach_session(w->c[0].conn, count_session, &n);
  return n;
}

/* A refused SESSION_NEW on a channel that has a session: the refusal tells
 * the Intermediate the channel is closed, so the older session must not
 * stay behind on it with its route (found by fuzz_connector). */
static void test_refused_session_new_ends_channel(void) {
  CHECK(start());
  session_new(20, "alice", AGENT_IP);
  world_run(w, NULL, 200 * MS);
  CHECK_EQ_INT(n_sessions(), 1);
  CHECK_EQ_INT(w->c[0].route_changes, 1);
  session_new(20, "mallory", GATEWAY);
  world_run(w, NULL, 200 * MS);
  CHECK(fake_im_closed(f, 20));
  CHECK_EQ_INT(f->closed_status[0], ZT_ERR_NOT_ALLOWED);
  CHECK_EQ_INT(n_sessions(), 0);
  CHECK_EQ_INT(w->c[0].route_changes, 2); /* alice's route went with it */
  /* alice again on a new channel: a first session, not a replacement. */
  session_new(21, "alice", AGENT_IP);
  world_run(w, NULL, 200 * MS);
  CHECK_EQ_INT(cstats()->sessions_replaced, 0);
  CHECK_EQ_INT(f->n_closed, 1);
  CHECK_EQ_INT(n_sessions(), 1);
  world_free(w);
}

/* ---- early packets, per channel ---------------------------------------- */

static void early(uint32_t channel, int n) {
  uint8_t junk[200];
  memset(junk, 0xc3, sizeof(junk));
  for (int i = 0; i < n; i++)
    fake_im_relay(f, fake_im_peer(f, ZT_ROLE_CONNECTOR, NULL), channel, junk,
                  sizeof(junk));
}

static void test_early_packets_per_channel(void) {
  CHECK(start());
  /* Channel 200's two early packets, then a flood on channel 300: the
   * flood evicts only its own. */
  early(200, 2);
  world_run(w, NULL, 100 * MS);
  early(300, 100);
  world_run(w, NULL, 300 * MS);
  CHECK_EQ_INT(cstats()->relay_early_buffered, 102);
  CHECK_EQ_INT(cstats()->relay_early_dropped, 96); /* 300 keeps its last 4 */
  session_new(200, "alice", AGENT_IP);
  world_run(w, NULL, 100 * MS);
  CHECK_EQ_INT(cstats()->relay_early_replayed, 2);

  /* Bounded in total: 4 slots held by 300, 28 free = 7 channels of 4; the
   * other 13 channels' packets are dropped, not someone else's. */
  uint64_t dropped = cstats()->relay_early_dropped;
  for (uint32_t ch = 1000; ch < 1020; ch++) {
    early(ch, 4); /* one channel at a time: datagrams may be reordered */
    world_run(w, NULL, 20 * MS);
  }
  CHECK_EQ_INT(cstats()->relay_early_dropped - dropped, 13 * 4);
  session_new(300, "bob", AGENT_IP2);
  world_run(w, NULL, 100 * MS);
  CHECK_EQ_INT(cstats()->relay_early_replayed, 2 + 4);
  session_new(1000, "carol", 0x64400009u);
  world_run(w, NULL, 100 * MS);
  CHECK_EQ_INT(cstats()->relay_early_replayed, 2 + 4 + 4);
  session_new(1019, "carol", 0x6440000au);
  world_run(w, NULL, 100 * MS);
  CHECK_EQ_INT(cstats()->relay_early_replayed, 2 + 4 + 4);
  world_free(w);
}

/* ---- service_range pinned at the agent ---------------------------------- */

static bool agent_up(struct world *wd) {
  return fake_im_peer(wd->fake, ZT_ROLE_AGENT, "alice") != NULL;
}

static void add_service(struct zt_ctrl_msg *m, const char *name, uint32_t vip) {
  struct zt_ctrl_service *s = &m->u.services.items[m->u.services.n++];
  snprintf(s->name, sizeof(s->name), "%s", name);
  s->vip = vip;
  snprintf(s->connector, sizeof(s->connector), "conn-a");
  s->online = 1;
}

static void test_agent_service_range_pinned(void) {
  w = world_new(&pki.alice);
  f = fake_im_new(w);
  CHECK(world_run(w, agent_up, 5 * SEC));
  struct zq_conn *q = fake_im_peer(f, ZT_ROLE_AGENT, "alice");
  struct zt_ctrl_msg m = {.type = ZT_MSG_SERVICES};
  add_service(&m, "web", SIM_VIP);
  add_service(&m, "dns", 0x08080808u);      /* 8.8.8.8 */
  add_service(&m, "gw", 0x0a0a0101u);       /* 10.10.1.1: its LAN router */
  add_service(&m, "edge", 0x0a650000u);     /* 10.101.0.0, just past */
  add_service(&m, "last", 0x0a64ffffu);     /* 10.100.255.255, inside */
  sim_log_capture(true);
  fake_im_send(f, q, &m);
  world_run(w, NULL, 300 * MS);
  struct sim_agent *a = &w->a[0];
  CHECK_EQ_INT(a->n_routes, 2);
  CHECK(a->routes[0] == SIM_VIP || a->routes[1] == SIM_VIP);
  CHECK(a->routes[0] == 0x0a64ffffu || a->routes[1] == 0x0a64ffffu);
  CHECK_EQ_INT(zt_agent_get_stats(a->agent)->services_refused, 3);
  CHECK(sim_log_seen("refused service dns at 8.8.8.8"));
  CHECK(sim_log_seen("outside service_range 10.100.0.0/16"));
  CHECK(!zt_agent_service_online(a->agent, 0x08080808u));
  CHECK(zt_agent_service_online(a->agent, SIM_VIP));
  sim_log_capture(false);
  world_free(w);
}

int main(void) {
  sim_log_init();
  RUN(test_replaced_session_closed_upstream_route_kept);
  RUN(test_address_handover_forgets_flows);
  RUN(test_reconnect_same_identity_keeps_flows);
  RUN(test_agent_pool_pinned);
  RUN(test_refused_session_new_ends_channel);
  RUN(test_early_packets_per_channel);
  RUN(test_agent_service_range_pinned);
  sim_pki_free();
  return TEST_EXIT();
}

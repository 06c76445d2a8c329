/*
 * Several Intermediates: a connector registered at two of them, an agent
 * that uses the one with the lower RTT and moves to the other when it
 * dies, keeping its tunnel address; and sessions at the connector keyed by
 * (Intermediate, channel), so the same channel number at two
 * Intermediates reaches two different sessions.
 */
#include <stdio.h>
#include <string.h>

#include "../unit/test.h"
#include "world.h"

static struct world *w;

static void two_ims(struct world *wd) { wd->second_im = true; }

/* The connector's sessions by uplink, and the channel of each. */
struct seen {
  size_t n[2];
  uint32_t channel[2];
  const char *agent[2];
};

static void count_session(void *ud, const struct zt_connector_session_info *s) {
  struct seen *sn = ud;
  if (s->uplink < 2) {
    sn->n[s->uplink]++;
    sn->channel[s->uplink] = s->channel;
    sn->agent[s->uplink] = s->agent;
  }
}

static struct seen sessions(void) {
  struct seen sn;
  memset(&sn, 0, sizeof(sn));
  zt_connector_foreach_session(w->conn, count_session, &sn);
  return sn;
}

static bool both_registered(struct world *wd) {
  return world_ready(wd) &&
         zt_agent_intermediate_in_use(wd->agent) != SIZE_MAX;
}

/* Replies to the pings of one round, sent 20 ms apart. */
static size_t ping_round(int n) {
  size_t before = w->a[0].rx;
  sim_send_pings(&w->a[0], SIM_VIP, n, 20 * MS);
  world_run(w, NULL, 300 * MS);
  return w->a[0].rx - before;
}

/* The agent takes the Intermediate with the lower RTT, whichever is
 * listed first. */
static void check_choice(uint64_t delay1, uint64_t delay2, size_t want) {
  w = world_new_with(&pki.alice, two_ims);
  w->hi->delay_ns = delay1;
  w->hi2->delay_ns = delay2;
  CHECK(world_run(w, both_registered, 10 * SEC));
  CHECK_EQ_INT(zt_agent_intermediate_in_use(w->agent), want);
  CHECK_EQ_INT(ping_round(3), 3);
  /* The session runs through the chosen Intermediate. */
  struct seen sn = sessions();
  CHECK_EQ_INT(sn.n[want], 1);
  CHECK_EQ_INT(sn.n[1 - want], 0);
  world_free(w);
}

static void test_lowest_rtt_chosen(void) {
  check_choice(1 * MS, 25 * MS, 0);
  check_choice(25 * MS, 1 * MS, 1);
}

/* The first dies without a word (no reset: it is gone): the agent notices
 * the silence, moves to the second, opens its session there, and the
 * pings come back; same tunnel address. */
static void test_failover(void) {
  w = world_new_with(&pki.alice, two_ims);
  w->hi2->delay_ns = 10 * MS;
  CHECK(world_run(w, both_registered, 10 * SEC));
  CHECK_EQ_INT(zt_agent_intermediate_in_use(w->agent), 0);
  /* The connector is registered at both before the first goes. */
  world_run(w, NULL, 2 * SEC);
  uint32_t addr = zt_agent_tunnel_addr(w->agent);
  CHECK_EQ_INT(ping_round(5), 5);

  world_stop_intermediate(w);
  uint64_t t0 = w->net.now, back = 0;
  for (int i = 0; i < 200 && !back; i++) /* a ping every 100 ms, 20 s */
    if (ping_round(1) == 1)
      back = w->net.now;
  CHECK(back != 0);
  printf("  failover outage (simulated): %.1f s\n", (double)(back - t0) / 1e9);
  /* Under traffic the silence is found by an unanswered poke (200 ms of
   * silence, then max(250 ms, 3 RTT)), not by the 3 s idle rule.
   * Simulated time: an exact bound, not a wall-clock guess. */
  CHECK(back - t0 < 1500 * MS);
  CHECK(back - t0 < 15 * SEC);
  CHECK_EQ_INT(zt_agent_intermediate_in_use(w->agent), 1);
  CHECK_EQ_INT(zt_agent_tunnel_addr(w->agent), addr);
  CHECK_EQ_INT(ping_round(10), 10);
  struct seen sn = sessions();
  CHECK_EQ_INT(sn.n[1], 1);
  CHECK_EQ_INT(sn.n[0], 0);
  world_free(w);
}

static void two_ims_direct(struct world *wd) {
  wd->second_im = true;
  wd->agent_direct = true;
}

static char status_buf[65536];

static bool agent_direct(struct world *wd) {
  int n = zt_agent_status_json(wd->agent, status_buf, sizeof(status_buf));
  return n > 0 && (size_t)n < sizeof(status_buf) &&
         strstr(status_buf, "\"path\":\"direct\"") != NULL;
}

/* A direct session needs no relay: it carries on while the Intermediate
 * in use dies and the agent moves, with no new handshake, and the
 * connector adopts it when the second Intermediate announces it. */
static void test_direct_session_rides_through(void) {
  w = world_new_with(&pki.alice, two_ims_direct);
  w->hi2->delay_ns = 10 * MS;
  CHECK(world_run(w, both_registered, 10 * SEC));
  CHECK_EQ_INT(zt_agent_intermediate_in_use(w->agent), 0);
  CHECK_EQ_INT(ping_round(3), 3);
  for (int i = 0; i < 50 && !agent_direct(w); i++)
    ping_round(1);
  CHECK(agent_direct(w));
  uint64_t opened = zt_agent_get_stats(w->agent)->sessions_opened;

  world_stop_intermediate(w);
  size_t answered = 0;
  for (int i = 0; i < 60; i++) /* 6 s: before, during and after the move */
    answered += ping_round(1);
  CHECK_EQ_INT(answered, 60);
  CHECK_EQ_INT(zt_agent_intermediate_in_use(w->agent), 1);
  CHECK_EQ_INT(zt_agent_get_stats(w->agent)->sessions_opened, opened);
  struct seen sn = sessions();
  CHECK_EQ_INT(sn.n[1], 1); /* re-announced by the second, adopted */
  CHECK(sn.channel[1] != 0);
  CHECK_EQ_INT(zt_connector_get_stats(w->conn)->sessions_replaced, 0);
  world_free(w);
}

static struct fake_im *f;

static bool alice_on_second(struct world *wd) {
  return zt_agent_intermediate_in_use(wd->agent) == 1 &&
         zt_agent_service_online(wd->agent, SIM_VIP) &&
         fake_im_peer(f, ZT_ROLE_CONNECTOR, "conn-a") != NULL;
}

/* The first Intermediate is a fake one that re-uses, for another agent,
 * the channel number the second gave alice's session: the connector keeps
 * the two apart, and alice's traffic (relayed by the second) never reaches
 * bob's session nor the other way round. */
static void test_channel_per_intermediate(void) {
  w = world_new_with(&pki.alice, two_ims);
  f = fake_im_new(w); /* never welcomes the agent: it uses the second */
  CHECK(world_run(w, alice_on_second, 10 * SEC));
  CHECK_EQ_INT(ping_round(3), 3);
  struct seen sn = sessions();
  CHECK_EQ_INT(sn.n[1], 1);
  uint32_t ch = sn.channel[1];

  struct zt_ctrl_msg m = {.type = ZT_MSG_SESSION_NEW};
  m.u.session_new.channel = ch;
  snprintf(m.u.session_new.agent, sizeof(m.u.session_new.agent), "bob");
  m.u.session_new.agent_ip = 0x64400063u; /* 100.64.0.99 */
  m.u.session_new.n = 1;
  m.u.session_new.vips[0] = SIM_VIP;
  struct zq_conn *q = fake_im_peer(f, ZT_ROLE_CONNECTOR, "conn-a");
  fake_im_send(f, q, &m);
  world_run(w, NULL, 200 * MS);
  /* A frame on that channel through the first: bob's, not alice's. */
  uint8_t junk[200];
  memset(junk, 0x41, sizeof(junk));
  fake_im_relay(f, q, ch, junk, sizeof(junk));
  world_run(w, NULL, 200 * MS);

  sn = sessions();
  CHECK_EQ_INT(sn.n[0], 1);
  CHECK_EQ_INT(sn.n[1], 1);
  CHECK_EQ_INT(sn.channel[0], ch);
  CHECK_EQ_INT(sn.channel[1], ch);
  CHECK(sn.agent[0] && strcmp(sn.agent[0], "bob") == 0);
  CHECK(sn.agent[1] && strcmp(sn.agent[1], "alice") == 0);
  /* The agent takes relay frames only from the Intermediate it uses: the
   * first one's frame on alice's channel number is not hers. */
  struct zq_conn *qa = fake_im_peer(f, ZT_ROLE_AGENT, "alice");
  CHECK(qa != NULL);
  uint64_t unknown = zt_agent_get_stats(w->agent)->relay_unknown_channel;
  fake_im_relay(f, qa, ch, junk, sizeof(junk));
  world_run(w, NULL, 200 * MS);
  CHECK_EQ_INT(zt_agent_get_stats(w->agent)->relay_unknown_channel,
               unknown + 1);
  /* alice's session was not replaced nor fed bob's frame. */
  CHECK_EQ_INT(ping_round(5), 5);
  CHECK_EQ_INT(zt_connector_get_stats(w->conn)->sessions_replaced, 0);
  fake_im_free(f);
  world_free(w);
}

int main(void) {
  sim_log_init();
  RUN(test_lowest_rtt_chosen);
  RUN(test_failover);
  RUN(test_channel_per_intermediate);
  RUN(test_direct_session_rides_through);
  sim_pki_free();
  return TEST_EXIT();
}

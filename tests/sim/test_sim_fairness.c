/*
 * Relay fairness, as the attack from the review: one agent floods its
 * channel with relay frames (no congestion control of its own, just as
 * fast as its outer connection takes them) towards a connector behind a
 * slower path, so the Intermediate's queue towards that connector fills.
 * Another agent's pings through the same connector must still get through:
 * the queue is shared per channel (dgramq.c), the flood loses its own
 * oldest frames, and the other channel gets every other turn.
 */
#include <stdlib.h>
#include <string.h>

#include "../unit/test.h"
#include "intermediate.h"
#include "wire.h"
#include "world.h"

static void allow_everyone(struct world *w) {
  snprintf(w->icfg.policy[0].agent, sizeof(w->icfg.policy[0].agent), "*");
}

static bool mallory_ready(struct world *w) {
  return w->n_raw && w->raw[0]->got[ZT_MSG_SESSION_READY] > 0;
}

static void test_flooding_channel_cannot_starve_another(void) {
  struct world *w = world_new_with(&pki.alice, allow_everyone);
  w->hc->delay_ns = 200 * MS; /* the connector sits behind a slow path */
  CHECK(world_run(w, world_ready, 10 * SEC));
  sim_send_pings(&w->a[0], SIM_VIP, 2, 100 * MS); /* alice's session up */
  world_run(w, NULL, 1 * SEC);
  CHECK_EQ_INT(w->a[0].rx, 2);

  /* Mallory (bob's certificate): a channel to the same connector. */
  struct raw_peer *m = raw_peer_new(w, &pki.bob, 50200);
  CHECK(world_run(w, NULL, 1 * SEC) && raw_ready(m));
  struct zt_ctrl_msg msg = {.type = ZT_MSG_HELLO};
  msg.u.hello.version = ZT_PROTOCOL_VERSION;
  raw_send_msg(m, &msg);
  world_run(w, NULL, 200 * MS);
  msg.type = ZT_MSG_SESSION_OPEN;
  msg.u.session_open.request_id = 1;
  snprintf(msg.u.session_open.connector, sizeof(msg.u.session_open.connector),
           "conn-a");
  raw_send_msg(m, &msg);
  CHECK(world_run(w, mallory_ready, 2 * SEC));
  uint32_t ch = m->last[ZT_MSG_SESSION_READY].u.session_ready.channel;
  CHECK(ch != 0);

  /* The flood: 1,200-byte frames, faster than the slow path drains them,
   * for two seconds, while alice pings every 100 ms. */
  static uint8_t junk[1200];
  memset(junk, 0x5a, sizeof(junk));
  size_t before = w->a[0].rx;
  uint8_t p[128];
  for (int tick = 0; tick < 200; tick++) {
    for (int k = 0; k < 100; k++)
      raw_send_relay(m, ch, junk, sizeof(junk));
    if (tick % 10 == 5) {
      size_t len = sim_build_ping(p, zt_agent_tunnel_addr(w->agent), SIM_VIP,
                                  (uint16_t)(100 + tick), 84);
      zt_agent_feed_tun(w->agent, p, len, w->net.now);
    }
    world_run(w, NULL, 10 * MS);
  }
  world_run(w, NULL, 2 * SEC);
  const struct zt_intermediate_stats *st = zt_intermediate_get_stats(w->im);
  size_t got = w->a[0].rx - before;
  printf("  20 pings during the flood: %zu answered; relay frames %llu, "
         "queue drops %llu\n",
         got, (unsigned long long)st->relay_frames,
         (unsigned long long)st->relay_queue_drops);
  /* The flood really filled the queue towards the connector... */
  CHECK(st->relay_queue_drops > 0);
  /* ...and alice's pings still got through. */
  CHECK(got >= 18);
  world_free(w);
}

int main(void) {
  sim_log_init();
  RUN(test_flooding_channel_cannot_starve_another);
  sim_pki_free();
  return TEST_EXIT();
}

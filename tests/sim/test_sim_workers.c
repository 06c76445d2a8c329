/*
 * The Intermediate with several workers (config "workers"), in the
 * simulator: each packet is steered to the worker its connection ID names
 * (world.c steer(), as the kernel's program does), so the agent and the
 * connector of a session live on different workers and every relayed
 * frame and control message between them crosses a mailbox. The sim drives
 * all workers from one thread; the threads themselves run in the
 * namespace test (tests/netns/workers.sh).
 */
#include <stdio.h>
#include <string.h>

#include "../unit/test.h"
#include "quic.h"
#include "world.h"

#define VIP SIM_VIP

static unsigned n_workers;
static void with_workers(struct world *w) { w->im_workers = n_workers; }

/* The worker that owns the named peer's connection, -1 when none. */
struct owner_q {
  const char *name;
  enum zt_role role;
  unsigned n;
  int worker, count;
};
static void owner_cb(void *ud, const struct zt_intermediate_peer_info *p) {
  struct owner_q *q = ud;
  if (p->role != q->role || strcmp(p->name, q->name) != 0)
    return;
  q->worker = (int)(zq_key(p->conn) % q->n);
  q->count++;
}
static int owner(struct world *w, enum zt_role role, const char *name) {
  struct owner_q q = {name, role, zt_intermediate_workers(w->im), -1, 0};
  zt_intermediate_foreach_peer(w->im, owner_cb, &q);
  return q.worker;
}

/* The default deployment on n workers, up (NULL: it did not come up). */
static struct world *workers_world(unsigned n) {
  n_workers = n;
  struct world *w = world_new_with(&pki.alice, with_workers);
  if (zt_intermediate_workers(w->im) == n && world_run(w, world_ready, 10 * SEC))
    return w;
  world_free(w);
  return NULL;
}

/* Relayed both ways between two workers; every counter is the sum of the
 * workers', and status shows each worker. */
static void test_relay_across_workers(void) {
  static char out[64 * 1024];
  struct world *w = workers_world(2);
  CHECK(w);
  if (!w)
    return;
  int wa = owner(w, ZT_ROLE_AGENT, "alice");
  int wc = owner(w, ZT_ROLE_CONNECTOR, "conn-a");
  printf("  agent on worker %d, connector on worker %d\n", wa, wc);
  CHECK(wa >= 0 && wc >= 0 && wa != wc);
  sim_send_pings(&w->a[0], VIP, 20, 20 * MS);
  world_run(w, NULL, 500 * MS);
  CHECK_EQ_INT(w->a[0].rx, 20);
  CHECK_EQ_INT(w->a[0].rx_bad, 0);
  const struct zt_intermediate_stats *st = zt_intermediate_get_stats(w->im);
  CHECK(st->relay_frames >= 40);
  CHECK_EQ_INT(st->peers_accepted, 2);
  CHECK_EQ_INT(zt_intermediate_peer_count(w->im), 2);
  int n = zt_intermediate_status(w->im, out, sizeof(out));
  CHECK(n > 0 && (size_t)n < sizeof(out));
  CHECK_CONTAINS(out, "worker 0: 1 peer(s)");
  CHECK_CONTAINS(out, "worker 1: 1 peer(s)");
  n = zt_intermediate_status_json(w->im, out, sizeof(out));
  CHECK(n > 0 && (size_t)n < sizeof(out));
  CHECK_CONTAINS(out, "\"workers\":[{\"peers\":1,");
  CHECK_CONTAINS(out, "},{\"peers\":1,");
  world_free(w);
}

/* Three workers: a connector that leaves cleanly is a control event on
 * its worker whose news (SERVICES, SESSION_CLOSE) reaches the agent on
 * another; it comes back and the session opens again. */
static bool echo_offline(struct world *w) {
  return !zt_agent_service_online(w->agent, VIP);
}
static bool echo_ready(struct world *w) {
  return zt_agent_service_online(w->agent, VIP);
}
static void test_control_across_workers(void) {
  struct world *w = workers_world(3);
  CHECK(w);
  if (!w)
    return;
  CHECK(owner(w, ZT_ROLE_AGENT, "alice") !=
        owner(w, ZT_ROLE_CONNECTOR, "conn-a"));
  sim_send_pings(&w->a[0], VIP, 3, 20 * MS);
  world_run(w, NULL, 300 * MS);
  CHECK_EQ_INT(w->a[0].rx, 3);
  world_stop_connector(&w->c[0], true);
  CHECK(world_run(w, echo_offline, 2 * SEC));
  world_start_connector(&w->c[0]);
  CHECK(world_run(w, echo_ready, 5 * SEC));
  w->a[0].rx = 0;
  sim_send_pings(&w->a[0], VIP, 5, 50 * MS);
  world_run(w, NULL, 2 * SEC);
  CHECK_EQ_INT(w->a[0].rx, 5);
  world_free(w);
}

/* The same identity connects again from a port the kernel steers to the
 * other worker: the newer connection replaces the older across workers,
 * and only the newer one is held. */
static void test_replace_across_workers(void) {
  struct world *w = workers_world(2);
  CHECK(w);
  if (!w)
    return;
  int was = owner(w, ZT_ROLE_AGENT, "alice");
  struct sim_agent *b = world_add_agent(w, &pki.alice, 50002);
  CHECK(b);
  world_run(w, NULL, 3 * SEC);
  const struct zt_intermediate_stats *st = zt_intermediate_get_stats(w->im);
  CHECK_EQ_INT(st->peers_replaced, 1);
  int now_on = owner(w, ZT_ROLE_AGENT, "alice");
  printf("  alice moved from worker %d to worker %d\n", was, now_on);
  CHECK(now_on >= 0 && now_on != was);
  struct owner_q q = {"alice", ZT_ROLE_AGENT, 2, -1, 0};
  world_run(w, NULL, 40 * SEC); /* the older one's close runs out */
  zt_intermediate_foreach_peer(w->im, owner_cb, &q);
  CHECK_EQ_INT(q.count, 1);
  CHECK(zt_agent_is_connected(b->agent));
  world_free(w);
}

/* An agent's new address binding is saved by worker 0 (one file), which
 * must be woken for it when the agent's HELLO is another worker's. Here
 * worker 0 holds no peer at all, so no timer of its own would ever run
 * the save: without the wake the agent waits for its WELCOME forever. */
static bool conn_up(struct world *w) {
  return owner(w, ZT_ROLE_CONNECTOR, "conn-a") >= 0;
}
static bool bob_welcomed(struct world *w) {
  return w->n_agents && zt_agent_tunnel_addr(w->a[0].agent) != 0;
}
static void test_address_saved_by_worker0(void) {
  n_workers = 3;
  struct world *w = world_new_with(NULL, with_workers);
  CHECK(world_run(w, conn_up, 5 * SEC));
  CHECK_EQ_INT(owner(w, ZT_ROLE_CONNECTOR, "conn-a"), 50000 % 3);
  size_t saves = w->state_saves;
  uint64_t t0 = w->net.now;
  CHECK(world_add_agent(w, &pki.bob, 50002));
  CHECK(world_run(w, bob_welcomed, 5 * SEC));
  printf("  bob (worker %d) welcomed after %.0f ms\n",
         owner(w, ZT_ROLE_AGENT, "bob"), (double)(w->net.now - t0) / 1e6);
  CHECK_EQ_INT(owner(w, ZT_ROLE_AGENT, "bob"), 50002 % 3);
  CHECK_EQ_INT(w->state_saves, saves + 1);
  world_free(w);
}

int main(void) {
  sim_log_init();
  RUN(test_relay_across_workers);
  RUN(test_control_across_workers);
  RUN(test_replace_across_workers);
  RUN(test_address_saved_by_worker0);
  sim_pki_free();
  return TEST_EXIT();
}

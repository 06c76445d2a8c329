/*
 * Several connectors for one service (policy "connectors": [...]), end to
 * end in the simulator: "echo" is served by conn-a and conn-b, "web" by
 * conn-a only. The agent is given one of them (announced in SERVICES);
 * when that one stops cleanly, and later when the other is killed (no
 * CONNECTION_CLOSE: only its silence tells), pings continue through the
 * one left. A connector coming back does not pull the agent over (sticky).
 * SESSION_NEW to conn-b lists only what conn-b serves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/test.h"
#include "policy.h"
#include "wire.h"
#include "world.h"

#define VIP SIM_VIP

static const char policy_doc[] =
    "{\"services\": [\n"
    "  {\"name\": \"echo\", \"address\": \"10.100.0.1\", \"connectors\": "
    "[\"conn-a\", \"conn-b\"], \"ports\": [\"udp/7\", \"icmp\"]},\n"
    "  {\"name\": \"web\", \"address\": \"10.100.0.2\", \"connector\": "
    "\"conn-a\"}],\n"
    " \"rules\": [{\"agent\": \"alice\", \"services\": [\"echo\", \"web\"]}]}";

/* conn-a offers echo and web. */
static void edit(struct world *w) {
  struct zt_connector_config *cc = &w->c[0].cfg;
  cc->n_services = 2;
  cc->services[1] = cc->services[0];
  snprintf(cc->services[1].name, sizeof(cc->services[1].name), "web");
}

/* Which connector's kernel got echo's packets: one ping, answered. ""
 * when none was answered. */
static const char *serving(struct world *w) {
  size_t a = w->c[0].delivered, b = w->c[1].delivered, rx = w->a[0].rx;
  sim_send_pings(&w->a[0], VIP, 1, 300 * MS);
  if (w->a[0].rx != rx + 1)
    return "";
  if (w->c[0].delivered > a && w->c[1].delivered == b)
    return "conn-a";
  if (w->c[1].delivered > b && w->c[0].delivered == a)
    return "conn-b";
  return "both?";
}

static struct sim_conn *conn_named(struct world *w, const char *name) {
  return strcmp(name, "conn-a") == 0 ? &w->c[0] : &w->c[1];
}

/* Every session conn-b holds carries echo's address only: web is not its
 * service. Counts the sessions checked. */
static size_t b_checked;
static void check_b_session(void *ud,
                            const struct zt_connector_session_info *s) {
  (void)ud;
  CHECK_EQ_INT(s->n_vips, 1);
  for (uint8_t i = 0; i < s->n_vips; i++)
    CHECK(s->vips[i] == VIP);
  b_checked++;
}

static void check_conn_b(struct world *w) {
  if (w->c[1].conn)
    zt_connector_foreach_session(w->c[1].conn, check_b_session, NULL);
}

/* Pings every 100 ms until one comes back: the gap since `since`, or
 * UINT64_MAX when none did within `limit`. */
static uint64_t pings_until_answer(struct world *w, uint64_t since,
                                   uint64_t limit) {
  uint8_t p[128];
  for (uint16_t seq = 0; w->net.now - since < limit; seq++) {
    size_t rx = w->a[0].rx;
    size_t len = sim_build_ping(p, zt_agent_tunnel_addr(w->agent), VIP, seq, 84);
    zt_agent_feed_tun(w->agent, p, len, w->net.now);
    world_run(w, NULL, 100 * MS);
    if (w->a[0].rx > rx)
      return w->net.now - since;
  }
  return UINT64_MAX;
}

static bool both_registered(struct world *w) {
  return w->c[0].conn && w->c[1].conn &&
         zt_connector_registered(w->c[0].conn) == 2 &&
         zt_connector_registered(w->c[1].conn) == 1;
}

static void test_failover(void) {
  char err[256];
  struct world *w = world_new_with(&pki.alice, edit);
  CHECK(world_run(w, world_ready, 10 * SEC));
  struct zt_connector_config cfg_b = w->c[0].cfg;
  cfg_b.n_services = 1; /* echo only */
  world_add_connector(w, &pki.conn_b, &cfg_b, 50011);
  struct zt_policy *pol = zt_policy_new();
  CHECK(zt_policy_parse(pol, "multi.json", policy_doc, strlen(policy_doc),
                        err, sizeof err) == 0);
  zt_intermediate_set_policy(w->im, pol, w->net.now);
  CHECK(world_run(w, both_registered, 5 * SEC));
  CHECK(pings_until_answer(w, w->net.now, 2 * SEC) != UINT64_MAX);
  char first[ZT_NAME_MAX + 1];
  snprintf(first, sizeof first, "%s", serving(w));
  CHECK(first[0]);
  printf("  echo served by %s\n", first);
  check_conn_b(w);

  /* 1. The serving one stops cleanly: the other takes over at once. */
  struct sim_conn *c1 = conn_named(w, first);
  world_stop_connector(c1, true);
  uint64_t gap = pings_until_answer(w, w->net.now, 20 * SEC);
  printf("  clean stop of %s: pings answered again after %.0f ms\n", first,
         (double)gap / 1e6);
  CHECK(gap < 3 * SEC);
  char second[ZT_NAME_MAX + 1];
  snprintf(second, sizeof second, "%s", serving(w));
  CHECK(second[0] && strcmp(second, first) != 0);
  check_conn_b(w);

  /* 2. The first comes back: the agent stays where it is (sticky). */
  world_start_connector(c1);
  CHECK(world_run(w, both_registered, 5 * SEC));
  world_run(w, NULL, 1 * SEC);
  CHECK(pings_until_answer(w, w->net.now, 2 * SEC) != UINT64_MAX);
  CHECK_STR(serving(w), second);

  /* 3. The serving one is killed: no close, only silence. */
  sim_log_capture(true);
  world_stop_connector(conn_named(w, second), false);
  uint64_t t0 = w->net.now;
  gap = pings_until_answer(w, t0, 20 * SEC);
  printf("  kill -9 of %s: pings answered again after %.0f ms (silent "
         "after %d ms)\n",
         second, (double)gap / 1e6, ZT_CONNECTOR_SILENT_MS);
  CHECK(gap >= ZT_CONNECTOR_SILENT_MS * MS); /* nothing sooner tells */
  CHECK(gap < (ZT_CONNECTOR_SILENT_MS + 3000) * MS);
  CHECK(sim_log_seen("silent for"));
  CHECK_STR(serving(w), first);
  check_conn_b(w);
  CHECK(b_checked >= 1); /* conn-b served in one of the phases */
  sim_log_capture(false);
  world_free(w);
}

/* Nothing registered: the service is offline, named with its first
 * connector; one registering brings it online. */
static void test_offline_until_registered(void) {
  char err[256];
  struct world *w = world_new_with(&pki.alice, edit);
  CHECK(world_run(w, world_ready, 10 * SEC));
  struct zt_policy *pol = zt_policy_new();
  static const char doc[] =
      "{\"services\": [{\"name\": \"echo\", \"address\": \"10.100.0.1\", "
      "\"connectors\": [\"conn-x\", \"conn-y\"]}],\n"
      " \"rules\": [{\"agent\": \"alice\", \"services\": [\"echo\"]}]}";
  CHECK(zt_policy_parse(pol, "multi.json", doc, strlen(doc), err,
                        sizeof err) == 0);
  zt_intermediate_set_policy(w->im, pol, w->net.now);
  world_run(w, NULL, 500 * MS);
  CHECK(!zt_agent_service_online(w->agent, VIP));
  /* conn-a may not register it: not among its connectors. */
  CHECK_EQ_INT(zt_connector_registered(w->conn), 0);
  world_free(w);
}

int main(void) {
  sim_pki_init();
  sim_log_init();
  RUN(test_failover);
  RUN(test_offline_until_registered);
  sim_pki_free();
  return TEST_EXIT();
}

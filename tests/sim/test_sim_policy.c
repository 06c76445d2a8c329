/*
 * Live policy reloads (zt_intermediate_set_policy, what SIGHUP and `ztna
 * reload` end in): a grant taken away closes the session at both ends and
 * the agent's route goes; a grant narrowed updates the session in place;
 * a grant given makes the service appear on a
 * connected agent without a reconnect; a broken file is refused before any
 * swap (test_policy.c), so here every reload is a good one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/test.h"
#include "config.h"
#include "policy.h"
#include "policyfile.h"
#include "world.h"

#define VIP SIM_VIP

static char err[512];

/* A snapshot from a policy document, NULL (and a message) when it does not
 * parse. */
static struct zt_policy *policy(const char *text) {
  struct zt_policy *p = zt_policy_new();
  if (p && zt_policy_parse(p, "sim-policy.json", text, strlen(text), err,
                           sizeof err) == 0)
    return p;
  fprintf(stderr, "%s\n", err);
  zt_policy_free(p);
  return NULL;
}

#define ECHO_SERVICE                                                         \
  "\"services\": [{\"name\": \"echo\", \"address\": \"10.100.0.1\", "       \
  "\"connector\": \"conn-a\", \"ports\": [\"udp/7\", \"icmp\"]}]"

static void count_session(void *ud, const struct zt_connector_session_info *s) {
  (void)s;
  (*(size_t *)ud)++;
}

static size_t connector_sessions(struct world *w) {
  size_t n = 0;
  zt_connector_foreach_session(w->conn, count_session, &n);
  return n;
}

static bool no_route(struct world *w) { return w->a[0].n_routes == 0; }
static bool routed(struct world *w) { return w->a[0].n_routes == 1; }

static void test_reload_revokes(void) {
  struct world *w = world_new(&pki.alice);
  CHECK(world_run(w, world_ready, 10 * SEC));
  sim_send_pings(&w->a[0], VIP, 5, 20 * MS);
  world_run(w, NULL, 500 * MS);
  CHECK_EQ_INT(w->a[0].rx, 5); /* the control: the path works */
  CHECK_EQ_INT(zt_intermediate_channel_count(w->im), 1);
  CHECK_EQ_INT(connector_sessions(w), 1);
  uint64_t accepted = zt_intermediate_get_stats(w->im)->peers_accepted;

  /* Only bob may reach echo now. */
  struct zt_policy *p = policy(
      "{" ECHO_SERVICE ", \"rules\": [{\"agent\": \"bob\", \"services\": "
      "[\"echo\"]}]}");
  CHECK(p);
  CHECK_EQ_INT(zt_intermediate_set_policy(w->im, p, w->net.now), 1);
  CHECK(world_run(w, no_route, 1 * SEC)); /* within a second */
  world_run(w, NULL, 200 * MS);
  CHECK_EQ_INT(zt_intermediate_channel_count(w->im), 0);
  CHECK_EQ_INT(connector_sessions(w), 0);
  size_t rx = w->a[0].rx;
  sim_send_pings(&w->a[0], VIP, 3, 20 * MS);
  world_run(w, NULL, 1 * SEC);
  CHECK_EQ_INT(w->a[0].rx, rx);
  /* No reconnect was needed for any of it. */
  CHECK_EQ_INT(zt_intermediate_get_stats(w->im)->peers_accepted, accepted);
  world_free(w);
}

static bool connected(struct world *w) {
  return zt_connector_registered(w->conn) == 1 &&
         zt_agent_tunnel_addr(w->agent) != 0;
}

static void test_reload_grants_without_reconnect(void) {
  struct world *w = world_new(&pki.bob); /* no rule names bob */
  CHECK(world_run(w, connected, 10 * SEC));
  world_run(w, NULL, 300 * MS);
  CHECK_EQ_INT(w->a[0].n_routes, 0);
  uint64_t accepted = zt_intermediate_get_stats(w->im)->peers_accepted;

  struct zt_policy *p = policy(
      "{\"groups\": [{\"name\": \"g\", \"agents\": [\"bob\"]}], " ECHO_SERVICE
      ", \"rules\": [{\"group\": \"g\", \"services\": [\"echo\"]}]}");
  CHECK(p);
  CHECK_EQ_INT(zt_intermediate_set_policy(w->im, p, w->net.now), 0);
  CHECK(world_run(w, routed, 1 * SEC));
  CHECK_EQ_INT(w->a[0].routes[0], VIP);
  sim_send_pings(&w->a[0], VIP, 5, 20 * MS);
  world_run(w, NULL, 1 * SEC);
  CHECK_EQ_INT(w->a[0].rx, 5);
  CHECK_EQ_INT(zt_intermediate_get_stats(w->im)->peers_accepted, accepted);
  world_free(w);
}

/* A reload that changes nothing for a session leaves it alone. */
static void test_reload_same_grant_keeps_session(void) {
  struct world *w = world_new(&pki.alice);
  CHECK(world_run(w, world_ready, 10 * SEC));
  sim_send_pings(&w->a[0], VIP, 2, 20 * MS);
  world_run(w, NULL, 500 * MS);
  CHECK_EQ_INT(w->a[0].rx, 2);
  /* world.c's inline policy: alice reaches echo, every port. */
  struct zt_policy *p = policy(
      "{\"services\": [{\"name\": \"echo\", \"address\": \"10.100.0.1\", "
      "\"connector\": \"conn-a\"}], \"rules\": [{\"agent\": \"alice\", "
      "\"services\": [\"echo\"]}]}");
  CHECK(p);
  CHECK_EQ_INT(zt_intermediate_set_policy(w->im, p, w->net.now), 0);
  world_run(w, NULL, 300 * MS);
  CHECK_EQ_INT(zt_intermediate_channel_count(w->im), 1);
  CHECK_EQ_INT(w->a[0].n_routes, 1);
  world_free(w);
}

static void send_udp7(struct world *w, int n) {
  uint8_t p[256];
  for (int i = 0; i < n; i++) {
    size_t len = sim_build_udp(p, zt_agent_tunnel_addr(w->agent), VIP, 7, 32);
    zt_agent_feed_tun(w->agent, p, len, w->net.now);
    world_run(w, NULL, 20 * MS);
  }
}

/* A rule granting only some ports of a service: the session is granted
 * (the route is there, ICMP flows) but the other port is refused by the
 * connector, which got the grant's ports in SESSION_NEW; the connector's
 * own service rules (udp/7 and icmp) would let it through. */
static void test_per_port_grant(void) {
  struct world *w = world_new(&pki.alice);
  CHECK(world_run(w, world_ready, 10 * SEC));
  /* Control: before, UDP 7 is answered. */
  send_udp7(w, 3);
  world_run(w, NULL, 500 * MS);
  CHECK_EQ_INT(w->a[0].rx, 3);
  struct zt_policy *p = policy(
      "{" ECHO_SERVICE ", \"rules\": [{\"agent\": \"alice\", "
      "\"services\": [\"echo\"], \"ports\": [\"icmp\"]}]}");
  CHECK(p);
  uint64_t regranted = zt_connector_get_stats(w->conn)->sessions_regranted;
  /* Still granted something: the session is updated in place, not
   * closed (no session is reopened, its flows carry on). */
  CHECK_EQ_INT(zt_intermediate_set_policy(w->im, p, w->net.now), 0);
  world_run(w, NULL, 500 * MS);
  CHECK_EQ_INT(w->a[0].n_routes, 1); /* still granted, other ports */
  CHECK_EQ_INT(zt_connector_get_stats(w->conn)->sessions_regranted,
               regranted + 1);
  CHECK_EQ_INT(connector_sessions(w), 1);
  size_t rx = w->a[0].rx;
  sim_send_pings(&w->a[0], VIP, 3, 20 * MS);
  world_run(w, NULL, 1 * SEC);
  CHECK_EQ_INT(w->a[0].rx, rx + 3);
  uint64_t refused = zt_connector_get_stats(w->conn)->rx_not_allowed;
  send_udp7(w, 3);
  world_run(w, NULL, 500 * MS);
  CHECK_EQ_INT(w->a[0].rx, rx + 3);
  CHECK_EQ_INT(zt_connector_get_stats(w->conn)->rx_not_allowed, refused + 3);
  world_free(w);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

/* The reload as SIGHUP and `ztna reload` run it, from files: a broken
 * policy file is refused with its file:line: key and the policy in force
 * stays; a good one replaces it. */
static void test_reload_from_files(void) {
  char dir[] = "/tmp/ztna-sim-policy-XXXXXX", im[64], pol[64], msg[1024];
  CHECK(mkdtemp(dir));
  snprintf(im, sizeof im, "%s/intermediate.json", dir);
  snprintf(pol, sizeof pol, "%s/policy.json", dir);
  write_file(im, "{\"policy\": \"policy.json\"}\n");
  write_file(pol, "{" ECHO_SERVICE ",\n\"rules\": [{\"agent\": \"alice\", "
                  "\"services\": [\"echoo\"]}]}\n");
  struct world *w = world_new(&pki.alice);
  struct zt_svcpool bindings;
  zt_svcpool_init(&bindings, 0, 0);
  if (!world_run(w, world_ready, 10 * SEC))
    goto out;
  const struct zt_policy *before = zt_intermediate_policy(w->im);
  int rv = zt_intermediate_reload(w->im, im, &bindings, w->net.now, msg,
                                  sizeof msg);
  world_run(w, NULL, 500 * MS);
  bool kept = rv == -1 && zt_intermediate_policy(w->im) == before &&
              strstr(msg, "the old one stays") &&
              strstr(msg, "policy.json:2: rules[0].services[0]: no service "
                          "named 'echoo'") &&
              w->a[0].n_routes == 1;
  if (!kept)
    fprintf(stderr, "rv %d: %s\n", rv, msg);
  sim_send_pings(&w->a[0], VIP, 3, 20 * MS);
  world_run(w, NULL, 500 * MS);
  bool still = w->a[0].rx == 3;
  /* Fixed: bob only. */
  write_file(pol, "{" ECHO_SERVICE ",\n\"rules\": [{\"agent\": \"bob\", "
                  "\"services\": [\"echo\"]}]}\n");
  int rv2 = zt_intermediate_reload(w->im, im, &bindings, w->net.now, msg,
                                   sizeof msg);
  bool gone = world_run(w, no_route, 1 * SEC);
  world_free(w);
  unlink(im);
  unlink(pol);
  rmdir(dir);
  CHECK(kept);
  CHECK(still);
  CHECK_EQ_INT(rv2, 0);
  CHECK_CONTAINS(msg, "policy reloaded from");
  CHECK(gone);
  return;
out:
  world_free(w);
  unlink(im);
  unlink(pol);
  rmdir(dir);
  CHECK(0);
}

static bool routed_moved(struct world *w) {
  return w->a[0].n_routes == 1 && w->a[0].routes[0] == SIM_VIP2;
}

/* A reload that moves a service to another address: the connector hears
 * it in a new REGISTER_ACK (and translates the new address), the agent
 * gets the new route, and traffic to the new address is answered, with no
 * one registering or connecting anew. */
static void test_reload_moves_service(void) {
  struct world *w = world_new(&pki.alice);
  CHECK(world_run(w, world_ready, 10 * SEC));
  uint64_t accepted = zt_intermediate_get_stats(w->im)->peers_accepted;
  struct zt_policy *p = policy(
      "{\"services\": [{\"name\": \"echo\", \"address\": \"10.100.0.2\", "
      "\"connector\": \"conn-a\"}], \"rules\": [{\"agent\": \"alice\", "
      "\"services\": [\"echo\"]}]}");
  CHECK(p);
  zt_intermediate_set_policy(w->im, p, w->net.now);
  CHECK(world_run(w, routed_moved, 1 * SEC));
  sim_send_pings(&w->a[0], SIM_VIP2, 3, 20 * MS);
  world_run(w, NULL, 1 * SEC);
  CHECK_EQ_INT(w->a[0].rx, 3);
  CHECK_EQ_INT(zt_intermediate_get_stats(w->im)->peers_accepted, accepted);
  world_free(w);
}

static int address_of(const struct zt_intermediate *im, const char *name) {
  const struct zt_policy *p = zt_intermediate_policy(im);
  int i = zt_policy_find_service(p, name);
  return i < 0 ? -1 : (int)p->services[i].address;
}

/* Reloads with services that have no address (svcpool.h): echo gets one
 * from service_pool and traffic flows to it; a reload whose services do not
 * fit is refused with policy and bindings unchanged; a later reload adding
 * a service before it keeps echo's address. */
static void test_reload_allocates(void) {
  char dir[] = "/tmp/ztna-sim-svcpool-XXXXXX", im[64], pol[64], msg[1024];
  char before_text[256], after_text[256];
  CHECK(mkdtemp(dir));
  snprintf(im, sizeof im, "%s/intermediate.json", dir);
  snprintf(pol, sizeof pol, "%s/policy.json", dir);
  write_file(im, "{\"policy\": \"policy.json\", "
                 "\"service_pool\": \"10.100.0.0/30\"}\n");
#define RULE ", \"rules\": [{\"agent\": \"alice\", \"services\": [\"echo\"]}]}"
  write_file(pol, "{\"services\": [{\"name\": \"other\", \"address\": "
                  "\"10.100.0.1\", \"connector\": \"conn-a\"}, {\"name\": "
                  "\"echo\", \"connector\": \"conn-a\"}]" RULE);
  struct world *w = world_new(&pki.alice);
  struct zt_svcpool bindings;
  zt_svcpool_init(&bindings, 0x0a640000u, 30);
  CHECK(world_run(w, world_ready, 10 * SEC));
  CHECK_EQ_INT(zt_intermediate_reload(w->im, im, &bindings, w->net.now, msg,
                                      sizeof msg),
               0);
  CHECK_EQ_INT(address_of(w->im, "echo"), (int)SIM_VIP2);
  CHECK(world_run(w, routed_moved, 1 * SEC));
  sim_send_pings(&w->a[0], SIM_VIP2, 3, 20 * MS);
  world_run(w, NULL, 1 * SEC);
  CHECK_EQ_INT(w->a[0].rx, 3);
  /* Three services for the one address left: refused, nothing moves. */
  const struct zt_policy *in_force = zt_intermediate_policy(w->im);
  zt_svcpool_dump(&bindings, before_text, sizeof before_text);
  write_file(pol, "{\"services\": [{\"name\": \"other\", \"address\": "
                  "\"10.100.0.1\", \"connector\": \"conn-a\"}, {\"name\": "
                  "\"x\", \"connector\": \"conn-a\"}, {\"name\": \"echo\", "
                  "\"connector\": \"conn-a\"}]" RULE);
  CHECK_EQ_INT(zt_intermediate_reload(w->im, im, &bindings, w->net.now, msg,
                                      sizeof msg),
               -1);
  CHECK_CONTAINS(msg, "the old one stays: ");
  CHECK_CONTAINS(msg, "intermediate.json: service_pool 10.100.0.0/30 is too "
                      "small: 2 service(s) need an address, 1 available");
  CHECK(zt_intermediate_policy(w->im) == in_force);
  zt_svcpool_dump(&bindings, after_text, sizeof after_text);
  CHECK_STR(after_text, before_text);
  /* "other" goes, "new" comes: echo keeps its address (allocated afresh,
   * echo would now get .1 and new .2). */
  write_file(pol, "{\"services\": [{\"name\": \"echo\", \"connector\": "
                  "\"conn-a\"}, {\"name\": \"new\", \"connector\": "
                  "\"conn-a\"}]" RULE);
  CHECK_EQ_INT(zt_intermediate_reload(w->im, im, &bindings, w->net.now, msg,
                                      sizeof msg),
               0);
#undef RULE
  CHECK_EQ_INT(address_of(w->im, "echo"), (int)SIM_VIP2);
  CHECK_EQ_INT(address_of(w->im, "new"), (int)SIM_VIP);
  world_free(w);
  zt_svcpool_free(&bindings);
  unlink(im);
  unlink(pol);
  rmdir(dir);
}

int main(void) {
  sim_pki_init();
  RUN(test_reload_revokes);
  RUN(test_reload_grants_without_reconnect);
  RUN(test_reload_same_grant_keeps_session);
  RUN(test_per_port_grant);
  RUN(test_reload_from_files);
  RUN(test_reload_moves_service);
  RUN(test_reload_allocates);
  sim_pki_free();
  return TEST_EXIT();
}

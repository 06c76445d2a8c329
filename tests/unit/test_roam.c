/* Roaming decisions (core/roam.c): what the agent does with its outer
 * connection for each kind of network change, and the grace check that
 * redials when a moved path stays silent. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "roam.h"
#include "test.h"

#define MS 1000000ull

static enum zt_roam_action decide(unsigned what, bool route, bool changed,
                                  bool lost, enum zt_roam_uplink up) {
  struct zt_roam_facts f = {what, route, changed, lost, up};
  return zt_roam_decide(&f);
}

static void test_decide_uplink_up(void) {
  /* A new source address: migrate, whatever the notice says. */
  CHECK_EQ_INT(decide(ZT_NET_ADDR_ADDED, true, true, false, ZT_ROAM_UPLINK_UP),
               ZT_ROAM_MIGRATE);
  CHECK_EQ_INT(
      decide(ZT_NET_ADDR_REMOVED | ZT_NET_ROUTE_DEFAULT, true, true, false,
             ZT_ROAM_UPLINK_UP),
      ZT_ROAM_MIGRATE);
  /* Same source after a link flap, a default route change, an address
   * gone, lost events or a route that had gone: the path is suspect. */
  static const unsigned suspect[] = {ZT_NET_LINK_UP, ZT_NET_LINK_DOWN,
                                     ZT_NET_ROUTE_DEFAULT, ZT_NET_ADDR_REMOVED,
                                     ZT_NET_OVERRUN};
  for (size_t i = 0; i < sizeof(suspect) / sizeof(suspect[0]); i++)
    CHECK_EQ_INT(decide(suspect[i], true, false, false, ZT_ROAM_UPLINK_UP),
                 ZT_ROAM_REVALIDATE);
  CHECK_EQ_INT(decide(ZT_NET_ADDR_ADDED, true, false, true, ZT_ROAM_UPLINK_UP),
               ZT_ROAM_REVALIDATE);
  /* An address added elsewhere, same source: nothing to do. */
  CHECK_EQ_INT(decide(ZT_NET_ADDR_ADDED, true, false, false, ZT_ROAM_UPLINK_UP),
               ZT_ROAM_NONE);
}

static void test_decide_no_route_and_other_states(void) {
  CHECK_EQ_INT(decide(ZT_NET_LINK_DOWN, false, false, false, ZT_ROAM_UPLINK_UP),
               ZT_ROAM_WAIT_ROUTE);
  CHECK_EQ_INT(decide(ZT_NET_LINK_UP, false, false, true, ZT_ROAM_UPLINK_DOWN),
               ZT_ROAM_WAIT_ROUTE);
  /* Down, waiting for the backoff timer: a new network is a reason to try
   * now, even an added address. */
  CHECK_EQ_INT(
      decide(ZT_NET_ADDR_ADDED, true, false, false, ZT_ROAM_UPLINK_DOWN),
      ZT_ROAM_REDIAL);
  /* A handshake in progress restarts from the new address, not for an
   * unrelated added address. */
  CHECK_EQ_INT(
      decide(ZT_NET_ADDR_ADDED, true, true, false, ZT_ROAM_UPLINK_DIALING),
      ZT_ROAM_REDIAL);
  CHECK_EQ_INT(
      decide(ZT_NET_ROUTE_DEFAULT, true, false, false, ZT_ROAM_UPLINK_DIALING),
      ZT_ROAM_REDIAL);
  CHECK_EQ_INT(
      decide(ZT_NET_ADDR_ADDED, true, false, false, ZT_ROAM_UPLINK_DIALING),
      ZT_ROAM_NONE);
  /* Replaced by another instance: never comes back by itself. */
  CHECK_EQ_INT(decide(ZT_NET_LINK_UP | ZT_NET_ADDR_REMOVED, true, true, true,
                      ZT_ROAM_UPLINK_STOPPED),
               ZT_ROAM_NONE);
}

static void test_grace(void) {
  struct zt_roam r = {0};
  struct zt_netchange n = {.what = ZT_NET_ADDR_REMOVED};
  CHECK_EQ_INT(zt_roam_expiry(&r), UINT64_MAX);
  /* Migrated at 10 s with a 50 ms RTT: the grace is the 1 s floor. */
  zt_roam_note(&r, &n, ZT_ROAM_MIGRATE, 50 * MS, 10000 * MS);
  CHECK_EQ_INT(r.migrations, 1);
  CHECK_EQ_INT(zt_roam_expiry(&r), 11000 * MS);
  CHECK(!zt_roam_grace_failed(&r, 9990 * MS, 10500 * MS)); /* not yet */
  CHECK(zt_roam_grace_failed(&r, 9990 * MS, 11000 * MS));  /* silent */
  CHECK_EQ_INT(r.grace_redials, 1);
  CHECK_EQ_INT(zt_roam_expiry(&r), UINT64_MAX);
  CHECK(!zt_roam_grace_failed(&r, 0, 20000 * MS)); /* once only */
  /* A slow path: 3 RTTs of 800 ms. An answer ends the check. */
  zt_roam_note(&r, &n, ZT_ROAM_REVALIDATE, 800 * MS, 30000 * MS);
  CHECK_EQ_INT(r.revalidations, 1);
  CHECK_EQ_INT(zt_roam_expiry(&r), 32400 * MS);
  CHECK(!zt_roam_grace_failed(&r, 30100 * MS, 40000 * MS));
  CHECK_EQ_INT(r.grace_redials, 1);
  CHECK_EQ_INT(zt_roam_expiry(&r), UINT64_MAX);
  /* No route: remembered, so the next route found revalidates. */
  zt_roam_note(&r, &n, ZT_ROAM_WAIT_ROUTE, 0, 50000 * MS);
  CHECK(r.route_lost);
  CHECK_EQ_INT(r.no_route, 1);
  zt_roam_note(&r, &n, ZT_ROAM_REDIAL, 0, 51000 * MS);
  CHECK(!r.route_lost);
  CHECK_EQ_INT(r.redials, 1);
  CHECK_EQ_INT(r.changes, 4);
}

static void test_describe(void) {
  struct zt_netchange n = {0};
  char buf[160];
  zt_netchange_describe(&n, buf, sizeof(buf));
  CHECK_STR(buf, "no change of interest");
  struct sockaddr_in *a = (struct sockaddr_in *)&n.removed[0];
  a->sin_family = AF_INET;
  inet_pton(AF_INET, "10.10.1.2", &a->sin_addr);
  n.n_removed = 1;
  for (unsigned i = 0; i < ZT_NETCHANGE_ADDRS; i++) {
    struct sockaddr_in *b = (struct sockaddr_in *)&n.added[i];
    b->sin_family = AF_INET;
    b->sin_addr.s_addr = htonl(0x0a0a0103 + i);
  }
  n.n_added = ZT_NETCHANGE_ADDRS + 2;
  n.what = ZT_NET_ADDR_REMOVED | ZT_NET_ADDR_ADDED | ZT_NET_LINK_UP |
           ZT_NET_ROUTE_DEFAULT;
  zt_netchange_describe(&n, buf, sizeof(buf));
  CHECK_STR(buf, "addr removed 10.10.1.2, addr added 10.10.1.3 10.10.1.4 "
                 "10.10.1.5 10.10.1.6 (+2), link up, default route");
  zt_netchange_describe(&n, buf, 12); /* cut, still terminated */
  CHECK_EQ_INT(strlen(buf), 11);
}

int main(void) {
  RUN(test_decide_uplink_up);
  RUN(test_decide_no_route_and_other_states);
  RUN(test_grace);
  RUN(test_describe);
  return TEST_EXIT();
}

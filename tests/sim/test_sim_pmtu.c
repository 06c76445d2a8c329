/*
 * Path MTU discovery through the whole system: the agent's link carries at
 * most 1252-byte UDP payloads (an IPv4 path of MTU 1280) and drops bigger
 * packets without a word (no ICMP). Sessions must still come up and carry
 * traffic, from the start and when the path shrinks under load.
 */
#include <stdlib.h>
#include <string.h>

#include "../unit/test.h"
#include "agent.h"
#include "connector.h"
#include "intermediate.h"
#include "ippkt.h"
#include "pmtu.h"
#include "wire.h"
#include "world.h"

#define VIP SIM_VIP

static bool session_ready(struct world *w) {
  return zt_agent_session_ready(w->agent, VIP);
}

/* A number from the agent's status line that starts with `label`
 * ("uplink quic:", "session conn-a quic:"): the one after `key` ("pmtu ",
 * "too_big "); 0 when absent. */
static size_t status_num(struct world *w, const char *label, const char *key) {
  static char buf[16384];
  zt_agent_status(w->agent, buf, sizeof(buf));
  const char *l = strstr(buf, label);
  const char *p = l ? strstr(l, key) : NULL;
  return p ? (size_t)strtoul(p + strlen(key), NULL, 10) : 0;
}

static size_t status_pmtu(struct world *w, const char *label) {
  return status_num(w, label, "pmtu ");
}

/* One UDP packet of `len` bytes (IP) to the echo service, into the
 * agent's TUN. */
static void feed_udp(struct world *w, size_t len) {
  uint8_t p[2000];
  size_t l = sim_build_udp(p, zt_agent_tunnel_addr(w->agent), VIP, 7,
                           len - 28);
  /* a fresh IP id each, as a real stack gives: fragments of different
   * packets must not look like one datagram's */
  static uint16_t id;
  id++;
  p[4] = (uint8_t)(id >> 8);
  p[5] = (uint8_t)id;
  p[10] = p[11] = 0;
  uint16_t ck = zt_ip_checksum(p, 20);
  memcpy(p + 10, &ck, 2);
  zt_agent_feed_tun(w->agent, p, l, w->net.now);
}

/* The world up and the agent's session to conn-a opened by a first
 * packet, then a second more (on a full-size path: both searches done). */
static bool session_up(struct world *w) {
  if (!world_run(w, world_ready, 10 * SEC))
    return false;
  feed_udp(w, 128);
  if (!world_run(w, session_ready, 5 * SEC))
    return false;
  world_run(w, NULL, 1 * SEC);
  return true;
}

/* n UDP packets of `len` bytes (IP) to the echo service, gap apart; the
 * number of echoes that came back. */
static size_t udp_burst(struct world *w, size_t len, int n, uint64_t gap) {
  size_t before = w->a[0].rx;
  for (int i = 0; i < n; i++) {
    feed_udp(w, len);
    world_run(w, NULL, gap);
  }
  world_run(w, NULL, 300 * MS);
  return w->a[0].rx - before;
}

/* 10 IP packets of `len` bytes, bigger than the session's datagrams now:
 * they are never lost without a trace. Either they are refused and
 * counted (at the agent's TUN, or by the session's queue when they waited
 * for a search that ended lower), or the TUN path fragments them and the
 * echoes come back (in fragments). */
static bool not_lost_silently(struct world *w, size_t len) {
  const char *sq = "session conn-a quic:";
  size_t tun0 = zt_agent_get_stats(w->agent)->tun_too_big;
  size_t q0 = status_num(w, sq, "too_big ");
  size_t got = udp_burst(w, len, 10, 10 * MS);
  world_run(w, NULL, 2 * SEC);
  /* the agent counts a refusal once as tun too_big, and its session's
   * queue counts it too when it refused it: the larger of the two */
  size_t tun = zt_agent_get_stats(w->agent)->tun_too_big - tun0;
  size_t q = status_num(w, sq, "too_big ") - q0;
  size_t refused = tun > q ? tun : q;
  printf("  %zu-byte packets: %zu refused (too_big), %zu echo packets\n", len,
         refused, got);
  return refused == 10 || got >= 10;
}

static void test_1280_path_from_the_start(void) {
  struct world *w = world_new(&pki.alice);
  w->ha->mtu = 1252;
  CHECK(world_run(w, world_ready, 10 * SEC));
  uint8_t p[200];
  size_t len = sim_build_udp(p, zt_agent_tunnel_addr(w->agent), VIP, 7, 100);
  zt_agent_feed_tun(w->agent, p, len, w->net.now);
  uint64_t t0 = w->net.now;
  CHECK(world_run(w, session_ready, 5 * SEC));
  printf("  session up %.0f ms after the first packet\n",
         (double)(w->net.now - t0) / 1e6);
  world_run(w, NULL, 5 * SEC); /* let both searches finish */
  size_t outer = status_pmtu(w, "uplink quic:");
  size_t inner = status_pmtu(w, "session conn-a quic:");
  printf("  1252-byte path: outer %zu, inner %zu\n", outer, inner);
  CHECK_EQ_INT(outer, 1252);
  /* the inner packet rides in a relay frame in an outer datagram */
  CHECK(inner >= ZT_QUIC_MIN_UDP_PAYLOAD);
  CHECK(inner + ZT_RELAY_HDR_LEN + ZT_QUIC_DGRAM_OVERHEAD <= 1252);
  CHECK(inner + ZT_RELAY_HDR_LEN + ZT_QUIC_DGRAM_OVERHEAD >
        1252 - ZT_PMTU_SEARCH_GAP);
  /* the largest IP packet the session now takes arrives whole */
  size_t max_ip = inner - ZT_QUIC_DGRAM_OVERHEAD;
  CHECK_EQ_INT(udp_burst(w, max_ip, 20, 10 * MS), 20);
  CHECK(not_lost_silently(w, max_ip + 1));
  /* the connector's leg is wider: its inner probes reach the Intermediate
   * and are dropped there, counted, not forwarded into the narrow leg */
  CHECK(zt_intermediate_get_stats(w->im)->relay_too_big > 0);
  CHECK(w->ha->too_big > 0 || w->hi->too_big > 0); /* it was really tried */
  world_free(w);
}

static void test_path_shrinks_under_traffic(void) {
  struct world *w = world_new(&pki.alice);
  CHECK(session_up(w));
  CHECK_EQ_INT(status_pmtu(w, "uplink quic:"), ZT_OUTER_UDP_PAYLOAD);
  CHECK_EQ_INT(status_pmtu(w, "session conn-a quic:"), ZT_INNER_UDP_PAYLOAD);
  /* full-size traffic: every packet comes back */
  CHECK_EQ_INT(udp_burst(w, ZT_TUN_MTU, 50, 10 * MS), 50);
  /* the path shrinks to 1252 under that traffic, no ICMP */
  w->ha->mtu = 1252;
  uint64_t t0 = w->net.now;
  udp_burst(w, ZT_TUN_MTU, 200, 10 * MS);
  /* packets that fit the smaller path flow again */
  size_t got = udp_burst(w, 1100, 100, 10 * MS);
  printf("  after the path shrank: %zu/100 echoes of 1100 bytes "
         "(%.1f s after the change)\n",
         got, (double)(w->net.now - t0) / 1e9);
  CHECK(got >= 95);
  CHECK_EQ_INT(status_pmtu(w, "uplink quic:"), 1252);
  size_t inner = status_pmtu(w, "session conn-a quic:");
  CHECK(inner + ZT_RELAY_HDR_LEN + ZT_QUIC_DGRAM_OVERHEAD <= 1252);
  CHECK(zt_agent_is_connected(w->agent));
  CHECK(zt_agent_session_ready(w->agent, VIP));
  CHECK(not_lost_silently(w, ZT_TUN_MTU));
  world_free(w);
}

/* Sum of every "black_holes" count in a status JSON. */
static unsigned long black_holes_in(const char *json) {
  unsigned long n = 0;
  for (const char *p = json; (p = strstr(p, "\"black_holes\":")); p++)
    n += strtoul(p + strlen("\"black_holes\":"), NULL, 10);
  return n;
}

/* Random loss (2% each way on the agent's link) under full-size traffic
 * with small packets between the large ones, the mix that the sweep of
 * pmtu.c judges: losses with later packets acknowledged are congestion,
 * never a black hole, on any of the five connections. */
static void test_random_loss_is_not_a_black_hole(void) {
  static char json[1 << 16];
  struct world *w = world_new(&pki.alice);
  CHECK(session_up(w));
  w->ha->loss = 0.02;
  size_t before = w->a[0].rx;
  for (int i = 0; i < 2000; i++) {
    feed_udp(w, (i % 3) ? ZT_TUN_MTU : 200);
    world_run(w, NULL, 2 * MS);
  }
  world_run(w, NULL, 500 * MS);
  size_t got = w->a[0].rx - before;
  printf("  2%% loss each way: %zu/2000 echoes\n", got);
  CHECK(got > 1700 && got < 2000); /* the loss was real */
  zt_agent_status_json(w->agent, json, sizeof(json));
  CHECK_EQ_INT(black_holes_in(json), 0);
  CHECK(strstr(json, "\"black_holes\":") != NULL);
  zt_intermediate_status_json(w->im, json, sizeof(json));
  CHECK_EQ_INT(black_holes_in(json), 0);
  zt_connector_status_json(w->c[0].conn, json, sizeof(json));
  CHECK_EQ_INT(black_holes_in(json), 0);
  CHECK_EQ_INT(status_pmtu(w, "uplink quic:"), ZT_OUTER_UDP_PAYLOAD);
  world_free(w);
}

int main(void) {
  sim_log_init();
  RUN(test_1280_path_from_the_start);
  RUN(test_path_shrinks_under_traffic);
  RUN(test_random_loss_is_not_a_black_hole);
  sim_pki_free();
  return TEST_EXIT();
}

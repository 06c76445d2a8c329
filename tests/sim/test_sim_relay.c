/*
 * The whole system in one process: a real Intermediate, connector and
 * agent (core/), their real QUIC and TLS, over a simulated network with
 * simulated time, NATs, loss and reordering (simnet.c). The connector's
 * "kernel" is a tiny responder that answers ICMP echo and UDP echo for the
 * service address, so packets make the full round trip:
 *
 *   agent TUN -> agent -> relay -> connector -> "kernel" -> connector ->
 *   relay -> agent -> agent TUN
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/test.h"
#include "ippkt.h"
#include "log.h"
#include "relay.h"
#include "wire.h"
#include "world.h"

#define VIP SIM_VIP

/* ---- tests -------------------------------------------------------------- */

static void test_ping_through_relay(void) {
  struct world *w = world_new(&pki.alice);
  CHECK(world_run(w, world_ready, 10 * SEC));
  CHECK_EQ_INT(w->a[0].routes[0], VIP);
  sim_send_pings(&w->a[0], VIP, 20, 20 * MS);
  world_run(w, NULL, 500 * MS);
  /* The first packets wait for the end-to-end handshake, none are lost. */
  CHECK_EQ_INT(w->a[0].rx, 20);
  CHECK_EQ_INT(w->a[0].rx_bad, 0);
  CHECK(zt_intermediate_get_stats(w->im)->relay_frames >= 40);
  CHECK(zt_agent_session_ready(w->agent, VIP));
  world_free(w);
}

static bool session_ready(struct world *w) {
  return zt_agent_session_ready(w->agent, VIP);
}

static void test_lossy_reordering_link(void) {
  struct world *w = world_new(&pki.alice);
  w->ha->loss = 0.05; /* each way through the agent's link */
  w->hc->loss = 0.05;
  w->ha->jitter_ns = 30 * MS; /* more than the gap between packets: reorders */
  w->hc->jitter_ns = 30 * MS;
  CHECK(world_run(w, world_ready, 30 * SEC)); /* handshakes and control stream recover */
  uint8_t p[1500];
  /* The end-to-end handshake first (it recovers too, but one lost
   * handshake packet costs a 1 s retransmission timer, which would make
   * the figure below about handshake luck rather than datagram loss). */
  size_t len0 = sim_build_udp(p, zt_agent_tunnel_addr(w->agent), VIP, 7, 200);
  zt_agent_feed_tun(w->agent, p, len0, w->net.now);
  CHECK(world_run(w, session_ready, 10 * SEC));
  w->a[0].rx = 0;
  for (int i = 0; i < 300; i++) {
    size_t len = sim_build_udp(p, zt_agent_tunnel_addr(w->agent), VIP, 7, 200);
    zt_agent_feed_tun(w->agent, p, len, w->net.now);
    world_run(w, NULL, 5 * MS);
  }
  world_run(w, NULL, 2 * SEC);
  /* Datagrams are unreliable by design (TCP inside recovers); a round trip
   * crosses four lossy hops at 10%: about 66% expected. */
  printf("  lossy link: %zu/300 UDP echoes returned\n", w->a[0].rx);
  CHECK(w->a[0].rx >= 150);
  CHECK(w->a[0].rx < 300);
  CHECK_EQ_INT(w->a[0].rx_bad, 0);
  CHECK(zt_agent_is_connected(w->agent));
  world_free(w);
}

static void test_largest_packet_fits(void) {
  struct world *w = world_new(&pki.alice);
  uint8_t p[2000];
  CHECK(world_run(w, world_ready, 10 * SEC));
  sim_send_pings(&w->a[0], VIP, 1, 200 * MS); /* session up */
  CHECK_EQ_INT(w->a[0].rx, 1);
  /* A TUN-MTU-sized packet crosses both QUIC layers intact... */
  size_t len = sim_build_udp(p, zt_agent_tunnel_addr(w->agent), VIP, 7, ZT_TUN_MTU - 28);
  CHECK_EQ_INT(len, ZT_TUN_MTU);
  zt_agent_feed_tun(w->agent, p, len, w->net.now);
  world_run(w, NULL, 300 * MS);
  CHECK_EQ_INT(w->a[0].rx, 2);
  CHECK_EQ_INT(w->a[0].rx_bytes - 84, ZT_TUN_MTU);
  /* ...and one byte more with DF set is refused, counted and answered
   * with ICMP "fragmentation needed" (test_sim_fragments.c has the rest). */
  len = sim_build_udp(p, zt_agent_tunnel_addr(w->agent), VIP, 7, ZT_TUN_MTU - 27);
  p[6] |= 0x40;
  memset(p + 10, 0, 2);
  uint16_t ck = zt_ip_checksum(p, 20);
  memcpy(p + 10, &ck, 2);
  zt_agent_feed_tun(w->agent, p, len, w->net.now);
  world_run(w, NULL, 300 * MS);
  CHECK_EQ_INT(w->a[0].rx, 3);
  CHECK_EQ_INT(w->a[0].last[20], 3); /* the ICMP error, no echo */
  CHECK_EQ_INT(zt_agent_get_stats(w->agent)->tun_too_big, 1);
  world_free(w);
}

static void test_nat_rebinding(void) {
  struct world *w = world_new(&pki.alice);
  CHECK(world_run(w, world_ready, 10 * SEC));
  sim_send_pings(&w->a[0], VIP, 5, 20 * MS);
  world_run(w, NULL, 500 * MS); /* the end-to-end handshake, then the replies */
  CHECK_EQ_INT(w->a[0].rx, 5);
  /* The agent's NAT gives it a new public port mid-flow. */
  w->ha->pub.sin_port = htons(50999);
  sim_send_pings(&w->a[0], VIP, 20, 50 * MS);
  world_run(w, NULL, 1 * SEC);
  /* A few may be lost while the path changes; the session lives on. */
  printf("  after rebinding: %zu/25 replies\n", w->a[0].rx);
  CHECK(w->a[0].rx >= 20);
  CHECK(zt_agent_is_connected(w->agent));
  world_free(w);
}

static bool agent_down(struct world *w) {
  return !zt_agent_is_connected(w->agent);
}

static void test_intermediate_restart(void) {
  struct world *w = world_new(&pki.alice);
  CHECK(world_run(w, world_ready, 10 * SEC));
  uint32_t addr = zt_agent_tunnel_addr(w->agent);
  sim_send_pings(&w->a[0], VIP, 3, 20 * MS);
  world_run(w, NULL, 500 * MS);
  CHECK_EQ_INT(w->a[0].rx, 3);
  /* Kill it: state gone, packets to it now unanswered. */
  world_stop_intermediate(w);
  CHECK(world_run(w, agent_down, 60 * SEC)); /* idle timeout */
  world_start_intermediate(w);
  w->a[0].n_routes = 1; /* routes are kept; count re-adds only */
  CHECK(world_run(w, world_ready, 60 * SEC)); /* backoff, reconnect, re-register */
  CHECK_EQ_INT(zt_agent_tunnel_addr(w->agent), addr); /* same address back */
  size_t before = w->a[0].rx;
  sim_send_pings(&w->a[0], VIP, 10, 20 * MS);
  world_run(w, NULL, 500 * MS);
  CHECK_EQ_INT(w->a[0].rx - before, 10);
  world_free(w);
}

/* Restarted at once, the Intermediate answers packets of connections it no
 * longer knows with Stateless Resets (its reset secret comes from its key,
 * the same after a restart): agent and connector reconnect within a
 * keepalive interval instead of waiting out the 30 s idle timeout. */
static void test_restart_stateless_reset(void) {
  struct world *w = world_new(&pki.alice);
  CHECK(world_run(w, world_ready, 10 * SEC));
  sim_send_pings(&w->a[0], VIP, 3, 20 * MS);
  world_run(w, NULL, 500 * MS);
  CHECK_EQ_INT(w->a[0].rx, 3);
  world_stop_intermediate(w);
  world_start_intermediate(w);
  uint64_t t0 = w->net.now;
  CHECK(world_run(w, agent_down, 15 * SEC));
  CHECK(w->net.now - t0 < ZT_IDLE_TIMEOUT_MS * MS / 2);
  CHECK(zt_intermediate_get_stats(w->im)->resets_sent >= 1);
  CHECK(world_run(w, world_ready, 20 * SEC));
  size_t before = w->a[0].rx;
  sim_send_pings(&w->a[0], VIP, 5, 20 * MS);
  world_run(w, NULL, 500 * MS);
  CHECK_EQ_INT(w->a[0].rx - before, 5);
  world_free(w);
}

static void test_foreign_ca_refused(void) {
  struct world *w = world_new(&pki.evil); /* "alice", but from another CA */
  CHECK(!world_run(w, world_ready, 5 * SEC));
  CHECK(zt_intermediate_get_stats(w->im)->handshakes_refused >= 1);
  CHECK(!zt_agent_is_connected(w->agent));
  CHECK_EQ_INT(zt_intermediate_get_stats(w->im)->peers_accepted, 1); /* conn */
  world_free(w);
}

static bool connected_only(struct world *w) {
  return zt_agent_is_connected(w->agent) &&
         zt_connector_registered(w->conn) == 1 && zt_agent_tunnel_addr(w->agent);
}

static void test_policy_default_deny(void) {
  struct world *w = world_new(&pki.bob); /* no policy names bob */
  CHECK(world_run(w, connected_only, 10 * SEC));
  world_run(w, NULL, 500 * MS);
  CHECK_EQ_INT(w->a[0].n_routes, 0); /* no service pushed, no route */
  sim_send_pings(&w->a[0], VIP, 3, 20 * MS);
  CHECK_EQ_INT(w->a[0].rx, 0);
  CHECK_EQ_INT(zt_agent_get_stats(w->agent)->tun_no_service, 3);
  world_free(w);
}

/* A misbehaving but authenticated agent: a raw QUIC connection that sends
 * garbage on the control stream and in datagrams. The Intermediate counts
 * and drops it all and still answers a good HELLO afterwards. */
static void test_bad_input_counted_and_survived(void) {
  struct world *w = world_new(&pki.alice);
  CHECK(world_run(w, world_ready, 10 * SEC));
  struct raw_peer *r = raw_peer_new(w, &pki.bob, 50002);
  CHECK(r);
  struct sim_host *h = r->h;
  CHECK(world_run(w, NULL, 1 * SEC));

  /* Garbage UDP from nowhere: not a QUIC packet of any connection. */
  uint8_t junk[64];
  memset(junk, 0x41, sizeof(junk));
  sim_udp_send(h, (struct sockaddr *)&w->hi->pub, sizeof(w->hi->pub), junk, 5);
  sim_udp_send(h, (struct sockaddr *)&w->hi->pub, sizeof(w->hi->pub), junk, 64);
  world_run(w, NULL, 1 * SEC);
  CHECK(raw_ready(r));
  CHECK(zt_intermediate_get_stats(w->im)->packets_unknown >= 2);

  /* Control stream: an unknown type, a truncated HELLO body, an oversized
   * frame, then a good HELLO, then a REGISTER from an agent: after HELLO,
   * so it is the role rule that refuses it, not the hello rule. */
  static const uint8_t bad[] = {
      0x7f, 0x00, 0x02, 0xde, 0xad,       /* unknown type */
      ZT_MSG_HELLO, 0x00, 0x01, 0x01,     /* HELLO body too short */
      ZT_MSG_REGISTER, 0xff, 0xff,        /* oversized: 65535 bytes skipped */
  };
  CHECK_EQ_INT(zq_send_stream(r->q, bad, sizeof(bad)), 0);
  uint8_t *skip = calloc(1, 65535);
  CHECK_EQ_INT(zq_send_stream(r->q, skip, 65535), 0);
  free(skip);
  static const uint8_t hello[] = {ZT_MSG_HELLO, 0x00, 0x05, 1, 0, 0, 0, 0};
  CHECK_EQ_INT(zq_send_stream(r->q, hello, sizeof(hello)), 0);
  static const uint8_t reg[] = {ZT_MSG_REGISTER, 0x00, 0x05, 1, 3, 'w', 'e', 'b'};
  CHECK_EQ_INT(zq_send_stream(r->q, reg, sizeof(reg)), 0);

  /* Datagrams: too short for a relay header, wrong type, unknown channel. */
  static const uint8_t d1[] = {0x01, 0x00};
  static const uint8_t d2[] = {0x09, 0, 0, 0, 1, 0xaa};
  static const uint8_t d3[] = {ZT_RELAY_DATA, 0x12, 0x34, 0x56, 0x78, 0xaa};
  zq_send_datagram(r->q, d1, sizeof(d1));
  zq_send_datagram(r->q, d2, sizeof(d2));
  zq_send_datagram(r->q, d3, sizeof(d3));
  world_run(w, NULL, 2 * SEC);

  const struct zt_intermediate_stats *st = zt_intermediate_get_stats(w->im);
  CHECK_EQ_INT(st->relay_malformed, 2);
  CHECK_EQ_INT(st->relay_unknown_channel, 1);
  CHECK_EQ_INT(st->ctrl_unexpected, 1); /* the REGISTER from an agent */
  CHECK_EQ_INT(r->got[ZT_MSG_REGISTER_ACK], 0);
  CHECK(raw_ready(r));          /* the connection lives on */
  CHECK_EQ_INT(r->got[ZT_MSG_WELCOME], 1);      /* and the good HELLO was answered */
  /* The real agent never noticed. */
  sim_send_pings(&w->a[0], VIP, 3, 20 * MS);
  world_run(w, NULL, 300 * MS);
  CHECK_EQ_INT(w->a[0].rx, 3);
  world_free(w);
}

int main(void) {
  sim_log_init();
  RUN(test_ping_through_relay);
  RUN(test_lossy_reordering_link);
  RUN(test_largest_packet_fits);
  RUN(test_nat_rebinding);
  RUN(test_intermediate_restart);
  RUN(test_restart_stateless_reset);
  RUN(test_foreign_ca_refused);
  RUN(test_policy_default_deny);
  RUN(test_bad_input_counted_and_survived);
  sim_pki_free();
  return TEST_EXIT();
}

/*
 * Datagrams bigger than the tunnel, end to end through the real nodes:
 * fragments from an agent's kernel are reassembled at the connector, whose
 * port rules see the whole datagram (an allowed port is delivered whole, a
 * disallowed one not at all); a packet too big with DF set is answered with
 * ICMP "fragmentation needed" into the agent's TUN; one without DF is cut
 * by the agent itself.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/test.h"
#include "ipfrag.h"
#include "ippkt.h"
#include "wire.h"
#include "world.h"

#define MS 1000000ULL
#define SEC 1000000000ULL
#define VIP SIM_VIP

static const struct zt_connector_stats *cst(struct world *w) {
  return zt_connector_get_stats(w->conn);
}

static struct world *ready_world(void) {
  struct world *w = world_new(&pki.alice);
  if (!world_run(w, world_ready, 10 * SEC))
    return w;
  sim_send_pings(&w->a[0], VIP, 1, 200 * MS); /* session up */
  return w;
}

struct feed {
  struct sim_agent *a;
  int n;
};

static int feed_piece(void *ud, const uint8_t *p, size_t len) {
  struct feed *f = ud;
  zt_agent_feed_tun(f->a->agent, p, len, f->a->w->net.now);
  f->n++;
  return 0;
}

/* A UDP datagram of `payload` bytes, fragmented as the agent's kernel does
 * for its TUN MTU, fed to the agent piece by piece. */
static int send_fragmented(struct world *w, uint16_t dport, size_t payload) {
  static uint8_t p[9000], piece[ZT_TUN_MTU];
  size_t len = sim_build_udp(p, zt_agent_tunnel_addr(w->agent), VIP, dport,
                             payload);
  p[5] = 0x42; /* an IP id of its own */
  memset(p + 10, 0, 2);
  uint16_t ck = zt_ip_checksum(p, 20);
  memcpy(p + 10, &ck, 2);
  struct feed f = {&w->a[0], 0};
  zt_ip_fragment(p, len, ZT_TUN_MTU, piece, feed_piece, &f);
  return f.n;
}

static void test_fragments_to_allowed_port_delivered_whole(void) {
  struct world *w = ready_world();
  CHECK_EQ_INT(w->a[0].rx, 1);
  size_t before = w->c[0].delivered;
  CHECK_EQ_INT(send_fragmented(w, 7, 3000), 3);
  world_run(w, NULL, 300 * MS);
  /* One datagram reached the kernel, whole. */
  CHECK_EQ_INT(w->c[0].delivered, before + 1);
  CHECK_EQ_INT(w->c[0].last_len, 3028);
  CHECK_EQ_INT(cst(w)->rx_not_allowed, 0);
  /* The 3028-byte echo is cut to fit on its way back: three fragments,
   * which the agent's kernel reassembles. */
  CHECK_EQ_INT(w->a[0].rx, 1 + 3);
  CHECK_EQ_INT(w->a[0].rx_bytes, 84 + 3028 + 2 * 20);
  CHECK_EQ_INT(w->a[0].rx_bad, 0);
  world_free(w);
}

static void test_fragments_to_disallowed_port_dropped(void) {
  struct world *w = ready_world();
  CHECK_EQ_INT(w->a[0].rx, 1);
  size_t before = w->c[0].delivered;
  /* echo allows udp/7 only: the later fragments carry no port at all, and
   * none of them may slip through on its own. */
  CHECK_EQ_INT(send_fragmented(w, 9, 3000), 3);
  world_run(w, NULL, 300 * MS);
  CHECK_EQ_INT(w->c[0].delivered, before);
  CHECK_EQ_INT(cst(w)->rx_not_allowed, 1);
  CHECK_EQ_INT(cst(w)->rx_frag_not_allowed, 1);
  /* The same datagram to the allowed port still goes (positive control). */
  CHECK_EQ_INT(send_fragmented(w, 7, 3000), 3);
  world_run(w, NULL, 300 * MS);
  CHECK_EQ_INT(w->c[0].delivered, before + 1);
  world_free(w);
}

static void test_too_big_df_answered_with_icmp(void) {
  struct world *w = ready_world();
  static uint8_t p[4000];
  CHECK_EQ_INT(w->a[0].rx, 1);
  size_t len = sim_build_udp(p, zt_agent_tunnel_addr(w->agent), VIP, 7, 2000);
  p[6] |= 0x40; /* DF */
  memset(p + 10, 0, 2);
  uint16_t ck = zt_ip_checksum(p, 20);
  memcpy(p + 10, &ck, 2);
  size_t before = w->c[0].delivered;
  zt_agent_feed_tun(w->agent, p, len, w->net.now);
  world_run(w, NULL, 300 * MS);
  CHECK_EQ_INT(w->c[0].delivered, before);
  CHECK_EQ_INT(zt_agent_get_stats(w->agent)->tun_too_big, 1);
  /* Written straight back into the TUN: ICMP 3/4 from the service address
   * to us, quoting our header, next-hop MTU what the session carries. */
  CHECK_EQ_INT(w->a[0].rx, 2);
  CHECK_EQ_INT(w->a[0].last_len, 20 + 8 + 20 + 8);
  struct zt_ip_info ip;
  CHECK_EQ_INT(zt_ip_parse(w->a[0].last, w->a[0].last_len, &ip), 0);
  CHECK_EQ_INT(ip.proto, 1);
  CHECK_EQ_INT(ip.src, VIP);
  CHECK_EQ_INT(ip.dst, zt_agent_tunnel_addr(w->agent));
  CHECK_EQ_INT(zt_ip_checksum(w->a[0].last, 20), 0);
  CHECK_EQ_INT(zt_ip_checksum(w->a[0].last + 20, 36), 0);
  CHECK_EQ_INT(w->a[0].last[20], 3);
  CHECK_EQ_INT(w->a[0].last[21], 4);
  CHECK_EQ_INT(w->a[0].last[26] << 8 | w->a[0].last[27], ZT_INNER_DGRAM_MAX);
  CHECK(memcmp(w->a[0].last + 28, p, 28) == 0);
  world_free(w);
}

static void test_too_big_without_df_cut_by_agent(void) {
  struct world *w = ready_world();
  static uint8_t p[4000];
  CHECK_EQ_INT(w->a[0].rx, 1);
  size_t len = sim_build_udp(p, zt_agent_tunnel_addr(w->agent), VIP, 7, 2000);
  size_t before = w->c[0].delivered;
  zt_agent_feed_tun(w->agent, p, len, w->net.now);
  world_run(w, NULL, 300 * MS);
  CHECK_EQ_INT(zt_agent_get_stats(w->agent)->tun_too_big, 0);
  CHECK_EQ_INT(w->c[0].delivered, before + 1);
  CHECK_EQ_INT(w->c[0].last_len, len);
  CHECK_EQ_INT(w->a[0].rx, 1 + 2); /* the echo, in two fragments */
  world_free(w);
}

int main(void) {
  sim_log_init();
  RUN(test_fragments_to_allowed_port_delivered_whole);
  RUN(test_fragments_to_disallowed_port_dropped);
  RUN(test_too_big_df_answered_with_icmp);
  RUN(test_too_big_without_df_cut_by_agent);
  sim_pki_free();
  return TEST_EXIT();
}

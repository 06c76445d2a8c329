/*
 * DNS inside the tunnel, through the real agent: a query written to the
 * agent's TUN device for a service it holds is answered with the
 * service's address in a reply packet written back to the TUN device,
 * from the DNS address to the asker, IP and UDP checksums valid; the DNS
 * address is routed into the tunnel; unknown names get NXDOMAIN and
 * others REFUSED, and nothing reaches a connector; a service pushed at the
 * DNS address is refused.
 */
#include <stdio.h>
#include <string.h>

#include "../unit/dnsbuild.h"
#include "../unit/test.h"
#include "dnstun.h"
#include "ippkt.h"
#include "world.h"

#define SEC 1000000000ULL
#define MS 1000000ULL

static void dns_on(struct world *w) { w->agent_dns = true; }

/* A query for name from the agent's tunnel address to the DNS address. */
static size_t udp_query(uint8_t *p, uint32_t src, const char *name,
                        uint16_t id) {
  return db_udp_query(p, src, ZT_DNS_DEFAULT_ADDR, 53, name, id);
}

static void test_query_through_tun(void) {
  struct world *w = world_new_with(&pki.alice, dns_on);
  struct sim_agent *a = &w->a[0];
  CHECK(world_run(w, world_ready, 10 * SEC));
  uint32_t me = zt_agent_tunnel_addr(w->agent);
  CHECK(me != 0);
  CHECK_EQ_INT(zt_agent_dns_addr(w->agent), ZT_DNS_DEFAULT_ADDR);
  bool routed = false;
  for (size_t i = 0; i < a->n_routes; i++)
    routed = routed || a->routes[i] == ZT_DNS_DEFAULT_ADDR;
  CHECK(routed);

  uint8_t p[600];
  size_t rx = a->rx, n = udp_query(p, me, "echo.ztna.internal", 0x4242);
  zt_agent_feed_tun(w->agent, p, n, w->net.now);
  CHECK_EQ_INT(a->rx, rx + 1); /* at once, from the agent itself */
  CHECK_EQ_INT(a->last_len, n + 16);
  struct zt_ip_info ip;
  CHECK_EQ_INT(zt_ip_parse(a->last, a->last_len, &ip), 0);
  CHECK(ip.src == ZT_DNS_DEFAULT_ADDR && ip.dst == me);
  CHECK(ip.sport == 53 && ip.dport == 40000);
  CHECK_EQ_INT(zt_ip_checksum(a->last, 20), 0);
  CHECK_EQ_INT(zt_dnstun_udp_checksum(ip.src, ip.dst, a->last + 20,
                                      a->last_len - 20), 0);
  const uint8_t *dns = a->last + 28;
  CHECK(dns[0] == 0x42 && dns[1] == 0x42);
  CHECK_EQ_INT(dns[3] & 0xf, 0);
  CHECK_EQ_INT(dns[7], 1); /* one answer */
  const uint8_t *addr = a->last + a->last_len - 4;
  uint32_t got = (uint32_t)addr[0] << 24 | addr[1] << 16 | addr[2] << 8 | addr[3];
  CHECK(got == SIM_VIP);

  n = udp_query(p, me, "nosuch.ztna.internal", 7);
  zt_agent_feed_tun(w->agent, p, n, w->net.now);
  CHECK_EQ_INT(a->last[28 + 3] & 0xf, 3);
  n = udp_query(p, me, "example.com", 8);
  zt_agent_feed_tun(w->agent, p, n, w->net.now);
  CHECK_EQ_INT(a->last[28 + 3] & 0xf, 5);
  const struct zt_dnstun_stats *st = zt_agent_dns_stats(w->agent);
  CHECK_EQ_INT(st->queries, 3);
  CHECK_EQ_INT(st->answers, 1);
  CHECK_EQ_INT(st->nxdomain, 1);
  CHECK_EQ_INT(st->refused, 1);
  /* nothing of it went to a connector */
  CHECK_EQ_INT(zt_agent_get_stats(w->agent)->tun_no_service, 0);

  char json[16384];
  CHECK(zt_agent_status_json(w->agent, json, sizeof(json)) < (int)sizeof(json));
  CHECK_CONTAINS(json, "\"dns\":{\"queries\":3,\"answers\":1");
  world_free(w);
}

/* The Intermediate pushes a service at the DNS address: refused, never
 * routed or answered; the DNS address keeps answering. */
static void dns_addr_taken(struct world *w) {
  w->agent_dns = true;
  w->icfg.services[0].address = ZT_DNS_DEFAULT_ADDR;
}

static void test_service_at_dns_address_refused(void) {
  struct world *w = world_new_with(&pki.alice, dns_addr_taken);
  world_run(w, NULL, 3 * SEC);
  uint32_t me = zt_agent_tunnel_addr(w->agent);
  CHECK(me != 0);
  CHECK(zt_agent_get_stats(w->agent)->services_refused >= 1);
  CHECK(!zt_agent_service_online(w->agent, ZT_DNS_DEFAULT_ADDR));
  uint8_t p[600];
  size_t n = udp_query(p, me, "echo.ztna.internal", 9);
  zt_agent_feed_tun(w->agent, p, n, w->net.now);
  CHECK_EQ_INT(w->a[0].last[28 + 3] & 0xf, 3); /* NXDOMAIN: not in the table */
  CHECK_EQ_INT(zt_agent_dns_stats(w->agent)->queries, 1);
  world_free(w);
}

/* Without DNS the address is just an address with no service. */
static void test_off_by_default(void) {
  struct world *w = world_new(&pki.alice);
  CHECK(world_run(w, world_ready, 10 * SEC));
  uint8_t p[600];
  size_t rx = w->a[0].rx;
  size_t n = udp_query(p, zt_agent_tunnel_addr(w->agent), "echo.ztna.internal", 1);
  zt_agent_feed_tun(w->agent, p, n, w->net.now);
  world_run(w, NULL, 100 * MS);
  CHECK_EQ_INT(w->a[0].rx, rx);
  CHECK_EQ_INT(zt_agent_get_stats(w->agent)->tun_no_service, 1);
  world_free(w);
}

int main(void) {
  RUN(test_query_through_tun);
  RUN(test_service_at_dns_address_refused);
  RUN(test_off_by_default);
  return TEST_EXIT();
}

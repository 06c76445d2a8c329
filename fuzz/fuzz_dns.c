/*
 * libFuzzer target for the agent's DNS responder (core/dns.c) and its TUN
 * wrapper (core/dnstun.c). The input is a DNS message, answered for the
 * domain "ztna.internal" with a two-name table; the same bytes are then
 * sent as the payload of a UDP packet to the DNS address. Checks the rules,
 * not just memory safety: a reply is never longer than its limit, always
 * a response with the query's ID, carries an A record only for a name in
 * the table (and then that name's address), and nothing outside the domain
 * is ever answered with anything but REFUSED or FORMERR.
 */
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "dnstun.h"
#include "ippkt.h"
#include "../tests/unit/dnsbuild.h"

static const struct zt_dns_entry table[] = {
    {"web", 0x0a640001u},
    {"echo", 0x0a640002u},
};

static void check_reply(const uint8_t *q, size_t qlen, const uint8_t *r,
                        size_t rlen, const struct zt_dns_outcome *oc) {
  if (rlen == 0)
    return;
  if (rlen < 12 || rlen > ZT_DNS_EDNS_MAX || (!oc->edns && rlen > 512))
    abort();
  if (r[0] != q[0] || r[1] != q[1] || !(r[2] & 0x80))
    abort();
  int ancount = r[6] << 8 | r[7];
  if (ancount > 1 || ancount != oc->answers)
    abort();
  if (!ancount)
    return;
  if ((r[3] & 0xf) != 0 || rlen < 12 + 5 + 16)
    abort();
  /* The question's name, uncompressed after the header, is one of ours. */
  const uint8_t *n = r + 12;
  size_t l = n[0];
  if (l == 0 || 12 + 1 + l >= rlen)
    abort();
  const struct zt_dns_entry *hit = NULL;
  for (size_t i = 0; i < 2; i++)
    if (strlen(table[i].name) == l &&
        strncasecmp(table[i].name, (const char *)n + 1, l) == 0)
      hit = &table[i];
  if (!hit)
    abort();
  static const char rest[] = "\x04ztna\x08internal";
  if (strncasecmp((const char *)n + 1 + l, rest, sizeof(rest)) != 0)
    abort();
  const uint8_t *a = r + 12 + 1 + l + sizeof(rest) + 4;
  if (a + 16 > r + rlen)
    abort();
  uint32_t addr = (uint32_t)a[12] << 24 | a[13] << 16 | a[14] << 8 | a[15];
  if (addr != hit->addr)
    abort();
  (void)qlen;
}

static void tun_write(void *ud, const uint8_t *p, size_t len) {
  struct zt_ip_info ip;
  (void)ud;
  if (zt_ip_parse(p, len, &ip) != 0 || ip.src != ZT_DNS_DEFAULT_ADDR ||
      zt_ip_checksum(p, 20) != 0 ||
      zt_dnstun_udp_checksum(ip.src, ip.dst, p + 20, len - 20) != 0)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t out[ZT_DNS_EDNS_MAX];
  struct zt_dns_outcome oc;
  size_t r = zt_dns_answer(data, size, "ztna.internal", table, 2, out,
                           sizeof(out), &oc);
  check_reply(data, size, out, r, &oc);
  /* a small buffer: truncation */
  r = zt_dns_answer(data, size, "ztna.internal", table, 2, out, 40, &oc);
  if (r > 40)
    abort();

  if (size > 1400)
    return 0;
  static uint8_t pkt[1500];
  size_t n = db_udp_wrap(pkt, 0x64400002u, ZT_DNS_DEFAULT_ADDR, 53, data, size);
  struct zt_ip_info ip;
  struct zt_dnstun d = {.addr = ZT_DNS_DEFAULT_ADDR, .domain = "ztna.internal"};
  if (zt_ip_parse(pkt, n, &ip) == 0 &&
      !zt_dnstun_handle(&d, pkt, n, &ip, table, 2, tun_write, NULL))
    abort();
  return 0;
}

/* ICMP "fragmentation needed". See icmp.h. */
#include "icmp.h"

#include <stdbool.h>
#include <string.h>

#include "ippkt.h"

/* Addresses an ICMP error must neither come from nor go to. */
static bool not_a_host(uint32_t a) {
  uint8_t first = (uint8_t)(a >> 24);
  return a == 0 || first == 127 || first >= 224;
}

/* ICMP types that are errors (RFC 792, 1122): unreachable, source quench,
 * redirect, time exceeded, parameter problem. */
static bool is_icmp_error(uint8_t type) {
  return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

size_t zt_icmp_frag_needed(const uint8_t *orig, size_t len, uint16_t mtu,
                           uint8_t *out) {
  struct zt_ip_info ip;
  if (zt_ip_parse(orig, len, &ip) != 0)
    return 0;
  if ((zt_ip_rd16(orig + 6) & 0x1fff) != 0) /* not the first fragment */
    return 0;
  if (ip.proto == ZT_IP_PROTO_ICMP && (!ip.l4_ok || is_icmp_error(ip.icmp_type)))
    return 0;
  if (not_a_host(ip.src) || not_a_host(ip.dst))
    return 0;
  size_t quote = ip.hdr_len + 8u;
  if (quote > ip.total_len)
    quote = ip.total_len;
  size_t n = 20 + 8 + quote;
  /* precedence "internetwork control" (0xc0), as Linux sends */
  zt_ip_reply_header(out, orig, 0xc0, 0, ZT_IP_PROTO_ICMP, (uint16_t)n);
  uint8_t *icmp = out + 20;
  memset(icmp, 0, 8);
  icmp[0] = ZT_ICMP_TYPE_UNREACH;
  icmp[1] = ZT_ICMP_CODE_FRAG_NEEDED;
  zt_ip_wr16(icmp + 6, mtu);
  memcpy(icmp + 8, orig, quote);
  uint16_t ck = zt_ip_checksum(icmp, 8 + quote);
  memcpy(icmp + 2, &ck, 2);
  return n;
}

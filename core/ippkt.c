/* IPv4 packet parsing and checksums. See ippkt.h. */
#include "ippkt.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#define IP_MF 0x2000
#define IP_OFFMASK 0x1fff

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

/* Minimum L4 header we insist on before trusting any of its fields: a
 * packet too short to be real TCP/UDP gets no ports, so it can match no
 * port rule. */
size_t zt_ip_l4_min_len(uint8_t proto) {
  switch (proto) {
  case ZT_IP_PROTO_TCP:
    return 20;
  case ZT_IP_PROTO_UDP:
    return 8;
  case ZT_IP_PROTO_ICMP:
    return 4;
  default:
    return 0;
  }
}

/* l4 is the payload of an unfragmented or first-fragment packet. */
static void parse_l4(const uint8_t *l4, size_t len, struct zt_ip_info *out) {
  size_t need = zt_ip_l4_min_len(out->proto);
  if (need == 0 || len < need)
    return;
  out->l4_ok = 1;
  if (out->proto == ZT_IP_PROTO_ICMP) {
    out->icmp_type = l4[0];
  } else {
    out->sport = rd16(l4);
    out->dport = rd16(l4 + 2);
  }
}

int zt_ip_parse(const uint8_t *pkt, size_t len, struct zt_ip_info *out) {
  memset(out, 0, sizeof *out);
  if (len < 1)
    return ZT_IP_ETRUNC;
  if (pkt[0] >> 4 != 4)
    return ZT_IP_EVERSION;
  if (len < 20)
    return ZT_IP_ETRUNC;
  size_t hdr = (size_t)(pkt[0] & 0x0f) * 4;
  if (hdr < 20 || hdr > len)
    return ZT_IP_EHDR;
  size_t total = rd16(pkt + 2);
  if (total > len || total < hdr)
    return ZT_IP_ELEN;
  uint16_t frag = rd16(pkt + 6);
  out->proto = pkt[9];
  out->src = rd32(pkt + 12);
  out->dst = rd32(pkt + 16);
  out->total_len = (uint16_t)total;
  out->hdr_len = (uint16_t)hdr;
  out->is_fragment = (frag & (IP_MF | IP_OFFMASK)) != 0;
  /* Only the first fragment carries the L4 header; later ones start with
   * payload bytes that would look like ports. Bytes past total_len (link
   * padding) are not part of the packet. */
  if ((frag & IP_OFFMASK) == 0)
    parse_l4(pkt + hdr, total - hdr, out);
  return 0;
}

const char *zt_ip_strerror(int err) {
  switch (err) {
  case 0:
    return "ok";
  case ZT_IP_ETRUNC:
    return "packet truncated";
  case ZT_IP_EVERSION:
    return "not IPv4";
  case ZT_IP_EHDR:
    return "bad IPv4 header length";
  case ZT_IP_ELEN:
    return "bad IPv4 total length";
  default:
    return "unknown error";
  }
}

const char *zt_ip_proto_name(uint8_t proto) {
  switch (proto) {
  case ZT_IP_PROTO_TCP:
    return "tcp";
  case ZT_IP_PROTO_UDP:
    return "udp";
  case ZT_IP_PROTO_ICMP:
    return "icmp";
  default:
    return "other";
  }
}

uint16_t zt_ip_checksum(const void *data, size_t len) {
  const uint8_t *p = data;
  uint64_t sum = 0;
  size_t i = 0;
  for (; i + 1 < len; i += 2)
    sum += rd16(p + i);
  if (i < len)
    sum += (uint32_t)p[i] << 8;
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return htons((uint16_t)~sum); /* summed as big-endian words */
}

void zt_ip_set_checksum(uint8_t *hdr, size_t hdr_len) {
  hdr[10] = hdr[11] = 0;
  uint16_t ck = zt_ip_checksum(hdr, hdr_len);
  memcpy(hdr + 10, &ck, 2);
}

char *zt_ip4_str(uint32_t ip, char *buf) {
  snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff,
           (ip >> 8) & 0xff, ip & 0xff);
  return buf;
}

void zt_ip_reply_header(uint8_t out[20], const uint8_t *orig, uint8_t tos,
                        uint16_t flags, uint8_t proto, uint16_t total) {
  memset(out, 0, 20);
  out[0] = 0x45;
  out[1] = tos;
  zt_ip_wr16(out + 2, total);
  zt_ip_wr16(out + 6, flags);
  out[8] = 64;
  out[9] = proto;
  memcpy(out + 12, orig + 16, 4); /* from the original destination */
  memcpy(out + 16, orig + 12, 4); /* to its source */
  zt_ip_set_checksum(out, 20);
}

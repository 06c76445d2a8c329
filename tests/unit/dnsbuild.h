/*
 * DNS queries for the DNS tests (test_dns.c, test_sim_dns.c, fuzz_dns.c):
 * a query message, and the IPv4/UDP packet that carries one to the agent's
 * DNS address, checksums right.
 */
#ifndef ZTNA_TEST_DNSBUILD_H
#define ZTNA_TEST_DNSBUILD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dnstun.h"
#include "ippkt.h"

/* A query for name (dotted) of type qtype, RD set; with an EDNS0 OPT
 * record (UDP size 4096, no options) when edns. Its length. */
static inline size_t db_query(uint8_t *p, uint16_t id, const char *name,
                              uint16_t qtype, int edns) {
  size_t o = 12;
  memset(p, 0, 12);
  zt_ip_wr16(p, id);
  p[2] = 0x01; /* RD */
  p[5] = 1;
  p[11] = edns ? 1 : 0;
  while (*name) {
    const char *dot = strchr(name, '.');
    size_t l = dot ? (size_t)(dot - name) : strlen(name);
    p[o++] = (uint8_t)l;
    memcpy(p + o, name, l);
    o += l;
    name += l + (dot ? 1 : 0);
  }
  p[o++] = 0;
  zt_ip_wr16(p + o, qtype);
  zt_ip_wr16(p + o + 2, 1); /* IN */
  o += 4;
  if (edns) {
    static const uint8_t opt[] = {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0};
    memcpy(p + o, opt, sizeof(opt));
    o += sizeof(opt);
  }
  return o;
}

/* payload (len bytes, at most 1472) in a UDP datagram from src:40000 to
 * dst:dport, in an IPv4 packet written to p; its length. */
static inline size_t db_udp_wrap(uint8_t *p, uint32_t src, uint32_t dst,
                                 uint16_t dport, const uint8_t *payload,
                                 size_t len) {
  size_t n = 28 + len;
  memmove(p + 28, payload, len);
  memset(p, 0, 28);
  p[0] = 0x45;
  zt_ip_wr16(p + 2, (uint16_t)n);
  p[8] = 64;
  p[9] = ZT_IP_PROTO_UDP;
  zt_ip_wr16(p + 12, (uint16_t)(src >> 16));
  zt_ip_wr16(p + 14, (uint16_t)src);
  zt_ip_wr16(p + 16, (uint16_t)(dst >> 16));
  zt_ip_wr16(p + 18, (uint16_t)dst);
  zt_ip_set_checksum(p, 20);
  zt_ip_wr16(p + 20, 40000);
  zt_ip_wr16(p + 22, dport);
  zt_ip_wr16(p + 24, (uint16_t)(8 + len));
  uint16_t ck = zt_dnstun_udp_checksum(src, dst, p + 20, 8 + len);
  memcpy(p + 26, &ck, 2);
  return n;
}

/* An A query for name from src to the DNS address dst:dport. */
static inline size_t db_udp_query(uint8_t *p, uint32_t src, uint32_t dst,
                                  uint16_t dport, const char *name,
                                  uint16_t id) {
  uint8_t q[512];
  size_t ql = db_query(q, id, name, 1, 0);
  return db_udp_wrap(p, src, dst, dport, q, ql);
}

#endif

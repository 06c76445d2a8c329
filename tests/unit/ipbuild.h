/*
 * IPv4 packets for the IP-layer tests (test_reasm.c, test_ipsize.c): UDP
 * datagrams with a payload pattern, TCP SYNs with options and a correct
 * checksum, fragments cut from a datagram by hand.
 */
#ifndef ZTNA_TEST_IPBUILD_H
#define ZTNA_TEST_IPBUILD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ippkt.h"

#define TB_SRC 0x64400002u /* 100.64.0.2: an agent */
#define TB_DST 0x0a640002u /* 10.100.0.2: a service */

static inline void tb_put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static inline void tb_ip_cksum(uint8_t *p) {
  size_t hl = (size_t)(p[0] & 15) * 4;
  p[10] = p[11] = 0;
  uint16_t ck = zt_ip_checksum(p, hl);
  memcpy(p + 10, &ck, 2);
}

/* A 20-byte header; total = 20 + l4_len. */
static inline void tb_ip(uint8_t *p, uint8_t proto, uint16_t id, size_t l4_len,
                         uint16_t frag) {
  memset(p, 0, 20);
  p[0] = 0x45;
  tb_put16(p + 2, (uint16_t)(20 + l4_len));
  tb_put16(p + 4, id);
  tb_put16(p + 6, frag);
  p[8] = 64;
  p[9] = proto;
  uint32_t s = TB_SRC, d = TB_DST;
  for (int i = 0; i < 4; i++) {
    p[12 + i] = (uint8_t)(s >> (24 - 8 * i));
    p[16 + i] = (uint8_t)(d >> (24 - 8 * i));
  }
  tb_ip_cksum(p);
}

/* A UDP datagram with `payload` bytes of a pattern that depends on id. */
static inline size_t tb_udp(uint8_t *p, uint16_t id, uint16_t dport,
                            size_t payload, int df) {
  tb_ip(p, ZT_IP_PROTO_UDP, id, 8 + payload, df ? 0x4000 : 0);
  uint8_t *u = p + 20;
  tb_put16(u, 40000);
  tb_put16(u + 2, dport);
  tb_put16(u + 4, (uint16_t)(8 + payload));
  u[6] = u[7] = 0;
  for (size_t i = 0; i < payload; i++)
    u[8 + i] = (uint8_t)(i * 13 + id);
  return 20 + 8 + payload;
}

/* Is the TCP (or UDP with a checksum) checksum of pkt right? */
static inline int tb_l4_ok(const uint8_t *pkt) {
  static uint8_t tmp[65536 + 12];
  size_t hl = (size_t)(pkt[0] & 15) * 4;
  size_t l4 = (size_t)(pkt[2] << 8 | pkt[3]) - hl;
  memcpy(tmp, pkt + 12, 8);
  tmp[8] = 0;
  tmp[9] = pkt[9];
  tb_put16(tmp + 10, (uint16_t)l4);
  memcpy(tmp + 12, pkt + hl, l4);
  return zt_ip_checksum(tmp, 12 + l4) == 0;
}

/* A TCP segment with the given flags and options (optlen a multiple of 4)
 * and a correct checksum. */
static inline size_t tb_tcp(uint8_t *p, uint8_t flags, const uint8_t *opts,
                            size_t optlen) {
  size_t l4 = 20 + optlen;
  tb_ip(p, ZT_IP_PROTO_TCP, 7, l4, 0x4000);
  uint8_t *t = p + 20;
  memset(t, 0, 20);
  tb_put16(t, 40000);
  tb_put16(t + 2, 8080);
  t[4] = 0x12; /* sequence number */
  t[12] = (uint8_t)((l4 / 4) << 4);
  t[13] = flags;
  tb_put16(t + 14, 64240);
  memcpy(t + 20, opts, optlen);
  static uint8_t tmp[128];
  memcpy(tmp, p + 12, 8);
  tmp[8] = 0;
  tmp[9] = ZT_IP_PROTO_TCP;
  tb_put16(tmp + 10, (uint16_t)l4);
  memcpy(tmp + 12, t, l4);
  uint16_t ck = zt_ip_checksum(tmp, 12 + l4);
  memcpy(t + 16, &ck, 2);
  return 20 + l4;
}

/* The fragment of datagram d (20-byte header) holding its payload bytes
 * [off, off + n), into out; MF unless it reaches the end. */
static inline size_t tb_frag(const uint8_t *d, size_t off, size_t n,
                             uint8_t *out) {
  size_t total = (size_t)(d[2] << 8 | d[3]) - 20;
  memcpy(out, d, 20);
  memcpy(out + 20, d + 20 + off, n);
  tb_put16(out + 2, (uint16_t)(20 + n));
  uint16_t frag = (uint16_t)(off / 8);
  if (off + n < total)
    frag |= 0x2000;
  tb_put16(out + 6, frag);
  tb_ip_cksum(out);
  return 20 + n;
}

#endif

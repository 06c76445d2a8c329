/*
 * TCP segments for the offload tests (test_tso.c, test_gro.c): IPv4 + TCP
 * packets built by hand with a payload pattern, and an independent
 * checksum check (a plain RFC 1071 loop over an explicit pseudo-header,
 * sharing no code with core/vnethdr.c).
 */
#ifndef ZTNA_TEST_SEGBUILD_H
#define ZTNA_TEST_SEGBUILD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SB_FIN 0x01
#define SB_SYN 0x02
#define SB_RST 0x04
#define SB_PSH 0x08
#define SB_ACK 0x10
#define SB_URG 0x20
#define SB_CWR 0x80

static inline uint16_t sb_rd16(const uint8_t *p) {
  return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t sb_rd32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}
static inline void sb_wr16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline void sb_wr32(uint8_t *p, uint32_t v) {
  sb_wr16(p, (uint16_t)(v >> 16));
  sb_wr16(p + 2, (uint16_t)v);
}

/* RFC 1071, the textbook way: the complemented sum of 16-bit words. */
static inline uint16_t sb_cksum(const uint8_t *a, size_t alen,
                                const uint8_t *b, size_t blen) {
  uint32_t sum = 0;
  uint8_t buf[65536 + 12];
  memcpy(buf, a, alen);
  if (blen) /* b may be NULL then */
    memcpy(buf + alen, b, blen);
  size_t n = alen + blen;
  if (n & 1)
    buf[n++] = 0;
  for (size_t i = 0; i < n; i += 2) {
    sum += (uint32_t)(buf[i] << 8 | buf[i + 1]);
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return (uint16_t)~sum;
}

/* Is the IPv4 header checksum right? */
static inline int sb_ip_ok(const uint8_t *p) {
  return sb_cksum(p, (size_t)(p[0] & 15) * 4, NULL, 0) == 0;
}

/* Is the TCP (or UDP, proto) checksum of the IPv4 packet p right? */
static inline int sb_l4_ok(const uint8_t *p, size_t len, uint8_t proto) {
  size_t ihl = (size_t)(p[0] & 15) * 4;
  uint8_t ph[12];
  memcpy(ph, p + 12, 8);
  ph[8] = 0;
  ph[9] = proto;
  sb_wr16(ph + 10, (uint16_t)(len - ihl));
  return sb_cksum(ph, 12, p + ihl, len - ihl) == 0;
}

/* The byte at payload offset i of a stream starting at sequence seq0. */
static inline uint8_t sb_pat(uint32_t seq) { return (uint8_t)(seq * 7 + 3); }

struct sb_seg {
  uint32_t src, dst;
  uint16_t sport, dport, id, window;
  uint32_t seq, ack;
  uint8_t flags, ttl, tos, optlen, ihl_extra; /* optlen: multiple of 4 */
  int df;
};

static inline struct sb_seg sb_default(void) {
  struct sb_seg s = {.src = 0x64400002u, .dst = 0x0a640002u,
                     .sport = 40000, .dport = 5201, .id = 0x1234,
                     .window = 502, .seq = 0xfffff000u, .ack = 777,
                     .flags = SB_ACK, .ttl = 64, .tos = 0, .optlen = 12,
                     .ihl_extra = 0, .df = 1};
  return s;
}

/* An IPv4 TCP packet with `pay` payload bytes (pattern by sequence
 * number), both checksums right; its length. */
static inline size_t sb_build(uint8_t *p, const struct sb_seg *s, size_t pay) {
  size_t ihl = 20 + s->ihl_extra, thl = 20 + s->optlen, len = ihl + thl + pay;
  memset(p, 0, ihl + thl);
  p[0] = (uint8_t)(0x40 | ihl / 4);
  p[1] = s->tos;
  sb_wr16(p + 2, (uint16_t)len);
  sb_wr16(p + 4, s->id);
  sb_wr16(p + 6, s->df ? 0x4000 : 0);
  p[8] = s->ttl;
  p[9] = 6;
  sb_wr32(p + 12, s->src);
  sb_wr32(p + 16, s->dst);
  for (size_t i = 20; i < ihl; i++)
    p[i] = 1; /* IP NOP options */
  uint8_t *t = p + ihl;
  sb_wr16(t, s->sport);
  sb_wr16(t + 2, s->dport);
  sb_wr32(t + 4, s->seq);
  sb_wr32(t + 8, s->ack);
  t[12] = (uint8_t)(thl / 4 << 4);
  t[13] = s->flags;
  sb_wr16(t + 14, s->window);
  for (size_t i = 0; i < s->optlen; i++) /* NOP NOP TS-like bytes */
    t[20 + i] = i < 2 ? 1 : (uint8_t)(0x08 + i);
  for (size_t i = 0; i < pay; i++)
    t[thl + i] = sb_pat(s->seq + (uint32_t)i);
  uint16_t ck = sb_cksum(p, ihl, NULL, 0);
  sb_wr16(p + 10, ck);
  uint8_t ph[12];
  memcpy(ph, p + 12, 8);
  ph[8] = 0;
  ph[9] = 6;
  sb_wr16(ph + 10, (uint16_t)(thl + pay));
  sb_wr16(t + 16, sb_cksum(ph, 12, t, thl + pay));
  return len;
}

/* The TCP checksum field turned into the kernel's CHECKSUM_PARTIAL
 * form: the pseudo-header's folded sum, not complemented. */
static inline void sb_make_partial(uint8_t *p, size_t len) {
  size_t ihl = (size_t)(p[0] & 15) * 4;
  uint8_t ph[12];
  memcpy(ph, p + 12, 8);
  ph[8] = 0;
  ph[9] = p[9];
  sb_wr16(ph + 10, (uint16_t)(len - ihl));
  sb_wr16(p + ihl + (p[9] == 6 ? 16 : 6), (uint16_t)~sb_cksum(ph, 12, NULL, 0));
}

/* Packets handed to a tso.h emit callback (ud: the struct), copied: tso
 * builds them in place. n: how many were kept; over: how many did not
 * fit. */
struct sb_pkts {
  uint8_t pkt[256][2048];
  size_t len[256];
  size_t n, over;
};

static inline void sb_collect(void *ud, const uint8_t *pkt, size_t len) {
  struct sb_pkts *c = ud;
  if (c->n >= 256 || len > sizeof(c->pkt[0])) {
    c->over++;
    return;
  }
  memcpy(c->pkt[c->n], pkt, len);
  c->len[c->n++] = len;
}

#endif

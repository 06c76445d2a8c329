/*
 * IPv4 packet parsing for the policy and forwarding code. Packets come from
 * TUN devices and from peers, so they are untrusted: every length is
 * checked against the buffer before it is believed. Only the fields policy
 * needs are extracted; nothing is modified. Also the Internet checksum and
 * address formatting, shared by tests and by code building ICMP replies.
 */
#ifndef ZTNA_IPPKT_H
#define ZTNA_IPPKT_H

#include <stddef.h>
#include <stdint.h>

#define ZT_IP_PROTO_ICMP 1
#define ZT_IP_PROTO_TCP 6
#define ZT_IP_PROTO_UDP 17

struct zt_ip_info {
  uint8_t proto;
  uint32_t src, dst;      /* host order */
  uint16_t sport, dport;  /* host order; TCP/UDP with l4_ok only, else 0 */
  uint8_t icmp_type;      /* ICMP with l4_ok only, else 0 */
  uint16_t total_len;     /* from the header; bytes past it are ignored */
  uint16_t hdr_len;       /* IHL * 4 */
  uint8_t is_fragment;    /* fragment offset != 0 or MF set */
  /* The first bytes of the L4 header (TCP 20, UDP 8, ICMP 4) are present,
   * so ports / icmp_type are real. 0 for non-first fragments, truncated L4
   * headers and other protocols. */
  uint8_t l4_ok;
};

enum zt_ip_err {
  ZT_IP_ETRUNC = -1,   /* shorter than a 20-byte header */
  ZT_IP_EVERSION = -2, /* not IPv4 */
  ZT_IP_EHDR = -3,     /* IHL < 5 or header longer than the buffer */
  ZT_IP_ELEN = -4,     /* total length > buffer or < header */
};

/* 0 and fills *out, or an enum zt_ip_err (then *out is unspecified). */
int zt_ip_parse(const uint8_t *pkt, size_t len, struct zt_ip_info *out);
const char *zt_ip_strerror(int err);
/* "tcp", "udp", "icmp" or "other". */
const char *zt_ip_proto_name(uint8_t proto);

/* Internet checksum (RFC 1071) over data: the one's complement of the one's
 * complement sum of 16-bit words (odd length padded with zero). Returned in
 * network byte order, ready to memcpy into the checksum field (the classic
 * in_cksum convention); ntohs() gives the numeric value. Over data that
 * already holds a correct checksum the result is 0. */
uint16_t zt_ip_checksum(const void *data, size_t len);

/* The IPv4 header's flags and fragment offset field (bytes 6-7). */
#define ZT_IP_DF 0x4000
#define ZT_IP_MF 0x2000
#define ZT_IP_OFFMASK 0x1fff

/* Bytes of a transport header that must be present before its fields are
 * believed (TCP 20, UDP 8, ICMP 4; 0 for other protocols): a first
 * fragment shorter than this is a tiny fragment (core/reasm.c). */
size_t zt_ip_l4_min_len(uint8_t proto);

/* Recomputes the header checksum of an IPv4 header of hdr_len bytes. */
void zt_ip_set_checksum(uint8_t *hdr, size_t hdr_len);
/* A 20-byte IPv4 header for an answer to `orig` written by us into the
 * TUN (ICMP errors, DNS replies): from orig's destination to its source,
 * TTL 64, the given TOS, flags (ZT_IP_DF or 0), protocol and total length,
 * checksum set. */
void zt_ip_reply_header(uint8_t out[20], const uint8_t *orig, uint8_t tos,
                        uint16_t flags, uint8_t proto, uint16_t total);

/* Big-endian 16-bit fields, for the code that builds and edits packets. */
static inline uint16_t zt_ip_rd16(const uint8_t *p) {
  return (uint16_t)(p[0] << 8 | p[1]);
}
static inline void zt_ip_wr16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline uint32_t zt_ip_rd32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}
static inline void zt_ip_wr32(uint8_t *p, uint32_t v) {
  zt_ip_wr16(p, (uint16_t)(v >> 16));
  zt_ip_wr16(p + 2, (uint16_t)v);
}

/* Formats a host-order IPv4 address as dotted quad into buf (>= 16 bytes);
 * returns buf. */
char *zt_ip4_str(uint32_t ip, char *buf);

#endif

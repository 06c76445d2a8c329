/*
 * IPv4 parsing: real-looking TCP, UDP and ICMP packets built here with
 * correct checksums, then every way an untrusted packet can lie about its
 * lengths, fragments, and the checksum and formatting helpers.
 */
#include <arpa/inet.h>

#include "ippkt.h"
#include "test.h"

static uint8_t pkt[2048];

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

/* zt_ip_checksum's result is already in network order. */
static void put_ck(uint8_t *p, uint16_t ck) { memcpy(p, &ck, 2); }

static void put32(uint8_t *p, uint32_t v) {
  put16(p, (uint16_t)(v >> 16));
  put16(p + 2, (uint16_t)v);
}

/* Writes an IPv4 header of ihl words (options zero-filled, i.e. EOL) with
 * a correct checksum; returns the header length. */
static size_t ip_hdr(uint8_t *p, unsigned ihl, uint8_t proto, uint32_t src,
                     uint32_t dst, size_t l4_len, uint16_t frag) {
  size_t hl = ihl * 4;
  memset(p, 0, hl);
  p[0] = (uint8_t)(0x40 | ihl);
  put16(p + 2, (uint16_t)(hl + l4_len));
  put16(p + 4, 0x1c46); /* id */
  put16(p + 6, frag);
  p[8] = 64;
  p[9] = proto;
  put32(p + 12, src);
  put32(p + 16, dst);
  put_ck(p + 10, zt_ip_checksum(p, hl));
  return hl;
}

/* L4 checksum over the pseudo header and the segment. */
static uint16_t l4_sum(const uint8_t *ip, const uint8_t *l4, size_t len) {
  static uint8_t tmp[2048];
  memcpy(tmp, ip + 12, 8);
  tmp[8] = 0;
  tmp[9] = ip[9];
  put16(tmp + 10, (uint16_t)len);
  memcpy(tmp + 12, l4, len);
  return zt_ip_checksum(tmp, 12 + len);
}

static size_t build_tcp(unsigned ihl, uint16_t sport, uint16_t dport,
                        uint16_t frag) {
  uint8_t *l4 = pkt + ihl * 4;
  size_t l4_len = 20 + 6;
  memset(l4, 0, l4_len);
  put16(l4, sport);
  put16(l4 + 2, dport);
  put32(l4 + 4, 0x11223344); /* seq */
  l4[12] = 5 << 4;           /* data offset */
  l4[13] = 0x18;             /* PSH|ACK */
  put16(l4 + 14, 64240);
  memcpy(l4 + 20, "hello!", 6);
  size_t hl = ip_hdr(pkt, ihl, 6, 0x64400002, 0x0a640001, l4_len, frag);
  put_ck(l4 + 16, l4_sum(pkt, l4, l4_len));
  return hl + l4_len;
}

static size_t build_udp(uint16_t sport, uint16_t dport, size_t data_len) {
  uint8_t *l4 = pkt + 20;
  size_t l4_len = 8 + data_len;
  put16(l4, sport);
  put16(l4 + 2, dport);
  put16(l4 + 4, (uint16_t)l4_len);
  put16(l4 + 6, 0);
  for (size_t i = 0; i < data_len; i++)
    l4[8 + i] = (uint8_t)i;
  ip_hdr(pkt, 5, 17, 0xc0a80001, 0x08080808, l4_len, 0);
  put_ck(l4 + 6, l4_sum(pkt, l4, l4_len));
  return 20 + l4_len;
}

static size_t build_icmp_echo(uint8_t type) {
  uint8_t *l4 = pkt + 20;
  size_t l4_len = 8 + 32;
  memset(l4, 0, l4_len);
  l4[0] = type;
  put16(l4 + 4, 0x1234);
  put16(l4 + 6, 1);
  for (int i = 0; i < 32; i++)
    l4[8 + i] = (uint8_t)('a' + i % 23);
  put_ck(l4 + 2, zt_ip_checksum(l4, l4_len));
  ip_hdr(pkt, 5, 1, 0x64400002, 0x0a640005, l4_len, 0);
  return 20 + l4_len;
}

static void test_tcp(void) {
  size_t n = build_tcp(5, 43210, 443, 0x4000 /* DF */);
  CHECK_EQ_INT(zt_ip_checksum(pkt, 20), 0);
  CHECK_EQ_INT(l4_sum(pkt, pkt + 20, n - 20), 0);
  struct zt_ip_info info;
  CHECK_EQ_INT(zt_ip_parse(pkt, n, &info), 0);
  CHECK_EQ_INT(info.proto, 6);
  CHECK_EQ_INT(info.src, 0x64400002);
  CHECK_EQ_INT(info.dst, 0x0a640001);
  CHECK_EQ_INT(info.sport, 43210);
  CHECK_EQ_INT(info.dport, 443);
  CHECK_EQ_INT(info.total_len, n);
  CHECK_EQ_INT(info.hdr_len, 20);
  CHECK_EQ_INT(info.is_fragment, 0);
  CHECK_EQ_INT(info.l4_ok, 1);
  CHECK_EQ_INT(info.icmp_type, 0);
  CHECK_STR(zt_ip_proto_name(info.proto), "tcp");
}

static void test_tcp_with_options(void) {
  size_t n = build_tcp(15, 1, 65535, 0); /* 40 bytes of IP options */
  CHECK_EQ_INT(zt_ip_checksum(pkt, 60), 0);
  struct zt_ip_info info;
  CHECK_EQ_INT(zt_ip_parse(pkt, n, &info), 0);
  CHECK_EQ_INT(info.hdr_len, 60);
  CHECK_EQ_INT(info.sport, 1);
  CHECK_EQ_INT(info.dport, 65535);
}

static void test_udp(void) {
  size_t n = build_udp(5353, 53, 29);
  struct zt_ip_info info;
  CHECK_EQ_INT(zt_ip_parse(pkt, n, &info), 0);
  CHECK_EQ_INT(info.proto, 17);
  CHECK_EQ_INT(info.src, 0xc0a80001);
  CHECK_EQ_INT(info.dst, 0x08080808);
  CHECK_EQ_INT(info.sport, 5353);
  CHECK_EQ_INT(info.dport, 53);
  CHECK_EQ_INT(info.l4_ok, 1);
  CHECK_EQ_INT(l4_sum(pkt, pkt + 20, n - 20), 0);
  /* A bare UDP header is still a full header. */
  n = build_udp(1, 2, 0);
  CHECK_EQ_INT(zt_ip_parse(pkt, n, &info), 0);
  CHECK_EQ_INT(info.sport, 1);
  CHECK_EQ_INT(info.dport, 2);
  CHECK_STR(zt_ip_proto_name(17), "udp");
}

static void test_icmp(void) {
  size_t n = build_icmp_echo(8);
  CHECK_EQ_INT(zt_ip_checksum(pkt + 20, n - 20), 0);
  struct zt_ip_info info;
  CHECK_EQ_INT(zt_ip_parse(pkt, n, &info), 0);
  CHECK_EQ_INT(info.proto, 1);
  CHECK_EQ_INT(info.icmp_type, 8);
  CHECK_EQ_INT(info.sport, 0);
  CHECK_EQ_INT(info.dport, 0);
  CHECK_EQ_INT(info.l4_ok, 1);
  CHECK_STR(zt_ip_proto_name(1), "icmp");
}

static void test_other_proto(void) {
  memset(pkt + 20, 0xab, 8);
  size_t n = 20 + 8;
  ip_hdr(pkt, 5, 47 /* GRE */, 1, 2, 8, 0);
  struct zt_ip_info info;
  CHECK_EQ_INT(zt_ip_parse(pkt, n, &info), 0);
  CHECK_EQ_INT(info.proto, 47);
  CHECK_EQ_INT(info.sport, 0);
  CHECK_EQ_INT(info.dport, 0);
  CHECK_EQ_INT(info.l4_ok, 0);
  CHECK_STR(zt_ip_proto_name(47), "other");
  CHECK_STR(zt_ip_proto_name(0), "other");
}

static void test_truncated(void) {
  size_t n = build_tcp(5, 1000, 80, 0);
  struct zt_ip_info info;
  CHECK_EQ_INT(zt_ip_parse(pkt, 0, &info), ZT_IP_ETRUNC);
  for (size_t len = 1; len < 20; len++)
    CHECK_EQ_INT(zt_ip_parse(pkt, len, &info), ZT_IP_ETRUNC);
  /* A whole header but fewer bytes than total length claims. */
  for (size_t len = 20; len < n; len++)
    CHECK_EQ_INT(zt_ip_parse(pkt, len, &info), ZT_IP_ELEN);
}

static void test_bad_version(void) {
  size_t n = build_udp(1, 2, 4);
  struct zt_ip_info info;
  pkt[0] = 0x60 | 5; /* IPv6 */
  CHECK_EQ_INT(zt_ip_parse(pkt, n, &info), ZT_IP_EVERSION);
  pkt[0] = 0x05;
  CHECK_EQ_INT(zt_ip_parse(pkt, n, &info), ZT_IP_EVERSION);
  CHECK_EQ_INT(zt_ip_parse(pkt, 1, &info), ZT_IP_EVERSION);
  pkt[0] = 0xf5;
  CHECK_EQ_INT(zt_ip_parse(pkt, n, &info), ZT_IP_EVERSION);
}

static void test_bad_ihl(void) {
  size_t n = build_udp(1, 2, 4);
  struct zt_ip_info info;
  for (unsigned ihl = 0; ihl < 5; ihl++) {
    pkt[0] = (uint8_t)(0x40 | ihl);
    CHECK_EQ_INT(zt_ip_parse(pkt, n, &info), ZT_IP_EHDR);
  }
  pkt[0] = 0x4f; /* 60-byte header in a 32-byte buffer */
  CHECK_EQ_INT(zt_ip_parse(pkt, n, &info), ZT_IP_EHDR);
  pkt[0] = 0x48; /* 32-byte header == buffer, but total length 32 ok */
  CHECK_EQ_INT(zt_ip_parse(pkt, n, &info), 0);
  CHECK_EQ_INT(info.hdr_len, 32);
  CHECK_EQ_INT(info.l4_ok, 0); /* no room left for a UDP header */
  CHECK_EQ_INT(info.sport, 0);
}

static void test_bad_total_len(void) {
  size_t n = build_udp(1, 2, 4);
  struct zt_ip_info info;
  put16(pkt + 2, (uint16_t)(n + 1));
  CHECK_EQ_INT(zt_ip_parse(pkt, n, &info), ZT_IP_ELEN);
  put16(pkt + 2, 0xffff);
  CHECK_EQ_INT(zt_ip_parse(pkt, n, &info), ZT_IP_ELEN);
  put16(pkt + 2, 19);
  CHECK_EQ_INT(zt_ip_parse(pkt, n, &info), ZT_IP_ELEN);
  put16(pkt + 2, 0);
  CHECK_EQ_INT(zt_ip_parse(pkt, n, &info), ZT_IP_ELEN);
  pkt[0] = 0x46;
  put16(pkt + 2, 20); /* < 24-byte header */
  CHECK_EQ_INT(zt_ip_parse(pkt, n, &info), ZT_IP_ELEN);
}

/* Bytes after total_len (link padding) are not part of the packet. */
static void test_padding_ignored(void) {
  size_t n = build_udp(7, 9, 0);
  memset(pkt + n, 0xee, 40);
  struct zt_ip_info info;
  CHECK_EQ_INT(zt_ip_parse(pkt, n + 40, &info), 0);
  CHECK_EQ_INT(info.total_len, n);
  CHECK_EQ_INT(info.dport, 9);
  /* total_len covering only the IP header: no L4 even with padding after */
  put16(pkt + 2, 20);
  CHECK_EQ_INT(zt_ip_parse(pkt, n + 40, &info), 0);
  CHECK_EQ_INT(info.l4_ok, 0);
  CHECK_EQ_INT(info.sport, 0);
  CHECK_EQ_INT(info.dport, 0);
}

static void test_truncated_l4(void) {
  struct zt_ip_info info;
  build_tcp(5, 1000, 80, 0);
  for (size_t l4 = 0; l4 < 20; l4++) {
    put16(pkt + 2, (uint16_t)(20 + l4));
    CHECK_EQ_INT(zt_ip_parse(pkt, 20 + l4, &info), 0);
    CHECK_EQ_INT(info.l4_ok, 0);
    CHECK_EQ_INT(info.sport, 0);
    CHECK_EQ_INT(info.dport, 0);
  }
  build_udp(1000, 53, 0);
  put16(pkt + 2, 27);
  CHECK_EQ_INT(zt_ip_parse(pkt, 27, &info), 0);
  CHECK_EQ_INT(info.dport, 0);
  build_icmp_echo(8);
  put16(pkt + 2, 23);
  CHECK_EQ_INT(zt_ip_parse(pkt, 23, &info), 0);
  CHECK_EQ_INT(info.l4_ok, 0);
  CHECK_EQ_INT(info.icmp_type, 0);
}

static void test_fragments(void) {
  struct zt_ip_info info;
  /* First fragment (MF, offset 0): carries the L4 header. */
  size_t n = build_tcp(5, 1000, 22, 0x2000);
  CHECK_EQ_INT(zt_ip_parse(pkt, n, &info), 0);
  CHECK_EQ_INT(info.is_fragment, 1);
  CHECK_EQ_INT(info.dport, 22);
  CHECK_EQ_INT(info.l4_ok, 1);
  /* Later fragments: payload bytes must not be read as ports. */
  static const uint16_t later[] = {0x2001, 0x0001, 0x1fff, 0x3fff, 0x4010};
  for (size_t i = 0; i < sizeof later / sizeof later[0]; i++) {
    n = build_tcp(5, 1000, 22, later[i]);
    CHECK_EQ_INT(zt_ip_parse(pkt, n, &info), 0);
    CHECK_EQ_INT(info.is_fragment, 1);
    CHECK_EQ_INT(info.l4_ok, 0);
    CHECK_EQ_INT(info.sport, 0);
    CHECK_EQ_INT(info.dport, 0);
  }
  /* DF alone is not a fragment. */
  n = build_tcp(5, 1000, 22, 0x4000);
  CHECK_EQ_INT(zt_ip_parse(pkt, n, &info), 0);
  CHECK_EQ_INT(info.is_fragment, 0);
}

static void test_checksum_vectors(void) {
  /* RFC 1071 section 3 example: sum ddf2, checksum 220d. */
  const uint8_t rfc[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  CHECK_EQ_INT(ntohs(zt_ip_checksum(rfc, sizeof rfc)), 0x220d);
  /* A classic captured header with its checksum zeroed: b861, stored as
   * bytes b8 61 by a plain memcpy. */
  uint8_t h[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  uint16_t ck = zt_ip_checksum(h, sizeof h);
  memcpy(h + 10, &ck, 2);
  CHECK_EQ_INT(h[10], 0xb8);
  CHECK_EQ_INT(h[11], 0x61);
  CHECK_EQ_INT(zt_ip_checksum(h, sizeof h), 0);
  /* Odd length pads with a zero byte. */
  const uint8_t odd[] = {0x12, 0x34, 0x56};
  CHECK_EQ_INT(ntohs(zt_ip_checksum(odd, 3)), (uint16_t)~(0x1234 + 0x5600));
  CHECK_EQ_INT(zt_ip_checksum(odd, 0), 0xffff);
  /* Carries fold: many 0xffff words. */
  static uint8_t ff[4096];
  memset(ff, 0xff, sizeof ff);
  CHECK_EQ_INT(zt_ip_checksum(ff, sizeof ff), 0);
}

static void test_strings(void) {
  char b[16];
  CHECK_STR(zt_ip4_str(0, b), "0.0.0.0");
  CHECK_STR(zt_ip4_str(0xffffffff, b), "255.255.255.255");
  CHECK_STR(zt_ip4_str(0x0a010203, b), "10.1.2.3");
  CHECK(zt_ip4_str(0x64400001, b) == b);
  CHECK_STR(zt_ip_strerror(0), "ok");
  CHECK_CONTAINS(zt_ip_strerror(ZT_IP_ETRUNC), "truncated");
  CHECK_CONTAINS(zt_ip_strerror(ZT_IP_EVERSION), "IPv4");
  CHECK_CONTAINS(zt_ip_strerror(ZT_IP_EHDR), "header");
  CHECK_CONTAINS(zt_ip_strerror(ZT_IP_ELEN), "length");
  CHECK_STR(zt_ip_strerror(-42), "unknown error");
}

int main(void) {
  RUN(test_tcp);
  RUN(test_tcp_with_options);
  RUN(test_udp);
  RUN(test_icmp);
  RUN(test_other_proto);
  RUN(test_truncated);
  RUN(test_bad_version);
  RUN(test_bad_ihl);
  RUN(test_bad_total_len);
  RUN(test_padding_ignored);
  RUN(test_truncated_l4);
  RUN(test_fragments);
  RUN(test_checksum_vectors);
  RUN(test_strings);
  return TEST_EXIT();
}

/* STUN Binding (core/stun.c): RFC 5769's sample messages, our own round
 * trip, the no-amplification size rule, and what gets no answer. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "config.h"
#include "stun.h"
#include "test.h"

/* RFC 5769 section 2: the transaction ID all samples share. */
static const uint8_t rfc_txid[12] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                     0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

/* RFC 5769 2.1, sample request: SOFTWARE, PRIORITY, ICE-CONTROLLED,
 * USERNAME (padded with spaces), MESSAGE-INTEGRITY, FINGERPRINT. */
static const uint8_t rfc_request[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
    0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10,
    0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c,
    0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
    0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
    0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
    0xbf, 0xd8, 0xf4, 0xb5, 0x1c, 0x50, 0xc8, 0x4e, 0x20, 0xd0, 0x26, 0xff,
    0xb5, 0x14, 0x0f, 0x78, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf};

/* RFC 5769 2.2, sample IPv4 response: 192.0.2.1 port 32853. */
static const uint8_t rfc_response_v4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
    0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
    0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
    0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
    0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
    0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96};

/* RFC 5769 2.3, sample IPv6 response:
 * 2001:db8:1234:5678:11:2233:4455:6677 port 32853. */
static const uint8_t rfc_response_v6[] = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
    0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
    0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
    0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
    0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
    0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1,
    0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
    0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c};

static const uint8_t txid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

static struct sockaddr_in v4(const char *ip, uint16_t port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}
static struct sockaddr_in6 v6(const char *ip, uint16_t port) {
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
  inet_pton(AF_INET6, ip, &a.sin6_addr);
  return a;
}

static void test_rfc5769_v4_response(void) {
  struct sockaddr_storage m;
  socklen_t ml = 0;
  CHECK_EQ_INT(zt_stun_parse_response(rfc_response_v4, sizeof(rfc_response_v4),
                                      rfc_txid, &m, &ml),
               0);
  struct sockaddr_in *s = (struct sockaddr_in *)&m;
  CHECK_EQ_INT(s->sin_family, AF_INET);
  CHECK_EQ_INT(ntohs(s->sin_port), 32853);
  CHECK_EQ_INT(ntohl(s->sin_addr.s_addr), 0xc0000201); /* 192.0.2.1 */
  CHECK_EQ_INT(ml, sizeof(struct sockaddr_in));
}

static void test_rfc5769_v6_response(void) {
  struct sockaddr_storage m;
  socklen_t ml = 0;
  char buf[64];
  CHECK_EQ_INT(zt_stun_parse_response(rfc_response_v6, sizeof(rfc_response_v6),
                                      rfc_txid, &m, &ml),
               0);
  struct sockaddr_in6 *s = (struct sockaddr_in6 *)&m;
  CHECK_EQ_INT(s->sin6_family, AF_INET6);
  CHECK_EQ_INT(ntohs(s->sin6_port), 32853);
  inet_ntop(AF_INET6, &s->sin6_addr, buf, sizeof(buf));
  CHECK_STR(buf, "2001:db8:1234:5678:11:2233:4455:6677");
}

/* Another transaction's response is not ours. */
static void test_response_wrong_txid(void) {
  struct sockaddr_storage m;
  socklen_t ml;
  CHECK_EQ_INT(zt_stun_parse_response(rfc_response_v4, sizeof(rfc_response_v4),
                                      txid, &m, &ml),
               -1);
}

/* The RFC's sample request is well-formed but asks for ICE and
 * short-term credentials (PRIORITY, USERNAME, MESSAGE-INTEGRITY are
 * comprehension-required): no answer. */
static void test_rfc5769_request_unanswered(void) {
  struct sockaddr_in from = v4("192.0.2.1", 32853);
  uint8_t out[64];
  size_t n = 99;
  CHECK(!zt_stun_is_binding_request(rfc_request, sizeof(rfc_request)));
  CHECK_EQ_INT(zt_stun_answer(rfc_request, sizeof(rfc_request),
                              (struct sockaddr *)&from, out, sizeof(out), &n),
               ZT_STUN_NOT_STUN);
  CHECK_EQ_INT(n, 0);
}

static void roundtrip(const struct sockaddr *from, size_t want_len,
                      const struct sockaddr *want) {
  uint8_t req[64], out[64];
  size_t n, rl = zt_stun_build_request(txid, req, sizeof(req));
  struct sockaddr_storage m;
  socklen_t ml;
  CHECK_EQ_INT(rl, ZT_STUN_REQUEST_LEN);
  CHECK(zt_stun_is_binding_request(req, rl));
  CHECK_EQ_INT(zt_stun_answer(req, rl, from, out, sizeof(out), &n),
               ZT_STUN_ANSWER);
  CHECK_EQ_INT(n, want_len);
  CHECK(n <= rl);
  CHECK_EQ_INT(zt_stun_parse_response(out, n, txid, &m, &ml), 0);
  CHECK_EQ_INT(m.ss_family, want->sa_family);
  if (want->sa_family == AF_INET) {
    const struct sockaddr_in *a = (void *)&m, *b = (const void *)want;
    CHECK_EQ_INT(a->sin_port, b->sin_port);
    CHECK_EQ_INT(a->sin_addr.s_addr, b->sin_addr.s_addr);
  } else {
    const struct sockaddr_in6 *a = (void *)&m, *b = (const void *)want;
    CHECK_EQ_INT(a->sin6_port, b->sin6_port);
    CHECK(memcmp(&a->sin6_addr, &b->sin6_addr, 16) == 0);
  }
  /* The same transaction ID, and a success response no one answers. */
  CHECK(memcmp(out + 8, txid, 12) == 0);
  CHECK(!zt_stun_is_binding_request(out, n));
}

static void test_roundtrip_v4(void) {
  struct sockaddr_in a = v4("198.51.100.2", 40001);
  roundtrip((struct sockaddr *)&a, ZT_STUN_RESPONSE_V4, (struct sockaddr *)&a);
}
static void test_roundtrip_v6(void) {
  struct sockaddr_in6 a = v6("2001:db8::7", 65535);
  roundtrip((struct sockaddr *)&a, ZT_STUN_RESPONSE_V6, (struct sockaddr *)&a);
}
/* A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d: they are
 * told their IPv4 address. */
static void test_roundtrip_v4_mapped(void) {
  struct sockaddr_in6 a = v6("::ffff:203.0.113.9", 1234);
  struct sockaddr_in want = v4("203.0.113.9", 1234);
  roundtrip((struct sockaddr *)&a, ZT_STUN_RESPONSE_V4,
            (struct sockaddr *)&want);
}

/* A request of `body` bytes of attributes: PADDING (or SOFTWARE). */
static size_t request(uint8_t *p, size_t body, uint16_t attr) {
  memset(p, 0, ZT_STUN_HDR + body);
  p[1] = 0x01;
  p[2] = (uint8_t)(body >> 8);
  p[3] = (uint8_t)body;
  memcpy(p + 4, "\x21\x12\xa4\x42", 4);
  memcpy(p + 8, txid, 12);
  if (body >= 4) {
    p[20] = (uint8_t)(attr >> 8);
    p[21] = (uint8_t)attr;
    p[23] = (uint8_t)(body - 4);
  }
  return ZT_STUN_HDR + body;
}

/* No amplification: a request smaller than its answer gets nothing, and
 * no answer is ever larger than its request. */
static void test_no_amplification(void) {
  struct sockaddr_in a4 = v4("198.51.100.2", 40001);
  struct sockaddr_in6 a6 = v6("2001:db8::7", 40001);
  uint8_t req[128], out[128];
  size_t n;
  /* The bare 20-byte request of most STUN clients. */
  size_t rl = request(req, 0, 0);
  CHECK(zt_stun_is_binding_request(req, rl));
  CHECK_EQ_INT(zt_stun_answer(req, rl, (struct sockaddr *)&a4, out,
                              sizeof(out), &n),
               ZT_STUN_TOO_SMALL);
  CHECK_EQ_INT(n, 0);
  /* 32 bytes: enough for an IPv4 answer, not for an IPv6 one. */
  rl = request(req, 12, ZT_STUN_ATTR_PADDING);
  CHECK_EQ_INT(zt_stun_answer(req, rl, (struct sockaddr *)&a4, out,
                              sizeof(out), &n),
               ZT_STUN_ANSWER);
  CHECK_EQ_INT(n, 32);
  CHECK_EQ_INT(zt_stun_answer(req, rl, (struct sockaddr *)&a6, out,
                              sizeof(out), &n),
               ZT_STUN_TOO_SMALL);
  for (size_t body = 0; body <= 64; body += 4) {
    rl = request(req, body, ZT_STUN_ATTR_SOFTWARE);
    if (zt_stun_answer(req, rl, (struct sockaddr *)&a6, out, sizeof(out),
                       &n) == ZT_STUN_ANSWER)
      CHECK(n <= rl);
    if (zt_stun_answer(req, rl, (struct sockaddr *)&a4, out, sizeof(out),
                       &n) == ZT_STUN_ANSWER)
      CHECK(n <= rl);
  }
}

/* A client padding with SOFTWARE (comprehension-optional) is answered. */
static void test_software_padding_answered(void) {
  struct sockaddr_in6 a6 = v6("2001:db8::7", 40001);
  uint8_t req[128], out[128];
  size_t n, rl = request(req, 24, ZT_STUN_ATTR_SOFTWARE);
  CHECK_EQ_INT(zt_stun_answer(req, rl, (struct sockaddr *)&a6, out,
                              sizeof(out), &n),
               ZT_STUN_ANSWER);
  CHECK_EQ_INT(n, ZT_STUN_RESPONSE_V6);
}

static void test_malformed_unanswered(void) {
  uint8_t req[64], bad[64];
  size_t rl = zt_stun_build_request(txid, req, sizeof(req));
  CHECK(zt_stun_is_binding_request(req, rl));
  /* top two bits: a QUIC packet, not STUN */
  memcpy(bad, req, rl);
  bad[0] |= 0x40;
  CHECK(!zt_stun_is_binding_request(bad, rl));
  /* wrong magic cookie (RFC 3489 clients) */
  memcpy(bad, req, rl);
  bad[7] ^= 1;
  CHECK(!zt_stun_is_binding_request(bad, rl));
  /* length field disagrees with the datagram, both ways */
  CHECK(!zt_stun_is_binding_request(req, rl - 4));
  memcpy(bad, req, rl);
  memset(bad + rl, 0, 4);
  CHECK(!zt_stun_is_binding_request(bad, rl + 4));
  /* length not a multiple of 4 */
  memcpy(bad, req, rl);
  bad[3] = (uint8_t)(bad[3] + 2);
  CHECK(!zt_stun_is_binding_request(bad, rl + 2));
  /* an attribute running past the end */
  memcpy(bad, req, rl);
  bad[23] = 21;
  CHECK(!zt_stun_is_binding_request(bad, rl));
  /* attributes leaving a gap at the end */
  memcpy(bad, req, rl);
  bad[23] = 12;
  CHECK(!zt_stun_is_binding_request(bad, rl));
  /* an unknown comprehension-required attribute */
  memcpy(bad, req, rl);
  bad[20] = 0x7f;
  bad[21] = 0x77;
  CHECK(!zt_stun_is_binding_request(bad, rl));
  /* an unknown optional one is fine */
  bad[20] = 0x80;
  CHECK(zt_stun_is_binding_request(bad, rl));
  /* other methods and classes: an indication, a response */
  memcpy(bad, req, rl);
  bad[1] = 0x11;
  CHECK(!zt_stun_is_binding_request(bad, rl));
  bad[0] = 0x01;
  bad[1] = 0x01;
  CHECK(!zt_stun_is_binding_request(bad, rl));
  CHECK(!zt_stun_is_binding_request(req, 0));
  CHECK(!zt_stun_is_binding_request(req, 19));
}

/* MAPPED-ADDRESS alone (RFC 3489-era servers) still gives the address;
 * XOR-MAPPED-ADDRESS wins when both are there. */
static void test_mapped_address_fallback(void) {
  uint8_t p[64] = {0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42};
  memcpy(p + 8, txid, 12);
  const uint8_t attr[] = {0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x1f, 0x90,
                          198,  51,   100,  2};
  memcpy(p + 20, attr, sizeof(attr));
  struct sockaddr_storage m;
  socklen_t ml;
  CHECK_EQ_INT(zt_stun_parse_response(p, 32, txid, &m, &ml), 0);
  struct sockaddr_in *s = (struct sockaddr_in *)&m;
  CHECK_EQ_INT(ntohs(s->sin_port), 8080);
  CHECK_EQ_INT(ntohl(s->sin_addr.s_addr), 0xc6336402);
  /* plus an XOR-MAPPED-ADDRESS of 192.0.2.1:32853 (the RFC's, re-keyed to
   * our txid: the IPv4 form uses the cookie only) */
  const uint8_t x[] = {0x00, 0x20, 0x00, 0x08, 0x00, 0x01,
                       0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43};
  memcpy(p + 32, x, sizeof(x));
  p[3] = 0x18;
  CHECK_EQ_INT(zt_stun_parse_response(p, 44, txid, &m, &ml), 0);
  CHECK_EQ_INT(ntohs(s->sin_port), 32853);
  CHECK_EQ_INT(ntohl(s->sin_addr.s_addr), 0xc0000201);
  /* an unknown comprehension-required attribute spoils the response */
  p[32] = 0x7f;
  CHECK_EQ_INT(zt_stun_parse_response(p, 44, txid, &m, &ml), -1);
  /* no address at all */
  p[3] = 0x00;
  CHECK_EQ_INT(zt_stun_parse_response(p, 20, txid, &m, &ml), -1);
}

/* The Intermediate's "stun_port": listen port + 1 unless set; 0 is off;
 * anything but a port is refused. */
static void test_config_stun_port(void) {
  struct zt_intermediate_config c;
  char err[256];
  const char *set = "{\"stun_port\": 3478}", *off = "{\"stun_port\": 0}";
  const char *bad[] = {"{\"stun_port\": 65536}", "{\"stun_port\": -1}",
                       "{\"stun_port\": 1.5}", "{\"stun_port\": \"3478\"}"};
  zt_intermediate_config_defaults(&c);
  CHECK_EQ_INT(c.stun_port, -1);
  CHECK_EQ_INT(zt_intermediate_config_parse(&c, "i.json", set, strlen(set), err,
                                            sizeof(err)),
               0);
  CHECK_EQ_INT(c.stun_port, 3478);
  CHECK_EQ_INT(zt_intermediate_config_parse(&c, "i.json", off, strlen(off), err,
                                            sizeof(err)),
               0);
  CHECK_EQ_INT(c.stun_port, 0);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    zt_intermediate_config_defaults(&c);
    CHECK_EQ_INT(zt_intermediate_config_parse(&c, "i.json", bad[i],
                                              strlen(bad[i]), err, sizeof(err)),
                 -1);
    CHECK_CONTAINS(err, "stun_port");
  }
  /* Beside the other keys: each goes to its own field. */
  const char *both = "{\"control_socket\": \"/tmp/i.sock\", \"stun_port\": 3479,"
                     " \"state_dir\": \"/tmp/st\"}";
  zt_intermediate_config_defaults(&c);
  CHECK_EQ_INT(zt_intermediate_config_parse(&c, "i.json", both, strlen(both),
                                            err, sizeof(err)),
               0);
  CHECK_EQ_INT(c.stun_port, 3479);
  CHECK_STR(c.control_socket, "/tmp/i.sock");
  CHECK_STR(c.state_dir, "/tmp/st");
}

int main(void) {
  RUN(test_rfc5769_v4_response);
  RUN(test_rfc5769_v6_response);
  RUN(test_response_wrong_txid);
  RUN(test_rfc5769_request_unanswered);
  RUN(test_roundtrip_v4);
  RUN(test_roundtrip_v6);
  RUN(test_roundtrip_v4_mapped);
  RUN(test_no_amplification);
  RUN(test_software_padding_answered);
  RUN(test_malformed_unanswered);
  RUN(test_mapped_address_fallback);
  RUN(test_config_stun_port);
  return TEST_EXIT();
}

/* Path probes (core/probe.c): the wire layout against a known answer,
 * round trips, one size for PING and PONG, refusal of every tampered bit,
 * of the wrong key and of malformed shapes, demultiplexing beside QUIC,
 * and the replay window. */
#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <netinet/in.h>

#include "probe.h"
#include "test.h"

static const uint8_t key_ab[ZT_PROBE_KEY_LEN] = {
    0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
/* The other direction's key: a probe reflected back must fail under it. */
static const uint8_t key_ba[ZT_PROBE_KEY_LEN] = {
    31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16,
    15, 14, 13, 12, 11, 10, 9,  8,  7,  6,  5,  4,  3,  2,  1,  0};

static const uint8_t txid[ZT_PROBE_TXID_LEN] = {0xa0, 0xa1, 0xa2, 0xa3,
                                                0xa4, 0xa5, 0xa6, 0xa7,
                                                0xa8, 0xa9, 0xaa, 0xab};

/* A PING under key_ab: dst_key 0x01020304, seq 5, txid above. Its tag was
 * computed apart from probe.c (Python's hmac, HMAC-SHA256 of bytes 0..48,
 * first 16 bytes), so the layout and the tag's input are pinned. */
static const uint8_t kat_ping[ZT_PROBE_LEN] = {
    0xc0, 0x7a, 0x74, 0x70, 0x31, 0x01, 0x01, 0x02, 0x03, 0x04, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0xa0, 0xa1, 0xa2, 0xa3,
    0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x3c, 0xda, 0xa6, 0xc5, 0xb8, 0xec,
    0x25, 0x68, 0xa4, 0xf3, 0x77, 0x27, 0x1e, 0x5d, 0xd5, 0x85};

static struct zt_probe ping(uint64_t seq) {
  struct zt_probe p = {.type = ZT_PROBE_PING, .dst_key = 0x01020304,
                       .seq = seq};
  memcpy(p.txid, txid, sizeof(txid));
  return p;
}

static struct zt_probe pong_v4(void) {
  struct zt_probe p = {.type = ZT_PROBE_PONG, .dst_key = 0xfedcba98,
                       .seq = 0x0102030405060708ull};
  memcpy(p.txid, txid, sizeof(txid));
  struct sockaddr_in *s4 = (struct sockaddr_in *)&p.observed;
  s4->sin_family = AF_INET;
  s4->sin_port = htons(40001);
  inet_pton(AF_INET, "198.51.100.2", &s4->sin_addr);
  return p;
}

static struct zt_probe pong_v6(void) {
  struct zt_probe p = {.type = ZT_PROBE_PONG, .dst_key = 7, .seq = 1};
  memcpy(p.txid, txid, sizeof(txid));
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&p.observed;
  s6->sin6_family = AF_INET6;
  s6->sin6_port = htons(65535);
  inet_pton(AF_INET6, "2001:db8:1234:5678:11:2233:4455:6677", &s6->sin6_addr);
  return p;
}

/* Rewrites the tag of pkt under key, as a sender holding the key would:
 * the structural checks must refuse such a packet on their own. */
static void resign(uint8_t pkt[ZT_PROBE_LEN],
                   const uint8_t key[ZT_PROBE_KEY_LEN]) {
  uint8_t d[32];
  if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, ZT_PROBE_KEY_LEN, pkt, 49, d) !=
      0)
    abort();
  memcpy(pkt + 49, d, ZT_PROBE_TAG_LEN);
}

/* Every field of a and b, the observed address by its meaningful parts. */
static int same_probe(const struct zt_probe *a, const struct zt_probe *b) {
  if (a->type != b->type || a->dst_key != b->dst_key || a->seq != b->seq ||
      memcmp(a->txid, b->txid, ZT_PROBE_TXID_LEN) != 0 ||
      a->observed.ss_family != b->observed.ss_family)
    return 0;
  if (a->observed.ss_family == AF_INET) {
    const struct sockaddr_in *x = (const void *)&a->observed,
                             *y = (const void *)&b->observed;
    return x->sin_port == y->sin_port &&
           x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  if (a->observed.ss_family == AF_INET6) {
    const struct sockaddr_in6 *x = (const void *)&a->observed,
                              *y = (const void *)&b->observed;
    return x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
  }
  return 1;
}

static void test_known_answer(void) {
  struct zt_probe p = ping(5), q;
  uint8_t out[ZT_PROBE_LEN];
  CHECK_EQ_INT(zt_probe_encode(&p, key_ab, out, sizeof(out)), ZT_PROBE_LEN);
  CHECK(memcmp(out, kat_ping, ZT_PROBE_LEN) == 0);
  CHECK_EQ_INT(zt_probe_decode(kat_ping, sizeof(kat_ping), key_ab, &q), 0);
  CHECK(same_probe(&p, &q));
}

/* The key alone changes the tag, and nothing but the tag. */
static void test_key_changes_tag(void) {
  struct zt_probe p = ping(5);
  uint8_t a[ZT_PROBE_LEN], b[ZT_PROBE_LEN];
  CHECK_EQ_INT(zt_probe_encode(&p, key_ab, a, sizeof(a)), ZT_PROBE_LEN);
  CHECK_EQ_INT(zt_probe_encode(&p, key_ba, b, sizeof(b)), ZT_PROBE_LEN);
  CHECK(memcmp(a, b, 49) == 0);
  CHECK(memcmp(a + 49, b + 49, ZT_PROBE_TAG_LEN) != 0);
  /* A one-bit change of the key too. */
  uint8_t k2[ZT_PROBE_KEY_LEN];
  memcpy(k2, key_ab, sizeof(k2));
  k2[31] ^= 0x80;
  CHECK_EQ_INT(zt_probe_encode(&p, k2, b, sizeof(b)), ZT_PROBE_LEN);
  CHECK(memcmp(a + 49, b + 49, ZT_PROBE_TAG_LEN) != 0);
}

static void roundtrip(const struct zt_probe *p) {
  uint8_t out[ZT_PROBE_LEN + 8];
  struct zt_probe q;
  memset(&q, 0x55, sizeof(q));
  CHECK_EQ_INT(zt_probe_encode(p, key_ab, out, sizeof(out)), ZT_PROBE_LEN);
  CHECK(zt_probe_match(out, ZT_PROBE_LEN));
  CHECK_EQ_INT(zt_probe_decode(out, ZT_PROBE_LEN, key_ab, &q), 0);
  CHECK(same_probe(p, &q));
}

static void test_roundtrip_ping(void) {
  struct zt_probe p = ping(5);
  roundtrip(&p);
  p = ping(UINT64_MAX);
  p.dst_key = UINT32_MAX;
  roundtrip(&p);
}
static void test_roundtrip_pong_v4(void) {
  struct zt_probe p = pong_v4();
  roundtrip(&p);
}
static void test_roundtrip_pong_v6(void) {
  struct zt_probe p = pong_v6();
  roundtrip(&p);
}
/* A PONG that has no address to report says so with family 0. */
static void test_roundtrip_pong_none(void) {
  struct zt_probe p = pong_v4(), q;
  uint8_t out[ZT_PROBE_LEN];
  memset(&p.observed, 0, sizeof(p.observed));
  roundtrip(&p);
  CHECK_EQ_INT(zt_probe_encode(&p, key_ab, out, sizeof(out)), ZT_PROBE_LEN);
  for (size_t i = 30; i < 49; i++)
    CHECK_EQ_INT(out[i], 0);
  CHECK_EQ_INT(zt_probe_decode(out, sizeof(out), key_ab, &q), 0);
  CHECK_EQ_INT(q.observed.ss_family, 0);
}

/* The observed address on the wire: family, port and address bytes as
 * probe.h lays them out (the port big-endian, the IPv4 rest zero). */
static void test_pong_layout(void) {
  struct zt_probe p4 = pong_v4(), p6 = pong_v6();
  uint8_t out[ZT_PROBE_LEN];
  CHECK_EQ_INT(zt_probe_encode(&p4, key_ab, out, sizeof(out)), ZT_PROBE_LEN);
  CHECK_EQ_INT(out[5], ZT_PROBE_PONG);
  CHECK(memcmp(out + 6, "\xfe\xdc\xba\x98", 4) == 0);
  CHECK(memcmp(out + 10, "\x01\x02\x03\x04\x05\x06\x07\x08", 8) == 0);
  CHECK(memcmp(out + 18, txid, 12) == 0);
  CHECK_EQ_INT(out[30], 4);
  CHECK_EQ_INT(out[31] << 8 | out[32], 40001);
  CHECK(memcmp(out + 33, "\xc6\x33\x64\x02", 4) == 0);
  for (size_t i = 37; i < 49; i++)
    CHECK_EQ_INT(out[i], 0);
  CHECK_EQ_INT(zt_probe_encode(&p6, key_ab, out, sizeof(out)), ZT_PROBE_LEN);
  CHECK_EQ_INT(out[30], 6);
  CHECK_EQ_INT(out[31] << 8 | out[32], 65535);
  CHECK(memcmp(out + 33,
               "\x20\x01\x0d\xb8\x12\x34\x56\x78\x00\x11\x22\x33\x44\x55"
               "\x66\x77",
               16) == 0);
}

/* No amplification: an answer is exactly as long as what it answers. */
static void test_same_length(void) {
  struct zt_probe p = ping(1), q4 = pong_v4(), q6 = pong_v6();
  uint8_t out[ZT_PROBE_LEN + 64];
  memset(out, 0xee, sizeof(out));
  size_t np = zt_probe_encode(&p, key_ab, out, sizeof(out));
  CHECK_EQ_INT(np, ZT_PROBE_LEN);
  CHECK_EQ_INT(out[ZT_PROBE_LEN], 0xee); /* nothing written past the end */
  CHECK_EQ_INT(zt_probe_encode(&q4, key_ab, out, sizeof(out)), np);
  CHECK_EQ_INT(zt_probe_encode(&q6, key_ab, out, sizeof(out)), np);
  CHECK_EQ_INT(out[ZT_PROBE_LEN], 0xee);
}

static void test_encode_refuses(void) {
  uint8_t out[ZT_PROBE_LEN];
  struct zt_probe p = ping(1);
  CHECK_EQ_INT(zt_probe_encode(&p, key_ab, out, ZT_PROBE_LEN - 1), 0);
  p.type = 0;
  CHECK_EQ_INT(zt_probe_encode(&p, key_ab, out, sizeof(out)), 0);
  p.type = 3;
  CHECK_EQ_INT(zt_probe_encode(&p, key_ab, out, sizeof(out)), 0);
  /* A PING observes nothing. */
  struct zt_probe q = pong_v4();
  q.type = ZT_PROBE_PING;
  CHECK_EQ_INT(zt_probe_encode(&q, key_ab, out, sizeof(out)), 0);
  q = pong_v6();
  q.type = ZT_PROBE_PING;
  CHECK_EQ_INT(zt_probe_encode(&q, key_ab, out, sizeof(out)), 0);
  /* Only IPv4 and IPv6 in a PONG. */
  q = pong_v4();
  q.observed.ss_family = AF_UNIX;
  CHECK_EQ_INT(zt_probe_encode(&q, key_ab, out, sizeof(out)), 0);
}

/* Every single-bit change anywhere is refused, never accepted. */
static void test_every_bit_flip_refused(void) {
  struct zt_probe ps[3] = {ping(9), pong_v4(), pong_v6()}, q;
  for (size_t k = 0; k < 3; k++) {
    uint8_t pkt[ZT_PROBE_LEN];
    CHECK_EQ_INT(zt_probe_encode(&ps[k], key_ab, pkt, sizeof(pkt)),
                 ZT_PROBE_LEN);
    for (size_t i = 0; i < ZT_PROBE_LEN; i++) {
      for (int b = 0; b < 8; b++) {
        pkt[i] ^= (uint8_t)(1u << b);
        int rc = zt_probe_decode(pkt, sizeof(pkt), key_ab, &q);
        if (rc != ZT_PROBE_EMALFORMED && rc != ZT_PROBE_EAUTH)
          fprintf(stderr, "probe %zu byte %zu bit %d: %d\n", k, i, b, rc);
        CHECK(rc == ZT_PROBE_EMALFORMED || rc == ZT_PROBE_EAUTH);
        /* Fields the structure does not constrain: only the tag can
         * tell, so the answer must be EAUTH. */
        if ((i >= 6 && i < 30) || (i >= 49 && i < ZT_PROBE_AUTH_LEN))
          CHECK_EQ_INT(rc, ZT_PROBE_EAUTH);
        /* The padding is not authenticated: it must be zeros. */
        if (i >= ZT_PROBE_AUTH_LEN)
          CHECK_EQ_INT(rc, ZT_PROBE_EMALFORMED);
        pkt[i] ^= (uint8_t)(1u << b);
      }
    }
    CHECK_EQ_INT(zt_probe_decode(pkt, sizeof(pkt), key_ab, &q), 0);
  }
}

static void test_wrong_key(void) {
  struct zt_probe p = pong_v4(), q;
  uint8_t pkt[ZT_PROBE_LEN], zero[ZT_PROBE_KEY_LEN] = {0};
  CHECK_EQ_INT(zt_probe_encode(&p, key_ab, pkt, sizeof(pkt)), ZT_PROBE_LEN);
  /* Reflected at its sender, who verifies with the other direction's key. */
  CHECK_EQ_INT(zt_probe_decode(pkt, sizeof(pkt), key_ba, &q), ZT_PROBE_EAUTH);
  CHECK_EQ_INT(zt_probe_decode(pkt, sizeof(pkt), zero, &q), ZT_PROBE_EAUTH);
  CHECK_EQ_INT(zt_probe_decode(kat_ping, sizeof(kat_ping), key_ba, &q),
               ZT_PROBE_EAUTH);
  /* An all-zero tag is no bypass. */
  memset(pkt + 49, 0, ZT_PROBE_TAG_LEN);
  CHECK_EQ_INT(zt_probe_decode(pkt, sizeof(pkt), key_ab, &q), ZT_PROBE_EAUTH);
}

/* Only the exact length: short ones, and a valid probe with a byte more
 * (unauthenticated trailing data), are malformed. */
static void test_wrong_length(void) {
  uint8_t pkt[ZT_PROBE_LEN + 1];
  struct zt_probe q;
  memcpy(pkt, kat_ping, ZT_PROBE_LEN);
  pkt[ZT_PROBE_LEN] = 0;
  CHECK_EQ_INT(zt_probe_decode(pkt, ZT_PROBE_LEN + 1, key_ab, &q),
               ZT_PROBE_EMALFORMED);
  for (size_t n = 0; n < ZT_PROBE_LEN; n++)
    CHECK_EQ_INT(zt_probe_decode(pkt, n, key_ab, &q), ZT_PROBE_EMALFORMED);
  CHECK_EQ_INT(zt_probe_decode(pkt, ZT_PROBE_LEN, key_ab, &q), 0);
  /* the unpadded probe of before (its tag is right) is not a probe now */
  CHECK_EQ_INT(zt_probe_decode(pkt, ZT_PROBE_AUTH_LEN, key_ab, &q),
               ZT_PROBE_EMALFORMED);
  CHECK_EQ_INT(ZT_PROBE_LEN, 1200); /* a direct path must carry this */
}

/* A change at byte i to v, re-signed with the right key: only the
 * structural checks can refuse it. */
static int tampered(const uint8_t *orig, size_t i, uint8_t v) {
  uint8_t pkt[ZT_PROBE_LEN];
  struct zt_probe q;
  memcpy(pkt, orig, ZT_PROBE_LEN);
  pkt[i] = v;
  resign(pkt, key_ab);
  return zt_probe_decode(pkt, sizeof(pkt), key_ab, &q);
}

static void test_malformed(void) {
  uint8_t v4[ZT_PROBE_LEN], v6[ZT_PROBE_LEN], none[ZT_PROBE_LEN];
  struct zt_probe p4 = pong_v4(), p6 = pong_v6(), pn = pong_v4();
  memset(&pn.observed, 0, sizeof(pn.observed));
  CHECK_EQ_INT(zt_probe_encode(&p4, key_ab, v4, sizeof(v4)), ZT_PROBE_LEN);
  CHECK_EQ_INT(zt_probe_encode(&p6, key_ab, v6, sizeof(v6)), ZT_PROBE_LEN);
  CHECK_EQ_INT(zt_probe_encode(&pn, key_ab, none, sizeof(none)), ZT_PROBE_LEN);
  /* The re-signing itself leaves a good probe good. */
  CHECK_EQ_INT(tampered(v4, 33, v4[33]), 0);
  /* First byte: the short header, and a long header without 0x40. */
  CHECK_EQ_INT(tampered(kat_ping, 0, 0x40), ZT_PROBE_EMALFORMED);
  CHECK_EQ_INT(tampered(kat_ping, 0, 0xc1), ZT_PROBE_EMALFORMED);
  CHECK_EQ_INT(tampered(kat_ping, 0, 0x80), ZT_PROBE_EMALFORMED);
  /* Version: QUIC v1 and a neighbour of ours. */
  uint8_t quic[ZT_PROBE_LEN];
  memcpy(quic, kat_ping, sizeof(quic));
  memcpy(quic + 1, "\x00\x00\x00\x01", 4);
  CHECK_EQ_INT(tampered(quic, 0, 0xc0), ZT_PROBE_EMALFORMED);
  CHECK_EQ_INT(tampered(kat_ping, 4, 0x32), ZT_PROBE_EMALFORMED);
  /* Type. */
  CHECK_EQ_INT(tampered(kat_ping, 5, 0), ZT_PROBE_EMALFORMED);
  CHECK_EQ_INT(tampered(kat_ping, 5, 3), ZT_PROBE_EMALFORMED);
  CHECK_EQ_INT(tampered(kat_ping, 5, 0xff), ZT_PROBE_EMALFORMED);
  /* Family: unknown ones, AF_INET's own value, and any in a PING. */
  CHECK_EQ_INT(tampered(v4, 30, 2), ZT_PROBE_EMALFORMED);
  CHECK_EQ_INT(tampered(v4, 30, 5), ZT_PROBE_EMALFORMED);
  CHECK_EQ_INT(tampered(v4, 30, 10), ZT_PROBE_EMALFORMED);
  CHECK_EQ_INT(tampered(kat_ping, 30, 4), ZT_PROBE_EMALFORMED);
  CHECK_EQ_INT(tampered(kat_ping, 30, 6), ZT_PROBE_EMALFORMED);
  /* Nonzero where zeros belong: IPv4's unused 12 address bytes... */
  for (size_t i = 37; i < 49; i++)
    CHECK_EQ_INT(tampered(v4, i, 1), ZT_PROBE_EMALFORMED);
  /* ... family 0's port and address, in a PONG and in a PING. */
  for (size_t i = 31; i < 49; i++) {
    CHECK_EQ_INT(tampered(none, i, 0x80), ZT_PROBE_EMALFORMED);
    CHECK_EQ_INT(tampered(kat_ping, i, 0x01), ZT_PROBE_EMALFORMED);
  }
  /* IPv6 uses every address byte: any value there is fine. */
  for (size_t i = 31; i < 49; i++)
    CHECK_EQ_INT(tampered(v6, i, 0x5a), 0);
  /* A PONG turned PING keeps its address: malformed. */
  CHECK_EQ_INT(tampered(v6, 5, ZT_PROBE_PING), ZT_PROBE_EMALFORMED);
}

static void test_match(void) {
  uint8_t pkt[ZT_PROBE_LEN];
  struct zt_probe p = pong_v6();
  CHECK_EQ_INT(zt_probe_encode(&p, key_ab, pkt, sizeof(pkt)), ZT_PROBE_LEN);
  CHECK(zt_probe_match(pkt, sizeof(pkt)));
  CHECK(zt_probe_match(kat_ping, sizeof(kat_ping)));
  CHECK(zt_probe_match(pkt, 5)); /* the shape alone is enough */
  CHECK(!zt_probe_match(pkt, 4));
  CHECK(!zt_probe_match(pkt, 0));
  /* A QUIC v1 Initial-shaped long header. */
  uint8_t q1[64] = {0xc0, 0x00, 0x00, 0x00, 0x01, 0x08};
  CHECK(!zt_probe_match(q1, sizeof(q1)));
  /* Version negotiation (version 0), and a greased fixed bit. */
  uint8_t vn[16] = {0x80, 0, 0, 0, 0};
  CHECK(!zt_probe_match(vn, sizeof(vn)));
  uint8_t gr[ZT_PROBE_LEN];
  memcpy(gr, pkt, sizeof(gr));
  gr[0] = 0x80;
  CHECK(!zt_probe_match(gr, sizeof(gr)));
  /* A short header, even with our version where QUIC has its DCID. */
  uint8_t sh[ZT_PROBE_LEN];
  memcpy(sh, pkt, sizeof(sh));
  sh[0] = 0x40;
  CHECK(!zt_probe_match(sh, sizeof(sh)));
  sh[0] = 0x43;
  CHECK(!zt_probe_match(sh, sizeof(sh)));
}

static void test_dst_key(void) {
  uint32_t k = 0;
  uint8_t pkt[ZT_PROBE_LEN];
  struct zt_probe p = pong_v4();
  CHECK_EQ_INT(zt_probe_encode(&p, key_ab, pkt, sizeof(pkt)), ZT_PROBE_LEN);
  CHECK_EQ_INT(zt_probe_dst_key(pkt, sizeof(pkt), &k), 0);
  CHECK_EQ_INT(k, 0xfedcba98u);
  CHECK_EQ_INT(zt_probe_dst_key(kat_ping, sizeof(kat_ping), &k), 0);
  CHECK_EQ_INT(k, 0x01020304u);
  /* Ten bytes are enough; nine are not, and k is left alone. */
  k = 0;
  CHECK_EQ_INT(zt_probe_dst_key(pkt, 10, &k), 0);
  CHECK_EQ_INT(k, 0xfedcba98u);
  k = 42;
  CHECK_EQ_INT(zt_probe_dst_key(pkt, 9, &k), -1);
  CHECK_EQ_INT(zt_probe_dst_key(pkt, 4, &k), -1);
  /* Not probes. */
  uint8_t q1[64] = {0xc0, 0x00, 0x00, 0x00, 0x01, 0x08, 1, 2, 3, 4};
  CHECK_EQ_INT(zt_probe_dst_key(q1, sizeof(q1), &k), -1);
  pkt[0] = 0x40;
  CHECK_EQ_INT(zt_probe_dst_key(pkt, sizeof(pkt), &k), -1);
  CHECK_EQ_INT(k, 42);
}

/* ---- replay window */

static void test_replay_in_order(void) {
  struct zt_replay r;
  zt_replay_init(&r);
  for (uint64_t s = 1; s <= 1000; s++)
    CHECK(zt_replay_accept(&r, s));
  CHECK_EQ_INT(r.top, 1000);
  for (uint64_t s = 1; s <= 1000; s++)
    CHECK(!zt_replay_accept(&r, s));
}

static void test_replay_duplicate(void) {
  struct zt_replay r;
  zt_replay_init(&r);
  CHECK(zt_replay_accept(&r, 1));
  CHECK(!zt_replay_accept(&r, 1));
  CHECK(zt_replay_accept(&r, 2));
  CHECK(!zt_replay_accept(&r, 2));
  CHECK(!zt_replay_accept(&r, 1));
}

static void test_replay_zero(void) {
  struct zt_replay r;
  zt_replay_init(&r);
  CHECK(!zt_replay_accept(&r, 0));
  CHECK(zt_replay_accept(&r, 5));
  CHECK(!zt_replay_accept(&r, 0));
}

/* Probes to several candidates may arrive in any order: each once. */
static void test_replay_out_of_order(void) {
  struct zt_replay r;
  zt_replay_init(&r);
  CHECK(zt_replay_accept(&r, 10));
  CHECK(zt_replay_accept(&r, 7));
  CHECK(!zt_replay_accept(&r, 7));
  CHECK(zt_replay_accept(&r, 9));
  CHECK(zt_replay_accept(&r, 1));
  CHECK(zt_replay_accept(&r, 8));
  CHECK(!zt_replay_accept(&r, 9));
  CHECK(!zt_replay_accept(&r, 10));
  CHECK(!zt_replay_accept(&r, 1));
  CHECK(zt_replay_accept(&r, 2));
  CHECK_EQ_INT(r.top, 10);
}

/* The window's edges: top - 127 is the oldest one kept, top - 128 is too
 * old even if never seen. */
static void test_replay_too_old(void) {
  struct zt_replay r;
  zt_replay_init(&r);
  CHECK(zt_replay_accept(&r, 1000));
  CHECK(!zt_replay_accept(&r, 1000 - ZT_REPLAY_WINDOW));
  CHECK(!zt_replay_accept(&r, 1));
  CHECK(zt_replay_accept(&r, 1000 - ZT_REPLAY_WINDOW + 1));
  CHECK(!zt_replay_accept(&r, 1000 - ZT_REPLAY_WINDOW + 1));
  CHECK(zt_replay_accept(&r, 1000 - 64));
  CHECK(zt_replay_accept(&r, 1000 - 63));
  CHECK(!zt_replay_accept(&r, 1000 - 64));
  CHECK(!zt_replay_accept(&r, 1000 - 63));
  /* Moving on by one pushes the oldest out. */
  CHECK(zt_replay_accept(&r, 1001));
  CHECK(!zt_replay_accept(&r, 1001 - ZT_REPLAY_WINDOW));
  CHECK(!zt_replay_accept(&r, UINT64_C(1000) - ZT_REPLAY_WINDOW + 1));
}

/* A jump past the whole window forgets it; what was seen is too old. */
static void test_replay_large_jump(void) {
  struct zt_replay r;
  zt_replay_init(&r);
  for (uint64_t s = 1; s <= 200; s++)
    CHECK(zt_replay_accept(&r, s));
  CHECK(zt_replay_accept(&r, 1000000));
  CHECK_EQ_INT(r.bits[0], 1);
  CHECK_EQ_INT(r.bits[1], 0);
  CHECK(!zt_replay_accept(&r, 200));
  CHECK(zt_replay_accept(&r, 1000000 - 1));
  CHECK(zt_replay_accept(&r, UINT64_MAX));
  CHECK(!zt_replay_accept(&r, UINT64_MAX));
  CHECK(!zt_replay_accept(&r, 1000000));
}

/* Jumps of 63, 64, 65, 127 and 128 (the shift counts where a careless
 * shift is undefined): what was seen before stays seen while in the
 * window, what was not stays acceptable. */
static void jump(uint64_t n) {
  struct zt_replay r;
  zt_replay_init(&r);
  uint64_t base = 1000;
  CHECK(zt_replay_accept(&r, base));
  CHECK(zt_replay_accept(&r, base - 1));
  CHECK(zt_replay_accept(&r, base - 64));
  CHECK(zt_replay_accept(&r, base + n));
  CHECK_EQ_INT(r.top, base + n);
  uint64_t seen[] = {base, base - 1, base - 64, base + n};
  for (size_t i = 0; i < 4; i++)
    CHECK(!zt_replay_accept(&r, seen[i]));
  /* Unseen numbers: accepted when inside the window, else refused. */
  uint64_t unseen[] = {base - 2, base + 1, base + n - 1, base - 63};
  for (size_t i = 0; i < 4; i++) {
    uint64_t s = unseen[i];
    if (s == base + n || s == base || s == base - 1 || s == base - 64)
      continue;
    bool in = base + n - s < ZT_REPLAY_WINDOW;
    CHECK_EQ_INT(zt_replay_accept(&r, s), in);
    CHECK(!zt_replay_accept(&r, s));
  }
}

static void test_replay_jump_63(void) { jump(63); }
static void test_replay_jump_64(void) { jump(64); }
static void test_replay_jump_65(void) { jump(65); }
static void test_replay_jump_127(void) { jump(127); }
static void test_replay_jump_128(void) { jump(128); }

/* The window against a plain model (a set of every accepted number) over
 * a pseudo-random walk with jumps of every size up to past the window. */
static void test_replay_model(void) {
  enum { N = 4096 };
  static uint8_t seen[N + 1];
  memset(seen, 0, sizeof(seen));
  struct zt_replay r;
  zt_replay_init(&r);
  uint64_t top = 0, x = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 20000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    uint64_t s;
    if (x % 4 == 0 && top > 0) /* forward */
      s = top + 1 + (x >> 8) % 140;
    else /* around the window's bottom edge and inside it */
      s = top > 0 ? top - (x >> 8) % 150 : 1;
    if (s > N || s == 0)
      continue;
    bool want = !seen[s] && (top < ZT_REPLAY_WINDOW || s > top - ZT_REPLAY_WINDOW);
    if (s > top)
      want = true;
    bool got = zt_replay_accept(&r, s);
    if (got != want)
      fprintf(stderr, "seq %" PRIu64 " top %" PRIu64 ": got %d\n", s, top,
              got);
    CHECK_EQ_INT(got, want);
    if (got) {
      seen[s] = 1;
      if (s > top)
        top = s;
    }
  }
  CHECK(top > 1000); /* the walk did move on */
}

int main(void) {
  RUN(test_known_answer);
  RUN(test_key_changes_tag);
  RUN(test_roundtrip_ping);
  RUN(test_roundtrip_pong_v4);
  RUN(test_roundtrip_pong_v6);
  RUN(test_roundtrip_pong_none);
  RUN(test_pong_layout);
  RUN(test_same_length);
  RUN(test_encode_refuses);
  RUN(test_every_bit_flip_refused);
  RUN(test_wrong_key);
  RUN(test_wrong_length);
  RUN(test_malformed);
  RUN(test_match);
  RUN(test_dst_key);
  RUN(test_replay_in_order);
  RUN(test_replay_duplicate);
  RUN(test_replay_zero);
  RUN(test_replay_out_of_order);
  RUN(test_replay_too_old);
  RUN(test_replay_large_jump);
  RUN(test_replay_jump_63);
  RUN(test_replay_jump_64);
  RUN(test_replay_jump_65);
  RUN(test_replay_jump_127);
  RUN(test_replay_jump_128);
  RUN(test_replay_model);
  return TEST_EXIT();
}

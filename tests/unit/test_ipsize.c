/*
 * Packets too big for the tunnel: ICMP "fragmentation needed" (parsed
 * back, checksums verified, never about an ICMP error), fragmentation
 * (pieces reassemble to the original, offsets in units of 8), TCP MSS
 * clamping (checksum still right, nothing else touched), and tunout, which
 * picks among them per packet.
 */
#include "icmp.h"
#include "ipbuild.h"
#include "ipfrag.h"
#include "mss.h"
#include "reasm.h"
#include "test.h"
#include "tunout.h"

static uint8_t pkt[70000], out[70000];

/* ---- ICMP ---------------------------------------------------------------- */

static void test_icmp_frag_needed(void) {
  uint8_t icmp[ZT_ICMP_FRAG_NEEDED_MAX];
  struct zt_ip_info ip;
  size_t len = tb_udp(pkt, 1, 9999, 2000, 1);
  size_t n = zt_icmp_frag_needed(pkt, len, 1351, icmp);
  CHECK_EQ_INT(n, 20 + 8 + 20 + 8);
  CHECK_EQ_INT(zt_ip_parse(icmp, n, &ip), 0);
  CHECK_EQ_INT(ip.total_len, n);
  CHECK_EQ_INT(ip.proto, ZT_IP_PROTO_ICMP);
  CHECK_EQ_INT(ip.src, TB_DST); /* from where the packet was going */
  CHECK_EQ_INT(ip.dst, TB_SRC);
  CHECK_EQ_INT(ip.is_fragment, 0);
  CHECK_EQ_INT(zt_ip_checksum(icmp, 20), 0);
  CHECK_EQ_INT(zt_ip_checksum(icmp + 20, n - 20), 0);
  CHECK_EQ_INT(icmp[20], 3);
  CHECK_EQ_INT(icmp[21], 4);
  CHECK_EQ_INT(icmp[26] << 8 | icmp[27], 1351);
  CHECK(memcmp(icmp + 28, pkt, 28) == 0); /* header + 8 bytes quoted */
}

static void test_icmp_not_about_icmp_errors(void) {
  uint8_t icmp[ZT_ICMP_FRAG_NEEDED_MAX], again[ZT_ICMP_FRAG_NEEDED_MAX];
  size_t len = tb_udp(pkt, 1, 9999, 2000, 1);
  size_t n = zt_icmp_frag_needed(pkt, len, 1351, icmp);
  CHECK(n > 0);
  /* Our own error, or any ICMP error, gets none back. */
  CHECK_EQ_INT(zt_icmp_frag_needed(icmp, n, 1351, again), 0);
  for (uint8_t type = 0; type < 20; type++) {
    tb_ip(pkt, ZT_IP_PROTO_ICMP, 2, 100, 0x4000);
    memset(pkt + 20, 0, 100);
    pkt[20] = type;
    int error = type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
    CHECK_EQ_INT(zt_icmp_frag_needed(pkt, 120, 1351, again) == 0, error);
  }
  /* Nor a later fragment, nor a packet to or from no single host. */
  len = tb_udp(pkt, 1, 9999, 2000, 0);
  pkt[7] = 1;
  tb_ip_cksum(pkt);
  CHECK_EQ_INT(zt_icmp_frag_needed(pkt, len, 1351, again), 0);
  len = tb_udp(pkt, 1, 9999, 2000, 1);
  pkt[16] = 239;
  tb_ip_cksum(pkt);
  CHECK_EQ_INT(zt_icmp_frag_needed(pkt, len, 1351, again), 0);
  len = tb_udp(pkt, 1, 9999, 2000, 1);
  memset(pkt + 12, 0, 4);
  tb_ip_cksum(pkt);
  CHECK_EQ_INT(zt_icmp_frag_needed(pkt, len, 1351, again), 0);
}

/* ---- fragmentation ------------------------------------------------------- */

struct pieces {
  struct zt_reasm r;
  int n, done;
  size_t mtu, outlen;
  int bad; /* a piece broke a rule */
  uint8_t whole[70000];
};

static int collect(void *ud, const uint8_t *p, size_t len) {
  struct pieces *c = ud;
  struct zt_ip_info ip;
  const uint8_t *o;
  size_t ol;
  if (len > c->mtu || zt_ip_parse(p, len, &ip) != 0 || ip.total_len != len ||
      zt_ip_checksum(p, ip.hdr_len) != 0)
    c->bad = 1;
  int more = (p[6] & 0x20) != 0;
  if (more && (len - ip.hdr_len) % 8 != 0) /* offsets stay multiples of 8 */
    c->bad = 1;
  c->n++;
  if (zt_reasm_feed(&c->r, p, len, 0, &o, &ol) == ZT_REASM_DONE) {
    c->done++;
    memcpy(c->whole, o, ol);
    c->outlen = ol;
  }
  return 0;
}

static void test_fragment_reassembles(void) {
  static struct pieces c;
  size_t sizes[] = {1400, 3000, 8000, 65535 - 28};
  size_t mtus[] = {1351, 576, 1280, 1351};
  for (size_t k = 0; k < 4; k++) {
    memset(&c, 0, sizeof(c));
    zt_reasm_init(&c.r);
    c.mtu = mtus[k];
    size_t len = tb_udp(pkt, (uint16_t)k, 9999, sizes[k], 0);
    int n = zt_ip_fragment(pkt, len, c.mtu, out, collect, &c);
    CHECK_EQ_INT(n, c.n);
    CHECK_EQ_INT(n, (int)((len - 20 + ((c.mtu - 20) & ~7u) - 1) /
                          ((c.mtu - 20) & ~7u)));
    CHECK_EQ_INT(c.bad, 0);
    CHECK_EQ_INT(c.done, 1);
    CHECK_EQ_INT(c.outlen, len);
    CHECK(memcmp(c.whole, pkt, len) == 0);
    zt_reasm_free(&c.r);
  }
}

static void test_fragment_options_and_refusals(void) {
  static struct pieces c;
  memset(&c, 0, sizeof(c));
  zt_reasm_init(&c.r);
  c.mtu = 600;
  /* A header with a copied option (router alert, 0x94) and one that is not
   * copied (timestamp, 0x44), 32 bytes in all. */
  size_t len = tb_udp(out, 3, 9999, 1500, 0) + 12;
  memcpy(pkt, out, 20);
  memcpy(pkt + 32, out + 20, len - 32);
  uint8_t opts[12] = {0x94, 4, 0, 0, 0x44, 8, 5, 0, 0, 0, 0, 0};
  memcpy(pkt + 20, opts, 12);
  pkt[0] = 0x48;
  tb_put16(pkt + 2, (uint16_t)len);
  tb_ip_cksum(pkt);
  int n = zt_ip_fragment(pkt, len, c.mtu, out, collect, &c);
  CHECK_EQ_INT(n, 3);
  CHECK_EQ_INT(c.bad, 0);
  CHECK_EQ_INT(c.done, 1);
  /* The last piece (still in out) has only the copied option. */
  CHECK_EQ_INT(out[0], 0x46);
  CHECK(memcmp(out + 20, opts, 4) == 0);
  zt_reasm_free(&c.r);
  /* DF, or an MTU without room for 8 bytes of payload: not cut. */
  len = tb_udp(pkt, 4, 9999, 1500, 1);
  CHECK_EQ_INT(zt_ip_fragment(pkt, len, 1351, out, collect, &c), -1);
  len = tb_udp(pkt, 4, 9999, 1500, 0);
  CHECK_EQ_INT(zt_ip_fragment(pkt, len, 27, out, collect, &c), -1);
}

/* ---- MSS clamping -------------------------------------------------------- */

static void test_mss_clamp(void) {
  /* MSS 1460, NOP, window scale 7, SACK permitted, NOP NOP. */
  uint8_t opts[12] = {2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 1, 1};
  size_t len = tb_tcp(pkt, 0x02, opts, 12);
  CHECK(tb_l4_ok(pkt));
  memcpy(out, pkt, len);
  CHECK(zt_tcp_clamp_mss(pkt, len, 1311));
  CHECK_EQ_INT(pkt[42] << 8 | pkt[43], 1311);
  CHECK(tb_l4_ok(pkt));
  /* Only the two MSS bytes and the checksum changed. */
  for (size_t i = 0; i < len; i++)
    if (i != 42 && i != 43 && i != 36 && i != 37)
      CHECK_EQ_INT(pkt[i], out[i]);
  /* Already small enough: untouched. */
  CHECK(!zt_tcp_clamp_mss(pkt, len, 1400));
  CHECK(memcmp(pkt + 40, out + 40, 2) == 0);
}

static void test_mss_clamp_odd_offset_and_synack(void) {
  /* NOP, MSS 8960 at an odd offset, then padding: the checksum words
   * straddle the value. SYN-ACK flags. */
  uint8_t opts[8] = {1, 2, 4, 0x23, 0x00, 1, 1, 0};
  size_t len = tb_tcp(pkt, 0x12, opts, 8);
  CHECK(tb_l4_ok(pkt));
  CHECK(zt_tcp_clamp_mss(pkt, len, 1311));
  CHECK_EQ_INT(pkt[43] << 8 | pkt[44], 1311);
  CHECK(tb_l4_ok(pkt));
}

static void test_mss_not_syn_untouched(void) {
  uint8_t opts[4] = {2, 4, 0x05, 0xb4};
  size_t len = tb_tcp(pkt, 0x10, opts, 4); /* ACK only */
  memcpy(out, pkt, len);
  CHECK(!zt_tcp_clamp_mss(pkt, len, 1000));
  CHECK(memcmp(pkt, out, len) == 0);
  /* Malformed options (a length running past the header): untouched. */
  uint8_t bad[4] = {3, 9, 1, 1};
  len = tb_tcp(pkt, 0x02, bad, 4);
  memcpy(out, pkt, len);
  CHECK(!zt_tcp_clamp_mss(pkt, len, 1000));
  CHECK(memcmp(pkt, out, len) == 0);
  /* UDP: untouched. */
  len = tb_udp(pkt, 1, 9999, 100, 0);
  CHECK(!zt_tcp_clamp_mss(pkt, len, 10));
}

static void test_cksum_update16(void) {
  /* One word changed: the incremental update equals a full recompute. */
  uint8_t data[4] = {0x55, 0x55, 0x12, 0x34};
  uint8_t ck[2];
  uint16_t c = zt_ip_checksum(data, 4);
  memcpy(ck, &c, 2);
  zt_cksum_update16(ck, 0x5555, 0x3285);
  data[0] = 0x32;
  data[1] = 0x85;
  c = zt_ip_checksum(data, 4);
  CHECK(memcmp(ck, &c, 2) == 0);
}

/* ---- tunout -------------------------------------------------------------- */

struct sink {
  int sent, written;
  size_t last_len;
  uint8_t last[2000];
  uint8_t written_pkt[ZT_ICMP_FRAG_NEEDED_MAX];
};

static int sink_send(void *ud, const uint8_t *p, size_t len) {
  struct sink *s = ud;
  s->sent++;
  s->last_len = len;
  memcpy(s->last, p, len < sizeof(s->last) ? len : sizeof(s->last));
  return 0;
}

static void sink_write(void *ud, const uint8_t *p, size_t len) {
  struct sink *s = ud;
  s->written++;
  memcpy(s->written_pkt, p, len);
}

static void test_tunout_paths(void) {
  struct zt_tunout t = {0};
  static struct sink s;
  memset(&s, 0, sizeof(s));
  /* Fits: sent as it is. */
  size_t len = tb_udp(pkt, 1, 9999, 900, 1);
  CHECK_EQ_INT(zt_tunout_send(&t, pkt, len, 1000, 0, sink_send, &s,
                              sink_write, &s),
               ZT_TUNOUT_SENT);
  CHECK_EQ_INT(s.sent, 1);
  CHECK_EQ_INT(s.last_len, len);
  /* Too big, DF: dropped, ICMP written back quoting max. */
  len = tb_udp(pkt, 1, 9999, 1200, 1);
  CHECK_EQ_INT(zt_tunout_send(&t, pkt, len, 1000, 0, sink_send, &s,
                              sink_write, &s),
               ZT_TUNOUT_TOO_BIG);
  CHECK_EQ_INT(s.sent, 1);
  CHECK_EQ_INT(s.written, 1);
  CHECK_EQ_INT(s.written_pkt[26] << 8 | s.written_pkt[27], 1000);
  CHECK_EQ_INT(t.stats.too_big, 1);
  CHECK_EQ_INT(t.stats.icmp_sent, 1);
  /* Too big, no DF: two fragments. */
  len = tb_udp(pkt, 1, 9999, 1200, 0);
  CHECK_EQ_INT(zt_tunout_send(&t, pkt, len, 1000, 0, sink_send, &s,
                              sink_write, &s),
               ZT_TUNOUT_SENT);
  CHECK_EQ_INT(s.sent, 3);
  CHECK_EQ_INT(t.stats.fragmented, 1);
  CHECK_EQ_INT(t.stats.fragments, 2);
  /* A SYN: MSS clamped to max - 40, checksum right. */
  uint8_t opts[4] = {2, 4, 0x05, 0xb4};
  len = tb_tcp(pkt, 0x02, opts, 4);
  CHECK_EQ_INT(zt_tunout_send(&t, pkt, len, 1000, 0, sink_send, &s,
                              sink_write, &s),
               ZT_TUNOUT_SENT);
  CHECK_EQ_INT(s.last[42] << 8 | s.last[43], 960);
  CHECK(tb_l4_ok(s.last));
  CHECK_EQ_INT(t.stats.mss_clamped, 1);
  CHECK_EQ_INT(pkt[42] << 8 | pkt[43], 1460); /* the caller's copy intact */
  zt_tunout_free(&t);
}

static void test_tunout_icmp_rate_limited(void) {
  struct zt_tunout t = {0};
  static struct sink s;
  memset(&s, 0, sizeof(s));
  size_t len = tb_udp(pkt, 1, 9999, 1200, 1);
  for (int i = 0; i < 100; i++)
    zt_tunout_send(&t, pkt, len, 1000, 5, sink_send, &s, sink_write, &s);
  CHECK_EQ_INT(s.written, ZT_TUNOUT_ICMP_BURST);
  CHECK_EQ_INT(t.stats.icmp_sent, ZT_TUNOUT_ICMP_BURST);
  CHECK_EQ_INT(t.stats.icmp_limited, 100 - ZT_TUNOUT_ICMP_BURST);
  CHECK_EQ_INT(t.stats.too_big, 100);
  /* A second later the bucket has refilled by the rate. */
  for (int i = 0; i < 100; i++)
    zt_tunout_send(&t, pkt, len, 1000, 5 + 1000000000ULL, sink_send, &s,
                   sink_write, &s);
  CHECK_EQ_INT(s.written, ZT_TUNOUT_ICMP_BURST + ZT_TUNOUT_ICMP_BURST);
  /* An ICMP error too big with DF: dropped, nothing written about it. */
  s.written = 0;
  tb_ip(pkt, ZT_IP_PROTO_ICMP, 2, 1200, 0x4000);
  memset(pkt + 20, 0, 1200);
  pkt[20] = 3;
  t.icmp.tat = 0;
  CHECK_EQ_INT(zt_tunout_send(&t, pkt, 1220, 1000, 5 + 5000000000ULL,
                              sink_send, &s, sink_write, &s),
               ZT_TUNOUT_TOO_BIG);
  CHECK_EQ_INT(s.written, 0);
  zt_tunout_free(&t);
}

int main(void) {
  RUN(test_icmp_frag_needed);
  RUN(test_icmp_not_about_icmp_errors);
  RUN(test_fragment_reassembles);
  RUN(test_fragment_options_and_refusals);
  RUN(test_mss_clamp);
  RUN(test_mss_clamp_odd_offset_and_synack);
  RUN(test_mss_not_syn_untouched);
  RUN(test_cksum_update16);
  RUN(test_tunout_paths);
  RUN(test_tunout_icmp_rate_limited);
  return TEST_EXIT();
}

/*
 * core/gro.c: coalescing of TUN writes. The round trip (a super segment
 * cut by tso.c, then merged again) must give back the same bytes; flows
 * are kept apart and in order; anything that may not be merged is
 * written as it came, behind a plain header.
 */
#include <stddef.h>

#include "gro.h"
#include "segbuild.h"
#include "test.h"
#include "tso.h"

static struct zt_gro g;
static struct zt_gro_stats gst;
static uint8_t pk[ZT_GRO_MAX_PKTS][2048];

/* Output item k, assembled into out: the virtio-net header into h. */
static size_t item(size_t k, struct zt_vnethdr *h, uint8_t *out) {
  uint8_t hdr[ZT_VNET_HDR_LEN];
  struct zt_gro_span sp[ZT_GRO_MAX_PKTS];
  size_t n = zt_gro_item_out(&g, k, hdr, sp, &gst), len = 0;
  zt_vnethdr_parse(hdr, sizeof(hdr), h);
  for (size_t i = 0; i < n; i++) {
    memcpy(out + len, sp[i].p, sp[i].len);
    len += sp[i].len;
  }
  return len;
}

/* Queues segment i of a flow: pay bytes at s->seq, built in pk[i]. */
static void add(size_t i, const struct sb_seg *s, size_t pay) {
  size_t len = sb_build(pk[i], s, pay);
  zt_gro_add(&g, pk[i], len);
}

/* Queues n segments of gso bytes from s (seq and id advanced). */
static void add_run(size_t *i, struct sb_seg *s, size_t n, size_t gso) {
  for (size_t k = 0; k < n; k++) {
    add((*i)++, s, gso);
    s->seq += (uint32_t)gso;
    s->id++;
  }
}

static struct sb_pkts cut;

static uint8_t orig[65536], out[65536 + 64], buf[65536 + ZT_VNET_HDR_LEN];

static void test_round_trip_byte_exact(void) {
  struct sb_seg s = sb_default();
  struct zt_tso_stats tst = {0};
  struct zt_vnethdr h = {.flags = ZT_VNET_F_NEEDS_CSUM,
                         .gso_type = ZT_VNET_GSO_TCPV4, .hdr_len = 52,
                         .gso_size = 1299, .csum_start = 20,
                         .csum_offset = 16};
  s.flags = SB_ACK | SB_PSH;
  size_t len = sb_build(orig, &s, 20 * 1299 + 77);
  sb_make_partial(orig, len); /* as the kernel hands it over */
  zt_vnethdr_build(&h, buf);
  memcpy(buf + ZT_VNET_HDR_LEN, orig, len);
  cut.n = 0;
  CHECK_EQ_INT(zt_tso_read(buf, ZT_VNET_HDR_LEN + len, sb_collect, &cut, &tst),
               21);
  zt_gro_reset(&g);
  for (size_t i = 0; i < cut.n; i++) {
    CHECK(sb_l4_ok(cut.pkt[i], cut.len[i], 6));
    CHECK_EQ_INT(zt_gro_add(&g, cut.pkt[i], cut.len[i]), 0);
  }
  CHECK_EQ_INT(g.nitem, 1);
  struct zt_vnethdr oh;
  size_t olen = item(0, &oh, out);
  CHECK_EQ_INT(olen, len);
  CHECK(!memcmp(out, orig, len)); /* the same bytes, checksums and all */
  CHECK_EQ_INT(oh.flags, ZT_VNET_F_NEEDS_CSUM);
  CHECK_EQ_INT(oh.gso_type, ZT_VNET_GSO_TCPV4);
  CHECK_EQ_INT(oh.gso_size, 1299);
  CHECK_EQ_INT(oh.hdr_len, 52);
  CHECK_EQ_INT(oh.csum_start, 20);
  CHECK_EQ_INT(oh.csum_offset, 16);
  CHECK(sb_ip_ok(out));
  /* What the kernel does with NEEDS_CSUM gives a right checksum. */
  CHECK_EQ_INT(zt_vnet_csum_complete(&oh, out, olen), 0);
  CHECK(sb_l4_ok(out, olen, 6));
  CHECK_EQ_INT(gst.merged, 1);
  CHECK_EQ_INT(gst.segments, 21);
}

/* The items' first sequence numbers and segment counts. */
static void check_items(size_t n, const uint32_t *seq, const size_t *nseg) {
  struct zt_vnethdr h;
  CHECK_EQ_INT(g.nitem, n);
  for (size_t k = 0; k < n; k++) {
    size_t len = item(k, &h, out);
    CHECK_EQ_INT(sb_rd32(out + 24), seq[k]);
    CHECK_EQ_INT(g.item[k].nseg, nseg[k]);
    CHECK_EQ_INT(h.gso_type, nseg[k] > 1 ? ZT_VNET_GSO_TCPV4 : 0);
    CHECK_EQ_INT(h.flags, nseg[k] > 1 ? ZT_VNET_F_NEEDS_CSUM : 0);
    CHECK_EQ_INT(sb_rd16(out + 2), len);
    CHECK(sb_ip_ok(out));
    if (nseg[k] == 1 && out[9] == 6) /* unchanged: still right */
      CHECK(sb_l4_ok(out, len, 6));
  }
}

static void test_flows_kept_apart_and_in_order(void) {
  struct sb_seg a = sb_default(), b = sb_default();
  b.sport = 40001;
  b.seq = 5000;
  size_t i = 0;
  zt_gro_reset(&g);
  uint32_t a0 = a.seq;
  for (int k = 0; k < 3; k++) { /* A B A B A B */
    add_run(&i, &a, 1, 1000);
    add_run(&i, &b, 1, 1000);
  }
  uint8_t udp[64] = {0x45, 0, 0, 40, 0, 0, 0, 0, 64, 17};
  sb_wr16(udp + 10, sb_cksum(udp, 20, NULL, 0));
  CHECK_EQ_INT(zt_gro_add(&g, udp, 40), 0); /* another flow entirely */
  add_run(&i, &a, 1, 1000);
  check_items(3, (uint32_t[]){a0, 5000, 0}, (size_t[]){4, 3, 1});
}

static void test_what_breaks_a_run(void) {
  struct sb_seg s = sb_default();
  size_t i = 0;
  uint32_t s0 = s.seq;
  /* a gap */
  zt_gro_reset(&g);
  add_run(&i, &s, 2, 1000);
  s.seq += 1;
  add_run(&i, &s, 2, 1000);
  check_items(2, (uint32_t[]){s0, s0 + 2001}, (size_t[]){2, 2});
  /* a short segment ends it; the next full one starts anew */
  zt_gro_reset(&g);
  s = sb_default();
  i = 0;
  add_run(&i, &s, 2, 1000);
  add_run(&i, &s, 1, 500);
  add_run(&i, &s, 2, 1000);
  check_items(2, (uint32_t[]){s0, s0 + 2500}, (size_t[]){3, 2});
  /* a longer segment than the first cannot join */
  zt_gro_reset(&g);
  s = sb_default();
  i = 0;
  add_run(&i, &s, 2, 1000);
  add_run(&i, &s, 1, 1001);
  check_items(2, (uint32_t[]){s0, s0 + 2000}, (size_t[]){2, 1});
  /* PSH ends it and is carried by the merged segment */
  zt_gro_reset(&g);
  s = sb_default();
  i = 0;
  add_run(&i, &s, 1, 1000);
  s.flags = SB_ACK | SB_PSH;
  add_run(&i, &s, 1, 1000);
  s.flags = SB_ACK;
  add_run(&i, &s, 1, 1000);
  check_items(2, (uint32_t[]){s0, s0 + 2000}, (size_t[]){2, 1});
  item(0, &(struct zt_vnethdr){0}, out);
  CHECK_EQ_INT(out[33], SB_ACK | SB_PSH);
}

static void test_flags_never_merged(void) {
  const uint8_t flags[] = {SB_ACK | SB_FIN, SB_ACK | SB_SYN, SB_ACK | SB_RST,
                           SB_ACK | SB_URG, SB_ACK | SB_CWR, 0};
  for (size_t f = 0; f < sizeof(flags); f++) {
    struct sb_seg s = sb_default();
    uint32_t s0 = s.seq;
    size_t i = 0;
    zt_gro_reset(&g);
    add_run(&i, &s, 2, 1000);
    s.flags = flags[f];
    add_run(&i, &s, 1, 1000); /* stays alone, after the run */
    s.flags = SB_ACK;
    add_run(&i, &s, 2, 1000); /* a new run after it */
    check_items(3, (uint32_t[]){s0, s0 + 2000, s0 + 3000},
                (size_t[]){2, 1, 2});
  }
  /* A pure ACK (no payload) is not merged either. */
  struct sb_seg s = sb_default();
  size_t i = 0;
  zt_gro_reset(&g);
  add_run(&i, &s, 2, 1000);
  add_run(&i, &s, 1, 0);
  add_run(&i, &s, 1, 1000);
  CHECK_EQ_INT(g.nitem, 3);
}

/* Two segments that differ in one header field are not merged. */
static void test_header_differences(void) {
  for (int which = 0; which < 7; which++) {
    struct sb_seg s = sb_default();
    size_t i = 0;
    zt_gro_reset(&g);
    add_run(&i, &s, 1, 1000);
    switch (which) {
    case 0: s.ttl = 63; break;
    case 1: s.tos = 3; break; /* ECN CE */
    case 2: s.df = 0; break;
    case 3: s.ack += 1; break;
    case 4: s.window += 1; break;
    case 5: s.optlen = 8; break;
    case 6: s.optlen = 12; s.ihl_extra = 0; break;
    }
    size_t len = sb_build(pk[i], &s, 1000);
    if (which == 6)
      pk[i][20 + 20 + 5] ^= 1; /* same length, other option bytes */
    zt_gro_add(&g, pk[i], len);
    CHECK_EQ_INT(g.nitem, 2);
  }
}

static void test_unreadable_tcp_closes_every_run(void) {
  struct sb_seg a = sb_default(), b = sb_default(), x = sb_default();
  b.sport = 40001;
  x.ihl_extra = 4; /* IP options: not read, may belong to any flow */
  size_t i = 0;
  zt_gro_reset(&g);
  add_run(&i, &a, 1, 1000);
  add_run(&i, &b, 1, 1000);
  add_run(&i, &x, 1, 1000);
  add_run(&i, &a, 1, 1000);
  add_run(&i, &b, 1, 1000);
  CHECK_EQ_INT(g.nitem, 5); /* nothing merged across it */
  struct zt_vnethdr h;
  size_t len = item(2, &h, out);
  CHECK_EQ_INT(len, 24 + 32 + 1000);
  CHECK(!memcmp(out, pk[2], len)); /* passed through unchanged */
}

static void test_limits(void) {
  struct sb_seg s = sb_default();
  size_t i = 0;
  zt_gro_reset(&g);
  s.optlen = 0;
  /* 65535 bytes at most: 1400-byte segments, 46 fit (40 + 46 * 1400 =
   * 64440), the 47th does not. */
  add_run(&i, &s, 47, 1400);
  CHECK_EQ_INT(g.nitem, 2);
  CHECK_EQ_INT(g.item[0].nseg, 46);
  CHECK_EQ_INT(g.item[0].total, 40 + 46 * 1400);
  add_run(&i, &s, ZT_GRO_MAX_PKTS - 47, 10);
  CHECK_EQ_INT(g.npkt, ZT_GRO_MAX_PKTS);
  CHECK_EQ_INT(zt_gro_add(&g, pk[0], 60), -1); /* full */
  CHECK_EQ_INT(g.npkt, ZT_GRO_MAX_PKTS);
}

int main(void) {
  RUN(test_round_trip_byte_exact);
  RUN(test_flows_kept_apart_and_in_order);
  RUN(test_what_breaks_a_run);
  RUN(test_flags_never_merged);
  RUN(test_header_differences);
  RUN(test_unreadable_tcp_closes_every_run);
  RUN(test_limits);
  return TEST_EXIT();
}

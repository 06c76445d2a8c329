/*
 * core/vnethdr.c and core/tso.c: the virtio-net header, checksum
 * completion, and cutting a TCP super segment into the packets the kernel
 * would have sent, checked field by field and with an independent
 * checksum routine (segbuild.h).
 */
#include <linux/virtio_net.h>
#include <stddef.h>

#include "segbuild.h"
#include "test.h"
#include "tso.h"
#include "vnethdr.h"

/* What emit was handed. */
static struct sb_pkts got;

static uint8_t buf[65536 + ZT_VNET_HDR_LEN];

/* buf = header h + a super segment of pay bytes from s; its length. */
static size_t super(const struct zt_vnethdr *h, const struct sb_seg *s,
                    size_t pay) {
  zt_vnethdr_build(h, buf);
  size_t len = sb_build(buf + ZT_VNET_HDR_LEN, s, pay);
  sb_make_partial(buf + ZT_VNET_HDR_LEN, len);
  return ZT_VNET_HDR_LEN + len;
}

static struct zt_vnethdr gso_hdr(uint16_t gso, size_t hdrs) {
  struct zt_vnethdr h = {.flags = ZT_VNET_F_NEEDS_CSUM,
                         .gso_type = ZT_VNET_GSO_TCPV4,
                         .hdr_len = (uint16_t)hdrs, .gso_size = gso,
                         .csum_start = 20, .csum_offset = 16};
  return h;
}

static void test_header_layout_matches_linux(void) {
  struct virtio_net_hdr k = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
                             .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
                             .hdr_len = 52, .gso_size = 1311,
                             .csum_start = 20, .csum_offset = 16};
  struct zt_vnethdr h;
  uint8_t out[ZT_VNET_HDR_LEN];
  CHECK_EQ_INT(sizeof(k), ZT_VNET_HDR_LEN);
  CHECK_EQ_INT(ZT_VNET_F_NEEDS_CSUM, VIRTIO_NET_HDR_F_NEEDS_CSUM);
  CHECK_EQ_INT(ZT_VNET_F_DATA_VALID, VIRTIO_NET_HDR_F_DATA_VALID);
  CHECK_EQ_INT(ZT_VNET_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV4);
  CHECK_EQ_INT(ZT_VNET_GSO_TCPV6, VIRTIO_NET_HDR_GSO_TCPV6);
  CHECK_EQ_INT(ZT_VNET_GSO_UDP, VIRTIO_NET_HDR_GSO_UDP);
  CHECK_EQ_INT(ZT_VNET_GSO_ECN, VIRTIO_NET_HDR_GSO_ECN);
  CHECK_EQ_INT(zt_vnethdr_parse((const uint8_t *)&k, sizeof(k), &h), 0);
  CHECK_EQ_INT(h.flags, 1);
  CHECK_EQ_INT(h.gso_type, 1);
  CHECK_EQ_INT(h.hdr_len, 52);
  CHECK_EQ_INT(h.gso_size, 1311);
  CHECK_EQ_INT(h.csum_start, 20);
  CHECK_EQ_INT(h.csum_offset, 16);
  zt_vnethdr_build(&h, out);
  CHECK(!memcmp(out, &k, sizeof(k)));
  CHECK_EQ_INT(zt_vnethdr_parse(out, 9, &h), -1);
}

/* Every field of every segment against what the kernel would send. */
static void check_segments(const struct sb_seg *s, size_t pay, size_t gso,
                           size_t nseg) {
  size_t ihl = 20 + s->ihl_extra, hdrs = ihl + 20 + s->optlen;
  CHECK_EQ_INT(got.n, nseg);
  size_t done = 0;
  for (size_t i = 0; i < nseg; i++) {
    const uint8_t *p = got.pkt[i], *t = p + ihl;
    size_t want = i + 1 < nseg ? gso : pay - done;
    CHECK_EQ_INT(got.len[i], hdrs + want);
    CHECK_EQ_INT(sb_rd16(p + 2), hdrs + want);
    CHECK_EQ_INT(sb_rd16(p + 4), (uint16_t)(s->id + i));
    CHECK(sb_ip_ok(p));
    CHECK(sb_l4_ok(p, got.len[i], 6));
    CHECK_EQ_INT(sb_rd32(t + 4), (uint32_t)(s->seq + done));
    CHECK_EQ_INT(sb_rd32(t + 8), s->ack);
    CHECK_EQ_INT(sb_rd16(t + 14), s->window);
    uint8_t f = s->flags;
    if (i + 1 < nseg)
      f &= (uint8_t)~(SB_FIN | SB_PSH);
    if (i > 0)
      f &= (uint8_t)~SB_CWR;
    CHECK_EQ_INT(t[13], f);
    for (size_t k = 0; k < s->optlen; k++)
      CHECK_EQ_INT(t[20 + k], k < 2 ? 1 : 0x08 + k);
    for (size_t k = 0; k < want; k++)
      CHECK_EQ_INT(p[hdrs + k], sb_pat(s->seq + (uint32_t)(done + k)));
    done += want;
  }
  CHECK_EQ_INT(done, pay);
}

static void test_split_last_short(void) {
  struct sb_seg s = sb_default();
  struct zt_tso_stats st = {0};
  s.flags = SB_ACK | SB_PSH | SB_FIN | SB_CWR;
  struct zt_vnethdr h = gso_hdr(1000, 52);
  size_t n = super(&h, &s, 3500);
  got.n = 0;
  CHECK_EQ_INT(zt_tso_read(buf, n, sb_collect, &got, &st), 4);
  check_segments(&s, 3500, 1000, 4);
  CHECK_EQ_INT(st.gso_reads, 1);
  CHECK_EQ_INT(st.segments, 4);
  CHECK_EQ_INT(st.bad, 0);
}

static void test_split_exact_multiple_wraps_seq_and_id(void) {
  struct sb_seg s = sb_default();
  struct zt_tso_stats st = {0};
  s.seq = 0xffffffffu - 1500; /* wraps inside the super segment */
  s.id = 0xffff;
  s.optlen = 0;
  struct zt_vnethdr h = gso_hdr(1311, 40);
  size_t n = super(&h, &s, 3 * 1311);
  got.n = 0;
  CHECK_EQ_INT(zt_tso_read(buf, n, sb_collect, &got, &st), 3);
  check_segments(&s, 3 * 1311, 1311, 3);
}

static void test_split_ip_options_and_big_read(void) {
  struct sb_seg s = sb_default();
  struct zt_tso_stats st = {0};
  s.ihl_extra = 4;
  s.optlen = 40;
  size_t pay = 65535 - 24 - 60; /* the biggest IPv4 packet */
  struct zt_vnethdr h = gso_hdr(1271, 84);
  size_t n = super(&h, &s, pay);
  got.n = 0;
  CHECK_EQ_INT(zt_tso_read(buf, n, sb_collect, &got, &st), 52);
  check_segments(&s, pay, 1271, 52);
}

static void test_gso_without_payload_is_one_packet(void) {
  struct sb_seg s = sb_default();
  struct zt_tso_stats st = {0};
  struct zt_vnethdr h = gso_hdr(1000, 52);
  size_t n = super(&h, &s, 0);
  got.n = 0;
  CHECK_EQ_INT(zt_tso_read(buf, n, sb_collect, &got, &st), 1);
  check_segments(&s, 0, 1000, 1);
}

static void test_needs_csum_completed(void) {
  struct zt_tso_stats st = {0};
  /* TCP: the checksum field holds the partial sum. */
  struct sb_seg s = sb_default();
  struct zt_vnethdr h = {.flags = ZT_VNET_F_NEEDS_CSUM, .csum_start = 20,
                         .csum_offset = 16};
  size_t n = super(&h, &s, 777);
  got.n = 0;
  CHECK_EQ_INT(zt_tso_read(buf, n, sb_collect, &got, &st), 1);
  CHECK_EQ_INT(got.len[0], n - ZT_VNET_HDR_LEN);
  CHECK(sb_l4_ok(got.pkt[0], got.len[0], 6));
  CHECK_EQ_INT(st.csum_done, 1);
  /* UDP, odd length. */
  uint8_t *p = buf + ZT_VNET_HDR_LEN;
  memset(p, 0, 20 + 8 + 33);
  p[0] = 0x45;
  sb_wr16(p + 2, 61);
  p[8] = 64;
  p[9] = 17;
  sb_wr32(p + 12, 0x64400002u);
  sb_wr32(p + 16, 0x0a640002u);
  sb_wr16(p + 10, sb_cksum(p, 20, NULL, 0));
  sb_wr16(p + 24, 41);
  for (int i = 0; i < 33; i++)
    p[28 + i] = (uint8_t)(i * 5 + 1);
  sb_make_partial(p, 61);
  h.csum_offset = 6;
  zt_vnethdr_build(&h, buf);
  got.n = 0;
  CHECK_EQ_INT(
      zt_tso_read(buf, ZT_VNET_HDR_LEN + 61, sb_collect, &got, &st), 1);
  CHECK(sb_l4_ok(got.pkt[0], 61, 17));
  CHECK(sb_rd16(got.pkt[0] + 26) != 0); /* 0 would mean "none" to UDP */
  /* Without the flag the packet is handed over untouched. */
  h.flags = 0;
  zt_vnethdr_build(&h, buf);
  uint8_t copy[61];
  memcpy(copy, p, 61);
  got.n = 0;
  CHECK_EQ_INT(
      zt_tso_read(buf, ZT_VNET_HDR_LEN + 61, sb_collect, &got, &st), 1);
  CHECK(!memcmp(got.pkt[0], copy, 61));
  CHECK_EQ_INT(st.csum_done, 2);
}

/* A refused read: the error, nothing handed out, counted. */
static int refused(size_t n, struct zt_tso_stats *st) {
  uint64_t bad = st->bad;
  got.n = 0;
  int rc = zt_tso_read(buf, n, sb_collect, &got, st);
  if (got.n != 0 || st->bad != bad + 1)
    return 99;
  return rc;
}

static void test_bad_headers_refused_and_counted(void) {
  struct zt_tso_stats st = {0};
  struct sb_seg s = sb_default();
  struct zt_vnethdr h = gso_hdr(1000, 52);
  size_t n;
  CHECK_EQ_INT(refused(9, &st), ZT_TSO_ESHORT);
  h.gso_type = ZT_VNET_GSO_UDP;
  n = super(&h, &s, 3000);
  CHECK_EQ_INT(refused(n, &st), ZT_TSO_EGSOTYPE);
  h.gso_type = ZT_VNET_GSO_TCPV6;
  n = super(&h, &s, 3000);
  CHECK_EQ_INT(refused(n, &st), ZT_TSO_EGSOTYPE);
  h = gso_hdr(0, 52);
  n = super(&h, &s, 3000);
  CHECK_EQ_INT(refused(n, &st), ZT_TSO_EGSOSIZE);
  h = gso_hdr(1000, 52);
  n = super(&h, &s, 3000);
  CHECK_EQ_INT(refused(n - 1, &st), ZT_TSO_ELENGTH); /* cut short */
  n = super(&h, &s, 3000);
  buf[ZT_VNET_HDR_LEN + 9] = 17; /* UDP under GSO_TCPV4 */
  CHECK_EQ_INT(refused(n, &st), ZT_TSO_EHEADERS);
  n = super(&h, &s, 3000);
  buf[ZT_VNET_HDR_LEN] = 0x65; /* IPv6 version */
  CHECK_EQ_INT(refused(n, &st), ZT_TSO_EHEADERS);
  n = super(&h, &s, 3000);
  buf[ZT_VNET_HDR_LEN] = 0x44; /* IHL 16 bytes */
  CHECK_EQ_INT(refused(n, &st), ZT_TSO_EHEADERS);
  n = super(&h, &s, 3000);
  buf[ZT_VNET_HDR_LEN + 6] |= 0x20; /* a fragment */
  CHECK_EQ_INT(refused(n, &st), ZT_TSO_EHEADERS);
  n = super(&h, &s, 0);
  buf[ZT_VNET_HDR_LEN + 32] = 0xf0; /* TCP header past the end */
  CHECK_EQ_INT(refused(n, &st), ZT_TSO_EHEADERS);
  n = super(&h, &s, 3000);
  buf[ZT_VNET_HDR_LEN + 32] = 0x40; /* TCP header 16 bytes */
  CHECK_EQ_INT(refused(n, &st), ZT_TSO_EHEADERS);
  h.gso_type = ZT_VNET_GSO_NONE;
  h.csum_start = 3000;
  n = super(&h, &s, 100);
  CHECK_EQ_INT(refused(n, &st), ZT_TSO_ECSUM);
  h.csum_start = 20;
  h.csum_offset = (uint16_t)(n - ZT_VNET_HDR_LEN - 21); /* field 1 past */
  n = super(&h, &s, 100);
  CHECK_EQ_INT(refused(n, &st), ZT_TSO_ECSUM);
  CHECK_EQ_INT(st.bad, 13);
  CHECK(strcmp(zt_tso_strerror(ZT_TSO_ECSUM), "unknown") != 0);
}

int main(void) {
  RUN(test_header_layout_matches_linux);
  RUN(test_split_last_short);
  RUN(test_split_exact_multiple_wraps_seq_and_id);
  RUN(test_split_ip_options_and_big_read);
  RUN(test_gso_without_payload_is_one_packet);
  RUN(test_needs_csum_completed);
  RUN(test_bad_headers_refused_and_counted);
  return TEST_EXIT();
}

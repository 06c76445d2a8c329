/*
 * IPv4 reassembly (core/reasm.c): datagrams come back whole in any order,
 * and everything a hostile sender can do with fragments is refused and
 * counted: overlaps, tiny first fragments, datagrams over 65535 bytes,
 * more groups or bytes than the caps, fragments that never complete.
 */
#include "ipbuild.h"
#include "reasm.h"
#include "test.h"

#define MS 1000000ULL

static uint8_t dgram[70000], dgram2[70000], frag[70000];

/* Cuts d's payload into pieces of `step` bytes (a multiple of 8) and feeds
 * them in the order given by idx (piece numbers); the result of the last. */
static enum zt_reasm_result feed_pieces(struct zt_reasm *r, const uint8_t *d,
                                        size_t step, const int *idx, int n,
                                        const uint8_t **out, size_t *outlen) {
  size_t total = (size_t)(d[2] << 8 | d[3]) - 20;
  enum zt_reasm_result res = ZT_REASM_DROPPED;
  for (int i = 0; i < n; i++) {
    size_t off = (size_t)idx[i] * step;
    size_t len = total - off < step ? total - off : step;
    size_t fl = tb_frag(d, off, len, frag);
    res = zt_reasm_feed(r, frag, fl, 0, out, outlen);
  }
  return res;
}

static void test_in_order(void) {
  struct zt_reasm r;
  const uint8_t *out = NULL;
  size_t outlen = 0;
  zt_reasm_init(&r);
  size_t len = tb_udp(dgram, 1, 9999, 3000, 0);
  size_t fl = tb_frag(dgram, 0, 1328, frag);
  CHECK_EQ_INT(zt_reasm_feed(&r, frag, fl, 0, &out, &outlen), ZT_REASM_HELD);
  fl = tb_frag(dgram, 1328, 1328, frag);
  CHECK_EQ_INT(zt_reasm_feed(&r, frag, fl, 0, &out, &outlen), ZT_REASM_HELD);
  CHECK_EQ_INT(zt_reasm_groups(&r), 1);
  fl = tb_frag(dgram, 2656, 3008 - 2656, frag);
  CHECK_EQ_INT(zt_reasm_feed(&r, frag, fl, 0, &out, &outlen), ZT_REASM_DONE);
  CHECK_EQ_INT(outlen, len);
  CHECK(memcmp(out, dgram, len) == 0); /* header (checksum too) and payload */
  CHECK_EQ_INT(zt_reasm_groups(&r), 0);
  CHECK_EQ_INT(zt_reasm_bytes(&r), 0);
  CHECK_EQ_INT(r.stats.fragments, 3);
  CHECK_EQ_INT(r.stats.reassembled, 1);
  /* A packet that is no fragment is not touched. */
  CHECK_EQ_INT(zt_reasm_feed(&r, dgram, len, 0, &out, &outlen),
               ZT_REASM_NOT_FRAGMENT);
  CHECK_EQ_INT(r.stats.fragments, 3);
  zt_reasm_free(&r);
}

static void test_reverse_order(void) {
  struct zt_reasm r;
  const uint8_t *out;
  size_t outlen;
  zt_reasm_init(&r);
  size_t len = tb_udp(dgram, 2, 9999, 8000, 0);
  int idx[] = {6, 5, 4, 3, 2, 1, 0};
  CHECK_EQ_INT(feed_pieces(&r, dgram, 1328, idx, 7, &out, &outlen),
               ZT_REASM_DONE);
  CHECK_EQ_INT(outlen, len);
  CHECK(memcmp(out, dgram, len) == 0);
  zt_reasm_free(&r);
}

static void test_interleaved_groups(void) {
  struct zt_reasm r;
  const uint8_t *out;
  size_t outlen;
  zt_reasm_init(&r);
  size_t l1 = tb_udp(dgram, 10, 9999, 2000, 0);
  size_t l2 = tb_udp(dgram2, 11, 9999, 2000, 0);
  /* a0 b1 a1 b0: each group completes on its own last piece. */
  tb_frag(dgram, 0, 1024, frag);
  CHECK_EQ_INT(zt_reasm_feed(&r, frag, 20 + 1024, 0, &out, &outlen),
               ZT_REASM_HELD);
  tb_frag(dgram2, 1024, 2008 - 1024, frag);
  CHECK_EQ_INT(zt_reasm_feed(&r, frag, 20 + 984, 0, &out, &outlen),
               ZT_REASM_HELD);
  CHECK_EQ_INT(zt_reasm_groups(&r), 2);
  tb_frag(dgram, 1024, 2008 - 1024, frag);
  CHECK_EQ_INT(zt_reasm_feed(&r, frag, 20 + 984, 0, &out, &outlen),
               ZT_REASM_DONE);
  CHECK_EQ_INT(outlen, l1);
  CHECK(memcmp(out, dgram, l1) == 0);
  tb_frag(dgram2, 0, 1024, frag);
  CHECK_EQ_INT(zt_reasm_feed(&r, frag, 20 + 1024, 0, &out, &outlen),
               ZT_REASM_DONE);
  CHECK_EQ_INT(outlen, l2);
  CHECK(memcmp(out, dgram2, l2) == 0);
  zt_reasm_free(&r);
}

static void test_overlap_drops_group(void) {
  struct zt_reasm r;
  const uint8_t *out;
  size_t outlen;
  zt_reasm_init(&r);
  tb_udp(dgram, 3, 9999, 3000, 0);
  size_t fl = tb_frag(dgram, 0, 1328, frag);
  CHECK_EQ_INT(zt_reasm_feed(&r, frag, fl, 0, &out, &outlen), ZT_REASM_HELD);
  /* Starts 8 bytes inside the first: could rewrite what was checked. */
  fl = tb_frag(dgram, 1320, 1328, frag);
  CHECK_EQ_INT(zt_reasm_feed(&r, frag, fl, 0, &out, &outlen),
               ZT_REASM_DROPPED);
  CHECK_EQ_INT(r.stats.overlaps, 1);
  CHECK_EQ_INT(zt_reasm_bytes(&r), 0); /* its data is gone */
  /* The rest of the group is refused too, even pieces that would fit. */
  fl = tb_frag(dgram, 1328, 1328, frag);
  CHECK_EQ_INT(zt_reasm_feed(&r, frag, fl, 0, &out, &outlen),
               ZT_REASM_DROPPED);
  fl = tb_frag(dgram, 2656, 3008 - 2656, frag);
  CHECK_EQ_INT(zt_reasm_feed(&r, frag, fl, 0, &out, &outlen),
               ZT_REASM_DROPPED);
  CHECK_EQ_INT(r.stats.reassembled, 0);
  CHECK_EQ_INT(r.stats.bad, 2);
  zt_reasm_free(&r);
}

static void test_duplicates(void) {
  struct zt_reasm r;
  const uint8_t *out;
  size_t outlen;
  zt_reasm_init(&r);
  size_t len = tb_udp(dgram, 4, 9999, 2000, 0);
  size_t fl = tb_frag(dgram, 0, 1024, frag);
  CHECK_EQ_INT(zt_reasm_feed(&r, frag, fl, 0, &out, &outlen), ZT_REASM_HELD);
  /* The same fragment again (a retransmission by the network): fine. */
  CHECK_EQ_INT(zt_reasm_feed(&r, frag, fl, 0, &out, &outlen), ZT_REASM_HELD);
  fl = tb_frag(dgram, 1024, 2008 - 1024, frag);
  CHECK_EQ_INT(zt_reasm_feed(&r, frag, fl, 0, &out, &outlen), ZT_REASM_DONE);
  CHECK_EQ_INT(outlen, len);
  CHECK(memcmp(out, dgram, len) == 0);
  CHECK_EQ_INT(r.stats.overlaps, 0);
  /* Same offsets, other bytes (other ports): an overlap. */
  fl = tb_frag(dgram, 0, 1024, frag);
  CHECK_EQ_INT(zt_reasm_feed(&r, frag, fl, 0, &out, &outlen), ZT_REASM_HELD);
  frag[23] ^= 1; /* the destination port */
  tb_ip_cksum(frag);
  CHECK_EQ_INT(zt_reasm_feed(&r, frag, fl, 0, &out, &outlen),
               ZT_REASM_DROPPED);
  CHECK_EQ_INT(r.stats.overlaps, 1);
  zt_reasm_free(&r);
}

static void test_timeout(void) {
  struct zt_reasm r;
  const uint8_t *out;
  size_t outlen;
  zt_reasm_init(&r);
  tb_udp(dgram, 5, 9999, 2000, 0);
  size_t fl = tb_frag(dgram, 0, 1024, frag);
  CHECK_EQ_INT(zt_reasm_feed(&r, frag, fl, 1000 * MS, &out, &outlen),
               ZT_REASM_HELD);
  /* The rest, too late: the first piece has gone; this one starts anew. */
  fl = tb_frag(dgram, 1024, 2008 - 1024, frag);
  CHECK_EQ_INT(zt_reasm_feed(&r, frag, fl, 1000 * MS + ZT_REASM_TIMEOUT_NS,
                             &out, &outlen),
               ZT_REASM_HELD);
  CHECK_EQ_INT(r.stats.timed_out, 1);
  CHECK_EQ_INT(zt_reasm_groups(&r), 1);
  /* Just in time, it completes. */
  fl = tb_frag(dgram, 0, 1024, frag);
  CHECK_EQ_INT(zt_reasm_feed(&r, frag, fl,
                             1000 * MS + 2 * ZT_REASM_TIMEOUT_NS - 1, &out,
                             &outlen),
               ZT_REASM_DONE);
  zt_reasm_free(&r);
}

static void test_group_cap_evicts_oldest(void) {
  struct zt_reasm r;
  const uint8_t *out;
  size_t outlen;
  zt_reasm_init(&r);
  /* First pieces of 100 datagrams: only the newest 64 stay. */
  for (int id = 0; id < 100; id++) {
    tb_udp(dgram, (uint16_t)id, 9999, 1000, 0);
    size_t fl = tb_frag(dgram, 0, 512, frag);
    CHECK_EQ_INT(zt_reasm_feed(&r, frag, fl, (uint64_t)id, &out, &outlen),
                 ZT_REASM_HELD);
    CHECK(zt_reasm_groups(&r) <= ZT_REASM_MAX_GROUPS);
  }
  CHECK_EQ_INT(zt_reasm_groups(&r), ZT_REASM_MAX_GROUPS);
  CHECK_EQ_INT(r.stats.evicted, 100 - ZT_REASM_MAX_GROUPS);
  /* The newest still completes; the oldest was evicted and starts over. */
  tb_udp(dgram, 99, 9999, 1000, 0);
  size_t fl = tb_frag(dgram, 512, 1008 - 512, frag);
  CHECK_EQ_INT(zt_reasm_feed(&r, frag, fl, 200, &out, &outlen), ZT_REASM_DONE);
  tb_udp(dgram, 0, 9999, 1000, 0);
  fl = tb_frag(dgram, 512, 1008 - 512, frag);
  CHECK_EQ_INT(zt_reasm_feed(&r, frag, fl, 200, &out, &outlen), ZT_REASM_HELD);
  zt_reasm_free(&r);
}

static void test_byte_cap_evicts_oldest(void) {
  struct zt_reasm r;
  const uint8_t *out;
  size_t outlen;
  zt_reasm_init(&r);
  /* Small last fragments far out: each makes a group hold ~60 KB. */
  tb_udp(dgram, 0, 9999, 60000, 0);
  for (int id = 0; id < 20; id++) {
    dgram[5] = (uint8_t)id;
    tb_ip_cksum(dgram);
    size_t fl = tb_frag(dgram, 59008, 60008 - 59008, frag);
    CHECK_EQ_INT(zt_reasm_feed(&r, frag, fl, (uint64_t)id, &out, &outlen),
                 ZT_REASM_HELD);
    CHECK(zt_reasm_bytes(&r) <= ZT_REASM_MAX_BYTES);
  }
  CHECK(r.stats.evicted >= 20 - ZT_REASM_MAX_BYTES / 60008);
  CHECK(zt_reasm_groups(&r) <= ZT_REASM_MAX_BYTES / 60008);
  zt_reasm_free(&r);
}

static void test_tiny_first_fragment(void) {
  struct zt_reasm r;
  const uint8_t *out;
  size_t outlen;
  uint8_t opts[4] = {2, 4, 0x05, 0xb4};
  zt_reasm_init(&r);
  /* A TCP first fragment of 16 bytes: no room for the flags and more,
   * which a later fragment would bring (RFC 1858). */
  size_t len = tb_tcp(dgram, 0x02, opts, 4);
  dgram[6] = 0;
  tb_ip_cksum(dgram);
  (void)len;
  size_t fl = tb_frag(dgram, 0, 16, frag);
  CHECK_EQ_INT(zt_reasm_feed(&r, frag, fl, 0, &out, &outlen),
               ZT_REASM_DROPPED);
  CHECK_EQ_INT(r.stats.bad, 1);
  /* Its later fragment finds the group refused. */
  fl = tb_frag(dgram, 16, 8, frag);
  CHECK_EQ_INT(zt_reasm_feed(&r, frag, fl, 0, &out, &outlen),
               ZT_REASM_DROPPED);
  CHECK_EQ_INT(r.stats.bad, 2);
  CHECK_EQ_INT(r.stats.reassembled, 0);
  /* A UDP first fragment of 8 bytes holds its ports: accepted. */
  tb_udp(dgram, 9, 9999, 100, 0);
  fl = tb_frag(dgram, 0, 8, frag);
  CHECK_EQ_INT(zt_reasm_feed(&r, frag, fl, 0, &out, &outlen), ZT_REASM_HELD);
  zt_reasm_free(&r);
}

static void test_longer_than_65535(void) {
  struct zt_reasm r;
  const uint8_t *out;
  size_t outlen;
  zt_reasm_init(&r);
  tb_udp(dgram, 6, 9999, 65507, 0); /* the largest UDP datagram there is */
  /* Its last bytes, at 65512 + 8: 20 + 65520 = 65540 bytes in all. */
  uint8_t *f = frag;
  memcpy(f, dgram, 20);
  memset(f + 20, 0xee, 8);
  tb_put16(f + 2, 28);
  tb_put16(f + 6, 65512 / 8);
  tb_ip_cksum(f);
  CHECK_EQ_INT(zt_reasm_feed(&r, f, 28, 0, &out, &outlen), ZT_REASM_DROPPED);
  CHECK_EQ_INT(r.stats.bad, 1);
  /* The real datagram of 65535 bytes reassembles. */
  tb_udp(dgram, 7, 9999, 65507, 0);
  int idx[50];
  for (int i = 0; i < 50; i++)
    idx[i] = i;
  CHECK_EQ_INT(feed_pieces(&r, dgram, 1328, idx, 50, &out, &outlen),
               ZT_REASM_DONE);
  CHECK_EQ_INT(outlen, 65535);
  CHECK(memcmp(out, dgram, 65535) == 0);
  zt_reasm_free(&r);
}

static void test_bad_header_checksum(void) {
  struct zt_reasm r;
  const uint8_t *out;
  size_t outlen;
  zt_reasm_init(&r);
  tb_udp(dgram, 8, 9999, 2000, 0);
  size_t fl = tb_frag(dgram, 0, 1024, frag);
  frag[10] ^= 0xff;
  CHECK_EQ_INT(zt_reasm_feed(&r, frag, fl, 0, &out, &outlen),
               ZT_REASM_DROPPED);
  CHECK_EQ_INT(zt_reasm_groups(&r), 0);
  zt_reasm_free(&r);
}

int main(void) {
  RUN(test_in_order);
  RUN(test_reverse_order);
  RUN(test_interleaved_groups);
  RUN(test_overlap_drops_group);
  RUN(test_duplicates);
  RUN(test_timeout);
  RUN(test_group_cap_evicts_oldest);
  RUN(test_byte_cap_evicts_oldest);
  RUN(test_tiny_first_fragment);
  RUN(test_longer_than_65535);
  RUN(test_bad_header_checksum);
  return TEST_EXIT();
}

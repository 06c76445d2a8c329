/* lossmap: lost datagrams counted from the acknowledgements. */
#include "lossmap.h"
#include "test.h"

#define DELAY 1000 /* ns, the time threshold where it is not the point */

static void send_n(struct zt_lossmap *m, uint64_t from, uint64_t n) {
  for (uint64_t s = from; s < from + n; s++)
    zt_lossmap_sent(m, s);
}

/* A datagram unacknowledged while 3 later ones were is lost, and counted
 * once; fewer than 3 later ones is not yet a verdict (reordering). */
static void test_packet_threshold(void) {
  struct zt_lossmap m;
  zt_lossmap_init(&m, 1);
  send_n(&m, 1, 10);
  zt_lossmap_acked(&m, 1);
  zt_lossmap_acked(&m, 3); /* 2 missing */
  zt_lossmap_acked(&m, 4);
  CHECK_EQ_INT(zt_lossmap_sweep(&m, 0, DELAY), 0); /* only 2 after it */
  zt_lossmap_acked(&m, 5);
  CHECK_EQ_INT(zt_lossmap_sweep(&m, 0, DELAY), 1);
  CHECK_EQ_INT(m.lost, 1);
  /* its late acknowledgement changes nothing, nor does a second sweep */
  zt_lossmap_acked(&m, 2);
  CHECK_EQ_INT(zt_lossmap_sweep(&m, 0, DELAY), 0);
  /* acknowledgements in any order inside one ACK frame */
  zt_lossmap_acked(&m, 9);
  zt_lossmap_acked(&m, 6);
  zt_lossmap_acked(&m, 8);
  zt_lossmap_acked(&m, 7);
  CHECK_EQ_INT(zt_lossmap_sweep(&m, 0, DELAY), 0);
  CHECK_EQ_INT(m.lost, 1);
  /* 10 is judged once 3 after it are acknowledged */
  send_n(&m, 11, 3);
  zt_lossmap_acked(&m, 13);
  CHECK_EQ_INT(zt_lossmap_sweep(&m, 0, DELAY), 1); /* 10 (11, 12 not yet) */
  CHECK_EQ_INT(m.lost, 2);
}

/* A lone loss among sparse traffic (what ngtcp2 does not report when its
 * packet was probed for on a timeout) is counted all the same. */
static void test_lone_losses(void) {
  struct zt_lossmap m;
  zt_lossmap_init(&m, 1);
  uint64_t s = 1;
  for (int round = 0; round < 100; round++) {
    zt_lossmap_sent(&m, s++); /* lost */
    for (int k = 0; k < 3; k++) {
      zt_lossmap_sent(&m, s);
      zt_lossmap_acked(&m, s++);
    }
    zt_lossmap_sweep(&m, 0, DELAY);
  }
  CHECK_EQ_INT(m.lost, 100);
  CHECK_EQ_INT(m.untracked, 0);
}

/* Sequence numbers skipped (a try the transport did not take, in other
 * callers) are never counted; numbers going back are ignored. */
static void test_gaps(void) {
  struct zt_lossmap m;
  zt_lossmap_init(&m, 5);
  zt_lossmap_sent(&m, 5);
  zt_lossmap_sent(&m, 9); /* 6, 7, 8 never sent */
  zt_lossmap_sent(&m, 4); /* ignored */
  zt_lossmap_sent(&m, 10);
  zt_lossmap_sent(&m, 11);
  zt_lossmap_sent(&m, 12);
  zt_lossmap_acked(&m, 5);
  zt_lossmap_acked(&m, 12);
  zt_lossmap_acked(&m, 11);
  zt_lossmap_acked(&m, 10);
  CHECK_EQ_INT(zt_lossmap_sweep(&m, 0, DELAY), 1); /* 9 only */
  CHECK_EQ_INT(m.lost, 1);
  zt_lossmap_acked(&m, 500); /* never sent: not ours */
  CHECK_EQ_INT(zt_lossmap_sweep(&m, 0, DELAY), 0);
}

/* More in flight than the map holds: the oldest are given up uncounted
 * (a lower bound, never an overcount), and the bits they leave are clean
 * for the numbers that reuse them. */
static void test_window_overflow(void) {
  struct zt_lossmap m;
  zt_lossmap_init(&m, 1);
  uint64_t n = ZT_LOSSMAP_BITS + 100;
  send_n(&m, 1, n);
  CHECK_EQ_INT(m.untracked, 100);
  for (uint64_t s = 101; s <= n; s++)
    zt_lossmap_acked(&m, s);
  CHECK_EQ_INT(zt_lossmap_sweep(&m, 0, DELAY), 0);
  CHECK_EQ_INT(m.lost, 0);
  /* the next round, every bit reused: one lost among them */
  send_n(&m, n + 1, ZT_LOSSMAP_BITS);
  for (uint64_t s = n + 1; s <= n + ZT_LOSSMAP_BITS; s++)
    if (s != n + 7)
      zt_lossmap_acked(&m, s);
  CHECK_EQ_INT(zt_lossmap_sweep(&m, 0, DELAY), 1);
  CHECK_EQ_INT(m.untracked, 100);
}

/* The time threshold: one later datagram acknowledged; the sweep that
 * first sees the hole starts its clock, and loss_delay later it is lost,
 * not before. A hole filled meanwhile (reordering) is not lost. */
static void test_time_threshold(void) {
  struct zt_lossmap m;
  zt_lossmap_init(&m, 1);
  send_n(&m, 1, 2);
  zt_lossmap_acked(&m, 2);
  CHECK_EQ_INT(zt_lossmap_sweep(&m, 100, DELAY), 0);
  CHECK_EQ_INT(zt_lossmap_sweep(&m, 100 + DELAY - 1, DELAY), 0);
  zt_lossmap_acked(&m, 3); /* not sent: changes nothing */
  CHECK_EQ_INT(zt_lossmap_sweep(&m, 100 + DELAY, DELAY), 1);
  /* the acknowledged one itself is never lost, nor anything after it */
  send_n(&m, 3, 2);
  CHECK_EQ_INT(zt_lossmap_sweep(&m, 10 * DELAY, DELAY), 0);
  CHECK_EQ_INT(m.lost, 1);
  /* reordered: the hole is filled before its time is up */
  zt_lossmap_acked(&m, 4);
  CHECK_EQ_INT(zt_lossmap_sweep(&m, 20 * DELAY, DELAY), 0);
  zt_lossmap_acked(&m, 3);
  CHECK_EQ_INT(zt_lossmap_sweep(&m, 30 * DELAY, DELAY), 0);
  CHECK_EQ_INT(m.lost, 1);
  CHECK_EQ_INT(m.base, 4);
}

int main(void) {
  RUN(test_packet_threshold);
  RUN(test_lone_losses);
  RUN(test_gaps);
  RUN(test_time_threshold);
  RUN(test_window_overflow);
  return TEST_EXIT();
}

/* Path MTU discovery state machine, driven against simulated paths. */
#include "pmtu.h"
#include "test.h"

#define MS 1000000ULL
#define MAX 1452

/* A path that carries UDP payloads up to `mtu`: answers each probe by
 * acknowledging it or losing it, 50 ms later. Returns the probes sent. */
static int run_path(struct zt_pmtu *p, size_t mtu, uint64_t *now, int limit) {
  int n = 0;
  size_t size;
  while (n < limit && (size = zt_pmtu_probe_size(p)) != 0) {
    uint64_t id = zt_pmtu_probe_sent(p, *now, 0);
    *now += 50 * MS;
    if (size <= mtu)
      zt_pmtu_probe_acked(p, id, *now);
    else
      zt_pmtu_probe_lost(p, id, *now);
    n++;
  }
  return n;
}

/* A datagram of `size` bytes that the transport took: its number. */
static uint64_t send_dgram(struct zt_pmtu *p, size_t size, uint64_t now) {
  uint64_t seq = zt_pmtu_data_seq(p);
  zt_pmtu_data_sent(p, seq, size, now);
  return seq;
}

static void test_clean_path_one_probe(void) {
  struct zt_pmtu p;
  uint64_t now = 0;
  zt_pmtu_init(&p, ZT_PMTU_BASE, MAX, now);
  CHECK_EQ_INT(p.plpmtu, 1200);
  CHECK_EQ_INT(zt_pmtu_probe_size(&p), MAX); /* max first */
  CHECK_EQ_INT(run_path(&p, 1500, &now, 100), 1);
  CHECK_EQ_INT(p.plpmtu, MAX);
  CHECK(p.changed);
  CHECK_EQ_INT(p.changed_from, 1200);
  CHECK_EQ_INT(p.state, ZT_PMTU_COMPLETE);
  CHECK_EQ_INT(zt_pmtu_expiry(&p), UINT64_MAX); /* at max: nothing to raise */
}

static void test_1280_path_stops_at_1252(void) {
  struct zt_pmtu p;
  uint64_t now = 0;
  zt_pmtu_init(&p, ZT_PMTU_BASE, MAX, now);
  int n = run_path(&p, 1252, &now, 100);
  CHECK_EQ_INT(p.plpmtu, 1252);
  CHECK_EQ_INT(p.state, ZT_PMTU_COMPLETE);
  CHECK(p.fail_size - p.plpmtu <= ZT_PMTU_SEARCH_GAP);
  CHECK(p.fail_size > 1252);
  CHECK(n < 30);
  /* IPv6 1280 path: 1232 */
  zt_pmtu_init(&p, ZT_PMTU_BASE, MAX, now);
  run_path(&p, 1232, &now, 100);
  CHECK_EQ_INT(p.plpmtu, 1232);
  /* an odd path in between is found within the gap */
  zt_pmtu_init(&p, ZT_PMTU_BASE, MAX, now);
  run_path(&p, 1390, &now, 100);
  CHECK(p.plpmtu <= 1390 && p.plpmtu > 1390 - ZT_PMTU_SEARCH_GAP);
  /* a path that carries only the base */
  zt_pmtu_init(&p, ZT_PMTU_BASE, MAX, now);
  run_path(&p, 1200, &now, 100);
  CHECK_EQ_INT(p.plpmtu, 1200);
  CHECK_EQ_INT(p.state, ZT_PMTU_COMPLETE);
}

/* One probe lost to congestion does not fail its size. */
static void test_probe_loss_is_not_failure(void) {
  struct zt_pmtu p;
  uint64_t now = 0;
  zt_pmtu_init(&p, ZT_PMTU_BASE, MAX, now);
  for (int i = 0; i < ZT_PMTU_MAX_PROBES - 1; i++) {
    uint64_t id = zt_pmtu_probe_sent(&p, now, 0);
    zt_pmtu_probe_lost(&p, id, now);
    CHECK_EQ_INT(zt_pmtu_probe_size(&p), MAX); /* the same size again */
    CHECK_EQ_INT(p.plpmtu, 1200);
  }
  uint64_t id = zt_pmtu_probe_sent(&p, now, 0);
  zt_pmtu_probe_acked(&p, id, now);
  CHECK_EQ_INT(p.plpmtu, MAX);
  /* the third loss in a row fails the size */
  zt_pmtu_init(&p, ZT_PMTU_BASE, MAX, now);
  for (int i = 0; i < ZT_PMTU_MAX_PROBES; i++)
    zt_pmtu_probe_lost(&p, zt_pmtu_probe_sent(&p, now, 0), now);
  CHECK_EQ_INT(p.fail_size, MAX);
  CHECK_EQ_INT(zt_pmtu_probe_size(&p), 1252);
  CHECK_EQ_INT(p.plpmtu, 1200);
}

/* Only the probe's own acknowledgement raises the size: a stale id, a
 * loss or a timeout never does. */
static void test_only_own_ack_confirms(void) {
  struct zt_pmtu p;
  uint64_t now = 0;
  zt_pmtu_init(&p, ZT_PMTU_BASE, MAX, now);
  uint64_t id = zt_pmtu_probe_sent(&p, now, 0);
  zt_pmtu_probe_acked(&p, id + 7, now);
  CHECK_EQ_INT(p.plpmtu, 1200);
  zt_pmtu_probe_lost(&p, id, now);
  CHECK_EQ_INT(p.plpmtu, 1200);
  zt_pmtu_probe_acked(&p, id, now); /* late ack of the lost one */
  CHECK_EQ_INT(p.plpmtu, 1200);
  /* timeout: sent again, neither confirmed nor counted as lost (only a
   * loss the transport declares proves the path alive) */
  id = zt_pmtu_probe_sent(&p, now, 200 * MS);
  CHECK_EQ_INT(zt_pmtu_expiry(&p), now + ZT_PMTU_PROBE_TIMEOUT_MIN_MS * MS);
  now += ZT_PMTU_PROBE_TIMEOUT_MIN_MS * MS;
  zt_pmtu_handle_expiry(&p, now);
  CHECK_EQ_INT(p.probe_lost, 1);
  CHECK_EQ_INT(p.plpmtu, 1200);
  CHECK_EQ_INT(p.probes_lost, 1);
  CHECK_EQ_INT(zt_pmtu_probe_size(&p), MAX);
  zt_pmtu_probe_acked(&p, id, now); /* too late: that probe was given up */
  CHECK_EQ_INT(p.plpmtu, 1200);
}

/* Everything large lost, nothing acknowledged: only loss-probe timeouts
 * tell, and they make a black hole too, but only with large packets sent. */
static void test_black_hole_by_pto(void) {
  struct zt_pmtu p;
  uint64_t now = 0;
  zt_pmtu_init(&p, ZT_PMTU_BASE, MAX, now);
  run_path(&p, 1500, &now, 10);
  zt_pmtu_pto(&p, 5, now); /* nothing large sent yet: a cut, not a hole */
  CHECK_EQ_INT(p.plpmtu, MAX);
  send_dgram(&p, 1000, now); /* small ones do not count */
  zt_pmtu_pto(&p, 5, now);
  CHECK_EQ_INT(p.plpmtu, MAX);
  send_dgram(&p, MAX, now);
  zt_pmtu_pto(&p, ZT_PMTU_BLACK_HOLE_PTOS - 1, now);
  CHECK_EQ_INT(p.plpmtu, MAX);
  zt_pmtu_pto(&p, ZT_PMTU_BLACK_HOLE_PTOS, now);
  CHECK_EQ_INT(p.plpmtu, 1200);
  CHECK_EQ_INT(p.black_holes, 1);
  /* max is tried first again: the cut may have been short */
  CHECK_EQ_INT(zt_pmtu_probe_size(&p), MAX);
  zt_pmtu_pto(&p, ZT_PMTU_BLACK_HOLE_PTOS + 1, now);
  CHECK_EQ_INT(p.black_holes, 1);
}

static void test_black_hole(void) {
  struct zt_pmtu p;
  uint64_t now = 0;
  zt_pmtu_init(&p, ZT_PMTU_BASE, MAX, now);
  run_path(&p, 1500, &now, 10);
  CHECK_EQ_INT(p.plpmtu, MAX);
  p.changed = false;
  /* small datagrams are numbered, not remembered */
  uint64_t small = send_dgram(&p, 1200, now);
  CHECK(small != 0);
  CHECK_EQ_INT(p.npending, 0);
  zt_pmtu_data_lost(&p, small, now);
  CHECK_EQ_INT(p.bh_losses, 0);
  /* congestion: losses with later large datagrams acknowledged */
  uint64_t s[20];
  for (int i = 0; i < 20; i++)
    s[i] = send_dgram(&p, MAX, now);
  CHECK(s[0] > small);
  CHECK_EQ_INT(p.npending, ZT_PMTU_PENDING); /* the oldest forgotten */
  zt_pmtu_data_acked(&p, s[10], MAX);
  for (int i = 0; i < 10; i++)
    zt_pmtu_data_lost(&p, s[i], now);
  CHECK_EQ_INT(p.plpmtu, MAX);
  /* two after it lost, then one acked: still not a black hole */
  zt_pmtu_data_lost(&p, s[11], now);
  zt_pmtu_data_lost(&p, s[12], now);
  zt_pmtu_data_acked(&p, s[13], MAX);
  zt_pmtu_data_lost(&p, s[14], now);
  zt_pmtu_data_lost(&p, s[15], now);
  CHECK_EQ_INT(p.plpmtu, MAX);
  /* the path shrinks to 1252: every large one lost from now on */
  zt_pmtu_data_lost(&p, s[16], now);
  CHECK_EQ_INT(p.plpmtu, 1200);
  CHECK(p.changed);
  CHECK_EQ_INT(p.why, ZT_PMTU_WHY_BLACK_HOLE);
  CHECK_EQ_INT(p.black_holes, 1);
  /* older losses do not count against the new size */
  zt_pmtu_data_lost(&p, s[17], now);
  zt_pmtu_data_lost(&p, s[18], now);
  zt_pmtu_data_lost(&p, s[19], now);
  CHECK_EQ_INT(p.black_holes, 1);
  /* ... and the search runs again, finding the new size */
  CHECK_EQ_INT(p.state, ZT_PMTU_SEARCHING);
  run_path(&p, 1252, &now, 100);
  CHECK_EQ_INT(p.plpmtu, 1252);
  CHECK_EQ_INT(p.state, ZT_PMTU_COMPLETE);
}

/* The large datagrams a later acknowledgement passed over are lost, when
 * the transport says nothing (ngtcp2 after a loss probe): a lone large one
 * among small ones, three times, is a black hole. The acknowledgements of
 * one ACK frame come in any order: only the sweep after all of them
 * judges, with RFC 9002's packet and time thresholds. */
static void test_black_hole_by_sweep(void) {
  struct zt_pmtu p;
  uint64_t now = 0, delay = 2 * MS;
  zt_pmtu_init(&p, ZT_PMTU_BASE, MAX, now);
  run_path(&p, 1500, &now, 10);
  CHECK_EQ_INT(p.plpmtu, MAX);
  /* a large datagram the transport did not take (its window full) is
   * not in flight: the next try carries its number, nothing to judge */
  uint64_t untaken = zt_pmtu_data_seq(&p);
  uint64_t retry = send_dgram(&p, 500, now);
  CHECK_EQ_INT(retry, untaken);
  CHECK_EQ_INT(p.npending, 0);
  CHECK_EQ_INT(p.last_large, 0);
  /* acknowledged out of order within one frame: nothing lost */
  uint64_t a = send_dgram(&p, MAX, now);
  uint64_t b = send_dgram(&p, 500, now);
  zt_pmtu_data_acked(&p, b, 500);
  zt_pmtu_data_acked(&p, a, MAX);
  CHECK_EQ_INT(zt_pmtu_sweep(&p, now + 10 * MS, delay), 0);
  CHECK_EQ_INT(p.npending, 0);
  /* one later small one acknowledged at once: maybe reordered, not yet */
  a = send_dgram(&p, MAX, now);
  b = send_dgram(&p, 500, now);
  zt_pmtu_data_acked(&p, b, 500);
  CHECK_EQ_INT(zt_pmtu_sweep(&p, now + delay - 1, delay), 0);
  CHECK_EQ_INT(p.bh_losses, 0);
  /* ... lost once the time threshold passed */
  now += delay;
  CHECK_EQ_INT(zt_pmtu_sweep(&p, now, delay), 1);
  CHECK_EQ_INT(p.bh_losses, 1);
  /* the transport reporting it too counts nothing more */
  zt_pmtu_data_lost(&p, a, now);
  CHECK_EQ_INT(p.bh_losses, 1);
  /* packet threshold: ZT_PMTU_REORDER later ones acknowledged */
  a = send_dgram(&p, MAX, now);
  for (int i = 0; i < ZT_PMTU_REORDER; i++)
    b = send_dgram(&p, 500, now);
  zt_pmtu_data_acked(&p, b, 500);
  CHECK_EQ_INT(zt_pmtu_sweep(&p, now, delay), 1);
  CHECK_EQ_INT(p.bh_losses, 2);
  CHECK_EQ_INT(p.plpmtu, MAX);
  /* the third: black hole, and what was in flight is forgotten */
  a = send_dgram(&p, MAX, now);
  b = send_dgram(&p, 500, now);
  uint64_t c = send_dgram(&p, MAX, now);
  zt_pmtu_data_acked(&p, b, 500);
  now += delay;
  CHECK_EQ_INT(zt_pmtu_sweep(&p, now, delay), 1);
  CHECK_EQ_INT(p.black_holes, 1);
  CHECK_EQ_INT(p.plpmtu, 1200);
  CHECK_EQ_INT(p.npending, 0);
  zt_pmtu_data_lost(&p, c, now);
  CHECK_EQ_INT(p.bh_losses, 0);
  /* a large one acknowledged in between resets the count */
  run_path(&p, 1500, &now, 10);
  CHECK_EQ_INT(p.plpmtu, MAX);
  for (int round = 0; round < 4; round++) {
    a = send_dgram(&p, MAX, now);
    b = send_dgram(&p, 500, now);
    zt_pmtu_data_acked(&p, b, 500);
    now += delay;
    zt_pmtu_sweep(&p, now, delay);
    if (round == 1) {
      c = send_dgram(&p, MAX, now);
      zt_pmtu_data_acked(&p, c, MAX);
    }
  }
  CHECK_EQ_INT(p.black_holes, 1);
  CHECK_EQ_INT(p.bh_losses, 2);
}

static void test_raise_timer(void) {
  struct zt_pmtu p;
  uint64_t now = 0;
  zt_pmtu_init(&p, ZT_PMTU_BASE, MAX, now);
  run_path(&p, 1252, &now, 100);
  CHECK_EQ_INT(p.plpmtu, 1252);
  uint64_t at = zt_pmtu_expiry(&p);
  CHECK(at != UINT64_MAX);
  CHECK(at >= now + (ZT_PMTU_RAISE_MS - 1000) * MS);
  zt_pmtu_handle_expiry(&p, at - 1);
  CHECK_EQ_INT(zt_pmtu_probe_size(&p), 0);
  zt_pmtu_handle_expiry(&p, at);
  CHECK_EQ_INT(zt_pmtu_probe_size(&p), MAX);
  now = at;
  run_path(&p, 1500, &now, 100); /* the path grew */
  CHECK_EQ_INT(p.plpmtu, MAX);
  /* a path that did not grow: max fails, and the search is complete at
   * once with what it had found, not run again from the top */
  zt_pmtu_init(&p, ZT_PMTU_BASE, MAX, now);
  run_path(&p, 1300, &now, 100);
  size_t found = p.plpmtu, failed = p.fail_size;
  CHECK(found <= 1300 && found > 1300 - ZT_PMTU_SEARCH_GAP);
  zt_pmtu_handle_expiry(&p, zt_pmtu_expiry(&p));
  CHECK_EQ_INT(zt_pmtu_probe_size(&p), MAX);
  now += ZT_PMTU_RAISE_MS * MS;
  CHECK_EQ_INT(run_path(&p, 1300, &now, 100), ZT_PMTU_MAX_PROBES);
  CHECK_EQ_INT(p.state, ZT_PMTU_COMPLETE);
  CHECK_EQ_INT(p.plpmtu, found);
  CHECK_EQ_INT(p.fail_size, failed);
  CHECK(zt_pmtu_expiry(&p) > now); /* the next raise, later */
}

static void test_restart_new_path(void) {
  struct zt_pmtu p;
  uint64_t now = 0;
  zt_pmtu_init(&p, ZT_PMTU_BASE, 1399, now);
  CHECK_EQ_INT(zt_pmtu_probe_size(&p), 1399);
  run_path(&p, 1500, &now, 10);
  CHECK_EQ_INT(p.plpmtu, 1399);
  zt_pmtu_restart(&p, now);
  CHECK_EQ_INT(p.plpmtu, 1200);
  CHECK_EQ_INT(p.why, ZT_PMTU_WHY_NEW_PATH);
  CHECK_EQ_INT(zt_pmtu_probe_size(&p), 1399);
}

int main(void) {
  RUN(test_clean_path_one_probe);
  RUN(test_1280_path_stops_at_1252);
  RUN(test_probe_loss_is_not_failure);
  RUN(test_only_own_ack_confirms);
  RUN(test_black_hole);
  RUN(test_black_hole_by_sweep);
  RUN(test_black_hole_by_pto);
  RUN(test_raise_timer);
  RUN(test_restart_new_path);
  return TEST_EXIT();
}

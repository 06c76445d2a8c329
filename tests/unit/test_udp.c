/* udp: loopback sockets, batched receive with peers, oversized datagrams
 * skipped, bind errors that name the address, send results, dual-stack. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "netns_child.h"
#include "udp.h"

#define CAP 1500
#define N 8

static uint8_t store[N][CAP];
static uint8_t *bufs[N];
static size_t lens[N];
static struct sockaddr_storage peers[N];
static socklen_t peerlens[N];

static struct sockaddr_in loopback(uint16_t port) {
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sin.sin_port = htons(port);
  return sin;
}

static int open_loopback(char *err, size_t errlen) {
  struct sockaddr_in sin = loopback(0);
  return zt_udp_open((struct sockaddr *)&sin, sizeof(sin), err, errlen);
}

static void reset_bufs(void) {
  for (int i = 0; i < N; i++)
    bufs[i] = store[i];
  memset(lens, 0, sizeof(lens));
}

static int wait_readable(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return poll(&p, 1, 1000);
}

static void test_batch_with_peers(void) {
  char err[256] = "";
  int a = open_loopback(err, sizeof(err));
  int b = open_loopback(err, sizeof(err));
  CHECK(a >= 0 && b >= 0);
  struct sockaddr_storage la, lb;
  socklen_t lal, lbl;
  CHECK_EQ_INT(zt_udp_local(a, &la, &lal), 0);
  CHECK_EQ_INT(zt_udp_local(b, &lb, &lbl), 0);
  CHECK_EQ_INT(lal, sizeof(struct sockaddr_in));
  CHECK(((struct sockaddr_in *)&lb)->sin_port != 0);

  reset_bufs();
  CHECK_EQ_INT(zt_udp_recv_batch(b, bufs, CAP, lens, peers, peerlens, N), 0);
  for (int i = 0; i < 5; i++) {
    uint8_t msg[32];
    memset(msg, 'A' + i, sizeof(msg));
    CHECK_EQ_INT(zt_udp_send(a, (struct sockaddr *)&lb, lbl, msg, 10 + i), 0);
  }
  CHECK(wait_readable(b) == 1);
  int n = zt_udp_recv_batch(b, bufs, CAP, lens, peers, peerlens, N);
  CHECK_EQ_INT(n, 5);
  for (int i = 0; i < 5; i++) {
    CHECK_EQ_INT(lens[i], 10 + i);
    CHECK_EQ_INT(bufs[i][0], 'A' + i);
    CHECK_EQ_INT(bufs[i][lens[i] - 1], 'A' + i);
    CHECK_EQ_INT(peerlens[i], lal);
    CHECK(memcmp(&peers[i], &la, lal) == 0);
  }
  CHECK_EQ_INT(zt_udp_recv_batch(b, bufs, CAP, lens, peers, peerlens, N), 0);
  close(a);
  close(b);
}

/* More waiting than n: n now, the rest on the next call. */
static void test_batch_limit(void) {
  char err[256] = "";
  int a = open_loopback(err, sizeof(err));
  int b = open_loopback(err, sizeof(err));
  CHECK(a >= 0 && b >= 0);
  struct sockaddr_storage lb;
  socklen_t lbl;
  CHECK_EQ_INT(zt_udp_local(b, &lb, &lbl), 0);
  for (int i = 0; i < 5; i++) {
    uint8_t c = (uint8_t)i;
    CHECK_EQ_INT(zt_udp_send(a, (struct sockaddr *)&lb, lbl, &c, 1), 0);
  }
  CHECK(wait_readable(b) == 1);
  reset_bufs();
  CHECK_EQ_INT(zt_udp_recv_batch(b, bufs, CAP, lens, peers, peerlens, 3), 3);
  CHECK_EQ_INT(bufs[2][0], 2);
  reset_bufs();
  CHECK_EQ_INT(zt_udp_recv_batch(b, bufs, CAP, lens, peers, peerlens, 3), 2);
  CHECK_EQ_INT(bufs[0][0], 3);
  CHECK_EQ_INT(bufs[1][0], 4);
  close(a);
  close(b);
}

/* small, too big, small: the big one is skipped and the second small one
 * moves down into its slot. Then only big ones: 0, nothing left queued. */
static void test_oversized_skipped(void) {
  char err[256] = "";
  static uint8_t big[CAP + 500];
  int a = open_loopback(err, sizeof(err));
  int b = open_loopback(err, sizeof(err));
  CHECK(a >= 0 && b >= 0);
  struct sockaddr_storage lb;
  socklen_t lbl;
  CHECK_EQ_INT(zt_udp_local(b, &lb, &lbl), 0);
  memset(big, 'B', sizeof(big));
  CHECK_EQ_INT(zt_udp_send(a, (struct sockaddr *)&lb, lbl,
                           (const uint8_t *)"first", 5), 0);
  CHECK_EQ_INT(zt_udp_send(a, (struct sockaddr *)&lb, lbl, big, sizeof(big)),
               0);
  CHECK_EQ_INT(zt_udp_send(a, (struct sockaddr *)&lb, lbl,
                           (const uint8_t *)"second!", 7), 0);
  CHECK(wait_readable(b) == 1);
  reset_bufs();
  int n = zt_udp_recv_batch(b, bufs, CAP, lens, peers, peerlens, N);
  CHECK_EQ_INT(n, 2);
  CHECK_EQ_INT(lens[0], 5);
  CHECK(memcmp(bufs[0], "first", 5) == 0);
  CHECK_EQ_INT(lens[1], 7);
  CHECK(memcmp(bufs[1], "second!", 7) == 0);

  /* A datagram of exactly cap bytes is not truncated. */
  CHECK_EQ_INT(zt_udp_send(a, (struct sockaddr *)&lb, lbl, big, CAP), 0);
  CHECK(wait_readable(b) == 1);
  CHECK_EQ_INT(zt_udp_recv_batch(b, bufs, CAP, lens, peers, peerlens, N), 1);
  CHECK_EQ_INT(lens[0], CAP);

  /* A full batch of oversized ones followed by a good one: the good one is
   * still returned by the same call. */
  for (int i = 0; i < 3; i++)
    CHECK_EQ_INT(
        zt_udp_send(a, (struct sockaddr *)&lb, lbl, big, sizeof(big)), 0);
  CHECK_EQ_INT(zt_udp_send(a, (struct sockaddr *)&lb, lbl,
                           (const uint8_t *)"ok", 2), 0);
  CHECK(wait_readable(b) == 1);
  reset_bufs();
  CHECK_EQ_INT(zt_udp_recv_batch(b, bufs, CAP, lens, peers, peerlens, 2), 1);
  CHECK_EQ_INT(lens[0], 2);
  CHECK_EQ_INT(zt_udp_recv_batch(b, bufs, CAP, lens, peers, peerlens, N), 0);
  close(a);
  close(b);
}

static void test_bind_error_names_address(void) {
  char err[256] = "";
  int a = open_loopback(err, sizeof(err));
  CHECK(a >= 0);
  struct sockaddr_storage la;
  socklen_t lal;
  CHECK_EQ_INT(zt_udp_local(a, &la, &lal), 0);
  uint16_t port = ntohs(((struct sockaddr_in *)&la)->sin_port);
  struct sockaddr_in again = loopback(port);
  CHECK_EQ_INT(zt_udp_open((struct sockaddr *)&again, sizeof(again), err,
                           sizeof(err)),
               -1);
  char want[64];
  snprintf(want, sizeof(want), "bind 127.0.0.1:%u: Address already in use",
           port);
  CHECK_STR(err, want);
  close(a);
}

static void test_send_results(void) {
  char err[256] = "";
  int a = open_loopback(err, sizeof(err));
  CHECK(a >= 0);
  struct sockaddr_in to = loopback(9); /* nobody listens: still sent */
  static uint8_t huge[70000];
  CHECK_EQ_INT(zt_udp_send(a, (struct sockaddr *)&to, sizeof(to),
                           (const uint8_t *)"x", 1), 0);
  /* Over the UDP maximum: EMSGSIZE is an error, not "would block". */
  CHECK_EQ_INT(zt_udp_send(a, (struct sockaddr *)&to, sizeof(to), huge,
                           sizeof(huge)), -1);
  CHECK_EQ_INT(errno, EMSGSIZE);
  /* DF on: the socket never fragments. */
  int pmtu = -1;
  socklen_t ol = sizeof(pmtu);
  CHECK_EQ_INT(getsockopt(a, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, &ol), 0);
  CHECK_EQ_INT(pmtu, IP_PMTUDISC_DO);
  /* Non-blocking, so a full buffer can only ever mean "would block". */
  CHECK(fcntl(a, F_GETFL) & O_NONBLOCK);
  close(a);
}

/* An IPv6 socket bound to :: also takes IPv4 peers. Only a kernel without
 * IPv6 sockets is a reason to skip; once an AF_INET6 socket can be had,
 * any failure of zt_udp_open (IPV6_V6ONLY, MTU discovery, bind) is a bug. */
static void test_dual_stack(void) {
  char err[256] = "";
  int probe = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (probe < 0 && (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT))
    SKIP("no IPv6 sockets in this kernel: %s", strerror(errno));
  CHECK(probe >= 0);
  close(probe);
  struct sockaddr_in6 any6;
  memset(&any6, 0, sizeof(any6));
  any6.sin6_family = AF_INET6;
  any6.sin6_addr = in6addr_any;
  int s6 = zt_udp_open((struct sockaddr *)&any6, sizeof(any6), err,
                       sizeof(err));
  if (s6 < 0)
    fprintf(stderr, "zt_udp_open([::]:0): %s\n", err);
  CHECK(s6 >= 0);
  int a = open_loopback(err, sizeof(err));
  CHECK(a >= 0);
  struct sockaddr_storage l6, la;
  socklen_t l6l, lal;
  CHECK_EQ_INT(zt_udp_local(s6, &l6, &l6l), 0);
  CHECK_EQ_INT(zt_udp_local(a, &la, &lal), 0);
  struct sockaddr_in to = loopback(ntohs(((struct sockaddr_in6 *)&l6)->sin6_port));
  CHECK_EQ_INT(zt_udp_send(a, (struct sockaddr *)&to, sizeof(to),
                           (const uint8_t *)"v4", 2), 0);
  CHECK(wait_readable(s6) == 1);
  reset_bufs();
  CHECK_EQ_INT(zt_udp_recv_batch(s6, bufs, CAP, lens, peers, peerlens, N), 1);
  CHECK_EQ_INT(peers[0].ss_family, AF_INET6);
  struct sockaddr_in6 *p6 = (struct sockaddr_in6 *)&peers[0];
  CHECK(IN6_IS_ADDR_V4MAPPED(&p6->sin6_addr));
  CHECK(p6->sin6_port == ((struct sockaddr_in *)&la)->sin_port);
  /* And back: the v6 socket sends to a plain IPv4 address. */
  CHECK_EQ_INT(zt_udp_send(s6, (struct sockaddr *)&la, lal,
                           (const uint8_t *)"back", 4), 0);
  CHECK(wait_readable(a) == 1);
  CHECK_EQ_INT(zt_udp_recv_batch(a, bufs, CAP, lens, peers, peerlens, N), 1);
  CHECK_EQ_INT(lens[0], 4);
  close(a);
  close(s6);
}

/* Receives until `want` datagrams are in bufs/lens (or a second passes
 * without more); returns how many arrived. */
static int recv_up_to(int fd, int want) {
  int got = 0;
  reset_bufs();
  while (got < want && wait_readable(fd) == 1) {
    int n = zt_udp_recv_batch(fd, bufs + got, CAP, lens + got, peers + got,
                              peerlens + got, N - got);
    if (n < 0)
      return got;
    got += n;
  }
  return got;
}

/* Batched sending: to two receivers, interleaved, equal sizes with a
 * shorter one and a longer one for the first receiver. Each receiver gets
 * every datagram, intact and in the order queued; the equal-sized run went
 * out as GSO messages (unless the kernel refused, then singly). */
static void test_send_batch_gso(void) {
  char err[256] = "";
  int a = open_loopback(err, sizeof(err));
  int r1 = open_loopback(err, sizeof(err));
  int r2 = open_loopback(err, sizeof(err));
  CHECK(a >= 0 && r1 >= 0 && r2 >= 0);
  struct sockaddr_storage l1, l2;
  socklen_t l1l, l2l;
  CHECK_EQ_INT(zt_udp_local(r1, &l1, &l1l), 0);
  CHECK_EQ_INT(zt_udp_local(r2, &l2, &l2l), 0);
  static struct zt_udp_batch bt;
  memset(&bt, 0, sizeof(bt));
  bt.fd = a;
  /* r1: 5 x 1000 bytes, 1 x 300, 1 x 1200; r2: 3 x 100 between them. */
  static const unsigned sizes1[] = {1000, 1000, 1000, 1000, 1000, 300, 1200};
  uint8_t msg[1500];
  for (unsigned i = 0; i < 7; i++) {
    memset(msg, 'a' + (int)i, sizeof(msg));
    CHECK_EQ_INT(zt_udp_batch_add(&bt, (struct sockaddr *)&l1, l1l, msg,
                                  sizes1[i]),
                 0);
    if (i % 2 == 0 && i < 6) {
      memset(msg, 'A' + (int)i, sizeof(msg));
      CHECK_EQ_INT(
          zt_udp_batch_add(&bt, (struct sockaddr *)&l2, l2l, msg, 100), 0);
    }
  }
  CHECK_EQ_INT(zt_udp_batch_flush(&bt), 0);
  CHECK_EQ_INT(bt.n, 0);
  bool gso = !bt.no_gso;
  if (gso) {
    CHECK(bt.gso_messages >= 2);  /* r1's run and r2's */
    CHECK_EQ_INT(bt.gso_segments, 6 + 3);
  }
  CHECK_EQ_INT(recv_up_to(r1, 7), 7);
  for (unsigned i = 0; i < 7; i++) {
    CHECK_EQ_INT(lens[i], sizes1[i]);
    CHECK_EQ_INT(bufs[i][0], 'a' + (int)i);
    CHECK_EQ_INT(bufs[i][lens[i] - 1], 'a' + (int)i);
  }
  CHECK_EQ_INT(recv_up_to(r2, 3), 3);
  for (unsigned i = 0; i < 3; i++) {
    CHECK_EQ_INT(lens[i], 100);
    CHECK_EQ_INT(bufs[i][0], 'A' + (int)(2 * i));
  }
  close(a);
  close(r1);
  close(r2);
  /* Delivery through the fallback was checked, GSO itself was not. */
  if (!gso)
    SKIP("kernel refused UDP GSO: only the unsegmented fallback was checked");
}

/* GRO: a GSO run of 6 x 1000 + 300 bytes to a GRO socket arrives as one
 * message of 6300 bytes with segment size 1000 (loopback keeps the GSO
 * buffer whole), and zt_udp_next_segment gives back the 7 datagrams
 * intact. A socket without GRO gets them one by one, as before. */
static void test_recv_gro(void) {
  char err[256] = "";
  int a = open_loopback(err, sizeof(err));
  int r = open_loopback(err, sizeof(err));
  CHECK(a >= 0 && r >= 0);
  if (!zt_udp_enable_gro(r)) {
    close(a);
    close(r);
    SKIP("kernel has no UDP_GRO");
    return;
  }
  struct sockaddr_storage lr;
  socklen_t lrl;
  CHECK_EQ_INT(zt_udp_local(r, &lr, &lrl), 0);
  static struct zt_udp_batch bt;
  memset(&bt, 0, sizeof(bt));
  bt.fd = a;
  uint8_t msg[1500];
  for (unsigned i = 0; i < 7; i++) {
    memset(msg, 'a' + (int)i, sizeof(msg));
    CHECK_EQ_INT(zt_udp_batch_add(&bt, (struct sockaddr *)&lr, lrl, msg,
                                  i < 6 ? 1000 : 300),
                 0);
  }
  CHECK_EQ_INT(zt_udp_batch_flush(&bt), 0);
  CHECK(wait_readable(r) == 1);
  static uint8_t big[2][ZT_UDP_GRO_MAX];
  uint8_t *gbufs[2] = {big[0], big[1]};
  size_t glens[2], segs[2];
  int n = zt_udp_recv_gro(r, gbufs, ZT_UDP_GRO_MAX, glens, segs, peers,
                          peerlens, 2);
  if (bt.no_gso) {
    /* No GSO, no coalescing to check: at least the first came singly. */
    CHECK(n >= 1);
    CHECK_EQ_INT(segs[0], glens[0]);
    SKIP("kernel refused UDP GSO: GRO of a GSO message not checked");
  } else {
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(glens[0], 6 * 1000 + 300);
    CHECK_EQ_INT(segs[0], 1000);
    size_t off = 0, len;
    unsigned k = 0;
    while ((len = zt_udp_next_segment(glens[0], segs[0], &off))) {
      const uint8_t *d = big[0] + off - len;
      CHECK_EQ_INT(len, k < 6 ? 1000 : 300);
      CHECK_EQ_INT(d[0], 'a' + (int)k);
      CHECK_EQ_INT(d[len - 1], 'a' + (int)k);
      k++;
    }
    CHECK_EQ_INT(k, 7);
  }
  close(a);
  close(r);
}

/* The Intermediate's deeper receive queue: as root past rmem_max (the
 * kernel reports twice the ask, its bookkeeping included). */
/* In a namespace of its own: a route with MTU 1280 (what an ICMP
 * "fragmentation needed" teaches the kernel). A GSO run of segments too
 * big for it is refused (EMSGSIZE here, EINVAL from some kernels), sent
 * singly and lost: the path's doing, so GSO must stay on for the next
 * run, which fits. */
static void gso_too_big_in_namespace(void) {
  char out[512];
  if (capture("ip link add zt0 type veth peer name zt1 2>&1 &&"
              " ip link set zt0 up && ip link set zt1 up &&"
              " ip addr add 10.9.0.1/24 dev zt0 &&"
              " ip route add 10.9.9.0/24 dev zt0 mtu lock 1280 2>&1",
              out, sizeof(out)) != 0) {
    SKIP("no veth in the test's namespace");
    return;
  }
  char err[256] = "";
  struct sockaddr_in any = loopback(0);
  any.sin_addr.s_addr = htonl(INADDR_ANY);
  int fd = zt_udp_open((struct sockaddr *)&any, sizeof(any), err, sizeof(err));
  CHECK(fd >= 0);
  struct sockaddr_in to = loopback(9);
  to.sin_addr.s_addr = htonl(0x0a090902); /* 10.9.9.2, behind zt0 */
  static struct zt_udp_batch bt;
  memset(&bt, 0, sizeof(bt));
  bt.fd = fd;
  uint8_t msg[1452];
  memset(msg, 'x', sizeof(msg));
  for (int i = 0; i < 3; i++)
    zt_udp_batch_add(&bt, (struct sockaddr *)&to, sizeof(to), msg, 1400);
  CHECK_EQ_INT(zt_udp_batch_flush(&bt), 3); /* all too big, all dropped */
  CHECK(!bt.no_gso);
  uint64_t before = bt.gso_messages;
  for (int i = 0; i < 3; i++)
    zt_udp_batch_add(&bt, (struct sockaddr *)&to, sizeof(to), msg, 1000);
  CHECK_EQ_INT(zt_udp_batch_flush(&bt), 0);
  CHECK_EQ_INT(bt.gso_messages, before + 1);
  close(fd);
}

static void test_gso_too_big_keeps_gso(void) {
  int st = run_in_new_netns(gso_too_big_in_namespace);
  if (st == NETNS_SKIPPED) {
    SKIP(netns_skip_reason);
    return;
  }
  CHECK_EQ_INT(st, 0);
}

static void test_set_rcvbuf(void) {
  char err[256];
  int fd = open_loopback(err, sizeof(err));
  CHECK(fd >= 0);
  if (geteuid() != 0) {
    close(fd);
    SKIP("not root: SO_RCVBUFFORCE needs CAP_NET_ADMIN");
  }
  int got = zt_udp_set_rcvbuf(fd, 32 << 20);
  CHECK(got >= 32 << 20);
  got = zt_udp_set_rcvbuf(fd, 1 << 20);
  CHECK(got >= 1 << 20 && got < 32 << 20);
  close(fd);
  CHECK_EQ_INT(zt_udp_set_rcvbuf(-1, 1 << 20), -1);
}

int main(void) {
  RUN(test_batch_with_peers);
  RUN(test_set_rcvbuf);
  RUN(test_batch_limit);
  RUN(test_oversized_skipped);
  RUN(test_bind_error_names_address);
  RUN(test_send_results);
  RUN(test_dual_stack);
  RUN(test_send_batch_gso);
  RUN(test_recv_gro);
  RUN(test_gso_too_big_keeps_gso);
  return TEST_EXIT();
}

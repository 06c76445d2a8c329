/* steer: connection-ID steering of Intermediate workers. (a) the model
 * (core/steer.c) on hand-made packets; (b) the classic BPF program
 * (platform/steerprog.c) run in an interpreter against the model over many
 * random and edge-case packets; (c) a real SO_REUSEPORT group on loopback
 * (platform/reuseport.c): each datagram lands on the socket the model
 * names, and those the model leaves to the kernel's hash land on one
 * socket per sender. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../tools/cbpf.h"
#include "reuseport.h"
#include "steer.h"
#include "steerprog.h"
#include "test.h"
#include "udp.h"

/* A short-header packet to key `key` (len >= 5). */
static size_t short_pkt(uint8_t *b, uint32_t key, size_t len) {
  memset(b, 0xab, len);
  b[0] = 0x40;
  b[1] = (uint8_t)(key >> 24);
  b[2] = (uint8_t)(key >> 16);
  b[3] = (uint8_t)(key >> 8);
  b[4] = (uint8_t)key;
  return len;
}

/* A long-header (Initial) packet with a DCID of dcidlen bytes starting with
 * `key` (len >= 10). */
static size_t long_pkt(uint8_t *b, uint32_t key, uint8_t dcidlen,
                       size_t len) {
  memset(b, 0xcd, len);
  b[0] = 0xc0;
  b[1] = b[2] = b[3] = 0;
  b[4] = 1;
  b[5] = dcidlen;
  b[6] = (uint8_t)(key >> 24);
  b[7] = (uint8_t)(key >> 16);
  b[8] = (uint8_t)(key >> 8);
  b[9] = (uint8_t)key;
  return len;
}

static void test_model(void) {
  uint8_t b[64] = {0};
  /* one worker: everything is worker 0's, even nothing */
  CHECK_EQ_INT(zt_steer_worker(b, 0, 1), 0);
  CHECK_EQ_INT(zt_steer_worker(b, short_pkt(b, 7, 20), 1), 0);
  CHECK_EQ_INT(zt_steer_worker(b, short_pkt(b, 7, 20), 0), 0);
  for (unsigned n = 2; n <= 4; n++) {
    for (uint32_t key = 1; key < 20; key++) {
      CHECK_EQ_INT(zt_steer_worker(b, short_pkt(b, key, 17), n), key % n);
      CHECK_EQ_INT(zt_steer_worker(b, short_pkt(b, key, 5), n), key % n);
      CHECK_EQ_INT(zt_steer_worker(b, long_pkt(b, key, 16, 40), n), key % n);
      CHECK_EQ_INT(zt_steer_worker(b, long_pkt(b, key, 4, 10), n), key % n);
      CHECK_EQ_INT(zt_steer_owner(key, n), key % n);
    }
    uint32_t big = 0xfffffffeu; /* the key is unsigned, big-endian */
    CHECK_EQ_INT(zt_steer_worker(b, short_pkt(b, big, 17), n), big % n);
    CHECK_EQ_INT(zt_steer_worker(b, long_pkt(b, big, 16, 40), n), big % n);
    /* key 0: a Retry-answered Initial, the kernel's hash */
    CHECK_EQ_INT(zt_steer_worker(b, long_pkt(b, 0, 16, 40), n), -1);
    CHECK_EQ_INT(zt_steer_worker(b, short_pkt(b, 0, 17), n), -1);
    /* too short for a key */
    CHECK_EQ_INT(zt_steer_worker(b, 0, n), -1);
    CHECK_EQ_INT(zt_steer_worker(b, short_pkt(b, 5, 5) - 1, n), -1);
    CHECK_EQ_INT(zt_steer_worker(b, long_pkt(b, 5, 16, 10) - 1, n), -1);
    CHECK_EQ_INT(zt_steer_worker(b, long_pkt(b, 5, 3, 40), n), -1);
    CHECK_EQ_INT(zt_steer_worker(b, long_pkt(b, 5, 0, 40), n), -1);
  }
  CHECK_EQ_INT(zt_steer_owner(12345, 1), 0);
}

/* The program's choice in the model's terms: an index, or -1 for a return
 * value the kernel answers with its hash. -2: the program is broken. */
static int prog_worker(const struct sock_filter *prog, size_t plen,
                       const uint8_t *pkt, size_t len, unsigned n) {
  uint64_t r = cbpf_run(prog, plen, pkt, len);
  if (r == CBPF_BAD)
    return -2;
  return r >= n ? -1 : (int)r;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}

static void test_program_matches_model(void) {
  struct sock_filter prog[ZT_STEER_CBPF_MAX];
  uint8_t b[64];
  CHECK_EQ_INT(zt_steer_cbpf(3, prog, 4), 0); /* too little room */
  size_t plen = zt_steer_cbpf(1, prog, ZT_STEER_CBPF_MAX);
  CHECK(plen > 0);
  CHECK_EQ_INT(prog_worker(prog, plen, b, short_pkt(b, 9, 20), 1), 0);
  unsigned checked = 0, hashed = 0, steered = 0;
  for (unsigned n = 2; n <= 8; n++) {
    plen = zt_steer_cbpf(n, prog, ZT_STEER_CBPF_MAX);
    CHECK(plen > 0 && plen <= ZT_STEER_CBPF_MAX);
    /* edges: every length 0..24 of both forms, DCID lengths 0..20, keys
     * 0, 1, n-1, n, and the top of the range */
    static const uint32_t keys[] = {0, 1, 2, 7, 8, 0x7fffffff, 0x80000000,
                                    0xffffffff};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
      for (size_t len = 0; len <= 24; len++)
        for (unsigned dl = 0; dl <= 20; dl += 1) {
          long_pkt(b, keys[k], (uint8_t)dl, 24);
          int want = zt_steer_worker(b, len, n);
          CHECK_EQ_INT(prog_worker(prog, plen, b, len, n), want);
          short_pkt(b, keys[k], 24);
          want = zt_steer_worker(b, len, n);
          CHECK_EQ_INT(prog_worker(prog, plen, b, len, n), want);
          checked += 2;
        }
    /* random packets, biased toward the interesting bytes */
    for (int i = 0; i < 5000; i++) {
      size_t len = rnd() % 40;
      for (size_t j = 0; j < len; j++)
        b[j] = (uint8_t)rnd();
      if (len > 9 && rnd() % 4 == 0)
        memset(b + (b[0] & 0x80 ? 6 : 1), 0, 4); /* key 0 */
      if (len > 5 && rnd() % 2)
        b[5] = (uint8_t)(rnd() % 8); /* DCID lengths around 4 */
      int want = zt_steer_worker(b, len, n);
      CHECK_EQ_INT(prog_worker(prog, plen, b, len, n), want);
      checked++;
      hashed += want < 0;
      steered += want >= 0;
    }
  }
  /* the random packets reached both outcomes */
  CHECK(hashed > 1000 && steered > 1000);
  printf("  %u packets: program == model\n", checked);
}

/* ---- (c) real sockets ----------------------------------------------------- */

#define MAXW 4

/* Which of the group's sockets got `pkt` (checking its bytes), or -1. */
static int landed(const int *fds, unsigned n, const uint8_t *pkt,
                  size_t len) {
  struct pollfd p[MAXW];
  for (unsigned i = 0; i < n; i++)
    p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
  if (poll(p, n, 2000) <= 0)
    return -1;
  int who = -1;
  for (unsigned i = 0; i < n; i++) {
    if (!(p[i].revents & POLLIN))
      continue;
    uint8_t got[128];
    ssize_t r = recv(fds[i], got, sizeof(got), MSG_DONTWAIT);
    if (r == (ssize_t)len && memcmp(got, pkt, len) == 0 && who < 0)
      who = (int)i;
    else
      return -1; /* two copies, or one not sent */
  }
  return who;
}

#define CLIENTS 6

/* The loopback address of `family` with port `port` (network order). */
static socklen_t loopback(int family, uint16_t port,
                          struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof(*ss));
  if (family == AF_INET6) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_addr = in6addr_loopback;
    s6->sin6_port = port;
    return sizeof(*s6);
  }
  struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
  s4->sin_family = AF_INET;
  s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  s4->sin_port = port;
  return sizeof(*s4);
}

static uint16_t port_of(int fd) {
  struct sockaddr_storage ss;
  socklen_t l = sizeof(ss);
  if (getsockname(fd, (struct sockaddr *)&ss, &l) != 0)
    return 0;
  return ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                  : ((struct sockaddr_in *)&ss)->sin_port;
}

static int group_refused;    /* the kernel refused the group: a skip */
static char group_err[160]; /* why */

/* Checks one group of n sockets bound to `bind_to` (CHECKs mark the
 * calling case). Its clients are IPv4, or with v6_clients every other one
 * is IPv6 (a dual-stack group). */
static void run_group(unsigned n, const struct sockaddr *bind_to,
                      socklen_t bindlen, int v6_clients) {
  char err[256] = "";
  int fds[MAXW];
  if (zt_udp_open_group(bind_to, bindlen, n, fds, err, sizeof(err)) != 0) {
    if (strstr(err, "SO_REUSEPORT") || strstr(err, "SO_ATTACH_REUSEPORT")) {
      snprintf(group_err, sizeof(group_err), "%.150s", err);
      group_refused = 1;
      return;
    }
    fprintf(stderr, "  n=%u: %s\n", n, err);
    CHECK(!"zt_udp_open_group");
  }
  uint16_t port = port_of(fds[0]);
  CHECK(port != 0);
  for (unsigned i = 1; i < n; i++) /* one port for all */
    CHECK_EQ_INT(port_of(fds[i]), port);
  int cl[CLIENTS], hash_of[CLIENTS];
  struct sockaddr_storage to[CLIENTS];
  socklen_t tolen[CLIENTS];
  char e2[256];
  for (int c = 0; c < CLIENTS; c++) {
    int family = v6_clients && c % 2 ? AF_INET6 : AF_INET;
    struct sockaddr_storage lo;
    socklen_t lolen = loopback(family, 0, &lo);
    cl[c] = zt_udp_open((struct sockaddr *)&lo, lolen, e2, sizeof(e2));
    if (cl[c] < 0)
      fprintf(stderr, "  client: %s\n", e2);
    CHECK(cl[c] >= 0);
    tolen[c] = loopback(family, port, &to[c]);
    hash_of[c] = -1;
  }
  unsigned per[MAXW] = {0}, hashed = 0, sent = 0;
  uint8_t b[128];
  for (int round = 0; round < 40; round++) {
    for (int c = 0; c < CLIENTS; c++) {
      size_t len;
      uint32_t key = rnd();
      switch ((round + c) % 6) {
      case 0:
        len = short_pkt(b, key, 20 + rnd() % 60);
        break;
      case 1:
        len = long_pkt(b, key, 16, 40 + rnd() % 60);
        break;
      case 2:
        len = long_pkt(b, 0, 16, 40); /* Retry-answered Initial */
        break;
      case 3:
        len = rnd() % 5; /* junk too short for a key, maybe empty */
        for (size_t j = 0; j < len; j++)
          b[j] = (uint8_t)rnd();
        break;
      case 4:
        len = long_pkt(b, key, 3, 30); /* a DCID too short to be ours */
        break;
      default:
        len = 1 + rnd() % 100;
        for (size_t j = 0; j < len; j++)
          b[j] = (uint8_t)rnd();
        break;
      }
      CHECK_EQ_INT(sendto(cl[c], b, len, 0, (struct sockaddr *)&to[c],
                          tolen[c]),
                   (ssize_t)len);
      int want = zt_steer_worker(b, len, n), got = landed(fds, n, b, len);
      sent++;
      CHECK(got >= 0);
      if (want >= 0) {
        CHECK_EQ_INT(got, want);
        per[got]++;
      } else {
        /* the kernel's hash: one socket per 4-tuple */
        if (hash_of[c] < 0)
          hash_of[c] = got;
        CHECK_EQ_INT(got, hash_of[c]);
        hashed++;
      }
    }
  }
  for (unsigned i = 0; i < n; i++)
    CHECK(per[i] > 0); /* every worker got its own keys */
  CHECK(hashed > 0);
  printf("  n=%u%s: %u datagrams, %u by key, %u by hash\n", n,
         v6_clients ? " dual-stack" : "", sent, sent - hashed, hashed);
  for (int c = 0; c < CLIENTS; c++)
    close(cl[c]);
  for (unsigned i = 0; i < n; i++)
    close(fds[i]);
}

/* Who refused a group: qemu-user (make ARCH=arm64 unit) does not
 * translate the cBPF socket option (ENOPROTOOPT there, whatever the kernel
 * can do). */
static const char *refuser(void) {
  const char *qemu = getenv("ZT_UNDER_QEMU");
  return qemu ? qemu : "the kernel";
}

static void test_group_steers(void) {
  for (unsigned n = 2; n <= MAXW; n++) {
    struct sockaddr_storage lo;
    socklen_t lolen = loopback(AF_INET, 0, &lo);
    run_group(n, (struct sockaddr *)&lo, lolen, 0);
    if (group_refused)
      SKIP("%s refused the group: %s", refuser(), group_err);
    if (test_case_failed)
      return;
  }
}

/* A group bound to [::] (the dual-stack sockets zt_udp_open makes) steers
 * IPv4 and IPv6 senders alike: the program sees the UDP payload either
 * way. Only a kernel without IPv6 is a reason to skip. */
static void test_group_dual_stack(void) {
  int probe = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (probe < 0 && (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT))
    SKIP("no IPv6 sockets in this kernel: %s", strerror(errno));
  CHECK(probe >= 0);
  close(probe);
  struct sockaddr_in6 any6 = {.sin6_family = AF_INET6,
                              .sin6_addr = IN6ADDR_ANY_INIT};
  run_group(3, (struct sockaddr *)&any6, sizeof(any6), 1);
  if (group_refused)
    SKIP("%s refused the group: %s", refuser(), group_err);
}

/* n == 1 is zt_udp_open's plain socket; failures close everything and say
 * which step failed. */
static void test_group_edges(void) {
  char err[256] = "";
  int fds[MAXW], on = -1;
  socklen_t ol = sizeof(on);
  struct sockaddr_in lo = {.sin_family = AF_INET,
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK_EQ_INT(zt_udp_open_group((struct sockaddr *)&lo, sizeof(lo), 1, fds,
                                 err, sizeof(err)),
               0);
  CHECK_EQ_INT(getsockopt(fds[0], SOL_SOCKET, SO_REUSEPORT, &on, &ol), 0);
  CHECK_EQ_INT(on, 0);
  /* a plain socket holds the port: the group cannot bind it */
  struct sockaddr_in taken;
  socklen_t tl = sizeof(taken);
  CHECK_EQ_INT(getsockname(fds[0], (struct sockaddr *)&taken, &tl), 0);
  int before = dup(0); /* the next free descriptor */
  close(before);
  CHECK_EQ_INT(zt_udp_open_group((struct sockaddr *)&taken, sizeof(taken), 3,
                                 fds + 1, err, sizeof(err)),
               -1);
  CHECK(strstr(err, "bind socket 0 of 3") != NULL);
  CHECK(strstr(err, "127.0.0.1") != NULL);
  int after = dup(0); /* nothing stayed open */
  close(after);
  CHECK_EQ_INT(after, before);
  CHECK_EQ_INT(zt_udp_open_group((struct sockaddr *)&lo, sizeof(lo), 0, fds,
                                 err, sizeof(err)),
               -1);
  CHECK(strstr(err, "0 sockets") != NULL);
  close(fds[0]);
}

int main(void) {
  RUN(test_model);
  RUN(test_program_matches_model);
  RUN(test_group_steers);
  RUN(test_group_dual_stack);
  RUN(test_group_edges);
  return TEST_EXIT();
}

/*
 * bench/steer: what the workers' steering program costs the kernel, and
 * whether it spreads connections evenly. Loopback only, one thread: sends
 * batches of 64 short-header datagrams (1200 bytes, random connection keys)
 * with sendmmsg to a UDP socket group on 127.0.0.1 and drains every socket
 * of the group after each batch, for four setups:
 *
 *   single  one socket (zt_udp_open: workers = 1)
 *   hash    N sockets in a SO_REUSEPORT group, no program (kernel hash)
 *   steer   N sockets from zt_udp_open_group (the cBPF program)
 *
 * Prints nanoseconds per datagram (send + receive, both in this thread) of
 * each setup, interleaved over several rounds so that a noisy machine hits
 * them alike, and for `steer` the datagrams per socket and how many landed
 * on a socket other than the one core/steer.c names (must be 0).
 *
 *   steer [WORKERS (default 4)] [DATAGRAMS per round (default 200000)]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "reuseport.h"
#include "steer.h"
#include "udp.h"

#define BATCH 64
#define SIZE 1200
#define MAXW 16
#define ROUNDS 5

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static uint32_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}

enum setup { SINGLE, HASH, STEER };
static const char *names[] = {"single", "hash", "steer"};

/* The group of one setup; its size, or 0. */
static unsigned open_setup(enum setup s, unsigned n, int *fds) {
  char err[256];
  int on = 1;
  struct sockaddr_in lo = {.sin_family = AF_INET,
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (s == SINGLE)
    n = 1;
  if (s != HASH) {
    if (zt_udp_open_group((struct sockaddr *)&lo, sizeof(lo), n, fds, err,
                          sizeof(err)) == 0)
      return n;
    fprintf(stderr, "steer: %s: %s\n", names[s], err);
    return 0;
  }
  for (unsigned i = 0; i < n; i++) {
    fds[i] = zt_udp_socket((struct sockaddr *)&lo, err, sizeof(err));
    socklen_t l = sizeof(lo);
    if (fds[i] < 0 ||
        setsockopt(fds[i], SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
        bind(fds[i], (struct sockaddr *)&lo, sizeof(lo)) != 0 ||
        getsockname(fds[i], (struct sockaddr *)&lo, &l) != 0) {
      perror("steer: hash group");
      return 0;
    }
  }
  return n;
}

struct result {
  uint64_t ns, got, misrouted, per[MAXW];
};

static int run(enum setup s, unsigned n, unsigned count, int client,
               struct result *r) {
  int fds[MAXW];
  n = open_setup(s, n, fds);
  if (n == 0)
    return -1;
  struct sockaddr_storage to;
  socklen_t tolen;
  zt_udp_local(fds[0], &to, &tolen);
  static uint8_t out[BATCH][SIZE], in[BATCH][SIZE];
  uint8_t *bufs[BATCH];
  size_t lens[BATCH];
  struct sockaddr_storage peers[BATCH];
  socklen_t peerlens[BATCH];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  for (int i = 0; i < BATCH; i++)
    bufs[i] = in[i];
  memset(r, 0, sizeof(*r));
  uint64_t t0 = now_ns();
  for (unsigned sent = 0; sent < count; sent += BATCH) {
    for (int i = 0; i < BATCH; i++) {
      uint32_t key;
      while ((key = rnd()) == 0) /* never 0: every datagram is steered */
        ;
      out[i][0] = 0x40;
      out[i][1] = (uint8_t)(key >> 24);
      out[i][2] = (uint8_t)(key >> 16);
      out[i][3] = (uint8_t)(key >> 8);
      out[i][4] = (uint8_t)key;
      iov[i] = (struct iovec){out[i], SIZE};
      msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &to,
                                             .msg_namelen = tolen,
                                             .msg_iov = &iov[i],
                                             .msg_iovlen = 1}};
    }
    if (sendmmsg(client, msgs, BATCH, 0) != BATCH) {
      perror("steer: sendmmsg");
      break;
    }
    /* loopback delivers within sendmmsg: everything is queued by now */
    for (unsigned w = 0; w < n; w++) {
      int got;
      while ((got = zt_udp_recv_batch(fds[w], bufs, SIZE, lens, peers,
                                      peerlens, BATCH)) > 0) {
        r->got += (uint64_t)got;
        r->per[w] += (uint64_t)got;
        for (int i = 0; s == STEER && i < got; i++)
          r->misrouted += zt_steer_worker(in[i], lens[i], n) != (int)w;
      }
    }
  }
  r->ns = now_ns() - t0;
  for (unsigned w = 0; w < n; w++)
    close(fds[w]);
  return 0;
}

int main(int argc, char **argv) {
  unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 4;
  unsigned count = argc > 2 ? (unsigned)atoi(argv[2]) : 200000;
  char err[256];
  if (n < 2 || n > MAXW || count < BATCH) {
    fprintf(stderr, "usage: steer [WORKERS 2..%d] [DATAGRAMS >= %d]\n", MAXW,
            BATCH);
    return 2;
  }
  struct sockaddr_in lo = {.sin_family = AF_INET,
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int client = zt_udp_open((struct sockaddr *)&lo, sizeof(lo), err,
                           sizeof(err));
  if (client < 0) {
    fprintf(stderr, "steer: client: %s\n", err);
    return 1;
  }
  uint64_t best[3] = {UINT64_MAX, UINT64_MAX, UINT64_MAX}, sum[3] = {0};
  struct result r, last_steer = {0};
  for (int round = 0; round < ROUNDS; round++)
    for (int s = SINGLE; s <= STEER; s++) {
      if (run((enum setup)s, n, count, client, &r) != 0)
        return 1;
      uint64_t per = r.got ? r.ns / r.got : 0;
      best[s] = per < best[s] ? per : best[s];
      sum[s] += per;
      if (r.got < count * 9 / 10)
        printf("%s: only %llu of %u datagrams received\n", names[s],
               (unsigned long long)r.got, count);
      if (s == STEER)
        last_steer = r;
    }
  printf("%u workers, %u datagrams of %d bytes per round, %d rounds\n", n,
         count, SIZE, ROUNDS);
  for (int s = SINGLE; s <= STEER; s++)
    printf("  %-6s %5llu ns/datagram mean, %5llu best\n", names[s],
           (unsigned long long)(sum[s] / ROUNDS),
           (unsigned long long)best[s]);
  printf("  steer: per socket");
  for (unsigned w = 0; w < n; w++)
    printf(" %llu", (unsigned long long)last_steer.per[w]);
  printf(", misrouted %llu\n", (unsigned long long)last_steer.misrouted);
  close(client);
  return last_steer.misrouted ? 1 : 0;
}

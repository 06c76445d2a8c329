/*
 * tests/delayfwd: a two-port Ethernet bridge that delays and drops frames,
 * for the namespace tests and benches. This machine's kernel has neither
 * netem nor fq, so a fixed one-way delay and random loss are made here in
 * user space:
 *
 *   delayfwd --a IFNAME --b IFNAME [--delay-ms N] [--loss-pct P] ...
 *
 * Both interfaces live in the forwarder's namespace, are up and need no
 * address: every frame that arrives on one (in promiscuous mode, so frames
 * for any MAC) is sent out of the other DELAY later, unless the random loss
 * picks it. Each direction has its own bounded FIFO (the delay is constant
 * per direction, so release times only grow along the queue); a frame that
 * finds its queue full is dropped and counted, as a router's buffer would.
 *
 * Sockets: AF_PACKET, SOCK_RAW, ETH_P_ALL, one bound to each ifindex, with
 * PACKET_IGNORE_OUTGOING (and a check of sll_pkttype) so the frames we send
 * are not read back and looped. PACKET_VNET_HDR carries a virtio_net_hdr
 * with every frame: veth hands up GSO frames far over the MTU, and frames
 * whose checksum the sender left to "hardware" (CHECKSUM_PARTIAL). With the
 * header, such a frame is sent on as it came, still GSO, still to be
 * checksummed, without ethtool to turn the offloads off.
 *
 * One thread, one ppoll(): the two sockets, a signalfd for SIGINT and
 * SIGTERM, and a timeout (nanoseconds) at the earliest release time. On
 * SIGINT/SIGTERM it stops and prints its counters per direction to stderr;
 * SIGUSR1 prints them without stopping. A line "delayfwd: ready" on stderr
 * says both sockets are bound.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define VNET_LEN sizeof(struct virtio_net_hdr)
/* A GSO frame from veth is up to 64 KiB of payload plus headers. */
#define FRAME_MAX (128 * 1024)
#define RX_BATCH 256 /* frames read per readiness before releasing again */
#define SOCK_BUF_BYTES (8 * 1024 * 1024)
#define DEFAULT_QUEUE 8192

static const char usage[] =
    "usage: delayfwd --a IFNAME --b IFNAME [--delay-ms N] [--loss-pct P]\n"
    "                [--loss-ab P] [--loss-ba P] [--seed N] [--queue N]\n"
    "\n"
    "Bridges two interfaces of this namespace (AF_PACKET, promiscuous):\n"
    "every frame from one goes out of the other after a one-way delay,\n"
    "unless randomly lost.\n"
    "\n"
    "  --a, --b IFNAME   the two interfaces: up, no address needed\n"
    "  --delay-ms N      one-way delay in milliseconds, both directions\n"
    "                    (decimals allowed; default 0, at most 60000)\n"
    "  --loss-pct P      random loss in percent, both directions (0-100)\n"
    "  --loss-ab P       loss from a to b only (after --loss-pct)\n"
    "  --loss-ba P       loss from b to a only (after --loss-pct)\n"
    "  --seed N          seed of the loss generator (default 1)\n"
    "  --queue N         frames held per direction before dropping\n"
    "                    (default 8192)\n"
    "\n"
    "SIGINT or SIGTERM stops it; SIGUSR1 prints the counters to stderr.\n";

/* A frame held back: its release time, then the virtio_net_hdr and the
 * Ethernet frame exactly as read. */
struct frame {
  uint64_t due_ns;
  size_t len;
  unsigned char data[];
};

struct port {
  const char *name;
  int ifindex;
  int fd;
};

/* One direction: frames read on `in`, sent out of `out`. */
struct dir {
  const char *label; /* "a->b" */
  struct port *in, *out;
  uint64_t delay_ns;
  double loss; /* probability, 0..1 */
  struct frame **ring;
  size_t cap, head, count;
  uint64_t received, forwarded, lost, queue_drops, tx_errors, rx_errors;
  uint64_t truncated;
};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- the loss generator: xorshift64*, reproducible from --seed ---- */

static uint64_t rng_state = 1;

static double rng_unit(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  uint64_t r = rng_state * 0x2545F4914F6CDD1DULL;
  return (double)(r >> 11) * (1.0 / 9007199254740992.0); /* [0, 1) */
}

/* ---- arguments ---- */

static bool parse_double(const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= lo && v <= hi))
    return false;
  *out = v;
  return true;
}

static bool parse_ulong(const char *s, unsigned long lo, unsigned long hi,
                        unsigned long *out) {
  char *end;
  errno = 0;
  if (*s == '-')
    return false;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi)
    return false;
  *out = v;
  return true;
}

/* ---- sockets ---- */

/* Opened with protocol 0, which receives nothing, and bound with ETH_P_ALL:
 * a socket opened with ETH_P_ALL would queue every interface's frames
 * until bind() narrows it to one. */
static int port_open(struct port *p) {
  int one = 1, buf = SOCK_BUF_BYTES;
  if (strlen(p->name) >= IFNAMSIZ) {
    fprintf(stderr, "delayfwd: interface name too long: %s\n", p->name);
    return -1;
  }
  p->ifindex = (int)if_nametoindex(p->name);
  if (!p->ifindex) {
    fprintf(stderr, "delayfwd: %s: %s\n", p->name, strerror(errno));
    return -1;
  }
  p->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (p->fd < 0) {
    fprintf(stderr, "delayfwd: packet socket: %s\n", strerror(errno));
    return -1;
  }

  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  memcpy(ifr.ifr_name, p->name, strlen(p->name));
  if (ioctl(p->fd, SIOCGIFFLAGS, &ifr) != 0) {
    fprintf(stderr, "delayfwd: %s: flags: %s\n", p->name, strerror(errno));
    return -1;
  }
  if (!(ifr.ifr_flags & IFF_UP)) {
    fprintf(stderr, "delayfwd: %s is down: bring it up first\n", p->name);
    return -1;
  }

  if (setsockopt(p->fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) !=
      0) {
    fprintf(stderr, "delayfwd: %s: PACKET_VNET_HDR: %s\n", p->name,
            strerror(errno));
    return -1;
  }
  if (setsockopt(p->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one,
                 sizeof(one)) != 0) {
    fprintf(stderr, "delayfwd: %s: PACKET_IGNORE_OUTGOING: %s\n", p->name,
            strerror(errno));
    return -1;
  }
  /* Bursts (a congestion window arriving at once) wait in the socket
   * rather than being dropped by the kernel; FORCE needs CAP_NET_ADMIN,
   * which a packet socket needs anyway. */
  if (setsockopt(p->fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) != 0)
    (void)setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
  if (setsockopt(p->fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)) != 0)
    (void)setsockopt(p->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));

  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof(sll));
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = p->ifindex;
  if (bind(p->fd, (struct sockaddr *)&sll, sizeof(sll)) != 0) {
    fprintf(stderr, "delayfwd: bind %s: %s\n", p->name, strerror(errno));
    return -1;
  }

  struct packet_mreq mr;
  memset(&mr, 0, sizeof(mr));
  mr.mr_ifindex = p->ifindex;
  mr.mr_type = PACKET_MR_PROMISC;
  if (setsockopt(p->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) !=
      0) {
    fprintf(stderr, "delayfwd: %s: promiscuous mode: %s\n", p->name,
            strerror(errno));
    return -1;
  }
  return 0;
}

/* ---- the queues ---- */

static int dir_init(struct dir *d, const char *label, struct port *in,
                    struct port *out, size_t cap) {
  d->label = label;
  d->in = in;
  d->out = out;
  d->cap = cap;
  d->ring = calloc(cap, sizeof(*d->ring));
  if (!d->ring) {
    fprintf(stderr, "delayfwd: out of memory for a queue of %zu\n", cap);
    return -1;
  }
  return 0;
}

static void dir_free(struct dir *d) {
  while (d->count) {
    free(d->ring[d->head]);
    d->head = (d->head + 1) % d->cap;
    d->count--;
  }
  free(d->ring);
}

/* The earliest release time of the direction, UINT64_MAX when empty. */
static uint64_t dir_next(const struct dir *d) {
  return d->count ? d->ring[d->head]->due_ns : UINT64_MAX;
}

/* Sends every frame whose time has come. A frame the kernel refuses
 * (ENOBUFS and the like) is dropped and counted, not retried: a link
 * that cannot take it loses it. */
static void dir_release(struct dir *d, uint64_t now) {
  while (d->count && d->ring[d->head]->due_ns <= now) {
    struct frame *f = d->ring[d->head];
    if (send(d->out->fd, f->data, f->len, MSG_DONTWAIT) == (ssize_t)f->len)
      d->forwarded++;
    else
      d->tx_errors++;
    free(f);
    d->ring[d->head] = NULL;
    d->head = (d->head + 1) % d->cap;
    d->count--;
  }
}

/* Reads up to RX_BATCH frames from the direction's input port and queues
 * (or loses, or drops) each. */
static void dir_receive(struct dir *d, unsigned char *buf) {
  for (int i = 0; i < RX_BATCH; i++) {
    struct sockaddr_ll from;
    socklen_t fromlen = sizeof(from);
    ssize_t n = recvfrom(d->in->fd, buf, FRAME_MAX, MSG_DONTWAIT | MSG_TRUNC,
                         (struct sockaddr *)&from, &fromlen);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return;
      if (errno == EINTR)
        continue;
      /* e.g. EINVAL: a GSO type virtio_net_hdr cannot describe. The
       * frame is gone; the next one may be fine. */
      d->rx_errors++;
      continue;
    }
    if (from.sll_pkttype == PACKET_OUTGOING)
      continue; /* ours, in case PACKET_IGNORE_OUTGOING did not apply */
    d->received++;
    if ((size_t)n > FRAME_MAX) {
      d->truncated++;
      continue;
    }
    if ((size_t)n < VNET_LEN + sizeof(struct ether_header)) {
      d->rx_errors++;
      continue;
    }
    if (d->loss > 0 && rng_unit() < d->loss) {
      d->lost++;
      continue;
    }
    if (d->count == d->cap) {
      d->queue_drops++;
      continue;
    }
    struct frame *f = malloc(sizeof(*f) + (size_t)n);
    if (!f) {
      d->queue_drops++;
      continue;
    }
    f->due_ns = now_ns() + d->delay_ns;
    f->len = (size_t)n;
    memcpy(f->data, buf, (size_t)n);
    d->ring[(d->head + d->count) % d->cap] = f;
    d->count++;
  }
}

static void dir_report(const struct dir *d) {
  fprintf(stderr,
          "delayfwd: %s: received %llu forwarded %llu lost %llu "
          "queue_drops %llu tx_errors %llu rx_errors %llu truncated %llu "
          "queued %zu\n",
          d->label, (unsigned long long)d->received,
          (unsigned long long)d->forwarded, (unsigned long long)d->lost,
          (unsigned long long)d->queue_drops, (unsigned long long)d->tx_errors,
          (unsigned long long)d->rx_errors, (unsigned long long)d->truncated,
          d->count);
}

/* ---- main ---- */

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"a", required_argument, NULL, 'a'},
      {"b", required_argument, NULL, 'b'},
      {"delay-ms", required_argument, NULL, 'd'},
      {"loss-pct", required_argument, NULL, 'l'},
      {"loss-ab", required_argument, NULL, 'x'},
      {"loss-ba", required_argument, NULL, 'y'},
      {"seed", required_argument, NULL, 's'},
      {"queue", required_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct port pa = {.fd = -1}, pb = {.fd = -1};
  double delay_ms = 0, loss_ab = 0, loss_ba = 0, v;
  unsigned long seed = 1, queue = DEFAULT_QUEUE;
  int ch;
  while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (ch) {
    case 'a': pa.name = optarg; break;
    case 'b': pb.name = optarg; break;
    case 'd':
      if (!parse_double(optarg, 0, 60000, &delay_ms)) {
        fprintf(stderr, "delayfwd: --delay-ms: 0 to 60000, not '%s'\n",
                optarg);
        return 2;
      }
      break;
    case 'l':
    case 'x':
    case 'y':
      if (!parse_double(optarg, 0, 100, &v)) {
        fprintf(stderr, "delayfwd: loss: 0 to 100 (percent), not '%s'\n",
                optarg);
        return 2;
      }
      if (ch != 'y')
        loss_ab = v;
      if (ch != 'x')
        loss_ba = v;
      break;
    case 's':
      if (!parse_ulong(optarg, 0, ULONG_MAX, &seed)) {
        fprintf(stderr, "delayfwd: --seed: a number, not '%s'\n", optarg);
        return 2;
      }
      break;
    case 'q':
      if (!parse_ulong(optarg, 1, 1000000, &queue)) {
        fprintf(stderr, "delayfwd: --queue: 1 to 1000000, not '%s'\n",
                optarg);
        return 2;
      }
      break;
    case 'h': fputs(usage, stdout); return 0;
    default: fputs(usage, stderr); return 2;
    }
  }
  if (optind < argc || !pa.name || !pb.name) {
    fputs(optind < argc ? "delayfwd: unexpected argument\n"
                        : "delayfwd: --a and --b are required\n",
          stderr);
    fputs(usage, stderr);
    return 2;
  }
  if (!strcmp(pa.name, pb.name)) {
    fprintf(stderr, "delayfwd: --a and --b must differ\n");
    return 2;
  }
  /* xorshift must not start at 0; mix the seed so 1, 2, 3 differ early. */
  rng_state = ((uint64_t)seed ^ 0x9E3779B97F4A7C15ULL) | 1;

  /* Signals as events: blocked, read from a signalfd in the poll set. */
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGUSR1);
  if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0) {
    fprintf(stderr, "delayfwd: sigprocmask: %s\n", strerror(errno));
    return 1;
  }
  int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) {
    fprintf(stderr, "delayfwd: signalfd: %s\n", strerror(errno));
    return 1;
  }

  int rc = 1;
  struct dir ab = {0}, ba = {0};
  unsigned char *buf = malloc(FRAME_MAX + 1);
  if (!buf || port_open(&pa) != 0 || port_open(&pb) != 0 ||
      dir_init(&ab, "a->b", &pa, &pb, queue) != 0 ||
      dir_init(&ba, "b->a", &pb, &pa, queue) != 0)
    goto out;
  ab.delay_ns = ba.delay_ns = (uint64_t)(delay_ms * 1e6);
  ab.loss = loss_ab / 100.0;
  ba.loss = loss_ba / 100.0;
  fprintf(stderr,
          "delayfwd: a=%s b=%s delay %.3f ms loss a->b %.2f%% b->a %.2f%% "
          "queue %lu seed %lu\n",
          pa.name, pb.name, delay_ms, loss_ab, loss_ba, queue, seed);
  fprintf(stderr, "delayfwd: ready\n");

  struct pollfd pfd[3] = {
      {.fd = pa.fd, .events = POLLIN},
      {.fd = pb.fd, .events = POLLIN},
      {.fd = sfd, .events = POLLIN},
  };
  bool stop = false;
  while (!stop) {
    uint64_t now = now_ns();
    dir_release(&ab, now);
    dir_release(&ba, now);
    uint64_t next = dir_next(&ab) < dir_next(&ba) ? dir_next(&ab)
                                                  : dir_next(&ba);
    struct timespec ts, *tsp = NULL;
    if (next != UINT64_MAX) {
      now = now_ns();
      uint64_t wait = next > now ? next - now : 0;
      ts.tv_sec = (time_t)(wait / 1000000000ULL);
      ts.tv_nsec = (long)(wait % 1000000000ULL);
      tsp = &ts;
    }
    int n = ppoll(pfd, 3, tsp, NULL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      fprintf(stderr, "delayfwd: poll: %s\n", strerror(errno));
      goto out;
    }
    for (int i = 0; i < 2; i++) {
      if (pfd[i].revents & (POLLERR | POLLHUP | POLLNVAL)) {
        fprintf(stderr, "delayfwd: %s: socket error (interface gone?)\n",
                i ? pb.name : pa.name);
        goto out;
      }
    }
    if (pfd[0].revents & POLLIN)
      dir_receive(&ab, buf);
    if (pfd[1].revents & POLLIN)
      dir_receive(&ba, buf);
    if (pfd[2].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGUSR1) {
          dir_report(&ab);
          dir_report(&ba);
        } else {
          stop = true;
        }
      }
    }
  }
  rc = 0;

out:
  if (ab.ring || ba.ring) {
    dir_report(&ab);
    dir_report(&ba);
  }
  dir_free(&ab);
  dir_free(&ba);
  if (pa.fd >= 0)
    close(pa.fd);
  if (pb.fd >= 0)
    close(pb.fd);
  close(sfd);
  free(buf);
  return rc;
}

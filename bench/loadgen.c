/*
 * bench/loadgen: many agents and connectors in one process, against a real
 * ztna-intermediate over real UDP (bench/scale.sh runs both in namespaces
 * of their own). Every connection is a genuine outer QUIC connection made
 * with core/quic.c and authenticated with a certificate of its own: the
 * Intermediate keeps one connection per identity (a second one with the
 * same name replaces the first), so each identity is issued here, in
 * process, from the test CA (core/certgen.c, ECDSA P-256), before the
 * clock of the first phase starts.
 *
 *   loadgen --ca CA.pem --ca-key CA.key --dst IP:PORT --src A.B.C.D
 *           --nsrc K --conns N --connectors M --active S --rate R
 *           [--window W] [--hold SEC] [--open-rate R2] [--relay SEC]
 *           [--pid PID] [--seconds MAX]
 *
 * Sources: K local addresses from --src up (one UDP socket each), so the
 * Intermediate's per-source cap of handshakes in progress applies as it
 * would to K hosts. Connections: M connectors (connector "lg-c<i>" serves
 * service "lg-s<i>"), S active agents ("lg-a<i>") and N - M - S idle
 * agents; every one says HELLO like a daemon does.
 *
 * Phases, each bounded in time, one figure per line on stdout:
 *   1. ramp: starts connections at R per second with at most W handshakes
 *      in flight; "handshakes/s" is completed handshakes over the time from
 *      the first start to the last completion (the Intermediate saturates
 *      when this stays below R).
 *   2. hold: HOLD seconds with every connection idle (keepalives only);
 *      the Intermediate's VmRSS (/proc/PID/status) before the ramp and now
 *      gives bytes per idle connection.
 *   3. sessions: each active agent sends SESSION_OPEN (to connector i % M)
 *      at R2 per second; p50/p99/max of SESSION_OPEN -> SESSION_READY.
 *   4. relay: RELAY seconds of relay frames from every active agent
 *      through its channel; the bytes connectors receive give the relay
 *      throughput (the loadgen shares the machine's cores with the
 *      Intermediate: the figure is of both).
 * The Intermediate's CPU time per phase (utime+stime of /proc/PID/stat)
 * is printed too: on a shared machine it is steadier than rates.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "certgen.h"
#include "ctrl.h"
#include "deadline.h"
#include "file.h"
#include "keymap.h"
#include "log.h"
#include "quic.h"
#include "relay.h"
#include "tls.h"
#include "wire.h"

#define MAX_SRC 256
#define FRAME_PAYLOAD 1100

enum kind { CONNECTOR, ACTIVE, IDLE };

struct cl {
  struct zq_conn *q;
  struct zt_deadline due;
  struct cl *next_dirty;
  bool dirty, started, ready, dead, welcomed;
  enum kind kind;
  int idx, sock;
  char name[ZT_NAME_MAX + 1];
  struct zt_tls_creds *creds;
  struct zt_ctrl_reader *reader; /* connectors and active agents only */
  uint32_t channel;              /* active agents, after SESSION_READY */
  uint64_t start_ns, open_ns, ready_ns;
  uint64_t rx_bytes; /* connectors: relay payload received */
};

static struct {
  struct cl *c;
  size_t n, m, s;
  int socks[MAX_SRC];
  struct sockaddr_in src[MAX_SRC];
  int nsrc;
  struct sockaddr_in dst;
  struct zt_keymap by_key;
  struct zt_deadline_heap heap;
  struct cl *dirty;
  struct zq_config qcfg;
  size_t inflight, done_ok, failed, welcomed, registered, ready_sessions,
      denied_sessions;
  uint64_t last_done_ns;
  uint64_t send_errors;
  int pid;
} g;

static const struct zq_handlers handlers;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A field of the Intermediate's /proc status in KiB ("VmRSS", "VmHWM"),
 * and its CPU time (s); -1 unknown. */
static long status_kib(const char *field) {
  char path[64], line[256], fmt[32];
  long v = -1;
  if (!g.pid)
    return -1;
  snprintf(path, sizeof(path), "/proc/%d/status", g.pid);
  snprintf(fmt, sizeof(fmt), "%s: %%ld", field);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, fmt, &v) == 1)
      break;
  fclose(f);
  return v;
}

/* Datagrams the Intermediate's network namespace dropped for a full
 * socket receive queue (/proc/PID/net/snmp, Udp: RcvbufErrors): lost
 * packets QUIC recovers with timers, latency that is not CPU. */
static long im_rcvbuf_errors(void) {
  char path[64], names[512], vals[512];
  long v = -1;
  if (!g.pid)
    return -1;
  snprintf(path, sizeof(path), "/proc/%d/net/snmp", g.pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  while (fgets(names, sizeof(names), f) && fgets(vals, sizeof(vals), f)) {
    if (strncmp(names, "Udp:", 4) != 0)
      continue;
    char *sn, *sv, *n = strtok_r(names, " \n", &sn), *x = strtok_r(vals, " \n", &sv);
    for (; n && x; n = strtok_r(NULL, " \n", &sn), x = strtok_r(NULL, " \n", &sv))
      if (!strcmp(n, "RcvbufErrors"))
        v = atol(x);
    break;
  }
  fclose(f);
  return v;
}

static void print_drops(const char *phase, long *last) {
  long now = im_rcvbuf_errors();
  if (now >= 0 && *last >= 0)
    printf("scale-intermediate-rcvbuf-drops %s %ld\n", phase, now - *last);
  *last = now;
}

static double cpu_s(void) {
  char path[64], buf[1024];
  if (!g.pid)
    return -1;
  snprintf(path, sizeof(path), "/proc/%d/stat", g.pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')'); /* the command may hold spaces */
  unsigned long ut, st;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                   &ut, &st) != 2)
    return -1;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The loadgen's own CPU time (s): when it is near 100% of a phase, the
 * phase measured the loadgen, not the Intermediate. */
static double self_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void mark_dirty(struct cl *c) {
  if (!c->dirty) {
    c->dirty = true;
    c->next_dirty = g.dirty;
    g.dirty = c;
  }
}

static void send_msg(struct cl *c, const struct zt_ctrl_msg *m) {
  uint8_t buf[ZT_CTRL_HDR_LEN + ZT_CTRL_BODY_MAX];
  int n = zt_ctrl_encode(m, buf, sizeof(buf));
  if (n > 0 && zq_send_stream(c->q, buf, (size_t)n) == 0)
    mark_dirty(c);
}

static void conn_dead(struct cl *c) {
  if (c->dead)
    return;
  c->dead = true;
  if (!c->ready) {
    g.inflight--;
    g.failed++;
  }
  zt_deadline_remove(&g.heap, &c->due);
  zt_keymap_del(&g.by_key, zq_key(c->q));
}

static void flush(uint64_t now) {
  uint8_t buf[ZT_OUTER_UDP_PAYLOAD];
  struct sockaddr_storage to;
  socklen_t tolen;
  while (g.dirty) {
    struct cl *c = g.dirty;
    g.dirty = c->next_dirty;
    c->dirty = false;
    if (c->dead)
      continue;
    ssize_t n;
    while ((n = zq_write(c->q, buf, sizeof(buf), &to, &tolen, now)) > 0)
      if (sendto(g.socks[c->sock], buf, (size_t)n, 0, (struct sockaddr *)&to,
                 tolen) < 0)
        g.send_errors++;
    if (n < 0 || zq_is_dead(c->q))
      conn_dead(c);
    else
      zt_deadline_set(&g.heap, &c->due, zq_expiry(c->q));
  }
}

static void on_msg(void *ud, const struct zt_ctrl_msg *m) {
  struct cl *c = ud;
  struct zt_ctrl_msg out;
  memset(&out, 0, sizeof(out));
  switch (m->type) {
  case ZT_MSG_WELCOME:
    g.welcomed++;
    c->welcomed = true;
    if (c->kind == CONNECTOR) {
      out.type = ZT_MSG_REGISTER;
      out.u.reg.n = 1;
      snprintf(out.u.reg.names[0], sizeof(out.u.reg.names[0]), "lg-s%d",
               c->idx);
      send_msg(c, &out);
    }
    break;
  case ZT_MSG_REGISTER_ACK:
    g.registered += m->u.reg_ack.n == 1 && m->u.reg_ack.items[0].status == 0;
    break;
  case ZT_MSG_SESSION_READY:
    if (c->kind != ACTIVE || !c->open_ns || c->ready_ns)
      break;
    c->ready_ns = now_ns();
    if (m->u.session_ready.status == ZT_OK) {
      c->channel = m->u.session_ready.channel;
      g.ready_sessions++;
    } else {
      g.denied_sessions++;
    }
    break;
  default:
    break;
  }
}

static void on_ready(struct zq_conn *q, void *ud) {
  struct cl *c = ud;
  struct zt_ctrl_msg m;
  (void)q;
  c->ready = true;
  g.inflight--;
  g.done_ok++;
  g.last_done_ns = now_ns();
  memset(&m, 0, sizeof(m));
  m.type = ZT_MSG_HELLO;
  m.u.hello.version = ZT_PROTOCOL_VERSION;
  send_msg(c, &m);
}

static void on_stream(struct zq_conn *q, const uint8_t *data, size_t len,
                      void *ud) {
  struct cl *c = ud;
  (void)q;
  if (c->reader)
    zt_ctrl_reader_feed(c->reader, data, len, on_msg, c);
}

static void on_datagram(struct zq_conn *q, const uint8_t *data, size_t len,
                        void *ud) {
  struct cl *c = ud;
  uint32_t ch;
  const uint8_t *payload;
  size_t plen;
  (void)q;
  if (c->kind == CONNECTOR && zt_relay_parse(data, len, &ch, &payload, &plen) == 0)
    c->rx_bytes += plen;
}

static const struct zq_handlers handlers = {
    .on_ready = on_ready, .on_stream = on_stream, .on_datagram = on_datagram};

static int start_conn(struct cl *c, uint64_t now) {
  char err[256];
  struct zq_config cfg = g.qcfg;
  cfg.creds = c->creds;
  for (int tries = 0; tries < 4; tries++) {
    c->q = zq_client_new(&cfg, &handlers, c, (struct sockaddr *)&g.src[c->sock],
                         sizeof(g.src[0]), (struct sockaddr *)&g.dst,
                         sizeof(g.dst), now, err, sizeof(err));
    if (!c->q) {
      fprintf(stderr, "loadgen: %s: %s\n", c->name, err);
      return -1;
    }
    if (zt_keymap_put(&g.by_key, zq_key(c->q), c) == 0)
      break;
    zq_free(c->q); /* the same random key as another connection: again */
    c->q = NULL;
  }
  if (!c->q)
    return -1;
  c->started = true;
  c->start_ns = now;
  g.inflight++;
  mark_dirty(c);
  return 0;
}

/* Receives what is waiting on every socket, handles due timers, sends. */
static void pump(int timeout_ms) {
  struct pollfd pfd[MAX_SRC];
  for (int i = 0; i < g.nsrc; i++)
    pfd[i] = (struct pollfd){.fd = g.socks[i], .events = POLLIN};
  uint64_t now = now_ns(), next = zt_deadline_next(&g.heap);
  if (next != ZT_DEADLINE_NONE) {
    int64_t ms = next > now ? (int64_t)((next - now) / 1000000) : 0;
    if (ms < timeout_ms)
      timeout_ms = (int)ms;
  }
  poll(pfd, (nfds_t)g.nsrc, timeout_ms);
  static uint8_t bufs[64][ZT_OUTER_UDP_PAYLOAD + 64];
  struct mmsghdr msgs[64];
  struct iovec iov[64];
  struct sockaddr_in from[64];
  now = now_ns();
  for (int s = 0; s < g.nsrc; s++) {
    if (!(pfd[s].revents & POLLIN))
      continue;
    for (int rounds = 0; rounds < 16; rounds++) {
      for (int i = 0; i < 64; i++) {
        iov[i] = (struct iovec){bufs[i], sizeof(bufs[i])};
        msgs[i].msg_hdr = (struct msghdr){.msg_name = &from[i],
                                          .msg_namelen = sizeof(from[i]),
                                          .msg_iov = &iov[i],
                                          .msg_iovlen = 1};
      }
      int got = recvmmsg(g.socks[s], msgs, 64, MSG_DONTWAIT, NULL);
      if (got <= 0)
        break;
      for (int i = 0; i < got; i++) {
        uint32_t key;
        struct cl *c;
        if (zq_packet_key(bufs[i], msgs[i].msg_len, &key) != 0 ||
            !(c = zt_keymap_get(&g.by_key, key)) || c->dead)
          continue;
        zq_read(c->q, (struct sockaddr *)&g.src[c->sock], sizeof(g.src[0]),
                (struct sockaddr *)&from[i], msgs[i].msg_hdr.msg_namelen, bufs[i],
                msgs[i].msg_len, now);
        mark_dirty(c);
      }
      if (got < 64)
        break;
    }
  }
  for (struct zt_deadline *d;
       (d = zt_deadline_first(&g.heap)) && d->at <= now;) {
    struct cl *c = (struct cl *)((char *)d - offsetof(struct cl, due));
    zt_deadline_remove(&g.heap, d);
    zq_handle_expiry(c->q, now);
    mark_dirty(c);
  }
  flush(now);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static int usage(void) {
  fprintf(stderr,
          "usage: loadgen --ca CA.pem --ca-key CA.key --dst IP:PORT --src "
          "A.B.C.D --nsrc K --conns N --connectors M --active S --rate R "
          "[--window W] [--hold SEC] [--open-rate R] [--relay SEC] "
          "[--pid PID] [--seconds MAX]\n");
  return 2;
}

int main(int argc, char **argv) {
  const char *ca = NULL, *cakey = NULL, *dst = NULL, *src = NULL;
  unsigned long n = 1000, m = 4, s = 100, rate = 500, window = 256, hold = 5,
                open_rate = 500, relay = 5, seconds = 300, nsrc = 16;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *o = argv[i], *v = argv[i + 1];
    unsigned long x = strtoul(v, NULL, 10);
    if (!strcmp(o, "--ca"))
      ca = v;
    else if (!strcmp(o, "--ca-key"))
      cakey = v;
    else if (!strcmp(o, "--dst"))
      dst = v;
    else if (!strcmp(o, "--src"))
      src = v;
    else if (!strcmp(o, "--nsrc"))
      nsrc = x;
    else if (!strcmp(o, "--conns"))
      n = x;
    else if (!strcmp(o, "--connectors"))
      m = x;
    else if (!strcmp(o, "--active"))
      s = x;
    else if (!strcmp(o, "--rate"))
      rate = x;
    else if (!strcmp(o, "--window"))
      window = x;
    else if (!strcmp(o, "--hold"))
      hold = x;
    else if (!strcmp(o, "--open-rate"))
      open_rate = x;
    else if (!strcmp(o, "--relay"))
      relay = x;
    else if (!strcmp(o, "--pid"))
      g.pid = (int)x;
    else if (!strcmp(o, "--seconds"))
      seconds = x;
    else
      return usage();
  }
  if (!ca || !cakey || !dst || !src || !nsrc || nsrc > MAX_SRC || !rate ||
      !window || !open_rate || m < 1 || m > ZT_MAX_SERVICES || m + s > n ||
      seconds > 3600)
    return usage();
  zt_log_set_level(ZT_LOG_WARN); /* thousands of connections' info lines */
  uint64_t t_end = now_ns() + seconds * 1000000000ULL;
  char host[64], err[256];
  const char *colon = strrchr(dst, ':');
  if (!colon || (size_t)(colon - dst) >= sizeof(host))
    return usage();
  memcpy(host, dst, (size_t)(colon - dst));
  host[colon - dst] = 0;
  g.dst = (struct sockaddr_in){.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)atoi(colon + 1))};
  struct in_addr base;
  if (inet_pton(AF_INET, host, &g.dst.sin_addr) != 1 ||
      inet_pton(AF_INET, src, &base) != 1)
    return usage();
  g.nsrc = (int)nsrc;
  for (int i = 0; i < g.nsrc; i++) {
    g.src[i] = (struct sockaddr_in){.sin_family = AF_INET};
    g.src[i].sin_addr.s_addr = htonl(ntohl(base.s_addr) + (uint32_t)i);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), big = 8 << 20;
    if (fd < 0 || bind(fd, (struct sockaddr *)&g.src[i], sizeof(g.src[i]))) {
      fprintf(stderr, "loadgen: source %d: %s\n", i, strerror(errno));
      return 1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)))
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    socklen_t sl = sizeof(g.src[i]);
    getsockname(fd, (struct sockaddr *)&g.src[i], &sl);
    g.socks[i] = fd;
  }

  /* The CA, and a certificate per identity. */
  struct zt_pem capem = {0};
  size_t len;
  if (!(capem.cert = zt_file_read(ca, 1 << 20, &len, err, sizeof(err))) ||
      !(capem.key = zt_file_read(cakey, 1 << 20, &len, err, sizeof(err)))) {
    fprintf(stderr, "loadgen: %s\n", err);
    return 1;
  }
  g.n = n;
  g.m = m;
  g.s = s;
  g.c = calloc(n, sizeof(*g.c));
  if (!g.c)
    return 1;
  uint64_t t0 = now_ns();
  for (size_t i = 0; i < n; i++) {
    struct cl *c = &g.c[i];
    struct zt_pem pem = {0};
    c->kind = i < m ? CONNECTOR : i < m + s ? ACTIVE : IDLE;
    c->idx = (int)(c->kind == CONNECTOR ? i : c->kind == ACTIVE ? i - m : i - m - s);
    c->sock = (int)(i % nsrc);
    snprintf(c->name, sizeof(c->name), "lg-%s%d",
             c->kind == CONNECTOR ? "c" : c->kind == ACTIVE ? "a" : "i", c->idx);
    zt_deadline_init(&c->due);
    if (zt_cert_issue(&capem, c->kind == CONNECTOR ? ZT_ROLE_CONNECTOR : ZT_ROLE_AGENT,
                      c->name, 2, NULL, NULL, &pem, err, sizeof(err)) != 0 ||
        !(c->creds = zt_tls_creds_from_pem(capem.cert, pem.cert, pem.key, err,
                                           sizeof(err)))) {
      fprintf(stderr, "loadgen: %s: %s\n", c->name, err);
      return 1;
    }
    zt_pem_free(&pem);
    if (c->kind != IDLE) {
      if (!(c->reader = malloc(sizeof(*c->reader))))
        return 1;
      zt_ctrl_reader_init(c->reader);
    }
  }
  printf("scale-certs-issued %zu in %.1f s\n", n, (double)(now_ns() - t0) / 1e9);
  fflush(stdout);

  zq_config_defaults(&g.qcfg);
  g.qcfg.alpn = ZT_ALPN_OUTER;
  g.qcfg.expect.roles = 1u << ZT_ROLE_INTERMEDIATE;
  g.qcfg.dgram_queue_max = 64;
  zt_keymap_init(&g.by_key);
  zt_deadline_heap_init(&g.heap);

  /* 1. ramp */
  long rss0 = status_kib("VmRSS");
  double cpu0 = cpu_s();
  double lcpu0 = self_cpu_s();
  long drops = im_rcvbuf_errors();
  uint64_t start = now_ns(), ramp_end = start + (n * 3 / rate + 30) * 1000000000ULL;
  size_t next = 0, peak = 0, win_done = 0;
  uint64_t win_at = start;
  while (now_ns() < ramp_end && now_ns() < t_end &&
         (next < n || g.inflight > 0)) {
    uint64_t now = now_ns();
    size_t due = (size_t)((now - start) / 1000 * rate / 1000000);
    /* connectors first, registered before agents arrive */
    while (next < n && next < due && g.inflight < window &&
           (next < m || g.registered >= m || now - start > 10000000000ULL)) {
      if (start_conn(&g.c[next], now) != 0)
        g.failed++;
      next++;
    }
    flush(now);
    pump(1);
    if (now_ns() - win_at >= 1000000000ULL) {
      if (g.done_ok - win_done > peak)
        peak = g.done_ok - win_done;
      win_done = g.done_ok;
      win_at = now_ns();
    }
  }
  if (g.done_ok - win_done > peak) /* the last, partial window */
    peak = g.done_ok - win_done;
  double ramp_s = (double)((g.last_done_ns > start ? g.last_done_ns : now_ns()) - start) / 1e9;
  double cpu1 = cpu_s();
  printf("scale-handshakes %zu ok, %zu failed, %zu not started, of %zu\n",
         g.done_ok, g.failed, n - next, n);
  printf("scale-handshakes-per-s %.0f (target %lu, peak 1 s window %zu)\n",
         ramp_s > 0 ? (double)g.done_ok / ramp_s : 0.0, rate, peak);
  printf("scale-loadgen-cpu-pct ramp %.0f\n",
         ramp_s > 0 ? (self_cpu_s() - lcpu0) * 100 / ramp_s : 0.0);
  print_drops("ramp", &drops);
  if (cpu0 >= 0 && cpu1 >= 0)
    printf("scale-intermediate-cpu-per-handshake-us %.0f (%.2f CPU s)\n",
           g.done_ok ? (cpu1 - cpu0) * 1e6 / (double)g.done_ok : 0.0,
           cpu1 - cpu0);
  fflush(stdout);

  /* 2. hold */
  uint64_t hold_end = now_ns() + hold * 1000000000ULL;
  while (now_ns() < hold_end && now_ns() < t_end)
    pump(50);
  size_t live = 0;
  for (size_t i = 0; i < n; i++)
    live += g.c[i].ready && !g.c[i].dead;
  long rss1 = status_kib("VmRSS");
  double cpu2 = cpu_s();
  printf("scale-connections-held %zu\n", live);
  if (rss0 >= 0 && rss1 >= 0)
    printf("scale-intermediate-rss-kib %ld (before %ld): %.0f bytes per idle "
           "connection\n",
           rss1, rss0, live ? (double)(rss1 - rss0) * 1024.0 / (double)live : 0.0);
  if (cpu1 >= 0 && cpu2 >= 0)
    printf("scale-intermediate-cpu-idle-pct %.1f (%zu connections, %lu s)\n",
           (cpu2 - cpu1) * 100.0 / (double)hold, live, hold);
  fflush(stdout);
  /* The Intermediate logs its status, memory lines included (where the
   * idle connections' bytes are: bench/scale.sh prints them), then a
   * second for it to write them before the sessions start. */
  if (g.pid && kill(g.pid, SIGUSR1) == 0) {
    uint64_t settle = now_ns() + 1000000000ULL;
    while (now_ns() < settle)
      pump(50);
  }

  /* 3. sessions */
  print_drops("hold", &drops);
  size_t opened = 0;
  double lcpu = self_cpu_s();
  uint64_t ostart = now_ns(), oend = ostart + 30000000000ULL;
  while (now_ns() < oend && now_ns() < t_end &&
         (opened < s || g.ready_sessions + g.denied_sessions < opened)) {
    uint64_t now = now_ns();
    size_t due = (size_t)((now - ostart) / 1000 * open_rate / 1000000);
    for (; opened < s && opened < due; opened++) {
      struct cl *c = &g.c[m + opened];
      if (!c->welcomed || c->dead) /* an agent opens once welcomed */
        continue;
      struct zt_ctrl_msg msg;
      memset(&msg, 0, sizeof(msg));
      msg.type = ZT_MSG_SESSION_OPEN;
      msg.u.session_open.request_id = (uint32_t)opened + 1;
      snprintf(msg.u.session_open.connector,
               sizeof(msg.u.session_open.connector), "lg-c%zu", opened % m);
      c->open_ns = now;
      send_msg(c, &msg);
    }
    flush(now);
    pump(1);
  }
  double osec = (double)(now_ns() - ostart) / 1e9;
  printf("scale-loadgen-cpu-pct sessions %.0f\n",
         osec > 0 ? (self_cpu_s() - lcpu) * 100 / osec : 0.0);
  print_drops("sessions", &drops);
  uint64_t *lat = calloc(s + 1, sizeof(*lat));
  size_t nl = 0;
  for (size_t i = 0; lat && i < s; i++) {
    const struct cl *c = &g.c[m + i];
    if (c->open_ns && c->ready_ns)
      lat[nl++] = c->ready_ns - c->open_ns;
  }
  if (nl)
    qsort(lat, nl, sizeof(*lat), cmp_u64);
  printf("scale-sessions %zu ready, %zu denied, of %lu asked, with %zu idle "
         "connections held\n",
         g.ready_sessions, g.denied_sessions, s, live);
  if (nl)
    printf("scale-session-open-ready-ms p50 %.2f p99 %.2f max %.2f (%lu/s)\n",
           (double)lat[nl / 2] / 1e6, (double)lat[(nl * 99) / 100] / 1e6,
           (double)lat[nl - 1] / 1e6, open_rate);
  free(lat);
  fflush(stdout);

  /* 4. relay */
  uint8_t frame[ZT_RELAY_HDR_LEN + FRAME_PAYLOAD];
  memset(frame, 0x5a, sizeof(frame));
  uint64_t rx0 = 0, rx1 = 0;
  for (size_t i = 0; i < m; i++)
    rx0 += g.c[i].rx_bytes;
  double cpu3 = cpu_s();
  lcpu = self_cpu_s();
  uint64_t rstart = now_ns(), rend = rstart + relay * 1000000000ULL;
  size_t sending = 0;
  for (size_t i = 0; i < s; i++)
    sending += g.c[m + i].channel != 0;
  while (relay && now_ns() < rend && now_ns() < t_end) {
    for (size_t i = 0; i < s; i++) {
      struct cl *c = &g.c[m + i];
      if (!c->channel || c->dead)
        continue;
      zt_relay_write_hdr(frame, c->channel);
      size_t fl = sizeof(frame);
      if (zq_max_datagram(c->q) < fl)
        fl = zq_max_datagram(c->q);
      for (int k = 0; k < 4; k++)
        if (zq_send_datagram(c->q, frame, fl) != 0)
          break;
      mark_dirty(c);
    }
    flush(now_ns());
    pump(0);
  }
  double rsec = (double)(now_ns() - rstart) / 1e9;
  for (size_t i = 0; i < m; i++)
    rx1 += g.c[i].rx_bytes;
  double cpu4 = cpu_s();
  if (relay)
    printf("scale-relay-mbps %.0f (%zu sessions, %.1f s, Intermediate CPU "
           "%.0f%%)\n",
           rsec > 0 ? (double)(rx1 - rx0) * 8 / rsec / 1e6 : 0.0, sending, rsec,
           cpu3 >= 0 && cpu4 >= 0 ? (cpu4 - cpu3) * 100 / rsec : -1.0);
  if (relay)
    print_drops("relay", &drops);
  if (relay)
    printf("scale-loadgen-cpu-pct relay %.0f\n",
           rsec > 0 ? (self_cpu_s() - lcpu) * 100 / rsec : 0.0);
  printf("scale-intermediate-hwm-kib %ld\n", status_kib("VmHWM"));
  if (g.send_errors)
    printf("scale-loadgen-send-errors %lu\n", (unsigned long)g.send_errors);
  fflush(stdout);

  /* Goodbye: a CONNECTION_CLOSE each, so the Intermediate is not left
   * with thousands of peers waiting out their idle timeout. */
  uint64_t now = now_ns();
  for (size_t i = 0; i < n; i++) {
    struct cl *c = &g.c[i];
    if (c->q && !c->dead) {
      zq_close(c->q, 0, "loadgen done");
      mark_dirty(c);
    }
  }
  flush(now);
  for (size_t i = 0; i < n; i++) {
    zq_free(g.c[i].q);
    zt_tls_creds_free(g.c[i].creds);
    free(g.c[i].reader);
  }
  free(g.c);
  zt_keymap_free(&g.by_key);
  zt_deadline_heap_free(&g.heap);
  zt_pem_free(&capem);
  return 0;
}

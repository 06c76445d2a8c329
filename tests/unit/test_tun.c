/*
 * tun: a TUN device configured through the ioctls, with routes through it,
 * and packets both ways. Everything happens in a forked child inside a
 * network namespace of its own (unshare(CLONE_NEWNET)): never in the
 * machine's namespace. Needs root (CAP_NET_ADMIN); SKIP otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "netns_child.h"
#include "tun.h"

#define TUN_ADDR 0x64400002u /* 100.64.0.2 */
#define VIP 0x0a640001u      /* 10.100.0.1 */

static uint16_t ip_checksum(const uint8_t *p, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2)
    sum += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (len & 1)
    sum += (uint32_t)p[len - 1] << 8;
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

/* IPv4 + UDP (checksum 0: "none", allowed over IPv4). */
static size_t build_udp4(uint8_t *pkt, uint32_t src, uint16_t sport,
                         uint32_t dst, uint16_t dport, const char *payload) {
  size_t plen = strlen(payload), total = 20 + 8 + plen;
  memset(pkt, 0, 28);
  pkt[0] = 0x45;
  pkt[2] = (uint8_t)(total >> 8);
  pkt[3] = (uint8_t)total;
  pkt[6] = 0x40; /* DF */
  pkt[8] = 64;
  pkt[9] = IPPROTO_UDP;
  put32(pkt + 12, src);
  put32(pkt + 16, dst);
  uint16_t ck = ip_checksum(pkt, 20);
  pkt[10] = (uint8_t)(ck >> 8);
  pkt[11] = (uint8_t)ck;
  pkt[20] = (uint8_t)(sport >> 8);
  pkt[21] = (uint8_t)sport;
  pkt[22] = (uint8_t)(dport >> 8);
  pkt[23] = (uint8_t)dport;
  pkt[24] = (uint8_t)((8 + plen) >> 8);
  pkt[25] = (uint8_t)(8 + plen);
  memcpy(pkt + 28, payload, plen);
  return total;
}

static int get_mtu(const char *ifname) {
  struct ifreq ifr;
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return -1;
  memset(&ifr, 0, sizeof(ifr));
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
  int rv = ioctl(s, SIOCGIFMTU, &ifr);
  close(s);
  return rv == 0 ? ifr.ifr_mtu : -1;
}

static bool wait_readable(int fd, int ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return poll(&p, 1, ms) == 1;
}

static struct sockaddr_in sin4(uint32_t addr, uint16_t port) {
  struct sockaddr_in s;
  memset(&s, 0, sizeof(s));
  s.sin_family = AF_INET;
  s.sin_addr.s_addr = htonl(addr);
  s.sin_port = htons(port);
  return s;
}

/* Runs in the child, inside its own namespace. */
static void tun_in_namespace(void) {
  char err[256] = "", name[16];
  uint8_t pkt[2048];

  int fd = zt_tun_open("zttest0", name, err, sizeof(err));
  if (fd < 0)
    fprintf(stderr, "%s\n", err);
  CHECK(fd >= 0);
  CHECK_STR(name, "zttest0");
  /* Read before anything is there: EAGAIN, not a block. */
  CHECK_EQ_INT(zt_tun_read(fd, pkt, sizeof(pkt)), -1);
  CHECK_EQ_INT(errno, EAGAIN);

  CHECK_EQ_INT(zt_tun_set_mtu(name, 1351, err, sizeof(err)), 0);
  CHECK_EQ_INT(get_mtu(name), 1351);
  CHECK_EQ_INT(zt_tun_set_addr(name, TUN_ADDR, 32, err, sizeof(err)), 0);
  CHECK_EQ_INT(zt_tun_up(name, err, sizeof(err)), 0);
  if (zt_tun_route_add(name, VIP, 32, err, sizeof(err)) != 0)
    fprintf(stderr, "%s\n", err);
  CHECK_EQ_INT(zt_tun_route_add(name, VIP, 32, err, sizeof(err)), 0);
  /* A /16 with host bits set: the network address is what gets routed. */
  CHECK_EQ_INT(zt_tun_route_add(name, 0x0a650007u, 16, err, sizeof(err)), 0);

  /* Out through the TUN: the kernel routes 10.100.0.1 via zttest0 and the
   * packet comes out of the fd, source the TUN's address. */
  int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  CHECK(u >= 0);
  struct sockaddr_in any = sin4(0, 0);
  CHECK_EQ_INT(bind(u, (struct sockaddr *)&any, sizeof(any)), 0);
  struct sockaddr_storage local;
  socklen_t ll = sizeof(local);
  CHECK_EQ_INT(getsockname(u, (struct sockaddr *)&local, &ll), 0);
  uint16_t uport = ntohs(((struct sockaddr_in *)&local)->sin_port);

  struct sockaddr_in vip = sin4(VIP, 9999);
  CHECK_EQ_INT(sendto(u, "ping", 4, 0, (struct sockaddr *)&vip, sizeof(vip)),
               4);
  CHECK(wait_readable(fd, 1000));
  ssize_t n;
  /* Skip anything else the kernel may send first (none expected with IPv6
   * off on a TUN, but be tolerant): find our UDP datagram. */
  for (;;) {
    n = zt_tun_read(fd, pkt, sizeof(pkt));
    CHECK(n > 0);
    if ((pkt[0] >> 4) == 4 && pkt[9] == IPPROTO_UDP)
      break;
    CHECK(wait_readable(fd, 1000));
  }
  CHECK_EQ_INT(n, 20 + 8 + 4);
  CHECK_EQ_INT(get32(pkt + 16), VIP);
  CHECK_EQ_INT(get32(pkt + 12), TUN_ADDR);
  CHECK_EQ_INT(pkt[22] << 8 | pkt[23], 9999);
  CHECK(memcmp(pkt + 28, "ping", 4) == 0);

  /* The /16 route: 10.101.x.x goes through the TUN too. */
  struct sockaddr_in other = sin4(0x0a650203u, 7);
  CHECK_EQ_INT(
      sendto(u, "x", 1, 0, (struct sockaddr *)&other, sizeof(other)), 1);
  /* Again skipping whatever else the kernel sends (IPv6 router and
   * multicast listener solicitations arrive at their own pace). */
  for (;;) {
    CHECK(wait_readable(fd, 1000));
    n = zt_tun_read(fd, pkt, sizeof(pkt));
    CHECK(n > 0);
    if ((pkt[0] >> 4) == 4 && pkt[9] == IPPROTO_UDP)
      break;
  }
  CHECK_EQ_INT(get32(pkt + 16), 0x0a650203u);

  /* In through the TUN: a hand-built reply from 10.100.0.1:9999 written to
   * the fd reaches the socket. */
  size_t len = build_udp4(pkt, VIP, 9999, TUN_ADDR, uport, "pong");
  CHECK_EQ_INT(zt_tun_write(fd, pkt, len), 0);
  CHECK(wait_readable(u, 1000));
  char got[16];
  struct sockaddr_in from;
  socklen_t fl = sizeof(from);
  CHECK_EQ_INT(recvfrom(u, got, sizeof(got), MSG_DONTWAIT,
                        (struct sockaddr *)&from, &fl),
               4);
  CHECK(memcmp(got, "pong", 4) == 0);
  CHECK_EQ_INT(ntohl(from.sin_addr.s_addr), VIP);

  /* Routes away, twice: the second delete is not an error. */
  CHECK_EQ_INT(zt_tun_route_del(name, VIP, 32, err, sizeof(err)), 0);
  CHECK_EQ_INT(zt_tun_route_del(name, VIP, 32, err, sizeof(err)), 0);
  CHECK_EQ_INT(zt_tun_route_del(name, 0x0a650000u, 16, err, sizeof(err)), 0);
  CHECK_EQ_INT(sendto(u, "ping", 4, 0, (struct sockaddr *)&vip, sizeof(vip)),
               -1);
  CHECK_EQ_INT(errno, ENETUNREACH);

  /* Errors name the interface and what failed. */
  CHECK_EQ_INT(zt_tun_set_mtu("nosuchif0", 1400, err, sizeof(err)), -1);
  CHECK_CONTAINS(err, "nosuchif0: set MTU 1400: No such device");
  CHECK_EQ_INT(zt_tun_route_add("nosuchif0", VIP, 32, err, sizeof(err)), -1);
  CHECK_CONTAINS(err, "nosuchif0: add route 10.100.0.1/32");
  CHECK_EQ_INT(zt_tun_set_addr(name, TUN_ADDR, 33, err, sizeof(err)), -1);
  CHECK_EQ_INT(zt_tun_open("a-name-far-too-long", name, err, sizeof(err)),
               -1);
  CHECK_CONTAINS(err, "a-name-far-too-long");

  close(u);
  close(fd);
}

static void test_tun_in_netns(void) {
  if (geteuid() != 0)
    SKIP("not root: a TUN device needs CAP_NET_ADMIN");
  int st = run_in_new_netns(tun_in_namespace);
  if (st == NETNS_SKIPPED)
    SKIP("%s", netns_skip_reason);
  CHECK_EQ_INT(st, 0);
}

/* Without a name the kernel picks one. */
static void kernel_name_in_namespace(void) {
  char err[256], name[16];
  CHECK(zt_tun_open("", name, err, sizeof(err)) >= 0);
  CHECK(strncmp(name, "tun", 3) == 0);
}

static void test_tun_kernel_name(void) {
  if (geteuid() != 0)
    SKIP("not root: a TUN device needs CAP_NET_ADMIN");
  int st = run_in_new_netns(kernel_name_in_namespace);
  if (st == NETNS_SKIPPED)
    SKIP("%s", netns_skip_reason);
  CHECK_EQ_INT(st, 0);
}

int main(void) {
  RUN(test_tun_in_netns);
  RUN(test_tun_kernel_name);
  return TEST_EXIT();
}

/*
 * TUN offloads against the real kernel (platform/tun.c
 * zt_tun_open_offload, platform/tunoffload.c, core/tso.c, core/gro.c): a
 * TCP connection of the kernel's to an address routed into the device,
 * its other end played by hand through the device. The kernel's send of
 * 60 KB must come out as super segments that cut into valid packets, and
 * a merged write of five segments must reach the socket as their bytes.
 * In a forked child inside a network namespace of its own; needs root
 * (CAP_NET_ADMIN), else SKIP, as is a kernel without the offloads.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "test.h"
#include "netns_child.h"
#include "segbuild.h"
#include "tun.h"
#include "tunoffload.h"

#define TUN_ADDR 0x64400002u /* 100.64.0.2 */
#define VIP 0x0a640001u      /* 10.100.0.1 */

static struct sb_pkts rd;

static uint8_t buf[65536 + ZT_VNET_HDR_LEN];
static struct zt_tso_stats tst;

/* Reads what the device has within ms into rd (cut by tso): rd.n. */
static size_t read_for(int fd, int ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  while (poll(&p, 1, ms) == 1) {
    ssize_t n = zt_tun_read(fd, buf, sizeof(buf));
    if (n <= 0)
      break;
    zt_tso_read(buf, (size_t)n, sb_collect, &rd, &tst);
    ms = 200; /* then whatever follows closely */
  }
  return rd.n;
}

/* The index in rd of the first IPv4 TCP packet to VIP with these flags
 * set, or -1. */
static int find_tcp(uint8_t flags) {
  for (size_t i = 0; i < rd.n; i++)
    if (rd.pkt[i][0] == 0x45 && rd.pkt[i][9] == 6 &&
        sb_rd32(rd.pkt[i] + 16) == VIP && (rd.pkt[i][33] & flags) == flags)
      return (int)i;
  return -1;
}

static void offload_in_namespace(void) {
  char err[256] = "", name[16];
  bool off = true;
  int fd = zt_tun_open_offload("ztoff0", name, &off, err, sizeof(err));
  if (fd < 0)
    fprintf(stderr, "%s\n", err);
  CHECK(fd >= 0);
  if (!off)
    SKIP("the kernel refused TUNSETOFFLOAD");
  CHECK_EQ_INT(zt_tun_set_mtu(name, 1351, err, sizeof(err)), 0);
  CHECK_EQ_INT(zt_tun_set_addr(name, TUN_ADDR, 32, err, sizeof(err)), 0);
  CHECK_EQ_INT(zt_tun_up(name, err, sizeof(err)), 0);
  CHECK_EQ_INT(zt_tun_route_add(name, VIP, 32, err, sizeof(err)), 0);

  int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  CHECK(s >= 0);
  struct sockaddr_in to = {.sin_family = AF_INET,
                           .sin_port = htons(80),
                           .sin_addr.s_addr = htonl(VIP)};
  CHECK_EQ_INT(connect(s, (struct sockaddr *)&to, sizeof(to)), -1);
  CHECK_EQ_INT(errno, EINPROGRESS);
  rd.n = 0;
  read_for(fd, 2000);
  int syn = find_tcp(0x02);
  CHECK(syn >= 0);
  uint32_t iss = sb_rd32(rd.pkt[syn] + 24);
  uint16_t port = sb_rd16(rd.pkt[syn] + 20);
  CHECK(sb_l4_ok(rd.pkt[syn], rd.len[syn], 6));

  /* SYN-ACK with MSS 1311 (the TUN MTU less 40), no other option. */
  struct sb_seg h = sb_default();
  h.src = VIP;
  h.dst = TUN_ADDR;
  h.sport = 80;
  h.dport = port;
  h.seq = 1000;
  h.ack = iss + 1;
  h.window = 65535;
  h.flags = 0x12;
  h.optlen = 4;
  uint8_t pkt[1500];
  size_t len = sb_build(pkt, &h, 0);
  memcpy(pkt + 40, "\x02\x04\x05\x1f", 4);
  pkt[36] = pkt[37] = 0;
  sb_make_partial(pkt, len); /* then complete it as the kernel would */
  struct zt_vnethdr vh = {.flags = ZT_VNET_F_NEEDS_CSUM, .csum_start = 20,
                          .csum_offset = 16};
  CHECK_EQ_INT(zt_vnet_csum_complete(&vh, pkt, len), 0);
  CHECK_EQ_INT(zt_tunoff_write_now(fd, pkt, len), 0);
  struct pollfd pw = {.fd = s, .events = POLLOUT};
  CHECK_EQ_INT(poll(&pw, 1, 2000), 1);
  int soerr = -1;
  socklen_t sl = sizeof(soerr);
  CHECK_EQ_INT(getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &sl), 0);
  CHECK_EQ_INT(soerr, 0);

  /* The kernel's 60 KB: its first window, in super segments. */
  static uint8_t data[60000];
  for (size_t i = 0; i < sizeof(data); i++)
    data[i] = sb_pat(iss + 1 + (uint32_t)i);
  CHECK(send(s, data, sizeof(data), 0) > 0);
  rd.n = 0;
  memset(&tst, 0, sizeof(tst));
  read_for(fd, 2000);
  CHECK(tst.gso_reads >= 1);
  CHECK_EQ_INT(tst.bad, 0);
  uint32_t next = iss + 1;
  size_t segs = 0;
  for (size_t i = 0; i < rd.n; i++) {
    const uint8_t *p = rd.pkt[i];
    if (p[0] != 0x45 || p[9] != 6)
      continue;
    size_t pay = rd.len[i] - 20 - (size_t)(p[32] >> 4) * 4;
    CHECK(rd.len[i] <= 1351);
    CHECK(sb_ip_ok(p));
    CHECK(sb_l4_ok(p, rd.len[i], 6));
    if (!pay)
      continue;
    CHECK_EQ_INT(sb_rd32(p + 24), next); /* in order, no gap */
    CHECK(!memcmp(p + rd.len[i] - pay, data + (next - iss - 1), pay));
    next += (uint32_t)pay;
    segs++;
  }
  CHECK(segs >= 2);
  printf("  the kernel's first window: %llu reads, %llu super segments cut "
         "into %llu packets\n", (unsigned long long)tst.reads,
         (unsigned long long)tst.gso_reads,
         (unsigned long long)tst.segments);
  CHECK_EQ_INT(tst.segments >= segs, 1);

  /* Five segments of ours, merged into one write. */
  struct zt_tunoff *t = zt_tunoff_new();
  CHECK(t != NULL);
  h.flags = 0x10;
  h.optlen = 0;
  h.seq = 1001;
  h.ack = iss + 1;
  for (int k = 0; k < 5; k++) {
    len = sb_build(pkt, &h, 1000);
    CHECK_EQ_INT(zt_tunoff_queue(t, fd, pkt, len), 0);
    h.seq += 1000;
    h.id++;
  }
  CHECK_EQ_INT(t->gro.nitem, 1);
  CHECK_EQ_INT(zt_tunoff_flush(t, fd), 0);
  CHECK_EQ_INT(t->gros.merged, 1);
  CHECK_EQ_INT(t->gros.segments, 5);
  zt_tunoff_free(t);
  static uint8_t got[8000];
  size_t have = 0;
  struct pollfd pr = {.fd = s, .events = POLLIN};
  while (have < 5000 && poll(&pr, 1, 2000) == 1) {
    ssize_t n = recv(s, got + have, sizeof(got) - have, 0);
    if (n <= 0)
      break;
    have += (size_t)n;
  }
  CHECK_EQ_INT(have, 5000);
  for (size_t i = 0; i < 5000; i++)
    CHECK_EQ_INT(got[i], sb_pat(1001 + (uint32_t)i));
  close(s);
  close(fd);
}

static void test_offload_with_the_kernel(void) {
  if (geteuid() != 0)
    SKIP("not root: a TUN device needs CAP_NET_ADMIN");
  int st = run_in_new_netns(offload_in_namespace);
  if (st == NETNS_SKIPPED)
    SKIP("%s", netns_skip_reason);
  CHECK_EQ_INT(st, 0);
}

int main(void) {
  RUN(test_offload_with_the_kernel);
  return TEST_EXIT();
}

/*
 * conntrack: entries whose original source is an agent address are
 * deleted, others kept. As root, in a forked child inside a network
 * namespace of its own (never the machine's conntrack table): a NAT rule
 * makes the kernel track UDP packets sent from two "agent" addresses to a
 * "service" address, then zt_conntrack_forget_src() removes one agent's
 * entries, and conntrack(8) confirms from outside our code.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conntrack.h"
#include "test.h"
#include "netns_child.h"

#define OLD_HOLDER "100.64.0.7"
#define OTHER "100.64.0.8"

static int sh(const char *cmd) {
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* One UDP datagram from src:sport to 10.100.0.1:7, which the output NAT
 * rule rewrites to 127.0.0.1: a tracked, DNATed flow. */
static int send_from(const char *src, uint16_t sport) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(sport)};
  struct sockaddr_in d = {.sin_family = AF_INET, .sin_port = htons(7)};
  inet_pton(AF_INET, src, &a.sin_addr);
  inet_pton(AF_INET, "10.100.0.1", &d.sin_addr);
  int rv = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
                   sendto(fd, "x", 1, 0, (struct sockaddr *)&d, sizeof(d)) == 1
               ? 0
               : -1;
  if (fd >= 0)
    close(fd);
  return rv;
}

/* Entries conntrack(8) lists with original source src. */
static int listed(const char *src) {
  char cmd[128], out[4096];
  snprintf(cmd, sizeof(cmd), "conntrack -L -p udp -s %s 2>/dev/null", src);
  if (capture(cmd, out, sizeof(out)) != 0)
    return -1;
  int n = 0; /* one line per entry */
  for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
    if (strstr(line, "dport=7 "))
      n++;
  return n;
}

static void forget_in_namespace(void) {
  char err[256] = "";
  CHECK_EQ_INT(sh("ip link set lo up && "
                  "ip addr add " OLD_HOLDER "/32 dev lo && "
                  "ip addr add " OTHER "/32 dev lo && "
                  "ip route add 10.100.0.0/16 dev lo"),
               0);
  CHECK_EQ_INT(sh("nft -f - <<'EOF'\n"
                  "table ip t {\n"
                  "  chain out {\n"
                  "    type nat hook output priority -100; policy accept;\n"
                  "    ip daddr 10.100.0.1 dnat to 127.0.0.1\n"
                  "  }\n"
                  "}\n"
                  "EOF"),
               0);
  CHECK_EQ_INT(send_from(OLD_HOLDER, 40001), 0);
  CHECK_EQ_INT(send_from(OLD_HOLDER, 40002), 0);
  CHECK_EQ_INT(send_from(OTHER, 40003), 0);
  CHECK_EQ_INT(listed(OLD_HOLDER), 2); /* the kernel tracks them */
  CHECK_EQ_INT(listed(OTHER), 1);

  int n = zt_conntrack_forget_src(0x64400007u, err, sizeof(err));
  if (n < 0)
    fprintf(stderr, "%s\n", err);
  CHECK_EQ_INT(n, 2);
  CHECK_EQ_INT(listed(OLD_HOLDER), 0);
  CHECK_EQ_INT(listed(OTHER), 1); /* someone else's flows stay */
  CHECK_EQ_INT(zt_conntrack_forget_src(0x64400007u, err, sizeof(err)), 0);
}

/* Without CAP_NET_ADMIN over the namespace the kernel refuses, and the
 * error says what failed. Last: there is no way back. */
static void refused_in_namespace(void) {
  char err[256] = "";
  if (unshare(CLONE_NEWUSER) != 0)
    SKIP("unshare(CLONE_NEWUSER): %s: refusal path not checked",
         strerror(errno));
  CHECK_EQ_INT(zt_conntrack_forget_src(0x64400007u, err, sizeof(err)), -1);
  CHECK_CONTAINS(err, "conntrack: ");
  CHECK_CONTAINS(err, "100.64.0.7");
}

static void child(void) {
  forget_in_namespace();
  if (!test_case_failed)
    refused_in_namespace();
}

static void test_forget_src_in_netns(void) {
  if (geteuid() != 0)
    SKIP("not root: the conntrack test needs a namespace");
  if (sh("command -v conntrack >/dev/null && command -v nft >/dev/null && "
         "command -v ip >/dev/null") != 0)
    SKIP("conntrack, nft or ip not installed");
  int st = run_in_new_netns(child);
  if (st == NETNS_SKIPPED)
    SKIP("%s", netns_skip_reason);
  CHECK_EQ_INT(st, 0);
}

int main(void) {
  RUN(test_forget_src_in_netns);
  return TEST_EXIT();
}

/*
 * nft: the rendered ruleset text, and, as root where network namespaces
 * work, libnftables applying and removing it inside a namespace of its own
 * (a forked child after unshare(CLONE_NEWNET): never the machine's own
 * nftables).
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nft.h"
#include "test.h"
#include "netns_child.h"


static const struct zt_nft_service two[] = {
    {0x0a640001u, 0x0a1e0002u}, /* 10.100.0.1 -> 10.30.0.2 */
    {0x0a640002u, 0x0a1e0003u}, /* 10.100.0.2 -> 10.30.0.3 */
};

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
    n++;
  return n;
}

static void test_render_none(void) {
  char buf[4096];
  int n = zt_nft_render("ztna-c0", NULL, 0, 0, buf, sizeof(buf));
  CHECK(n > 0);
  CHECK_EQ_INT((size_t)n, strlen(buf));
  /* The replace-atomically preamble, then the table. */
  const char *head = "table inet ztna_ztna_c0\n"
                     "delete table inet ztna_ztna_c0\n"
                     "table inet ztna_ztna_c0 {\n";
  CHECK(strncmp(buf, head, strlen(head)) == 0);
  CHECK_CONTAINS(buf, "type nat hook prerouting priority dstnat; policy accept;");
  CHECK_CONTAINS(buf, "type nat hook postrouting priority srcnat; policy accept;");
  CHECK_CONTAINS(buf, "ct mark 0x7a74 masquerade");
  CHECK(!strstr(buf, "dnat ip to")); /* no service, no DNAT */
  /* Nothing from the tunnel is forwarded unless it was DNAT'ed, and
   * nothing enters it unless it replies to such a flow. */
  CHECK_CONTAINS(buf, "iifname \"ztna-c0\" ct mark 0x7a74 ct direction "
                      "original accept\n    iifname \"ztna-c0\" counter drop\n");
  CHECK_CONTAINS(buf, "oifname \"ztna-c0\" ct mark 0x7a74 ct direction "
                      "reply accept\n    oifname \"ztna-c0\" counter drop\n");
  /* The host routed before ztna: its other forwarding is not ours. */
  CHECK(!strstr(buf, "meta nfproto ipv4"));
  CHECK_EQ_INT(buf[n - 1], '\n');
  CHECK_EQ_INT(count(buf, "{"), count(buf, "}"));
}

static void test_render_one(void) {
  char buf[4096];
  int n = zt_nft_render("ztna-c0", two, 1, 0, buf, sizeof(buf));
  CHECK(n > 0);
  CHECK_CONTAINS(buf, "    iifname \"ztna-c0\" ip daddr 10.100.0.1 ct mark set "
                      "0x7a74 dnat ip to 10.30.0.2\n");
  CHECK_EQ_INT(count(buf, "dnat ip to"), 1);
  CHECK_EQ_INT(count(buf, "masquerade"), 1);
}

static void test_render_two_exact(void) {
  char buf[4096];
  const char *want =
      "table inet ztna_ztna_c0\n"
      "delete table inet ztna_ztna_c0\n"
      "table inet ztna_ztna_c0 {\n"
      "  chain prerouting {\n"
      "    type nat hook prerouting priority dstnat; policy accept;\n"
      "    iifname \"ztna-c0\" ip daddr 10.100.0.1 ct mark set 0x7a74 dnat ip "
      "to 10.30.0.2\n"
      "    iifname \"ztna-c0\" ip daddr 10.100.0.2 ct mark set 0x7a74 dnat ip "
      "to 10.30.0.3\n"
      "  }\n"
      "  chain postrouting {\n"
      "    type nat hook postrouting priority srcnat; policy accept;\n"
      "    ct mark 0x7a74 masquerade\n"
      "  }\n"
      "  chain forward {\n"
      "    type filter hook forward priority filter; policy accept;\n"
      "    iifname \"ztna-c0\" ct mark 0x7a74 ct direction original accept\n"
      "    iifname \"ztna-c0\" counter drop\n"
      "    oifname \"ztna-c0\" ct mark 0x7a74 ct direction reply accept\n"
      "    oifname \"ztna-c0\" counter drop\n"
      "  }\n"
      "}\n";
  int n = zt_nft_render("ztna-c0", two, 2, 0, buf, sizeof(buf));
  CHECK_STR(buf, want);
  CHECK_EQ_INT(n, strlen(want));
}

/* ztna turned ip_forward on: every other forwarded IPv4 packet is
 * dropped, after the tunnel's own rules and only for IPv4 (IPv6 forwarding
 * is another switch, not ours). */
static void test_render_only_ours(void) {
  char buf[4096], plain[4096];
  const char *extra = "    meta nfproto ipv4 counter drop\n";
  CHECK(zt_nft_render("ztna-c0", two, 2, 0, plain, sizeof(plain)) > 0);
  int n = zt_nft_render("ztna-c0", two, 2, ZT_NFT_ONLY_OURS, buf, sizeof(buf));
  CHECK(n > 0);
  const char *last = "    oifname \"ztna-c0\" counter drop\n"
                     "    meta nfproto ipv4 counter drop\n"
                     "  }\n"
                     "}\n";
  CHECK_STR(buf + n - strlen(last), last);
  /* Otherwise the same ruleset. */
  CHECK_EQ_INT((size_t)n, strlen(plain) + strlen(extra));
  CHECK(strncmp(buf, plain, strlen(plain) - strlen("  }\n}\n")) == 0);
}

/* The table name is an identifier: '-' and '.' become '_'; the quoted
 * iifname keeps the device's real name. Names nft could misparse are
 * refused. */
static void test_name_sanitising(void) {
  char buf[4096];
  CHECK(zt_nft_render("tun.a-b_c", two, 1, 0, buf, sizeof(buf)) > 0);
  CHECK_CONTAINS(buf, "table inet ztna_tun_a_b_c {\n");
  CHECK_CONTAINS(buf, "iifname \"tun.a-b_c\" ip daddr");
  CHECK(zt_nft_render("plain0", NULL, 0, 0, buf, sizeof(buf)) > 0);
  CHECK_CONTAINS(buf, "table inet ztna_plain0\n");
  CHECK_EQ_INT(zt_nft_render("", NULL, 0, 0, buf, sizeof(buf)), -1);
  CHECK_EQ_INT(zt_nft_render("evil\"; flush", NULL, 0, 0, buf, sizeof(buf)),
               -1);
  CHECK_EQ_INT(zt_nft_render("a name", NULL, 0, 0, buf, sizeof(buf)), -1);
  CHECK_EQ_INT(zt_nft_render("sixteen-chars-xx", NULL, 0, 0, buf, sizeof(buf)),
               -1);
  char err[256] = "";
  CHECK_EQ_INT(zt_nft_apply("bad name", NULL, 0, 0, err, sizeof(err)), -1);
  CHECK_CONTAINS(err, "bad name");
}

static void test_render_too_small(void) {
  char buf[4096];
  int full = zt_nft_render("ztna-c0", two, 2, 0, buf, sizeof(buf));
  CHECK(full > 0);
  /* Exactly the text plus its NUL fits; one byte less does not. */
  CHECK_EQ_INT(zt_nft_render("ztna-c0", two, 2, 0, buf, (size_t)full + 1), full);
  CHECK_EQ_INT(zt_nft_render("ztna-c0", two, 2, 0, buf, (size_t)full), -1);
  CHECK_EQ_INT(zt_nft_render("ztna-c0", two, 2, 0, buf, 10), -1);
  CHECK_EQ_INT(zt_nft_render("ztna-c0", two, 2, 0, buf, 0), -1);
}

/* ---- the real nft, in a namespace of its own ---- */

static void nft_in_namespace(void) {
  char err[512] = "", out[8192];

  /* Remove before anything exists: fine. */
  if (zt_nft_remove("ztna-c0", err, sizeof(err)) != 0)
    fprintf(stderr, "%s\n", err);
  CHECK_EQ_INT(zt_nft_remove("ztna-c0", err, sizeof(err)), 0);
  CHECK_EQ_INT(capture("nft list tables", out, sizeof(out)), 0);
  CHECK(!strstr(out, "ztna_ztna_c0"));

  if (zt_nft_apply("ztna-c0", two, 2, 0, err, sizeof(err)) != 0)
    fprintf(stderr, "%s\n", err);
  CHECK_EQ_INT(zt_nft_apply("ztna-c0", two, 2, 0, err, sizeof(err)), 0);
  CHECK_EQ_INT(capture("nft list tables", out, sizeof(out)), 0);
  CHECK_CONTAINS(out, "table inet ztna_ztna_c0");

  /* Applying again replaces, not appends: one service now. */
  CHECK_EQ_INT(zt_nft_apply("ztna-c0", two + 1, 1, 0, err, sizeof(err)), 0);
  CHECK_EQ_INT(capture("nft list table inet ztna_ztna_c0", out, sizeof(out)),
               0);
  CHECK_CONTAINS(out, "dnat ip to 10.30.0.3");
  CHECK(!strstr(out, "10.30.0.2"));
  CHECK_CONTAINS(out, "masquerade");
  CHECK_EQ_INT(count(out, "table inet ztna_ztna_c0"), 1);

  /* Another connector's table is left alone. */
  CHECK_EQ_INT(zt_nft_apply("ztna-c1", two, 1, 0, err, sizeof(err)), 0);
  CHECK_EQ_INT(zt_nft_remove("ztna-c0", err, sizeof(err)), 0);
  CHECK_EQ_INT(capture("nft list tables", out, sizeof(out)), 0);
  CHECK(!strstr(out, "ztna_ztna_c0"));
  CHECK_CONTAINS(out, "ztna_ztna_c1");
  CHECK_EQ_INT(zt_nft_remove("ztna-c1", err, sizeof(err)), 0);
  CHECK_EQ_INT(zt_nft_remove("ztna-c1", err, sizeof(err)), 0);
  CHECK_EQ_INT(capture("nft list tables", out, sizeof(out)), 0);
  CHECK(!strstr(out, "ztna_"));

  /* Both forms load into the kernel. */
  CHECK_EQ_INT(zt_nft_apply("ztna-c0", two, 2, ZT_NFT_ONLY_OURS, err,
                            sizeof(err)), 0);
  CHECK_EQ_INT(capture("nft list chain inet ztna_ztna_c0 forward", out,
                       sizeof(out)), 0);
  CHECK_CONTAINS(out, "meta nfproto ipv4 counter packets 0 bytes 0 drop");
  CHECK_CONTAINS(out, "oifname \"ztna-c0\" ct mark 0x00007a74 ct direction reply accept");

  /* Parked at a clean stop: the NAT hooks stay, and the masquerade of
   * marked flows, a rule using conntrack, so that connection tracking stays
   * hooked in (platform/nft.h): no DNAT, no filter. */
  CHECK_EQ_INT(zt_nft_park("ztna-c0", err, sizeof(err)), 0);
  CHECK_EQ_INT(capture("nft list table inet ztna_ztna_c0", out, sizeof(out)),
               0);
  CHECK_CONTAINS(out, "type nat hook prerouting");
  CHECK_CONTAINS(out, "type nat hook postrouting");
  CHECK(!strstr(out, "dnat"));
  CHECK_CONTAINS(out, "ct mark 0x00007a74 masquerade");
  CHECK(!strstr(out, "forward"));
  /* and the next start replaces it with the real table */
  CHECK_EQ_INT(zt_nft_apply("ztna-c0", two, 1, 0, err, sizeof(err)), 0);
  CHECK_EQ_INT(capture("nft list table inet ztna_ztna_c0", out, sizeof(out)),
               0);
  CHECK_CONTAINS(out, "dnat ip to 10.30.0.2");
  CHECK_EQ_INT(zt_nft_remove("ztna-c0", err, sizeof(err)), 0);

  /* ip_forward is per namespace: this one only. A fresh one starts off;
   * enable says it was off, and set(false) puts it back. */
  bool was_on = true, on = true;
  CHECK_EQ_INT(zt_ip_forward_get(&on, err, sizeof(err)), 0);
  CHECK(!on);
  CHECK_EQ_INT(zt_ip_forward_enable(&was_on, err, sizeof(err)), 0);
  CHECK(!was_on);
  CHECK_EQ_INT(capture("cat /proc/sys/net/ipv4/ip_forward", out, sizeof(out)),
               0);
  CHECK_STR(out, "1\n");
  CHECK_EQ_INT(zt_ip_forward_enable(&was_on, err, sizeof(err)), 0);
  CHECK(was_on); /* on already: a router on purpose */
  CHECK_EQ_INT(zt_ip_forward_set(false, err, sizeof(err)), 0);
  CHECK_EQ_INT(capture("cat /proc/sys/net/ipv4/ip_forward", out, sizeof(out)),
               0);
  CHECK_STR(out, "0\n");
}

/* nft failing: its own message comes back in err, on one line. A
 * user namespace of our own leaves us no capability over this network
 * namespace, so nft is refused by the kernel. A child of its own: there is
 * no way back from the user namespace. */
static void nft_refused_in_namespace(void) {
  char err[512] = "";
  if (unshare(CLONE_NEWUSER) != 0)
    SKIP("unshare(CLONE_NEWUSER): %s: nft failure path not checked",
         strerror(errno));
  CHECK_EQ_INT(zt_nft_apply("ztna-c0", two, 2, 0, err, sizeof(err)), -1);
  CHECK_CONTAINS(err, "nft: ");
  CHECK_CONTAINS(err, "Error: ");
  CHECK_CONTAINS(err, "Operation not permitted");
  CHECK(!strchr(err, '\n')); /* one line for the log */
  CHECK_EQ_INT(zt_ip_forward_set(true, err, sizeof(err)), -1);
  CHECK_CONTAINS(err, "/proc/sys/net/ipv4/ip_forward");
}

/* Why the real nft cannot be run here, or NULL when it can. */
static const char *nft_unavailable(void) {
  if (geteuid() != 0)
    return "not root: nft needs CAP_NET_ADMIN";
  if (system("command -v nft >/dev/null 2>&1") != 0 &&
      access("/usr/sbin/nft", X_OK) != 0)
    return "nft not installed";
  return NULL;
}

static void test_nft_apply_in_netns(void) {
  const char *why = nft_unavailable();
  if (why)
    SKIP("%s", why);
  int st = run_in_new_netns(nft_in_namespace);
  if (st == NETNS_SKIPPED)
    SKIP("%s", netns_skip_reason);
  CHECK_EQ_INT(st, 0);
}

static void test_nft_refused_in_netns(void) {
  const char *why = nft_unavailable();
  if (why)
    SKIP("%s", why);
  int st = run_in_new_netns(nft_refused_in_namespace);
  if (st == NETNS_SKIPPED)
    SKIP("%s", netns_skip_reason);
  CHECK_EQ_INT(st, 0);
}

int main(void) {
  RUN(test_render_none);
  RUN(test_render_one);
  RUN(test_render_two_exact);
  RUN(test_render_only_ours);
  RUN(test_name_sanitising);
  RUN(test_render_too_small);
  RUN(test_nft_apply_in_netns);
  RUN(test_nft_refused_in_netns);
  return TEST_EXIT();
}

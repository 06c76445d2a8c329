/*
 * The connector's nftables table. See nft.h.
 *
 * Per service, in table inet ztna_<tun>:
 *   prerouting (nat):  from the TUN to the virtual address -> conntrack mark,
 *                      DNAT to the backend;
 *   postrouting (nat): marked connections are masqueraded, so the backend
 *                      answers the connector, whose conntrack undoes both
 *                      translations and routes the reply into the tunnel;
 *   forward (filter):  into the TUN only replies of those DNATed flows;
 *                      out of it only their original direction. An agent
 *                      reaches the service backends and not the rest of the
 *                      connector's networks, and a host on the connector's
 *                      LAN that routes the agent pool via the connector
 *                      cannot inject packets (say, from a service's virtual
 *                      address) into an agent's tunnel.
 * The mark is on the conntrack entry, not the packet: NAT chains only see a
 * connection's first packet, the forward chain sees all of them, and the
 * packet mark stays free for whatever policy routing the host has.
 *
 * ip_forward is one switch for the whole host. When ztna had to turn it on
 * (ZT_NFT_ONLY_OURS) the host was not meant to route, so the forward chain
 * also drops every other forwarded IPv4 packet: a multi-homed connector does
 * not become a router between its networks. When it was on already, the
 * host routes on purpose and only traffic to and from the TUN is ours to
 * restrict.
 *
 * The ruleset goes to the kernel through libnftables, in-process: one
 * atomic transaction, nft's own parser and error text, no fork+exec.
 */
#include "nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <nftables/libnftables.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ippkt.h"

#define ZT_NFT_MARK "0x7a74" /* "zt" */

/* The name is spliced into nft syntax: a quoted string for iifname and an
 * identifier for the table, so only what interface names normally use. */
static bool tun_name_ok(const char *tun) {
  size_t n = strlen(tun);
  if (n == 0 || n >= IFNAMSIZ)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = tun[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
      return false;
  }
  return true;
}

/* "ztna_" + the device name with everything that is not a letter, digit or
 * '_' turned into '_': nft identifiers cannot hold '-'. */
static void table_name(const char *tun, char out[8 + IFNAMSIZ]) {
  size_t i;
  memcpy(out, "ztna_", 5);
  for (i = 0; tun[i] && i < IFNAMSIZ - 1; i++) {
    char c = tun[i];
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (c >= '0' && c <= '9') || c == '_';
    out[5 + i] = keep ? c : '_';
  }
  out[5 + i] = '\0';
}

struct out {
  char *buf;
  size_t len, used;
  bool overflow;
};

static void put(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...) {
  va_list ap;
  if (o->overflow)
    return;
  va_start(ap, fmt);
  int n = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= o->len - o->used) {
    o->overflow = true;
    return;
  }
  o->used += (size_t)n;
}

int zt_nft_render(const char *tun, const struct zt_nft_service *s, size_t n,
                  unsigned flags, char *buf, size_t len) {
  char table[8 + IFNAMSIZ], vip[INET_ADDRSTRLEN], be[INET_ADDRSTRLEN];
  struct out o = {buf, len, 0, false};
  if (!tun_name_ok(tun) || len == 0)
    return -1;
  table_name(tun, table);

  /* "table X" creates it if missing, so the "delete" that follows always
   * has something to delete: one nft transaction replaces the old table,
   * and never leaves a moment without one. */
  put(&o, "table inet %s\n", table);
  put(&o, "delete table inet %s\n", table);
  put(&o, "table inet %s {\n", table);
  put(&o, "  chain prerouting {\n"
          "    type nat hook prerouting priority dstnat; policy accept;\n");
  for (size_t i = 0; i < n; i++)
    put(&o,
        "    iifname \"%s\" ip daddr %s ct mark set " ZT_NFT_MARK
        " dnat ip to %s\n",
        tun, zt_ip4_str(s[i].vip, vip), zt_ip4_str(s[i].backend, be));
  put(&o, "  }\n");
  put(&o, "  chain postrouting {\n"
          "    type nat hook postrouting priority srcnat; policy accept;\n"
          "    ct mark " ZT_NFT_MARK " masquerade\n"
          "  }\n");
  /* Accepting here does not override other tables' drops; dropping is
   * final. The policy stays accept so IPv6 (which ztna does not forward,
   * and whose forwarding switch is another one) is left to the host. */
  put(&o,
      "  chain forward {\n"
      "    type filter hook forward priority filter; policy accept;\n"
      "    iifname \"%s\" ct mark " ZT_NFT_MARK " ct direction original accept\n"
      "    iifname \"%s\" counter drop\n"
      "    oifname \"%s\" ct mark " ZT_NFT_MARK " ct direction reply accept\n"
      "    oifname \"%s\" counter drop\n",
      tun, tun, tun, tun);
  if (flags & ZT_NFT_ONLY_OURS)
    put(&o, "    meta nfproto ipv4 counter drop\n");
  put(&o, "  }\n");
  put(&o, "}\n");
  return o.overflow ? -1 : (int)o.used;
}

/* ---- libnftables ---- */

/* nft's diagnostics span lines (message, input line, caret marker): one
 * line for the log. */
static void flatten(char *s) {
  char *w = s;
  bool space = false;
  for (char *r = s; *r; r++) {
    if (*r == '\n' || *r == '\t' || *r == ' ') {
      space = w != s;
      continue;
    }
    if (space)
      *w++ = ' ';
    space = false;
    *w++ = *r;
  }
  *w = '\0';
}

/* Runs `rules` as one nft transaction. 0, or -1 with nft's own error text
 * in err. */
static int run_nft(const char *rules, char *err, size_t errlen) {
  struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
  if (!nft) {
    snprintf(err, errlen, "nft: cannot create a libnftables context");
    return -1;
  }
  /* Buffered, so nothing goes to our stdout/stderr and the error text can
   * be logged as one line. */
  if (nft_ctx_buffer_output(nft) != 0 || nft_ctx_buffer_error(nft) != 0) {
    snprintf(err, errlen, "nft: cannot buffer libnftables output");
    nft_ctx_free(nft);
    return -1;
  }
  int rv = nft_run_cmd_from_buffer(nft, rules) == 0 ? 0 : -1;
  if (rv != 0) {
    const char *said = nft_ctx_get_error_buffer(nft);
    char *flat = strdup(said && *said ? said : "(no message)");
    if (flat)
      flatten(flat);
    snprintf(err, errlen, "nft: %s", flat ? flat : "(out of memory)");
    free(flat);
  }
  nft_ctx_free(nft);
  return rv;
}

int zt_nft_apply(const char *tun, const struct zt_nft_service *s, size_t n,
                 unsigned flags, char *err, size_t errlen) {
  if (!tun_name_ok(tun)) {
    snprintf(err, errlen, "nft: interface name \"%s\" cannot name a table",
             tun);
    return -1;
  }
  /* ~130 bytes per service line; generous, and render checks anyway. */
  size_t cap = 2048 + n * 192;
  char *rules = malloc(cap);
  if (!rules) {
    snprintf(err, errlen, "nft: out of memory for %zu services", n);
    return -1;
  }
  int len = zt_nft_render(tun, s, n, flags, rules, cap);
  int rv = -1;
  if (len < 0)
    snprintf(err, errlen, "nft: ruleset for %s does not fit %zu bytes", tun,
             cap);
  else
    rv = run_nft(rules, err, errlen);
  free(rules);
  return rv;
}

int zt_nft_leftover_only_ours(const char *tun, bool *found, char *err,
                              size_t errlen) {
  char table[8 + IFNAMSIZ], cmd[64];
  *found = false;
  if (!tun_name_ok(tun)) {
    snprintf(err, errlen, "nft: interface name \"%s\" cannot name a table",
             tun);
    return -1;
  }
  table_name(tun, table);
  struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
  if (!nft || nft_ctx_buffer_output(nft) != 0 ||
      nft_ctx_buffer_error(nft) != 0) {
    snprintf(err, errlen, "nft: cannot create a libnftables context");
    if (nft)
      nft_ctx_free(nft);
    return -1;
  }
  snprintf(cmd, sizeof(cmd), "list table inet %s", table);
  /* No such table is the normal case: nothing was left behind. */
  if (nft_run_cmd_from_buffer(nft, cmd) == 0) {
    const char *out = nft_ctx_get_output_buffer(nft);
    *found = out && strstr(out, "meta nfproto ipv4") != NULL;
  }
  nft_ctx_free(nft);
  return 0;
}

int zt_nft_remove(const char *tun, char *err, size_t errlen) {
  char table[8 + IFNAMSIZ], rules[128];
  if (!tun_name_ok(tun)) {
    snprintf(err, errlen, "nft: interface name \"%s\" cannot name a table",
             tun);
    return -1;
  }
  table_name(tun, table);
  /* Create-then-delete: succeeds whether or not the table exists. */
  snprintf(rules, sizeof(rules), "table inet %s\ndelete table inet %s\n",
           table, table);
  return run_nft(rules, err, errlen);
}

int zt_nft_park(const char *tun, char *err, size_t errlen) {
  char table[8 + IFNAMSIZ], rules[512];
  if (!tun_name_ok(tun)) {
    snprintf(err, errlen, "nft: interface name \"%s\" cannot name a table",
             tun);
    return -1;
  }
  table_name(tun, table);
  snprintf(rules, sizeof(rules),
           "table inet %s\n"
           "delete table inet %s\n"
           "table inet %s {\n"
           "  chain prerouting {\n"
           "    type nat hook prerouting priority dstnat; policy accept;\n"
           "  }\n"
           "  chain postrouting {\n"
           "    type nat hook postrouting priority srcnat; policy accept;\n"
           "    ct mark " ZT_NFT_MARK " masquerade\n"
           "  }\n"
           "}\n",
           table, table, table);
  return run_nft(rules, err, errlen);
}

/* ---- ip_forward ---- */

static const char forward_path[] = "/proc/sys/net/ipv4/ip_forward";

int zt_ip_forward_get(bool *on, char *err, size_t errlen) {
  char c = 0;
  int fd = open(forward_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "%s: %s", forward_path, strerror(errno));
    return -1;
  }
  ssize_t k = read(fd, &c, 1);
  int e = errno;
  close(fd);
  if (k != 1) {
    snprintf(err, errlen, "reading %s: %s", forward_path,
             k < 0 ? strerror(e) : "empty");
    return -1;
  }
  *on = c != '0';
  return 0;
}

int zt_ip_forward_set(bool on, char *err, size_t errlen) {
  int fd = open(forward_path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "%s: %s", forward_path, strerror(errno));
    return -1;
  }
  ssize_t k = write(fd, on ? "1\n" : "0\n", 2);
  int e = errno;
  close(fd);
  if (k != 2) {
    snprintf(err, errlen, "writing %d to %s: %s", on, forward_path,
             k < 0 ? strerror(e) : "short write");
    return -1;
  }
  return 0;
}

int zt_ip_forward_enable(bool *was_on, char *err, size_t errlen) {
  if (zt_ip_forward_get(was_on, err, errlen) != 0)
    return -1;
  return *was_on ? 0 : zt_ip_forward_set(true, err, errlen);
}

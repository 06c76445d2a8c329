/*
 * The connector's nftables table. See nft.h.
 *
 * Per service, in table inet ztna_<tun>:
 *   prerouting (nat):  from the TUN to the virtual address -> conntrack mark,
 *                      DNAT to the backend;
 *   postrouting (nat): marked connections are masqueraded, so the backend
 *                      answers the connector, whose conntrack undoes both
 *                      translations and routes the reply into the tunnel;
 *   forward (filter):  nothing else from the TUN is forwarded: an agent
 *                      reaches the service backends and not the rest of the
 *                      connector's networks.
 * The mark is on the conntrack entry, not the packet: NAT chains only see a
 * connection's first packet, the forward chain sees all of them, and the
 * packet mark stays free for whatever policy routing the host has.
 */
#include "nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
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
                  char *buf, size_t len) {
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
  put(&o,
      "  chain forward {\n"
      "    type filter hook forward priority filter; policy accept;\n"
      "    iifname \"%s\" ct mark != " ZT_NFT_MARK " drop\n"
      "  }\n",
      tun);
  put(&o, "}\n");
  return o.overflow ? -1 : (int)o.used;
}

/* ---- running nft ---- */

static const char *nft_path(void) {
  static const char *const known[] = {"/usr/sbin/nft", "/sbin/nft",
                                      "/usr/bin/nft"};
  for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
    if (access(known[i], X_OK) == 0)
      return known[i];
  return "nft"; /* execvp searches PATH */
}

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

static int write_all(int fd, const char *p, size_t len) {
  while (len > 0) {
    ssize_t k = write(fd, p, len);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += k;
    len -= (size_t)k;
  }
  return 0;
}

/* dup2 for the child's stdio; a pipe end that already is the target (the
 * daemon had closed its stdin) only needs its close-on-exec flag cleared. */
static int onto(int fd, int target) {
  if (fd == target)
    return fcntl(fd, F_SETFD, 0);
  return dup2(fd, target) < 0 ? -1 : 0;
}

/* Feeds `rules` to `nft -f -`. 0 when nft exits 0; otherwise -1 with what
 * nft said in err. */
static int run_nft(const char *rules, size_t len, char *err, size_t errlen) {
  int in[2], out[2];
  const char *nft = nft_path();

  if (pipe2(in, O_CLOEXEC) != 0) {
    snprintf(err, errlen, "nft: pipe: %s", strerror(errno));
    return -1;
  }
  if (pipe2(out, O_CLOEXEC) != 0) {
    snprintf(err, errlen, "nft: pipe: %s", strerror(errno));
    close(in[0]);
    close(in[1]);
    return -1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(err, errlen, "nft: fork: %s", strerror(errno));
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    return -1;
  }
  if (pid == 0) {
    /* A blocked mask survives exec. nft gets the default one except for
     * SIGINT/SIGTERM, which stay blocked: a daemon being stopped often gets
     * SIGTERM more than once (timeout(1) and systemd signal the whole
     * process group), and the nft removing our table must still finish. */
    sigset_t keep;
    sigemptyset(&keep);
    sigaddset(&keep, SIGINT);
    sigaddset(&keep, SIGTERM);
    sigprocmask(SIG_SETMASK, &keep, NULL);
    if (onto(in[0], 0) != 0 || onto(out[1], 1) != 0 || onto(out[1], 2) != 0)
      _exit(126);
    execlp(nft, "nft", "-f", "-", (char *)NULL);
    dprintf(2, "cannot run %s: %s", nft, strerror(errno));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);

  /* nft reads all of its input before it says anything, so writing first
   * and reading after cannot deadlock. If nft dies early, the write fails
   * with EPIPE: SIGPIPE is blocked meanwhile (and a pending one consumed)
   * so that it does not kill the daemon. */
  sigset_t pipeset, old;
  sigemptyset(&pipeset);
  sigaddset(&pipeset, SIGPIPE);
  sigprocmask(SIG_BLOCK, &pipeset, &old);
  int wrv = write_all(in[1], rules, len);
  int werr = errno;
  if (wrv != 0 && werr == EPIPE && !sigismember(&old, SIGPIPE)) {
    struct timespec zero = {0, 0};
    sigtimedwait(&pipeset, NULL, &zero);
  }
  sigprocmask(SIG_SETMASK, &old, NULL);
  close(in[1]);

  char said[1024];
  size_t got = 0;
  for (;;) {
    char chunk[512];
    ssize_t k = read(out[0], chunk, sizeof(chunk));
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      break;
    size_t take = (size_t)k;
    if (take > sizeof(said) - 1 - got)
      take = sizeof(said) - 1 - got; /* keep the start: it says what failed */
    memcpy(said + got, chunk, take);
    got += take;
  }
  said[got] = '\0';
  close(out[0]);
  flatten(said);

  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      snprintf(err, errlen, "nft: waitpid: %s", strerror(errno));
      return -1;
    }
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    if (wrv == 0)
      return 0;
    snprintf(err, errlen, "nft: writing the ruleset: %s", strerror(werr));
    return -1;
  }
  if (WIFEXITED(status))
    snprintf(err, errlen, "%s -f - exited with status %d: %s", nft,
             WEXITSTATUS(status), *said ? said : "(no message)");
  else
    snprintf(err, errlen, "%s -f - killed by signal %d: %s", nft,
             WIFSIGNALED(status) ? WTERMSIG(status) : 0,
             *said ? said : "(no message)");
  return -1;
}

int zt_nft_apply(const char *tun, const struct zt_nft_service *s, size_t n,
                 char *err, size_t errlen) {
  if (!tun_name_ok(tun)) {
    snprintf(err, errlen, "nft: interface name \"%s\" cannot name a table",
             tun);
    return -1;
  }
  /* ~130 bytes per service line; generous, and render checks anyway. */
  size_t cap = 1024 + n * 192;
  char *rules = malloc(cap);
  if (!rules) {
    snprintf(err, errlen, "nft: out of memory for %zu services", n);
    return -1;
  }
  int len = zt_nft_render(tun, s, n, rules, cap);
  int rv = -1;
  if (len < 0)
    snprintf(err, errlen, "nft: ruleset for %s does not fit %zu bytes", tun,
             cap);
  else
    rv = run_nft(rules, (size_t)len, err, errlen);
  free(rules);
  return rv;
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
  int len = snprintf(rules, sizeof(rules),
                     "table inet %s\ndelete table inet %s\n", table, table);
  return run_nft(rules, (size_t)len, err, errlen);
}

int zt_ip_forward_enable(char *err, size_t errlen) {
  static const char path[] = "/proc/sys/net/ipv4/ip_forward";
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  int rv = write_all(fd, "1\n", 2);
  if (rv != 0)
    snprintf(err, errlen, "writing 1 to %s: %s", path, strerror(errno));
  close(fd);
  return rv;
}

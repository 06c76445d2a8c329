/*
 * Running a test body in a forked child inside a network namespace of its
 * own, so that tests of TUN devices and nftables never touch the machine's
 * own interfaces. Include after test.h.
 *
 * The child may SKIP too (say, no user namespaces for a sub-check): its
 * reason comes back through a pipe, so the parent reports the real reason
 * instead of a guess.
 */
#ifndef ZTNA_TEST_NETNS_CHILD_H
#define ZTNA_TEST_NETNS_CHILD_H

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Commands run inside the namespace, to read what the kernel holds. */
/* Output of cmd into buf; its exit status (-1: it did not run or exit). */
static inline int capture(const char *cmd, char *buf, size_t len) {
  FILE *f = popen(cmd, "r");
  if (!f)
    return -1;
  size_t got = fread(buf, 1, len - 1, f);
  buf[got] = '\0';
  int st = pclose(f);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define NETNS_SKIPPED 77 /* the child's exit status when it skipped */

/* Why the last child skipped. */
static char netns_skip_reason[256];

static void netns_child_skip(int fd, const char *why) {
  ssize_t rv = write(fd, why, strlen(why));
  (void)rv; /* the parent then says "no reason given" */
  _exit(NETNS_SKIPPED);
}

/* 0 when fn passed in the child, 1 when a CHECK failed, NETNS_SKIPPED
 * (reason in netns_skip_reason) when there is no network namespace to be
 * had or fn skipped, -1 when the child died. */
static int run_in_new_netns(void (*fn)(void)) {
  int p[2];
  /* `make ARCH=arm64 unit` runs the tests under qemu-user, where a forked
   * child hangs at once (qemu 7.2 from Debian 12 on this kernel). These
   * tests are of the kernel's interfaces, not of the architecture; they
   * run natively in every other pass. */
  if (getenv("ZT_UNDER_QEMU")) {
    snprintf(netns_skip_reason, sizeof(netns_skip_reason),
             "under %s: a forked child hangs there",
             getenv("ZT_UNDER_QEMU"));
    return NETNS_SKIPPED;
  }
  fflush(stdout);
  fflush(stderr);
  if (pipe(p) != 0)
    return -1;
  pid_t pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    return -1;
  }
  if (pid == 0) {
    close(p[0]);
    if (unshare(CLONE_NEWNET) != 0) {
      char why[128];
      snprintf(why, sizeof(why), "unshare(CLONE_NEWNET): %s", strerror(errno));
      netns_child_skip(p[1], why);
    }
    test_case_failed = 0;
    test_case_skipped = 0;
    fn();
    fflush(stdout);
    fflush(stderr);
    if (!test_case_failed && test_case_skipped)
      netns_child_skip(p[1], test_skip_reason);
    _exit(test_case_failed ? 1 : 0);
  }
  close(p[1]);
  ssize_t n = read(p[0], netns_skip_reason, sizeof(netns_skip_reason) - 1);
  netns_skip_reason[n > 0 ? n : 0] = '\0';
  if (n <= 0)
    snprintf(netns_skip_reason, sizeof(netns_skip_reason), "no reason given");
  close(p[0]);
  int status;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
    return -1;
  return WEXITSTATUS(status);
}

#endif

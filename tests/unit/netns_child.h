/*
 * Running a test body in a forked child inside a network namespace of its
 * own, so that tests of TUN devices and nftables never touch the machine's
 * own interfaces. Include after test.h.
 */
#ifndef ZTNA_TEST_NETNS_CHILD_H
#define ZTNA_TEST_NETNS_CHILD_H

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SKIP 77 /* the child's exit status when namespaces are unavailable */

/* 0 when fn passed in the child, 1 when a CHECK failed, SKIP when there is
 * no network namespace to be had, -1 when the child died. */
static int run_in_new_netns(void (*fn)(void)) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    if (unshare(CLONE_NEWNET) != 0) {
      fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
      _exit(SKIP);
    }
    test_case_failed = 0;
    fn();
    fflush(stdout);
    fflush(stderr);
    _exit(test_case_failed ? 1 : 0);
  }
  int status;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
    return -1;
  return WEXITSTATUS(status);
}

#endif

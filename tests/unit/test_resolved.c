/*
 * systemd-resolved registration (platform/resolved.c) against a stand-in
 * resolvectl: a shell script that records its arguments and fails when
 * told to, so the commands and the clean-up after a failure are checked
 * without touching the host's resolver.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../unit/test.h"
#include "resolved.h"

static char dir[64], tool[128], logf[128];

static int setup(const char *fail_on) {
  snprintf(dir, sizeof(dir), "/tmp/zt-resolved.XXXXXX");
  if (!mkdtemp(dir))
    return -1;
  snprintf(tool, sizeof(tool), "%s/resolvectl", dir);
  snprintf(logf, sizeof(logf), "%s/log", dir);
  FILE *f = fopen(tool, "w");
  if (!f)
    return -1;
  fprintf(f,
          "#!/bin/sh\necho \"$*\" >>%s\n[ \"$1\" = \"%s\" ] && exit 3\n"
          "exit 0\n",
          logf, fail_on);
  fclose(f);
  return chmod(tool, 0700);
}

static void cleanup(void) {
  unlink(tool);
  unlink(logf);
  rmdir(dir);
}

static void read_log(char *buf, size_t len) {
  buf[0] = 0;
  FILE *f = fopen(logf, "r");
  if (!f)
    return;
  size_t n = fread(buf, 1, len - 1, f);
  buf[n] = 0;
  fclose(f);
}

static void test_register_and_revert(void) {
  char err[512], log[1024];
  CHECK_EQ_INT(setup("none"), 0);
  CHECK(zt_resolved_present(tool, dir));
  CHECK(!zt_resolved_present(tool, "/nonexistent/resolve"));
  CHECK_EQ_INT(zt_resolved_register(tool, "ztna0", 0x0a64ff35u,
                                    "ztna.internal", err, sizeof(err)),
               0);
  CHECK_EQ_INT(zt_resolved_revert(tool, "ztna0", err, sizeof(err)), 0);
  read_log(log, sizeof(log));
  cleanup();
  CHECK_STR(log, "dns ztna0 10.100.255.53\ndomain ztna0 ~ztna.internal\n"
                 "revert ztna0\n");
}

static void test_failure_reverts(void) {
  char err[512], log[1024];
  CHECK_EQ_INT(setup("domain"), 0);
  CHECK_EQ_INT(zt_resolved_register(tool, "ztna0", 0x0a64ff35u,
                                    "ztna.internal", err, sizeof(err)),
               -1);
  read_log(log, sizeof(log));
  cleanup();
  CHECK_CONTAINS(err, "domain ztna0 ~ztna.internal' failed (exit status 3)");
  CHECK_STR(log, "dns ztna0 10.100.255.53\ndomain ztna0 ~ztna.internal\n"
                 "revert ztna0\n");
}

static void test_missing_tool(void) {
  char err[512];
  CHECK(!zt_resolved_present("/nonexistent/resolvectl", "/tmp"));
  CHECK_EQ_INT(zt_resolved_revert("/nonexistent/resolvectl", "ztna0", err,
                                  sizeof(err)),
               -1);
  CHECK_CONTAINS(err, "/nonexistent/resolvectl revert ztna0");
}

int main(void) {
  RUN(test_register_and_revert);
  RUN(test_failure_reverts);
  RUN(test_missing_tool);
  return TEST_EXIT();
}

/* systemd-resolved registration through resolvectl. See resolved.h. */
#include "resolved.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ippkt.h"

extern char **environ;

bool zt_resolved_present(const char *resolvectl, const char *rundir) {
  struct stat st;
  return access(resolvectl, X_OK) == 0 && stat(rundir, &st) == 0 &&
         S_ISDIR(st.st_mode);
}

bool zt_resolved_same_netns(void) {
  char self[64], init[64];
  ssize_t a = readlink("/proc/self/ns/net", self, sizeof(self) - 1);
  ssize_t b = readlink("/proc/1/ns/net", init, sizeof(init) - 1);
  if (a <= 0 || b <= 0)
    return true;
  return a == b && memcmp(self, init, (size_t)a) == 0;
}

/* Runs argv (argv[0] the program's path) and waits for it: 0 when it
 * exited with status 0, else -1 with err naming the command. */
static int run(char *const argv[], char *err, size_t errlen) {
  pid_t pid;
  int st, rc = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
  char cmd[512];
  size_t o = 0;
  cmd[0] = 0;
  for (size_t i = 0; argv[i] && o < sizeof(cmd); i++)
    o += (size_t)snprintf(cmd + o, sizeof(cmd) - o, "%s%s", i ? " " : "",
                          argv[i]);
  if (rc != 0) {
    snprintf(err, errlen, "cannot run '%s': %s", cmd, strerror(rc));
    return -1;
  }
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) {
      snprintf(err, errlen, "'%s': waitpid: %s", cmd, strerror(errno));
      return -1;
    }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    snprintf(err, errlen, "'%s' failed (%s %d)", cmd,
             WIFEXITED(st) ? "exit status" : "signal",
             WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    return -1;
  }
  return 0;
}

int zt_resolved_register(const char *resolvectl, const char *ifname,
                         uint32_t addr, const char *domain, char *err,
                         size_t errlen) {
  char ip[16], dom[300], ignored[256];
  snprintf(dom, sizeof(dom), "~%s", domain);
  zt_ip4_str(addr, ip);
  char *const dns[] = {(char *)resolvectl, "dns", (char *)ifname, ip, NULL};
  char *const domains[] = {(char *)resolvectl, "domain", (char *)ifname, dom,
                           NULL};
  if (run(dns, err, errlen) != 0)
    return -1;
  if (run(domains, err, errlen) != 0) {
    zt_resolved_revert(resolvectl, ifname, ignored, sizeof(ignored));
    return -1;
  }
  return 0;
}

int zt_resolved_revert(const char *resolvectl, const char *ifname, char *err,
                       size_t errlen) {
  char *const argv[] = {(char *)resolvectl, "revert", (char *)ifname, NULL};
  return run(argv, err, errlen);
}

/* The control socket's client. See ctlclient.h. */
#include "ctlclient.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

/* Why connect() failed, in the operator's terms. */
static void connect_error(const char *path, int e, char *err, size_t errlen) {
  /* ".../agent.sock" names its daemon: "is ztna-agent running?" */
  const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  int blen = strstr(base, ".sock") ? (int)(strstr(base, ".sock") - base)
                                   : (int)strlen(base);
  if (e == EACCES || e == EPERM)
    snprintf(err, errlen, "cannot connect to %s: %s: the control socket is "
                          "its owner's (root): try sudo", path, strerror(e));
  else if (e == ENOENT || e == ECONNREFUSED)
    snprintf(err, errlen, "cannot connect to %s: %s: is ztna-%.*s running?",
             path, strerror(e), blen, base);
  else
    snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(e));
}

int zt_ctl_ask(const char *path, const char *req, int timeout_ms, size_t max,
               const volatile sig_atomic_t *cancel, char **out,
               size_t *outlen, char *err, size_t errlen) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  *out = NULL;
  *outlen = 0;
  if (strlen(path) >= sizeof(sun.sun_path)) {
    snprintf(err, errlen, "socket path too long: %s", path);
    return -1;
  }
  memcpy(sun.sun_path, path, strlen(path) + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(err, errlen, "socket: %s", strerror(errno));
    return -1;
  }
  if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
    connect_error(path, errno, err, errlen);
    close(fd);
    return -1;
  }
  /* A bounded wait: a stuck daemon does not hang the command. */
  struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    close(fd);
    return -1;
  }
  char *buf = malloc(max + 1);
  size_t n = 0;
  ssize_t r = 0;
  while (buf && n < max) {
    r = recv(fd, buf + n, max - n, 0);
    if (r > 0) {
      n += (size_t)r;
      continue;
    }
    if (r < 0 && errno == EINTR && !(cancel && *cancel))
      continue;
    break;
  }
  int e = errno;
  close(fd);
  if (!buf || r < 0) {
    if (!buf)
      snprintf(err, errlen, "out of memory");
    else if (e == EINTR)
      snprintf(err, errlen, "interrupted");
    else if (e == EAGAIN || e == EWOULDBLOCK)
      snprintf(err, errlen, "%s: no answer within %d ms", path, timeout_ms);
    else
      snprintf(err, errlen, "%s: %s", path, strerror(e));
    free(buf);
    return -1;
  }
  buf[n] = 0;
  *out = buf;
  *outlen = n;
  return 0;
}

/* See file.h. */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secret.h"

/* buf may hold the first n bytes of a private key: wiped, not just freed. */
static char *fail(int fd, char *buf, size_t n, char *err, size_t errlen,
                  const char *path, const char *why) {
  snprintf(err, errlen, "%s: %s", path, why);
  zt_free_secret(buf, n);
  if (fd >= 0)
    close(fd);
  return NULL;
}

char *zt_file_read(const char *path, size_t max, size_t *len, char *err,
                   size_t errlen) {
  char why[64];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fail(-1, NULL, 0, err, errlen, path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
    return fail(fd, NULL, 0, err, errlen, path, strerror(EISDIR));
  char *buf = malloc(max + 1);
  if (!buf)
    return fail(fd, NULL, 0, err, errlen, path, strerror(ENOMEM));
  size_t n = 0;
  for (;;) {
    /* Reading one byte past max tells "exactly max" from "too large". */
    ssize_t r = read(fd, buf + n, max + 1 - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return fail(fd, buf, n, err, errlen, path, strerror(errno));
    if (r == 0)
      break;
    n += (size_t)r;
    if (n > max) {
      snprintf(why, sizeof(why), "file too large (max %zu bytes)", max);
      return fail(fd, buf, n, err, errlen, path, why);
    }
  }
  close(fd);
  buf[n] = 0;
  if (len)
    *len = n;
  return buf;
}

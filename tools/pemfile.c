/* See pemfile.h. */
#include "pemfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int zt_write_file(const char *path, const char *data, mode_t mode, bool force,
                  char *err, size_t errlen) {
  char tmp[4096];
  if (!force && access(path, F_OK) == 0) {
    snprintf(err, errlen, "%s exists (use --force to replace it)", path);
    return -1;
  }
  if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >=
      sizeof(tmp)) {
    snprintf(err, errlen, "%s: path too long", path);
    return -1;
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
    return -1;
  }
  size_t len = strlen(data), off = 0;
  while (off < len) {
    ssize_t n = write(fd, data + off, len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
      close(fd);
      unlink(tmp);
      return -1;
    }
    off += (size_t)n;
  }
  if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}

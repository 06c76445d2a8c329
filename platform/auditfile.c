/* The audit log's file sink. See auditfile.h. */
#include "auditfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "config.h"
#include "log.h"

static int audit_fd = -1;
static char audit_path[ZT_PATH_MAX];

/* One write() per line: with O_APPEND each line lands whole at the end
 * even with another writer, and a regular file never makes us wait long.
 * A short write (the disk filled up mid-line) is an error: the rest of the
 * line is not retried, so a full disk costs a counter, not the loop. */
static int file_sink(const char *line, size_t len, void *ud) {
  (void)ud;
  ssize_t n;
  do {
    n = write(audit_fd, line, len);
  } while (n < 0 && errno == EINTR);
  return n == (ssize_t)len ? 0 : -1;
}

static int open_path(const char *path, char *err, size_t errlen) {
  if (strcmp(path, "-") == 0)
    return STDOUT_FILENO;
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0)
    snprintf(err, errlen, "audit_log %s: %s", path, strerror(errno));
  return fd;
}

int zt_auditfile_open(const char *path, char *err, size_t errlen) {
  if (strlen(path) >= sizeof(audit_path)) {
    snprintf(err, errlen, "audit_log: path too long");
    return -1;
  }
  int fd = open_path(path, err, errlen);
  if (fd < 0)
    return -1;
  zt_auditfile_close();
  audit_fd = fd;
  snprintf(audit_path, sizeof(audit_path), "%s", path);
  zt_audit_set_sink(file_sink, NULL);
  return 0;
}

int zt_auditfile_reopen(char *err, size_t errlen) {
  if (audit_fd < 0 || audit_fd == STDOUT_FILENO)
    return 0;
  int fd = open_path(audit_path, err, errlen);
  if (fd < 0)
    return -1;
  close(audit_fd);
  audit_fd = fd;
  return 0;
}

void zt_auditfile_close(void) {
  if (audit_fd < 0)
    return;
  zt_audit_set_sink(NULL, NULL); /* writes the pending summary first */
  const struct zt_audit_stats *st = zt_audit_get_stats();
  zt_info("audit log: %llu lines written, %llu not written (write errors), "
          "%llu denials suppressed by the rate limit",
          (unsigned long long)st->lines, (unsigned long long)st->write_errors,
          (unsigned long long)st->suppressed);
  if (audit_fd != STDOUT_FILENO)
    close(audit_fd);
  audit_fd = -1;
}

/* The audit log's file: appended to, reopened at its path after logrotate
 * moved it, errors naming the file. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "auditfile.h"
#include "test.h"

static char dir[64];

static size_t count_lines(const char *path) {
  char buf[8192];
  int fd = open(path, O_RDONLY);
  if (fd < 0)
    return 0;
  ssize_t n = read(fd, buf, sizeof(buf));
  close(fd);
  size_t lines = 0;
  for (ssize_t i = 0; i < n; i++)
    lines += buf[i] == '\n';
  return lines;
}

static void test_append_and_reopen(void) {
  char path[128], rotated[128], err[256];
  snprintf(path, sizeof path, "%s/audit.jsonl", dir);
  snprintf(rotated, sizeof rotated, "%s/audit.jsonl.1", dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  CHECK(fd >= 0);
  CHECK(write(fd, "{\"old\":1}\n", 10) == 10);
  close(fd);
  CHECK_EQ_INT(zt_auditfile_open(path, err, sizeof err), 0);
  CHECK(zt_audit_enabled());
  zt_audit_reload("test", true, "one");
  zt_audit_reload("test", true, "two");
  CHECK_EQ_INT(count_lines(path), 3); /* appended, not truncated */
  CHECK_EQ_INT(rename(path, rotated), 0);
  zt_audit_reload("test", true, "three"); /* still the open (moved) file */
  CHECK_EQ_INT(zt_auditfile_reopen(err, sizeof err), 0);
  zt_audit_reload("test", true, "four");
  zt_auditfile_close();
  CHECK(!zt_audit_enabled());
  CHECK_EQ_INT(count_lines(rotated), 4);
  CHECK_EQ_INT(count_lines(path), 1);
  struct stat st;
  CHECK_EQ_INT(stat(path, &st), 0);
  CHECK_EQ_INT(st.st_mode & 0777, 0640);
  unlink(path);
  unlink(rotated);
}

static void test_errors_name_the_file(void) {
  char path[128], err[256];
  snprintf(path, sizeof path, "%s/no/such/dir/audit.jsonl", dir);
  CHECK_EQ_INT(zt_auditfile_open(path, err, sizeof err), -1);
  CHECK_CONTAINS(err, path);
  CHECK_CONTAINS(err, "No such file or directory");
  CHECK(!zt_audit_enabled());
}

int main(void) {
  umask(022); /* the mode checked is the one asked for */
  snprintf(dir, sizeof dir, "/tmp/test_auditfile.XXXXXX");
  if (!mkdtemp(dir))
    return 1;
  RUN(test_append_and_reopen);
  RUN(test_errors_name_the_file);
  rmdir(dir);
  return TEST_EXIT();
}

/* file.c: whole small files, NUL-terminated; size limit exact; errors name
 * the path. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "file.h"
#include "test.h"

static char dir[64];

static void put(const char *name, const char *data, size_t len) {
  char path[128];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  fwrite(data, 1, len, f);
  fclose(f);
}

static void test_read(void) {
  char path[128], err[256];
  size_t len = 99;
  put("a", "hello\0world", 11);
  snprintf(path, sizeof(path), "%s/a", dir);
  char *s = zt_file_read(path, 11, &len, err, sizeof(err));
  CHECK(s != NULL);
  CHECK_EQ_INT(len, 11);
  CHECK(memcmp(s, "hello\0world", 12) == 0); /* and NUL-terminated */
  free(s);
  put("empty", "", 0);
  snprintf(path, sizeof(path), "%s/empty", dir);
  s = zt_file_read(path, 10, &len, err, sizeof(err));
  CHECK(s != NULL && len == 0 && s[0] == 0);
  free(s);
}

static void test_limits_and_errors(void) {
  char path[128], err[256];
  snprintf(path, sizeof(path), "%s/a", dir);
  CHECK(zt_file_read(path, 10, NULL, err, sizeof(err)) == NULL);
  CHECK_CONTAINS(err, "file too large (max 10 bytes)");
  CHECK_CONTAINS(err, path);
  snprintf(path, sizeof(path), "%s/missing", dir);
  CHECK(zt_file_read(path, 10, NULL, err, sizeof(err)) == NULL);
  CHECK_CONTAINS(err, "No such file");
  CHECK(zt_file_read(dir, 10, NULL, err, sizeof(err)) == NULL);
  CHECK_CONTAINS(err, "Is a directory");
}

int main(void) {
  snprintf(dir, sizeof(dir), "/tmp/ztna-test-file.XXXXXX");
  if (!mkdtemp(dir))
    return 1;
  RUN(test_read);
  RUN(test_limits_and_errors);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  if (system(cmd) != 0)
    return 1;
  return TEST_EXIT();
}

/* The ztna tool's CA commands, called as functions (no shell): `ca init`
 * never half-replaces a CA, `cert issue` refuses a CA whose key is not its
 * certificate's, and both say why. Output is captured to check messages. */
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../tools/cert_cmd.h"
#include "certgen.h"
#include "file.h"
#include "test.h"

static char dir[64];
static char out[8192]; /* what the last command wrote to stderr */

/* Runs cmd(argv) with stdout and stderr sent to a file; stderr's text
 * ends up in `out`. */
static int run(int (*cmd)(int, char **), char **argv) {
  int argc = 0;
  while (argv[argc])
    argc++;
  char path[128], err[256];
  snprintf(path, sizeof(path), "%s/stderr", dir);
  fflush(stdout);
  fflush(stderr);
  int saved_out = dup(1), saved_err = dup(2);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(fd, 1);
  dup2(fd, 2);
  close(fd);
  int rv = cmd(argc, argv);
  fflush(stdout);
  fflush(stderr);
  dup2(saved_out, 1);
  dup2(saved_err, 2);
  close(saved_out);
  close(saved_err);
  char *text = zt_file_read(path, sizeof(out) - 1, NULL, err, sizeof(err));
  snprintf(out, sizeof(out), "%s", text ? text : err);
  free(text);
  unlink(path);
  return rv;
}

/* The file's contents (or "" when it is missing), to prove nothing moved. */
static char *slurp(const char *name) {
  char path[128], err[256];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  char *s = zt_file_read(path, 1 << 16, NULL, err, sizeof(err));
  return s ? s : calloc(1, 1);
}

static int exists(const char *name) {
  char path[128];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  return access(path, F_OK) == 0;
}

static void put(const char *name, const char *text) {
  char path[128];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
}

static void test_ca_init_refuses_half_a_ca(void) {
  char pki[96];
  snprintf(pki, sizeof(pki), "%s/pki", dir);
  char *init[] = {"init", "--dir", pki, NULL};
  CHECK_EQ_INT(run(zt_cmd_ca, init), 0);
  CHECK(exists("pki/ca.pem") && exists("pki/ca.key"));
  char *cert = slurp("pki/ca.pem"), *key = slurp("pki/ca.key");

  /* A whole CA: refused, untouched. */
  CHECK_EQ_INT(run(zt_cmd_ca, init), 1);
  CHECK_CONTAINS(out, "a CA already exists in");
  char *now = slurp("pki/ca.key");
  CHECK_STR(now, key);
  free(now);

  /* ca.pem without ca.key: no new key that matches nothing. */
  char keypath[128];
  snprintf(keypath, sizeof(keypath), "%s/pki/ca.key", dir);
  CHECK_EQ_INT(unlink(keypath), 0);
  CHECK_EQ_INT(run(zt_cmd_ca, init), 1);
  CHECK_CONTAINS(out, "ca.pem exists but");
  CHECK_CONTAINS(out, "ca.key does not");
  CHECK(!exists("pki/ca.key"));
  now = slurp("pki/ca.pem");
  CHECK_STR(now, cert);
  free(now);

  /* Another CA's key beside ca.pem: refused as not a pair, untouched. */
  struct zt_pem other;
  char err[256];
  CHECK_EQ_INT(zt_cert_make_ca("other", 1, &other, err, sizeof(err)), 0);
  put("pki/ca.key", other.key);
  CHECK_EQ_INT(run(zt_cmd_ca, init), 1);
  CHECK_CONTAINS(out, "not a usable CA: CA key does not match");
  now = slurp("pki/ca.key");
  CHECK_STR(now, other.key);
  free(now);
  now = slurp("pki/ca.pem");
  CHECK_STR(now, cert);
  free(now);

  /* --force is the operator's explicit word: a fresh, matching CA. */
  char *force[] = {"init", "--dir", pki, "--force", NULL};
  CHECK_EQ_INT(run(zt_cmd_ca, force), 0);
  struct zt_pem fresh = {slurp("pki/ca.pem"), slurp("pki/ca.key")};
  CHECK_EQ_INT(zt_ca_check(&fresh, err, sizeof(err)), 0);
  zt_pem_free(&fresh);
  zt_pem_free(&other);
  free(cert);
  free(key);
}

static void test_cert_issue_refuses_mismatched_ca(void) {
  char pki[96], prefix[96];
  snprintf(pki, sizeof(pki), "%s/pki2", dir);
  snprintf(prefix, sizeof(prefix), "%s/alice", dir);
  char *init[] = {"init", "--dir", pki, NULL};
  CHECK_EQ_INT(run(zt_cmd_ca, init), 0);
  char *issue[] = {"issue", "--ca-dir", pki,    "--role", "agent",
                   "--name", "alice",   "--out", prefix,  NULL};
  CHECK_EQ_INT(run(zt_cmd_cert, issue), 0);
  CHECK(exists("alice.pem") && exists("alice.key"));

  struct zt_pem other;
  char err[256];
  CHECK_EQ_INT(zt_cert_make_ca("other", 1, &other, err, sizeof(err)), 0);
  put("pki2/ca.key", other.key);
  snprintf(prefix, sizeof(prefix), "%s/bob", dir);
  issue[6] = "bob";
  CHECK_EQ_INT(run(zt_cmd_cert, issue), 1);
  CHECK_CONTAINS(out, "--ca-dir");
  CHECK_CONTAINS(out, "CA key does not match the CA certificate");
  CHECK(!exists("bob.pem") && !exists("bob.key"));
  zt_pem_free(&other);
}

/* cert issue holds --name to the one name rule (identity.h). */
static void test_cert_issue_name_rule(void) {
  char pki[96];
  snprintf(pki, sizeof(pki), "%s/pki2", dir);
  static char *const bad[] = {"a b", "-x", ".x", "caf\xc3\xa9"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char *issue[] = {"issue", "--ca-dir", pki, "--role", "agent", "--name",
                     bad[i],  NULL};
    CHECK_EQ_INT(run(zt_cmd_cert, issue), 2);
    CHECK_CONTAINS(out, "--name:");
    CHECK_CONTAINS(out, "is not a valid name");
  }
}

static int remove_one(const char *path, const struct stat *st, int flag,
                      struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

int main(void) {
  snprintf(dir, sizeof(dir), "/tmp/ztna-cert-cmd-XXXXXX");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  RUN(test_ca_init_refuses_half_a_ca);
  RUN(test_cert_issue_refuses_mismatched_ca);
  RUN(test_cert_issue_name_rule);
  if (nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
  return TEST_EXIT();
}

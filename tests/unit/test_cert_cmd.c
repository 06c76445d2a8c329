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
#include "crl.h"
#include "file.h"
#include "test.h"
#include "tls.h"

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

/* cert renew: the same identity and DNS/IP names, a new serial and (by
 * default) a new key, both files replaced; --keep-key keeps the key and
 * the new certificate is that key's; another CA's certificate refused. */
static void test_cert_renew(void) {
  char pki[96], prefix[96], pem[128], key[128], err[256], other[96];
  uint8_t s1[ZT_SERIAL_MAX], s2[ZT_SERIAL_MAX];
  size_t l1, l2;
  snprintf(pki, sizeof(pki), "%s/pki-renew", dir);
  snprintf(prefix, sizeof(prefix), "%s/im", dir);
  snprintf(pem, sizeof(pem), "%s/im.pem", dir);
  snprintf(key, sizeof(key), "%s/im.key", dir);
  char *init[] = {"init", "--dir", pki, NULL};
  CHECK_EQ_INT(run(zt_cmd_ca, init), 0);
  char *issue[] = {"issue", "--ca-dir", pki, "--role", "intermediate",
                   "--name", "relay-1", "--out", prefix, "--dns",
                   "relay.example.org", "--ip", "192.0.2.7", "--days", "10",
                   NULL};
  CHECK_EQ_INT(run(zt_cmd_cert, issue), 0);
  char *c1 = slurp("im.pem"), *k1 = slurp("im.key");

  char *renew[] = {"renew", pem, "--ca-dir", pki, NULL};
  CHECK_EQ_INT(run(zt_cmd_cert, renew), 0);
  CHECK_CONTAINS(out, "renewed ztna://intermediate/relay-1 for 825 days");
  char *c2 = slurp("im.pem"), *k2 = slurp("im.key");
  CHECK(strcmp(c1, c2) != 0);
  CHECK(strcmp(k1, k2) != 0);
  CHECK_EQ_INT(zt_cert_serial(c1, s1, &l1, NULL, err, sizeof(err)), 0);
  CHECK_EQ_INT(zt_cert_serial(c2, s2, &l2, NULL, err, sizeof(err)), 0);
  CHECK(l1 != l2 || memcmp(s1, s2, l1) != 0);
  char *show[] = {"show", pem, NULL};
  CHECK_EQ_INT(run(zt_cmd_cert, show), 0);
  CHECK_CONTAINS(out, "identity:   ztna://intermediate/relay-1");
  CHECK_CONTAINS(out, "DNS relay.example.org");
  CHECK_CONTAINS(out, "IP 192.0.2.7");
  char ca_pem[128];
  snprintf(ca_pem, sizeof(ca_pem), "%s/ca.pem", pki);
  struct zt_tls_creds *c = zt_tls_creds_load(ca_pem, pem, key, err, sizeof(err));
  CHECK(c);
  zt_tls_creds_free(c);

  char *keep[] = {"renew", "--ca-dir", pki, "--keep-key", pem, NULL};
  CHECK_EQ_INT(run(zt_cmd_cert, keep), 0);
  CHECK_CONTAINS(out, "same key");
  char *c3 = slurp("im.pem"), *k3 = slurp("im.key");
  CHECK(strcmp(c2, c3) != 0);
  CHECK_STR(k3, k2);
  c = zt_tls_creds_load(ca_pem, pem, key, err, sizeof(err));
  CHECK(c);
  zt_tls_creds_free(c);

  /* Another CA's directory: refused, nothing written. */
  snprintf(other, sizeof(other), "%s/pki-other", dir);
  char *init2[] = {"init", "--dir", other, NULL};
  CHECK_EQ_INT(run(zt_cmd_ca, init2), 0);
  char *wrong[] = {"renew", "--ca-dir", other, pem, NULL};
  CHECK_EQ_INT(run(zt_cmd_cert, wrong), 1);
  CHECK_CONTAINS(out, "is not signed by the CA in");
  char *c4 = slurp("im.pem");
  CHECK_STR(c4, c3);
  char *usage[] = {"renew", "--ca-dir", pki, NULL};
  CHECK_EQ_INT(run(zt_cmd_cert, usage), 2);
  free(c1), free(k1), free(c2), free(k2), free(c3), free(k3), free(c4);
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

/* cert revoke: the record and a CRL signed by the CA that lists the
 * serial; idempotent; another CA's certificate and bad reasons refused;
 * crl show prints it and checks its signature. */
static void test_cert_revoke(void) {
  char pki[96], alice[96], bob[96], crl[128], rec[128], other[96];
  char err[256];
  snprintf(pki, sizeof(pki), "%s/pki3", dir);
  snprintf(alice, sizeof(alice), "%s/ra", dir);
  snprintf(bob, sizeof(bob), "%s/rb", dir);
  snprintf(crl, sizeof(crl), "%s/crl.pem", pki);
  snprintf(rec, sizeof(rec), "%s/revoked", pki);
  snprintf(other, sizeof(other), "%s/pki4", dir);
  char *init[] = {"init", "--dir", pki, NULL};
  CHECK_EQ_INT(run(zt_cmd_ca, init), 0);
  char *issue[] = {"issue", "--ca-dir", pki,   "--role", "agent",
                   "--name", "alice",  "--out", alice,   NULL};
  CHECK_EQ_INT(run(zt_cmd_cert, issue), 0);
  issue[6] = "bob", issue[8] = bob;
  CHECK_EQ_INT(run(zt_cmd_cert, issue), 0);
  char alice_pem[128], bob_pem[128];
  snprintf(alice_pem, sizeof(alice_pem), "%s.pem", alice);
  snprintf(bob_pem, sizeof(bob_pem), "%s.pem", bob);

  /* Options first: getopt reorders argv in place otherwise. */
  char *revoke[] = {"revoke", "--ca-dir", pki, "--reason", "keyCompromise",
                    alice_pem, NULL};
  CHECK_EQ_INT(run(zt_cmd_cert, revoke), 0);
  CHECK(exists("pki3/crl.pem") && exists("pki3/revoked"));
  char *record = slurp("pki3/revoked");
  CHECK_CONTAINS(record, " keyCompromise ztna://agent/alice\n");
  char *crl_text = slurp("pki3/crl.pem"), *ca_text = slurp("pki3/ca.pem");
  char *a_text = slurp("ra.pem"), *b_text = slurp("rb.pem");
  struct zt_crl *c = zt_crl_from_pem(crl_text, ca_text, err, sizeof(err));
  uint8_t s[ZT_SERIAL_MAX];
  size_t len;
  CHECK(c);
  CHECK(zt_cert_serial(a_text, s, &len, NULL, err, sizeof(err)) == 0 &&
        zt_crl_revoked(c, s, len, NULL));
  CHECK(zt_cert_serial(b_text, s, &len, NULL, err, sizeof(err)) == 0 &&
        !zt_crl_revoked(c, s, len, NULL));
  zt_crl_free(c);
  free(crl_text);

  /* Again: nothing added, the CRL rewritten. */
  CHECK_EQ_INT(run(zt_cmd_cert, revoke), 0);
  char *record2 = slurp("pki3/revoked");
  CHECK_STR(record2, record);
  free(record2);
  /* Bob too: both listed. */
  revoke[5] = bob_pem;
  CHECK_EQ_INT(run(zt_cmd_cert, revoke), 0);
  crl_text = slurp("pki3/crl.pem");
  c = zt_crl_from_pem(crl_text, ca_text, err, sizeof(err));
  CHECK(c && zt_crl_count(c) == 2);
  zt_crl_free(c);
  free(crl_text);

  char *show[] = {"show", "--ca", "", crl, NULL};
  char ca_path[128];
  snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", pki);
  show[2] = ca_path;
  CHECK_EQ_INT(run(zt_cmd_crl, show), 0);
  CHECK_CONTAINS(out, "signature:   OK");
  CHECK_CONTAINS(out, "revoked:     2");

  /* A certificate of another CA, a bad reason, a missing file. */
  char *init2[] = {"init", "--dir", other, NULL};
  CHECK_EQ_INT(run(zt_cmd_ca, init2), 0);
  char *wrong[] = {"revoke", "--ca-dir", other, alice_pem, NULL};
  CHECK_EQ_INT(run(zt_cmd_cert, wrong), 1);
  CHECK_CONTAINS(out, "is not signed by the CA in");
  CHECK(!exists("pki4/crl.pem"));
  char other_ca[128];
  snprintf(other_ca, sizeof(other_ca), "%s/ca.pem", other);
  show[2] = other_ca;
  CHECK_EQ_INT(run(zt_cmd_crl, show), 1);
  CHECK_CONTAINS(out, "not signed by the CA");
  char *bad[] = {"revoke", "--ca-dir", pki, "--reason", "a b", alice_pem, NULL};
  CHECK_EQ_INT(run(zt_cmd_cert, bad), 2);
  CHECK_CONTAINS(out, "--reason");
  char *missing[] = {"revoke", "--ca-dir", pki, "/nonexistent.pem", NULL};
  CHECK_EQ_INT(run(zt_cmd_cert, missing), 1);
  CHECK_CONTAINS(out, "/nonexistent.pem");
  free(record);
  free(ca_text);
  free(a_text);
  free(b_text);
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
  RUN(test_cert_revoke);
  RUN(test_cert_renew);
  if (nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
  return TEST_EXIT();
}

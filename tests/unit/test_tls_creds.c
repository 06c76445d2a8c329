/* A daemon's own credentials are checked at start (zt_tls_creds_load_at):
 * each failure is refused with the file and the reason, and a certificate
 * about to expire is accepted with a warning. Times are fixed relative to
 * when the certificates were made, so nothing depends on the clock. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "certgen.h"
#include "test.h"
#include "tls.h"

#define DAY 86400u

static char dir[64];
static uint64_t t0; /* just before the certificates were made */
static char err[512], warn[512];

static char *path(const char *name) {
  static char bufs[4][128];
  static int i;
  char *p = bufs[i++ % 4];
  snprintf(p, 128, "%s/%s", dir, name);
  return p;
}

static void put(const char *name, const char *text) {
  FILE *f = fopen(path(name), "w");
  if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
    perror(name);
    exit(1);
  }
}

/* Loads CA, cert and key files from dir at `now`; 1 when accepted. */
static int load(const char *ca, const char *cert, const char *key,
                uint64_t now) {
  snprintf(err, sizeof(err), "(none)");
  snprintf(warn, sizeof(warn), "(untouched)");
  struct zt_tls_creds *c =
      zt_tls_creds_load_at(path(ca), path(cert), path(key), now, err,
                           sizeof(err), warn, sizeof(warn));
  zt_tls_creds_free(c);
  return c != NULL;
}

static void test_good(void) {
  CHECK_EQ_INT(load("ca.pem", "good.pem", "good.key", t0 + DAY), 1);
  CHECK_STR(warn, "");
  CHECK_STR(err, "(none)");
}

static void test_missing_file_named(void) {
  char want[256];
  CHECK_EQ_INT(load("ca.pem", "absent.pem", "good.key", t0 + DAY), 0);
  snprintf(want, sizeof(want), "cert %s: No such file or directory",
           path("absent.pem"));
  CHECK_STR(err, want);
  CHECK_EQ_INT(load("absent-ca.pem", "good.pem", "good.key", t0 + DAY), 0);
  snprintf(want, sizeof(want), "CA %s: No such file or directory",
           path("absent-ca.pem"));
  CHECK_STR(err, want);
  CHECK_EQ_INT(load("ca.pem", "good.pem", "absent.key", t0 + DAY), 0);
  snprintf(want, sizeof(want), "key %s: No such file or directory",
           path("absent.key"));
  CHECK_STR(err, want);
}

static void test_key_mismatch(void) {
  char want[256];
  CHECK_EQ_INT(load("ca.pem", "good.pem", "soon.key", t0 + DAY), 0);
  snprintf(want, sizeof(want), "cert %s and key %s do not match",
           path("good.pem"), path("soon.key"));
  CHECK_STR(err, want);
}

static void test_expired(void) {
  char want[256];
  CHECK_EQ_INT(load("ca.pem", "good.pem", "good.key", t0 + 400 * DAY), 0);
  snprintf(want, sizeof(want), "cert %s expired on 2", path("good.pem"));
  CHECK_CONTAINS(err, want);
  CHECK(err[strlen(err) - 1] == 'Z');
}

static void test_not_yet_valid(void) {
  char want[256];
  /* certgen backdates by an hour; two hours before is too early. */
  CHECK_EQ_INT(load("ca.pem", "good.pem", "good.key", t0 - 7200), 0);
  snprintf(want, sizeof(want), "cert %s is not valid before 2",
           path("good.pem"));
  CHECK_CONTAINS(err, want);
}

static void test_foreign_ca(void) {
  char want[256];
  CHECK_EQ_INT(load("ca.pem", "foreign.pem", "foreign.key", t0 + DAY), 0);
  snprintf(want, sizeof(want), "cert %s is not signed by the CA in %s",
           path("foreign.pem"), path("ca.pem"));
  CHECK_STR(err, want);
}

static void test_expiring_soon_warns(void) {
  char want[256];
  CHECK_EQ_INT(load("ca.pem", "soon.pem", "soon.key", t0 + DAY), 1);
  CHECK_STR(err, "(none)");
  snprintf(want, sizeof(want), "cert %s expires on 2", path("soon.pem"));
  CHECK_CONTAINS(warn, want);
  CHECK_CONTAINS(warn, "(in 9 days)");
  /* 31 days before the end of a year-long certificate: no warning. */
  CHECK_EQ_INT(load("ca.pem", "good.pem", "good.key", t0 + 334 * DAY), 1);
  CHECK_STR(warn, "");
  /* 29 days before: a warning. */
  CHECK_EQ_INT(load("ca.pem", "good.pem", "good.key", t0 + 336 * DAY), 1);
  CHECK_CONTAINS(warn, "expires on");
}

/* An agent certificate where a connector's belongs: refused with the file,
 * what it is and what was expected; the right role passes. */
static void test_wrong_role(void) {
  struct zt_tls_creds *c =
      zt_tls_creds_load_at(path("ca.pem"), path("good.pem"), path("good.key"),
                           t0 + DAY, err, sizeof(err), NULL, 0);
  CHECK(c != NULL);
  if (!c)
    return;
  CHECK_EQ_INT(zt_tls_creds_check_role(c, ZT_ROLE_AGENT, err, sizeof(err)), 0);
  CHECK_EQ_INT(
      zt_tls_creds_check_role(c, ZT_ROLE_CONNECTOR, err, sizeof(err)), -1);
  char want[300];
  snprintf(want, sizeof(want),
           "cert %s is an agent certificate (ztna://agent/alice), not a "
           "connector's",
           path("good.pem"));
  CHECK_STR(err, want);
  CHECK_EQ_INT(
      zt_tls_creds_check_role(c, ZT_ROLE_INTERMEDIATE, err, sizeof(err)), -1);
  CHECK_CONTAINS(err, "not an intermediate's");
  zt_tls_creds_free(c);
}

static void make_files(void) {
  struct zt_pem ca, other_ca, good, soon, foreign;
  char e[256];
  t0 = (uint64_t)time(NULL);
  if (zt_cert_make_ca("ca", 3650, &ca, e, sizeof(e)) != 0 ||
      zt_cert_make_ca("other", 3650, &other_ca, e, sizeof(e)) != 0 ||
      zt_cert_issue(&ca, ZT_ROLE_AGENT, "alice", 365, NULL, NULL, &good, e,
                    sizeof(e)) != 0 ||
      zt_cert_issue(&ca, ZT_ROLE_AGENT, "bob", 10, NULL, NULL, &soon, e,
                    sizeof(e)) != 0 ||
      zt_cert_issue(&other_ca, ZT_ROLE_AGENT, "alice", 365, NULL, NULL,
                    &foreign, e, sizeof(e)) != 0) {
    fprintf(stderr, "certgen: %s\n", e);
    exit(1);
  }
  put("ca.pem", ca.cert);
  put("good.pem", good.cert);
  put("good.key", good.key);
  put("soon.pem", soon.cert);
  put("soon.key", soon.key);
  put("foreign.pem", foreign.cert);
  put("foreign.key", foreign.key);
  zt_pem_free(&ca);
  zt_pem_free(&other_ca);
  zt_pem_free(&good);
  zt_pem_free(&soon);
  zt_pem_free(&foreign);
}

int main(void) {
  static const char *const files[] = {"ca.pem",     "good.pem", "good.key",
                                      "soon.pem",   "soon.key", "foreign.pem",
                                      "foreign.key"};
  snprintf(dir, sizeof(dir), "/tmp/ztna-tls-creds-XXXXXX");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  make_files();
  RUN(test_good);
  RUN(test_missing_file_named);
  RUN(test_key_mismatch);
  RUN(test_expired);
  RUN(test_not_yet_valid);
  RUN(test_foreign_ca);
  RUN(test_expiring_soon_warns);
  RUN(test_wrong_role);
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
    unlink(path(files[i]));
  rmdir(dir);
  return TEST_EXIT();
}

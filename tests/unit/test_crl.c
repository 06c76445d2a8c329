/* The CA's CRL (crl.h, certgen.h zt_crl_make) and the expiry arithmetic of
 * live connections (certexpiry.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certexpiry.h"
#include "certgen.h"
#include "crl.h"
#include "test.h"

#define T0 1700000000ll
#define NS 1000000000ull

static struct zt_pem ca, ca2, alice, bob;
static char err[600], warn[400];

static void die(void) {
  fprintf(stderr, "setup: %s\n", err);
  exit(1);
}

static char *crl_pem(const struct zt_pem *signer, const struct zt_pem *who,
                     size_t n, int64_t now) {
  struct zt_revocation r[2];
  char *pem = NULL;
  for (size_t i = 0; i < n; i++) {
    if (zt_cert_serial(who[i].cert, r[i].serial, &r[i].len, NULL, err,
                       sizeof(err)))
      die();
    r[i].when = T0 + (int64_t)i;
  }
  if (zt_crl_make(signer, r, n, now, 30, &pem, err, sizeof(err)))
    die();
  return pem;
}

static bool revoked(const struct zt_crl *crl, const struct zt_pem *who,
                    int64_t *when) {
  uint8_t s[ZT_SERIAL_MAX];
  size_t len;
  if (zt_cert_serial(who->cert, s, &len, NULL, err, sizeof(err)))
    die();
  return zt_crl_revoked(crl, s, len, when);
}

static void test_create_and_lookup(void) {
  char *pem = crl_pem(&ca, &alice, 1, T0);
  struct zt_crl *crl = zt_crl_from_pem(pem, ca.cert, err, sizeof(err));
  int64_t when = 0;
  CHECK(crl);
  CHECK_EQ_INT(zt_crl_count(crl), 1);
  CHECK(revoked(crl, &alice, &when));
  CHECK_EQ_INT(when, T0);
  CHECK(!revoked(crl, &bob, NULL));
  CHECK(!revoked(NULL, &alice, NULL)); /* no CRL revokes nothing */
  CHECK_EQ_INT(zt_crl_next_update(crl), T0 + 30 * 86400);
  zt_crl_free(crl);
  free(pem);
  /* Appending: the CRL is rewritten whole with both. */
  struct zt_pem both[2] = {alice, bob};
  pem = crl_pem(&ca, both, 2, T0);
  crl = zt_crl_from_pem(pem, ca.cert, err, sizeof(err));
  CHECK(crl && revoked(crl, &alice, NULL) && revoked(crl, &bob, NULL));
  zt_crl_free(crl);
  free(pem);
}

static void test_signature_checked(void) {
  /* Signed by another CA: refused, even though it parses. */
  char *pem = crl_pem(&ca2, &alice, 1, T0);
  CHECK(zt_crl_from_pem(pem, ca.cert, err, sizeof(err)) == NULL);
  CHECK_STR(err, "not signed by the CA");
  free(pem);
  /* A byte of the signed part changed. */
  pem = crl_pem(&ca, &alice, 1, T0);
  struct zt_crl *ok = zt_crl_from_pem(pem, ca.cert, err, sizeof(err));
  CHECK(ok);
  zt_crl_free(ok);
  char *b64 = strstr(pem, "-----\n") + 6 + 40;
  *b64 = *b64 == 'A' ? 'B' : 'A';
  CHECK(zt_crl_from_pem(pem, ca.cert, err, sizeof(err)) == NULL);
  free(pem);
  CHECK(zt_crl_from_pem("garbage", ca.cert, err, sizeof(err)) == NULL);
  CHECK_CONTAINS(err, "not a CRL");
}

static void test_files_named(void) {
  char dir[] = "/tmp/test_crl_XXXXXX", crlf[64], caf[64], other[64];
  CHECK(mkdtemp(dir) != NULL);
  snprintf(crlf, sizeof(crlf), "%s/crl.pem", dir);
  snprintf(caf, sizeof(caf), "%s/ca.pem", dir);
  snprintf(other, sizeof(other), "%s/other.pem", dir);
  char *pem = crl_pem(&ca, &alice, 1, T0);
  FILE *f = fopen(crlf, "w");
  fputs(pem, f);
  fclose(f);
  f = fopen(caf, "w");
  fputs(ca.cert, f);
  fclose(f);
  f = fopen(other, "w");
  fputs(ca2.cert, f);
  fclose(f);
  struct zt_crl *crl =
      zt_crl_load_at(crlf, caf, T0 + 86400, err, sizeof(err), warn, sizeof(warn));
  CHECK(crl);
  CHECK_STR(warn, "");
  CHECK_STR(zt_crl_file(crl), crlf);
  zt_crl_free(crl);
  /* Past its next update: still used, with a warning. */
  crl = zt_crl_load_at(crlf, caf, T0 + 31 * 86400, err, sizeof(err), warn,
                       sizeof(warn));
  CHECK(crl);
  CHECK_CONTAINS(warn, "past its next update");
  zt_crl_free(crl);
  char want[300];
  CHECK(!zt_crl_load_at(crlf, other, T0, err, sizeof(err), NULL, 0));
  snprintf(want, sizeof(want), "crl %s: not signed by the CA in %s", crlf,
           other);
  CHECK_STR(err, want);
  CHECK(!zt_crl_load_at(other, caf, T0, err, sizeof(err), NULL, 0));
  snprintf(want, sizeof(want), "crl %s: not a CRL", other);
  CHECK_CONTAINS(err, want);
  unlink(crlf);
  CHECK(!zt_crl_load_at(crlf, caf, T0, err, sizeof(err), NULL, 0));
  snprintf(want, sizeof(want), "crl %s: No such file or directory", crlf);
  CHECK_STR(err, want);
  unlink(caf);
  unlink(other);
  rmdir(dir);
  free(pem);
}

static void test_expiry_arithmetic(void) {
  uint64_t now = 5 * NS;
  /* Valid through not-after, expired the second after. */
  CHECK(!zt_cert_expired(T0, T0));
  CHECK(zt_cert_expired(T0, T0 + 1));
  CHECK(!zt_cert_expired(0, T0)); /* unknown: never */
  /* Far away: look again after the recheck interval, not later. */
  CHECK_EQ_INT(zt_cert_next_check(T0 + 86400, true, T0, now),
               now + ZT_CERT_RECHECK_NS);
  /* Close: just past not-after. */
  CHECK_EQ_INT(zt_cert_next_check(T0 + 10, true, T0, now), now + 11 * NS);
  CHECK_EQ_INT(zt_cert_next_check(T0, true, T0 + 1, now), now);
  CHECK(zt_cert_next_check(T0, false, T0 + 1, now) == UINT64_MAX);
  CHECK(zt_cert_next_check(0, true, T0, now) == UINT64_MAX);
  CHECK(zt_cert_expiring_soon(T0 + 29 * 86400, T0));
  CHECK(!zt_cert_expiring_soon(T0 + 31 * 86400, T0));
  char buf[40];
  zt_cert_time_str(T0, buf, sizeof(buf));
  CHECK_STR(buf, "2023-11-14T22:13:20Z");
}

int main(void) {
  if (zt_cert_make_ca("test-ca", 1, &ca, err, sizeof(err)) ||
      zt_cert_make_ca("other-ca", 1, &ca2, err, sizeof(err)) ||
      zt_cert_issue(&ca, ZT_ROLE_AGENT, "alice", 1, NULL, NULL, &alice, err,
                    sizeof(err)) ||
      zt_cert_issue(&ca, ZT_ROLE_AGENT, "bob", 1, NULL, NULL, &bob, err,
                    sizeof(err))) {
    fprintf(stderr, "certgen: %s\n", err);
    return 1;
  }
  RUN(test_create_and_lookup);
  RUN(test_signature_checked);
  RUN(test_files_named);
  RUN(test_expiry_arithmetic);
  zt_pem_free(&ca);
  zt_pem_free(&ca2);
  zt_pem_free(&alice);
  zt_pem_free(&bob);
  return TEST_EXIT();
}

/*
 * The dashboard's credential decision (core/dashcert.c, core/dashauth.c
 * zt_dash_status), each rule as the certificate that must be refused: an
 * agent's or the Intermediate's own (valid, but not an operator's), an
 * admin certificate of another CA, one expired or not valid yet, one in
 * the CRL; and the answer for each mix of token and certificate.
 */
#include <gnutls/gnutls.h>
#include <stdlib.h>
#include <time.h>

#include "certgen.h"
#include "dashauth.h"
#include "dashcert.h"
#include "test.h"
#include "tls.h"

static struct zt_pem ca, ca2, im, ops, alice, ops_foreign, ops_short;
static struct zt_tls_creds *creds;
static int64_t now;

static void issue(const struct zt_pem *by, enum zt_role role, const char *name,
                  unsigned days, struct zt_pem *out) {
  char err[256];
  if (zt_cert_issue(by, role, name, days, NULL, NULL, out, err, sizeof(err))) {
    fprintf(stderr, "certgen: %s\n", err);
    exit(1);
  }
}

static void setup(void) {
  char err[256];
  now = (int64_t)time(NULL);
  if (zt_cert_make_ca("test-ca", 10, &ca, err, sizeof(err)) ||
      zt_cert_make_ca("other-ca", 10, &ca2, err, sizeof(err))) {
    fprintf(stderr, "certgen: %s\n", err);
    exit(1);
  }
  issue(&ca, ZT_ROLE_INTERMEDIATE, "intermediate", 10, &im);
  issue(&ca, ZT_ROLE_ADMIN, "ops", 10, &ops);
  issue(&ca, ZT_ROLE_AGENT, "alice", 10, &alice);
  issue(&ca2, ZT_ROLE_ADMIN, "ops", 10, &ops_foreign);
  issue(&ca, ZT_ROLE_ADMIN, "ops-short", 1, &ops_short);
  creds = zt_tls_creds_from_pem(ca.cert, im.cert, im.key, err, sizeof(err));
  if (!creds) {
    fprintf(stderr, "creds: %s\n", err);
    exit(1);
  }
}

/* The verdict for a client presenting pem's certificate at time t. */
static enum zt_dash_cert check_at(const struct zt_pem *pem, int64_t t,
                                  char *name, char *reason, size_t len) {
  gnutls_datum_t in = {(unsigned char *)pem->cert, (unsigned)strlen(pem->cert)};
  gnutls_datum_t der = {NULL, 0};
  if (gnutls_pem_base64_decode2("CERTIFICATE", &in, &der) < 0) {
    fprintf(stderr, "not PEM\n");
    exit(1);
  }
  enum zt_dash_cert v = zt_dash_cert_check(creds, &der, 1, t, name, reason, len);
  gnutls_free(der.data);
  return v;
}

static char name[ZT_NAME_MAX + 1], reason[400];
#define CHECK_CERT(pem, t) check_at(pem, t, name, reason, sizeof(reason))

static void test_admin_accepted(void) {
  CHECK_EQ_INT(CHECK_CERT(&ops, now), ZT_DASH_CERT_ADMIN);
  CHECK_STR(name, "ops");
}

static void test_other_roles_refused(void) {
  /* Signed by our CA, valid, not revoked: only the role says no. */
  CHECK_EQ_INT(CHECK_CERT(&alice, now), ZT_DASH_CERT_REFUSED);
  CHECK_CONTAINS(reason, "role agent (ztna://agent/alice), not admin");
  CHECK_STR(name, "");
  CHECK_EQ_INT(CHECK_CERT(&im, now), ZT_DASH_CERT_REFUSED);
  CHECK_CONTAINS(reason, "role intermediate");
}

static void test_other_ca_refused(void) {
  CHECK_EQ_INT(CHECK_CERT(&ops_foreign, now), ZT_DASH_CERT_REFUSED);
  CHECK_CONTAINS(reason, "deployment CA");
  CHECK_STR(name, "");
}

static void test_dates(void) {
  /* A 1-day certificate two days on: expired. */
  CHECK_EQ_INT(CHECK_CERT(&ops_short, now), ZT_DASH_CERT_ADMIN);
  CHECK_EQ_INT(CHECK_CERT(&ops_short, now + 2 * 86400), ZT_DASH_CERT_REFUSED);
  CHECK_CONTAINS(reason, "expired on");
  /* Before it was issued: not valid yet. */
  CHECK_EQ_INT(CHECK_CERT(&ops, now - 30 * 86400), ZT_DASH_CERT_REFUSED);
  CHECK_CONTAINS(reason, "not valid before");
}

static void test_revoked_refused(void) {
  struct zt_revocation r = {.when = now - 60};
  char err[256], *pem = NULL;
  CHECK(zt_cert_serial(ops.cert, r.serial, &r.len, NULL, err, sizeof(err)) == 0);
  CHECK(zt_crl_make(&ca, &r, 1, now - 60, 30, &pem, err, sizeof(err)) == 0);
  struct zt_crl *crl = zt_crl_from_pem(pem, ca.cert, err, sizeof(err));
  free(pem);
  CHECK(crl);
  zt_tls_creds_set_crl(creds, crl);
  CHECK_EQ_INT(CHECK_CERT(&ops, now), ZT_DASH_CERT_REFUSED);
  CHECK_CONTAINS(reason, "ztna://admin/ops: serial");
  CHECK_CONTAINS(reason, "revoked");
  /* Another admin certificate is not affected. */
  CHECK_EQ_INT(CHECK_CERT(&ops_short, now), ZT_DASH_CERT_ADMIN);
  zt_tls_creds_set_crl(creds, NULL);
  CHECK_EQ_INT(CHECK_CERT(&ops, now), ZT_DASH_CERT_ADMIN);
}

static void test_none_and_garbage(void) {
  CHECK_EQ_INT(zt_dash_cert_check(creds, NULL, 0, now, name, reason,
                                  sizeof(reason)),
               ZT_DASH_CERT_NONE);
  gnutls_datum_t junk = {(unsigned char *)"\x30\x03\x02\x01\x01", 5};
  CHECK_EQ_INT(zt_dash_cert_check(creds, &junk, 1, now, name, reason,
                                  sizeof(reason)),
               ZT_DASH_CERT_REFUSED);
  CHECK_CONTAINS(reason, "bad certificate");
}

static void test_status(void) {
  /* Either credential is enough. */
  CHECK_EQ_INT(zt_dash_status(true, ZT_DASH_CERT_NONE), 0);
  CHECK_EQ_INT(zt_dash_status(false, ZT_DASH_CERT_ADMIN), 0);
  CHECK_EQ_INT(zt_dash_status(true, ZT_DASH_CERT_REFUSED), 0);
  /* A certificate we refuse: forbidden, not "log in". */
  CHECK_EQ_INT(zt_dash_status(false, ZT_DASH_CERT_REFUSED), 403);
  /* Nothing (or a wrong token): 401. */
  CHECK_EQ_INT(zt_dash_status(false, ZT_DASH_CERT_NONE), 401);
}

int main(void) {
  setup();
  RUN(test_admin_accepted);
  RUN(test_other_roles_refused);
  RUN(test_other_ca_refused);
  RUN(test_dates);
  RUN(test_revoked_refused);
  RUN(test_none_and_garbage);
  RUN(test_status);
  zt_tls_creds_free(creds);
  struct zt_pem *all[] = {&ca, &ca2, &im, &ops, &alice, &ops_foreign, &ops_short};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    zt_pem_free(all[i]);
  return TEST_EXIT();
}

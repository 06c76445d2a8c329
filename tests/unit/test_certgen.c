/* certgen.c: what it issues verifies against its CA, not against another,
 * carries the identity and extra SANs, and works for TLS in both
 * directions. */
#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdlib.h>
#include <time.h>

#include "certgen.h"
#include "tls.h"
#include "test.h"

static gnutls_x509_crt_t load(const char *pem) {
  gnutls_x509_crt_t c;
  gnutls_datum_t d = {(unsigned char *)pem, (unsigned)strlen(pem)};
  gnutls_x509_crt_init(&c);
  if (gnutls_x509_crt_import(c, &d, GNUTLS_X509_FMT_PEM) < 0) {
    gnutls_x509_crt_deinit(c);
    return NULL;
  }
  return c;
}

static void test_chain(void) {
  struct zt_pem ca, ca2, leaf;
  char err[256];
  unsigned status = 1, is_ca = 0;
  CHECK_EQ_INT(zt_cert_make_ca("one", 30, &ca, err, sizeof(err)), 0);
  CHECK_EQ_INT(zt_cert_make_ca("two", 30, &ca2, err, sizeof(err)), 0);
  CHECK_EQ_INT(zt_cert_issue(&ca, ZT_ROLE_AGENT, "alice", 30, NULL, NULL, &leaf,
                             err, sizeof(err)),
               0);
  CHECK_CONTAINS(leaf.cert, "BEGIN CERTIFICATE");
  CHECK_CONTAINS(leaf.key, "BEGIN PRIVATE KEY");
  gnutls_x509_crt_t c = load(leaf.cert), a = load(ca.cert), b = load(ca2.cert);
  CHECK(c && a && b);
  CHECK_EQ_INT(gnutls_x509_crt_verify(c, &a, 1, 0, &status), 0);
  CHECK_EQ_INT(status, 0);
  CHECK_EQ_INT(gnutls_x509_crt_verify(c, &b, 1, 0, &status), 0);
  CHECK(status != 0);
  CHECK(gnutls_x509_crt_get_basic_constraints(a, NULL, &is_ca, NULL) >= 0);
  CHECK_EQ_INT(is_ca, 1);
  CHECK(gnutls_x509_crt_get_basic_constraints(c, NULL, &is_ca, NULL) >= 0);
  CHECK_EQ_INT(is_ca, 0);
  CHECK(gnutls_x509_crt_get_expiration_time(c) > time(NULL) + 29 * 86400);
  gnutls_x509_crt_deinit(a);
  gnutls_x509_crt_deinit(b);
  gnutls_x509_crt_deinit(c);
  zt_pem_free(&ca);
  zt_pem_free(&ca2);
  zt_pem_free(&leaf);
}

static void test_extra_sans(void) {
  struct zt_pem ca, leaf;
  char err[256];
  const char *dns[] = {"relay.example", NULL};
  const char *ips[] = {"198.51.100.1", "2001:db8::1", NULL};
  CHECK_EQ_INT(zt_cert_make_ca("ca", 1, &ca, err, sizeof(err)), 0);
  CHECK_EQ_INT(zt_cert_issue(&ca, ZT_ROLE_INTERMEDIATE, "intermediate", 1, dns,
                             ips, &leaf, err, sizeof(err)),
               0);
  gnutls_x509_crt_t c = load(leaf.cert);
  CHECK(c);
  CHECK(gnutls_x509_crt_check_hostname(c, "relay.example"));
  CHECK(gnutls_x509_crt_check_ip(c, (const unsigned char *)"\xc6\x33\x64\x01",
                                 4, 0));
  gnutls_x509_crt_deinit(c);
  zt_pem_free(&leaf);
  const char *bad_ip[] = {"198.51.100.300", NULL};
  CHECK_EQ_INT(zt_cert_issue(&ca, ZT_ROLE_INTERMEDIATE, "i", 1, NULL, bad_ip,
                             &leaf, err, sizeof(err)),
               -1);
  CHECK_CONTAINS(err, "198.51.100.300");
  zt_pem_free(&ca);
}

static void test_refusals(void) {
  struct zt_pem ca, leaf, not_ca = {0};
  char err[256];
  CHECK_EQ_INT(zt_cert_make_ca("ca", 1, &ca, err, sizeof(err)), 0);
  CHECK_EQ_INT(zt_cert_issue(&ca, ZT_ROLE_AGENT, "bad name", 1, NULL, NULL,
                             &leaf, err, sizeof(err)),
               -1);
  CHECK_CONTAINS(err, "invalid identity");
  CHECK_EQ_INT(zt_cert_issue(&ca, ZT_ROLE_NONE, "x", 1, NULL, NULL, &leaf, err,
                             sizeof(err)),
               -1);
  /* A leaf cannot sign. */
  CHECK_EQ_INT(zt_cert_issue(&ca, ZT_ROLE_AGENT, "a", 1, NULL, NULL, &not_ca,
                             err, sizeof(err)),
               0);
  CHECK_EQ_INT(zt_cert_issue(&not_ca, ZT_ROLE_AGENT, "b", 1, NULL, NULL, &leaf,
                             err, sizeof(err)),
               -1);
  CHECK_CONTAINS(err, "not a CA");
  zt_pem_free(&not_ca);
  zt_pem_free(&ca);
}

/* A CA key must be its certificate's private key: with another CA's key,
 * issuing would sign leaves that verify against nothing. */
static void test_ca_pair(void) {
  struct zt_pem one, two, leaf = {0};
  char err[256];
  CHECK_EQ_INT(zt_cert_make_ca("one", 1, &one, err, sizeof(err)), 0);
  CHECK_EQ_INT(zt_cert_make_ca("two", 1, &two, err, sizeof(err)), 0);
  CHECK_EQ_INT(zt_ca_check(&one, err, sizeof(err)), 0);
  struct zt_pem mixed = {one.cert, two.key};
  CHECK_EQ_INT(zt_ca_check(&mixed, err, sizeof(err)), -1);
  CHECK_CONTAINS(err, "CA key does not match the CA certificate");
  err[0] = '\0';
  CHECK_EQ_INT(zt_cert_issue(&mixed, ZT_ROLE_AGENT, "alice", 1, NULL, NULL,
                             &leaf, err, sizeof(err)),
               -1);
  CHECK_CONTAINS(err, "CA key does not match the CA certificate");
  CHECK(leaf.cert == NULL && leaf.key == NULL);
  zt_pem_free(&one);
  zt_pem_free(&two);
}

/* The credentials loader reads the identity of what certgen makes. */
static void test_tls_creds(void) {
  struct zt_pem ca, leaf;
  char err[256];
  CHECK_EQ_INT(zt_cert_make_ca("ca", 1, &ca, err, sizeof(err)), 0);
  CHECK_EQ_INT(zt_cert_issue(&ca, ZT_ROLE_CONNECTOR, "conn-b", 1, NULL, NULL,
                             &leaf, err, sizeof(err)),
               0);
  struct zt_tls_creds *c =
      zt_tls_creds_from_pem(ca.cert, leaf.cert, leaf.key, err, sizeof(err));
  CHECK(c);
  CHECK_EQ_INT(c->own_role, ZT_ROLE_CONNECTOR);
  CHECK_STR(c->own_name, "conn-b");
  zt_tls_creds_free(c);
  /* A CA certificate in a party's place has no identity. */
  c = zt_tls_creds_from_pem(ca.cert, ca.cert, ca.key, err, sizeof(err));
  CHECK(!c);
  CHECK_CONTAINS(err, "own certificate");
  zt_pem_free(&ca);
  zt_pem_free(&leaf);
}

int main(void) {
  RUN(test_chain);
  RUN(test_extra_sans);
  RUN(test_refusals);
  RUN(test_ca_pair);
  RUN(test_tls_creds);
  return TEST_EXIT();
}

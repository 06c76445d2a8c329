/* The CRL read again on reload by the agent and the connector
 * (platform/crlreload.c, called from the driver's SIGHUP and `ztna reload`
 * when the daemon has no reload of its own): a new CRL replaces the one in
 * the credentials, so the next handshakes check it; a broken one, or one
 * of another CA, keeps the previous list; no crl configured says so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "certgen.h"
#include "crl.h"
#include "crlreload.h"
#include "test.h"

static struct zt_pem ca, ca2, alice, bob;
static char err[600], dir[] = "/tmp/test_crlreload_XXXXXX";

static void die(void) {
  fprintf(stderr, "setup: %s\n", err);
  exit(1);
}

static void put(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f || fputs(text, f) < 0 || fclose(f) != 0)
    die();
}

/* Writes a CRL by signer revoking who[0..n) to path. */
static void write_crl(const char *path, const struct zt_pem *signer,
                      const struct zt_pem *who, size_t n) {
  struct zt_revocation r[2];
  char *pem = NULL;
  for (size_t i = 0; i < n; i++) {
    if (zt_cert_serial(who[i].cert, r[i].serial, &r[i].len, NULL, err,
                       sizeof(err)))
      die();
    r[i].when = (int64_t)time(NULL);
  }
  if (zt_crl_make(signer, r, n, (int64_t)time(NULL), 30, &pem, err,
                  sizeof(err)))
    die();
  put(path, pem);
  free(pem);
}

static bool revoked(const struct zt_tls_creds *c, const struct zt_pem *who) {
  uint8_t s[ZT_SERIAL_MAX];
  size_t len;
  if (zt_cert_serial(who->cert, s, &len, NULL, err, sizeof(err)))
    die();
  return zt_crl_revoked(c->crl, s, len, NULL);
}

static void test_reload(void) {
  struct zt_tls_paths p = {0};
  char msg[1024];
  struct zt_tls_creds *c =
      zt_tls_creds_from_pem(ca.cert, alice.cert, alice.key, err, sizeof(err));
  CHECK(c);
  snprintf(p.ca, sizeof(p.ca), "%s/ca.pem", dir);
  put(p.ca, ca.cert);

  /* No crl configured: nothing to do, and the answer says so. */
  CHECK_EQ_INT(zt_crl_reload(c, &p, msg, sizeof(msg)), -1);
  CHECK_CONTAINS(msg, "no crl configured");
  CHECK(c->crl == NULL);

  /* A CRL revoking bob: read, and in force for the next handshakes. */
  snprintf(p.crl, sizeof(p.crl), "%s/crl.pem", dir);
  write_crl(p.crl, &ca, &bob, 1);
  CHECK_EQ_INT(zt_crl_reload(c, &p, msg, sizeof(msg)), 0);
  CHECK_CONTAINS(msg, "reloaded: 1 revoked certificate(s)");
  CHECK(revoked(c, &bob));
  CHECK(!revoked(c, &alice));

  /* `ztna cert revoke` adds alice: the reload sees both. */
  struct zt_pem both[2] = {bob, alice};
  write_crl(p.crl, &ca, both, 2);
  CHECK_EQ_INT(zt_crl_reload(c, &p, msg, sizeof(msg)), 0);
  CHECK(revoked(c, &bob) && revoked(c, &alice));

  /* Another CA's CRL, then garbage: refused, the previous list stays. */
  write_crl(p.crl, &ca2, &bob, 1);
  CHECK_EQ_INT(zt_crl_reload(c, &p, msg, sizeof(msg)), -1);
  CHECK_CONTAINS(msg, "not signed by the CA");
  CHECK_CONTAINS(msg, "keeping the previous crl");
  CHECK(revoked(c, &bob) && revoked(c, &alice));
  put(p.crl, "not a crl\n");
  CHECK_EQ_INT(zt_crl_reload(c, &p, msg, sizeof(msg)), -1);
  CHECK(revoked(c, &alice));

  zt_tls_creds_free(c);
  unlink(p.crl);
  unlink(p.ca);
}

int main(void) {
  if (!mkdtemp(dir) ||
      zt_cert_make_ca("test-ca", 1, &ca, err, sizeof(err)) ||
      zt_cert_make_ca("other-ca", 1, &ca2, err, sizeof(err)) ||
      zt_cert_issue(&ca, ZT_ROLE_AGENT, "alice", 1, NULL, NULL, &alice, err,
                    sizeof(err)) ||
      zt_cert_issue(&ca, ZT_ROLE_AGENT, "bob", 1, NULL, NULL, &bob, err,
                    sizeof(err)))
    die();
  RUN(test_reload);
  rmdir(dir);
  zt_pem_free(&ca);
  zt_pem_free(&ca2);
  zt_pem_free(&alice);
  zt_pem_free(&bob);
  return TEST_EXIT();
}

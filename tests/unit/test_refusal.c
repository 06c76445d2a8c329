/* A refused client's message (core/refusal.c): each TLS alert the
 * Intermediate refuses with becomes words naming our files and the cause;
 * repeated failures are logged once per cause, then every 10th. */
#include <gnutls/gnutls.h>

#include "refusal.h"
#include "test.h"

static char out[512];

static void explain(uint8_t alert) {
  zt_refusal_explain(alert, "/etc/ztna/alice.pem", "/etc/ztna/ca.pem", out,
                     sizeof(out));
}

static void test_alerts_named(void) {
  explain(GNUTLS_A_CERTIFICATE_EXPIRED);
  CHECK_CONTAINS(out, "refused our certificate /etc/ztna/alice.pem");
  CHECK_CONTAINS(out, "certificate_expired");
  CHECK_CONTAINS(out, "clock");
  explain(GNUTLS_A_UNKNOWN_CA);
  CHECK_CONTAINS(out, "unknown_ca");
  CHECK_CONTAINS(out, "/etc/ztna/ca.pem");
  explain(GNUTLS_A_ACCESS_DENIED);
  CHECK_CONTAINS(out, "access_denied");
  CHECK_CONTAINS(out, "role or name");
  explain(GNUTLS_A_BAD_CERTIFICATE);
  CHECK_CONTAINS(out, "bad_certificate");
  CHECK_CONTAINS(out, "/etc/ztna/alice.pem");
  explain(GNUTLS_A_CERTIFICATE_REVOKED);
  CHECK_CONTAINS(out, "certificate_revoked");
  CHECK_CONTAINS(out, "revoked it");
  explain(GNUTLS_A_CERTIFICATE_REQUIRED);
  CHECK_CONTAINS(out, "certificate_required");
  explain(GNUTLS_A_HANDSHAKE_FAILURE);
  CHECK_STR(out, "the intermediate ended the handshake: TLS alert "
                 "handshake_failure");
  explain(200);
  CHECK_STR(out, "the intermediate ended the handshake: TLS alert 200");
  zt_refusal_explain(GNUTLS_A_UNKNOWN_CA, "", "", out, sizeof(out));
  CHECK_CONTAINS(out, "(in memory)");
}

static void test_repeat_once_then_every_tenth(void) {
  struct zt_repeat r = {0};
  unsigned n, logged = 0;
  for (unsigned i = 1; i <= 25; i++) {
    bool l = zt_repeat_should_log(&r, "unknown_ca", &n);
    CHECK_EQ_INT(n, i);
    CHECK_EQ_INT(l, i == 1 || i == 10 || i == 20);
    logged += l;
  }
  CHECK_EQ_INT(logged, 3);
  /* another cause is news */
  CHECK(zt_repeat_should_log(&r, "handshake timed out", &n));
  CHECK_EQ_INT(n, 1);
  CHECK(!zt_repeat_should_log(&r, "handshake timed out", &n));
  zt_repeat_reset(&r);
  CHECK(zt_repeat_should_log(&r, "handshake timed out", &n));
}

int main(void) {
  RUN(test_alerts_named);
  RUN(test_repeat_once_then_every_tenth);
  return TEST_EXIT();
}

/* See dashcert.h. */
#include "dashcert.h"

#include <gnutls/x509.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tls.h"

/* Our certificates come straight from the CA; a longer chain is not ours. */
#define CHAIN_MAX 4

static void utc(int64_t t, char *buf, size_t n) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (!gmtime_r(&tt, &tm) || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(buf, n, "@%lld", (long long)t);
}

/* Signature chain and key purpose against the deployment CA only (never
 * the system store); the dates are checked by the caller at `now`. */
static int ca_verify(const struct zt_tls_creds *creds, gnutls_x509_crt_t *crts,
                     unsigned n, char *reason, size_t len) {
  gnutls_x509_trust_list_t tl = NULL;
  unsigned status = 0;
  gnutls_certificate_get_trust_list(creds->cred, &tl);
  if (!tl) {
    snprintf(reason, len, "no deployment CA loaded");
    return -1;
  }
  gnutls_typed_vdata_st purpose = {GNUTLS_DT_KEY_PURPOSE_OID,
                                   (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0};
  int rv = gnutls_x509_trust_list_verify_crt2(
      tl, crts, n, &purpose, 1,
      GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
          GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS,
      &status, NULL);
  if (rv < 0 || status != 0) {
    gnutls_datum_t out = {NULL, 0};
    if (rv >= 0 && gnutls_certificate_verification_status_print(
                       status, GNUTLS_CRT_X509, &out, 0) == 0) {
      snprintf(reason, len, "not accepted by the deployment CA: %s", out.data);
      gnutls_free(out.data);
    } else {
      snprintf(reason, len, "not accepted by the deployment CA: %s",
               rv < 0 ? gnutls_strerror(rv) : "verification failed");
    }
    return -1;
  }
  return 0;
}

enum zt_dash_cert zt_dash_cert_check(const struct zt_tls_creds *creds,
                                     const gnutls_datum_t *chain, unsigned n,
                                     int64_t now, char name[ZT_NAME_MAX + 1],
                                     char *reason, size_t reasonlen) {
  gnutls_x509_crt_t crts[CHAIN_MAX];
  unsigned ncrt = 0;
  enum zt_dash_cert verdict = ZT_DASH_CERT_REFUSED;
  enum zt_role role = ZT_ROLE_NONE;
  char when[40], why[160];

  name[0] = '\0';
  if (!chain || n == 0)
    return ZT_DASH_CERT_NONE;
  if (n > CHAIN_MAX) {
    snprintf(reason, reasonlen, "chain of %u certificates (at most %d)", n,
             CHAIN_MAX);
    return ZT_DASH_CERT_REFUSED;
  }
  for (; ncrt < n; ncrt++) {
    if (gnutls_x509_crt_init(&crts[ncrt]) < 0) {
      snprintf(reason, reasonlen, "out of memory");
      goto out;
    }
    int rv = gnutls_x509_crt_import(crts[ncrt], &chain[ncrt],
                                    GNUTLS_X509_FMT_DER);
    if (rv < 0) {
      ncrt++;
      snprintf(reason, reasonlen, "bad certificate: %s", gnutls_strerror(rv));
      goto out;
    }
  }
  if (ca_verify(creds, crts, ncrt, reason, reasonlen) != 0)
    goto out;
  int64_t not_before = (int64_t)gnutls_x509_crt_get_activation_time(crts[0]);
  int64_t not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crts[0]);
  if (not_before == -1 || not_after == -1) {
    snprintf(reason, reasonlen, "cannot read its validity dates");
    goto out;
  }
  if (now < not_before) {
    utc(not_before, when, sizeof(when));
    snprintf(reason, reasonlen, "not valid before %s", when);
    goto out;
  }
  if (now > not_after) {
    utc(not_after, when, sizeof(when));
    snprintf(reason, reasonlen, "expired on %s", when);
    goto out;
  }
  if (zt_identity_from_der(chain[0].data, chain[0].size, &role, name, why,
                           sizeof(why)) != 0) {
    snprintf(reason, reasonlen, "no ztna identity: %s", why);
    name[0] = '\0';
    goto out;
  }
  uint8_t serial[ZT_SERIAL_MAX];
  size_t serial_len = sizeof(serial);
  int64_t revoked_at;
  if (gnutls_x509_crt_get_serial(crts[0], serial, &serial_len) < 0) {
    snprintf(reason, reasonlen, "ztna://%s/%s: cannot read its serial",
             zt_role_name(role), name);
    goto out;
  }
  if (zt_crl_revoked(creds->crl, serial, serial_len, &revoked_at)) {
    char hex[3 * ZT_SERIAL_MAX];
    zt_serial_hex(serial, serial_len, hex, sizeof(hex));
    utc(revoked_at, when, sizeof(when));
    snprintf(reason, reasonlen, "ztna://%s/%s: serial %s revoked on %s",
             zt_role_name(role), name, hex, when);
    goto out;
  }
  /* Every other check passed: only the role is left between a tunnel
   * user's certificate and the operator's view. */
  if (role != ZT_ROLE_ADMIN) {
    snprintf(reason, reasonlen, "certificate of role %s (ztna://%s/%s), not admin",
             zt_role_name(role), zt_role_name(role), name);
    goto out;
  }
  verdict = ZT_DASH_CERT_ADMIN;
out:
  if (verdict != ZT_DASH_CERT_ADMIN)
    name[0] = '\0';
  for (unsigned i = 0; i < ncrt; i++)
    gnutls_x509_crt_deinit(crts[i]);
  return verdict;
}

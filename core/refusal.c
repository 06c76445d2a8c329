/* Refusals in words, and repeated failures logged sparingly. See refusal.h. */
#include "refusal.h"

#include <gnutls/gnutls.h>
#include <stdio.h>
#include <string.h>

/* RFC 8446's names: what a TLS person searches for. */
static const char *alert_name(uint8_t alert) {
  switch (alert) {
  case GNUTLS_A_BAD_CERTIFICATE: return "bad_certificate";
  case GNUTLS_A_UNSUPPORTED_CERTIFICATE: return "unsupported_certificate";
  case GNUTLS_A_CERTIFICATE_REVOKED: return "certificate_revoked";
  case GNUTLS_A_CERTIFICATE_UNKNOWN: return "certificate_unknown";
  case GNUTLS_A_HANDSHAKE_FAILURE: return "handshake_failure";
  case GNUTLS_A_INTERNAL_ERROR: return "internal_error";
  case GNUTLS_A_NO_APPLICATION_PROTOCOL: return "no_application_protocol";
  default: return NULL;
  }
}

static const char *or_memory(const char *f) {
  return f && f[0] ? f : "(in memory)";
}

void zt_refusal_explain(uint8_t alert, const char *cert_file,
                        const char *ca_file, char *out, size_t len) {
  const char *cert = or_memory(cert_file), *ca = or_memory(ca_file);
  switch (alert) {
  case GNUTLS_A_CERTIFICATE_EXPIRED:
    snprintf(out, len,
             "the intermediate refused our certificate %s: certificate_expired"
             " (expired or not valid yet by the intermediate's clock; renew it"
             " with `ztna cert`, check both clocks)",
             cert);
    break;
  case GNUTLS_A_UNKNOWN_CA:
    snprintf(out, len,
             "the intermediate refused our certificate %s: unknown_ca (not "
             "signed by the CA the intermediate trusts; our CA file is %s: "
             "issue the certificate from the deployment's CA)",
             cert, ca);
    break;
  case GNUTLS_A_ACCESS_DENIED:
    snprintf(out, len,
             "the intermediate refused our certificate %s: access_denied (a "
             "valid certificate, but its role or name is not accepted there)",
             cert);
    break;
  case GNUTLS_A_CERTIFICATE_REQUIRED:
    snprintf(out, len,
             "the intermediate refused us: certificate_required (it got no "
             "certificate from us; check %s)",
             cert);
    break;
  case GNUTLS_A_CERTIFICATE_REVOKED:
    snprintf(out, len,
             "the intermediate refused our certificate %s: certificate_revoked"
             " (the deployment's CA revoked it: ask the operator for a new "
             "one)",
             cert);
    break;
  case GNUTLS_A_BAD_CERTIFICATE:
  case GNUTLS_A_UNSUPPORTED_CERTIFICATE:
  case GNUTLS_A_CERTIFICATE_UNKNOWN:
    snprintf(out, len,
             "the intermediate refused our certificate %s: %s (check that it "
             "is a ztna certificate from the CA in %s; the intermediate's log "
             "names the reason)",
             cert, alert_name(alert), ca);
    break;
  default:
    if (alert_name(alert))
      snprintf(out, len, "the intermediate ended the handshake: TLS alert %s",
               alert_name(alert));
    else
      snprintf(out, len,
               "the intermediate ended the handshake: TLS alert %u", alert);
  }
}

bool zt_repeat_should_log(struct zt_repeat *r, const char *cause,
                          unsigned *count) {
  if (strncmp(r->last, cause, sizeof(r->last) - 1) != 0) {
    snprintf(r->last, sizeof(r->last), "%s", cause);
    r->count = 0;
  }
  r->count++;
  *count = r->count;
  return r->count == 1 || r->count % ZT_REPEAT_EVERY == 0;
}

void zt_repeat_reset(struct zt_repeat *r) {
  r->last[0] = 0;
  r->count = 0;
}

/*
 * The dashboard's second credential (docs/dashboard.md): an admin client
 * certificate, presented in the HTTPS handshake. Accepted only when it is
 * signed by the deployment CA (the trust the Intermediate's own QUIC
 * credentials hold, so a CA rotated by reload applies here too), valid at
 * `now`, not in the loaded CRL, and carries the identity ztna://admin/NAME.
 * A valid certificate of any other role (an agent's, a connector's) is
 * refused: holding a tunnel credential is not being an operator.
 *
 * The HTTP server requests a certificate but does not check it in the
 * handshake; this check runs per request, so the answer is an HTTP status
 * (403 with a logged reason) rather than a TLS alert a browser shows as a
 * broken connection.
 */
#ifndef ZTNA_DASHCERT_H
#define ZTNA_DASHCERT_H

#include <gnutls/gnutls.h>
#include <stddef.h>
#include <stdint.h>

#include "identity.h"

struct zt_tls_creds;

enum zt_dash_cert {
  ZT_DASH_CERT_NONE,    /* no certificate sent */
  ZT_DASH_CERT_ADMIN,   /* a valid admin certificate */
  ZT_DASH_CERT_REFUSED, /* a certificate we do not accept: see reason */
};

/* chain: the client's certificates (DER, leaf first) as GnuTLS gives them,
 * n of them (0: none). creds: the Intermediate's credentials, for the CA
 * and the CRL. now: Unix seconds. name gets the admin's name on success;
 * reason says why on refusal ("certificate of role agent (ztna://agent/
 * alice), not admin"). */
enum zt_dash_cert zt_dash_cert_check(const struct zt_tls_creds *creds,
                                     const gnutls_datum_t *chain, unsigned n,
                                     int64_t now, char name[ZT_NAME_MAX + 1],
                                     char *reason, size_t reasonlen);

#endif

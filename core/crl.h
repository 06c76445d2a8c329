/*
 * Certificate revocation: the deployment CA's CRL, as the daemons use it.
 *
 * `ztna cert revoke` (tools/cert_cmd.c, certgen.h zt_crl_make) writes a CRL
 * signed by the CA; a daemon configured with `crl` loads it at start and
 * on reload. Loading checks the CRL's signature against the CA, so a CRL
 * anyone could write is refused (an attacker able to replace the file
 * could otherwise only add entries, but a forged CRL is a sign of something
 * wrong that an operator must see). The handshake's peer check
 * (tls.c zt_tls_verify_peer) looks the peer's serial up here; the
 * Intermediate's reload closes live connections whose serial is now listed.
 *
 * A CRL past its next-update is still used (revocations never expire) and
 * reported by zt_crl_load_at's warning, so an operator renews it.
 */
#ifndef ZTNA_CRL_H
#define ZTNA_CRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZT_SERIAL_MAX 20 /* RFC 5280 4.1.2.2: at most 20 octets */

struct zt_crl;

/* From PEM text, checked against the CA certificate(s) in ca_pem. NULL and
 * err ("not signed by the CA", "not a CRL: ...") on failure. */
struct zt_crl *zt_crl_from_pem(const char *crl_pem, const char *ca_pem,
                               char *err, size_t errlen);
/* From files: err names the file ("crl /etc/ztna/crl.pem: not signed by
 * the CA in /etc/ztna/ca.pem"). warn (may be NULL) is set when the CRL is
 * past its next-update at `now` (Unix seconds), "" otherwise. */
struct zt_crl *zt_crl_load_at(const char *crl_file, const char *ca_file,
                              int64_t now, char *err, size_t errlen,
                              char *warn, size_t warnlen);
void zt_crl_free(struct zt_crl *crl);

/* Is this serial (DER INTEGER content bytes, as GnuTLS returns them)
 * revoked? true and, when `when` is not NULL, the revocation time. A NULL
 * crl revokes nothing. */
bool zt_crl_revoked(const struct zt_crl *crl, const uint8_t *serial,
                    size_t len, int64_t *when);
size_t zt_crl_count(const struct zt_crl *crl);
int64_t zt_crl_next_update(const struct zt_crl *crl);
const char *zt_crl_file(const struct zt_crl *crl); /* "" from memory */

/* "0a:1b:..." for logs; buf of 3 * ZT_SERIAL_MAX bytes is enough. */
void zt_serial_hex(const uint8_t *serial, size_t len, char *buf, size_t n);

#endif

/*
 * Certificates for a deployment, made with GnuTLS: a self-signed CA, and
 * leaf certificates for the Intermediate, connectors and agents that carry
 * their identity as a ztna://role/name URI SAN (identity.h). ECDSA P-256,
 * SHA-256, usable as both TLS client and server (each party is one or the
 * other depending on the connection).
 */
#ifndef ZTNA_CERTGEN_H
#define ZTNA_CERTGEN_H

#include <stddef.h>
#include <stdint.h>

#include "crl.h"
#include "identity.h"

struct zt_pem {
  char *cert; /* PEM, NUL-terminated, malloc'd */
  char *key;
};
/* Frees both; the key is wiped first (secret.h). */
void zt_pem_free(struct zt_pem *p);

int zt_cert_make_ca(const char *cn, unsigned days, struct zt_pem *out,
                    char *err, size_t errlen);

/* 0 when ca is a usable CA: its certificate parses and is a CA, and its
 * key is that certificate's private key. -1 with the reason in err. */
int zt_ca_check(const struct zt_pem *ca, char *err, size_t errlen);

/* Refuses a CA whose key does not match its certificate (zt_ca_check).
 * dns and ips: NULL-terminated lists (or NULL) of extra SANs, useful when
 * other TLS tools look at the Intermediate's certificate. */
int zt_cert_issue(const struct zt_pem *ca, enum zt_role role, const char *name,
                  unsigned days, const char *const *dns,
                  const char *const *ips, struct zt_pem *out, char *err,
                  size_t errlen);

/* The same with an explicit not-after (Unix seconds): tests and the
 * simulator issue certificates that expire within seconds. Not a CLI
 * option. */
int zt_cert_issue_until(const struct zt_pem *ca, enum zt_role role,
                        const char *name, int64_t not_after,
                        const char *const *dns, const char *const *ips,
                        struct zt_pem *out, char *err, size_t errlen);

/* The same for a key that exists (PEM; NULL: a new one): `ztna cert renew
 * --keep-key`. out->key is that key again. */
int zt_cert_issue_key(const struct zt_pem *ca, enum zt_role role,
                      const char *name, int64_t not_after,
                      const char *const *dns, const char *const *ips,
                      const char *key_pem, struct zt_pem *out, char *err,
                      size_t errlen);

/* A certificate's serial (and not-after, when not NULL), from PEM. */
int zt_cert_serial(const char *cert_pem, uint8_t serial[ZT_SERIAL_MAX],
                   size_t *len, int64_t *not_after, char *err, size_t errlen);

/* 1 when cert_pem is signed by the CA certificate ca_pem (dates ignored),
 * 0 when not, -1 when either does not parse. */
int zt_cert_signed_by(const char *cert_pem, const char *ca_pem);

/* One revoked certificate: its serial and when it was revoked. */
struct zt_revocation {
  uint8_t serial[ZT_SERIAL_MAX];
  size_t len;
  int64_t when;
};
/* A CRL (v2, SHA-256) listing `list`, signed by the CA, issued at `now`
 * with its next update `next_days` later; PEM in *pem_out (malloc'd). */
int zt_crl_make(const struct zt_pem *ca, const struct zt_revocation *list,
                size_t n, int64_t now, unsigned next_days, char **pem_out,
                char *err, size_t errlen);

#endif

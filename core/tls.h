/*
 * TLS credentials and peer verification for both QUIC layers.
 *
 * A deployment has one CA. Each party loads the CA, its own certificate and
 * key; during the handshake the peer's chain is verified against that CA
 * only (never the system trust store) and its identity is read from the
 * certificate's ztna:// URI. A peer that fails is refused inside the
 * handshake, and the reason is kept so the daemon can log it.
 *
 * Loading reads files (startup only); nothing here runs per packet.
 */
#ifndef ZTNA_TLS_H
#define ZTNA_TLS_H

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "crl.h"
#include "identity.h"

struct zt_tls_creds {
  gnutls_certificate_credentials_t cred;
  enum zt_role own_role;
  char own_name[ZT_NAME_MAX + 1];
  /* The files they came from ("" from memory), for messages that tell an
   * operator which certificate the Intermediate refused. */
  char cert_file[256], ca_file[256];
  /* Revoked certificates (crl.h), owned; NULL: none. Every handshake of
   * every connection made with these credentials checks its peer here, so
   * replacing it (zt_tls_creds_set_crl) applies to the next handshakes. */
  struct zt_crl *crl;
  /* Our own certificate's not-after (Unix seconds) and serial (hex), for
   * the status: after a reload they tell which certificate is in use. */
  int64_t own_not_after;
  char own_serial[3 * ZT_SERIAL_MAX];
  /* GnuTLS credentials replaced by zt_tls_creds_reload: sessions made
   * before the reload still point at them, so they live until
   * zt_tls_creds_free (a few hundred bytes per reload). */
  gnutls_certificate_credentials_t *retired;
  size_t n_retired;
};

/* Certificate rotation: loads ca/cert/key again (zt_tls_creds_load_at's
 * checks: readable, key matches the certificate, valid at `now`, signed by
 * the CA) and requires the same identity (role and name) as c. On success
 * the new certificate, key and CA serve every handshake from now on, while
 * live connections keep the state they negotiated; c's address, CRL and
 * everything else stay. 0 and msg "cert PATH reloaded: serial S, expires
 * T"; -1 and msg naming the file and the reason, and c unchanged. */
int zt_tls_creds_reload(struct zt_tls_creds *c, const char *ca_file,
                        const char *cert_file, const char *key_file,
                        uint64_t now, char *msg, size_t len);

/* Replaces the CRL (freeing the old one); takes ownership of crl. */
void zt_tls_creds_set_crl(struct zt_tls_creds *c, struct zt_crl *crl);

/* Loads PEM files. NULL and err ("cert /etc/ztna/agent.pem: ...") on error.
 * zt_tls_creds_load_at with the current time and no warning. */
struct zt_tls_creds *zt_tls_creds_load(const char *ca_file,
                                       const char *cert_file,
                                       const char *key_file, char *err,
                                       size_t errlen);

/* A daemon's start: loads the files and checks its own certificate at `now`
 * (Unix seconds; a parameter so tests use fixed times). Refused, with the
 * file and the reason in err: a file missing or unreadable ("cert PATH: No
 * such file or directory"), a key that is not the certificate's ("cert PATH
 * and key PATH do not match"), a certificate not yet valid or expired at
 * `now` ("cert PATH expired on 2026-01-02T03:04:05Z"), or not signed by the
 * CA ("cert PATH is not signed by the CA in PATH"). A certificate that
 * expires within ZT_TLS_EXPIRY_WARN_S is accepted with a warning in warn
 * (set to "" otherwise; warn may be NULL). The role is the caller's check. */
#define ZT_TLS_EXPIRY_WARN_S (30u * 86400u)
struct zt_tls_creds *zt_tls_creds_load_at(const char *ca_file,
                                          const char *cert_file,
                                          const char *key_file, uint64_t now,
                                          char *err, size_t errlen, char *warn,
                                          size_t warnlen);
/* A daemon's own certificate must be of its own role: an agent started
 * with a connector's certificate would only fail every handshake later.
 * 0, or -1 with "cert PATH is a connector certificate (ztna://connector/x),
 * not an agent's" in err. */
int zt_tls_creds_check_role(const struct zt_tls_creds *c, enum zt_role want,
                            char *err, size_t errlen);

/* The same from PEM strings in memory (tests, the simulator). */
struct zt_tls_creds *zt_tls_creds_from_pem(const char *ca_pem,
                                           const char *cert_pem,
                                           const char *key_pem, char *err,
                                           size_t errlen);
void zt_tls_creds_free(struct zt_tls_creds *c);

/* A 32-byte secret derived from our private key (HMAC-SHA256 over the key
 * with a fixed label): the same on every start with the same key, and
 * worthless without it. The Intermediate's stateless reset secret. */
int zt_tls_derive_secret(const struct zt_tls_creds *c, const char *label,
                         uint8_t out[32]);

/* What a session expects of its peer. */
struct zt_tls_expect {
  unsigned roles;   /* bit (1u << role) for each acceptable role */
  const char *name; /* exact peer name, or NULL for any */
};

/* What a connection keeps of its peer's certificate: the serial, to find
 * it in a CRL later (reload), and the not-after, to close the connection
 * when it passes (Unix seconds). */
struct zt_tls_peer_cert {
  uint8_t serial[ZT_SERIAL_MAX];
  size_t serial_len;
  int64_t not_after;
};

/* Called by the verify function with the session's expectations and the
 * CRL (NULL: none); fills the peer's identity and certificate, or a reason. 0 accept, -1 refuse, and then *alert is the
 * TLS alert that tells the peer why (GnuTLS itself would send
 * bad_certificate whatever the cause): certificate_expired (also not yet
 * valid), unknown_ca (not signed by our CA), certificate_revoked (its
 * serial is in the CRL: the reason names identity, serial and date),
 * access_denied (a valid
 * certificate of the wrong role or name), certificate_required (none),
 * bad_certificate (anything else). Exposed for tests. */
int zt_tls_verify_peer(gnutls_session_t session,
                       const struct zt_tls_expect *expect,
                       const struct zt_crl *crl, enum zt_role *role,
                       char name[ZT_NAME_MAX + 1],
                       struct zt_tls_peer_cert *cert, char *reason,
                       size_t reasonlen, uint8_t *alert);

#endif

/* TLS credentials and peer verification. See tls.h. */
#include "tls.h"

#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "file.h"
#include "secret.h"

static struct zt_tls_creds *creds_finish(struct zt_tls_creds *c, char *err,
                                         size_t errlen) {
  gnutls_x509_crt_t *crts = NULL;
  unsigned n = 0;
  char why[160];

  /* Our own identity, read from our own certificate: a daemon started with
   * an agent certificate in a connector's place says so at once instead of
   * failing every handshake. */
  int rv = gnutls_certificate_get_x509_crt(c->cred, 0, &crts, &n);
  if (rv < 0 || n == 0) {
    snprintf(err, errlen, "gnutls_certificate_get_x509_crt: %s",
             gnutls_strerror(rv));
    goto fail;
  }
  gnutls_datum_t der = {NULL, 0};
  rv = gnutls_x509_crt_export2(crts[0], GNUTLS_X509_FMT_DER, &der);
  if (rv < 0) {
    snprintf(err, errlen, "gnutls_x509_crt_export2: %s", gnutls_strerror(rv));
    goto fail_crts;
  }
  rv = zt_identity_from_der(der.data, der.size, &c->own_role, c->own_name, why,
                            sizeof(why));
  gnutls_free(der.data);
  if (rv != 0) {
    snprintf(err, errlen, "own certificate: %s", why);
    goto fail_crts;
  }
  c->own_not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crts[0]);
  uint8_t serial[ZT_SERIAL_MAX];
  size_t serial_len = sizeof(serial);
  if (gnutls_x509_crt_get_serial(crts[0], serial, &serial_len) >= 0)
    zt_serial_hex(serial, serial_len, c->own_serial, sizeof(c->own_serial));
  for (unsigned i = 0; i < n; i++)
    gnutls_x509_crt_deinit(crts[i]);
  gnutls_free(crts);
  return c;

fail_crts:
  for (unsigned i = 0; i < n; i++)
    gnutls_x509_crt_deinit(crts[i]);
  gnutls_free(crts);
fail:
  zt_tls_creds_free(c);
  return NULL;
}

struct zt_tls_creds *zt_tls_creds_load(const char *ca_file,
                                       const char *cert_file,
                                       const char *key_file, char *err,
                                       size_t errlen) {
  return zt_tls_creds_load_at(ca_file, cert_file, key_file,
                              (uint64_t)time(NULL), err, errlen, NULL, 0);
}

static void utc(int64_t t, char *buf, size_t n) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (!gmtime_r(&tt, &tm) || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(buf, n, "@%lld", (long long)t);
}

static gnutls_datum_t pem_datum(const char *pem) {
  gnutls_datum_t d = {(unsigned char *)pem, (unsigned)strlen(pem)};
  return d;
}

/* Our own certificate, key and CA, as the daemon is about to use them: the
 * failures a handshake would only hint at, said at start with the file. */
static int own_check(const char *ca_pem, const char *cert_pem,
                     const char *key_pem, const char *ca_file,
                     const char *cert_file, const char *key_file, int64_t now,
                     char *err, size_t errlen, char *warn, size_t warnlen) {
  gnutls_x509_crt_t *cas = NULL, crt = NULL;
  gnutls_x509_privkey_t key = NULL;
  unsigned ncas = 0, status = 0;
  unsigned char cid[64], kid[64];
  size_t cidlen = sizeof(cid), kidlen = sizeof(kid);
  char when[40];
  int ok = -1;
  gnutls_datum_t d = pem_datum(ca_pem);

  int rv =
      gnutls_x509_crt_list_import2(&cas, &ncas, &d, GNUTLS_X509_FMT_PEM, 0);
  if (rv < 0 || ncas == 0) {
    snprintf(err, errlen, "CA %s: %s", ca_file,
             rv < 0 ? gnutls_strerror(rv) : "no certificates found");
    goto out;
  }
  d = pem_datum(cert_pem);
  if ((rv = gnutls_x509_crt_init(&crt)) < 0 ||
      (rv = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM)) < 0) {
    snprintf(err, errlen, "cert %s: %s", cert_file, gnutls_strerror(rv));
    goto out;
  }
  d = pem_datum(key_pem);
  if ((rv = gnutls_x509_privkey_init(&key)) < 0 ||
      (rv = gnutls_x509_privkey_import2(key, &d, GNUTLS_X509_FMT_PEM, NULL,
                                        0)) < 0) {
    snprintf(err, errlen, "key %s: %s", key_file, gnutls_strerror(rv));
    goto out;
  }
  /* Both key ids hash the public key: equal when the key is the cert's. */
  if (gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, cid, &cidlen) <
          0 ||
      gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, kid,
                                     &kidlen) < 0 ||
      cidlen != kidlen || memcmp(cid, kid, cidlen) != 0) {
    snprintf(err, errlen, "cert %s and key %s do not match", cert_file,
             key_file);
    goto out;
  }
  int64_t not_before = (int64_t)gnutls_x509_crt_get_activation_time(crt);
  int64_t not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
  if (not_before == -1 || not_after == -1) {
    snprintf(err, errlen, "cert %s: cannot read its validity dates", cert_file);
    goto out;
  }
  if (now < not_before) {
    utc(not_before, when, sizeof(when));
    snprintf(err, errlen, "cert %s is not valid before %s", cert_file, when);
    goto out;
  }
  if (now > not_after) {
    utc(not_after, when, sizeof(when));
    snprintf(err, errlen, "cert %s expired on %s", cert_file, when);
    goto out;
  }
  /* Signature and chain against the configured CA only; dates are ours to
   * check, at `now`, above. */
  rv = gnutls_x509_crt_verify(crt, cas, ncas,
                              GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
                                  GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS,
                              &status);
  if (rv < 0 || status != 0) {
    snprintf(err, errlen, "cert %s is not signed by the CA in %s", cert_file,
             ca_file);
    goto out;
  }
  if (warn && not_after - now < (int64_t)ZT_TLS_EXPIRY_WARN_S) {
    utc(not_after, when, sizeof(when));
    snprintf(warn, warnlen, "cert %s expires on %s (in %lld days)", cert_file,
             when, (long long)((not_after - now) / 86400));
  }
  ok = 0;
out:
  for (unsigned i = 0; i < ncas; i++)
    gnutls_x509_crt_deinit(cas[i]);
  gnutls_free(cas);
  if (crt)
    gnutls_x509_crt_deinit(crt);
  if (key)
    gnutls_x509_privkey_deinit(key);
  return ok;
}

#define ZT_PEM_MAX (1u << 20)

struct zt_tls_creds *zt_tls_creds_load_at(const char *ca_file,
                                          const char *cert_file,
                                          const char *key_file, uint64_t now,
                                          char *err, size_t errlen, char *warn,
                                          size_t warnlen) {
  struct zt_tls_creds *c = NULL;
  char why[400];
  char *ca = NULL, *crt = NULL, *key = NULL;

  if (warn && warnlen)
    warn[0] = 0;
  /* Which file and why ("cert /etc/ztna/agent.pem: No such file or
   * directory"), not GnuTLS's "Error while reading file". */
  if (!(ca = zt_file_read(ca_file, ZT_PEM_MAX, NULL, why, sizeof(why)))) {
    snprintf(err, errlen, "CA %s", why);
    goto out;
  }
  if (!(crt = zt_file_read(cert_file, ZT_PEM_MAX, NULL, why, sizeof(why)))) {
    snprintf(err, errlen, "cert %s", why);
    goto out;
  }
  if (!(key = zt_file_read(key_file, ZT_PEM_MAX, NULL, why, sizeof(why)))) {
    snprintf(err, errlen, "key %s", why);
    goto out;
  }
  if (own_check(ca, crt, key, ca_file, cert_file, key_file, (int64_t)now, err,
                errlen, warn, warnlen) != 0)
    goto out;
  c = zt_tls_creds_from_pem(ca, crt, key, why, sizeof(why));
  if (!c) {
    snprintf(err, errlen, "cert %s / key %s: %s", cert_file, key_file, why);
  } else {
    snprintf(c->cert_file, sizeof(c->cert_file), "%s", cert_file);
    snprintf(c->ca_file, sizeof(c->ca_file), "%s", ca_file);
  }
out:
  free(ca);
  free(crt);
  zt_free_secret_str(key);
  return c;
}

struct zt_tls_creds *zt_tls_creds_from_pem(const char *ca_pem,
                                           const char *cert_pem,
                                           const char *key_pem, char *err,
                                           size_t errlen) {
  struct zt_tls_creds *c = calloc(1, sizeof(*c));
  gnutls_datum_t ca = {(unsigned char *)ca_pem, (unsigned)strlen(ca_pem)};
  gnutls_datum_t crt = {(unsigned char *)cert_pem, (unsigned)strlen(cert_pem)};
  gnutls_datum_t key = {(unsigned char *)key_pem, (unsigned)strlen(key_pem)};
  int rv;

  if (!c || gnutls_certificate_allocate_credentials(&c->cred) < 0) {
    snprintf(err, errlen, "out of memory");
    free(c);
    return NULL;
  }
  rv = gnutls_certificate_set_x509_trust_mem(c->cred, &ca, GNUTLS_X509_FMT_PEM);
  if (rv <= 0) {
    snprintf(err, errlen, "CA: %s",
             rv == 0 ? "no certificates found" : gnutls_strerror(rv));
    goto fail;
  }
  rv = gnutls_certificate_set_x509_key_mem(c->cred, &crt, &key,
                                           GNUTLS_X509_FMT_PEM);
  if (rv < 0) {
    snprintf(err, errlen, "certificate/key: %s", gnutls_strerror(rv));
    goto fail;
  }
  return creds_finish(c, err, errlen);
fail:
  zt_tls_creds_free(c);
  return NULL;
}

void zt_tls_creds_set_crl(struct zt_tls_creds *c, struct zt_crl *crl) {
  zt_crl_free(c->crl);
  c->crl = crl;
}

int zt_tls_creds_reload(struct zt_tls_creds *c, const char *ca_file,
                        const char *cert_file, const char *key_file,
                        uint64_t now, char *msg, size_t len) {
  char err[600], warn[400], when[40];
  struct zt_tls_creds *n = zt_tls_creds_load_at(
      ca_file, cert_file, key_file, now, err, sizeof(err), warn, sizeof(warn));
  if (!n) {
    snprintf(msg, len, "%s; keeping the previous certificate", err);
    return -1;
  }
  /* A new identity is a different node: peers' policies, registrations
   * and the agents' expectations name the old one. That takes a restart. */
  if (n->own_role != c->own_role || strcmp(n->own_name, c->own_name) != 0) {
    snprintf(msg, len,
             "cert %s is ztna://%s/%s, not this daemon's ztna://%s/%s; "
             "keeping the previous certificate",
             cert_file, zt_role_name(n->own_role), n->own_name,
             zt_role_name(c->own_role), c->own_name);
    zt_tls_creds_free(n);
    return -1;
  }
  gnutls_certificate_credentials_t *r =
      realloc(c->retired, (c->n_retired + 1) * sizeof(*r));
  if (!r) {
    snprintf(msg, len, "out of memory; keeping the previous certificate");
    zt_tls_creds_free(n);
    return -1;
  }
  c->retired = r;
  c->retired[c->n_retired++] = c->cred;
  /* Swap the GnuTLS credentials only: the CRL and the struct itself, which
   * every connection's config points at, stay. */
  c->cred = n->cred;
  n->cred = NULL;
  c->own_not_after = n->own_not_after;
  memcpy(c->own_serial, n->own_serial, sizeof(c->own_serial));
  snprintf(c->cert_file, sizeof(c->cert_file), "%s", cert_file);
  snprintf(c->ca_file, sizeof(c->ca_file), "%s", ca_file);
  zt_tls_creds_free(n);
  utc(c->own_not_after, when, sizeof(when));
  snprintf(msg, len, "cert %s reloaded: serial %s, expires %s%s%s", cert_file,
           c->own_serial, when, warn[0] ? "; " : "", warn);
  return 0;
}

void zt_tls_creds_free(struct zt_tls_creds *c) {
  if (!c)
    return;
  zt_crl_free(c->crl);
  for (size_t i = 0; i < c->n_retired; i++)
    gnutls_certificate_free_credentials(c->retired[i]);
  free(c->retired);
  if (c->cred)
    gnutls_certificate_free_credentials(c->cred);
  free(c);
}

int zt_tls_creds_check_role(const struct zt_tls_creds *c, enum zt_role want,
                            char *err, size_t errlen) {
  if (c->own_role == want)
    return 0;
  snprintf(err, errlen, "cert %s is a%s %s certificate (ztna://%s/%s), not %s %s's",
           c->cert_file[0] ? c->cert_file : "(in memory)",
           c->own_role == ZT_ROLE_AGENT || c->own_role == ZT_ROLE_INTERMEDIATE
               ? "n"
               : "",
           zt_role_name(c->own_role), zt_role_name(c->own_role), c->own_name,
           want == ZT_ROLE_AGENT || want == ZT_ROLE_INTERMEDIATE ? "an" : "a",
           zt_role_name(want));
  return -1;
}

/* The alert that names a verification failure (RFC 8446 6.2). */
static uint8_t status_alert(unsigned status) {
  if (status & (GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED))
    return GNUTLS_A_CERTIFICATE_EXPIRED;
  if (status & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNER_NOT_CA))
    return GNUTLS_A_UNKNOWN_CA;
  return GNUTLS_A_BAD_CERTIFICATE;
}

/* Serial and not-after of the peer's certificate. */
static int peer_cert_read(gnutls_x509_crt_t crt,
                          struct zt_tls_peer_cert *cert) {
  cert->serial_len = sizeof(cert->serial);
  if (gnutls_x509_crt_get_serial(crt, cert->serial, &cert->serial_len) < 0)
    return -1;
  cert->not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
  return 0;
}

/* The peer's identity, serial and not-after from one parse of its
 * certificate (the handshake's verification parsed it already, in GnuTLS;
 * each parse is ~17 us). 0; -1 no identity (why says why); -2 no serial. */
static int peer_cert_parse(const gnutls_datum_t *der, enum zt_role *role,
                           char name[ZT_NAME_MAX + 1],
                           struct zt_tls_peer_cert *cert, char *why,
                           size_t whylen) {
  gnutls_x509_crt_t crt;
  int rv = -1;
  if (gnutls_x509_crt_init(&crt) < 0) {
    snprintf(why, whylen, "out of memory");
    return -1;
  }
  int grv = gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER);
  if (grv < 0)
    snprintf(why, whylen, "bad certificate: %s", gnutls_strerror(grv));
  else if (zt_identity_from_crt(crt, role, name, why, whylen) == 0)
    rv = peer_cert_read(crt, cert) == 0 ? 0 : -2;
  gnutls_x509_crt_deinit(crt);
  return rv;
}

int zt_tls_verify_peer(gnutls_session_t session,
                       const struct zt_tls_expect *expect,
                       const struct zt_crl *crl, enum zt_role *role,
                       char name[ZT_NAME_MAX + 1],
                       struct zt_tls_peer_cert *cert, char *reason,
                       size_t reasonlen, uint8_t *alert) {
  unsigned status = 0;
  const gnutls_datum_t *chain;
  unsigned chain_len = 0;
  char why[160];
  int rv;

  *alert = GNUTLS_A_BAD_CERTIFICATE;
  chain = gnutls_certificate_get_peers(session, &chain_len);
  if (!chain || chain_len == 0) {
    snprintf(reason, reasonlen, "peer sent no certificate");
    *alert = GNUTLS_A_CERTIFICATE_REQUIRED;
    return -1;
  }
  /* Chain, signatures, validity dates, key usage: against our CA only. */
  rv = gnutls_certificate_verify_peers2(session, &status);
  if (rv < 0) {
    snprintf(reason, reasonlen, "certificate verification failed: %s",
             gnutls_strerror(rv));
    return -1;
  }
  if (status != 0) {
    gnutls_datum_t out = {NULL, 0};
    *alert = status_alert(status);
    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509,
                                                     &out, 0) == 0) {
      snprintf(reason, reasonlen, "certificate rejected: %s", out.data);
      gnutls_free(out.data);
    } else {
      snprintf(reason, reasonlen, "certificate rejected (status 0x%x)", status);
    }
    return -1;
  }
  int prv = peer_cert_parse(&chain[0], role, name, cert, why, sizeof(why));
  if (prv != 0) {
    if (prv == -2)
      snprintf(reason, reasonlen, "peer %s/%s: cannot read its serial",
               zt_role_name(*role), name);
    else
      snprintf(reason, reasonlen, "certificate has no ztna identity: %s", why);
    return -1;
  }
  int64_t revoked_at;
  if (zt_crl_revoked(crl, cert->serial, cert->serial_len, &revoked_at)) {
    char hex[3 * ZT_SERIAL_MAX], when[40];
    zt_serial_hex(cert->serial, cert->serial_len, hex, sizeof(hex));
    utc(revoked_at, when, sizeof(when));
    *alert = GNUTLS_A_CERTIFICATE_REVOKED;
    snprintf(reason, reasonlen,
             "peer %s/%s: certificate serial %s revoked on %s (crl %s)",
             zt_role_name(*role), name, hex, when, zt_crl_file(crl));
    return -1;
  }
  if (!(expect->roles & (1u << *role))) {
    *alert = GNUTLS_A_ACCESS_DENIED;
    snprintf(reason, reasonlen, "peer %s/%s: role %s not accepted here",
             zt_role_name(*role), name, zt_role_name(*role));
    return -1;
  }
  if (expect->name && strcmp(expect->name, name) != 0) {
    *alert = GNUTLS_A_ACCESS_DENIED;
    snprintf(reason, reasonlen, "peer %s/%s: expected %s/%s",
             zt_role_name(*role), name, zt_role_name(*role), expect->name);
    return -1;
  }
  return 0;
}

int zt_tls_derive_secret(const struct zt_tls_creds *c, const char *label,
                         uint8_t out[32]) {
  gnutls_x509_privkey_t key;
  gnutls_datum_t der = {NULL, 0};
  int rv = -1;
  if (gnutls_certificate_get_x509_key(c->cred, 0, &key) < 0)
    return -1;
  if (gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_DER, &der) >= 0 &&
      gnutls_hmac_fast(GNUTLS_MAC_SHA256, der.data, der.size, label,
                       strlen(label), out) >= 0)
    rv = 0;
  zt_free_secret_datum(&der);
  gnutls_x509_privkey_deinit(key);
  return rv;
}

/* Deployment certificates with GnuTLS. See certgen.h. */
#include "certgen.h"

#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "secret.h"

void zt_pem_free(struct zt_pem *p) {
  if (!p)
    return;
  free(p->cert);
  zt_free_secret_str(p->key);
  p->cert = p->key = NULL;
}

#define TRY(call, what)                                                      \
  do {                                                                       \
    int try_rv_ = (call);                                                    \
    if (try_rv_ < 0) {                                                       \
      snprintf(err, errlen, "%s: %s", what, gnutls_strerror(try_rv_));       \
      goto out;                                                              \
    }                                                                        \
  } while (0)

/* Used for private keys too, so the datum is wiped, not just freed. */
static char *datum_to_str(gnutls_datum_t *d) {
  char *s = malloc(d->size + 1);
  if (s) {
    memcpy(s, d->data, d->size);
    s[d->size] = 0;
  }
  zt_free_secret_datum(d);
  return s;
}

/* What CA and leaf share: version, serial, validity, subject, key and its
 * identifier. */
static int fill_common(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key,
                       const char *cn, time_t not_after, char *err,
                       size_t errlen) {
  unsigned char serial[16];
  unsigned char kid[64];
  size_t kidlen = sizeof(kid);
  time_t now = time(NULL);

  TRY(gnutls_x509_crt_set_version(crt, 3), "set version");
  TRY(gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial)), "random serial");
  serial[0] &= 0x7f; /* DER INTEGER: positive */
  serial[0] |= 0x01; /* and with no leading zero byte */
  TRY(gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)), "set serial");
  /* An hour of slack for clocks that are a little behind. */
  TRY(gnutls_x509_crt_set_activation_time(crt, now - 3600), "activation");
  TRY(gnutls_x509_crt_set_expiration_time(crt, not_after), "expiration");
  TRY(gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
                                    (unsigned)strlen(cn)),
      "subject");
  TRY(gnutls_x509_crt_set_key(crt, key), "set key");
  TRY(gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, kid, &kidlen),
      "key id");
  TRY(gnutls_x509_crt_set_subject_key_id(crt, kid, kidlen), "subject key id");
  return 0;
out:
  return -1;
}

static int new_key(gnutls_x509_privkey_t *key, char *err, size_t errlen) {
  TRY(gnutls_x509_privkey_init(key), "key init");
  TRY(gnutls_x509_privkey_generate(
          *key, GNUTLS_PK_ECDSA,
          GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
      "generate key");
  return 0;
out:
  return -1;
}

static int export_pem(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key,
                      struct zt_pem *out, char *err, size_t errlen) {
  gnutls_datum_t d = {NULL, 0};
  TRY(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d), "export cert");
  out->cert = datum_to_str(&d);
  TRY(gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL,
                                        GNUTLS_PKCS_PLAIN, &d),
      "export key");
  out->key = datum_to_str(&d);
  if (!out->cert || !out->key) {
    snprintf(err, errlen, "out of memory");
    goto out;
  }
  return 0;
out:
  zt_pem_free(out);
  return -1;
}

int zt_cert_make_ca(const char *cn, unsigned days, struct zt_pem *out,
                    char *err, size_t errlen) {
  gnutls_x509_crt_t crt = NULL;
  gnutls_x509_privkey_t key = NULL;
  int rv = -1;

  memset(out, 0, sizeof(*out));
  if (new_key(&key, err, errlen) != 0)
    goto out;
  TRY(gnutls_x509_crt_init(&crt), "cert init");
  if (fill_common(crt, key, cn, time(NULL) + (time_t)days * 86400, err,
                  errlen) != 0)
    goto out;
  /* pathlen 0: the deployment CA signs leaves only. */
  TRY(gnutls_x509_crt_set_basic_constraints(crt, 1, 0), "basic constraints");
  TRY(gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN |
                                             GNUTLS_KEY_CRL_SIGN),
      "key usage");
  TRY(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0), "sign");
  rv = export_pem(crt, key, out, err, errlen);
out:
  if (crt)
    gnutls_x509_crt_deinit(crt);
  if (key)
    gnutls_x509_privkey_deinit(key);
  return rv;
}

/* The key is the private half of the certificate's public key: both key
 * identifiers are hashes of the same public key. A CA key from another CA
 * would sign leaves that verify against nothing. */
static int key_matches(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key,
                       char *err, size_t errlen) {
  unsigned char cid[64], kid[64];
  size_t cidlen = sizeof(cid), kidlen = sizeof(kid);
  TRY(gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, cid, &cidlen),
      "CA certificate key id");
  TRY(gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, kid,
                                     &kidlen),
      "CA key id");
  if (cidlen != kidlen || memcmp(cid, kid, cidlen) != 0) {
    snprintf(err, errlen,
             "CA key does not match the CA certificate (it is another key)");
    goto out;
  }
  return 0;
out:
  return -1;
}

static int load_ca(const struct zt_pem *ca, gnutls_x509_crt_t *crt,
                   gnutls_x509_privkey_t *key, char *err, size_t errlen) {
  gnutls_datum_t c = {(unsigned char *)ca->cert, (unsigned)strlen(ca->cert)};
  gnutls_datum_t k = {(unsigned char *)ca->key, (unsigned)strlen(ca->key)};
  unsigned is_ca = 0;
  TRY(gnutls_x509_crt_init(crt), "cert init");
  TRY(gnutls_x509_crt_import(*crt, &c, GNUTLS_X509_FMT_PEM), "CA certificate");
  TRY(gnutls_x509_privkey_init(key), "key init");
  TRY(gnutls_x509_privkey_import2(*key, &k, GNUTLS_X509_FMT_PEM, NULL, 0),
      "CA key");
  if (gnutls_x509_crt_get_basic_constraints(*crt, NULL, &is_ca, NULL) < 0 ||
      !is_ca) {
    snprintf(err, errlen, "CA certificate is not a CA");
    goto out;
  }
  return key_matches(*crt, *key, err, errlen);
out:
  return -1;
}

int zt_ca_check(const struct zt_pem *ca, char *err, size_t errlen) {
  gnutls_x509_crt_t crt = NULL;
  gnutls_x509_privkey_t key = NULL;
  int rv = load_ca(ca, &crt, &key, err, errlen);
  if (crt)
    gnutls_x509_crt_deinit(crt);
  if (key)
    gnutls_x509_privkey_deinit(key);
  return rv;
}

int zt_cert_issue(const struct zt_pem *ca, enum zt_role role, const char *name,
                  unsigned days, const char *const *dns,
                  const char *const *ips, struct zt_pem *out, char *err,
                  size_t errlen) {
  return zt_cert_issue_until(ca, role, name,
                             (int64_t)time(NULL) + (int64_t)days * 86400, dns,
                             ips, out, err, errlen);
}

int zt_cert_issue_until(const struct zt_pem *ca, enum zt_role role,
                        const char *name, int64_t not_after,
                        const char *const *dns, const char *const *ips,
                        struct zt_pem *out, char *err, size_t errlen) {
  return zt_cert_issue_key(ca, role, name, not_after, dns, ips, NULL, out, err,
                           errlen);
}

/* An existing private key (PEM), or a new one when key_pem is NULL. */
static int use_key(const char *key_pem, gnutls_x509_privkey_t *key, char *err,
                   size_t errlen) {
  if (!key_pem)
    return new_key(key, err, errlen);
  gnutls_datum_t k = {(unsigned char *)key_pem, (unsigned)strlen(key_pem)};
  TRY(gnutls_x509_privkey_init(key), "key init");
  TRY(gnutls_x509_privkey_import2(*key, &k, GNUTLS_X509_FMT_PEM, NULL, 0),
      "key");
  return 0;
out:
  return -1;
}

int zt_cert_issue_key(const struct zt_pem *ca, enum zt_role role,
                      const char *name, int64_t not_after,
                      const char *const *dns, const char *const *ips,
                      const char *key_pem, struct zt_pem *out, char *err,
                      size_t errlen) {
  gnutls_x509_crt_t crt = NULL, ca_crt = NULL;
  gnutls_x509_privkey_t key = NULL, ca_key = NULL;
  unsigned char kid[64];
  size_t kidlen = sizeof(kid);
  char uri[ZT_NAME_MAX + 32];
  int rv = -1;

  memset(out, 0, sizeof(*out));
  if (role == ZT_ROLE_NONE || !zt_name_valid(name)) {
    snprintf(err, errlen, "invalid identity %s/%s", zt_role_name(role), name);
    return -1;
  }
  if (load_ca(ca, &ca_crt, &ca_key, err, errlen) != 0 ||
      use_key(key_pem, &key, err, errlen) != 0)
    goto out;
  TRY(gnutls_x509_crt_init(&crt), "cert init");
  if (fill_common(crt, key, name, (time_t)not_after, err, errlen) != 0)
    goto out;
  TRY(gnutls_x509_crt_set_basic_constraints(crt, 0, -1), "basic constraints");
  TRY(gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE),
      "key usage");
  /* Every party is a TLS server on one connection and a client on another
   * (the inner session runs the other way round from the outer one). */
  TRY(gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0),
      "key purpose");
  TRY(gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0),
      "key purpose");
  snprintf(uri, sizeof(uri), "ztna://%s/%s", zt_role_name(role), name);
  TRY(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_URI, uri,
                                           (unsigned)strlen(uri),
                                           GNUTLS_FSAN_APPEND),
      "identity SAN");
  for (size_t i = 0; dns && dns[i]; i++)
    TRY(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, dns[i],
                                             (unsigned)strlen(dns[i]),
                                             GNUTLS_FSAN_APPEND),
        "DNS SAN");
  for (size_t i = 0; ips && ips[i]; i++) {
    unsigned char bin[16];
    unsigned blen = 4;
    if (inet_pton(AF_INET, ips[i], bin) != 1) {
      blen = 16;
      if (inet_pton(AF_INET6, ips[i], bin) != 1) {
        snprintf(err, errlen, "not an IP address: '%s'", ips[i]);
        goto out;
      }
    }
    TRY(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, bin,
                                             blen, GNUTLS_FSAN_APPEND),
        "IP SAN");
  }
  TRY(gnutls_x509_crt_get_subject_key_id(ca_crt, kid, &kidlen, NULL),
      "CA key id");
  TRY(gnutls_x509_crt_set_authority_key_id(crt, kid, kidlen),
      "authority key id");
  TRY(gnutls_x509_crt_sign2(crt, ca_crt, ca_key, GNUTLS_DIG_SHA256, 0), "sign");
  rv = export_pem(crt, key, out, err, errlen);
out:
  if (crt)
    gnutls_x509_crt_deinit(crt);
  if (ca_crt)
    gnutls_x509_crt_deinit(ca_crt);
  if (key)
    gnutls_x509_privkey_deinit(key);
  if (ca_key)
    gnutls_x509_privkey_deinit(ca_key);
  return rv;
}

int zt_cert_serial(const char *cert_pem, uint8_t serial[ZT_SERIAL_MAX],
                   size_t *len, int64_t *not_after, char *err, size_t errlen) {
  gnutls_x509_crt_t crt = NULL;
  gnutls_datum_t d = {(unsigned char *)cert_pem, (unsigned)strlen(cert_pem)};
  int rv = -1;
  *len = ZT_SERIAL_MAX;
  TRY(gnutls_x509_crt_init(&crt), "cert init");
  TRY(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM), "certificate");
  TRY(gnutls_x509_crt_get_serial(crt, serial, len), "serial");
  if (not_after)
    *not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
  rv = 0;
out:
  if (crt)
    gnutls_x509_crt_deinit(crt);
  return rv;
}

int zt_crl_make(const struct zt_pem *ca, const struct zt_revocation *list,
                size_t n, int64_t now, unsigned next_days, char **pem_out,
                char *err, size_t errlen) {
  gnutls_x509_crt_t ca_crt = NULL;
  gnutls_x509_privkey_t ca_key = NULL;
  gnutls_x509_crl_t crl = NULL;
  gnutls_datum_t d = {NULL, 0};
  unsigned char kid[64];
  size_t kidlen = sizeof(kid);
  uint8_t number[8];
  int rv = -1;

  *pem_out = NULL;
  if (load_ca(ca, &ca_crt, &ca_key, err, errlen) != 0)
    goto out;
  TRY(gnutls_x509_crl_init(&crl), "crl init");
  TRY(gnutls_x509_crl_set_version(crl, 2), "crl version");
  TRY(gnutls_x509_crl_set_this_update(crl, (time_t)now), "this update");
  TRY(gnutls_x509_crl_set_next_update(crl,
                                      (time_t)now + (time_t)next_days * 86400),
      "next update");
  for (size_t i = 0; i < n; i++)
    TRY(gnutls_x509_crl_set_crt_serial(crl, list[i].serial, list[i].len,
                                       (time_t)list[i].when),
        "revoked serial");
  /* The CRL number grows with each one written: the time will do. */
  for (int i = 0; i < 8; i++)
    number[i] = (uint8_t)((uint64_t)now >> (56 - 8 * i));
  TRY(gnutls_x509_crl_set_number(crl, number, sizeof(number)), "crl number");
  TRY(gnutls_x509_crt_get_subject_key_id(ca_crt, kid, &kidlen, NULL),
      "CA key id");
  TRY(gnutls_x509_crl_set_authority_key_id(crl, kid, kidlen),
      "authority key id");
  TRY(gnutls_x509_crl_sign2(crl, ca_crt, ca_key, GNUTLS_DIG_SHA256, 0),
      "sign crl");
  TRY(gnutls_x509_crl_export2(crl, GNUTLS_X509_FMT_PEM, &d), "export crl");
  if (!(*pem_out = datum_to_str(&d))) {
    snprintf(err, errlen, "out of memory");
    goto out;
  }
  rv = 0;
out:
  if (crl)
    gnutls_x509_crl_deinit(crl);
  if (ca_crt)
    gnutls_x509_crt_deinit(ca_crt);
  if (ca_key)
    gnutls_x509_privkey_deinit(ca_key);
  return rv;
}

int zt_cert_signed_by(const char *cert_pem, const char *ca_pem) {
  gnutls_x509_crt_t crt = NULL, ca = NULL;
  gnutls_datum_t c = {(unsigned char *)cert_pem, (unsigned)strlen(cert_pem)};
  gnutls_datum_t a = {(unsigned char *)ca_pem, (unsigned)strlen(ca_pem)};
  unsigned status = 0;
  int rv = -1;
  if (gnutls_x509_crt_init(&crt) < 0 || gnutls_x509_crt_init(&ca) < 0 ||
      gnutls_x509_crt_import(crt, &c, GNUTLS_X509_FMT_PEM) < 0 ||
      gnutls_x509_crt_import(ca, &a, GNUTLS_X509_FMT_PEM) < 0)
    goto out;
  /* Expired certificates can be revoked too: dates do not matter here. */
  rv = gnutls_x509_crt_verify(crt, &ca, 1,
                              GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
                                  GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS,
                              &status) >= 0 &&
       status == 0;
out:
  if (crt)
    gnutls_x509_crt_deinit(crt);
  if (ca)
    gnutls_x509_crt_deinit(ca);
  return rv;
}

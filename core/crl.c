/* The deployment CA's CRL. See crl.h. */
#include "crl.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"

struct zt_crl_entry {
  uint8_t serial[ZT_SERIAL_MAX];
  size_t len;
  int64_t when;
};

struct zt_crl {
  struct zt_crl_entry *e;
  size_t n;
  int64_t next_update;
  char file[256];
};

#define CRL_PEM_MAX (16u << 20)

void zt_serial_hex(const uint8_t *serial, size_t len, char *buf, size_t n) {
  size_t off = 0;
  if (n)
    buf[0] = 0;
  for (size_t i = 0; i < len && off + 3 < n; i++)
    off += (size_t)snprintf(buf + off, n - off, "%s%02x", i ? ":" : "",
                            serial[i]);
}

static int read_entries(gnutls_x509_crl_t g, struct zt_crl *crl, char *err,
                        size_t errlen) {
  int count = gnutls_x509_crl_get_crt_count(g);
  if (count < 0) {
    snprintf(err, errlen, "cannot read its entries: %s",
             gnutls_strerror(count));
    return -1;
  }
  crl->e = calloc((size_t)count + 1, sizeof(*crl->e));
  if (!crl->e) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for (int i = 0; i < count; i++) {
    struct zt_crl_entry *e = &crl->e[crl->n];
    size_t len = sizeof(e->serial);
    time_t t = 0;
    int rv = gnutls_x509_crl_get_crt_serial(g, (unsigned)i, e->serial, &len, &t);
    if (rv < 0) {
      snprintf(err, errlen, "entry %d: %s", i, gnutls_strerror(rv));
      return -1;
    }
    e->len = len;
    e->when = (int64_t)t;
    crl->n++;
  }
  return 0;
}

/* GnuTLS flags a CRL past its next update (or issued "in the future") even
 * with time checks off; those are not signature failures, which always
 * come with a bit of their own (signature failure, signer not found...). */
static bool crl_status_ok(unsigned status) {
  const unsigned dates = GNUTLS_CERT_REVOCATION_DATA_SUPERSEDED |
                         GNUTLS_CERT_REVOCATION_DATA_ISSUED_IN_FUTURE;
  unsigned rest = status & ~dates;
  return rest == 0 || (rest == GNUTLS_CERT_INVALID && (status & dates));
}

struct zt_crl *zt_crl_from_pem(const char *crl_pem, const char *ca_pem,
                               char *err, size_t errlen) {
  gnutls_x509_crl_t g = NULL;
  gnutls_x509_crt_t *cas = NULL;
  unsigned ncas = 0, status = 0;
  struct zt_crl *crl = calloc(1, sizeof(*crl));
  gnutls_datum_t d = {(unsigned char *)crl_pem, (unsigned)strlen(crl_pem)};
  int rv;

  if (!crl) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  if ((rv = gnutls_x509_crl_init(&g)) < 0 ||
      (rv = gnutls_x509_crl_import(g, &d, GNUTLS_X509_FMT_PEM)) < 0) {
    snprintf(err, errlen, "not a CRL: %s", gnutls_strerror(rv));
    goto fail;
  }
  d = (gnutls_datum_t){(unsigned char *)ca_pem, (unsigned)strlen(ca_pem)};
  rv = gnutls_x509_crt_list_import2(&cas, &ncas, &d, GNUTLS_X509_FMT_PEM, 0);
  if (rv < 0 || ncas == 0) {
    snprintf(err, errlen, "CA: %s",
             rv < 0 ? gnutls_strerror(rv) : "no certificates found");
    goto fail;
  }
  /* The signature, by our CA and no one else. Dates are not checked
   * here: a CRL past its next update still revokes (crl.h). */
  rv = gnutls_x509_crl_verify(g, cas, ncas,
                              GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
                                  GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS,
                              &status);
  if (rv < 0 || !crl_status_ok(status)) {
    snprintf(err, errlen, "not signed by the CA");
    goto fail;
  }
  if (read_entries(g, crl, err, errlen) != 0)
    goto fail;
  crl->next_update = (int64_t)gnutls_x509_crl_get_next_update(g);
  goto out;
fail:
  zt_crl_free(crl);
  crl = NULL;
out:
  for (unsigned i = 0; i < ncas; i++)
    gnutls_x509_crt_deinit(cas[i]);
  gnutls_free(cas);
  if (g)
    gnutls_x509_crl_deinit(g);
  return crl;
}

struct zt_crl *zt_crl_load_at(const char *crl_file, const char *ca_file,
                              int64_t now, char *err, size_t errlen,
                              char *warn, size_t warnlen) {
  char why[300];
  char *crl_pem = NULL, *ca_pem = NULL;
  struct zt_crl *crl = NULL;

  if (warn && warnlen)
    warn[0] = 0;
  if (!(crl_pem = zt_file_read(crl_file, CRL_PEM_MAX, NULL, why, sizeof(why)))) {
    snprintf(err, errlen, "crl %s", why);
    goto out;
  }
  if (!(ca_pem = zt_file_read(ca_file, CRL_PEM_MAX, NULL, why, sizeof(why)))) {
    snprintf(err, errlen, "CA %s", why);
    goto out;
  }
  crl = zt_crl_from_pem(crl_pem, ca_pem, why, sizeof(why));
  if (!crl) {
    if (strcmp(why, "not signed by the CA") == 0)
      snprintf(err, errlen, "crl %s: not signed by the CA in %s", crl_file,
               ca_file);
    else
      snprintf(err, errlen, "crl %s: %s", crl_file, why);
    goto out;
  }
  snprintf(crl->file, sizeof(crl->file), "%s", crl_file);
  if (warn && crl->next_update > 0 && now > crl->next_update)
    snprintf(warn, warnlen,
             "crl %s is past its next update: still used, but renew it "
             "(ztna cert revoke rewrites it)",
             crl_file);
out:
  free(crl_pem);
  free(ca_pem);
  return crl;
}

void zt_crl_free(struct zt_crl *crl) {
  if (!crl)
    return;
  free(crl->e);
  free(crl);
}

bool zt_crl_revoked(const struct zt_crl *crl, const uint8_t *serial,
                    size_t len, int64_t *when) {
  if (!crl)
    return false;
  /* A few entries per deployment, looked up once per handshake. */
  for (size_t i = 0; i < crl->n; i++) {
    if (crl->e[i].len == len && memcmp(crl->e[i].serial, serial, len) == 0) {
      if (when)
        *when = crl->e[i].when;
      return true;
    }
  }
  return false;
}

size_t zt_crl_count(const struct zt_crl *crl) { return crl ? crl->n : 0; }
int64_t zt_crl_next_update(const struct zt_crl *crl) {
  return crl ? crl->next_update : 0;
}
const char *zt_crl_file(const struct zt_crl *crl) {
  return crl ? crl->file : "";
}

/* Identities in certificates. See identity.h. */
#include "identity.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <string.h>

#define URI_PREFIX "ztna://"

static const char *const role_names[] = {
    [ZT_ROLE_NONE] = "none",
    [ZT_ROLE_INTERMEDIATE] = "intermediate",
    [ZT_ROLE_CONNECTOR] = "connector",
    [ZT_ROLE_AGENT] = "agent",
    [ZT_ROLE_ADMIN] = "admin",
};

const char *zt_role_name(enum zt_role r) {
  if ((unsigned)r >= sizeof(role_names) / sizeof(role_names[0]))
    return "none";
  return role_names[r];
}

int zt_role_parse(const char *s, enum zt_role *out) {
  for (enum zt_role r = ZT_ROLE_INTERMEDIATE; r <= ZT_ROLE_ADMIN; r++)
    if (strcmp(s, role_names[r]) == 0) {
      *out = r;
      return 0;
    }
  return -1;
}

static bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* Names end up in log lines, control messages and nftables comments, so the
 * alphabet is deliberately small; no leading '.' or '-' so that a name is
 * never taken for a relative path or a command-line option. */
bool zt_name_valid_n(const char *s, size_t n) {
  if (n == 0 || n > ZT_NAME_MAX || s[0] == '.' || s[0] == '-')
    return false;
  for (size_t i = 0; i < n; i++)
    if (!name_char(s[i]))
      return false;
  return true;
}

bool zt_name_valid(const char *s) { return zt_name_valid_n(s, strlen(s)); }

_Static_assert(ZT_NAME_MAX == 63, "ZT_NAME_RULE_TEXT in identity.h says 63");

int zt_identity_parse_uri(const char *uri, size_t len, enum zt_role *role,
                          char *name) {
  const size_t plen = sizeof(URI_PREFIX) - 1;
  if (len <= plen || memcmp(uri, URI_PREFIX, plen) != 0)
    return -1;
  const char *r = uri + plen, *end = uri + len;
  const char *slash = memchr(r, '/', (size_t)(end - r));
  if (!slash)
    return -1;
  char rbuf[16];
  size_t rlen = (size_t)(slash - r);
  if (rlen == 0 || rlen >= sizeof(rbuf))
    return -1;
  memcpy(rbuf, r, rlen);
  rbuf[rlen] = 0;
  if (zt_role_parse(rbuf, role) != 0)
    return -1;
  const char *n = slash + 1;
  size_t nlen = (size_t)(end - n);
  if (!zt_name_valid_n(n, nlen))
    return -1;
  memcpy(name, n, nlen);
  name[nlen] = 0;
  return 0;
}

int zt_identity_from_der(const unsigned char *der, size_t len,
                         enum zt_role *role, char *name, char *err,
                         size_t errlen) {
  gnutls_x509_crt_t crt;
  gnutls_datum_t d = {(unsigned char *)der, (unsigned)len};
  int rv = -1;

  if (gnutls_x509_crt_init(&crt) < 0) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  int grv = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER);
  if (grv < 0)
    snprintf(err, errlen, "bad certificate: %s", gnutls_strerror(grv));
  else
    rv = zt_identity_from_crt(crt, role, name, err, errlen);
  gnutls_x509_crt_deinit(crt);
  return rv;
}

int zt_identity_from_crt(gnutls_x509_crt_t crt, enum zt_role *role,
                         char *name, char *err, size_t errlen) {
  int found = 0, grv;
  for (unsigned i = 0;; i++) {
    char san[512];
    size_t sanlen = sizeof(san);
    unsigned type = 0;
    grv = gnutls_x509_crt_get_subject_alt_name2(crt, i, san, &sanlen, &type,
                                                NULL);
    if (grv == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
      break;
    if (grv == GNUTLS_E_SHORT_MEMORY_BUFFER)
      continue; /* far longer than any identity: not ours */
    if (grv < 0) {
      snprintf(err, errlen, "subject alternative name: %s",
               gnutls_strerror(grv));
      return -1;
    }
    if (type != GNUTLS_SAN_URI || sanlen < sizeof(URI_PREFIX) - 1 ||
        memcmp(san, URI_PREFIX, sizeof(URI_PREFIX) - 1) != 0)
      continue;
    /* Two identities in one certificate would make every policy decision
     * ambiguous: refuse rather than pick one. */
    if (found++) {
      snprintf(err, errlen, "more than one ztna:// identity");
      return -1;
    }
    if (zt_identity_parse_uri(san, sanlen, role, name) != 0) {
      snprintf(err, errlen, "malformed identity URI '%.*s'",
               (int)(sanlen > 100 ? 100 : sanlen), san);
      return -1;
    }
  }
  if (!found) {
    snprintf(err, errlen, "no ztna://role/name subject alternative name");
    return -1;
  }
  return 0;
}

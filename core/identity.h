/*
 * Who a certificate says its holder is. Identity lives in the subject
 * alternative name as a URI, ztna://<role>/<name>, e.g.
 * ztna://connector/conn-a. The CA signs it; nothing else in the certificate
 * (CN, DNS names) is trusted for identity.
 */
#ifndef ZTNA_IDENTITY_H
#define ZTNA_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#include <gnutls/x509.h>

#include "wire.h"

enum zt_role {
  ZT_ROLE_NONE = 0,
  ZT_ROLE_INTERMEDIATE = 1,
  ZT_ROLE_CONNECTOR = 2,
  ZT_ROLE_AGENT = 3,
  /* An operator's client certificate for the Intermediate's dashboard
   * (docs/dashboard.md). Never a QUIC peer: no zt_tls_expect lists it, so
   * every handshake refuses it (role not accepted). */
  ZT_ROLE_ADMIN = 4,
};

const char *zt_role_name(enum zt_role r); /* "intermediate", ..., "none" */
/* 0 on success, -1 for an unknown name. */
int zt_role_parse(const char *s, enum zt_role *out);

/* The one name rule, for every name of a service, connector, agent or
 * Intermediate wherever it appears (certificates, control messages, config
 * files, the ztna tool): 1..ZT_NAME_MAX characters of [A-Za-z0-9._-], not
 * starting with '.' or '-' (docs/protocol.md). Interface (TUN device) names
 * are a different thing with the kernel's own rule (platform/tun.c,
 * platform/nft.c), not this one. */
#define ZT_NAME_RULE_TEXT "1-63 of A-Z a-z 0-9 . _ -, not starting with . or -"
bool zt_name_valid(const char *s);
/* The same for len bytes (not NUL-terminated). */
bool zt_name_valid_n(const char *s, size_t len);

/* Parses "ztna://role/name" (len bytes, not NUL-terminated necessarily).
 * name has room for ZT_NAME_MAX + 1. */
int zt_identity_parse_uri(const char *uri, size_t len, enum zt_role *role,
                          char *name);

/* The identity of a parsed certificate: exactly one ztna:// URI SAN. For
 * a caller that reads more of the certificate (tls.c): parsing one costs
 * ~17 us, and a handshake parsed the peer's three times. */
int zt_identity_from_crt(gnutls_x509_crt_t crt, enum zt_role *role,
                         char *name, char *err, size_t errlen);

/* The identity of a DER certificate: exactly one ztna:// URI SAN. */
int zt_identity_from_der(const unsigned char *der, size_t len,
                         enum zt_role *role, char *name, char *err,
                         size_t errlen);

#endif

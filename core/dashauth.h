/*
 * The admin dashboard's credentials (docs/dashboard.md): a bearer token read
 * from "dashboard_token_file", presented by the browser as
 * "Authorization: Bearer TOKEN", or an admin client certificate over
 * HTTPS (dashcert.h). Pure functions, so the rules are unit
 * tested and mutated without a server.
 */
#ifndef ZTNA_DASHAUTH_H
#define ZTNA_DASHAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "dashcert.h"

/* Tokens shorter than this are refused: `head -c 32 /dev/urandom | base64`
 * makes 44 characters. */
#define ZT_DASH_TOKEN_MIN 16
#define ZT_DASH_TOKEN_MAX 512

/* true when header is exactly "Bearer " followed by want. NULL header
 * (none sent) or an empty want is never accepted. The comparison takes
 * the same time whatever the position of the first differing byte, so a
 * remote client cannot find the token byte by byte from timings. */
bool zt_dash_bearer_ok(const char *header, const char *want);

/* The token from a token file's text: surrounding whitespace (a trailing
 * newline) removed, then ZT_DASH_TOKEN_MIN..MAX printable ASCII characters
 * without spaces. 0, or -1 with err saying what is wrong. */
int zt_dash_token_parse(const char *text, size_t len, char *out,
                        size_t outlen, char *err, size_t errlen);

/* What a request for the data routes gets, from its two possible
 * credentials: 0 (served) with the right bearer token or a valid admin
 * certificate, either one; otherwise 403 when it presented a certificate
 * we refuse (a credential, but not an operator's), else 401 (none, or a
 * wrong token). */
unsigned zt_dash_status(bool token_ok, enum zt_dash_cert cert);

/* 127.0.0.0/8 or ::1 (and ::ffff:127.x): the only addresses the dashboard
 * may listen on without a token. */
bool zt_addr_is_loopback(const struct sockaddr *sa);

#endif

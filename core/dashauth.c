/* See dashauth.h. */
#include "dashauth.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define BEARER "Bearer "

bool zt_dash_bearer_ok(const char *header, const char *want) {
  if (!header || !want || !want[0])
    return false;
  size_t pl = strlen(BEARER);
  if (strncmp(header, BEARER, pl) != 0)
    return false;
  const unsigned char *got = (const unsigned char *)header + pl;
  size_t gl = strlen((const char *)got), wl = strlen(want);
  /* Every byte of want is compared whatever the header holds: the time
   * depends on the token's length only, not on where it differs. */
  unsigned diff = gl != wl;
  for (size_t i = 0; i < wl; i++)
    diff |= (unsigned)(got[i < gl ? i : 0] ^ (unsigned char)want[i]);
  return diff == 0;
}

int zt_dash_token_parse(const char *text, size_t len, char *out,
                        size_t outlen, char *err, size_t errlen) {
  while (len && (text[0] == ' ' || text[0] == '\t' || text[0] == '\n' ||
                 text[0] == '\r'))
    text++, len--;
  while (len && (text[len - 1] == ' ' || text[len - 1] == '\t' ||
                 text[len - 1] == '\n' || text[len - 1] == '\r'))
    len--;
  if (len < ZT_DASH_TOKEN_MIN) {
    snprintf(err, errlen,
             "token too short (%zu characters, at least %d): make one with "
             "`head -c 32 /dev/urandom | base64`",
             len, ZT_DASH_TOKEN_MIN);
    return -1;
  }
  if (len > ZT_DASH_TOKEN_MAX || len >= outlen) {
    snprintf(err, errlen, "token too long (%zu characters, at most %d)", len,
             ZT_DASH_TOKEN_MAX);
    return -1;
  }
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)text[i] <= ' ' || (unsigned char)text[i] >= 0x7f) {
      snprintf(err, errlen,
               "token has a space or a non-printable character at offset %zu",
               i);
      return -1;
    }
  memcpy(out, text, len);
  out[len] = '\0';
  return 0;
}

unsigned zt_dash_status(bool token_ok, enum zt_dash_cert cert) {
  if (token_ok || cert == ZT_DASH_CERT_ADMIN)
    return 0;
  return cert == ZT_DASH_CERT_REFUSED ? 403 : 401;
}

bool zt_addr_is_loopback(const struct sockaddr *sa) {
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
    return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(a))
      return true;
    return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
  }
  return false;
}

/* Socket address parsing and printing, numeric only. See netaddr.h. */
#include "netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* Longest text form of an address we accept, NUL included. */
#define ADDR_TEXT_MAX INET6_ADDRSTRLEN

/* Decimal digits only (no sign, no spaces: strtoul would take both), at most
 * `max`. -1 when s is empty, not all digits, or too big. */
static long parse_decimal(const char *s, long max) {
  long v = 0;
  if (!*s)
    return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return -1;
    v = v * 10 + (*s - '0');
    if (v > max)
      return -1;
  }
  return v;
}

/* Copy [s, s+n) into buf as a C string; false if it does not fit. */
static bool copy_part(char *buf, size_t size, const char *s, size_t n) {
  if (n >= size)
    return false;
  memcpy(buf, s, n);
  buf[n] = '\0';
  return true;
}

int zt_netaddr_parse(const char *s, uint16_t default_port,
                     struct sockaddr_storage *out, socklen_t *outlen) {
  char host[ADDR_TEXT_MAX];
  const char *port = NULL; /* text after the ':', if any */
  bool v6;

  if (!s)
    return -1;
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    if (!close || !copy_part(host, sizeof host, s + 1, (size_t)(close - s - 1)))
      return -1;
    if (close[1] == ':')
      port = close + 2;
    else if (close[1] != '\0')
      return -1;
    v6 = true;
  } else {
    const char *colon = strchr(s, ':');
    if (colon && strchr(colon + 1, ':')) {
      /* Two colons or more: a bare IPv6 address, which cannot carry a port
       * without brackets. */
      if (!copy_part(host, sizeof host, s, strlen(s)))
        return -1;
      v6 = true;
    } else {
      size_t n = colon ? (size_t)(colon - s) : strlen(s);
      if (!copy_part(host, sizeof host, s, n))
        return -1;
      if (colon)
        port = colon + 1;
      v6 = false;
    }
  }

  /* Port 0 means "any port": fine for a local bind (default_port 0), never
   * for a peer to connect to. */
  long p = default_port;
  if (port) {
    p = parse_decimal(port, 65535);
    if (p < 0 || (p == 0 && default_port != 0))
      return -1;
  }

  /* Built aside so that a refused address leaves *out as it was. */
  struct sockaddr_storage ss;
  socklen_t len;
  memset(&ss, 0, sizeof ss);
  if (v6) {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
      return -1;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)p);
    len = sizeof *sin6;
  } else {
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
      return -1;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)p);
    len = sizeof *sin;
  }
  *out = ss;
  *outlen = len;
  return 0;
}

const char *zt_netaddr_str(const struct sockaddr *sa, char *buf, size_t len) {
  char ip[ADDR_TEXT_MAX];
  if (!buf || !len)
    return buf;
  if (!sa) {
    snprintf(buf, len, "(none)");
  } else if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof ip);
    snprintf(buf, len, "%s:%u", ip, ntohs(sin->sin_port));
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof ip);
    snprintf(buf, len, "[%s]:%u", ip, ntohs(sin6->sin6_port));
  } else {
    snprintf(buf, len, "(address family %d)", sa->sa_family);
  }
  return buf;
}

bool zt_netaddr_equal(const struct sockaddr *a, const struct sockaddr *b) {
  if (!a || !b || a->sa_family != b->sa_family)
    return false;
  if (a->sa_family == AF_INET) {
    const struct sockaddr_in *x = (const struct sockaddr_in *)a;
    const struct sockaddr_in *y = (const struct sockaddr_in *)b;
    return x->sin_port == y->sin_port &&
           x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  if (a->sa_family == AF_INET6) {
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
    const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
    return x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
  }
  return false;
}

int zt_ip4_parse(const char *s, uint32_t *out) {
  struct in_addr a;
  /* inet_pton takes exactly four decimal octets: no "10.1", no hex, no
   * leading zeros, nothing after. */
  if (!s || inet_pton(AF_INET, s, &a) != 1)
    return -1;
  *out = ntohl(a.s_addr);
  return 0;
}

int zt_prefix4_parse(const char *s, uint32_t *net, uint8_t *len) {
  char ip[INET_ADDRSTRLEN];
  uint32_t addr;
  if (!s)
    return -1;
  const char *slash = strchr(s, '/');
  if (!slash || !copy_part(ip, sizeof ip, s, (size_t)(slash - s)) ||
      zt_ip4_parse(ip, &addr) != 0)
    return -1;
  /* "/08" is refused like an octet with a leading zero. */
  if (slash[1] == '0' && slash[2] != '\0')
    return -1;
  long l = parse_decimal(slash + 1, 32);
  if (l < 0)
    return -1;
  uint32_t mask = l == 0 ? 0 : ~0u << (32 - l);
  if (addr & ~mask)
    return -1; /* host bits set: almost always a typo for another prefix */
  *net = addr;
  *len = (uint8_t)l;
  return 0;
}

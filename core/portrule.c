/* Port rules: parse, print, match. See portrule.h. */
#include "portrule.h"

#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* A port 1..65535 in plain decimal, ending at `stop` or at the end of the
 * string; the canonical form only (no sign, no leading zeros), so that
 * zt_port_rule_str gives back what was written. -1 when not. */
static long parse_port(const char *s, const char **endp, char stop) {
  long v = 0;
  const char *p = s;
  if (*p == '0')
    return -1;
  for (; *p >= '0' && *p <= '9'; p++) {
    v = v * 10 + (*p - '0');
    if (v > 65535)
      return -1;
  }
  if (p == s || (*p != '\0' && *p != stop))
    return -1;
  *endp = p;
  return v;
}

int zt_port_rule_parse(const char *s, struct zt_port_rule *out, char *err,
                       size_t errlen) {
  if (!s)
    return fail(err, errlen, "no rule");
  if (strcmp(s, "icmp") == 0) {
    out->proto = IPPROTO_ICMP;
    out->lo = out->hi = 0;
    return 0;
  }
  uint8_t proto;
  if (strncmp(s, "tcp/", 4) == 0)
    proto = IPPROTO_TCP;
  else if (strncmp(s, "udp/", 4) == 0)
    proto = IPPROTO_UDP;
  else
    return fail(err, errlen,
                "not a port rule (\"tcp/PORT\", \"udp/LO-HI\", \"tcp/*\", "
                "\"icmp\")");
  const char *ports = s + 4;
  if (strcmp(ports, "*") == 0) {
    out->proto = proto;
    out->lo = 0;
    out->hi = 65535;
    return 0;
  }
  const char *end;
  long lo = parse_port(ports, &end, '-'), hi = lo;
  if (lo < 0)
    return fail(err, errlen, "bad port in rule: ports are 1..65535");
  if (*end == '-') {
    hi = parse_port(end + 1, &end, '\0');
    if (hi < 0)
      return fail(err, errlen, "bad port in rule: ports are 1..65535");
    if (hi < lo)
      return fail(err, errlen, "port range %ld-%ld is backwards", lo, hi);
  }
  out->proto = proto;
  out->lo = (uint16_t)lo;
  out->hi = (uint16_t)hi;
  return 0;
}

const char *zt_port_rule_str(const struct zt_port_rule *r, char *buf,
                             size_t len) {
  const char *name = r->proto == IPPROTO_TCP   ? "tcp"
                     : r->proto == IPPROTO_UDP ? "udp"
                                               : NULL;
  if (!buf || !len)
    return buf;
  if (r->proto == IPPROTO_ICMP)
    snprintf(buf, len, "icmp");
  else if (!name)
    snprintf(buf, len, "proto%u/%u-%u", r->proto, r->lo, r->hi);
  else if (r->lo == 0 && r->hi == 65535)
    snprintf(buf, len, "%s/*", name);
  else if (r->lo == r->hi)
    snprintf(buf, len, "%s/%u", name, r->lo);
  else
    snprintf(buf, len, "%s/%u-%u", name, r->lo, r->hi);
  return buf;
}

bool zt_port_rules_match(const struct zt_port_rule *rules, size_t n,
                         uint8_t proto, uint16_t dport) {
  for (size_t i = 0; i < n; i++) {
    if (rules[i].proto != proto)
      continue;
    if (proto == IPPROTO_ICMP)
      return true;
    if (dport >= rules[i].lo && dport <= rules[i].hi)
      return true;
  }
  return false;
}

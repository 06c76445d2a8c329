/*
 * The three daemons' JSON configuration files. See config.h.
 *
 * Every refusal names the file, the line and the key's path. The line is
 * the key's for key problems (unknown, duplicate), the value's for value
 * problems, and the enclosing object's for a missing member. Values and keys
 * are quoted through show(), so a hostile file cannot put control
 * characters or kilobytes of text into a log line.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashauth.h"
#include "ccalgo.h"
#include "dnstun.h"
#include "file.h"
#include "identity.h"
#include "json.h"
#include "log.h"
#include "netaddr.h"
#include "policy.h"

#define CONFIG_FILE_MAX (1024 * 1024)
#define KP_MAX 256   /* key paths: "policy[63].services[63]", or a shown key */
#define SHOW_MAX 200 /* a shown value: 48 bytes, each up to 4 characters */
#define SHOW_BYTES 48
#define TUN_NAME_MAX 15 /* IFNAMSIZ - 1 */

struct ctx {
  const char *path;
  char *err;
  size_t errlen;
};

/* "path:line: keypath: reason", or "path:line: reason" without a key. */
static int cfail(const struct ctx *cx, int line, const char *kp,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int cfail(const struct ctx *cx, int line, const char *kp,
                 const char *fmt, ...) {
  char reason[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  if (!cx->err || !cx->errlen)
    return -1;
  if (kp)
    snprintf(cx->err, cx->errlen, "%s:%d: %s: %s", cx->path, line, kp, reason);
  else
    snprintf(cx->err, cx->errlen, "%s:%d: %s", cx->path, line, reason);
  return -1;
}

/* Key paths are bounded (KP_MAX); a cut one still names the place. */
static void kp_printf(char kp[KP_MAX], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void kp_printf(char kp[KP_MAX], const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(kp, KP_MAX, fmt, ap);
  va_end(ap);
}

/* n bytes of s as printable ASCII: other bytes as \xNN, long text cut. */
static const char *show(const char *s, size_t n, char *buf) {
  size_t o = 0;
  for (size_t i = 0; i < n && i < SHOW_BYTES; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c < 0x7f && c != '\\')
      buf[o++] = (char)c;
    else
      o += (size_t)snprintf(buf + o, SHOW_MAX - o, "\\x%02x", c);
  }
  if (n > SHOW_BYTES) {
    memcpy(buf + o, "...", 3);
    o += 3;
  }
  buf[o] = '\0';
  return buf;
}

/* The key path of member m of an object at `prefix` ("" at the top). */
static const char *member_path(const char *prefix, const struct zt_json *m,
                               char *kp) {
  char key[SHOW_MAX + 4];
  if (m->key_len == 0)
    strcpy(key, "\"\""); /* an empty key must still be visible */
  else
    show(m->key, m->key_len, key);
  kp_printf(kp, "%s%s%s", prefix, *prefix ? "." : "", key);
  return kp;
}

static bool key_is(const struct zt_json *m, const char *k) {
  return m->key_len == strlen(k) && memcmp(m->key, k, m->key_len) == 0;
}

/* Member i of obj repeats an earlier key. Checked before the key is known
 * to be valid, so the scan is short: it stops at the first unknown key. */
static int check_dup(const struct ctx *cx, const struct zt_json *obj, size_t i,
                     const char *kp) {
  const struct zt_json *m = &obj->items[i];
  for (size_t j = 0; j < i; j++)
    if (obj->items[j].key_len == m->key_len &&
        memcmp(obj->items[j].key, m->key, m->key_len) == 0)
      return cfail(cx, m->key_line, kp, "duplicate key (first on line %d)",
                   obj->items[j].key_line);
  return 0;
}

static int unknown(const struct ctx *cx, const struct zt_json *m,
                   const char *kp) {
  return cfail(cx, m->key_line, kp, "unknown key");
}

static int want(const struct ctx *cx, const struct zt_json *v, const char *kp,
                enum zt_json_type t) {
  if (v->type == t)
    return 0;
  return cfail(cx, v->line, kp, "expected %s, got %s", zt_json_type_name(t),
               zt_json_type_name(v->type));
}

/* A string without NUL bytes, so C string functions see all of it; NULL
 * after an error. */
static const char *get_str(const struct ctx *cx, const struct zt_json *v,
                           const char *kp) {
  if (want(cx, v, kp, ZT_JSON_STRING) != 0)
    return NULL;
  if (memchr(v->str, '\0', v->len)) {
    cfail(cx, v->line, kp, "contains a NUL character");
    return NULL;
  }
  return v->str;
}

/* ---- value types -------------------------------------------------------- */

static int set_path(const struct ctx *cx, const struct zt_json *v,
                    const char *kp, char dst[ZT_PATH_MAX]) {
  const char *s = get_str(cx, v, kp);
  if (!s)
    return -1;
  if (v->len == 0)
    return cfail(cx, v->line, kp, "empty path");
  if (v->len >= ZT_PATH_MAX)
    return cfail(cx, v->line, kp, "path too long (%zu bytes, max %d)", v->len,
                 ZT_PATH_MAX - 1);
  memcpy(dst, s, v->len + 1);
  return 0;
}

/* Names of services, connectors, agents and the Intermediate travel in
 * str8 fields and identities: the one name rule, zt_name_valid_n
 * (identity.h); max is ZT_NAME_MAX for them. Interface names are a different
 * thing with the kernel's own rule (platform/tun.c); config holds them to
 * the name alphabet as well, within IFNAMSIZ (max TUN_NAME_MAX). */
static bool valid_name(const char *s, size_t len, size_t max) {
  return len <= max && zt_name_valid_n(s, len);
}

/* A name (or interface name, up to `max`) into dst, which has room for
 * max + 1. */
static int set_ident(const struct ctx *cx, const struct zt_json *v,
                     const char *kp, char *dst, size_t max, const char *what) {
  char shown[SHOW_MAX];
  if (want(cx, v, kp, ZT_JSON_STRING) != 0)
    return -1;
  if (!valid_name(v->str, v->len, max))
    return cfail(cx, v->line, kp,
                 "not a valid %s: '%s' (1-%zu of A-Z a-z 0-9 . _ -, not "
                 "starting with . or -)",
                 what, show(v->str, v->len, shown), max);
  memcpy(dst, v->str, v->len + 1);
  return 0;
}

static int set_name(const struct ctx *cx, const struct zt_json *v,
                    const char *kp, char dst[ZT_NAME_MAX + 1]) {
  return set_ident(cx, v, kp, dst, ZT_NAME_MAX, "name");
}

static int set_tun(const struct ctx *cx, const struct zt_json *v,
                   const char *kp, char dst[TUN_NAME_MAX + 1]) {
  return set_ident(cx, v, kp, dst, TUN_NAME_MAX, "interface name");
}

static int set_addr(const struct ctx *cx, const struct zt_json *v,
                    const char *kp, struct sockaddr_storage *ss,
                    socklen_t *len) {
  char shown[SHOW_MAX];
  const char *s = get_str(cx, v, kp);
  if (!s)
    return -1;
  if (zt_netaddr_parse(s, ZT_DEFAULT_PORT, ss, len) != 0)
    return cfail(cx, v->line, kp,
                 "not an address (\"IP\", \"IP:PORT\" or \"[IPv6]:PORT\", "
                 "port 1-65535): '%s'",
                 show(v->str, v->len, shown));
  return 0;
}

/* An IPv4 address a packet can be routed to. Loopback is refused for
 * virtual addresses (a route to it would capture the host's own traffic)
 * but allowed for backends (the service may listen on the connector's
 * host). */
static int get_ip4(const struct ctx *cx, const struct zt_json *v,
                   const char *kp, bool allow_loopback, uint32_t *ip) {
  char shown[SHOW_MAX];
  const char *s = get_str(cx, v, kp);
  if (!s)
    return -1;
  if (zt_ip4_parse(s, ip) != 0)
    return cfail(cx, v->line, kp, "not an IPv4 address: '%s'",
                 show(v->str, v->len, shown));
  uint8_t first = (uint8_t)(*ip >> 24);
  if (first == 0 || first >= 224 || (first == 127 && !allow_loopback))
    return cfail(cx, v->line, kp, "not a usable unicast address: '%s'", s);
  return 0;
}

static int set_log_level(const struct ctx *cx, const struct zt_json *v,
                         const char *kp, int *out) {
  char shown[SHOW_MAX];
  enum zt_log_level level;
  const char *s = get_str(cx, v, kp);
  if (!s)
    return -1;
  if (zt_log_level_parse(s, &level) != 0)
    return cfail(cx, v->line, kp,
                 "unknown log level '%s' (error, warn, info, debug)",
                 show(v->str, v->len, shown));
  *out = (int)level;
  return 0;
}

/* "congestion_control": the QUIC controller of both layers (ccalgo.h). */
static int set_cc(const struct ctx *cx, const struct zt_json *v,
                  const char *kp, int *out) {
  char shown[SHOW_MAX];
  const char *s = get_str(cx, v, kp);
  if (!s)
    return -1;
  if (zt_cc_parse(s, out) != 0)
    return cfail(cx, v->line, kp, "unknown congestion control '%s' (%s)",
                 show(v->str, v->len, shown), ZT_CC_NAMES);
  return 0;
}

/* A string value holding "a.b.c.d/len" with zero host bits; `example`
 * goes into the error. */
static const char *get_prefix(const struct ctx *cx, const struct zt_json *v,
                              const char *kp, const char *example,
                              uint32_t *n, uint8_t *l) {
  char shown[SHOW_MAX];
  const char *s = get_str(cx, v, kp);
  if (!s)
    return NULL;
  if (zt_prefix4_parse(s, n, l) != 0) {
    cfail(cx, v->line, kp,
          "not an IPv4 prefix with zero host bits (like \"%s\"): '%s'",
          example, show(v->str, v->len, shown));
    return NULL;
  }
  return s;
}

static int set_prefix(const struct ctx *cx, const struct zt_json *v,
                      const char *kp, uint32_t *net, uint8_t *plen) {
  uint32_t n;
  uint8_t l;
  const char *s = get_prefix(cx, v, kp, "100.64.0.0/16", &n, &l);
  if (!s)
    return -1;
  /* Shorter than /8 would swallow whole networks' routes; longer than /30
   * leaves no room for agents. */
  if (l < 8 || l > 30)
    return cfail(cx, v->line, kp, "prefix length must be 8-30: '%s'", s);
  *net = n;
  *plen = l;
  return 0;
}

/* A range of addresses the Intermediate may steer routes into (agent:
 * service_range; connector: agent_pool). Any length from /8 to /32 (one
 * service is a /32), but never a range that holds "this network" (0/8),
 * loopback or multicast and above: routes there would capture the host's
 * own traffic. */
static int set_pin_range(const struct ctx *cx, const struct zt_json *v,
                         const char *kp, uint32_t *net, uint8_t *plen) {
  uint32_t n;
  uint8_t l;
  const char *s = get_prefix(cx, v, kp, "10.100.0.0/16", &n, &l);
  if (!s)
    return -1;
  if (l < 8)
    return cfail(cx, v->line, kp, "prefix length must be 8-32: '%s'", s);
  uint8_t first = (uint8_t)(n >> 24);
  if (first == 0 || first == 127 || first >= 224)
    return cfail(cx, v->line, kp,
                 "not a range of usable unicast addresses: '%s'", s);
  *net = n;
  *plen = l;
  return 0;
}

/* ---- members every role shares ------------------------------------------ */

/* Which of the shared keys a role has; NULL fields are not its keys. */
struct common {
  struct sockaddr_storage *intermediate;
  socklen_t *intermediate_len;
  size_t *n_more; /* the other Intermediates of an array */
  struct sockaddr_storage *more;
  socklen_t *more_len;
  char *intermediate_name;
  struct zt_tls_paths *tls;
  char *tun;
  int *log_level;
  int *congestion_control;
  char *control_socket;
  char *audit_log;
  struct sockaddr_storage *metrics_listen;
  socklen_t *metrics_listen_len;
};

/* "intermediate": one "host:port" string, or an array of 1 to
 * ZT_MAX_INTERMEDIATES of them (a deployment with several Intermediates:
 * a connector dials all of them, an agent uses the best one). */
static int set_intermediates(const struct ctx *cx, const struct common *f,
                             const struct zt_json *v, const char *kp) {
  char ekp[KP_MAX];
  *f->n_more = 0;
  if (v->type != ZT_JSON_ARRAY)
    return set_addr(cx, v, kp, f->intermediate, f->intermediate_len);
  if (v->n == 0)
    return cfail(cx, v->line, kp, "empty list: give at least one address");
  if (v->n > ZT_MAX_INTERMEDIATES)
    return cfail(cx, v->items[ZT_MAX_INTERMEDIATES].line, kp,
                 "too many Intermediates (max %d)", ZT_MAX_INTERMEDIATES);
  for (size_t i = 0; i < v->n; i++) {
    kp_printf(ekp, "%s[%zu]", kp, i);
    int r = i == 0 ? set_addr(cx, &v->items[0], ekp, f->intermediate,
                              f->intermediate_len)
                   : set_addr(cx, &v->items[i], ekp, &f->more[i - 1],
                              &f->more_len[i - 1]);
    if (r != 0)
      return r;
  }
  *f->n_more = v->n - 1;
  return 0;
}

/* "metrics_listen": "IP:PORT" of the HTTP endpoints (docs/operations.md);
 * off unless given, and the port must be said: the QUIC port as a default
 * would only collide. */
static int set_metrics_listen(const struct ctx *cx, const struct zt_json *v,
                              const char *kp, struct sockaddr_storage *ss,
                              socklen_t *len) {
  struct sockaddr_storage bare;
  socklen_t barelen;
  if (set_addr(cx, v, kp, ss, len) != 0)
    return -1;
  /* Parsed again without a default port: a bare IP comes out as port 0. */
  if (zt_netaddr_parse(v->str, 0, &bare, &barelen) == 0 &&
      ((bare.ss_family == AF_INET &&
        ((struct sockaddr_in *)&bare)->sin_port == 0) ||
       (bare.ss_family == AF_INET6 &&
        ((struct sockaddr_in6 *)&bare)->sin6_port == 0)))
    return cfail(cx, v->line, kp,
                 "give the port too, e.g. \"127.0.0.1:9101\"");
  return 0;
}

/* 1 when m is a shared key and was set, 0 when it is not one, -1 on error. */
static int common_member(const struct ctx *cx, const struct common *f,
                         const struct zt_json *m, const char *kp) {
  int r = -2;
  if (f->intermediate && key_is(m, "intermediate"))
    r = set_intermediates(cx, f, m, kp);
  else if (f->intermediate_name && key_is(m, "intermediate_name"))
    r = set_name(cx, m, kp, f->intermediate_name);
  else if (f->tls && key_is(m, "ca"))
    r = set_path(cx, m, kp, f->tls->ca);
  else if (f->tls && key_is(m, "cert"))
    r = set_path(cx, m, kp, f->tls->cert);
  else if (f->tls && key_is(m, "key"))
    r = set_path(cx, m, kp, f->tls->key);
  else if (f->tls && key_is(m, "crl"))
    r = set_path(cx, m, kp, f->tls->crl);
  else if (f->tun && key_is(m, "tun"))
    r = set_tun(cx, m, kp, f->tun);
  else if (f->log_level && key_is(m, "log_level"))
    r = set_log_level(cx, m, kp, f->log_level);
  else if (f->congestion_control && key_is(m, "congestion_control"))
    r = set_cc(cx, m, kp, f->congestion_control);
  else if (f->control_socket && key_is(m, "control_socket"))
    r = set_path(cx, m, kp, f->control_socket);
  else if (f->audit_log && key_is(m, "audit_log"))
    r = set_path(cx, m, kp, f->audit_log);
  else if (f->metrics_listen && key_is(m, "metrics_listen"))
    r = set_metrics_listen(cx, m, kp, f->metrics_listen,
                           f->metrics_listen_len);
  if (r == -2)
    return 0;
  return r == 0 ? 1 : -1;
}

/* ---- objects inside arrays ---------------------------------------------- */

/* The elements of an array member, at most max of them. */
static int want_array(const struct ctx *cx, const struct zt_json *v,
                      const char *kp, size_t max, const char *what) {
  if (want(cx, v, kp, ZT_JSON_ARRAY) != 0)
    return -1;
  if (v->n > max)
    return cfail(cx, v->items[max].line, kp, "too many %s (max %zu)", what,
                 max);
  return 0;
}

/* The first member named in `need` (bit i for names[i]) that obj lacks. */
static int check_missing(const struct ctx *cx, const struct zt_json *obj,
                         const char *prefix, const char *const *names,
                         unsigned need, unsigned seen) {
  char kp[KP_MAX];
  for (unsigned i = 0; names[i]; i++)
    if ((need & 1u << i) && !(seen & 1u << i)) {
      kp_printf(kp, "%s.%s", prefix, names[i]);
      return cfail(cx, obj->line, kp, "missing");
    }
  return 0;
}

#define ALL_REQUIRED (~0u)
#define NONE_REQUIRED 0u

/* Walks the members of obj: duplicate and unknown keys are refused here,
 * known ones handed to fn with their index in names[]. */
typedef int (*member_fn)(const struct ctx *cx, void *ud, unsigned which,
                         const struct zt_json *v, const char *kp);

static int walk_object(const struct ctx *cx, const struct zt_json *obj,
                       const char *prefix, const char *const *names,
                       unsigned need, member_fn fn, void *ud) {
  char kp[KP_MAX];
  unsigned seen = 0;
  if (want(cx, obj, prefix, ZT_JSON_OBJECT) != 0)
    return -1;
  for (size_t i = 0; i < obj->n; i++) {
    const struct zt_json *m = &obj->items[i];
    member_path(prefix, m, kp);
    if (check_dup(cx, obj, i, kp) != 0)
      return -1;
    unsigned which = 0;
    while (names[which] && !key_is(m, names[which]))
      which++;
    if (!names[which])
      return unknown(cx, m, kp);
    if (fn(cx, ud, which, m, kp) != 0)
      return -1;
    seen |= 1u << which;
  }
  return check_missing(cx, obj, prefix, names, need, seen);
}

/* An array of objects, each walked with `keys`: elements are cleared before
 * they are filled, and *count is the number filled so far (member functions
 * use it as the index of the element being filled). */
static int walk_array(const struct ctx *cx, const struct zt_json *v,
                      const char *kp, size_t max, const char *what,
                      const char *const *keys, unsigned need, member_fn fn,
                      void *ud, void *elems, size_t elem_size,
                      size_t *count) {
  char ekp[KP_MAX];
  if (want_array(cx, v, kp, max, what) != 0)
    return -1;
  *count = 0;
  for (size_t i = 0; i < v->n; i++) {
    kp_printf(ekp, "%s[%zu]", kp, i);
    memset((char *)elems + i * elem_size, 0, elem_size);
    if (walk_object(cx, &v->items[i], ekp, keys, need, fn, ud) != 0)
      return -1;
    (*count)++;
  }
  return 0;
}

/* A non-empty array of port rules ("tcp/443", "udp/5000-5010", "icmp"). */
static int set_port_rules(const struct ctx *cx, const struct zt_json *v,
                          const char *kp, struct zt_port_rule *rules,
                          size_t *n) {
  char ekp[KP_MAX], shown[SHOW_MAX], why[128];
  if (want_array(cx, v, kp, ZT_MAX_PORT_RULES, "port rules") != 0)
    return -1;
  if (v->n == 0)
    return cfail(cx, v->line, kp,
                 "empty: list at least one rule (\"tcp/443\", \"icmp\", ...)");
  *n = 0;
  for (size_t k = 0; k < v->n; k++) {
    const struct zt_json *r = &v->items[k];
    kp_printf(ekp, "%s[%zu]", kp, k);
    const char *s = get_str(cx, r, ekp);
    if (!s)
      return -1;
    if (zt_port_rule_parse(s, &rules[k], why, sizeof why) != 0)
      return cfail(cx, r->line, ekp, "%s: '%s'", why,
                   show(r->str, r->len, shown));
    (*n)++;
  }
  return 0;
}

/* ---- intermediate ------------------------------------------------------- */

static const char *const im_service_keys[] = {"name", "address", "connector",
                                              NULL};

static int im_service_member(const struct ctx *cx, void *ud, unsigned which,
                             const struct zt_json *v, const char *kp) {
  struct zt_intermediate_config *c = ud;
  size_t i = c->n_services;
  switch (which) {
  case 0:
    if (set_name(cx, v, kp, c->services[i].name) != 0)
      return -1;
    for (size_t j = 0; j < i; j++)
      if (strcmp(c->services[j].name, v->str) == 0)
        return cfail(cx, v->line, kp, "service '%s' is configured twice",
                     v->str);
    return 0;
  case 1:
    if (get_ip4(cx, v, kp, false, &c->services[i].address) != 0)
      return -1;
    for (size_t j = 0; j < i; j++)
      if (c->services[j].address == c->services[i].address)
        return cfail(cx, v->line, kp,
                     "%s is already the address of service '%s'", v->str,
                     c->services[j].name);
    return 0;
  default:
    return set_name(cx, v, kp, c->services[i].connector);
  }
}

static int im_services(const struct ctx *cx, struct zt_intermediate_config *c,
                       const struct zt_json *v, const char *kp) {
  return walk_array(cx, v, kp, ZT_MAX_SERVICES, "services", im_service_keys,
                    5u /* address optional */, im_service_member, c, c->services, sizeof c->services[0],
                    &c->n_services);
}

static int find_service(const struct zt_intermediate_config *c,
                        const char *name) {
  for (size_t i = 0; i < c->n_services; i++)
    if (strcmp(c->services[i].name, name) == 0)
      return (int)i;
  return -1;
}

static const char *const policy_keys[] = {"agent", "services", NULL};

static int policy_member(const struct ctx *cx, void *ud, unsigned which,
                         const struct zt_json *v, const char *kp) {
  struct zt_intermediate_config *c = ud;
  __typeof__(c->policy[0]) *p = &c->policy[c->n_policy];
  char ekp[KP_MAX];
  if (which == 0) {
    if (v->type == ZT_JSON_STRING && strcmp(v->str, "*") == 0 && v->len == 1) {
      strcpy(p->agent, "*");
      return 0;
    }
    return set_name(cx, v, kp, p->agent);
  }
  if (want_array(cx, v, kp, ZT_MAX_SERVICES, "services") != 0)
    return -1;
  if (v->n == 0)
    return cfail(cx, v->line, kp, "empty: list the services it may reach");
  p->n_services = 0;
  for (size_t i = 0; i < v->n; i++) {
    const struct zt_json *s = &v->items[i];
    kp_printf(ekp, "%s[%zu]", kp, i);
    if (set_name(cx, s, ekp, p->services[i]) != 0)
      return -1;
    if (find_service(c, s->str) < 0)
      return cfail(cx, s->line, ekp, "no service named '%s'", s->str);
    for (size_t j = 0; j < i; j++)
      if (strcmp(p->services[j], s->str) == 0)
        return cfail(cx, s->line, ekp, "service '%s' is listed twice", s->str);
    p->n_services++;
  }
  return 0;
}

static int im_policy(const struct ctx *cx, struct zt_intermediate_config *c,
                     const struct zt_json *v, const char *kp) {
  return walk_array(cx, v, kp, ZT_MAX_POLICY, "policy entries", policy_keys,
                    ALL_REQUIRED, policy_member, c, c->policy, sizeof c->policy[0],
                    &c->n_policy);
}

/* Virtual addresses inside the agent pool would collide with agents'
 * tunnel addresses. Blamed on the services when the file lists them,
 * otherwise on the pool. */
static int im_check_pool(const struct ctx *cx,
                         const struct zt_intermediate_config *c,
                         const struct zt_json *services,
                         const struct zt_json *pool) {
  uint32_t mask = c->agent_pool_len ? ~0u << (32 - c->agent_pool_len) : 0;
  char kp[KP_MAX];
  for (size_t i = 0; i < c->n_services; i++) {
    if (!c->services[i].address ||
        (c->services[i].address & mask) != c->agent_pool)
      continue;
    const struct zt_json *at = pool;
    kp_printf(kp, "agent_pool");
    if (services) {
      at = zt_json_get(&services->items[i], "address");
      kp_printf(kp, "services[%zu].address", i);
    }
    return cfail(
        cx, at->line, kp,
        "%u.%u.%u.%u (service '%s') is inside agent_pool "
        "%u.%u.%u.%u/%u",
        c->services[i].address >> 24, c->services[i].address >> 16 & 255,
        c->services[i].address >> 8 & 255, c->services[i].address & 255,
        c->services[i].name, c->agent_pool >> 24, c->agent_pool >> 16 & 255,
        c->agent_pool >> 8 & 255, c->agent_pool & 255, c->agent_pool_len);
  }
  return 0;
}

/* service_pool: a range of its own, never overlapping agent_pool (an
 * allocated service address there would collide with an agent's), and
 * required once an inline service leaves its address out. */
static int im_check_service_pool(const struct ctx *cx,
                                 const struct zt_intermediate_config *c,
                                 const struct zt_json *services,
                                 const struct zt_json *svc_pool) {
  char kp[KP_MAX];
  if (svc_pool) {
    uint8_t l = c->service_pool_len < c->agent_pool_len ? c->service_pool_len
                                                        : c->agent_pool_len;
    uint32_t mask = ~0u << (32 - l);
    if ((c->service_pool & mask) == (c->agent_pool & mask))
      return cfail(cx, svc_pool->line, "service_pool",
                   "%s overlaps agent_pool %u.%u.%u.%u/%u", svc_pool->str,
                   c->agent_pool >> 24, c->agent_pool >> 16 & 255,
                   c->agent_pool >> 8 & 255, c->agent_pool & 255,
                   c->agent_pool_len);
    return 0;
  }
  for (size_t i = 0; services && i < c->n_services; i++)
    if (!c->services[i].address) {
      kp_printf(kp, "services[%zu].address", i);
      return cfail(cx, services->items[i].line, kp,
                   "no address and no service_pool to allocate one from "
                   "(service '%s')",
                   c->services[i].name);
    }
  return 0;
}

/* A range for services: as a routed range (set_pin_range), with room for
 * at least two services besides network and broadcast. */
static int set_service_pool(const struct ctx *cx, const struct zt_json *v,
                            const char *kp, uint32_t *net, uint8_t *plen) {
  if (set_pin_range(cx, v, kp, net, plen) != 0)
    return -1;
  if (*plen > 30)
    return cfail(cx, v->line, kp,
                 "prefix length must be 8-30 (a /%u has no address besides "
                 "network and broadcast)",
                 *plen);
  return 0;
}

/* ---- connector ---------------------------------------------------------- */

static const char *const conn_service_keys[] = {"name", "backend", "ports",
                                                NULL};

static int conn_service_member(const struct ctx *cx, void *ud, unsigned which,
                               const struct zt_json *v, const char *kp) {
  struct zt_connector_config *c = ud;
  size_t i = c->n_services;
  switch (which) {
  case 0:
    if (set_name(cx, v, kp, c->services[i].name) != 0)
      return -1;
    for (size_t j = 0; j < i; j++)
      if (strcmp(c->services[j].name, v->str) == 0)
        return cfail(cx, v->line, kp, "service '%s' is configured twice",
                     v->str);
    return 0;
  case 1:
    return get_ip4(cx, v, kp, true, &c->services[i].backend);
  default:
    break;
  }
  return set_port_rules(cx, v, kp, c->services[i].rules,
                        &c->services[i].n_rules);
}

static int conn_services(const struct ctx *cx, struct zt_connector_config *c,
                         const struct zt_json *v, const char *kp) {
  return walk_array(cx, v, kp, ZT_MAX_SERVICES, "services",
                    conn_service_keys, ALL_REQUIRED, conn_service_member, c, c->services,
                    sizeof c->services[0], &c->n_services);
}

/* ---- top level ---------------------------------------------------------- */

static struct zt_json *parse_root(const struct ctx *cx, const char *text,
                                  size_t len) {
  char reason[256];
  int line;
  struct zt_json *root =
      zt_json_parse_detail(text, len, &line, reason, sizeof reason);
  if (!root) {
    cfail(cx, line, NULL, "%s", reason);
    return NULL;
  }
  if (root->type != ZT_JSON_OBJECT) {
    cfail(cx, root->line, NULL, "expected an object at the top level, got %s",
          zt_json_type_name(root->type));
    zt_json_free(root);
    return NULL;
  }
  return root;
}

static void ctx_init(struct ctx *cx, const char *path, char *err,
                     size_t errlen) {
  cx->path = path ? path : "(config)";
  cx->err = err;
  cx->errlen = errlen;
  if (err && errlen)
    err[0] = '\0';
}

/* Top-level members. The shared keys come first in each list; the
 * callbacks hand those to common_member. */
struct top {
  struct common f;
  void *c;
  const struct zt_json *services, *policy, *pool, *svc_pool;
  const struct zt_json *dashboard; /* its line, for the token check */
};

static int shared_member(const struct ctx *cx, void *ud, unsigned which,
                         const struct zt_json *v, const char *kp) {
  struct top *t = ud;
  (void)which;
  return common_member(cx, &t->f, v, kp) > 0 ? 0 : -1;
}

static const char *const im_keys[] = {
    "ca",       "cert",   "key",       "log_level", "listen", "agent_pool",
    "services", "policy", "state_dir", "control_socket", "stun_port",
    "audit_log", "crl", "service_pool",
    "metrics_listen", "dashboard_listen", "dashboard_token_file",
    "congestion_control", "dashboard_tls", "dashboard_allow_http",
    "udp_receive_buffer", "workers", NULL};

/* The second STUN port: 0 (off) or a UDP port. */
/* A JSON true or false. */
static int set_bool(const struct ctx *cx, const struct zt_json *v,
                    const char *kp, bool *dst) {
  if (want(cx, v, kp, ZT_JSON_BOOL) != 0)
    return -1;
  *dst = v->boolean;
  return 0;
}

static int set_stun_port(const struct ctx *cx, const struct zt_json *v,
                         const char *kp, int *dst) {
  if (want(cx, v, kp, ZT_JSON_NUMBER) != 0)
    return -1;
  if (!v->is_int || v->integer < 0 || v->integer > 65535)
    return cfail(cx, v->line, kp, "expected a port 1-65535, or 0 for none");
  *dst = (int)v->integer;
  return 0;
}

/* A relative policy file name is relative to the configuration file's
 * directory, so that a reload finds the same file whatever the daemon's
 * working directory. */
static int set_policy_file(const struct ctx *cx, const struct zt_json *v,
                           const char *kp, char dst[ZT_PATH_MAX]) {
  char name[ZT_PATH_MAX];
  const char *slash = strrchr(cx->path, '/');
  if (set_path(cx, v, kp, name) != 0)
    return -1;
  if (name[0] == '/' || !slash) {
    memcpy(dst, name, ZT_PATH_MAX);
    return 0;
  }
  int dir = (int)(slash - cx->path);
  if ((size_t)dir + 1 + strlen(name) >= ZT_PATH_MAX)
    return cfail(cx, v->line, kp, "path too long with the directory of %s",
                 cx->path);
  memcpy(dst, cx->path, (size_t)dir + 1); /* with the slash */
  memcpy(dst + dir + 1, name, strlen(name) + 1);
  return 0;
}

static int im_member(const struct ctx *cx, void *ud, unsigned which,
                     const struct zt_json *v, const char *kp) {
  struct top *t = ud;
  struct zt_intermediate_config *c = t->c;
  switch (which) {
  case 4:
    return set_addr(cx, v, kp, &c->listen, &c->listen_len);
  case 5:
    t->pool = v;
    return set_prefix(cx, v, kp, &c->agent_pool, &c->agent_pool_len);
  case 6:
    t->services = v;
    return im_services(cx, c, v, kp);
  case 7:
    /* A string names the policy document (policy.h); an array is the
     * older inline form, read after the others: it names services listed
     * anywhere. */
    if (v->type == ZT_JSON_STRING)
      return set_policy_file(cx, v, kp, c->policy_file);
    t->policy = v;
    return 0;
  case 8:
    return set_path(cx, v, kp, c->state_dir);
  case 10:
    return set_stun_port(cx, v, kp, &c->stun_port);
  case 13:
    t->svc_pool = v;
    return set_service_pool(cx, v, kp, &c->service_pool,
                            &c->service_pool_len);
  case 15: /* the same form as metrics_listen: IP:PORT, port required */
    t->dashboard = v;
    return set_metrics_listen(cx, v, kp, &c->dashboard_listen,
                              &c->dashboard_listen_len);
  case 16:
    return set_path(cx, v, kp, c->dashboard_token_file);
  case 18: {
    bool on;
    if (set_bool(cx, v, kp, &on) != 0)
      return -1;
    c->dashboard_tls = on;
    return 0;
  }
  case 19:
    return set_bool(cx, v, kp, &c->dashboard_allow_http);
  case 20:
    if (want(cx, v, kp, ZT_JSON_NUMBER) != 0)
      return -1;
    if (!v->is_int || v->integer < ZT_UDP_RCVBUF_MIN ||
        v->integer > ZT_UDP_RCVBUF_MAX)
      return cfail(cx, v->line, kp,
                   "expected bytes from 65536 to 1073741824 (1 GiB)");
    c->udp_receive_buffer = (int)v->integer;
    return 0;
  case 21:
    if (want(cx, v, kp, ZT_JSON_NUMBER) != 0)
      return -1;
    if (!v->is_int || v->integer < 1 || v->integer > ZT_IM_WORKERS_MAX)
      return cfail(cx, v->line, kp, "expected a number of threads from 1 to 64");
    c->workers = (unsigned)v->integer;
    return 0;
  default:
    return shared_member(cx, ud, which, v, kp);
  }
}

/* The dashboard shows every peer and session: anywhere but loopback it is
 * HTTPS, where an admin certificate is a credential, unless plain HTTP is
 * asked for knowingly, and then only with a token (docs/dashboard.md). */
static int im_check_dashboard(const struct ctx *cx,
                              struct zt_intermediate_config *c, int line) {
  bool exposed =
      !zt_addr_is_loopback((const struct sockaddr *)&c->dashboard_listen);
  if (c->dashboard_tls < 0)
    c->dashboard_tls = exposed;
  if (!exposed || c->dashboard_tls)
    return 0;
  if (!c->dashboard_allow_http)
    return cfail(cx, line, "dashboard_listen",
                 "not a loopback address with \"dashboard_tls\": false: "
                 "the token would cross the network in clear; use HTTPS, or "
                 "set \"dashboard_allow_http\": true (docs/dashboard.md)");
  if (!c->dashboard_token_file[0])
    return cfail(cx, line, "dashboard_listen",
                 "not a loopback address over plain HTTP: set "
                 "\"dashboard_token_file\" too (a file with a random token, "
                 "docs/dashboard.md)");
  return 0;
}

int zt_intermediate_config_parse(struct zt_intermediate_config *c,
                                 const char *path, const char *text, size_t len,
                                 char *err, size_t errlen) {
  struct ctx cx;
  ctx_init(&cx, path, err, errlen);
  struct zt_json *root = parse_root(&cx, text, len);
  if (!root)
    return -1;
  struct top t = {.f = {.tls = &c->tls,
                        .log_level = &c->log_level,
                        .congestion_control = &c->congestion_control,
                        .control_socket = c->control_socket,
                        .audit_log = c->audit_log,
                        .metrics_listen = &c->metrics_listen,
                        .metrics_listen_len = &c->metrics_listen_len},
                  .c = c};
  int r = walk_object(&cx, root, "", im_keys, NONE_REQUIRED, im_member, &t);
  if (r == 0 && t.policy)
    r = im_policy(&cx, c, t.policy, "policy");
  if (r == 0 && c->policy_file[0] && t.services)
    r = cfail(&cx, t.services->line, "services",
              "with a policy file (\"policy\": \"%s\"), services belong "
              "in it",
              c->policy_file);
  if (r == 0 && (t.services || t.pool))
    r = im_check_pool(&cx, c, t.services, t.pool);
  if (r == 0)
    r = im_check_service_pool(&cx, c, t.services, t.svc_pool);
  if (r == 0 && t.dashboard)
    r = im_check_dashboard(&cx, c, t.dashboard->line);
  zt_json_free(root);
  return r;
}

static const char *const conn_keys[] = {
    "intermediate", "intermediate_name", "ca",       "cert",       "key",
    "tun",          "log_level",         "services", "agent_pool",
    "control_socket", "direct",          "p2p_listen", "audit_log", "crl",
    "metrics_listen", "congestion_control", "tun_offload", NULL};

static int conn_member(const struct ctx *cx, void *ud, unsigned which,
                       const struct zt_json *v, const char *kp) {
  struct top *t = ud;
  struct zt_connector_config *c = t->c;
  if (which == 7)
    return conn_services(cx, c, v, kp);
  if (which == 8)
    return set_pin_range(cx, v, kp, &c->agent_pool, &c->agent_pool_len);
  if (which == 10)
    return set_bool(cx, v, kp, &c->direct);
  if (which == 11)
    return set_addr(cx, v, kp, &c->p2p_listen, &c->p2p_listen_len);
  if (which == 16)
    return set_bool(cx, v, kp, &c->tun_offload);
  return shared_member(cx, ud, which, v, kp);
}

int zt_connector_config_parse(struct zt_connector_config *c, const char *path,
                              const char *text, size_t len, char *err,
                              size_t errlen) {
  struct ctx cx;
  ctx_init(&cx, path, err, errlen);
  struct zt_json *root = parse_root(&cx, text, len);
  if (!root)
    return -1;
  struct top t = {.f = {.intermediate = &c->intermediate,
                        .intermediate_len = &c->intermediate_len,
                        .n_more = &c->n_more_intermediates,
                        .more = c->more_intermediates,
                        .more_len = c->more_intermediates_len,
                        .intermediate_name = c->intermediate_name,
                        .tls = &c->tls,
                        .tun = c->tun,
                        .log_level = &c->log_level,
                        .congestion_control = &c->congestion_control,
                        .control_socket = c->control_socket,
                        .audit_log = c->audit_log,
                        .metrics_listen = &c->metrics_listen,
                        .metrics_listen_len = &c->metrics_listen_len},
                  .c = c};
  int r = walk_object(&cx, root, "", conn_keys, NONE_REQUIRED, conn_member, &t);
  zt_json_free(root);
  return r;
}

static const char *const agent_keys[] = {
    "intermediate", "intermediate_name", "ca",           "cert", "key",
    "tun",          "log_level",         "service_range",
    "control_socket", "direct", "dns_domain", "dns_address", "dns_resolved",
    "crl",
    "metrics_listen", "congestion_control", "tun_offload", NULL};

/* The deployment's DNS domain: "" turns DNS off, anything else must be a
 * domain name dns.c can answer for. */
static int set_dns_domain(const struct ctx *cx, const struct zt_json *v,
                          const char *kp, char dst[ZT_DNS_DOMAIN_MAX + 1]) {
  char shown[SHOW_MAX];
  const char *s = get_str(cx, v, kp);
  if (!s)
    return -1;
  if (v->len && (v->len > ZT_DNS_DOMAIN_MAX || !zt_dns_domain_valid(s)))
    return cfail(cx, v->line, kp,
                 "not a domain name: '%s' (dot-separated labels of 1-63 of "
                 "A-Z a-z 0-9 - _, at most %d characters; \"\" turns DNS "
                 "off)",
                 show(v->str, v->len, shown), ZT_DNS_DOMAIN_MAX);
  memcpy(dst, s, v->len + 1);
  return 0;
}

static int agent_member(const struct ctx *cx, void *ud, unsigned which,
                        const struct zt_json *v, const char *kp) {
  struct top *t = ud;
  struct zt_agent_config *c = t->c;
  if (which == 7)
    return set_pin_range(cx, v, kp, &c->service_range, &c->service_range_len);
  if (which == 9)
    return set_bool(cx, v, kp, &c->direct);
  if (which == 10)
    return set_dns_domain(cx, v, kp, c->dns_domain);
  if (which == 11)
    return get_ip4(cx, v, kp, false, &c->dns_address);
  if (which == 12)
    return set_bool(cx, v, kp, &c->dns_resolved);
  if (which == 16)
    return set_bool(cx, v, kp, &c->tun_offload);
  return shared_member(cx, ud, which, v, kp);
}

int zt_agent_config_parse(struct zt_agent_config *c, const char *path,
                          const char *text, size_t len, char *err,
                          size_t errlen) {
  struct ctx cx;
  ctx_init(&cx, path, err, errlen);
  struct zt_json *root = parse_root(&cx, text, len);
  if (!root)
    return -1;
  struct top t = {.f = {.intermediate = &c->intermediate,
                        .intermediate_len = &c->intermediate_len,
                        .n_more = &c->n_more_intermediates,
                        .more = c->more_intermediates,
                        .more_len = c->more_intermediates_len,
                        .intermediate_name = c->intermediate_name,
                        .tls = &c->tls,
                        .tun = c->tun,
                        .log_level = &c->log_level,
                        .congestion_control = &c->congestion_control,
                        .control_socket = c->control_socket,
                        .metrics_listen = &c->metrics_listen,
                        .metrics_listen_len = &c->metrics_listen_len},
                  .c = c};
  int r =
      walk_object(&cx, root, "", agent_keys, NONE_REQUIRED, agent_member, &t);
  zt_json_free(root);
  return r;
}

/* ---- defaults ----------------------------------------------------------- */

static void tls_defaults(struct zt_tls_paths *t, const char *role) {
  snprintf(t->ca, sizeof t->ca, "/etc/ztna/ca.pem");
  snprintf(t->cert, sizeof t->cert, "/etc/ztna/%s.pem", role);
  snprintf(t->key, sizeof t->key, "/etc/ztna/%s.key", role);
}

void zt_intermediate_config_defaults(struct zt_intermediate_config *c) {
  memset(c, 0, sizeof *c);
  zt_netaddr_parse("0.0.0.0", ZT_DEFAULT_PORT, &c->listen, &c->listen_len);
  tls_defaults(&c->tls, "intermediate");
  c->agent_pool = 0x64400000; /* 100.64.0.0/16, in RFC 6598 shared space */
  c->agent_pool_len = 16;
  c->log_level = ZT_LOG_INFO;
  c->congestion_control = ZT_CC_DEFAULT;
  snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/ztna");
  c->ctrl_backlog_max = ZT_CTRL_BACKLOG_MAX;
  c->stun_port = -1;
  c->dashboard_tls = -1;
  c->udp_receive_buffer = ZT_IM_UDP_RCVBUF;
  c->workers = 1;
}

void zt_connector_config_defaults(struct zt_connector_config *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->intermediate_name, sizeof c->intermediate_name, "intermediate");
  tls_defaults(&c->tls, "connector");
  snprintf(c->tun, sizeof c->tun, "ztna-c0");
  c->agent_pool = 0x64400000; /* 100.64.0.0/16: the Intermediate's default */
  c->agent_pool_len = 16;
  c->log_level = ZT_LOG_INFO;
  c->congestion_control = ZT_CC_DEFAULT;
  c->direct = true;
  c->tun_offload = true;
}

void zt_agent_config_defaults(struct zt_agent_config *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->intermediate_name, sizeof c->intermediate_name, "intermediate");
  tls_defaults(&c->tls, "agent");
  snprintf(c->tun, sizeof c->tun, "ztna0");
  c->service_range = 0x0a640000; /* 10.100.0.0/16: see config.h */
  c->service_range_len = 16;
  c->log_level = ZT_LOG_INFO;
  c->congestion_control = ZT_CC_DEFAULT;
  c->direct = true;
  c->tun_offload = true;
  snprintf(c->dns_domain, sizeof c->dns_domain, "%s", ZT_DNS_DEFAULT_DOMAIN);
  c->dns_address = ZT_DNS_DEFAULT_ADDR;
  c->dns_resolved = true;
}

/* ---- policy document (policy.h, docs/policy.md) ------------------------- */

/* Parsing state: the snapshot being filled and, for rules, which of
 * "agent" and "group" the current one named. */
struct pdoc {
  struct zt_policy *p;
  const struct zt_json *rule_subject;
};

static const char *const pgroup_keys[] = {"name", "agents", NULL};

static int pgroup_member(const struct ctx *cx, void *ud, unsigned which,
                         const struct zt_json *v, const char *kp) {
  struct zt_policy *p = ((struct pdoc *)ud)->p;
  struct zt_policy_group *g = &p->groups[p->n_groups];
  char ekp[KP_MAX];
  if (which == 0) {
    if (set_name(cx, v, kp, g->name) != 0)
      return -1;
    if (zt_policy_find_group(p, g->name) >= 0)
      return cfail(cx, v->line, kp, "group '%s' is defined twice", g->name);
    return 0;
  }
  if (want_array(cx, v, kp, ZT_POLICY_MAX_MEMBERS, "agents") != 0)
    return -1;
  for (size_t i = 0; i < v->n; i++) {
    kp_printf(ekp, "%s[%zu]", kp, i);
    if (set_name(cx, &v->items[i], ekp, g->agents[i]) != 0)
      return -1;
    for (size_t j = 0; j < i; j++)
      if (strcmp(g->agents[j], g->agents[i]) == 0)
        return cfail(cx, v->items[i].line, ekp, "agent '%s' is listed twice",
                     g->agents[i]);
    g->n_agents++;
  }
  return 0;
}

static const char *const pservice_keys[] = {"name",  "address",    "connector",
                                            "ports", "connectors", NULL};

/* "connector": NAME or "connectors": [NAME, ...], one of the two. */
static int pservice_connector(const struct ctx *cx, const struct zt_json *v,
                              const char *kp, struct zt_policy_service *s) {
  if (s->n_connectors)
    return cfail(cx, v->line, kp,
                 "give \"connector\" or \"connectors\", not both");
  if (set_name(cx, v, kp, s->connectors[0]) != 0)
    return -1;
  s->n_connectors = 1;
  return 0;
}

static int pservice_connectors(const struct ctx *cx, const struct zt_json *v,
                               const char *kp, struct zt_policy_service *s) {
  char ekp[KP_MAX];
  if (s->n_connectors)
    return cfail(cx, v->line, kp,
                 "give \"connector\" or \"connectors\", not both");
  if (want_array(cx, v, kp, ZT_POLICY_MAX_CONNECTORS, "connectors") != 0)
    return -1;
  if (v->n == 0)
    return cfail(cx, v->line, kp, "empty: name at least one connector");
  for (size_t i = 0; i < v->n; i++) {
    kp_printf(ekp, "%s[%zu]", kp, i);
    if (set_name(cx, &v->items[i], ekp, s->connectors[i]) != 0)
      return -1;
    if (zt_policy_names_connector(s, s->connectors[i]))
      return cfail(cx, v->items[i].line, ekp, "connector '%s' is listed twice",
                   s->connectors[i]);
    s->n_connectors++;
  }
  return 0;
}

static int pservice_member(const struct ctx *cx, void *ud, unsigned which,
                           const struct zt_json *v, const char *kp) {
  struct zt_policy *p = ((struct pdoc *)ud)->p;
  struct zt_policy_service *s = &p->services[p->n_services];
  switch (which) {
  case 0:
    if (set_name(cx, v, kp, s->name) != 0)
      return -1;
    if (zt_policy_find_service(p, s->name) >= 0)
      return cfail(cx, v->line, kp, "service '%s' is configured twice",
                   s->name);
    return 0;
  case 1:
    s->line = v->line;
    if (get_ip4(cx, v, kp, false, &s->address) != 0)
      return -1;
    for (size_t j = 0; j < p->n_services; j++)
      if (p->services[j].address == s->address)
        return cfail(cx, v->line, kp,
                     "%s is already the address of service '%s'", v->str,
                     p->services[j].name);
    return 0;
  case 2:
    return pservice_connector(cx, v, kp, s);
  case 3:
    return set_port_rules(cx, v, kp, s->ports, &s->n_ports);
  default:
    return pservice_connectors(cx, v, kp, s);
  }
}

static const char *const prule_keys[] = {"agent",  "group", "services",
                                         "ports",  "action", NULL};

static int prule_member(const struct ctx *cx, void *ud, unsigned which,
                        const struct zt_json *v, const char *kp) {
  struct pdoc *d = ud;
  struct zt_policy *p = d->p;
  struct zt_policy_rule *r = &p->rules[p->n_rules];
  char ekp[KP_MAX], shown[SHOW_MAX];
  r->line = v->line;
  if (which <= 1 && d->rule_subject)
    return cfail(cx, v->line, kp,
                 "a rule names one subject: \"agent\" or \"group\", not both");
  switch (which) {
  case 0:
    d->rule_subject = v;
    if (v->type == ZT_JSON_STRING && v->len == 1 && v->str[0] == '*') {
      r->subject = ZT_SUBJECT_EVERYONE;
      return 0;
    }
    r->subject = ZT_SUBJECT_AGENT;
    return set_name(cx, v, kp, r->agent);
  case 1: {
    char name[ZT_NAME_MAX + 1];
    d->rule_subject = v;
    if (set_name(cx, v, kp, name) != 0)
      return -1;
    int g = zt_policy_find_group(p, name);
    if (g < 0)
      return cfail(cx, v->line, kp, "no group named '%s'", name);
    r->subject = ZT_SUBJECT_GROUP;
    r->group = (uint8_t)g;
    return 0;
  }
  case 2:
    if (want_array(cx, v, kp, ZT_MAX_SERVICES, "services") != 0)
      return -1;
    if (v->n == 0)
      return cfail(cx, v->line, kp, "empty: list the services it is about");
    for (size_t i = 0; i < v->n; i++) {
      char name[ZT_NAME_MAX + 1];
      kp_printf(ekp, "%s[%zu]", kp, i);
      if (set_name(cx, &v->items[i], ekp, name) != 0)
        return -1;
      int s = zt_policy_find_service(p, name);
      if (s < 0)
        return cfail(cx, v->items[i].line, ekp, "no service named '%s'", name);
      for (size_t j = 0; j < i; j++)
        if (r->services[j] == s)
          return cfail(cx, v->items[i].line, ekp,
                       "service '%s' is listed twice", name);
      r->services[r->n_services++] = (uint8_t)s;
    }
    return 0;
  case 3:
    return set_port_rules(cx, v, kp, r->ports, &r->n_ports);
  default: {
    const char *s = get_str(cx, v, kp);
    if (!s)
      return -1;
    if (strcmp(s, "allow") != 0 && strcmp(s, "deny") != 0)
      return cfail(cx, v->line, kp, "expected \"allow\" or \"deny\": '%s'",
                   show(v->str, v->len, shown));
    r->deny = s[0] == 'd';
    return 0;
  }
  }
}

/* Is port rule q inside one of the service's own (a service without ports
 * offers everything)? */
static bool port_within(const struct zt_policy_service *s,
                        const struct zt_port_rule *q) {
  if (s->n_ports == 0)
    return true;
  for (size_t i = 0; i < s->n_ports; i++)
    if (s->ports[i].proto == q->proto && q->lo >= s->ports[i].lo &&
        q->hi <= s->ports[i].hi)
      return true;
  return false;
}

/* What walk_object cannot say about a rule once its members are read. */
static int prule_check(const struct ctx *cx, const struct zt_json *obj,
                       const char *kp, const struct pdoc *d) {
  const struct zt_policy *p = d->p;
  const struct zt_policy_rule *r = &p->rules[p->n_rules];
  char ekp[KP_MAX], rule[32];
  if (!d->rule_subject)
    return cfail(cx, obj->line, kp,
                 "missing: \"agent\" (a name or \"*\") or \"group\"");
  if (!r->n_services) {
    kp_printf(ekp, "%s.services", kp);
    return cfail(cx, obj->line, ekp, "missing");
  }
  if (r->deny && r->n_ports) {
    kp_printf(ekp, "%s.ports", kp);
    return cfail(cx, obj->line, ekp,
                 "a deny rule takes no ports: it refuses the whole service");
  }
  for (size_t k = 0; k < r->n_ports; k++)
    for (size_t i = 0; i < r->n_services; i++) {
      const struct zt_policy_service *s = &p->services[r->services[i]];
      if (port_within(s, &r->ports[k]))
        continue;
      kp_printf(ekp, "%s.ports[%zu]", kp, k);
      return cfail(cx, obj->line, ekp,
                   "%s is not among the ports of service '%s'",
                   zt_port_rule_str(&r->ports[k], rule, sizeof rule), s->name);
    }
  return 0;
}

static int prules(const struct ctx *cx, struct pdoc *d,
                  const struct zt_json *v, const char *kp) {
  char ekp[KP_MAX];
  if (want_array(cx, v, kp, ZT_POLICY_MAX_RULES, "rules") != 0)
    return -1;
  for (size_t i = 0; i < v->n; i++) {
    kp_printf(ekp, "%s[%zu]", kp, i);
    memset(&d->p->rules[i], 0, sizeof(d->p->rules[i]));
    d->rule_subject = NULL;
    if (walk_object(cx, &v->items[i], ekp, prule_keys, NONE_REQUIRED,
                    prule_member, d) != 0 ||
        prule_check(cx, &v->items[i], ekp, d) != 0)
      return -1;
    d->p->n_rules++;
  }
  return 0;
}

static const char *const pdoc_keys[] = {"groups", "services", "rules", NULL};

/* Groups and services first, wherever they are in the file: rules name
 * them. */
static int pdoc_member(const struct ctx *cx, void *ud, unsigned which,
                       const struct zt_json *v, const char *kp) {
  struct pdoc *d = ud;
  struct zt_policy *p = d->p;
  if (which == 0)
    return walk_array(cx, v, kp, ZT_POLICY_MAX_GROUPS, "groups", pgroup_keys,
                      ALL_REQUIRED, pgroup_member, d, p->groups,
                      sizeof p->groups[0], &p->n_groups);
  if (which == 1) {
    char ekp[KP_MAX];
    if (walk_array(cx, v, kp, ZT_MAX_SERVICES, "services", pservice_keys,
                   1u /* name; address from service_pool when absent */,
                   pservice_member, d, p->services, sizeof p->services[0],
                   &p->n_services) != 0)
      return -1;
    for (size_t i = 0; i < p->n_services; i++) {
      if (!p->services[i].n_connectors) {
        kp_printf(ekp, "%s[%zu].connector", kp, i);
        return cfail(cx, v->items[i].line, ekp, "missing");
      }
      /* No address: one from service_pool later (policyfile.c checks there
       * is one, svcpool.c allocates). */
      if (!p->services[i].address) {
        p->services[i].allocated = true;
        p->services[i].line = v->items[i].line;
      }
    }
  }
  return 0;
}

int zt_policy_parse(struct zt_policy *p, const char *path, const char *text,
                    size_t len, char *err, size_t errlen) {
  struct ctx cx;
  struct pdoc d = {.p = p};
  ctx_init(&cx, path, err, errlen);
  memset(p, 0, sizeof(*p));
  struct zt_json *root = parse_root(&cx, text, len);
  if (!root)
    return -1;
  int r = walk_object(&cx, root, "", pdoc_keys, NONE_REQUIRED, pdoc_member, &d);
  const struct zt_json *rules = zt_json_get(root, "rules");
  if (r == 0 && rules)
    r = prules(&cx, &d, rules, "rules");
  zt_json_free(root);
  return r;
}

/* ---- files -------------------------------------------------------------- */

typedef int (*parse_fn)(void *c, const char *path, const char *text, size_t len,
                        char *err, size_t errlen);

static int load(void *c, parse_fn parse, const char *path, char *err,
                size_t errlen) {
  char dummy[1];
  if (!err || !errlen) {
    err = dummy;
    errlen = sizeof dummy;
  }
  size_t len;
  char *text = zt_file_read(path, CONFIG_FILE_MAX, &len, err, errlen);
  if (!text)
    return -1;
  int r = parse(c, path, text, len, err, errlen);
  free(text);
  return r;
}

static int im_parse(void *c, const char *path, const char *text, size_t len,
                    char *err, size_t errlen) {
  return zt_intermediate_config_parse(c, path, text, len, err, errlen);
}

static int conn_parse(void *c, const char *path, const char *text, size_t len,
                      char *err, size_t errlen) {
  return zt_connector_config_parse(c, path, text, len, err, errlen);
}

static int agent_parse(void *c, const char *path, const char *text, size_t len,
                       char *err, size_t errlen) {
  return zt_agent_config_parse(c, path, text, len, err, errlen);
}

static int policy_parse(void *p, const char *path, const char *text,
                        size_t len, char *err, size_t errlen) {
  return zt_policy_parse(p, path, text, len, err, errlen);
}

int zt_policy_load(struct zt_policy *p, const char *path, char *err,
                   size_t errlen) {
  return load(p, policy_parse, path, err, errlen);
}

int zt_intermediate_config_load(struct zt_intermediate_config *c,
                                const char *path, char *err, size_t errlen) {
  return load(c, im_parse, path, err, errlen);
}

int zt_connector_config_load(struct zt_connector_config *c, const char *path,
                             char *err, size_t errlen) {
  return load(c, conn_parse, path, err, errlen);
}

int zt_agent_config_load(struct zt_agent_config *c, const char *path, char *err,
                         size_t errlen) {
  return load(c, agent_parse, path, err, errlen);
}

/* ---- the Intermediate's policy, from either form ------------------------ */

void zt_policy_from_inline(struct zt_policy *p,
                           const struct zt_intermediate_config *c) {
  /* The inline form was checked when the file was read: copied as is. */
  memset(p, 0, sizeof(*p));
  for (size_t i = 0; i < c->n_services; i++) {
    struct zt_policy_service *s = &p->services[p->n_services++];
    snprintf(s->name, sizeof s->name, "%s", c->services[i].name);
    snprintf(s->connectors[0], sizeof s->connectors[0], "%s",
             c->services[i].connector);
    s->n_connectors = 1;
    s->address = c->services[i].address;
    s->allocated = !s->address;
  }
  for (size_t i = 0; i < c->n_policy && i < ZT_POLICY_MAX_RULES; i++) {
    struct zt_policy_rule *r = &p->rules[p->n_rules++];
    if (strcmp(c->policy[i].agent, "*") == 0)
      r->subject = ZT_SUBJECT_EVERYONE;
    else
      r->subject = ZT_SUBJECT_AGENT;
    snprintf(r->agent, sizeof r->agent, "%s", c->policy[i].agent);
    for (size_t j = 0; j < c->policy[i].n_services; j++) {
      int s = zt_policy_find_service(p, c->policy[i].services[j]);
      if (s >= 0)
        r->services[r->n_services++] = (uint8_t)s;
    }
  }
}

int zt_policy_from_config(struct zt_policy *p,
                          const struct zt_intermediate_config *c, char *err,
                          size_t errlen) {
  if (c->policy_file[0])
    return zt_policy_load(p, c->policy_file, err, errlen);
  zt_policy_from_inline(p, c);
  if (err && errlen)
    err[0] = 0;
  return 0;
}

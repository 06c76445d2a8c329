/* The audit log. See audit.h and docs/audit.md. */
#include "audit.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ippkt.h"
#include "jsonw.h"
#include "netaddr.h"
#include "ratelimit.h"
#include "strbuf.h"
#include "wire.h"

/* Room for every field at its longest (names of ZT_NAME_MAX, a reason of
 * up to ~1 KB, an IPv6 address), even escaped (a byte can become six). A line that
 * still does not fit would be cut, invalid JSON: it is counted as a write
 * error instead of written. */
#define LINE_MAX_LEN 8192

static zt_audit_sink sink;
static void *sink_ud;
static uint64_t (*clock_fn)(void);
static struct zt_audit_stats stats;
/* The denials a peer can cause as often as it likes (packets, SESSION_OPEN
 * requests) pass a budget, one per kind for the whole node: a per-peer
 * budget would let many peers flood together; one for all keeps the
 * file's growth bounded, and the suppressed count says how much is
 * missing. */
struct limiter {
  struct zt_bucket bucket;
  uint64_t suppressed;
  const char *event; /* what it limits */
};
static struct limiter packet_limit = {.event = "packet_denied"};
static struct limiter session_limit = {.event = "session"};

static uint64_t realtime_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

bool zt_audit_enabled(void) { return sink != NULL; }

void zt_audit_set_clock(uint64_t (*now_ns)(void)) { clock_fn = now_ns; }

const struct zt_audit_stats *zt_audit_get_stats(void) { return &stats; }

void zt_audit_reset_stats(void) {
  memset(&stats, 0, sizeof(stats));
  packet_limit.bucket.tat = session_limit.bucket.tat = 0;
  packet_limit.suppressed = session_limit.suppressed = 0;
}

const char *zt_audit_status(char *buf, size_t len) {
  if (!sink)
    snprintf(buf, len, "%s", "");
  else
    snprintf(buf, len, "audit lines %llu write_errors %llu suppressed %llu",
             (unsigned long long)stats.lines,
             (unsigned long long)stats.write_errors,
             (unsigned long long)stats.suppressed);
  return buf;
}

static void opt_str(struct zt_jsonw *w, const char *key, const char *s) {
  if (s)
    zt_jsonw_str(w, key, s);
  else
    zt_jsonw_null(w, key);
}

/* RFC 3339, UTC, milliseconds: 2026-11-29T15:36:55.123Z */
static void write_ts(struct zt_strbuf *sb, uint64_t ns) {
  time_t secs = (time_t)(ns / 1000000000ULL);
  struct tm tm;
  gmtime_r(&secs, &tm);
  zt_strbuf_printf(sb, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03uZ\"",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                   tm.tm_min, tm.tm_sec,
                   (unsigned)(ns % 1000000000ULL / 1000000ULL));
}

static size_t format(const struct zt_audit_event *e, uint64_t count,
                     uint64_t ts_ns, char *buf, size_t len) {
  struct zt_strbuf sb;
  struct zt_jsonw w;
  char identity[ZT_NAME_MAX + 32];
  zt_strbuf_init(&sb, buf, len);
  zt_jsonw_init(&w, &sb);
  zt_jsonw_begin_object(&w, NULL);
  /* ts by hand: jsonw has no raw member, and the timestamp needs no
   * escaping. The object is still empty, so no comma. */
  zt_strbuf_printf(&sb, "\"ts\":");
  write_ts(&sb, ts_ns);
  w.first[w.depth] = false;
  zt_jsonw_str(&w, "event", e->event);
  if (e->name && e->name[0]) {
    snprintf(identity, sizeof(identity), "%s/%s", zt_role_name(e->role),
             e->name);
    zt_jsonw_str(&w, "identity", identity);
  } else {
    zt_jsonw_null(&w, "identity");
  }
  opt_str(&w, "source", e->source);
  opt_str(&w, "service", e->service);
  opt_str(&w, "connector", e->connector);
  if (e->port >= 0)
    zt_jsonw_u64(&w, "port", (uint64_t)e->port);
  else
    zt_jsonw_null(&w, "port");
  opt_str(&w, "proto", e->proto);
  zt_jsonw_str(&w, "decision", e->allow ? "allow" : "deny");
  opt_str(&w, "rule", e->rule);
  opt_str(&w, "reason", e->reason);
  if (count)
    zt_jsonw_u64(&w, "count", count);
  zt_jsonw_end_object(&w);
  zt_strbuf_printf(&sb, "\n");
  return sb.off;
}

static void write_line(const struct zt_audit_event *e, uint64_t count) {
  char line[LINE_MAX_LEN];
  if (!sink)
    return;
  size_t n = format(e, count, (clock_fn ? clock_fn : realtime_ns)(), line,
                    sizeof(line));
  if (n >= sizeof(line) || sink(line, n, sink_ud) != 0) {
    stats.write_errors++;
    return;
  }
  stats.lines++;
}

void zt_audit_emit(const struct zt_audit_event *e) { write_line(e, 0); }

/* "N lines of this kind were not written": before the next one that is,
 * and when the sink changes (at exit). */
static void write_suppressed(struct limiter *l) {
  if (!l->suppressed)
    return;
  struct zt_audit_event e = {.event = "suppressed", .port = -1,
                             .rule = l->event,
                             .reason = "denials over the rate limit; count "
                                       "says how many"};
  write_line(&e, l->suppressed);
  l->suppressed = 0;
}

/* May a line of this kind be written now? */
static bool limiter_pass(struct limiter *l, uint64_t now) {
  if (!zt_bucket_take(&l->bucket, now, ZT_AUDIT_DENY_RATE,
                      ZT_AUDIT_DENY_BURST)) {
    l->suppressed++;
    stats.suppressed++;
    return false;
  }
  write_suppressed(l);
  return true;
}

void zt_audit_set_sink(zt_audit_sink s, void *ud) {
  write_suppressed(&packet_limit);
  write_suppressed(&session_limit);
  sink = s;
  sink_ud = ud;
}

static const char *addr_str(const struct sockaddr *sa, char *buf, size_t len) {
  return sa ? zt_netaddr_str(sa, buf, len) : NULL;
}

void zt_audit_auth(enum zt_role role, const char *name,
                   const struct sockaddr *src, bool allow, const char *reason) {
  char a[64];
  if (!sink)
    return;
  struct zt_audit_event e = {.event = "auth", .role = role, .name = name,
                             .source = addr_str(src, a, sizeof(a)),
                             .port = -1, .allow = allow,
                             .rule = "certificate", .reason = reason};
  zt_audit_emit(&e);
}

void zt_audit_hello(enum zt_role role, const char *name,
                    const struct sockaddr *src, bool allow,
                    const char *reason) {
  char a[64];
  if (!sink)
    return;
  struct zt_audit_event e = {.event = "hello", .role = role, .name = name,
                             .source = addr_str(src, a, sizeof(a)),
                             .port = -1, .allow = allow, .reason = reason};
  zt_audit_emit(&e);
}

void zt_audit_register(const char *connector, const struct sockaddr *src,
                       const char *service, bool allow, const char *reason) {
  char a[64];
  if (!sink)
    return;
  struct zt_audit_event e = {
      .event = "register", .role = ZT_ROLE_CONNECTOR, .name = connector,
      .source = addr_str(src, a, sizeof(a)), .service = service,
      .connector = connector, .port = -1, .allow = allow,
      .rule = "services", .reason = reason};
  zt_audit_emit(&e);
}

void zt_audit_session(uint64_t now, const char *agent,
                      const struct sockaddr *src, const char *service,
                      const char *connector, bool allow, const char *rule,
                      const char *reason) {
  char a[64];
  if (!sink || (!allow && !limiter_pass(&session_limit, now)))
    return;
  struct zt_audit_event e = {
      .event = "session", .role = ZT_ROLE_AGENT, .name = agent,
      .source = addr_str(src, a, sizeof(a)), .service = service,
      .connector = connector, .port = -1, .allow = allow, .rule = rule,
      .reason = reason};
  zt_audit_emit(&e);
}

void zt_audit_session_new(const char *agent, uint32_t agent_ip, bool allow,
                          const char *reason) {
  char a[16];
  if (!sink)
    return;
  struct zt_audit_event e = {
      .event = "session_new", .role = ZT_ROLE_AGENT, .name = agent,
      .source = zt_ip4_str(agent_ip, a), .port = -1, .allow = allow,
      .rule = allow ? "intermediate" : "agent_pool", .reason = reason};
  zt_audit_emit(&e);
}

void zt_audit_packet_denied(uint64_t now, const char *agent,
                            const struct zt_ip_info *ip, const char *service,
                            const char *reason) {
  char a[16], src[32];
  if (!sink || !limiter_pass(&packet_limit, now))
    return;
  snprintf(src, sizeof(src), "%s:%u", zt_ip4_str(ip->src, a), ip->sport);
  struct zt_audit_event e = {
      .event = "packet_denied", .role = ZT_ROLE_AGENT, .name = agent,
      .source = src, .service = service,
      .port = ip->l4_ok && ip->proto != 1 ? ip->dport : -1,
      .proto = zt_ip_proto_name(ip->proto), .allow = false,
      .rule = "connector", .reason = reason};
  zt_audit_emit(&e);
}

void zt_audit_reload(const char *what, bool applied, const char *reason) {
  struct zt_audit_event e = {.event = "reload", .port = -1, .allow = applied,
                             .rule = what, .reason = reason};
  zt_audit_emit(&e);
}

void zt_audit_revoke_crl(enum zt_role role, const char *name,
                         const struct sockaddr *src, const char *crl_file,
                         const char *reason) {
  char rule[300];
  if (!sink)
    return;
  snprintf(rule, sizeof(rule), "crl %s", crl_file);
  zt_audit_revoke(role, name, src, rule, reason);
}

void zt_audit_revoke(enum zt_role role, const char *name,
                     const struct sockaddr *src, const char *rule,
                     const char *reason) {
  char a[64];
  if (!sink)
    return;
  struct zt_audit_event e = {.event = "revoke", .role = role, .name = name,
                             .source = addr_str(src, a, sizeof(a)),
                             .port = -1, .allow = false, .rule = rule,
                             .reason = reason};
  zt_audit_emit(&e);
}

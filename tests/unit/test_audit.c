/* The audit log's lines: the schema (every field, its type), escaping of
 * hostile strings, the rate limit of packet denials and its summary. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "audit.h"
#include "ippkt.h"
#include "json.h"
#include "test.h"

/* The memory sink: lines captured in order. */
#define MAX_LINES 256
static char lines[MAX_LINES][4096];
static size_t n_lines;
static int fail_writes;

static int mem_sink(const char *line, size_t len, void *ud) {
  (void)ud;
  if (fail_writes)
    return -1;
  if (n_lines < MAX_LINES && len < sizeof(lines[0])) {
    memcpy(lines[n_lines], line, len);
    lines[n_lines][len] = 0;
  }
  n_lines++;
  return 0;
}

/* 2026-11-29T15:36:55.123Z */
static uint64_t fixed_clock(void) { return 1795966615123456789ULL; }

static void start(void) {
  n_lines = 0;
  fail_writes = 0;
  zt_audit_reset_stats();
  zt_audit_set_clock(fixed_clock);
  zt_audit_set_sink(mem_sink, NULL);
}

static void stop(void) {
  zt_audit_set_sink(NULL, NULL);
  zt_audit_set_clock(NULL);
}

static const char *const string_fields[] = {"identity", "source", "service",
                                            "connector", "proto", "rule",
                                            "reason"};

/* Line i parsed back: one JSON object ending in exactly one newline, with
 * every documented field of its type (string or null; port number or null;
 * decision allow/deny). The caller frees. */
static struct zt_json *parsed(size_t i) {
  char err[128];
  if (i >= MAX_LINES)
    return NULL;
  size_t len = strlen(lines[i]);
  if (len == 0 || lines[i][len - 1] != '\n' || memchr(lines[i], '\n', len - 1))
    return NULL;
  struct zt_json *j = zt_json_parse(lines[i], len, err, sizeof(err));
  if (!j)
    return NULL;
  const struct zt_json *v;
  bool ok = j->type == ZT_JSON_OBJECT;
  ok = ok && (v = zt_json_get(j, "ts")) && v->type == ZT_JSON_STRING;
  ok = ok && (v = zt_json_get(j, "event")) && v->type == ZT_JSON_STRING;
  ok = ok && (v = zt_json_get(j, "decision")) && v->type == ZT_JSON_STRING &&
       (!strcmp(v->str, "allow") || !strcmp(v->str, "deny"));
  ok = ok && (v = zt_json_get(j, "port")) &&
       (v->type == ZT_JSON_NULL || (v->type == ZT_JSON_NUMBER && v->is_int &&
                                    v->integer >= 0 && v->integer <= 65535));
  for (size_t k = 0; ok && k < sizeof(string_fields) / sizeof(*string_fields);
       k++)
    ok = (v = zt_json_get(j, string_fields[k])) &&
         (v->type == ZT_JSON_STRING || v->type == ZT_JSON_NULL);
  if (!ok) {
    zt_json_free(j);
    return NULL;
  }
  return j;
}

static const char *str(const struct zt_json *j, const char *key) {
  const struct zt_json *v = zt_json_get(j, key);
  return v && v->type == ZT_JSON_STRING ? v->str : "(null)";
}

static struct sockaddr_in v4(const char *ip, uint16_t port) {
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, ip, &sin.sin_addr);
  return sin;
}

static void test_every_event_has_the_schema(void) {
  struct sockaddr_in src = v4("198.51.100.7", 50000);
  const struct sockaddr *sa = (const struct sockaddr *)&src;
  struct zt_ip_info ip = {.proto = 6, .src = 0x64400002, .sport = 40000,
                          .dport = 22, .l4_ok = 1};
  start();
  zt_audit_auth(ZT_ROLE_AGENT, "alice", sa, true, NULL);
  zt_audit_auth(ZT_ROLE_NONE, NULL, sa, false, "certificate not signed by the CA");
  zt_audit_hello(ZT_ROLE_AGENT, "alice", sa, true, NULL);
  zt_audit_register("conn-a", sa, "web", true, NULL);
  zt_audit_session(1, "alice", sa, "web", "conn-a", true, "policy[0]", NULL);
  zt_audit_session_new("alice", 0x64400002, false, "address outside agent_pool");
  zt_audit_packet_denied(1, "alice", &ip, "web", "no port rule");
  zt_audit_reload("policy.json", true, "3 rules");
  zt_audit_revoke(ZT_ROLE_AGENT, "bob", NULL, "crl ca.crl", "serial 0a");
  stop();
  CHECK_EQ_INT(n_lines, 9);
  CHECK_EQ_INT(zt_audit_get_stats()->lines, 9);
  static const char *const events[] = {"auth",        "auth",     "hello",
                                       "register",    "session",  "session_new",
                                       "packet_denied", "reload", "revoke"};
  for (size_t i = 0; i < n_lines; i++) {
    struct zt_json *j = parsed(i);
    CHECK(j != NULL);
    bool ev = !strcmp(str(j, "event"), events[i]);
    bool ts = !strcmp(str(j, "ts"), "2026-11-29T15:36:55.123Z");
    zt_json_free(j);
    CHECK(ev);
    CHECK(ts);
  }
  struct zt_json *j = parsed(0);
  CHECK(j != NULL);
  bool ok = !strcmp(str(j, "identity"), "agent/alice") &&
            !strcmp(str(j, "source"), "198.51.100.7:50000") &&
            !strcmp(str(j, "decision"), "allow");
  zt_json_free(j);
  CHECK(ok);
  j = parsed(1);
  CHECK(j != NULL);
  ok = zt_json_get(j, "identity")->type == ZT_JSON_NULL &&
       zt_json_get(j, "service")->type == ZT_JSON_NULL &&
       !strcmp(str(j, "decision"), "deny");
  zt_json_free(j);
  CHECK(ok);
  j = parsed(6);
  CHECK(j != NULL);
  ok = !strcmp(str(j, "identity"), "agent/alice") &&
       !strcmp(str(j, "source"), "100.64.0.2:40000") &&
       !strcmp(str(j, "service"), "web") && !strcmp(str(j, "proto"), "tcp") &&
       zt_json_get(j, "port")->integer == 22 &&
       !strcmp(str(j, "decision"), "deny") &&
       !strcmp(str(j, "reason"), "no port rule");
  zt_json_free(j);
  CHECK(ok);
}

/* Reasons come from peers (TLS alerts, CONNECTION_CLOSE reasons) and
 * reload errors quote files: nothing in them may end the line, forge a
 * field or break the JSON. */
static void test_hostile_strings_escaped(void) {
  static const char hostile[] =
      "x\"}\n{\"event\":\"auth\",\"decision\":\"allow\"\r\x1b[31m\\\xff\xc0";
  start();
  zt_audit_reload(hostile, false, hostile);
  zt_audit_session(1, "alice", NULL, hostile, hostile, false, hostile,
                   hostile);
  stop();
  CHECK_EQ_INT(n_lines, 2);
  for (size_t i = 0; i < n_lines; i++) {
    CHECK(!strchr(lines[i], '\r') && !strchr(lines[i], 0x1b));
    struct zt_json *j = parsed(i);
    CHECK(j != NULL);
    /* The escaped string decodes to the original, bad UTF-8 replaced. */
    bool same = !strncmp(str(j, "reason"), hostile, strlen(hostile) - 2) &&
                !strcmp(str(j, "decision"), "deny") &&
                !strcmp(str(j, "event"), i ? "session" : "reload");
    zt_json_free(j);
    CHECK(same);
  }
}

/* Past the burst, packet denials are counted, not written; the next one
 * written is preceded by a summary line with the count. */
static void test_packet_denials_rate_limited(void) {
  struct zt_ip_info ip = {.proto = 17, .src = 0x64400002, .sport = 1,
                          .dport = 53, .l4_ok = 1};
  uint64_t t = 1000000000ULL;
  start();
  for (int i = 0; i < ZT_AUDIT_DENY_BURST + 30; i++)
    zt_audit_packet_denied(t, "alice", &ip, "dns", "no port rule");
  CHECK_EQ_INT(n_lines, ZT_AUDIT_DENY_BURST);
  CHECK_EQ_INT(zt_audit_get_stats()->suppressed, 30);
  /* A second later the bucket has room again. */
  zt_audit_packet_denied(t + 1000000000ULL, "alice", &ip, "dns", "again");
  CHECK_EQ_INT(n_lines, ZT_AUDIT_DENY_BURST + 2);
  struct zt_json *j = parsed(ZT_AUDIT_DENY_BURST);
  CHECK(j != NULL);
  const struct zt_json *count = zt_json_get(j, "count");
  bool ok = !strcmp(str(j, "event"), "suppressed") && count &&
            count->integer == 30;
  zt_json_free(j);
  CHECK(ok);
  j = parsed(ZT_AUDIT_DENY_BURST + 1);
  CHECK(j != NULL);
  ok = !strcmp(str(j, "reason"), "again") &&
       zt_json_get(j, "port")->integer == 53 && !strcmp(str(j, "proto"), "udp");
  zt_json_free(j);
  CHECK(ok);
  /* Session denials have a budget of their own, grants and other events
   * none. */
  size_t before = n_lines;
  for (int i = 0; i < 40; i++) {
    zt_audit_session(t, "alice", NULL, NULL, "c", false, "default deny", "x");
    zt_audit_session(t, "alice", NULL, "web", "c", true, "policy[0]", NULL);
    zt_audit_auth(ZT_ROLE_AGENT, "alice", NULL, true, NULL);
  }
  CHECK_EQ_INT(n_lines, before + ZT_AUDIT_DENY_BURST + 40 + 40);
  zt_audit_session(t + 1000000000ULL, "alice", NULL, NULL, "c", false, NULL,
                   "again");
  j = parsed(n_lines - 2);
  CHECK(j != NULL);
  ok = !strcmp(str(j, "event"), "suppressed") &&
       !strcmp(str(j, "rule"), "session") &&
       zt_json_get(j, "count")->integer == 40 - ZT_AUDIT_DENY_BURST;
  zt_json_free(j);
  CHECK(ok);
  stop();
}

/* Suppressed denials still pending are summed up when the sink goes (at
 * exit). */
static void test_suppressed_summed_at_close(void) {
  struct zt_ip_info ip = {.proto = 1, .src = 0x64400002};
  start();
  for (int i = 0; i < ZT_AUDIT_DENY_BURST + 5; i++)
    zt_audit_packet_denied(7, "alice", &ip, NULL, "not granted");
  stop();
  CHECK_EQ_INT(n_lines, ZT_AUDIT_DENY_BURST + 1);
  struct zt_json *j = parsed(ZT_AUDIT_DENY_BURST);
  CHECK(j != NULL);
  bool ok = !strcmp(str(j, "event"), "suppressed") &&
            zt_json_get(j, "count")->integer == 5;
  zt_json_free(j);
  CHECK(ok);
  j = parsed(0);
  CHECK(j != NULL);
  ok = zt_json_get(j, "port")->type == ZT_JSON_NULL &&
       !strcmp(str(j, "proto"), "icmp");
  zt_json_free(j);
  CHECK(ok);
}

/* A line too long for the buffer is counted, never written cut (it would
 * not be valid JSON). */
static void test_overlong_line_not_cut(void) {
  static char reason[10000];
  memset(reason, 0x80, sizeof(reason) - 1); /* each one \ufffd: 6 bytes */
  start();
  zt_audit_reload("SIGHUP", false, reason);
  reason[200] = 0;
  zt_audit_reload("SIGHUP", false, reason);
  stop();
  CHECK_EQ_INT(zt_audit_get_stats()->write_errors, 1);
  CHECK_EQ_INT(n_lines, 1);
  struct zt_json *j = parsed(0);
  CHECK(j != NULL);
  bool ok = strlen(str(j, "reason")) == 200 * 3; /* U+FFFD is 3 bytes */
  zt_json_free(j);
  CHECK(ok);
}

/* A sink that cannot write (a full disk) is counted, nothing more. */
static void test_write_errors_counted(void) {
  start();
  fail_writes = 1;
  zt_audit_reload("SIGHUP", true, NULL);
  zt_audit_auth(ZT_ROLE_AGENT, "a", NULL, true, NULL);
  CHECK_EQ_INT(zt_audit_get_stats()->write_errors, 2);
  CHECK_EQ_INT(zt_audit_get_stats()->lines, 0);
  char buf[128];
  CHECK_STR(zt_audit_status(buf, sizeof(buf)),
            "audit lines 0 write_errors 2 suppressed 0");
  stop();
}

/* Off (no sink): nothing is written and nothing counted. */
static void test_off_by_default(void) {
  zt_audit_reset_stats();
  CHECK(!zt_audit_enabled());
  zt_audit_auth(ZT_ROLE_AGENT, "a", NULL, true, NULL);
  zt_audit_reload("SIGHUP", true, NULL);
  CHECK_EQ_INT(zt_audit_get_stats()->lines, 0);
  CHECK_EQ_INT(zt_audit_get_stats()->write_errors, 0);
  char buf[128];
  CHECK_STR(zt_audit_status(buf, sizeof(buf)), "");
}

int main(void) {
  RUN(test_off_by_default);
  RUN(test_every_event_has_the_schema);
  RUN(test_hostile_strings_escaped);
  RUN(test_packet_denials_rate_limited);
  RUN(test_suppressed_summed_at_close);
  RUN(test_write_errors_counted);
  RUN(test_overlong_line_not_cut);
  return TEST_EXIT();
}

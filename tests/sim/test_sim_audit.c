/*
 * The audit log with the real nodes: a session granted, one denied by
 * policy, a register refused and a packet denied by a port rule each write
 * their line, captured through a memory sink. Mutants in tests/mutants.list
 * remove the emit calls from core/ and must make this fail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/test.h"
#include "audit.h"
#include "ippkt.h"
#include "json.h"
#include "wire.h"
#include "world.h"

#define MAX_LINES 256
static struct zt_json *lines[MAX_LINES];
static size_t n_lines, n_bad;

static int mem_sink(const char *line, size_t len, void *ud) {
  char err[128];
  (void)ud;
  struct zt_json *j = zt_json_parse(line, len, err, sizeof(err));
  if (!j || line[len - 1] != '\n' || n_lines == MAX_LINES) {
    n_bad++;
    zt_json_free(j);
    return 0;
  }
  lines[n_lines++] = j;
  return 0;
}

static void capture(void) {
  for (size_t i = 0; i < n_lines; i++)
    zt_json_free(lines[i]);
  n_lines = n_bad = 0;
  zt_audit_reset_stats();
  zt_audit_set_sink(mem_sink, NULL);
}

static const char *field(const struct zt_json *j, const char *key) {
  const struct zt_json *v = zt_json_get(j, key);
  return v && v->type == ZT_JSON_STRING ? v->str : NULL;
}

static bool eq(const struct zt_json *j, const char *key, const char *want) {
  const char *v = field(j, key);
  return want ? v && !strcmp(v, want) : !v;
}

/* The first line with these event, identity, decision and service (NULL:
 * any service), or NULL. */
static const struct zt_json *find(const char *event, const char *identity,
                                  const char *decision, const char *service) {
  for (size_t i = 0; i < n_lines; i++)
    if (eq(lines[i], "event", event) && eq(lines[i], "identity", identity) &&
        eq(lines[i], "decision", decision) &&
        (!service || eq(lines[i], "service", service)))
      return lines[i];
  return NULL;
}

static struct world *alice_up(void) {
  struct world *w = world_new(&pki.alice);
  if (!world_run(w, world_ready, 10 * SEC)) {
    world_free(w);
    return NULL;
  }
  sim_send_pings(&w->a[0], SIM_VIP, 3, 20 * MS);
  world_run(w, NULL, 500 * MS);
  if (w->a[0].rx != 3) {
    world_free(w);
    return NULL;
  }
  return w;
}

static void test_grant_lines(void) {
  capture();
  struct world *w = alice_up();
  CHECK(w);
  const struct zt_json *j;
  CHECK((j = find("auth", "agent/alice", "allow", NULL)));
  CHECK(field(j, "source") && strchr(field(j, "source"), ':'));
  CHECK(find("auth", "connector/conn-a", "allow", NULL));
  CHECK(find("hello", "agent/alice", "allow", NULL));
  CHECK((j = find("register", "connector/conn-a", "allow", "echo")));
  CHECK((j = find("session", "agent/alice", "allow", "echo")));
  CHECK(eq(j, "connector", "conn-a"));
  CHECK(eq(j, "rule", "rules[0]"));
  CHECK((j = find("session_new", "agent/alice", "allow", NULL)));
  CHECK(!find("session", "agent/alice", "deny", NULL));
  CHECK_EQ_INT(n_bad, 0);
  world_free(w);
  zt_audit_set_sink(NULL, NULL);
}

static bool both_registered(struct world *w) {
  return zt_connector_registered(w->c[0].conn) == 2 &&
         zt_agent_service_online(w->a[0].agent, SIM_VIP);
}

/* conn-a serves echo (granted to alice) and web (no rule: default deny). A
 * session to a connector with a service the agent holds no grant for:
 * the grant's line and a deny line for the other, "default deny". */
static void test_session_lists_ungranted_service(void) {
  capture();
  struct world *w = world_new_with(&pki.alice, world_echo_and_web);
  CHECK(world_run(w, both_registered, 10 * SEC));
  sim_send_pings(&w->a[0], SIM_VIP, 2, 20 * MS);
  world_run(w, NULL, 500 * MS);
  CHECK_EQ_INT(w->a[0].rx, 2);
  const struct zt_json *j;
  CHECK((j = find("session", "agent/alice", "allow", "echo")));
  CHECK(eq(j, "rule", "rules[0]"));
  CHECK((j = find("session", "agent/alice", "deny", "web")));
  CHECK(eq(j, "rule", "default deny"));
  CHECK(eq(j, "connector", "conn-a"));
  CHECK(eq(j, "reason", "not granted by policy"));
  CHECK(!find("session", "agent/alice", "allow", "web"));
  world_free(w);
  zt_audit_set_sink(NULL, NULL);
}

/* A raw peer with cert, once the world is up and its HELLO answered; the
 * audit lines captured from then on. NULL on failure. */
static struct raw_peer *raw_after_hello(struct world *w,
                                        const struct zt_pem *cert) {
  struct zt_ctrl_msg m = {.type = ZT_MSG_HELLO};
  m.u.hello.version = ZT_PROTOCOL_VERSION;
  struct raw_peer *r = world_run(w, world_ready, 10 * SEC)
                           ? raw_peer_new(w, cert, 50002)
                           : NULL;
  if (!r || raw_send_msg(r, &m) != 0)
    return NULL;
  world_run(w, NULL, 300 * MS);
  capture();
  return r;
}

/* bob, whom no policy entry names, asks for a session with conn-a. */
static void test_denial_line(void) {
  struct world *w = world_new(&pki.alice);
  struct raw_peer *r = raw_after_hello(w, &pki.bob);
  CHECK(r);
  struct zt_ctrl_msg m;
  m = (struct zt_ctrl_msg){.type = ZT_MSG_SESSION_OPEN};
  m.u.session_open.request_id = 1;
  snprintf(m.u.session_open.connector, sizeof(m.u.session_open.connector),
           "conn-a");
  CHECK_EQ_INT(raw_send_msg(r, &m), 0);
  world_run(w, NULL, 300 * MS);
  CHECK_EQ_INT(r->last[ZT_MSG_SESSION_READY].u.session_ready.status,
               ZT_ERR_NOT_ALLOWED);
  const struct zt_json *j = find("session", "agent/bob", "deny", NULL);
  CHECK(j);
  CHECK(eq(j, "connector", "conn-a"));
  CHECK(eq(j, "rule", "default deny"));
  CHECK(eq(j, "reason", "not allowed by policy"));
  CHECK(field(j, "source") != NULL);
  CHECK(!find("session", "agent/bob", "allow", NULL));
  world_free(w);
  zt_audit_set_sink(NULL, NULL);
}

/* conn-b registers echo, which is conn-a's. */
static void test_register_refused_line(void) {
  struct world *w = world_new(&pki.alice);
  struct raw_peer *r = raw_after_hello(w, &pki.conn_b);
  CHECK(r);
  struct zt_ctrl_msg m;
  m = (struct zt_ctrl_msg){.type = ZT_MSG_REGISTER};
  m.u.reg.n = 1;
  snprintf(m.u.reg.names[0], sizeof(m.u.reg.names[0]), "echo");
  CHECK_EQ_INT(raw_send_msg(r, &m), 0);
  world_run(w, NULL, 300 * MS);
  const struct zt_json *j = find("register", "connector/conn-b", "deny", "echo");
  CHECK(j);
  CHECK(eq(j, "reason", "configured for another connector"));
  world_free(w);
  zt_audit_set_sink(NULL, NULL);
}

/* An agent certificate from a foreign CA: the handshake is refused, with
 * no identity (none was proven) and TLS's reason. */
static void test_handshake_refused_line(void) {
  struct world *w = world_new(&pki.alice);
  CHECK(world_run(w, world_ready, 10 * SEC));
  capture();
  struct raw_peer *r = raw_peer_new(w, &pki.evil, 50002);
  world_run(w, NULL, 2 * SEC);
  (void)r;
  CHECK_EQ_INT(zt_intermediate_get_stats(w->im)->handshakes_refused, 1);
  const struct zt_json *j = find("auth", NULL, "deny", NULL);
  CHECK(j);
  CHECK(zt_json_get(j, "identity")->type == ZT_JSON_NULL);
  CHECK(field(j, "source") && field(j, "reason"));
  CHECK(!find("auth", "agent/alice", "allow", NULL));
  world_free(w);
  zt_audit_set_sink(NULL, NULL);
}

static bool conn_up(struct world *w) {
  return fake_im_peer(w->fake, ZT_ROLE_CONNECTOR, "conn-a") != NULL;
}

/* A (compromised) Intermediate announces alice at the connector LAN's
 * gateway address: the connector refuses the session, and says so. */
static void test_session_new_refused_line(void) {
  struct world *w = world_new(NULL);
  struct fake_im *f = fake_im_new(w);
  CHECK(world_run(w, conn_up, 5 * SEC));
  capture();
  struct zt_ctrl_msg m = {.type = ZT_MSG_SESSION_NEW};
  m.u.session_new.channel = 7;
  snprintf(m.u.session_new.agent, sizeof(m.u.session_new.agent), "alice");
  m.u.session_new.agent_ip = 0x0a140101u; /* 10.20.1.1 */
  m.u.session_new.n = 1;
  m.u.session_new.vips[0] = SIM_VIP;
  fake_im_send(f, fake_im_peer(f, ZT_ROLE_CONNECTOR, NULL), &m);
  world_run(w, NULL, 200 * MS);
  CHECK(fake_im_closed(f, 7));
  const struct zt_json *j = find("session_new", "agent/alice", "deny", NULL);
  CHECK(j);
  CHECK(eq(j, "source", "10.20.1.1"));
  CHECK(eq(j, "rule", "agent_pool"));
  world_free(w);
  zt_audit_set_sink(NULL, NULL);
}

/* alice sends to udp/8 of echo, which allows udp/7 only. */
static void test_packet_denied_line(void) {
  struct world *w = alice_up();
  CHECK(w);
  capture();
  uint8_t p[256];
  uint32_t tip = zt_agent_tunnel_addr(w->agent);
  size_t len = sim_build_udp(p, tip, SIM_VIP, 8, 32);
  zt_agent_feed_tun(w->agent, p, len, w->net.now);
  world_run(w, NULL, 200 * MS);
  CHECK_EQ_INT(zt_connector_get_stats(w->conn)->rx_not_allowed, 1);
  const struct zt_json *j = find("packet_denied", "agent/alice", "deny", "echo");
  CHECK(j);
  CHECK(eq(j, "proto", "udp"));
  const struct zt_json *port = zt_json_get(j, "port");
  CHECK(port && port->type == ZT_JSON_NUMBER && port->integer == 8);
  char want[32], ip[16];
  snprintf(want, sizeof(want), "%s:", zt_ip4_str(tip, ip));
  CHECK(field(j, "source") && !strncmp(field(j, "source"), want, strlen(want)));
  world_free(w);
  zt_audit_set_sink(NULL, NULL);
}

int main(void) {
  sim_log_init();
  sim_pki_init();
  RUN(test_grant_lines);
  RUN(test_session_lists_ungranted_service);
  RUN(test_denial_line);
  RUN(test_register_refused_line);
  RUN(test_packet_denied_line);
  RUN(test_handshake_refused_line);
  RUN(test_session_new_refused_line);
  capture(); /* frees the last lines */
  zt_audit_set_sink(NULL, NULL);
  sim_pki_free();
  return TEST_EXIT();
}

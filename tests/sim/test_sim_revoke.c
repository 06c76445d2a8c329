/*
 * Revocation and expiry of live identities, with the real Intermediate,
 * agent and connector in simulated time:
 *  - an agent whose certificate expires while connected is cut off at its
 *    not-after (a timer, not the next handshake);
 *  - the wall clock set three days forward cuts every connection whose
 *    peer certificate is then expired, within a minute;
 *  - an agent in the CRL is refused at the handshake, and both sides log
 *    why;
 *  - a reload with a CRL that revokes a connected agent closes it, and
 *    only it;
 *  - both write an audit line event=revoke naming the agent and the CRL.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../unit/test.h"
#include "audit.h"
#include "certexpiry.h"
#include "certgen.h"
#include "crl.h"
#include "agent.h"
#include "connector.h"
#include "intermediate.h"
#include "world.h"

/* A CRL signed by the world's CA that revokes `who`. */
static struct zt_crl *crl_revoking(const struct zt_pem *who) {
  struct zt_revocation r;
  char err[256], *pem = NULL;
  if (zt_cert_serial(who->cert, r.serial, &r.len, NULL, err, sizeof(err)) ||
      zt_crl_make(&pki.ca, &r, 1, (int64_t)time(NULL), 30, &pem, err,
                  sizeof(err))) {
    fprintf(stderr, "crl: %s\n", err);
    exit(1);
  }
  r.when = (int64_t)time(NULL);
  struct zt_crl *crl = zt_crl_from_pem(pem, pki.ca.cert, err, sizeof(err));
  free(pem);
  if (!crl) {
    fprintf(stderr, "crl: %s\n", err);
    exit(1);
  }
  return crl;
}

/* The audit lines, kept whole (a memory sink). */
static char audit_buf[1 << 16];
static size_t audit_len;
static int audit_sink(const char *line, size_t len, void *ud) {
  (void)ud;
  if (audit_len + len + 1 < sizeof(audit_buf)) {
    memcpy(audit_buf + audit_len, line, len);
    audit_len += len;
    audit_buf[audit_len] = 0;
  }
  return 0;
}
static void audit_capture(bool on) {
  audit_len = 0;
  audit_buf[0] = 0;
  zt_audit_set_sink(on ? audit_sink : NULL, NULL);
}
/* Some audit line holds both strings. */
static bool audit_line_has(const char *a, const char *b) {
  for (char *l = audit_buf; *l;) {
    char *nl = strchr(l, '\n');
    size_t n = nl ? (size_t)(nl - l) : strlen(l);
    if (memmem(l, n, a, strlen(a)) && memmem(l, n, b, strlen(b)))
      return true;
    l += n + (nl ? 1 : 0);
  }
  return false;
}

/* Alice with a certificate that expires 40 s from now (wall clock). */
static int64_t short_alice(struct zt_pem *out) {
  char err[256];
  int64_t not_after = (int64_t)time(NULL) + 40;
  if (zt_cert_issue_until(&pki.ca, ZT_ROLE_AGENT, "alice", not_after, NULL,
                          NULL, out, err, sizeof(err))) {
    fprintf(stderr, "certgen: %s\n", err);
    exit(1);
  }
  return not_after;
}

static bool expired_once(struct world *w) {
  return zt_intermediate_get_stats(w->im)->peers_cert_expired >= 1;
}

static void test_agent_closed_at_certificate_expiry(void) {
  struct zt_pem shortlived;
  int64_t not_after = short_alice(&shortlived);
  sim_log_capture(true);
  sim_log_clear();
  struct world *w = world_new(&shortlived);
  CHECK(world_run(w, world_ready, 10 * SEC));
  /* Warned about, in the log and the status (per peer). */
  static char st[65536];
  char when[40], want[80];
  zt_intermediate_status_json(w->im, st, sizeof(st));
  zt_cert_time_str(not_after, when, sizeof(when));
  snprintf(want, sizeof(want), "\"cert_not_after\":\"%s\"", when);
  CHECK_CONTAINS(st, want);
  CHECK_CONTAINS(st, "\"cert_expiring_soon\":true");
  CHECK(sim_log_seen("agent alice: certificate expires on"));
  /* Still valid: nothing happens before not-after. */
  world_run(w, NULL, (uint64_t)(not_after - sim_wall_clock(NULL) - 2) * SEC);
  CHECK_EQ_INT(zt_intermediate_get_stats(w->im)->peers_cert_expired, 0);
  CHECK(zt_agent_is_connected(w->agent));
  /* Just past it: closed, within a few seconds, by the timer. */
  CHECK(world_run(w, expired_once, 5 * SEC));
  CHECK(sim_wall_clock(NULL) > not_after);
  CHECK(sim_log_seen("agent alice: certificate expired on"));
  CHECK(sim_log_seen("agent alice disconnected: certificate expired"));
  /* The connector's certificate is valid: it stays. */
  CHECK_EQ_INT(zt_connector_registered(w->conn), 1);
  sim_log_capture(false);
  world_free(w);
  zt_pem_free(&shortlived);
}

/* The issue's scenario: the clock three days past every certificate's
 * expiry (the simulator's certificates are valid one day). Here only the
 * agent has a wall clock: its uplink ends the connection to the
 * Intermediate whose certificate has expired (the Intermediate's own watch
 * is test_agent_closed_at_certificate_expiry's). */
static void test_clock_jump_agent_drops_expired_intermediate(void) {
  sim_log_capture(true);
  sim_log_clear();
  struct world *w = world_new(&pki.alice);
  w->io_i.wall_clock = NULL;
  w->c[0].io.wall_clock = NULL;
  CHECK(world_run(w, world_ready, 10 * SEC));
  w->wall_skew = 4 * 86400;
  world_run(w, NULL, 2 * SEC);
  CHECK(zt_agent_is_connected(w->agent)); /* not before the recheck */
  world_run(w, NULL, ZT_CERT_RECHECK_NS + 5 * SEC);
  CHECK(sim_log_seen("intermediate intermediate: certificate expired on"));
  CHECK(sim_log_seen("connection to intermediate lost: intermediate "
                     "certificate expired"));
  CHECK(!sim_log_seen("agent alice: certificate expired"));
  sim_log_capture(false);
  world_free(w);
}

/* Only the connector has a wall clock: it alone ends the inner session of
 * an agent whose certificate expires. */
static void test_connector_closes_expired_inner_session(void) {
  struct zt_pem shortlived;
  short_alice(&shortlived);
  sim_log_capture(true);
  sim_log_clear();
  struct world *w = world_new(&shortlived);
  w->io_i.wall_clock = NULL;
  w->a[0].io.wall_clock = NULL;
  CHECK(world_run(w, world_ready, 10 * SEC));
  sim_send_pings(&w->a[0], SIM_VIP, 3, 20 * MS);
  world_run(w, NULL, 1 * SEC);
  CHECK_EQ_INT(w->a[0].rx, 3);
  CHECK(!sim_log_seen("certificate expired"));
  world_run(w, NULL, 45 * SEC);
  CHECK(sim_log_seen("agent alice: certificate expired on"));
  CHECK(sim_log_seen("session with agent alice ended: peer certificate expired"));
  CHECK(zt_agent_is_connected(w->agent)); /* the outer connection stays */
  CHECK_EQ_INT(zt_intermediate_get_stats(w->im)->peers_cert_expired, 0);
  sim_log_capture(false);
  world_free(w);
  zt_pem_free(&shortlived);
}

static void test_revoked_agent_refused_at_handshake(void) {
  sim_log_capture(true);
  sim_log_clear();
  audit_capture(true);
  struct world *w = world_new(&pki.alice);
  zt_intermediate_reload_crl(w->im, crl_revoking(&pki.alice), w->net.now);
  CHECK(!world_run(w, world_ready, 5 * SEC));
  /* The refusal is audited as a revocation, naming whom and what. */
  CHECK(audit_line_has("\"event\":\"revoke\"", "\"identity\":\"agent/alice\""));
  CHECK(audit_line_has("\"event\":\"revoke\"", "\"reason\":\"handshake refused\""));
  CHECK(!audit_line_has("\"event\":\"revoke\"", "connector/conn-a"));
  audit_capture(false);
  CHECK(!zt_agent_is_connected(w->agent));
  CHECK(zt_intermediate_get_stats(w->im)->handshakes_refused >= 1);
  CHECK_EQ_INT(zt_intermediate_get_stats(w->im)->peers_accepted, 1); /* conn */
  /* The Intermediate names identity and serial; the agent the alert. */
  CHECK(sim_log_seen("peer agent/alice: certificate serial "));
  CHECK(sim_log_seen("certificate_revoked"));
  sim_log_capture(false);
  world_free(w);
}

static bool revoked_once(struct world *w) {
  return zt_intermediate_get_stats(w->im)->peers_revoked >= 1;
}

static void test_reload_closes_revoked_connection(void) {
  sim_log_capture(true);
  sim_log_clear();
  struct world *w = world_new(&pki.alice);
  struct sim_agent *bob = world_add_agent(w, &pki.bob, 40002);
  CHECK(world_run(w, world_ready, 10 * SEC));
  world_run(w, NULL, 1 * SEC);
  CHECK(zt_agent_is_connected(bob->agent));
  uint64_t refused = zt_intermediate_get_stats(w->im)->handshakes_refused;
  audit_capture(true);
  zt_intermediate_reload_crl(w->im, crl_revoking(&pki.alice), w->net.now);
  CHECK(revoked_once(w));
  CHECK(audit_line_has("\"identity\":\"agent/alice\"",
                       "\"reason\":\"live connection closed at reload\""));
  CHECK(audit_line_has("\"event\":\"revoke\"", "\"decision\":\"deny\""));
  CHECK(!audit_line_has("\"event\":\"revoke\"", "agent/bob"));
  audit_capture(false);
  CHECK(sim_log_seen("agent alice: certificate serial"));
  /* Cut off, and its reconnects refused. */
  world_run(w, NULL, 10 * SEC);
  CHECK(!zt_agent_is_connected(w->agent));
  CHECK(zt_intermediate_get_stats(w->im)->handshakes_refused > refused);
  /* Bob and the connector are not revoked. */
  CHECK(zt_agent_is_connected(bob->agent));
  CHECK_EQ_INT(zt_connector_registered(w->conn), 1);
  CHECK_EQ_INT(zt_intermediate_get_stats(w->im)->peers_revoked, 1);
  sim_log_capture(false);
  world_free(w);
}

static void direct_on(struct world *w) { w->agent_direct = true; }

/* A session on a direct path outlives a lost relay channel; not one whose
 * agent was revoked: the connector is told to end it. */
static void test_reload_ends_direct_session(void) {
  struct world *w = world_new_with(&pki.alice, direct_on);
  CHECK(world_run(w, world_ready, 10 * SEC));
  sim_send_pings(&w->a[0], SIM_VIP, 3, 20 * MS);
  world_run(w, NULL, 5 * SEC);
  CHECK_EQ_INT(w->a[0].rx, 3);
  zt_intermediate_reload_crl(w->im, crl_revoking(&pki.alice), w->net.now);
  world_run(w, NULL, 1 * SEC);
  size_t before = w->a[0].rx;
  sim_send_pings(&w->a[0], SIM_VIP, 5, 200 * MS);
  world_run(w, NULL, 3 * SEC);
  CHECK_EQ_INT(w->a[0].rx, before);
  world_free(w);
}

int main(void) {
  sim_log_init();
  sim_pki_init();
  RUN(test_agent_closed_at_certificate_expiry);
  RUN(test_clock_jump_agent_drops_expired_intermediate);
  RUN(test_connector_closes_expired_inner_session);
  RUN(test_revoked_agent_refused_at_handshake);
  RUN(test_reload_closes_revoked_connection);
  RUN(test_reload_ends_direct_session);
  sim_pki_free();
  return TEST_EXIT();
}

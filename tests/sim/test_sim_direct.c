/*
 * Direct paths in the whole system: the real agent and connector (both
 * with direct paths on) find each other's public NAT mappings through the
 * Intermediate's CANDIDATES, move the session to the direct path, keep
 * the world's echo flowing, and keep it flowing with the Intermediate
 * gone. What the Intermediate decides still rules: a direct session it
 * does not announce again within the grace period is closed by the
 * connector; and a peer cannot say "the other end lost its connection"
 * (PEER_LOST), which keeps a session alive without a relay channel: the
 * Intermediate turns it into GONE.
 *
 * The session's path is read from the nodes' JSON status (docs/status.md),
 * as an operator would.
 */
#include <stdlib.h>
#include <string.h>

#include "../unit/test.h"
#include "json.h"
#include "wire.h"
#include "world.h"

#define VIP SIM_VIP

static void direct_on(struct world *w) { w->agent_direct = true; }

/* ---- the nodes' JSON status --------------------------------------------- */

static char status_buf[65536];

static struct zt_json *agent_status(struct world *w) {
  char err[128];
  int n = zt_agent_status_json(w->agent, status_buf, sizeof(status_buf));
  if (n < 0 || (size_t)n >= sizeof(status_buf))
    return NULL;
  return zt_json_parse(status_buf, (size_t)n, err, sizeof(err));
}

static struct zt_json *conn_status(struct world *w) {
  char err[128];
  int n = zt_connector_status_json(w->conn, status_buf, sizeof(status_buf));
  if (n < 0 || (size_t)n >= sizeof(status_buf))
    return NULL;
  return zt_json_parse(status_buf, (size_t)n, err, sizeof(err));
}

/* The session with `peer` in a status document, or NULL. */
static const struct zt_json *session_of(const struct zt_json *st,
                                        const char *peer) {
  const struct zt_json *ss = zt_json_get(st, "sessions");
  if (!ss || ss->type != ZT_JSON_ARRAY)
    return NULL;
  for (size_t i = 0; i < ss->n; i++) {
    const struct zt_json *p = zt_json_get(&ss->items[i], "peer");
    if (p && p->type == ZT_JSON_STRING && strcmp(p->str, peer) == 0)
      return &ss->items[i];
  }
  return NULL;
}

static size_t n_sessions(const struct zt_json *st) {
  const struct zt_json *ss = zt_json_get(st, "sessions");
  return ss && ss->type == ZT_JSON_ARRAY ? ss->n : 0;
}

/* A string member of the session with peer, copied to out ("" if none). */
static void session_str(const struct zt_json *st, const char *peer,
                        const char *key, char *out, size_t len) {
  const struct zt_json *s = session_of(st, peer), *v;
  out[0] = '\0';
  if (s && (v = zt_json_get(s, key)) && v->type == ZT_JSON_STRING)
    snprintf(out, len, "%s", v->str);
}

static int64_t session_int(const struct zt_json *st, const char *peer,
                           const char *key) {
  const struct zt_json *s = session_of(st, peer), *v;
  if (s && (v = zt_json_get(s, key)) && v->type == ZT_JSON_NUMBER)
    return v->integer;
  return -1;
}

/* "path" of the agent's session with conn-a and of conn-a's with alice. */
static bool agent_path_is(struct world *w, const char *path) {
  char got[32];
  struct zt_json *st = agent_status(w);
  if (!st)
    return false;
  session_str(st, "conn-a", "path", got, sizeof(got));
  zt_json_free(st);
  return strcmp(got, path) == 0;
}

static bool conn_path_is(struct world *w, const char *path) {
  char got[32];
  struct zt_json *st = conn_status(w);
  if (!st)
    return false;
  session_str(st, "alice", "path", got, sizeof(got));
  zt_json_free(st);
  return strcmp(got, path) == 0;
}

static bool both_direct(struct world *w) {
  return agent_path_is(w, "direct") && conn_path_is(w, "direct");
}

/* counters.sessions.orphans_expired of the connector. */
static int64_t orphans_expired(struct world *w) {
  struct zt_json *st = conn_status(w);
  const struct zt_json *c, *s, *v;
  int64_t r = -1;
  if (st && (c = zt_json_get(st, "counters")) &&
      (s = zt_json_get(c, "sessions")) &&
      (v = zt_json_get(s, "orphans_expired")) && v->type == ZT_JSON_NUMBER)
    r = v->integer;
  zt_json_free(st);
  return r;
}

static size_t conn_sessions(struct world *w) {
  struct zt_json *st = conn_status(w);
  size_t n = st ? n_sessions(st) : (size_t)-1;
  zt_json_free(st);
  return n;
}

/* n echoes: how many came back. */
static size_t echoes(struct world *w, int n) {
  size_t rx = w->a[0].rx;
  sim_send_pings(&w->a[0], VIP, n, 20 * MS);
  world_run(w, NULL, 300 * MS);
  return w->a[0].rx - rx;
}

/* The default world with direct paths on at both ends, the session to echo
 * up and direct at both ends; NULL otherwise. */
static struct world *direct_world(void) {
  struct world *w = world_new_with(&pki.alice, direct_on);
  if (!world_run(w, world_ready, 10 * SEC))
    goto fail;
  if (echoes(w, 3) != 3) /* opens the session */
    goto fail;
  if (!world_run(w, both_direct, 10 * SEC))
    goto fail;
  return w;
fail:
  world_free(w);
  return NULL;
}

/* ---- tests -------------------------------------------------------------- */

/* Without direct paths on the agent (the world's default) the session
 * stays on the relay: the control for the test below. */
static void test_relay_without_direct(void) {
  struct world *w = world_new(&pki.alice);
  CHECK(world_run(w, world_ready, 10 * SEC));
  CHECK_EQ_INT(echoes(w, 3), 3);
  world_run(w, NULL, 5 * SEC);
  CHECK(agent_path_is(w, "relay"));
  CHECK(conn_path_is(w, "relay"));
  world_free(w);
}

static bool intermediate_gone_for_agent(struct world *w) {
  return !zt_agent_is_connected(w->agent);
}

/* The session goes direct; echo flows with (almost) nothing through the
 * relay; with the Intermediate stopped, echo still flows over the direct
 * path; the Intermediate back, the session is announced again and the
 * connector keeps it past the grace period. */
static void test_direct_outlives_intermediate(void) {
  struct world *w = world_new_with(&pki.alice, direct_on);
  CHECK(world_run(w, world_ready, 10 * SEC));
  uint64_t t0 = w->net.now;
  CHECK_EQ_INT(echoes(w, 3), 3);
  CHECK(world_run(w, both_direct, 10 * SEC));
  printf("  session direct %.0f ms after the first packet\n",
         (double)(w->net.now - t0) / 1e6);

  struct zt_json *st = agent_status(w);
  CHECK(st);
  char remote[64], reason[128];
  session_str(st, "conn-a", "remote", remote, sizeof(remote));
  session_str(st, "conn-a", "last_switch_reason", reason, sizeof(reason));
  int64_t switches = session_int(st, "conn-a", "path_switches");
  zt_json_free(st);
  printf("  agent -> %s (%s)\n", remote, reason);
  /* the connector's public NAT mapping, as the Intermediate saw it */
  CHECK_STR(remote, "198.51.100.3:50000");
  CHECK_CONTAINS(reason, "probe answered");
  CHECK_EQ_INT(switches, 1);

  /* Echo over the direct path: the relay carries none of it. */
  world_run(w, NULL, 1 * SEC);
  uint64_t frames = zt_intermediate_get_stats(w->im)->relay_frames;
  CHECK_EQ_INT(echoes(w, 20), 20);
  CHECK_EQ_INT(zt_intermediate_get_stats(w->im)->relay_frames, frames);

  /* The Intermediate goes away. */
  world_stop_intermediate(w);
  CHECK(world_run(w, intermediate_gone_for_agent, 60 * SEC));
  CHECK_EQ_INT(echoes(w, 20), 20);
  world_run(w, NULL, 20 * SEC); /* quiet: keepalives hold the path */
  CHECK_EQ_INT(echoes(w, 20), 20);
  CHECK(agent_path_is(w, "direct"));
  CHECK(conn_path_is(w, "direct"));

  /* Back: the session is announced again and not expired as an orphan. */
  world_start_intermediate(w);
  CHECK(world_run(w, world_ready, 30 * SEC));
  for (int i = 0; i < 8; i++) { /* past ORPHAN_GRACE_NS (30 s) */
    world_run(w, NULL, 5 * SEC);
    CHECK_EQ_INT(echoes(w, 5), 5);
  }
  CHECK_EQ_INT(orphans_expired(w), 0);
  CHECK(both_direct(w));
  st = conn_status(w);
  CHECK(st);
  int64_t ch = session_int(st, "alice", "channel");
  zt_json_free(st);
  CHECK(ch > 0); /* a relay channel again */
  world_free(w);
}

/* Policy no longer grants alice echo when the Intermediate comes back:
 * it does not announce her session again, and the connector closes the
 * orphan once ORPHAN_GRACE_NS (30 s) of its uplink being up have passed
 * (not before), however well the direct path works. */
static void revoke_alice(struct world *w) { w->icfg.policy[0].n_services = 0; }

static void test_orphan_not_reannounced_is_closed(void) {
  struct world *w = direct_world();
  CHECK(w);
  world_stop_intermediate(w);
  CHECK(world_run(w, intermediate_gone_for_agent, 60 * SEC));
  CHECK_EQ_INT(echoes(w, 5), 5);
  CHECK_EQ_INT(conn_sessions(w), 1);

  revoke_alice(w);
  world_start_intermediate(w);
  CHECK(world_run(w, NULL, 2 * SEC));
  CHECK_EQ_INT(zt_connector_registered(w->conn), 1);
  uint64_t t_up = w->net.now;
  /* within the grace period: still up */
  world_run(w, NULL, 20 * SEC);
  CHECK_EQ_INT(orphans_expired(w), 0);
  CHECK_EQ_INT(conn_sessions(w), 1);
  /* past it: closed. Two timers of about 30 s race here: the orphan's
   * grace and the inner connection's idle timeout, because the agent also
   * drops its session when the Intermediate's service list no longer has
   * echo, silently for the connector. Which fires first depends on the
   * packets' exact times (the congestion controller changes them: with
   * BBR2 the idle timeout wins about one run in three); both close the
   * session, which is what must happen. */
  world_run(w, NULL, 15 * SEC);
  int64_t expired = orphans_expired(w);
  printf("  orphan closed within %.0f s of the uplink coming back (%s)\n",
         (double)(w->net.now - t_up) / 1e9,
         expired == 1 ? "orphan grace" : "idle timeout after the agent left");
  CHECK(expired == 0 || expired == 1);
  CHECK_EQ_INT(conn_sessions(w), 0);
  /* and no echo gets through any more */
  size_t delivered = w->c[0].delivered;
  echoes(w, 5);
  world_run(w, NULL, 2 * SEC);
  CHECK_EQ_INT(w->c[0].delivered, delivered);
  world_free(w);
}

/* The agent's NAT gives it a new public port while the session is
 * direct: the connector moves its direct path to the new address (after
 * an answered probe), and echo keeps flowing. */
static void test_direct_nat_rebinding(void) {
  struct world *w = direct_world();
  CHECK(w);
  struct zt_json *st = conn_status(w);
  CHECK(st);
  char remote[64];
  session_str(st, "alice", "remote", remote, sizeof(remote));
  zt_json_free(st);
  CHECK_STR(remote, "198.51.100.2:50001");
  w->ha->pub.sin_port = htons(50999);
  size_t rx = w->a[0].rx;
  sim_send_pings(&w->a[0], VIP, 40, 50 * MS);
  world_run(w, NULL, 2 * SEC);
  /* The connector's replies go to the old address until it doubts the
   * path; the relay's copies meanwhile go to the agent's old address too
   * (the agent's uplink has been quiet): about 300 ms are lost. */
  printf("  after rebinding: %zu/40 replies\n", w->a[0].rx - rx);
  CHECK(w->a[0].rx - rx >= 30);
  CHECK(both_direct(w));
  st = conn_status(w);
  CHECK(st);
  session_str(st, "alice", "remote", remote, sizeof(remote));
  char reason[128];
  session_str(st, "alice", "last_switch_reason", reason, sizeof(reason));
  zt_json_free(st);
  printf("  connector -> %s (%s)\n", remote, reason);
  CHECK_STR(remote, "198.51.100.2:50999");
  CHECK_CONTAINS(reason, "probe answered by 198.51.100.2:50999");
  CHECK_EQ_INT(echoes(w, 10), 10);
  world_free(w);
}

/* ---- PEER_LOST is the Intermediate's word ------------------------------- */

/* web (SIM_VIP2) on conn-b, here a raw peer; policy gives alice both. */
static void web_on_conn_b(struct world *w) {
  struct zt_intermediate_config *ic = &w->icfg;
  ic->n_services = 2;
  snprintf(ic->services[1].name, sizeof(ic->services[1].name), "web");
  snprintf(ic->services[1].connector, sizeof(ic->services[1].connector),
           "conn-b");
  ic->services[1].address = SIM_VIP2;
  ic->policy[0].n_services = 2;
  snprintf(ic->policy[0].services[1], sizeof(ic->policy[0].services[1]),
           "web");
}

static bool raw_hello(struct raw_peer *r) {
  struct zt_ctrl_msg m = {.type = ZT_MSG_HELLO};
  m.u.hello.version = ZT_PROTOCOL_VERSION;
  if (raw_send_msg(r, &m) != 0)
    return false;
  world_run(r->w, NULL, 300 * MS);
  return r->got[ZT_MSG_WELCOME] == 1;
}

/* A raw alice and a raw conn-b share a channel; alice closes it saying
 * PEER_LOST (8): conn-b hears GONE. Had PEER_LOST got through, a real
 * connector would keep a direct session it ought to end. */
static void test_peer_cannot_say_peer_lost(void) {
  struct world *w = world_new_with(NULL, web_on_conn_b);
  struct raw_peer *cb = raw_peer_new(w, &pki.conn_b, 50002);
  struct raw_peer *al = raw_peer_new(w, &pki.alice, 50003);
  CHECK(cb && al);
  world_run(w, NULL, 300 * MS);
  CHECK(raw_hello(cb));
  CHECK(raw_hello(al));
  struct zt_ctrl_msg m = {.type = ZT_MSG_REGISTER};
  m.u.reg.n = 1;
  snprintf(m.u.reg.names[0], sizeof(m.u.reg.names[0]), "web");
  CHECK_EQ_INT(raw_send_msg(cb, &m), 0);
  world_run(w, NULL, 300 * MS);
  CHECK_EQ_INT(cb->last[ZT_MSG_REGISTER_ACK].u.reg_ack.items[0].status, ZT_OK);

  memset(&m, 0, sizeof(m));
  m.type = ZT_MSG_SESSION_OPEN;
  m.u.session_open.request_id = 1;
  snprintf(m.u.session_open.connector, sizeof(m.u.session_open.connector),
           "conn-b");
  CHECK_EQ_INT(raw_send_msg(al, &m), 0);
  world_run(w, NULL, 300 * MS);
  CHECK_EQ_INT(al->got[ZT_MSG_SESSION_READY], 1);
  CHECK_EQ_INT(al->last[ZT_MSG_SESSION_READY].u.session_ready.status, ZT_OK);
  uint32_t ch = al->last[ZT_MSG_SESSION_READY].u.session_ready.channel;
  CHECK(ch != 0);
  CHECK_EQ_INT(cb->got[ZT_MSG_SESSION_NEW], 1);
  CHECK_EQ_INT(cb->last[ZT_MSG_SESSION_NEW].u.session_new.channel, ch);

  memset(&m, 0, sizeof(m));
  m.type = ZT_MSG_SESSION_CLOSE;
  m.u.session_close.channel = ch;
  m.u.session_close.status = ZT_ERR_PEER_LOST;
  CHECK_EQ_INT(raw_send_msg(al, &m), 0);
  world_run(w, NULL, 300 * MS);
  CHECK_EQ_INT(cb->got[ZT_MSG_SESSION_CLOSE], 1);
  CHECK_EQ_INT(cb->last[ZT_MSG_SESSION_CLOSE].u.session_close.channel, ch);
  CHECK_EQ_INT(cb->last[ZT_MSG_SESSION_CLOSE].u.session_close.status,
               ZT_ERR_GONE);

  /* Other statuses pass as they are (the mapping is for PEER_LOST only):
   * a second channel closed by conn-b with NOT_ALLOWED. */
  memset(&m, 0, sizeof(m));
  m.type = ZT_MSG_SESSION_OPEN;
  m.u.session_open.request_id = 2;
  snprintf(m.u.session_open.connector, sizeof(m.u.session_open.connector),
           "conn-b");
  CHECK_EQ_INT(raw_send_msg(al, &m), 0);
  world_run(w, NULL, 300 * MS);
  CHECK_EQ_INT(al->got[ZT_MSG_SESSION_READY], 2);
  ch = al->last[ZT_MSG_SESSION_READY].u.session_ready.channel;
  CHECK(ch != 0);
  memset(&m, 0, sizeof(m));
  m.type = ZT_MSG_SESSION_CLOSE;
  m.u.session_close.channel = ch;
  m.u.session_close.status = ZT_ERR_NOT_ALLOWED;
  CHECK_EQ_INT(raw_send_msg(cb, &m), 0);
  world_run(w, NULL, 300 * MS);
  CHECK_EQ_INT(al->got[ZT_MSG_SESSION_CLOSE], 1);
  CHECK_EQ_INT(al->last[ZT_MSG_SESSION_CLOSE].u.session_close.status,
               ZT_ERR_NOT_ALLOWED);
  world_free(w);
}

/* The Intermediate restarted at once while the session is direct: the
 * agent's uplink carries none of the traffic, yet it notices within a
 * fraction of a second (its uplink pokes the Intermediate while session
 * traffic flows, and the restarted Intermediate answers with a Stateless
 * Reset), not at its next keepalive 10 s later. The agent is watched: a
 * connector's uplink PINGs every second (ZT_CONNECTOR_KEEPALIVE_MS), which
 * would notice soon enough without the poke. */
static void test_restart_noticed_while_direct(void) {
  struct world *w = direct_world();
  CHECK(w);
  if (!w)
    return;
  /* the uplinks idle: nothing in flight, and no relay frame for longer
   * than ZT_UPLINK_WATCH_MS: only the direct traffic can tell */
  world_run(w, NULL, 6 * SEC);
  world_stop_intermediate(w);
  world_start_intermediate(w);
  uint64_t t0 = w->net.now, lost = 0;
  /* echo every 20 ms over the direct path, as a download would flow */
  for (int i = 0; i < 250 && !lost; i++) {
    sim_send_pings(&w->a[0], VIP, 1, 20 * MS);
    if (!zt_agent_is_connected(w->agent))
      lost = w->net.now;
  }
  CHECK(lost);
  printf("  agent noticed the restart after %.0f ms of direct traffic\n",
         (double)(lost - t0) / 1e6);
  CHECK(lost - t0 < ZT_KEEPALIVE_MS * MS / 4);
  CHECK(world_run(w, world_ready, 10 * SEC));
  printf("  both back %.0f ms after the restart\n",
         (double)(w->net.now - t0) / 1e6);
  world_free(w);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  sim_log_init();
  RUN(test_relay_without_direct);
  RUN(test_direct_outlives_intermediate);
  RUN(test_restart_noticed_while_direct);
  RUN(test_orphan_not_reannounced_is_closed);
  RUN(test_direct_nat_rebinding);
  RUN(test_peer_cannot_say_peer_lost);
  sim_pki_free();
  return TEST_EXIT();
}

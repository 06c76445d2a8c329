/*
 * The Intermediate's control-stream error counters (countertab.c
 * "ctrl.*"): an authenticated peer that sends a message of an unknown
 * type, one over the size limit and one that does not decode has each
 * counted once, and the counts reach the status JSON and /metrics alike
 * (they were once never incremented).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/test.h"
#include "quic.h"
#include "wire.h"
#include "world.h"

static bool registered_one(struct world *w) {
  return zt_connector_registered(w->conn) == 1;
}

/* Raw control-stream bytes: a header (type, 16-bit length) and a body. */
static void send_raw(struct raw_peer *r, uint8_t type, size_t len,
                     uint8_t fill) {
  static uint8_t buf[ZT_CTRL_HDR_LEN + 65535];
  buf[0] = type;
  buf[1] = (uint8_t)(len >> 8);
  buf[2] = (uint8_t)len;
  memset(buf + ZT_CTRL_HDR_LEN, fill, len);
  CHECK(zq_send_stream(r->q, buf, ZT_CTRL_HDR_LEN + len) == 0);
  world_run(r->w, NULL, 500 * MS);
}

static void test_ctrl_errors_counted(void) {
  static char out[256 * 1024];
  struct world *w = world_new(NULL);
  CHECK(world_run(w, registered_one, 10 * SEC));
  struct raw_peer *r = raw_peer_new(w, &pki.alice, 50002);
  CHECK(r);
  world_run(w, NULL, 300 * MS);
  CHECK(raw_ready(r));
  const struct zt_intermediate_stats *st = zt_intermediate_get_stats(w->im);
  send_raw(r, 0x7e, 4, 0);                     /* no such type */
  send_raw(r, ZT_MSG_HELLO, ZT_CTRL_BODY_MAX + 1, 0); /* too long */
  send_raw(r, ZT_MSG_SESSION_OPEN, 1, 0xff);    /* does not decode */
  CHECK_EQ_INT(st->ctrl_unknown, 1);
  CHECK_EQ_INT(st->ctrl_oversized, 1);
  CHECK_EQ_INT(st->ctrl_malformed, 1);
  int n = zt_intermediate_status_json(w->im, out, sizeof(out));
  CHECK(n > 0 && (size_t)n < sizeof(out));
  CHECK_CONTAINS(out, "\"ctrl\":{\"malformed\":1,\"unknown\":1,"
                      "\"oversized\":1,");
  n = zt_intermediate_metrics(w->im, out, sizeof(out));
  CHECK(n > 0 && (size_t)n < sizeof(out));
  CHECK_CONTAINS(out, "\nztna_intermediate_ctrl_unknown_messages_total 1\n");
  CHECK_CONTAINS(out, "\nztna_intermediate_ctrl_oversized_messages_total 1\n");
  CHECK_CONTAINS(out, "\nztna_intermediate_ctrl_malformed_messages_total 1\n");
  /* The connector's registration is one session-less peer each way. */
  CHECK_CONTAINS(out, "\nztna_intermediate_connectors 1\n");
  CHECK_CONTAINS(out, "\nztna_intermediate_services_online 1\n");
  n = zt_intermediate_status(w->im, out, sizeof(out));
  CHECK(n > 0 && (size_t)n < sizeof(out));
  CHECK_CONTAINS(out, "ctrl: malformed 1 unknown 1 oversized 1 ");
  world_free(w);
}

/* The agent's and connector's pages read every source of their tables:
 * the uplinks' summed counters and handshake times among them. */
static void test_agent_connector_pages(void) {
  static char out[256 * 1024];
  struct world *w = world_new(&pki.alice);
  CHECK(world_run(w, world_ready, 10 * SEC));
  int n = zt_agent_metrics(w->agent, out, sizeof(out));
  CHECK(n > 0 && (size_t)n < sizeof(out));
  CHECK_CONTAINS(out, "\nztna_agent_uplink_connects_total 1\n");
  CHECK_CONTAINS(out, "\nztna_agent_uplink_up 1\n");
  CHECK_CONTAINS(out, "\nztna_agent_roam_changes_total 0\n");
  CHECK_CONTAINS(out, "\nztna_agent_uplink_handshake_duration_seconds_count 1\n");
  n = zt_connector_metrics(w->conn, out, sizeof(out));
  CHECK(n > 0 && (size_t)n < sizeof(out));
  CHECK_CONTAINS(out, "\nztna_connector_uplink_connects_total 1\n");
  CHECK_CONTAINS(out, "\nztna_connector_services_registered ");
  CHECK_CONTAINS(out,
                 "\nztna_connector_uplink_handshake_duration_seconds_count 1\n");
  n = zt_intermediate_metrics(w->im, out, sizeof(out));
  CHECK(n > 0 && (size_t)n < sizeof(out));
  CHECK_CONTAINS(out, "\nztna_intermediate_agents 1\n");
  CHECK_CONTAINS(out, "\nztna_intermediate_handshake_duration_seconds_count 2\n");
  world_free(w);
}

int main(void) {
  sim_log_init();
  sim_pki_init();
  RUN(test_ctrl_errors_counted);
  RUN(test_agent_connector_pages);
  sim_pki_free();
  return TEST_EXIT();
}

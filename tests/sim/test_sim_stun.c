/*
 * STUN Binding requests at a real Intermediate (core/stun.h): answered
 * after the connection lookup, never larger than the request, within a
 * per-source budget, on the main port and through the STUN port's entry
 * point, while the agents' QUIC connections on the same port go on.
 * Requests are fed straight into zt_intermediate_feed_udp() from forged
 * addresses; what the Intermediate sends goes through io_i.udp_send,
 * which this file watches.
 */
#include <arpa/inet.h>
#include <string.h>

#include "../unit/test.h"
#include "stun.h"
#include "world.h"

static struct {
  size_t stun, other;
  uint8_t last[128];
  size_t last_len;
  struct sockaddr_in last_to;
} seen;

static void watch_udp(void *ud, const struct sockaddr *to, socklen_t tolen,
                      const uint8_t *d, size_t n) {
  if (n >= 2 && d[0] == 0x01 && d[1] == 0x01) { /* Binding success */
    seen.stun++;
    if (n <= sizeof(seen.last)) {
      memcpy(seen.last, d, n);
      seen.last_len = n;
      memcpy(&seen.last_to, to, sizeof(seen.last_to));
    }
  } else {
    seen.other++;
  }
  sim_udp_send(ud, to, tolen, d, n);
}

static void watch(struct world *w) {
  memset(&seen, 0, sizeof(seen));
  w->io_i.udp_send = watch_udp; /* the Intermediate keeps a pointer to io_i */
}

static const uint8_t txid[12] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2};

static void feed(struct world *w, const struct sockaddr_in *from,
                 const uint8_t *p, size_t n) {
  zt_intermediate_feed_udp(w->im, (const struct sockaddr *)from, sizeof(*from),
                           p, n, w->net.now);
}

/* Did the last answer tell `from` its own address? */
static bool answered_with(const struct sockaddr_in *from) {
  struct sockaddr_storage m;
  socklen_t ml;
  if (zt_stun_parse_response(seen.last, seen.last_len, txid, &m, &ml) != 0)
    return false;
  const struct sockaddr_in *a = (const struct sockaddr_in *)&m;
  return a->sin_family == AF_INET && a->sin_addr.s_addr ==
         from->sin_addr.s_addr && a->sin_port == from->sin_port &&
         seen.last_to.sin_port == from->sin_port;
}

/* A Binding request gets its answer on the main port, and the agent's
 * connection on that same port goes on working: STUN from the agent's
 * own public address and port (a real client would do exactly that) is
 * told that address. */
static void test_binding_answered_agents_unaffected(void) {
  struct world *w = world_new(&pki.alice);
  uint8_t req[64];
  size_t rl = zt_stun_build_request(txid, req, sizeof(req));
  CHECK(world_run(w, world_ready, 20 * SEC));
  watch(w);
  struct sockaddr_in from = sim_addr("203.0.113.5", 40000);
  feed(w, &from, req, rl);
  CHECK_EQ_INT(seen.stun, 1);
  CHECK(seen.last_len <= rl);
  CHECK(answered_with(&from));
  /* the agent's public address, as the Intermediate sees it */
  struct sockaddr_in pub = w->ha->pub;
  feed(w, &pub, req, rl);
  CHECK_EQ_INT(seen.stun, 2);
  CHECK(answered_with(&pub));
  const struct zt_intermediate_stats *st = zt_intermediate_get_stats(w->im);
  CHECK_EQ_INT(st->stun_answered, 2);
  CHECK_EQ_INT(st->stun_dropped, 0);
  size_t rx = w->a[0].rx;
  sim_send_pings(&w->a[0], SIM_VIP, 3, 20 * MS);
  world_run(w, NULL, 2 * SEC);
  CHECK_EQ_INT(w->a[0].rx, rx + 3);
  CHECK_EQ_INT(zt_intermediate_peer_count(w->im), 2);
  world_free(w);
}

/* No amplification at the Intermediate: the bare 20-byte request of most
 * STUN clients is dropped and counted. */
static void test_small_request_dropped(void) {
  struct world *w = world_new(NULL);
  uint8_t req[64];
  zt_stun_build_request(txid, req, sizeof(req));
  req[3] = 0; /* no PADDING: 20 bytes */
  watch(w);
  struct sockaddr_in from = sim_addr("203.0.113.5", 40000);
  feed(w, &from, req, ZT_STUN_HDR);
  CHECK_EQ_INT(seen.stun + seen.other, 0);
  CHECK_EQ_INT(zt_intermediate_get_stats(w->im)->stun_dropped, 1);
  CHECK_EQ_INT(zt_intermediate_get_stats(w->im)->stun_answered, 0);
  world_free(w);
}

/* One source gets its burst of answers and then waits; another source
 * still gets its own. */
static void test_answers_rate_limited_per_source(void) {
  struct world *w = world_new(NULL);
  uint8_t req[64];
  size_t rl = zt_stun_build_request(txid, req, sizeof(req));
  watch(w);
  struct sockaddr_in a = sim_addr("203.0.113.5", 40000);
  struct sockaddr_in b = sim_addr("203.0.113.6", 40000);
  for (int i = 0; i < 100; i++)
    feed(w, &a, req, rl);
  const struct zt_intermediate_stats *st = zt_intermediate_get_stats(w->im);
  CHECK(st->stun_answered >= 10 && st->stun_answered <= 25);
  CHECK_EQ_INT(st->stun_answered + st->stun_limited, 100);
  size_t before = seen.stun;
  feed(w, &b, req, rl);
  CHECK_EQ_INT(seen.stun, before + 1);
  CHECK(answered_with(&b));
  world_free(w);
}

/* What is not a Binding request we answer is not eaten by the STUN
 * branch: unknown comprehension-required attributes get nothing, and a
 * short-header packet of no connection still gets its stateless reset. */
static void test_non_stun_unchanged(void) {
  struct world *w = world_new(NULL);
  uint8_t req[64], junk[64];
  size_t rl = zt_stun_build_request(txid, req, sizeof(req));
  watch(w);
  struct sockaddr_in from = sim_addr("203.0.113.5", 40000);
  req[20] = 0x00;
  req[21] = 0x24; /* PRIORITY (ICE): comprehension-required, unknown */
  feed(w, &from, req, rl);
  CHECK_EQ_INT(seen.stun, 0);
  /* junk like any other: a reset (no larger, budgeted) as before */
  CHECK_EQ_INT(zt_intermediate_get_stats(w->im)->resets_sent, 1);
  memset(junk, 0x5a, sizeof(junk));
  junk[0] = 0x40; /* short header */
  feed(w, &from, junk, sizeof(junk));
  CHECK_EQ_INT(seen.stun, 0);
  CHECK_EQ_INT(zt_intermediate_get_stats(w->im)->resets_sent, 2);
  CHECK_EQ_INT(zt_intermediate_get_stats(w->im)->stun_answered, 0);
  world_free(w);
}

/* The STUN port's entry point answers Binding requests, the same way,
 * and nothing else. */
static void test_stun_port_entry(void) {
  struct world *w = world_new(NULL);
  uint8_t req[64], out[ZT_STUN_RESPONSE_MAX], junk[1200];
  size_t rl = zt_stun_build_request(txid, req, sizeof(req));
  struct sockaddr_in from = sim_addr("203.0.113.5", 40001);
  size_t n = zt_intermediate_feed_stun_port(
      w->im, (struct sockaddr *)&from, req, rl, w->net.now, out, sizeof(out));
  CHECK_EQ_INT(n, ZT_STUN_RESPONSE_V4);
  memcpy(seen.last, out, n);
  seen.last_len = n;
  seen.last_to = from;
  CHECK(answered_with(&from));
  memset(junk, 0, sizeof(junk));
  junk[0] = 0xc0; /* a long header: an Initial elsewhere */
  CHECK_EQ_INT(zt_intermediate_feed_stun_port(w->im, (struct sockaddr *)&from,
                                              junk, sizeof(junk), w->net.now,
                                              out, sizeof(out)),
               0);
  CHECK_EQ_INT(zt_intermediate_feed_stun_port(w->im, (struct sockaddr *)&from,
                                              req, ZT_STUN_HDR, w->net.now,
                                              out, sizeof(out)),
               0);
  CHECK_EQ_INT(zt_intermediate_get_stats(w->im)->stun_answered, 1);
  CHECK_EQ_INT(zt_intermediate_get_stats(w->im)->stun_dropped, 0);
  CHECK_EQ_INT(zt_intermediate_peer_count(w->im), 0);
  world_free(w);
}

int main(void) {
  sim_log_init();
  sim_pki_init();
  RUN(test_binding_answered_agents_unaffected);
  RUN(test_small_request_dropped);
  RUN(test_answers_rate_limited_per_source);
  RUN(test_non_stun_unchanged);
  RUN(test_stun_port_entry);
  sim_pki_free();
  return TEST_EXIT();
}

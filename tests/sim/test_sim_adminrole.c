/*
 * An admin certificate (the dashboard's operator credential,
 * docs/dashboard.md) is signed by the same CA as the tunnel's, so it must
 * never pass for a tunnel party: the real Intermediate refuses it inside
 * the QUIC handshake (role not accepted), counts and logs the refusal, and
 * it never becomes a peer that could send HELLO or REGISTER.
 */
#include <stdbool.h>
#include <stdlib.h>

#include "../unit/test.h"
#include "certgen.h"
#include "intermediate.h"
#include "log.h"
#include "world.h"

static void test_admin_cert_refused_at_handshake(void) {
  struct zt_pem admin = {0};
  char err[256];
  sim_pki_init();
  CHECK(zt_cert_issue(&pki.ca, ZT_ROLE_ADMIN, "ops", 1, NULL, NULL, &admin,
                      err, sizeof(err)) == 0);
  struct world *w = world_new(&pki.alice);
  CHECK(world_run(w, world_ready, 10 * SEC));
  size_t peers = zt_intermediate_peer_count(w->im);
  uint64_t refused = zt_intermediate_get_stats(w->im)->handshakes_refused;
  sim_log_clear();
  sim_log_capture(true);
  struct raw_peer *r = raw_peer_new(w, &admin, 50200);
  world_run(w, NULL, 3 * SEC);
  bool logged = sim_log_seen("role admin not accepted");
  sim_log_capture(false); /* also forgets the lines */
  CHECK(raw_dead(r));
  CHECK(!raw_ready(r));
  CHECK_EQ_INT(zt_intermediate_peer_count(w->im), peers);
  CHECK_EQ_INT(zt_intermediate_get_stats(w->im)->handshakes_refused,
               refused + 1);
  CHECK(logged);
  world_free(w);
  zt_pem_free(&admin);
}

int main(void) {
  sim_log_init();
  RUN(test_admin_cert_refused_at_handshake);
  sim_pki_free();
  return TEST_EXIT();
}

/*
 * The Intermediate's timer (core/deadline.c): every peer's deadline is the
 * earliest of its QUIC timer, its certificate check and its silence watch,
 * and each fires on time even when nothing else happens: a killed
 * connector is found silent ZT_CONNECTOR_SILENT_MS after it was last
 * heard, not at the next QUIC timer of its connection (a keepalive 10 s
 * later, or the idle timeout).
 */
#include <stdio.h>

#include "../unit/test.h"
#include "wire.h"
#include "world.h"

static void test_silence_found_on_time(void) {
  struct world *w = world_new(&pki.alice);
  CHECK(world_run(w, world_ready, 10 * SEC));
  world_run(w, NULL, 1 * SEC); /* the start-up traffic is over */
  sim_log_capture(true);
  world_stop_connector(&w->c[0], false); /* kill: no close, only silence */
  uint64_t t0 = w->net.now, seen = 0;
  for (int i = 0; i < 1000 && !seen; i++) { /* 10 ms steps, 10 s at most */
    world_run(w, NULL, 10 * MS);
    if (sim_log_seen("connector conn-a silent for"))
      seen = w->net.now;
  }
  CHECK(seen != 0);
  printf("  silence found %.0f ms after the kill (watch: %d ms)\n",
         (double)(seen - t0) / 1e6, ZT_CONNECTOR_SILENT_MS);
  /* Last heard at most a keepalive before the kill, found at most one
   * step after its deadline. */
  CHECK(seen - t0 <= (uint64_t)ZT_CONNECTOR_SILENT_MS * MS + 20 * MS);
  sim_log_capture(false);
  world_free(w);
}

int main(void) {
  sim_pki_init();
  sim_log_init();
  RUN(test_silence_found_on_time);
  sim_pki_free();
  return TEST_EXIT();
}

/*
 * libFuzzer target for what our code reads of a raw UDP payload before
 * ngtcp2 sees it: the connection key used to demultiplex, the Initial
 * check, and the Stateless Reset answer to an unknown packet. A reset must
 * be smaller than its trigger and end with a token; a key must come from
 * inside the packet.
 */
#include <stdlib.h>
#include <string.h>

#include "quic.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint32_t key;
  uint8_t out[128];
  static struct zq_config cfg;
  if (!cfg.has_reset_secret) {
    zq_config_defaults(&cfg);
    memset(cfg.reset_secret, 0x5a, sizeof(cfg.reset_secret));
    cfg.has_reset_secret = true;
  }
  if (zq_packet_key(data, size, &key) == 0 && size < 1 + ZT_SCID_LEN)
    abort();
  (void)zq_packet_is_initial(data, size);
  size_t n = zq_stateless_reset(&cfg, data, size, out, sizeof(out));
  if (n && (n >= size || n < 1 + 5 + 16 || (out[0] & 0x80)))
    abort();
  return 0;
}

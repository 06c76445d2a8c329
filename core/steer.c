/* Connection-ID steering model. See steer.h. */
#include "steer.h"

#define SHORT_MIN 5 /* byte 0, then the key */
#define LONG_MIN 10 /* byte 0, version (4), DCID length, then the key */

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

int zt_steer_owner(uint32_t key, unsigned n_workers) {
  return n_workers <= 1 ? 0 : (int)(key % n_workers);
}

int zt_steer_worker(const uint8_t *pkt, size_t len, unsigned n_workers) {
  uint32_t key;
  if (n_workers <= 1)
    return 0;
  if (len < 1)
    return -1;
  if (!(pkt[0] & 0x80)) {
    if (len < SHORT_MIN)
      return -1;
    key = be32(pkt + 1);
  } else {
    /* A DCID shorter than a key cannot be ours: the kernel's hash. */
    if (len < LONG_MIN || pkt[5] < 4)
      return -1;
    key = be32(pkt + 6);
  }
  /* Key 0 is the Retry's SCID (quic.h): the client's second Initial, not
   * yet anyone's connection. */
  if (key == 0)
    return -1;
  return zt_steer_owner(key, n_workers);
}

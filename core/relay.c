/* Relay frame header. See relay.h and wire.h. */
#include "relay.h"

void zt_relay_write_hdr(uint8_t out[ZT_RELAY_HDR_LEN], uint32_t channel) {
  out[0] = ZT_RELAY_DATA;
  out[1] = (uint8_t)(channel >> 24);
  out[2] = (uint8_t)(channel >> 16);
  out[3] = (uint8_t)(channel >> 8);
  out[4] = (uint8_t)channel;
}

int zt_relay_parse(const uint8_t *frame, size_t len, uint32_t *channel,
                   const uint8_t **payload, size_t *payload_len) {
  /* An empty payload can carry no inner packet: treat it as garbage rather
   * than hand a zero-length packet to QUIC. */
  if (len <= ZT_RELAY_HDR_LEN || frame[0] != ZT_RELAY_DATA)
    return -1;
  *channel = (uint32_t)frame[1] << 24 | (uint32_t)frame[2] << 16 |
             (uint32_t)frame[3] << 8 | frame[4];
  *payload = frame + ZT_RELAY_HDR_LEN;
  *payload_len = len - ZT_RELAY_HDR_LEN;
  return 0;
}

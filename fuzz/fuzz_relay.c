/*
 * libFuzzer target for relay frame parsing: the whole input is one outer
 * DATAGRAM. A frame that parses must rebuild to the same header and its
 * payload must lie inside the input.
 */
#include <stdlib.h>
#include <string.h>

#include "relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint32_t ch;
  const uint8_t *p;
  size_t plen;
  if (zt_relay_parse(data, size, &ch, &p, &plen) != 0)
    return 0;
  uint8_t hdr[ZT_RELAY_HDR_LEN];
  zt_relay_write_hdr(hdr, ch);
  if (memcmp(hdr, data, sizeof hdr) != 0 || plen == 0 ||
      p != data + ZT_RELAY_HDR_LEN || plen != size - ZT_RELAY_HDR_LEN)
    abort();
  return 0;
}

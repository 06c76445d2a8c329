/*
 * libFuzzer target for IPv4 reassembly (core/reasm.c). The input is a
 * sequence of fragments, each cut from it as
 *
 *   u8 sel    bits 0-2: which of 8 (src, id, proto) groups; bit 3: MF;
 *             bit 4: a raw packet instead (the next u8 is its length);
 *             bits 5-7: time step (0, 10 ms, ... up to 4 s: timeouts)
 *   u16 off   fragment offset in units of 8 (13 bits)
 *   u8 units  payload length in units of 8, then that many bytes (fewer
 *             if the input ends; a short last piece is not a multiple of 8)
 *
 * with a correct header checksum, so most reach the group logic. After
 * every call: groups and bytes within the caps. Every datagram handed
 * back: a consistent, unfragmented IPv4 packet of at most 65535 bytes
 * with a correct header checksum and a transport header present, whose
 * payload is, byte for byte, what accepted fragments of its group carried.
 */
#include <stdlib.h>
#include <string.h>

#include "ippkt.h"
#include "reasm.h"

#define KEYS 8
static uint8_t shadow[KEYS][65536]; /* last accepted byte at each offset */

static const uint8_t protos[KEYS] = {17, 17, 6, 6, 1, 1, 47, 17};

static void build(uint8_t *p, unsigned key, uint16_t frag, const uint8_t *pl,
                  size_t n) {
  memset(p, 0, 20);
  p[0] = 0x45;
  p[2] = (uint8_t)((20 + n) >> 8);
  p[3] = (uint8_t)(20 + n);
  p[4] = 0x12;
  p[5] = (uint8_t)key;
  p[6] = (uint8_t)(frag >> 8);
  p[7] = (uint8_t)frag;
  p[8] = 64;
  p[9] = protos[key];
  p[12] = 100, p[13] = 64, p[14] = 0, p[15] = (uint8_t)(2 + (key & 1));
  p[16] = 10, p[17] = 100, p[18] = 0, p[19] = 2;
  memcpy(p + 20, pl, n);
  uint16_t ck = zt_ip_checksum(p, 20);
  memcpy(p + 10, &ck, 2);
}

static void check_done(const uint8_t *out, size_t len) {
  struct zt_ip_info ip;
  if (len > 65535 || zt_ip_parse(out, len, &ip) != 0 || ip.total_len != len ||
      ip.is_fragment || zt_ip_checksum(out, ip.hdr_len) != 0)
    abort();
  if ((ip.proto == 6 || ip.proto == 17 || ip.proto == 1) && !ip.l4_ok)
    abort(); /* a tiny first fragment got through */
  unsigned key = out[5];
  if (out[4] != 0x12 || key >= KEYS || ip.proto != protos[key])
    return; /* a raw packet's datagram: no shadow to compare with */
  if (memcmp(out + ip.hdr_len, shadow[key], len - ip.hdr_len) != 0)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t pkt[20 + 255 * 8 + 8];
  struct zt_reasm r;
  uint64_t now = 0;
  size_t i = 0;
  zt_reasm_init(&r);
  while (i + 4 <= size) {
    uint8_t sel = data[i];
    uint16_t off = (uint16_t)(data[i + 1] << 8 | data[i + 2]) & 0x1fff;
    size_t n = (size_t)data[i + 3] * 8;
    i += 4;
    now += (uint64_t)(sel >> 5) * (sel >> 5) * 80000000ULL;
    const uint8_t *out;
    size_t outlen;
    enum zt_reasm_result res;
    unsigned key = sel & 7;
    if (sel & 0x10) { /* raw bytes, parsed or not */
      n = data[i - 1];
      if (n > size - i)
        n = size - i;
      /* Never in a shadowed group: another id; a fresh header checksum
       * so it gets past that check. */
      memcpy(pkt, data + i, n);
      if (n > 4)
        pkt[4] = 0x34;
      size_t hl = n ? (size_t)(pkt[0] & 15) * 4 : 0;
      if (n >= 20 && hl >= 20 && hl <= n) {
        pkt[10] = pkt[11] = 0;
        uint16_t ck = zt_ip_checksum(pkt, hl);
        memcpy(pkt + 10, &ck, 2);
      }
      res = zt_reasm_feed(&r, pkt, n, now, &out, &outlen);
    } else {
      if (n > size - i)
        n = size - i;
      uint16_t frag = (uint16_t)(off | (sel & 8 ? 0x2000 : 0));
      build(pkt, key, frag, data + i, n);
      res = zt_reasm_feed(&r, pkt, 20 + n, now, &out, &outlen);
      if ((res == ZT_REASM_HELD || res == ZT_REASM_DONE) &&
          (size_t)off * 8 + n <= 65536)
        memcpy(shadow[key] + (size_t)off * 8, data + i, n);
    }
    i += n;
    if (res == ZT_REASM_DONE)
      check_done(out, outlen);
    if (zt_reasm_bytes(&r) > ZT_REASM_MAX_BYTES ||
        zt_reasm_groups(&r) > ZT_REASM_MAX_GROUPS)
      abort();
  }
  zt_reasm_free(&r);
  if (r.bytes != 0)
    abort();
  return 0;
}

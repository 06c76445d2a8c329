/*
 * libFuzzer target for path probes (core/probe.c). The input is one
 * datagram, as the receive path sees it: demultiplexed by zt_probe_match
 * and zt_probe_dst_key, then decoded under a fixed key (the one
 * fuzz/gen_probe_seeds.py signs the seeds with, so valid probes are in
 * reach). Checks the rules, not just memory safety: the three functions
 * agree with each other, an accepted probe has exactly one encoding (the
 * input itself), and it fails under the other direction's key.
 *
 * The same bytes also drive a replay window, compared number by number
 * with a plain model (every accepted number kept in a list).
 */
#include <stdlib.h>
#include <string.h>

#include "probe.h"

/* 0, 1, ..., 31: the seeds' key. */
static void key_fixed(uint8_t k[ZT_PROBE_KEY_LEN]) {
  for (int i = 0; i < ZT_PROBE_KEY_LEN; i++)
    k[i] = (uint8_t)i;
}

static void codec(const uint8_t *data, size_t size) {
  uint8_t key[ZT_PROBE_KEY_LEN], other[ZT_PROBE_KEY_LEN];
  key_fixed(key);
  memcpy(other, key, sizeof(other));
  other[0] ^= 1;

  bool m = zt_probe_match(data, size);
  uint32_t dk = 0;
  int drc = zt_probe_dst_key(data, size, &dk);
  if (drc != 0 && drc != -1)
    abort();
  if (drc == 0 && (!m || size < 10))
    abort();
  if (m && size >= 10 && drc != 0)
    abort();

  struct zt_probe p;
  int rc = zt_probe_decode(data, size, key, &p);
  if (rc != 0 && rc != ZT_PROBE_EMALFORMED && rc != ZT_PROBE_EAUTH)
    abort();
  if (rc != 0)
    return;
  if (size != ZT_PROBE_LEN || !m || drc != 0 || dk != p.dst_key)
    abort();
  if (p.type != ZT_PROBE_PING && p.type != ZT_PROBE_PONG)
    abort();
  if (p.type == ZT_PROBE_PING && p.observed.ss_family != 0)
    abort();
  /* One encoding per probe: re-encoding gives back the input, and the
   * answer to it is no larger (no amplification). */
  uint8_t out[ZT_PROBE_LEN + 1];
  if (zt_probe_encode(&p, key, out, sizeof(out)) != ZT_PROBE_LEN ||
      memcmp(out, data, ZT_PROBE_LEN) != 0)
    abort();
  struct zt_probe q;
  if (zt_probe_decode(data, size, other, &q) != ZT_PROBE_EAUTH)
    abort();
}

/* Sequence numbers from 3-byte chunks, relative to the window's top so
 * that the interesting region (in the window, at its edge, just past it)
 * is reached often, with the odd absolute number and huge jump. */
static void replay(const uint8_t *data, size_t size) {
  enum { MAX_SEEN = 4096 };
  static uint64_t seen[MAX_SEEN];
  size_t nseen = 0;
  struct zt_replay r;
  zt_replay_init(&r);
  uint64_t top = 0;
  for (size_t off = 0; off + 3 <= size && nseen < MAX_SEEN; off += 3) {
    uint64_t v = (uint64_t)data[off + 1] << 8 | data[off + 2], s;
    switch (data[off] & 3) {
    case 0:
      s = top + v % 300;
      break;
    case 1:
      s = top - v % 300; /* may wrap below 0: a huge number then */
      break;
    case 2:
      s = v;
      break;
    default:
      s = top + (v << 48);
      break;
    }
    bool dup = false;
    for (size_t i = 0; i < nseen; i++)
      dup |= seen[i] == s;
    bool want = s != 0 && !dup &&
                (s > top || top - s < ZT_REPLAY_WINDOW);
    bool got = zt_replay_accept(&r, s);
    if (got != want)
      abort();
    if (got) {
      seen[nseen++] = s;
      if (s > top)
        top = s;
    }
    if (r.top != top)
      abort();
    /* Never twice in a row, whatever the first answer was. */
    if (zt_replay_accept(&r, s))
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  codec(data, size);
  replay(data, size);
  return 0;
}

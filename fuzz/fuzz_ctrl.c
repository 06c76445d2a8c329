/*
 * libFuzzer target for the control codec and stream reader. Input: first
 * byte is the message type, the rest the body. Checks that
 *  - a body that decodes re-encodes to exactly the same bytes and decodes
 *    to the same struct (the encoding is canonical);
 *  - the stream reader's result does not depend on how the stream is cut:
 *    the input fed whole and fed in two pieces (cut chosen by the first
 *    byte) gives the same messages and stats, and every message it
 *    delivers re-encodes.
 */
#include <stdlib.h>
#include <string.h>

#include "ctrl.h"

static struct zt_ctrl_msg m1, m2;
static uint8_t enc[ZT_CTRL_HDR_LEN + ZT_CTRL_BODY_MAX];
static struct zt_ctrl_reader whole, split;

static void check_roundtrip(const uint8_t *data, size_t size) {
  if (zt_ctrl_decode(data[0], data + 1, size - 1, &m1) != 0)
    return;
  int n = zt_ctrl_encode(&m1, enc, sizeof enc);
  if (size - 1 > ZT_CTRL_BODY_MAX) {
    if (n != -1)
      abort(); /* encode must refuse what a reader would drop */
    return;
  }
  if (n != (int)(size + 2) || enc[0] != data[0] ||
      (size_t)(enc[1] << 8 | enc[2]) != size - 1 ||
      memcmp(enc + 3, data + 1, size - 1) != 0)
    abort();
  if (zt_ctrl_decode(enc[0], enc + 3, (size_t)n - 3, &m2) != 0 ||
      memcmp(&m1, &m2, sizeof m1) != 0)
    abort();
}

/* Running hash of delivered messages, so two readers can be compared. The
 * canonical encoding is hashed rather than the ~10 KB struct: far cheaper,
 * and it checks that everything delivered can be sent on again. */
struct digest {
  uint64_t count, hash;
};

static uint8_t cb_enc[ZT_CTRL_HDR_LEN + ZT_CTRL_BODY_MAX];

static void on_msg(void *ud, const struct zt_ctrl_msg *m) {
  struct digest *d = ud;
  int n = zt_ctrl_encode(m, cb_enc, sizeof cb_enc);
  if (n < ZT_CTRL_HDR_LEN)
    abort();
  uint64_t h = d->hash ^ 0xcbf29ce484222325ull;
  for (int i = 0; i < n; i++)
    h = (h ^ cb_enc[i]) * 0x100000001b3ull;
  d->hash = h;
  d->count++;
}

static void check_reader(const uint8_t *data, size_t size) {
  struct digest dw = {0, 0}, ds = {0, 0};
  zt_ctrl_reader_init(&whole);
  zt_ctrl_reader_feed(&whole, data, size, on_msg, &dw);
  size_t cut = size ? (size_t)data[0] * 257 % (size + 1) : 0;
  zt_ctrl_reader_init(&split);
  zt_ctrl_reader_feed(&split, data, cut, on_msg, &ds);
  zt_ctrl_reader_feed(&split, data + cut, size - cut, on_msg, &ds);
  if (dw.count != ds.count || dw.hash != ds.hash ||
      memcmp(&whole.stats, &split.stats, sizeof whole.stats) != 0 ||
      whole.stats.messages != dw.count)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size >= 1) {
    check_roundtrip(data, size);
    zt_ctrl_type_name(data[0]);
  }
  check_reader(data, size);
  return 0;
}

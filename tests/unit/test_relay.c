/* Relay frame header: byte layout, round trip and every rejected shape. */
#include "relay.h"
#include "test.h"

static void test_write_hdr(void) {
  uint8_t h[ZT_RELAY_HDR_LEN];
  zt_relay_write_hdr(h, 0x01020304);
  uint8_t want[] = {ZT_RELAY_DATA, 1, 2, 3, 4};
  CHECK(memcmp(h, want, sizeof want) == 0);
  zt_relay_write_hdr(h, 0xffffffff);
  uint8_t want2[] = {ZT_RELAY_DATA, 0xff, 0xff, 0xff, 0xff};
  CHECK(memcmp(h, want2, sizeof want2) == 0);
}

static void test_roundtrip(void) {
  static const uint32_t channels[] = {0, 1, 0x7fffffff, 0x80000000, 0xffffffff};
  uint8_t frame[ZT_RELAY_HDR_LEN + 100];
  for (size_t i = 0; i < sizeof channels / sizeof channels[0]; i++) {
    zt_relay_write_hdr(frame, channels[i]);
    for (int k = 0; k < 100; k++)
      frame[ZT_RELAY_HDR_LEN + k] = (uint8_t)(k * 7);
    for (size_t plen = 1; plen <= 100; plen += 33) {
      uint32_t ch = 12345;
      const uint8_t *p = NULL;
      size_t pl = 0;
      CHECK_EQ_INT(zt_relay_parse(frame, ZT_RELAY_HDR_LEN + plen, &ch, &p, &pl),
                   0);
      CHECK_EQ_INT(ch, channels[i]);
      CHECK(p == frame + ZT_RELAY_HDR_LEN);
      CHECK_EQ_INT(pl, plen);
    }
  }
}

static void test_rejects(void) {
  uint8_t frame[16] = {ZT_RELAY_DATA, 0, 0, 0, 9, 0xaa};
  uint32_t ch = 77;
  const uint8_t *p = NULL;
  size_t pl = 55;
  for (size_t len = 0; len <= ZT_RELAY_HDR_LEN; len++) /* short or empty */
    CHECK_EQ_INT(zt_relay_parse(frame, len, &ch, &p, &pl), -1);
  CHECK_EQ_INT(zt_relay_parse(frame, 6, &ch, &p, &pl), 0);
  CHECK_EQ_INT(ch, 9);
  CHECK_EQ_INT(pl, 1);
  CHECK_EQ_INT(p[0], 0xaa);
  static const uint8_t bad_types[] = {0x00, 0x02, 0x80, 0xff};
  for (size_t i = 0; i < sizeof bad_types; i++) {
    frame[0] = bad_types[i];
    CHECK_EQ_INT(zt_relay_parse(frame, sizeof frame, &ch, &p, &pl), -1);
  }
}

int main(void) {
  RUN(test_write_hdr);
  RUN(test_roundtrip);
  RUN(test_rejects);
  return TEST_EXIT();
}

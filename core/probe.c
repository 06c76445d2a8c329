/* Path probes (PING/PONG) and their replay window. See probe.h. */
#include "probe.h"

#include <gnutls/crypto.h>
#include <netinet/in.h>
#include <string.h>

/* Offsets of the fields, in the order probe.h lays them out. */
enum {
  OFF_FIRST = 0,
  OFF_VERSION = 1,
  OFF_TYPE = 5,
  OFF_DST_KEY = 6,
  OFF_SEQ = 10,
  OFF_TXID = 18,
  OFF_FAMILY = 30,
  OFF_PORT = 31,
  OFF_ADDR = 33,
  OFF_TAG = 49,
};
#define FIRST_BYTE 0xc0
#define ADDR_LEN 16
#define FAMILY_NONE 0
#define FAMILY_V4 4
#define FAMILY_V6 6

_Static_assert(OFF_TAG + ZT_PROBE_TAG_LEN == ZT_PROBE_AUTH_LEN,
               "the tag ends the authenticated part");
_Static_assert(OFF_ADDR + ADDR_LEN == OFF_TAG, "the address ends the body");

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}
static void wr32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}
static uint64_t rd64(const uint8_t *p) {
  return (uint64_t)rd32(p) << 32 | rd32(p + 4);
}
static void wr64(uint8_t *p, uint64_t v) {
  wr32(p, (uint32_t)(v >> 32));
  wr32(p + 4, (uint32_t)v);
}

bool zt_probe_match(const uint8_t *pkt, size_t len) {
  /* First byte and version only: this runs on every datagram before any
   * key is known, and a QUIC packet of any version fails the version. */
  return len >= OFF_TYPE && pkt[OFF_FIRST] == FIRST_BYTE &&
         rd32(pkt + OFF_VERSION) == ZT_PROBE_VERSION;
}

int zt_probe_dst_key(const uint8_t *pkt, size_t len, uint32_t *key) {
  if (!zt_probe_match(pkt, len) || len < OFF_DST_KEY + 4)
    return -1;
  *key = rd32(pkt + OFF_DST_KEY);
  return 0;
}

/* The tag of the body pkt[0..OFF_TAG), into tag. 0, or -1 when GnuTLS
 * fails (it should not with SHA-256 and a fixed-size key). */
static int compute_tag(const uint8_t key[ZT_PROBE_KEY_LEN], const uint8_t *pkt,
                       uint8_t tag[ZT_PROBE_TAG_LEN]) {
  uint8_t digest[32];
  if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, ZT_PROBE_KEY_LEN, pkt, OFF_TAG,
                       digest) != 0)
    return -1;
  memcpy(tag, digest, ZT_PROBE_TAG_LEN);
  return 0;
}

/* Equal or not, in time that depends on n alone: no early exit, so a
 * forger cannot learn from the response time how many bytes were right. */
static bool ct_equal(const uint8_t *a, const uint8_t *b, size_t n) {
  uint8_t d = 0;
  for (size_t i = 0; i < n; i++)
    d |= a[i] ^ b[i];
  return d == 0;
}

static bool all_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != 0)
      return false;
  return true;
}

size_t zt_probe_encode(const struct zt_probe *p,
                       const uint8_t key[ZT_PROBE_KEY_LEN], uint8_t *out,
                       size_t cap) {
  if (cap < ZT_PROBE_LEN)
    return 0;
  if (p->type != ZT_PROBE_PING && p->type != ZT_PROBE_PONG)
    return 0;
  sa_family_t fam = p->observed.ss_family;
  /* A PING has observed nothing yet; a PONG may have nothing to say too. */
  if (fam != AF_UNSPEC && (p->type == ZT_PROBE_PING ||
                           (fam != AF_INET && fam != AF_INET6)))
    return 0;

  memset(out, 0, ZT_PROBE_LEN); /* zeros wherever the address is shorter */
  out[OFF_FIRST] = FIRST_BYTE;
  wr32(out + OFF_VERSION, ZT_PROBE_VERSION);
  out[OFF_TYPE] = p->type;
  wr32(out + OFF_DST_KEY, p->dst_key);
  wr64(out + OFF_SEQ, p->seq);
  memcpy(out + OFF_TXID, p->txid, ZT_PROBE_TXID_LEN);
  if (fam == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)&p->observed;
    out[OFF_FAMILY] = FAMILY_V4;
    /* sin_port is already in network order: copy its bytes as they are. */
    memcpy(out + OFF_PORT, &s4->sin_port, 2);
    memcpy(out + OFF_ADDR, &s4->sin_addr, 4);
  } else if (fam == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&p->observed;
    out[OFF_FAMILY] = FAMILY_V6;
    memcpy(out + OFF_PORT, &s6->sin6_port, 2);
    memcpy(out + OFF_ADDR, s6->sin6_addr.s6_addr, ADDR_LEN);
  }
  if (compute_tag(key, out, out + OFF_TAG) != 0)
    return 0;
  return ZT_PROBE_LEN;
}

/* The observed-address fields into *ss, or -1 when the family is unknown
 * or bytes the family leaves unused are not zero (so that every accepted
 * probe has exactly one encoding). */
static int parse_observed(const uint8_t *pkt, struct sockaddr_storage *ss) {
  const uint8_t *port = pkt + OFF_PORT, *addr = pkt + OFF_ADDR;
  memset(ss, 0, sizeof(*ss));
  switch (pkt[OFF_FAMILY]) {
  case FAMILY_NONE:
    return all_zero(port, 2) && all_zero(addr, ADDR_LEN) ? 0 : -1;
  case FAMILY_V4: {
    if (!all_zero(addr + 4, ADDR_LEN - 4))
      return -1;
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    s4->sin_family = AF_INET;
    memcpy(&s4->sin_port, port, 2);
    memcpy(&s4->sin_addr, addr, 4);
    return 0;
  }
  case FAMILY_V6: {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    s6->sin6_family = AF_INET6;
    memcpy(&s6->sin6_port, port, 2);
    memcpy(s6->sin6_addr.s6_addr, addr, ADDR_LEN);
    return 0;
  }
  default:
    return -1;
  }
}

int zt_probe_decode(const uint8_t *pkt, size_t len,
                    const uint8_t key[ZT_PROBE_KEY_LEN], struct zt_probe *p) {
  /* Exactly ZT_PROBE_LEN: trailing bytes would be unauthenticated, and a
   * probe has one size whatever it carries. */
  if (len != ZT_PROBE_LEN || !zt_probe_match(pkt, len))
    return ZT_PROBE_EMALFORMED;
  uint8_t type = pkt[OFF_TYPE];
  if (type != ZT_PROBE_PING && type != ZT_PROBE_PONG)
    return ZT_PROBE_EMALFORMED;
  if (type == ZT_PROBE_PING && pkt[OFF_FAMILY] != FAMILY_NONE)
    return ZT_PROBE_EMALFORMED;
  struct zt_probe q;
  if (parse_observed(pkt, &q.observed) != 0)
    return ZT_PROBE_EMALFORMED;
  if (!all_zero(pkt + ZT_PROBE_AUTH_LEN, ZT_PROBE_LEN - ZT_PROBE_AUTH_LEN))
    return ZT_PROBE_EMALFORMED; /* padding is zeros, nothing else */

  /* The structure is public, the tag is the secret part: check it last,
   * and fill *p only once it holds. */
  uint8_t tag[ZT_PROBE_TAG_LEN];
  if (compute_tag(key, pkt, tag) != 0 ||
      !ct_equal(tag, pkt + OFF_TAG, ZT_PROBE_TAG_LEN))
    return ZT_PROBE_EAUTH;

  q.type = type;
  q.dst_key = rd32(pkt + OFF_DST_KEY);
  q.seq = rd64(pkt + OFF_SEQ);
  memcpy(q.txid, pkt + OFF_TXID, ZT_PROBE_TXID_LEN);
  *p = q;
  return 0;
}

/* ---- Replay window ------------------------------------------------------
 * Bit d of the window (bits[d / 64], bit d % 64) stands for top - d: bit 0
 * is top itself. A new top moves every seen number d further down. */

void zt_replay_init(struct zt_replay *r) { memset(r, 0, sizeof(*r)); }

/* Moves the window by n >= 1 positions. Shifts of a uint64_t by 64 or more
 * are undefined in C, so each case keeps its shift counts in 0..63. */
static void window_shift(struct zt_replay *r, uint64_t n) {
  _Static_assert(ZT_REPLAY_WINDOW == 128, "two words of bitmap");
  if (n >= ZT_REPLAY_WINDOW) {
    r->bits[0] = r->bits[1] = 0;
  } else if (n >= 64) {
    r->bits[1] = r->bits[0] << (n - 64);
    r->bits[0] = 0;
  } else {
    r->bits[1] = r->bits[1] << n | r->bits[0] >> (64 - n);
    r->bits[0] <<= n;
  }
}

static bool window_test_and_set(struct zt_replay *r, uint64_t d) {
  uint64_t mask = (uint64_t)1 << (d % 64);
  uint64_t *w = &r->bits[d / 64];
  if (*w & mask)
    return false;
  *w |= mask;
  return true;
}

bool zt_replay_accept(struct zt_replay *r, uint64_t seq) {
  if (seq == 0) /* senders count from 1; 0 also means "none yet" in top */
    return false;
  if (seq > r->top) {
    window_shift(r, seq - r->top);
    r->top = seq;
    r->bits[0] |= 1; /* d = 0: the new top */
    return true;
  }
  uint64_t d = r->top - seq;
  /* Below the window we cannot tell new from replayed: refuse. */
  if (d >= ZT_REPLAY_WINDOW)
    return false;
  return window_test_and_set(r, d);
}

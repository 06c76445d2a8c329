/*
 * Path probes: the PING and PONG an agent and a connector send each other to
 * find and keep a direct UDP path (docs/protocol.md, "Direct paths").
 *
 * A probe travels beside the inner session's QUIC packets on the same UDP
 * socket, so it must never be mistaken for one: it is shaped like a QUIC
 * long-header packet whose version field holds ZT_PROBE_VERSION, a value
 * no QUIC version uses (ngtcp2 greases the fixed bit, never the version).
 *
 * Every probe is authenticated with a key only the two ends of the inner
 * session know (exported from its TLS session; the Intermediate that relays
 * it cannot compute it), one key per direction, so a probe reflected back
 * at its sender fails too. Each sender numbers its probes; the receiver
 * keeps a window of the numbers it has seen and refuses repeats, so a
 * captured probe replayed from elsewhere is counted and dropped. A PONG is
 * exactly as long as a PING: answering never amplifies.
 *
 * Layout (all integers big-endian), ZT_PROBE_LEN bytes:
 *   0   1  0xc0 (long header, fixed bit)
 *   1   4  ZT_PROBE_VERSION
 *   5   1  type: ZT_PROBE_PING or ZT_PROBE_PONG
 *   6   4  dst_key: the receiver's probe key id (its inner connection key)
 *   10  8  seq: the sender's probe counter, from 1, strictly increasing
 *   18 12  txid: random in a PING; a PONG repeats its PING's
 *   30  1  observed family: 0 (none, PING), 4 or 6
 *   31  2  observed port
 *   33 16  observed address (IPv4: first 4 bytes, the rest zero)
 *   49 16  tag: HMAC-SHA256(key, bytes 0..48), first 16 bytes
 *   65  *  padding: zeros up to ZT_PROBE_LEN (checked, so that every probe
 *          has one encoding and the tag need not cover it)
 * The padding makes every probe a 1200-byte UDP payload, QUIC's minimum:
 * a direct path is used only if it carries the inner connection's
 * smallest packets (path MTU discovery then runs on it, pmtu.h).
 * Sans-IO: no sockets, no clock, no malloc.
 */
#ifndef ZTNA_PROBE_H
#define ZTNA_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ZT_PROBE_VERSION 0x7a747031u /* "ztp1" */
#define ZT_PROBE_AUTH_LEN 65 /* fields and tag; zeros follow */
#define ZT_PROBE_LEN 1200     /* ZT_QUIC_MIN_UDP_PAYLOAD */
#define ZT_PROBE_KEY_LEN 32
#define ZT_PROBE_TXID_LEN 12
#define ZT_PROBE_TAG_LEN 16

enum zt_probe_type { ZT_PROBE_PING = 1, ZT_PROBE_PONG = 2 };

enum zt_probe_err {
  ZT_PROBE_EMALFORMED = -1, /* wrong length, first byte, version, type,
                               family, or nonzero bytes where zeros belong
                               (padding included) */
  ZT_PROBE_EAUTH = -2,      /* tag does not verify under the key */
};

struct zt_probe {
  uint8_t type; /* enum zt_probe_type */
  uint32_t dst_key;
  uint64_t seq;
  uint8_t txid[ZT_PROBE_TXID_LEN];
  /* PONG: the address the PING came from, as the responder saw it (the
   * sender's mapping on that path). ss_family 0 in a PING. */
  struct sockaddr_storage observed;
};

/* Is this packet shaped like a probe (first byte and version)? Says nothing
 * about its authenticity: a QUIC packet never answers true. */
bool zt_probe_match(const uint8_t *pkt, size_t len);

/* The dst_key of a probe-shaped packet, for demultiplexing before the key
 * of the session that verifies it is known. 0, or -1 when pkt is not
 * probe-shaped or too short. */
int zt_probe_dst_key(const uint8_t *pkt, size_t len, uint32_t *key);

/* Encodes and authenticates p under key into out. Returns ZT_PROBE_LEN, or
 * 0 when cap is too small or p is invalid (type, family). */
size_t zt_probe_encode(const struct zt_probe *p,
                       const uint8_t key[ZT_PROBE_KEY_LEN], uint8_t *out,
                       size_t cap);

/* Parses pkt and verifies its tag under key (in constant time). 0, or an
 * enum zt_probe_err; on error *p must not be used. */
int zt_probe_decode(const uint8_t *pkt, size_t len,
                    const uint8_t key[ZT_PROBE_KEY_LEN], struct zt_probe *p);

/* ---- Replay window ---------------------------------------------------------
 * The sequence numbers a receiver has accepted: the highest one and a bitmap
 * of the ZT_REPLAY_WINDOW below it (RFC 6479's idea, as WireGuard keeps its
 * counters). Probes to several candidates go out together and may arrive
 * out of order, so a strict "greater than the last" rule would refuse good
 * ones. */
#define ZT_REPLAY_WINDOW 128

struct zt_replay {
  uint64_t top; /* highest accepted; 0: none yet */
  uint64_t bits[ZT_REPLAY_WINDOW / 64];
};

void zt_replay_init(struct zt_replay *r);
/* Call only after the probe authenticated. True when seq is new (and now
 * recorded); false when it was seen before, is 0, or is too old for the
 * window. */
bool zt_replay_accept(struct zt_replay *r, uint64_t seq);

#endif

/*
 * A stand-in for core/quic.c in the node-level fuzzers: every zq_*
 * function of quic.h, without ngtcp2 or TLS, so one fuzz input can connect,
 * authenticate and drive many peers in microseconds.
 *
 * It keeps quic.h's contract where the nodes can see it: on_ready only when
 * the peer's identity passes the connection's zt_tls_expect (so a peer is
 * refused exactly where the real handshake refuses it, with a "peer
 * refused: ..." reason), zq_is_ready only after on_ready, stream bytes kept
 * until acknowledged, datagrams in the real bounded queue (core/dgramq.c),
 * zq_close -> one CONNECTION_CLOSE on the next write, then dead; handshake
 * and idle timeouts through zq_expiry/zq_handle_expiry.
 *
 * What it does not model: encryption, loss, retransmission, congestion
 * control beyond a fixed in-flight window, Initial padding (the real server
 * refuses Initials under 1200 bytes; the mock takes any size), path
 * validation (a ready connection follows the peer's new address at once).
 *
 * Its packets, which the fuzz drivers build and parse:
 *
 *   into a node:  Initial  C0 00000001 10 <16-byte DCID> frames...
 *                 other    40 <16-byte DCID, our key first> frames...
 *   out of a node: F0|40 <key of the sending connection, 4> <12 zero bytes>
 *                 frames... (F0 on a client's first packet, its "Initial")
 *   frame:        type u8, length u16 big-endian, body
 *
 * The key in what a node sends is its own (a real packet carries the
 * peer's connection ID there); it is how the driver learns whom to address.
 */
#ifndef ZTNA_FUZZ_MOCK_QUIC_H
#define ZTNA_FUZZ_MOCK_QUIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quic.h"

#define MQ_SHORT_HDR_LEN 17   /* flags + 16-byte connection ID */
#define MQ_INITIAL_HDR_LEN 22 /* flags, version, DCID length, DCID */
#define MQ_FRAME_HDR_LEN 3
/* Bytes a connection may have written but not had acknowledged: about a
 * real initial congestion window. A peer that never acknowledges stalls
 * its connection here, and what it is sent piles up in the queues. */
#define MQ_INFLIGHT_MAX (10 * 1200)

enum mq_frame_type {
  /* Completes the handshake with the peer certificate's identity:
   * u8 role, then the name's bytes (any bytes: a bad one is refused). */
  MQ_F_HANDSHAKE = 1,
  MQ_F_STREAM = 2, /* control-stream bytes */
  MQ_F_DGRAM = 3,  /* one DATAGRAM frame */
  /* CONNECTION_CLOSE: u64 application error, reason bytes. */
  MQ_F_CLOSE = 4,
  /* Acknowledges everything the receiver has sent so far. */
  MQ_F_ACK = 5,
};

/* ---- building and parsing packets --------------------------------------- */

/* Each returns the new length of pkt, or 0 when cap is too small. */
size_t mq_put_initial(uint8_t *pkt, size_t cap, uint32_t dcid_key);
size_t mq_put_short(uint8_t *pkt, size_t cap, uint32_t dcid_key);
size_t mq_put_frame(uint8_t *pkt, size_t len, size_t cap, uint8_t type,
                    const uint8_t *body, size_t blen);

struct mq_cursor {
  const uint8_t *p;
  size_t left;
};
/* Reads the header of a packet a node sent. 0 or -1 (not one of ours). */
int mq_parse_out(const uint8_t *pkt, size_t len, uint32_t *key, bool *initial,
                 struct mq_cursor *frames);
/* The next frame, or false at the end (or at a truncated frame). */
bool mq_next_frame(struct mq_cursor *c, uint8_t *type, const uint8_t **body,
                   size_t *blen);

/* ---- looking inside (the drivers' invariants) --------------------------- */

/* Forgets the connection-key counter, so keys are the same for every run
 * of an input. Call with no connection alive. */
void mq_reset(void);
/* Connections created and not yet freed. */
size_t mq_live(void);
/* The connection the last zq_server_accept() made (NULL: it refused), and
 * the last zq_client_new(). */
struct zq_conn *mq_last_accepted(void);
struct zq_conn *mq_last_client(void);
/* The connection whose incoming packet is being processed right now
 * (inside zq_read or zq_server_accept), NULL otherwise. */
struct zq_conn *mq_reading(void);
/* A number unique to this connection within one input (never reused, unlike
 * pointers). */
uint64_t mq_serial(const struct zq_conn *c);
/* Stream bytes not yet acknowledged, and datagrams waiting. */
size_t mq_stream_queued(const struct zq_conn *c);
size_t mq_dgram_queued(const struct zq_conn *c);
/* Bytes written since the peer last acknowledged. */
size_t mq_inflight(const struct zq_conn *c);
bool mq_close_sent(const struct zq_conn *c);
/* The live connection with this serial, or NULL once it is freed. */
struct zq_conn *mq_find(uint64_t serial);
/* Is c a live connection (not freed)? */
bool mq_is_live(const struct zq_conn *c);
uint64_t mq_app_error(const struct zq_conn *c);

/* Called by zq_send_datagram() before it queues anything: the relay
 * invariants look at every forwarded frame here, while the node's tables
 * are still as they were when it decided. */
typedef void (*mq_dgram_hook)(void *ud, struct zq_conn *to,
                              const uint8_t *data, size_t len);
void mq_set_dgram_hook(mq_dgram_hook hook, void *ud);

#endif

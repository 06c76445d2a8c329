/*
 * An agent's or connector's connection to the Intermediate: the outer QUIC
 * connection, its control-stream reader, relay framing, and reconnection
 * with backoff when the connection dies. The owner reacts to events
 * through handlers; it never sees QUIC packets.
 */
#ifndef ZTNA_UPLINK_H
#define ZTNA_UPLINK_H

#include "backoff.h"
#include "ctrl.h"
#include "metrics.h"
#include "certexpiry.h"
#include "node_io.h"
#include "quic.h"
#include "refusal.h"

/* While the node sends traffic that does not go through the uplink (a
 * direct session), the uplink sends an ack-eliciting PAD at most this
 * often, so a restarted Intermediate answers with a Stateless Reset within
 * a round trip instead of at the next keepalive (10 s). */
#define ZT_UPLINK_POKE_MS 250
/* For this long after a relay frame arrived, an uplink that has heard
 * nothing for ZT_UPLINK_QUIET_MS pokes too: relayed traffic that stops
 * at once is what an Intermediate's death looks like from a connector
 * that only answers (its keepalive would notice after 10 s). 200 ms is
 * well above an ACK's delay (25 ms) on any path that carries a relay, and
 * what it costs is a 3-byte PAD every 250 ms during the watch. */
#define ZT_UPLINK_WATCH_MS 5000
#define ZT_UPLINK_QUIET_MS 200

struct zt_uplink;

struct zt_uplink_handlers {
  void (*on_up)(struct zt_uplink *u, void *ud);
  void (*on_msg)(struct zt_uplink *u, const struct zt_ctrl_msg *m, void *ud);
  void (*on_relay)(struct zt_uplink *u, uint32_t channel,
                   const uint8_t *payload, size_t len, void *ud);
  void (*on_down)(struct zt_uplink *u, const char *reason, void *ud);
};

struct zt_uplink_stats {
  uint64_t connects, disconnects;
  uint64_t relay_malformed;  /* datagrams without a valid relay header */
  uint64_t relay_send_drops; /* relay frames the outer queue refused */
  struct zt_hist handshake; /* outer handshake times (metrics.h) */
};

struct zt_uplink {
  struct zq_config qcfg;
  struct zt_uplink_handlers h;
  void *ud;
  const struct zt_io *io;
  struct sockaddr_storage local, server;
  socklen_t locallen, serverlen;
  struct zq_conn *q;
  struct zt_backoff backoff;
  uint64_t reconnect_at; /* 0: no reconnect pending */
  bool was_up;
  /* The Intermediate accepted us (WELCOME): only then are we connected. In
   * TLS 1.3 our handshake completes before it has checked our certificate. */
  bool welcomed;
  uint64_t welcomed_at;
  uint64_t now; /* time of the packet being read, for handlers */
  bool replaced; /* closed with ZT_ERR_REPLACED: stays down */
  struct zt_repeat fails; /* failed attempts in a row, for the log */
  uint64_t next_poke;     /* zt_uplink_poke: not before this time */
  uint64_t poked_at; /* first poke since last_rx (answered if <= last_rx) */
  uint64_t watch_until;   /* relay traffic seen: watch for silence */
  struct zt_ctrl_reader reader;
  struct zt_uplink_stats stats;
  /* Our address as the Intermediate saw it (last WELCOME; 0 length:
   * none yet), for status reports. */
  struct sockaddr_storage observed;
  socklen_t observedlen;
  /* When a packet last came from the Intermediate (or the dial began):
   * an agent with standby Intermediates gives up on a silent one early,
   * roaming checks that a moved path answers, and relay traffic that
   * meets silence pokes the Intermediate (zt_uplink_expiry). */
  uint64_t last_rx;
  /* The Intermediate's certificate: the connection ends when it expires
   * (certexpiry.h), and the next handshake refuses it. */
  struct zt_cert_watch cert;
};

void zt_uplink_init(struct zt_uplink *u, const struct zq_config *qcfg,
                    const struct zt_io *io, const struct sockaddr *local,
                    socklen_t locallen, const struct sockaddr *server,
                    socklen_t serverlen, const struct zt_uplink_handlers *h,
                    void *ud);
void zt_uplink_free(struct zt_uplink *u);
/* Leaving for good (the daemon stops): sends what is queued, then a
 * CONNECTION_CLOSE, so the Intermediate drops us at once instead of after
 * its idle timeout. No reconnect follows. */
void zt_uplink_shutdown(struct zt_uplink *u, uint64_t now);
/* Dials now (or schedules a retry if the dial itself fails). */
void zt_uplink_start(struct zt_uplink *u, uint64_t now);
/* Is this packet for the uplink? Ours by connection ID, or any packet from
 * the server's address: a Stateless Reset carries no connection ID of ours
 * (its first bytes are random), and nothing else talks to this socket. */
bool zt_uplink_owns(const struct zt_uplink *u, const struct sockaddr *from,
                    const uint8_t *pkt, size_t len);
void zt_uplink_feed(struct zt_uplink *u, const struct sockaddr *from,
                    socklen_t fromlen, const uint8_t *pkt, size_t len,
                    uint64_t now);
bool zt_uplink_is_up(const struct zt_uplink *u);
/* A newer connection of our identity replaced ours at the Intermediate:
 * the uplink stays down (no reconnect) until the node is restarted. */
bool zt_uplink_is_replaced(const struct zt_uplink *u);
/* The node just sent traffic some other way than the uplink (a direct
 * path): sends an ack-eliciting PAD on the control stream, at most every
 * ZT_UPLINK_POKE_MS, so that a dead or restarted Intermediate is noticed
 * within a round trip of traffic rather than at the next keepalive. */
void zt_uplink_poke(struct zt_uplink *u, uint64_t now);
/* When the first poke the Intermediate has not answered yet went out (it
 * answers an ack-eliciting PAD within a round trip and its ACK delay), or
 * 0 when nothing is outstanding. */
uint64_t zt_uplink_unanswered_since(const struct zt_uplink *u);
/* 0 or -1 (not connected, or encoding failed). */
int zt_uplink_send_msg(struct zt_uplink *u, const struct zt_ctrl_msg *m);
/* Queues a relay frame: header + payload (copied). 0 or -1 (counted). */
int zt_uplink_send_relay(struct zt_uplink *u, uint32_t channel,
                         const uint8_t *payload, size_t len);
/* Largest relay payload (an inner QUIC packet) the uplink carries. */
size_t zt_uplink_max_relay_payload(const struct zt_uplink *u);
/* Sends what is pending; handles death and schedules the reconnect. */
void zt_uplink_flush(struct zt_uplink *u, uint64_t now);
uint64_t zt_uplink_expiry(const struct zt_uplink *u);
void zt_uplink_handle_expiry(struct zt_uplink *u, uint64_t now);
/* Gives the connection up now, as if it had been lost (CONNECTION_CLOSE,
 * on_down, reconnect after the backoff): the Intermediate went silent. */
void zt_uplink_abandon(struct zt_uplink *u, const char *reason, uint64_t now);
/* Roaming (core/roam.c). Moves the live connection to a new local
 * address: 0, or -1 when QUIC cannot migrate now (then redial). */
int zt_uplink_migrate(struct zt_uplink *u, const struct sockaddr *local,
                      socklen_t locallen, uint64_t now);
/* Drops the connection (on_down if one existed), resets the backoff and
 * dials at once from `local` (NULL: the address it used). */
void zt_uplink_redial(struct zt_uplink *u, const struct sockaddr *local,
                      socklen_t locallen, const char *why, uint64_t now);
/* RTT to the Intermediate in ns (0 if unknown). */
uint64_t zt_uplink_rtt_ns(const struct zt_uplink *u);
/* "uplink quic: ..." for status reports; nothing while down. */
struct zt_strbuf;
void zt_uplink_status(const struct zt_uplink *u, struct zt_strbuf *sb);

#endif

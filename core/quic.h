/*
 * One QUIC connection over ngtcp2 + GnuTLS, sans-IO.
 *
 * Used for both layers: the outer connection to the Intermediate and the
 * inner agent <-> connector session. The caller feeds received packets with
 * the time, drains packets to send with zq_write() until it returns 0, and
 * re-arms its one timer at zq_expiry(). Nothing here reads a clock, touches a
 * socket or sleeps, so the simulator drives the same code with fake time.
 *
 * Each connection carries one reliable control stream (the first
 * client-initiated bidirectional stream) and unreliable DATAGRAM frames.
 * Datagrams wait in a bounded queue until ngtcp2 takes them; nothing is
 * dropped without being counted.
 *
 * Every connection ID we issue starts with the connection's 32-bit key, so a
 * daemon demultiplexes any packet (handshake or short header) with one hash
 * lookup: zq_packet_key().
 */
#ifndef ZTNA_QUIC_H
#define ZTNA_QUIC_H

#include <ngtcp2/ngtcp2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tls.h"

struct zq_conn;

struct zq_handlers {
  /* Handshake complete and the peer's certificate accepted. */
  void (*on_ready)(struct zq_conn *c, void *ud);
  /* Bytes of the control stream, in order. */
  void (*on_stream)(struct zq_conn *c, const uint8_t *data, size_t len,
                    void *ud);
  void (*on_datagram)(struct zq_conn *c, const uint8_t *data, size_t len,
                      void *ud);
};

struct zq_config {
  struct zt_tls_creds *creds;
  const char *alpn;
  struct zt_tls_expect expect; /* who the peer must be */
  size_t max_udp_payload;      /* largest UDP payload we send */
  uint64_t idle_timeout_ms;
  uint64_t keepalive_ms; /* 0: none */
  uint64_t handshake_timeout_ms;
  size_t dgram_queue_max; /* datagrams waiting for ngtcp2 */
  int cc_algo;            /* ngtcp2_cc_algo; default: ccalgo.h */
  /* Servers: stateless reset tokens derived from this secret (RFC 9000
   * 10.3) instead of random ones, so that after a restart the server can
   * still reset connections it no longer knows and their clients reconnect
   * at once instead of waiting out the idle timeout. */
  bool has_reset_secret;
  uint8_t reset_secret[32];
  /* Servers that send Retry packets (RFC 9000 8.1.2): the key of their
   * address validation tokens. */
  bool has_token_secret;
  uint8_t token_secret[32];
  /* Servers with several workers (docs/architecture.md, "Workers and
   * steering"): with key_stride > 1 every connection key k (the first 4
   * bytes of each connection ID we issue) has k % key_stride == key_residue,
   * so the kernel's steering program (platform/reuseport.c) sends every
   * packet of the connection to the worker that created it. 0 or 1: any
   * key (the default). */
  uint32_t key_stride, key_residue;
};

struct zq_stats {
  uint64_t dgram_sent, dgram_recv;
  uint64_t dgram_bytes_sent, dgram_bytes_recv; /* payload bytes of those */
  uint64_t dgram_lost;            /* unacknowledged, 3 later ones acked */
  uint64_t dgram_drop_queue_full; /* queue bound reached */
  uint64_t dgram_drop_fair;       /* oldest of the longest flow, for room */
  uint64_t dgram_drop_too_big;    /* would never fit a packet */
  uint64_t dgram_drop_unplaced;   /* skipped in DGRAM_MAX_TRIES packets */
  uint64_t dgram_drop_state;      /* peer did not allow datagrams */
  uint64_t stream_bytes_sent, stream_bytes_recv;
  uint64_t pad_frames; /* PAD frames sent so loss probes stay possible */
  uint64_t ack_holds;  /* writes that held an ACK-only packet back */
  /* From the connection's creation to its handshake's completion (0
   * before): the handshake latency metrics observe it. */
  uint64_t handshake_ns;
  uint64_t created_ns; /* when the connection was created */
};

enum zq_err {
  ZQ_ERR_TOO_BIG = -1,
  ZQ_ERR_QUEUE_FULL = -2,
  ZQ_ERR_CLOSED = -3,
  ZQ_ERR_NOMEM = -4,
};

/* Fills defaults for our deployments: idle 30 s, keepalive 10 s, handshake
 * 10 s, 1452-byte UDP payloads, a 1024-datagram queue. */
void zq_config_defaults(struct zq_config *cfg);

/* A client connection on `path`. NULL and err on failure. */
struct zq_conn *zq_client_new(const struct zq_config *cfg,
                              const struct zq_handlers *h, void *ud,
                              const struct sockaddr *local, socklen_t locallen,
                              const struct sockaddr *remote,
                              socklen_t remotelen, uint64_t now, char *err,
                              size_t errlen);

/* A server connection for the client Initial packet pkt (then fed to it).
 * NULL if the packet does not start a connection (err says why). */
struct zq_conn *
zq_server_accept(const struct zq_config *cfg, const struct zq_handlers *h,
                 void *ud, const struct sockaddr *local, socklen_t locallen,
                 const struct sockaddr *remote, socklen_t remotelen,
                 const uint8_t *pkt, size_t len, uint64_t now, char *err,
                 size_t errlen);

/* ---- address validation (RFC 9000 8.1) ----------------------------------
 * A server that does not want to keep state for an Initial from an address
 * it has not seen answer first asks for proof: a Retry packet carries a
 * token bound to the client's address and port, to the DCID the client
 * chose and to the Retry's own SCID, and valid for ZQ_RETRY_TOKEN_MS. The
 * client (ngtcp2 does this by itself) sends its Initial again with the
 * token; only then does the server create the connection. */

#define ZQ_RETRY_TOKEN_MS 10000 /* as long as a handshake may take */

/* A client Initial that matches no connection, parsed (header only). */
struct zq_initial {
  ngtcp2_pkt_hd hd;   /* hd.dcid: the DCID the client chose; it sends its
                         retransmissions there too */
  bool validated;     /* carries our valid Retry token for its address */
  ngtcp2_cid odcid;   /* when validated: the DCID the Retry answered */
};

/* 0, or -1 when pkt cannot open a connection. */
int zq_initial_parse(const uint8_t *pkt, size_t len, struct zq_initial *ini);

enum zq_token { ZQ_TOKEN_NONE, ZQ_TOKEN_VALID, ZQ_TOKEN_INVALID };
/* Checks the Initial's token: valid sets ini->validated and ini->odcid;
 * invalid covers forged, expired, for another address and any token when
 * cfg has no token secret. */
enum zq_token zq_initial_check_token(const struct zq_config *cfg,
                                     struct zq_initial *ini,
                                     const struct sockaddr *remote,
                                     socklen_t remotelen, uint64_t now);

/* A Retry packet answering ini from remote, into out. Its length, or 0
 * (no token secret, no room). Always smaller than the Initial it answers. */
size_t zq_write_retry(const struct zq_config *cfg,
                      const struct zq_initial *ini,
                      const struct sockaddr *remote, socklen_t remotelen,
                      uint64_t now, uint8_t *out, size_t cap);

/* zq_server_accept() for an Initial already parsed (and maybe validated). */
struct zq_conn *zq_server_accept_initial(
    const struct zq_config *cfg, const struct zq_handlers *h, void *ud,
    const struct sockaddr *local, socklen_t locallen,
    const struct sockaddr *remote, socklen_t remotelen,
    const struct zq_initial *ini, const uint8_t *pkt, size_t len,
    uint64_t now, char *err, size_t errlen);

void zq_free(struct zq_conn *c);

/* The key every connection ID of ours starts with. */
uint32_t zq_key(const struct zq_conn *c);
/* Reads the key from a packet's destination connection ID. 0 or -1 when
 * the packet is too short or its DCID is not one of ours in shape. */
int zq_packet_key(const uint8_t *pkt, size_t len, uint32_t *key);
/* Is this a long-header Initial packet (a possible new connection)? */
bool zq_packet_is_initial(const uint8_t *pkt, size_t len);

/* Feeds one received packet. 0, or -1 when the connection is now dead (the
 * reason is in zq_close_reason()). */
int zq_read(struct zq_conn *c, const struct sockaddr *local, socklen_t locallen,
            const struct sockaddr *remote, socklen_t remotelen,
            const uint8_t *pkt, size_t len, uint64_t now);

/* Writes the next packet into buf and its destination into to/tolen.
 * Returns its length, 0 when there is nothing (more) to send now, or -1
 * when the connection is dead. */
ssize_t zq_write(struct zq_conn *c, uint8_t *buf, size_t cap,
                 struct sockaddr_storage *to, socklen_t *tolen, uint64_t now);

/* Deadline (ns, caller's clock) for zq_handle_expiry(); UINT64_MAX: none. */
uint64_t zq_expiry(const struct zq_conn *c);
int zq_handle_expiry(struct zq_conn *c, uint64_t now);

/* Appends to the control stream. 0 or ZQ_ERR_*. Data is kept until acked. */
int zq_send_stream(struct zq_conn *c, const uint8_t *data, size_t len);
/* Control-stream bytes not yet acknowledged by the peer: what a peer that
 * withholds flow control or ACKs makes us hold. */
size_t zq_stream_backlog(const struct zq_conn *c);
/* Queues one datagram. 0 or ZQ_ERR_* (counted in stats). */
int zq_send_datagram(struct zq_conn *c, const uint8_t *data, size_t len);
/* The same, for one flow of several (a relay channel): flows share the
 * queue fairly (dgramq.h), so one cannot crowd out the others. */
int zq_send_datagram_flow(struct zq_conn *c, uint32_t flow,
                          const uint8_t *data, size_t len);
/* Largest datagram zq_send_datagram() takes now; it follows the path MTU
 * (pmtu.h), so callers ask per packet. Once the search is complete it is
 * what fits a packet of the confirmed size (zq_pmtu()->plpmtu minus
 * ZT_QUIC_DGRAM_OVERHEAD). While a search is in progress (a new connection,
 * a new path, a black hole) it is what the search may still confirm:
 * datagrams above the confirmed size wait for it (a round trip on a normal
 * path, a few on a smaller one) and are dropped as too_big if it ends
 * lower. So a caller that answers "too big" (ICMP) never does so for a
 * size the path is only about to confirm. */
size_t zq_max_datagram(const struct zq_conn *c);

/* Path MTU discovery (pmtu.h) of this connection: its state, read-only. */
struct zt_pmtu;
const struct zt_pmtu *zq_pmtu(const struct zq_conn *c);
/* Padding datagrams (probes of the peer's search) received. */
uint64_t zq_pmtu_probes_recv(const struct zq_conn *c);
/* Packets now take another path (inner sessions: relay <-> direct): the
 * search starts again from the base size (RFC 8899: a new path). */
void zq_path_changed(struct zq_conn *c, uint64_t now);

/* Starts a graceful close (CONNECTION_CLOSE goes out on the next write). */
void zq_close(struct zq_conn *c, uint64_t app_error, const char *reason);

/* Why a dead connection ended. Decisions are made on this, never on the
 * reason text, which can quote the peer's own bytes. */
enum zq_end {
  ZQ_END_NONE = 0,    /* not dead */
  ZQ_END_LOCAL,       /* we closed it (zq_close) */
  ZQ_END_REFUSED,     /* we refused the peer's certificate */
  ZQ_END_PEER_CLOSED, /* the peer sent CONNECTION_CLOSE (zq_peer_app_error) */
  ZQ_END_TIMEOUT,     /* idle or handshake timeout */
  ZQ_END_RESET,       /* the peer sent a Stateless Reset */
  ZQ_END_ERROR,       /* TLS or QUIC failure on our side */
};
enum zq_end zq_end_kind(const struct zq_conn *c);
/* The peer closed the connection with a TLS alert (a refused certificate:
 * bad_certificate, unknown_ca, certificate_expired, access_denied...): true
 * and the alert's number (gnutls_alert_description_t). */
bool zq_peer_tls_alert(const struct zq_conn *c, uint8_t *alert);
/* We refused the peer's certificate because our CRL lists its serial (the
 * audit's revoke line); zq_peer_role/zq_peer_name then name whom. */
bool zq_refused_revoked(const struct zq_conn *c);
/* The application error code the peer closed with: true and *code, or
 * false when it did not close with one. */
bool zq_peer_app_error(const struct zq_conn *c, uint64_t *code);

bool zq_is_ready(const struct zq_conn *c);
bool zq_is_dead(const struct zq_conn *c);
const char *zq_close_reason(const struct zq_conn *c);
enum zt_role zq_peer_role(const struct zq_conn *c);
const char *zq_peer_name(const struct zq_conn *c);
/* The accepted peer's certificate: serial (revocation at reload) and
 * not-after (the connection ends when it passes). Zeroes before. */
const struct zt_tls_peer_cert *zq_peer_cert(const struct zq_conn *c);
/* A Stateless Reset for a short-header packet `pkt` that matches no
 * connection, with the token cfg's reset secret gives its destination
 * connection ID. Smaller than `pkt`, as RFC 9000 requires, so resets cannot
 * loop. Bytes written to out, or 0 when none may be sent (no secret, a long
 * header, too short a packet). */
size_t zq_stateless_reset(const struct zq_config *cfg, const uint8_t *pkt,
                          size_t len, uint8_t *out, size_t cap);

const struct zq_stats *zq_get_stats(const struct zq_conn *c);
/* One line for operators: RTT, congestion window, datagram counters. */
int zq_format_stats(const struct zq_conn *c, char *buf, size_t len);
void *zq_user_data(const struct zq_conn *c);
/* The remote address of the current path (the observed address, on a
 * server). */
const struct sockaddr *zq_remote(const struct zq_conn *c, socklen_t *len);
/* Keying material only the two ends of this connection can compute (a TLS
 * exporter, RFC 8446 7.5), for protocols of their own beside QUIC: the
 * inner session's path probes. 0, or -1 before the handshake is done. */
int zq_export_key(const struct zq_conn *c, const char *label, uint8_t *out,
                  size_t len);
/* Smoothed RTT in ns (0 before the first sample). */
uint64_t zq_rtt_ns(const struct zq_conn *c);
/* Client only, handshake done: moves the connection to a new local
 * address (QUIC connection migration: new connection ID, path validated
 * by a PATH_CHALLENGE sent on the next write). Later zq_read() calls must
 * pass this local address. 0, or -1 (not allowed now, no spare connection
 * ID from the peer, same address as now): the caller reconnects. */
int zq_migrate(struct zq_conn *c, const struct sockaddr *local,
               socklen_t locallen, uint64_t now);

#endif

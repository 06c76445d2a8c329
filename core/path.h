/*
 * Which way an inner session's packets go: through the Intermediate's relay
 * or directly to the peer's UDP address, decided per packet. Sans-IO: fed
 * probes, candidate lists and the time; sends probes through callbacks.
 *
 * The inner QUIC connection never sees the choice (its path stays the
 * synthetic relay path of e2e.h): this module finds a direct path with
 * authenticated probes (probe.h), moves traffic to it once a probe has
 * been answered on it, keeps it alive, notices within a few round trips
 * when it stops answering and falls back to the relay, and tries again with
 * backoff. The state machine (docs/protocol.md, "Direct paths"):
 *
 *   RELAY --pong on a candidate--> DIRECT --nothing heard for suspect_after
 *     ^                              ^  |     after a send--> SUSPECT
 *     |                        pong  |  v                       |
 *     +------ 3 probes unanswered ---+--SUSPECT <---------------+
 *
 * While SUSPECT, packets go both ways (direct and relay): the peer's QUIC
 * drops the duplicates, and nothing sent during the doubt is lost if the
 * direct path has died.
 */
#ifndef ZTNA_PATH_H
#define ZTNA_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "probe.h"
#include "wire.h"

#define ZT_PATH_PENDING 16 /* probes awaiting their PONG */

/* Timings, in ms (docs/protocol.md explains each). */
#define ZT_PATH_RETRY_MS 200        /* between probes of a round */
#define ZT_PATH_ROUND_PROBES 5      /* probes per candidate per round */
#define ZT_PATH_BACKOFF_MIN_MS 1000 /* between rounds: 1, 2, 4, 8 s */
#define ZT_PATH_BACKOFF_MAX_MS 8000
#define ZT_PATH_SUSPECT_MIN_MS 50   /* silence after a send that raises doubt */
#define ZT_PATH_SUSPECT_PROBES 3    /* unanswered probes that end the path */
#define ZT_PATH_SUSPECT_RETRY_MIN_MS 25
#define ZT_PATH_KEEPALIVE_MS 10000  /* a probe when the path is this quiet */
#define ZT_PATH_PROBE_TIMEOUT_MS 1000 /* a PONG later than this is ignored */

/* Where the next packet goes: a bit set. */
enum { ZT_ROUTE_RELAY = 1, ZT_ROUTE_DIRECT = 2 };

struct zt_path_stats {
  uint64_t probes_sent, probes_received; /* authenticated ones received */
  uint64_t probe_malformed, probe_bad_auth, probe_replayed;
  uint64_t probe_stale;  /* a PONG for no probe of ours (late, or forged
                            with a replayed tag: never moves the path) */
  uint64_t keepalives_missed;
  uint64_t switches_to_direct, switches_to_relay;
};

struct zt_path_io {
  void *ud;
  /* A probe to a real UDP address (the node's one socket). */
  void (*send_direct)(void *ud, const struct sockaddr *to, socklen_t tolen,
                      const uint8_t *pkt, size_t len);
  /* A probe through the relay; false when there is no relay now. */
  bool (*send_relay)(void *ud, const uint8_t *pkt, size_t len);
  /* The answer to zt_path_ping(): rtt_ns, or timed_out. */
  void (*ping_result)(void *ud, uint64_t cookie, bool timed_out,
                      bool direct, uint64_t rtt_ns);
  /* A path change, for the log (reason is ours, printable). */
  void (*switched)(void *ud, bool direct, const char *reason);
};

struct zt_path_cand {
  struct sockaddr_storage addr;
  socklen_t len;
  bool reflexive;      /* learnt from a PING it sent, not from CANDIDATES */
  uint64_t last_probe; /* when we last probed it (ns, 0: never) */
};

struct zt_path_pending {
  bool used, via_relay, keepalive, user;
  uint8_t txid[ZT_PROBE_TXID_LEN];
  struct sockaddr_storage to; /* direct probes: where it went */
  socklen_t tolen;
  uint64_t sent;
  uint64_t cookie; /* user pings */
};

struct zt_path {
  struct zt_path_io io;
  bool enabled; /* config "direct" */
  bool keyed;   /* keys known (the inner session is up) */
  uint8_t tx_key[ZT_PROBE_KEY_LEN], rx_key[ZT_PROBE_KEY_LEN];
  uint32_t peer_key; /* dst_key of the probes we send; 0: unknown */
  uint64_t tx_seq;
  struct zt_replay replay;

  size_t n_cands;
  struct zt_path_cand cands[ZT_MAX_CANDIDATES];
  struct zt_path_pending pending[ZT_PATH_PENDING];

  bool direct;  /* DIRECT or SUSPECT */
  bool suspect;
  struct sockaddr_storage remote; /* the direct path's peer address */
  socklen_t remotelen;
  uint64_t rtt_ns;            /* smoothed, from probes on the direct path */
  uint64_t unanswered_since;  /* first send since we last heard; 0: none */
  uint64_t last_heard;        /* last packet from remote */
  uint64_t last_sent;         /* last packet to remote */
  unsigned suspect_probes;    /* sent while SUSPECT */
  uint64_t next_suspect_probe;

  /* Probing rounds (not DIRECT). */
  uint64_t round_next;     /* next probe of the round, or next round; 0: idle */
  unsigned round_left;     /* probes left in this round */
  uint64_t backoff_ms;

  uint64_t switches;
  char last_reason[96];
  struct zt_path_stats stats;
};

void zt_path_init(struct zt_path *p, bool enabled,
                  const struct zt_path_io *io);
/* Wipes the keys. */
void zt_path_free(struct zt_path *p);

/* The inner session is up: probe keys (ours to send with, the peer's to
 * check with). */
void zt_path_set_keys(struct zt_path *p, const uint8_t tx[ZT_PROBE_KEY_LEN],
                      const uint8_t rx[ZT_PROBE_KEY_LEN]);
/* The peer's candidates (CANDIDATES over the inner session) and the key
 * its probes must carry; replaces earlier ones and starts a probing round
 * now. */
void zt_path_set_candidates(struct zt_path *p, uint32_t peer_key,
                            const struct sockaddr_storage *addrs, size_t n,
                            uint64_t now);

/* A probe-shaped packet for this session, from a real address (via_relay
 * false) or out of a relay frame (from NULL). */
void zt_path_on_probe(struct zt_path *p, const struct sockaddr *from,
                      socklen_t fromlen, bool via_relay, const uint8_t *pkt,
                      size_t len, uint64_t now);
/* Any other packet of the session that arrived from a real address (an
 * inner QUIC packet): proof of life when it is the direct path's peer.
 * It never moves the path: only an answered probe does. */
void zt_path_on_direct_packet(struct zt_path *p, const struct sockaddr *from,
                              socklen_t fromlen, uint64_t now);

/* Where the next inner packet goes (ZT_ROUTE_* bits; 0: nowhere, when
 * there is no direct path and no relay), and the send is noted. */
unsigned zt_path_route(struct zt_path *p, bool relay_up, uint64_t now);

/* `ztna ping`: a probe on the current path; the answer (or a timeout after
 * ZT_PATH_PROBE_TIMEOUT_MS) comes through io.ping_result. -1 when it
 * cannot be sent (no keys yet, no path at all). */
int zt_path_ping(struct zt_path *p, uint64_t cookie, bool relay_up,
                 uint64_t now);

uint64_t zt_path_expiry(const struct zt_path *p);
void zt_path_handle_expiry(struct zt_path *p, bool relay_up, uint64_t now);

/* "direct" or "relay", for status. */
const char *zt_path_name(const struct zt_path *p);

#endif

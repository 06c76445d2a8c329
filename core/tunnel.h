/*
 * One end of an end-to-end session between an agent and a connector: the
 * inner QUIC connection, the path its packets take (path.h: relay or
 * direct, per packet) and the exchange of direct-path candidates over the
 * inner connection's own stream. Everything both ends do alike lives here;
 * agent.c and connector.c keep only what differs (who dials, what policy
 * each packet is held to).
 *
 * The inner connection's packets leave through zt_tunnel_flush(): each one
 * goes where the path says, in a relay frame on the uplink or as a UDP
 * datagram from the node's one socket to the peer's address. That is where
 * a path switch happens; QUIC itself never sees it (e2e.h).
 */
#ifndef ZTNA_TUNNEL_H
#define ZTNA_TUNNEL_H

#include "ctrl.h"
#include "jsonw.h"
#include "path.h"
#include "quic.h"
#include "uplink.h"

struct zt_tunnel;

/* What a node gives all its tunnels. */
struct zt_tunnel_env {
  const struct zt_io *io;
  struct zt_uplink *up;
  bool direct;        /* config "direct" */
  /* A fixed address to offer as a candidate (connector p2p_listen when it
   * names an address); length 0: none. */
  struct sockaddr_storage fixed;
  socklen_t fixedlen;
  void *owner;
  /* Optional: a path change (already logged). */
  void (*switched)(void *owner, struct zt_tunnel *t);
  /* Optional: the answer to zt_tunnel_ping(). */
  void (*ping_result)(void *owner, struct zt_tunnel *t, uint64_t cookie,
                      bool timed_out, bool direct, uint64_t rtt_ns);
};

struct zt_tunnel_stats {
  uint64_t no_path;     /* inner packets with neither path to go on */
  uint64_t stream_msgs; /* CANDIDATES received */
  uint64_t stream_bad;  /* other or malformed inner-stream messages */
};

struct zt_tunnel {
  const struct zt_tunnel_env *env;
  bool at_agent;
  char peer[ZT_NAME_MAX + 1]; /* for logs */
  uint32_t channel;           /* the relay channel; 0: none now */
  /* The uplink the channel belongs to (a connector has one per
   * Intermediate); NULL: the node's env->up. */
  struct zt_uplink *up;
  struct zq_conn *inner;
  struct zt_path path;
  struct zt_ctrl_reader *reader; /* only while a message is half read */
  bool cands_sent;
  uint64_t path_switches; /* path.switches the inner's path MTU knows of */
  uint64_t now;
  struct zt_tunnel_stats stats;
  /* The peer's certificate: the session ends when it expires
   * (certexpiry.h). */
  struct zt_cert_watch cert;
};

void zt_tunnel_init(struct zt_tunnel *t, const struct zt_tunnel_env *env,
                    bool at_agent, const char *peer);
/* Frees the inner connection and wipes the probe keys. */
void zt_tunnel_free(struct zt_tunnel *t);

/* From the inner connection's handlers: handshake done (derives the probe
 * keys; the agent offers its candidates), and stream bytes. */
void zt_tunnel_ready(struct zt_tunnel *t, uint64_t now);
void zt_tunnel_stream(struct zt_tunnel *t, const uint8_t *data, size_t len);

/* Offers our candidates again (our observed address changed). */
void zt_tunnel_send_candidates(struct zt_tunnel *t);

/* A packet of this session out of a relay frame. */
void zt_tunnel_feed_relay(struct zt_tunnel *t, const uint8_t *pkt, size_t len,
                          uint64_t now);
/* A packet of this session that came as UDP from `from`. */
void zt_tunnel_feed_direct(struct zt_tunnel *t, const struct sockaddr *from,
                           socklen_t fromlen, const uint8_t *pkt, size_t len,
                           uint64_t now);

/* Ends the session with a CONNECTION_CLOSE to the peer, sent now on the
 * session's path (relay frames still need the uplink flushed). */
void zt_tunnel_close(struct zt_tunnel *t, const char *reason, uint64_t now);
/* Sends what the inner connection has, each packet on its path. False
 * when the inner connection is dead. */
bool zt_tunnel_flush(struct zt_tunnel *t, uint64_t now);
uint64_t zt_tunnel_expiry(const struct zt_tunnel *t);
void zt_tunnel_handle_expiry(struct zt_tunnel *t, uint64_t now);

/* The key its packets and probes carry (0 before the inner connection). */
uint32_t zt_tunnel_key(const struct zt_tunnel *t);
bool zt_tunnel_ready_now(const struct zt_tunnel *t);
bool zt_tunnel_is_direct(const struct zt_tunnel *t);
/* zt_path_ping() on this tunnel. */
int zt_tunnel_ping(struct zt_tunnel *t, uint64_t cookie, uint64_t now);

/* The session's path members of `ztna status --json` (docs/status.md). */
void zt_tunnel_status_json(const struct zt_tunnel *t, struct zt_jsonw *w);
/* Node totals: acc += s. */
void zt_path_stats_add(struct zt_path_stats *acc,
                       const struct zt_path_stats *s);
/* One line for the text status. */
struct zt_strbuf;
void zt_tunnel_status(const struct zt_tunnel *t, struct zt_strbuf *sb);

#endif

/*
 * The Intermediate, sans-IO: terminates the outer QUIC connections of
 * agents and connectors, keeps the registry (which connector serves which
 * service, which agent has which tunnel address), applies policy (default
 * deny), tells each peer the address it sees it from, and relays opaque
 * frames between the two ends of each channel.
 */
#ifndef ZTNA_INTERMEDIATE_H
#define ZTNA_INTERMEDIATE_H

#include "admit.h"
#include "config.h"
#include "metrics.h"
#include "node_io.h"
#include "tls.h"

struct zt_intermediate;

struct zt_intermediate_stats {
  uint64_t packets_in, packets_unknown, handshakes_refused, accept_failures;
  uint64_t peers_accepted, resets_sent, resets_limited;
  uint64_t relay_frames, relay_bytes, relay_malformed, relay_unknown_channel,
      relay_wrong_peer, relay_queue_drops;
  uint64_t relay_too_big; /* frames larger than the forward leg's path MTU */
  uint64_t ctrl_malformed, ctrl_unknown, ctrl_oversized, ctrl_unexpected;
  uint64_t sessions_opened, sessions_denied;
  /* limits on what one identity can hold (see wire.h) */
  uint64_t peers_replaced;        /* older connection of the same identity */
  uint64_t channels_replaced;     /* older channel, same agent and connector */
  uint64_t sessions_rate_limited; /* SESSION_OPEN over the agent's rate */
  uint64_t ctrl_backlog_closes;   /* peers closed for unacknowledged bytes */
  uint64_t addresses_reassigned;  /* a binding taken from an offline agent */
  uint64_t log_suppressed;        /* peer-caused log lines over the limit */
  /* The accept path (admit.h): Retry packets sent, Initials with a bad or
   * expired token, Initials dropped at the global or per-source cap of
   * handshakes in progress, resets refused by a source's own budget
   * (resets_limited: by the global one). */
  uint64_t retries_sent, tokens_invalid, initials_capped_global,
      initials_capped_source, resets_limited_source;
  /* STUN Binding requests (stun.h), both ports: answered, dropped for
   * being smaller than their answer, refused by a budget. */
  uint64_t stun_answered, stun_dropped, stun_limited;
  /* Connections closed because the peer's certificate was revoked (at a
   * CRL reload) or expired (certexpiry.h). */
  uint64_t peers_revoked, peers_cert_expired;
  /* Outer handshake times of authenticated peers. */
  struct zt_hist handshake;
};

struct zt_intermediate *
zt_intermediate_new(const struct zt_intermediate_config *cfg,
                    struct zt_tls_creds *creds, const struct zt_io *io,
                    const struct sockaddr *local, socklen_t locallen);
/* Workers (config "workers"): threads that each own the connections they
 * accepted and read their own socket in the port's SO_REUSEPORT group;
 * the kernel steers each packet by the worker index in its connection ID
 * (every key worker i issues is i modulo the number of workers). Worker 0
 * is the node's own (io above; the zt_intermediate_* entry points below
 * are its); more are added before any packet, each with an io whose
 * udp_send is its socket and whose wake makes its loop call
 * zt_intermediate_worker_mail(). Each worker's entry points are called by
 * its own thread only; the others may be called by worker 0's. */
#define ZT_IM_MAX_WORKERS 64
int zt_intermediate_add_worker(struct zt_intermediate *im,
                               const struct zt_io *io);
unsigned zt_intermediate_workers(const struct zt_intermediate *im);
/* Worker 0's thread: on true the other workers stand still (between two
 * of their packets) until false; for what they read without a lock, such
 * as the credentials a reload replaces. Nests with the entry points. */
void zt_intermediate_hold(struct zt_intermediate *im, bool on);
void zt_intermediate_worker_feed_udp(struct zt_intermediate *im, unsigned w,
                                     const struct sockaddr *from,
                                     socklen_t fromlen, const uint8_t *pkt,
                                     size_t len, uint64_t now);
uint64_t zt_intermediate_worker_expiry(const struct zt_intermediate *im,
                                       unsigned w);
void zt_intermediate_worker_handle_expiry(struct zt_intermediate *im,
                                          unsigned w, uint64_t now);
/* What other workers queued for worker w's connections, written out. */
void zt_intermediate_worker_mail(struct zt_intermediate *im, unsigned w,
                                 uint64_t now);
/* Stopping: a CONNECTION_CLOSE to every peer (the other workers' threads
 * stopped first). */
void zt_intermediate_shutdown(struct zt_intermediate *im, uint64_t now);
void zt_intermediate_free(struct zt_intermediate *im);
/* Agent address bindings the driver kept (io->save_state), read back at
 * start. 0, or -1 with err ("line N: ...") and nothing changed. */
int zt_intermediate_load_state(struct zt_intermediate *im, const char *text,
                               size_t len, char *err, size_t errlen);
void zt_intermediate_feed_udp(struct zt_intermediate *im,
                              const struct sockaddr *from, socklen_t fromlen,
                              const uint8_t *pkt, size_t len, uint64_t now);
/* The second STUN port (config stun_port): a datagram that arrived there.
 * Answers only STUN Binding requests: the answer's length in out (send it
 * from that port), 0 for none. Shares the budgets of the main port's. */
size_t zt_intermediate_feed_stun_port(struct zt_intermediate *im,
                                      const struct sockaddr *from,
                                      const uint8_t *pkt, size_t len,
                                      uint64_t now, uint8_t *out, size_t cap);
/* Reload: replaces the CRL the handshakes check (takes ownership; NULL:
 * none) and closes every live connection whose certificate it revokes,
 * with ZT_ERR_CERT_REVOKED and a log line naming identity and serial. */
struct zt_crl;
void zt_intermediate_reload_crl(struct zt_intermediate *im,
                                struct zt_crl *crl, uint64_t now);
/* The next deadline includes each peer's certificate expiry check: a
 * connection is closed (ZT_ERR_CERT_EXPIRED) once the wall clock
 * (io->wall_clock) passes its peer certificate's not-after. */
uint64_t zt_intermediate_expiry(const struct zt_intermediate *im);
void zt_intermediate_handle_expiry(struct zt_intermediate *im, uint64_t now);
/* One worker: its live counters. Several: their sum as of this call. */
const struct zt_intermediate_stats *
zt_intermediate_get_stats(const struct zt_intermediate *im);
size_t zt_intermediate_peer_count(const struct zt_intermediate *im);
size_t zt_intermediate_channel_count(const struct zt_intermediate *im);
/* Connections whose handshake is in progress. */
size_t zt_intermediate_handshakes(const struct zt_intermediate *im);
/* Replaces the admission limits (zt_admit_limits_defaults() until then).
 * Only while no handshake is in progress: 0, or -1. */
int zt_intermediate_set_limits(struct zt_intermediate *im,
                               const struct zt_admit_limits *lim);
int zt_intermediate_status(const struct zt_intermediate *im, char *buf,
                           size_t len);

/* Puts `policy` (a snapshot, policy.h; the Intermediate owns it from now
 * on) in force instead of the current one, which is freed: registrations
 * are re-checked, every agent gets its new service list, and channels
 * whose grant changed are closed at both ends. Returns how many were
 * closed. The policy at start is the configuration's inline one. */
struct zt_policy;
size_t zt_intermediate_set_policy(struct zt_intermediate *im,
                                  struct zt_policy *policy, uint64_t now);
const struct zt_policy *
zt_intermediate_policy(const struct zt_intermediate *im);

/* Read-only views of the live tables, for tests and the node-level fuzzer's
 * invariants. Callbacks must not call back into the Intermediate. */
struct zq_conn;
struct zt_intermediate_channel_info {
  uint32_t id;
  const char *agent, *connector; /* authenticated names of the two ends */
  const struct zq_conn *agent_conn, *connector_conn;
};
void zt_intermediate_foreach_channel(
    const struct zt_intermediate *im,
    void (*cb)(void *ud, const struct zt_intermediate_channel_info *ch),
    void *ud);
struct zt_intermediate_peer_info {
  const struct zq_conn *conn;
  enum zt_role role; /* ZT_ROLE_NONE until authenticated */
  const char *name;  /* "" until authenticated */
  bool hello;
  uint32_t tunnel_ip; /* agents after HELLO; 0 otherwise */
};
void zt_intermediate_foreach_peer(
    const struct zt_intermediate *im,
    void (*cb)(void *ud, const struct zt_intermediate_peer_info *p), void *ud);

/* The status as one JSON object, schema in docs/status.md. Returns the
 * length it needed: >= len means cut off (retry with a bigger buffer). */
int zt_intermediate_status_json(const struct zt_intermediate *im, char *buf, size_t len);
/* The counters, gauges and handshake times in Prometheus' text format
 * (metrics.h, docs/operations.md); same return convention. */
int zt_intermediate_metrics(const struct zt_intermediate *im, char *buf,
                            size_t len);

#endif

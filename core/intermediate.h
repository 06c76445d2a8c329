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
#include "node_io.h"
#include "tls.h"

struct zt_intermediate;

struct zt_intermediate_stats {
  uint64_t packets_in, packets_unknown, handshakes_refused, accept_failures;
  uint64_t peers_accepted, resets_sent, resets_limited;
  uint64_t relay_frames, relay_bytes, relay_malformed, relay_unknown_channel,
      relay_wrong_peer, relay_queue_drops;
  uint64_t ctrl_malformed, ctrl_unknown, ctrl_oversized, ctrl_unexpected;
  uint64_t sessions_opened, sessions_denied;
  /* The accept path (admit.h): Retry packets sent, Initials with a bad or
   * expired token, Initials dropped at the global or per-source cap of
   * handshakes in progress, resets refused by a source's own budget
   * (resets_limited: by the global one). */
  uint64_t retries_sent, tokens_invalid, initials_capped_global,
      initials_capped_source, resets_limited_source;
};

struct zt_intermediate *
zt_intermediate_new(const struct zt_intermediate_config *cfg,
                    struct zt_tls_creds *creds, const struct zt_io *io,
                    const struct sockaddr *local, socklen_t locallen);
void zt_intermediate_free(struct zt_intermediate *im);
void zt_intermediate_feed_udp(struct zt_intermediate *im,
                              const struct sockaddr *from, socklen_t fromlen,
                              const uint8_t *pkt, size_t len, uint64_t now);
uint64_t zt_intermediate_expiry(const struct zt_intermediate *im);
void zt_intermediate_handle_expiry(struct zt_intermediate *im, uint64_t now);
const struct zt_intermediate_stats *
zt_intermediate_get_stats(const struct zt_intermediate *im);
size_t zt_intermediate_peer_count(const struct zt_intermediate *im);
/* Connections whose handshake is in progress. */
size_t zt_intermediate_handshakes(const struct zt_intermediate *im);
/* Replaces the admission limits (zt_admit_limits_defaults() until then).
 * Only while no handshake is in progress: 0, or -1. */
int zt_intermediate_set_limits(struct zt_intermediate *im,
                               const struct zt_admit_limits *lim);
int zt_intermediate_status(const struct zt_intermediate *im, char *buf,
                           size_t len);

#endif

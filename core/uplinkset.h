/*
 * The outer connections of a node configured with several Intermediates:
 * one zt_uplink per Intermediate, all on the node's one UDP socket. The
 * set demultiplexes received packets between them, and runs their timers,
 * flushes and shutdown together. What the node does with them differs:
 * a connector uses every uplink at once (each registers its services and
 * carries the sessions that Intermediate announces); an agent uses one at
 * a time and keeps the others as standbys (agent.c).
 */
#ifndef ZTNA_UPLINKSET_H
#define ZTNA_UPLINKSET_H

#include "jsonw.h"
#include "uplink.h"
#include "wire.h"

struct zt_uplinks {
  size_t n;
  struct zt_uplink u[ZT_MAX_INTERMEDIATES];
};

/* One uplink to `first`, then one to each of the n_more others (at most
 * ZT_MAX_INTERMEDIATES in all; further ones are ignored). */
void zt_uplinks_init(struct zt_uplinks *s, const struct zq_config *qcfg,
                     const struct zt_io *io, const struct sockaddr *local,
                     socklen_t locallen, const struct sockaddr *first,
                     socklen_t firstlen, size_t n_more,
                     const struct sockaddr_storage *more,
                     const socklen_t *morelen,
                     const struct zt_uplink_handlers *h, void *ud);
void zt_uplinks_free(struct zt_uplinks *s);
/* Dials every Intermediate now. */
void zt_uplinks_start(struct zt_uplinks *s, uint64_t now);
void zt_uplinks_shutdown(struct zt_uplinks *s, uint64_t now);
/* The uplink a received packet belongs to, or NULL: first by connection
 * ID (ours carry the uplink's key), then by source address (a Stateless
 * Reset carries no key of ours, so it is known by who sent it). */
struct zt_uplink *zt_uplinks_owner(struct zt_uplinks *s,
                                   const struct sockaddr *from,
                                   const uint8_t *pkt, size_t len);
void zt_uplinks_flush(struct zt_uplinks *s, uint64_t now);
uint64_t zt_uplinks_expiry(const struct zt_uplinks *s);
void zt_uplinks_handle_expiry(struct zt_uplinks *s, uint64_t now);
/* An Intermediate we hear nothing from for this long while its connection
 * is up is taken for gone (an agent with standbys sets a 1 s keepalive, so
 * a live one answers at least every second). */
#define ZT_UPLINK_SILENT_NS (3000ULL * 1000000ULL)
/* Sooner while traffic runs: the uplink pokes after 200 ms of silence
 * (uplink.h), and a poke unanswered for max(this, 3 RTT) means gone too.
 * That is what brings a failover under traffic below a second. */
#define ZT_UPLINK_POKE_ANSWER_NS (250ULL * 1000000ULL)
bool zt_uplinks_silent(const struct zt_uplink *u, uint64_t now);
/* When zt_uplinks_silent() turns true if nothing arrives: UINT64_MAX for
 * never (no connection). */
uint64_t zt_uplinks_silent_at(const struct zt_uplink *u);
/* The uplink with the lowest smoothed RTT among those in `eligible` (bit i:
 * uplink i) that are up and not silent; SIZE_MAX if none. */
size_t zt_uplinks_best(const struct zt_uplinks *s, uint32_t eligible,
                       uint64_t now);
/* Every uplink's counters and handshake times, summed (metrics). */
void zt_uplinks_stats_sum(const struct zt_uplinks *s,
                          struct zt_uplink_stats *sum);
/* Is at least one uplink up? */
bool zt_uplinks_any_up(const struct zt_uplinks *s);
/* Index of u in the set (u must be one of its uplinks). */
size_t zt_uplinks_index(const struct zt_uplinks *s,
                        const struct zt_uplink *u);
/* "uplinks": [...] of the JSON status (docs/status.md): every
 * Intermediate with its state, address and RTT; in_use marks the one an
 * agent uses (SIZE_MAX: no such notion, as at a connector). */
void zt_uplinks_status_json(const struct zt_uplinks *s, struct zt_jsonw *w,
                            size_t in_use);
/* One "intermediate #i ADDR up|down rtt X ms" line per uplink, then each
 * uplink's own QUIC line. */
struct zt_strbuf;
void zt_uplinks_status(const struct zt_uplinks *s, struct zt_strbuf *sb,
                       size_t in_use);

#endif

/*
 * Admission control at the Intermediate for packets nobody has
 * authenticated yet: who may start a handshake now, and who may get a
 * Stateless Reset. Such packets can carry any source address, so
 *
 *  - every table has a fixed size, allocated by zt_admit_init() and never
 *    grown by traffic;
 *  - sources are keyed by IP address without the port (one host has as many
 *    ports as it likes) and hashed with a per-process secret (SipHash), so
 *    an attacker cannot aim its packets at one bucket.
 *
 * Handshakes in progress are counted exactly per source IP in an
 * open-addressed table with room for twice the global cap: an entry lives
 * only while its count is nonzero and the global cap bounds the sum of the
 * counts, so the table never fills.
 *
 * Stateless resets draw from a token bucket of their source and from a
 * global one. Source buckets live in a set-associative cache: a source
 * pushed out by others comes back with a full bucket, which the global
 * bucket still bounds. One source flooding junk drains its own bucket
 * only, and the others still get their resets.
 */
#ifndef ZTNA_ADMIT_H
#define ZTNA_ADMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ratelimit.h"

struct zt_admit_limits {
  /* Answer token-less Initials with a Retry while at least this many
   * handshakes are in progress (0: always). */
  size_t retry_from;
  size_t max_handshakes;  /* in progress, all sources together */
  size_t max_per_source;  /* in progress, one source IP */
  unsigned resets_per_sec, resets_burst;               /* all sources */
  unsigned source_resets_per_sec, source_resets_burst; /* one source IP */
};

/* The IP address of a source, IPv4 as ::ffff:a.b.c.d. */
struct zt_admit_ip {
  uint8_t b[16];
};

#define ZT_ADMIT_RESET_SETS 256
#define ZT_ADMIT_RESET_WAYS 4

struct zt_admit_count {
  struct zt_admit_ip ip;
  uint32_t n; /* 0: empty slot */
};

struct zt_admit_bucket {
  struct zt_admit_ip ip;
  struct zt_bucket b; /* b.tat 0: an empty way */
};

struct zt_admit {
  struct zt_admit_limits lim;
  uint8_t key[16]; /* SipHash key */
  size_t handshakes;
  struct zt_admit_count *counts;
  size_t counts_cap; /* a power of two, >= 2 * max_handshakes */
  struct zt_bucket global;
  struct zt_admit_bucket buckets[ZT_ADMIT_RESET_SETS][ZT_ADMIT_RESET_WAYS];
};

enum zt_admit_verdict {
  ZT_ADMIT_OK = 0,
  ZT_ADMIT_GLOBAL = 1, /* over the cap of all sources together */
  ZT_ADMIT_SOURCE = 2, /* over the cap of this source */
};

/* Retry from 32 handshakes in progress, at most 512 of them and 16 per
 * source IP; resets 100/s (burst 100) in all, 10/s (burst 20) per source. */
void zt_admit_limits_defaults(struct zt_admit_limits *lim);
/* 0, or -1 when out of memory. */
int zt_admit_init(struct zt_admit *a, const struct zt_admit_limits *lim);
void zt_admit_free(struct zt_admit *a);

void zt_admit_ip_of(const struct sockaddr *sa, struct zt_admit_ip *ip);
/* The keyed hash, for other tables indexed by remote choices. */
uint64_t zt_admit_hash(const struct zt_admit *a, const void *data, size_t len);

/* Should a token-less Initial get a Retry instead of a connection? */
bool zt_admit_should_retry(const struct zt_admit *a);
/* A handshake from ip wants to start: counted when ZT_ADMIT_OK, and then
 * zt_admit_handshake_end() must follow exactly once. */
enum zt_admit_verdict zt_admit_handshake_begin(struct zt_admit *a,
                                               const struct zt_admit_ip *ip);
void zt_admit_handshake_end(struct zt_admit *a, const struct zt_admit_ip *ip);
size_t zt_admit_handshakes(const struct zt_admit *a);
/* May ip get a Stateless Reset at time now (ns)? Takes a token when so. */
enum zt_admit_verdict zt_admit_reset(struct zt_admit *a,
                                     const struct zt_admit_ip *ip,
                                     uint64_t now);

#endif

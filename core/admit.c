/* Admission control for unauthenticated packets. See admit.h. */
#include "admit.h"

#include <gnutls/crypto.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "siphash.h"


void zt_admit_limits_defaults(struct zt_admit_limits *lim) {
  memset(lim, 0, sizeof(*lim));
  /* Below 32 handshakes a Retry would cost every client a round trip for
   * nothing; above it, a flood of spoofed Initials costs one stateless
   * Retry each (smaller than the Initial: no amplification) and no state. */
  lim->retry_from = 32;
  /* 512 half-open connections hold about 60 MB inside ngtcp2 and GnuTLS at
   * worst; a handshake takes a round trip or two, so 512 at a time still
   * admits thousands of peers per second after a restart. */
  lim->max_handshakes = 512;
  /* One host, or one NAT in front of an office, at a time. */
  lim->max_per_source = 16;
  lim->resets_per_sec = 100;
  lim->resets_burst = 100;
  lim->source_resets_per_sec = 10;
  lim->source_resets_burst = 20;
}

int zt_admit_init(struct zt_admit *a, const struct zt_admit_limits *lim) {
  memset(a, 0, sizeof(*a));
  a->lim = *lim;
  a->counts_cap = 16;
  while (a->counts_cap < 2 * lim->max_handshakes)
    a->counts_cap *= 2;
  a->counts = calloc(a->counts_cap, sizeof(*a->counts));
  if (!a->counts)
    return -1;
  gnutls_rnd(GNUTLS_RND_NONCE, a->key, sizeof(a->key));
  return 0;
}

void zt_admit_free(struct zt_admit *a) {
  free(a->counts);
  memset(a, 0, sizeof(*a));
}

void zt_admit_ip_of(const struct sockaddr *sa, struct zt_admit_ip *ip) {
  memset(ip, 0, sizeof(*ip));
  if (sa->sa_family == AF_INET6) {
    memcpy(ip->b, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
  } else if (sa->sa_family == AF_INET) {
    ip->b[10] = ip->b[11] = 0xff;
    memcpy(ip->b + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
  }
}

uint64_t zt_admit_hash(const struct zt_admit *a, const void *data,
                       size_t len) {
  return zt_siphash(a->key, data, len);
}

/* ---- handshakes in progress --------------------------------------------- */

bool zt_admit_should_retry(const struct zt_admit *a) {
  return a->handshakes >= a->lim.retry_from;
}

size_t zt_admit_handshakes(const struct zt_admit *a) { return a->handshakes; }

static size_t home_of(const struct zt_admit *a, const struct zt_admit_ip *ip) {
  return (size_t)zt_admit_hash(a, ip->b, sizeof(ip->b)) & (a->counts_cap - 1);
}

/* The slot holding ip, or the empty slot where it would go; SIZE_MAX when
 * the table is full, which the global cap prevents (belt and braces: a
 * full table must never mean an endless probe). */
static size_t count_slot(const struct zt_admit *a,
                         const struct zt_admit_ip *ip) {
  size_t i = home_of(a, ip);
  for (size_t probes = 0; probes < a->counts_cap; probes++) {
    if (!a->counts[i].n || memcmp(&a->counts[i].ip, ip, sizeof(*ip)) == 0)
      return i;
    i = (i + 1) & (a->counts_cap - 1);
  }
  return SIZE_MAX;
}

enum zt_admit_verdict zt_admit_handshake_begin(struct zt_admit *a,
                                               const struct zt_admit_ip *ip) {
  if (a->handshakes >= a->lim.max_handshakes)
    return ZT_ADMIT_GLOBAL;
  size_t slot = count_slot(a, ip);
  if (slot == SIZE_MAX)
    return ZT_ADMIT_GLOBAL;
  struct zt_admit_count *e = &a->counts[slot];
  if (e->n >= a->lim.max_per_source)
    return ZT_ADMIT_SOURCE;
  e->ip = *ip;
  e->n++;
  a->handshakes++;
  return ZT_ADMIT_OK;
}

void zt_admit_handshake_end(struct zt_admit *a, const struct zt_admit_ip *ip) {
  size_t i = count_slot(a, ip), mask = a->counts_cap - 1;
  if (i == SIZE_MAX || !a->counts[i].n)
    return; /* not counted: a caller's bug, but never an underflow */
  a->handshakes--;
  if (--a->counts[i].n)
    return;
  /* Backward-shift deletion: pull later entries of the run into the hole
   * unless that would move one before its home slot. */
  for (size_t j = (i + 1) & mask; a->counts[j].n; j = (j + 1) & mask) {
    size_t home = home_of(a, &a->counts[j].ip);
    if (((j - home) & mask) >= ((j - i) & mask)) {
      a->counts[i] = a->counts[j];
      a->counts[j].n = 0;
      i = j;
    }
  }
}

/* ---- stateless resets --------------------------------------------------- */

static struct zt_admit_bucket *bucket_of(struct zt_admit *a,
                                         const struct zt_admit_ip *ip) {
  struct zt_admit_bucket *set =
      a->buckets[zt_admit_hash(a, ip->b, sizeof(ip->b)) % ZT_ADMIT_RESET_SETS];
  struct zt_admit_bucket *victim = &set[0];
  for (size_t w = 0; w < ZT_ADMIT_RESET_WAYS; w++) {
    if (set[w].b.tat && memcmp(&set[w].ip, ip, sizeof(*ip)) == 0)
      return &set[w];
    if (set[w].b.tat < victim->b.tat)
      victim = &set[w];
  }
  /* The way whose bucket refills first (an empty one first of all). */
  victim->ip = *ip;
  victim->b.tat = 0;
  return victim;
}

enum zt_admit_verdict zt_admit_reset(struct zt_admit *a,
                                     const struct zt_admit_ip *ip,
                                     uint64_t now) {
  const struct zt_admit_limits *l = &a->lim;
  struct zt_admit_bucket *b = bucket_of(a, ip);
  if (!zt_bucket_allows(&b->b, now, l->source_resets_per_sec,
                        l->source_resets_burst))
    return ZT_ADMIT_SOURCE;
  if (!zt_bucket_allows(&a->global, now, l->resets_per_sec, l->resets_burst))
    return ZT_ADMIT_GLOBAL;
  /* Only a reset that is sent takes from both buckets. */
  zt_bucket_charge(&b->b, now, l->source_resets_per_sec);
  zt_bucket_charge(&a->global, now, l->resets_per_sec);
  return ZT_ADMIT_OK;
}

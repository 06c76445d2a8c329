/*
 * IPv4 fragment reassembly, for the places that enforce port rules on
 * packets from the tunnel. Only a datagram's first fragment carries its
 * ports, so rules can be checked on whole datagrams only: fragments are
 * held here until their datagram is complete, and the caller checks (and
 * delivers) the datagram handed back whole.
 *
 * Everything here is fed by a peer, so it is bounded and strict:
 *  - at most ZT_REASM_MAX_GROUPS datagrams in progress and
 *    ZT_REASM_MAX_BYTES of fragment data in all; past either, the oldest
 *    group is evicted;
 *  - a group not complete ZT_REASM_TIMEOUT_NS after its first fragment is
 *    dropped (checked on each call: memory is bounded by the caps anyway);
 *  - a datagram longer than 65535 bytes is dropped;
 *  - overlapping fragments drop the whole group (RFC 5722's rule for IPv6,
 *    applied to IPv4: overlaps serve only to make two readers of the same
 *    fragments see different datagrams); an exact duplicate with the same
 *    bytes is ignored, one with other bytes counts as an overlap;
 *  - a first fragment too short to hold its transport header (TCP 20 bytes,
 *    UDP 8, ICMP 4: the fields port rules look at) is dropped (RFC 1858's
 *    tiny fragment attack), and so is every later fragment of its group.
 * Pure: no clock, no I/O; the caller passes the time (ns).
 */
#ifndef ZTNA_REASM_H
#define ZTNA_REASM_H

#include <stddef.h>
#include <stdint.h>

#define ZT_REASM_MAX_GROUPS 64
#define ZT_REASM_MAX_BYTES (256 * 1024)
#define ZT_REASM_TIMEOUT_NS (3000ULL * 1000000ULL)
/* Fragments one datagram may be cut into: 65535 bytes over a 576-byte path
 * is 119 of them; more is someone making us keep a long list. */
#define ZT_REASM_MAX_FRAGS 192

struct zt_reasm_stats {
  uint64_t fragments;   /* fragments fed */
  uint64_t reassembled; /* datagrams handed back whole */
  uint64_t timed_out;   /* groups dropped incomplete after the timeout */
  uint64_t evicted;     /* groups dropped for the caps */
  uint64_t overlaps;    /* groups dropped for overlapping fragments */
  uint64_t bad;         /* fragments dropped: tiny first fragment, later
                           fragment of a refused group, too long, bad
                           header checksum, inconsistent end, too many */
};

enum zt_reasm_result {
  ZT_REASM_NOT_FRAGMENT = 0, /* not a fragment: use the packet as it is */
  ZT_REASM_HELD = 1,         /* kept; its datagram is not complete yet */
  ZT_REASM_DONE = 2,         /* *out is the whole datagram */
  ZT_REASM_DROPPED = 3,      /* refused (counted in stats) */
};

struct zt_reasm_group;

struct zt_reasm {
  struct zt_reasm_group *groups[ZT_REASM_MAX_GROUPS]; /* NULL: free slot */
  size_t bytes;        /* fragment data held, all groups */
  uint64_t seq;        /* creation order, for eviction */
  uint8_t *done;       /* the last datagram handed back; freed next call */
  struct zt_reasm_stats stats;
};

void zt_reasm_init(struct zt_reasm *r);
void zt_reasm_free(struct zt_reasm *r);

/* Feeds one IPv4 packet (len bytes at pkt, already accepted by
 * zt_ip_parse). For ZT_REASM_DONE, *out and *outlen are the reassembled
 * datagram: the first fragment's header (options and all) with the
 * fragment fields and DF cleared, the total length set and the header
 * checksum recomputed. It stays valid until the next call on r. */
enum zt_reasm_result zt_reasm_feed(struct zt_reasm *r, const uint8_t *pkt,
                                   size_t len, uint64_t now,
                                   const uint8_t **out, size_t *outlen);

/* Groups in progress and bytes they hold (tests, fuzzing, status). */
size_t zt_reasm_groups(const struct zt_reasm *r);
size_t zt_reasm_bytes(const struct zt_reasm *r);

#endif

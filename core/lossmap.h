/*
 * Which of a connection's datagrams were lost: counted from the
 * acknowledgements, for the operator's `drops.lost`.
 *
 * ngtcp2 reports a lost datagram only when it declares its packet lost, and
 * not at all for a packet it had already sent a loss probe for (PTO): the
 * usual fate of a packet lost alone on a quiet connection, whose probe
 * timer fires long before a later packet's ACK. So every datagram carries a
 * sequence number (pmtu.c numbers them), this map keeps one bit per
 * datagram in flight, and a datagram is lost when it is still
 * unacknowledged while one sent ZT_LOSSMAP_REORDER or more after it was
 * acknowledged (RFC 9002's packet threshold), or loss_delay after a sweep
 * first found it passed over by a later one's acknowledgement (the time
 * threshold, measured from then: the map keeps no send times). Judged at
 * the next read or timer; the last datagrams before a quiet spell wait
 * for later ones.
 *
 * At most ZT_LOSSMAP_BITS datagrams are tracked in flight; when more are
 * sent before the oldest are judged, the oldest are given up uncounted
 * (`untracked`): a lower bound then, never an overcount.
 */
#ifndef ZTNA_LOSSMAP_H
#define ZTNA_LOSSMAP_H

#include <stdint.h>

#define ZT_LOSSMAP_BITS 1024
#define ZT_LOSSMAP_REORDER 3

struct zt_lossmap {
  uint64_t base;      /* the oldest sequence number not judged yet */
  uint64_t next;      /* one past the last sent */
  uint64_t acked_max; /* the largest acknowledged (0: none) */
  uint64_t hole_since; /* when base was first seen passed over (or none) */
  uint64_t lost, untracked;
  uint64_t acked[ZT_LOSSMAP_BITS / 64]; /* bit (seq % BITS): acknowledged */
};

/* first: the sequence number the first datagram will carry (never 0). */
void zt_lossmap_init(struct zt_lossmap *m, uint64_t first);
/* Datagram seq is being sent (sequence numbers come in order, gaps allowed:
 * the ones skipped are never judged). */
void zt_lossmap_sent(struct zt_lossmap *m, uint64_t seq);
void zt_lossmap_acked(struct zt_lossmap *m, uint64_t seq);
/* After the acknowledgements of a received packet (all of them: an ACK
 * frame reports its datagrams in no particular order), and on timers:
 * judges what they passed over. Returns how many were found lost now. */
unsigned zt_lossmap_sweep(struct zt_lossmap *m, uint64_t now,
                          uint64_t loss_delay);

#endif

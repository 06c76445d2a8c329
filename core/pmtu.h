/*
 * Datagram packetization-layer path MTU discovery (DPLPMTUD, RFC 8899) for
 * one QUIC connection, outer or inner: a pure state machine, time given by
 * the caller, no I/O.
 *
 * Every connection starts at ZT_PMTU_BASE (1200 bytes of UDP payload,
 * QUIC's minimum, which any path that carries QUIC carries) and probes
 * upward with padded DATAGRAM frames (quic.c). A probe size is confirmed
 * only by the acknowledgement of a probe of that size; it fails after
 * ZT_PMTU_MAX_PROBES probes of it are lost. Order of sizes: the configured
 * maximum first (a normal path is done in one round trip), then the two
 * 1280-byte plateaus (IPv4 1252, IPv6 1232), then a binary search between
 * the largest confirmed and the smallest failed size until they are
 * ZT_PMTU_SEARCH_GAP apart. After that the maximum is probed again every
 * ZT_PMTU_RAISE_MS (the path may have grown); when it fails, the search
 * is complete again at once (RFC 8899 5.2: a failed raise goes back to
 * SEARCH_COMPLETE), not run again from the top.
 *
 * Black hole: the path shrank below the current size with no ICMP (or ICMP
 * filtered). Every non-probe datagram carries a sequence number, and the
 * ones larger than BASE are remembered until their fate is known;
 * ZT_PMTU_MAX_PROBES of those lost in a row, with none sent after them
 * acknowledged, means large packets no longer pass (congestion loss always
 * leaves later large packets acknowledged). The size falls back to BASE and
 * the search starts again. So does a run of ZT_PMTU_BLACK_HOLE_PTOS
 * loss-probe timeouts: when every packet is large (a full datagram queue)
 * nothing is acknowledged, and the transport only has its timer.
 *
 * A large datagram is lost when the transport says so, or when a datagram
 * sent after it was acknowledged and it was not (zt_pmtu_sweep). The
 * transport alone is not enough: ngtcp2 reports no lost datagram for a
 * packet it already sent a loss probe for (PTO), and a lone large packet
 * among small ones (an application's big message now and then) is always
 * in that case: its probe timer fires long before the next packet's ACK.
 *
 * ICMP is never needed, nor used: a send the kernel refuses with EMSGSIZE
 * (it learned a smaller path MTU from an ICMP "fragmentation needed") is a
 * lost packet like any other, and the rules above find the smaller size.
 */
#ifndef ZTNA_PMTU_H
#define ZTNA_PMTU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZT_PMTU_BASE 1200 /* ZT_QUIC_MIN_UDP_PAYLOAD */
#define ZT_PMTU_MAX_PROBES 3
#define ZT_PMTU_SEARCH_GAP 16
#define ZT_PMTU_RAISE_MS (600 * 1000)
/* A probe neither acknowledged nor declared lost this long is sent again,
 * without counting as lost: only a loss the transport declares (later
 * packets acknowledged) proves the path alive and the size too big. A path
 * cut for a while must not walk the search down to the base size. */
#define ZT_PMTU_PROBE_TIMEOUT_MIN_MS 1000
/* Consecutive loss-probe timeouts (PTO) with packets above base in flight
 * that make a black hole: everything large is lost, so no later packet is
 * acknowledged and no loss can be declared at all. */
#define ZT_PMTU_BLACK_HOLE_PTOS 2
/* Large datagrams remembered until acknowledged or judged lost; when more
 * are in flight the oldest are forgotten (a full window of large ones is
 * judged by its newest, or by the PTO rule). */
#define ZT_PMTU_PENDING 16
/* A large datagram unacknowledged while this many sent after it were
 * acknowledged is lost whatever the time (RFC 9002's packet threshold). */
#define ZT_PMTU_REORDER 3

enum zt_pmtu_state {
  ZT_PMTU_SEARCHING, /* probing: plpmtu is usable, larger sizes untried */
  ZT_PMTU_COMPLETE,  /* search done until the raise timer */
};

/* Why the size last changed (for the log line and status). */
enum zt_pmtu_why {
  ZT_PMTU_WHY_START,
  ZT_PMTU_WHY_PROBE_ACKED,
  ZT_PMTU_WHY_BLACK_HOLE,
  ZT_PMTU_WHY_NEW_PATH,
};

struct zt_pmtu {
  size_t base, max;
  size_t plpmtu;    /* largest confirmed UDP payload: what packets may use */
  size_t fail_size; /* smallest size known not to pass (max + 1: none) */
  enum zt_pmtu_state state;
  enum zt_pmtu_why why;
  size_t target; /* the size being probed (0: search complete) */
  bool inflight;  /* a probe of target is in flight */
  uint64_t probe_id;
  uint64_t probe_deadline;
  unsigned probe_lost; /* probes of target lost so far */
  uint64_t next_probe_id;
  uint64_t raise_at; /* COMPLETE: when to probe max again */
  size_t raise_fail; /* probing max on the raise timer: fail_size before */
  /* black hole detection over the non-probe datagrams */
  uint64_t next_seq;   /* sequence number of the next datagram */
  uint64_t epoch_seq;  /* losses of datagrams older than this are history */
  uint64_t last_large; /* sequence number of the last large one sent */
  uint64_t acked_max;  /* largest acknowledged large one (0: none) */
  uint64_t acked_any;  /* largest acknowledged of any size (0: none) */
  unsigned bh_losses;  /* large datagrams lost since then */
  unsigned npending;
  struct zt_pmtu_sent {
    uint64_t seq, at;
  } pending[ZT_PMTU_PENDING]; /* large ones in flight, in no order */
  /* counters for status */
  uint64_t probes_sent, probes_acked, probes_lost, black_holes;
  bool changed; /* set on every plpmtu change; the caller clears it */
  size_t changed_from;
};

void zt_pmtu_init(struct zt_pmtu *p, size_t base, size_t max, uint64_t now);
/* Forget everything about the path (it is a new one) and search from base. */
void zt_pmtu_restart(struct zt_pmtu *p, uint64_t now);

/* Size of the probe to send now, or 0 (one in flight, search complete). */
size_t zt_pmtu_probe_size(const struct zt_pmtu *p);
/* The probe of zt_pmtu_probe_size() went out; its id (for the ack/loss).
 * rto_ns: the caller's estimate of how long an answer can take. */
uint64_t zt_pmtu_probe_sent(struct zt_pmtu *p, uint64_t now, uint64_t rto_ns);
void zt_pmtu_probe_acked(struct zt_pmtu *p, uint64_t id, uint64_t now);
void zt_pmtu_probe_lost(struct zt_pmtu *p, uint64_t id, uint64_t now);

/* Non-probe datagrams: the sequence number (never 0) the next one is to
 * carry; that it was sent (the transport took it) in a packet of `size`
 * bytes; and its fate as the transport reports it. A datagram the
 * transport did not take is not sent: the next try carries the same
 * number. Acknowledgements give the size again: a large one may have been
 * forgotten already. Losses count only for large ones still remembered. */
uint64_t zt_pmtu_data_seq(const struct zt_pmtu *p);
void zt_pmtu_data_sent(struct zt_pmtu *p, uint64_t seq, size_t size,
                       uint64_t now);
void zt_pmtu_data_acked(struct zt_pmtu *p, uint64_t seq, size_t size);
void zt_pmtu_data_lost(struct zt_pmtu *p, uint64_t seq, uint64_t now);
/* After the acknowledgements of a received packet (all of them: one ACK
 * frame reports its datagrams in no particular order): every remembered
 * large datagram sent before an acknowledged one, ZT_PMTU_REORDER datagrams
 * before it or at least loss_delay ago, is lost. Returns how many. */
unsigned zt_pmtu_sweep(struct zt_pmtu *p, uint64_t now, uint64_t loss_delay);

/* The transport's consecutive PTO count went up to pto_count. */
void zt_pmtu_pto(struct zt_pmtu *p, unsigned pto_count, uint64_t now);

/* Deadline of the probe timeout or raise timer (UINT64_MAX: none), and
 * handling it. */
uint64_t zt_pmtu_expiry(const struct zt_pmtu *p);
void zt_pmtu_handle_expiry(struct zt_pmtu *p, uint64_t now);

const char *zt_pmtu_state_name(const struct zt_pmtu *p);
const char *zt_pmtu_why_name(enum zt_pmtu_why why);

#endif

/*
 * TUN reads with offloads (IFF_VNET_HDR + TUNSETOFFLOAD TUN_F_CSUM|
 * TUN_F_TSO4): the kernel hands the reader up to 64 KB of one TCP flow in
 * one read, a "super segment" with a virtio-net header saying GSO_TCPV4
 * and the MSS (gso_size), and leaves transport checksums to complete
 * (NEEDS_CSUM). This cuts such a read into the IPv4 packets the kernel
 * would have sent without offloads: each gso_size bytes of payload behind
 * a copy of the headers, IP id incremented per segment, total length, TCP
 * sequence number, FIN and PSH only on the last segment, CWR only on the
 * first, IP and TCP checksums computed. Everything after is unchanged: the
 * node gets each packet exactly as it would have read it from a TUN
 * device without offloads.
 *
 * The segments are built in place, each one's headers written over the
 * tail of the payload already handed out, so the callback must be done
 * with a packet when it returns (the nodes copy what they keep).
 */
#ifndef ZTNA_TSO_H
#define ZTNA_TSO_H

#include <stddef.h>
#include <stdint.h>

#include "vnethdr.h"

/* Why a read was refused (the packet is dropped and counted). */
enum zt_tso_err {
  ZT_TSO_OK = 0,
  ZT_TSO_ESHORT = -1,    /* shorter than the virtio-net header */
  ZT_TSO_EGSOTYPE = -2,  /* a GSO type we did not ask for (UDP, TCPv6) */
  ZT_TSO_EHEADERS = -3,  /* GSO_TCPV4 but not IPv4/TCP headers that fit */
  ZT_TSO_ELENGTH = -4,   /* IPv4 total length is not the read's length */
  ZT_TSO_EGSOSIZE = -5,  /* gso_size 0 */
  ZT_TSO_ECSUM = -6,     /* NEEDS_CSUM offsets outside the packet */
};

struct zt_tso_stats {
  uint64_t reads;       /* reads handled (with a vnet header) */
  uint64_t gso_reads;   /* of which GSO super segments */
  uint64_t segments;    /* packets cut from super segments */
  uint64_t csum_done;   /* NEEDS_CSUM completed without GSO */
  uint64_t bad;         /* refused: malformed header or packet */
};

typedef void (*zt_tso_emit_fn)(void *ud, const uint8_t *pkt, size_t len);

/* buf: one TUN read, virtio-net header first, n bytes, modified in place.
 * Hands each resulting IPv4 packet to emit. The number of packets handed
 * out, or a negative enum zt_tso_err (none handed out, stats->bad
 * counted). */
int zt_tso_read(uint8_t *buf, size_t n, zt_tso_emit_fn emit, void *ud,
                struct zt_tso_stats *stats);
const char *zt_tso_strerror(int err);

#endif

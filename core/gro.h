/*
 * Coalescing of TUN writes (the counterpart of tso.h, as wireguard-go does
 * on Linux): the packets a node writes into its TUN device during one
 * event-loop callback are collected, and consecutive in-order TCP segments
 * of one flow are merged into one "super segment" written with a
 * virtio-net header GSO_TCPV4 (gso_size = the first segment's payload),
 * so the kernel takes many segments through its stack in one write and
 * GRO-style receive path. Everything else is written unchanged behind a
 * plain header, in its order.
 *
 * Merged, segments must agree on everything the kernel would copy from
 * the first when it cuts the super segment again: IPv4 without options,
 * not a fragment, the same addresses, ports, TOS, TTL and DF, the same
 * TCP ack, window and option bytes, only ACK (PSH allowed on the last),
 * contiguous sequence numbers, and every payload but the last exactly
 * gso_size long. A packet of a flow that cannot join closes the flow's
 * open super segment; a TCP packet whose headers cannot be read closes
 * them all, so no flow's packets are ever reordered.
 *
 * The node's own checks (port rules, reassembly, MSS clamp) have all run
 * on every packet before it reaches the queue.
 */
#ifndef ZTNA_GRO_H
#define ZTNA_GRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vnethdr.h"

#define ZT_GRO_MAX_PKTS 64
#define ZT_GRO_MAX_LEN 65535 /* IPv4 total length of a super segment */

struct zt_gro_item {
  uint16_t first, last; /* packet indexes; chain through next[] */
  uint16_t nseg;
  uint16_t gso_size;    /* payload of the first segment */
  uint32_t total;       /* IPv4 total length when merged */
  uint32_t next_seq;    /* the sequence number that may join */
  bool tcp;             /* has a flow key (IPv4 TCP, headers read) */
  bool open;            /* another segment may still join */
};

struct zt_gro {
  struct {
    uint8_t *p;
    size_t len;
    uint16_t next; /* next packet of its item, or UINT16_MAX */
  } pkt[ZT_GRO_MAX_PKTS];
  size_t npkt;
  struct zt_gro_item item[ZT_GRO_MAX_PKTS];
  size_t nitem;
};

struct zt_gro_stats {
  uint64_t writes;   /* TUN writes (items) */
  uint64_t merged;   /* of which super segments */
  uint64_t segments; /* packets inside super segments */
};

void zt_gro_reset(struct zt_gro *g);
/* Queues pkt, which must stay valid and writable until the queue is
 * emptied (zt_gro_reset): 0, or -1 when the queue is full (nothing
 * queued: write the queue out first). */
int zt_gro_add(struct zt_gro *g, uint8_t *pkt, size_t len);

/* Pieces of one TUN write: the virtio-net header, then the spans in
 * order. */
struct zt_gro_span {
  const uint8_t *p;
  size_t len;
};
/* Write k of g->nitem, after the last zt_gro_add: fills hdr, patches the
 * first packet's headers when segments were merged (total length, IPv4
 * checksum, the TCP checksum field set to the pseudo-header's sum for the
 * kernel to complete: NEEDS_CSUM), and sets spans (room for
 * ZT_GRO_MAX_PKTS); their number. Call once per item. */
size_t zt_gro_item_out(struct zt_gro *g, size_t k,
                       uint8_t hdr[ZT_VNET_HDR_LEN], struct zt_gro_span *spans,
                       struct zt_gro_stats *st);

#endif

/*
 * The datagrams waiting for ngtcp2 to put them in a packet, shared fairly
 * among flows (relay channels): each flow has its own FIFO and the flows
 * take turns, one datagram each. When the queue is full, the longest flow
 * loses its oldest datagram to make room for another flow's, so one
 * channel flooding the queue cannot starve the others; a flow that is
 * itself the longest is refused instead.
 *
 * Slots (cap of them, slot_size bytes each) are allocated on first use and
 * then reused, so a busy connection stops allocating once its queue has
 * reached its working depth.
 */
#ifndef ZTNA_DGRAMQ_H
#define ZTNA_DGRAMQ_H

#include <stddef.h>
#include <stdint.h>

struct zt_dgram_slot {
  uint8_t *data;
  size_t len;
  unsigned tries; /* packets written without ngtcp2 taking it */
  int32_t next;   /* next slot of the same flow, or of the free list */
};

struct zt_dgram_flow {
  uint32_t id;
  int32_t head, tail;
  size_t count;
};

struct zt_dgramq {
  struct zt_dgram_slot *slots;
  size_t cap, slot_size, count;
  int32_t free_head;
  struct zt_dgram_flow *flows; /* active flows, in turn order */
  size_t n_flows, flows_cap, turn;
  uint64_t evicted; /* datagrams dropped to make room for another flow */
};

/* cap datagrams of at most slot_size bytes. 0 or -1 (no memory). */
int zt_dgramq_init(struct zt_dgramq *q, size_t cap, size_t slot_size);
void zt_dgramq_free(struct zt_dgramq *q);
/* 0; -1 queue full (this flow is the longest) or out of memory; -2 larger
 * than slot_size. */
int zt_dgramq_push(struct zt_dgramq *q, uint32_t flow, const uint8_t *data,
                   size_t len);
/* The datagram whose turn it is (stable until popped), or NULL. */
struct zt_dgram_slot *zt_dgramq_front(struct zt_dgramq *q);
/* Removes the front datagram; the next flow's turn. */
void zt_dgramq_pop(struct zt_dgramq *q);

#endif

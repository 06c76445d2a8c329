/*
 * A bounded FIFO of datagrams waiting for ngtcp2 to put them in a packet.
 * Slots are allocated on first use and then reused, so a busy connection
 * stops allocating once its queue has reached its working depth.
 */
#ifndef ZTNA_DGRAMQ_H
#define ZTNA_DGRAMQ_H

#include <stddef.h>
#include <stdint.h>

struct zt_dgram_slot {
  uint8_t *data;
  size_t len;
  unsigned tries; /* packets written without ngtcp2 taking it */
};

struct zt_dgramq {
  struct zt_dgram_slot *slots;
  size_t cap, slot_size, head, count;
};

/* cap datagrams of at most slot_size bytes. 0 or -1 (no memory). */
int zt_dgramq_init(struct zt_dgramq *q, size_t cap, size_t slot_size);
void zt_dgramq_free(struct zt_dgramq *q);
/* 0; -1 queue full or out of memory; -2 larger than slot_size. */
int zt_dgramq_push(struct zt_dgramq *q, const uint8_t *data, size_t len);
struct zt_dgram_slot *zt_dgramq_front(struct zt_dgramq *q);
void zt_dgramq_pop(struct zt_dgramq *q);

#endif

/*
 * Tunnel addresses for agents, from the Intermediate's agent_pool prefix.
 * Each agent gets a unique address while connected. An agent that asks for
 * the address it had (after a reconnect) gets it back if it is free; a new
 * one starts from a hash of its name, so an agent tends to keep its address
 * across Intermediate restarts too, and TCP connections through the tunnel
 * survive them.
 */
#ifndef ZTNA_ADDRPOOL_H
#define ZTNA_ADDRPOOL_H

#include <stdint.h>

#include "keymap.h"

struct zt_addrpool {
  uint32_t net;   /* host order */
  uint8_t len;
  struct zt_keymap used; /* address -> owner */
};

void zt_addrpool_init(struct zt_addrpool *p, uint32_t net, uint8_t len);
void zt_addrpool_free(struct zt_addrpool *p);
/* An address for owner, or 0 when the pool is exhausted. */
uint32_t zt_addrpool_alloc(struct zt_addrpool *p, const char *name,
                           uint32_t hint, void *owner);
void zt_addrpool_release(struct zt_addrpool *p, uint32_t addr, void *owner);
int zt_addrpool_contains(const struct zt_addrpool *p, uint32_t addr);

#endif

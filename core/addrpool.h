/*
 * Tunnel addresses for agents, from the Intermediate's agent_pool prefix.
 *
 * An address is bound to the identity that first got it, and stays bound
 * while that identity is offline: nobody else can ask for it (a HELLO's
 * "previous address" is only a hint, honoured when the address is bound to
 * nobody), so a packet for an agent's address never reaches another agent.
 * Bindings are the Intermediate's state: zt_addrpool_dump() writes them as
 * text the driver stores on disk, and zt_addrpool_load() reads them back at
 * start, so an agent keeps its address across Intermediate restarts and TCP
 * connections through the tunnel survive them.
 *
 * When every address is bound, a new identity takes the binding of the
 * identity that has been offline longest; the caller is told whose, logs
 * it, and the connector clears state of the address when its holder
 * changes. A new identity starts searching at a hash of its name.
 */
#ifndef ZTNA_ADDRPOOL_H
#define ZTNA_ADDRPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keymap.h"
#include "wire.h"

struct zt_addr_binding {
  char name[ZT_NAME_MAX + 1];
  uint32_t addr;
  uint64_t last_used; /* a counter, not a time: order of last allocation */
};

struct zt_addrpool {
  uint32_t net; /* host order */
  uint8_t len;
  struct zt_keymap used;  /* address -> live owner */
  struct zt_keymap bound; /* address -> binding index + 1 */
  struct zt_addr_binding *bindings;
  size_t n_bindings, cap_bindings;
  /* Bindings by name: a hash of the name -> first binding index + 1, and
   * name_next[i] the next index + 1 with the same hash. A new agent looked
   * at every binding before (10,000 agents: 50 million strcmp). */
  struct zt_keymap by_name;
  uint32_t *name_next;
  size_t cap_next;
  uint64_t clock;
  bool changed; /* bindings changed since the last zt_addrpool_dump() */
};

void zt_addrpool_init(struct zt_addrpool *p, uint32_t net, uint8_t len);
void zt_addrpool_free(struct zt_addrpool *p);

struct zt_addr_grant {
  uint32_t addr;                       /* 0: pool exhausted */
  bool new_binding;                    /* bound to name just now */
  char evicted[ZT_NAME_MAX + 1];       /* "": no one lost a binding */
};
/* The address of identity `name` for live `owner`. */
struct zt_addr_grant zt_addrpool_alloc(struct zt_addrpool *p, const char *name,
                                       uint32_t hint, void *owner);
/* The owner went away; the binding stays. */
void zt_addrpool_release(struct zt_addrpool *p, uint32_t addr, void *owner);
bool zt_addrpool_contains(const struct zt_addrpool *p, uint32_t addr);
/* Who the address is bound to (NULL: nobody). */
const char *zt_addrpool_bound_to(const struct zt_addrpool *p, uint32_t addr);

/* Bindings as text, one "name address" line each, oldest use first.
 * Returns the length written (or needed, like snprintf). Clears changed. */
size_t zt_addrpool_dump(struct zt_addrpool *p, char *buf, size_t cap);
/* Reads what zt_addrpool_dump() wrote. Lines for addresses outside the
 * pool, duplicate names or addresses are skipped and counted in *skipped;
 * a malformed line is an error naming its line number. 0 or -1. */
int zt_addrpool_load(struct zt_addrpool *p, const char *text, size_t len,
                     size_t *skipped, char *err, size_t errlen);

/* Binding lists, as both pools keep them (an array, n, cap): the binding
 * of `name` (NULL: none), by a linear scan (allocations are rare next to
 * packets, and thousands of bindings scan in microseconds); and a new
 * binding at the end (NULL: out of memory, the list unchanged). */
struct zt_addr_binding *zt_addr_binding_find(struct zt_addr_binding *b,
                                             size_t n, const char *name);
struct zt_addr_binding *zt_addr_binding_append(struct zt_addr_binding **b,
                                               size_t *n, size_t *cap,
                                               const char *name,
                                               uint32_t addr);

/* The text format both address state files share (this pool's and the
 * service addresses', svcpool.h): bindings as "name address" lines, oldest
 * last_used first (ties by name). Returns the length as above, or
 * (size_t)-1 when out of memory. */
size_t zt_addr_bindings_dump(const struct zt_addr_binding *b, size_t n,
                             char *buf, size_t cap);
/* Reads that text, calling fn for each line in order (fn returns -1 only
 * when out of memory). A malformed line is an error naming its line
 * number ("line N: ..."). 0 or -1. */
typedef int (*zt_addr_binding_fn)(void *ud, const char *name, uint32_t addr);
int zt_addr_bindings_parse(const char *text, size_t len,
                           zt_addr_binding_fn fn, void *ud, char *err,
                           size_t errlen);

#endif

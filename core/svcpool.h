/*
 * Virtual addresses for services that have none in the policy ("address"
 * left out), from the Intermediate's service_pool prefix.
 *
 * An allocated address is bound to the service's NAME, not to its place
 * in the file, and the binding outlives the service: it stays while the
 * service is missing from the policy, so a service removed and added back
 * (or one commented out across a reload) gets its address again, and
 * agents' routes, DNS answers and firewall rules built on it stay right.
 * Bindings are state: zt_svcpool_dump() is what the daemon writes to
 * state_dir (atomically) and zt_svcpool_load() reads it back at start.
 *
 * Rules, in the order zt_svcpool_assign() applies them:
 *  - fixed addresses (services that name one) come first: no service gets
 *    one of them allocated; a binding another service held on one is
 *    dropped, and that service, when present, gets another address;
 *  - a present service keeps its binding;
 *  - a new one gets the lowest address bound to nobody; when every address
 *    is bound, the binding unused longest (of a service absent from the
 *    policy) is taken over;
 *  - the network and broadcast addresses of the range are never used;
 *  - more services needing an address than the range holds (minus the
 *    fixed addresses inside it) is an error, and nothing changes.
 * Every move and takeover is reported through the `note` callback (logged
 * by the daemon, printed by --check-config).
 *
 * Keeping out of agent_pool is the configuration's job: service_pool may
 * not overlap it (config.c).
 */
#ifndef ZTNA_SVCPOOL_H
#define ZTNA_SVCPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addrpool.h"

struct zt_policy;

struct zt_svcpool {
  uint32_t net; /* host order */
  uint8_t len;  /* 0: no service_pool configured */
  struct zt_addr_binding *bindings; /* last_used: generation last present */
  size_t n_bindings, cap_bindings;
  uint64_t generation; /* of the last zt_svcpool_assign() */
};

void zt_svcpool_init(struct zt_svcpool *p, uint32_t net, uint8_t len);
void zt_svcpool_free(struct zt_svcpool *p);
/* dst (not initialised) becomes a copy of src: a reload allocates into a
 * copy and keeps it only once the new policy is in force. 0 or -1 (out of
 * memory; dst then empty). */
int zt_svcpool_copy(struct zt_svcpool *dst, const struct zt_svcpool *src);
/* Frees dst and moves src into it (src is left empty). */
void zt_svcpool_commit(struct zt_svcpool *dst, struct zt_svcpool *src);

/* Usable addresses of the range (without network and broadcast). */
uint32_t zt_svcpool_capacity(const struct zt_svcpool *p);
/* The service bound to addr, or NULL. */
const char *zt_svcpool_bound_to(const struct zt_svcpool *p, uint32_t addr);

/* Fills the address of every service of pol marked `allocated`, updating
 * the bindings (see the top of this file). 0, or -1 with the reason in err
 * and p and pol untouched. */
typedef void (*zt_svcpool_note_fn)(void *ud, const char *line);
int zt_svcpool_assign(struct zt_svcpool *p, struct zt_policy *pol,
                      zt_svcpool_note_fn note, void *ud, char *err,
                      size_t errlen);

/* The bindings as text ("name address" lines, unused longest first; see
 * zt_addr_bindings_dump). Length written or needed; (size_t)-1 when out of
 * memory. */
size_t zt_svcpool_dump(const struct zt_svcpool *p, char *buf, size_t cap);
/* Reads what zt_svcpool_dump() wrote into an empty pool. Lines for
 * addresses outside the range (or its network/broadcast address),
 * duplicate names or addresses are skipped and counted in *skipped; a
 * malformed line is an error naming its line number. 0 or -1. */
int zt_svcpool_load(struct zt_svcpool *p, const char *text, size_t len,
                    size_t *skipped, char *err, size_t errlen);

#endif

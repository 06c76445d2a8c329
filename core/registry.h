/*
 * The Intermediate's registry: which connected connectors serve which
 * service, keyed by the service's name. Keyed by name, not by position in
 * the policy's service table, so that a reload (a new table, services
 * added, removed or reordered) can keep the registrations that still hold
 * and drop the others without any index going stale.
 *
 * A service may have several connectors (policy "connectors": [...]): the
 * registry holds the set of those registered; which of them serves a given
 * agent is chooser.h's business.
 */
#ifndef ZTNA_REGISTRY_H
#define ZTNA_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"
#include "wire.h"

struct zt_registry_entry {
  char name[ZT_NAME_MAX + 1];
  size_t n; /* >= 1 in a used entry: a service with none is removed */
  void *conns[ZT_POLICY_MAX_CONNECTORS]; /* the connectors' peers, in
                                            registration order */
};

struct zt_registry {
  size_t n;
  struct zt_registry_entry e[ZT_MAX_SERVICES];
};

/* The entry of `name` (its connectors), or NULL when none serves it. */
const struct zt_registry_entry *zt_registry_get(const struct zt_registry *r,
                                                const char *name);
/* Does `conn` serve `name`? */
bool zt_registry_has(const struct zt_registry *r, const char *name,
                     const void *conn);
/* `conn` serves `name` from now on (besides the others): 1 when that
 * changed something, 0 when it already did, -1 when the table (or the
 * service's set) is full. */
int zt_registry_add(struct zt_registry *r, const char *name, void *conn);
/* `conn` no longer serves `name`; true when it did. */
bool zt_registry_remove(struct zt_registry *r, const char *name,
                        const void *conn);
/* Forgets `conn` in every service; true when it had any. */
bool zt_registry_drop_conn(struct zt_registry *r, const void *conn);

#endif

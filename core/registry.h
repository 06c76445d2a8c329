/*
 * The Intermediate's registry: which connected connector serves which
 * service, keyed by the service's name. Keyed by name, not by position in
 * the policy's service table, so that a reload (a new table, services
 * added, removed or reordered) can keep the registrations that still hold
 * and drop the others without any index going stale.
 */
#ifndef ZTNA_REGISTRY_H
#define ZTNA_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "wire.h"

struct zt_registry {
  size_t n;
  struct {
    char name[ZT_NAME_MAX + 1];
    void *conn; /* the connector's peer; never NULL in a used entry */
  } e[ZT_MAX_SERVICES];
};

/* The connector serving `name`, or NULL. */
void *zt_registry_get(const struct zt_registry *r, const char *name);
/* `conn` serves `name` from now on: 1 when that changed something, 0 when
 * it already did, -1 when the table is full. */
int zt_registry_set(struct zt_registry *r, const char *name, void *conn);
/* Forgets `name`; true when it was there. */
bool zt_registry_drop(struct zt_registry *r, const char *name);
/* Forgets every service of `conn`; true when it had any. */
bool zt_registry_drop_conn(struct zt_registry *r, const void *conn);

#endif

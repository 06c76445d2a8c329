/* The registry of served services, by name. See registry.h. */
#include "registry.h"

#include <stdio.h>
#include <string.h>

static int find(const struct zt_registry *r, const char *name) {
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->e[i].name, name) == 0)
      return (int)i;
  return -1;
}

static int find_conn(const struct zt_registry_entry *e, const void *conn) {
  for (size_t k = 0; k < e->n; k++)
    if (e->conns[k] == conn)
      return (int)k;
  return -1;
}

const struct zt_registry_entry *zt_registry_get(const struct zt_registry *r,
                                                const char *name) {
  int i = find(r, name);
  return i < 0 ? NULL : &r->e[i];
}

bool zt_registry_has(const struct zt_registry *r, const char *name,
                     const void *conn) {
  const struct zt_registry_entry *e = zt_registry_get(r, name);
  return e && find_conn(e, conn) >= 0;
}

int zt_registry_add(struct zt_registry *r, const char *name, void *conn) {
  int i = find(r, name);
  struct zt_registry_entry *e;
  if (i >= 0) {
    e = &r->e[i];
    if (find_conn(e, conn) >= 0)
      return 0;
    if (e->n == ZT_POLICY_MAX_CONNECTORS)
      return -1;
    e->conns[e->n++] = conn;
    return 1;
  }
  if (r->n == ZT_MAX_SERVICES)
    return -1;
  e = &r->e[r->n++];
  snprintf(e->name, sizeof(e->name), "%s", name);
  e->conns[0] = conn;
  e->n = 1;
  return 1;
}

/* Takes connector k out of entry i; the entry goes with its last one. */
static void remove_at(struct zt_registry *r, size_t i, size_t k) {
  struct zt_registry_entry *e = &r->e[i];
  /* Registration order is kept: it is what status shows. */
  memmove(&e->conns[k], &e->conns[k + 1], (e->n - k - 1) * sizeof(e->conns[0]));
  if (--e->n == 0)
    r->e[i] = r->e[--r->n]; /* the order of services means nothing */
}

bool zt_registry_remove(struct zt_registry *r, const char *name,
                        const void *conn) {
  int i = find(r, name), k;
  if (i < 0 || (k = find_conn(&r->e[i], conn)) < 0)
    return false;
  remove_at(r, (size_t)i, (size_t)k);
  return true;
}

bool zt_registry_drop_conn(struct zt_registry *r, const void *conn) {
  bool any = false;
  for (size_t i = r->n; i-- > 0;) {
    int k = find_conn(&r->e[i], conn);
    if (k >= 0) {
      remove_at(r, i, (size_t)k);
      any = true;
    }
  }
  return any;
}

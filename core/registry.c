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

void *zt_registry_get(const struct zt_registry *r, const char *name) {
  int i = find(r, name);
  return i < 0 ? NULL : r->e[i].conn;
}

int zt_registry_set(struct zt_registry *r, const char *name, void *conn) {
  int i = find(r, name);
  if (i >= 0) {
    if (r->e[i].conn == conn)
      return 0;
    r->e[i].conn = conn;
    return 1;
  }
  if (r->n == ZT_MAX_SERVICES)
    return -1;
  snprintf(r->e[r->n].name, sizeof(r->e[r->n].name), "%s", name);
  r->e[r->n++].conn = conn;
  return 1;
}

static void remove_at(struct zt_registry *r, size_t i) {
  r->e[i] = r->e[--r->n]; /* order means nothing */
}

bool zt_registry_drop(struct zt_registry *r, const char *name) {
  int i = find(r, name);
  if (i < 0)
    return false;
  remove_at(r, (size_t)i);
  return true;
}

bool zt_registry_drop_conn(struct zt_registry *r, const void *conn) {
  bool any = false;
  for (size_t i = r->n; i-- > 0;)
    if (r->e[i].conn == conn) {
      remove_at(r, i);
      any = true;
    }
  return any;
}

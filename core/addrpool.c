/* Agent tunnel addresses. See addrpool.h. */
#include "addrpool.h"

#include <string.h>

void zt_addrpool_init(struct zt_addrpool *p, uint32_t net, uint8_t len) {
  p->net = net;
  p->len = len;
  zt_keymap_init(&p->used);
}

void zt_addrpool_free(struct zt_addrpool *p) { zt_keymap_free(&p->used); }

static uint32_t pool_size(const struct zt_addrpool *p) {
  return p->len >= 32 ? 1 : (uint32_t)1 << (32 - p->len);
}

int zt_addrpool_contains(const struct zt_addrpool *p, uint32_t addr) {
  uint32_t mask = p->len ? ~0u << (32 - p->len) : 0;
  return (addr & mask) == p->net;
}

/* Not the network or broadcast address of the pool. */
static int usable(const struct zt_addrpool *p, uint32_t addr) {
  uint32_t off = addr - p->net;
  return zt_addrpool_contains(p, addr) && off != 0 && off != pool_size(p) - 1;
}

static uint32_t fnv1a(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++)
    h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

uint32_t zt_addrpool_alloc(struct zt_addrpool *p, const char *name,
                           uint32_t hint, void *owner) {
  uint32_t size = pool_size(p);
  if (hint && usable(p, hint) && !zt_keymap_get(&p->used, hint) &&
      zt_keymap_put(&p->used, hint, owner) == 0)
    return hint;
  if (size < 4)
    return 0;
  uint32_t start = 1 + fnv1a(name) % (size - 2);
  for (uint32_t i = 0; i < size - 2; i++) {
    uint32_t addr = p->net + 1 + (start - 1 + i) % (size - 2);
    if (!zt_keymap_get(&p->used, addr) &&
        zt_keymap_put(&p->used, addr, owner) == 0)
      return addr;
  }
  return 0;
}

void zt_addrpool_release(struct zt_addrpool *p, uint32_t addr, void *owner) {
  if (zt_keymap_get(&p->used, addr) == owner)
    zt_keymap_del(&p->used, addr);
}

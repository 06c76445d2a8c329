/* Agent tunnel addresses bound to identities. See addrpool.h. */
#include "addrpool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "ippkt.h"
#include "netaddr.h"

void zt_addrpool_init(struct zt_addrpool *p, uint32_t net, uint8_t len) {
  memset(p, 0, sizeof(*p));
  p->net = net;
  p->len = len;
  zt_keymap_init(&p->used);
  zt_keymap_init(&p->bound);
  zt_keymap_init(&p->by_name);
}

void zt_addrpool_free(struct zt_addrpool *p) {
  zt_keymap_free(&p->used);
  zt_keymap_free(&p->bound);
  zt_keymap_free(&p->by_name);
  free(p->name_next);
  free(p->bindings);
  memset(p, 0, sizeof(*p));
}

static uint32_t pool_size(const struct zt_addrpool *p) {
  return p->len >= 32 ? 1 : (uint32_t)1 << (32 - p->len);
}

bool zt_addrpool_contains(const struct zt_addrpool *p, uint32_t addr) {
  uint32_t mask = p->len ? ~0u << (32 - p->len) : 0;
  return (addr & mask) == p->net;
}

/* Not the network or broadcast address of the pool. */
static bool usable(const struct zt_addrpool *p, uint32_t addr) {
  uint32_t off = addr - p->net;
  return zt_addrpool_contains(p, addr) && off != 0 && off != pool_size(p) - 1;
}

static uint32_t fnv1a(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++)
    h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

static struct zt_addr_binding *binding_of_addr(const struct zt_addrpool *p,
                                               uint32_t addr) {
  uintptr_t i = (uintptr_t)zt_keymap_get(&p->bound, addr);
  return i ? &p->bindings[i - 1] : NULL;
}

/* by_name's key of a name (0 is the keymap's empty marker). Collisions
 * only make a chain longer: every candidate's name is compared. */
static uint32_t name_key(const char *name) {
  uint32_t h = fnv1a(name);
  return h ? h : 1;
}

static struct zt_addr_binding *binding_of_name(const struct zt_addrpool *p,
                                               const char *name) {
  uintptr_t i = (uintptr_t)zt_keymap_get(&p->by_name, name_key(name));
  for (; i; i = p->name_next[i - 1])
    if (strcmp(p->bindings[i - 1].name, name) == 0)
      return &p->bindings[i - 1];
  return NULL;
}

/* Binding idx at the head of its name's chain. */
static int name_link(struct zt_addrpool *p, size_t idx) {
  if (idx >= p->cap_next) {
    size_t cap = p->cap_bindings > idx ? p->cap_bindings : idx + 1;
    uint32_t *v = realloc(p->name_next, cap * sizeof(*v));
    if (!v)
      return -1;
    p->name_next = v;
    p->cap_next = cap;
  }
  uint32_t k = name_key(p->bindings[idx].name);
  uintptr_t head = (uintptr_t)zt_keymap_del(&p->by_name, k);
  p->name_next[idx] = (uint32_t)head;
  if (zt_keymap_put(&p->by_name, k, (void *)(uintptr_t)(idx + 1)) != 0) {
    if (head) /* the slot just freed: this put cannot fail */
      (void)zt_keymap_put(&p->by_name, k, (void *)head);
    return -1;
  }
  return 0;
}

/* Binding idx out of its name's chain (before it is renamed). */
static void name_unlink(struct zt_addrpool *p, size_t idx) {
  uint32_t k = name_key(p->bindings[idx].name);
  uintptr_t i = (uintptr_t)zt_keymap_get(&p->by_name, k);
  if (i == idx + 1) {
    zt_keymap_del(&p->by_name, k);
    if (p->name_next[idx])
      (void)zt_keymap_put(&p->by_name, k,
                          (void *)(uintptr_t)p->name_next[idx]);
    return;
  }
  for (; i; i = p->name_next[i - 1])
    if (p->name_next[i - 1] == idx + 1) {
      p->name_next[i - 1] = p->name_next[idx];
      return;
    }
}

const char *zt_addrpool_bound_to(const struct zt_addrpool *p, uint32_t addr) {
  const struct zt_addr_binding *b = binding_of_addr(p, addr);
  return b ? b->name : NULL;
}

struct zt_addr_binding *zt_addr_binding_find(struct zt_addr_binding *b,
                                             size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(b[i].name, name) == 0)
      return &b[i];
  return NULL;
}

struct zt_addr_binding *zt_addr_binding_append(struct zt_addr_binding **b,
                                               size_t *n, size_t *cap,
                                               const char *name,
                                               uint32_t addr) {
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 16;
    struct zt_addr_binding *nb = realloc(*b, c * sizeof(*nb));
    if (!nb)
      return NULL;
    *b = nb;
    *cap = c;
  }
  struct zt_addr_binding *e = &(*b)[(*n)++];
  memset(e, 0, sizeof(*e));
  snprintf(e->name, sizeof(e->name), "%s", name);
  e->addr = addr;
  return e;
}

static struct zt_addr_binding *bind_name(struct zt_addrpool *p, const char *name,
                                    uint32_t addr) {
  struct zt_addr_binding *b = zt_addr_binding_append(
      &p->bindings, &p->n_bindings, &p->cap_bindings, name, addr);
  if (!b)
    return NULL;
  if (zt_keymap_put(&p->bound, addr, (void *)(uintptr_t)p->n_bindings)) {
    p->n_bindings--;
    return NULL;
  }
  if (name_link(p, p->n_bindings - 1) != 0) {
    zt_keymap_del(&p->bound, addr);
    p->n_bindings--;
    return NULL;
  }
  p->changed = true;
  return b;
}

/* The binding offline longest, for a new identity when all are bound. */
static struct zt_addr_binding *oldest_offline(const struct zt_addrpool *p) {
  struct zt_addr_binding *best = NULL;
  for (size_t i = 0; i < p->n_bindings; i++) {
    struct zt_addr_binding *b = &p->bindings[i];
    if (!zt_keymap_get(&p->used, b->addr) &&
        (!best || b->last_used < best->last_used))
      best = b;
  }
  return best;
}

static bool take(struct zt_addrpool *p, uint32_t addr, void *owner) {
  return zt_keymap_put(&p->used, addr, owner) == 0;
}

struct zt_addr_grant zt_addrpool_alloc(struct zt_addrpool *p, const char *name,
                                       uint32_t hint, void *owner) {
  struct zt_addr_grant g = {0};
  struct zt_addr_binding *b = binding_of_name(p, name);
  uint32_t size = pool_size(p);

  if (b) {
    /* Ours, whoever else asks; busy only if this identity is already live,
     * which the Intermediate prevents by replacing the older connection. */
    if (zt_keymap_get(&p->used, b->addr) || !take(p, b->addr, owner))
      return g;
    b->last_used = ++p->clock;
    g.addr = b->addr;
    return g;
  }
  uint32_t addr = 0;
  if (hint && usable(p, hint) && !binding_of_addr(p, hint) &&
      !zt_keymap_get(&p->used, hint))
    addr = hint;
  for (uint32_t i = 0, start = size >= 4 ? fnv1a(name) % (size - 2) : 0;
       !addr && size >= 4 && i < size - 2; i++) {
    uint32_t a = p->net + 1 + (start + i) % (size - 2);
    if (!binding_of_addr(p, a) && !zt_keymap_get(&p->used, a))
      addr = a;
  }
  if (addr) {
    if (!take(p, addr, owner))
      return g;
    if (!(b = bind_name(p, name, addr))) {
      zt_keymap_del(&p->used, addr);
      return g;
    }
    g.new_binding = true;
  } else {
    /* Every address is bound: the identity offline longest gives its up. */
    if (!(b = oldest_offline(p)) || !take(p, b->addr, owner))
      return g;
    snprintf(g.evicted, sizeof(g.evicted), "%s", b->name);
    size_t idx = (size_t)(b - p->bindings);
    name_unlink(p, idx);
    snprintf(b->name, sizeof(b->name), "%s", name);
    if (name_link(p, idx) != 0) { /* out of memory: the old name back */
      snprintf(b->name, sizeof(b->name), "%s", g.evicted);
      (void)name_link(p, idx); /* best effort */
      zt_keymap_del(&p->used, b->addr);
      memset(&g, 0, sizeof(g));
      return g;
    }
    p->changed = true;
    g.new_binding = true;
  }
  b->last_used = ++p->clock;
  g.addr = b->addr;
  return g;
}

void zt_addrpool_release(struct zt_addrpool *p, uint32_t addr, void *owner) {
  if (zt_keymap_get(&p->used, addr) == owner)
    zt_keymap_del(&p->used, addr);
}

/* Oldest use first; ties (svcpool.h gives every binding in use one
 * generation) by name, so the same bindings always make the same text. */
static int by_last_used(const void *a, const void *b) {
  const struct zt_addr_binding *x = a, *y = b;
  if (x->last_used != y->last_used)
    return x->last_used < y->last_used ? -1 : 1;
  return strcmp(x->name, y->name);
}

/* "a.b.c.d" at o (room for 15), its length. snprintf was most of a save
 * of 10,000 bindings (two calls per line, two passes per save). */
static size_t ip4_text(uint32_t ip, char *o) {
  size_t n = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    unsigned v = (ip >> shift) & 0xff;
    if (v >= 100)
      o[n++] = (char)('0' + v / 100);
    if (v >= 10)
      o[n++] = (char)('0' + v / 10 % 10);
    o[n++] = (char)('0' + v % 10);
    if (shift)
      o[n++] = '.';
  }
  return n;
}

size_t zt_addr_bindings_dump(const struct zt_addr_binding *b, size_t n,
                             char *buf, size_t cap) {
  struct zt_addr_binding *sorted = n ? malloc(n * sizeof(*sorted)) : NULL;
  size_t off = 0;
  if (n && !sorted)
    return (size_t)-1;
  if (n) { /* qsort and memcpy take no NULL, even for 0 elements */
    memcpy(sorted, b, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), by_last_used);
  }
  for (size_t i = 0; i < n; i++) {
    char line[ZT_NAME_MAX + 1 + 16 + 1];
    size_t k = strnlen(sorted[i].name, ZT_NAME_MAX);
    memcpy(line, sorted[i].name, k);
    line[k++] = ' ';
    k += ip4_text(sorted[i].addr, line + k);
    line[k++] = '\n';
    if (off < cap)
      memcpy(buf + off, line, off + k <= cap ? k : cap - off);
    off += k;
  }
  if (cap)
    buf[off < cap ? off : cap - 1] = '\0';
  free(sorted);
  return off;
}

size_t zt_addrpool_dump(struct zt_addrpool *p, char *buf, size_t cap) {
  size_t n = zt_addr_bindings_dump(p->bindings, p->n_bindings, buf, cap);
  if (n != (size_t)-1)
    p->changed = false;
  return n;
}

int zt_addr_bindings_parse(const char *text, size_t len,
                           zt_addr_binding_fn fn, void *ud, char *err,
                           size_t errlen) {
  size_t line = 0;
  for (size_t pos = 0; pos < len;) {
    const char *s = text + pos;
    const char *nl = memchr(s, '\n', len - pos);
    size_t n = nl ? (size_t)(nl - s) : len - pos;
    char buf[ZT_NAME_MAX + 32], name[ZT_NAME_MAX + 2], ip[32];
    uint32_t addr;
    pos += n + (nl ? 1 : 0);
    line++;
    if (n == 0)
      continue;
    if (n >= sizeof(buf)) {
      snprintf(err, errlen, "line %zu: too long", line);
      return -1;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    char extra;
    if (sscanf(buf, "%64s %31s %c", name, ip, &extra) != 2 ||
        !zt_name_valid(name) || zt_ip4_parse(ip, &addr) != 0) {
      snprintf(err, errlen, "line %zu: expected \"name address\"", line);
      return -1;
    }
    if (fn(ud, name, addr) != 0) {
      snprintf(err, errlen, "line %zu: out of memory", line);
      return -1;
    }
  }
  return 0;
}

struct load_ctx {
  struct zt_addrpool *p;
  size_t *skipped;
};

static int load_one(void *ud, const char *name, uint32_t addr) {
  struct load_ctx *l = ud;
  struct zt_addrpool *p = l->p;
  if (!usable(p, addr) || binding_of_addr(p, addr) ||
      binding_of_name(p, name)) {
    (*l->skipped)++;
    return 0;
  }
  struct zt_addr_binding *b = bind_name(p, name, addr);
  if (!b)
    return -1;
  b->last_used = ++p->clock;
  return 0;
}

int zt_addrpool_load(struct zt_addrpool *p, const char *text, size_t len,
                     size_t *skipped, char *err, size_t errlen) {
  struct load_ctx l = {p, skipped};
  *skipped = 0;
  if (zt_addr_bindings_parse(text, len, load_one, &l, err, errlen) != 0)
    return -1;
  p->changed = *skipped != 0; /* what we dropped should leave the file too */
  return 0;
}

/* Service addresses allocated from service_pool. See svcpool.h. */
#include "svcpool.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ippkt.h"
#include "policy.h"

void zt_svcpool_init(struct zt_svcpool *p, uint32_t net, uint8_t len) {
  memset(p, 0, sizeof(*p));
  p->net = net;
  p->len = len;
}

void zt_svcpool_free(struct zt_svcpool *p) {
  free(p->bindings);
  memset(p, 0, sizeof(*p));
}

int zt_svcpool_copy(struct zt_svcpool *dst, const struct zt_svcpool *src) {
  *dst = *src;
  dst->bindings = NULL;
  dst->cap_bindings = dst->n_bindings;
  if (!src->n_bindings)
    return 0;
  dst->bindings = malloc(src->n_bindings * sizeof(*dst->bindings));
  if (!dst->bindings) {
    dst->n_bindings = dst->cap_bindings = 0;
    return -1;
  }
  memcpy(dst->bindings, src->bindings,
         src->n_bindings * sizeof(*dst->bindings));
  return 0;
}

void zt_svcpool_commit(struct zt_svcpool *dst, struct zt_svcpool *src) {
  free(dst->bindings);
  *dst = *src;
  memset(src, 0, sizeof(*src));
}

uint32_t zt_svcpool_capacity(const struct zt_svcpool *p) {
  if (!p->len || p->len > 30)
    return 0;
  return ((uint32_t)1 << (32 - p->len)) - 2;
}

/* Inside the range, and neither its network nor its broadcast address. */
static bool usable(const struct zt_svcpool *p, uint32_t addr) {
  uint32_t off = addr - p->net;
  return zt_svcpool_capacity(p) && off != 0 && off <= zt_svcpool_capacity(p);
}

static struct zt_addr_binding *by_addr(const struct zt_svcpool *p,
                                       uint32_t addr) {
  for (size_t i = 0; i < p->n_bindings; i++)
    if (p->bindings[i].addr == addr)
      return &p->bindings[i];
  return NULL;
}

static struct zt_addr_binding *by_name(const struct zt_svcpool *p,
                                       const char *name) {
  return zt_addr_binding_find(p->bindings, p->n_bindings, name);
}

const char *zt_svcpool_bound_to(const struct zt_svcpool *p, uint32_t addr) {
  const struct zt_addr_binding *b = by_addr(p, addr);
  return b ? b->name : NULL;
}

static struct zt_addr_binding *bind(struct zt_svcpool *p, const char *name,
                                    uint32_t addr) {
  return zt_addr_binding_append(&p->bindings, &p->n_bindings,
                                &p->cap_bindings, name, addr);
}

static void unbind(struct zt_svcpool *p, struct zt_addr_binding *b) {
  *b = p->bindings[--p->n_bindings];
}

static void notef(zt_svcpool_note_fn note, void *ud, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void notef(zt_svcpool_note_fn note, void *ud, const char *fmt, ...) {
  char line[320];
  va_list ap;
  if (!note)
    return;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  note(ud, line);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* The lowest usable address neither bound nor fixed, or 0. */
static uint32_t lowest_free(const struct zt_svcpool *p,
                            const struct zt_policy *pol) {
  size_t n = 0;
  uint32_t *taken = malloc((p->n_bindings + pol->n_services + 1) *
                           sizeof(*taken));
  if (!taken)
    return 0;
  for (size_t i = 0; i < p->n_bindings; i++)
    taken[n++] = p->bindings[i].addr;
  for (size_t i = 0; i < pol->n_services; i++)
    if (!pol->services[i].allocated)
      taken[n++] = pol->services[i].address;
  qsort(taken, n, sizeof(*taken), cmp_u32);
  uint32_t want = p->net + 1, last = p->net + zt_svcpool_capacity(p);
  for (size_t i = 0; i < n && want <= last; i++)
    if (taken[i] == want)
      want++;
    else if (taken[i] > want)
      break;
  free(taken);
  return want <= last ? want : 0;
}

/* The binding unused longest: of a service absent from this generation
 * (every present one was stamped with it already). Ties go by name, the
 * order the state file keeps them in, so a restart chooses the same. */
static struct zt_addr_binding *unused_longest(const struct zt_svcpool *p) {
  struct zt_addr_binding *best = NULL;
  for (size_t i = 0; i < p->n_bindings; i++) {
    struct zt_addr_binding *b = &p->bindings[i];
    if (b->last_used == p->generation)
      continue;
    if (!best || b->last_used < best->last_used ||
        (b->last_used == best->last_used && strcmp(b->name, best->name) < 0))
      best = b;
  }
  return best;
}

/* Fixed addresses win over bindings: a binding another service held on
 * one is dropped (that service, when present, gets a new address). So is
 * the service's own binding there (it was allocated, then fixed at the
 * same address): left, it could be reused for someone else while the
 * fixed service holds the address. */
static void drop_fixed_bindings(struct zt_svcpool *p,
                                const struct zt_policy *pol,
                                zt_svcpool_note_fn note, void *ud) {
  char ip[16];
  for (size_t i = 0; i < pol->n_services; i++) {
    const struct zt_policy_service *s = &pol->services[i];
    struct zt_addr_binding *b;
    if (s->allocated || !(b = by_addr(p, s->address)))
      continue;
    if (strcmp(b->name, s->name) != 0)
      notef(note, ud,
            "service_pool: %s is now the fixed address of service '%s'; "
            "service '%s' loses it%s",
            zt_ip4_str(s->address, ip), s->name, b->name,
            zt_policy_find_service(pol, b->name) >= 0 ? " and moves" : "");
    unbind(p, b);
  }
}

/* Everything but the capacity check, on p (a working copy). addr[i] is
 * the address of service i when it is allocated. */
static int assign(struct zt_svcpool *p, const struct zt_policy *pol,
                  uint32_t *addr, zt_svcpool_note_fn note, void *ud) {
  char ip[16];
  drop_fixed_bindings(p, pol, note, ud);
  p->generation++;
  /* Present services keep theirs first, so that no newcomer can take a
   * binding of a service that is in this very policy. */
  for (size_t i = 0; i < pol->n_services; i++) {
    struct zt_addr_binding *b;
    if (pol->services[i].allocated && (b = by_name(p, pol->services[i].name))) {
      b->last_used = p->generation;
      addr[i] = b->addr;
    }
  }
  for (size_t i = 0; i < pol->n_services; i++) {
    const struct zt_policy_service *s = &pol->services[i];
    if (!s->allocated || addr[i])
      continue;
    uint32_t a = lowest_free(p, pol);
    struct zt_addr_binding *b;
    if (a) {
      if (!(b = bind(p, s->name, a)))
        return -1;
      notef(note, ud, "service_pool: service '%s' gets %s", s->name,
            zt_ip4_str(a, ip));
    } else {
      /* The capacity check guarantees one: the present services hold
       * fewer addresses than the range has unfixed ones. */
      if (!(b = unused_longest(p)))
        return -1;
      notef(note, ud,
            "service_pool: full; service '%s' takes %s, the address of "
            "service '%s' (absent from the policy, unused longest)",
            s->name, zt_ip4_str(b->addr, ip), b->name);
      snprintf(b->name, sizeof(b->name), "%s", s->name);
    }
    b->last_used = p->generation;
    addr[i] = b->addr;
  }
  return 0;
}

int zt_svcpool_assign(struct zt_svcpool *p, struct zt_policy *pol,
                      zt_svcpool_note_fn note, void *ud, char *err,
                      size_t errlen) {
  size_t need = 0, fixed_inside = 0;
  uint32_t addr[ZT_MAX_SERVICES] = {0};
  char net[16];
  for (size_t i = 0; i < pol->n_services; i++) {
    if (pol->services[i].allocated)
      need++;
    else if (usable(p, pol->services[i].address))
      fixed_inside++;
  }
  if (need && !p->len) {
    snprintf(err, errlen,
             "%zu service(s) without an address and no service_pool to "
             "allocate one from",
             need);
    return -1;
  }
  uint32_t cap = zt_svcpool_capacity(p);
  if (need > cap - fixed_inside) {
    snprintf(err, errlen,
             "service_pool %s/%u is too small: %zu service(s) need an "
             "address, %zu available (%u usable, %zu fixed inside it)",
             zt_ip4_str(p->net, net), p->len, need, cap - fixed_inside, cap,
             fixed_inside);
    return -1;
  }
  struct zt_svcpool work;
  if (zt_svcpool_copy(&work, p) != 0 || assign(&work, pol, addr, note, ud)) {
    zt_svcpool_free(&work);
    snprintf(err, errlen, "service_pool: out of memory");
    return -1;
  }
  zt_svcpool_commit(p, &work);
  for (size_t i = 0; i < pol->n_services; i++)
    if (pol->services[i].allocated)
      pol->services[i].address = addr[i];
  return 0;
}

size_t zt_svcpool_dump(const struct zt_svcpool *p, char *buf, size_t cap) {
  return zt_addr_bindings_dump(p->bindings, p->n_bindings, buf, cap);
}

struct load_ctx {
  struct zt_svcpool *p;
  size_t *skipped;
};

static int load_one(void *ud, const char *name, uint32_t addr) {
  struct load_ctx *l = ud;
  struct zt_svcpool *p = l->p;
  if (!usable(p, addr) || by_addr(p, addr) || by_name(p, name)) {
    (*l->skipped)++;
    return 0;
  }
  struct zt_addr_binding *b = bind(p, name, addr);
  if (!b)
    return -1;
  /* The file lists them unused longest first: keep that order. */
  b->last_used = ++p->generation;
  return 0;
}

int zt_svcpool_load(struct zt_svcpool *p, const char *text, size_t len,
                    size_t *skipped, char *err, size_t errlen) {
  struct load_ctx l = {p, skipped};
  *skipped = 0;
  return zt_addr_bindings_parse(text, len, load_one, &l, err, errlen);
}

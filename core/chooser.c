/* The choice of a connector per agent and service. See chooser.h. */
#include "chooser.h"

#include <stdio.h>
#include <string.h>

#include "siphash.h"

/* Not a secret: the weights only have to be spread well and the same on
 * every Intermediate, across restarts. */
static const uint8_t weight_key[16] = "ztna connectors";

uint64_t zt_chooser_weight(const char *agent, const char *service,
                           const char *connector) {
  /* NUL-separated, so ("ab", "c") and ("a", "bc") weigh differently. */
  uint8_t buf[3 * (ZT_NAME_MAX + 1)];
  size_t off = 0;
  const char *parts[3] = {agent, service, connector};
  for (int i = 0; i < 3; i++) {
    size_t len = strnlen(parts[i], ZT_NAME_MAX);
    memcpy(buf + off, parts[i], len);
    off += len;
    buf[off++] = 0;
  }
  return zt_siphash(weight_key, buf, off);
}

static int pick_among(const char *agent, const char *service,
                      const struct zt_chooser_candidate *c, size_t n,
                      const char *current, bool responsive_only) {
  int best = -1;
  uint64_t best_w = 0;
  for (size_t i = 0; i < n; i++) {
    if (responsive_only && !c[i].responsive)
      continue;
    if (current && strcmp(c[i].name, current) == 0)
      return (int)i; /* sticky */
    uint64_t w = zt_chooser_weight(agent, service, c[i].name);
    /* Ties (never seen in practice) go to the smaller name, so the answer
     * does not depend on the order of c[]. */
    if (best < 0 || w > best_w ||
        (w == best_w && strcmp(c[i].name, c[best].name) < 0)) {
      best = (int)i;
      best_w = w;
    }
  }
  return best;
}

int zt_chooser_pick(const char *agent, const char *service,
                    const struct zt_chooser_candidate *c, size_t n,
                    const char *current) {
  int i = pick_among(agent, service, c, n, current, true);
  return i >= 0 ? i : pick_among(agent, service, c, n, current, false);
}

static int find(const struct zt_choices *c, const char *service) {
  for (size_t i = 0; i < c->n; i++)
    if (strcmp(c->e[i].service, service) == 0)
      return (int)i;
  return -1;
}

const char *zt_choices_get(const struct zt_choices *c, const char *service) {
  int i = find(c, service);
  return i < 0 ? "" : c->e[i].connector;
}

void zt_choices_set(struct zt_choices *c, const char *service,
                    const char *connector) {
  int i = find(c, service);
  if (!connector || !connector[0]) {
    if (i >= 0)
      c->e[i] = c->e[--c->n];
    return;
  }
  if (i < 0) {
    if (c->n == ZT_MAX_SERVICES)
      return; /* cannot happen: one entry per service of the policy */
    i = (int)c->n++;
    snprintf(c->e[i].service, sizeof(c->e[i].service), "%s", service);
  }
  snprintf(c->e[i].connector, sizeof(c->e[i].connector), "%s", connector);
}

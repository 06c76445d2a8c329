/* The compiled access policy and its matcher. See policy.h. */
#include "policy.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct zt_policy *zt_policy_new(void) { return calloc(1, sizeof(struct zt_policy)); }

void zt_policy_free(struct zt_policy *p) { free(p); }

int zt_policy_find_service(const struct zt_policy *p, const char *name) {
  for (size_t i = 0; i < p->n_services; i++)
    if (strcmp(p->services[i].name, name) == 0)
      return (int)i;
  return -1;
}

int zt_policy_find_group(const struct zt_policy *p, const char *name) {
  for (size_t i = 0; i < p->n_groups; i++)
    if (strcmp(p->groups[i].name, name) == 0)
      return (int)i;
  return -1;
}

bool zt_policy_names_connector(const struct zt_policy_service *s,
                               const char *name) {
  for (size_t i = 0; i < s->n_connectors; i++)
    if (strcmp(s->connectors[i], name) == 0)
      return true;
  return false;
}

static bool in_group(const struct zt_policy_group *g, const char *agent) {
  for (size_t i = 0; i < g->n_agents; i++)
    if (strcmp(g->agents[i], agent) == 0)
      return true;
  return false;
}

/* How specifically rule r names `agent`: 0 when it does not apply. */
static int specificity(const struct zt_policy *p,
                       const struct zt_policy_rule *r, const char *agent) {
  switch (r->subject) {
  case ZT_SUBJECT_AGENT:
    return strcmp(r->agent, agent) == 0 ? ZT_SUBJECT_AGENT : 0;
  case ZT_SUBJECT_GROUP:
    return r->group < p->n_groups && in_group(&p->groups[r->group], agent)
               ? ZT_SUBJECT_GROUP
               : 0;
  case ZT_SUBJECT_EVERYONE:
    return ZT_SUBJECT_EVERYONE;
  }
  return 0;
}

static bool names_service(const struct zt_policy_rule *r, size_t svc) {
  for (size_t i = 0; i < r->n_services; i++)
    if (r->services[i] == svc)
      return true;
  return false;
}

/* A service without ports offers every TCP and UDP port and ICMP. */
static const struct zt_port_rule every_port[] = {
    {IPPROTO_TCP, 0, 65535}, {IPPROTO_UDP, 0, 65535}, {IPPROTO_ICMP, 0, 0}};

static void grant_add(struct zt_policy_grant *g, const struct zt_port_rule *r,
                      size_t n) {
  for (size_t i = 0; i < n; i++) {
    bool dup = false;
    for (size_t j = 0; j < g->n && !dup; j++)
      dup = memcmp(&g->ports[j], &r[i], sizeof(r[i])) == 0;
    /* Past the cap a grant is smaller than written, never larger. */
    if (!dup && g->n < ZT_POLICY_GRANT_MAX)
      g->ports[g->n++] = r[i];
  }
}

/* The most specific kind of rule that names this agent and service (its
 * specificity, 0 for none) and, among the rules of that kind, the first
 * one and the first deny (-1: none), in rules[] order. */
static int deciding(const struct zt_policy *p, const char *agent, size_t svc,
                    int *first, int *first_deny) {
  int best = 0;
  *first = *first_deny = -1;
  for (size_t i = 0; svc < p->n_services && i < p->n_rules; i++) {
    const struct zt_policy_rule *r = &p->rules[i];
    int s = names_service(r, svc) ? specificity(p, r, agent) : 0;
    if (s > best) {
      best = s;
      *first = (int)i;
      *first_deny = -1;
    }
    if (s == best && s > 0 && r->deny && *first_deny < 0)
      *first_deny = (int)i;
  }
  return best;
}

bool zt_policy_grant(const struct zt_policy *p, const char *agent, size_t svc,
                     struct zt_policy_grant *out) {
  int first, first_deny;
  memset(out, 0, sizeof(*out));
  if (svc >= p->n_services)
    return false;
  int best = deciding(p, agent, svc, &first, &first_deny);
  if (best == 0 || first_deny >= 0)
    return false; /* default deny; a deny among the deciding rules wins */
  /* ... and the union of its allow rules' ports. */
  const struct zt_policy_service *sv = &p->services[svc];
  for (size_t i = 0; i < p->n_rules; i++) {
    const struct zt_policy_rule *r = &p->rules[i];
    if (!names_service(r, svc) || specificity(p, r, agent) != best)
      continue;
    if (r->n_ports)
      grant_add(out, r->ports, r->n_ports);
    else if (sv->n_ports)
      grant_add(out, sv->ports, sv->n_ports);
    else
      grant_add(out, every_port, sizeof(every_port) / sizeof(every_port[0]));
  }
  return out->n > 0;
}

int zt_policy_deciding_rule(const struct zt_policy *p, const char *agent,
                            size_t svc) {
  int first, first_deny;
  deciding(p, agent, svc, &first, &first_deny);
  return first_deny >= 0 ? first_deny : first;
}

bool zt_policy_allows(const struct zt_policy *p, const char *agent, size_t svc,
                      uint8_t proto, uint16_t dport) {
  struct zt_policy_grant g;
  return zt_policy_grant(p, agent, svc, &g) &&
         zt_port_rules_match(g.ports, g.n, proto, dport);
}

bool zt_policy_grant_equal(const struct zt_policy_grant *a,
                           const struct zt_policy_grant *b) {
  return a->n == b->n &&
         memcmp(a->ports, b->ports, a->n * sizeof(a->ports[0])) == 0;
}

/* Does every member of group g have an agent rule of its own for svc? */
static bool shadowed_for_all(const struct zt_policy *p,
                             const struct zt_policy_group *g, size_t svc) {
  for (size_t m = 0; m < g->n_agents; m++) {
    bool own = false;
    for (size_t i = 0; i < p->n_rules && !own; i++)
      own = p->rules[i].subject == ZT_SUBJECT_AGENT &&
            names_service(&p->rules[i], svc) &&
            strcmp(p->rules[i].agent, g->agents[m]) == 0;
    if (!own)
      return false;
  }
  return true;
}

size_t zt_policy_warnings(const struct zt_policy *p,
                          void (*fn)(void *ud, const char *line), void *ud) {
  char line[256];
  size_t n = 0;
  for (size_t i = 0; i < p->n_rules; i++) {
    const struct zt_policy_rule *r = &p->rules[i];
    if (r->subject != ZT_SUBJECT_GROUP || r->group >= p->n_groups)
      continue;
    const struct zt_policy_group *g = &p->groups[r->group];
    bool all = true;
    for (size_t k = 0; k < r->n_services && all; k++)
      all = shadowed_for_all(p, g, r->services[k]);
    if (g->n_agents == 0)
      snprintf(line, sizeof(line),
               "line %d: rules[%zu] matches nothing: group '%s' is empty",
               r->line, i, g->name);
    else if (all)
      snprintf(line, sizeof(line),
               "line %d: rules[%zu] matches nothing: every member of group "
               "'%s' has a rule of its own for each of its services",
               r->line, i, g->name);
    else
      continue;
    fn(ud, line);
    n++;
  }
  for (size_t s = 0; s < p->n_services; s++) {
    bool named = false;
    for (size_t i = 0; i < p->n_rules && !named; i++)
      named = names_service(&p->rules[i], s) && !p->rules[i].deny;
    if (named)
      continue;
    snprintf(line, sizeof(line),
             "service '%s': no rule grants it to anyone",
             p->services[s].name);
    fn(ud, line);
    n++;
  }
  return n;
}

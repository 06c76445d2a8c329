/*
 * libFuzzer target for the policy document parser (zt_policy_parse, its
 * own JSON schema beside fuzz_config's). Checks that
 *  - a refusal names the file and a line within the input, and fits err;
 *  - an accepted document is a snapshot the matcher can trust: counts
 *    within their arrays, strings terminated, rules naming existing
 *    services and groups, port ranges ordered, and that matching every
 *    group member (and a stranger) against every service stays in bounds;
 *  - the warnings pass runs on it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "policy.h"

static struct zt_policy pol;
static int input_lines;

static void check_str(const char *s, size_t size) {
  size_t n = strnlen(s, size);
  if (n == 0 || n == size)
    abort();
}

static void check_ports(const struct zt_port_rule *r, size_t n) {
  if (n > ZT_MAX_PORT_RULES)
    abort();
  for (size_t i = 0; i < n; i++)
    if (r[i].lo > r[i].hi)
      abort();
}

static void no_warning(void *ud, const char *line) {
  (void)ud;
  if (strlen(line) == 0)
    abort();
}

static void check_policy(void) {
  struct zt_policy_grant g;
  if (pol.n_services > ZT_MAX_SERVICES || pol.n_groups > ZT_POLICY_MAX_GROUPS ||
      pol.n_rules > ZT_POLICY_MAX_RULES)
    abort();
  for (size_t i = 0; i < pol.n_services; i++) {
    check_str(pol.services[i].name, sizeof pol.services[i].name);
    const struct zt_policy_service *sv = &pol.services[i];
    /* One connector at least, at most 8, each named once. */
    if (sv->n_connectors == 0 || sv->n_connectors > ZT_POLICY_MAX_CONNECTORS)
      abort();
    for (size_t k = 0; k < sv->n_connectors; k++) {
      check_str(sv->connectors[k], sizeof sv->connectors[k]);
      for (size_t j = 0; j < k; j++)
        if (strcmp(sv->connectors[j], sv->connectors[k]) == 0)
          abort();
    }
    check_ports(pol.services[i].ports, pol.services[i].n_ports);
  }
  for (size_t i = 0; i < pol.n_groups; i++) {
    check_str(pol.groups[i].name, sizeof pol.groups[i].name);
    if (pol.groups[i].n_agents > ZT_POLICY_MAX_MEMBERS)
      abort();
    for (size_t j = 0; j < pol.groups[i].n_agents; j++)
      check_str(pol.groups[i].agents[j], sizeof pol.groups[i].agents[j]);
  }
  for (size_t i = 0; i < pol.n_rules; i++) {
    const struct zt_policy_rule *r = &pol.rules[i];
    if (r->n_services == 0 || r->n_services > ZT_MAX_SERVICES)
      abort();
    for (size_t j = 0; j < r->n_services; j++)
      if (r->services[j] >= pol.n_services)
        abort();
    if (r->subject == ZT_SUBJECT_GROUP && r->group >= pol.n_groups)
      abort();
    if (r->subject == ZT_SUBJECT_AGENT)
      check_str(r->agent, sizeof r->agent);
    check_ports(r->ports, r->n_ports);
    if (r->deny && r->n_ports)
      abort();
  }
  for (size_t s = 0; s < pol.n_services; s++) {
    if (zt_policy_grant(&pol, "stranger-not-in-any-group", s, &g) &&
        g.n > ZT_POLICY_GRANT_MAX)
      abort();
    for (size_t i = 0; i < pol.n_groups; i++)
      for (size_t j = 0; j < pol.groups[i].n_agents; j++)
        if (zt_policy_grant(&pol, pol.groups[i].agents[j], s, &g) &&
            (g.n == 0 || g.n > ZT_POLICY_GRANT_MAX))
          abort();
  }
  zt_policy_warnings(&pol, no_warning, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[512];
  int line = 0;
  input_lines = 1;
  for (size_t i = 0; i < size; i++)
    input_lines += data[i] == '\n';
  int r = zt_policy_parse(&pol, "fuzz.json", (const char *)data, size, err,
                          sizeof err);
  if (r == 0) {
    check_policy();
    return 0;
  }
  if (r != -1 || sscanf(err, "fuzz.json:%d: ", &line) != 1 || line < 1 ||
      line > input_lines)
    abort();
  return 0;
}

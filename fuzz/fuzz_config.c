/*
 * libFuzzer target for the configuration parsers: the input is given to
 * all three roles' *_parse as "fuzz.json". Checks that
 *  - a refusal names the file and a line within the input, and fits err;
 *  - an accepted file leaves a config the daemons can trust: counts within
 *    their arrays, every string terminated within its field, names valid,
 *    policy naming only configured services, port ranges ordered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static struct zt_intermediate_config icfg;
static struct zt_connector_config ccfg;
static struct zt_agent_config acfg;
static int input_lines;

static void check_err(int r, const char *err) {
  if (r == 0)
    return;
  int line = 0;
  if (r != -1 || sscanf(err, "fuzz.json:%d: ", &line) != 1 || line < 1 ||
      line > input_lines || strlen(err) == 0)
    abort();
}

/* A NUL within the field, and the text before it non-empty. */
static void check_str(const char *s, size_t size) {
  size_t n = strnlen(s, size);
  if (n == 0 || n == size)
    abort();
}

static void check_tls(const struct zt_tls_paths *t) {
  check_str(t->ca, sizeof t->ca);
  check_str(t->cert, sizeof t->cert);
  check_str(t->key, sizeof t->key);
}

static void check_intermediate(void) {
  check_tls(&icfg.tls);
  /* "policy": "FILE": a terminated path, and then no inline services. */
  if (icfg.policy_file[0] &&
      (strnlen(icfg.policy_file, sizeof icfg.policy_file) ==
           sizeof icfg.policy_file ||
       icfg.n_services != 0))
    abort();
  if (icfg.n_services > ZT_MAX_SERVICES || icfg.n_policy > ZT_MAX_POLICY ||
      icfg.agent_pool_len < 8 || icfg.agent_pool_len > 30 ||
      icfg.log_level < 0 || icfg.log_level > 3 || !icfg.listen_len)
    abort();
  for (size_t i = 0; i < icfg.n_services; i++) {
    check_str(icfg.services[i].name, sizeof icfg.services[i].name);
    check_str(icfg.services[i].connector, sizeof icfg.services[i].connector);
    for (size_t j = 0; j < i; j++)
      if (strcmp(icfg.services[i].name, icfg.services[j].name) == 0 ||
          icfg.services[i].address == icfg.services[j].address)
        abort();
  }
  for (size_t p = 0; p < icfg.n_policy; p++) {
    check_str(icfg.policy[p].agent, sizeof icfg.policy[p].agent);
    if (icfg.policy[p].n_services > ZT_MAX_SERVICES)
      abort();
    for (size_t k = 0; k < icfg.policy[p].n_services; k++) {
      size_t i = 0;
      while (i < icfg.n_services &&
             strcmp(icfg.services[i].name, icfg.policy[p].services[k]) != 0)
        i++;
      if (i == icfg.n_services)
        abort();
    }
  }
}

static void check_connector(void) {
  check_tls(&ccfg.tls);
  check_str(ccfg.tun, sizeof ccfg.tun);
  check_str(ccfg.intermediate_name, sizeof ccfg.intermediate_name);
  if (ccfg.n_services > ZT_MAX_SERVICES || ccfg.log_level < 0 ||
      ccfg.log_level > 3 ||
      ccfg.n_more_intermediates > ZT_MAX_INTERMEDIATES - 1)
    abort();
  for (size_t i = 0; i < ccfg.n_services; i++) {
    check_str(ccfg.services[i].name, sizeof ccfg.services[i].name);
    if (ccfg.services[i].n_rules < 1 ||
        ccfg.services[i].n_rules > ZT_MAX_PORT_RULES)
      abort();
    for (size_t k = 0; k < ccfg.services[i].n_rules; k++)
      if (ccfg.services[i].rules[k].lo > ccfg.services[i].rules[k].hi)
        abort();
  }
}

static void check_agent(void) {
  check_tls(&acfg.tls);
  check_str(acfg.tun, sizeof acfg.tun);
  check_str(acfg.intermediate_name, sizeof acfg.intermediate_name);
  if (acfg.log_level < 0 || acfg.log_level > 3 ||
      acfg.n_more_intermediates > ZT_MAX_INTERMEDIATES - 1)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[512];
  const char *text = (const char *)data;
  input_lines = 1;
  for (size_t i = 0; i < size; i++)
    input_lines += data[i] == '\n';

  zt_intermediate_config_defaults(&icfg);
  int r = zt_intermediate_config_parse(&icfg, "fuzz.json", text, size, err,
                                       sizeof err);
  check_err(r, err);
  if (r == 0)
    check_intermediate();

  zt_connector_config_defaults(&ccfg);
  r = zt_connector_config_parse(&ccfg, "fuzz.json", text, size, err,
                                sizeof err);
  check_err(r, err);
  if (r == 0)
    check_connector();

  zt_agent_config_defaults(&acfg);
  r = zt_agent_config_parse(&acfg, "fuzz.json", text, size, err, sizeof err);
  check_err(r, err);
  if (r == 0)
    check_agent();
  return 0;
}

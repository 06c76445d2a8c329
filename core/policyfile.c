/*
 * The Intermediate's configuration and policy, read whole, and the reload
 * built on it. See policyfile.h.
 */
#include "policyfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intermediate.h"
#include "ippkt.h"
#include "log.h"

/* A policy file's services are checked against the configuration's agent
 * pool here, where both are known: a virtual address inside the pool
 * would collide with agents' tunnel addresses. */
static int check_pool(const struct zt_intermediate_config *cfg,
                      const struct zt_policy *pol, char *err, size_t errlen) {
  uint32_t mask = cfg->agent_pool_len ? ~0u << (32 - cfg->agent_pool_len) : 0;
  char a[16], b[16];
  for (size_t i = 0; i < pol->n_services; i++)
    if ((pol->services[i].address & mask) == cfg->agent_pool) {
      snprintf(err, errlen,
               "%s: services[%zu].address: %s (service '%s') is inside "
               "agent_pool %s/%u",
               cfg->policy_file, i, zt_ip4_str(pol->services[i].address, a),
               pol->services[i].name, zt_ip4_str(cfg->agent_pool, b),
               cfg->agent_pool_len);
      return -1;
    }
  return 0;
}

int zt_im_load(const char *path, struct zt_intermediate_config *cfg,
               struct zt_policy **pol, char *err, size_t errlen) {
  zt_intermediate_config_defaults(cfg);
  if (path && zt_intermediate_config_load(cfg, path, err, errlen) != 0)
    return -1;
  if (!(*pol = zt_policy_new())) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (zt_policy_from_config(*pol, cfg, err, errlen) != 0 ||
      (cfg->policy_file[0] && check_pool(cfg, *pol, err, errlen) != 0)) {
    zt_policy_free(*pol);
    *pol = NULL;
    return -1;
  }
  return 0;
}

static void log_warning(void *ud, const char *line) {
  zt_warn("policy %s: %s", (const char *)ud, line);
}

int zt_intermediate_reload(struct zt_intermediate *im, const char *path,
                           uint64_t now, char *msg, size_t len) {
  static struct zt_intermediate_config cfg;
  struct zt_policy *pol;
  char err[1024];
  /* Everything is read into fresh structures first: a broken file leaves
   * the policy in force untouched. */
  if (zt_im_load(path, &cfg, &pol, err, sizeof(err)) != 0) {
    snprintf(msg, len, "policy not reloaded, the old one stays: %s", err);
    return -1; /* the old policy stays */
  }
  const char *pfile = cfg.policy_file[0] ? cfg.policy_file : path;
  zt_policy_warnings(pol, log_warning, (void *)pfile);
  size_t n_services = pol->n_services, n_rules = pol->n_rules;
  size_t closed = zt_intermediate_set_policy(im, pol, now);
  snprintf(msg, len,
           "policy reloaded from %s: %zu service(s), %zu rule(s); %zu "
           "session(s) closed for lost or changed grants",
           pfile, n_services, n_rules, closed);
  return 0;
}

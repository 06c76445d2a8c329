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

/* A policy file's services are checked against the configuration's pools
 * here, where both are known: a virtual address inside agent_pool would
 * collide with agents' tunnel addresses, and a service without one needs
 * service_pool. (The inline form is checked as intermediate.json is read.) */
static int check_pools(const struct zt_intermediate_config *cfg,
                       const struct zt_policy *pol, char *err, size_t errlen) {
  uint32_t mask = cfg->agent_pool_len ? ~0u << (32 - cfg->agent_pool_len) : 0;
  char a[16], b[16];
  for (size_t i = 0; i < pol->n_services; i++) {
    const struct zt_policy_service *s = &pol->services[i];
    if (s->allocated && !cfg->service_pool_len) {
      snprintf(err, errlen,
               "%s:%d: services[%zu].address: no address and no "
               "service_pool to allocate one from (service '%s')",
               cfg->policy_file, s->line, i, s->name);
      return -1;
    }
    if (!s->allocated && (s->address & mask) == cfg->agent_pool) {
      snprintf(err, errlen,
               "%s:%d: services[%zu].address: %s (service '%s') is inside "
               "agent_pool %s/%u",
               cfg->policy_file, s->line, i, zt_ip4_str(s->address, a),
               s->name, zt_ip4_str(cfg->agent_pool, b), cfg->agent_pool_len);
      return -1;
    }
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
      (cfg->policy_file[0] && check_pools(cfg, *pol, err, errlen) != 0)) {
    zt_policy_free(*pol);
    *pol = NULL;
    return -1;
  }
  return 0;
}

int zt_im_assign(const char *path, struct zt_policy *pol,
                 struct zt_svcpool *bindings, zt_svcpool_note_fn note,
                 void *ud, char *err, size_t errlen) {
  char why[512];
  if (zt_svcpool_assign(bindings, pol, note, ud, why, sizeof(why)) == 0)
    return 0;
  snprintf(err, errlen, "%s: %s", path ? path : "(no file)", why);
  return -1;
}

static void log_warning(void *ud, const char *line) {
  zt_warn("policy %s: %s", (const char *)ud, line);
}

static void log_note(void *ud, const char *line) {
  (void)ud;
  zt_info("%s", line);
}

int zt_intermediate_reload(struct zt_intermediate *im, const char *path,
                           struct zt_svcpool *bindings, uint64_t now,
                           char *msg, size_t len) {
  static struct zt_intermediate_config cfg;
  struct zt_policy *pol;
  struct zt_svcpool next;
  char err[1024], ip[16];
  /* Everything is read into fresh structures first, addresses allocated
   * into a copy of the bindings: a broken file, or a policy whose services
   * do not fit service_pool, leaves the policy and the bindings in force
   * untouched. */
  if (zt_im_load(path, &cfg, &pol, err, sizeof(err)) != 0) {
    snprintf(msg, len, "policy not reloaded, the old one stays: %s", err);
    return -1; /* the old policy stays */
  }
  if (cfg.service_pool != bindings->net ||
      cfg.service_pool_len != bindings->len)
    zt_warn("reload: service_pool %s/%u takes a restart; still allocating "
            "from the one in force",
            zt_ip4_str(cfg.service_pool, ip), cfg.service_pool_len);
  int rv = zt_svcpool_copy(&next, bindings);
  if (rv != 0)
    snprintf(err, sizeof(err), "out of memory");
  else
    rv = zt_im_assign(path, pol, &next, log_note, NULL, err, sizeof(err));
  if (rv != 0) {
    snprintf(msg, len, "policy not reloaded, the old one stays: %s", err);
    zt_svcpool_free(&next);
    zt_policy_free(pol);
    return -1;
  }
  const char *pfile = cfg.policy_file[0] ? cfg.policy_file : path;
  zt_policy_warnings(pol, log_warning, (void *)pfile);
  size_t n_services = pol->n_services, n_rules = pol->n_rules;
  size_t closed = zt_intermediate_set_policy(im, pol, now);
  /* In force: the bindings that go with it are the ones to keep. */
  zt_svcpool_commit(bindings, &next);
  snprintf(msg, len,
           "policy reloaded from %s: %zu service(s), %zu rule(s); %zu "
           "session(s) closed for lost grants",
           pfile, n_services, n_rules, closed);
  return 0;
}

/* --check-config and the reload hook. See checkconfig.h. */
#include "checkconfig.h"

#include <stdio.h>

#include "ippkt.h"
#include "policyfile.h"
#include "svcstate.h"

static void warn_line(void *ud, const char *line) {
  const char *file = ud;
  fprintf(stderr, "warning: %s: %s\n", file, line);
}

static void print_note(void *ud, const char *line) {
  (void)ud;
  printf("  note: %s\n", line);
}

/* What each service gets: its fixed address, or the one service_pool
 * would give it now (from the bindings on disk; nothing is written). */
static void print_services(const struct zt_policy *pol) {
  char ip[16];
  for (size_t i = 0; i < pol->n_services; i++)
    printf("  service %s: %s (%s)\n", pol->services[i].name,
           zt_ip4_str(pol->services[i].address, ip),
           pol->services[i].allocated ? "from service_pool" : "fixed");
}

int zt_im_check_config(const char *path) {
  static struct zt_intermediate_config cfg;
  struct zt_policy *pol;
  char err[1024];
  if (zt_im_load(path, &cfg, &pol, err, sizeof(err)) != 0) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  if (zt_im_svcstate_open(&cfg, false, err, sizeof(err)) != 0 ||
      zt_im_assign(path, pol, zt_im_svcstate(), print_note, NULL, err,
                   sizeof(err)) != 0) {
    fprintf(stderr, "%s\n", err);
    zt_policy_free(pol);
    return 1;
  }
  const char *pfile = cfg.policy_file[0] ? cfg.policy_file : path;
  size_t warnings = zt_policy_warnings(pol, warn_line, (void *)pfile);
  printf("%s: ok: %zu service(s), %zu group(s), %zu rule(s), %zu "
         "warning(s)\n",
         pfile, pol->n_services, pol->n_groups, pol->n_rules, warnings);
  print_services(pol);
  zt_policy_free(pol);
  return 0;
}

static const char *reload_path;

void zt_im_reload_path(const char *path) { reload_path = path; }

int zt_im_reload(void *node, uint64_t now, char *msg, size_t len) {
  if (!reload_path) {
    snprintf(msg, len, "no configuration file to reload");
    return -1;
  }
  int rv = zt_intermediate_reload(node, reload_path, zt_im_svcstate(), now,
                                  msg, len);
  if (rv == 0)
    zt_im_svcstate_save();
  return rv;
}

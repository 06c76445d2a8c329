/*
 * The Intermediate's configuration and policy document read as one
 * (policyfile.c): a policy service's address is checked against the
 * configuration's pools with the file, line and key of the service, and
 * services without an address get theirs from service_pool (zt_im_assign).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policyfile.h"
#include "test.h"

static char dir[] = "/tmp/ztna-policyfile-XXXXXX";
static char im_path[64], pol_path[64], err[1024], want[1024];
static struct zt_intermediate_config cfg;

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

/* Loads intermediate.json (`im`, naming policy.json) and policy.json. */
static int load(const char *im, const char *policy, struct zt_policy **pol) {
  write_file(im_path, im);
  write_file(pol_path, policy);
  *pol = NULL;
  return zt_im_load(im_path, &cfg, pol, err, sizeof err);
}

static void test_address_inside_agent_pool(void) {
  struct zt_policy *pol;
  CHECK_EQ_INT(load("{\"policy\": \"policy.json\"}",
                    "{\"services\": [\n"
                    "  {\"name\": \"w\", \"address\": \"10.100.0.1\", "
                    "\"connector\": \"c\"},\n"
                    "  {\"name\": \"v\", \"connector\": \"c\",\n"
                    "   \"address\": \"100.64.0.9\"}]}\n",
                    &pol),
               -1);
  snprintf(want, sizeof want,
           "%s:4: services[1].address: 100.64.0.9 (service 'v') is inside "
           "agent_pool 100.64.0.0/16",
           pol_path);
  CHECK_STR(err, want);
  CHECK(pol == NULL);
}

static void test_no_address_needs_service_pool(void) {
  struct zt_policy *pol;
  const char *doc = "{\"services\": [\n"
                    "  {\"name\": \"w\", \"address\": \"10.100.0.1\", "
                    "\"connector\": \"c\"},\n"
                    "  {\"name\": \"v\",\n"
                    "   \"connector\": \"c\"}]}\n";
  CHECK_EQ_INT(load("{\"policy\": \"policy.json\"}", doc, &pol), -1);
  snprintf(want, sizeof want,
           "%s:3: services[1].address: no address and no service_pool to "
           "allocate one from (service 'v')",
           pol_path);
  CHECK_STR(err, want);
  /* With a pool: loaded with v marked, then given the lowest address. */
  CHECK_EQ_INT(load("{\"policy\": \"policy.json\", \"service_pool\": "
                    "\"10.100.0.0/30\"}",
                    doc, &pol),
               0);
  if (!pol)
    return;
  CHECK(pol->services[1].allocated);
  CHECK(!pol->services[0].allocated);
  CHECK_EQ_INT(pol->services[1].address, 0);
  struct zt_svcpool sp;
  zt_svcpool_init(&sp, cfg.service_pool, cfg.service_pool_len);
  CHECK_EQ_INT(zt_im_assign(im_path, pol, &sp, NULL, NULL, err, sizeof err),
               0);
  CHECK_EQ_INT(pol->services[1].address, 0x0a640002); /* .1 is w's */
  zt_svcpool_free(&sp);
  zt_policy_free(pol);
}

static void test_range_too_small_names_file(void) {
  struct zt_policy *pol;
  CHECK_EQ_INT(load("{\"policy\": \"policy.json\", \"service_pool\": "
                    "\"10.100.0.0/30\"}",
                    "{\"services\": [{\"name\": \"a\", \"connector\": \"c\"}, "
                    "{\"name\": \"b\", \"connector\": \"c\"}, {\"name\": "
                    "\"d\", \"connector\": \"c\"}]}",
                    &pol),
               0);
  if (!pol)
    return;
  struct zt_svcpool sp;
  zt_svcpool_init(&sp, cfg.service_pool, cfg.service_pool_len);
  CHECK_EQ_INT(zt_im_assign(im_path, pol, &sp, NULL, NULL, err, sizeof err),
               -1);
  snprintf(want, sizeof want,
           "%s: service_pool 10.100.0.0/30 is too small: 3 service(s) need "
           "an address, 2 available (2 usable, 0 fixed inside it)",
           im_path);
  CHECK_STR(err, want);
  CHECK_EQ_INT(sp.n_bindings, 0);
  zt_svcpool_free(&sp);
  zt_policy_free(pol);
}

/* The example document (deploy/config/policy.json): wiki has no address
 * and gets the lowest of the example service_pool that web and echo do
 * not hold. Runs from the repo root. */
static void test_example(void) {
  struct zt_policy *pol = zt_policy_new();
  struct zt_svcpool sp;
  CHECK(pol);
  if (!pol)
    return;
  CHECK_EQ_INT(zt_policy_load(pol, "deploy/config/policy.json", err,
                              sizeof err),
               0);
  int wiki = zt_policy_find_service(pol, "wiki");
  CHECK(wiki >= 0 && pol->services[wiki].allocated);
  zt_svcpool_init(&sp, 0x0a640000, 17);
  CHECK_EQ_INT(zt_svcpool_assign(&sp, pol, NULL, NULL, err, sizeof err), 0);
  if (wiki >= 0)
    CHECK_EQ_INT(pol->services[wiki].address, 0x0a640003);
  zt_svcpool_free(&sp);
  zt_policy_free(pol);
}

int main(void) {
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(im_path, sizeof im_path, "%s/intermediate.json", dir);
  snprintf(pol_path, sizeof pol_path, "%s/policy.json", dir);
  RUN(test_address_inside_agent_pool);
  RUN(test_no_address_needs_service_pool);
  RUN(test_range_too_small_names_file);
  RUN(test_example);
  unlink(im_path);
  unlink(pol_path);
  rmdir(dir);
  return TEST_EXIT();
}

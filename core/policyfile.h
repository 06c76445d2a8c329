/*
 * The Intermediate's configuration and policy as one unit that is either
 * wholly read or not at all: start-up, `--check-config` and reloads (SIGHUP,
 * `ztna reload`) all go through here, so they accept and refuse exactly the
 * same files.
 */
#ifndef ZTNA_POLICYFILE_H
#define ZTNA_POLICYFILE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "policy.h"
#include "svcpool.h"

struct zt_intermediate;

/* Reads `path` (NULL: no file, the defaults) into *cfg from its defaults,
 * then the policy it names (or its inline one) into a fresh snapshot in
 * *pol (the caller frees it). 0, or -1 with "file:line: key: reason" in
 * err and nothing allocated. */
int zt_im_load(const char *path, struct zt_intermediate_config *cfg,
               struct zt_policy **pol, char *err, size_t errlen);

/* Gives the services of pol that have no address one from `bindings`
 * (svcpool.h: service_pool and the bindings so far, updated). 0, or -1
 * with "path: reason" in err and nothing changed. */
int zt_im_assign(const char *path, struct zt_policy *pol,
                 struct zt_svcpool *bindings, zt_svcpool_note_fn note,
                 void *ud, char *err, size_t errlen);

/* Reads `path` and its policy anew and, when both are good and the
 * services fit service_pool, puts the new policy in force
 * (zt_intermediate_set_policy) and updates *bindings to go with it (the
 * caller saves them when they changed). One line saying what happened in
 * msg. 0, or -1 when the file is broken: then nothing changed, bindings
 * included. Only the policy is reloaded; other settings (service_pool
 * too) take a restart. */
int zt_intermediate_reload(struct zt_intermediate *im, const char *path,
                           struct zt_svcpool *bindings, uint64_t now,
                           char *msg, size_t len);

#endif

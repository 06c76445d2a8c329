/*
 * The Intermediate's configuration and policy as one unit that is either
 * wholly read or not at all: start-up, `--check-config` and reloads (SIGHUP,
 * `ztna reload`) all go through here, so they accept and refuse exactly the
 * same files.
 */
#ifndef ZTNA_IM_POLICYFILE_H
#define ZTNA_IM_POLICYFILE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "policy.h"

/* Reads `path` (NULL: no file, the defaults) into *cfg from its defaults,
 * then the policy it names (or its inline one) into a fresh snapshot in
 * *pol (the caller frees it). 0, or -1 with "file:line: key: reason" in
 * err and nothing allocated. */
int zt_im_load(const char *path, struct zt_intermediate_config *cfg,
               struct zt_policy **pol, char *err, size_t errlen);

/* --check-config FILE: errors and warnings on stderr, a summary on stdout;
 * the exit code: 0 valid, 1 not. */
int zt_im_check_config(const char *path);

/* The driver's reload (driver.h): `node` is the Intermediate, the file is
 * the one set with zt_im_reload_path(). */
void zt_im_reload_path(const char *path);
int zt_im_reload(void *node, uint64_t now, char *msg, size_t len);

#endif

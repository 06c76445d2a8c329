/*
 * ztna-intermediate's `--check-config` and its reload hook for the driver
 * (SIGHUP, `ztna reload`), on top of core/policyfile.h.
 */
#ifndef ZTNA_IM_CHECKCONFIG_H
#define ZTNA_IM_CHECKCONFIG_H

#include <stddef.h>
#include <stdint.h>

/* --check-config FILE: errors and warnings on stderr, a summary on stdout;
 * the exit code: 0 valid, 1 not. */
int zt_im_check_config(const char *path);

/* The driver's reload (driver.h): `node` is the Intermediate, the file is
 * the one set with zt_im_reload_path(). */
void zt_im_reload_path(const char *path);
int zt_im_reload(void *node, uint64_t now, char *msg, size_t len);

#endif

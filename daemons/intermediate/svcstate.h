/*
 * The Intermediate's service address bindings (core/svcpool.h) on disk:
 * <state_dir>/service-addresses, read at start (and by --check-config,
 * which never writes it) and replaced atomically whenever the bindings in
 * force change. Without service_pool or state_dir there is no file.
 */
#ifndef ZTNA_IM_SVCSTATE_H
#define ZTNA_IM_SVCSTATE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "svcpool.h"

/* The bindings in force (one set per process). */
struct zt_svcpool *zt_im_svcstate(void);
/* Sets them up from cfg's service_pool and the file. `writable`: the
 * daemon (the state directory is created); otherwise --check-config (an
 * unreadable file is a warning: the allocation shown is then a fresh
 * one). A malformed file is an error naming it and its line. 0 or -1. */
int zt_im_svcstate_open(const struct zt_intermediate_config *cfg,
                        bool writable, char *err, size_t errlen);
/* Writes the bindings when they differ from the file's. */
void zt_im_svcstate_save(void);

#endif

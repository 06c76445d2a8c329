/*
 * The Intermediate's worker threads (config "workers"): each runs a driver
 * of its own (platform/driver.h) on its own socket of the port's
 * SO_REUSEPORT group, for the connections core/intermediate.c gave it.
 * Worker 0 is the main thread's driver; this adds its mailbox to it.
 */
#ifndef ZTNA_IM_WORKERS_H
#define ZTNA_IM_WORKERS_H

#include "driver.h"
#include "intermediate.h"

/* fds[0] is d0's socket; fds[1..n-1] get a thread each, started here.
 * Call after zt_intermediate_new() (with io0, d0's io) and before any
 * packet. 0, or -1 with a logged reason (threads started are stopped). */
int zt_im_workers_start(struct zt_intermediate *im, struct zt_driver *d0,
                        struct zt_io *io0, const int *fds, unsigned n);
/* Stops and joins the threads (before zt_intermediate_shutdown). */
void zt_im_workers_stop(void);

#endif

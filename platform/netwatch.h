/*
 * Watches the host's network through rtnetlink (libmnl): IPv4 and IPv6
 * addresses, links and routes. Events are read into one notice
 * (nlparse.c) and delivered once things settle: ZT_NETWATCH_DEBOUNCE_MS
 * after the first event of a burst, so an interface going down (a link
 * event, its addresses' routes, the default route) is one notice, not ten.
 */
#ifndef ZTNA_NETWATCH_H
#define ZTNA_NETWATCH_H

#include <stddef.h>

#include "loop.h"
#include "nlparse.h"
#include "roam.h"

#define ZT_NETWATCH_DEBOUNCE_MS 150

struct zt_netwatch;
typedef void (*zt_netwatch_cb)(void *ud, const struct zt_netchange *n);

/* Watches from now on in loop l; changes of interface `ignore` (our TUN
 * device; NULL: none) are not reported. NULL with err on failure. */
struct zt_netwatch *zt_netwatch_open(struct zt_loop *l, const char *ignore,
                                     zt_netwatch_cb cb, void *ud, char *err,
                                     size_t errlen);
void zt_netwatch_close(struct zt_netwatch *w);

#endif

/*
 * rtnetlink messages (the kernel's notices of address, link and route
 * changes) read into a "network changed" notice (core/roam.h). Pure: no
 * socket, so the unit tests and a fuzzer feed it crafted messages. The
 * kernel is trusted, but a truncated or odd message is still skipped and
 * counted, never read past.
 */
#ifndef ZTNA_NLPARSE_H
#define ZTNA_NLPARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "roam.h"

#define ZT_NL_LINKS 64 /* interfaces whose up/down state is remembered */

/* What the parser remembers between reads: which interfaces were up, so a
 * RTM_NEWLINK that changes nothing (the kernel sends many: MTU, carrier
 * refreshes) is not a link event. */
struct zt_nl_state {
  int ignore_ifindex; /* our TUN device: its changes are our own doing */
  unsigned n_links;
  struct {
    int ifindex;
    bool up;
  } links[ZT_NL_LINKS];
  unsigned long long malformed; /* messages skipped as truncated or odd */
};

/* Reads every message in buf (one recv's worth) into n, adding to what it
 * already holds. Returns the number of messages that changed n. */
unsigned zt_nl_parse(struct zt_nl_state *st, const void *buf, size_t len,
                     struct zt_netchange *n);

#endif

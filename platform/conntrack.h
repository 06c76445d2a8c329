/*
 * The connector's conntrack housekeeping. When an agent tunnel address
 * passes from one agent identity to another, the kernel still holds the
 * DNAT/masquerade entries of the old holder's flows; a backend's late reply
 * would follow them into the tunnel, now to the new holder. Deleting every
 * IPv4 entry whose original source is that address closes that door.
 * Netlink through libnetfilter-conntrack (Debian's
 * libnetfilter-conntrack3); needs CAP_NET_ADMIN in the network namespace.
 */
#ifndef ZTNA_CONNTRACK_H
#define ZTNA_CONNTRACK_H

#include <stddef.h>
#include <stdint.h>

/* Deletes the IPv4 conntrack entries whose original source address is
 * addr (host byte order). The number deleted, or -1 with the reason in
 * err. */
int zt_conntrack_forget_src(uint32_t addr, char *err, size_t errlen);

#endif

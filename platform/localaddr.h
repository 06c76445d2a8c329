/*
 * This host's own addresses, offered to peers as direct-path candidates
 * (a peer on the same network reaches us without the NAT).
 */
#ifndef ZTNA_LOCALADDR_H
#define ZTNA_LOCALADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The IPv4 addresses of interfaces that are up, except loopback,
 * link-local (169.254/16) and the interface named `exclude` (our TUN: its
 * address is reachable only through ourselves), each with port `port`
 * (network order). At most max; their number. */
size_t zt_local_addrs(const char *exclude, uint16_t port,
                      struct sockaddr_storage *out, size_t max);

/* The address the kernel would send from to reach `to` now (a connected
 * UDP socket's own address: a route lookup, no packet sent), with port
 * `port` (network order). 0, or -1 when there is no route. */
int zt_route_source(const struct sockaddr *to, socklen_t tolen, uint16_t port,
                    struct sockaddr_storage *out, socklen_t *outlen);

#endif

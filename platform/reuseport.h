/* Several UDP sockets on one address, one per Intermediate worker, with a
 * classic BPF program in the kernel steering each datagram to the socket of
 * the worker that owns its connection (core/steer.h states the rules,
 * platform/steerprog.c writes them as a program). See docs/architecture.md,
 * "Workers and steering".
 *
 * Classic BPF rather than an eBPF program loaded by libbpf: the decision
 * (a length check, load 4 bytes, take a remainder) fits in cBPF; it needs
 * no clang or bpftool at build time and no CAP_BPF at run time, and
 * SO_ATTACH_REUSEPORT_CBPF has been in the kernel since 4.5. */
#ifndef ZTNA_REUSEPORT_H
#define ZTNA_REUSEPORT_H

#include <stddef.h>
#include <sys/socket.h>

/* n UDP sockets (fds[0..n-1], worker i reads fds[i]) bound to addr in one
 * SO_REUSEPORT group with the steering program attached; each has every
 * option zt_udp_open gives its socket. n == 1: exactly zt_udp_open's one
 * socket, no group, no program. Port 0 in addr: the port the kernel gives
 * the first socket is used for the others. 0, or -1 with err naming the
 * step that failed (nothing stays open).
 *
 * The kernel numbers a group's sockets in the order they join it, which is
 * the order they are bound here; closing one renumbers the last into its
 * place, so the group is opened and closed whole. A SO_REUSEPORT group
 * admits any socket of the same effective UID that asks: the daemon's user
 * must run nothing else that could bind the port. */
int zt_udp_open_group(const struct sockaddr *addr, socklen_t len, unsigned n,
                      int *fds, char *err, size_t errlen);

#endif

/* The classic BPF program that steers each datagram arriving at an
 * SO_REUSEPORT group to the socket of the worker owning its connection
 * (reuseport.h opens the group; core/steer.h states the rules). Pure: no
 * syscalls, so the unit tests and the fuzzer run it in an interpreter. */
#ifndef ZTNA_STEERPROG_H
#define ZTNA_STEERPROG_H

#include <linux/filter.h>
#include <stddef.h>

/* Room for the program zt_steer_cbpf builds, for any n. */
#define ZT_STEER_CBPF_MAX 16

/* The classic BPF program implementing zt_steer_worker() for n_workers
 * sockets, written to out (cap instructions). Its return value is the
 * socket's index in the group; for "the kernel's hash" it returns a value
 * >= n_workers, which makes the kernel fall back to its 4-tuple hash. The
 * kernel runs it with the packet data at the UDP payload. Returns its
 * length, 0 when cap is too small. */
size_t zt_steer_cbpf(unsigned n_workers, struct sock_filter *out, size_t cap);

#endif

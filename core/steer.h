/* Connection-ID steering: which Intermediate worker a datagram belongs to.
 *
 * With several workers (docs/architecture.md, "Workers and steering") each
 * worker reads its own UDP socket, all of them bound to one address in one
 * SO_REUSEPORT group, and a classic BPF program in the kernel picks the
 * socket of every arriving datagram (platform/reuseport.c builds it). This
 * is the same decision in plain C: the model the program is tested against,
 * and what a node can use to check that a packet reached its owner.
 *
 * Every connection ID we issue starts with its connection's 32-bit key,
 * big-endian (quic.c), and a worker only creates keys k with
 * k % n_workers == its index (zq_config.key_stride/key_residue). */
#ifndef ZTNA_STEER_H
#define ZTNA_STEER_H

#include <stddef.h>
#include <stdint.h>

/* The worker index the kernel program picks for this UDP payload, or -1
 * for "the kernel's 4-tuple hash". The rules, which the program implements
 * exactly:
 *   n_workers <= 1                               -> 0
 *   short header (byte 0 & 0x80 clear), len >= 5 -> key = bytes 1..4
 *   long header, len >= 10, byte 5 (DCID length) >= 4 -> key = bytes 6..9
 *   anything shorter                             -> -1
 *   key == 0 (an Initial answering our Retry)    -> -1
 *   otherwise                                    -> key % n_workers
 * A client's first Initial carries a DCID of its own choosing: it lands on
 * an arbitrary worker, which becomes the owner by drawing a key of its own
 * class; every later packet carries that key. STUN requests (first byte
 * 0x00 or 0x01: a "short header") go wherever their bytes say, which is
 * fine: every worker answers STUN statelessly. */
int zt_steer_worker(const uint8_t *pkt, size_t len, unsigned n_workers);

/* The worker owning connection key `key`: key % n_workers (0 for n <= 1). */
int zt_steer_owner(uint32_t key, unsigned n_workers);

#endif

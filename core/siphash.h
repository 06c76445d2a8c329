/*
 * SipHash-2-4 (Aumasson and Bernstein): a keyed hash for tables indexed by
 * what a remote host chooses (source addresses, connection IDs). With a
 * secret random key an attacker cannot aim its packets at one bucket.
 */
#ifndef ZTNA_SIPHASH_H
#define ZTNA_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t zt_siphash(const uint8_t key[16], const void *data, size_t len);

#endif

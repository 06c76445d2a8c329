/*
 * TCP MSS clamping: a SYN or SYN-ACK read from a TUN device whose MSS
 * option promises segments bigger than the tunnel carries gets a smaller
 * one, so both TCP ends send segments that fit from the start instead of
 * learning it from "fragmentation needed" errors. A second line behind
 * ICMP (core/icmp.c), which a firewall on the way may drop.
 */
#ifndef ZTNA_MSS_H
#define ZTNA_MSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* pkt: an IPv4 packet zt_ip_parse accepted, writable. When it is an
 * unfragmented TCP segment with SYN set and an MSS option above mss, the
 * option is set to mss and the TCP checksum updated incrementally (RFC
 * 1624); nothing else changes. True when the packet was changed. */
bool zt_tcp_clamp_mss(uint8_t *pkt, size_t len, uint16_t mss);

/* The one's complement sum update of RFC 1624 eqn. 3: the checksum field
 * value (network order bytes at ck) after a 16-bit word of the covered data
 * changed from old to new (both in the same byte order as the sum). */
void zt_cksum_update16(uint8_t *ck, uint16_t old, uint16_t new_);

#endif

/*
 * ICMP "fragmentation needed" (type 3 code 4, RFC 1191) for a packet that
 * is too big for the tunnel and may not be fragmented (DF): written back
 * into the TUN device, it tells the sending host's kernel the size that
 * fits, and its next packets are cut to that.
 */
#ifndef ZTNA_ICMP_H
#define ZTNA_ICMP_H

#include <stddef.h>
#include <stdint.h>

#define ZT_ICMP_TYPE_UNREACH 3
#define ZT_ICMP_CODE_FRAG_NEEDED 4
/* 20-byte IP header, 8-byte ICMP header, the original header (up to 60
 * bytes) and the first 8 bytes of its payload. */
#define ZT_ICMP_FRAG_NEEDED_MAX (20 + 8 + 60 + 8)

/* Writes into out (at least ZT_ICMP_FRAG_NEEDED_MAX bytes) the ICMP error
 * answering orig (a whole IPv4 packet zt_ip_parse accepted), from orig's
 * destination to its source, with next-hop MTU mtu; returns its length.
 * Returns 0 where RFC 1122 3.2.2 forbids an error: about an ICMP error (or
 * an ICMP packet too short to say which it is), about a fragment other
 * than the first, and to or from a source that names no single host
 * (0.0.0.0, loopback, multicast, broadcast, class E). */
size_t zt_icmp_frag_needed(const uint8_t *orig, size_t len, uint16_t mtu,
                           uint8_t *out);

#endif

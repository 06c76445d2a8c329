/*
 * IPv4 fragmentation (RFC 791 3.2) of a packet read from a TUN device that
 * is bigger than what the tunnel carries now and may be fragmented (DF
 * clear): the pieces go through the tunnel, and the other end reassembles
 * them (core/reasm.c at the connector, the kernel at the agent).
 */
#ifndef ZTNA_IPFRAG_H
#define ZTNA_IPFRAG_H

#include <stddef.h>
#include <stdint.h>

/* Called for each piece in order; a nonzero return (which must be below
 * -1) stops the cutting and is returned by zt_ip_fragment. */
typedef int (*zt_ipfrag_emit)(void *ud, const uint8_t *piece, size_t len);

/* Cuts pkt (an IPv4 packet zt_ip_parse accepted; it may be a fragment
 * itself) into pieces of at most mtu bytes, each written into buf (at
 * least mtu bytes) and handed to emit. Every piece but the last carries a
 * multiple of 8 payload bytes; the first keeps all header options, later
 * ones only those flagged "copied". Returns the number of pieces, or
 * emit's failure, or -1 when mtu leaves no room for 8 payload bytes
 * or the packet has DF set. */
int zt_ip_fragment(const uint8_t *pkt, size_t len, size_t mtu, uint8_t *buf,
                   zt_ipfrag_emit emit, void *ud);

#endif

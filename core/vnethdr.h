/*
 * The virtio-net header a Linux TUN device opened with IFF_VNET_HDR puts
 * before every packet it reads and expects before every packet written
 * (struct virtio_net_hdr, linux/virtio_net.h: 10 bytes): whether the
 * packet still needs its transport checksum completed, and whether it is
 * a TCP "super segment" the reader must cut into MSS-sized packets (GSO).
 * The kernel wrote it, but it is parsed as untrusted bytes all the same
 * (fuzz/fuzz_vnethdr.c): offsets are checked against the packet before
 * anything is touched.
 *
 * Also the Internet checksum pieces the offloads need: partial sums that
 * can be added up over several buffers, and the IPv4 pseudo-header.
 */
#ifndef ZTNA_VNETHDR_H
#define ZTNA_VNETHDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZT_VNET_HDR_LEN 10
/* flags */
#define ZT_VNET_F_NEEDS_CSUM 1 /* checksum at csum_start+csum_offset */
#define ZT_VNET_F_DATA_VALID 2 /* the kernel checked it (ignored here) */
/* gso_type */
#define ZT_VNET_GSO_NONE 0
#define ZT_VNET_GSO_TCPV4 1
#define ZT_VNET_GSO_UDP 3
#define ZT_VNET_GSO_TCPV6 4
#define ZT_VNET_GSO_ECN 0x80 /* with TCPV4: CWR set on the first segment */

/* The fields in host byte order. A TUN device without TUNSETVNETLE/BE
 * speaks the host's byte order (legacy virtio), and so do we. */
struct zt_vnethdr {
  uint8_t flags, gso_type;
  uint16_t hdr_len, gso_size, csum_start, csum_offset;
};

/* The header at the start of buf: 0, or -1 when len is shorter than it. */
int zt_vnethdr_parse(const uint8_t *buf, size_t len, struct zt_vnethdr *h);
void zt_vnethdr_build(const struct zt_vnethdr *h, uint8_t out[ZT_VNET_HDR_LEN]);

/* One's complement sum of data added to sum (16-bit big-endian words, an
 * odd last byte padded with zero): chain calls over buffers of even
 * length, then fold. */
uint32_t zt_csum_add(uint32_t sum, const uint8_t *data, size_t len);
/* The sum folded to 16 bits, NOT complemented. */
uint16_t zt_csum_fold(uint32_t sum);
/* The IPv4 pseudo-header's sum (RFC 793/768): addresses from the IPv4
 * header at ip, protocol, and the transport length. */
uint32_t zt_csum_pseudo4(const uint8_t *ip, uint8_t proto, uint16_t l4len);

/* NEEDS_CSUM without GSO: the kernel left the transport checksum for the
 * device; the field at csum_start+csum_offset holds the pseudo-header's
 * sum. Completes it in place over csum_start..len. 0, or -1 when the
 * offsets do not fit the packet (nothing touched). A packet without the
 * flag is left alone (0). */
int zt_vnet_csum_complete(const struct zt_vnethdr *h, uint8_t *pkt,
                          size_t len);

#endif

/*
 * Relay frames: the outer DATAGRAM payload that carries one inner QUIC
 * packet on a channel (layout in wire.h). The Intermediate reads only the
 * header to forward a frame; the ends write it in front of inner packets.
 */
#ifndef ZTNA_RELAY_H
#define ZTNA_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/* Writes the 5-byte header: ZT_RELAY_DATA, channel big-endian. */
void zt_relay_write_hdr(uint8_t out[ZT_RELAY_HDR_LEN], uint32_t channel);

/* 0 and sets channel/payload/payload_len (payload points into frame), or -1
 * if the frame is shorter than the header, the type is not ZT_RELAY_DATA,
 * or the payload is empty. */
int zt_relay_parse(const uint8_t *frame, size_t len, uint32_t *channel,
                   const uint8_t **payload, size_t *payload_len);

#endif

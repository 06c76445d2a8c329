/*
 * STUN Binding (RFC 8489), just enough for NAT classification: the
 * Intermediate tells a client the address it sees it from, and `ztna
 * netcheck` compares what two ports of the Intermediate see.
 *
 * Server side, a request is answered only when it is a well-formed Binding
 * request without unknown comprehension-required attributes (no error
 * responses: an answer to junk is a reflection for free), and only when it
 * is at least as large as the answer: a spoofed request can then never
 * make us send more bytes than it cost. Our own client pads its requests
 * with PADDING (RFC 5780) to ZT_STUN_REQUEST_LEN, room for any answer.
 *
 * No authentication, no FINGERPRINT checks: the mapped address is a hint
 * about the path, never a basis for a security decision.
 */
#ifndef ZTNA_STUN_H
#define ZTNA_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ZT_STUN_HDR 20
#define ZT_STUN_MAGIC 0x2112A442u
#define ZT_STUN_TXID_LEN 12
/* Our answers: header and one XOR-MAPPED-ADDRESS, IPv4 or IPv6. */
#define ZT_STUN_RESPONSE_V4 32
#define ZT_STUN_RESPONSE_V6 44
#define ZT_STUN_RESPONSE_MAX ZT_STUN_RESPONSE_V6
/* What our client sends: as large as the largest answer. */
#define ZT_STUN_REQUEST_LEN ZT_STUN_RESPONSE_MAX

#define ZT_STUN_BINDING_REQUEST 0x0001
#define ZT_STUN_BINDING_SUCCESS 0x0101
#define ZT_STUN_ATTR_MAPPED_ADDRESS 0x0001
#define ZT_STUN_ATTR_MESSAGE_INTEGRITY 0x0008
#define ZT_STUN_ATTR_MESSAGE_INTEGRITY_SHA256 0x001C
#define ZT_STUN_ATTR_XOR_MAPPED_ADDRESS 0x0020
#define ZT_STUN_ATTR_PADDING 0x0026
#define ZT_STUN_ATTR_SOFTWARE 0x8022
#define ZT_STUN_ATTR_FINGERPRINT 0x8028

/* A Binding request we would answer (size aside): top two bits 0, the
 * magic cookie, a length that is a multiple of 4 and matches len, attribute
 * TLVs that exactly fill it, no comprehension-required attribute other
 * than PADDING. */
bool zt_stun_is_binding_request(const uint8_t *pkt, size_t len);

/* The size of our answer to `to` (an IPv4-mapped IPv6 address counts as
 * IPv4), 0 for another family. */
size_t zt_stun_response_len(const struct sockaddr *to);

enum zt_stun_verdict {
  ZT_STUN_NOT_STUN = 0,  /* not a Binding request we answer */
  ZT_STUN_TOO_SMALL = 1, /* one, but smaller than its answer: dropped */
  ZT_STUN_ANSWER = 2,    /* *outlen bytes of out are the answer */
};
/* The stateless responder: the answer to the datagram pkt from `from`,
 * when it gets one. Rate limits are the caller's. */
enum zt_stun_verdict zt_stun_answer(const uint8_t *pkt, size_t len,
                                    const struct sockaddr *from, uint8_t *out,
                                    size_t cap, size_t *outlen);

/* Client: a Binding request with transaction ID txid, padded to
 * ZT_STUN_REQUEST_LEN. Its length, 0 when cap is too small. */
size_t zt_stun_build_request(const uint8_t txid[ZT_STUN_TXID_LEN],
                             uint8_t *out, size_t cap);
/* Client: a Binding success response to transaction txid: the mapped
 * address (XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS) into *mapped. 0, or -1
 * for anything else (another transaction, malformed, no address, an
 * unknown comprehension-required attribute). */
int zt_stun_parse_response(const uint8_t *pkt, size_t len,
                           const uint8_t txid[ZT_STUN_TXID_LEN],
                           struct sockaddr_storage *mapped,
                           socklen_t *mappedlen);

#endif

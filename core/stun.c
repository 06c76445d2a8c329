/* STUN Binding requests and responses (RFC 8489). See stun.h. */
#include "stun.h"

#include <netinet/in.h>
#include <string.h>

static const uint8_t cookie[4] = {0x21, 0x12, 0xA4, 0x42};

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void wr16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

/* The checks every STUN message passes: the message type, or -1. The
 * length must match the datagram exactly: STUN over UDP is one message
 * per datagram, and trailing bytes mean it is something else. */
static int header(const uint8_t *pkt, size_t len) {
  if (len < ZT_STUN_HDR || (pkt[0] & 0xc0) != 0)
    return -1;
  size_t body = rd16(pkt + 2);
  if (body % 4 != 0 || ZT_STUN_HDR + body != len ||
      memcmp(pkt + 4, cookie, 4) != 0)
    return -1;
  return rd16(pkt);
}

typedef bool (*known_fn)(uint16_t type);
typedef void (*attr_fn)(void *ud, uint16_t type, const uint8_t *v,
                        size_t vlen);

/* Walks the attributes, which must fill the body exactly (each value
 * padded to 4 bytes, padding of any value). 0, or -1 when malformed or
 * when a comprehension-required attribute (type < 0x8000) is not known. */
static int walk(const uint8_t *pkt, size_t len, known_fn known, attr_fn cb,
                void *ud) {
  size_t off = ZT_STUN_HDR;
  while (off < len) {
    if (len - off < 4)
      return -1;
    uint16_t type = rd16(pkt + off);
    size_t vlen = rd16(pkt + off + 2);
    size_t padded = (vlen + 3) & ~(size_t)3;
    if (padded > len - off - 4)
      return -1;
    if (type < 0x8000 && !known(type))
      return -1;
    if (cb)
      cb(ud, type, pkt + off + 4, vlen);
    off += 4 + padded;
  }
  return 0;
}

/* In a request we understand PADDING alone: anything else that demands
 * understanding (USERNAME, MESSAGE-INTEGRITY, ICE's PRIORITY...) asks for
 * something we do not do, and gets no answer. */
static bool known_in_request(uint16_t type) {
  return type == ZT_STUN_ATTR_PADDING;
}

bool zt_stun_is_binding_request(const uint8_t *pkt, size_t len) {
  return header(pkt, len) == ZT_STUN_BINDING_REQUEST &&
         walk(pkt, len, known_in_request, NULL, NULL) == 0;
}

static bool v4_mapped(const struct sockaddr_in6 *s6) {
  return IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr);
}

size_t zt_stun_response_len(const struct sockaddr *to) {
  if (to->sa_family == AF_INET)
    return ZT_STUN_RESPONSE_V4;
  if (to->sa_family == AF_INET6)
    return v4_mapped((const struct sockaddr_in6 *)to) ? ZT_STUN_RESPONSE_V4
                                                      : ZT_STUN_RESPONSE_V6;
  return 0;
}

/* XOR-MAPPED-ADDRESS of `to`: the port XORed with the cookie's top half,
 * the address with the cookie (IPv4) or cookie and transaction ID (IPv6),
 * so that NATs rewriting addresses they find in payloads leave it alone. */
static size_t put_xor_mapped(uint8_t *a, const struct sockaddr *to,
                             const uint8_t *txid) {
  uint8_t key[16];
  const uint8_t *addr;
  size_t alen;
  uint16_t port;
  memcpy(key, cookie, 4);
  memcpy(key + 4, txid, ZT_STUN_TXID_LEN);
  if (to->sa_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)to;
    addr = (const uint8_t *)&s4->sin_addr;
    alen = 4;
    port = ntohs(s4->sin_port);
  } else {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)to;
    addr = s6->sin6_addr.s6_addr;
    alen = 16;
    if (v4_mapped(s6)) { /* a dual-stack socket's IPv4 peer */
      addr += 12;
      alen = 4;
    }
    port = ntohs(s6->sin6_port);
  }
  wr16(a, ZT_STUN_ATTR_XOR_MAPPED_ADDRESS);
  wr16(a + 2, (uint16_t)(4 + alen));
  a[4] = 0;
  a[5] = alen == 4 ? 0x01 : 0x02;
  wr16(a + 6, port ^ 0x2112);
  for (size_t i = 0; i < alen; i++)
    a[8 + i] = addr[i] ^ key[i];
  return 8 + alen;
}

enum zt_stun_verdict zt_stun_answer(const uint8_t *pkt, size_t len,
                                    const struct sockaddr *from, uint8_t *out,
                                    size_t cap, size_t *outlen) {
  *outlen = 0;
  if (!zt_stun_is_binding_request(pkt, len))
    return ZT_STUN_NOT_STUN;
  size_t n = zt_stun_response_len(from);
  if (n == 0 || cap < n)
    return ZT_STUN_NOT_STUN;
  /* No amplification: a spoofed source gets at most what it was sent. */
  if (len < n)
    return ZT_STUN_TOO_SMALL;
  wr16(out, ZT_STUN_BINDING_SUCCESS);
  wr16(out + 2, (uint16_t)(n - ZT_STUN_HDR));
  memcpy(out + 4, cookie, 4);
  memcpy(out + 8, pkt + 8, ZT_STUN_TXID_LEN);
  put_xor_mapped(out + ZT_STUN_HDR, from, pkt + 8);
  *outlen = n;
  return ZT_STUN_ANSWER;
}

size_t zt_stun_build_request(const uint8_t txid[ZT_STUN_TXID_LEN],
                             uint8_t *out, size_t cap) {
  if (cap < ZT_STUN_REQUEST_LEN)
    return 0;
  memset(out, 0, ZT_STUN_REQUEST_LEN);
  wr16(out, ZT_STUN_BINDING_REQUEST);
  wr16(out + 2, ZT_STUN_REQUEST_LEN - ZT_STUN_HDR);
  memcpy(out + 4, cookie, 4);
  memcpy(out + 8, txid, ZT_STUN_TXID_LEN);
  /* PADDING fills the rest: zero bytes, there only for their size. */
  wr16(out + ZT_STUN_HDR, ZT_STUN_ATTR_PADDING);
  wr16(out + ZT_STUN_HDR + 2, ZT_STUN_REQUEST_LEN - ZT_STUN_HDR - 4);
  return ZT_STUN_REQUEST_LEN;
}

/* In a response: the addresses, and the integrity attributes a server
 * using credentials would add (we sent none, so there is nothing to check
 * them against; the address is a hint either way). */
static bool known_in_response(uint16_t type) {
  return type == ZT_STUN_ATTR_MAPPED_ADDRESS ||
         type == ZT_STUN_ATTR_XOR_MAPPED_ADDRESS ||
         type == ZT_STUN_ATTR_MESSAGE_INTEGRITY ||
         type == ZT_STUN_ATTR_MESSAGE_INTEGRITY_SHA256 ||
         type == ZT_STUN_ATTR_PADDING;
}

struct found {
  const uint8_t *txid;
  struct sockaddr_storage xor_addr, plain_addr;
  socklen_t xor_len, plain_len;
};

/* One (XOR-)MAPPED-ADDRESS value into ss; its length, 0 if malformed. */
static socklen_t decode_addr(const uint8_t *v, size_t vlen, bool xored,
                             const uint8_t *txid,
                             struct sockaddr_storage *ss) {
  uint8_t key[16] = {0};
  if (xored) {
    memcpy(key, cookie, 4);
    memcpy(key + 4, txid, ZT_STUN_TXID_LEN);
  }
  if (vlen < 4)
    return 0;
  uint16_t port = rd16(v + 2) ^ (xored ? 0x2112 : 0);
  memset(ss, 0, sizeof(*ss));
  if (v[1] == 0x01 && vlen == 8) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    uint8_t *a = (uint8_t *)&s4->sin_addr;
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    for (int i = 0; i < 4; i++)
      a[i] = v[4 + i] ^ key[i];
    return sizeof(*s4);
  }
  if (v[1] == 0x02 && vlen == 20) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    for (int i = 0; i < 16; i++)
      s6->sin6_addr.s6_addr[i] = v[4 + i] ^ key[i];
    return sizeof(*s6);
  }
  return 0;
}

/* The first well-formed attribute of each kind counts. */
static void on_response_attr(void *ud, uint16_t type, const uint8_t *v,
                             size_t vlen) {
  struct found *f = ud;
  if (type == ZT_STUN_ATTR_XOR_MAPPED_ADDRESS && !f->xor_len)
    f->xor_len = decode_addr(v, vlen, true, f->txid, &f->xor_addr);
  else if (type == ZT_STUN_ATTR_MAPPED_ADDRESS && !f->plain_len)
    f->plain_len = decode_addr(v, vlen, false, f->txid, &f->plain_addr);
}

int zt_stun_parse_response(const uint8_t *pkt, size_t len,
                           const uint8_t txid[ZT_STUN_TXID_LEN],
                           struct sockaddr_storage *mapped,
                           socklen_t *mappedlen) {
  struct found f = {.txid = txid};
  if (header(pkt, len) != ZT_STUN_BINDING_SUCCESS ||
      memcmp(pkt + 8, txid, ZT_STUN_TXID_LEN) != 0 ||
      walk(pkt, len, known_in_response, on_response_attr, &f) != 0)
    return -1;
  if (f.xor_len) {
    *mapped = f.xor_addr;
    *mappedlen = f.xor_len;
  } else if (f.plain_len) {
    *mapped = f.plain_addr;
    *mappedlen = f.plain_len;
  } else {
    return -1;
  }
  return 0;
}

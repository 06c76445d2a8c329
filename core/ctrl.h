/*
 * Control messages of the outer stream 0 (layout in wire.h): a codec between
 * struct zt_ctrl_msg and bytes, and a stream reader that reassembles frames
 * from the arbitrary chunks QUIC delivers. Everything here reads bytes from
 * untrusted peers, so every length is checked and a bad frame is dropped
 * without losing the framing. Sans-IO: no sockets, no clock, no malloc.
 *
 * In struct zt_ctrl_msg IPv4 addresses (uint32_t) are in host byte order;
 * sockaddrs hold sockaddr_in/sockaddr_in6 with the port in network order.
 */
#ifndef ZTNA_CTRL_H
#define ZTNA_CTRL_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "portrule.h"
#include "wire.h"

struct zt_ctrl_service {
  char name[ZT_NAME_MAX + 1];
  uint32_t vip;
  char connector[ZT_NAME_MAX + 1];
  uint8_t online;
};

struct zt_ctrl_reg {
  char name[ZT_NAME_MAX + 1];
  uint8_t status; /* enum zt_status */
  uint32_t vip;
};

struct zt_ctrl_msg {
  uint8_t type; /* enum zt_ctrl_type */
  union {
    struct {
      uint8_t version;
      uint32_t prev_tunnel_ip;
    } hello;
    struct {
      char identity[ZT_NAME_MAX + 1];
      struct sockaddr_storage observed;
      uint32_t tunnel_ip;
    } welcome;
    struct { /* REGISTER */
      uint8_t n;
      char names[ZT_MAX_SERVICES][ZT_NAME_MAX + 1];
    } reg;
    struct {
      uint8_t n;
      struct zt_ctrl_reg items[ZT_MAX_SERVICES];
    } reg_ack;
    struct {
      uint8_t n;
      struct zt_ctrl_service items[ZT_MAX_SERVICES];
    } services;
    struct {
      uint32_t request_id;
      char connector[ZT_NAME_MAX + 1];
    } session_open;
    struct {
      uint32_t request_id;
      uint8_t status;
      uint32_t channel;
    } session_ready;
    struct {
      uint32_t channel;
      char agent[ZT_NAME_MAX + 1];
      uint32_t agent_ip;
      uint8_t n;
      uint32_t vips[ZT_MAX_SERVICES];
      /* The ports granted of each (policy.h), an optional trailing block:
       * has_ports 0 (absent on the wire) means every port the connector
       * offers. Protocols 1, 6, 17 only; lo <= hi. */
      uint8_t has_ports;
      uint8_t n_ports[ZT_MAX_SERVICES];
      struct zt_port_rule ports[ZT_MAX_SERVICES][ZT_MAX_PORT_RULES];
    } session_new;
    struct {
      uint32_t channel;
      uint8_t status;
    } session_close;
    struct {
      struct sockaddr_storage observed;
    } observed;
    struct {
      uint8_t status;
      char reason[ZT_MAX_REASON + 1];
    } error;
    struct {
      uint32_t probe_key;
      uint8_t n;
      struct sockaddr_storage addrs[ZT_MAX_CANDIDATES];
    } candidates;
    struct {
      uint32_t channel;
      uint8_t direct;
    } path;
  } u;
};

enum zt_ctrl_err {
  ZT_CTRL_ETRUNC = -1,    /* body too short */
  ZT_CTRL_ETRAILING = -2, /* bytes left over after the last field */
  ZT_CTRL_EUNKNOWN = -3,  /* unknown message type */
  ZT_CTRL_EBADNAME = -4,  /* name not zt_name_valid_n (identity.h);
                             reason too long or not printable ASCII */
  ZT_CTRL_ECOUNT = -5,    /* n > ZT_MAX_SERVICES (ZT_MAX_CANDIDATES) */
  ZT_CTRL_EADDR = -6,     /* address family neither 4 nor 6 */
  ZT_CTRL_EVALUE = -7,    /* a field outside its values (PATH's path) */
};

/* Writes header + body into buf. Returns the total length, or -1 if cap is
 * too small, the body would exceed ZT_CTRL_BODY_MAX (the peer's reader would
 * drop it), or the message is invalid (bad name or reason, n too big,
 * unknown type, address family other than AF_INET/AF_INET6). */
int zt_ctrl_encode(const struct zt_ctrl_msg *m, uint8_t *buf, size_t cap);

/* Decodes one body of the given type into *m (zeroed first, so decoded
 * messages compare equal with memcmp). Returns 0 or an enum zt_ctrl_err; on
 * error *m is partly filled and must not be used. */
int zt_ctrl_decode(uint8_t type, const uint8_t *body, size_t len,
                   struct zt_ctrl_msg *m);

/* "HELLO", "WELCOME", ... or "UNKNOWN". */
const char *zt_ctrl_type_name(uint8_t type);
/* "not allowed by policy" for ZT_ERR_NOT_ALLOWED, and so on. */
const char *zt_status_name(uint8_t status);
/* A short description of 0 or an enum zt_ctrl_err. */
const char *zt_ctrl_strerror(int err);

/* ---- Stream reader ------------------------------------------------------ */

struct zt_ctrl_stats {
  uint64_t messages;  /* decoded and passed to the callback */
  uint64_t malformed; /* known type, body failed to decode */
  uint64_t oversized; /* known type, length > ZT_CTRL_BODY_MAX: skipped */
  uint64_t unknown;   /* unknown type (any length): skipped */
};

typedef void (*zt_ctrl_msg_cb)(void *ud, const struct zt_ctrl_msg *m);

struct zt_ctrl_reader {
  uint8_t hdr[ZT_CTRL_HDR_LEN];
  size_t hdr_got;     /* header bytes buffered; < ZT_CTRL_HDR_LEN: in header */
  size_t body_len;    /* length from the header */
  size_t body_got;    /* body bytes buffered (or skipped) so far */
  uint8_t skipping;   /* discarding the current body instead of buffering */
  uint8_t body[ZT_CTRL_BODY_MAX];
  struct zt_ctrl_msg msg; /* decoded here, not on the stack: it is ~10 KB */
  struct zt_ctrl_stats stats;
};

void zt_ctrl_reader_init(struct zt_ctrl_reader *r);
/* Consumes all of data, calling cb for every complete good message. The
 * message passed to cb lives in the reader and is valid only during the
 * call; cb must not feed the same reader. */
void zt_ctrl_reader_feed(struct zt_ctrl_reader *r, const uint8_t *data,
                         size_t len, zt_ctrl_msg_cb cb, void *ud);

#endif

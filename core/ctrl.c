/*
 * Control message codec and stream reader. See ctrl.h and wire.h.
 *
 * Encoding and decoding go through two tiny cursors with sticky errors, so
 * each message's layout reads as a straight list of fields and a short or
 * bad field cannot be forgotten in one branch.
 */
#include "ctrl.h"

#include <string.h>

#include "identity.h"

/* ---- Names ------------------------------------------------------------- */

/* Every name on the wire (services, connectors, agents, identities) is held
 * to the one name rule, zt_name_valid_n (identity.h): the same rule as
 * certificates and config files, so a name one part accepts no other part
 * refuses. */
static int name_ok(const uint8_t *s, size_t n) {
  return zt_name_valid_n((const char *)s, n);
}

/* Reasons are free text for humans but still go to logs: printable only. */
static int reason_ok(const uint8_t *s, size_t n) {
  if (n > ZT_MAX_REASON)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] < 0x20 || s[i] > 0x7e)
      return 0;
  return 1;
}

/* ---- Encoding ---------------------------------------------------------- */

struct wcur {
  uint8_t *buf;
  size_t cap, pos;
  int bad; /* sticky: out of room or invalid field */
};

static void put_bytes(struct wcur *w, const void *p, size_t n) {
  if (w->bad || w->cap - w->pos < n) {
    w->bad = 1;
    return;
  }
  memcpy(w->buf + w->pos, p, n);
  w->pos += n;
}

static void put_u8(struct wcur *w, uint8_t v) { put_bytes(w, &v, 1); }

static void put_u32(struct wcur *w, uint32_t v) {
  uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                  (uint8_t)v};
  put_bytes(w, b, 4);
}

/* strnlen bounds the scan: a struct field without a NUL is invalid, not a
 * read past its end. */
static void put_name(struct wcur *w, const char *s) {
  size_t n = strnlen(s, ZT_NAME_MAX + 1);
  if (!name_ok((const uint8_t *)s, n)) {
    w->bad = 1;
    return;
  }
  put_u8(w, (uint8_t)n);
  put_bytes(w, s, n);
}

static void put_reason(struct wcur *w, const char *s) {
  size_t n = strnlen(s, ZT_MAX_REASON + 1);
  if (!reason_ok((const uint8_t *)s, n)) {
    w->bad = 1;
    return;
  }
  put_u8(w, (uint8_t)n);
  put_bytes(w, s, n);
}

static void put_count(struct wcur *w, uint8_t n) {
  if (n > ZT_MAX_SERVICES)
    w->bad = 1;
  put_u8(w, n);
}

static void put_addr(struct wcur *w, const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
    put_u8(w, 4);
    put_bytes(w, &sin->sin_addr, 4);
    put_bytes(w, &sin->sin_port, 2); /* both already network order */
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
    put_u8(w, 6);
    put_bytes(w, &sin6->sin6_addr, 16);
    put_bytes(w, &sin6->sin6_port, 2);
  } else {
    w->bad = 1;
  }
}

static void enc_reg(struct wcur *w, const struct zt_ctrl_msg *m) {
  put_count(w, m->u.reg.n);
  for (unsigned i = 0; !w->bad && i < m->u.reg.n; i++)
    put_name(w, m->u.reg.names[i]);
}

static void enc_reg_ack(struct wcur *w, const struct zt_ctrl_msg *m) {
  put_count(w, m->u.reg_ack.n);
  for (unsigned i = 0; !w->bad && i < m->u.reg_ack.n; i++) {
    const struct zt_ctrl_reg *it = &m->u.reg_ack.items[i];
    put_name(w, it->name);
    put_u8(w, it->status);
    put_u32(w, it->vip);
  }
}

static void enc_services(struct wcur *w, const struct zt_ctrl_msg *m) {
  put_count(w, m->u.services.n);
  for (unsigned i = 0; !w->bad && i < m->u.services.n; i++) {
    const struct zt_ctrl_service *it = &m->u.services.items[i];
    put_name(w, it->name);
    put_u32(w, it->vip);
    put_name(w, it->connector);
    put_u8(w, it->online);
  }
}

static void enc_session_new(struct wcur *w, const struct zt_ctrl_msg *m) {
  put_u32(w, m->u.session_new.channel);
  put_name(w, m->u.session_new.agent);
  put_u32(w, m->u.session_new.agent_ip);
  put_count(w, m->u.session_new.n);
  for (unsigned i = 0; !w->bad && i < m->u.session_new.n; i++)
    put_u32(w, m->u.session_new.vips[i]);
  if (m->u.session_new.has_ports > 1)
    w->bad = 1;
  for (unsigned i = 0; m->u.session_new.has_ports == 1 && !w->bad &&
                       i < m->u.session_new.n;
       i++) {
    uint8_t k = m->u.session_new.n_ports[i];
    if (k > ZT_MAX_PORT_RULES)
      w->bad = 1;
    put_u8(w, k);
    for (unsigned j = 0; !w->bad && j < k; j++) {
      const struct zt_port_rule *pr = &m->u.session_new.ports[i][j];
      uint8_t b[5] = {pr->proto, (uint8_t)(pr->lo >> 8), (uint8_t)pr->lo,
                      (uint8_t)(pr->hi >> 8), (uint8_t)pr->hi};
      if ((pr->proto != IPPROTO_ICMP && pr->proto != IPPROTO_TCP &&
           pr->proto != IPPROTO_UDP) ||
          pr->lo > pr->hi)
        w->bad = 1;
      put_bytes(w, b, sizeof(b));
    }
  }
}

/* Writes the body only; returns 0, or -1 for unknown types. */
static int enc_body(struct wcur *w, const struct zt_ctrl_msg *m) {
  switch (m->type) {
  case ZT_MSG_HELLO:
    put_u8(w, m->u.hello.version);
    put_u32(w, m->u.hello.prev_tunnel_ip);
    return 0;
  case ZT_MSG_WELCOME:
    put_name(w, m->u.welcome.identity);
    put_addr(w, &m->u.welcome.observed);
    put_u32(w, m->u.welcome.tunnel_ip);
    return 0;
  case ZT_MSG_REGISTER:
    enc_reg(w, m);
    return 0;
  case ZT_MSG_REGISTER_ACK:
    enc_reg_ack(w, m);
    return 0;
  case ZT_MSG_SERVICES:
    enc_services(w, m);
    return 0;
  case ZT_MSG_SESSION_OPEN:
    put_u32(w, m->u.session_open.request_id);
    put_name(w, m->u.session_open.connector);
    return 0;
  case ZT_MSG_SESSION_READY:
    put_u32(w, m->u.session_ready.request_id);
    put_u8(w, m->u.session_ready.status);
    put_u32(w, m->u.session_ready.channel);
    return 0;
  case ZT_MSG_SESSION_NEW:
    enc_session_new(w, m);
    return 0;
  case ZT_MSG_SESSION_CLOSE:
    put_u32(w, m->u.session_close.channel);
    put_u8(w, m->u.session_close.status);
    return 0;
  case ZT_MSG_OBSERVED:
    put_addr(w, &m->u.observed.observed);
    return 0;
  case ZT_MSG_ERROR:
    put_u8(w, m->u.error.status);
    put_reason(w, m->u.error.reason);
    return 0;
  case ZT_MSG_CANDIDATES:
    put_u32(w, m->u.candidates.probe_key);
    if (m->u.candidates.n > ZT_MAX_CANDIDATES)
      w->bad = 1;
    put_u8(w, m->u.candidates.n);
    for (unsigned i = 0; !w->bad && i < m->u.candidates.n; i++)
      put_addr(w, &m->u.candidates.addrs[i]);
    return 0;
  case ZT_MSG_PATH:
    put_u32(w, m->u.path.channel);
    if (m->u.path.direct > 1)
      w->bad = 1;
    put_u8(w, m->u.path.direct);
    return 0;
  default:
    return -1;
  }
}

int zt_ctrl_encode(const struct zt_ctrl_msg *m, uint8_t *buf, size_t cap) {
  if (cap < ZT_CTRL_HDR_LEN)
    return -1;
  struct wcur w = {buf, cap, ZT_CTRL_HDR_LEN, 0};
  if (enc_body(&w, m) < 0 || w.bad)
    return -1;
  size_t body = w.pos - ZT_CTRL_HDR_LEN;
  if (body > ZT_CTRL_BODY_MAX)
    return -1;
  buf[0] = m->type;
  buf[1] = (uint8_t)(body >> 8);
  buf[2] = (uint8_t)body;
  return (int)w.pos;
}

/* ---- Decoding ---------------------------------------------------------- */

struct rcur {
  const uint8_t *p;
  size_t len, pos;
  int err; /* sticky: first enum zt_ctrl_err hit */
};

static void fail(struct rcur *r, int err) {
  if (!r->err)
    r->err = err;
}

/* Returns a pointer to the next n bytes, or NULL (and ETRUNC). */
static const uint8_t *take(struct rcur *r, size_t n) {
  if (r->err)
    return NULL;
  if (r->len - r->pos < n) {
    fail(r, ZT_CTRL_ETRUNC);
    return NULL;
  }
  const uint8_t *q = r->p + r->pos;
  r->pos += n;
  return q;
}

static uint8_t get_u8(struct rcur *r) {
  const uint8_t *q = take(r, 1);
  return q ? q[0] : 0;
}

static uint32_t get_u32(struct rcur *r) {
  const uint8_t *q = take(r, 4);
  if (!q)
    return 0;
  return (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 |
         q[3];
}

/* out has room for ZT_NAME_MAX + 1. */
static void get_name(struct rcur *r, char *out) {
  uint8_t n = get_u8(r);
  if (r->err)
    return;
  /* The length bound guards the copy into out on its own, whatever the
   * name rule says. */
  if (n == 0 || n > ZT_NAME_MAX) {
    fail(r, ZT_CTRL_EBADNAME);
    return;
  }
  const uint8_t *q = take(r, n);
  if (!q)
    return;
  if (!name_ok(q, n)) {
    fail(r, ZT_CTRL_EBADNAME);
    return;
  }
  memcpy(out, q, n);
  out[n] = '\0';
}

/* out has room for ZT_MAX_REASON + 1. */
static void get_reason(struct rcur *r, char *out) {
  uint8_t n = get_u8(r);
  if (r->err)
    return;
  if (n > ZT_MAX_REASON) {
    fail(r, ZT_CTRL_EBADNAME);
    return;
  }
  const uint8_t *q = take(r, n);
  if (!q)
    return;
  if (!reason_ok(q, n)) {
    fail(r, ZT_CTRL_EBADNAME);
    return;
  }
  memcpy(out, q, n);
  out[n] = '\0';
}

static uint8_t get_count(struct rcur *r) {
  uint8_t n = get_u8(r);
  if (!r->err && n > ZT_MAX_SERVICES) {
    fail(r, ZT_CTRL_ECOUNT);
    return 0;
  }
  return n;
}

/* ss was zeroed by the caller. */
static void get_addr(struct rcur *r, struct sockaddr_storage *ss) {
  uint8_t fam = get_u8(r);
  if (r->err)
    return;
  if (fam == 4) {
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    const uint8_t *q = take(r, 6);
    if (!q)
      return;
    sin->sin_family = AF_INET;
    memcpy(&sin->sin_addr, q, 4);
    memcpy(&sin->sin_port, q + 4, 2);
  } else if (fam == 6) {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    const uint8_t *q = take(r, 18);
    if (!q)
      return;
    sin6->sin6_family = AF_INET6;
    memcpy(&sin6->sin6_addr, q, 16);
    memcpy(&sin6->sin6_port, q + 16, 2);
  } else {
    fail(r, ZT_CTRL_EADDR);
  }
}

static void dec_reg(struct rcur *r, struct zt_ctrl_msg *m) {
  m->u.reg.n = get_count(r);
  for (unsigned i = 0; !r->err && i < m->u.reg.n; i++)
    get_name(r, m->u.reg.names[i]);
}

static void dec_reg_ack(struct rcur *r, struct zt_ctrl_msg *m) {
  m->u.reg_ack.n = get_count(r);
  for (unsigned i = 0; !r->err && i < m->u.reg_ack.n; i++) {
    struct zt_ctrl_reg *it = &m->u.reg_ack.items[i];
    get_name(r, it->name);
    it->status = get_u8(r);
    it->vip = get_u32(r);
  }
}

static void dec_services(struct rcur *r, struct zt_ctrl_msg *m) {
  m->u.services.n = get_count(r);
  for (unsigned i = 0; !r->err && i < m->u.services.n; i++) {
    struct zt_ctrl_service *it = &m->u.services.items[i];
    get_name(r, it->name);
    it->vip = get_u32(r);
    get_name(r, it->connector);
    it->online = get_u8(r);
  }
}

static void dec_session_new(struct rcur *r, struct zt_ctrl_msg *m) {
  m->u.session_new.channel = get_u32(r);
  get_name(r, m->u.session_new.agent);
  m->u.session_new.agent_ip = get_u32(r);
  m->u.session_new.n = get_count(r);
  for (unsigned i = 0; !r->err && i < m->u.session_new.n; i++)
    m->u.session_new.vips[i] = get_u32(r);
  /* The per-service ports: present when bytes follow the addresses. */
  if (r->err || r->pos == r->len)
    return;
  m->u.session_new.has_ports = 1;
  for (unsigned i = 0; !r->err && i < m->u.session_new.n; i++) {
    uint8_t k = get_u8(r);
    if (!r->err && k > ZT_MAX_PORT_RULES)
      fail(r, ZT_CTRL_ECOUNT);
    m->u.session_new.n_ports[i] = k;
    for (unsigned j = 0; !r->err && j < k; j++) {
      const uint8_t *q = take(r, 5);
      struct zt_port_rule *pr = &m->u.session_new.ports[i][j];
      if (!q)
        return;
      pr->proto = q[0];
      pr->lo = (uint16_t)(q[1] << 8 | q[2]);
      pr->hi = (uint16_t)(q[3] << 8 | q[4]);
      if ((pr->proto != IPPROTO_ICMP && pr->proto != IPPROTO_TCP &&
           pr->proto != IPPROTO_UDP) ||
          pr->lo > pr->hi)
        fail(r, ZT_CTRL_EVALUE);
    }
  }
}

static int dec_body(struct rcur *r, struct zt_ctrl_msg *m) {
  switch (m->type) {
  case ZT_MSG_HELLO:
    m->u.hello.version = get_u8(r);
    m->u.hello.prev_tunnel_ip = get_u32(r);
    return 0;
  case ZT_MSG_WELCOME:
    get_name(r, m->u.welcome.identity);
    get_addr(r, &m->u.welcome.observed);
    m->u.welcome.tunnel_ip = get_u32(r);
    return 0;
  case ZT_MSG_REGISTER:
    dec_reg(r, m);
    return 0;
  case ZT_MSG_REGISTER_ACK:
    dec_reg_ack(r, m);
    return 0;
  case ZT_MSG_SERVICES:
    dec_services(r, m);
    return 0;
  case ZT_MSG_SESSION_OPEN:
    m->u.session_open.request_id = get_u32(r);
    get_name(r, m->u.session_open.connector);
    return 0;
  case ZT_MSG_SESSION_READY:
    m->u.session_ready.request_id = get_u32(r);
    m->u.session_ready.status = get_u8(r);
    m->u.session_ready.channel = get_u32(r);
    return 0;
  case ZT_MSG_SESSION_NEW:
    dec_session_new(r, m);
    return 0;
  case ZT_MSG_SESSION_CLOSE:
    m->u.session_close.channel = get_u32(r);
    m->u.session_close.status = get_u8(r);
    return 0;
  case ZT_MSG_OBSERVED:
    get_addr(r, &m->u.observed.observed);
    return 0;
  case ZT_MSG_ERROR:
    m->u.error.status = get_u8(r);
    get_reason(r, m->u.error.reason);
    return 0;
  case ZT_MSG_CANDIDATES:
    m->u.candidates.probe_key = get_u32(r);
    m->u.candidates.n = get_u8(r);
    if (!r->err && m->u.candidates.n > ZT_MAX_CANDIDATES)
      fail(r, ZT_CTRL_ECOUNT);
    for (unsigned i = 0; !r->err && i < m->u.candidates.n; i++)
      get_addr(r, &m->u.candidates.addrs[i]);
    return 0;
  case ZT_MSG_PATH:
    m->u.path.channel = get_u32(r);
    m->u.path.direct = get_u8(r);
    if (!r->err && m->u.path.direct > 1)
      fail(r, ZT_CTRL_EVALUE);
    return 0;
  default:
    return ZT_CTRL_EUNKNOWN;
  }
}

int zt_ctrl_decode(uint8_t type, const uint8_t *body, size_t len,
                   struct zt_ctrl_msg *m) {
  memset(m, 0, sizeof *m);
  m->type = type;
  struct rcur r = {body, len, 0, 0};
  int rc = dec_body(&r, m);
  if (rc < 0)
    return rc;
  if (r.err)
    return r.err;
  return r.pos == len ? 0 : ZT_CTRL_ETRAILING;
}

static int type_known(uint8_t type) {
  return type >= ZT_MSG_HELLO && type <= ZT_MSG_LAST;
}

const char *zt_ctrl_type_name(uint8_t type) {
  static const char *const names[] = {
      [ZT_MSG_HELLO] = "HELLO",
      [ZT_MSG_WELCOME] = "WELCOME",
      [ZT_MSG_REGISTER] = "REGISTER",
      [ZT_MSG_REGISTER_ACK] = "REGISTER_ACK",
      [ZT_MSG_SERVICES] = "SERVICES",
      [ZT_MSG_SESSION_OPEN] = "SESSION_OPEN",
      [ZT_MSG_SESSION_READY] = "SESSION_READY",
      [ZT_MSG_SESSION_NEW] = "SESSION_NEW",
      [ZT_MSG_SESSION_CLOSE] = "SESSION_CLOSE",
      [ZT_MSG_OBSERVED] = "OBSERVED",
      [ZT_MSG_ERROR] = "ERROR",
      [ZT_MSG_CANDIDATES] = "CANDIDATES",
      [ZT_MSG_PATH] = "PATH",
  };
  return type_known(type) ? names[type] : "UNKNOWN";
}

const char *zt_status_name(uint8_t status) {
  static const char *const names[] = {
      [ZT_OK] = "ok",
      [ZT_ERR_UNKNOWN_SERVICE] = "unknown service",
      [ZT_ERR_NOT_ALLOWED] = "not allowed by policy",
      [ZT_ERR_OFFLINE] = "offline",
      [ZT_ERR_NO_RESOURCES] = "over a limit",
      [ZT_ERR_PROTOCOL] = "protocol error",
      [ZT_ERR_GONE] = "gone",
      [ZT_ERR_PEER_LOST] = "the other end lost its connection",
      [ZT_ERR_REPLACED] = "replaced by a newer one",
  };
  return status < sizeof(names) / sizeof(names[0]) ? names[status]
                                                    : "unknown status";
}

const char *zt_ctrl_strerror(int err) {
  switch (err) {
  case 0:
    return "ok";
  case ZT_CTRL_ETRUNC:
    return "message body truncated";
  case ZT_CTRL_ETRAILING:
    return "trailing bytes after message body";
  case ZT_CTRL_EUNKNOWN:
    return "unknown message type";
  case ZT_CTRL_EBADNAME:
    return "bad name or reason string";
  case ZT_CTRL_ECOUNT:
    return "too many entries";
  case ZT_CTRL_EADDR:
    return "bad address family";
  case ZT_CTRL_EVALUE:
    return "field out of range";
  default:
    return "unknown error";
  }
}

/* ---- Stream reader ------------------------------------------------------ */

void zt_ctrl_reader_init(struct zt_ctrl_reader *r) {
  r->hdr_got = 0;
  r->body_len = 0;
  r->body_got = 0;
  r->skipping = 0;
  memset(&r->stats, 0, sizeof r->stats);
}

/* A complete header is in r->hdr: decide whether to buffer or skip the body.
 * Every frame is counted exactly once: an unknown type as unknown whatever
 * its length, a known type that is too long as oversized. */
static void reader_start_body(struct zt_ctrl_reader *r) {
  r->body_len = (size_t)r->hdr[1] << 8 | r->hdr[2];
  r->body_got = 0;
  r->skipping = 0;
  if (r->hdr[0] == ZT_CTRL_PAD && r->body_len == 0) {
    r->skipping = 1; /* padding (wire.h): not a message, not an error */
  } else if (!type_known(r->hdr[0])) {
    r->stats.unknown++;
    r->skipping = 1;
  } else if (r->body_len > ZT_CTRL_BODY_MAX) {
    r->stats.oversized++;
    r->skipping = 1;
  }
}

static void reader_finish_body(struct zt_ctrl_reader *r, zt_ctrl_msg_cb cb,
                               void *ud) {
  r->hdr_got = 0;
  if (r->skipping)
    return;
  if (zt_ctrl_decode(r->hdr[0], r->body, r->body_len, &r->msg) != 0) {
    r->stats.malformed++;
    return;
  }
  r->stats.messages++;
  if (cb)
    cb(ud, &r->msg);
}

void zt_ctrl_reader_feed(struct zt_ctrl_reader *r, const uint8_t *data,
                         size_t len, zt_ctrl_msg_cb cb, void *ud) {
  size_t i = 0;
  for (;;) {
    if (r->hdr_got < ZT_CTRL_HDR_LEN) {
      if (i == len)
        return;
      r->hdr[r->hdr_got++] = data[i++];
      if (r->hdr_got == ZT_CTRL_HDR_LEN)
        reader_start_body(r);
      continue;
    }
    /* In a body; an empty body completes without waiting for input. */
    size_t n = r->body_len - r->body_got;
    if (n > len - i)
      n = len - i;
    if (n > 0 && !r->skipping)
      memcpy(r->body + r->body_got, data + i, n);
    r->body_got += n;
    i += n;
    if (r->body_got < r->body_len)
      return; /* input exhausted mid-body */
    reader_finish_body(r, cb, ud);
  }
}

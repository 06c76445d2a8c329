/*
 * Control message codec and stream reader: every message type round trips
 * bit for bit, every decode error is reachable, and the reader keeps its
 * framing through oversized, unknown and malformed frames whatever the
 * chunking of the stream.
 */
#include <arpa/inet.h>
#include <stdlib.h>

#include "ctrl.h"
#include "test.h"

/* ---- Sample messages ---------------------------------------------------- */

static void addr4(struct sockaddr_storage *ss, const char *ip, uint16_t port) {
  struct sockaddr_in *sin = (struct sockaddr_in *)ss;
  memset(ss, 0, sizeof *ss);
  sin->sin_family = AF_INET;
  sin->sin_port = htons(port);
  inet_pton(AF_INET, ip, &sin->sin_addr);
}

static void addr6(struct sockaddr_storage *ss, const char *ip, uint16_t port) {
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
  memset(ss, 0, sizeof *ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &sin6->sin6_addr);
}

/* Entries past n are not on the wire, so a decoded message has them zero;
 * clear them so samples compare with memcmp. */
static void clear_unused(struct zt_ctrl_msg *m) {
  switch (m->type) {
  case ZT_MSG_REGISTER:
    memset(m->u.reg.names[m->u.reg.n], 0,
           sizeof m->u.reg.names - m->u.reg.n * sizeof m->u.reg.names[0]);
    break;
  case ZT_MSG_SERVICES:
    memset(&m->u.services.items[m->u.services.n], 0,
           sizeof m->u.services.items -
               m->u.services.n * sizeof m->u.services.items[0]);
    break;
  case ZT_MSG_CANDIDATES:
    memset(&m->u.candidates.addrs[m->u.candidates.n], 0,
           sizeof m->u.candidates.addrs -
               m->u.candidates.n * sizeof m->u.candidates.addrs[0]);
    break;
  case ZT_MSG_SESSION_NEW:
    memset(&m->u.session_new.vips[m->u.session_new.n], 0,
           sizeof m->u.session_new.vips -
               m->u.session_new.n * sizeof m->u.session_new.vips[0]);
    for (unsigned i = 0; i < ZT_MAX_SERVICES; i++) {
      unsigned k = m->u.session_new.has_ports && i < m->u.session_new.n
                       ? m->u.session_new.n_ports[i]
                       : 0;
      m->u.session_new.n_ports[i] = (uint8_t)k;
      memset(&m->u.session_new.ports[i][k], 0,
             sizeof m->u.session_new.ports[i] -
                 k * sizeof m->u.session_new.ports[i][0]);
    }
    break;
  }
}

/* A zeroed message of each type with every field set to something
 * non-trivial. variant varies addresses and counts. */
static void sample(uint8_t type, int variant, struct zt_ctrl_msg *m) {
  memset(m, 0, sizeof *m);
  m->type = type;
  switch (type) {
  case ZT_MSG_HELLO:
    m->u.hello.version = ZT_PROTOCOL_VERSION;
    m->u.hello.prev_tunnel_ip = variant ? 0x64400007 : 0;
    break;
  case ZT_MSG_WELCOME:
    strcpy(m->u.welcome.identity, "agent-01.example_org");
    if (variant)
      addr6(&m->u.welcome.observed, "2001:db8::1:2", 65535);
    else
      addr4(&m->u.welcome.observed, "203.0.113.9", 51234);
    m->u.welcome.tunnel_ip = 0x64400002;
    break;
  case ZT_MSG_REGISTER:
    m->u.reg.n = variant ? 0 : 3;
    strcpy(m->u.reg.names[0], "web");
    strcpy(m->u.reg.names[1], "db.internal");
    strcpy(m->u.reg.names[2], "A-Z_0.9");
    break;
  case ZT_MSG_REGISTER_ACK:
    m->u.reg_ack.n = 2;
    strcpy(m->u.reg_ack.items[0].name, "web");
    m->u.reg_ack.items[0].status = ZT_OK;
    m->u.reg_ack.items[0].vip = 0x0a640001;
    strcpy(m->u.reg_ack.items[1].name, "db");
    m->u.reg_ack.items[1].status = ZT_ERR_NOT_ALLOWED;
    m->u.reg_ack.items[1].vip = 0;
    break;
  case ZT_MSG_SERVICES:
    m->u.services.n = variant ? 1 : 2;
    strcpy(m->u.services.items[0].name, "web");
    m->u.services.items[0].vip = 0x0a640001;
    strcpy(m->u.services.items[0].connector, "conn-a");
    m->u.services.items[0].online = 1;
    strcpy(m->u.services.items[1].name, "db");
    m->u.services.items[1].vip = 0xfffffffe;
    strcpy(m->u.services.items[1].connector, "conn-b");
    m->u.services.items[1].online = 0;
    break;
  case ZT_MSG_SESSION_OPEN:
    m->u.session_open.request_id = 0xdeadbeef;
    strcpy(m->u.session_open.connector, "conn-a");
    break;
  case ZT_MSG_SESSION_READY:
    m->u.session_ready.request_id = 0xdeadbeef;
    m->u.session_ready.status = ZT_ERR_OFFLINE;
    m->u.session_ready.channel = 0x01020304;
    break;
  case ZT_MSG_SESSION_NEW:
    m->u.session_new.channel = 0x80000001;
    strcpy(m->u.session_new.agent, "alice");
    m->u.session_new.agent_ip = 0x64400002;
    m->u.session_new.n = variant ? 0 : 3;
    m->u.session_new.vips[0] = 0x0a640001;
    m->u.session_new.vips[1] = 0x0a640002;
    m->u.session_new.vips[2] = 0xffffffff;
    /* The first variant with its ports (policy grants), the second
     * without (as an older Intermediate sends it). */
    m->u.session_new.has_ports = variant ? 0 : 1;
    m->u.session_new.n_ports[0] = 2;
    m->u.session_new.ports[0][0] = (struct zt_port_rule){IPPROTO_TCP, 443, 443};
    m->u.session_new.ports[0][1] = (struct zt_port_rule){IPPROTO_UDP, 0, 65535};
    m->u.session_new.n_ports[2] = 1;
    m->u.session_new.ports[2][0] = (struct zt_port_rule){IPPROTO_ICMP, 0, 0};
    break;
  case ZT_MSG_SESSION_CLOSE:
    m->u.session_close.channel = 7;
    m->u.session_close.status = ZT_ERR_GONE;
    break;
  case ZT_MSG_OBSERVED:
    if (variant)
      addr6(&m->u.observed.observed, "::ffff:192.0.2.1", 1);
    else
      addr4(&m->u.observed.observed, "198.51.100.200", 4433);
    break;
  case ZT_MSG_ERROR:
    m->u.error.status = ZT_ERR_PROTOCOL;
    strcpy(m->u.error.reason, variant ? "" : "bad thing: \"x\" ~ {y}");
    break;
  case ZT_MSG_CANDIDATES:
    m->u.candidates.probe_key = 0x8badf00d;
    m->u.candidates.n = variant ? 0 : 3;
    addr4(&m->u.candidates.addrs[0], "203.0.113.9", 51234);
    addr6(&m->u.candidates.addrs[1], "2001:db8::7", 4434);
    addr4(&m->u.candidates.addrs[2], "192.168.1.20", 1);
    break;
  case ZT_MSG_PATH:
    m->u.path.channel = 0x01020304;
    m->u.path.direct = (uint8_t)!variant;
    break;
  }
  clear_unused(m);
}

static uint8_t buf[70000];
static struct zt_ctrl_msg msg_a, msg_b;

/* Encodes m, decodes it back and compares the whole struct. */
static int roundtrip(const struct zt_ctrl_msg *m) {
  int n = zt_ctrl_encode(m, buf, sizeof buf);
  if (n < ZT_CTRL_HDR_LEN || buf[0] != m->type ||
      (size_t)(buf[1] << 8 | buf[2]) != (size_t)n - ZT_CTRL_HDR_LEN)
    return 0;
  if (zt_ctrl_decode(buf[0], buf + 3, (size_t)n - 3, &msg_b) != 0)
    return 0;
  return memcmp(m, &msg_b, sizeof *m) == 0;
}

/* ---- Codec -------------------------------------------------------------- */

static void test_roundtrip_all_types(void) {
  for (int t = ZT_MSG_HELLO; t <= ZT_MSG_LAST; t++)
    for (int v = 0; v < 2; v++) {
      sample((uint8_t)t, v, &msg_a);
      CHECK(roundtrip(&msg_a));
    }
}

static void test_encode_exact_bytes(void) {
  sample(ZT_MSG_HELLO, 1, &msg_a);
  uint8_t hello[] = {0x01, 0, 5, 1, 0x64, 0x40, 0x00, 0x07};
  CHECK_EQ_INT(zt_ctrl_encode(&msg_a, buf, sizeof buf), sizeof hello);
  CHECK(memcmp(buf, hello, sizeof hello) == 0);

  memset(&msg_a, 0, sizeof msg_a);
  msg_a.type = ZT_MSG_WELCOME;
  strcpy(msg_a.u.welcome.identity, "ab");
  addr4(&msg_a.u.welcome.observed, "1.2.3.4", 0x1234);
  msg_a.u.welcome.tunnel_ip = 0x0a000001;
  uint8_t welcome[] = {0x02, 0, 14, 2, 'a', 'b', 4, 1, 2, 3, 4, 0x12, 0x34,
                       10, 0, 0, 1};
  CHECK_EQ_INT(zt_ctrl_encode(&msg_a, buf, sizeof buf), sizeof welcome);
  CHECK(memcmp(buf, welcome, sizeof welcome) == 0);

  sample(ZT_MSG_ERROR, 1, &msg_a);
  uint8_t err[] = {0x0b, 0, 2, ZT_ERR_PROTOCOL, 0};
  CHECK_EQ_INT(zt_ctrl_encode(&msg_a, buf, sizeof buf), sizeof err);
  CHECK(memcmp(buf, err, sizeof err) == 0);
}

static void fill_name(char *s, size_t len, char c) {
  memset(s, c, len);
  s[len] = '\0';
}

static void test_roundtrip_limits(void) {
  memset(&msg_a, 0, sizeof msg_a);
  msg_a.type = ZT_MSG_REGISTER;
  msg_a.u.reg.n = ZT_MAX_SERVICES;
  for (int i = 0; i < ZT_MAX_SERVICES; i++)
    fill_name(msg_a.u.reg.names[i], ZT_NAME_MAX, (char)('a' + i % 26));
  CHECK(roundtrip(&msg_a));

  sample(ZT_MSG_SESSION_NEW, 0, &msg_a);
  msg_a.u.session_new.n = ZT_MAX_SERVICES;
  for (int i = 0; i < ZT_MAX_SERVICES; i++)
    msg_a.u.session_new.vips[i] = 0x0a000000u + (uint32_t)i * 0x01010101u;
  fill_name(msg_a.u.session_new.agent, ZT_NAME_MAX, 'z');
  CHECK(roundtrip(&msg_a));

  sample(ZT_MSG_ERROR, 0, &msg_a);
  fill_name(msg_a.u.error.reason, ZT_MAX_REASON, '~');
  CHECK(roundtrip(&msg_a));
}

/* A SERVICES table whose body is exactly body_len bytes (>= 449). */
static void services_of_len(struct zt_ctrl_msg *m, size_t body_len) {
  memset(m, 0, sizeof *m);
  m->type = ZT_MSG_SERVICES;
  m->u.services.n = ZT_MAX_SERVICES;
  size_t chars = body_len - 1 - 7 * ZT_MAX_SERVICES; /* a + b over items */
  for (int i = 0; i < ZT_MAX_SERVICES; i++) {
    size_t c = chars / (size_t)(ZT_MAX_SERVICES - i);
    size_t a = c / 2, b = c - a;
    fill_name(m->u.services.items[i].name, a, 's');
    fill_name(m->u.services.items[i].connector, b, 'c');
    m->u.services.items[i].vip = (uint32_t)i;
    m->u.services.items[i].online = (uint8_t)(i & 1);
    chars -= c;
  }
}

/* The largest message there is (64 services, every name at the limit)
 * fits the body limit, so a valid table is never refused. */
static void test_encode_body_max(void) {
  size_t largest = 1 + (size_t)ZT_MAX_SERVICES * (2 * (1 + ZT_NAME_MAX) + 4 + 1);
  CHECK(largest <= ZT_CTRL_BODY_MAX);
  services_of_len(&msg_a, largest);
  CHECK_EQ_INT(zt_ctrl_encode(&msg_a, buf, sizeof buf),
               ZT_CTRL_HDR_LEN + largest);
  CHECK(roundtrip(&msg_a));
}

static void test_encode_cap(void) {
  for (int t = ZT_MSG_HELLO; t <= ZT_MSG_LAST; t++) {
    sample((uint8_t)t, 0, &msg_a);
    int n = zt_ctrl_encode(&msg_a, buf, sizeof buf);
    CHECK(n > 0);
    for (int cap = 0; cap < n; cap++)
      CHECK_EQ_INT(zt_ctrl_encode(&msg_a, buf, (size_t)cap), -1);
    CHECK_EQ_INT(zt_ctrl_encode(&msg_a, buf, (size_t)n), n);
  }
}

static void test_encode_invalid(void) {
  sample(ZT_MSG_SESSION_OPEN, 0, &msg_a);
  msg_a.u.session_open.connector[0] = '\0';
  CHECK_EQ_INT(zt_ctrl_encode(&msg_a, buf, sizeof buf), -1);
  /* no NUL at all within the array */
  memset(msg_a.u.session_open.connector, 'a', ZT_NAME_MAX + 1);
  CHECK_EQ_INT(zt_ctrl_encode(&msg_a, buf, sizeof buf), -1);
  strcpy(msg_a.u.session_open.connector, "a b");
  CHECK_EQ_INT(zt_ctrl_encode(&msg_a, buf, sizeof buf), -1);
  strcpy(msg_a.u.session_open.connector, "a/b");
  CHECK_EQ_INT(zt_ctrl_encode(&msg_a, buf, sizeof buf), -1);

  sample(ZT_MSG_REGISTER, 0, &msg_a);
  msg_a.u.reg.n = ZT_MAX_SERVICES + 1;
  CHECK_EQ_INT(zt_ctrl_encode(&msg_a, buf, sizeof buf), -1);
  sample(ZT_MSG_REGISTER, 0, &msg_a);
  msg_a.u.reg.n = 4; /* names[3] is empty */
  CHECK_EQ_INT(zt_ctrl_encode(&msg_a, buf, sizeof buf), -1);
  sample(ZT_MSG_SESSION_NEW, 0, &msg_a);
  msg_a.u.session_new.n = 200;
  CHECK_EQ_INT(zt_ctrl_encode(&msg_a, buf, sizeof buf), -1);

  sample(ZT_MSG_ERROR, 0, &msg_a);
  strcpy(msg_a.u.error.reason, "line\nbreak");
  CHECK_EQ_INT(zt_ctrl_encode(&msg_a, buf, sizeof buf), -1);
  memset(msg_a.u.error.reason, 'x', ZT_MAX_REASON + 1);
  CHECK_EQ_INT(zt_ctrl_encode(&msg_a, buf, sizeof buf), -1);

  sample(ZT_MSG_OBSERVED, 0, &msg_a);
  msg_a.u.observed.observed.ss_family = AF_UNSPEC;
  CHECK_EQ_INT(zt_ctrl_encode(&msg_a, buf, sizeof buf), -1);
  sample(ZT_MSG_WELCOME, 0, &msg_a);
  msg_a.u.welcome.observed.ss_family = AF_UNIX;
  CHECK_EQ_INT(zt_ctrl_encode(&msg_a, buf, sizeof buf), -1);

  memset(&msg_a, 0, sizeof msg_a);
  CHECK_EQ_INT(zt_ctrl_encode(&msg_a, buf, sizeof buf), -1);
  msg_a.type = ZT_MSG_LAST + 1;
  CHECK_EQ_INT(zt_ctrl_encode(&msg_a, buf, sizeof buf), -1);
  sample(ZT_MSG_CANDIDATES, 0, &msg_a);
  msg_a.u.candidates.n = ZT_MAX_CANDIDATES + 1;
  CHECK_EQ_INT(zt_ctrl_encode(&msg_a, buf, sizeof buf), -1);
  sample(ZT_MSG_PATH, 0, &msg_a);
  msg_a.u.path.direct = 2;
  CHECK_EQ_INT(zt_ctrl_encode(&msg_a, buf, sizeof buf), -1);
}

static int dec(uint8_t type, const uint8_t *body, size_t len) {
  return zt_ctrl_decode(type, body, len, &msg_b);
}

/* Counts and values a peer controls are bounded when decoding too. */
static void test_decode_candidates_path_bounds(void) {
  uint8_t cand[] = {0, 0, 0, 1, ZT_MAX_CANDIDATES + 1};
  uint8_t path[] = {0, 0, 0, 1, 2};
  CHECK_EQ_INT(dec(ZT_MSG_CANDIDATES, cand, sizeof cand), ZT_CTRL_ECOUNT);
  CHECK_EQ_INT(dec(ZT_MSG_PATH, path, sizeof path), ZT_CTRL_EVALUE);
  path[4] = 1;
  CHECK_EQ_INT(dec(ZT_MSG_PATH, path, sizeof path), 0);
  CHECK_EQ_INT(msg_b.u.path.direct, 1);
}

static void test_decode_trunc_trailing(void) {
  static uint8_t body[ZT_CTRL_BODY_MAX + 1];
  for (int t = ZT_MSG_HELLO; t <= ZT_MSG_LAST; t++)
    for (int v = 0; v < 2; v++) {
      sample((uint8_t)t, v, &msg_a);
      int n = zt_ctrl_encode(&msg_a, buf, sizeof buf);
      CHECK(n >= ZT_CTRL_HDR_LEN);
      size_t blen = (size_t)n - ZT_CTRL_HDR_LEN;
      memcpy(body, buf + 3, blen);
      /* SESSION_NEW's ports are an optional block: cut right before it,
       * the message is one without ports. */
      size_t whole = t == ZT_MSG_SESSION_NEW && msg_a.u.session_new.has_ports
                         ? 27 /* u32, str8 "alice", u32, u8, 3 x u32 */
                         : SIZE_MAX;
      for (size_t k = 0; k < blen; k++)
        CHECK_EQ_INT(dec((uint8_t)t, body, k),
                     k == whole ? 0 : ZT_CTRL_ETRUNC);
      body[blen] = 0;
      CHECK_EQ_INT(dec((uint8_t)t, body, blen + 1), ZT_CTRL_ETRAILING);
    }
}

/* SESSION_NEW's port block: only ICMP, TCP and UDP, ranges the right way
 * round, at most ZT_MAX_PORT_RULES per service. */
static void test_session_new_ports_refused(void) {
  static const uint8_t head[] = {0, 0, 0, 1, 1, 'a', 100, 64, 0, 2, 1,
                                 10, 100, 0, 1};
  uint8_t body[64];
  memcpy(body, head, sizeof head);
  uint8_t good[] = {1, 6, 0, 80, 0, 80};
  memcpy(body + sizeof head, good, sizeof good);
  CHECK_EQ_INT(dec(ZT_MSG_SESSION_NEW, body, sizeof head + sizeof good), 0);
  CHECK_EQ_INT(msg_b.u.session_new.has_ports, 1);
  CHECK_EQ_INT(msg_b.u.session_new.ports[0][0].lo, 80);
  uint8_t proto[] = {1, 2, 0, 80, 0, 80};
  memcpy(body + sizeof head, proto, sizeof proto);
  CHECK_EQ_INT(dec(ZT_MSG_SESSION_NEW, body, sizeof head + sizeof proto),
               ZT_CTRL_EVALUE);
  uint8_t backwards[] = {1, 17, 0, 81, 0, 80};
  memcpy(body + sizeof head, backwards, sizeof backwards);
  CHECK_EQ_INT(
      dec(ZT_MSG_SESSION_NEW, body, sizeof head + sizeof backwards),
      ZT_CTRL_EVALUE);
  body[sizeof head] = ZT_MAX_PORT_RULES + 1;
  CHECK_EQ_INT(dec(ZT_MSG_SESSION_NEW, body, sizeof head + 1),
               ZT_CTRL_ECOUNT);
}

static void test_decode_unknown(void) {
  uint8_t body[8] = {0};
  CHECK_EQ_INT(dec(0x00, body, sizeof body), ZT_CTRL_EUNKNOWN);
  CHECK_EQ_INT(dec(ZT_MSG_LAST + 1, body, 0), ZT_CTRL_EUNKNOWN);
  CHECK_EQ_INT(dec(0xff, body, sizeof body), ZT_CTRL_EUNKNOWN);
}

static void test_decode_bad_names(void) {
  uint8_t empty[] = {0, 0, 0, 0, 0};                /* SESSION_OPEN, "" */
  CHECK_EQ_INT(dec(ZT_MSG_SESSION_OPEN, empty, 5), ZT_CTRL_EBADNAME);
  uint8_t space[] = {0, 0, 0, 0, 3, 'a', ' ', 'b'};
  CHECK_EQ_INT(dec(ZT_MSG_SESSION_OPEN, space, 8), ZT_CTRL_EBADNAME);
  uint8_t high[] = {1, 2, 'a', 0x80};               /* REGISTER */
  CHECK_EQ_INT(dec(ZT_MSG_REGISTER, high, 4), ZT_CTRL_EBADNAME);
  uint8_t nul[] = {1, 2, 'a', 0};
  CHECK_EQ_INT(dec(ZT_MSG_REGISTER, nul, 4), ZT_CTRL_EBADNAME);

  static uint8_t longname[2 + ZT_NAME_MAX + 1];
  longname[0] = 1;
  longname[1] = ZT_NAME_MAX + 1;
  memset(longname + 2, 'a', ZT_NAME_MAX + 1);
  CHECK_EQ_INT(dec(ZT_MSG_REGISTER, longname, sizeof longname),
               ZT_CTRL_EBADNAME);
  longname[1] = ZT_NAME_MAX; /* 63 is fine, then one trailing byte */
  CHECK_EQ_INT(dec(ZT_MSG_REGISTER, longname, sizeof longname),
               ZT_CTRL_ETRAILING);
  CHECK_EQ_INT(dec(ZT_MSG_REGISTER, longname, sizeof longname - 1), 0);
  CHECK_EQ_INT(strlen(msg_b.u.reg.names[0]), ZT_NAME_MAX);

  /* WELCOME identity, SERVICES connector, SESSION_NEW agent */
  uint8_t welcome[] = {1, '!', 4, 1, 2, 3, 4, 0, 1, 0, 0, 0, 0};
  CHECK_EQ_INT(dec(ZT_MSG_WELCOME, welcome, sizeof welcome), ZT_CTRL_EBADNAME);
  uint8_t svc[] = {1, 1, 'w', 0, 0, 0, 1, 0, 1};
  CHECK_EQ_INT(dec(ZT_MSG_SERVICES, svc, sizeof svc), ZT_CTRL_EBADNAME);
  uint8_t snew[] = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  CHECK_EQ_INT(dec(ZT_MSG_SESSION_NEW, snew, sizeof snew), ZT_CTRL_EBADNAME);
}

/* The codec holds names to the one name rule (identity.h), not a looser
 * one of its own: a leading '.' or '-' is refused both ways, as in
 * certificates and config files; the same bytes later in a name pass. */
static void test_one_name_rule(void) {
  uint8_t dash[] = {0, 0, 0, 7, 2, '-', 'x'}; /* SESSION_OPEN */
  CHECK_EQ_INT(dec(ZT_MSG_SESSION_OPEN, dash, sizeof dash), ZT_CTRL_EBADNAME);
  uint8_t dot[] = {1, 2, '.', 'x'}; /* REGISTER */
  CHECK_EQ_INT(dec(ZT_MSG_REGISTER, dot, sizeof dot), ZT_CTRL_EBADNAME);
  uint8_t space[] = {1, 3, 'a', ' ', 'b'};
  CHECK_EQ_INT(dec(ZT_MSG_REGISTER, space, sizeof space), ZT_CTRL_EBADNAME);
  uint8_t inner[] = {1, 3, 'x', '-', '.'};
  CHECK_EQ_INT(dec(ZT_MSG_REGISTER, inner, sizeof inner), 0);
  CHECK_STR(msg_b.u.reg.names[0], "x-.");

  sample(ZT_MSG_SESSION_OPEN, 0, &msg_a);
  strcpy(msg_a.u.session_open.connector, "-x");
  CHECK_EQ_INT(zt_ctrl_encode(&msg_a, buf, sizeof buf), -1);
  strcpy(msg_a.u.session_open.connector, ".x");
  CHECK_EQ_INT(zt_ctrl_encode(&msg_a, buf, sizeof buf), -1);
  strcpy(msg_a.u.session_open.connector, "x-.");
  CHECK(zt_ctrl_encode(&msg_a, buf, sizeof buf) > 0);
}

static void test_decode_reasons(void) {
  uint8_t ok[] = {5, 3, 'a', ' ', '~'};
  CHECK_EQ_INT(dec(ZT_MSG_ERROR, ok, sizeof ok), 0);
  CHECK_STR(msg_b.u.error.reason, "a ~");
  uint8_t empty[] = {5, 0};
  CHECK_EQ_INT(dec(ZT_MSG_ERROR, empty, sizeof empty), 0);
  CHECK_STR(msg_b.u.error.reason, "");
  uint8_t del[] = {5, 1, 0x7f};
  CHECK_EQ_INT(dec(ZT_MSG_ERROR, del, sizeof del), ZT_CTRL_EBADNAME);
  uint8_t ctl[] = {5, 2, 'a', 0x1f};
  CHECK_EQ_INT(dec(ZT_MSG_ERROR, ctl, sizeof ctl), ZT_CTRL_EBADNAME);
  static uint8_t longr[2 + ZT_MAX_REASON + 1];
  longr[1] = ZT_MAX_REASON + 1;
  memset(longr + 2, 'r', ZT_MAX_REASON + 1);
  CHECK_EQ_INT(dec(ZT_MSG_ERROR, longr, sizeof longr), ZT_CTRL_EBADNAME);
  longr[1] = ZT_MAX_REASON;
  CHECK_EQ_INT(dec(ZT_MSG_ERROR, longr, sizeof longr - 1), 0);
  CHECK_EQ_INT(strlen(msg_b.u.error.reason), ZT_MAX_REASON);
}

static void test_decode_count(void) {
  uint8_t reg[] = {ZT_MAX_SERVICES + 1};
  CHECK_EQ_INT(dec(ZT_MSG_REGISTER, reg, 1), ZT_CTRL_ECOUNT);
  uint8_t ack[] = {0xff};
  CHECK_EQ_INT(dec(ZT_MSG_REGISTER_ACK, ack, 1), ZT_CTRL_ECOUNT);
  uint8_t svc[] = {ZT_MAX_SERVICES + 1};
  CHECK_EQ_INT(dec(ZT_MSG_SERVICES, svc, 1), ZT_CTRL_ECOUNT);
  uint8_t snew[] = {0, 0, 0, 1, 1, 'a', 0, 0, 0, 0, ZT_MAX_SERVICES + 1};
  CHECK_EQ_INT(dec(ZT_MSG_SESSION_NEW, snew, sizeof snew), ZT_CTRL_ECOUNT);
  uint8_t zero[] = {0};
  CHECK_EQ_INT(dec(ZT_MSG_REGISTER, zero, 1), 0);
  CHECK_EQ_INT(msg_b.u.reg.n, 0);
}

static void test_decode_addr(void) {
  uint8_t obs[] = {5, 1, 2, 3, 4, 0, 80};
  CHECK_EQ_INT(dec(ZT_MSG_OBSERVED, obs, sizeof obs), ZT_CTRL_EADDR);
  obs[0] = 0;
  CHECK_EQ_INT(dec(ZT_MSG_OBSERVED, obs, sizeof obs), ZT_CTRL_EADDR);
  obs[0] = 4;
  CHECK_EQ_INT(dec(ZT_MSG_OBSERVED, obs, sizeof obs), 0);
  const struct sockaddr_in *sin =
      (const struct sockaddr_in *)&msg_b.u.observed.observed;
  CHECK_EQ_INT(sin->sin_family, AF_INET);
  CHECK_EQ_INT(ntohs(sin->sin_port), 80);
  CHECK_EQ_INT(ntohl(sin->sin_addr.s_addr), 0x01020304);
  obs[0] = 6; /* 6 wants 16 address bytes */
  CHECK_EQ_INT(dec(ZT_MSG_OBSERVED, obs, sizeof obs), ZT_CTRL_ETRUNC);
  uint8_t welcome[] = {1, 'a', 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  CHECK_EQ_INT(dec(ZT_MSG_WELCOME, welcome, sizeof welcome), ZT_CTRL_EADDR);
}

static void test_decode_host_order(void) {
  uint8_t b[] = {9, 0xc0, 0xa8, 0x01, 0x02};
  CHECK_EQ_INT(dec(ZT_MSG_HELLO, b, sizeof b), 0);
  CHECK_EQ_INT(msg_b.type, ZT_MSG_HELLO);
  CHECK_EQ_INT(msg_b.u.hello.version, 9);
  CHECK_EQ_INT(msg_b.u.hello.prev_tunnel_ip, 0xc0a80102u);
}

static void test_names(void) {
  CHECK_STR(zt_ctrl_type_name(ZT_MSG_HELLO), "HELLO");
  CHECK_STR(zt_ctrl_type_name(ZT_MSG_REGISTER_ACK), "REGISTER_ACK");
  CHECK_STR(zt_ctrl_type_name(ZT_MSG_SESSION_CLOSE), "SESSION_CLOSE");
  CHECK_STR(zt_ctrl_type_name(ZT_MSG_ERROR), "ERROR");
  CHECK_STR(zt_ctrl_type_name(0), "UNKNOWN");
  CHECK_STR(zt_ctrl_type_name(ZT_MSG_CANDIDATES), "CANDIDATES");
  CHECK_STR(zt_ctrl_type_name(ZT_MSG_LAST + 1), "UNKNOWN");
  CHECK_STR(zt_ctrl_type_name(0xff), "UNKNOWN");
  for (int e = ZT_CTRL_EVALUE; e <= 0; e++)
    CHECK(strcmp(zt_ctrl_strerror(e), "unknown error") != 0);
  CHECK_CONTAINS(zt_ctrl_strerror(ZT_CTRL_ETRUNC), "truncated");
  CHECK_STR(zt_ctrl_strerror(-99), "unknown error");
}

/* ---- Stream reader ------------------------------------------------------- */

#define MAX_GOOD 64

static struct zt_ctrl_msg expected[MAX_GOOD];
static size_t n_expected;
static uint8_t stream[300000];
static size_t stream_len;
static struct zt_ctrl_stats want;

struct collector {
  size_t got;
  size_t mismatches;
};

static void on_msg(void *ud, const struct zt_ctrl_msg *m) {
  struct collector *c = ud;
  if (c->got >= n_expected || memcmp(m, &expected[c->got], sizeof *m) != 0)
    c->mismatches++;
  c->got++;
}

static void append(const void *p, size_t n) {
  memcpy(stream + stream_len, p, n);
  stream_len += n;
}

static void append_frame(uint8_t type, size_t len, uint8_t fill) {
  uint8_t hdr[3] = {type, (uint8_t)(len >> 8), (uint8_t)len};
  append(hdr, 3);
  memset(stream + stream_len, fill, len);
  stream_len += len;
}

static void append_good(const struct zt_ctrl_msg *m) {
  int n = zt_ctrl_encode(m, stream + stream_len, sizeof stream - stream_len);
  if (n <= 0)
    abort();
  stream_len += (size_t)n;
  expected[n_expected++] = *m;
  want.messages++;
}

/* An oversized body full of bytes that look like valid HELLO frames, so a
 * reader that lost track of the length would find "messages" in it. */
static void append_oversized(uint8_t type, size_t len) {
  uint8_t hdr[3] = {type, (uint8_t)(len >> 8), (uint8_t)len};
  append(hdr, 3);
  static const uint8_t hello[] = {1, 0, 5, 1, 0, 0, 0, 0};
  for (size_t i = 0; i < len; i++)
    stream[stream_len + i] = hello[i % sizeof hello];
  stream_len += len;
  want.oversized++;
}

static void build_stream(void) {
  stream_len = 0;
  n_expected = 0;
  memset(&want, 0, sizeof want);
  struct zt_ctrl_msg m;
  for (int round = 0; round < 2; round++) {
    for (int t = ZT_MSG_HELLO; t <= ZT_MSG_LAST; t++) {
      sample((uint8_t)t, round, &m);
      append_good(&m);
      switch (t % 4) {
      case 0:
        append_oversized((uint8_t)t, ZT_CTRL_BODY_MAX + 1 + (size_t)t);
        break;
      case 1:
        append_frame(0x40 + (uint8_t)t, (size_t)t * 3, 0x01); /* unknown */
        want.unknown++;
        break;
      case 2:
        append_frame(ZT_MSG_HELLO, 4, 0); /* one byte short */
        want.malformed++;
        break;
      default: {
        uint8_t bad[] = {ZT_MSG_REGISTER, 0, 3, 1, 1, '*'}; /* bad name */
        append(bad, sizeof bad);
        want.malformed++;
      }
      }
    }
  }
  /* Edge frames: empty bodies, the largest lengths, the largest table. */
  append_frame(ZT_CTRL_PAD, 0, 0); /* padding: skipped, not counted */
  append_frame(ZT_CTRL_PAD, 2, 0); /* type 0 with a body: unknown */
  want.unknown++;
  append_frame(ZT_MSG_ERROR, 0, 0);
  want.malformed++;
  append_oversized(ZT_MSG_SERVICES, 0xffff);
  append_frame(0xee, 0xffff, 0x0b);
  want.unknown++;
  services_of_len(&m, 1 + (size_t)ZT_MAX_SERVICES * (2 * (1 + ZT_NAME_MAX) + 4 + 1)); /* the largest table */
  append_good(&m);
  uint8_t trailing[] = {ZT_MSG_SESSION_CLOSE, 0, 6, 0, 0, 0, 1, 0, 0};
  append(trailing, sizeof trailing);
  want.malformed++;
  sample(ZT_MSG_SESSION_CLOSE, 0, &m);
  append_good(&m);
}

static uint32_t rng_state;
static uint32_t rng(void) { /* xorshift32: deterministic chunking */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static struct zt_ctrl_reader reader;

/* Feeds the stream in chunks: max_chunk 0 means all at once, otherwise
 * random sizes in [0, max_chunk] (empty feeds included). */
static int feed_and_check(size_t max_chunk, uint32_t seed) {
  struct collector c = {0, 0};
  rng_state = seed;
  zt_ctrl_reader_init(&reader);
  for (size_t off = 0; off < stream_len;) {
    size_t n = max_chunk ? rng() % (max_chunk + 1) : stream_len;
    if (n > stream_len - off)
      n = stream_len - off;
    zt_ctrl_reader_feed(&reader, stream + off, n, on_msg, &c);
    off += n;
  }
  return c.got == n_expected && c.mismatches == 0 &&
         reader.stats.messages == want.messages &&
         reader.stats.malformed == want.malformed &&
         reader.stats.oversized == want.oversized &&
         reader.stats.unknown == want.unknown && reader.hdr_got == 0;
}

static void test_reader_whole(void) {
  build_stream();
  CHECK_EQ_INT(want.messages, 28); /* two of each type, two more */
  CHECK(feed_and_check(0, 1));
  CHECK_EQ_INT(reader.stats.messages, 28);
  CHECK_EQ_INT(reader.stats.oversized, 7);
  CHECK_EQ_INT(reader.stats.unknown, 10);
  CHECK_EQ_INT(reader.stats.malformed, 14);
}

static void test_reader_byte_at_a_time(void) {
  build_stream();
  struct collector c = {0, 0};
  zt_ctrl_reader_init(&reader);
  for (size_t i = 0; i < stream_len; i++)
    zt_ctrl_reader_feed(&reader, stream + i, 1, on_msg, &c);
  CHECK_EQ_INT(c.got, n_expected);
  CHECK_EQ_INT(c.mismatches, 0);
  CHECK_EQ_INT(reader.stats.messages, want.messages);
  CHECK_EQ_INT(reader.stats.malformed, want.malformed);
  CHECK_EQ_INT(reader.stats.oversized, want.oversized);
  CHECK_EQ_INT(reader.stats.unknown, want.unknown);
}

static void test_reader_random_chunks(void) {
  build_stream();
  static const size_t maxes[] = {2, 3, 7, 64, 1500, 9000, 70000};
  for (size_t i = 0; i < sizeof maxes / sizeof maxes[0]; i++)
    for (uint32_t seed = 1; seed <= 20; seed++)
      CHECK(feed_and_check(maxes[i], seed * 2654435761u));
}

static void test_reader_partial_frame(void) {
  struct collector c = {0, 0};
  sample(ZT_MSG_SESSION_OPEN, 0, &msg_a);
  int n = zt_ctrl_encode(&msg_a, buf, sizeof buf);
  CHECK(n > 0);
  n_expected = 1;
  expected[0] = msg_a;
  zt_ctrl_reader_init(&reader);
  zt_ctrl_reader_feed(&reader, buf, (size_t)n - 1, on_msg, &c);
  zt_ctrl_reader_feed(&reader, NULL, 0, on_msg, &c);
  CHECK_EQ_INT(c.got, 0);
  CHECK_EQ_INT(reader.stats.messages, 0);
  zt_ctrl_reader_feed(&reader, buf + n - 1, 1, on_msg, &c);
  CHECK_EQ_INT(c.got, 1);
  CHECK_EQ_INT(c.mismatches, 0);
  /* A NULL callback still counts. */
  zt_ctrl_reader_feed(&reader, buf, (size_t)n, NULL, NULL);
  CHECK_EQ_INT(reader.stats.messages, 2);
}

int main(void) {
  RUN(test_roundtrip_all_types);
  RUN(test_encode_exact_bytes);
  RUN(test_roundtrip_limits);
  RUN(test_encode_body_max);
  RUN(test_encode_cap);
  RUN(test_encode_invalid);
  RUN(test_decode_trunc_trailing);
  RUN(test_decode_unknown);
  RUN(test_session_new_ports_refused);
  RUN(test_decode_candidates_path_bounds);
  RUN(test_decode_bad_names);
  RUN(test_one_name_rule);
  RUN(test_decode_reasons);
  RUN(test_decode_count);
  RUN(test_decode_addr);
  RUN(test_decode_host_order);
  RUN(test_names);
  RUN(test_reader_whole);
  RUN(test_reader_byte_at_a_time);
  RUN(test_reader_random_chunks);
  RUN(test_reader_partial_frame);
  return TEST_EXIT();
}

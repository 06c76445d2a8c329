/*
 * Node-level fuzzer for the Intermediate, in the spirit of ngtcp2's
 * fuzz/read_write_pkt.cc: one input is a whole session of several
 * authenticated peers talking to one real Intermediate (core/intermediate.c
 * and everything it uses) over the mock QUIC layer (mock_quic.h).
 *
 * Packets go in through zt_intermediate_feed_udp() and time through
 * zt_intermediate_handle_expiry(), the node's real entry points, so each op
 * also runs its dirty-peer flush and dead-peer reaping; what it sends comes
 * out through zt_io.udp_send and is decoded as its peers would decode it.
 *
 * The input is a sequence of ops (see run_op): connect a peer slot, finish
 * its handshake as one of a fixed set of identities (including names the
 * config does not know and a role the Intermediate must refuse), raw
 * control-stream bytes (framing bugs), well-formed control messages with
 * fields from the input (deep logic), relay frames on channels the
 * Intermediate announced or on any number, disconnects, silence (a peer
 * that stops acknowledging, so what it is sent piles up), NAT rebinding,
 * junk datagrams, and time.
 *
 * After every op the invariants hold (check_all):
 *  - every live channel joins a live, HELLO'd agent connection and a live,
 *    HELLO'd connector connection, and policy lets that agent reach at least
 *    one of that connector's configured services;
 *  - a relayed frame goes, unchanged, only to the other end of the channel
 *    it came in on (checked at the moment the Intermediate queues it);
 *  - agents' tunnel addresses are unique among live agents and inside the
 *    pool; only agents have one;
 *  - no counter decreases; relay_frames + relay_queue_drops is exactly the
 *    number of frames the Intermediate tried to forward;
 *  - no peer has more than FUZZ_PEER_STREAM_QUEUED_MAX control-stream bytes
 *    waiting;
 *  - what peers are told obeys policy: WELCOME names the authenticated
 *    identity, SERVICES lists only granted services, REGISTER_ACK accepts
 *    only the connector's own services, SESSION_NEW offers only services
 *    the agent may reach on that connector;
 *  - the node frees every connection it made.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctrl.h"
#include "intermediate.h"
#include "mock_quic.h"
#include "node_input.h"
#include "relay.h"
#include "wire.h"

/* What a peer may have waiting in its control stream. The Intermediate is
 * meant to bound this (a peer that stops reading must not grow its memory
 * without limit); this is a generous stand-in for that limit. */
#define FUZZ_PEER_STREAM_QUEUED_MAX (1u << 20)

#define N_SLOTS 8
#define N_KNOWN 32
#define MAX_OPS 2000
#define POOL_NET 0x64400000u /* 100.64.0.0/29: six agents fill it */
#define POOL_LEN 29
#define NS_PER_MS 1000000ULL

/* ---- the deployment ----------------------------------------------------- */

static const struct {
  enum zt_role role;
  const char *name;
} identities[] = {
    {ZT_ROLE_AGENT, "alice"},     {ZT_ROLE_AGENT, "bob"},
    {ZT_ROLE_AGENT, "mallory"},   {ZT_ROLE_CONNECTOR, "conn-a"},
    {ZT_ROLE_CONNECTOR, "conn-b"}, {ZT_ROLE_AGENT, "eve"},
    {ZT_ROLE_CONNECTOR, "conn-x"}, {ZT_ROLE_INTERMEDIATE, "intermediate"},
};
#define N_IDENTITIES (sizeof(identities) / sizeof(identities[0]))

/* Names for message fields: services, connectors, agents, strangers. */
static const char *const field_names[] = {
    "web",    "db",     "echo",  "admin", "spare", "conn-a",
    "conn-b", "conn-x", "alice", "ghost", "conn-c"};
#define N_FIELD_NAMES (sizeof(field_names) / sizeof(field_names[0]))

static struct zt_intermediate_config cfg;

static void add_service(const char *name, uint32_t vip, const char *conn) {
  size_t i = cfg.n_services++;
  snprintf(cfg.services[i].name, sizeof(cfg.services[i].name), "%s", name);
  cfg.services[i].address = vip;
  snprintf(cfg.services[i].connector, sizeof(cfg.services[i].connector), "%s",
           conn);
}

static void add_rule(const char *agent, const char *const *services) {
  size_t i = cfg.n_policy++;
  snprintf(cfg.policy[i].agent, sizeof(cfg.policy[i].agent), "%s", agent);
  for (; *services; services++) {
    size_t j = cfg.policy[i].n_services++;
    snprintf(cfg.policy[i].services[j], sizeof(cfg.policy[i].services[j]), "%s",
             *services);
  }
}

/* Two connectors with two services each, one service whose connector never
 * connects; alice may reach both connectors, bob only conn-b, everyone
 * (mallory, eve) only echo. */
static void build_config(void) {
  zt_intermediate_config_defaults(&cfg);
  cfg.agent_pool = POOL_NET;
  cfg.agent_pool_len = POOL_LEN;
  add_service("web", 0x0a640001, "conn-a");
  add_service("db", 0x0a640002, "conn-a");
  add_service("echo", 0x0a640003, "conn-b");
  add_service("admin", 0x0a640004, "conn-b");
  add_service("spare", 0x0a640005, "conn-c");
  add_rule("alice", (const char *const[]){"web", "db", "echo", NULL});
  add_rule("bob", (const char *const[]){"echo", "admin", NULL});
  add_rule("*", (const char *const[]){"echo", NULL});
}

/* The oracle: policy as protocol.md states it, written independently of
 * intermediate.c. */
static bool allowed(const char *agent, const char *service) {
  for (size_t i = 0; i < cfg.n_policy; i++) {
    if (strcmp(cfg.policy[i].agent, "*") && strcmp(cfg.policy[i].agent, agent))
      continue;
    for (size_t j = 0; j < cfg.policy[i].n_services; j++)
      if (!strcmp(cfg.policy[i].services[j], service))
        return true;
  }
  return false;
}

static int service_by_vip(uint32_t vip) {
  for (size_t i = 0; i < cfg.n_services; i++)
    if (cfg.services[i].address == vip)
      return (int)i;
  return -1;
}

static bool may_reach_connector(const char *agent, const char *connector) {
  for (size_t i = 0; i < cfg.n_services; i++)
    if (!strcmp(cfg.services[i].connector, connector) &&
        allowed(agent, cfg.services[i].name))
      return true;
  return false;
}

/* ---- the peers ---------------------------------------------------------- */

struct slot {
  uint64_t serial; /* of its current mock connection; 0: none */
  uint32_t key;
  bool silent;
  int addr; /* which of its two addresses it uses now */
  struct zt_ctrl_reader reader; /* what the Intermediate sends it */
};

static struct slot slots[N_SLOTS];
static struct sockaddr_in slot_addr[N_SLOTS][2];
static struct sockaddr_in local_addr;
static struct zt_intermediate *im;
static uint64_t now;
static uint32_t known[N_KNOWN]; /* channels the Intermediate announced */
static unsigned n_known;
static uint64_t forward_attempts;
static uint8_t last_frame[ZT_OUTER_DGRAM_MAX + 64];
static size_t last_frame_len;
static struct zt_intermediate_stats prev_stats;

static struct zq_conn *slot_conn(const struct slot *s) {
  return s->serial ? mq_find(s->serial) : NULL;
}

/* Who the slot's connection proved to be (its certificate's identity). */
static const char *slot_name(const struct slot *s) {
  const struct zq_conn *c = slot_conn(s);
  return c && zq_is_ready(c) ? zq_peer_name(c) : "";
}

static enum zt_role slot_role(const struct slot *s) {
  const struct zq_conn *c = slot_conn(s);
  return c && zq_is_ready(c) ? zq_peer_role(c) : ZT_ROLE_NONE;
}

static void remember_channel(uint32_t ch) {
  known[n_known++ % N_KNOWN] = ch;
}

/* ---- what the Intermediate sends ---------------------------------------- */

static void check_out_msg(void *ud, const struct zt_ctrl_msg *m) {
  struct slot *s = ud;
  const char *name = slot_name(s);
  enum zt_role role = slot_role(s);

  switch (m->type) {
  case ZT_MSG_WELCOME:
    FZ_CHECK(!strcmp(m->u.welcome.identity, name),
             "WELCOME names %s to %s", m->u.welcome.identity, name);
    if (role == ZT_ROLE_AGENT)
      FZ_CHECK((m->u.welcome.tunnel_ip & ~7u) == POOL_NET &&
                   (m->u.welcome.tunnel_ip & 7) != 0 &&
                   (m->u.welcome.tunnel_ip & 7) != 7,
               "agent %s got tunnel address %08x outside the pool", name,
               m->u.welcome.tunnel_ip);
    else
      FZ_CHECK(m->u.welcome.tunnel_ip == 0, "connector got a tunnel address");
    break;
  case ZT_MSG_SERVICES:
    FZ_CHECK(role == ZT_ROLE_AGENT, "SERVICES to a non-agent %s", name);
    for (unsigned i = 0; i < m->u.services.n; i++) {
      const struct zt_ctrl_service *it = &m->u.services.items[i];
      int j = service_by_vip(it->vip);
      FZ_CHECK(allowed(name, it->name), "SERVICES shows %s to %s", it->name,
               name);
      FZ_CHECK(j >= 0 && !strcmp(cfg.services[j].name, it->name) &&
                   !strcmp(cfg.services[j].connector, it->connector),
               "SERVICES entry %s does not match the config", it->name);
    }
    break;
  case ZT_MSG_REGISTER_ACK:
    FZ_CHECK(role == ZT_ROLE_CONNECTOR, "REGISTER_ACK to a non-connector");
    for (unsigned i = 0; i < m->u.reg_ack.n; i++) {
      const struct zt_ctrl_reg *r = &m->u.reg_ack.items[i];
      if (r->status != ZT_OK)
        continue;
      int j = service_by_vip(r->vip);
      FZ_CHECK(j >= 0 && !strcmp(cfg.services[j].name, r->name) &&
                   !strcmp(cfg.services[j].connector, name),
               "connector %s may serve %s", name, r->name);
    }
    break;
  case ZT_MSG_SESSION_READY:
    FZ_CHECK(role == ZT_ROLE_AGENT, "SESSION_READY to a non-agent");
    FZ_CHECK((m->u.session_ready.status == ZT_OK) ==
                 (m->u.session_ready.channel != 0),
             "SESSION_READY status %u with channel %u",
             m->u.session_ready.status, m->u.session_ready.channel);
    if (m->u.session_ready.channel)
      remember_channel(m->u.session_ready.channel);
    break;
  case ZT_MSG_SESSION_NEW:
    FZ_CHECK(role == ZT_ROLE_CONNECTOR, "SESSION_NEW to a non-connector");
    FZ_CHECK(m->u.session_new.n > 0, "SESSION_NEW offers nothing");
    for (unsigned i = 0; i < m->u.session_new.n; i++) {
      int j = service_by_vip(m->u.session_new.vips[i]);
      FZ_CHECK(j >= 0 && !strcmp(cfg.services[j].connector, name) &&
                   allowed(m->u.session_new.agent, cfg.services[j].name),
               "SESSION_NEW lets %s reach %08x on %s", m->u.session_new.agent,
               m->u.session_new.vips[i], name);
    }
    remember_channel(m->u.session_new.channel);
    break;
  default:
    break;
  }
}

static struct slot *slot_at(const struct sockaddr *to) {
  const struct sockaddr_in *sin = (const struct sockaddr_in *)to;
  if (to->sa_family != AF_INET)
    return NULL;
  for (int i = 0; i < N_SLOTS; i++)
    for (int a = 0; a < 2; a++)
      if (sin->sin_addr.s_addr == slot_addr[i][a].sin_addr.s_addr &&
          sin->sin_port == slot_addr[i][a].sin_port)
        return &slots[i];
  return NULL;
}

static void udp_send(void *ud, const struct sockaddr *to, socklen_t tolen,
                     const uint8_t *data, size_t len) {
  struct slot *s = slot_at(to);
  struct mq_cursor cur;
  uint32_t key;
  bool initial;
  uint8_t type;
  const uint8_t *body;
  size_t blen;
  (void)ud;
  (void)tolen;
  /* Stateless resets and packets of connections a slot has abandoned are
   * not decoded: no peer would read them. */
  if (!s || mq_parse_out(data, len, &key, &initial, &cur) != 0 ||
      !slot_conn(s) || key != s->key)
    return;
  while (mq_next_frame(&cur, &type, &body, &blen))
    if (type == MQ_F_STREAM)
      zt_ctrl_reader_feed(&s->reader, body, blen, check_out_msg, s);
}

static const struct zt_io io = {.udp_send = udp_send};

/* ---- the relay invariant, at the moment of forwarding -------------------- */

struct find_channel {
  uint32_t id;
  bool found;
  struct zt_intermediate_channel_info info;
};

static void find_channel_cb(void *ud,
                            const struct zt_intermediate_channel_info *ch) {
  struct find_channel *f = ud;
  if (ch->id == f->id) {
    f->found = true;
    f->info = *ch;
  }
}

static void on_forward(void *ud, struct zq_conn *to, const uint8_t *data,
                       size_t len) {
  struct zq_conn *from = mq_reading();
  struct find_channel f = {0};
  const uint8_t *payload;
  size_t plen;
  (void)ud;

  forward_attempts++;
  FZ_CHECK(from, "a datagram sent outside any received packet");
  FZ_CHECK(zt_relay_parse(data, len, &f.id, &payload, &plen) == 0,
           "forwarded a malformed relay frame");
  /* (Junk datagrams may carry frames the driver did not build.) */
  FZ_CHECK(!last_frame_len || (len == last_frame_len &&
                               !memcmp(data, last_frame, len)),
           "forwarded frame differs from the one received");
  zt_intermediate_foreach_channel(im, find_channel_cb, &f);
  FZ_CHECK(f.found, "forwarded on channel %u, which does not exist", f.id);
  FZ_CHECK((from == f.info.agent_conn && to == f.info.connector_conn) ||
               (from == f.info.connector_conn && to == f.info.agent_conn),
           "channel %u: frame forwarded to a peer not at its other end", f.id);
  FZ_CHECK(from != to, "channel %u: frame reflected to its sender", f.id);
}

/* ---- invariants after every op ------------------------------------------ */

#define MAX_PEERS 64
struct peers {
  size_t n;
  struct zt_intermediate_peer_info p[MAX_PEERS];
};

static void collect_peer(void *ud, const struct zt_intermediate_peer_info *p) {
  struct peers *ps = ud;
  FZ_CHECK(ps->n < MAX_PEERS, "more peers than connections made");
  ps->p[ps->n++] = *p;
}

static const struct zt_intermediate_peer_info *
peer_of(const struct peers *ps, const struct zq_conn *c) {
  for (size_t i = 0; i < ps->n; i++)
    if (ps->p[i].conn == c)
      return &ps->p[i];
  return NULL;
}

static void check_channel(void *ud,
                          const struct zt_intermediate_channel_info *ch) {
  const struct peers *ps = ud;
  const struct zt_intermediate_peer_info *a = peer_of(ps, ch->agent_conn);
  const struct zt_intermediate_peer_info *c = peer_of(ps, ch->connector_conn);
  FZ_CHECK(ch->id != 0, "channel 0");
  FZ_CHECK(a && c, "channel %u outlives one of its ends", ch->id);
  FZ_CHECK(a->role == ZT_ROLE_AGENT && a->hello && c->role == ZT_ROLE_CONNECTOR &&
               c->hello,
           "channel %u joins %s %s and %s %s", ch->id, zt_role_name(a->role),
           a->name, zt_role_name(c->role), c->name);
  FZ_CHECK(!strcmp(a->name, ch->agent) && !strcmp(c->name, ch->connector),
           "channel %u names the wrong peers", ch->id);
  FZ_CHECK(may_reach_connector(ch->agent, ch->connector),
           "channel %u: policy does not let %s reach %s", ch->id, ch->agent,
           ch->connector);
}

static void check_all(void) {
  static struct peers ps;
  ps.n = 0;
  zt_intermediate_foreach_peer(im, collect_peer, &ps);
  FZ_CHECK(ps.n == zt_intermediate_peer_count(im), "peer count");
  FZ_CHECK(ps.n == mq_live(), "%zu peers but %zu connections", ps.n,
           mq_live());
  for (size_t i = 0; i < ps.n; i++) {
    const struct zt_intermediate_peer_info *p = &ps.p[i];
    FZ_CHECK(mq_is_live(p->conn), "peer on a freed connection");
    if (p->name[0])
      FZ_CHECK(!strcmp(p->name, zq_peer_name(p->conn)) &&
                   p->role == zq_peer_role(p->conn),
               "peer %s: identity not the certificate's", p->name);
    if (p->hello)
      FZ_CHECK(p->role == ZT_ROLE_AGENT || p->role == ZT_ROLE_CONNECTOR,
               "HELLO accepted from %s", zt_role_name(p->role));
    if (p->role == ZT_ROLE_AGENT && p->hello) {
      uint32_t off = p->tunnel_ip - POOL_NET;
      FZ_CHECK(off > 0 && off < 7, "agent %s at %08x, outside the pool",
               p->name, p->tunnel_ip);
      for (size_t j = 0; j < i; j++)
        FZ_CHECK(ps.p[j].tunnel_ip != p->tunnel_ip,
                 "agents %s and %s share %08x", ps.p[j].name, p->name,
                 p->tunnel_ip);
    } else if (p->role != ZT_ROLE_AGENT) {
      FZ_CHECK(p->tunnel_ip == 0, "%s %s has a tunnel address",
               zt_role_name(p->role), p->name);
    }
    FZ_CHECK(mq_stream_queued(p->conn) <= FUZZ_PEER_STREAM_QUEUED_MAX,
             "%s %s has %zu control bytes queued", zt_role_name(p->role),
             p->name, mq_stream_queued(p->conn));
  }
  zt_intermediate_foreach_channel(im, check_channel, &ps);

  const struct zt_intermediate_stats *st = zt_intermediate_get_stats(im);
  const uint64_t *a = (const uint64_t *)&prev_stats, *b = (const uint64_t *)st;
  _Static_assert(sizeof(*st) % sizeof(uint64_t) == 0, "stats are u64s");
  for (size_t i = 0; i < sizeof(*st) / sizeof(uint64_t); i++)
    FZ_CHECK(b[i] >= a[i], "counter %zu went down", i);
  FZ_CHECK(st->relay_frames + st->relay_queue_drops == forward_attempts,
           "relay counters: %llu + %llu forwarded of %llu",
           (unsigned long long)st->relay_frames,
           (unsigned long long)st->relay_queue_drops,
           (unsigned long long)forward_attempts);
  prev_stats = *st;
}

/* ---- sending as a peer -------------------------------------------------- */

static uint8_t pkt[70000];

static void feed(struct slot *s, size_t len) {
  zt_intermediate_feed_udp(im, (struct sockaddr *)&slot_addr[s - slots][s->addr],
                           sizeof(struct sockaddr_in), pkt, len, now);
}

/* One short-header packet to the slot's connection with one frame, and an
 * ACK unless the peer has gone silent. */
static void send_frame(struct slot *s, uint8_t type, const uint8_t *body,
                       size_t blen) {
  size_t n = mq_put_short(pkt, sizeof(pkt), s->key);
  n = mq_put_frame(pkt, n, sizeof(pkt), type, body, blen);
  if (!s->silent)
    n = mq_put_frame(pkt, n, sizeof(pkt), MQ_F_ACK, NULL, 0);
  if (n)
    feed(s, n);
}

/* Well-behaved peers acknowledge what they were sent, and so let the
 * Intermediate send more; bounded, as a flood may never drain. */
static void ack_all(void) {
  for (int round = 0; round < 64; round++) {
    bool any = false;
    for (int i = 0; i < N_SLOTS; i++) {
      struct slot *s = &slots[i];
      struct zq_conn *c = slot_conn(s);
      if (!c || s->silent || (!mq_inflight(c) && !mq_stream_queued(c)))
        continue;
      size_t n = mq_put_short(pkt, sizeof(pkt), s->key);
      n = mq_put_frame(pkt, n, sizeof(pkt), MQ_F_ACK, NULL, 0);
      feed(s, n);
      any = true;
    }
    if (!any)
      return;
  }
}

static void op_connect(struct fz_in *in, struct slot *s) {
  uint8_t how = fz_u8(in);
  /* Usually a fresh random DCID; sometimes one equal to a live key. */
  uint32_t dcid = how & 0x80 ? 0x10000000u + (how & 0x0f) : 0xe0000000u | how;
  struct zq_conn *before = mq_last_accepted();
  uint64_t before_serial = before ? mq_serial(before) : 0;
  size_t n = mq_put_initial(pkt, sizeof(pkt), dcid);
  feed(s, n);
  /* A new connection only if the Intermediate accepted one: an Initial it
   * matched to a handshaking peer, or to a live key, makes none. A slot's
   * previous connection, if any, is abandoned (its client vanished). */
  struct zq_conn *c = mq_last_accepted();
  if (c && mq_serial(c) != before_serial) {
    s->serial = mq_serial(c);
    s->key = zq_key(c);
    zt_ctrl_reader_init(&s->reader);
  }
}

static void op_handshake(struct fz_in *in, struct slot *s) {
  uint8_t body[1 + ZT_NAME_MAX];
  uint8_t pick = fz_u8(in);
  int id = pick % N_IDENTITIES;
  size_t n;
  if (pick >= 0xf8) { /* a certificate without a ztna identity */
    body[0] = (uint8_t)(pick & 7);
    memcpy(body + 1, "not a name!", 11);
    n = 12;
  } else {
    body[0] = (uint8_t)identities[id].role;
    n = strlen(identities[id].name);
    memcpy(body + 1, identities[id].name, n);
    n++;
  }
  if (!slot_conn(s))
    return;
  send_frame(s, MQ_F_HANDSHAKE, body, n);
}

static uint32_t pick_ip(struct fz_in *in) {
  switch (fz_u8(in) & 3) {
  case 0:
    return 0;
  case 1:
    return POOL_NET + (fz_u8(in) & 7);
  default:
    return fz_u32(in);
  }
}

static uint32_t pick_channel(struct fz_in *in) {
  uint8_t b = fz_u8(in);
  if (b < 0xc0 && n_known)
    return known[b % (n_known < N_KNOWN ? n_known : N_KNOWN)];
  return b < 0xe0 ? fz_u32(in) : b;
}

static const char *pick_name(struct fz_in *in) {
  return field_names[fz_u8(in) % N_FIELD_NAMES];
}

/* How many times to repeat a message or frame: mostly once, sometimes
 * enough to flood a queue. */
static unsigned pick_repeat(struct fz_in *in) {
  uint8_t r = fz_u8(in);
  return r < 0xe0 ? 1 : 1 + (r - 0xdf) * 32u;
}

static struct zt_ctrl_msg msg;
static uint8_t stream[1 << 20];

static void op_message(struct fz_in *in, struct slot *s) {
  memset(&msg, 0, sizeof(msg));
  switch (fz_u8(in) % 7) {
  case 0:
    msg.type = ZT_MSG_HELLO;
    msg.u.hello.version = fz_u8(in) < 0xf0 ? ZT_PROTOCOL_VERSION : 7;
    msg.u.hello.prev_tunnel_ip = pick_ip(in);
    break;
  case 1:
    msg.type = ZT_MSG_REGISTER;
    msg.u.reg.n = fz_u8(in) % 6;
    for (unsigned i = 0; i < msg.u.reg.n; i++)
      snprintf(msg.u.reg.names[i], sizeof(msg.u.reg.names[i]), "%s",
               pick_name(in));
    break;
  case 2:
    msg.type = ZT_MSG_SESSION_OPEN;
    msg.u.session_open.request_id = fz_u32(in);
    snprintf(msg.u.session_open.connector,
             sizeof(msg.u.session_open.connector), "%s", pick_name(in));
    break;
  case 3:
    msg.type = ZT_MSG_SESSION_CLOSE;
    msg.u.session_close.channel = pick_channel(in);
    msg.u.session_close.status = fz_u8(in) % 8;
    break;
  case 4:
    msg.type = ZT_MSG_ERROR;
    msg.u.error.status = fz_u8(in);
    snprintf(msg.u.error.reason, sizeof(msg.u.error.reason), "%s %s",
             pick_name(in), pick_name(in));
    break;
  case 5: /* what only the Intermediate may send: must be ignored */
    msg.type = ZT_MSG_SESSION_NEW;
    msg.u.session_new.channel = pick_channel(in);
    snprintf(msg.u.session_new.agent, sizeof(msg.u.session_new.agent), "%s",
             pick_name(in));
    msg.u.session_new.agent_ip = pick_ip(in);
    msg.u.session_new.n = 1;
    msg.u.session_new.vips[0] = 0x0a640001;
    break;
  default:
    msg.type = ZT_MSG_SESSION_READY;
    msg.u.session_ready.request_id = fz_u32(in);
    msg.u.session_ready.channel = pick_channel(in);
    break;
  }
  unsigned reps = pick_repeat(in);
  uint8_t one[ZT_CTRL_HDR_LEN + ZT_CTRL_BODY_MAX];
  int n = zt_ctrl_encode(&msg, one, sizeof(one));
  if (n <= 0 || !slot_conn(s))
    return;
  size_t total = 0;
  for (unsigned i = 0; i < reps && total + (size_t)n <= sizeof(stream); i++) {
    memcpy(stream + total, one, (size_t)n);
    total += (size_t)n;
  }
  /* Cut where a real sender's packets would, so reassembly is exercised
   * with every message. */
  for (size_t off = 0; off < total; off += 1200)
    send_frame(s, MQ_F_STREAM, stream + off,
               total - off < 1200 ? total - off : 1200);
}

static void op_raw_stream(struct fz_in *in, struct slot *s) {
  const uint8_t *p;
  size_t n = fz_bytes(in, &p, fz_u8(in));
  if (slot_conn(s))
    send_frame(s, MQ_F_STREAM, p, n);
}

static void op_relay(struct fz_in *in, struct slot *s) {
  uint8_t kind = fz_u8(in);
  uint32_t ch = pick_channel(in);
  size_t plen = kind & 0x80 ? ZT_INNER_UDP_PAYLOAD : (kind & 0x3f);
  const uint8_t *p;
  size_t got = fz_bytes(in, &p, plen < 16 ? plen : 16);
  unsigned reps = pick_repeat(in);

  zt_relay_write_hdr(last_frame, ch);
  if ((kind & 0x40) && !(kind & 0x80))
    last_frame[0] = kind; /* not a DATA frame */
  memset(last_frame + ZT_RELAY_HDR_LEN, 0x17, plen);
  memcpy(last_frame + ZT_RELAY_HDR_LEN, p, got);
  last_frame_len = ZT_RELAY_HDR_LEN + plen;
  for (unsigned i = 0; i < reps && slot_conn(s); i++)
    send_frame(s, MQ_F_DGRAM, last_frame, last_frame_len);
}

static void op_disconnect(struct fz_in *in, struct slot *s) {
  uint8_t body[8 + 8] = {0, 0, 0, 0, 0, 0, 0, 0, 'b', 'y', 'e'};
  body[7] = fz_u8(in);
  if (slot_conn(s))
    send_frame(s, MQ_F_CLOSE, body, 11);
}

static void op_advance(struct fz_in *in) {
  uint64_t ms = fz_u16(in);
  now += ms * NS_PER_MS;
  /* Live peers' keepalives, as a real peer's PINGs would arrive. */
  for (int i = 0; i < N_SLOTS; i++)
    if (!slots[i].silent && slot_conn(&slots[i]) &&
        zq_is_ready(slot_conn(&slots[i])))
      send_frame(&slots[i], MQ_F_ACK, NULL, 0);
  zt_intermediate_handle_expiry(im, now);
}

static void op_rebind(struct slot *s) {
  s->addr ^= 1;
  if (slot_conn(s))
    send_frame(s, MQ_F_ACK, NULL, 0);
}

static void op_junk(struct fz_in *in, struct slot *s) {
  const uint8_t *p;
  size_t n = fz_bytes(in, &p, fz_u8(in));
  memcpy(pkt, p, n);
  last_frame_len = 0;
  feed(s, n);
}

static void run_op(struct fz_in *in) {
  uint8_t op = fz_u8(in);
  struct slot *s = &slots[fz_u8(in) % N_SLOTS];
  switch (op % 11) {
  case 0:
    op_connect(in, s);
    break;
  case 1:
    op_handshake(in, s);
    break;
  case 2:
  case 3:
    op_message(in, s);
    break;
  case 4:
    op_raw_stream(in, s);
    break;
  case 5:
    op_relay(in, s);
    break;
  case 6:
    op_disconnect(in, s);
    break;
  case 7:
    s->silent = !s->silent;
    break;
  case 8:
    op_advance(in);
    break;
  case 9:
    op_rebind(s);
    break;
  default:
    op_junk(in, s);
    break;
  }
}

/* ---- libFuzzer ---------------------------------------------------------- */

static struct zt_tls_creds *creds;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fz_quiet_logs();
  build_config();
  creds = fz_creds(ZT_ROLE_INTERMEDIATE, "intermediate");
  local_addr.sin_family = AF_INET;
  local_addr.sin_port = htons(4433);
  local_addr.sin_addr.s_addr = htonl(0xc0000201);
  for (int i = 0; i < N_SLOTS; i++) {
    slot_addr[i][0].sin_family = slot_addr[i][1].sin_family = AF_INET;
    slot_addr[i][0].sin_port = htons((uint16_t)(40000 + i));
    slot_addr[i][1].sin_port = htons((uint16_t)(50000 + i));
    slot_addr[i][0].sin_addr.s_addr = htonl(0xc633640a + (uint32_t)i);
    slot_addr[i][1].sin_addr.s_addr = htonl(0xcb00710a + (uint32_t)i);
  }
  mq_set_dgram_hook(on_forward, NULL);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct fz_in in = {data, size};

  mq_reset();
  memset(slots, 0, sizeof(slots));
  n_known = 0;
  forward_attempts = 0;
  memset(&prev_stats, 0, sizeof(prev_stats));
  now = 1000 * NS_PER_MS;
  im = zt_intermediate_new(&cfg, creds, &io, (struct sockaddr *)&local_addr,
                           sizeof(local_addr));
  FZ_CHECK(im, "zt_intermediate_new");
  for (int ops = 0; in.left && ops < MAX_OPS; ops++) {
    run_op(&in);
    ack_all();
    check_all();
  }
  /* FUZZ_VERBOSE=1 shows where an input got to (checking seeds). */
  if (getenv("FUZZ_VERBOSE")) {
    static char status[16384];
    zt_intermediate_status(im, status, sizeof(status));
    fprintf(stderr, "%s", status);
  }
  zt_intermediate_free(im);
  im = NULL;
  FZ_CHECK(mq_live() == 0, "%zu connections leaked", mq_live());
  return 0;
}

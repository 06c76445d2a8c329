/*
 * Node-level fuzzer for the connector: the real core/connector.c, uplink.c
 * and e2e.c over the mock QUIC layer (mock_quic.h). The driver plays the
 * Intermediate on the uplink (its handshake, REGISTER_ACK, SESSION_NEW with
 * arbitrary fields, SESSION_CLOSE, raw stream bytes, dropping the
 * connection), the agents at the far end of relay channels (inner Initial,
 * inner handshake as the announced agent or another, inner IP packets, junk
 * relay payloads), the kernel (TUN packets) and time.
 *
 * The inner sessions are mock connections too, so "inner QUIC" here means
 * the mock's packets inside relay frames: what is fuzzed is the connector's
 * handling of them (early packets, session lifetime, policy per packet),
 * not ngtcp2's parsing of inner packets.
 *
 * Invariants:
 *  - nothing reaches tun_write unless it arrived in an inner session whose
 *    peer proved to be the agent the Intermediate announced for that
 *    channel, comes from that agent's tunnel address, goes to a service
 *    address the announcement granted and the Intermediate accepted, and
 *    matches that service's port rules (this driver's own rule table);
 *  - every session the connector holds is one the driver announced and has
 *    not closed, with the announced agent, address and services; at most
 *    one per channel and one per agent address, always inside agent_pool;
 *  - SESSION_NEW (docs/protocol.md): an address outside agent_pool is
 *    refused with SESSION_CLOSE(NOT_ALLOWED) for its channel, and ends the
 *    older session on that channel; a newer session for an address that
 *    has one replaces it, with SESSION_CLOSE(GONE) upstream for the older
 *    channel and the route kept (never re-added); forget_addr is called
 *    exactly when the address's holder identity changes;
 *  - every SESSION_CLOSE the connector sends is one of those, or ends a
 *    session it dropped itself; every session it drops itself (not on the
 *    Intermediate's word, not with the uplink) it reports, so none is
 *    pending when the input ends with the uplink up;
 *  - early relay frames: held only for channels without a session, 4 per
 *    channel (a full channel drops its own oldest), 32 in all (then the
 *    newcomer is dropped), for 2 s, replayed (the stale ones dropped)
 *    when their SESSION_NEW comes: the early counters equal this driver's
 *    model;
 *  - routes balance: never added twice, never removed when absent, exactly
 *    the routed sessions' agent addresses, none left after the connector
 *    is freed; the DNAT rules are the accepted services;
 *  - no counter decreases, and every connection is freed.
 *
 * FUZZ_VERBOSE=1 replaying one input prints the ops and the node's log.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "connector.h"
#include "ctrl.h"
#include "ippkt.h"
#include "mock_quic.h"
#include "node_input.h"
#include "relay.h"
#include "wire.h"

#define N_CHANNELS 8 /* channels 1..8 */
#define MAX_OPS 2000
#define NS_PER_MS 1000000ULL
#define AGENT_NET 0x64400000u /* 100.64.0.0: agent addresses */
/* The connector's agent_pool (zt_connector_config_defaults). */
#define POOL_NET 0x64400000u
#define POOL_MASK 0xffff0000u
#define EARLY_PER_CHANNEL 4
#define EARLY_MAX 32
#define EARLY_TTL_NS (2000 * NS_PER_MS)

#define TRACE(...)                                                             \
  do {                                                                         \
    if (fz_verbose)                                                            \
      fprintf(stderr, __VA_ARGS__);                                            \
  } while (0)

static bool in_pool(uint32_t a) { return (a & POOL_MASK) == POOL_NET; }

/* An agent address from one input byte: mostly 100.64.0.b, and the edges:
 * 0, just outside either end of the pool, the pool's own first and last
 * addresses, a LAN gateway, broadcast, loopback. */
static const uint32_t odd_addrs[8] = {0x0a140101u, 0x643fffffu, 0x64410000u,
                                      0xffffffffu, 0x64400000u, 0x6440ffffu,
                                      0x7f000001u, 0x64410007u};
static uint32_t agent_addr(uint8_t b) {
  if (b == 0)
    return 0;
  if (b >= 0xf8)
    return odd_addrs[b - 0xf8];
  return AGENT_NET + b;
}

static const char *const agents[] = {"alice", "bob", "mallory"};

/* The connector's services, and the addresses the driver may grant: web and
 * dns are the connector's, 10.100.0.9 is nobody's. */
#define N_SERVICES 2
static const char *const service_names[N_SERVICES] = {"web", "dns"};
static const uint32_t grantable[3] = {0x0a640001, 0x0a640002, 0x0a640009};

/* The oracle's port rules: web tcp/443; dns udp/53 and icmp. */
static bool rule_allows(int svc, uint8_t proto, uint16_t dport) {
  if (svc == 0)
    return proto == ZT_IP_PROTO_TCP && dport == 443;
  return (proto == ZT_IP_PROTO_UDP && dport == 53) ||
         proto == ZT_IP_PROTO_ICMP;
}

static struct zt_connector_config ccfg;
static struct zt_tls_creds *creds;
static struct sockaddr_in local_addr, im_addr;

static void build_config(void) {
  zt_connector_config_defaults(&ccfg);
  ccfg.n_services = N_SERVICES;
  snprintf(ccfg.services[0].name, sizeof(ccfg.services[0].name), "web");
  ccfg.services[0].backend = 0x0a1e0002;
  ccfg.services[0].n_rules = 1;
  ccfg.services[0].rules[0] = (struct zt_port_rule){ZT_IP_PROTO_TCP, 443, 443};
  snprintf(ccfg.services[1].name, sizeof(ccfg.services[1].name), "dns");
  ccfg.services[1].backend = 0x0a1e0003;
  ccfg.services[1].n_rules = 2;
  ccfg.services[1].rules[0] = (struct zt_port_rule){ZT_IP_PROTO_UDP, 53, 53};
  ccfg.services[1].rules[1] = (struct zt_port_rule){ZT_IP_PROTO_ICMP, 0, 0};
}

/* ---- the driver's model ------------------------------------------------- */

struct announced {
  bool live;
  char agent[ZT_NAME_MAX + 1];
  uint32_t agent_ip;
  uint8_t n;
  uint32_t vips[3];
  uint32_t inner_key; /* learned from the connector's first inner packet */
};

static struct zt_connector *cn;
static uint64_t now;
static uint64_t uplink_serial; /* the uplink connection the model is for */
static struct announced ann[N_CHANNELS + 1];
static uint32_t vip[N_SERVICES]; /* what the last REGISTER_ACK accepted */
static uint32_t routes[64];
static size_t n_routes;
static struct zt_nat_rule nat_rules[ZT_MAX_SERVICES];
static size_t n_nat;
static bool nat_seen;
static struct zt_connector_stats prev_stats;
static struct zt_ctrl_reader reader; /* the connector's control stream */
/* Raw stream bytes can frame anything, so after them the model no longer
 * knows what the connector was told: checks that compare with it stop, the
 * ones that need only the connector's own tables go on. */
static bool model_lost;

/* SESSION_CLOSEs the connector owes the Intermediate (decided, maybe not
 * yet on the wire: its stream can be stalled). Each SESSION_NEW adds at
 * most one, each session at most one more. */
struct want_close {
  uint32_t ch;
  uint8_t status;
};
static struct want_close wants[2 * MAX_OPS + N_CHANNELS];
static size_t n_wants;

static void want_close(uint32_t ch, uint8_t status) {
  FZ_CHECK(n_wants < sizeof(wants) / sizeof(wants[0]), "too many closes");
  wants[n_wants++] = (struct want_close){ch, status};
}

/* The identity that last held each in-pool address (the connector keeps
 * this across sessions and reconnects: conntrack entries outlive both).
 * Indexed by the address's low 16 bits; the pool is a /16. */
static int8_t holder[65536]; /* 0: none, else 1 + index into agents[] */
static size_t n_forgets;
static uint32_t last_forgot;

/* Route additions during the current op, to tell "kept" from "removed and
 * added again". */
static uint32_t op_route_adds[64];
static size_t n_op_route_adds;

/* The connector's early-packet buffer as this driver understands the
 * protocol's words, in arrival order; counters to compare with its own. */
struct early {
  uint32_t ch;
  uint64_t at;
};
static struct early early_q[EARLY_MAX];
static size_t n_early;
static uint64_t early_buffered, early_dropped, early_replayed;

static void forget_sessions(void) {
  memset(ann, 0, sizeof(ann));
}

static void early_drop_stale(void) {
  size_t k = 0;
  for (size_t i = 0; i < n_early; i++)
    if (now - early_q[i].at < EARLY_TTL_NS)
      early_q[k++] = early_q[i];
  n_early = k;
}

static void early_model_hold(uint32_t ch) {
  size_t mine = 0, oldest = n_early;
  early_drop_stale();
  for (size_t i = 0; i < n_early; i++)
    if (early_q[i].ch == ch && mine++ == 0)
      oldest = i;
  if (mine >= EARLY_PER_CHANNEL) { /* its own oldest makes room */
    memmove(&early_q[oldest], &early_q[oldest + 1],
            (n_early - oldest - 1) * sizeof(early_q[0]));
    n_early--;
    early_dropped++;
  } else if (n_early >= EARLY_MAX) { /* nobody else's is evicted */
    early_dropped++;
    return;
  }
  early_q[n_early++] = (struct early){ch, now};
  early_buffered++;
}

/* The channel's session came: its fresh packets are replayed, the stale
 * ones silently dropped. */
static void early_model_replay(uint32_t ch) {
  size_t k = 0;
  for (size_t i = 0; i < n_early; i++) {
    if (early_q[i].ch != ch)
      early_q[k++] = early_q[i];
    else if (now - early_q[i].at < EARLY_TTL_NS)
      early_replayed++;
  }
  n_early = k;
}

static bool connector_has_channel(uint32_t ch);

/* ---- what the connector sends ------------------------------------------- */

static void on_conn_msg(void *ud, const struct zt_ctrl_msg *m) {
  (void)ud;
  if (m->type != ZT_MSG_SESSION_CLOSE || model_lost)
    return;
  uint32_t ch = m->u.session_close.channel;
  uint8_t st = m->u.session_close.status;
  for (size_t i = 0; i < n_wants; i++) {
    if (wants[i].ch == ch && wants[i].status == st) {
      wants[i] = wants[--n_wants];
      return;
    }
  }
  /* Otherwise the connector ended a session itself (its inner connection
   * died) in this very flush, before check_all could notice: the session
   * must be one the model holds, and gone from the connector's table. */
  FZ_CHECK(st == ZT_ERR_GONE && ch >= 1 && ch <= N_CHANNELS && ann[ch].live &&
               !connector_has_channel(ch),
           "unexpected SESSION_CLOSE(channel %u, status %u)", ch, st);
  ann[ch].live = false;
}

static void udp_send(void *ud, const struct sockaddr *to, socklen_t tolen,
                     const uint8_t *data, size_t len) {
  struct mq_cursor cur, inner;
  uint32_t key, ikey, ch;
  bool initial;
  uint8_t type;
  const uint8_t *body, *payload;
  size_t blen, plen;
  (void)ud;
  (void)tolen;
  (void)to;
  if (mq_parse_out(data, len, &key, &initial, &cur) != 0)
    return;
  while (mq_next_frame(&cur, &type, &body, &blen)) {
    if (type == MQ_F_STREAM) {
      zt_ctrl_reader_feed(&reader, body, blen, on_conn_msg, NULL);
    } else if (type == MQ_F_DGRAM &&
               zt_relay_parse(body, blen, &ch, &payload, &plen) == 0 &&
               ch >= 1 && ch <= N_CHANNELS &&
               mq_parse_out(payload, plen, &ikey, &initial, &inner) == 0) {
      ann[ch].inner_key = ikey; /* the inner server's connection */
    }
  }
}

static void tun_write(void *ud, const uint8_t *pkt, size_t len);

static void route(void *ud, uint32_t addr, bool add) {
  (void)ud;
  size_t i;
  for (i = 0; i < n_routes && routes[i] != addr; i++)
    ;
  if (add) {
    FZ_CHECK(in_pool(addr), "route to %08x, outside agent_pool", addr);
    FZ_CHECK(i == n_routes, "route to %08x added twice", addr);
    FZ_CHECK(n_routes < 64, "too many routes");
    routes[n_routes++] = addr;
    if (n_op_route_adds < 64)
      op_route_adds[n_op_route_adds++] = addr;
  } else {
    FZ_CHECK(i < n_routes, "route to %08x removed but never added", addr);
    routes[i] = routes[--n_routes];
  }
}

static void nat(void *ud, const struct zt_nat_rule *rules, size_t n) {
  (void)ud;
  FZ_CHECK(n <= ZT_MAX_SERVICES, "too many NAT rules");
  memcpy(nat_rules, rules, n * sizeof(*rules));
  n_nat = n;
  nat_seen = true;
}

static void forget_addr(void *ud, uint32_t addr) {
  (void)ud;
  FZ_CHECK(in_pool(addr), "forget_addr(%08x), outside agent_pool", addr);
  n_forgets++;
  last_forgot = addr;
}

static const struct zt_io io = {.udp_send = udp_send,
                                .tun_write = tun_write,
                                .route = route,
                                .nat = nat,
                                .forget_addr = forget_addr};

/* ---- the policy invariant, at the moment of delivery --------------------- */

struct find_session {
  const struct zq_conn *inner;
  uint32_t channel;
  bool found;
  struct zt_connector_session_info info;
};

static void find_session_cb(void *ud,
                            const struct zt_connector_session_info *s) {
  struct find_session *f = ud;
  if ((f->inner && s->inner == f->inner) ||
      (!f->inner && s->channel == f->channel)) {
    f->found = true;
    f->info = *s;
  }
}

static void check_session(const struct zt_connector_session_info *s) {
  if (model_lost)
    return;
  FZ_CHECK(s->channel >= 1 && s->channel <= N_CHANNELS && ann[s->channel].live,
           "session on channel %u was never announced or was closed",
           s->channel);
  const struct announced *a = &ann[s->channel];
  FZ_CHECK(!strcmp(a->agent, s->agent) && a->agent_ip == s->agent_ip &&
               a->n == s->n_vips &&
               !memcmp(a->vips, s->vips, a->n * sizeof(uint32_t)),
           "session on channel %u differs from its announcement", s->channel);
}

static bool connector_has_channel(uint32_t ch) {
  struct find_session f = {.channel = ch};
  zt_connector_foreach_session(cn, find_session_cb, &f);
  return f.found;
}

static void tun_write(void *ud, const uint8_t *pkt, size_t len) {
  struct find_session f = {.inner = mq_reading()};
  struct zt_ip_info ip;
  (void)ud;
  FZ_CHECK(f.inner, "tun_write outside an inner packet");
  zt_connector_foreach_session(cn, find_session_cb, &f);
  FZ_CHECK(f.found, "tun_write from a connection no session owns");
  check_session(&f.info);
  FZ_CHECK(zq_is_ready(f.inner) && zq_peer_role(f.inner) == ZT_ROLE_AGENT &&
               !strcmp(zq_peer_name(f.inner), f.info.agent),
           "channel %u: packet from %s, announced agent %s", f.info.channel,
           zq_peer_name(f.inner), f.info.agent);
  FZ_CHECK(zt_ip_parse(pkt, len, &ip) == 0, "malformed packet to the TUN");
  FZ_CHECK(ip.src == f.info.agent_ip, "packet from %08x, agent is %08x",
           ip.src, f.info.agent_ip);
  bool granted = false;
  for (unsigned i = 0; i < f.info.n_vips; i++)
    granted |= f.info.vips[i] == ip.dst;
  FZ_CHECK(granted, "packet to %08x, not granted", ip.dst);
  if (model_lost)
    return;
  int svc = -1;
  for (int i = 0; i < N_SERVICES && svc < 0; i++)
    if (vip[i] && vip[i] == ip.dst)
      svc = i;
  FZ_CHECK(svc >= 0, "packet to %08x, no accepted service", ip.dst);
  FZ_CHECK(rule_allows(svc, ip.proto, ip.proto == ZT_IP_PROTO_ICMP ? 0 : ip.dport),
           "packet %s port %u to %s not allowed", zt_ip_proto_name(ip.proto),
           ip.dport, service_names[svc]);
}

/* ---- invariants after every op ------------------------------------------ */

struct walk {
  size_t n, routed;
  uint32_t ips[64], routed_ips[64];
  bool held[N_CHANNELS + 1];
};

static void walk_cb(void *ud, const struct zt_connector_session_info *s) {
  struct walk *w = ud;
  check_session(s);
  FZ_CHECK(in_pool(s->agent_ip), "session on channel %u at %08x, outside "
           "agent_pool", s->channel, s->agent_ip);
  FZ_CHECK(w->n < 64, "too many sessions");
  for (size_t i = 0; i < w->n; i++)
    FZ_CHECK(w->ips[i] != s->agent_ip, "two sessions at %08x", s->agent_ip);
  w->ips[w->n++] = s->agent_ip;
  FZ_CHECK(model_lost || w->n <= N_CHANNELS, "more sessions than channels");
  if (s->channel >= 1 && s->channel <= N_CHANNELS)
    w->held[s->channel] = true;
  if (s->routed)
    w->routed_ips[w->routed++] = s->agent_ip;
}

static void check_all(void) {
  struct walk w = {0};
  zt_connector_foreach_session(cn, walk_cb, &w);
  FZ_CHECK(w.routed == w.n, "%zu sessions, %zu own their route", w.n,
           w.routed);
  if (!model_lost) {
    /* A session the model holds and the connector does not: the connector
     * ended it itself, and owes the Intermediate a SESSION_CLOSE for it
     * (checked when the input ends). */
    for (uint32_t ch = 1; ch <= N_CHANNELS; ch++) {
      if (ann[ch].live && !w.held[ch]) {
        ann[ch].live = false;
        want_close(ch, ZT_ERR_GONE);
      }
    }
  }
  FZ_CHECK(w.routed == n_routes, "%zu routes for %zu routed sessions",
           n_routes, w.routed);
  for (size_t i = 0; i < w.routed; i++) {
    bool found = false;
    for (size_t j = 0; j < n_routes; j++)
      found |= routes[j] == w.routed_ips[i];
    FZ_CHECK(found, "session at %08x has no route", w.routed_ips[i]);
  }
  if (nat_seen && !model_lost) {
    size_t n = 0;
    for (int i = 0; i < N_SERVICES; i++) {
      if (!vip[i])
        continue;
      FZ_CHECK(n < n_nat && nat_rules[n].vip == vip[i] &&
                   nat_rules[n].backend == ccfg.services[i].backend,
               "DNAT rules differ from the accepted services");
      n++;
    }
    FZ_CHECK(n == n_nat, "%zu DNAT rules for %zu services", n_nat, n);
  }
  const struct zt_connector_stats *st = zt_connector_get_stats(cn);
  if (!model_lost) {
    FZ_CHECK(st->relay_early_buffered == early_buffered &&
                 st->relay_early_dropped == early_dropped &&
                 st->relay_early_replayed == early_replayed,
             "early packets: buffered %llu dropped %llu replayed %llu, "
             "expected %llu %llu %llu",
             (unsigned long long)st->relay_early_buffered,
             (unsigned long long)st->relay_early_dropped,
             (unsigned long long)st->relay_early_replayed,
             (unsigned long long)early_buffered,
             (unsigned long long)early_dropped,
             (unsigned long long)early_replayed);
  }
  const uint64_t *a = (const uint64_t *)&prev_stats, *b = (const uint64_t *)st;
  _Static_assert(sizeof(*st) % sizeof(uint64_t) == 0, "stats are u64s");
  for (size_t i = 0; i < sizeof(*st) / sizeof(uint64_t); i++)
    FZ_CHECK(b[i] >= a[i], "counter %zu went down", i);
  prev_stats = *st;
}

/* The uplink died (on_down frees every session) or was replaced. */
static void track_uplink(void) {
  struct zq_conn *u = mq_last_client();
  if (uplink_serial && !mq_find(uplink_serial)) {
    /* Its channels went with it: nothing is owed on them any more. */
    forget_sessions();
    n_wants = 0;
    uplink_serial = 0;
  }
  if (u && mq_serial(u) != uplink_serial) {
    uplink_serial = mq_serial(u);
    zt_ctrl_reader_init(&reader);
  }
}

/* ---- sending as the Intermediate ---------------------------------------- */

static uint8_t pkt[70000];

static void feed_uplink(const uint8_t *frames, size_t flen) {
  struct zq_conn *u = uplink_serial ? mq_find(uplink_serial) : NULL;
  if (!u)
    return;
  size_t n = mq_put_short(pkt, sizeof(pkt), zq_key(u));
  if (n + flen > sizeof(pkt))
    return;
  memcpy(pkt + n, frames, flen);
  zt_connector_feed_udp(cn, (struct sockaddr *)&im_addr, sizeof(im_addr), pkt,
                        n + flen, now);
}

static uint8_t frames[70000];

static void send_uplink_frame(uint8_t type, const uint8_t *body, size_t blen) {
  size_t n = mq_put_frame(frames, 0, sizeof(frames), type, body, blen);
  n = mq_put_frame(frames, n, sizeof(frames), MQ_F_ACK, NULL, 0);
  if (n)
    feed_uplink(frames, n);
}

static void send_msg(const struct zt_ctrl_msg *m) {
  uint8_t buf[ZT_CTRL_HDR_LEN + ZT_CTRL_BODY_MAX];
  int n = zt_ctrl_encode(m, buf, sizeof(buf));
  if (n > 0)
    send_uplink_frame(MQ_F_STREAM, buf, (size_t)n);
}

static void send_relay(uint32_t ch, const uint8_t *payload, size_t plen) {
  uint8_t frame[ZT_OUTER_DGRAM_MAX];
  if (plen > sizeof(frame) - ZT_RELAY_HDR_LEN)
    return;
  zt_relay_write_hdr(frame, ch);
  memcpy(frame + ZT_RELAY_HDR_LEN, payload, plen);
  /* Whether the frame reaches the connector (the uplink may be down) shows
   * in relay_unknown_channel; it may grow only if no session had the
   * channel, and then the frame is an early one. */
  bool had = connector_has_channel(ch);
  uint64_t unknown = zt_connector_get_stats(cn)->relay_unknown_channel;
  send_uplink_frame(MQ_F_DGRAM, frame, ZT_RELAY_HDR_LEN + plen);
  uint64_t d = zt_connector_get_stats(cn)->relay_unknown_channel - unknown;
  FZ_CHECK(d <= 1 && !(had && d), "relay frame for channel %u (%s session): "
           "unknown_channel grew by %llu", ch, had ? "a" : "no",
           (unsigned long long)d);
  if (d)
    early_model_hold(ch);
}

static bool uplink_ready(void) {
  struct zq_conn *u = uplink_serial ? mq_find(uplink_serial) : NULL;
  return u && zq_is_ready(u);
}

static struct zt_ctrl_msg msg;

static void op_up(struct fz_in *in) {
  uint8_t how = fz_u8(in) % 4;
  uint8_t body[1 + ZT_NAME_MAX];
  const char *name = how == 2 ? "evil-im" : "intermediate";
  body[0] = how == 1 ? ZT_ROLE_CONNECTOR : ZT_ROLE_INTERMEDIATE;
  memcpy(body + 1, name, strlen(name));
  send_uplink_frame(MQ_F_HANDSHAKE, body, 1 + strlen(name));
}

static void op_register_ack(struct fz_in *in) {
  uint8_t mask = fz_u8(in), bad = fz_u8(in);
  memset(&msg, 0, sizeof(msg));
  msg.type = ZT_MSG_REGISTER_ACK;
  for (int i = 0; i < N_SERVICES + 1; i++) {
    struct zt_ctrl_reg *r = &msg.u.reg_ack.items[msg.u.reg_ack.n++];
    snprintf(r->name, sizeof(r->name), "%s",
             i < N_SERVICES ? service_names[i] : "ghost");
    r->status = mask >> i & 1 ? ZT_OK : ZT_ERR_NOT_ALLOWED;
    /* bad: both services at one address, or at 0 */
    r->vip = r->status != ZT_OK ? 0
             : bad & 1          ? grantable[0]
             : bad & 2          ? 0
                                : grantable[i % 3];
  }
  bool delivered = uplink_ready();
  send_msg(&msg);
  /* The connector's rule, as the model: the last ack for a name wins. */
  if (delivered)
    for (int i = 0; i < N_SERVICES; i++)
      vip[i] = msg.u.reg_ack.items[i].status == ZT_OK
                   ? msg.u.reg_ack.items[i].vip
                   : 0;
}

static void op_session_new(struct fz_in *in) {
  uint32_t ch = 1 + fz_u8(in) % N_CHANNELS;
  int who = fz_u8(in) % 3;
  const char *agent = agents[who];
  uint32_t ip = agent_addr(fz_u8(in));
  uint8_t mask = fz_u8(in);
  memset(&msg, 0, sizeof(msg));
  msg.type = ZT_MSG_SESSION_NEW;
  msg.u.session_new.channel = ch;
  snprintf(msg.u.session_new.agent, sizeof(msg.u.session_new.agent), "%s",
           agent);
  msg.u.session_new.agent_ip = ip;
  for (int i = 0; i < 3; i++)
    if (mask >> i & 1)
      msg.u.session_new.vips[msg.u.session_new.n++] = grantable[i];
  TRACE("SESSION_NEW channel %u %s %08x %u vip(s)\n", ch, agent, ip,
        msg.u.session_new.n);
  if (!uplink_ready() || model_lost) {
    send_msg(&msg);
    return;
  }
  /* The model first: the connector answers the announcement (replaying
   * early packets) while it reads it. The older session on this channel
   * goes whatever happens to the new one. */
  bool replaced = false, same_ip_on_ch = ann[ch].live && ann[ch].agent_ip == ip;
  ann[ch].live = false;
  uint64_t bad_addr = zt_connector_get_stats(cn)->sessions_bad_addr;
  uint64_t n_replaced = zt_connector_get_stats(cn)->sessions_replaced;
  size_t forgets = n_forgets;
  bool want_forget = false;
  if (!in_pool(ip)) {
    want_close(ch, ZT_ERR_NOT_ALLOWED);
  } else {
    /* One session per address: a newer one replaces the older, which the
     * Intermediate is told of; the route stays. */
    for (uint32_t c = 1; c <= N_CHANNELS; c++) {
      if (ann[c].live && ann[c].agent_ip == ip) {
        ann[c].live = false;
        want_close(c, ZT_ERR_GONE);
        replaced = true;
      }
    }
    struct announced *a = &ann[ch];
    a->live = true;
    snprintf(a->agent, sizeof(a->agent), "%s", agent);
    a->agent_ip = ip;
    a->n = msg.u.session_new.n;
    memcpy(a->vips, msg.u.session_new.vips, a->n * sizeof(uint32_t));
    a->inner_key = 0;
    int8_t *h = &holder[ip & 0xffff];
    want_forget = *h && *h != 1 + who;
    *h = (int8_t)(1 + who);
    early_model_replay(ch);
  }
  n_op_route_adds = 0;
  send_msg(&msg);
  const struct zt_connector_stats *st = zt_connector_get_stats(cn);
  FZ_CHECK(st->sessions_bad_addr - bad_addr == !in_pool(ip),
           "SESSION_NEW at %08x: bad_addr counted %llu times", ip,
           (unsigned long long)(st->sessions_bad_addr - bad_addr));
  FZ_CHECK(st->sessions_replaced - n_replaced == replaced,
           "SESSION_NEW at %08x: replaced counted %llu times, expected %d",
           ip, (unsigned long long)(st->sessions_replaced - n_replaced),
           replaced);
  FZ_CHECK(n_forgets - forgets == want_forget &&
               (!want_forget || last_forgot == ip),
           "SESSION_NEW for %s at %08x: forget_addr called %zu times, "
           "expected %d", agent, ip, n_forgets - forgets, want_forget);
  /* Replaced: the route was there and stays, not removed and added again.
   * (An older session on the same channel and address is freed first, and
   * its route with it: that is the channel ending, not a replacement.) */
  if (replaced && !same_ip_on_ch)
    for (size_t i = 0; i < n_op_route_adds; i++)
      FZ_CHECK(op_route_adds[i] != ip, "replaced session's route to %08x "
               "removed and added again", ip);
}

static void op_session_close(struct fz_in *in) {
  uint32_t ch = 1 + fz_u8(in) % N_CHANNELS;
  TRACE("SESSION_CLOSE channel %u\n", ch);
  memset(&msg, 0, sizeof(msg));
  msg.type = ZT_MSG_SESSION_CLOSE;
  msg.u.session_close.channel = ch;
  msg.u.session_close.status = ZT_ERR_GONE;
  bool delivered = uplink_ready();
  send_msg(&msg);
  if (delivered)
    ann[ch].live = false;
}

static void op_raw_stream(struct fz_in *in) {
  const uint8_t *p;
  size_t n = fz_bytes(in, &p, fz_u8(in));
  TRACE("raw stream, %zu bytes\n", n);
  if (uplink_ready())
    model_lost = true;
  send_uplink_frame(MQ_F_STREAM, p, n);
}

static void op_inner_initial(struct fz_in *in) {
  uint32_t ch = 1 + fz_u8(in) % N_CHANNELS;
  uint8_t p[MQ_INITIAL_HDR_LEN];
  size_t n = mq_put_initial(p, sizeof(p), 0xa0000000u | ch);
  send_relay(ch, p, n);
}

static void send_inner(uint32_t ch, uint8_t type, const uint8_t *body,
                       size_t blen) {
  uint8_t p[ZT_INNER_UDP_PAYLOAD];
  size_t n = mq_put_short(p, sizeof(p), ann[ch].inner_key);
  n = mq_put_frame(p, n, sizeof(p), type, body, blen);
  n = mq_put_frame(p, n, sizeof(p), MQ_F_ACK, NULL, 0);
  if (n)
    send_relay(ch, p, n);
}

static void op_inner_handshake(struct fz_in *in) {
  uint32_t ch = 1 + fz_u8(in) % N_CHANNELS;
  uint8_t who = fz_u8(in);
  const char *name = agents[who % 3];
  uint8_t body[1 + ZT_NAME_MAX];
  body[0] = who & 0x80 ? ZT_ROLE_CONNECTOR : ZT_ROLE_AGENT;
  memcpy(body + 1, name, strlen(name));
  send_inner(ch, MQ_F_HANDSHAKE, body, 1 + strlen(name));
}

static const uint8_t protos[4] = {ZT_IP_PROTO_TCP, ZT_IP_PROTO_UDP,
                                  ZT_IP_PROTO_ICMP, 47};

/* A minimal IPv4 packet with a TCP/UDP/ICMP header, from fields. */
static size_t build_ip(uint8_t *p, uint32_t src, uint32_t dst, uint8_t proto,
                       uint16_t dport, uint8_t flags) {
  size_t l4 = proto == ZT_IP_PROTO_TCP ? 20 : 8;
  size_t len = 20 + l4;
  memset(p, 0, len);
  p[0] = 0x45;
  p[2] = (uint8_t)(len >> 8);
  p[3] = (uint8_t)len;
  if (flags & 1)
    p[6] = 0x20; /* more fragments */
  p[8] = 64;
  p[9] = proto;
  for (int i = 0; i < 4; i++) {
    p[12 + i] = (uint8_t)(src >> (24 - 8 * i));
    p[16 + i] = (uint8_t)(dst >> (24 - 8 * i));
  }
  p[20] = 0x30;
  p[21] = 0x39;
  p[22] = (uint8_t)(dport >> 8);
  p[23] = (uint8_t)dport;
  if (flags & 2)
    p[2] = 0xff; /* total length past the buffer */
  return len;
}

static void op_inner_ip(struct fz_in *in) {
  uint32_t ch = 1 + fz_u8(in) % N_CHANNELS;
  uint32_t src = agent_addr(fz_u8(in));
  uint32_t dst = grantable[fz_u8(in) % 3];
  uint8_t pf = fz_u8(in);
  uint16_t port = fz_u16(in);
  uint8_t ip[64];
  size_t n = build_ip(ip, src, dst, protos[pf & 3], port, pf >> 6);
  send_inner(ch, MQ_F_DGRAM, ip, n);
}

static void op_tun(struct fz_in *in) {
  uint32_t dst = agent_addr(fz_u8(in));
  uint32_t src = grantable[fz_u8(in) % 3];
  uint8_t pf = fz_u8(in);
  uint16_t port = fz_u16(in);
  uint8_t ip[64];
  size_t n = build_ip(ip, src, dst, protos[pf & 3], port, pf >> 6);
  zt_connector_feed_tun(cn, ip, n, now);
}

static void op_time(struct fz_in *in) {
  uint16_t ms = fz_u16(in);
  now += (uint64_t)ms * NS_PER_MS;
  TRACE("time +%u ms\n", ms);
  if (uplink_ready())
    send_uplink_frame(MQ_F_ACK, NULL, 0); /* the Intermediate's keepalive */
  zt_connector_handle_expiry(cn, now);
}

static void op_drop(void) {
  static const uint8_t body[] = {0, 0, 0, 0, 0, 0, 0, 6, 'b', 'y', 'e'};
  send_uplink_frame(MQ_F_CLOSE, body, sizeof(body));
}

static void op_junk_relay(struct fz_in *in) {
  uint32_t ch = 1 + fz_u8(in) % N_CHANNELS;
  const uint8_t *p;
  size_t n = fz_bytes(in, &p, fz_u8(in));
  send_relay(ch, p, n);
}

static const char *const op_names[12] = {
    "up", "REGISTER_ACK", "SESSION_NEW", "SESSION_CLOSE", "raw stream",
    "inner Initial", "inner handshake", "inner IP", "TUN", "time", "drop",
    "junk relay"};

static void run_op(struct fz_in *in) {
  uint8_t op = fz_u8(in) % 12;
  TRACE("op %s\n", op_names[op]);
  switch (op) {
  case 0:
    op_up(in);
    break;
  case 1:
    op_register_ack(in);
    break;
  case 2:
    op_session_new(in);
    break;
  case 3:
    op_session_close(in);
    break;
  case 4:
    op_raw_stream(in);
    break;
  case 5:
    op_inner_initial(in);
    break;
  case 6:
    op_inner_handshake(in);
    break;
  case 7:
    op_inner_ip(in);
    break;
  case 8:
    op_tun(in);
    break;
  case 9:
    op_time(in);
    break;
  case 10:
    op_drop();
    break;
  default:
    op_junk_relay(in);
    break;
  }
}

/* ---- libFuzzer ---------------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fz_quiet_logs();
  build_config();
  creds = fz_creds(ZT_ROLE_CONNECTOR, "conn-a");
  local_addr.sin_family = im_addr.sin_family = AF_INET;
  local_addr.sin_port = htons(5000);
  local_addr.sin_addr.s_addr = htonl(0x0a000002);
  im_addr.sin_port = htons(4433);
  im_addr.sin_addr.s_addr = htonl(0xc0000201);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct fz_in in = {data, size};
  struct zt_connector_options opt = {
      .creds = creds,
      .intermediate_name = "intermediate",
      .local = (struct sockaddr *)&local_addr,
      .locallen = sizeof(local_addr),
      .server = (struct sockaddr *)&im_addr,
      .serverlen = sizeof(im_addr),
      .cfg = &ccfg,
  };

  mq_reset();
  forget_sessions();
  n_wants = 0;
  memset(holder, 0, sizeof(holder));
  n_forgets = 0;
  n_early = 0;
  early_buffered = early_dropped = early_replayed = 0;
  memset(vip, 0, sizeof(vip));
  memset(&prev_stats, 0, sizeof(prev_stats));
  n_routes = n_nat = 0;
  nat_seen = false;
  model_lost = false;
  uplink_serial = 0;
  now = 1000 * NS_PER_MS;
  cn = zt_connector_new(&opt, &io, now);
  FZ_CHECK(cn, "zt_connector_new");
  track_uplink();
  for (int ops = 0; in.left && ops < MAX_OPS; ops++) {
    run_op(&in);
    track_uplink();
    check_all();
  }
  /* Acknowledge until the connector has said everything it has to say:
   * every SESSION_CLOSE it owes must then have arrived. */
  for (int i = 0; i < 64 && uplink_ready() && !model_lost && n_wants; i++) {
    send_uplink_frame(MQ_F_ACK, NULL, 0);
    track_uplink();
    check_all();
  }
  FZ_CHECK(!uplink_ready() || model_lost || n_wants == 0,
           "SESSION_CLOSE(channel %u, status %u) never sent", wants[0].ch,
           wants[0].status);
  if (getenv("FUZZ_VERBOSE")) {
    static char status[16384];
    zt_connector_status(cn, status, sizeof(status));
    fprintf(stderr, "%s", status);
  }
  zt_connector_free(cn);
  cn = NULL;
  FZ_CHECK(n_routes == 0, "%zu routes left after free", n_routes);
  FZ_CHECK(mq_live() == 0, "%zu connections leaked", mq_live());
  return 0;
}

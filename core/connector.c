/*
 * The connector node. See connector.h.
 *
 * A session is announced by the Intermediate (SESSION_NEW: channel, agent
 * name, agent tunnel address, the service addresses it may reach) and comes
 * alive when the agent's first inner Initial packet arrives on that channel.
 * The announcement and the first packet travel separately (stream vs
 * datagram), so a few early packets for a channel not yet announced are
 * held briefly instead of being lost to a handshake retransmission timer.
 *
 * The Intermediate is trusted to say who may reach what, not to steer our
 * routing table: an agent address outside our own agent_pool gets no
 * session and no route. When an address passes from one agent identity to
 * another, the kernel's conntrack entries of the old holder's flows are
 * dropped (io->forget_addr), so replies meant for it cannot reach the new
 * holder.
 */
#include "connector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "countertab.h"
#include "ctrl.h"
#include "e2e.h"
#include "ippkt.h"
#include "keymap.h"
#include "log.h"
#include "netaddr.h"
#include "portrule.h"
#include "reasm.h"
#include "statusw.h"
#include "strbuf.h"
#include "tunnel.h"
#include "tunout.h"
#include "uplink.h"
#include "uplinkset.h"
#include "wire.h"

/* Early packets: at most EARLY_PER_CHANNEL per channel and EARLY_MAX in
 * all. A channel that is full drops its own oldest packet; when all slots
 * are taken a new packet is dropped rather than evicting another channel's,
 * so one busy (or hostile) channel cannot starve the handshakes of others.
 * A handshake needs one or two packets: four per channel is plenty. */
#define EARLY_MAX 32
#define EARLY_PER_CHANNEL 4
#define EARLY_TTL_NS (2000ULL * 1000000ULL)
/* Addresses whose last holder we remember (see struct holder). */
#define HOLDERS_MAX 65536
/* A direct session that lost its relay channel must be announced again
 * (SESSION_NEW: the Intermediate re-checks policy) within this long of our
 * uplink being up, or it is closed: the Intermediate is where access is
 * granted and revoked, and a session it no longer vouches for ends. */
#define ORPHAN_GRACE_NS (30000ULL * 1000000ULL)

struct service {
  char name[ZT_NAME_MAX + 1];
  uint32_t backend, vip; /* vip 0 until the Intermediate accepts it */
  size_t n_rules;
  struct zt_port_rule rules[ZT_MAX_PORT_RULES];
};

struct session {
  char agent[ZT_NAME_MAX + 1];
  uint32_t agent_ip;
  uint8_t n_vips;
  uint32_t vips[ZT_MAX_SERVICES];
  /* The ports the Intermediate's policy granted of each (SESSION_NEW);
   * without them (an older Intermediate) the services' own rules alone. */
  bool has_ports;
  uint8_t n_ports[ZT_MAX_SERVICES];
  struct zt_port_rule ports[ZT_MAX_SERVICES][ZT_MAX_PORT_RULES];
  /* The inner session and its paths. t.channel is 0 for an orphan: a
   * direct session whose relay channel closed (in by_key, not by_channel). */
  struct zt_tunnel t;
  /* The Intermediate (index into the uplink set) the session was announced
   * by: its relay channel is a channel of that uplink, and channel numbers
   * are only unique per Intermediate. */
  unsigned ui;
  uint64_t orphan_since; /* orphans: since when our uplink is up */
  bool adopted; /* re-announced orphan: an Initial may restart it (the
                   agent restarted meanwhile) */
  struct zt_connector *conn;
};

struct early_pkt {
  uint32_t channel; /* 0: free */
  unsigned ui;      /* the uplink it came on */
  uint64_t seq;     /* arrival order, for replay */
  uint64_t at;
  uint16_t len;
  uint8_t data[ZT_INNER_UDP_PAYLOAD];
};

struct zt_connector {
  struct zt_uplinks ups; /* one per Intermediate, all in use */
  const struct zt_io *io;
  struct zt_tls_creds *creds;
  char intermediate_name[ZT_NAME_MAX + 1];
  size_t n_services;
  struct service services[ZT_MAX_SERVICES];
  struct zt_tunnel_env env;
  /* per uplink: channel -> session. A channel number names a session only
   * together with the Intermediate that allocated it. */
  struct zt_keymap by_channel[ZT_MAX_INTERMEDIATES];
  struct zt_keymap by_key;      /* inner connection key -> session */
  struct zt_path_stats closed_paths; /* path counters of ended sessions */
  struct zt_keymap by_agent_ip; /* agent tunnel address -> session */
  /* agent tunnel address -> the identity that last held it (char *, kept
   * after its session ends: conntrack entries outlive sessions) */
  struct zt_keymap holders;
  uint32_t agent_pool; /* SESSION_NEW addresses must be inside */
  uint8_t agent_pool_len;
  struct early_pkt *early;      /* EARLY_MAX slots, allocated on use */
  uint64_t early_seq;
  struct zt_connector_stats stats;
  /* Fragments from agents wait here for their datagram: port rules are
   * checked on whole datagrams. One per node, bounded (reasm.h). */
  struct zt_reasm reasm;
  struct zt_tunout out; /* TUN reads: MSS, fragments, too big */
  uint64_t now;
  struct zt_ctrl_msg scratch;
};

/* ---- services and policy ------------------------------------------------ */

static const struct service *service_by_vip(const struct zt_connector *c,
                                            uint32_t vip) {
  for (size_t i = 0; i < c->n_services; i++)
    if (c->services[i].vip == vip && vip != 0)
      return &c->services[i];
  return NULL;
}

static bool session_may_reach(const struct session *s, uint32_t vip) {
  for (unsigned i = 0; i < s->n_vips; i++)
    if (s->vips[i] == vip)
      return true;
  return false;
}

/* The session's grant on vip allows proto/dport. Whether it may reach vip
 * at all is session_may_reach's to say. */
static bool grant_allows_port(const struct session *s, uint32_t vip,
                              uint8_t proto, uint16_t dport) {
  for (unsigned i = 0; s->has_ports && i < s->n_vips; i++)
    if (s->vips[i] == vip)
      return zt_port_rules_match(s->ports[i], s->n_ports[i], proto, dport);
  return true;
}

/* Both the service's own rules and the ports the session was granted. */
static bool port_allowed(const struct service *svc, const struct session *s,
                         uint32_t vip, uint8_t proto, uint16_t dport) {
  return zt_port_rules_match(svc->rules, svc->n_rules, proto, dport) &&
         grant_allows_port(s, vip, proto, dport);
}

/* What SESSION_NEW granted: the addresses and, per address, the ports. */
static void session_set_grants(struct session *s, const struct zt_ctrl_msg *m) {
  s->n_vips = m->u.session_new.n;
  memcpy(s->vips, m->u.session_new.vips, s->n_vips * sizeof(s->vips[0]));
  s->has_ports = m->u.session_new.has_ports;
  memcpy(s->n_ports, m->u.session_new.n_ports, sizeof(s->n_ports));
  memcpy(s->ports, m->u.session_new.ports, sizeof(s->ports));
}

static void push_nat_rules(struct zt_connector *c) {
  struct zt_nat_rule rules[ZT_MAX_SERVICES];
  size_t n = 0;
  for (size_t i = 0; i < c->n_services; i++)
    if (c->services[i].vip)
      rules[n++] =
          (struct zt_nat_rule){c->services[i].vip, c->services[i].backend};
  if (c->io->nat)
    c->io->nat(c->io->ud, rules, n);
}

/* ---- sessions ----------------------------------------------------------- */

/* The session on channel ch of uplink ui. */
static struct session *session_on(struct zt_connector *c, unsigned ui,
                                  uint32_t ch) {
  return zt_keymap_get(&c->by_channel[ui], ch);
}

/* keep_route: a newer session for the same address takes over, so the
 * route stays (removing and re-adding it is two routing-table changes per
 * SESSION_NEW, and a window in which replies have no way back). */
static void session_free_keep(struct zt_connector *c, struct session *s,
                              bool keep_route) {
  if (s->t.channel && session_on(c, s->ui, s->t.channel) == s)
    zt_keymap_del(&c->by_channel[s->ui], s->t.channel);
  uint32_t key = zt_tunnel_key(&s->t);
  if (key && zt_keymap_get(&c->by_key, key) == s)
    zt_keymap_del(&c->by_key, key);
  if (zt_keymap_get(&c->by_agent_ip, s->agent_ip) == s) {
    zt_keymap_del(&c->by_agent_ip, s->agent_ip);
    if (!keep_route && c->io->route)
      c->io->route(c->io->ud, s->agent_ip, false);
  }
  zt_path_stats_add(&c->closed_paths, &s->t.path.stats);
  zt_tunnel_free(&s->t);
  free(s);
}

/* A session that can carry packets without a relay channel. */
static bool survives_without_relay(const struct session *s) {
  return zt_tunnel_ready_now(&s->t) && zt_tunnel_is_direct(&s->t);
}

/* The session loses its relay channel but lives on its direct path. */
static void session_orphan(struct zt_connector *c, struct session *s) {
  if (s->t.channel)
    zt_keymap_del(&c->by_channel[s->ui], s->t.channel);
  s->t.channel = 0;
  s->orphan_since = c->now;
  s->adopted = false;
}

static void session_free(struct zt_connector *c, struct session *s) {
  session_free_keep(c, s, false);
}

static void send_session_close(struct zt_connector *c, unsigned ui,
                               uint32_t channel, uint8_t status) {
  c->scratch.type = ZT_MSG_SESSION_CLOSE;
  c->scratch.u.session_close.channel = channel;
  c->scratch.u.session_close.status = status;
  zt_uplink_send_msg(&c->ups.u[ui], &c->scratch);
}

static void free_holders(struct zt_connector *c) {
  for (size_t i = 0; i < c->holders.cap; i++)
    if (c->holders.slots[i].key)
      free(c->holders.slots[i].val);
  zt_keymap_free(&c->holders);
}

/* Records that `agent` now holds addr. True when a different identity held
 * it before: the old holder's flows must be forgotten. An address we have
 * no record of (never seen, or the table is full) had no holder we know
 * of. */
static bool holder_changed(struct zt_connector *c, uint32_t addr,
                           const char *agent) {
  char *prev = zt_keymap_get(&c->holders, addr);
  if (prev && strcmp(prev, agent) == 0)
    return false;
  char *name = strdup(agent);
  if (!name)
    return prev != NULL;
  if (prev) {
    zt_keymap_del(&c->holders, addr);
    free(prev);
  }
  if (c->holders.count >= HOLDERS_MAX ||
      zt_keymap_put(&c->holders, addr, name) != 0)
    free(name);
  return prev != NULL;
}

static bool is_wildcard(const struct sockaddr *sa) {
  if (sa->sa_family == AF_INET)
    return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == 0;
  if (sa->sa_family == AF_INET6)
    return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr);
  return true;
}

static bool in_agent_pool(const struct zt_connector *c, uint32_t addr) {
  uint32_t mask = c->agent_pool_len ? ~0u << (32 - c->agent_pool_len) : 0;
  return (addr & mask) == c->agent_pool;
}

/* The first session of map (every session is in by_channel, by_key or
 * both), or NULL. */
static struct session *first_session(const struct zt_keymap *map) {
  for (size_t i = 0; i < map->cap; i++)
    if (map->slots[i].key)
      return map->slots[i].val;
  return NULL;
}

/* The sessions of uplink ui (with a channel there). */
static void free_sessions_of(struct zt_connector *c, unsigned ui) {
  struct session *s;
  /* session_free() reshapes the tables, so take the first one each time. */
  while ((s = first_session(&c->by_channel[ui])))
    session_free(c, s);
}

static void free_all_sessions(struct zt_connector *c) {
  struct session *s;
  for (unsigned ui = 0; ui < c->ups.n; ui++)
    free_sessions_of(c, ui);
  while ((s = first_session(&c->by_key)))
    session_free(c, s);
}

/* Uplink ui is gone: its relayed sessions end, direct ones go on alone
 * (and another Intermediate may announce them again). */
static void orphan_or_free_all(struct zt_connector *c, unsigned ui) {
  struct session *s;
  while ((s = first_session(&c->by_channel[ui]))) {
    if (survives_without_relay(s)) {
      zt_info("session with agent %s stays on its direct path without the "
              "intermediate", s->agent);
      session_orphan(c, s);
    } else {
      session_free(c, s);
    }
  }
}

static void inner_ready(struct zq_conn *q, void *ud) {
  struct session *s = ud;
  char ipbuf[16];
  s->conn->stats.sessions_accepted++;
  zt_info("end-to-end session with agent %s (%s) established, channel %u",
          zq_peer_name(q), zt_ip4_str(s->agent_ip, ipbuf), s->t.channel);
  zt_tunnel_ready(&s->t, s->conn->now);
}

static void inner_stream(struct zq_conn *q, const uint8_t *data, size_t len,
                         void *ud) {
  struct session *s = ud;
  (void)q;
  zt_tunnel_stream(&s->t, data, len);
}

/* Policy, again: the Intermediate decided who may reach what, and we hold
 * every packet to that decision and to our own port rules. */
static void inner_datagram(struct zq_conn *q, const uint8_t *pkt, size_t len,
                           void *ud) {
  struct session *s = ud;
  struct zt_connector *c = s->conn;
  struct zt_ip_info ip;
  const struct service *svc;
  char a[16], b[16];
  (void)q;

  if (zt_ip_parse(pkt, len, &ip) != 0) {
    c->stats.rx_malformed++;
    return;
  }
  if (ip.src != s->agent_ip) {
    c->stats.rx_bad_source++;
    zt_audit_packet_denied(c->now, s->agent, &ip, NULL,
                           "source address is not the agent's");
    zt_dbg("drop: agent %s sent from %s, not %s", s->agent,
           zt_ip4_str(ip.src, a), zt_ip4_str(s->agent_ip, b));
    return;
  }
  svc = service_by_vip(c, ip.dst);
  if (!svc || !session_may_reach(s, ip.dst)) {
    c->stats.rx_not_allowed++;
    zt_audit_packet_denied(c->now, s->agent, &ip, svc ? svc->name : NULL,
                           "service not granted to the agent");
    zt_dbg("drop: agent %s to %s not allowed", s->agent,
           zt_ip4_str(ip.dst, a));
    return;
  }
  /* Only a first fragment has ports: rules are checked on the reassembled
   * datagram, and that is what the kernel gets, so what was checked is
   * what is delivered (Linux takes a TUN write longer than the MTU and
   * forwards it, fragmenting it again for the next link if need be).
   * Fragments of no complete datagram are counted in reasm's stats. */
  bool reassembled = false;
  if (ip.is_fragment) {
    if (zt_reasm_feed(&c->reasm, pkt, len, c->now, &pkt, &len) !=
            ZT_REASM_DONE ||
        zt_ip_parse(pkt, len, &ip) != 0)
      return;
    reassembled = true;
  }
  if (!port_allowed(svc, s, ip.dst, ip.proto,
                    ip.proto == 1 ? 0 : ip.dport)) {
    c->stats.rx_not_allowed++;
    if (reassembled)
      c->stats.rx_frag_not_allowed++;
    zt_audit_packet_denied(c->now, s->agent, &ip, svc->name,
                           "no port rule of the service allows it");
    zt_dbg("drop: agent %s to %s %s port %u not allowed", s->agent,
           zt_ip4_str(ip.dst, a), zt_ip_proto_name(ip.proto), ip.dport);
    return;
  }
  c->stats.rx_packets++;
  c->io->tun_write(c->io->ud, pkt, len);
}

static const struct zq_handlers inner_handlers = {
    .on_ready = inner_ready,
    .on_stream = inner_stream,
    .on_datagram = inner_datagram,
};

/* A relayed packet of session s. */
static void session_feed(struct zt_connector *c, struct session *s,
                         const uint8_t *pkt, size_t len) {
  bool initial = zq_packet_is_initial(pkt, len);
  if (s->t.inner && s->adopted && initial) {
    /* The agent behind a re-announced orphan started afresh (it restarted
     * while the Intermediate was away): its new session replaces the old.
     * Only that agent can send on the channel. */
    zt_info("session with agent %s restarted by the agent", s->agent);
    zt_keymap_del(&c->by_key, zt_tunnel_key(&s->t));
    zt_path_stats_add(&c->closed_paths, &s->t.path.stats);
    uint32_t ch = s->t.channel;
    zt_tunnel_free(&s->t);
    zt_tunnel_init(&s->t, &c->env, false, s->agent);
    s->t.channel = ch;
    s->t.up = &c->ups.u[s->ui];
    s->adopted = false; /* the rest of this handshake is the new one's */
  }
  if (!initial)
    s->adopted = false;
  if (!s->t.inner) {
    struct zq_config cfg;
    char err[256];
    zt_e2e_config(&cfg, c->creds, ZT_ROLE_AGENT, s->agent);
    s->t.inner = zq_server_accept(
        &cfg, &inner_handlers, s,
        (const struct sockaddr *)&zt_e2e_connector_addr,
        sizeof(zt_e2e_connector_addr),
        (const struct sockaddr *)&zt_e2e_agent_addr, sizeof(zt_e2e_agent_addr),
        pkt, len, c->now, err, sizeof(err));
    if (!s->t.inner)
      zt_dbg("channel %u: %s", s->t.channel, err);
    else if (zt_keymap_put(&c->by_key, zq_key(s->t.inner), s) != 0)
      zt_warn("session with agent %s: no direct path (out of memory)",
              s->agent);
    return;
  }
  zt_tunnel_feed_relay(&s->t, pkt, len, c->now);
}

static void early_hold(struct zt_connector *c, unsigned ui, uint32_t channel,
                       const uint8_t *pkt, size_t len) {
  struct early_pkt *free_slot = NULL, *oldest = NULL;
  unsigned mine = 0;
  if (len > ZT_INNER_UDP_PAYLOAD || channel == 0) {
    c->stats.relay_early_dropped++;
    return;
  }
  if (!c->early && !(c->early = calloc(EARLY_MAX, sizeof(*c->early)))) {
    c->stats.relay_early_dropped++;
    return;
  }
  for (unsigned i = 0; i < EARLY_MAX; i++) {
    struct early_pkt *e = &c->early[i];
    if (e->channel && c->now - e->at >= EARLY_TTL_NS)
      e->channel = 0; /* stale: its SESSION_NEW never came */
    if (!e->channel) {
      if (!free_slot)
        free_slot = e;
    } else if (e->channel == channel && e->ui == ui) {
      mine++;
      if (!oldest || e->seq < oldest->seq)
        oldest = e;
    }
  }
  struct early_pkt *e = mine >= EARLY_PER_CHANNEL ? oldest : free_slot;
  if (!e) {
    c->stats.relay_early_dropped++; /* all full, with other channels' */
    return;
  }
  if (e == oldest)
    c->stats.relay_early_dropped++; /* its own oldest makes room */
  e->channel = channel;
  e->ui = ui;
  e->seq = ++c->early_seq;
  e->at = c->now;
  e->len = (uint16_t)len;
  memcpy(e->data, pkt, len);
  c->stats.relay_early_buffered++;
}

/* The channel's held packets, oldest first. */
static void early_replay(struct zt_connector *c, struct session *s) {
  if (!c->early)
    return;
  for (;;) {
    struct early_pkt *next = NULL;
    for (unsigned i = 0; i < EARLY_MAX; i++) {
      struct early_pkt *e = &c->early[i];
      if (e->channel == s->t.channel && e->ui == s->ui &&
          (!next || e->seq < next->seq))
        next = e;
    }
    if (!next)
      return;
    next->channel = 0;
    if (c->now - next->at < EARLY_TTL_NS) {
      c->stats.relay_early_replayed++;
      session_feed(c, s, next->data, next->len);
    }
  }
}

static void on_session_new(struct zt_connector *c, unsigned ui,
                           const struct zt_ctrl_msg *m) {
  uint32_t channel = m->u.session_new.channel;
  uint32_t agent_ip = m->u.session_new.agent_ip;
  struct session *s, *old;
  bool routed;
  char ipbuf[16], poolbuf[16];

  /* The same agent at the same address on a channel we hold: a reload
   * changed what the session grants (docs/protocol.md). The session, its
   * inner connection and its flows carry on; every packet from now on is
   * checked against the new grant. */
  old = session_on(c, ui, channel);
  if (old && old->agent_ip == agent_ip &&
      strcmp(old->agent, m->u.session_new.agent) == 0) {
    session_set_grants(old, m); /* the reload's grant, from now on */
    c->stats.sessions_regranted++;
    zt_audit_session_new(old->agent, agent_ip, true, "grant updated");
    zt_info("session with agent %s on channel %u: grant updated (%u "
            "service(s))",
            old->agent, channel, (unsigned)m->u.session_new.n);
    return;
  }
  /* Any other announcement for a channel ends the older session on it,
   * even one we refuse below: the refusal tells the Intermediate the
   * channel is closed, so a session kept on it would never hear of it
   * again (nor be closed by it), and would keep its route. */
  if (old) /* another agent or address on this channel */
    session_free(c, old);
  /* The route this session would add must stay inside the pool: a
   * compromised Intermediate must not be able to pull a gateway's or a DNS
   * server's address into the tunnel. */
  if (!in_agent_pool(c, agent_ip)) {
    c->stats.sessions_bad_addr++;
    zt_audit_session_new(m->u.session_new.agent, agent_ip, false,
                         "address outside agent_pool");
    zt_warn("refused session on channel %u for agent %s: its address %s is "
            "outside agent_pool %s/%u",
            channel, m->u.session_new.agent, zt_ip4_str(agent_ip, ipbuf),
            zt_ip4_str(c->agent_pool, poolbuf), c->agent_pool_len);
    send_session_close(c, ui, channel, ZT_ERR_NOT_ALLOWED);
    return;
  }
  /* The same agent again for a direct session that lost its channel, or
   * through another Intermediate (the agent moved there; its old one may
   * not know yet that it left): the session carries on, on the new channel
   * and with the grants the Intermediate just re-checked. A relayed
   * session adopted this way is restarted by the agent's next Initial. */
  old = zt_keymap_get(&c->by_agent_ip, agent_ip);
  if (old && (!old->t.channel || old->ui != ui) && old->t.inner &&
      strcmp(old->agent, m->u.session_new.agent) == 0) {
    if (old->t.channel) { /* its channel at the Intermediate it left */
      uint32_t left = old->t.channel;
      zt_keymap_del(&c->by_channel[old->ui], left);
      send_session_close(c, old->ui, left, ZT_ERR_GONE);
      old->t.channel = 0;
    }
    if (zt_keymap_put(&c->by_channel[ui], channel, old) != 0) {
      session_free(c, old);
      return;
    }
    old->ui = ui;
    old->t.up = &c->ups.u[ui];
    old->t.channel = channel;
    old->adopted = true;
    session_set_grants(old, m);
    zt_audit_session_new(old->agent, agent_ip, true, "session carried on");
    zt_info("session with agent %s has a relay channel again (%u)",
            old->agent, channel);
    early_replay(c, old);
    return;
  }
  if (!(s = calloc(1, sizeof(*s))))
    return;
  s->conn = c;
  zt_tunnel_init(&s->t, &c->env, false, m->u.session_new.agent);
  s->t.channel = channel;
  s->ui = ui;
  s->t.up = &c->ups.u[ui];
  snprintf(s->agent, sizeof(s->agent), "%s", m->u.session_new.agent);
  s->agent_ip = agent_ip;
  session_set_grants(s, m);
  /* One session per agent address: a newer one replaces a stale one. Its
   * channel is closed at the Intermediate too, or it would stay open there
   * with nobody behind it; the route stays for the newcomer. */
  routed = (old = zt_keymap_get(&c->by_agent_ip, s->agent_ip)) != NULL;
  if (old) {
    c->stats.sessions_replaced++;
    zt_info("session with agent %s on channel %u replaced by channel %u",
            old->agent, old->t.channel, s->t.channel);
    if (old->t.channel)
      send_session_close(c, old->ui, old->t.channel, ZT_ERR_GONE);
    session_free_keep(c, old, true);
  }
  if (zt_keymap_put(&c->by_channel[ui], s->t.channel, s) != 0 ||
      zt_keymap_put(&c->by_agent_ip, s->agent_ip, s) != 0) {
    zt_keymap_del(&c->by_channel[ui], s->t.channel);
    if (routed && c->io->route)
      c->io->route(c->io->ud, s->agent_ip, false);
    free(s);
    return;
  }
  if (holder_changed(c, s->agent_ip, s->agent)) {
    c->stats.addr_handovers++;
    zt_info("address %s changed hands: now agent %s; forgetting the old "
            "holder's connections",
            zt_ip4_str(s->agent_ip, ipbuf), s->agent);
    if (c->io->forget_addr)
      c->io->forget_addr(c->io->ud, s->agent_ip);
  }
  /* Replies from backends find their way back into the tunnel. */
  if (!routed && c->io->route)
    c->io->route(c->io->ud, s->agent_ip, true);
  zt_audit_session_new(s->agent, s->agent_ip, true, NULL);
  zt_info("session announced: agent %s at %s, channel %u, %u service(s)",
          s->agent, zt_ip4_str(s->agent_ip, ipbuf), s->t.channel, s->n_vips);
  early_replay(c, s);
}

/* ---- uplink handlers ---------------------------------------------------- */

static void on_up(struct zt_uplink *u, void *ud) {
  struct zt_connector *c = ud;
  /* Orphans' grace starts now: the Intermediate can announce them again. */
  for (size_t i = 0; i < c->by_key.cap; i++)
    if (c->by_key.slots[i].key) {
      struct session *s = c->by_key.slots[i].val;
      if (!s->t.channel)
        s->orphan_since = c->now;
    }
  c->scratch.type = ZT_MSG_HELLO;
  c->scratch.u.hello.version = ZT_PROTOCOL_VERSION;
  c->scratch.u.hello.prev_tunnel_ip = 0;
  zt_uplink_send_msg(u, &c->scratch);
  c->scratch.type = ZT_MSG_REGISTER;
  c->scratch.u.reg.n = (uint8_t)c->n_services;
  for (size_t i = 0; i < c->n_services; i++)
    snprintf(c->scratch.u.reg.names[i], sizeof(c->scratch.u.reg.names[i]), "%s",
             c->services[i].name);
  zt_uplink_send_msg(u, &c->scratch);
}

static void on_register_ack(struct zt_connector *c,
                            const struct zt_ctrl_msg *m) {
  char ipbuf[16], be[16];
  for (size_t i = 0; i < m->u.reg_ack.n; i++) {
    const struct zt_ctrl_reg *r = &m->u.reg_ack.items[i];
    for (size_t j = 0; j < c->n_services; j++) {
      struct service *svc = &c->services[j];
      if (strcmp(svc->name, r->name) != 0)
        continue;
      svc->vip = r->status == ZT_OK ? r->vip : 0;
      if (r->status == ZT_OK)
        zt_info("service %s registered: %s -> backend %s", svc->name,
                zt_ip4_str(svc->vip, ipbuf), zt_ip4_str(svc->backend, be));
      else
        zt_warn("service %s refused by intermediate (status %u)", svc->name,
                r->status);
    }
  }
  push_nat_rules(c);
}

static void on_msg(struct zt_uplink *u, const struct zt_ctrl_msg *m, void *ud) {
  struct zt_connector *c = ud;
  unsigned ui = (unsigned)zt_uplinks_index(&c->ups, u);
  char addr[64];
  switch (m->type) {
  case ZT_MSG_WELCOME:
  case ZT_MSG_OBSERVED: {
    const struct sockaddr_storage *obs = m->type == ZT_MSG_WELCOME
                                             ? &m->u.welcome.observed
                                             : &m->u.observed.observed;
    zt_info("intermediate #%u sees us at %s", ui,
            zt_netaddr_str((const struct sockaddr *)obs, addr, sizeof(addr)));
    /* Agents aim their probes at this address: tell them when it moves. */
    for (size_t i = 0; i < c->by_key.cap; i++)
      if (c->by_key.slots[i].key) {
        struct session *s = c->by_key.slots[i].val;
        if (s->t.cands_sent && s->t.up == u)
          zt_tunnel_send_candidates(&s->t);
      }
    break;
  }
  case ZT_MSG_REGISTER_ACK:
    on_register_ack(c, m);
    break;
  case ZT_MSG_SESSION_NEW:
    on_session_new(c, ui, m);
    break;
  case ZT_MSG_SESSION_CLOSE: {
    struct session *s = session_on(c, ui, m->u.session_close.channel);
    if (s && m->u.session_close.status == ZT_ERR_PEER_LOST &&
        survives_without_relay(s)) {
      zt_info("session with agent %s: relay channel closed (the agent lost "
              "the intermediate); staying on the direct path",
              s->agent);
      session_orphan(c, s);
    } else if (s) {
      zt_info("session with agent %s closed (channel %u): %s", s->agent,
              s->t.channel, zt_status_name(m->u.session_close.status));
      session_free(c, s);
    }
    break;
  }
  case ZT_MSG_ERROR:
    zt_warn("intermediate reports error %u: %s", m->u.error.status,
            m->u.error.reason);
    break;
  default:
    zt_dbg("connector: ignoring %s", zt_ctrl_type_name(m->type));
  }
}

static void on_relay(struct zt_uplink *u, uint32_t channel,
                     const uint8_t *payload, size_t len, void *ud) {
  struct zt_connector *c = ud;
  unsigned ui = (unsigned)zt_uplinks_index(&c->ups, u);
  /* Only a session of this Intermediate: the same channel number at
   * another one is another agent's session. */
  struct session *s = session_on(c, ui, channel);
  if (!s) {
    c->stats.relay_unknown_channel++;
    early_hold(c, ui, channel, payload, len);
    return;
  }
  session_feed(c, s, payload, len);
}

static void on_down(struct zt_uplink *u, const char *reason, void *ud) {
  struct zt_connector *c = ud;
  unsigned ui = (unsigned)zt_uplinks_index(&c->ups, u);
  (void)reason;
  if (zt_uplink_is_replaced(u))
    free_sessions_of(c, ui);
  else
    orphan_or_free_all(c, ui);
}

static const struct zt_uplink_handlers uplink_handlers = {
    .on_up = on_up,
    .on_msg = on_msg,
    .on_relay = on_relay,
    .on_down = on_down,
};

/* ---- driver entry points ------------------------------------------------ */

struct zt_connector *zt_connector_new(const struct zt_connector_options *opt,
                                      const struct zt_io *io, uint64_t now) {
  struct zt_connector *c = calloc(1, sizeof(*c));
  struct zq_config cfg;
  if (!c)
    return NULL;
  c->io = io;
  c->creds = opt->creds;
  c->now = now;
  snprintf(c->intermediate_name, sizeof(c->intermediate_name), "%s",
           opt->intermediate_name);
  c->n_services = opt->cfg->n_services;
  for (size_t i = 0; i < c->n_services; i++) {
    struct service *s = &c->services[i];
    snprintf(s->name, sizeof(s->name), "%s", opt->cfg->services[i].name);
    s->backend = opt->cfg->services[i].backend;
    s->n_rules = opt->cfg->services[i].n_rules;
    memcpy(s->rules, opt->cfg->services[i].rules,
           s->n_rules * sizeof(s->rules[0]));
  }
  for (size_t i = 0; i < ZT_MAX_INTERMEDIATES; i++)
    zt_keymap_init(&c->by_channel[i]);
  zt_keymap_init(&c->by_key);
  /* Each session's tunnel uses the uplink of its channel (t.up). */
  c->env = (struct zt_tunnel_env){
      .io = io, .up = &c->ups.u[0], .direct = opt->cfg->direct, .owner = c};
  if (opt->cfg->p2p_listen_len &&
      !is_wildcard((const struct sockaddr *)&opt->cfg->p2p_listen)) {
    c->env.fixed = opt->cfg->p2p_listen;
    c->env.fixedlen = opt->cfg->p2p_listen_len;
  }
  zt_keymap_init(&c->by_agent_ip);
  zt_keymap_init(&c->holders);
  c->agent_pool = opt->cfg->agent_pool;
  c->agent_pool_len = opt->cfg->agent_pool_len;
  zq_config_defaults(&cfg);
  cfg.creds = opt->creds;
  cfg.alpn = ZT_ALPN_OUTER;
  cfg.expect.roles = 1u << ZT_ROLE_INTERMEDIATE;
  cfg.expect.name = c->intermediate_name;
  /* Heard often, a killed connector is noticed within seconds (wire.h). */
  cfg.keepalive_ms = ZT_CONNECTOR_KEEPALIVE_MS;
  zt_uplinks_init(&c->ups, &cfg, io, opt->local, opt->locallen, opt->server,
                  opt->serverlen, opt->n_more_servers, opt->more_servers,
                  opt->more_serverlens, &uplink_handlers, c);
  zt_uplinks_start(&c->ups, now);
  return c;
}

void zt_connector_shutdown(struct zt_connector *c, uint64_t now) {
  c->now = now;
  /* Agents hear that their sessions end, over whichever path each takes,
   * then the Intermediate, which tells the agents our services are gone. */
  for (size_t i = 0; i < c->by_key.cap; i++) {
    struct session *s = c->by_key.slots[i].val;
    if (c->by_key.slots[i].key)
      zt_tunnel_close(&s->t, "connector shutting down", now);
  }
  zt_uplinks_shutdown(&c->ups, now);
}

void zt_connector_free(struct zt_connector *c) {
  if (!c)
    return;
  free_all_sessions(c);
  for (size_t i = 0; i < ZT_MAX_INTERMEDIATES; i++)
    zt_keymap_free(&c->by_channel[i]);
  zt_keymap_free(&c->by_key);
  zt_keymap_free(&c->by_agent_ip);
  free_holders(c);
  zt_uplinks_free(&c->ups);
  free(c->early);
  zt_reasm_free(&c->reasm);
  zt_tunout_free(&c->out);
  free(c);
}

/* Orphans the Intermediate has not announced again within the grace
 * period of our uplink being up: policy may no longer grant them. */
static bool orphan_expired(const struct zt_connector *c,
                           const struct session *s) {
  return !s->t.channel && zt_uplinks_any_up(&c->ups) &&
         c->now - s->orphan_since >= ORPHAN_GRACE_NS;
}

/* Why a session must end now, or NULL. */
static const char *session_ending(struct zt_connector *c, struct session *s) {
  if (s->t.inner && !zt_tunnel_flush(&s->t, c->now)) {
    if (zq_end_kind(s->t.inner) == ZQ_END_REFUSED)
      c->stats.sessions_refused++;
    return zq_close_reason(s->t.inner);
  }
  if (orphan_expired(c, s)) {
    c->stats.sessions_orphan_expired++;
    return "not announced again by the intermediate";
  }
  return NULL;
}

static void flush(struct zt_connector *c) {
  bool again = true;
  /* session_free() reshapes the tables, so restart after each removal.
   * Every session with an inner connection is in by_key. */
  while (again) {
    again = false;
    for (size_t i = 0; i < c->by_key.cap && !again; i++) {
      struct session *s = c->by_key.slots[i].val;
      const char *why;
      if (!c->by_key.slots[i].key || !(why = session_ending(c, s)))
        continue;
      if (s->t.inner && zq_end_kind(s->t.inner) == ZQ_END_REFUSED) {
        zt_audit_session_new(s->agent, s->agent_ip, false, why);
        if (zq_refused_revoked(s->t.inner)) /* the agent's certificate */
          zt_audit_revoke_crl(ZT_ROLE_AGENT, s->agent, NULL,
                              zt_crl_file(c->creds->crl), "session refused");
        zt_warn("refused agent session on channel %u: %s", s->t.channel, why);
      } else
        zt_info("session with agent %s ended: %s", s->agent, why);
      if (s->t.channel)
        send_session_close(c, s->ui, s->t.channel, ZT_ERR_GONE);
      session_free(c, s);
      again = true;
    }
  }
  zt_uplinks_flush(&c->ups, c->now);
}

/* One socket carries the uplink and every session's direct packets and
 * probes, told apart by the key their connection ID (or probe) carries;
 * the uplink also takes what matches nothing but comes from the
 * Intermediate (a Stateless Reset carries no key of ours). */
void zt_connector_feed_udp(struct zt_connector *c, const struct sockaddr *from,
                           socklen_t fromlen, const uint8_t *pkt, size_t len,
                           uint64_t now) {
  struct session *s;
  struct zt_uplink *u;
  uint32_t key;
  c->now = now;
  if (zt_probe_match(pkt, len)) {
    if (zt_probe_dst_key(pkt, len, &key) == 0 &&
        (s = zt_keymap_get(&c->by_key, key)))
      zt_tunnel_feed_direct(&s->t, from, fromlen, pkt, len, now);
    else
      c->stats.direct_unknown++;
  } else if (zq_packet_key(pkt, len, &key) == 0 &&
             (s = zt_keymap_get(&c->by_key, key))) {
    zt_tunnel_feed_direct(&s->t, from, fromlen, pkt, len, now);
  } else if ((u = zt_uplinks_owner(&c->ups, from, pkt, len))) {
    zt_uplink_feed(u, from, fromlen, pkt, len, now);
  } else {
    c->stats.direct_unknown++;
  }
  flush(c);
}

static int send_inner(void *q, const uint8_t *pkt, size_t len) {
  return zq_send_datagram(q, pkt, len);
}

void zt_connector_feed_tun(struct zt_connector *c, const uint8_t *pkt,
                           size_t len, uint64_t now) {
  struct zt_ip_info ip;
  struct session *s;

  c->now = now;
  c->stats.tun_packets++;
  int perr = zt_ip_parse(pkt, len, &ip);
  if (perr != 0) {
    /* IPv6 is not carried yet; the kernel sends some (router and multicast
     * listener solicitations) as soon as the device is up. */
    if (perr == ZT_IP_EVERSION)
      c->stats.tun_not_ipv4++;
    else
      c->stats.tun_malformed++;
    return;
  }
  s = zt_keymap_get(&c->by_agent_ip, ip.dst);
  if (!s || !zt_tunnel_ready_now(&s->t) || !session_may_reach(s, ip.src)) {
    c->stats.tun_no_session++;
    return;
  }
  if (zt_tunout_send(&c->out, pkt, len, zq_max_datagram(s->t.inner), now,
                     send_inner, s->t.inner, c->io->tun_write,
                     c->io->ud) == ZT_TUNOUT_SEND_FAILED)
    c->stats.tun_drops++;
  flush(c);
}

uint64_t zt_connector_expiry(const struct zt_connector *c) {
  uint64_t t = zt_uplinks_expiry(&c->ups);
  for (size_t i = 0; i < c->by_key.cap; i++) {
    const struct session *s = c->by_key.slots[i].val;
    if (!c->by_key.slots[i].key)
      continue;
    uint64_t e = zt_tunnel_expiry(&s->t);
    if (!s->t.channel && zt_uplinks_any_up(&c->ups) &&
        s->orphan_since + ORPHAN_GRACE_NS < e)
      e = s->orphan_since + ORPHAN_GRACE_NS;
    if (e < t)
      t = e;
  }
  return t;
}

void zt_connector_handle_expiry(struct zt_connector *c, uint64_t now) {
  c->now = now;
  for (size_t i = 0; i < c->by_key.cap; i++) {
    struct session *s = c->by_key.slots[i].val;
    if (c->by_key.slots[i].key && zt_tunnel_expiry(&s->t) <= now)
      zt_tunnel_handle_expiry(&s->t, now);
  }
  zt_uplinks_handle_expiry(&c->ups, now);
  flush(c);
}

const struct zt_connector_stats *
zt_connector_get_stats(const struct zt_connector *c) {
  return &c->stats;
}

bool zt_connector_is_connected(const struct zt_connector *c) {
  return zt_uplinks_any_up(&c->ups);
}

size_t zt_connector_registered(const struct zt_connector *c) {
  size_t n = 0;
  for (size_t i = 0; i < c->n_services; i++)
    n += c->services[i].vip != 0;
  return n;
}

/* Every session once: those with a channel, then the orphans. */
static const struct session *next_session(const struct zt_connector *c,
                                          size_t *pos) {
  for (;; (*pos)++) {
    /* pos runs over the slots of by_channel[0..n-1], then by_key's. */
    size_t p = *pos, m = 0;
    while (m < c->ups.n && p >= c->by_channel[m].cap)
      p -= c->by_channel[m++].cap;
    const struct zt_keymap *map = m < c->ups.n ? &c->by_channel[m] : &c->by_key;
    if (p >= map->cap)
      return NULL;
    if (!map->slots[p].key)
      continue;
    const struct session *s = map->slots[p].val;
    if (map == &c->by_key && s->t.channel)
      continue; /* seen in its by_channel */
    (*pos)++;
    return s;
  }
}

static size_t n_channels(const struct zt_connector *c) {
  size_t n = 0;
  for (size_t i = 0; i < c->ups.n; i++)
    n += c->by_channel[i].count;
  return n;
}

/* The counter table's sources (countertab.h): direct-path counters of
 * ended and live sessions and the uplinks' counters summed, gauges filled
 * now. */
struct counter_srcs {
  struct zt_connector_gauges g;
  struct zt_path_stats paths;
  struct zt_uplink_stats ups;
  const void *srcs[ZT_CONN_NSRC];
};
static void conn_counter_srcs(const struct zt_connector *c,
                              struct counter_srcs *cs) {
  const struct session *se;
  memset(cs, 0, sizeof(*cs));
  struct zt_connector_gauges *g = &cs->g;
  cs->paths = c->closed_paths;
  for (size_t pos = 0; (se = next_session(c, &pos));) {
    zt_path_stats_add(&cs->paths, &se->t.path.stats);
    g->sessions++;
    g->sessions_ready += zt_tunnel_ready_now(&se->t);
    g->sessions_direct += zt_tunnel_is_direct(&se->t);
  }
  for (size_t i = 0; i < c->ups.n; i++)
    g->uplinks_up += zt_uplink_is_up(&c->ups.u[i]);
  g->services = c->n_services;
  g->services_registered = zt_connector_registered(c);
  cs->srcs[ZT_CONN_SRC_STATS] = &c->stats;
  cs->srcs[ZT_CONN_SRC_TUNOUT] = &c->out.stats;
  cs->srcs[ZT_CONN_SRC_PATHS] = &cs->paths;
  cs->srcs[ZT_CONN_SRC_REASM] = &c->reasm.stats;
  cs->srcs[ZT_CONN_SRC_GAUGES] = g;
  zt_uplinks_stats_sum(&c->ups, &cs->ups);
  cs->srcs[ZT_CONN_SRC_UPLINKS] = &cs->ups;
}

int zt_connector_metrics(const struct zt_connector *c, char *buf, size_t len) {
  struct counter_srcs cs;
  const struct zt_counter_table *tables[] = {&zt_connector_counters, NULL};
  conn_counter_srcs(c, &cs);
  return zt_counters_page(buf, len, tables, cs.srcs, ZT_METRIC_CONN_HANDSHAKE,
                          "Outer QUIC handshake time to the Intermediates",
                          &cs.ups.handshake);
}

int zt_connector_status(const struct zt_connector *c, char *buf, size_t len) {
  char a[16], b[16], qbuf[256];
  struct zt_strbuf sb;
  zt_strbuf_init(&sb, buf, len);
  zt_strbuf_printf(&sb, "uplink %s, %zu session(s)\n",
                   zt_uplinks_any_up(&c->ups) ? "up" : "down",
                   n_channels(c));
  zt_uplinks_status(&c->ups, &sb, SIZE_MAX);
  const struct session *se;
  for (size_t pos = 0; (se = next_session(c, &pos));) {
    if (!se->t.inner)
      continue;
    zt_tunnel_status(&se->t, &sb);
    zq_format_stats(se->t.inner, qbuf, sizeof(qbuf));
    zt_strbuf_printf(&sb, "session %s intermediate #%u channel %u quic: %s\n",
                     se->agent, se->ui, se->t.channel, qbuf);
  }
  for (size_t i = 0; i < c->n_services; i++)
    zt_strbuf_printf(&sb, "service %s %s -> %s\n", c->services[i].name,
                     c->services[i].vip ? zt_ip4_str(c->services[i].vip, a)
                                        : "unregistered",
                     zt_ip4_str(c->services[i].backend, b));
  struct counter_srcs cs;
  conn_counter_srcs(c, &cs);
  zt_counters_text(&zt_connector_counters, cs.srcs, &sb);
  return (int)sb.off;
}

/* ---- read-only view (connector.h) --------------------------------------- */

void zt_connector_foreach_session(
    const struct zt_connector *c,
    void (*cb)(void *ud, const struct zt_connector_session_info *s),
    void *ud) {
  const struct session *s;
  for (size_t pos = 0; (s = next_session(c, &pos));) {
    struct zt_connector_session_info info = {
        s->t.channel, s->agent, s->agent_ip, s->n_vips, s->vips, s->t.inner,
        zt_keymap_get(&c->by_agent_ip, s->agent_ip) == s, s->ui};
    cb(ud, &info);
  }
}

/* ---- machine-readable status (docs/status.md) --------------------------- */

int zt_connector_status_json(const struct zt_connector *c, char *buf,
                             size_t len) {
  struct zt_strbuf sb;
  struct zt_jsonw w;
  zt_strbuf_init(&sb, buf, len);
  zt_jsonw_init(&w, &sb);
  zt_statusw_begin(&w, "connector", c->creds->own_name);
  zt_statusw_own_cert(&w, c->creds, c->io);
  zt_statusw_uplink_begin(&w, &c->ups.u[0], c->intermediate_name);
  zt_jsonw_end_object(&w);
  zt_uplinks_status_json(&c->ups, &w, SIZE_MAX);
  zt_jsonw_begin_array(&w, "services");
  for (size_t i = 0; i < c->n_services; i++) {
    zt_jsonw_begin_object(&w, NULL);
    zt_jsonw_str(&w, "name", c->services[i].name);
    zt_statusw_ip4(&w, "address", c->services[i].vip);
    zt_statusw_ip4(&w, "backend", c->services[i].backend);
    zt_jsonw_end_object(&w);
  }
  zt_jsonw_end_array(&w);
  zt_jsonw_begin_array(&w, "sessions");
  const struct session *se;
  for (size_t pos = 0; (se = next_session(c, &pos));) {
    zt_jsonw_begin_object(&w, NULL);
    zt_jsonw_str(&w, "peer", se->agent);
    zt_jsonw_str(&w, "role", "agent");
    zt_jsonw_u64(&w, "channel", se->t.channel);
    zt_jsonw_u64(&w, "intermediate", se->ui);
    zt_jsonw_str(&w, "state",
                 zt_tunnel_ready_now(&se->t) ? "ready" : "opening");
    zt_statusw_ip4(&w, "agent_address", se->agent_ip);
    zt_tunnel_status_json(&se->t, &w);
    zt_jsonw_end_object(&w);
  }
  zt_jsonw_end_array(&w);
  zt_jsonw_begin_object(&w, "counters");
  struct counter_srcs cs;
  conn_counter_srcs(c, &cs);
  zt_counters_json(&zt_connector_counters, cs.srcs, &w);
  zt_jsonw_end_object(&w);
  zt_jsonw_end_object(&w);
  return (int)sb.off;
}

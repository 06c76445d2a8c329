/*
 * The agent node. See agent.h.
 *
 * State: the uplink to the Intermediate; the service table it pushes (only
 * the services policy lets us reach); our tunnel address; and one
 * end-to-end session per connector, opened on the first packet for one of
 * its services. Packets that arrive before a session is ready wait in a
 * short queue; everything dropped is counted by reason.
 *
 * The Intermediate decides which services we may reach, but not where our
 * routes point: a service address outside our own service_range (a
 * gateway, a DNS server) is refused, logged and gets no route.
 */
#include "agent.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "countertab.h"
#include "ctrl.h"
#include "dnstun.h"
#include "e2e.h"
#include "ippkt.h"
#include "log.h"
#include "netaddr.h"
#include "roam.h"
#include "statusw.h"
#include "strbuf.h"
#include "tunnel.h"
#include "tunout.h"
#include "uplink.h"
#include "uplinkset.h"
#include "wire.h"

#define PENDING_MAX 32
#define SESSION_RETRY_MS 2000
#define NS_PER_MS 1000000ULL
/* With several Intermediates, the first WELCOME starts a short wait for
 * the others' handshakes, so the choice sees every RTT that comes in
 * time; after that, the best of those welcomed is taken at once. */
#define CHOOSE_WAIT_MS 500
/* Keepalive of an agent's uplinks when it has standbys: a live
 * Intermediate then answers at least every second, and one silent for
 * ZT_UPLINK_SILENT_NS is given up for another. */
#define STANDBY_KEEPALIVE_MS 1000

struct pending_pkt {
  uint16_t len;
  uint8_t data[ZT_TUN_MTU];
};

struct session {
  bool used;
  char connector[ZT_NAME_MAX + 1];
  uint32_t request_id;
  uint64_t retry_at; /* refused: not before this time */
  /* The session ended because its connector or the Intermediate went away
   * (not by choice): it is opened again, without waiting for a packet, as
   * soon as the Intermediate lists the connector online. */
  bool reopen;
  /* The inner session and its paths; t.channel is 0 until SESSION_READY,
   * and again while a direct session has no relay channel (the
   * Intermediate or the connector's uplink went away). */
  struct zt_tunnel t;
  struct zt_agent *agent;
  struct pending_pkt *pending; /* ring, allocated on first use */
  unsigned pend_head, pend_count;
};

/* A `ztna ping` in flight: its session may still be opening. */
#define AGENT_PINGS 16
struct agent_ping {
  bool used, sent;
  uint64_t cookie, deadline;
  uint32_t vip;
  size_t session; /* index into sessions[] */
  char target[ZT_NAME_MAX + 1];
};

struct zt_agent {
  /* Every configured Intermediate, connected; one of them in use (cur),
   * the others idle standbys (see "Several Intermediates" in
   * docs/architecture.md). */
  struct zt_uplinks ups;
  size_t cur;         /* SIZE_MAX: none in use */
  uint32_t welcomed;  /* bit i: uplink i is up and has sent its WELCOME */
  uint64_t choose_at; /* 0, or when to pick among the welcomed ones */
  bool chosen_once;   /* after the first choice, no waiting */
  uint32_t im_tunnel_ip[ZT_MAX_INTERMEDIATES]; /* from each one's WELCOME */
  struct zt_ctrl_msg *im_services[ZT_MAX_INTERMEDIATES]; /* last SERVICES */
  struct zt_tunnel_env env;
  const struct zt_io *io;
  struct zt_tls_creds *creds;
  char intermediate_name[ZT_NAME_MAX + 1];
  uint32_t tunnel_ip;
  uint32_t service_range; /* SERVICES addresses must be inside */
  uint8_t service_range_len;
  uint32_t next_request;
  size_t n_services;
  struct zt_ctrl_service services[ZT_MAX_SERVICES];
  struct session sessions[ZT_MAX_SERVICES];
  struct zt_ctrl_service incoming[ZT_MAX_SERVICES]; /* SERVICES, filtered */
  struct zt_agent_stats stats;
  struct zt_path_stats closed_paths; /* path counters of ended sessions */
  uint64_t now; /* time of the event being handled, for nested handlers */
  struct zt_ctrl_msg scratch; /* outgoing control message */
  struct agent_ping pings[AGENT_PINGS];
  /* Network changes (roam.h), one per Intermediate's connection; the
   * status shows the one in use. */
  struct zt_roam roam[ZT_MAX_INTERMEDIATES];
  struct zt_tunout out; /* TUN reads: MSS, fragments, too big */
  bool said_nothing_granted; /* this connection's empty SERVICES, logged */
  struct zt_dnstun dns;      /* DNS answered inside the TUN device */
  bool dns_routed;
};

static void tunnel_ping_result(void *owner, struct zt_tunnel *t,
                               uint64_t cookie, bool timed_out, bool direct,
                               uint64_t rtt_ns);
static void pings_send(struct zt_agent *a, struct session *s);
static void pings_expire(struct zt_agent *a);
static uint64_t pings_expiry(const struct zt_agent *a);
static void flush(struct zt_agent *a);
/* The sources of the agent's counter table (countertab.h), filled now. */
struct counter_srcs {
  struct zt_agent_gauges g;
  struct zt_path_stats paths;
  struct zt_uplink_stats ups;
  const void *srcs[ZT_AGENT_NSRC];
};
static void agent_counter_srcs(const struct zt_agent *a,
                               struct counter_srcs *cs);

/* ---- the Intermediate in use -------------------------------------------- */

static bool uplink_ok(const struct zt_agent *a) {
  return a->cur != SIZE_MAX && zt_uplink_is_up(&a->ups.u[a->cur]);
}

/* a->scratch to the Intermediate in use (dropped if there is none: the
 * sessions it concerns start over on the next one). */
static void send_ctrl(struct zt_agent *a) {
  if (a->cur != SIZE_MAX)
    zt_uplink_send_msg(&a->ups.u[a->cur], &a->scratch);
}

/* The one whose address status reports (the one in use, else the first). */
static const struct zt_uplink *shown_uplink(const struct zt_agent *a) {
  return &a->ups.u[a->cur != SIZE_MAX ? a->cur : 0];
}

/* ---- sessions ----------------------------------------------------------- */

static struct session *session_by_connector(struct zt_agent *a,
                                            const char *name) {
  for (size_t i = 0; i < ZT_MAX_SERVICES; i++)
    if (a->sessions[i].used && strcmp(a->sessions[i].connector, name) == 0)
      return &a->sessions[i];
  return NULL;
}

static struct session *session_by_channel(struct zt_agent *a, uint32_t ch) {
  for (size_t i = 0; i < ZT_MAX_SERVICES; i++)
    if (a->sessions[i].used && a->sessions[i].t.channel == ch && ch != 0)
      return &a->sessions[i];
  return NULL;
}

/* The session whose inner connection (or probe key) is `key`. */
static struct session *session_by_key(struct zt_agent *a, uint32_t key) {
  for (size_t i = 0; i < ZT_MAX_SERVICES; i++)
    if (a->sessions[i].used && key && zt_tunnel_key(&a->sessions[i].t) == key)
      return &a->sessions[i];
  return NULL;
}

static struct session *session_by_request(struct zt_agent *a, uint32_t id) {
  for (size_t i = 0; i < ZT_MAX_SERVICES; i++)
    if (a->sessions[i].used && a->sessions[i].request_id == id)
      return &a->sessions[i];
  return NULL;
}

static void session_close(struct zt_agent *a, struct session *s,
                          bool tell_intermediate) {
  if (tell_intermediate && s->t.channel) {
    a->scratch.type = ZT_MSG_SESSION_CLOSE;
    a->scratch.u.session_close.channel = s->t.channel;
    a->scratch.u.session_close.status = ZT_ERR_GONE;
    send_ctrl(a);
  }
  zt_path_stats_add(&a->closed_paths, &s->t.path.stats);
  zt_tunnel_free(&s->t);
  free(s->pending);
  memset(s, 0, sizeof(*s));
}

/* Ends the session's inner connection but keeps its slot, marked to be
 * opened again when its connector is back (apply_services). Packets held
 * for it stay held. */
static void session_end_for_reopen(struct zt_agent *a, struct session *s,
                                   bool tell_intermediate) {
  struct pending_pkt *pending = s->pending;
  unsigned head = s->pend_head, count = s->pend_count;
  char connector[ZT_NAME_MAX + 1];
  memcpy(connector, s->connector, sizeof(connector));
  s->pending = NULL;
  session_close(a, s, tell_intermediate);
  s->used = true;
  s->agent = a;
  s->reopen = true;
  memcpy(s->connector, connector, sizeof(s->connector));
  zt_tunnel_init(&s->t, &a->env, true, s->connector);
  s->pending = pending;
  s->pend_head = head;
  s->pend_count = count;
}

static void pending_push(struct zt_agent *a, struct session *s,
                         const uint8_t *pkt, size_t len) {
  if (len > sizeof(s->pending->data)) { /* tunout cut it to fit: never */
    a->stats.tun_pending_drops++;
    return;
  }
  if (!s->pending && !(s->pending = calloc(PENDING_MAX, sizeof(*s->pending)))) {
    a->stats.tun_pending_drops++;
    return;
  }
  if (s->pend_count == PENDING_MAX) { /* drop the oldest: it is the stalest */
    s->pend_head = (s->pend_head + 1) % PENDING_MAX;
    s->pend_count--;
    a->stats.tun_pending_drops++;
  }
  struct pending_pkt *p =
      &s->pending[(s->pend_head + s->pend_count) % PENDING_MAX];
  memcpy(p->data, pkt, len);
  p->len = (uint16_t)len;
  s->pend_count++;
}

static void pending_drain(struct session *s) {
  for (; s->pend_count; s->pend_count--) {
    struct pending_pkt *p = &s->pending[s->pend_head];
    zq_send_datagram(s->t.inner, p->data, p->len);
    s->pend_head = (s->pend_head + 1) % PENDING_MAX;
  }
  s->pend_head = 0;
}

static void send_session_open(struct zt_agent *a, struct session *s) {
  s->request_id = ++a->next_request ? a->next_request : ++a->next_request;
  a->scratch.type = ZT_MSG_SESSION_OPEN;
  a->scratch.u.session_open.request_id = s->request_id;
  snprintf(a->scratch.u.session_open.connector,
           sizeof(a->scratch.u.session_open.connector), "%s", s->connector);
  send_ctrl(a);
}

/* ---- inner connection handlers ------------------------------------------ */

static void inner_ready(struct zq_conn *q, void *ud) {
  struct session *s = ud;
  zt_info("end-to-end session with connector %s established (channel %u)",
          zq_peer_name(q), s->t.channel);
  s->agent->stats.sessions_opened++;
  zt_tunnel_ready(&s->t, s->agent->now);
  pending_drain(s);
  pings_send(s->agent, s);
}

static void inner_stream(struct zq_conn *q, const uint8_t *data, size_t len,
                         void *ud) {
  struct session *s = ud;
  (void)q;
  zt_tunnel_stream(&s->t, data, len);
}

static bool vip_of_connector(const struct zt_agent *a, uint32_t vip,
                             const char *connector) {
  for (size_t i = 0; i < a->n_services; i++)
    if (a->services[i].vip == vip &&
        strcmp(a->services[i].connector, connector) == 0)
      return true;
  return false;
}

static void inner_datagram(struct zq_conn *q, const uint8_t *pkt, size_t len,
                           void *ud) {
  struct session *s = ud;
  struct zt_agent *a = s->agent;
  struct zt_ip_info ip;
  (void)q;
  if (zt_ip_parse(pkt, len, &ip) != 0) {
    a->stats.rx_malformed++;
    return;
  }
  /* A connector may only answer from the addresses of its own services,
   * and only to us. */
  if (ip.dst != a->tunnel_ip || !vip_of_connector(a, ip.src, s->connector)) {
    a->stats.rx_policy_drops++;
    return;
  }
  a->stats.rx_packets++;
  a->io->tun_write(a->io->ud, pkt, len);
}

static const struct zq_handlers inner_handlers = {
    .on_ready = inner_ready,
    .on_stream = inner_stream,
    .on_datagram = inner_datagram,
};

/* The Intermediate shows which sessions run direct (ZT_MSG_PATH). */
static void report_path(struct zt_agent *a, struct session *s) {
  if (!s->t.channel || !uplink_ok(a))
    return;
  a->scratch.type = ZT_MSG_PATH;
  a->scratch.u.path.channel = s->t.channel;
  a->scratch.u.path.direct = zt_tunnel_is_direct(&s->t);
  send_ctrl(a);
}

static void tunnel_switched(void *owner, struct zt_tunnel *t) {
  struct zt_agent *a = owner;
  report_path(a, (struct session *)((char *)t - offsetof(struct session, t)));
}

/* A session that can carry packets with no relay channel: a direct one. */
static bool survives_without_relay(const struct session *s) {
  return zt_tunnel_ready_now(&s->t) && zt_tunnel_is_direct(&s->t);
}

static void session_ready(struct zt_agent *a, const struct zt_ctrl_msg *m,
                          uint64_t now) {
  struct session *s = session_by_request(a, m->u.session_ready.request_id);
  struct zq_config cfg;
  char err[256];

  if (!s)
    return;
  uint8_t status = m->u.session_ready.status;
  if (status != ZT_OK) {
    zt_warn("intermediate refused a session to connector %s: %s",
            s->connector, zt_status_name(status));
    a->stats.sessions_refused++;
    s->retry_at = now + SESSION_RETRY_MS * NS_PER_MS;
    s->request_id = 0;
    /* A direct session lives on without a channel until the Intermediate
     * says it may not: policy no longer grants it. */
    if ((s->t.inner || s->reopen) &&
        (status == ZT_ERR_NOT_ALLOWED || status == ZT_ERR_UNKNOWN_SERVICE)) {
      zt_warn("session with %s closed: no longer granted", s->connector);
      session_close(a, s, false);
    }
    return;
  }
  s->t.channel = m->u.session_ready.channel;
  s->request_id = 0;
  s->reopen = false;
  if (s->t.inner) { /* a session that outlived its channel: resumed */
    zt_info("session with connector %s has a relay channel again (%u)",
            s->connector, s->t.channel);
    report_path(a, s);
    return;
  }
  zt_e2e_config(&cfg, a->creds, ZT_ROLE_CONNECTOR, s->connector);
  s->t.inner = zq_client_new(
      &cfg, &inner_handlers, s, (const struct sockaddr *)&zt_e2e_agent_addr,
      sizeof(zt_e2e_agent_addr),
      (const struct sockaddr *)&zt_e2e_connector_addr,
      sizeof(zt_e2e_connector_addr), now, err, sizeof(err));
  if (!s->t.inner) {
    zt_err("cannot start session to %s: %s", s->connector, err);
    session_close(a, s, true);
  }
}

/* ---- uplink handlers ---------------------------------------------------- */

static bool connector_online(const struct zt_agent *a, const char *name) {
  for (size_t i = 0; i < a->n_services; i++)
    if (a->services[i].online && strcmp(a->services[i].connector, name) == 0)
      return true;
  return false;
}

static bool in_service_range(const struct zt_agent *a, uint32_t vip) {
  uint32_t mask =
      a->service_range_len ? ~0u << (32 - a->service_range_len) : 0;
  return (vip & mask) == a->service_range;
}

/* The services of m that we accept, into a->incoming; their count. */
static size_t filter_services(struct zt_agent *a, const struct zt_ctrl_msg *m) {
  char ipbuf[16], rbuf[16];
  size_t n = 0;
  for (size_t j = 0; j < m->u.services.n; j++) {
    const struct zt_ctrl_service *svc = &m->u.services.items[j];
    if (!in_service_range(a, svc->vip)) {
      a->stats.services_refused++;
      zt_warn("refused service %s at %s from the intermediate: outside "
              "service_range %s/%u, no route",
              svc->name, zt_ip4_str(svc->vip, ipbuf),
              zt_ip4_str(a->service_range, rbuf), a->service_range_len);
      continue;
    }
    if (svc->vip == a->dns.addr) { /* the DNS address is taken */
      a->stats.services_refused++;
      zt_warn("refused service %s at %s from the intermediate: that is the "
              "agent's dns_address",
              svc->name, zt_ip4_str(svc->vip, ipbuf));
      continue;
    }
    a->incoming[n++] = *svc;
  }
  return n;
}

static void activate(struct zt_agent *a, size_t i);

/* SERVICES names, per service, the connector the Intermediate chose for
 * us; it changes when that connector leaves or goes silent and the service
 * has others. Packets follow at once (tun_input looks the connector up per
 * packet); a session with a connector no service names any more is closed
 * here, at both ends. */
static void close_unused_sessions(struct zt_agent *a) {
  for (size_t i = 0; i < ZT_MAX_SERVICES; i++) {
    struct session *s = &a->sessions[i];
    bool named = false;
    for (size_t j = 0; j < a->n_services && !named; j++)
      named = strcmp(a->services[j].connector, s->connector) == 0;
    if (!s->used || named)
      continue;
    zt_info("session with connector %s closed: none of our services goes "
            "there any more",
            s->connector);
    session_close(a, s, true);
  }
}

static void apply_services(struct zt_agent *a, const struct zt_ctrl_msg *m) {
  char ipbuf[16];
  size_t n_new = filter_services(a, m);
  /* An agent that can reach nothing looks broken; say why, once per
   * connection: it is the Intermediate's policy, not the network. */
  if (m->u.services.n == 0 && !a->said_nothing_granted) {
    zt_warn("the intermediate's policy grants agent %s no services: add a "
            "rule {\"agent\": \"%s\", \"services\": [...]} to \"policy\" "
            "in the intermediate's configuration",
            a->creds->own_name, a->creds->own_name);
    a->said_nothing_granted = true;
  }
  /* Routes stay for offline services too, so their packets die in the
   * tunnel (counted) instead of leaking out of the default route. */
  for (size_t i = 0; i < a->n_services; i++) {
    bool kept = false;
    for (size_t j = 0; j < n_new && !kept; j++)
      kept = a->incoming[j].vip == a->services[i].vip;
    if (!kept && a->io->route)
      a->io->route(a->io->ud, a->services[i].vip, false);
  }
  for (size_t j = 0; j < n_new; j++) {
    const struct zt_ctrl_service *n = &a->incoming[j];
    bool had = false;
    for (size_t i = 0; i < a->n_services && !had; i++)
      had = a->services[i].vip == n->vip;
    if (!had && a->io->route)
      a->io->route(a->io->ud, n->vip, true);
    zt_info("service %s at %s via connector %s: %s", n->name,
            zt_ip4_str(n->vip, ipbuf), n->connector,
            n->online ? "online" : "offline");
  }
  a->n_services = n_new;
  memcpy(a->services, a->incoming, n_new * sizeof(a->services[0]));
  close_unused_sessions(a);
  /* A connector that comes (back) online ends any wait after a refusal:
   * after an Intermediate restart agents often reconnect before their
   * connectors, and packets held meanwhile should not wait for a timer. */
  for (size_t i = 0; i < ZT_MAX_SERVICES; i++) {
    struct session *s = &a->sessions[i];
    if (s->used && !s->t.channel && !s->request_id &&
        connector_online(a, s->connector)) {
      s->retry_at = 0;
      /* A direct session that lost its channel asks for one again: the
       * Intermediate checks policy anew, and the relay is its fallback. A
       * session cut off by its connector's or the Intermediate's leaving
       * comes back as soon as its connector does. */
      if (s->pend_count || s->t.inner || s->reopen) {
        if (s->reopen)
          zt_info("connector %s is online again: reopening the session",
                  s->connector);
        send_session_open(a, s);
      }
    }
  }
}

static void on_up(struct zt_uplink *u, void *ud) {
  struct zt_agent *a = ud;
  a->scratch.type = ZT_MSG_HELLO;
  a->scratch.u.hello.version = ZT_PROTOCOL_VERSION;
  a->scratch.u.hello.prev_tunnel_ip = a->tunnel_ip;
  zt_uplink_send_msg(u, &a->scratch);
  /* With one Intermediate there is nothing to choose: in use from now. */
  if (a->ups.n == 1)
    activate(a, 0);
}

/* The address the Intermediate in use gave us. Several Intermediates give
 * the same one (each starts an identity's search at a hash of its name),
 * unless that address is bound to someone else at one of them. */
static void set_tunnel_ip(struct zt_agent *a, uint32_t ip) {
  char ipbuf[16], old[16];
  if (ip == a->tunnel_ip || ip == 0) /* 0: no WELCOME yet */
    return;
  if (a->tunnel_ip)
    zt_warn("tunnel address changes from %s to %s: connections through the "
            "tunnel must start over",
            zt_ip4_str(a->tunnel_ip, old), zt_ip4_str(ip, ipbuf));
  a->tunnel_ip = ip;
  zt_info("tunnel address %s", zt_ip4_str(a->tunnel_ip, ipbuf));
  if (a->io->tun_addr)
    a->io->tun_addr(a->io->ud, a->tunnel_ip);
  /* The DNS address routes into the tunnel once the device has an
   * address to send queries from. */
  if (a->dns.addr && !a->dns_routed && a->io->route) {
    a->io->route(a->io->ud, a->dns.addr, true);
    a->dns_routed = true;
  }
}

static void send_all_candidates(struct zt_agent *a) {
  for (size_t i = 0; i < ZT_MAX_SERVICES; i++)
    if (a->sessions[i].used)
      zt_tunnel_send_candidates(&a->sessions[i].t);
}

/* Every uplink's WELCOME is remembered; only the one in use acts on it. */
static void on_welcome(struct zt_agent *a, size_t i,
                       const struct zt_ctrl_msg *m) {
  char addr[64], ipbuf[16];
  zt_info("intermediate #%zu knows us as agent %s at %s, sees us at %s", i,
          m->u.welcome.identity, zt_ip4_str(m->u.welcome.tunnel_ip, ipbuf),
          zt_netaddr_str((const struct sockaddr *)&m->u.welcome.observed, addr,
                         sizeof(addr)));
  a->welcomed |= 1u << i;
  a->im_tunnel_ip[i] = m->u.welcome.tunnel_ip;
  if (i == a->cur) {
    send_all_candidates(a);
    set_tunnel_ip(a, m->u.welcome.tunnel_ip);
  }
}

/* Uplink i becomes the one in use: our address and service list are what
 * it said, and the sessions ask it for channels (apply_services). */
static void activate(struct zt_agent *a, size_t i) {
  char addr[64];
  const struct zt_uplink *u = &a->ups.u[i];
  a->cur = i;
  a->choose_at = 0;
  a->chosen_once = true;
  a->env.up = &a->ups.u[i];
  zt_info("using intermediate #%zu at %s (rtt %.1f ms)", i,
          zt_netaddr_str((const struct sockaddr *)&u->server, addr,
                         sizeof(addr)),
          (double)zt_uplink_rtt_ns(u) / 1e6);
  set_tunnel_ip(a, a->im_tunnel_ip[i]);
  send_all_candidates(a);
  if (a->im_services[i])
    apply_services(a, a->im_services[i]);
}

/* With no Intermediate in use: the one with the lowest RTT among the
 * welcomed, once all have answered or the first wait is over. */
static void choose(struct zt_agent *a) {
  if (a->cur != SIZE_MAX || !a->welcomed)
    return;
  if (!a->choose_at)
    a->choose_at =
        a->now + (a->chosen_once ? 0 : CHOOSE_WAIT_MS * NS_PER_MS);
  bool all = a->welcomed == (uint32_t)((1ull << a->ups.n) - 1);
  if (!all && a->now < a->choose_at)
    return;
  size_t best = zt_uplinks_best(&a->ups, a->welcomed, a->now);
  if (best != SIZE_MAX)
    activate(a, best);
}

/* A copy of each uplink's last SERVICES, for when it comes into use. */
static void keep_services(struct zt_agent *a, size_t i,
                          const struct zt_ctrl_msg *m) {
  if (!a->im_services[i] &&
      !(a->im_services[i] = malloc(sizeof(*a->im_services[i]))))
    return;
  *a->im_services[i] = *m;
}

static void on_msg(struct zt_uplink *u, const struct zt_ctrl_msg *m, void *ud) {
  struct zt_agent *a = ud;
  size_t ui = zt_uplinks_index(&a->ups, u);
  char addr[64];
  if (m->type == ZT_MSG_SERVICES)
    keep_services(a, ui, m);
  if (m->type == ZT_MSG_WELCOME) {
    on_welcome(a, ui, m);
    choose(a);
    return;
  }
  if (ui != a->cur) /* a standby: nothing else of it matters now */
    return;
  switch (m->type) {
  case ZT_MSG_OBSERVED:
    zt_info("intermediate now sees us at %s",
            zt_netaddr_str((const struct sockaddr *)&m->u.observed.observed,
                           addr, sizeof(addr)));
    for (size_t i = 0; i < ZT_MAX_SERVICES; i++)
      if (a->sessions[i].used)
        zt_tunnel_send_candidates(&a->sessions[i].t);
    break;
  case ZT_MSG_SERVICES:
    apply_services(a, m);
    break;
  case ZT_MSG_SESSION_READY:
    session_ready(a, m, a->now);
    break;
  case ZT_MSG_SESSION_CLOSE: {
    struct session *s = session_by_channel(a, m->u.session_close.channel);
    if (s && m->u.session_close.status == ZT_ERR_PEER_LOST &&
        survives_without_relay(s)) {
      zt_info("session with %s: relay channel closed (the connector lost "
              "the intermediate); staying on the direct path",
              s->connector);
      s->t.channel = 0;
    } else if (s && (m->u.session_close.status == ZT_ERR_PEER_LOST ||
                     m->u.session_close.status == ZT_ERR_REPLACED)) {
      zt_warn("session with %s closed: the connector left the intermediate%s; "
              "reopening when it is back",
              s->connector,
              m->u.session_close.status == ZT_ERR_REPLACED
                  ? " (a new instance of it connected)"
                  : "");
      session_end_for_reopen(a, s, false);
    } else if (s) {
      zt_info("session with %s closed by intermediate: %s", s->connector,
              zt_status_name(m->u.session_close.status));
      session_close(a, s, false);
    }
    break;
  }
  case ZT_MSG_ERROR:
    zt_warn("intermediate reports error %u: %s", m->u.error.status,
            m->u.error.reason);
    break;
  default:
    zt_dbg("agent: ignoring %s", zt_ctrl_type_name(m->type));
  }
}

static void on_relay(struct zt_uplink *u, uint32_t channel,
                     const uint8_t *payload, size_t len, void *ud) {
  struct zt_agent *a = ud;
  struct session *s = session_by_channel(a, channel);
  /* Our channels are the Intermediate-in-use's: another's are not ours. */
  if (zt_uplinks_index(&a->ups, u) != a->cur)
    s = NULL;
  if (!s || !s->t.inner) {
    a->stats.relay_unknown_channel++;
    return;
  }
  zt_tunnel_feed_relay(&s->t, payload, len, a->now);
}

static void on_down(struct zt_uplink *u, const char *reason, void *ud) {
  struct zt_agent *a = ud;
  size_t ui = zt_uplinks_index(&a->ups, u);
  (void)reason;
  a->welcomed &= ~(1u << ui);
  /* Its list dies with the connection: the next one sends a fresh one. */
  free(a->im_services[ui]);
  a->im_services[ui] = NULL;
  if (ui != a->cur)
    return; /* a standby: it reconnects on its own */
  /* Channels die with the Intermediate's connection. Relayed sessions
   * start over after reconnecting; direct ones carry on without it and ask
   * for a channel again once it is back. The tunnel address and routes
   * stay, so a TCP connection through the tunnel survives if we get the
   * same address. A replaced agent (another instance of us runs) stops
   * everything. */
  for (size_t i = 0; i < ZT_MAX_SERVICES; i++) {
    struct session *s = &a->sessions[i];
    if (!s->used)
      continue;
    s->request_id = 0;
    if (zt_uplink_is_replaced(u)) {
      session_close(a, s, false);
    } else if (survives_without_relay(s)) {
      s->t.channel = 0;
      zt_info("session with %s stays on its direct path without the "
              "intermediate", s->connector);
    } else {
      session_end_for_reopen(a, s, false); /* back with the Intermediate */
    }
  }
  a->said_nothing_granted = false;
  /* Nothing is known to be online until the Intermediate says so again. */
  for (size_t i = 0; i < a->n_services; i++)
    a->services[i].online = false;
  a->cur = SIZE_MAX;
  if (!zt_uplink_is_replaced(u)) {
    choose(a); /* a standby takes over at once, if one is up */
    if (a->cur != SIZE_MAX)
      zt_info("moved from intermediate #%zu to #%zu", ui, a->cur);
  }
}

static const struct zt_uplink_handlers uplink_handlers = {
    .on_up = on_up,
    .on_msg = on_msg,
    .on_relay = on_relay,
    .on_down = on_down,
};

/* ---- driver entry points ------------------------------------------------ */

struct zt_agent *zt_agent_new(const struct zt_agent_options *opt,
                              const struct zt_io *io, uint64_t now) {
  struct zt_agent *a = calloc(1, sizeof(*a));
  struct zq_config cfg;
  if (!a)
    return NULL;
  a->io = io;
  a->creds = opt->creds;
  a->now = now;
  a->service_range = opt->service_range;
  a->service_range_len = opt->service_range_len;
  if (opt->dns_domain && opt->dns_domain[0] &&
      zt_dns_domain_valid(opt->dns_domain)) {
    a->dns.addr = opt->dns_addr;
    snprintf(a->dns.domain, sizeof(a->dns.domain), "%s", opt->dns_domain);
  }
  snprintf(a->intermediate_name, sizeof(a->intermediate_name), "%s",
           opt->intermediate_name);
  zq_config_defaults(&cfg);
  cfg.creds = opt->creds;
  cfg.alpn = ZT_ALPN_OUTER;
  cfg.expect.roles = 1u << ZT_ROLE_INTERMEDIATE;
  cfg.expect.name = a->intermediate_name;
  if (opt->n_more_servers)
    cfg.keepalive_ms = STANDBY_KEEPALIVE_MS;
  a->cur = SIZE_MAX;
  zt_uplinks_init(&a->ups, &cfg, io, opt->local, opt->locallen, opt->server,
                  opt->serverlen, opt->n_more_servers, opt->more_servers,
                  opt->more_serverlens, &uplink_handlers, a);
  a->env = (struct zt_tunnel_env){
      .io = io,
      .up = &a->ups.u[0],
      .direct = opt->direct,
      .owner = a,
      .switched = tunnel_switched,
      .ping_result = tunnel_ping_result,
  };
  for (size_t i = 0; i < a->ups.n; i++)
    zt_roam_init(&a->roam[i], &a->ups.u[i]);
  zt_uplinks_start(&a->ups, now);
  return a;
}

void zt_agent_shutdown(struct zt_agent *a, uint64_t now) {
  a->now = now;
  /* Connectors hear that our sessions end (over whichever path each
   * takes), then the Intermediate that we leave. */
  for (size_t i = 0; i < ZT_MAX_SERVICES; i++) {
    struct session *s = &a->sessions[i];
    if (s->used)
      zt_tunnel_close(&s->t, "agent shutting down", now);
  }
  zt_uplinks_shutdown(&a->ups, now);
}

void zt_agent_free(struct zt_agent *a) {
  if (!a)
    return;
  for (size_t i = 0; i < ZT_MAX_SERVICES; i++)
    if (a->sessions[i].used)
      session_close(a, &a->sessions[i], false);
  zt_uplinks_free(&a->ups);
  for (size_t i = 0; i < ZT_MAX_INTERMEDIATES; i++)
    free(a->im_services[i]);
  zt_tunout_free(&a->out);
  free(a);
}

/* Inner connections first: their packets become relay frames that the
 * uplink then sends (or go straight out on a direct path). */
static void flush(struct zt_agent *a) {
  for (size_t i = 0; i < ZT_MAX_SERVICES; i++) {
    struct session *s = &a->sessions[i];
    if (!s->used || !s->t.inner)
      continue;
    if (!zt_tunnel_flush(&s->t, a->now)) {
      /* The connector closed it (it is leaving, or restarting) or went
       * silent: open it again when the Intermediate lists it online. */
      enum zq_end end = zq_end_kind(s->t.inner);
      bool reopen = end == ZQ_END_PEER_CLOSED || end == ZQ_END_TIMEOUT;
      zt_warn("session with connector %s ended: %s%s", s->connector,
              zq_close_reason(s->t.inner),
              reopen ? "; reopening when it is back" : "");
      if (reopen)
        session_end_for_reopen(a, s, true);
      else
        session_close(a, s, true);
    }
  }
  zt_uplinks_flush(&a->ups, a->now);
}

/* One socket carries the uplink, every session's direct packets and their
 * probes: a probe names its session by key, a QUIC packet by the key its
 * connection ID starts with. Only what matches nothing and comes from the
 * Intermediate's address goes to the uplink (a Stateless Reset carries no
 * key of ours). */
void zt_agent_feed_udp(struct zt_agent *a, const struct sockaddr *from,
                       socklen_t fromlen, const uint8_t *pkt, size_t len,
                       uint64_t now) {
  struct session *s;
  struct zt_uplink *u;
  uint32_t key;
  a->now = now;
  if (zt_probe_match(pkt, len)) {
    if (zt_probe_dst_key(pkt, len, &key) == 0 && (s = session_by_key(a, key)))
      zt_tunnel_feed_direct(&s->t, from, fromlen, pkt, len, now);
    else
      a->stats.direct_unknown++;
  } else if (zq_packet_key(pkt, len, &key) == 0 &&
             (s = session_by_key(a, key))) {
    zt_tunnel_feed_direct(&s->t, from, fromlen, pkt, len, now);
  } else if ((u = zt_uplinks_owner(&a->ups, from, pkt, len))) {
    zt_uplink_feed(u, from, fromlen, pkt, len, now);
  } else {
    a->stats.direct_unknown++;
  }
  flush(a);
}

static const struct zt_ctrl_service *service_by_vip(const struct zt_agent *a,
                                                    uint32_t vip) {
  for (size_t i = 0; i < a->n_services; i++)
    if (a->services[i].vip == vip)
      return &a->services[i];
  return NULL;
}

static struct session *session_for(struct zt_agent *a, const char *connector) {
  struct session *s = session_by_connector(a, connector);
  if (s)
    return s;
  for (size_t i = 0; i < ZT_MAX_SERVICES; i++) {
    if (!a->sessions[i].used) {
      s = &a->sessions[i];
      s->used = true;
      s->agent = a;
      zt_tunnel_init(&s->t, &a->env, true, connector);
      /* memcpy, not snprintf: gcc cannot tell that `connector` never points
       * into this (free) slot and warns about overlap. */
      size_t n = strnlen(connector, sizeof(s->connector) - 1);
      memcpy(s->connector, connector, n);
      s->connector[n] = 0;
      return s;
    }
  }
  return NULL;
}

static int send_inner(void *q, const uint8_t *pkt, size_t len) {
  return zq_send_datagram(q, pkt, len);
}

struct pending_ctx {
  struct zt_agent *a;
  struct session *s;
};

static int pending_push_cb(void *ud, const uint8_t *pkt, size_t len) {
  struct pending_ctx *pc = ud;
  pending_push(pc->a, pc->s, pkt, len);
  return 0;
}

/* A packet to the DNS address: answered from the services we hold. */
static bool answer_dns(struct zt_agent *a, const uint8_t *pkt, size_t len,
                       const struct zt_ip_info *ip) {
  struct zt_dns_entry table[ZT_MAX_SERVICES];
  if (!a->dns.addr || ip->dst != a->dns.addr)
    return false;
  for (size_t i = 0; i < a->n_services; i++)
    table[i] = (struct zt_dns_entry){a->services[i].name, a->services[i].vip};
  return zt_dnstun_handle(&a->dns, pkt, len, ip, table, a->n_services,
                          a->io->tun_write, a->io->ud);
}

void zt_agent_feed_tun(struct zt_agent *a, const uint8_t *pkt, size_t len,
                       uint64_t now) {
  struct zt_ip_info ip;
  const struct zt_ctrl_service *svc;
  struct session *s;

  a->now = now;
  a->stats.tun_packets++;
  int perr = zt_ip_parse(pkt, len, &ip);
  if (perr != 0) {
    /* IPv6 is not carried yet; the kernel sends some (router and multicast
     * listener solicitations) as soon as the device is up. */
    if (perr == ZT_IP_EVERSION)
      a->stats.tun_not_ipv4++;
    else
      a->stats.tun_malformed++;
    return;
  }
  if (a->tunnel_ip == 0 || ip.src != a->tunnel_ip) {
    a->stats.tun_bad_source++;
    return;
  }
  if (answer_dns(a, pkt, len, &ip))
    return;
  if (!(svc = service_by_vip(a, ip.dst))) {
    a->stats.tun_no_service++;
    return;
  }
  /* A session that is up carries the packet whatever the Intermediate's
   * state: a direct one works without it. */
  s = session_by_connector(a, svc->connector);
  if (s && zt_tunnel_ready_now(&s->t)) {
    if (zt_tunout_send(&a->out, pkt, len, zq_max_datagram(s->t.inner), now,
                       send_inner, s->t.inner, a->io->tun_write,
                       a->io->ud) == ZT_TUNOUT_TOO_BIG)
      a->stats.tun_too_big++;
    flush(a);
    return;
  }
  if (!svc->online) {
    a->stats.tun_service_offline++;
    return;
  }
  if (!uplink_ok(a)) {
    a->stats.tun_no_uplink++;
    return;
  }
  if (!(s = session_for(a, svc->connector))) {
    a->stats.tun_pending_drops++;
    return;
  }
  /* Held until the session is up, cut to the size it will most likely
   * carry. */
  struct pending_ctx pc = {a, s};
  if (zt_tunout_send(&a->out, pkt, len, ZT_INNER_DGRAM_MAX, now,
                     pending_push_cb, &pc, a->io->tun_write,
                     a->io->ud) == ZT_TUNOUT_TOO_BIG)
    a->stats.tun_too_big++;
  if (!s->request_id && !s->t.channel && now >= s->retry_at)
    send_session_open(a, s);
  flush(a);
}

static bool has_standbys(const struct zt_agent *a) { return a->ups.n > 1; }

/* Refused earlier, packets held (or a session to reopen), no request in
 * flight. */
static bool waiting_to_retry(const struct session *s) {
  return s->used && !s->t.channel && !s->request_id &&
         (s->pend_count || s->t.inner || s->reopen) && s->retry_at;
}

uint64_t zt_agent_expiry(const struct zt_agent *a) {
  uint64_t t = zt_uplinks_expiry(&a->ups);
  uint64_t p = pings_expiry(a);
  if (p < t)
    t = p;
  if (a->cur == SIZE_MAX && a->choose_at && a->choose_at < t)
    t = a->choose_at;
  if (has_standbys(a) && uplink_ok(a)) {
    uint64_t silent = zt_uplinks_silent_at(&a->ups.u[a->cur]);
    if (silent < t)
      t = silent;
  }
  for (size_t i = 0; i < a->ups.n; i++)
    if ((p = zt_roam_expiry(&a->roam[i])) < t)
      t = p;
  for (size_t i = 0; i < ZT_MAX_SERVICES; i++) {
    const struct session *s = &a->sessions[i];
    if (s->used) {
      uint64_t e = zt_tunnel_expiry(&s->t);
      if (e < t)
        t = e;
    }
    if (waiting_to_retry(s) && s->retry_at < t)
      t = s->retry_at;
  }
  return t;
}

void zt_agent_handle_expiry(struct zt_agent *a, uint64_t now) {
  a->now = now;
  for (size_t i = 0; i < ZT_MAX_SERVICES; i++) {
    struct session *s = &a->sessions[i];
    if (s->used && zt_tunnel_expiry(&s->t) <= now)
      zt_tunnel_handle_expiry(&s->t, now);
    /* Packets held after a refusal: ask again when the wait is over. */
    if (waiting_to_retry(s) && s->retry_at <= now && uplink_ok(a) &&
        connector_online(a, s->connector))
      send_session_open(a, s);
  }
  for (size_t i = 0; i < a->ups.n; i++)
    zt_roam_handle_expiry(&a->roam[i], &a->ups.u[i], now);
  zt_uplinks_handle_expiry(&a->ups, now);
  /* The Intermediate in use went quiet: a standby is there, so do not wait
   * for the idle timeout (30 s) to move. */
  if (has_standbys(a) && uplink_ok(a) &&
      zt_uplinks_silent(&a->ups.u[a->cur], now))
    zt_uplink_abandon(&a->ups.u[a->cur], "intermediate silent", now);
  choose(a);
  pings_expire(a);
  flush(a);
}

void zt_agent_network_changed(struct zt_agent *a, const struct zt_netchange *n,
                              uint64_t now) {
  a->now = now;
  /* Every Intermediate's connection moves: the standbys are the
   * failover targets and must live on the new network too. */
  for (size_t i = 0; i < a->ups.n; i++)
    zt_roam_on_change(&a->roam[i], &a->ups.u[i], n, now);
  /* Our candidates changed with our addresses: peers probe the new ones
   * (the Intermediate's OBSERVED, once the move is seen, repeats this). */
  for (size_t i = 0; i < ZT_MAX_SERVICES; i++)
    if (a->sessions[i].used)
      zt_tunnel_send_candidates(&a->sessions[i].t);
  flush(a);
}

const struct zt_agent_stats *zt_agent_get_stats(const struct zt_agent *a) {
  return &a->stats;
}

uint32_t zt_agent_tunnel_addr(const struct zt_agent *a) { return a->tunnel_ip; }

/* Connected means accepted: with TLS 1.3 our handshake completes before
 * the Intermediate has checked our certificate, so only its WELCOME says
 * we are in (a refused agent is "up" for a round trip otherwise). */
bool zt_agent_is_connected(const struct zt_agent *a) {
  return uplink_ok(a) && a->ups.u[a->cur].welcomed;
}

size_t zt_agent_intermediate_in_use(const struct zt_agent *a) {
  return a->cur;
}

bool zt_agent_service_online(const struct zt_agent *a, uint32_t vip) {
  const struct zt_ctrl_service *svc = service_by_vip(a, vip);
  return svc && svc->online;
}

bool zt_agent_session_ready(const struct zt_agent *a, uint32_t vip) {
  const struct zt_ctrl_service *svc = service_by_vip(a, vip);
  if (!svc)
    return false;
  for (size_t i = 0; i < ZT_MAX_SERVICES; i++) {
    const struct session *s = &a->sessions[i];
    if (s->used && zt_tunnel_ready_now(&s->t) &&
        strcmp(s->connector, svc->connector) == 0)
      return true;
  }
  return false;
}

int zt_agent_status(const struct zt_agent *a, char *buf, size_t len) {
  char ipbuf[16];
  char qbuf[256];
  struct zt_strbuf sb;
  zt_strbuf_init(&sb, buf, len);
  zt_strbuf_printf(&sb, "uplink %s, tunnel address %s, rtt %.1f ms\n",
                   uplink_ok(a) ? "up" : "down",
                   zt_ip4_str(a->tunnel_ip, ipbuf),
                   (double)zt_uplink_rtt_ns(shown_uplink(a)) / 1e6);
  zt_uplinks_status(&a->ups, &sb, a->cur);
  for (size_t i = 0; i < a->n_services; i++)
    zt_strbuf_printf(&sb, "service %s %s via %s %s\n", a->services[i].name,
                     zt_ip4_str(a->services[i].vip, ipbuf),
                     a->services[i].connector,
                     a->services[i].online ? "online" : "offline");
  for (size_t i = 0; i < ZT_MAX_SERVICES; i++) {
    const struct session *s = &a->sessions[i];
    if (s->used) {
      zt_strbuf_printf(&sb, "session %s channel %u %s\n", s->connector,
                       s->t.channel,
                       zt_tunnel_ready_now(&s->t) ? "ready" : "opening");
      zt_tunnel_status(&s->t, &sb);
      if (s->t.inner) {
        zq_format_stats(s->t.inner, qbuf, sizeof(qbuf));
        zt_strbuf_printf(&sb, "session %s quic: %s\n", s->connector, qbuf);
      }
    }
  }
  struct counter_srcs cs;
  agent_counter_srcs(a, &cs);
  zt_counters_text(&zt_agent_counters, cs.srcs, &sb);
  zt_dnstun_status(&a->dns, &sb);
  zt_roam_status(&a->roam[a->cur == SIZE_MAX ? 0 : a->cur], &sb);
  return (int)sb.off;
}

/* ---- machine-readable status (docs/status.md) --------------------------- */

int zt_agent_status_json(const struct zt_agent *a, char *buf, size_t len) {
  struct zt_strbuf sb;
  struct zt_jsonw w;
  zt_strbuf_init(&sb, buf, len);
  zt_jsonw_init(&w, &sb);
  zt_statusw_begin(&w, "agent", a->creds->own_name);
  zt_statusw_own_cert(&w, a->creds, a->io);
  zt_statusw_uplink_begin(&w, shown_uplink(a), a->intermediate_name);
  zt_statusw_ip4(&w, "tunnel_address", a->tunnel_ip);
  zt_jsonw_end_object(&w);
  zt_uplinks_status_json(&a->ups, &w, a->cur);
  zt_jsonw_begin_array(&w, "services");
  for (size_t i = 0; i < a->n_services; i++) {
    zt_jsonw_begin_object(&w, NULL);
    zt_jsonw_str(&w, "name", a->services[i].name);
    zt_statusw_ip4(&w, "address", a->services[i].vip);
    zt_jsonw_str(&w, "connector", a->services[i].connector);
    zt_jsonw_bool(&w, "online", a->services[i].online);
    zt_jsonw_end_object(&w);
  }
  zt_jsonw_end_array(&w);
  zt_jsonw_begin_array(&w, "sessions");
  for (size_t i = 0; i < ZT_MAX_SERVICES; i++) {
    const struct session *s = &a->sessions[i];
    if (!s->used)
      continue;
    zt_jsonw_begin_object(&w, NULL);
    zt_jsonw_str(&w, "peer", s->connector);
    zt_jsonw_str(&w, "role", "connector");
    zt_jsonw_u64(&w, "channel", s->t.channel);
    zt_jsonw_str(&w, "state", zt_tunnel_ready_now(&s->t) ? "ready" : "opening");
    zt_tunnel_status_json(&s->t, &w);
    zt_jsonw_end_object(&w);
  }
  zt_jsonw_end_array(&w);
  zt_jsonw_begin_object(&w, "counters");
  struct counter_srcs cs;
  agent_counter_srcs(a, &cs);
  zt_counters_json(&zt_agent_counters, cs.srcs, &w);
  if (a->dns.addr)
    zt_counters_json(&zt_agent_dns_counters, cs.srcs, &w);
  zt_roam_status_json(&a->roam[a->cur == SIZE_MAX ? 0 : a->cur], &w, a->now);
  zt_jsonw_end_object(&w);
  zt_jsonw_end_object(&w);
  return (int)sb.off;
}

uint32_t zt_agent_dns_addr(const struct zt_agent *a) { return a->dns.addr; }
const struct zt_dnstun_stats *zt_agent_dns_stats(const struct zt_agent *a) {
  return &a->dns.st;
}

/* ---- ztna ping ---------------------------------------------------------- */

static struct agent_ping *ping_by_cookie(struct zt_agent *a, uint64_t cookie) {
  for (size_t i = 0; i < AGENT_PINGS; i++)
    if (a->pings[i].used && a->pings[i].cookie == cookie)
      return &a->pings[i];
  return NULL;
}

static void ping_report(struct zt_agent *a, struct agent_ping *pg,
                        const char *error, bool direct, uint64_t rtt_ns) {
  char buf[512], ip[16];
  struct zt_strbuf sb;
  struct zt_jsonw w;
  struct session *s = &a->sessions[pg->session];
  zt_strbuf_init(&sb, buf, sizeof(buf));
  zt_jsonw_init(&w, &sb);
  zt_jsonw_begin_object(&w, NULL);
  zt_jsonw_str(&w, "target", pg->target);
  zt_jsonw_str(&w, "peer", s->connector);
  zt_jsonw_str(&w, "address", zt_ip4_str(pg->vip, ip));
  if (error) {
    zt_jsonw_str(&w, "error", error);
  } else {
    zt_jsonw_str(&w, "path", direct ? "direct" : "relay");
    if (direct)
      zt_statusw_addr(&w, "remote", (const struct sockaddr *)&s->t.path.remote,
                      s->t.path.remotelen);
    else
      zt_statusw_relay_remote(&w, "remote", shown_uplink(a));
    zt_jsonw_u64(&w, "rtt_us", rtt_ns / 1000);
  }
  zt_jsonw_end_object(&w);
  pg->used = false;
  if (a->io->ping_result && sb.off < sizeof(buf))
    a->io->ping_result(a->io->ud, pg->cookie, buf);
}

static void tunnel_ping_result(void *owner, struct zt_tunnel *t,
                               uint64_t cookie, bool timed_out, bool direct,
                               uint64_t rtt_ns) {
  struct zt_agent *a = owner;
  struct agent_ping *pg = ping_by_cookie(a, cookie);
  (void)t;
  if (pg)
    ping_report(a, pg, timed_out ? "timeout" : NULL, direct, rtt_ns);
}

/* Pings held until their session is up go out now. */
static void pings_send(struct zt_agent *a, struct session *s) {
  for (size_t i = 0; i < AGENT_PINGS; i++) {
    struct agent_ping *pg = &a->pings[i];
    if (!pg->used || pg->sent || &a->sessions[pg->session] != s)
      continue;
    if (zt_tunnel_ping(&s->t, pg->cookie, a->now) == 0)
      pg->sent = true;
    else
      ping_report(a, pg, "no path to the connector", false, 0);
  }
}

/* Held pings whose session never came up, and the answers of sessions
 * that ended. */
static void pings_expire(struct zt_agent *a) {
  for (size_t i = 0; i < AGENT_PINGS; i++) {
    struct agent_ping *pg = &a->pings[i];
    if (!pg->used)
      continue;
    if (!a->sessions[pg->session].used)
      ping_report(a, pg, "session closed", false, 0);
    else if (a->now >= pg->deadline)
      ping_report(a, pg, pg->sent ? "timeout" : "timeout: no session", false,
                  0);
  }
}

static uint64_t pings_expiry(const struct zt_agent *a) {
  uint64_t t = UINT64_MAX;
  for (size_t i = 0; i < AGENT_PINGS; i++)
    if (a->pings[i].used && a->pings[i].deadline < t)
      t = a->pings[i].deadline;
  return t;
}

static const struct zt_ctrl_service *service_by_target(const struct zt_agent *a,
                                                       const char *target) {
  uint32_t vip;
  for (size_t i = 0; i < a->n_services; i++)
    if (strcmp(a->services[i].name, target) == 0)
      return &a->services[i];
  if (zt_ip4_parse(target, &vip) == 0)
    return service_by_vip(a, vip);
  return NULL;
}

int zt_agent_ping(struct zt_agent *a, const char *target, uint64_t cookie,
                  uint64_t now, char *err, size_t errlen) {
  const struct zt_ctrl_service *svc = service_by_target(a, target);
  struct agent_ping *pg = NULL;
  struct session *s;

  a->now = now;
  if (!svc) {
    snprintf(err, errlen, "no service '%s' is granted to this agent", target);
    return -1;
  }
  for (size_t i = 0; i < AGENT_PINGS && !pg; i++)
    if (!a->pings[i].used)
      pg = &a->pings[i];
  if (!pg) {
    snprintf(err, errlen, "too many pings in flight");
    return -1;
  }
  s = session_by_connector(a, svc->connector);
  if (!s || !zt_tunnel_ready_now(&s->t)) {
    /* Open the session as a packet for the service would. */
    if (!svc->online || !uplink_ok(a)) {
      snprintf(err, errlen, "service '%s' is offline", svc->name);
      return -1;
    }
    if (!(s = session_for(a, svc->connector))) {
      snprintf(err, errlen, "no room for another session");
      return -1;
    }
    if (!s->request_id && !s->t.channel)
      send_session_open(a, s);
  }
  memset(pg, 0, sizeof(*pg));
  pg->used = true;
  pg->cookie = cookie;
  pg->vip = svc->vip;
  pg->session = (size_t)(s - a->sessions);
  pg->deadline = now + ZT_PING_TIMEOUT_MS * NS_PER_MS;
  snprintf(pg->target, sizeof(pg->target), "%s", target);
  if (zt_tunnel_ready_now(&s->t)) {
    if (zt_tunnel_ping(&s->t, cookie, now) != 0) {
      pg->used = false;
      snprintf(err, errlen, "no path to connector %s", s->connector);
      return -1;
    }
    pg->sent = true;
  }
  flush(a);
  return 0;
}

/* The counter table's sources (countertab.h): direct-path counters of
 * ended and live sessions summed into *paths, gauges filled now. */
static void agent_counter_srcs(const struct zt_agent *a,
                               struct counter_srcs *cs) {
  memset(cs, 0, sizeof(*cs));
  struct zt_agent_gauges *g = &cs->g;
  cs->paths = a->closed_paths;
  for (size_t i = 0; i < ZT_MAX_SERVICES; i++) {
    const struct session *s = &a->sessions[i];
    if (!s->used)
      continue;
    zt_path_stats_add(&cs->paths, &s->t.path.stats);
    g->sessions++;
    g->sessions_ready += zt_tunnel_ready_now(&s->t);
    g->sessions_direct += zt_tunnel_is_direct(&s->t);
  }
  g->uplink_up = uplink_ok(a);
  for (size_t i = 0; i < a->ups.n; i++)
    g->uplinks_up += zt_uplink_is_up(&a->ups.u[i]);
  g->services = a->n_services;
  for (size_t i = 0; i < a->n_services; i++)
    g->services_online += a->services[i].online;
  cs->srcs[ZT_AGENT_SRC_STATS] = &a->stats;
  cs->srcs[ZT_AGENT_SRC_TUNOUT] = &a->out.stats;
  cs->srcs[ZT_AGENT_SRC_PATHS] = &cs->paths;
  cs->srcs[ZT_AGENT_SRC_DNS] = &a->dns.st;
  cs->srcs[ZT_AGENT_SRC_GAUGES] = g;
  zt_uplinks_stats_sum(&a->ups, &cs->ups);
  cs->srcs[ZT_AGENT_SRC_UPLINKS] = &cs->ups;
  cs->srcs[ZT_AGENT_SRC_ROAM] = &a->roam[a->cur == SIZE_MAX ? 0 : a->cur];
}

int zt_agent_metrics(const struct zt_agent *a, char *buf, size_t len) {
  struct counter_srcs cs;
  const struct zt_counter_table *tables[] = {
      &zt_agent_counters, a->dns.addr ? &zt_agent_dns_counters : NULL, NULL};
  agent_counter_srcs(a, &cs);
  return zt_counters_page(buf, len, tables, cs.srcs, ZT_METRIC_AGENT_HANDSHAKE,
                          "Outer QUIC handshake time to the Intermediates",
                          &cs.ups.handshake);
}

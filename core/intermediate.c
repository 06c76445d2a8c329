/*
 * The Intermediate node. See intermediate.h.
 *
 * Every packet is demultiplexed by the key in its destination connection ID
 * (quic.h); an unknown key on an Initial packet is a new peer, anything else
 * unknown is counted and dropped. Work that a packet causes on other peers
 * (a relayed frame, a pushed service table) marks them dirty; each entry
 * point ends by flushing dirty peers and reaping dead ones.
 */
#include "intermediate.h"

#include <gnutls/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addrpool.h"
#include "admit.h"
#include "audit.h"
#include "ctrl.h"
#include "certexpiry.h"
#include "chooser.h"
#include "countertab.h"
#include "crl.h"
#include "deadline.h"
#include "ippkt.h"
#include "keymap.h"
#include "log.h"
#include "netaddr.h"
#include "policy.h"
#include "quic.h"
#include "ratelimit.h"
#include "registry.h"
#include "relay.h"
#include "secret.h"
#include "siphash.h"
#include "strbuf.h"
#include "stun.h"
#include "wire.h"

struct peer {
  struct zq_conn *q;
  struct zt_intermediate *im;
  /* The worker that owns it: reads its packets, runs its timers, writes
   * its packets out, and alone frees it ("Workers" below). */
  struct im_worker *w;
  /* Its connection, while workers run packet phases side by side: the
   * owner holds it for reads, writes and timers, another worker for the
   * moment it queues a relayed frame. Never held while waiting for
   * another lock (trylock only), so no two workers can deadlock. */
  pthread_mutex_t lock;
  /* The deadline its owner's heap holds for it (UINT64_MAX: none), under
   * lock: a worker that wrote it out compares its new deadline with this
   * and wakes the owner only when it is earlier (relayed_out()). */
  uint64_t armed_at;
  /* The latest time its connection was given (under lock): two workers'
   * clocks were read at different moments, and ngtcp2 wants a connection's
   * time never to go back (peer_now()). */
  uint64_t last_now;
  /* In its owner's mailbox (under w->mail_lock), waiting to be written. */
  bool posted;
  struct peer *next_posted;
  /* Work its owner's packet phase found for the control phase (CTL_*),
   * and the stream bytes that came before it. */
  uint8_t ctl;
  struct peer *next_ctl;
  uint8_t *inbox;
  size_t inbox_len, inbox_cap;
  struct peer *next, *prev, *next_dirty; /* prev: O(1) removal */
  /* The earliest of its QUIC timer, certificate check and silence watch,
   * in im->deadlines (peer_rearm()): the node's timer without a scan. */
  struct zt_deadline due;
  struct peer *next_due;  /* zt_intermediate_handle_expiry()'s list */
  struct peer *next_name; /* same bucket of im->by_name */
  size_t n_channels;      /* channels it is an end of */
  bool dirty, hello;
  bool detached; /* replaced: nothing it sends is acted on any more */
  enum zt_role role;
  char name[ZT_NAME_MAX + 1];
  uint32_t tunnel_ip; /* agents */
  struct sockaddr_storage observed;
  socklen_t observedlen;
  /* 25 KB: allocated when control bytes arrive from an authenticated peer,
   * freed again at the end of every whole message, so the thousands of
   * idle peers an Intermediate holds keep none (on_stream()). */
  struct zt_ctrl_reader *reader;
  bool authenticated; /* on_ready() ran: its stream is read */
  /* Agents with a new address binding wait in im->welcome_wait until it is
   * saved (on_hello()). */
  bool welcome_pending;
  struct peer *next_welcome;
  /* While the handshake is in progress: counted in im->admit under src, and
   * found by im->by_initial under initial_key (initial_hash()). */
  bool handshaking;
  struct zt_admit_ip src;
  uint32_t initial_key;
  ngtcp2_cid initial_dcid;
  struct zt_bucket opens;    /* SESSION_OPEN rate */
  struct zt_loglimit log;    /* lines this peer can make us write */
  /* Connectors: the services of their last REGISTER, refused ones too, so
   * that a reload can grant what was refused before. */
  uint8_t n_offered;
  char (*offered)[ZT_NAME_MAX + 1];
  struct zt_cert_watch cert; /* its certificate's expiry (certexpiry.h) */
  /* Connectors: when a packet of theirs last arrived. Silent for longer
   * than ZT_CONNECTOR_SILENT_MS (killed, cut off), a connector is chosen
   * for no agent while another one of the service is heard; its
   * connection stays, and it is back in the choice once heard again. */
  uint64_t heard_at;
  bool silent;
  uint64_t up_at; /* when its handshake completed, for the uptime shown */
  /* Agents: the connector chosen per granted service (chooser.h), with
   * room for chosen->n entries only (send_services()). */
  struct zt_choices *chosen;
};

/* What a channel was granted: one service's address and ports. */
struct channel_grant {
  uint32_t vip;
  struct zt_policy_grant ports;
};

/* Where a peer is seen from, for audit lines. */
#define SRC(p) ((const struct sockaddr *)&(p)->observed)

struct channel {
  uint32_t id;
  struct peer *agent, *connector;
  bool direct; /* the agent reports its session runs direct (ZT_MSG_PATH) */
  /* What policy granted when it opened, re-checked on every reload. */
  uint8_t n_grants;
  struct channel_grant *grants;
};

/* A relayed frame one worker read for a peer another worker was writing
 * at that moment: queued after the read, when no other lock is held. */
struct relay_item {
  struct peer *to;
  uint32_t channel;
  uint16_t len;
  uint8_t frame[ZT_OUTER_UDP_PAYLOAD];
};

/* One worker: a thread of the daemon with its own socket in the port's
 * SO_REUSEPORT group, to which the kernel steers every packet of the
 * connections it owns (their connection IDs carry its index: key_stride).
 * Everything here is its own; only the mailbox is shared. */
struct im_worker {
  struct zt_intermediate *im;
  unsigned idx;
  const struct zt_io *io;
  struct zq_config qcfg; /* the node's, with this worker's key residue */
  struct peer *peers, *dirty, *ctl;
  size_t n_peers;
  struct zt_keymap by_key;           /* connection key -> peer */
  struct zt_keymap by_initial;       /* initial_hash() -> handshaking peer */
  struct zt_deadline_heap deadlines; /* peer->due */
  struct zt_intermediate_stats stats;
  /* Control phases it ran (each stops the other workers), mailbox wakes
   * it sent, and relayed frames it kept for a peer busy elsewhere. */
  uint64_t control_phases, wakes_sent, relay_deferred;
  uint64_t now;
  /* Peers of ours another worker queued something for: written by our
   * next flush. io->wake tells our loop. */
  pthread_mutex_t mail_lock;
  struct peer *mail;
  struct relay_item *relay;
  size_t n_relay, cap_relay;
};

struct zt_intermediate {
  const struct zt_intermediate_config *cfg;
  struct zt_tls_creds *creds;
  const struct zt_io *io; /* worker 0's: state saves, the wall clock */
  struct sockaddr_storage local;
  socklen_t locallen;
  struct zq_config qcfg;
  struct im_worker *w[ZT_IM_MAX_WORKERS];
  unsigned n_workers;
  /* Packet phases (a worker's reads, writes, timers and relayed frames)
   * hold it for reading, side by side; the control phase (everything
   * else: registry, policy, channels, addresses, status) holds it for
   * writing, alone, so that code is single-threaded as it always was. */
  pthread_rwlock_t world;
  pthread_mutex_t admit_lock; /* admit and stun_admit */
  struct zt_keymap channels;  /* channel id -> channel */
  /* Authenticated peers by a keyed hash of role and name (name_key()),
   * chained by next_name: replace_older() without a walk of every peer. */
  struct zt_keymap by_name;
  uint8_t name_hash_key[16];
  struct peer *welcome_wait; /* on_hello(), flush_welcomes() */
  uint64_t save_at;          /* when to save them; 0: none waiting (atomic) */
  /* The policy in force: immutable, replaced whole (set_policy). */
  struct zt_policy *policy;
  struct zt_registry reg; /* service name -> its connectors' peers */
  struct zt_addrpool pool;
  struct zt_intermediate_stats sum; /* the workers' stats, added up */
  uint64_t now;                     /* of the control phase */
  struct zt_admit admit;      /* handshake caps, Retry, reset budgets */
  /* STUN answer budgets, apart from the resets': a STUN flood must not
   * silence the resets real peers need, nor the other way round. */
  struct zt_admit stun_admit;
  struct zt_ctrl_msg scratch;
  struct zt_choices choices_scratch; /* send_services() */
};

/* ---- workers -------------------------------------------------------------
 *
 * The worker this thread is running for (each entry point sets it), and
 * whether it is in the control phase. */
static __thread struct im_worker *self;
static __thread int control_depth;

#define FOR_EACH_PEER(im, p)                                                   \
  for (unsigned wi_ = 0; wi_ < (im)->n_workers; wi_++)                         \
    for (p = (im)->w[wi_]->peers; p; p = p->next)

static bool threaded(const struct zt_intermediate *im) {
  return im->n_workers > 1;
}

static void peer_lock(struct peer *p) {
  if (threaded(p->im))
    pthread_mutex_lock(&p->lock);
}
static bool peer_trylock(struct peer *p) {
  return !threaded(p->im) || pthread_mutex_trylock(&p->lock) == 0;
}
static void peer_unlock(struct peer *p) {
  if (threaded(p->im))
    pthread_mutex_unlock(&p->lock);
}

/* This worker's time for p's connection, never before what another
 * worker already gave it. Under p's lock. */
static uint64_t peer_now(struct peer *p) {
  if (p->last_now < self->now)
    p->last_now = self->now;
  return p->last_now;
}

/* A packet phase of worker w. */
static void packet_begin(struct zt_intermediate *im, struct im_worker *w,
                         uint64_t now) {
  self = w;
  w->now = now;
  if (threaded(im))
    pthread_rwlock_rdlock(&im->world);
}
static void packet_end(struct zt_intermediate *im) {
  if (threaded(im))
    pthread_rwlock_unlock(&im->world);
}

/* The control phase: nests (a reload that sets a policy). */
static void control_begin(struct zt_intermediate *im, uint64_t now) {
  if (!self || self->im != im)
    self = im->w[0];
  if (control_depth++ == 0) {
    if (threaded(im))
      pthread_rwlock_wrlock(&im->world);
    im->now = now;
  }
}
static void flush_dirty(struct zt_intermediate *im);
static void control_end(struct zt_intermediate *im) {
  flush_dirty(im);
  if (--control_depth == 0 && threaded(im))
    pthread_rwlock_unlock(&im->world);
}

/* A warning caused by what a peer sent: rate-limited per peer, so a peer
 * cannot flood the log (or the disk) with lines about itself. */
static void peer_warn(struct peer *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void peer_warn(struct peer *p, const char *fmt, ...) {
  uint64_t suppressed;
  char line[512];
  va_list ap;
  if (!zt_loglimit_allow(&p->log, p->im->now, &suppressed)) {
    self->stats.log_suppressed++;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  if (suppressed)
    zt_warn("%s (and %llu similar lines suppressed)", line,
            (unsigned long long)suppressed);
  else
    zt_warn("%s", line);
}

/* Another worker's peer has something to write: into its owner's
 * mailbox, and its loop woken if the mailbox was empty. */
static void post(struct peer *p) {
  struct im_worker *w = p->w;
  bool wake;
  pthread_mutex_lock(&w->mail_lock);
  wake = !w->mail;
  if (!p->posted) {
    p->posted = true;
    p->next_posted = w->mail;
    w->mail = p;
  }
  pthread_mutex_unlock(&w->mail_lock);
  if (wake && w->io->wake) {
    if (self)
      self->wakes_sent++;
    w->io->wake(w->io->wake_ud);
  }
}

static void mark_dirty(struct peer *p) {
  if (p->w != self) {
    post(p);
    return;
  }
  if (!p->dirty) {
    p->dirty = true;
    p->next_dirty = self->dirty;
    self->dirty = p;
  }
}

/* Work for the control phase, found by a packet phase (our own peers). */
enum {
  CTL_READY = 1,  /* handshake complete: on_ready() */
  CTL_STREAM = 2, /* control bytes in its inbox */
  CTL_MOVED = 4,  /* its address changed */
  CTL_HEARD = 8,  /* a silent connector is heard again */
  CTL_TIMER = 16, /* its certificate or silence check is due */
  CTL_DEAD = 32,  /* its connection is over: removed */
};

static void ctl_note(struct peer *p, uint8_t what) {
  if (!p->ctl) {
    p->next_ctl = p->w->ctl;
    p->w->ctl = p;
  }
  p->ctl |= what;
}

static void send_msg(struct peer *p, const struct zt_ctrl_msg *m) {
  uint8_t buf[ZT_CTRL_HDR_LEN + ZT_CTRL_BODY_MAX];
  int n = zt_ctrl_encode(m, buf, sizeof(buf));
  if (n < 0) {
    zt_err("cannot encode %s for %s", zt_ctrl_type_name(m->type), p->name);
    return;
  }
  mark_dirty(p);
  int rv = zq_send_stream(p->q, buf, (size_t)n);
  if (rv == ZQ_ERR_CLOSED)
    return; /* closing or dead: nothing more is queued for it */
  /* A peer that never grants stream credit, or never acknowledges, would
   * make us hold every reply we queue for it: past the bound it goes. */
  if (rv != 0 || zq_stream_backlog(p->q) > p->im->cfg->ctrl_backlog_max) {
    self->stats.ctrl_backlog_closes++;
    peer_warn(p, "%s %s: closing, %zu control bytes unacknowledged",
              zt_role_name(p->role), p->name, zq_stream_backlog(p->q));
    zq_close(p->q, ZT_ERR_NO_RESOURCES, "control backlog too large");
  }
}

/* ---- policy ------------------------------------------------------------- */

/* The registered connector of `service` that serves `agent`, NULL when
 * none is registered (chooser.h: sticky to `prev`, else spread; a silent
 * one only when all are). */
static struct peer *choose_connector(struct zt_intermediate *im,
                                     const struct peer *agent,
                                     const char *service, const char *prev) {
  const struct zt_registry_entry *e = zt_registry_get(&im->reg, service);
  struct zt_chooser_candidate c[ZT_POLICY_MAX_CONNECTORS];
  if (!e)
    return NULL;
  for (size_t k = 0; k < e->n; k++) {
    const struct peer *p = e->conns[k];
    c[k].name = p->name;
    c[k].responsive = !p->silent;
  }
  int i = zt_chooser_pick(agent->name, service, c, e->n, prev);
  return i < 0 ? NULL : e->conns[i];
}

/* SERVICES: what the agent is granted, each with the connector chosen for
 * it (the agent opens its session there). Sent again whenever a choice may
 * have changed: connectors registering, leaving, going silent. */
static void send_services(struct zt_intermediate *im, struct peer *agent) {
  struct zt_ctrl_msg *m = &im->scratch;
  const struct zt_policy *pol = im->policy;
  struct zt_choices *next = &im->choices_scratch;
  struct zt_policy_grant g;
  static const struct zt_choices none; /* before the first SERVICES */
  const struct zt_choices *was = agent->chosen ? agent->chosen : &none;
  m->type = ZT_MSG_SERVICES;
  m->u.services.n = 0;
  next->n = 0; /* rebuilt whole: services gone from policy are forgotten */
  for (size_t i = 0; i < pol->n_services; i++) {
    const struct zt_policy_service *sv = &pol->services[i];
    if (!zt_policy_grant(pol, agent->name, i, &g))
      continue;
    const char *prev = zt_choices_get(was, sv->name);
    struct peer *c = choose_connector(im, agent, sv->name, prev);
    /* With none online the last choice is named still (a direct session
     * with it may live on), else the first connector of the policy. */
    const char *name = c ? c->name : prev[0] ? prev : sv->connectors[0];
    struct zt_ctrl_service *s = &m->u.services.items[m->u.services.n++];
    snprintf(s->name, sizeof(s->name), "%s", sv->name);
    snprintf(s->connector, sizeof(s->connector), "%s", name);
    s->vip = sv->address;
    s->online = c != NULL;
    zt_choices_set(next, sv->name, c || prev[0] ? name : NULL);
  }
  /* Kept with room for its entries only: a whole table is 8 KB, times
   * the thousands of agents an Intermediate holds. */
  size_t size = offsetof(struct zt_choices, e) + next->n * sizeof(next->e[0]);
  struct zt_choices *kept = malloc(size);
  if (!kept) {
    zq_close(agent->q, ZT_ERR_NO_RESOURCES, "out of memory");
    mark_dirty(agent);
    return;
  }
  memcpy(kept, next, size);
  free(agent->chosen);
  agent->chosen = kept;
  send_msg(agent, m);
}

static void push_services_to_agents(struct zt_intermediate *im) {
  struct peer *p;
  FOR_EACH_PEER(im, p)
    if (p->role == ZT_ROLE_AGENT && p->hello)
      send_services(im, p);
}

/* ---- control messages --------------------------------------------------- */

static void send_welcome(struct zt_intermediate *im, struct peer *p) {
  struct zt_ctrl_msg *m = &im->scratch;
  m->type = ZT_MSG_WELCOME;
  snprintf(m->u.welcome.identity, sizeof(m->u.welcome.identity), "%s", p->name);
  memcpy(&m->u.welcome.observed, &p->observed, p->observedlen);
  m->u.welcome.tunnel_ip = p->tunnel_ip;
  send_msg(p, m);
}

/* Agent addresses are bound to identities for good: the driver keeps them
 * on disk, so a restart hands every agent its own address again and no
 * one else's. */
static void save_bindings(struct zt_intermediate *im) {
  if (!im->io->save_state || !im->pool.changed)
    return;
  /* One pass: room for the longest lines (name, space, address, newline)
   * rather than a second sort and format of every binding to size it. */
  size_t cap = im->pool.n_bindings * (ZT_NAME_MAX + 18) + 1;
  char *text = malloc(cap);
  size_t len = text ? zt_addrpool_dump(&im->pool, text, cap) : (size_t)-1;
  if (len == (size_t)-1 || len >= cap) {
    free(text);
    zt_err("cannot save agent address bindings: out of memory");
    return;
  }
  im->io->save_state(im->io->ud, text, len);
  free(text);
}

#define SAVE_BATCH_NS (20 * 1000000ull)

static void finish_hello(struct zt_intermediate *im, struct peer *p);

static void on_hello(struct zt_intermediate *im, struct peer *p,
                     const struct zt_ctrl_msg *m) {
  char ipbuf[16];
  if (p->hello || p->welcome_pending)
    return;
  if (p->role == ZT_ROLE_AGENT) {
    struct zt_addr_grant g =
        zt_addrpool_alloc(&im->pool, p->name, m->u.hello.prev_tunnel_ip, p);
    p->tunnel_ip = g.addr;
    if (g.evicted[0]) {
      self->stats.addresses_reassigned++;
      zt_warn("address %s of agent %s (offline longest) reassigned to agent "
              "%s: the pool is full",
              zt_ip4_str(g.addr, ipbuf), g.evicted, p->name);
    }
    if (!p->tunnel_ip) {
      zt_audit_hello(p->role, p->name, SRC(p), false, "address pool exhausted");
      peer_warn(p, "agent %s: address pool exhausted", p->name);
      zq_close(p->q, ZT_ERR_NO_RESOURCES, "address pool exhausted");
      mark_dirty(p);
      return;
    }
    if (g.new_binding && im->io->save_state) {
      /* On disk before the agent hears its address (WELCOME), so that a
       * restart never hands it to someone else; but written for all the
       * agents of SAVE_BATCH_NS at once (the whole table is rewritten
       * each time: one write per new agent made a ramp of n agents
       * O(n^2)). flush_welcomes() saves, then welcomes them. */
      p->welcome_pending = true;
      p->next_welcome = im->welcome_wait;
      im->welcome_wait = p;
      if (!im->save_at) {
        __atomic_store_n(&im->save_at, im->now + SAVE_BATCH_NS,
                         __ATOMIC_RELAXED);
        /* Worker 0 saves: its timer must learn of it. */
        if (self != im->w[0] && im->w[0]->io->wake)
          im->w[0]->io->wake(im->w[0]->io->wake_ud);
      }
      return;
    }
  }
  finish_hello(im, p);
}

/* Agents whose new address binding is saved now, and the rest of their
 * HELLO: WELCOME and SERVICES. */
static void flush_welcomes(struct zt_intermediate *im) {
  struct peer *list = im->welcome_wait;
  im->welcome_wait = NULL;
  __atomic_store_n(&im->save_at, 0, __ATOMIC_RELAXED);
  save_bindings(im);
  for (struct peer *p = list, *next; p; p = next) {
    next = p->next_welcome;
    p->next_welcome = NULL;
    p->welcome_pending = false;
    if (!p->detached && !zq_is_dead(p->q))
      finish_hello(im, p);
  }
}

/* Takes p off a singly linked list of peers chained by `next` (welcome
 * waits, dirty, control and mailbox lists: short, and p rarely on them). */
#define PEER_UNLINK(head, p, next)                                             \
  for (struct peer **pp_ = (head); *pp_; pp_ = &(*pp_)->next)                  \
    if (*pp_ == (p)) {                                                         \
      *pp_ = (p)->next;                                                        \
      break;                                                                   \
    }

static void welcome_unqueue(struct zt_intermediate *im, struct peer *p) {
  PEER_UNLINK(&im->welcome_wait, p, next_welcome);
  p->welcome_pending = false;
}

static void finish_hello(struct zt_intermediate *im, struct peer *p) {
  char ipbuf[16], addr[64];
  p->hello = true;
  zt_audit_hello(p->role, p->name, SRC(p), true, NULL);
  zt_info("%s %s is at %s%s%s", zt_role_name(p->role), p->name,
          zt_netaddr_str((struct sockaddr *)&p->observed, addr, sizeof(addr)),
          p->tunnel_ip ? ", tunnel address " : "",
          p->tunnel_ip ? zt_ip4_str(p->tunnel_ip, ipbuf) : "");
  send_welcome(im, p);
  if (p->role == ZT_ROLE_AGENT)
    send_services(im, p);
}

/* May connector p serve `name` under the policy in force? The status for
 * its REGISTER_ACK; the address in *vip when it may. */
static uint8_t may_serve(const struct zt_intermediate *im,
                         const struct peer *p, const char *name,
                         uint32_t *vip) {
  int j = zt_policy_find_service(im->policy, name);
  *vip = 0;
  if (j < 0)
    return ZT_ERR_UNKNOWN_SERVICE;
  if (!zt_policy_names_connector(&im->policy->services[j], p->name))
    return ZT_ERR_NOT_ALLOWED;
  *vip = im->policy->services[j].address;
  return ZT_OK;
}

/* Tells connector p which of the services it offered it serves under the
 * policy in force (REGISTER_ACK: it sets up its address translation from
 * it), and records those in the registry. True when the registry changed.
 * Sent again after every reload: a connector learns new or moved service
 * addresses without registering anew. */
static bool ack_offers(struct zt_intermediate *im, struct peer *p) {
  struct zt_ctrl_msg *ack = &im->scratch;
  bool changed = false;
  ack->type = ZT_MSG_REGISTER_ACK;
  ack->u.reg_ack.n = p->n_offered;
  for (uint8_t i = 0; i < p->n_offered; i++) {
    struct zt_ctrl_reg *r = &ack->u.reg_ack.items[i];
    const char *name = p->offered[i];
    _Static_assert(sizeof(r->name) == sizeof(p->offered[0]), "name sizes");
    memcpy(r->name, name, sizeof(r->name)); /* decoder NUL-terminated */
    r->status = may_serve(im, p, name, &r->vip);
    if (r->status == ZT_OK) {
      zt_audit_register(p->name, SRC(p), name, true, NULL);
      if (zt_registry_add(&im->reg, name, p) > 0) {
        changed = true;
        zt_info("connector %s serves %s", p->name, name);
      }
    } else if (r->status == ZT_ERR_NOT_ALLOWED) {
      const char *why = "configured for another connector";
      zt_audit_register(p->name, SRC(p), name, false, why);
      peer_warn(p, "connector %s may not serve %s (not among its connectors, "
                "the first of which is %s)",
                p->name, name,
                im->policy->services[zt_policy_find_service(im->policy, name)]
                    .connectors[0]);
    } else {
      zt_audit_register(p->name, SRC(p), name, false, "unknown service");
      peer_warn(p, "connector %s registered unknown service %s", p->name,
                name);
    }
  }
  send_msg(p, ack);
  return changed;
}

static void on_register(struct zt_intermediate *im, struct peer *p,
                        const struct zt_ctrl_msg *m) {
  if (!p->offered && !(p->offered = calloc(ZT_MAX_SERVICES,
                                           sizeof(p->offered[0])))) {
    zq_close(p->q, ZT_ERR_NO_RESOURCES, "out of memory");
    mark_dirty(p);
    return;
  }
  memcpy(p->offered, m->u.reg.names, m->u.reg.n * sizeof(p->offered[0]));
  p->n_offered = m->u.reg.n;
  if (ack_offers(im, p))
    push_services_to_agents(im);
}

static struct peer *connector_by_name(struct zt_intermediate *im,
                                      const char *name) {
  for (size_t j = 0; j < im->reg.n; j++)
    for (size_t k = 0; k < im->reg.e[j].n; k++) {
      struct peer *c = im->reg.e[j].conns[k];
      if (strcmp(c->name, name) == 0)
        return c;
    }
  return NULL;
}

/* What the policy in force grants `agent` of the services `conn` serves
 * (is registered for, whether or not it is the one chosen for the agent:
 * a session opened before a move keeps working): their count, into out
 * (room for ZT_MAX_SERVICES). */
static uint8_t grants_for(const struct zt_intermediate *im,
                          const struct peer *agent, const struct peer *conn,
                          struct channel_grant *out) {
  const struct zt_policy *pol = im->policy;
  uint8_t n = 0;
  for (size_t j = 0; j < pol->n_services; j++)
    if (zt_registry_has(&im->reg, pol->services[j].name, conn) &&
        zt_policy_grant(pol, agent->name, j, &out[n].ports))
      out[n++].vip = pol->services[j].address;
  return n;
}

static uint32_t new_channel_id(struct zt_intermediate *im) {
  uint32_t id;
  do {
    gnutls_rnd(GNUTLS_RND_NONCE, &id, sizeof(id));
  } while (id == 0 || zt_keymap_get(&im->channels, id));
  return id;
}

static void channel_close(struct zt_intermediate *im, struct channel *ch,
                          struct peer *notify, uint8_t status);
static void close_channels(struct zt_intermediate *im, struct peer *p,
                           struct peer *other, uint8_t status);

static void close_channels_between(struct zt_intermediate *im,
                                   struct peer *agent, struct peer *conn) {
  size_t before = im->channels.count;
  close_channels(im, agent, conn, ZT_ERR_REPLACED);
  self->stats.channels_replaced += before - im->channels.count;
}

/* SESSION_OPEN in the audit log: one line per service of that connector,
 * an allow naming the policy entry that granted it or a deny naming the
 * deny rule or "default deny" (so every decision about the agent is on
 * record, not only grants); or one line for a refused session and why. */
static void audit_session(struct zt_intermediate *im, struct peer *agent,
                          struct peer *conn, const char *connector,
                          uint8_t status) {
  char rule[32];
  if (status != ZT_OK) {
    zt_audit_session(im->now, agent->name, SRC(agent), NULL, connector,
                     false, status == ZT_ERR_NOT_ALLOWED ? "default deny" : NULL,
                     zt_status_name(status));
    return;
  }
  const struct zt_policy *pol = im->policy;
  for (size_t j = 0; j < pol->n_services; j++) {
    struct zt_policy_grant g;
    const char *svc = pol->services[j].name;
    if (!zt_registry_has(&im->reg, svc, conn))
      continue;
    bool granted = zt_policy_grant(pol, agent->name, j, &g);
    int e = zt_policy_deciding_rule(pol, agent->name, j);
    if (e < 0)
      snprintf(rule, sizeof(rule), "default deny");
    else
      snprintf(rule, sizeof(rule), "rules[%d]", e);
    zt_audit_session(im->now, agent->name, SRC(agent), svc, connector, granted,
                     rule, granted ? NULL : "not granted by policy");
  }
}

/* SESSION_NEW for ch with the grants it holds: when it opens, and again
 * on the same channel when a reload changes what it grants (the connector
 * then updates the session in place: docs/protocol.md). */
static void send_session_new(struct zt_intermediate *im,
                             const struct channel *ch) {
  struct zt_ctrl_msg *n = &im->scratch;
  n->type = ZT_MSG_SESSION_NEW;
  n->u.session_new.channel = ch->id;
  snprintf(n->u.session_new.agent, sizeof(n->u.session_new.agent), "%s",
           ch->agent->name);
  n->u.session_new.agent_ip = ch->agent->tunnel_ip;
  n->u.session_new.n = ch->n_grants;
  /* The ports too, so the connector enforces the grant per port. */
  n->u.session_new.has_ports = 1;
  for (uint8_t k = 0; k < ch->n_grants; k++) {
    const struct channel_grant *g = &ch->grants[k];
    n->u.session_new.vips[k] = g->vip;
    n->u.session_new.n_ports[k] = (uint8_t)g->ports.n;
    memcpy(n->u.session_new.ports[k], g->ports.ports,
           g->ports.n * sizeof(g->ports.ports[0]));
  }
  send_msg(ch->connector, n);
}

static void on_session_open(struct zt_intermediate *im, struct peer *agent,
                            const struct zt_ctrl_msg *m) {
  uint32_t request = m->u.session_open.request_id;
  char connector_name[ZT_NAME_MAX + 1];
  struct peer *conn;
  struct channel *ch;
  uint8_t status = ZT_OK;
  struct channel_grant grants[ZT_MAX_SERVICES];
  uint8_t n_vips = 0;

  snprintf(connector_name, sizeof(connector_name), "%s",
           m->u.session_open.connector);
  if (!zt_bucket_take(&agent->opens, im->now, ZT_SESSION_OPEN_RATE,
                      ZT_SESSION_OPEN_BURST)) {
    self->stats.sessions_rate_limited++;
    status = ZT_ERR_NO_RESOURCES;
    conn = NULL;
  } else if (!(conn = connector_by_name(im, connector_name))) {
    status = ZT_ERR_OFFLINE;
  }
  if (conn)
    n_vips = grants_for(im, agent, conn, grants);
  if (conn && n_vips == 0)
    status = ZT_ERR_NOT_ALLOWED;
  /* One channel per agent and connector: a new one replaces the old, so
   * an agent holds at most one channel per connector however often it
   * asks, and the connector hears that the old one is gone. */
  if (status == ZT_OK)
    close_channels_between(im, agent, conn);
  ch = status == ZT_OK ? calloc(1, sizeof(*ch)) : NULL;
  if (ch && !(ch->grants = malloc(n_vips * sizeof(grants[0])))) {
    free(ch);
    ch = NULL;
  }
  if (status == ZT_OK && !ch)
    status = ZT_ERR_NO_RESOURCES;
  if (ch) {
    ch->n_grants = n_vips;
    memcpy(ch->grants, grants, n_vips * sizeof(grants[0]));
    ch->id = new_channel_id(im);
    ch->agent = agent;
    ch->connector = conn;
    if (zt_keymap_put(&im->channels, ch->id, ch) != 0) {
      free(ch->grants);
      free(ch);
      ch = NULL;
      status = ZT_ERR_NO_RESOURCES;
    } else {
      agent->n_channels++;
      conn->n_channels++;
    }
  }
  audit_session(im, agent, conn, connector_name, status);
  if (status != ZT_OK) {
    self->stats.sessions_denied++;
    peer_warn(agent, "session from agent %s to connector %s denied (%s)",
              agent->name, connector_name, zt_status_name(status));
  } else {
    self->stats.sessions_opened++;
    send_session_new(im, ch);
    zt_info("channel %u: agent %s <-> connector %s", ch->id, agent->name,
            conn->name);
  }
  struct zt_ctrl_msg *r = &im->scratch;
  r->type = ZT_MSG_SESSION_READY;
  r->u.session_ready.request_id = request;
  r->u.session_ready.status = status;
  r->u.session_ready.channel = ch ? ch->id : 0;
  send_msg(agent, r);
}

static void channel_close(struct zt_intermediate *im, struct channel *ch,
                          struct peer *notify, uint8_t status) {
  if (notify && !zq_is_dead(notify->q)) {
    struct zt_ctrl_msg *m = &im->scratch;
    m->type = ZT_MSG_SESSION_CLOSE;
    m->u.session_close.channel = ch->id;
    m->u.session_close.status = status;
    send_msg(notify, m);
  }
  zt_keymap_del(&im->channels, ch->id);
  ch->agent->n_channels--;
  ch->connector->n_channels--;
  free(ch->grants);
  free(ch);
}

/* Every channel of `p` (with `other` only, when not NULL); the other end
 * is told why. */
static void close_channels(struct zt_intermediate *im, struct peer *p,
                           struct peer *other, uint8_t status) {
  /* Most peers (idle ones, every handshaking one) hold none: no walk of
   * the table for them, so tearing down n peers is not O(n^2). The walk
   * may delete the entry it just returned (keymap.h). */
  struct zt_keymap_iter it;
  void *val;
  for (zt_keymap_iter_init(&it, &im->channels);
       p->n_channels && zt_keymap_next(&it, NULL, &val);) {
    struct channel *ch = val;
    if (ch->agent != p && ch->connector != p)
      continue;
    struct peer *peer_end = ch->agent == p ? ch->connector : ch->agent;
    if (!other || peer_end == other)
      channel_close(im, ch, peer_end, status);
  }
}

static void on_session_close(struct zt_intermediate *im, struct peer *p,
                             const struct zt_ctrl_msg *m) {
  struct channel *ch = zt_keymap_get(&im->channels, m->u.session_close.channel);
  if (!ch || (ch->agent != p && ch->connector != p))
    return;
  /* "Lost its connection" is ours to say, never a peer's. */
  uint8_t status = m->u.session_close.status;
  if (status == ZT_ERR_PEER_LOST)
    status = ZT_ERR_GONE;
  channel_close(im, ch, ch->agent == p ? ch->connector : ch->agent, status);
}

static void on_path(struct zt_intermediate *im, struct peer *p,
                    const struct zt_ctrl_msg *m) {
  struct channel *ch = zt_keymap_get(&im->channels, m->u.path.channel);
  if (ch && ch->agent == p)
    ch->direct = m->u.path.direct;
}

static bool expected(const struct peer *p, uint8_t type) {
  if (p->detached)
    return false;
  if (type == ZT_MSG_HELLO)
    return true;
  if (!p->hello)
    return false;
  switch (type) {
  case ZT_MSG_REGISTER:
    return p->role == ZT_ROLE_CONNECTOR;
  case ZT_MSG_SESSION_OPEN:
  case ZT_MSG_PATH:
    return p->role == ZT_ROLE_AGENT;
  case ZT_MSG_SESSION_CLOSE:
  case ZT_MSG_ERROR:
    return true;
  default:
    return false;
  }
}

static void on_ctrl_msg(void *ud, const struct zt_ctrl_msg *m) {
  struct peer *p = ud;
  struct zt_intermediate *im = p->im;
  if (!expected(p, m->type)) {
    self->stats.ctrl_unexpected++;
    peer_warn(p, "%s %s: unexpected %s, ignored", zt_role_name(p->role),
              p->name, zt_ctrl_type_name(m->type));
    return;
  }
  switch (m->type) {
  case ZT_MSG_HELLO:
    on_hello(im, p, m);
    break;
  case ZT_MSG_REGISTER:
    on_register(im, p, m);
    break;
  case ZT_MSG_SESSION_OPEN:
    on_session_open(im, p, m);
    break;
  case ZT_MSG_SESSION_CLOSE:
    on_session_close(im, p, m);
    break;
  case ZT_MSG_PATH:
    on_path(im, p, m);
    break;
  case ZT_MSG_ERROR:
    peer_warn(p, "%s %s reports error %u: %s", zt_role_name(p->role),
              p->name, m->u.error.status, m->u.error.reason);
    break;
  }
}

/* ---- QUIC handlers ------------------------------------------------------ */

static void peer_handshake_over(struct zt_intermediate *im, struct peer *p);

static void peer_detach(struct zt_intermediate *im, struct peer *p,
                        uint8_t why);

/* A keyed hash (our secret) of role and name: authenticated names come
 * from certificates, still nobody should pick names that share a bucket. */
static uint32_t name_key(const struct zt_intermediate *im,
                         const struct peer *p) {
  uint8_t buf[1 + ZT_NAME_MAX + 1];
  size_t n = strlen(p->name);
  buf[0] = (uint8_t)p->role;
  memcpy(buf + 1, p->name, n);
  uint32_t k = (uint32_t)zt_siphash(im->name_hash_key, buf, 1 + n);
  return k ? k : 1; /* 0 is the keymap's empty marker */
}

/* Into by_name, at the head of its bucket. False when out of memory. */
static bool name_index_add(struct zt_intermediate *im, struct peer *p) {
  uint32_t k = name_key(im, p);
  struct peer *head = zt_keymap_del(&im->by_name, k);
  p->next_name = head;
  if (zt_keymap_put(&im->by_name, k, p) == 0)
    return true;
  p->next_name = NULL;
  if (head)
    zt_keymap_put(&im->by_name, k, head); /* room: it was just there */
  return false;
}

static void name_index_remove(struct zt_intermediate *im, struct peer *p) {
  uint32_t k = name_key(im, p);
  struct peer *head = zt_keymap_get(&im->by_name, k), **pp;
  if (head == p) {
    zt_keymap_del(&im->by_name, k);
    if (p->next_name)
      zt_keymap_put(&im->by_name, k, p->next_name); /* room: p was there */
    return;
  }
  for (pp = head ? &head->next_name : NULL; pp && *pp; pp = &(*pp)->next_name)
    if (*pp == p) {
      *pp = p->next_name;
      return;
    }
}

/* One live connection per identity: the newer one replaces the older, and
 * both sides say so. Two instances of one identity would otherwise fight
 * over its tunnel address, sessions and services; the older is told with
 * ZT_ERR_REPLACED and does not reconnect (see uplink.c). */
static void replace_older(struct zt_intermediate *im, struct peer *p) {
  char was[64], now_at[64], reason[200];
  for (struct peer *o = zt_keymap_get(&im->by_name, name_key(im, p)); o;
       o = o->next_name) {
    if (o == p || o->role != p->role || strcmp(o->name, p->name) != 0 ||
        zq_is_dead(o->q))
      continue;
    zt_netaddr_str((struct sockaddr *)&o->observed, was, sizeof(was));
    zt_netaddr_str((struct sockaddr *)&p->observed, now_at, sizeof(now_at));
    self->stats.peers_replaced++;
    peer_warn(p, "%s %s: new connection from %s replaces the one from %s",
              zt_role_name(p->role), p->name, now_at, was);
    /* REPLACED, not PEER_LOST: the other ends' direct sessions were with
     * the older instance, which is most likely gone (killed and started
     * again), so they end and are opened anew rather than kept. */
    peer_detach(im, o, ZT_ERR_REPLACED);
    snprintf(reason, sizeof(reason),
             "replaced by a newer connection of %s from %s", p->name, now_at);
    zq_close(o->q, ZT_ERR_REPLACED, reason);
    mark_dirty(o);
  }
}

/* A connection lives no longer than its peer's certificate. */
static void peer_cert_check(struct zt_intermediate *im, struct peer *p,
                            uint64_t now) {
  if (zq_is_dead(p->q) || !p->name[0])
    return;
  if (zt_cert_watch_run(&p->cert, p->q, im->io, now, zt_role_name(p->role),
                        p->name)) {
    self->stats.peers_cert_expired++;
    /* Not PEER_LOST: the connector would keep a direct session with it. */
    peer_detach(im, p, ZT_ERR_NOT_ALLOWED);
    zq_close(p->q, ZT_ERR_CERT_EXPIRED, "certificate expired");
    mark_dirty(p);
  }
}

/* ---- QUIC handlers: packet phase ------------------------------------------
 *
 * They run inside zq_read(), in the owner's packet phase with the peer's
 * lock held: the relay forwards at once, the rest is noted for the control
 * phase that follows (control_run()). */

static void on_ready(struct zq_conn *q, void *ud) {
  (void)q;
  ctl_note(ud, CTL_READY);
}

/* Stream bytes wait in the inbox for the control phase; those of an
 * unauthenticated peer are not worth keeping. Flow control bounds them. */
static void on_stream(struct zq_conn *q, const uint8_t *data, size_t len,
                      void *ud) {
  struct peer *p = ud;
  if (!(p->authenticated || (p->ctl & CTL_READY)))
    return;
  /* Padding frames (wire.h) ride along a peer's datagrams about once per
   * round trip: at a message boundary (no reader, nothing kept) they are
   * dropped here rather than costing a control phase each. */
  while (!p->reader && p->inbox_len == 0 && len >= ZT_CTRL_HDR_LEN &&
         data[0] == ZT_CTRL_PAD && data[1] == 0 && data[2] == 0) {
    data += ZT_CTRL_HDR_LEN;
    len -= ZT_CTRL_HDR_LEN;
  }
  if (len == 0)
    return;
  if (p->inbox_len + len > p->inbox_cap) {
    size_t cap = p->inbox_cap ? p->inbox_cap : 1024;
    while (cap < p->inbox_len + len)
      cap *= 2;
    uint8_t *b = realloc(p->inbox, cap);
    if (!b) {
      zq_close(q, ZT_ERR_NO_RESOURCES, "out of memory");
      return;
    }
    p->inbox = b;
    p->inbox_cap = cap;
  }
  memcpy(p->inbox + p->inbox_len, data, len);
  p->inbox_len += len;
  ctl_note(p, CTL_STREAM);
}

static void relay_count(int rv, size_t plen) {
  /* Too big for the forward leg's path MTU: counted apart, it tells the
   * operator that the two legs' paths differ (docs/status.md). */
  if (rv == ZQ_ERR_TOO_BIG)
    self->stats.relay_too_big++;
  else if (rv != 0)
    self->stats.relay_queue_drops++;
  else {
    self->stats.relay_frames++;
    self->stats.relay_bytes += plen;
  }
}

/* A frame for a peer another thread holds right now: kept until the read
 * is over (relay_run()). Out of memory: dropped like a full queue. */
static void relay_defer(struct peer *to, uint32_t id, const uint8_t *data,
                        size_t len) {
  struct im_worker *w = self;
  if (len > sizeof(w->relay[0].frame)) {
    relay_count(ZQ_ERR_TOO_BIG, 0);
    return;
  }
  if (w->n_relay == w->cap_relay) {
    size_t cap = w->cap_relay ? w->cap_relay * 2 : 16;
    struct relay_item *r = realloc(w->relay, cap * sizeof(*r));
    if (!r) {
      relay_count(ZQ_ERR_NOMEM, 0);
      return;
    }
    w->relay = r;
    w->cap_relay = cap;
  }
  w->relay_deferred++;
  struct relay_item *it = &w->relay[w->n_relay++];
  it->to = to;
  it->channel = id;
  it->len = (uint16_t)len;
  memcpy(it->frame, data, len);
}

static uint64_t peer_deadline(const struct peer *p);

/* A frame was queued into `to` (its lock held). Our own peer is written
 * with the rest of this read (flush_dirty()). Another worker's is written
 * here and now, through our socket (the group's sockets share the
 * address): the outer layer is decrypted by the worker that read the
 * frame and encrypted by the same one, with no hand-over. Its owner hears
 * of it only when its timer must now fire earlier than the one it set. */
static void relayed_out(struct peer *to) {
  if (to->w == self) {
    mark_dirty(to);
    peer_unlock(to);
    return;
  }
  zt_io_send_all(self->io, to->q, peer_now(to));
  bool tell = zq_is_dead(to->q) || peer_deadline(to) < to->armed_at;
  peer_unlock(to);
  if (tell)
    post(to);
}

static void relay_run(void) {
  struct im_worker *w = self;
  for (size_t i = 0; i < w->n_relay; i++) {
    struct relay_item *it = &w->relay[i];
    peer_lock(it->to);
    int rv = zq_send_datagram_flow(it->to->q, it->channel, it->frame, it->len);
    relay_count(rv, it->len - ZT_RELAY_HDR_LEN);
    if (rv == 0)
      relayed_out(it->to);
    else
      peer_unlock(it->to);
  }
  w->n_relay = 0;
}

/* The relay: forward the frame unchanged to the other end of its channel.
 * The payload is an inner QUIC packet we cannot read, by design. The
 * channel table only changes in the control phase, so it is read here. */
static void on_datagram(struct zq_conn *q, const uint8_t *data, size_t len,
                        void *ud) {
  struct peer *p = ud;
  struct zt_intermediate *im = p->im;
  uint32_t id;
  const uint8_t *payload;
  size_t plen;
  struct channel *ch;
  struct peer *to;
  (void)q;

  if (zt_relay_parse(data, len, &id, &payload, &plen) != 0) {
    self->stats.relay_malformed++;
    return;
  }
  if (!(ch = zt_keymap_get(&im->channels, id))) {
    self->stats.relay_unknown_channel++;
    return;
  }
  if (p == ch->agent)
    to = ch->connector;
  else if (p == ch->connector)
    to = ch->agent;
  else {
    self->stats.relay_wrong_peer++;
    return;
  }
  if (!peer_trylock(to)) {
    relay_defer(to, id, data, len);
    return;
  }
  int rv = zq_send_datagram_flow(to->q, id, data, len);
  relay_count(rv, plen);
  if (rv == 0)
    relayed_out(to);
  else
    peer_unlock(to);
}

static const struct zq_handlers peer_handlers = {
    .on_ready = on_ready,
    .on_stream = on_stream,
    .on_datagram = on_datagram,
};

/* ---- peers -------------------------------------------------------------- */

/* Everything the peer holds in the registry: its channels (the other ends
 * are told), its services, its tunnel address. The connection itself
 * stays until it is dead. */
static void peer_detach(struct zt_intermediate *im, struct peer *p,
                        uint8_t why) {
  bool services_changed = false;
  /* The other ends learn that this peer is gone from us (PEER_LOST), not
   * that it closed the session: a direct session can outlive its channel. */
  close_channels(im, p, NULL, why);
  services_changed = zt_registry_drop_conn(&im->reg, p);
  if (p->tunnel_ip)
    zt_addrpool_release(&im->pool, p->tunnel_ip, p);
  p->tunnel_ip = 0;
  p->detached = true;
  if (services_changed)
    push_services_to_agents(im);
}

/* The audit's revoke line for a peer the CRL lists; rule: that CRL. The
 * name comes from the certificate (the peer's own name is only set once
 * accepted), so a refused handshake names whom it refused too. */
static void audit_revoked(struct zt_intermediate *im, struct peer *p,
                          const char *what) {
  zt_audit_revoke_crl(zq_peer_role(p->q), zq_peer_name(p->q), SRC(p),
                      zt_crl_file(im->creds->crl), what);
}

static void peer_remove(struct zt_intermediate *im, struct peer *p) {
  if (p->name[0]) {
    zt_info("%s %s disconnected: %s", zt_role_name(p->role), p->name,
            zq_close_reason(p->q));
  } else if (zq_end_kind(p->q) == ZQ_END_REFUSED) {
    char addr[64];
    self->stats.handshakes_refused++;
    zt_audit_auth(ZT_ROLE_NONE, NULL, SRC(p), false, zq_close_reason(p->q));
    if (zq_refused_revoked(p->q))
      audit_revoked(im, p, "handshake refused");
    zt_warn("refused peer at %s: %s",
            zt_netaddr_str((struct sockaddr *)&p->observed, addr, sizeof(addr)),
            zq_close_reason(p->q));
  }
  peer_handshake_over(im, p);
  peer_detach(im, p, ZT_ERR_PEER_LOST);
  struct im_worker *w = p->w;
  zt_keymap_del(&w->by_key, zq_key(p->q));
  if (p->name[0])
    name_index_remove(im, p);
  zt_deadline_remove(&w->deadlines, &p->due);
  if (p->welcome_pending)
    welcome_unqueue(im, p);
  /* Off every list of its owner that may still hold it. */
  if (p->dirty)
    PEER_UNLINK(&w->dirty, p, next_dirty);
  if (p->ctl)
    PEER_UNLINK(&w->ctl, p, next_ctl);
  pthread_mutex_lock(&w->mail_lock);
  if (p->posted)
    PEER_UNLINK(&w->mail, p, next_posted);
  pthread_mutex_unlock(&w->mail_lock);
  if (p->prev)
    p->prev->next = p->next;
  else
    w->peers = p->next;
  if (p->next)
    p->next->prev = p->prev;
  w->n_peers--;
  zq_free(p->q);
  pthread_mutex_destroy(&p->lock);
  free(p->inbox);
  free(p->reader);
  free(p->offered);
  free(p->chosen);
  free(p);
}

/* Whether the peer's address is not the one we know (packet phase, its
 * lock held): note_observed() then acts on it in the control phase. */
static bool peer_moved(const struct peer *p) {
  socklen_t len;
  const struct sockaddr *r = zq_remote(p->q, &len);
  return !p->observedlen ||
         !zt_netaddr_equal(r, (const struct sockaddr *)&p->observed);
}

static void note_observed(struct zt_intermediate *im, struct peer *p) {
  socklen_t len;
  const struct sockaddr *r = zq_remote(p->q, &len);
  char addr[64];
  if (p->observedlen && zt_netaddr_equal(r, (struct sockaddr *)&p->observed))
    return;
  memcpy(&p->observed, r, len);
  p->observedlen = len;
  if (p->hello) {
    zt_info("%s %s moved to %s", zt_role_name(p->role), p->name,
            zt_netaddr_str(r, addr, sizeof(addr)));
    im->scratch.type = ZT_MSG_OBSERVED;
    memcpy(&im->scratch.u.observed.observed, r, len);
    send_msg(p, &im->scratch);
  }
}

#define SILENT_NS ((uint64_t)ZT_CONNECTOR_SILENT_MS * 1000000u)

/* A connector whose silence would move agents. */
static bool silence_watched(const struct peer *p) {
  return p->role == ZT_ROLE_CONNECTOR && p->hello && !p->silent &&
         !p->detached && !zq_is_dead(p->q);
}

/* Every change to a peer's timers (a packet read or written, a timer
 * handled, its certificate checked, its silence or hello state) happens to
 * a peer marked dirty, and flush_dirty() rearms each: the heap is exact
 * after every entry point. The heap has room for every peer
 * (peer_accept() reserves it), so this cannot fail. Its owner only, with
 * the peer's lock held. */
static uint64_t peer_deadline(const struct peer *p) {
  uint64_t t = zq_expiry(p->q);
  if (p->cert.check_at && p->cert.check_at < t)
    t = p->cert.check_at;
  if (silence_watched(p) && p->heard_at + SILENT_NS < t)
    t = p->heard_at + SILENT_NS;
  return t;
}

static void peer_rearm(struct peer *p) {
  p->armed_at = peer_deadline(p);
  zt_deadline_set(&p->w->deadlines, &p->due, p->armed_at);
}

/* This worker's dirty peers: written out and rearmed. A dead one is
 * removed in the control phase (there and then when in it). */
static void flush_dirty(struct zt_intermediate *im) {
  struct im_worker *w = self;
  while (w->dirty) {
    struct peer *p = w->dirty;
    w->dirty = p->next_dirty;
    p->dirty = false;
    peer_lock(p);
    zt_io_send_all(w->io, p->q, peer_now(p));
    bool dead = zq_is_dead(p->q);
    if (!dead)
      peer_rearm(p);
    peer_unlock(p);
    if (!dead)
      continue;
    if (control_depth)
      peer_remove(im, p); /* may mark others dirty: the loop continues */
    else
      ctl_note(p, CTL_DEAD);
  }
}

/* The control phase's half of on_ready(): the peer is authenticated. */
static void ctl_ready(struct zt_intermediate *im, struct peer *p) {
  struct zq_conn *q = p->q;
  peer_handshake_over(im, p);
  /* Only now, authenticated, is the peer's stream worth reading. */
  p->authenticated = true;
  p->role = zq_peer_role(q);
  snprintf(p->name, sizeof(p->name), "%s", zq_peer_name(q));
  self->stats.peers_accepted++;
  p->heard_at = p->up_at = im->now;
  zt_hist_observe(&self->stats.handshake, zq_get_stats(q)->handshake_ns);
  zt_audit_auth(p->role, p->name, SRC(p), true, NULL);
  zt_info("%s %s authenticated", zt_role_name(p->role), p->name);
  replace_older(im, p);
  if (!name_index_add(im, p)) {
    zq_close(q, ZT_ERR_NO_RESOURCES, "out of memory");
    p->name[0] = 0; /* not in by_name: peer_remove must not look */
    return;
  }
  peer_cert_check(im, p, im->now);
}

/* The control messages in the peer's inbox. */
static void ctl_stream(struct peer *p) {
  if (!p->authenticated || zq_is_dead(p->q)) {
    p->inbox_len = 0;
    return;
  }
  if (!p->reader) {
    if (!(p->reader = malloc(sizeof(*p->reader)))) {
      zq_close(p->q, ZT_ERR_NO_RESOURCES, "out of memory");
      mark_dirty(p);
      return;
    }
    zt_ctrl_reader_init(p->reader);
  }
  /* The reader counts what it skips; the node's counters (status,
   * metrics) add what this feed skipped. */
  struct zt_ctrl_stats before = p->reader->stats;
  struct zt_intermediate_stats *st = &self->stats;
  zt_ctrl_reader_feed(p->reader, p->inbox, p->inbox_len, on_ctrl_msg, p);
  st->ctrl_malformed += p->reader->stats.malformed - before.malformed;
  st->ctrl_oversized += p->reader->stats.oversized - before.oversized;
  st->ctrl_unknown += p->reader->stats.unknown - before.unknown;
  /* Between two messages the reader holds nothing worth its 25 KB, nor
   * the inbox its buffer. */
  free(p->inbox);
  p->inbox = NULL;
  p->inbox_len = p->inbox_cap = 0;
  if (p->reader->hdr_got == 0) {
    free(p->reader);
    p->reader = NULL;
  }
}

static void heard_from(struct zt_intermediate *im, struct peer *p);
static bool check_silent(struct peer *p, uint64_t now);

/* The control phase after a packet phase of this worker: what its peers'
 * packets and timers asked for, in the order they happened to each. */
static void control_run(struct zt_intermediate *im) {
  struct im_worker *w = self;
  bool any_silent = false, save_due;
  uint64_t save_at = __atomic_load_n(&im->save_at, __ATOMIC_RELAXED);
  save_due = w->idx == 0 && save_at && save_at <= w->now;
  if (!w->ctl && !save_due)
    return;
  control_begin(im, w->now);
  w->control_phases++;
  while (w->ctl) {
    struct peer *p = w->ctl;
    uint8_t what = p->ctl;
    w->ctl = p->next_ctl;
    p->ctl = 0;
    if (what & CTL_READY)
      ctl_ready(im, p);
    if (what & CTL_STREAM)
      ctl_stream(p);
    if ((what & CTL_MOVED) && !zq_is_dead(p->q))
      note_observed(im, p);
    if (what & CTL_HEARD)
      heard_from(im, p);
    if (what & CTL_TIMER) {
      if (p->cert.check_at && p->cert.check_at <= im->now)
        peer_cert_check(im, p, im->now);
      any_silent |= check_silent(p, im->now);
    }
    if (what & CTL_DEAD)
      peer_remove(im, p);
    else
      mark_dirty(p);
  }
  if (any_silent)
    push_services_to_agents(im);
  save_at = __atomic_load_n(&im->save_at, __ATOMIC_RELAXED);
  if (w->idx == 0 && save_at && save_at <= im->now)
    flush_welcomes(im);
  control_end(im);
}

/* ---- the accept path ---------------------------------------------------- */

/* A client retransmits its first Initial from the same address and port to
 * the DCID it chose, which carries none of our keys: its handshaking peer is
 * found by a keyed hash of all three (one lookup, whatever the number of
 * handshakes), then checked field by field. */
static uint32_t initial_hash(const struct zt_intermediate *im,
                             const struct sockaddr *from,
                             const ngtcp2_cid *dcid) {
  uint8_t buf[16 + 2 + 1 + NGTCP2_MAX_CIDLEN];
  struct zt_admit_ip ip;
  uint16_t port = from->sa_family == AF_INET6
                      ? ((const struct sockaddr_in6 *)from)->sin6_port
                      : ((const struct sockaddr_in *)from)->sin_port;
  zt_admit_ip_of(from, &ip);
  memcpy(buf, ip.b, 16);
  memcpy(buf + 16, &port, 2);
  buf[18] = (uint8_t)dcid->datalen;
  memcpy(buf + 19, dcid->data, dcid->datalen);
  uint32_t k = (uint32_t)zt_admit_hash(&im->admit, buf, 19 + dcid->datalen);
  return k ? k : 1; /* 0 is the keymap's empty marker */
}

static struct peer *peer_by_initial(struct zt_intermediate *im, uint32_t ikey,
                                    const struct sockaddr *from,
                                    const ngtcp2_cid *dcid) {
  struct peer *p = zt_keymap_get(&self->by_initial, ikey);
  (void)im;
  if (p && zt_netaddr_equal(from, (struct sockaddr *)&p->observed) &&
      ngtcp2_cid_eq(dcid, &p->initial_dcid))
    return p;
  return NULL;
}

/* The handshake is over (complete or failed): the peer no longer counts
 * against the caps and no longer takes Initials. Idempotent. */
static void peer_handshake_over(struct zt_intermediate *im, struct peer *p) {
  if (!p->handshaking)
    return;
  p->handshaking = false;
  pthread_mutex_lock(&im->admit_lock);
  zt_admit_handshake_end(&im->admit, &p->src);
  pthread_mutex_unlock(&im->admit_lock);
  if (zt_keymap_get(&p->w->by_initial, p->initial_key) == p)
    zt_keymap_del(&p->w->by_initial, p->initial_key);
}

/* The caller has counted the handshake in im->admit. */
static struct peer *peer_accept(struct zt_intermediate *im,
                                const struct sockaddr *from, socklen_t fromlen,
                                const struct zq_initial *ini, uint32_t ikey,
                                const uint8_t *pkt, size_t len) {
  struct im_worker *w = self;
  struct peer *p = calloc(1, sizeof(*p));
  char err[256], addr[64];
  if (!p || zt_deadline_reserve(&w->deadlines, w->n_peers + 1) != 0) {
    free(p);
    return NULL;
  }
  p->im = im;
  p->w = w;
  p->armed_at = UINT64_MAX;
  zt_deadline_init(&p->due);
  memcpy(&p->observed, from, fromlen);
  p->observedlen = fromlen;
  p->q = zq_server_accept_initial(&w->qcfg, &peer_handlers, p,
                                  (struct sockaddr *)&im->local, im->locallen,
                                  from, fromlen, ini, pkt, len, w->now, err,
                                  sizeof(err));
  if (!p->q) {
    self->stats.accept_failures++;
    zt_dbg("accept from %s failed: %s",
           zt_netaddr_str(from, addr, sizeof(addr)), err);
    free(p);
    return NULL;
  }
  if (zt_keymap_put(&w->by_key, zq_key(p->q), p) != 0) {
    zq_free(p->q);
    free(p);
    return NULL;
  }
  pthread_mutex_init(&p->lock, NULL);
  p->handshaking = true;
  zt_admit_ip_of(from, &p->src);
  p->initial_dcid = ini->hd.dcid;
  /* A 32-bit collision with another handshake: this one goes unindexed and
   * its retransmissions are dropped (by_key finds its later packets). */
  if (zt_keymap_put(&w->by_initial, ikey, p) == 0)
    p->initial_key = ikey;
  p->next = w->peers;
  p->prev = NULL;
  if (w->peers)
    w->peers->prev = p;
  w->peers = p;
  w->n_peers++;
  return p;
}

static void send_retry(struct zt_intermediate *im, const struct sockaddr *to,
                       socklen_t tolen, const struct zq_initial *ini) {
  uint8_t out[256];
  size_t n = zq_write_retry(&self->qcfg, ini, to, tolen, self->now, out,
                            sizeof(out));
  (void)im;
  if (n == 0)
    return;
  self->stats.retries_sent++;
  self->io->udp_send(self->io->ud, to, tolen, out, n);
}

/* An Initial that matches no connection key: a retransmission of a
 * handshake in progress, or a new connection if admission allows. Nothing
 * is allocated for an Initial that does not become a connection. */
static void on_initial(struct zt_intermediate *im, const struct sockaddr *from,
                       socklen_t fromlen, const uint8_t *pkt, size_t len) {
  struct zq_initial ini;
  struct zt_admit_ip ip;
  struct peer *p;

  if (zq_initial_parse(pkt, len, &ini) != 0) {
    self->stats.accept_failures++;
    return;
  }
  uint32_t ikey = initial_hash(im, from, &ini.hd.dcid);
  if ((p = peer_by_initial(im, ikey, from, &ini.hd.dcid))) {
    peer_lock(p);
    zq_read(p->q, (struct sockaddr *)&im->local, im->locallen, from, fromlen,
            pkt, len, peer_now(p));
    peer_unlock(p);
    mark_dirty(p);
    return;
  }
  switch (zq_initial_check_token(&self->qcfg, &ini, from, fromlen, self->now)) {
  case ZQ_TOKEN_INVALID:
    self->stats.tokens_invalid++;
    return;
  case ZQ_TOKEN_NONE:
    pthread_mutex_lock(&im->admit_lock);
    bool retry = zt_admit_should_retry(&im->admit);
    pthread_mutex_unlock(&im->admit_lock);
    if (retry) {
      send_retry(im, from, fromlen, &ini);
      return;
    }
    break;
  case ZQ_TOKEN_VALID:
    break;
  }
  zt_admit_ip_of(from, &ip);
  pthread_mutex_lock(&im->admit_lock);
  enum zt_admit_verdict v = zt_admit_handshake_begin(&im->admit, &ip);
  pthread_mutex_unlock(&im->admit_lock);
  switch (v) {
  case ZT_ADMIT_GLOBAL:
    self->stats.initials_capped_global++;
    return;
  case ZT_ADMIT_SOURCE:
    self->stats.initials_capped_source++;
    return;
  case ZT_ADMIT_OK:
    break;
  }
  /* zq_server_accept_initial() has read the packet; its answer is pending. */
  if ((p = peer_accept(im, from, fromlen, &ini, ikey, pkt, len))) {
    mark_dirty(p);
  } else {
    pthread_mutex_lock(&im->admit_lock);
    zt_admit_handshake_end(&im->admit, &ip);
    pthread_mutex_unlock(&im->admit_lock);
  }
}

/* A packet for a connection we do not know, typically one from before a
 * restart: a Stateless Reset makes its sender reconnect at once instead of
 * after its idle timeout. Resets answer unauthenticated packets, so each
 * draws on a token bucket of its source address and on a global one: junk
 * from one source cannot use up the resets another one needs. */
static void send_reset(struct zt_intermediate *im, const struct sockaddr *to,
                       socklen_t tolen, const uint8_t *pkt, size_t len) {
  uint8_t out[64];
  struct zt_admit_ip ip;
  if (len < 1 || (pkt[0] & 0x80)) /* long headers never get one */
    return;
  zt_admit_ip_of(to, &ip);
  pthread_mutex_lock(&im->admit_lock);
  enum zt_admit_verdict v = zt_admit_reset(&im->admit, &ip, self->now);
  pthread_mutex_unlock(&im->admit_lock);
  switch (v) {
  case ZT_ADMIT_SOURCE:
    self->stats.resets_limited_source++;
    return;
  case ZT_ADMIT_GLOBAL:
    self->stats.resets_limited++;
    return;
  case ZT_ADMIT_OK:
    break;
  }
  size_t n = zq_stateless_reset(&self->qcfg, pkt, len, out, sizeof(out));
  if (n == 0)
    return;
  self->stats.resets_sent++;
  self->io->udp_send(self->io->ud, to, tolen, out, n);
}

/* A STUN Binding request (stun.h), on either port: the answer into out,
 * its length, or 0 when it gets none. Answers go to unauthenticated
 * sources, so they draw on per-source and global budgets; the size rule
 * (no answer larger than its request) is zt_stun_answer()'s. */
/* A STUN Binding request gets its answer in out (*n bytes; 0 when it is
 * dropped or over budget). False: not STUN at all. */
static bool stun_answer(struct zt_intermediate *im, const struct sockaddr *from,
                        const uint8_t *pkt, size_t len, uint8_t *out,
                        size_t cap, size_t *n) {
  struct zt_admit_ip ip;
  *n = 0;
  switch (zt_stun_answer(pkt, len, from, out, cap, n)) {
  case ZT_STUN_NOT_STUN:
    return false;
  case ZT_STUN_TOO_SMALL:
    self->stats.stun_dropped++;
    *n = 0;
    return true;
  case ZT_STUN_ANSWER:
    break;
  }
  zt_admit_ip_of(from, &ip);
  pthread_mutex_lock(&im->admit_lock);
  enum zt_admit_verdict v = zt_admit_reset(&im->stun_admit, &ip, self->now);
  pthread_mutex_unlock(&im->admit_lock);
  if (v != ZT_ADMIT_OK) {
    self->stats.stun_limited++;
    *n = 0;
    return true;
  }
  self->stats.stun_answered++;
  return true;
}

/* A silent connector heard again (control phase): back in the choice for
 * new assignments (agents moved away stay where they are: sticky). */
static void heard_from(struct zt_intermediate *im, struct peer *p) {
  if (!p->silent)
    return;
  p->silent = false;
  zt_info("connector %s is heard again", p->name);
  push_services_to_agents(im);
}

/* A packet for one of w's peers, or a new one (packet phase). */
static void packet_in(struct zt_intermediate *im, const struct sockaddr *from,
                      socklen_t fromlen, const uint8_t *pkt, size_t len) {
  struct im_worker *w = self;
  uint32_t key;
  struct peer *p = NULL;

  w->stats.packets_in++;
  if (zq_packet_key(pkt, len, &key) == 0)
    p = zt_keymap_get(&w->by_key, key);
  /* STUN after the connection lookup: ngtcp2 greases the QUIC bit, so a
   * connection's short-header packet may start like STUN; only a packet
   * of no connection can be a Binding request. */
  uint8_t out[ZT_STUN_RESPONSE_MAX];
  size_t n;
  if (!p && stun_answer(im, from, pkt, len, out, sizeof(out), &n)) {
    if (n)
      w->io->udp_send(w->io->ud, from, fromlen, out, n);
    return;
  }
  if (!p && zq_packet_is_initial(pkt, len)) {
    on_initial(im, from, fromlen, pkt, len);
  } else if (!p) {
    w->stats.packets_unknown++;
    send_reset(im, from, fromlen, pkt, len);
  } else {
    peer_lock(p);
    zq_read(p->q, (struct sockaddr *)&im->local, im->locallen, from, fromlen,
            pkt, len, peer_now(p));
    if (!zq_is_dead(p->q)) {
      if (peer_moved(p))
        ctl_note(p, CTL_MOVED);
      if (p->role == ZT_ROLE_CONNECTOR) {
        p->heard_at = w->now;
        if (p->silent)
          ctl_note(p, CTL_HEARD);
      }
    }
    peer_unlock(p);
    mark_dirty(p);
  }
}

static void worker_feed_udp(struct zt_intermediate *im, struct im_worker *w,
                            const struct sockaddr *from, socklen_t fromlen,
                            const uint8_t *pkt, size_t len, uint64_t now) {
  packet_begin(im, w, now);
  packet_in(im, from, fromlen, pkt, len);
  relay_run();
  flush_dirty(im);
  packet_end(im);
  control_run(im);
}

void zt_intermediate_feed_udp(struct zt_intermediate *im,
                              const struct sockaddr *from, socklen_t fromlen,
                              const uint8_t *pkt, size_t len, uint64_t now) {
  worker_feed_udp(im, im->w[0], from, fromlen, pkt, len, now);
}

size_t zt_intermediate_feed_stun_port(struct zt_intermediate *im,
                                      const struct sockaddr *from,
                                      const uint8_t *pkt, size_t len,
                                      uint64_t now, uint8_t *out, size_t cap) {
  size_t n;
  packet_begin(im, im->w[0], now);
  stun_answer(im, from, pkt, len, out, cap, &n);
  packet_end(im);
  return n;
}

/* ---- reload --------------------------------------------------------------- */

/* After a new policy: registrations that no longer hold go, offers refused
 * before that now hold come in. */
static void rebuild_registry(struct zt_intermediate *im) {
  uint32_t vip;
  char name[ZT_NAME_MAX + 1];
  struct peer *c, *p;
  FOR_EACH_PEER(im, c)
    for (size_t j = im->reg.n; j-- > 0;) { /* removal moves only later ones */
      memcpy(name, im->reg.e[j].name, sizeof(name));
      if (zt_registry_has(&im->reg, name, c) &&
          may_serve(im, c, name, &vip) != ZT_OK) {
        zt_info("connector %s no longer serves %s", c->name, name);
        zt_registry_remove(&im->reg, name, c);
      }
    }
  FOR_EACH_PEER(im, p)
    if (p->role == ZT_ROLE_CONNECTOR && p->offered && !p->detached &&
        !zq_is_dead(p->q))
      ack_offers(im, p);
}

static bool grants_equal(const struct channel *ch,
                         const struct channel_grant *g, uint8_t n) {
  if (ch->n_grants != n)
    return false;
  for (uint8_t i = 0; i < n; i++)
    if (ch->grants[i].vip != g[i].vip ||
        !zt_policy_grant_equal(&ch->grants[i].ports, &g[i].ports))
      return false;
  return true;
}

/* A channel whose grant changed but still holds something keeps its
 * session: the connector gets the new grant on the same channel and
 * enforces it from the next packet, so flows of services still granted
 * never notice the reload. False when memory for it is short (the caller
 * closes the channel instead: less access, never more). */
static bool update_channel(struct zt_intermediate *im, struct channel *ch,
                           const struct channel_grant *g, uint8_t n) {
  struct channel_grant *copy = malloc(n * sizeof(*copy));
  if (!copy)
    return false;
  memcpy(copy, g, n * sizeof(*copy));
  free(ch->grants);
  ch->grants = copy;
  ch->n_grants = n;
  send_session_new(im, ch);
  audit_session(im, ch->agent, ch->connector, ch->connector->name, ZT_OK);
  zt_info("channel %u: agent %s <-> connector %s: grant updated with the "
          "policy",
          ch->id, ch->agent->name, ch->connector->name);
  return true;
}

/* Channels whose grant the new policy changed: updated in place while they
 * still grant something, else closed at both ends (the connector drops the
 * session and its route; the agent's route goes with SERVICES). Returns
 * how many were closed. */
static size_t recheck_channels(struct zt_intermediate *im) {
  struct channel_grant grants[ZT_MAX_SERVICES];
  size_t closed = 0;
  struct zt_keymap_iter it;
  void *val;
  /* Closing deletes the entry just returned: safe (keymap.h). */
  for (zt_keymap_iter_init(&it, &im->channels);
       zt_keymap_next(&it, NULL, &val);) {
    struct channel *ch = val;
    uint8_t k = grants_for(im, ch->agent, ch->connector, grants);
    if (!grants_equal(ch, grants, k) &&
        (k == 0 || !update_channel(im, ch, grants, k))) {
      zt_info("channel %u: agent %s <-> connector %s closed: the policy "
              "grants nothing of it any more",
              ch->id, ch->agent->name, ch->connector->name);
      struct peer *agent = ch->agent;
      uint32_t id = ch->id;
      channel_close(im, ch, ch->connector, ZT_ERR_NOT_ALLOWED);
      struct zt_ctrl_msg *m = &im->scratch;
      m->type = ZT_MSG_SESSION_CLOSE;
      m->u.session_close.channel = id;
      m->u.session_close.status = ZT_ERR_NOT_ALLOWED;
      if (!zq_is_dead(agent->q))
        send_msg(agent, m);
      closed++;
    }
  }
  return closed;
}

size_t zt_intermediate_set_policy(struct zt_intermediate *im,
                                  struct zt_policy *policy, uint64_t now) {
  control_begin(im, now);
  zt_policy_free(im->policy);
  im->policy = policy;
  rebuild_registry(im);
  /* Routes first: an agent hears what it holds now, then which of its
   * sessions ended. */
  push_services_to_agents(im);
  size_t closed = recheck_channels(im);
  control_end(im);
  return closed;
}

const struct zt_policy *
zt_intermediate_policy(const struct zt_intermediate *im) {
  return im->policy;
}

/* ---- construction and timers -------------------------------------------- */

struct zt_intermediate *
zt_intermediate_new(const struct zt_intermediate_config *cfg,
                    struct zt_tls_creds *creds, const struct zt_io *io,
                    const struct sockaddr *local, socklen_t locallen) {
  struct zt_intermediate *im = calloc(1, sizeof(*im));
  if (!im)
    return NULL;
  pthread_rwlockattr_t ra;
  pthread_rwlockattr_init(&ra);
  /* Writers first: a control phase waits for the packet phases running,
   * not for every one that starts after it asked. */
  pthread_rwlockattr_setkind_np(&ra,
                                PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&im->world, &ra);
  pthread_rwlockattr_destroy(&ra);
  pthread_mutex_init(&im->admit_lock, NULL);
  im->cfg = cfg;
  im->creds = creds;
  im->io = io;
  memcpy(&im->local, local, locallen);
  im->locallen = locallen;
  zq_config_defaults(&im->qcfg);
  im->qcfg.creds = creds;
  im->qcfg.alpn = ZT_ALPN_OUTER;
  im->qcfg.expect.roles = 1u << ZT_ROLE_AGENT | 1u << ZT_ROLE_CONNECTOR;
  /* Derived from our key, the reset secret survives restarts: that is its
   * whole point. Without it resets are simply not sent. */
  if (zt_tls_derive_secret(creds, "ztna stateless reset v1",
                           im->qcfg.reset_secret) == 0)
    im->qcfg.has_reset_secret = true;
  else
    zt_warn("cannot derive a stateless reset secret from our key: peers "
            "will notice a restart only by their idle timeout");
  /* Retry tokens: a secret of their own, also derived from our key, so
   * tokens survive a restart within their 10 s like resets do. */
  if (zt_tls_derive_secret(creds, "ztna retry token v1",
                           im->qcfg.token_secret) == 0)
    im->qcfg.has_token_secret = true;
  else
    zt_warn("cannot derive a retry token secret from our key: no address "
            "validation under load, only the handshake caps");
  struct zt_admit_limits lim;
  zt_admit_limits_defaults(&lim);
  if (zt_admit_init(&im->admit, &lim) != 0) {
    free(im);
    return NULL;
  }
  /* STUN: a source's netcheck needs a handful of answers; 1000/s in all
   * (each no larger than its request) bounds what we reflect. */
  lim.max_handshakes = 1; /* unused: keeps the count table small */
  lim.source_resets_per_sec = 10;
  lim.source_resets_burst = 20;
  lim.resets_per_sec = 1000;
  lim.resets_burst = 200;
  if (zt_admit_init(&im->stun_admit, &lim) != 0) {
    zt_admit_free(&im->admit);
    free(im);
    return NULL;
  }
  if (!(im->policy = zt_policy_new())) {
    zt_admit_free(&im->admit);
    zt_admit_free(&im->stun_admit);
    free(im);
    return NULL;
  }
  zt_policy_from_inline(im->policy, cfg);
  zt_keymap_init(&im->channels);
  zt_keymap_init(&im->by_name);
  gnutls_rnd(GNUTLS_RND_NONCE, im->name_hash_key, sizeof(im->name_hash_key));
  zt_addrpool_init(&im->pool, cfg->agent_pool, cfg->agent_pool_len);
  if (zt_intermediate_add_worker(im, io) != 0) {
    zt_intermediate_free(im);
    return NULL;
  }
  return im;
}

/* Connection keys: worker i issues keys k with k % n == i, so the kernel's
 * program (platform/reuseport.c) finds the worker from any packet's
 * destination connection ID. Every worker's share changes with n. */
static void workers_share_keys(struct zt_intermediate *im) {
  for (unsigned i = 0; i < im->n_workers; i++) {
    im->w[i]->qcfg.key_stride = im->n_workers;
    im->w[i]->qcfg.key_residue = i;
  }
}

int zt_intermediate_add_worker(struct zt_intermediate *im,
                               const struct zt_io *io) {
  struct im_worker *w;
  if (im->n_workers == ZT_IM_MAX_WORKERS || !(w = calloc(1, sizeof(*w))))
    return -1;
  w->im = im;
  w->idx = im->n_workers;
  w->io = io;
  w->qcfg = im->qcfg;
  zt_keymap_init(&w->by_key);
  zt_keymap_init(&w->by_initial);
  zt_deadline_heap_init(&w->deadlines);
  pthread_mutex_init(&w->mail_lock, NULL);
  im->w[im->n_workers++] = w;
  workers_share_keys(im);
  return 0;
}

void zt_intermediate_hold(struct zt_intermediate *im, bool on) {
  if (on)
    control_begin(im, im->now);
  else
    control_end(im);
}

unsigned zt_intermediate_workers(const struct zt_intermediate *im) {
  return im->n_workers;
}

static void worker_free(struct im_worker *w) {
  zt_keymap_free(&w->by_key);
  zt_keymap_free(&w->by_initial);
  zt_deadline_heap_free(&w->deadlines);
  pthread_mutex_destroy(&w->mail_lock);
  free(w->relay);
  free(w);
}

int zt_intermediate_load_state(struct zt_intermediate *im, const char *text,
                               size_t len, char *err, size_t errlen) {
  size_t skipped;
  if (zt_addrpool_load(&im->pool, text, len, &skipped, err, errlen) != 0)
    return -1;
  control_begin(im, im->now);
  if (skipped)
    zt_warn("agent address bindings: %zu outside the pool %s/%u or "
            "duplicated, dropped",
            skipped, zt_ip4_str(im->cfg->agent_pool, (char[16]){0}),
            im->cfg->agent_pool_len);
  save_bindings(im);
  control_end(im);
  return 0;
}

/* With the other workers' threads stopped: their peers are written out
 * through worker 0's socket, which shares their address. */
void zt_intermediate_shutdown(struct zt_intermediate *im, uint64_t now) {
  struct peer *p;
  im->now = now;
  /* Every peer hears it from us now, and reconnects after its first
   * backoff, instead of finding out from a Stateless Reset when it next
   * sends, or from its idle timeout. */
  FOR_EACH_PEER(im, p) {
    if (zq_is_dead(p->q))
      continue;
    zq_close(p->q, 0, "intermediate shutting down");
    zt_io_send_all(im->io, p->q, now);
    peer_rearm(p);
  }
}

void zt_intermediate_free(struct zt_intermediate *im) {
  if (!im)
    return;
  control_depth++; /* threads stopped: nothing to lock */
  for (unsigned i = 0; i < im->n_workers; i++) {
    self = im->w[i];
    while (self->peers)
      peer_remove(im, self->peers);
    self->dirty = NULL;
  }
  control_depth--;
  self = NULL;
  for (unsigned i = 0; i < im->n_workers; i++)
    worker_free(im->w[i]);
  pthread_rwlock_destroy(&im->world);
  pthread_mutex_destroy(&im->admit_lock);
  zt_admit_free(&im->admit);
  zt_admit_free(&im->stun_admit);
  zt_keymap_free(&im->channels);
  zt_keymap_free(&im->by_name);
  zt_addrpool_free(&im->pool);
  zt_policy_free(im->policy);
  zt_free_secret(im, sizeof(*im)); /* reset and token secrets, hash keys */
}

/* Connectors not heard for ZT_CONNECTOR_SILENT_MS (three keepalives
 * missed: killed, or their network cut) are taken out of the choice: their agents
 * get another connector now, not at the idle timeout (30 s). True when p
 * went silent now. */
static bool check_silent(struct peer *p, uint64_t now) {
  if (!silence_watched(p) || p->heard_at + SILENT_NS > now)
    return false;
  p->silent = true;
  zt_warn("connector %s silent for %llu ms: its agents move to another "
          "connector of their services",
          p->name, (unsigned long long)((now - p->heard_at) / 1000000u));
  return true;
}

static uint64_t worker_expiry(const struct zt_intermediate *im,
                              const struct im_worker *w) {
  uint64_t t = zt_deadline_next(&w->deadlines);
  uint64_t save_at = __atomic_load_n(&im->save_at, __ATOMIC_RELAXED);
  return w->idx == 0 && save_at && save_at < t ? save_at : t;
}

uint64_t zt_intermediate_expiry(const struct zt_intermediate *im) {
  return worker_expiry(im, im->w[0]);
}

static void worker_handle_expiry(struct zt_intermediate *im,
                                 struct im_worker *w, uint64_t now) {
  struct peer *due = NULL;
  packet_begin(im, w, now);
  /* Take every due peer out first: handling one may move others' deadlines
   * (all rearmed by flush_dirty() below), and a peer whose timer fires
   * again at once waits for the next call instead of looping here. */
  for (struct zt_deadline *d; (d = zt_deadline_first(&w->deadlines)) &&
                              d->at <= now;) {
    struct peer *p = (struct peer *)((char *)d - offsetof(struct peer, due));
    zt_deadline_remove(&w->deadlines, d);
    p->next_due = due;
    due = p;
  }
  for (struct peer *p = due; p; p = p->next_due) {
    peer_lock(p);
    p->armed_at = UINT64_MAX; /* out of the heap until rearmed */
    uint64_t t = peer_now(p);
    if (zq_expiry(p->q) <= t)
      zq_handle_expiry(p->q, t);
    bool silent = silence_watched(p) && p->heard_at + SILENT_NS <= now;
    peer_unlock(p);
    if ((p->cert.check_at && p->cert.check_at <= now) || silent)
      ctl_note(p, CTL_TIMER);
    mark_dirty(p); /* rearmed by flush_dirty() */
  }
  flush_dirty(im);
  packet_end(im);
  control_run(im); /* also saves the address bindings when due */
}

void zt_intermediate_handle_expiry(struct zt_intermediate *im, uint64_t now) {
  worker_handle_expiry(im, im->w[0], now);
}

/* Worker w's mailbox: peers other workers queued frames or messages for. */
static void worker_mail(struct zt_intermediate *im, struct im_worker *w,
                        uint64_t now) {
  packet_begin(im, w, now);
  /* All under the lock: once p->posted is false another thread may post
   * it again, rewriting p->next_posted. (mark_dirty() of our own peer
   * takes no lock.) */
  pthread_mutex_lock(&w->mail_lock);
  for (struct peer *p = w->mail, *next; p; p = next) {
    next = p->next_posted;
    p->posted = false;
    mark_dirty(p);
  }
  w->mail = NULL;
  pthread_mutex_unlock(&w->mail_lock);
  flush_dirty(im);
  packet_end(im);
  control_run(im);
}

void zt_intermediate_worker_feed_udp(struct zt_intermediate *im, unsigned w,
                                     const struct sockaddr *from,
                                     socklen_t fromlen, const uint8_t *pkt,
                                     size_t len, uint64_t now) {
  worker_feed_udp(im, im->w[w], from, fromlen, pkt, len, now);
}
uint64_t zt_intermediate_worker_expiry(const struct zt_intermediate *im,
                                       unsigned w) {
  return worker_expiry(im, im->w[w]);
}
void zt_intermediate_worker_handle_expiry(struct zt_intermediate *im,
                                          unsigned w, uint64_t now) {
  worker_handle_expiry(im, im->w[w], now);
}
void zt_intermediate_worker_mail(struct zt_intermediate *im, unsigned w,
                                 uint64_t now) {
  worker_mail(im, im->w[w], now);
}

void zt_intermediate_reload_crl(struct zt_intermediate *im,
                                struct zt_crl *crl, uint64_t now) {
  char hex[3 * ZT_SERIAL_MAX], when[40];
  int64_t at;
  struct peer *p;
  control_begin(im, now);
  zt_tls_creds_set_crl(im->creds, crl);
  FOR_EACH_PEER(im, p) {
    const struct zt_tls_peer_cert *pc = zq_peer_cert(p->q);
    if (!p->name[0] || zq_is_dead(p->q) ||
        !zt_crl_revoked(crl, pc->serial, pc->serial_len, &at))
      continue;
    zt_serial_hex(pc->serial, pc->serial_len, hex, sizeof(hex));
    zt_cert_time_str(at, when, sizeof(when));
    self->stats.peers_revoked++;
    zt_warn("%s %s: certificate serial %s revoked on %s: closing its "
            "connection",
            zt_role_name(p->role), p->name, hex, when);
    audit_revoked(im, p, "live connection closed at reload");
    /* NOT_ALLOWED, not PEER_LOST: the other ends end their sessions with
     * it, direct paths included (a direct session outlives PEER_LOST). */
    peer_detach(im, p, ZT_ERR_NOT_ALLOWED); /* revoked */
    zq_close(p->q, ZT_ERR_CERT_REVOKED, "certificate revoked");
    mark_dirty(p);
  }
  control_end(im);
}

/* The workers' counters added up into im->sum (control phase). */
static const struct zt_intermediate_stats *
sum_stats(const struct zt_intermediate *im) {
  struct zt_intermediate *m = (struct zt_intermediate *)im;
  _Static_assert(offsetof(struct zt_intermediate_stats, handshake) %
                         sizeof(uint64_t) == 0,
                 "counters before the histogram are uint64_t");
  const size_t n = offsetof(struct zt_intermediate_stats, handshake) /
                   sizeof(uint64_t);
  uint64_t *acc = (uint64_t *)&m->sum;
  memset(&m->sum, 0, sizeof(m->sum));
  for (unsigned i = 0; i < im->n_workers; i++) {
    const uint64_t *c = (const uint64_t *)&im->w[i]->stats;
    for (size_t k = 0; k < n; k++)
      acc[k] += c[k];
    zt_hist_add(&m->sum.handshake, &im->w[i]->stats.handshake);
  }
  return &m->sum;
}

/* Read-only entry points: a control phase of their own, so the other
 * workers stand still while they read. */
#define READ_BEGIN(im) control_begin((struct zt_intermediate *)(im), (im)->now)
#define READ_END(im) control_end((struct zt_intermediate *)(im))

const struct zt_intermediate_stats *
zt_intermediate_get_stats(const struct zt_intermediate *im) {
  if (!threaded(im)) /* live, as callers holding it expect */
    return &im->w[0]->stats;
  READ_BEGIN(im);
  const struct zt_intermediate_stats *st = sum_stats(im);
  READ_END(im);
  return st;
}

static size_t peer_count(const struct zt_intermediate *im) {
  size_t n = 0;
  for (unsigned i = 0; i < im->n_workers; i++)
    n += im->w[i]->n_peers;
  return n;
}

size_t zt_intermediate_peer_count(const struct zt_intermediate *im) {
  READ_BEGIN(im);
  size_t n = peer_count(im);
  READ_END(im);
  return n;
}

size_t zt_intermediate_channel_count(const struct zt_intermediate *im) {
  READ_BEGIN(im);
  size_t n = im->channels.count;
  READ_END(im);
  return n;
}

size_t zt_intermediate_handshakes(const struct zt_intermediate *im) {
  struct zt_intermediate *m = (struct zt_intermediate *)im;
  pthread_mutex_lock(&m->admit_lock);
  size_t n = zt_admit_handshakes(&im->admit);
  pthread_mutex_unlock(&m->admit_lock);
  return n;
}

int zt_intermediate_set_limits(struct zt_intermediate *im,
                               const struct zt_admit_limits *lim) {
  struct zt_admit fresh;
  int rv = -1;
  control_begin(im, im->now);
  pthread_mutex_lock(&im->admit_lock);
  if (zt_admit_handshakes(&im->admit) == 0 && zt_admit_init(&fresh, lim) == 0) {
    zt_admit_free(&im->admit);
    im->admit = fresh;
    rv = 0;
  }
  pthread_mutex_unlock(&im->admit_lock);
  control_end(im);
  return rv;
}

/* The counter table's sources (countertab.h), gauges filled now. */
static void im_counter_srcs(const struct zt_intermediate *im,
                            struct zt_intermediate_gauges *g,
                            const void *srcs[ZT_IM_NSRC]) {
  const struct peer *p;
  memset(g, 0, sizeof(*g));
  g->handshakes_in_progress = zt_admit_handshakes(&im->admit);
  FOR_EACH_PEER(im, p) {
    if (!p->hello || p->detached)
      continue;
    g->agents += p->role == ZT_ROLE_AGENT;
    g->connectors += p->role == ZT_ROLE_CONNECTOR;
  }
  for (size_t i = 0; i < im->channels.cap; i++) {
    const struct channel *ch = im->channels.slots[i].val;
    if (!im->channels.slots[i].key || !ch)
      continue;
    g->sessions++;
    g->direct_sessions += ch->direct;
  }
  g->services = im->policy->n_services;
  for (size_t i = 0; i < im->policy->n_services; i++)
    g->services_online +=
        zt_registry_get(&im->reg, im->policy->services[i].name) != NULL;
  srcs[ZT_IM_SRC_STATS] = sum_stats(im);
  srcs[ZT_IM_SRC_GAUGES] = g;
}

int zt_intermediate_status(const struct zt_intermediate *im, char *buf,
                           size_t len) {
  char addr[64], ipbuf[16], qbuf[256];
  struct zt_strbuf sb;
  const struct peer *p;
  READ_BEGIN(im);
  zt_strbuf_init(&sb, buf, len);
  zt_strbuf_printf(&sb, "%zu peer(s), %zu channel(s)\n", peer_count(im),
                   im->channels.count);
  if (threaded(im))
    for (unsigned i = 0; i < im->n_workers; i++)
      zt_strbuf_printf(&sb,
                       "worker %u: %zu peer(s), %llu packet(s) in, control "
                       "phases %llu, wakes sent %llu, relay deferred %llu\n",
                       i, im->w[i]->n_peers,
                       (unsigned long long)im->w[i]->stats.packets_in,
                       (unsigned long long)im->w[i]->control_phases,
                       (unsigned long long)im->w[i]->wakes_sent,
                       (unsigned long long)im->w[i]->relay_deferred);
  FOR_EACH_PEER(im, p)
    zt_strbuf_printf(&sb, "%s %s at %s%s%s\n", zt_role_name(p->role),
                     p->name[0] ? p->name : "(handshaking)",
                     zt_netaddr_str((const struct sockaddr *)&p->observed, addr,
                                    sizeof(addr)),
                     p->tunnel_ip ? " tunnel " : "",
                     p->tunnel_ip ? zt_ip4_str(p->tunnel_ip, ipbuf) : "");
  FOR_EACH_PEER(im, p) {
    if (!p->q || !p->name[0])
      continue;
    zq_format_stats(p->q, qbuf, sizeof(qbuf));
    zt_strbuf_printf(&sb, "%s %s quic: %s\n", zt_role_name(p->role), p->name,
                     qbuf);
  }
  struct zt_intermediate_gauges g;
  const void *srcs[ZT_IM_NSRC];
  im_counter_srcs(im, &g, srcs);
  zt_counters_text(&zt_intermediate_counters, srcs, &sb);
  READ_END(im);
  return (int)sb.off;
}

/* ---- read-only views (intermediate.h) ----------------------------------- */

void zt_intermediate_foreach_channel(
    const struct zt_intermediate *im,
    void (*cb)(void *ud, const struct zt_intermediate_channel_info *ch),
    void *ud) {
  READ_BEGIN(im);
  for (size_t i = 0; i < im->channels.cap; i++) {
    const struct channel *ch = im->channels.slots[i].val;
    if (!im->channels.slots[i].key || !ch)
      continue;
    struct zt_intermediate_channel_info info = {
        ch->id, ch->agent->name, ch->connector->name, ch->agent->q,
        ch->connector->q};
    cb(ud, &info);
  }
  READ_END(im);
}

void zt_intermediate_foreach_peer(
    const struct zt_intermediate *im,
    void (*cb)(void *ud, const struct zt_intermediate_peer_info *p),
    void *ud) {
  const struct peer *p;
  READ_BEGIN(im);
  FOR_EACH_PEER(im, p) {
    struct zt_intermediate_peer_info info = {p->q, p->role, p->name,
                                             p->hello, p->tunnel_ip};
    cb(ud, &info);
  }
  READ_END(im);
}

/* ---- machine-readable status (docs/status.md) --------------------------- */

#include "statusw.h"

static void im_counters_json(const struct zt_intermediate *im,
                             struct zt_jsonw *w) {
  struct zt_intermediate_gauges g;
  const void *srcs[ZT_IM_NSRC];
  im_counter_srcs(im, &g, srcs);
  zt_jsonw_begin_object(w, "counters");
  zt_counters_json(&zt_intermediate_counters, srcs, w);
  zt_jsonw_end_object(w);
}

/* Each connector the service names: "online" (registered, heard),
 * "silent" (registered, not heard for ZT_CONNECTOR_SILENT_MS: chosen for
 * no agent while another is online), "offline" (not registered). */
static void connectors_json(const struct zt_intermediate *im,
                            const struct zt_policy_service *sv,
                            struct zt_jsonw *w) {
  const struct zt_registry_entry *e = zt_registry_get(&im->reg, sv->name);
  zt_jsonw_begin_array(w, "connectors");
  for (size_t k = 0; k < sv->n_connectors; k++) {
    const char *state = "offline";
    for (size_t i = 0; e && i < e->n; i++) {
      const struct peer *p = e->conns[i];
      if (strcmp(p->name, sv->connectors[k]) == 0)
        state = p->silent ? "silent" : "online";
    }
    zt_jsonw_begin_object(w, NULL);
    zt_jsonw_str(w, "name", sv->connectors[k]);
    zt_jsonw_str(w, "state", state);
    zt_jsonw_end_object(w);
  }
  zt_jsonw_end_array(w);
}

int zt_intermediate_metrics(const struct zt_intermediate *im, char *buf,
                            size_t len) {
  struct zt_intermediate_gauges g;
  const void *srcs[ZT_IM_NSRC];
  const struct zt_counter_table *tables[] = {&zt_intermediate_counters, NULL};
  READ_BEGIN(im);
  im_counter_srcs(im, &g, srcs);
  int n = zt_counters_page(buf, len, tables, srcs, ZT_METRIC_IM_HANDSHAKE,
                           "Outer QUIC handshake time of authenticated peers",
                           &im->sum.handshake);
  READ_END(im);
  return n;
}

int zt_intermediate_status_json(const struct zt_intermediate *im, char *buf,
                                size_t len) {
  struct zt_strbuf sb;
  struct zt_jsonw w;
  const struct peer *p;
  READ_BEGIN(im);
  zt_strbuf_init(&sb, buf, len);
  zt_jsonw_init(&w, &sb);
  zt_statusw_begin(&w, "intermediate", im->creds->own_name);
  zt_statusw_addr(&w, "listen", (const struct sockaddr *)&im->local,
                  im->locallen);
  zt_jsonw_begin_array(&w, "workers");
  for (unsigned i = 0; i < im->n_workers; i++) {
    zt_jsonw_begin_object(&w, NULL);
    zt_jsonw_u64(&w, "peers", im->w[i]->n_peers);
    zt_jsonw_u64(&w, "packets", im->w[i]->stats.packets_in);
    zt_jsonw_u64(&w, "relay_frames", im->w[i]->stats.relay_frames);
    zt_jsonw_u64(&w, "control_phases", im->w[i]->control_phases);
    zt_jsonw_u64(&w, "wakes_sent", im->w[i]->wakes_sent);
    zt_jsonw_u64(&w, "relay_deferred", im->w[i]->relay_deferred);
    zt_jsonw_end_object(&w);
  }
  zt_jsonw_end_array(&w);
  zt_statusw_own_cert(&w, im->creds, im->io);
  zt_jsonw_begin_array(&w, "peers");
  FOR_EACH_PEER(im, p) {
    zt_jsonw_begin_object(&w, NULL);
    zt_jsonw_str(&w, "role", p->name[0] ? zt_role_name(p->role) : "");
    zt_jsonw_str(&w, "name", p->name);
    zt_jsonw_str(&w, "state", !p->name[0]    ? "handshaking"
                              : p->detached ? "replaced"
                                            : "up");
    zt_statusw_addr(&w, "observed", (const struct sockaddr *)&p->observed,
                    p->observedlen);
    zt_statusw_ip4(&w, "tunnel_address", p->tunnel_ip);
    zt_jsonw_u64(&w, "rtt_us", p->q ? zq_rtt_ns(p->q) / 1000 : 0);
    /* For the dashboard: how long it has been up, its handshake's time. */
    zt_jsonw_u64(&w, "uptime_us",
                 p->name[0] && im->now > p->up_at ? (im->now - p->up_at) / 1000 : 0);
    zt_jsonw_u64(&w, "handshake_us",
                 p->name[0] && p->q ? zq_get_stats(p->q)->handshake_ns / 1000 : 0);
    zt_statusw_peer_cert(&w, p->q, im->io);
    zt_statusw_pmtu(&w, p->q);
    zt_jsonw_end_object(&w);
  }
  zt_jsonw_end_array(&w);
  zt_jsonw_begin_array(&w, "services");
  for (size_t i = 0; i < im->policy->n_services; i++) {
    const struct zt_policy_service *sv = &im->policy->services[i];
    zt_jsonw_begin_object(&w, NULL);
    zt_jsonw_str(&w, "name", sv->name);
    zt_statusw_ip4(&w, "address", sv->address);
    zt_jsonw_str(&w, "connector", sv->connectors[0]);
    zt_jsonw_bool(&w, "online", zt_registry_get(&im->reg, sv->name) != NULL);
    connectors_json(im, sv, &w);
    zt_jsonw_end_object(&w);
  }
  zt_jsonw_end_array(&w);
  /* A session is a channel; every channel is relayed here today, so
   * "direct" counts 0 until agents and connectors report direct paths. */
  uint64_t n_direct = 0;
  zt_jsonw_begin_array(&w, "sessions");
  for (size_t i = 0; i < im->channels.cap; i++) {
    const struct channel *ch = im->channels.slots[i].val;
    if (!im->channels.slots[i].key || !ch)
      continue;
    zt_jsonw_begin_object(&w, NULL);
    zt_jsonw_u64(&w, "channel", ch->id);
    zt_jsonw_str(&w, "agent", ch->agent->name);
    zt_jsonw_str(&w, "connector", ch->connector->name);
    zt_jsonw_str(&w, "path", ch->direct ? "direct" : "relay");
    zt_jsonw_end_object(&w);
    n_direct += ch->direct;
  }
  zt_jsonw_end_array(&w);
  zt_jsonw_u64(&w, "direct_sessions", n_direct);
  im_counters_json(im, &w);
  zt_jsonw_end_object(&w);
  READ_END(im);
  return (int)sb.off;
}

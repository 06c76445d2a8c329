/*
 * A whole ztna deployment in one process, for the simulator tests: a real
 * Intermediate, connectors and agents (core/) with their real QUIC and TLS,
 * on a simnet with simulated time. Each connector's "kernel" is a tiny
 * responder that answers ICMP echo and UDP echo for any service address, so
 * packets make the full round trip:
 *
 *   agent TUN -> agent -> relay -> connector -> "kernel" -> connector ->
 *   relay -> agent -> agent TUN
 *
 * Beside the real nodes, a test may add "raw peers": authenticated outer
 * QUIC clients with any certificate of the deployment, which send whatever
 * control messages and relay frames an attacker would, and record what the
 * Intermediate answers.
 *
 * world_new() builds the default deployment: Intermediate "intermediate",
 * connector "conn-a" serving "echo" at SIM_VIP (udp/7 and icmp), and one
 * agent (a[0]) with the certificate given; policy lets alice reach echo.
 */
#ifndef ZTNA_SIM_WORLD_H
#define ZTNA_SIM_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "certgen.h"
#include "config.h"
#include "connector.h"
#include "ctrl.h"
#include "intermediate.h"
#include "quic.h"
#include "simnet.h"

#define MS 1000000ULL
#define SEC 1000000000ULL
#define SIM_VIP 0x0a640001u     /* 10.100.0.1: echo */
#define SIM_VIP2 0x0a640002u    /* 10.100.0.2: a second service, if used */
#define SIM_BACKEND 0x0a1e0002u /* 10.30.0.2 */

/* The deployment's certificates, made once per process. */
struct sim_pki {
  struct zt_pem ca, ca2;          /* ca2: a foreign CA */
  struct zt_pem im;               /* intermediate/intermediate */
  struct zt_pem conn, conn_b;     /* connector/conn-a, connector/conn-b */
  struct zt_pem alice, bob, carol;
  struct zt_pem evil;             /* agent/alice, issued by ca2 */
};
extern struct sim_pki pki;
void sim_pki_init(void);
void sim_pki_free(void);
struct zt_tls_creds *sim_creds(const struct zt_pem *p);

#define WORLD_MAX_AGENTS 4
#define WORLD_MAX_CONNS 3
#define WORLD_MAX_RAW 6
#define MAX_REPLIES 4096

struct world;

struct sim_agent {
  struct world *w;
  struct sim_host *h;
  struct zt_agent *agent;
  struct zt_tls_creds *creds;
  struct zt_io io;
  size_t rx, rx_bytes, rx_bad; /* what its TUN received */
  uint8_t last[128];           /* the start of the last packet written */
  size_t last_len;             /* ... and its whole length */
  uint32_t routes[16];         /* routes currently installed */
  size_t n_routes;
  size_t route_adds;
};

struct sim_conn {
  struct world *w;
  struct sim_host *h;
  struct zt_connector *conn;
  struct zt_tls_creds *creds;
  struct zt_connector_config cfg;
  struct zt_io io;
  /* the "kernel": replies waiting to be read from the TUN device */
  uint8_t *kq[MAX_REPLIES];
  size_t kq_len[MAX_REPLIES], kq_n;
  size_t delivered;       /* packets handed to the kernel */
  size_t last_len;        /* the length of the last one */
  size_t route_changes;   /* agent routes added or removed */
  size_t forgets;         /* io->forget_addr calls (conntrack flushes) */
  uint32_t last_forgot;   /* the address of the last one */
};

struct raw_peer {
  struct world *w;
  struct sim_host *h;
  struct zq_conn *q;
  struct zt_tls_creds *creds;
  struct zt_ctrl_reader reader;
  unsigned got[256];             /* control messages received, by type */
  struct zt_ctrl_msg *last;      /* the last one of each type [256] */
  size_t dgrams;                 /* relay frames received */
  /* An end-to-end session of its own (raw_inner_dial, raw_inner_listen):
   * a hostile agent or connector that passed the Intermediate's checks and
   * now sends crafted inner packets, bypassing the real node's own filters
   * so the other end's checks can be tested alone. */
  struct zq_conn *inner;
  struct zt_tls_creds *inner_creds; /* raw_inner_dial_as: another identity */
  uint32_t inner_channel;
  bool inner_at_agent;           /* we are the agent (client) end */
  bool inner_listening;          /* connector end, awaiting the Initial */
  char inner_peer[ZT_NAME_MAX + 1];
  size_t inner_rx;               /* inner datagrams (IP packets) received */
  uint8_t inner_last[ZT_TUN_MTU];
  size_t inner_last_len;
};

struct fake_im;

struct world {
  struct simnet net;
  /* The wall clock the nodes see (zt_io.wall_clock): Unix seconds when the
   * world was made, plus simulated time, plus wall_skew (a test sets the
   * clock forward). */
  int64_t wall_base, wall_skew;
  struct sim_host *hi;
  struct zt_intermediate_config icfg;
  struct zt_tls_creds *ci;
  struct zt_intermediate *im;
  struct zt_io io_i;
  struct sim_agent a[WORLD_MAX_AGENTS];
  size_t n_agents;
  struct sim_conn c[WORLD_MAX_CONNS];
  size_t n_conns;
  struct raw_peer *raw[WORLD_MAX_RAW];
  size_t n_raw;
  /* the Intermediate's saved state (agent address bindings) */
  char *state;
  size_t state_len, state_saves;
  struct fake_im *fake; /* in place of the Intermediate, if any */
  /* A second Intermediate (198.51.100.4), same certificate and
   * configuration, no saved state: set second_im in world_new_with's edit,
   * and every agent and connector is configured with both (the first
   * listed first). */
  bool second_im;
  struct sim_host *hi2;
  struct zt_intermediate *im2;
  struct zt_io io_i2;
  struct sockaddr_storage im2_addr;
  /* Agents added from now on look for direct paths (zt_agent_options
   * .direct); connectors do by default (zt_connector_config.direct). Set
   * it in world_new_with's edit for a[0]. */
  bool agent_direct;
  /* Agents added from now on answer DNS for "ztna.internal" at
   * ZT_DNS_DEFAULT_ADDR (dnstun.h), as the daemon does by default. */
  bool agent_dns;
  /* The Intermediate's workers (set in world_new_with's edit; 0 or 1:
   * one). The sim steers each packet to its worker as the kernel would. */
  unsigned im_workers;
  struct zt_io io_w[ZT_IM_MAX_WORKERS]; /* workers 1.. (0: io_i) */
  struct sim_im_worker {
    unsigned idx;
    bool woken;   /* its io->wake was called */
    uint64_t due; /* its expiry when it last ran or was woken */
  } imw[ZT_IM_MAX_WORKERS];
  /* shorthands for the default deployment: a[0] and c[0] */
  struct zt_agent *agent;
  struct zt_connector *conn;
  struct sim_host *ha, *hc;
};

extern struct world *sim_world; /* the one world_new made last */

/* The default deployment, with agent_pem as a[0] (NULL: no agent). */
struct world *world_new(const struct zt_pem *agent_pem);
/* Like world_new, but lets the test edit the Intermediate's and the first
 * connector's configuration before anything starts. */
struct world *world_new_with(const struct zt_pem *agent_pem,
                             void (*edit)(struct world *w));
/* A world_new_with edit: conn-a serves web (SIM_VIP2, echo's port rules)
 * besides echo; the policy still grants alice echo only. */
void world_echo_and_web(struct world *w);
void world_free(struct world *w);
void world_start_intermediate(struct world *w);
void world_stop_intermediate(struct world *w);
void world_start_intermediate2(struct world *w);
void world_stop_intermediate2(struct world *w);
/* Another agent or connector, behind its own NAT (public port pub_port). */
struct sim_agent *world_add_agent(struct world *w, const struct zt_pem *pem,
                                  uint16_t pub_port);
struct sim_conn *world_add_connector(struct world *w, const struct zt_pem *pem,
                                     const struct zt_connector_config *cfg,
                                     uint16_t pub_port);
void world_stop_agent(struct sim_agent *a);
/* A connector process ends: clean (SIGTERM: CONNECTION_CLOSEs sent) or
 * not (kill -9: silence). world_start_connector starts it again on the
 * same host with the same certificate and configuration. */
void world_stop_connector(struct sim_conn *c, bool clean);
void world_start_connector(struct sim_conn *c);

/* The world's wall clock (Unix seconds), as zt_io.wall_clock. */
int64_t sim_wall_clock(void *ud);

/* Advances simulated time until `done` holds or `for_ns` has passed. */
bool world_run(struct world *w, bool (*done)(struct world *), uint64_t for_ns);
/* The default deployment is up: a[0] connected with its tunnel address,
 * c[0] registered, echo online and routed. */
bool world_ready(struct world *w);

/* Packets as the agent's TUN would carry them. */
size_t sim_build_ping(uint8_t *p, uint32_t src, uint32_t dst, uint16_t seq,
                      size_t size);
size_t sim_build_udp(uint8_t *p, uint32_t src, uint32_t dst, uint16_t dport,
                     size_t payload);
/* n pings from agent a to dst, gap apart. */
void sim_send_pings(struct sim_agent *a, uint32_t dst, int n, uint64_t gap);

/* An authenticated outer QUIC client with certificate pem (NULL on a
 * failed dial); world_run() drives it. */
struct raw_peer *raw_peer_new(struct world *w, const struct zt_pem *pem,
                              uint16_t pub_port);
int raw_send_msg(struct raw_peer *r, const struct zt_ctrl_msg *m);
int raw_send_relay(struct raw_peer *r, uint32_t channel, const uint8_t *p,
                   size_t len);
void raw_peer_free(struct raw_peer *r);
bool raw_ready(const struct raw_peer *r);
bool raw_dead(const struct raw_peer *r);

/* A fake Intermediate: a compromised one, which a raw peer cannot play
 * (raw peers are clients; agents and connectors only talk to a server with
 * the Intermediate's certificate). It takes the Intermediate's place in
 * the world (the real one is stopped), accepts the outer connections of
 * the world's agents and connectors with the Intermediate's certificate,
 * records the control messages they send, and sends whatever a test tells
 * it to, however hostile. Create it before the first world_run so the
 * nodes' first Initial packets reach it. */
#define FAKE_IM_MAX_PEERS 4
struct fake_im_peer {
  struct sockaddr_in addr;
  struct zq_conn *q;
  struct zt_ctrl_reader reader;
  struct fake_im *f;
};
struct fake_im {
  struct world *w;
  struct zt_tls_creds *creds;
  struct fake_im_peer peers[FAKE_IM_MAX_PEERS];
  size_t n_peers;
  unsigned got[256];        /* control messages received, by type */
  uint32_t closed[256];     /* channels named in SESSION_CLOSEs received */
  uint8_t closed_status[256];
  size_t n_closed;
};
struct fake_im *fake_im_new(struct world *w);
void fake_im_free(struct fake_im *f);
/* The handshake-complete outer connection of a peer with that role and
 * name (NULL: any name), or NULL. */
struct zq_conn *fake_im_peer(struct fake_im *f, enum zt_role role,
                             const char *name);
int fake_im_send(struct fake_im *f, struct zq_conn *q,
                 const struct zt_ctrl_msg *m);
int fake_im_relay(struct fake_im *f, struct zq_conn *q, uint32_t channel,
                  const uint8_t *p, size_t len);
/* Did a SESSION_CLOSE for channel arrive? */
bool fake_im_closed(const struct fake_im *f, uint32_t channel);
/* The raw peer as the agent end of channel `channel` (from its
 * SESSION_READY): an inner QUIC client that must find connector
 * `connector` at the other end. 0, or -1 if it cannot start. */
int raw_inner_dial(struct raw_peer *r, uint32_t channel, const char *connector);
/* The same, presenting another identity's certificate in the inner
 * handshake than the one the outer connection authenticated. */
int raw_inner_dial_as(struct raw_peer *r, uint32_t channel,
                      const char *connector, const struct zt_pem *as);
/* The raw peer as the connector end of `channel` (from its SESSION_NEW;
 * 0: whichever channel the first relay frame comes on, since the agent's
 * Initial may arrive in the same step as the SESSION_NEW): accepts the
 * first inner Initial on it, from agent `agent`. */
void raw_inner_listen(struct raw_peer *r, uint32_t channel, const char *agent);
bool raw_inner_ready(const struct raw_peer *r);
/* One IP packet in an inner DATAGRAM frame. */
int raw_inner_send(struct raw_peer *r, const uint8_t *pkt, size_t len);

/* Log lines go to stderr only with SIM_VERBOSE (or at error level); a test
 * can also capture them to assert what operators would read. */
void sim_log_init(void);
void sim_log_capture(bool on);
/* Did a captured line contain needle? */
bool sim_log_seen(const char *needle);
void sim_log_clear(void);

#endif

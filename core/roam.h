/*
 * Roaming: what the agent does with its outer connection when the host's
 * network changes (an address gone, the default route changed, a link down
 * and up). The driver watches the kernel (platform/netwatch.c) and hands
 * the agent a coalesced notice; this file decides, without I/O, whether
 * the connection to the Intermediate moves to a new local address (QUIC
 * client migration), re-validates the path it has, dials again at once, or
 * waits for a route; and after a move, whether the new path answered
 * within a short grace or the connection must be redialled.
 *
 * Why not just wait: packets sent while the path is gone are lost, QUIC's
 * probe timer backs off exponentially, and a dead connection is noticed
 * only by its idle timeout (30 s). Acting on the notice bounds the outage
 * by the kernel's notification plus one round trip.
 */
#ifndef ZTNA_ROAM_H
#define ZTNA_ROAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* What changed, as bits of zt_netchange.what. */
enum {
  ZT_NET_ADDR_ADDED = 1u << 0,
  ZT_NET_ADDR_REMOVED = 1u << 1,
  ZT_NET_LINK_UP = 1u << 2,
  ZT_NET_LINK_DOWN = 1u << 3,
  ZT_NET_ROUTE_DEFAULT = 1u << 4, /* a default route added or removed */
  ZT_NET_OVERRUN = 1u << 5, /* events were lost: assume anything changed */
};

#define ZT_NETCHANGE_ADDRS 4 /* addresses kept per direction, for the log */

/* One coalesced "network changed" notice. */
struct zt_netchange {
  unsigned what;
  unsigned events; /* netlink messages that went into it */
  unsigned n_added, n_removed; /* all of them, even past the ones kept */
  struct sockaddr_storage added[ZT_NETCHANGE_ADDRS];
  struct sockaddr_storage removed[ZT_NETCHANGE_ADDRS];
};

/* "addr removed 10.10.1.2, link down, ..." into buf (always terminated). */
void zt_netchange_describe(const struct zt_netchange *n, char *buf,
                           size_t len);

enum zt_roam_uplink {
  ZT_ROAM_UPLINK_UP,      /* handshake done */
  ZT_ROAM_UPLINK_DIALING, /* handshake in progress */
  ZT_ROAM_UPLINK_DOWN,    /* waiting for its reconnect timer */
  ZT_ROAM_UPLINK_STOPPED, /* replaced by another instance: stays down */
};

/* Everything the decision depends on. */
struct zt_roam_facts {
  unsigned what;          /* zt_netchange.what */
  bool have_route;        /* the kernel has a source address for the
                             Intermediate now */
  bool source_changed;    /* ... and it is not the one the uplink uses */
  bool route_was_lost;    /* the previous notice found no route */
  enum zt_roam_uplink uplink;
};

enum zt_roam_action {
  ZT_ROAM_NONE,       /* nothing that matters to the uplink changed */
  ZT_ROAM_WAIT_ROUTE, /* no route to the Intermediate: wait for one */
  ZT_ROAM_MIGRATE,    /* move the connection to the new source address */
  ZT_ROAM_REVALIDATE, /* same address, but the path may have broken under
                         it (link flap, NAT gone): validate a fresh path */
  ZT_ROAM_REDIAL,     /* dial again now, backoff reset */
};

enum zt_roam_action zt_roam_decide(const struct zt_roam_facts *f);
const char *zt_roam_action_name(enum zt_roam_action a);

/* After a migration or revalidation the new path must answer within
 * max(ZT_ROAM_GRACE_MIN_MS, ZT_ROAM_GRACE_RTTS * rtt); if not, the
 * connection is redialled. */
#define ZT_ROAM_GRACE_MIN_MS 1000
#define ZT_ROAM_GRACE_RTTS 3

/* The agent's roaming state and counters (`ztna status`). */
struct zt_roam {
  bool route_lost;   /* the last notice found no route */
  uint64_t moved_at; /* when the last move began (0: no check pending) */
  uint64_t check_at; /* the grace deadline of that move */
  uint64_t changes;  /* notices received */
  uint64_t migrations, revalidations, redials, grace_redials, no_route;
  uint64_t last_change_ns; /* time of the last notice (0: none) */
  char last_change[160];   /* its description */
  enum zt_roam_action last_action;
  /* Where our packets to the Intermediate leave from, as last looked up. */
  struct sockaddr_storage source;
  socklen_t sourcelen; /* 0: not known */
};

/* Records the notice and the decision taken for it at `now`; a move arms
 * the grace check with `rtt_ns` (0: unknown). */
void zt_roam_note(struct zt_roam *r, const struct zt_netchange *n,
                  enum zt_roam_action a, uint64_t rtt_ns, uint64_t now);
/* The grace check: true when the deadline has passed and nothing came from
 * the Intermediate since the move (last_rx: time of the last packet
 * received from it): the caller redials. An answer, or the deadline, ends
 * the check. */
bool zt_roam_grace_failed(struct zt_roam *r, uint64_t last_rx, uint64_t now);
/* The pending grace deadline, UINT64_MAX for none. */
uint64_t zt_roam_expiry(const struct zt_roam *r);


/* ---- with the uplink (the agent calls these) ---------------------------- */
struct zt_uplink;
/* Before the first notice: where packets to the Intermediate leave from. */
void zt_roam_init(struct zt_roam *r, const struct zt_uplink *u);
/* A notice from the driver: looks up the source address for the
 * Intermediate (io->source_addr), decides, acts on the uplink, logs the
 * change and the decision. Returns what it did (a failed migration
 * becomes a redial). */
enum zt_roam_action zt_roam_on_change(struct zt_roam *r, struct zt_uplink *u,
                                      const struct zt_netchange *n,
                                      uint64_t now);
/* At zt_roam_expiry(): redials the uplink when the moved path stayed
 * silent. */
void zt_roam_handle_expiry(struct zt_roam *r, struct zt_uplink *u,
                           uint64_t now);
/* "roaming": counters and the last change, into the status JSON. */
struct zt_strbuf;
/* The same as one line of text: "roaming: changes N ... last: WHAT -> ACTION". */
void zt_roam_status(const struct zt_roam *r, struct zt_strbuf *sb);
struct zt_jsonw;
void zt_roam_status_json(const struct zt_roam *r, struct zt_jsonw *w,
                         uint64_t now);

#endif

/*
 * What a sans-IO node (agent, connector, Intermediate) asks of its driver.
 * The daemons implement these with a UDP socket, a TUN device and nftables;
 * the simulator implements them with in-memory links.
 */
#ifndef ZTNA_NODE_IO_H
#define ZTNA_NODE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct zt_nat_rule {
  uint32_t vip;     /* service's virtual address (host order) */
  uint32_t backend; /* where the kernel sends it */
};

struct zt_io {
  void *ud;
  /* One UDP datagram out of the node's one socket. */
  void (*udp_send)(void *ud, const struct sockaddr *to, socklen_t tolen,
                   const uint8_t *data, size_t len);
  /* One IP packet into the TUN device (agent, connector). */
  void (*tun_write)(void *ud, const uint8_t *pkt, size_t len);
  /* Agent: the tunnel address the Intermediate gave us (host order). */
  void (*tun_addr)(void *ud, uint32_t addr);
  /* A /32 to route into the tunnel (add) or not: service addresses on the
   * agent, agent tunnel addresses on the connector. */
  void (*route)(void *ud, uint32_t vip, bool add);
  /* Connector: the full set of DNAT rules, replacing the previous one. */
  void (*nat)(void *ud, const struct zt_nat_rule *rules, size_t n);
  /* Intermediate: keep this state (agent address bindings, text) across
   * restarts, replacing what was kept before; NULL: kept in memory only. */
  void (*save_state)(void *ud, const char *text, size_t len);
  /* Connector: an agent tunnel address (host order) now belongs to another
   * agent identity; forget the kernel's state of the old holder's flows
   * (conntrack entries whose original source is addr), so their replies
   * cannot reach the new holder. */
  void (*forget_addr)(void *ud, uint32_t addr);
  /* The answer to a zt_agent_ping() (agent.h): one JSON object (docs/
   * status.md, "ztna ping"), NUL-terminated, valid during the call. */
  void (*ping_result)(void *ud, uint64_t cookie, const char *json);
  /* The node's local UDP addresses, to offer as direct-path candidates:
   * up to max of them, with the port of the node's socket; their number.
   * NULL: none (the observed address is still offered). */
  size_t (*local_addrs)(void *ud, struct sockaddr_storage *out, size_t max);
  /* Agent, roaming (roam.h): the address packets to `to` would leave from
   * now, with the port of the node's socket: 0, or -1 when there is no
   * route. NULL: unknown (the host's changes are then acted on as if the
   * source stayed the same). */
  int (*source_addr)(void *ud, const struct sockaddr *to, socklen_t tolen,
                     struct sockaddr_storage *out, socklen_t *outlen);
  /* The wall clock, Unix seconds: certificates expire by it
   * (certexpiry.h). NULL: connections are not closed at their peer's
   * certificate expiry (the handshake still checks it). */
  int64_t (*wall_clock)(void *ud);
  /* Intermediate workers: another worker queued work for this one; its
   * loop is to call zt_intermediate_worker_mail() (intermediate.h) and
   * look at its expiry again. Called from any thread, with wake_ud. */
  void (*wake)(void *wake_ud);
  void *wake_ud;
};

/* Sends every packet connection q has now through io->udp_send (the
 * uplink's and the Intermediate's peers' connections go straight to the
 * socket; inner sessions choose a path per packet, tunnel.c). */
struct zq_conn;
void zt_io_send_all(const struct zt_io *io, struct zq_conn *q, uint64_t now);

#endif

/*
 * The agent, sans-IO: IP packets read from the TUN device go to the
 * connector that serves their destination, through an end-to-end session
 * relayed by the Intermediate; packets coming back are checked and written
 * to the TUN device. The driver (daemons/agent) owns the socket, the TUN
 * device and the timer.
 */
#ifndef ZTNA_AGENT_H
#define ZTNA_AGENT_H

#include "node_io.h"
#include "tls.h"

struct zt_agent;

struct zt_agent_options {
  struct zt_tls_creds *creds;
  const char *intermediate_name; /* name in the Intermediate's certificate */
  const struct sockaddr *local;  /* our UDP socket's bound address */
  socklen_t locallen;
  const struct sockaddr *server; /* the (first) Intermediate */
  socklen_t serverlen;
  /* The others (config "intermediate" as a list): standbys, one of all in
   * use at a time. */
  size_t n_more_servers;
  const struct sockaddr_storage *more_servers;
  const socklen_t *more_serverlens;
  /* Service addresses we accept routes for (config service_range); a
   * length of 0 accepts any address. */
  uint32_t service_range;
  uint8_t service_range_len;
  bool direct; /* look for direct paths (config "direct") */
  /* DNS inside the tunnel (dnstun.h): services answered as
   * name.dns_domain at dns_addr:53; dns_domain NULL or "", or dns_addr 0:
   * off. */
  const char *dns_domain;
  uint32_t dns_addr;
};

struct zt_agent_stats {
  uint64_t tun_packets, tun_not_ipv4, tun_malformed, tun_bad_source,
      tun_no_service, tun_service_offline, tun_no_uplink, tun_pending_drops,
      tun_too_big;
  uint64_t rx_packets, rx_malformed, rx_policy_drops;
  uint64_t relay_unknown_channel;
  uint64_t sessions_opened, sessions_refused;
  uint64_t services_refused; /* outside service_range: no route */
  uint64_t direct_unknown;   /* UDP matching neither uplink nor session */
};

struct zt_agent *zt_agent_new(const struct zt_agent_options *opt,
                              const struct zt_io *io, uint64_t now);
/* Stopping: CONNECTION_CLOSE to every connector and to the Intermediate,
 * so none of them waits for an idle timeout. */
void zt_agent_shutdown(struct zt_agent *a, uint64_t now);
void zt_agent_free(struct zt_agent *a);
void zt_agent_feed_udp(struct zt_agent *a, const struct sockaddr *from,
                       socklen_t fromlen, const uint8_t *pkt, size_t len,
                       uint64_t now);
void zt_agent_feed_tun(struct zt_agent *a, const uint8_t *pkt, size_t len,
                       uint64_t now);
uint64_t zt_agent_expiry(const struct zt_agent *a);
void zt_agent_handle_expiry(struct zt_agent *a, uint64_t now);
/* The host's network changed (platform/netwatch.c): the outer connection
 * migrates, revalidates or redials at once (roam.h), and sessions send
 * their new candidates. */
struct zt_netchange;
void zt_agent_network_changed(struct zt_agent *a, const struct zt_netchange *n,
                              uint64_t now);

const struct zt_agent_stats *zt_agent_get_stats(const struct zt_agent *a);
uint32_t zt_agent_tunnel_addr(const struct zt_agent *a);
bool zt_agent_is_connected(const struct zt_agent *a);
/* Index of the Intermediate in use (0: the first configured), or SIZE_MAX
 * while none is. */
size_t zt_agent_intermediate_in_use(const struct zt_agent *a);
/* Has an end-to-end session to the connector serving vip completed its
 * handshake? */
/* The Intermediate lists the service at `vip` as online. */
bool zt_agent_service_online(const struct zt_agent *a, uint32_t vip);
bool zt_agent_session_ready(const struct zt_agent *a, uint32_t vip);
/* `ztna ping`: sends one authenticated probe on the session to the
 * connector serving target (a service name or address, dotted quad),
 * opening the session first if needed, and reports the reply (or a
 * timeout after ZT_PING_TIMEOUT_MS, or an error) through io->ping_result
 * with cookie; never before this call returns. 0, or -1 with err when
 * the target is unknown (then no result follows). */
#define ZT_PING_TIMEOUT_MS 1000
int zt_agent_ping(struct zt_agent *a, const char *target, uint64_t cookie,
                  uint64_t now, char *err, size_t errlen);
/* The DNS address inside the tunnel (0: DNS off) and its counters. */
struct zt_dnstun_stats;
uint32_t zt_agent_dns_addr(const struct zt_agent *a);
const struct zt_dnstun_stats *zt_agent_dns_stats(const struct zt_agent *a);
/* Writes a human-readable status (services, sessions, counters). */
int zt_agent_status(const struct zt_agent *a, char *buf, size_t len);

/* The status as one JSON object, schema in docs/status.md. Returns the
 * length it needed: >= len means cut off (retry with a bigger buffer). */
int zt_agent_status_json(const struct zt_agent *a, char *buf, size_t len);
/* The counters, gauges and uplink handshake times in Prometheus' text
 * format (metrics.h, docs/operations.md); same return convention. */
int zt_agent_metrics(const struct zt_agent *a, char *buf, size_t len);

#endif

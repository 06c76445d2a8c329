/*
 * The App Connector, sans-IO: registers its services with the Intermediate,
 * accepts end-to-end sessions from the agents the Intermediate announces,
 * checks every packet against policy again (source is the agent's tunnel
 * address, destination one of the services it may reach, protocol and port
 * allowed by the service), and hands packets to the kernel through the TUN
 * device. Replies read from the TUN device go back to the session of the
 * agent whose tunnel address they are for.
 */
#ifndef ZTNA_CONNECTOR_H
#define ZTNA_CONNECTOR_H

#include "config.h"
#include "node_io.h"
#include "tls.h"

struct zt_connector;

struct zt_connector_options {
  struct zt_tls_creds *creds;
  const char *intermediate_name;
  const struct sockaddr *local;
  socklen_t locallen;
  const struct sockaddr *server; /* the first Intermediate */
  socklen_t serverlen;
  /* The others (config "intermediate" as a list): one uplink each. */
  size_t n_more_servers;
  const struct sockaddr_storage *more_servers;
  const socklen_t *more_serverlens;
  const struct zt_connector_config *cfg; /* services, agent_pool; copied */
};

struct zt_connector_stats {
  uint64_t rx_packets, rx_malformed, rx_bad_source, rx_not_allowed;
  uint64_t rx_frag_not_allowed; /* reassembled datagrams, of not_allowed */
  uint64_t tun_packets, tun_not_ipv4, tun_malformed, tun_no_session, tun_drops;
  uint64_t relay_unknown_channel, relay_early_buffered, relay_early_replayed,
      relay_early_dropped;
  uint64_t sessions_accepted, sessions_refused;
  uint64_t sessions_replaced; /* a newer SESSION_NEW for the same address */
  uint64_t sessions_regranted; /* same channel again: a reload's new grant */
  uint64_t sessions_bad_addr; /* agent address outside agent_pool */
  uint64_t addr_handovers;    /* an address passed to another identity */
  uint64_t sessions_orphan_expired; /* direct sessions not re-announced */
  uint64_t direct_unknown;   /* UDP matching neither uplink nor session */
};

struct zt_connector *zt_connector_new(const struct zt_connector_options *opt,
                                      const struct zt_io *io, uint64_t now);
/* Stopping: CONNECTION_CLOSE to every agent session and to the
 * Intermediate, so none of them waits for an idle timeout. */
void zt_connector_shutdown(struct zt_connector *c, uint64_t now);
void zt_connector_free(struct zt_connector *c);
void zt_connector_feed_udp(struct zt_connector *c, const struct sockaddr *from,
                           socklen_t fromlen, const uint8_t *pkt, size_t len,
                           uint64_t now);
void zt_connector_feed_tun(struct zt_connector *c, const uint8_t *pkt,
                           size_t len, uint64_t now);
uint64_t zt_connector_expiry(const struct zt_connector *c);
void zt_connector_handle_expiry(struct zt_connector *c, uint64_t now);

const struct zt_connector_stats *
zt_connector_get_stats(const struct zt_connector *c);
bool zt_connector_is_connected(const struct zt_connector *c);
/* Number of services the Intermediate accepted. */
size_t zt_connector_registered(const struct zt_connector *c);
int zt_connector_status(const struct zt_connector *c, char *buf, size_t len);

/* A read-only view of the session table, for tests and the node-level
 * fuzzer's invariants. The callback must not call back into the connector. */
struct zq_conn;
struct zt_connector_session_info {
  uint32_t channel;
  const char *agent; /* as announced in SESSION_NEW */
  uint32_t agent_ip;
  uint8_t n_vips;
  const uint32_t *vips;
  const struct zq_conn *inner; /* NULL until the agent's first packet */
  bool routed; /* the session owning agent_ip's route */
  unsigned uplink; /* index of the Intermediate it was announced by */
};
void zt_connector_foreach_session(
    const struct zt_connector *c,
    void (*cb)(void *ud, const struct zt_connector_session_info *s), void *ud);

/* The status as one JSON object, schema in docs/status.md. Returns the
 * length it needed: >= len means cut off (retry with a bigger buffer). */
int zt_connector_status_json(const struct zt_connector *c, char *buf, size_t len);
/* The counters, gauges and uplink handshake times in Prometheus' text
 * format (metrics.h, docs/operations.md); same return convention. */
int zt_connector_metrics(const struct zt_connector *c, char *buf, size_t len);

#endif

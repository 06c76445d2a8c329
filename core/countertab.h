/*
 * The counter tables of the three nodes (counters.h): the one list of what
 * each node counts. Each table reads from several structures, its
 * sources, in the order of the node's enum below; the gauges structures
 * are filled by the node when status or metrics are asked for.
 */
#ifndef ZTNA_COUNTERTAB_H
#define ZTNA_COUNTERTAB_H

#include "counters.h"

/* Sources of the Intermediate's table. */
enum { ZT_IM_SRC_STATS, ZT_IM_SRC_GAUGES, ZT_IM_NSRC };
struct zt_intermediate_gauges {
  uint64_t handshakes_in_progress;
  uint64_t agents, connectors; /* authenticated, not replaced */
  uint64_t sessions, direct_sessions;
  uint64_t services, services_online;
};
extern const struct zt_counter_table zt_intermediate_counters;

/* Agent and connector: their own stats, the TUN writer's (tunout.h), the
 * direct-path counters summed over all sessions past and present
 * (path.h). */
enum {
  ZT_AGENT_SRC_STATS,
  ZT_AGENT_SRC_TUNOUT,
  ZT_AGENT_SRC_PATHS,
  ZT_AGENT_SRC_DNS,
  ZT_AGENT_SRC_GAUGES,
  ZT_AGENT_SRC_UPLINKS, /* struct zt_uplink_stats, summed over uplinks */
  ZT_AGENT_SRC_ROAM,    /* struct zt_roam of the Intermediate in use */
  ZT_AGENT_NSRC
};
struct zt_agent_gauges {
  uint64_t uplink_up, uplinks_up;
  uint64_t sessions, sessions_ready, sessions_direct;
  uint64_t services, services_online;
};
extern const struct zt_counter_table zt_agent_counters;
/* The DNS counters, in the table only while DNS is on (dnstun.h). */
extern const struct zt_counter_table zt_agent_dns_counters;

enum {
  ZT_CONN_SRC_STATS,
  ZT_CONN_SRC_TUNOUT,
  ZT_CONN_SRC_PATHS,
  ZT_CONN_SRC_REASM,
  ZT_CONN_SRC_GAUGES,
  ZT_CONN_SRC_UPLINKS, /* struct zt_uplink_stats, summed over uplinks */
  ZT_CONN_NSRC
};
struct zt_connector_gauges {
  uint64_t uplinks_up;
  uint64_t sessions, sessions_ready, sessions_direct;
  uint64_t services, services_registered;
};
extern const struct zt_counter_table zt_connector_counters;

/* Every daemon: the driver's own counters (platform/driver.h) and the
 * audit log's (audit.h), as metrics. */
enum { ZT_DAEMON_SRC_DRIVER, ZT_DAEMON_SRC_AUDIT, ZT_DAEMON_NSRC };
struct zt_driver_counters {
  uint64_t udp_send_errors, tun_write_errors, gso_messages, gso_segments;
  uint64_t gro_messages, gro_segments;
  /* TUN offloads (tso.h, gro.h); 0 without them */
  uint64_t tun_gso_reads, tun_gso_segments, tun_bad_reads;
  uint64_t tun_gro_writes, tun_gro_segments;
};
extern const struct zt_counter_table zt_daemon_counters;
extern const struct zt_counter_table zt_audit_counters; /* while audit is on */

/* Metrics outside the tables: the handshake histograms and the build info
 * gauge (platform/metricsd.c). */
#define ZT_METRIC_IM_HANDSHAKE "ztna_intermediate_handshake_duration_seconds"
#define ZT_METRIC_AGENT_HANDSHAKE "ztna_agent_uplink_handshake_duration_seconds"
#define ZT_METRIC_CONN_HANDSHAKE                                              \
  "ztna_connector_uplink_handshake_duration_seconds"
#define ZT_METRIC_BUILD_INFO "ztna_build_info"

/* Every table above and every other metric name, NULL-terminated, for the
 * checks of names and documentation (tests/unit/test_counters.c). */
extern const struct zt_counter_table *const zt_all_counter_tables[];
extern const char *const zt_other_metric_names[];

#endif

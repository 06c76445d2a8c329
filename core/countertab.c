/* See countertab.h. The keys are the status JSON's names (docs/status.md:
 * they never change within schema version 1); the metric names follow
 * Prometheus' conventions (docs/operations.md). */
#include "countertab.h"

#include "agent.h"
#include "audit.h"
#include "connector.h"
#include "dnstun.h"
#include "intermediate.h"
#include "path.h"
#include "reasm.h"
#include "roam.h"
#include "tunout.h"
#include "uplink.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- Intermediate ------------------------------------------------------- */

#define IS ZT_IM_SRC_STATS, struct zt_intermediate_stats
#define IG ZT_IM_SRC_GAUGES, struct zt_intermediate_gauges
#define IM "ztna_intermediate_"
static const struct zt_counter im_rows[] = {
    ZT_CTR("udp.packets", IM "udp_received_packets_total", IS, packets_in,
           "UDP datagrams received on the listen port"),
    ZT_CTR("udp.unknown", IM "udp_unknown_packets_total", IS, packets_unknown,
           "UDP datagrams that belong to no connection and start none"),
    ZT_CTR("udp.resets_sent", IM "stateless_resets_sent_total", IS,
           resets_sent, "Stateless Resets sent for unknown connections"),
    ZT_CTR("udp.resets_limited", IM "stateless_resets_limited_total", IS,
           resets_limited, "Stateless Resets not sent: global budget"),
    ZT_CTR("udp.resets_limited_source",
           IM "stateless_resets_limited_source_total", IS,
           resets_limited_source,
           "Stateless Resets not sent: the source's own budget"),
    ZT_CTR("stun.answered", IM "stun_answered_total", IS, stun_answered,
           "STUN Binding requests answered"),
    ZT_CTR("stun.dropped", IM "stun_dropped_total", IS, stun_dropped,
           "STUN requests dropped: smaller than the answer, or malformed"),
    ZT_CTR("stun.limited", IM "stun_limited_total", IS, stun_limited,
           "STUN requests over the per-source or global answer budget"),
    ZT_GAUGE("handshakes.in_progress", IM "handshakes_in_progress", IG,
             handshakes_in_progress, "Outer QUIC handshakes in progress"),
    ZT_CTR("handshakes.accepted", IM "handshakes_accepted_total", IS,
           peers_accepted, "Outer handshakes completed and authenticated"),
    ZT_CTR("handshakes.failed", IM "handshakes_failed_total", IS,
           accept_failures, "Initial packets that could not start a handshake"),
    ZT_CTR("handshakes.refused", IM "handshakes_refused_total", IS,
           handshakes_refused,
           "Handshakes refused (certificate, role, revocation)"),
    ZT_CTR("handshakes.retries_sent", IM "retries_sent_total", IS,
           retries_sent, "Retry packets sent to validate a source address"),
    ZT_CTR("handshakes.tokens_invalid", IM "tokens_invalid_total", IS,
           tokens_invalid, "Initials with a bad or expired Retry token"),
    ZT_CTR("handshakes.capped_global", IM "initials_capped_global_total", IS,
           initials_capped_global,
           "Initials dropped at the global cap of handshakes in progress"),
    ZT_CTR("handshakes.capped_source", IM "initials_capped_source_total", IS,
           initials_capped_source,
           "Initials dropped at the per-source cap of handshakes"),
    ZT_CTR("relay.frames", IM "relay_frames_total", IS, relay_frames,
           "Relay frames forwarded between agents and connectors"),
    ZT_CTR("relay.bytes", IM "relay_bytes_total", IS, relay_bytes,
           "Bytes of relay frames forwarded"),
    ZT_CTR("relay.malformed", IM "relay_malformed_frames_total", IS,
           relay_malformed, "Relay datagrams without a valid header"),
    ZT_CTR("relay.unknown_channel", IM "relay_unknown_channel_frames_total",
           IS, relay_unknown_channel, "Relay frames for no open channel"),
    ZT_CTR("relay.wrong_peer", IM "relay_wrong_peer_frames_total", IS,
           relay_wrong_peer, "Relay frames from a peer not on the channel"),
    ZT_CTR("relay.queue_drops", IM "relay_queue_dropped_frames_total", IS,
           relay_queue_drops, "Relay frames the forward leg's queue refused"),
    ZT_CTR("relay.too_big", IM "relay_too_big_frames_total", IS,
           relay_too_big,
           "Relay frames larger than the forward leg's path MTU"),
    ZT_CTR("ctrl.malformed", IM "ctrl_malformed_messages_total", IS,
           ctrl_malformed, "Control messages of a known type that failed to "
                           "decode"),
    ZT_CTR("ctrl.unknown", IM "ctrl_unknown_messages_total", IS, ctrl_unknown,
           "Control messages of an unknown type, skipped"),
    ZT_CTR("ctrl.oversized", IM "ctrl_oversized_messages_total", IS,
           ctrl_oversized, "Control messages over the size limit, skipped"),
    ZT_CTR("ctrl.unexpected", IM "ctrl_unexpected_messages_total", IS,
           ctrl_unexpected, "Control messages not expected in the peer's "
                            "state or role"),
    ZT_CTR("ctrl.backlog_closes", IM "ctrl_backlog_closes_total", IS,
           ctrl_backlog_closes,
           "Peers closed for holding too many unacknowledged control bytes"),
    ZT_CTR("sessions.opened", IM "sessions_opened_total", IS, sessions_opened,
           "Sessions (relay channels) opened"),
    ZT_CTR("sessions.denied", IM "sessions_denied_total", IS, sessions_denied,
           "Session requests denied (policy, offline, resources)"),
    ZT_CTR("sessions.rate_limited", IM "sessions_rate_limited_total", IS,
           sessions_rate_limited, "Session requests over the agent's rate"),
    ZT_CTR("sessions.channels_replaced", IM "channels_replaced_total", IS,
           channels_replaced,
           "Channels replaced by a newer one of the same agent and connector"),
    ZT_CTR("peers_replaced", IM "peers_replaced_total", IS, peers_replaced,
           "Connections replaced by a newer one of the same identity"),
    ZT_CTR("peers_revoked", IM "peers_revoked_total", IS, peers_revoked,
           "Connections closed: certificate revoked by a reloaded CRL"),
    ZT_CTR("peers_cert_expired", IM "peers_cert_expired_total", IS,
           peers_cert_expired, "Connections closed: certificate expired"),
    ZT_CTR("addresses_reassigned", IM "addresses_reassigned_total", IS,
           addresses_reassigned,
           "Tunnel addresses taken from an offline agent for another"),
    ZT_CTR("log_suppressed", IM "log_lines_suppressed_total", IS,
           log_suppressed, "Peer-caused log lines over the rate limit"),
    ZT_GAUGE(NULL, IM "agents", IG, agents, "Agents connected"),
    ZT_GAUGE(NULL, IM "connectors", IG, connectors, "Connectors connected"),
    ZT_GAUGE(NULL, IM "sessions", IG, sessions,
             "Sessions (channels between an agent and a connector) open"),
    ZT_GAUGE(NULL, IM "direct_sessions", IG, direct_sessions,
             "Sessions whose agent reports a direct path"),
    ZT_GAUGE(NULL, IM "services", IG, services, "Services in the policy"),
    ZT_GAUGE(NULL, IM "services_online", IG, services_online,
             "Services whose connector is registered"),
};
const struct zt_counter_table zt_intermediate_counters = {
    "intermediate", im_rows, N(im_rows)};

/* ---- agent and connector: shared parts --------------------------------- */

#define SIZE_ROWS(P, SRC)                                                    \
  ZT_CTR("size.mss_clamped", P "mss_clamped_total", SRC,                     \
         struct zt_tunout_stats, mss_clamped,                                \
         "TCP SYNs whose MSS option was lowered to what fits"),              \
      ZT_CTR("size.fragmented", P "fragmented_packets_total", SRC,           \
             struct zt_tunout_stats, fragmented,                             \
             "Packets without DF cut into fragments to fit"),                \
      ZT_CTR("size.fragments", P "fragments_sent_total", SRC,                \
             struct zt_tunout_stats, fragments, "Fragments sent"),           \
      ZT_CTR("size.too_big", P "too_big_packets_total", SRC,                 \
             struct zt_tunout_stats, too_big,                                \
             "Packets with DF dropped as bigger than the session carries"),  \
      ZT_CTR("size.icmp_sent", P "icmp_frag_needed_sent_total", SRC,         \
             struct zt_tunout_stats, icmp_sent,                              \
             "ICMP fragmentation-needed written back to the sender"),        \
      ZT_CTR("size.icmp_limited", P "icmp_frag_needed_limited_total", SRC,   \
             struct zt_tunout_stats, icmp_limited,                           \
             "ICMP fragmentation-needed not written: over the rate")

#define DIRECT_ROWS(P, SRC, STATS, UNKNOWN)                                  \
  ZT_CTR("direct.probes_sent", P "probes_sent_total", SRC,                   \
         struct zt_path_stats, probes_sent, "Direct-path probes sent"),      \
      ZT_CTR("direct.probes_received", P "probes_received_total", SRC,       \
             struct zt_path_stats, probes_received,                          \
             "Authentic direct-path probes received"),                       \
      ZT_CTR("direct.probe_malformed", P "probes_malformed_total", SRC,      \
             struct zt_path_stats, probe_malformed, "Malformed probes"),     \
      ZT_CTR("direct.probe_bad_auth", P "probes_bad_auth_total", SRC,        \
             struct zt_path_stats, probe_bad_auth,                           \
             "Probes failing authentication"),                               \
      ZT_CTR("direct.probe_replayed", P "probes_replayed_total", SRC,        \
             struct zt_path_stats, probe_replayed, "Replayed probes"),       \
      ZT_CTR("direct.probe_stale", P "probes_stale_total", SRC,              \
             struct zt_path_stats, probe_stale,                              \
             "Pongs that answer no probe of ours"),                          \
      ZT_CTR("direct.probe_unknown_session",                                 \
             P "probes_unknown_session_total", STATS, UNKNOWN,               \
             "UDP packets naming no session of ours"),                       \
      ZT_CTR("direct.keepalives_missed", P "keepalives_missed_total", SRC,   \
             struct zt_path_stats, keepalives_missed,                        \
             "Direct-path keepalives unanswered"),                           \
      ZT_CTR("direct.switches_to_direct", P "switches_to_direct_total", SRC, \
             struct zt_path_stats, switches_to_direct,                       \
             "Sessions moved to a direct path"),                             \
      ZT_CTR("direct.switches_to_relay", P "switches_to_relay_total", SRC,   \
             struct zt_path_stats, switches_to_relay,                        \
             "Sessions moved back to the relay")

/* The uplinks' own counters: the status has them per Intermediate in its
 * "uplink"/"uplinks" objects, the metrics summed. */
#define UPLINK_ROWS(P, SRC)                                                  \
  ZT_CTR(NULL, P "uplink_connects_total", SRC, struct zt_uplink_stats,       \
         connects, "Connections to Intermediates made (welcomed)"),          \
      ZT_CTR(NULL, P "uplink_disconnects_total", SRC,                        \
             struct zt_uplink_stats, disconnects,                            \
             "Connections to Intermediates lost"),                           \
      ZT_CTR(NULL, P "uplink_relay_malformed_total", SRC,                    \
             struct zt_uplink_stats, relay_malformed,                        \
             "Relay datagrams from Intermediates without a valid header"),   \
      ZT_CTR(NULL, P "uplink_relay_send_drops_total", SRC,                   \
             struct zt_uplink_stats, relay_send_drops,                       \
             "Relay frames the uplink's queue refused")

/* ---- agent -------------------------------------------------------------- */

#define AS ZT_AGENT_SRC_STATS, struct zt_agent_stats
#define AG ZT_AGENT_SRC_GAUGES, struct zt_agent_gauges
#define AD ZT_AGENT_SRC_DNS, struct zt_dnstun_stats
#define AR ZT_AGENT_SRC_ROAM, struct zt_roam
#define AP "ztna_agent_"
static const struct zt_counter agent_rows[] = {
    ZT_CTR("tun.packets", AP "tun_read_packets_total", AS, tun_packets,
           "Packets read from the TUN device"),
    ZT_CTR("tun.not_ipv4", AP "tun_not_ipv4_packets_total", AS, tun_not_ipv4,
           "TUN packets dropped: not IPv4"),
    ZT_CTR("tun.malformed", AP "tun_malformed_packets_total", AS,
           tun_malformed, "TUN packets dropped: malformed"),
    ZT_CTR("tun.bad_source", AP "tun_bad_source_packets_total", AS,
           tun_bad_source, "TUN packets dropped: not from our tunnel address"),
    ZT_CTR("tun.no_service", AP "tun_no_service_packets_total", AS,
           tun_no_service, "TUN packets dropped: no service at the address"),
    ZT_CTR("tun.offline", AP "tun_offline_packets_total", AS,
           tun_service_offline, "TUN packets dropped: the service is offline"),
    ZT_CTR("tun.no_uplink", AP "tun_no_uplink_packets_total", AS,
           tun_no_uplink, "TUN packets dropped: no uplink"),
    ZT_CTR("tun.pending_drops", AP "tun_pending_dropped_packets_total", AS,
           tun_pending_drops,
           "TUN packets dropped while their session was opening"),
    ZT_CTR("tun.too_big", AP "tun_too_big_packets_total", AS, tun_too_big,
           "TUN packets bigger than the session carries, with DF set"),
    SIZE_ROWS(AP, ZT_AGENT_SRC_TUNOUT),
    ZT_CTR("rx.packets", AP "rx_packets_total", AS, rx_packets,
           "Packets from connectors written to the TUN device"),
    ZT_CTR("rx.malformed", AP "rx_malformed_packets_total", AS, rx_malformed,
           "Packets from connectors dropped: malformed"),
    ZT_CTR("rx.policy_drops", AP "rx_policy_dropped_packets_total", AS,
           rx_policy_drops,
           "Packets from connectors dropped: not from a service of theirs"),
    ZT_CTR("rx.unknown_channel", AP "rx_unknown_channel_frames_total", AS,
           relay_unknown_channel, "Relay frames for no session of ours"),
    DIRECT_ROWS(AP, ZT_AGENT_SRC_PATHS, AS, direct_unknown),
    ZT_CTR("sessions.opened", AP "sessions_opened_total", AS, sessions_opened,
           "Sessions to connectors opened"),
    ZT_CTR("sessions.refused", AP "sessions_refused_total", AS,
           sessions_refused, "Session requests the Intermediate refused"),
    ZT_CTR("services_refused", AP "services_refused_total", AS,
           services_refused,
           "Service addresses refused: outside service_range"),
    UPLINK_ROWS(AP, ZT_AGENT_SRC_UPLINKS),
    ZT_CTR(NULL, AP "roam_changes_total", AR, changes,
           "Network change notices from the kernel (bursts coalesced)"),
    ZT_CTR(NULL, AP "roam_migrations_total", AR, migrations,
           "Outer connection moved to a new source address"),
    ZT_CTR(NULL, AP "roam_revalidations_total", AR, revalidations,
           "Same address, path validated anew"),
    ZT_CTR(NULL, AP "roam_redials_total", AR, redials,
           "Connection dropped and dialled at once after a change"),
    ZT_CTR(NULL, AP "roam_grace_redials_total", AR, grace_redials,
           "Moved paths that stayed silent, redialled"),
    ZT_CTR(NULL, AP "roam_no_route_total", AR, no_route,
           "Changes with no route to the Intermediate"),
    ZT_GAUGE(NULL, AP "uplink_up", AG, uplink_up,
             "1 while an Intermediate is in use, else 0"),
    ZT_GAUGE(NULL, AP "uplinks_up", AG, uplinks_up,
             "Intermediates connected (in use and standby)"),
    ZT_GAUGE(NULL, AP "sessions", AG, sessions,
             "Sessions to connectors (opening or ready)"),
    ZT_GAUGE(NULL, AP "sessions_ready", AG, sessions_ready,
             "Sessions whose end-to-end handshake is done"),
    ZT_GAUGE(NULL, AP "direct_sessions", AG, sessions_direct,
             "Sessions on a direct path"),
    ZT_GAUGE(NULL, AP "services", AG, services,
             "Services the Intermediate offers us"),
    ZT_GAUGE(NULL, AP "services_online", AG, services_online,
             "Offered services that are online"),
};
const struct zt_counter_table zt_agent_counters = {"agent", agent_rows,
                                                   N(agent_rows)};

static const struct zt_counter agent_dns_rows[] = {
    ZT_CTR("dns.queries", AP "dns_queries_total", AD, queries,
           "DNS queries to the tunnel's DNS address"),
    ZT_CTR("dns.answers", AP "dns_answers_total", AD, answers,
           "DNS replies with an A record"),
    ZT_CTR("dns.nxdomain", AP "dns_nxdomain_total", AD, nxdomain,
           "DNS replies NXDOMAIN"),
    ZT_CTR("dns.refused", AP "dns_refused_total", AD, refused,
           "DNS queries refused: names outside the domain"),
    ZT_CTR("dns.other", AP "dns_other_total", AD, other,
           "DNS replies without data, NOTIMP, FORMERR or truncated"),
    ZT_CTR("dns.malformed", AP "dns_malformed_total", AD, malformed,
           "DNS packets dropped: malformed"),
    ZT_CTR("dns.not_dns", AP "dns_not_dns_packets_total", AD, not_dns,
           "Other packets to the DNS address, dropped"),
};
const struct zt_counter_table zt_agent_dns_counters = {
    "agent", agent_dns_rows, N(agent_dns_rows)};

/* ---- connector ---------------------------------------------------------- */

#define CS ZT_CONN_SRC_STATS, struct zt_connector_stats
#define CR ZT_CONN_SRC_REASM, struct zt_reasm_stats
#define CG ZT_CONN_SRC_GAUGES, struct zt_connector_gauges
#define CP "ztna_connector_"
static const struct zt_counter conn_rows[] = {
    ZT_CTR("rx.packets", CP "rx_packets_total", CS, rx_packets,
           "Packets from agents written to the TUN device"),
    ZT_CTR("rx.malformed", CP "rx_malformed_packets_total", CS, rx_malformed,
           "Packets from agents dropped: malformed"),
    ZT_CTR("rx.bad_source", CP "rx_bad_source_packets_total", CS,
           rx_bad_source, "Packets from agents dropped: not their address"),
    ZT_CTR("rx.not_allowed", CP "rx_not_allowed_packets_total", CS,
           rx_not_allowed, "Packets from agents refused by port rules"),
    ZT_CTR("reasm.fragments", CP "reasm_fragments_total", CR, fragments,
           "Fragments received from agents"),
    ZT_CTR("reasm.reassembled", CP "reasm_reassembled_total", CR, reassembled,
           "Datagrams reassembled"),
    ZT_CTR("reasm.not_allowed", CP "reasm_not_allowed_total", CS,
           rx_frag_not_allowed,
           "Reassembled datagrams refused by port rules"),
    ZT_CTR("reasm.timed_out", CP "reasm_timed_out_total", CR, timed_out,
           "Datagrams incomplete after the timeout"),
    ZT_CTR("reasm.evicted", CP "reasm_evicted_total", CR, evicted,
           "Datagrams dropped for the reassembly caps"),
    ZT_CTR("reasm.overlaps", CP "reasm_overlaps_total", CR, overlaps,
           "Datagrams dropped for overlapping fragments"),
    ZT_CTR("reasm.bad", CP "reasm_bad_fragments_total", CR, bad,
           "Fragments refused otherwise"),
    SIZE_ROWS(CP, ZT_CONN_SRC_TUNOUT),
    ZT_CTR("tun.packets", CP "tun_read_packets_total", CS, tun_packets,
           "Packets read from the TUN device"),
    ZT_CTR("tun.not_ipv4", CP "tun_not_ipv4_packets_total", CS, tun_not_ipv4,
           "TUN packets dropped: not IPv4"),
    ZT_CTR("tun.malformed", CP "tun_malformed_packets_total", CS,
           tun_malformed, "TUN packets dropped: malformed"),
    ZT_CTR("tun.no_session", CP "tun_no_session_packets_total", CS,
           tun_no_session, "TUN packets dropped: no session for the agent"),
    ZT_CTR("tun.drops", CP "tun_dropped_packets_total", CS, tun_drops,
           "TUN packets the session refused"),
    ZT_CTR("relay.unknown_channel", CP "relay_unknown_channel_frames_total",
           CS, relay_unknown_channel, "Relay frames for no session"),
    ZT_CTR("relay.early_buffered", CP "relay_early_buffered_total", CS,
           relay_early_buffered,
           "Frames held until their session was announced"),
    ZT_CTR("relay.early_replayed", CP "relay_early_replayed_total", CS,
           relay_early_replayed, "Held frames delivered"),
    ZT_CTR("relay.early_dropped", CP "relay_early_dropped_total", CS,
           relay_early_dropped, "Held frames dropped"),
    ZT_CTR("sessions.accepted", CP "sessions_accepted_total", CS,
           sessions_accepted, "Sessions from agents accepted"),
    ZT_CTR("sessions.refused", CP "sessions_refused_total", CS,
           sessions_refused, "Sessions from agents refused"),
    ZT_CTR("sessions.replaced", CP "sessions_replaced_total", CS,
           sessions_replaced, "Sessions replaced by a newer one"),
    ZT_CTR("sessions.regranted", CP "sessions_regranted_total", CS,
           sessions_regranted,
           "Sessions whose grant a policy reload changed in place"),
    ZT_CTR("sessions.bad_addr", CP "sessions_bad_addr_total", CS,
           sessions_bad_addr, "Sessions refused: agent address outside "
                              "agent_pool"),
    ZT_CTR("sessions.addr_handovers", CP "addr_handovers_total", CS,
           addr_handovers, "Agent addresses passed to another identity"),
    ZT_CTR("sessions.orphans_expired", CP "sessions_orphans_expired_total", CS,
           sessions_orphan_expired,
           "Direct sessions not announced again after an uplink outage"),
    DIRECT_ROWS(CP, ZT_CONN_SRC_PATHS, CS, direct_unknown),
    UPLINK_ROWS(CP, ZT_CONN_SRC_UPLINKS),
    ZT_GAUGE(NULL, CP "uplinks_up", CG, uplinks_up,
             "Intermediates connected"),
    ZT_GAUGE(NULL, CP "sessions", CG, sessions, "Sessions with agents"),
    ZT_GAUGE(NULL, CP "sessions_ready", CG, sessions_ready,
             "Sessions whose end-to-end handshake is done"),
    ZT_GAUGE(NULL, CP "direct_sessions", CG, sessions_direct,
             "Sessions on a direct path"),
    ZT_GAUGE(NULL, CP "services", CG, services, "Services configured"),
    ZT_GAUGE(NULL, CP "services_registered", CG, services_registered,
             "Services the Intermediate accepted"),
};
const struct zt_counter_table zt_connector_counters = {"connector", conn_rows,
                                                       N(conn_rows)};

/* ---- every daemon ------------------------------------------------------- */

#define DD ZT_DAEMON_SRC_DRIVER, struct zt_driver_counters
#define DA ZT_DAEMON_SRC_AUDIT, struct zt_audit_stats
static const struct zt_counter daemon_rows[] = {
    ZT_CTR("driver.udp_send_errors", "ztna_udp_send_errors_total", DD,
           udp_send_errors, "UDP sends the kernel refused"),
    ZT_CTR("driver.tun_write_errors", "ztna_tun_write_errors_total", DD,
           tun_write_errors, "TUN writes the kernel refused"),
    ZT_CTR("driver.gso_messages", "ztna_udp_gso_messages_total", DD,
           gso_messages, "UDP GSO messages sent (batches of segments)"),
    ZT_CTR("driver.gso_segments", "ztna_udp_gso_segments_total", DD,
           gso_segments, "UDP segments sent in GSO messages"),
    ZT_CTR("driver.gro_messages", "ztna_udp_gro_messages_total", DD,
           gro_messages, "UDP messages received coalesced by GRO"),
    ZT_CTR("driver.gro_segments", "ztna_udp_gro_segments_total", DD,
           gro_segments, "UDP datagrams received in GRO messages"),
    ZT_CTR("driver.tun_gso_reads", "ztna_tun_gso_reads_total", DD,
           tun_gso_reads, "TUN reads that were TCP super segments"),
    ZT_CTR("driver.tun_gso_segments", "ztna_tun_gso_segments_total", DD,
           tun_gso_segments, "Packets cut from TUN super segments"),
    ZT_CTR("driver.tun_bad_reads", "ztna_tun_bad_reads_total", DD,
           tun_bad_reads, "TUN reads dropped: malformed virtio-net header"),
    ZT_CTR("driver.tun_gro_writes", "ztna_tun_gro_writes_total", DD,
           tun_gro_writes, "TUN writes of merged TCP segments"),
    ZT_CTR("driver.tun_gro_segments", "ztna_tun_gro_segments_total", DD,
           tun_gro_segments, "Packets merged into TUN super segments"),
};
const struct zt_counter_table zt_daemon_counters = {"daemon", daemon_rows,
                                                    N(daemon_rows)};

/* Text status: zt_audit_status() keeps its own "audit lines N ..." line. */
static const struct zt_counter audit_rows[] = {
    ZT_CTR("audit.lines", "ztna_audit_lines_total", DA, lines,
           "Audit lines written"),
    ZT_CTR("audit.write_errors", "ztna_audit_write_errors_total", DA,
           write_errors, "Audit lines the log refused"),
    ZT_CTR("audit.suppressed", "ztna_audit_suppressed_total", DA, suppressed,
           "Audit denial lines over the rate limit"),
};
const struct zt_counter_table zt_audit_counters = {"daemon", audit_rows,
                                                   N(audit_rows)};

const struct zt_counter_table *const zt_all_counter_tables[] = {
    &zt_intermediate_counters, &zt_agent_counters, &zt_agent_dns_counters,
    &zt_connector_counters, &zt_daemon_counters, &zt_audit_counters, NULL};

const char *const zt_other_metric_names[] = {
    ZT_METRIC_IM_HANDSHAKE, ZT_METRIC_AGENT_HANDSHAKE,
    ZT_METRIC_CONN_HANDSHAKE, ZT_METRIC_BUILD_INFO, NULL};

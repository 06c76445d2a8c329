/*
 * The thin driver every daemon shares: one event loop, one UDP socket, an
 * optional TUN device, one timer. It reads a batch, feeds the node, and
 * re-arms the timer at the node's next deadline: read -> process -> write
 * -> re-arm. The node does all the thinking (core/).
 */
#ifndef ZTNA_DRIVER_H
#define ZTNA_DRIVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "loop.h"
#include "udp.h"
#include "node_io.h"

struct zt_tls_creds;
struct zt_tls_paths;

struct zt_driver {
  struct zt_loop *loop;
  int udp_fd, tun_fd;
  /* The TUN device's name, never offered as a direct-path candidate. */
  const char *tun_name;
  struct zt_timer timer;
  void *node;
  void (*feed_udp)(void *node, const struct sockaddr *from, socklen_t fromlen,
                   const uint8_t *pkt, size_t len, uint64_t now);
  void (*feed_tun)(void *node, const uint8_t *pkt, size_t len, uint64_t now);
  uint64_t (*expiry)(void *node);
  void (*handle_expiry)(void *node, uint64_t now);
  /* Statistics for the operator: called on SIGUSR1 and at exit. */
  int (*status)(void *node, char *buf, size_t len);
  /* The same as JSON (docs/status.md), for `ztna status`. */
  int (*status_json)(void *node, char *buf, size_t len);
  /* `ztna ping TARGET` (the agent: zt_agent_ping): starts a probe whose
   * result the node hands to io->ping_result with this cookie, later and
   * exactly once; 0, or -1 with err and no result. NULL: a daemon that
   * does not ping answers "ping" requests with an error. */
  int (*ping)(void *node, const char *target, uint64_t cookie, uint64_t now,
              char *err, size_t errlen);
  /* SIGHUP and `ztna reload`: re-reads what the daemon can re-read (the
   * Intermediate: its policy) and writes one line saying what happened;
   * 0, or -1 when nothing changed (a broken file: the old state stays).
   * NULL: SIGHUP is logged and ignored, "reload" answered with an error. */
  int (*reload)(void *node, uint64_t now, char *msg, size_t len);
  /* SIGHUP and `ztna reload` read the certificate, key and CA in tls
   * again into creds (certificate rotation, zt_tls_creds_reload), and,
   * with no reload of its own (the agent, the connector), the CRL in
   * tls->crl (crlreload.h). NULL: nothing of these to reload. */
  struct zt_tls_creds *creds;
  const struct zt_tls_paths *tls;
  /* Around a reload (credentials, audit log, configuration): on true the
   * node's other threads stand still until false (the Intermediate's
   * workers read the credentials in their handshakes). NULL: none. */
  void (*hold)(void *node, bool on);
  /* The control socket (ctlsock.h): its path, NULL for none; when it
   * cannot be opened the daemon stops if ctl_required (the operator named
   * it), else warns and runs without it (the default path). */
  const char *ctl_path;
  bool ctl_required;
  struct zt_ctlsock *ctl;
  /* GET /metrics, /healthz, /readyz (platform/metricsd.c) on
   * metrics_listen, when metrics_listen_len is not 0 (config
   * "metrics_listen"). metrics: the node's Prometheus text, returning the
   * length it needed like status; ready: true, or false with a short
   * reason for /readyz's 503. role names the daemon in ztna_build_info. */
  int (*metrics)(void *node, char *buf, size_t len);
  bool (*ready)(void *node, char *why, size_t len);
  const char *role;
  const struct sockaddr *metrics_listen;
  socklen_t metrics_listen_len;
  struct zt_httpd *httpd;
  /* tun_fd was opened with offloads (tun.h zt_tun_open_offload): reads
   * are cut by core/tso.c, writes queued and merged by core/gro.c
   * (tunoff, made by zt_driver_run). */
  bool tun_offload;
  struct zt_tunoff *tunoff;
  uint64_t udp_send_errors, tun_write_errors;
  uint64_t gso_messages, gso_segments, gro_messages, gro_segments;
  /* Inside a loop callback sends are batched and flushed before the
   * callback returns; outside (start-up, shutdown) they go out at once. */
  struct zt_udp_batch *batch;
  bool batching;
  uint8_t (*rx_store)[ZT_UDP_GRO_MAX]; /* receive buffers, zt_driver_run's */
};

/* Fills io's udp_send and tun_write with the driver's socket and TUN, and
 * ping_result with the control socket's deferred reply. */
void zt_driver_io(struct zt_driver *d, struct zt_io *io);
/* Opens the control socket at d->ctl_path (none: 0) in d->loop, serving
 * "status", "status json" and "ping TARGET". zt_driver_run() does it;
 * exposed for tests. 0, or -1 when a required socket cannot be opened. */
int zt_driver_open_ctl(struct zt_driver *d);
/* Calls fn(node, arg, now) as the driver's own callbacks do: what it
 * sends goes out in one batch, then the timer is re-armed at the node's
 * next deadline. For event sources of one daemon (the agent's netwatch). */
void zt_driver_call(struct zt_driver *d,
                    void (*fn)(void *node, const void *arg, uint64_t now),
                    const void *arg);
/* Runs until SIGINT/SIGTERM. 0 on a clean stop. */
int zt_driver_run(struct zt_driver *d);
/* On SIGHUP: reopens the audit log file (logrotate) and writes a reload
 * line. A reload path that re-reads configuration calls it too. */
void zt_driver_reopen_audit(void);
/* Logs the node's status, one log line per status line, whatever the log
 * level (the operator asked for it). */
void zt_driver_log_status(struct zt_driver *d);
/* Serves the operator endpoints when d->metrics_listen is set
 * (platform/metricsd.c); zt_driver_run() does it. 0, or -1 when the
 * address cannot be listened on. */
int zt_driver_open_metrics(struct zt_driver *d);
void zt_driver_close_metrics(struct zt_driver *d);
/* The driver's and audit log's counters, appended to status and metrics. */
struct zt_driver_counters;
void zt_driver_counters(struct zt_driver *d, struct zt_driver_counters *c);

#endif

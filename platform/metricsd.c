/*
 * The daemons' operator endpoints on the HTTP server (httpd.h), when
 * "metrics_listen" is configured:
 *   GET /metrics  the node's counters, gauges and handshake histogram,
 *                 then the driver's and audit log's, in Prometheus' text
 *                 format 0.0.4 (docs/operations.md)
 *   GET /healthz  200 "ok" while the process runs its loop
 *   GET /readyz   200 "ready" when the node does its job (Intermediate:
 *                 listening; connector: services registered; agent: an
 *                 uplink up), else 503 with the reason
 * Handlers run on the loop's thread (httpd.h), so they read the node as
 * the status does.
 */
#include "driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "countertab.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "netaddr.h"

/* A metrics page with thousands of sessions stays far below this. */
#define METRICS_MAX (16u << 20)

static int metrics_text(void *ud, char *buf, size_t len) {
  struct zt_driver *d = ud;
  struct zt_strbuf sb;
  struct zt_metricsw m;
  struct zt_driver_counters dc;
  zt_strbuf_init(&sb, buf, len);
  if (d->metrics) {
    int n = d->metrics(d->node, buf, len);
    sb.off = n < 0 ? 0 : (size_t)n;
  }
  zt_metricsw_init(&m, &sb);
  zt_driver_counters(d, &dc);
  const void *srcs[ZT_DAEMON_NSRC] = {&dc, zt_audit_get_stats()};
  zt_counters_metrics(&zt_daemon_counters, srcs, &m);
  if (zt_audit_enabled())
    zt_counters_metrics(&zt_audit_counters, srcs, &m);
  zt_metricsw_family(&m, ZT_METRIC_BUILD_INFO,
                     "Always 1; role names the daemon", ZT_METRIC_GAUGE);
  struct zt_label role = {"role", d->role ? d->role : ""};
  zt_metricsw_u64(&m, ZT_METRIC_BUILD_INFO, &role, 1, 1);
  return (int)sb.off;
}

static void get_metrics(void *ud, const char *path, struct zt_http_reply *r) {
  (void)path;
  zt_http_reply_render(r, metrics_text, ud, METRICS_MAX,
                       "text/plain; version=0.0.4; charset=utf-8");
}

static void get_healthz(void *ud, const char *path, struct zt_http_reply *r) {
  (void)ud;
  (void)path;
  zt_http_reply_text(r, 200, "ok\n");
}

static void get_readyz(void *ud, const char *path, struct zt_http_reply *r) {
  struct zt_driver *d = ud;
  char why[200] = "", text[220];
  (void)path;
  if (!d->ready || d->ready(d->node, why, sizeof(why))) {
    zt_http_reply_text(r, 200, "ready\n");
    return;
  }
  snprintf(text, sizeof(text), "not ready: %s\n", why[0] ? why : "starting");
  zt_http_reply_text(r, 503, text);
}

int zt_driver_open_metrics(struct zt_driver *d) {
  char err[256], addr[64];
  if (!d->metrics_listen || !d->metrics_listen_len)
    return 0;
  zt_netaddr_str(d->metrics_listen, addr, sizeof(addr));
  d->httpd = zt_httpd_open(d->loop, d->metrics_listen, d->metrics_listen_len,
                           err, sizeof(err));
  if (!d->httpd) {
    zt_err("metrics_listen %s: %s", addr, err);
    return -1;
  }
  if (zt_httpd_route(d->httpd, "/metrics", get_metrics, d) != 0 ||
      zt_httpd_route(d->httpd, "/healthz", get_healthz, d) != 0 ||
      zt_httpd_route(d->httpd, "/readyz", get_readyz, d) != 0) {
    zt_err("metrics_listen: out of memory");
    return -1;
  }
  zt_info("metrics on http://%s/metrics (and /healthz, /readyz)", addr);
  return 0;
}

void zt_driver_close_metrics(struct zt_driver *d) {
  zt_httpd_close(d->httpd);
  d->httpd = NULL;
}

/*
 * The Intermediate's admin dashboard (docs/dashboard.md), on its own HTTP
 * server (httpd.h) at "dashboard_listen":
 *   GET /                 the page (dashboard/index.html), and
 *   GET /dashboard.css, /dashboard.js   its style and script; all three
 *                         compiled in (scripts/embed.sh), public: they
 *                         hold no data
 *   GET /api/status       the Intermediate's status JSON (docs/status.md)
 *   GET /api/traffic      relayed bytes per 5 s over the last 5 minutes
 *                         (trafficring.h)
 * With "dashboard_token_file" the two /api/ routes answer only requests
 * with "Authorization: Bearer TOKEN" (dashauth.h). Over HTTPS (with the
 * Intermediate's own certificate) they also answer a client presenting an
 * admin certificate of the deployment CA (dashcert.h), and never answer
 * without one of the two: 401 with no credential, 403 with a refused
 * certificate. Read only: nothing here changes the node.
 */
#ifndef ZTNA_DASHBOARD_H
#define ZTNA_DASHBOARD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "loop.h"

struct zt_dashboard;
struct zt_tls_creds;

struct zt_dashboard_source {
  void *node;
  /* The status JSON, returning the length it needed (as status_json). */
  int (*status_json)(void *node, char *buf, size_t len);
  /* The counter of relayed bytes, sampled every ZT_TRAFFIC_INTERVAL_S. */
  uint64_t (*relay_bytes)(void *node);
};

/* Reads token_file ("" or NULL: no token) and listens on addr: HTTPS
 * with creds (the Intermediate's; kept, not copied: the certificate a
 * reload rotates in serves the next connections, and its CA and CRL check
 * admin certificates), plain HTTP with NULL. One HTTPS dashboard per
 * process. NULL with err on failure (the daemon does not start). */
struct zt_dashboard *zt_dashboard_open(struct zt_loop *loop,
                                       const struct sockaddr *addr,
                                       socklen_t addrlen,
                                       const char *token_file,
                                       const struct zt_tls_creds *creds,
                                       const struct zt_dashboard_source *src,
                                       char *err, size_t errlen);
/* SIGHUP / `ztna reload`: reads the token file again. A missing or broken
 * file keeps the token in use: -1 and msg saying why. 0 and msg otherwise
 * (also without a token file). */
int zt_dashboard_reload(struct zt_dashboard *dash, char *msg, size_t len);
void zt_dashboard_close(struct zt_dashboard *dash);

#endif

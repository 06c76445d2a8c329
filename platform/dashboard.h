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
 * with "Authorization: Bearer TOKEN" (dashauth.h), others get 401. Read
 * only: nothing here changes the node.
 */
#ifndef ZTNA_DASHBOARD_H
#define ZTNA_DASHBOARD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "loop.h"

struct zt_dashboard;

struct zt_dashboard_source {
  void *node;
  /* The status JSON, returning the length it needed (as status_json). */
  int (*status_json)(void *node, char *buf, size_t len);
  /* The counter of relayed bytes, sampled every ZT_TRAFFIC_INTERVAL_S. */
  uint64_t (*relay_bytes)(void *node);
};

/* Reads token_file ("" or NULL: no token) and listens on addr. NULL with
 * err on failure (the daemon does not start). */
struct zt_dashboard *zt_dashboard_open(struct zt_loop *loop,
                                       const struct sockaddr *addr,
                                       socklen_t addrlen,
                                       const char *token_file,
                                       const struct zt_dashboard_source *src,
                                       char *err, size_t errlen);
void zt_dashboard_close(struct zt_dashboard *dash);

#endif

/* See dashboard.h. */
#include "dashboard.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "dashauth.h"
#include "file.h"
#include "httpd.h"
#include "trafficring.h"

/* From dashboard/ by scripts/embed.sh (the Makefile's generated source). */
extern const unsigned char zt_asset_index_html[], zt_asset_dashboard_css[],
    zt_asset_dashboard_js[];
extern const unsigned long zt_asset_index_html_len, zt_asset_dashboard_css_len,
    zt_asset_dashboard_js_len;

/* A status with thousands of peers stays far below this. */
#define STATUS_MAX (16u << 20)

struct zt_dashboard {
  struct zt_loop *loop;
  struct zt_httpd *httpd;
  struct zt_dashboard_source src;
  char token[ZT_DASH_TOKEN_MAX + 1]; /* "": none asked */
  struct zt_traffic_ring ring;
  struct zt_timer sampler;
};

static void reply_asset(struct zt_http_reply *r, const unsigned char *data,
                        unsigned long len, const char *type) {
  r->body = malloc(len ? len : 1);
  if (!r->body) {
    zt_http_reply_text(r, 500, "out of memory\n");
    return;
  }
  memcpy(r->body, data, len);
  r->len = len;
  r->content_type = type;
}

static void get_page(void *ud, const char *path, struct zt_http_reply *r) {
  (void)ud;
  (void)path;
  reply_asset(r, zt_asset_index_html, zt_asset_index_html_len,
              "text/html; charset=utf-8");
}

static void get_css(void *ud, const char *path, struct zt_http_reply *r) {
  (void)ud;
  (void)path;
  reply_asset(r, zt_asset_dashboard_css, zt_asset_dashboard_css_len,
              "text/css; charset=utf-8");
}

static void get_js(void *ud, const char *path, struct zt_http_reply *r) {
  (void)ud;
  (void)path;
  reply_asset(r, zt_asset_dashboard_js, zt_asset_dashboard_js_len,
              "text/javascript; charset=utf-8");
}

static int status_text(void *ud, char *buf, size_t len) {
  struct zt_dashboard *dash = ud;
  return dash->src.status_json(dash->src.node, buf, len);
}

static int traffic_text(void *ud, char *buf, size_t len) {
  struct zt_dashboard *dash = ud;
  return zt_traffic_ring_json(&dash->ring, buf, len);
}

static void get_status(void *ud, const char *path, struct zt_http_reply *r) {
  (void)path;
  zt_http_reply_render(r, status_text, ud, STATUS_MAX, "application/json");
}

static void get_traffic(void *ud, const char *path, struct zt_http_reply *r) {
  (void)path;
  zt_http_reply_render(r, traffic_text, ud, STATUS_MAX, "application/json");
}

static bool check_token(void *ud, const char *authorization) {
  struct zt_dashboard *dash = ud;
  return zt_dash_bearer_ok(authorization, dash->token);
}

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void on_sample(struct zt_loop *l, void *ud) {
  struct zt_dashboard *dash = ud;
  zt_traffic_ring_sample(&dash->ring, wall_ms(),
                         dash->src.relay_bytes(dash->src.node));
  zt_timer_arm(l, &dash->sampler,
               zt_now_ns() + (uint64_t)ZT_TRAFFIC_INTERVAL_S * 1000000000u);
}

static int read_token(struct zt_dashboard *dash, const char *file, char *err,
                      size_t errlen) {
  char why[200];
  size_t len;
  char *text = zt_file_read(file, 4096, &len, why, sizeof(why));
  if (!text) {
    snprintf(err, errlen, "dashboard_token_file: %s", why);
    return -1;
  }
  int rv = zt_dash_token_parse(text, len, dash->token, sizeof(dash->token),
                               why, sizeof(why));
  memset(text, 0, len);
  free(text);
  if (rv != 0)
    snprintf(err, errlen, "dashboard_token_file %s: %s", file, why);
  return rv;
}

struct zt_dashboard *zt_dashboard_open(struct zt_loop *loop,
                                       const struct sockaddr *addr,
                                       socklen_t addrlen,
                                       const char *token_file,
                                       const struct zt_dashboard_source *src,
                                       char *err, size_t errlen) {
  struct zt_dashboard *dash = calloc(1, sizeof(*dash));
  if (!dash) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  dash->loop = loop;
  dash->src = *src;
  zt_traffic_ring_init(&dash->ring);
  zt_timer_init(&dash->sampler, on_sample, dash);
  /* The same rule as the configuration parser's, for callers that build
   * a configuration another way: never exposed without a credential. */
  if (token_file && token_file[0]) {
    if (read_token(dash, token_file, err, errlen) != 0)
      goto fail;
  } else if (!zt_addr_is_loopback(addr)) {
    snprintf(err, errlen,
             "not a loopback address and no dashboard_token_file");
    goto fail;
  }
  if (!(dash->httpd = zt_httpd_open(loop, addr, addrlen, err, errlen)))
    goto fail;
  if (dash->token[0])
    zt_httpd_set_auth(dash->httpd, check_token, dash);
  if (zt_httpd_route(dash->httpd, "/", get_page, dash) != 0 ||
      zt_httpd_route(dash->httpd, "/index.html", get_page, dash) != 0 ||
      zt_httpd_route(dash->httpd, "/dashboard.css", get_css, dash) != 0 ||
      zt_httpd_route(dash->httpd, "/dashboard.js", get_js, dash) != 0 ||
      zt_httpd_route_private(dash->httpd, "/api/status", get_status, dash) != 0 ||
      zt_httpd_route_private(dash->httpd, "/api/traffic", get_traffic, dash) != 0) {
    snprintf(err, errlen, "out of memory");
    goto fail;
  }
  on_sample(loop, dash); /* primes the ring and starts the sampler */
  return dash;
fail:
  zt_dashboard_close(dash);
  return NULL;
}

void zt_dashboard_close(struct zt_dashboard *dash) {
  if (!dash)
    return;
  zt_timer_disarm(dash->loop, &dash->sampler);
  zt_httpd_close(dash->httpd);
  memset(dash->token, 0, sizeof(dash->token));
  free(dash);
}

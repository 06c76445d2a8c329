/* See dashboard.h. */
#include "dashboard.h"

#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "dashauth.h"
#include "dashcert.h"
#include "file.h"
#include "httpd.h"
#include "log.h"
#include "netaddr.h"
#include "ratelimit.h"
#include "tls.h"
#include "trafficring.h"

/* From dashboard/ by scripts/embed.sh (the Makefile's generated source). */
extern const unsigned char zt_asset_index_html[], zt_asset_dashboard_css[],
    zt_asset_dashboard_js[];
extern const unsigned long zt_asset_index_html_len, zt_asset_dashboard_css_len,
    zt_asset_dashboard_js_len;

/* A status with thousands of peers stays far below this. */
#define STATUS_MAX (16u << 20)

/* The certificate and key the HTTPS server presents, made from the
 * Intermediate's credentials as they were at some handshake. */
struct served_cert {
  gnutls_certificate_credentials_t from;
  gnutls_pcert_st pcert;
  gnutls_privkey_t key;
};

struct zt_dashboard {
  struct zt_loop *loop;
  struct zt_httpd *httpd;
  struct zt_dashboard_source src;
  char token_file[4096];             /* "": none */
  char token[ZT_DASH_TOKEN_MAX + 1]; /* "": none asked */
  /* HTTPS: the Intermediate's live credentials (NULL: plain HTTP). */
  const struct zt_tls_creds *creds;
  /* Every certificate served so far, the current one last: a handshake
   * may still point at an older one after a rotation, so they live until
   * close (one per rotation). */
  struct served_cert *served;
  size_t n_served;
  struct zt_loglimit refusals;
  struct zt_traffic_ring ring;
  struct zt_timer sampler;
};

/* GnuTLS's certificate callback has no user pointer: the one dashboard
 * of the process that serves HTTPS. */
static struct zt_dashboard *https_dash;

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

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The token, then the admin certificate (docs/dashboard.md). Every
 * refusal is logged with its reason, rate-limited: a client can make
 * as many requests as it likes. */
static unsigned check_request(void *ud, const struct zt_http_creds *rq) {
  struct zt_dashboard *dash = ud;
  char name[ZT_NAME_MAX + 1], reason[400] = "", from[64] = "?";
  bool token_ok = dash->token[0] && zt_dash_bearer_ok(rq->authorization,
                                                      dash->token);
  enum zt_dash_cert cert = ZT_DASH_CERT_NONE;
  if (!token_ok && dash->creds)
    cert = zt_dash_cert_check(dash->creds, rq->chain, rq->chain_len,
                              (int64_t)(wall_ms() / 1000u), name, reason,
                              sizeof(reason));
  unsigned status = zt_dash_status(token_ok, cert);
  if (status == 0)
    return 0;
  uint64_t suppressed;
  if (!zt_loglimit_allow(&dash->refusals, zt_now_ns(), &suppressed))
    return status;
  if (rq->from)
    zt_netaddr_str(rq->from, from, sizeof(from));
  if (!reason[0])
    snprintf(reason, sizeof(reason), "%s",
             rq->authorization ? "wrong token"
                               : dash->creds ? "no token and no certificate"
                                             : "no token");
  zt_warn("dashboard: refused %s with %u: %s%s", from, status, reason,
          suppressed ? " (and earlier refusals not logged)" : "");
  return status;
}

/* The current certificate of dash->creds, made into what GnuTLS serves
 * when it changed since the last handshake (a reload rotated it). */
static struct served_cert *current_cert(struct zt_dashboard *dash) {
  gnutls_certificate_credentials_t cred = dash->creds->cred;
  if (dash->n_served && dash->served[dash->n_served - 1].from == cred)
    return &dash->served[dash->n_served - 1];
  struct served_cert *grown =
      realloc(dash->served, (dash->n_served + 1) * sizeof(*grown));
  if (!grown)
    return NULL;
  dash->served = grown;
  struct served_cert *sc = &grown[dash->n_served];
  gnutls_x509_crt_t *crts = NULL;
  gnutls_x509_privkey_t xkey = NULL;
  unsigned n = 0;
  int ok = gnutls_certificate_get_x509_crt(cred, 0, &crts, &n) >= 0 && n &&
           gnutls_pcert_import_x509(&sc->pcert, crts[0], 0) >= 0;
  for (unsigned i = 0; i < n; i++)
    gnutls_x509_crt_deinit(crts[i]);
  gnutls_free(crts);
  if (!ok)
    return NULL;
  if (gnutls_certificate_get_x509_key(cred, 0, &xkey) < 0 ||
      gnutls_privkey_init(&sc->key) < 0) {
    if (xkey)
      gnutls_x509_privkey_deinit(xkey);
    gnutls_pcert_deinit(&sc->pcert);
    return NULL;
  }
  /* The privkey owns (and frees) the copy of the key from here on. */
  if (gnutls_privkey_import_x509(sc->key, xkey,
                                 GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE) < 0) {
    gnutls_x509_privkey_deinit(xkey);
    gnutls_privkey_deinit(sc->key);
    gnutls_pcert_deinit(&sc->pcert);
    return NULL;
  }
  sc->from = cred;
  dash->n_served++;
  return sc;
}

static int serve_cert(gnutls_session_t s, const gnutls_datum_t *req_ca_dn,
                      int nreqs, const gnutls_pk_algorithm_t *pk_algos,
                      int pk_algos_length, gnutls_pcert_st **pcert,
                      unsigned *pcert_length, gnutls_privkey_t *pkey) {
  (void)s;
  (void)req_ca_dn;
  (void)nreqs;
  (void)pk_algos;
  (void)pk_algos_length;
  struct served_cert *sc = https_dash ? current_cert(https_dash) : NULL;
  if (!sc) {
    zt_warn("dashboard: no certificate to serve (out of memory?)");
    return -1;
  }
  *pcert = &sc->pcert;
  *pcert_length = 1;
  *pkey = sc->key;
  return 0;
}

/* The deployment CA certificates in creds, as PEM: the HTTPS server names
 * them when it asks the client for a certificate. malloc'd, NULL on
 * failure. */
static char *trust_pem(const struct zt_tls_creds *creds) {
  gnutls_x509_trust_list_t tl = NULL;
  gnutls_x509_trust_list_iter_t iter = NULL;
  gnutls_x509_crt_t crt;
  char *all = NULL;
  size_t len = 0;
  gnutls_certificate_get_trust_list(creds->cred, &tl);
  if (!tl)
    return NULL;
  while (gnutls_x509_trust_list_iter_get_ca(tl, &iter, &crt) >= 0) {
    gnutls_datum_t pem = {NULL, 0};
    int rv = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pem);
    gnutls_x509_crt_deinit(crt);
    char *grown = rv >= 0 ? realloc(all, len + pem.size + 1) : NULL;
    if (!grown) {
      gnutls_free(pem.data);
      free(all);
      gnutls_x509_trust_list_iter_deinit(iter);
      return NULL;
    }
    all = grown;
    memcpy(all + len, pem.data, pem.size);
    len += pem.size;
    all[len] = '\0';
    gnutls_free(pem.data);
  }
  gnutls_x509_trust_list_iter_deinit(iter);
  return all;
}

static void on_sample(struct zt_loop *l, void *ud) {
  struct zt_dashboard *dash = ud;
  zt_traffic_ring_sample(&dash->ring, wall_ms(),
                         dash->src.relay_bytes(dash->src.node));
  zt_timer_arm(l, &dash->sampler,
               zt_now_ns() + (uint64_t)ZT_TRAFFIC_INTERVAL_S * 1000000000u);
}

/* Into dash->token only when the whole file is good: a reload that finds
 * it broken keeps the token in use. */
static int read_token(struct zt_dashboard *dash, const char *file, char *err,
                      size_t errlen) {
  char why[200], token[sizeof(dash->token)];
  size_t len;
  char *text = zt_file_read(file, 4096, &len, why, sizeof(why));
  if (!text) {
    snprintf(err, errlen, "dashboard_token_file: %s", why);
    return -1;
  }
  int rv = zt_dash_token_parse(text, len, token, sizeof(token), why,
                               sizeof(why));
  memset(text, 0, len);
  free(text);
  if (rv != 0)
    snprintf(err, errlen, "dashboard_token_file %s: %s", file, why);
  else
    memcpy(dash->token, token, sizeof(token));
  memset(token, 0, sizeof(token));
  return rv;
}

int zt_dashboard_reload(struct zt_dashboard *dash, char *msg, size_t len) {
  if (!dash || !dash->token_file[0]) {
    snprintf(msg, len, "no dashboard token file");
    return 0;
  }
  if (read_token(dash, dash->token_file, msg, len) != 0) {
    size_t n = strlen(msg);
    snprintf(msg + n, len - n, "; keeping the previous dashboard token");
    return -1;
  }
  snprintf(msg, len, "dashboard token reloaded from %s", dash->token_file);
  return 0;
}

struct zt_dashboard *zt_dashboard_open(struct zt_loop *loop,
                                       const struct sockaddr *addr,
                                       socklen_t addrlen,
                                       const char *token_file,
                                       const struct zt_tls_creds *creds,
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
  dash->creds = creds;
  /* The same rule as the configuration parser's, for callers that build
   * a configuration another way: never exposed without a credential (over
   * HTTPS an admin certificate is one). */
  if (token_file && token_file[0]) {
    if (strlen(token_file) >= sizeof(dash->token_file)) {
      snprintf(err, errlen, "dashboard_token_file: path too long");
      goto fail;
    }
    strcpy(dash->token_file, token_file);
    if (read_token(dash, token_file, err, errlen) != 0)
      goto fail;
  } else if (!creds && !zt_addr_is_loopback(addr)) {
    snprintf(err, errlen,
             "not a loopback address and no dashboard_token_file");
    goto fail;
  }
  if (creds) {
    if (https_dash) {
      snprintf(err, errlen, "one HTTPS dashboard per process");
      goto fail;
    }
    char *trust = trust_pem(creds);
    if (!trust) {
      snprintf(err, errlen, "cannot read the deployment CA for HTTPS");
      goto fail;
    }
    const struct zt_httpd_tls tls = {serve_cert, trust};
    https_dash = dash;
    dash->httpd = zt_httpd_open_tls(loop, addr, addrlen, &tls, err, errlen);
    free(trust); /* MHD keeps its own copy in its credentials */
  } else {
    dash->httpd = zt_httpd_open(loop, addr, addrlen, err, errlen);
  }
  if (!dash->httpd)
    goto fail;
  /* Over HTTPS the data always asks for a credential, on loopback too. */
  if (dash->token[0] || dash->creds)
    zt_httpd_set_auth(dash->httpd, check_request, dash);
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
  if (https_dash == dash)
    https_dash = NULL;
  for (size_t i = 0; i < dash->n_served; i++) {
    gnutls_pcert_deinit(&dash->served[i].pcert);
    gnutls_privkey_deinit(dash->served[i].key);
  }
  free(dash->served);
  memset(dash->token, 0, sizeof(dash->token));
  free(dash);
}

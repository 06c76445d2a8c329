/* See httpd.h. */
#include "httpd.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "clock.h"
#include "log.h"
#include "strbuf.h"

struct route {
  char *path;
  zt_http_fn fn;
  void *ud;
  bool private; /* behind the auth check */
};

struct zt_httpd {
  struct zt_loop *loop;
  struct MHD_Daemon *mhd;
  int epfd;
  struct zt_timer timer;
  zt_http_auth_fn auth;
  void *auth_ud;
  size_t n_routes;
  struct route routes[ZT_HTTPD_MAX_ROUTES];
};

void zt_http_reply_text(struct zt_http_reply *r, unsigned status,
                        const char *text) {
  r->status = status;
  r->content_type = "text/plain; charset=utf-8";
  r->len = strlen(text);
  r->body = malloc(r->len ? r->len : 1);
  if (r->body)
    memcpy(r->body, text, r->len);
  else
    r->len = 0;
}

void zt_http_reply_render(struct zt_http_reply *r,
                          int (*fn)(void *ud, char *buf, size_t len), void *ud,
                          size_t max, const char *content_type) {
  bool cut;
  r->body = zt_strbuf_render(fn, ud, 64 * 1024 < max ? 64 * 1024 : max, max,
                             &r->len, &cut);
  if (!r->body || cut) {
    free(r->body);
    r->body = NULL;
    zt_http_reply_text(r, 500, "reply too large or out of memory\n");
    return;
  }
  r->content_type = content_type;
}

static enum MHD_Result queue(struct MHD_Connection *c,
                             struct zt_http_reply *r) {
  struct MHD_Response *resp =
      r->body ? MHD_create_response_from_buffer(r->len, r->body,
                                                MHD_RESPMEM_MUST_FREE)
              : MHD_create_response_from_buffer(0, (void *)"",
                                                MHD_RESPMEM_PERSISTENT);
  if (!resp) {
    free(r->body);
    return MHD_NO;
  }
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                          r->content_type ? r->content_type : "text/plain");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(resp, "Content-Security-Policy",
                          "default-src 'self'; frame-ancestors 'none'");
  MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
  if (r->status == MHD_HTTP_UNAUTHORIZED)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
  enum MHD_Result rv = MHD_queue_response(c, r->status, resp);
  MHD_destroy_response(resp);
  return rv;
}

/* What the request carries to prove who sent it. */
static void request_creds(struct MHD_Connection *c, struct zt_http_creds *rq) {
  memset(rq, 0, sizeof(*rq));
  rq->authorization = MHD_lookup_connection_value(
      c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (ci)
    rq->from = ci->client_addr;
  ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  if (ci && ci->tls_session)
    rq->chain = gnutls_certificate_get_peers(
        (gnutls_session_t)ci->tls_session, &rq->chain_len);
  if (!rq->chain)
    rq->chain_len = 0;
}

/* The auth check's verdict for a private route: 0 to serve it. */
static unsigned auth_status(struct zt_httpd *h, struct MHD_Connection *c) {
  struct zt_http_creds rq;
  request_creds(c, &rq);
  return h->auth(h->auth_ud, &rq);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **state) {
  struct zt_httpd *h = cls;
  struct zt_http_reply r = {0};
  (void)version;
  (void)upload;
  (void)state;
  if (*upload_size) { /* a body we do not want: read and ignore it */
    *upload_size = 0;
    return MHD_YES;
  }
  if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
    zt_http_reply_text(&r, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
    return queue(c, &r);
  }
  for (size_t i = 0; i < h->n_routes; i++)
    if (!strcmp(url, h->routes[i].path)) {
      unsigned denied;
      if (h->routes[i].private && h->auth &&
          (denied = auth_status(h, c)) != 0) {
        zt_http_reply_text(&r, denied, denied == MHD_HTTP_FORBIDDEN
                                           ? "forbidden\n"
                                           : "unauthorized\n");
        return queue(c, &r);
      }
      r.status = MHD_HTTP_OK;
      h->routes[i].fn(h->routes[i].ud, url, &r);
      return queue(c, &r);
    }
  zt_http_reply_text(&r, MHD_HTTP_NOT_FOUND, "not found\n");
  return queue(c, &r);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  char line[256];
  (void)cls;
  vsnprintf(line, sizeof(line), fmt, ap);
  line[strcspn(line, "\n")] = 0;
  zt_warn("http: %s", line);
}

/* MHD's next deadline (idle connections' timeouts) on our timer. */
static void rearm(struct zt_httpd *h) {
  MHD_UNSIGNED_LONG_LONG ms;
  if (MHD_get_timeout(h->mhd, &ms) == MHD_YES)
    zt_timer_arm(h->loop, &h->timer, zt_now_ns() + (uint64_t)ms * 1000000u);
  else
    zt_timer_disarm(h->loop, &h->timer);
}

static void on_epoll(struct zt_loop *l, int fd, uint32_t events, void *ud) {
  struct zt_httpd *h = ud;
  (void)l;
  (void)fd;
  (void)events;
  MHD_run(h->mhd);
  rearm(h);
}

static void on_timer(struct zt_loop *l, void *ud) {
  struct zt_httpd *h = ud;
  (void)l;
  MHD_run(h->mhd);
  rearm(h);
}

struct zt_httpd *zt_httpd_open(struct zt_loop *loop, const struct sockaddr *addr,
                               socklen_t addrlen, char *err, size_t errlen) {
  return zt_httpd_open_tls(loop, addr, addrlen, NULL, err, errlen);
}

struct zt_httpd *zt_httpd_open_tls(struct zt_loop *loop,
                                   const struct sockaddr *addr,
                                   socklen_t addrlen,
                                   const struct zt_httpd_tls *tls, char *err,
                                   size_t errlen) {
  struct zt_httpd *h = calloc(1, sizeof(*h));
  (void)addrlen;
  if (!h) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  h->loop = loop;
  h->epfd = -1;
  unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
  if (addr->sa_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  if (tls)
    flags |= MHD_USE_TLS;
  /* The TLS options, if any, as an option array: one start call. */
  struct MHD_OptionItem opts[3];
  size_t n = 0;
  if (tls) {
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK, 0,
                                        (void *)tls->cert_cb};
    if (tls->trust_pem)
      opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0,
                                          (void *)tls->trust_pem};
  }
  opts[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
  errno = 0;
  h->mhd = MHD_start_daemon(
      flags, 0, NULL, NULL, on_request, h,
      /* First, so that MHD's own complaints about the options go here. */
      MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR, addr,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned)ZT_HTTPD_MAX_CONNECTIONS,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ZT_HTTPD_TIMEOUT_S,
      MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
  if (!h->mhd) {
    snprintf(err, errlen, "cannot listen: %s",
             errno ? strerror(errno) : "libmicrohttpd refused to start");
    free(h);
    return NULL;
  }
  const union MHD_DaemonInfo *info =
      MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
  h->epfd = info ? info->epoll_fd : -1;
  zt_timer_init(&h->timer, on_timer, h);
  if (h->epfd < 0 || zt_loop_add_fd(loop, h->epfd, EPOLLIN, on_epoll, h) != 0) {
    snprintf(err, errlen, "cannot watch the HTTP server's epoll descriptor");
    MHD_stop_daemon(h->mhd);
    free(h);
    return NULL;
  }
  rearm(h);
  return h;
}

static int add_route(struct zt_httpd *h, const char *path, zt_http_fn fn,
                     void *ud, bool private) {
  if (h->n_routes == ZT_HTTPD_MAX_ROUTES)
    return -1;
  struct route *r = &h->routes[h->n_routes];
  if (!(r->path = strdup(path)))
    return -1;
  r->fn = fn;
  r->ud = ud;
  r->private = private;
  h->n_routes++;
  return 0;
}

int zt_httpd_route(struct zt_httpd *h, const char *path, zt_http_fn fn,
                   void *ud) {
  return add_route(h, path, fn, ud, false);
}

int zt_httpd_route_private(struct zt_httpd *h, const char *path,
                           zt_http_fn fn, void *ud) {
  return add_route(h, path, fn, ud, true);
}

void zt_httpd_set_auth(struct zt_httpd *h, zt_http_auth_fn check, void *ud) {
  h->auth = check;
  h->auth_ud = ud;
}

void zt_httpd_close(struct zt_httpd *h) {
  if (!h)
    return;
  zt_timer_disarm(h->loop, &h->timer);
  zt_loop_del_fd(h->loop, h->epfd);
  MHD_stop_daemon(h->mhd);
  for (size_t i = 0; i < h->n_routes; i++)
    free(h->routes[i].path);
  free(h);
}

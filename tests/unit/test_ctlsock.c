/* ctlsock: one request served through the event loop and its reply read
 * back; the socket file's mode is 0600 (only the owner may ask); unknown
 * and over-long requests get an error, not a status; a stale socket file
 * is replaced, a live one and a non-socket are not; the file goes away on
 * close; path selection ("none" disables). Deferred replies: delivered
 * later through zt_ctlsock_reply(); dropped safely when the client has
 * gone; the deadline closes a client still waiting (and counts it);
 * client ids are distinct. */
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

/* ---- deferred replies ---- */

struct deferrer {
  struct zt_ctlsock *cs;
  uint64_t ids[16];
  size_t n;
  int answer_after_ms; /* <0: never (the test answers, or nobody does) */
  struct zt_timer t;
  struct zt_loop *l;
};

static void on_answer(struct zt_loop *l, void *ud) {
  struct deferrer *d = ud;
  char text[64];
  (void)l;
  int n = snprintf(text, sizeof(text), "late reply %llu\n",
                   (unsigned long long)d->ids[d->n - 1]);
  CHECK_EQ_INT(zt_ctlsock_reply(d->cs, d->ids[d->n - 1], text, (size_t)n), 0);
}

static int defer_handler(void *ud, const char *req, uint64_t id, char *buf,
                         size_t len) {
  struct deferrer *d = ud;
  if (!strcmp(req, "now"))
    return snprintf(buf, len, "at once to %llu\n", (unsigned long long)id);
  if (d->n < 16)
    d->ids[d->n++] = id;
  if (d->answer_after_ms >= 0)
    zt_timer_arm(d->l, &d->t,
                 zt_now_ns() + (uint64_t)d->answer_after_ms * 1000000ULL);
  return ZT_CTLSOCK_DEFERRED;
}

/* Runs the loop for ms milliseconds. */
static void spin(struct zt_loop *l, int ms) {
  struct zt_timer t;
  zt_timer_init(&t, on_timeout, NULL);
  zt_timer_arm(l, &t, zt_now_ns() + (uint64_t)ms * 1000000ULL);
  zt_loop_run(l);
  zt_timer_disarm(l, &t);
}

static struct zt_ctlsock *open_deferring(struct zt_loop *l,
                                         struct deferrer *d, int *calls) {
  char err[256];
  memset(d, 0, sizeof(*d));
  d->l = l;
  zt_timer_init(&d->t, on_answer, d);
  struct zt_ctlsock *cs = zt_ctlsock_open(l, path, handler, calls, err,
                                          sizeof(err));
  if (!cs) {
    fprintf(stderr, "open: %s\n", err);
    return NULL;
  }
  zt_ctlsock_set_defer(cs, defer_handler, d);
  d->cs = cs;
  return cs;
}

static void test_deferred_reply(void) {
  int calls = 0;
  struct deferrer d;
  struct client c;
  char want[64];
  setup();
  CHECK(dir[0]);
  struct zt_loop *l = zt_loop_new();
  CHECK(l != NULL);
  struct zt_ctlsock *cs = open_deferring(l, &d, &calls);
  CHECK(cs != NULL);
  d.answer_after_ms = 20;
  CHECK_EQ_INT(ask(l, "ping web\n", 9, &c), 0);
  CHECK_EQ_INT(d.n, 1);
  snprintf(want, sizeof(want), "late reply %llu\n",
           (unsigned long long)d.ids[0]);
  CHECK_STR(c.got, want);
  CHECK_EQ_INT(zt_ctlsock_deferred_pending(cs), 0);
  /* Answered once: a second reply is for nobody. */
  CHECK_EQ_INT(zt_ctlsock_reply(cs, d.ids[0], "x\n", 2), -1);
  /* The deferring handler may answer at once, and status still goes to
   * the status handler. */
  CHECK_EQ_INT(ask(l, "now\n", 4, &c), 0);
  CHECK_CONTAINS(c.got, "at once to ");
  CHECK_EQ_INT(ask(l, "status\n", 7, &c), 0);
  CHECK_STR(c.got, "reply to 'status'\n");
  CHECK_EQ_INT(calls, 1);
  /* A client that half-closes after its request still gets the reply. */
  d.answer_after_ms = 30;
  int fd = connect_to(path);
  CHECK(fd >= 0);
  CHECK_EQ_INT(write(fd, "ping x\n", 7), 7);
  CHECK_EQ_INT(shutdown(fd, SHUT_WR), 0);
  memset(&c, 0, sizeof(c));
  c.fd = fd;
  fcntl(fd, F_SETFL, O_NONBLOCK);
  zt_loop_add_fd(l, fd, EPOLLIN, on_client, &c);
  spin(l, 2000); /* stops at the client's EOF */
  zt_loop_del_fd(l, fd);
  close(fd);
  c.got[c.n] = 0;
  CHECK(c.done);
  CHECK_CONTAINS(c.got, "late reply ");
  CHECK_EQ_INT(zt_ctlsock_deferred_timeouts(cs), 0);
  zt_ctlsock_close(cs);
  zt_loop_free(l);
  teardown();
}

/* The client closes before its reply: the reply is dropped, -1, and the
 * slot is free again. */
static void test_deferred_client_gone(void) {
  int calls = 0;
  struct deferrer d;
  struct client c;
  setup();
  CHECK(dir[0]);
  struct zt_loop *l = zt_loop_new();
  CHECK(l != NULL);
  struct zt_ctlsock *cs = open_deferring(l, &d, &calls);
  CHECK(cs != NULL);
  d.answer_after_ms = -1;
  int fd = connect_to(path);
  CHECK(fd >= 0);
  CHECK_EQ_INT(write(fd, "ping web\n", 9), 9);
  spin(l, 50);
  CHECK_EQ_INT(d.n, 1);
  CHECK_EQ_INT(zt_ctlsock_deferred_pending(cs), 1);
  close(fd);
  spin(l, 50);
  CHECK_EQ_INT(zt_ctlsock_deferred_pending(cs), 0);
  CHECK_EQ_INT(zt_ctlsock_reply(cs, d.ids[0], "late\n", 5), -1);
  CHECK_EQ_INT(zt_ctlsock_reply(cs, 0, "late\n", 5), -1);
  CHECK_EQ_INT(zt_ctlsock_reply(cs, 12345, "late\n", 5), -1);
  CHECK_EQ_INT(zt_ctlsock_deferred_timeouts(cs), 0); /* not a timeout */
  /* The slots are all free: as many clients as there are slots get
   * through. */
  d.answer_after_ms = 1;
  for (int i = 0; i < ZT_CTLSOCK_MAX_CLIENTS + 1; i++) {
    CHECK_EQ_INT(ask(l, "ping web\n", 9, &c), 0);
    CHECK_CONTAINS(c.got, "late reply ");
  }
  zt_ctlsock_close(cs);
  CHECK_EQ_INT(zt_ctlsock_reply(NULL, 1, "x", 1), -1);
  zt_loop_free(l);
  teardown();
}

/* Nobody answers: the deadline closes the client, without a reply, and
 * counts it; a reply after that is a no-op. */
static void test_deferred_deadline(void) {
  int calls = 0;
  struct deferrer d;
  struct client c;
  setup();
  CHECK(dir[0]);
  struct zt_loop *l = zt_loop_new();
  CHECK(l != NULL);
  struct zt_ctlsock *cs = open_deferring(l, &d, &calls);
  CHECK(cs != NULL);
  d.answer_after_ms = -1;
  uint64_t t0 = zt_now_ns();
  CHECK_EQ_INT(ask(l, "ping slow\n", 10, &c), 0); /* EOF: closed */
  uint64_t waited_ms = (zt_now_ns() - t0) / 1000000;
  CHECK_STR(c.got, "");
  CHECK(waited_ms >= ZT_CTLSOCK_DEADLINE_MS - 100);
  CHECK(waited_ms < ZT_CTLSOCK_DEADLINE_MS + 2000);
  CHECK_EQ_INT(zt_ctlsock_deferred_timeouts(cs), 1);
  CHECK_EQ_INT(zt_ctlsock_deferred_pending(cs), 0);
  CHECK_EQ_INT(zt_ctlsock_reply(cs, d.ids[0], "late\n", 5), -1);
  zt_ctlsock_close(cs);
  zt_loop_free(l);
  teardown();
}

/* Every client gets its own id, also when slots are reused, and replies
 * go to the client they name. */
static void test_client_ids_distinct(void) {
  int calls = 0;
  struct deferrer d;
  setup();
  CHECK(dir[0]);
  struct zt_loop *l = zt_loop_new();
  CHECK(l != NULL);
  struct zt_ctlsock *cs = open_deferring(l, &d, &calls);
  CHECK(cs != NULL);
  d.answer_after_ms = -1;
  int fds[6];
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < 3; i++) {
      fds[round * 3 + i] = connect_to(path);
      CHECK(fds[round * 3 + i] >= 0);
      CHECK_EQ_INT(write(fds[round * 3 + i], "ping a\n", 7), 7);
    }
    spin(l, 50);
    if (round == 0) /* the first three go: their slots are reused */
      for (int i = 0; i < 3; i++)
        close(fds[i]);
    spin(l, 50);
  }
  CHECK_EQ_INT(d.n, 6);
  for (size_t i = 0; i < d.n; i++) {
    CHECK(d.ids[i] != 0);
    for (size_t j = 0; j < i; j++)
      CHECK(d.ids[i] != d.ids[j]);
  }
  /* The old ids are dead even though their slots live again. */
  for (int i = 0; i < 3; i++)
    CHECK_EQ_INT(zt_ctlsock_reply(cs, d.ids[i], "x\n", 2), -1);
  /* Reply to the middle one of the live three: only it reads it. */
  CHECK_EQ_INT(zt_ctlsock_reply(cs, d.ids[4], "for 4\n", 6), 0);
  spin(l, 50);
  char got[16] = {0};
  CHECK_EQ_INT(read(fds[4], got, sizeof(got) - 1), 6);
  CHECK_STR(got, "for 4\n");
  fcntl(fds[3], F_SETFL, O_NONBLOCK);
  CHECK(read(fds[3], got, sizeof(got)) < 0 && errno == EAGAIN);
  for (int i = 3; i < 6; i++)
    close(fds[i]);
  zt_ctlsock_close(cs);
  zt_loop_free(l);
  teardown();
}

int main(void) {
  RUN(test_round_trip_and_mode);
  RUN(test_stale_replaced);
  RUN(test_path_choice);
  RUN(test_deferred_reply);
  RUN(test_deferred_client_gone);
  RUN(test_deferred_deadline);
  RUN(test_client_ids_distinct);
  return TEST_EXIT();
}

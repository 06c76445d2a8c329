/* loop: fd callbacks, timer order with re-arm and disarm, stop from a
 * callback, deleting fds mid-batch, SIGTERM and SIGUSR1 through the
 * signalfd, and the signal mask restored by zt_loop_free. */
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "clock.h"
#include "loop.h"
#include "test.h"

#define MS 1000000ull

/* ---- an fd callback through a pipe ---- */

struct pipe_ctx {
  int calls;
  char got;
};

static void on_pipe(struct zt_loop *l, int fd, uint32_t events, void *ud) {
  struct pipe_ctx *c = ud;
  c->calls++;
  if ((events & EPOLLIN) && read(fd, &c->got, 1) == 1)
    zt_loop_stop(l);
}

static void test_fd_callback_and_stop(void) {
  struct pipe_ctx c = {0, 0};
  int p[2];
  CHECK(pipe(p) == 0);
  struct zt_loop *l = zt_loop_new();
  CHECK(l != NULL);
  CHECK_EQ_INT(zt_loop_add_fd(l, p[0], EPOLLIN, on_pipe, &c), 0);
  CHECK_EQ_INT(zt_loop_add_fd(l, p[0], EPOLLIN, on_pipe, &c), -1); /* twice */
  CHECK_EQ_INT(write(p[1], "x", 1), 1);
  CHECK_EQ_INT(zt_loop_run(l), 0);
  CHECK_EQ_INT(c.calls, 1);
  CHECK_EQ_INT(c.got, 'x');
  CHECK_EQ_INT(zt_loop_signal_received(l), 0);
  CHECK_EQ_INT(zt_loop_del_fd(l, p[0]), 0);
  CHECK_EQ_INT(zt_loop_del_fd(l, p[0]), -1); /* not registered any more */
  zt_loop_free(l);
  close(p[0]);
  close(p[1]);
}

/* Registered with no events, then switched to EPOLLIN. */
static void test_mod_fd(void) {
  struct pipe_ctx c = {0, 0};
  int p[2];
  CHECK(pipe(p) == 0);
  struct zt_loop *l = zt_loop_new();
  CHECK(l != NULL);
  CHECK_EQ_INT(zt_loop_add_fd(l, p[1], EPOLLOUT, on_pipe, &c), 0);
  CHECK_EQ_INT(zt_loop_mod_fd(l, p[1], 0), 0);
  CHECK_EQ_INT(zt_loop_add_fd(l, p[0], 0, on_pipe, &c), 0);
  CHECK_EQ_INT(zt_loop_mod_fd(l, p[0], EPOLLIN), 0);
  CHECK_EQ_INT(zt_loop_mod_fd(l, 12345, EPOLLIN), -1);
  CHECK_EQ_INT(write(p[1], "y", 1), 1);
  CHECK_EQ_INT(zt_loop_run(l), 0);
  CHECK_EQ_INT(c.calls, 1); /* the write end stayed quiet */
  CHECK_EQ_INT(c.got, 'y');
  zt_loop_free(l);
  close(p[0]);
  close(p[1]);
}

/* ---- timers ---- */

struct tctx {
  struct zt_loop *l;
  struct zt_timer a, b, c, d;
  char order[16];
  int n;
  uint64_t start;
  int a_runs;
};

static void rec(struct tctx *t, char ch) {
  if (t->n < (int)sizeof(t->order) - 1)
    t->order[t->n++] = ch;
}

static void on_a(struct zt_loop *l, void *ud) {
  struct tctx *t = ud;
  rec(t, 'a');
  if (++t->a_runs == 1) /* once more, between b and c */
    zt_timer_arm(l, &t->a, t->start + 25 * MS);
}
static void on_b(struct zt_loop *l, void *ud) {
  struct tctx *t = ud;
  rec(t, 'b');
  zt_timer_disarm(l, &t->d);
}
static void on_c(struct zt_loop *l, void *ud) {
  struct tctx *t = ud;
  rec(t, 'c');
  zt_loop_stop(l);
}
static void on_d(struct zt_loop *l, void *ud) {
  struct tctx *t = ud;
  (void)l;
  rec(t, 'd');
}

static void test_timer_order_rearm_disarm(void) {
  static struct tctx t;
  memset(&t, 0, sizeof(t));
  t.l = zt_loop_new();
  CHECK(t.l != NULL);
  zt_timer_init(&t.a, on_a, &t);
  zt_timer_init(&t.b, on_b, &t);
  zt_timer_init(&t.c, on_c, &t);
  zt_timer_init(&t.d, on_d, &t);
  t.start = zt_now_ns();
  /* Armed out of order; d is disarmed by b before it is due. */
  zt_timer_arm(t.l, &t.c, t.start + 30 * MS);
  zt_timer_arm(t.l, &t.d, t.start + 40 * MS);
  zt_timer_arm(t.l, &t.a, t.start + 10 * MS);
  zt_timer_arm(t.l, &t.b, t.start + 50 * MS);
  zt_timer_arm(t.l, &t.b, t.start + 20 * MS); /* re-arm moves it earlier */
  CHECK(t.b.armed);
  CHECK_EQ_INT(zt_loop_run(t.l), 0);
  uint64_t took = zt_now_ns() - t.start;
  CHECK_STR(t.order, "abac");
  CHECK(took >= 30 * MS);
  CHECK(took < 2000 * MS);
  CHECK(!t.a.armed && !t.b.armed && !t.c.armed && !t.d.armed);
  zt_loop_free(t.l);
}

/* Same deadline: first armed, first fired. Past deadlines fire too. */
static void test_timer_ties_and_past(void) {
  static struct tctx t;
  memset(&t, 0, sizeof(t));
  t.l = zt_loop_new();
  CHECK(t.l != NULL);
  zt_timer_init(&t.d, on_d, &t);
  zt_timer_init(&t.b, on_b, &t);
  zt_timer_init(&t.c, on_c, &t);
  zt_timer_arm(t.l, &t.d, 5);
  zt_timer_arm(t.l, &t.b, 5);
  zt_timer_arm(t.l, &t.c, 5);
  /* b disarms d, but d is due first and has already run. */
  CHECK_EQ_INT(zt_loop_run(t.l), 0);
  CHECK_STR(t.order, "dbc");
  zt_loop_free(t.l);
}

/* A timer that re-arms itself in the past on every call must not starve
 * file descriptors: it fires once per loop iteration. */
struct spin_ctx {
  struct zt_timer t;
  int spins;
  int fd_seen_at;
};

static void on_spin(struct zt_loop *l, void *ud) {
  struct spin_ctx *s = ud;
  s->spins++;
  if (s->spins > 1000) { /* the fd never got its turn */
    zt_loop_stop(l);
    return;
  }
  zt_timer_arm(l, &s->t, 0);
}

static void on_spin_fd(struct zt_loop *l, int fd, uint32_t events, void *ud) {
  struct spin_ctx *s = ud;
  char ch;
  (void)events;
  if (read(fd, &ch, 1) == 1) {
    s->fd_seen_at = s->spins;
    zt_loop_stop(l);
  }
}

static void test_timer_rearm_in_past_does_not_spin(void) {
  struct spin_ctx s = {.spins = 0, .fd_seen_at = -1};
  int p[2];
  CHECK(pipe(p) == 0);
  struct zt_loop *l = zt_loop_new();
  CHECK(l != NULL);
  zt_timer_init(&s.t, on_spin, &s);
  zt_timer_arm(l, &s.t, 0);
  CHECK_EQ_INT(zt_loop_add_fd(l, p[0], EPOLLIN, on_spin_fd, &s), 0);
  CHECK_EQ_INT(write(p[1], "z", 1), 1);
  CHECK_EQ_INT(zt_loop_run(l), 0);
  CHECK(s.fd_seen_at >= 0);
  CHECK(s.fd_seen_at <= 2);
  CHECK(s.t.armed); /* still armed: the loop stopped, the timer did not */
  zt_loop_free(l);
  CHECK(!s.t.armed); /* freeing the loop leaves caller timers disarmed */
  close(p[0]);
  close(p[1]);
}

/* ---- deleting fds from a callback of the same batch ---- */

struct pair {
  struct zt_loop *l;
  int fds[2];
  int calls;
};

struct pair_side {
  struct pair *pr;
  int me;
};

/* Whichever end runs first removes the other one and closes it. The other
 * one's event is in the same epoll batch: it must not be dispatched (under
 * ASan a call through the freed registration would be reported). */
static void on_pair(struct zt_loop *l, int fd, uint32_t events, void *ud) {
  struct pair_side *side = ud;
  struct pair *pr = side->pr;
  int other = 1 - side->me;
  (void)fd;
  (void)events;
  pr->calls++;
  if (pr->fds[other] >= 0) {
    CHECK(zt_loop_del_fd(l, pr->fds[other]) == 0);
    close(pr->fds[other]);
    pr->fds[other] = -1;
  }
  CHECK(zt_loop_del_fd(l, pr->fds[side->me]) == 0);
  /* No zt_loop_stop() here: the rest of the batch must be dispatched (and
   * the dead registration skipped), so a timer ends the run. */
}

static void stop_cb(struct zt_loop *l, void *ud) {
  (void)ud;
  zt_loop_stop(l);
}

static void test_del_fd_in_same_batch(void) {
  struct pair pr = {NULL, {-1, -1}, 0};
  struct pair_side sides[2] = {{&pr, 0}, {&pr, 1}};
  int p1[2], p2[2];
  CHECK(pipe(p1) == 0);
  CHECK(pipe(p2) == 0);
  pr.l = zt_loop_new();
  CHECK(pr.l != NULL);
  pr.fds[0] = p1[0];
  pr.fds[1] = p2[0];
  CHECK_EQ_INT(zt_loop_add_fd(pr.l, p1[0], EPOLLIN, on_pair, &sides[0]), 0);
  CHECK_EQ_INT(zt_loop_add_fd(pr.l, p2[0], EPOLLIN, on_pair, &sides[1]), 0);
  /* Both readable before the loop runs: one epoll_wait returns both. */
  CHECK_EQ_INT(write(p1[1], "1", 1), 1);
  CHECK_EQ_INT(write(p2[1], "2", 1), 1);
  struct zt_timer stop;
  zt_timer_init(&stop, stop_cb, NULL);
  zt_timer_arm(pr.l, &stop, zt_now_ns() + 20 * MS);
  CHECK_EQ_INT(zt_loop_run(pr.l), 0);
  CHECK_EQ_INT(pr.calls, 1);
  zt_loop_free(pr.l);
  for (int i = 0; i < 2; i++)
    if (pr.fds[i] >= 0)
      close(pr.fds[i]);
  close(p1[1]);
  close(p2[1]);
}

/* An fd removed and a new one registered with the same number from inside
 * the batch: the stale event must not reach the new registration. */
struct reuse_ctx {
  int a_r, b_r, b_w;
  int a_calls, b_calls, fresh_calls;
  bool b_deleted;
};

static void on_fresh(struct zt_loop *l, int fd, uint32_t events, void *ud) {
  struct reuse_ctx *c = ud;
  (void)l;
  (void)fd;
  (void)events;
  c->fresh_calls++;
}

static void on_reuse(struct zt_loop *l, int fd, uint32_t events, void *ud) {
  struct reuse_ctx *c = ud;
  char ch;
  (void)events;
  CHECK(read(fd, &ch, 1) == 1);
  if (fd == c->a_r) {
    c->a_calls++;
    if (c->b_r >= 0) {
      /* Replace b's registration with a quiet one on the same number. */
      CHECK(zt_loop_del_fd(l, c->b_r) == 0);
      CHECK(zt_loop_add_fd(l, c->b_r, 0, on_fresh, c) == 0);
      c->b_deleted = true;
    }
  } else {
    CHECK(!c->b_deleted); /* the stale event of the deleted registration */
    c->b_calls++;
  }
}

static void test_del_then_readd_in_same_batch(void) {
  struct reuse_ctx c;
  int p1[2], p2[2];
  memset(&c, 0, sizeof(c));
  CHECK(pipe(p1) == 0);
  CHECK(pipe(p2) == 0);
  c.a_r = p1[0];
  c.b_r = p2[0];
  struct zt_loop *l = zt_loop_new();
  CHECK(l != NULL);
  CHECK_EQ_INT(zt_loop_add_fd(l, p1[0], EPOLLIN, on_reuse, &c), 0);
  CHECK_EQ_INT(zt_loop_add_fd(l, p2[0], EPOLLIN, on_reuse, &c), 0);
  CHECK_EQ_INT(write(p1[1], "1", 1), 1);
  CHECK_EQ_INT(write(p2[1], "2", 1), 1);
  struct zt_timer stop;
  zt_timer_init(&stop, stop_cb, NULL);
  zt_timer_arm(l, &stop, zt_now_ns() + 20 * MS);
  CHECK_EQ_INT(zt_loop_run(l), 0);
  /* b ran only if it came before a in the batch; the fresh registration
   * (no events) never ran, whatever the order. */
  CHECK_EQ_INT(c.a_calls, 1);
  CHECK(c.b_calls <= 1);
  CHECK_EQ_INT(c.fresh_calls, 0);
  zt_loop_free(l);
  close(p1[0]);
  close(p1[1]);
  close(p2[0]);
  close(p2[1]);
}

/* ---- signals ---- */

static void raise_ud(struct zt_loop *l, void *ud) {
  (void)l;
  raise(*(int *)ud);
}

static bool blocked(int sig) {
  sigset_t cur;
  sigprocmask(SIG_BLOCK, NULL, &cur);
  return sigismember(&cur, sig);
}

static void unblock_stop_signals(void) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGTERM);
  sigaddset(&s, SIGINT);
  sigprocmask(SIG_UNBLOCK, &s, NULL);
}

static void test_sigterm_stops(void) {
  int sig = SIGTERM;
  struct zt_timer t;
  CHECK(!blocked(SIGTERM));
  struct zt_loop *l = zt_loop_new();
  CHECK(l != NULL);
  CHECK(blocked(SIGTERM) && blocked(SIGINT) && blocked(SIGUSR1));
  zt_timer_init(&t, raise_ud, &sig);
  zt_timer_arm(l, &t, zt_now_ns() + 5 * MS);
  CHECK_EQ_INT(zt_loop_run(l), 0);
  CHECK_EQ_INT(zt_loop_signal_received(l), SIGTERM);
  zt_loop_free(l);
  /* Stopped by a signal, the process is on its way out: SIGTERM and SIGINT
   * stay blocked so that a repeated one cannot cut its clean-up short. */
  CHECK(blocked(SIGTERM) && blocked(SIGINT) && !blocked(SIGUSR1));
  unblock_stop_signals();
}

/* A SIGINT that arrives before zt_loop_run() is not lost. */
static void test_sigint_pending_before_run(void) {
  struct zt_loop *l = zt_loop_new();
  CHECK(l != NULL);
  raise(SIGINT);
  CHECK_EQ_INT(zt_loop_run(l), 0);
  CHECK_EQ_INT(zt_loop_signal_received(l), SIGINT);
  zt_loop_free(l);
  unblock_stop_signals();
}

/* A SIGTERM still pending at zt_loop_free() must not kill the process when
 * the mask is restored. */
static void test_free_with_pending_signal(void) {
  struct zt_loop *l = zt_loop_new();
  CHECK(l != NULL);
  raise(SIGTERM);
  zt_loop_free(l);
  CHECK(!blocked(SIGTERM));
}

struct hook_ctx {
  struct zt_loop *l;
  int calls;
};

static void status_hook(void *ud) {
  struct hook_ctx *h = ud;
  h->calls++;
  zt_loop_stop(h->l);
}

static void count_hook(void *ud) { ((struct hook_ctx *)ud)->calls++; }

static void stop_ud(struct zt_loop *l, void *ud) {
  (void)l;
  zt_loop_stop(ud);
}

static void test_sigusr1_calls_hook(void) {
  int sig = SIGUSR1;
  struct zt_timer t;
  struct hook_ctx h = {NULL, 0};
  h.l = zt_loop_new();
  CHECK(h.l != NULL);
  zt_loop_set_status_hook(h.l, status_hook, &h);
  zt_timer_init(&t, raise_ud, &sig);
  zt_timer_arm(h.l, &t, zt_now_ns() + 1 * MS);
  CHECK_EQ_INT(zt_loop_run(h.l), 0);
  CHECK_EQ_INT(h.calls, 1);
  CHECK_EQ_INT(zt_loop_signal_received(h.l), 0); /* a status request */
  zt_loop_free(h.l);
}

/* SIGHUP reaches its hook and does not stop the loop (its default action
 * would kill a daemon and leave its routes behind). */
static void test_sighup_calls_reload_hook(void) {
  int sig = SIGHUP;
  struct zt_timer t, stop;
  struct hook_ctx h = {NULL, 0};
  h.l = zt_loop_new();
  CHECK(h.l != NULL);
  zt_loop_set_reload_hook(h.l, count_hook, &h);
  zt_timer_init(&t, raise_ud, &sig);
  zt_timer_arm(h.l, &t, zt_now_ns() + 1 * MS);
  zt_timer_init(&stop, stop_ud, h.l);
  zt_timer_arm(h.l, &stop, zt_now_ns() + 50 * MS);
  CHECK_EQ_INT(zt_loop_run(h.l), 0);
  CHECK_EQ_INT(h.calls, 1);
  CHECK_EQ_INT(zt_loop_signal_received(h.l), 0);
  zt_loop_free(h.l);
}

int main(void) {
  RUN(test_fd_callback_and_stop);
  RUN(test_mod_fd);
  RUN(test_timer_order_rearm_disarm);
  RUN(test_timer_ties_and_past);
  RUN(test_timer_rearm_in_past_does_not_spin);
  RUN(test_del_fd_in_same_batch);
  RUN(test_del_then_readd_in_same_batch);
  RUN(test_sigterm_stops);
  RUN(test_sigint_pending_before_run);
  RUN(test_free_with_pending_signal);
  RUN(test_sigusr1_calls_hook);
  RUN(test_sighup_calls_reload_hook);
  return TEST_EXIT();
}

/*
 * The epoll event loop. See loop.h.
 *
 * Three kinds of events come out of one epoll_wait():
 *   - caller file descriptors, each with a heap-allocated registration that
 *     epoll hands back in data.ptr;
 *   - one timerfd, programmed (absolute, CLOCK_MONOTONIC) at the earliest
 *     armed zt_timer; the timers themselves are a list sorted by deadline;
 *   - one signalfd for SIGINT, SIGTERM, SIGUSR1 and SIGHUP, so that a
 *     signal is an ordinary event handled outside of async-signal context.
 *     SIGHUP never stops the loop (its default action would kill the
 *     daemon and leave its routes and nftables table behind).
 */
#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define MAX_EVENTS 64

struct fdreg {
  int fd;
  zt_fd_cb cb;
  void *ud;
  /* Set by zt_loop_del_fd. The epoll batch being dispatched may still hold
   * a pointer to this registration, so it is not freed until the batch is
   * over: a dead registration's pending events are skipped. */
  bool dead;
  struct fdreg *next;
};

struct zt_loop {
  int epfd, tfd, sfd;
  struct fdreg *fds;       /* live registrations */
  struct fdreg *graveyard; /* deleted, freed after the current batch */
  struct fdreg timer_reg, signal_reg; /* the loop's own fds */

  struct zt_timer *timers; /* armed, sorted by deadline (FIFO on ties) */
  struct zt_timer *due;    /* detached for the firing pass in progress */
  uint64_t programmed;     /* the timerfd's deadline; UINT64_MAX = disarmed */

  void (*status_fn)(void *);
  void *status_ud;
  void (*reload_fn)(void *);
  void *reload_ud;

  bool stop;
  bool signals; /* owns the signalfd: false for worker threads' loops */
  int signal;
  sigset_t oldmask;
};

/* ---- timers ---- */

void zt_timer_init(struct zt_timer *t, zt_timer_cb cb, void *ud) {
  t->deadline = 0;
  t->armed = false;
  t->cb = cb;
  t->ud = ud;
  t->next = NULL;
}

static bool unlink_timer(struct zt_timer **head, struct zt_timer *t) {
  for (struct zt_timer **pp = head; *pp; pp = &(*pp)->next) {
    if (*pp == t) {
      *pp = t->next;
      t->next = NULL;
      return true;
    }
  }
  return false;
}

void zt_timer_disarm(struct zt_loop *l, struct zt_timer *t) {
  if (!t->armed)
    return;
  /* A timer due in the current firing pass sits on the due list; removing
   * it from there is what makes "a callback disarms another due timer"
   * keep that timer from firing. */
  if (!unlink_timer(&l->timers, t))
    unlink_timer(&l->due, t);
  t->armed = false;
}

void zt_timer_arm(struct zt_loop *l, struct zt_timer *t, uint64_t deadline) {
  zt_timer_disarm(l, t);
  t->deadline = deadline;
  t->armed = true;
  struct zt_timer **pp = &l->timers;
  while (*pp && (*pp)->deadline <= deadline)
    pp = &(*pp)->next;
  t->next = *pp;
  *pp = t;
  /* The timerfd is reprogrammed lazily, once per iteration, just before
   * epoll_wait(): arming several timers from one callback costs nothing. */
}

/* Fires every timer due at the start of the pass, earliest first. The due
 * ones are detached first, so a callback that re-arms (itself or another
 * timer) with a deadline already in the past goes back onto the pending
 * list and fires on the next iteration instead of spinning here forever. */
static void fire_timers(struct zt_loop *l) {
  uint64_t now = zt_now_ns();
  if (!l->timers || l->timers->deadline > now)
    return;
  struct zt_timer **pp = &l->timers;
  while (*pp && (*pp)->deadline <= now)
    pp = &(*pp)->next;
  l->due = l->timers;
  l->timers = *pp;
  *pp = NULL;

  while (l->due && !l->stop) {
    struct zt_timer *t = l->due;
    l->due = t->next;
    t->next = NULL;
    t->armed = false;
    t->cb(l, t->ud);
  }
  /* Stopped mid-pass: the rest stay armed, back in front of the pending
   * list (they are all earlier than anything there). */
  if (l->due) {
    struct zt_timer *last = l->due;
    while (last->next)
      last = last->next;
    last->next = l->timers;
    l->timers = l->due;
    l->due = NULL;
  }
}

/* Returns the epoll_wait() timeout: 0 when a timer is already due (no need
 * for a timerfd round trip), otherwise -1 with the timerfd set to the
 * earliest deadline. */
static int program_timerfd(struct zt_loop *l) {
  uint64_t next = l->timers ? l->timers->deadline : UINT64_MAX;
  if (next != UINT64_MAX && next <= zt_now_ns())
    return 0;
  /* A future deadline equal to the programmed one has not expired yet (same
   * clock), so the timerfd is still pending for it. */
  if (next == l->programmed)
    return -1;
  struct itimerspec its;
  memset(&its, 0, sizeof(its));
  if (next != UINT64_MAX) {
    its.it_value.tv_sec = (time_t)(next / 1000000000ull);
    its.it_value.tv_nsec = (long)(next % 1000000000ull);
  }
  if (timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL) != 0) {
    /* Cannot happen with a valid fd and deadline; poll instead of hanging. */
    zt_err("timerfd_settime: %s", strerror(errno));
    l->programmed = UINT64_MAX;
    return 1;
  }
  l->programmed = next;
  return -1;
}

static void on_timerfd(struct zt_loop *l, int fd, uint32_t events, void *ud) {
  uint64_t expirations;
  (void)events;
  (void)ud;
  /* Just clear the readiness: the firing pass after every batch looks at
   * the deadlines themselves. */
  while (read(fd, &expirations, sizeof(expirations)) > 0)
    ;
  l->programmed = UINT64_MAX;
}

/* ---- signals ---- */

static void signal_set(sigset_t *set) {
  sigemptyset(set);
  sigaddset(set, SIGINT);
  sigaddset(set, SIGTERM);
  sigaddset(set, SIGUSR1);
  sigaddset(set, SIGHUP);
}

static void on_signalfd(struct zt_loop *l, int fd, uint32_t events,
                        void *ud) {
  struct signalfd_siginfo si;
  (void)events;
  (void)ud;
  while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
    if (si.ssi_signo == SIGUSR1) {
      if (l->status_fn)
        l->status_fn(l->status_ud);
    } else if (si.ssi_signo == SIGHUP) {
      if (l->reload_fn)
        l->reload_fn(l->reload_ud);
    } else {
      l->signal = (int)si.ssi_signo;
      l->stop = true;
    }
  }
}

void zt_loop_set_status_hook(struct zt_loop *l, void (*fn)(void *),
                             void *ud) {
  l->status_fn = fn;
  l->status_ud = ud;
}

void zt_loop_set_reload_hook(struct zt_loop *l, void (*fn)(void *),
                             void *ud) {
  l->reload_fn = fn;
  l->reload_ud = ud;
}

/* ---- file descriptors ---- */

static struct fdreg *find_reg(struct zt_loop *l, int fd,
                              struct fdreg ***link) {
  for (struct fdreg **pp = &l->fds; *pp; pp = &(*pp)->next) {
    if ((*pp)->fd == fd) {
      if (link)
        *link = pp;
      return *pp;
    }
  }
  return NULL;
}

static int add_reg(struct zt_loop *l, struct fdreg *r, uint32_t events) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof(ev));
  ev.events = events;
  ev.data.ptr = r;
  return epoll_ctl(l->epfd, EPOLL_CTL_ADD, r->fd, &ev);
}

int zt_loop_add_fd(struct zt_loop *l, int fd, uint32_t events, zt_fd_cb cb,
                   void *ud) {
  if (find_reg(l, fd, NULL)) {
    errno = EEXIST;
    return -1;
  }
  struct fdreg *r = calloc(1, sizeof(*r));
  if (!r)
    return -1;
  r->fd = fd;
  r->cb = cb;
  r->ud = ud;
  if (add_reg(l, r, events) != 0) {
    int e = errno;
    free(r);
    errno = e;
    return -1;
  }
  r->next = l->fds;
  l->fds = r;
  return 0;
}

int zt_loop_mod_fd(struct zt_loop *l, int fd, uint32_t events) {
  struct fdreg *r = find_reg(l, fd, NULL);
  if (!r) {
    errno = ENOENT;
    return -1;
  }
  struct epoll_event ev;
  memset(&ev, 0, sizeof(ev));
  ev.events = events;
  ev.data.ptr = r;
  return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev);
}

int zt_loop_del_fd(struct zt_loop *l, int fd) {
  struct fdreg **link;
  struct fdreg *r = find_reg(l, fd, &link);
  if (!r) {
    errno = ENOENT;
    return -1;
  }
  /* EBADF: the caller closed the fd first, which already took it out of
   * the epoll set. The registration goes either way. */
  if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) != 0 && errno != EBADF &&
      errno != ENOENT)
    zt_warn("epoll: removing fd %d: %s", fd, strerror(errno));
  *link = r->next;
  r->dead = true;
  r->next = l->graveyard;
  l->graveyard = r;
  return 0;
}

static void bury(struct zt_loop *l) {
  while (l->graveyard) {
    struct fdreg *r = l->graveyard;
    l->graveyard = r->next;
    free(r);
  }
}

/* ---- lifecycle ---- */

static struct zt_loop *loop_new(bool signals);

struct zt_loop *zt_loop_new(void) { return loop_new(true); }
struct zt_loop *zt_loop_new_nosignals(void) { return loop_new(false); }

static struct zt_loop *loop_new(bool signals) {
  struct zt_loop *l = calloc(1, sizeof(*l));
  if (!l) {
    zt_err("event loop: out of memory");
    return NULL;
  }
  l->epfd = l->tfd = l->sfd = -1;
  l->programmed = UINT64_MAX;
  l->signals = signals;

  sigset_t set;
  signal_set(&set);
  /* Blocked, so that they stay pending for the signalfd instead of running
   * a default action (terminate) or a handler at an arbitrary point. */
  if (signals && sigprocmask(SIG_BLOCK, &set, &l->oldmask) != 0) {
    zt_err("sigprocmask: %s", strerror(errno));
    free(l);
    return NULL;
  }

  const char *what = NULL;
  if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
    what = "epoll_create1";
  else if ((l->tfd = timerfd_create(CLOCK_MONOTONIC,
                                    TFD_NONBLOCK | TFD_CLOEXEC)) < 0)
    what = "timerfd_create";
  else if (signals &&
           (l->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
    what = "signalfd";
  if (!what) {
    l->timer_reg.fd = l->tfd;
    l->timer_reg.cb = on_timerfd;
    l->signal_reg.fd = l->sfd;
    l->signal_reg.cb = on_signalfd;
    if (add_reg(l, &l->timer_reg, EPOLLIN) != 0 ||
        (signals && add_reg(l, &l->signal_reg, EPOLLIN) != 0))
      what = "epoll_ctl";
  }
  if (what) {
    int e = errno;
    zt_err("event loop: %s: %s", what, strerror(e));
    zt_loop_free(l);
    errno = e;
    return NULL;
  }
  return l;
}

void zt_loop_free(struct zt_loop *l) {
  if (!l)
    return;
  while (l->fds) {
    struct fdreg *r = l->fds;
    l->fds = r->next;
    free(r);
  }
  bury(l);
  /* The timers are the caller's memory: leave them consistently disarmed. */
  struct zt_timer *lists[2] = {l->timers, l->due};
  for (int i = 0; i < 2; i++) {
    for (struct zt_timer *t = lists[i], *n; t; t = n) {
      n = t->next;
      t->next = NULL;
      t->armed = false;
    }
  }
  if (l->sfd >= 0) {
    /* Consume what is still pending: unblocking a pending SIGTERM would
     * otherwise kill the process on the way out of its clean-up path. */
    struct signalfd_siginfo si;
    while (read(l->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
      ;
    close(l->sfd);
  }
  if (l->tfd >= 0)
    close(l->tfd);
  if (l->epfd >= 0)
    close(l->epfd);
  /* After a stop by signal the process is on its way out: SIGINT/SIGTERM
   * stay blocked, so a repeated one (timeout(1) and systemd signal the whole
   * process group) cannot cut the clean-up short. */
  if (l->signal == SIGINT || l->signal == SIGTERM) {
    sigaddset(&l->oldmask, SIGINT);
    sigaddset(&l->oldmask, SIGTERM);
  }
  if (l->signals)
    sigprocmask(SIG_SETMASK, &l->oldmask, NULL);
  free(l);
}

/* ---- running ---- */

void zt_loop_stop(struct zt_loop *l) { l->stop = true; }

int zt_loop_signal_received(const struct zt_loop *l) { return l->signal; }

int zt_loop_run(struct zt_loop *l) {
  struct epoll_event evs[MAX_EVENTS];
  int rv = 0;

  while (!l->stop) {
    int timeout = program_timerfd(l);
    int n = epoll_wait(l->epfd, evs, MAX_EVENTS, timeout);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      zt_err("epoll_wait: %s", strerror(errno));
      rv = -1;
      break;
    }
    for (int i = 0; i < n && !l->stop; i++) {
      struct fdreg *r = evs[i].data.ptr;
      if (r->dead)
        continue;
      r->cb(l, r->fd, evs[i].events, r->ud);
    }
    bury(l);
    if (!l->stop)
      fire_timers(l);
  }
  /* Ready for another zt_loop_run(); the signal stays recorded. */
  l->stop = false;
  return rv;
}

/* workers.h: a loop per worker thread, woken through an eventfd. */
#include "workers.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

struct worker {
  struct zt_driver d;
  struct zt_driver *drv; /* &d, or worker 0's: the main thread's */
  struct zt_io io;
  struct zt_intermediate *im;
  unsigned idx;
  int wake_fd;
  int stop; /* atomic */
  pthread_t tid;
  bool running;
};

static struct worker workers[ZT_IM_MAX_WORKERS];
static unsigned n_workers;

static void wake(void *ud) {
  struct worker *w = ud;
  uint64_t one = 1;
  /* EAGAIN: the counter is full, the loop is woken already. */
  if (write(w->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
    zt_err("worker %u: cannot wake: %s", w->idx, strerror(errno));
}

static void mail(void *node, const void *arg, uint64_t now) {
  const struct worker *w = arg;
  (void)node;
  zt_intermediate_worker_mail(w->im, w->idx, now);
}

static void on_wake(struct zt_loop *l, int fd, uint32_t events, void *ud) {
  struct worker *w = ud;
  uint64_t n;
  (void)events;
  if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
    zt_err("worker %u: eventfd: %s", w->idx, strerror(errno));
  if (__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
    zt_loop_stop(l);
    return;
  }
  zt_driver_call(w->drv, mail, w);
}

static void feed_udp(void *node, const struct sockaddr *from, socklen_t fromlen,
                     const uint8_t *pkt, size_t len, uint64_t now) {
  const struct worker *w = node;
  zt_intermediate_worker_feed_udp(w->im, w->idx, from, fromlen, pkt, len, now);
}
static uint64_t expiry(void *node) {
  const struct worker *w = node;
  return zt_intermediate_worker_expiry(w->im, w->idx);
}
static void handle_expiry(void *node, uint64_t now) {
  const struct worker *w = node;
  zt_intermediate_worker_handle_expiry(w->im, w->idx, now);
}

static void *run(void *arg) {
  struct worker *w = arg;
  if (zt_driver_run(&w->d) != 0)
    zt_err("worker %u stopped on an error", w->idx);
  return NULL;
}

/* Worker 0 lives in the main thread's driver: only its mailbox is added. */
static int mailbox(struct worker *w, struct zt_loop *loop) {
  if ((w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
    zt_err("eventfd: %s", strerror(errno));
    return -1;
  }
  if (zt_loop_add_fd(loop, w->wake_fd, EPOLLIN, on_wake, w) != 0) {
    zt_err("epoll: cannot watch worker %u's mailbox: %s", w->idx,
           strerror(errno));
    return -1;
  }
  return 0;
}

int zt_im_workers_start(struct zt_intermediate *im, struct zt_driver *d0,
                        struct zt_io *io0, const int *fds, unsigned n) {
  if (n <= 1)
    return 0;
  /* Worker 0: the main driver (its node is im; mail() takes its index). */
  struct worker *w0 = &workers[0];
  w0->im = im;
  w0->idx = 0;
  w0->drv = d0;
  if (mailbox(w0, d0->loop) != 0)
    return -1;
  io0->wake = wake;
  io0->wake_ud = w0;
  n_workers = 1;
  for (unsigned i = 1; i < n; i++) {
    struct worker *w = &workers[i];
    w->im = im;
    w->idx = i;
    w->drv = &w->d;
    w->d.udp_fd = fds[i];
    w->d.tun_fd = -1;
    w->d.node = w;
    w->d.feed_udp = feed_udp;
    w->d.expiry = expiry;
    w->d.handle_expiry = handle_expiry;
    if (!(w->d.loop = zt_loop_new_nosignals()) || mailbox(w, w->d.loop) != 0)
      goto fail;
    zt_driver_io(&w->d, &w->io);
    w->io.wake = wake;
    w->io.wake_ud = w;
    if (zt_intermediate_add_worker(im, &w->io) != 0) {
      zt_err("cannot add worker %u: out of memory", i);
      goto fail;
    }
    n_workers = i + 1;
  }
  for (unsigned i = 1; i < n; i++) {
    int e = pthread_create(&workers[i].tid, NULL, run, &workers[i]);
    if (e) {
      zt_err("cannot start worker %u: %s", i, strerror(e));
      goto fail;
    }
    workers[i].running = true;
  }
  return 0;
fail:
  zt_im_workers_stop();
  return -1;
}

void zt_im_workers_stop(void) {
  for (unsigned i = 1; i < n_workers; i++) {
    struct worker *w = &workers[i];
    if (!w->running)
      continue;
    __atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
    wake(w);
    pthread_join(w->tid, NULL);
    w->running = false;
  }
}

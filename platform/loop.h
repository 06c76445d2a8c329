/*
 * A small epoll event loop: file descriptors, one-shot timers on the
 * monotonic clock (nanosecond deadlines, one timerfd for all of them), and
 * SIGINT/SIGTERM through a signalfd so that shutdown is an ordinary event
 * and the daemons always leave through their clean-up path. SIGUSR1 calls
 * the optional status hook.
 */
#ifndef ZTNA_LOOP_H
#define ZTNA_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct zt_loop;

typedef void (*zt_fd_cb)(struct zt_loop *l, int fd, uint32_t events, void *ud);
typedef void (*zt_timer_cb)(struct zt_loop *l, void *ud);

/* Timers live in the caller's memory; the loop links armed ones. */
struct zt_timer {
  uint64_t deadline; /* ns, zt_now_ns() clock */
  bool armed;
  zt_timer_cb cb;
  void *ud;
  struct zt_timer *next;
};

/* Blocks SIGINT, SIGTERM and SIGUSR1 for the process and watches them. */
struct zt_loop *zt_loop_new(void);
/* A loop of another thread (the Intermediate's workers): no signalfd, so
 * SIGINT, SIGTERM, SIGUSR1 and SIGHUP stay the main loop's. Create it
 * after the main loop, whose blocked signals the thread inherits. */
struct zt_loop *zt_loop_new_nosignals(void);
void zt_loop_free(struct zt_loop *l);

/* events: EPOLLIN/EPOLLOUT. 0 on success, -1 with errno. */
int zt_loop_add_fd(struct zt_loop *l, int fd, uint32_t events, zt_fd_cb cb,
                   void *ud);
int zt_loop_mod_fd(struct zt_loop *l, int fd, uint32_t events);
int zt_loop_del_fd(struct zt_loop *l, int fd);

void zt_timer_init(struct zt_timer *t, zt_timer_cb cb, void *ud);
/* (Re)arms at an absolute deadline; a deadline in the past fires on the
 * next loop iteration. */
void zt_timer_arm(struct zt_loop *l, struct zt_timer *t, uint64_t deadline);
void zt_timer_disarm(struct zt_loop *l, struct zt_timer *t);

/* Called on SIGUSR1. */
void zt_loop_set_status_hook(struct zt_loop *l, void (*fn)(void *), void *ud);
/* fn(ud) on SIGHUP, which never stops the loop (without a hook it is
 * ignored). */
void zt_loop_set_reload_hook(struct zt_loop *l, void (*fn)(void *), void *ud);

/* Runs until zt_loop_stop() or SIGINT/SIGTERM. 0 on a clean stop, -1 on an
 * epoll failure. */
int zt_loop_run(struct zt_loop *l);
void zt_loop_stop(struct zt_loop *l);
/* The signal that stopped the loop, or 0. */
int zt_loop_signal_received(const struct zt_loop *l);

#endif

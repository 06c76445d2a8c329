/* rtnetlink watcher with debounce. See netwatch.h. */
#include "netwatch.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "clock.h"
#include "log.h"

#define NS_PER_MS 1000000ULL

struct zt_netwatch {
  struct zt_loop *loop;
  struct mnl_socket *nl;
  struct zt_timer settle;
  zt_netwatch_cb cb;
  void *ud;
  struct zt_nl_state st;
  struct zt_netchange pending;
};

static void on_settled(struct zt_loop *l, void *ud) {
  struct zt_netwatch *w = ud;
  struct zt_netchange n = w->pending;
  (void)l;
  memset(&w->pending, 0, sizeof(w->pending));
  if (n.what)
    w->cb(w->ud, &n);
}

static void on_readable(struct zt_loop *l, int fd, uint32_t events,
                        void *ud) {
  struct zt_netwatch *w = ud;
  /* Netlink messages are 4-byte aligned; so is the buffer. */
  static uint32_t buf[8192 / sizeof(uint32_t)]; /* MNL_SOCKET_BUFFER_SIZE */
  (void)fd;
  (void)events;
  for (int round = 0; round < 64; round++) {
    ssize_t n = mnl_socket_recvfrom(w->nl, buf, sizeof(buf));
    if (n < 0) {
      if (errno == ENOBUFS) { /* the kernel dropped events for us */
        w->pending.what |= ZT_NET_OVERRUN;
        continue;
      }
      break; /* EAGAIN: all read */
    }
    zt_nl_parse(&w->st, buf, (size_t)n, &w->pending);
  }
  if (w->pending.what && !w->settle.armed)
    zt_timer_arm(l, &w->settle,
                 zt_now_ns() + ZT_NETWATCH_DEBOUNCE_MS * NS_PER_MS);
}

struct zt_netwatch *zt_netwatch_open(struct zt_loop *l, const char *ignore,
                                     zt_netwatch_cb cb, void *ud, char *err,
                                     size_t errlen) {
  struct zt_netwatch *w = calloc(1, sizeof(*w));
  if (!w) {
    snprintf(err, errlen, "netwatch: out of memory");
    return NULL;
  }
  w->loop = l;
  w->cb = cb;
  w->ud = ud;
  w->st.ignore_ifindex = ignore ? (int)if_nametoindex(ignore) : 0;
  zt_timer_init(&w->settle, on_settled, w);
  w->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (!w->nl) {
    snprintf(err, errlen, "netwatch: netlink socket: %s", strerror(errno));
    free(w);
    return NULL;
  }
  unsigned groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
                    RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
  if (mnl_socket_bind(w->nl, groups, MNL_SOCKET_AUTOPID) < 0 ||
      zt_loop_add_fd(l, mnl_socket_get_fd(w->nl), EPOLLIN, on_readable, w) !=
          0) {
    snprintf(err, errlen, "netwatch: cannot watch rtnetlink: %s",
             strerror(errno));
    mnl_socket_close(w->nl);
    free(w);
    return NULL;
  }
  return w;
}

void zt_netwatch_close(struct zt_netwatch *w) {
  if (!w)
    return;
  zt_timer_disarm(w->loop, &w->settle);
  zt_loop_del_fd(w->loop, mnl_socket_get_fd(w->nl));
  mnl_socket_close(w->nl);
  free(w);
}

/* The control socket. See ctlsock.h. */
#include "ctlsock.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "strbuf.h"

struct client {
  int fd; /* -1: free slot */
  struct zt_ctlsock *cs;
  struct zt_timer deadline;
  uint64_t id;   /* distinct for every client this socket accepted */
  bool deferred; /* waiting for zt_ctlsock_reply() */
  char req[ZT_CTLSOCK_REQUEST_MAX];
  size_t req_len;
  char *out;
  size_t out_len, out_off;
};

struct zt_ctlsock {
  struct zt_loop *loop;
  int fd;
  char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  dev_t dev; /* of the file we bound: removed at exit only if still ours */
  ino_t ino;
  zt_ctlsock_handler h;
  void *ud;
  zt_ctlsock_defer defer;
  void *defer_ud;
  uint64_t next_id;
  uint64_t deferred_timeouts;
  struct client clients[ZT_CTLSOCK_MAX_CLIENTS];
};

const char *zt_ctlsock_path(const char *flag, const char *configured,
                            const char *daemon, char *buf, size_t len) {
  const char *p = flag ? flag : configured && configured[0] ? configured : NULL;
  if (p)
    return strcmp(p, "none") == 0 ? NULL : p;
  snprintf(buf, len, "%s/%s.sock", ZT_CTLSOCK_DIR, daemon);
  return buf;
}

static void client_end(struct client *cl) {
  if (cl->fd < 0)
    return;
  zt_timer_disarm(cl->cs->loop, &cl->deadline);
  zt_loop_del_fd(cl->cs->loop, cl->fd);
  close(cl->fd);
  cl->fd = -1;
  cl->deferred = false;
  free(cl->out);
  cl->out = NULL;
}

static void on_deadline(struct zt_loop *l, void *ud) {
  struct client *cl = ud;
  (void)l;
  if (cl->deferred) {
    cl->cs->deferred_timeouts++;
    zt_dbg("control socket: no reply for client %llu within %d ms",
             (unsigned long long)cl->id, ZT_CTLSOCK_DEADLINE_MS);
  }
  client_end(cl);
}

/* The handler's reply, grown until it fits (bounded: a reply that does not
 * fit ZT_CTLSOCK_REPLY_MAX is an error, never a silently cut one). */
struct reply_req {
  struct zt_ctlsock *cs;
  const char *req;
};

static int call_handler(void *ud, char *buf, size_t cap) {
  struct reply_req *rr = ud;
  return rr->cs->h(rr->cs->ud, rr->req, buf, cap);
}

static char *make_reply(struct zt_ctlsock *cs, const char *req, size_t *len) {
  struct reply_req rr = {cs, req};
  bool cut;
  char *buf = zt_strbuf_render(call_handler, &rr, 64 * 1024,
                               ZT_CTLSOCK_REPLY_MAX, len, &cut);
  if (buf && cut) {
    free(buf);
    return NULL;
  }
  return buf;
}

static void client_write(struct client *cl) {
  while (cl->out_off < cl->out_len) {
    ssize_t n = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off,
                     MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return; /* EPOLLOUT brings us back */
    if (n <= 0)
      break;
    cl->out_off += (size_t)n;
  }
  client_end(cl);
}

static void send_reply(struct client *cl) {
  if (!cl->out || zt_loop_mod_fd(cl->cs->loop, cl->fd, EPOLLOUT) != 0) {
    client_end(cl);
    return;
  }
  client_write(cl);
}

static void reply_n(struct client *cl, const char *text, size_t len) {
  cl->out = malloc(len ? len : 1);
  cl->out_len = cl->out ? len : 0;
  cl->out_off = 0;
  if (cl->out)
    memcpy(cl->out, text, len);
  send_reply(cl);
}

static void reply(struct client *cl, const char *text) {
  if (text) {
    reply_n(cl, text, strlen(text));
    return;
  }
  cl->out = make_reply(cl->cs, cl->req, &cl->out_len);
  if (!cl->out) {
    reply(cl, "error: status too large or out of memory\n");
    return;
  }
  send_reply(cl);
}

/* A request for the deferring handler: answered now, or later through
 * zt_ctlsock_reply(). */
static void defer_request(struct client *cl) {
  struct zt_ctlsock *cs = cl->cs;
  char *buf = malloc(ZT_CTLSOCK_DEFER_REPLY_MAX);
  if (!buf) {
    reply(cl, "error: out of memory\n");
    return;
  }
  uint64_t id = cl->id;
  /* Deferred already during the call: a handler that answers at once
   * through zt_ctlsock_reply() finds its client. */
  cl->deferred = true;
  int n = cs->defer(cs->defer_ud, cl->req, id, buf,
                    ZT_CTLSOCK_DEFER_REPLY_MAX);
  /* The slot still ours and not yet answered: an immediate reply. */
  if (n >= 0 && cl->fd >= 0 && cl->id == id && cl->deferred) {
    cl->deferred = false;
    if ((size_t)n >= ZT_CTLSOCK_DEFER_REPLY_MAX)
      reply(cl, "error: reply too large\n");
    else
      reply_n(cl, buf, (size_t)n);
  }
  free(buf);
}

/* A deferred client may only close (or half-close) while it waits: what
 * else it sends is read and dropped. */
static void deferred_input(struct client *cl, uint32_t events) {
  char scratch[256];
  for (;;) {
    ssize_t n = recv(cl->fd, scratch, sizeof(scratch), 0);
    if (n > 0)
      continue;
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    if (n == 0 && !(events & (EPOLLHUP | EPOLLERR))) {
      /* Half-closed (shutdown(SHUT_WR)): it still reads; stop watching
       * input, EPOLLHUP still tells when it goes. */
      if (zt_loop_mod_fd(cl->cs->loop, cl->fd, 0) != 0)
        client_end(cl);
      return;
    }
    client_end(cl); /* gone: a later zt_ctlsock_reply() is a no-op */
    return;
  }
}

static void on_client(struct zt_loop *l, int fd, uint32_t events, void *ud) {
  struct client *cl = ud;
  (void)l;
  (void)fd;
  if (cl->out) {
    client_write(cl);
    return;
  }
  if (cl->deferred) {
    deferred_input(cl, events);
    return;
  }
  if (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLIN)) {
    client_end(cl);
    return;
  }
  for (;;) {
    ssize_t n = recv(cl->fd, cl->req + cl->req_len,
                     sizeof(cl->req) - cl->req_len, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    if (n <= 0) { /* closed (or failed) before a whole line */
      client_end(cl);
      return;
    }
    cl->req_len += (size_t)n;
    char *nl = memchr(cl->req, '\n', cl->req_len);
    if (nl) {
      *nl = 0;
      if (nl > cl->req && nl[-1] == '\r')
        nl[-1] = 0;
      bool known = !strcmp(cl->req, "status") ||
                   !strcmp(cl->req, "status json");
      if (!known && cl->cs->defer)
        defer_request(cl);
      else
        reply(cl, known ? NULL : "error: unknown request (try 'status' or "
                                 "'status json')\n");
      return;
    }
    if (cl->req_len == sizeof(cl->req)) {
      reply(cl, "error: request too long\n");
      return;
    }
  }
}

static void on_accept(struct zt_loop *l, int fd, uint32_t events, void *ud) {
  struct zt_ctlsock *cs = ud;
  (void)events;
  for (;;) {
    int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0)
      return; /* EAGAIN, or a client that went away: nothing to do */
    struct client *cl = NULL;
    for (size_t i = 0; i < ZT_CTLSOCK_MAX_CLIENTS && !cl; i++)
      if (cs->clients[i].fd < 0)
        cl = &cs->clients[i];
    /* Busy: the client is refused (closed), the daemon stays bounded. */
    if (!cl || zt_loop_add_fd(l, cfd, EPOLLIN, on_client, cl) != 0) {
      close(cfd);
      continue;
    }
    cl->fd = cfd;
    cl->id = ++cs->next_id;
    cl->deferred = false;
    cl->req_len = 0;
    cl->out = NULL;
    cl->out_len = cl->out_off = 0;
    zt_timer_arm(l, &cl->deadline,
                 zt_now_ns() + ZT_CTLSOCK_DEADLINE_MS * 1000000ULL);
  }
}

/* A socket file nobody answers on is a crashed daemon's: remove it. A live
 * one, or a file that is not a socket, stays and is an error. */
static int clear_stale(const char *path, const struct sockaddr_un *sun,
                       char *err, size_t errlen) {
  struct stat st;
  if (lstat(path, &st) != 0)
    return errno == ENOENT ? 0 : (snprintf(err, errlen, "%s: %s", path,
                                           strerror(errno)), -1);
  if (!S_ISSOCK(st.st_mode)) {
    snprintf(err, errlen, "%s exists and is not a socket", path);
    return -1;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(err, errlen, "socket: %s", strerror(errno));
    return -1;
  }
  int rv = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
  int e = errno;
  close(fd);
  if (rv == 0) {
    snprintf(err, errlen, "%s: another daemon is answering there", path);
    return -1;
  }
  if (e != ECONNREFUSED) {
    snprintf(err, errlen, "%s: %s", path, strerror(e));
    return -1;
  }
  zt_info("control socket %s: removing a stale socket file", path);
  if (unlink(path) != 0 && errno != ENOENT) {
    snprintf(err, errlen, "cannot remove stale %s: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* The directory of path, created 0755 if missing (one level: /run/ztna). */
static int make_dir(const char *path, char *err, size_t errlen) {
  char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
  snprintf(dir, sizeof(dir), "%s", path);
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir)
    return 0;
  *slash = 0;
  if (mkdir(dir, 0755) == 0)
    return chmod(dir, 0755); /* exact, whatever the umask */
  if (errno != EEXIST) {
    snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    return -1;
  }
  return 0;
}

static int bind_socket(struct zt_ctlsock *cs, const struct sockaddr_un *sun,
                       char *err, size_t errlen) {
  cs->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (cs->fd < 0) {
    snprintf(err, errlen, "socket: %s", strerror(errno));
    return -1;
  }
  /* The umask closes the window between bind() and chmod() in which
   * another user could connect; chmod() makes the mode exact whatever the
   * umask did. */
  mode_t old = umask(0177);
  int rv = bind(cs->fd, (const struct sockaddr *)sun, sizeof(*sun));
  int e = errno;
  umask(old);
  if (rv != 0) {
    snprintf(err, errlen, "cannot bind %s: %s", cs->path, strerror(e));
    return -1;
  }
  struct stat st;
  if (chmod(cs->path, 0600) != 0 || stat(cs->path, &st) != 0) {
    snprintf(err, errlen, "%s: %s", cs->path, strerror(errno));
    unlink(cs->path);
    return -1;
  }
  cs->dev = st.st_dev;
  cs->ino = st.st_ino;
  if (listen(cs->fd, ZT_CTLSOCK_MAX_CLIENTS) != 0) {
    snprintf(err, errlen, "listen %s: %s", cs->path, strerror(errno));
    unlink(cs->path);
    return -1;
  }
  return 0;
}

struct zt_ctlsock *zt_ctlsock_open(struct zt_loop *l, const char *path,
                                   zt_ctlsock_handler h, void *ud, char *err,
                                   size_t errlen) {
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  if (!path[0] || strlen(path) >= sizeof(sun.sun_path)) {
    snprintf(err, errlen, "control socket path '%s': empty or longer than "
                          "%zu bytes", path, sizeof(sun.sun_path) - 1);
    return NULL;
  }
  memcpy(sun.sun_path, path, strlen(path) + 1);
  struct zt_ctlsock *cs = calloc(1, sizeof(*cs));
  if (!cs) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  cs->loop = l;
  cs->fd = -1;
  cs->h = h;
  cs->ud = ud;
  memcpy(cs->path, sun.sun_path, sizeof(cs->path));
  for (size_t i = 0; i < ZT_CTLSOCK_MAX_CLIENTS; i++) {
    cs->clients[i].fd = -1;
    cs->clients[i].cs = cs;
    zt_timer_init(&cs->clients[i].deadline, on_deadline, &cs->clients[i]);
  }
  if (make_dir(path, err, errlen) != 0 ||
      clear_stale(path, &sun, err, errlen) != 0 ||
      bind_socket(cs, &sun, err, errlen) != 0)
    goto fail;
  if (zt_loop_add_fd(l, cs->fd, EPOLLIN, on_accept, cs) != 0) {
    snprintf(err, errlen, "epoll: %s", strerror(errno));
    unlink(cs->path);
    goto fail;
  }
  return cs;
fail:
  if (cs->fd >= 0)
    close(cs->fd);
  free(cs);
  return NULL;
}

void zt_ctlsock_set_defer(struct zt_ctlsock *cs, zt_ctlsock_defer h,
                          void *ud) {
  cs->defer = h;
  cs->defer_ud = ud;
}

int zt_ctlsock_reply(struct zt_ctlsock *cs, uint64_t client_id,
                     const char *text, size_t len) {
  if (!cs || !client_id)
    return -1;
  for (size_t i = 0; i < ZT_CTLSOCK_MAX_CLIENTS; i++) {
    struct client *cl = &cs->clients[i];
    if (cl->fd < 0 || cl->id != client_id || !cl->deferred)
      continue;
    cl->deferred = false;
    if (len > ZT_CTLSOCK_REPLY_MAX)
      reply(cl, "error: reply too large\n");
    else
      reply_n(cl, text, len);
    return 0;
  }
  return -1;
}

uint64_t zt_ctlsock_deferred_timeouts(const struct zt_ctlsock *cs) {
  return cs ? cs->deferred_timeouts : 0;
}

size_t zt_ctlsock_deferred_pending(const struct zt_ctlsock *cs) {
  size_t n = 0;
  for (size_t i = 0; cs && i < ZT_CTLSOCK_MAX_CLIENTS; i++)
    n += cs->clients[i].fd >= 0 && cs->clients[i].deferred;
  return n;
}

void zt_ctlsock_close(struct zt_ctlsock *cs) {
  struct stat st;
  if (!cs)
    return;
  for (size_t i = 0; i < ZT_CTLSOCK_MAX_CLIENTS; i++)
    client_end(&cs->clients[i]);
  zt_loop_del_fd(cs->loop, cs->fd);
  close(cs->fd);
  /* Only our own file: a newer daemon may have replaced it meanwhile. */
  if (stat(cs->path, &st) == 0 && st.st_dev == cs->dev && st.st_ino == cs->ino)
    unlink(cs->path);
  free(cs);
}

/* TARGET of "ping TARGET": 1 to 63 printable characters, no spaces. */
bool zt_ctlsock_ping_target_ok(const char *t) {
  size_t n = strlen(t);
  if (n < 1 || n > 63)
    return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)t[i] <= ' ' || (unsigned char)t[i] >= 0x7f)
      return false;
  return true;
}

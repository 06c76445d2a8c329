/* The shared daemon driver. See driver.h. */
#include "driver.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "audit.h"
#include "auditfile.h"
#include "clock.h"
#include "crlreload.h"
#include "countertab.h"
#include "ctlsock.h"
#include "heapstat.h"
#include "localaddr.h"
#include "jsonw.h"
#include "log.h"
#include "strbuf.h"
#include "tun.h"
#include "tunoffload.h"
#include "udp.h"
#include "wire.h"

#define TUN_BATCH 64

static void rearm(struct zt_driver *d);

static void driver_udp_send(void *ud, const struct sockaddr *to,
                            socklen_t tolen, const uint8_t *data, size_t len) {
  struct zt_driver *d = ud;
  if (d->batching && d->batch)
    d->udp_send_errors += (uint64_t)zt_udp_batch_add(d->batch, to, tolen,
                                                     data, len);
  else if (zt_udp_send(d->udp_fd, to, tolen, data, len) != 0)
    d->udp_send_errors++;
}

static void begin(struct zt_driver *d) {
  d->batching = d->batch != NULL || d->tunoff != NULL;
}

/* Everything the callback produced goes out, then the timer is re-armed. */
static void end(struct zt_driver *d) {
  if (d->tunoff) /* the TUN writes of the batch, merged (gro.h) */
    d->tun_write_errors += (uint64_t)zt_tunoff_flush(d->tunoff, d->tun_fd);
  if (d->batch)
    d->udp_send_errors += (uint64_t)zt_udp_batch_flush(d->batch);
  d->batching = false;
  rearm(d);
}

static void driver_tun_write(void *ud, const uint8_t *pkt, size_t len) {
  struct zt_driver *d = ud;
  if (d->tun_fd >= 0 && d->tunoff && d->batching)
    d->tun_write_errors += (uint64_t)zt_tunoff_queue(d->tunoff, d->tun_fd,
                                                     pkt, len);
  else if (d->tun_fd < 0 ||
           (d->tun_offload ? zt_tunoff_write_now(d->tun_fd, pkt, len)
                           : zt_tun_write(d->tun_fd, pkt, len)) != 0)
    d->tun_write_errors++;
}

/* The result of a `ztna ping` probe: the deferred reply to the control
 * socket client whose id is the cookie (gone by now: dropped). */
static void driver_ping_result(void *ud, uint64_t cookie, const char *json) {
  struct zt_driver *d = ud;
  size_t n = strlen(json);
  char *line = malloc(n + 2);
  if (!line)
    return;
  memcpy(line, json, n);
  line[n] = '\n';
  line[n + 1] = 0;
  if (zt_ctlsock_reply(d->ctl, cookie, line, n + 1) != 0)
    zt_dbg("ping result for control client %llu: it is gone",
           (unsigned long long)cookie);
  free(line);
}

/* Our interfaces' addresses with our socket's port: where a peer on one
 * of our networks can reach the socket directly. */
static size_t driver_local_addrs(void *ud, struct sockaddr_storage *out,
                                 size_t max) {
  struct zt_driver *d = ud;
  struct sockaddr_storage self;
  socklen_t len;
  if (zt_udp_local(d->udp_fd, &self, &len) != 0 || self.ss_family != AF_INET)
    return 0;
  const struct sockaddr_in *sin = (const struct sockaddr_in *)&self;
  if (sin->sin_addr.s_addr != htonl(INADDR_ANY)) { /* bound to one address */
    out[0] = self;
    return max ? 1 : 0;
  }
  return zt_local_addrs(d->tun_name, sin->sin_port, out, max);
}

/* Where packets to `to` leave from now, with our socket's port. */
static int driver_source_addr(void *ud, const struct sockaddr *to,
                              socklen_t tolen, struct sockaddr_storage *out,
                              socklen_t *outlen) {
  struct zt_driver *d = ud;
  struct sockaddr_storage self;
  socklen_t len;
  if (zt_udp_local(d->udp_fd, &self, &len) != 0)
    return -1;
  uint16_t port = self.ss_family == AF_INET6
                      ? ((struct sockaddr_in6 *)&self)->sin6_port
                      : ((struct sockaddr_in *)&self)->sin_port;
  return zt_route_source(to, tolen, port, out, outlen);
}

static int64_t driver_wall_clock(void *ud) {
  (void)ud;
  return (int64_t)time(NULL);
}

void zt_driver_io(struct zt_driver *d, struct zt_io *io) {
  io->ud = d;
  io->udp_send = driver_udp_send;
  io->tun_write = driver_tun_write;
  io->ping_result = driver_ping_result;
  io->local_addrs = driver_local_addrs;
  io->source_addr = driver_source_addr;
  io->wall_clock = driver_wall_clock;
}

void zt_driver_call(struct zt_driver *d,
                    void (*fn)(void *node, const void *arg, uint64_t now),
                    const void *arg) {
  begin(d);
  fn(d->node, arg, zt_now_ns());
  end(d);
}

static void rearm(struct zt_driver *d) {
  uint64_t t = d->expiry(d->node);
  if (t == UINT64_MAX)
    zt_timer_disarm(d->loop, &d->timer);
  else
    zt_timer_arm(d->loop, &d->timer, t);
}

static void on_timer(struct zt_loop *l, void *ud) {
  struct zt_driver *d = ud;
  (void)l;
  begin(d);
  d->handle_expiry(d->node, zt_now_ns());
  end(d);
}

/* Receive buffers: with UDP GRO (zt_udp_enable_gro) one message may hold
 * up to 64 KiB of datagrams, so fewer, larger buffers. */
#define GRO_BATCH 16

static void on_udp(struct zt_loop *l, int fd, uint32_t events, void *ud) {
  struct zt_driver *d = ud;
  uint8_t (*store)[ZT_UDP_GRO_MAX] = d->rx_store;
  uint8_t *bufs[GRO_BATCH];
  size_t lens[GRO_BATCH], segs[GRO_BATCH];
  struct sockaddr_storage peers[GRO_BATCH];
  socklen_t peerlens[GRO_BATCH];
  (void)l;
  (void)events;

  begin(d);
  for (int i = 0; i < GRO_BATCH; i++)
    bufs[i] = store[i];
  /* Bounded: a flood cannot starve the TUN device or the timer. */
  for (int round = 0; round < 8; round++) {
    int n = zt_udp_recv_gro(fd, bufs, sizeof(store[0]), lens, segs, peers,
                            peerlens, GRO_BATCH);
    if (n <= 0)
      break;
    uint64_t now = zt_now_ns();
    for (int i = 0; i < n; i++) {
      size_t off = 0, len;
      if (segs[i] < lens[i]) {
        d->gro_messages++;
        d->gro_segments += (lens[i] + segs[i] - 1) / segs[i];
      }
      while ((len = zt_udp_next_segment(lens[i], segs[i], &off))) {
        /* Bigger than any datagram of ours: skipped, as the receive
         * buffer's size did before GRO made it 64 KiB. */
        if (len > ZT_OUTER_UDP_PAYLOAD + 64)
          continue;
        d->feed_udp(d->node, (struct sockaddr *)&peers[i], peerlens[i],
                    bufs[i] + off - len, len, now);
      }
    }
    if (n < GRO_BATCH)
      break;
  }
  end(d);
}

static void feed_tun_one(void *ud, const uint8_t *pkt, size_t len) {
  struct zt_driver *d = ud;
  d->feed_tun(d->node, pkt, len, zt_now_ns());
}

static void on_tun(struct zt_loop *l, int fd, uint32_t events, void *ud) {
  struct zt_driver *d = ud;
  static uint8_t pkt[65536 + ZT_VNET_HDR_LEN];
  (void)l;
  (void)events;
  begin(d);
  /* Bounded in packets, not reads: with offloads one read can be a 64 KB
   * super segment of some fifty packets (tso.h). */
  for (int fed = 0; fed < TUN_BATCH;) {
    ssize_t n = zt_tun_read(fd, pkt, sizeof(pkt));
    if (n <= 0)
      break;
    if (!d->tunoff) {
      feed_tun_one(d, pkt, (size_t)n);
      fed++;
      continue;
    }
    int k = zt_tso_read(pkt, (size_t)n, feed_tun_one, d, &d->tunoff->tso);
    if (k < 0)
      zt_dbg("TUN read of %zd bytes dropped: %s", n, zt_tso_strerror(k));
    fed += k > 0 ? k : 1;
  }
  end(d);
}

void zt_driver_counters(struct zt_driver *d, struct zt_driver_counters *c) {
  if (d->batch) {
    d->gso_messages = d->batch->gso_messages;
    d->gso_segments = d->batch->gso_segments;
  }
  c->udp_send_errors = d->udp_send_errors;
  c->tun_write_errors = d->tun_write_errors;
  c->gso_messages = d->gso_messages;
  c->gso_segments = d->gso_segments;
  c->gro_messages = d->gro_messages;
  c->gro_segments = d->gro_segments;
  if (d->tunoff) {
    c->tun_gso_reads = d->tunoff->tso.gso_reads;
    c->tun_gso_segments = d->tunoff->tso.segments;
    c->tun_bad_reads = d->tunoff->tso.bad;
    c->tun_gro_writes = d->tunoff->gros.merged;
    c->tun_gro_segments = d->tunoff->gros.segments;
  }
}

/* The text status: the node's, then the driver's and audit log's lines. */
static int driver_status_text(void *ud, char *buf, size_t len) {
  struct zt_driver *d = ud;
  struct zt_driver_counters dc;
  struct zt_strbuf sb;
  char audit[128];
  zt_strbuf_init(&sb, buf, len);
  if (d->status) {
    int n = d->status(d->node, buf, len);
    sb.off = n < 0 ? 0 : (size_t)n;
  }
  zt_driver_counters(d, &dc);
  const void *srcs[ZT_DAEMON_NSRC] = {&dc, zt_audit_get_stats()};
  zt_counters_text(&zt_daemon_counters, srcs, &sb);
  if (zt_audit_enabled())
    zt_strbuf_printf(&sb, "%s\n", zt_audit_status(audit, sizeof(audit)));
  zt_heapstat_text(&sb);
  return (int)sb.off;
}

/* As big as it takes, up to 16 MiB (thousands of peers); past that the
 * log says it was cut rather than stopping silently. */
#define STATUS_LOG_MAX (16u << 20)

void zt_driver_log_status(struct zt_driver *d) {
  size_t len;
  bool cut;
  if (!d->status)
    return;
  char *buf = zt_strbuf_render(driver_status_text, d, 16 * 1024,
                               STATUS_LOG_MAX, &len, &cut);
  /* SIGUSR1 is the operator asking: shown even under log_level warn. */
  enum zt_log_level was = zt_log_get_level();
  if (was < ZT_LOG_INFO)
    zt_log_set_level(ZT_LOG_INFO);
  if (!buf) {
    zt_info("status: not available (out of memory)");
  } else {
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
      zt_info("status: %s", line);
    if (cut)
      zt_info("status: (cut at %u bytes; `ztna status --json` has it all)",
              STATUS_LOG_MAX);
  }
  zt_log_set_level(was);
  free(buf);
}

static void status_hook(void *ud) { zt_driver_log_status(ud); }

/* The control socket's requests: the text SIGUSR1 logs, or the JSON. */
static int ctl_handler(void *ud, const char *req, char *buf, size_t len) {
  struct zt_driver *d = ud;
  if (!strcmp(req, "status json") && d->status_json) {
    int n = d->status_json(d->node, buf, len);
    if (n >= 0 && (size_t)n + 1 < len) { /* a newline ends the reply */
      buf[n] = '\n';
      buf[n + 1] = 0;
    }
    return n < 0 ? n : n + 1;
  }
  return driver_status_text(d, buf, len);
}

/* {"target":..., "error":...} (target NULL: left out), a newline ends
 * it. */
static int ping_error(char *buf, size_t len, const char *target,
                      const char *error) {
  struct zt_strbuf sb;
  struct zt_jsonw w;
  zt_strbuf_init(&sb, buf, len);
  zt_jsonw_init(&w, &sb);
  zt_jsonw_begin_object(&w, NULL);
  if (target)
    zt_jsonw_str(&w, "target", target);
  zt_jsonw_str(&w, "error", error);
  zt_jsonw_end_object(&w);
  zt_strbuf_printf(&sb, "\n");
  return (int)sb.off;
}


/* The node's own certificate, key and CA read again (certificate
 * rotation, tls.h zt_tls_creds_reload): new handshakes use them, live
 * connections keep theirs; a broken file keeps the old ones. */
static int reload_creds(struct zt_driver *d, char *msg, size_t len) {
  int rv = zt_tls_creds_reload(d->creds, d->tls->ca, d->tls->cert,
                               d->tls->key, (uint64_t)time(NULL), msg, len);
  zt_audit_reload("certificate", rv == 0, msg);
  return rv;
}

/* What the daemon reloads besides its certificate: its own reload (what
 * it sends goes out at once), else its CRL read again (agent, connector),
 * or a word that nothing else is re-read (then 1). */
static int reload_rest(struct zt_driver *d, char *msg, size_t len) {
  if (!d->reload && d->creds && d->tls) {
    if (!d->tls->crl[0])
      return 1;
    int rv = zt_crl_reload(d->creds, d->tls, msg, len);
    zt_audit_reload("crl", rv == 0, msg);
    return rv;
  }
  if (!d->reload) {
    snprintf(msg, len, "nothing to reload in this daemon (configuration "
                       "changes take a restart)");
    return -1;
  }
  begin(d);
  int rv = d->reload(d->node, zt_now_ns(), msg, len);
  end(d);
  zt_audit_reload("configuration and policy", rv == 0, msg);
  return rv;
}

/* SIGHUP and "reload": the certificate first (a CRL is checked against the
 * CA just read), then the rest; one line says what happened to each. */
static int do_reload(struct zt_driver *d, char *msg, size_t len) {
  char cert[700] = "", rest[700] = "";
  int crv = 0;
  if (d->hold)
    d->hold(d->node, true);
  if (d->creds && d->tls)
    crv = reload_creds(d, cert, sizeof(cert));
  int rrv = reload_rest(d, rest, sizeof(rest));
  if (d->hold)
    d->hold(d->node, false);
  if (rrv == 1)
    snprintf(msg, len, "%s", cert);
  else
    snprintf(msg, len, "%s%s%s", cert, cert[0] ? "; " : "", rest);
  return crv != 0 || rrv < 0 ? -1 : 0;
}

/* Requests other than status: "ping TARGET" starts a probe whose result
 * (driver_ping_result) is the reply; the client's id is the cookie. */
static int ctl_defer(void *ud, const char *req, uint64_t id, char *buf,
                     size_t len) {
  struct zt_driver *d = ud;
  char err[256];
  if (!strcmp(req, "reload")) {
    char msg[1500];
    int rv = do_reload(d, msg, sizeof(msg));
    zt_info("reload (control socket): %s", msg);
    return snprintf(buf, len, "%s: %s\n", rv == 0 ? "ok" : "error", msg);
  }
  if (strcmp(req, "ping") && strncmp(req, "ping ", 5))
    return snprintf(buf, len, "error: unknown request (try 'status', "
                              "'status json', 'reload' or 'ping TARGET')\n");
  if (!d->ping)
    return ping_error(buf, len, NULL, "ping is only supported by ztna-agent");
  const char *target = req[4] ? req + 5 : "";
  if (!zt_ctlsock_ping_target_ok(target))
    return ping_error(buf, len, NULL, "usage: ping TARGET (a service name or "
                                      "address: 1 to 63 printable "
                                      "characters, no spaces)");
  err[0] = 0;
  begin(d);
  int rv = d->ping(d->node, target, id, zt_now_ns(), err, sizeof(err));
  end(d); /* the probe went out; the node's timer is re-armed */
  if (rv != 0)
    return ping_error(buf, len, target, err[0] ? err : "ping failed");
  return ZT_CTLSOCK_DEFERRED;
}

int zt_driver_open_ctl(struct zt_driver *d) {
  char err[256];
  if (!d->ctl_path)
    return 0;
  d->ctl = zt_ctlsock_open(d->loop, d->ctl_path, ctl_handler, d, err,
                           sizeof(err));
  if (d->ctl) {
    zt_ctlsock_set_defer(d->ctl, ctl_defer, d);
    zt_info("control socket %s", d->ctl_path);
    return 0;
  }
  if (d->ctl_required) {
    zt_err("control socket: %s", err);
    return -1;
  }
  zt_warn("control socket: %s; running without one (`ztna status` will "
          "not reach this daemon)", err);
  return 0;
}

/* SIGHUP, for logrotate: the audit log file is opened again at its path. */
void zt_driver_reopen_audit(void) {
  char err[512];
  if (!zt_audit_enabled())
    return;
  if (zt_auditfile_reopen(err, sizeof(err)) != 0) {
    zt_warn("%s; still writing to the old file", err);
    zt_audit_reload("audit log", false, "not reopened");
  } else {
    zt_audit_reload("audit log", true, "reopened");
  }
}

/* SIGHUP: the audit log reopened, then what this daemon can reload (the
 * Intermediate: configuration and policy, core/policyfile.c); a daemon
 * with nothing to reload says so and carries on instead of dying. */
static void reload_hook(void *ud) {
  struct zt_driver *d = ud;
  char msg[1500];
  if (d->hold)
    d->hold(d->node, true);
  zt_driver_reopen_audit();
  if (d->hold)
    d->hold(d->node, false);
  if (do_reload(ud, msg, sizeof(msg)) == 0)
    zt_info("SIGHUP: %s", msg);
  else
    zt_warn("SIGHUP: %s; still running", msg);
}

int zt_driver_run(struct zt_driver *d) {
  zt_timer_init(&d->timer, on_timer, d);
  /* Without the batch (out of memory) every send is a sendto(): slower,
   * still correct. */
  if ((d->batch = calloc(1, sizeof(*d->batch))))
    d->batch->fd = d->udp_fd;
  /* Each driver its own (the Intermediate's workers run one per thread). */
  if (!(d->rx_store = malloc(GRO_BATCH * sizeof(*d->rx_store)))) {
    zt_err("out of memory for the receive buffers");
    return -1;
  }
  /* Without it (an old kernel) every datagram comes singly: still right. */
  if (!zt_udp_enable_gro(d->udp_fd))
    zt_dbg("udp: UDP GRO not available (%s)", strerror(errno));
  if (zt_loop_add_fd(d->loop, d->udp_fd, EPOLLIN, on_udp, d) != 0) {
    zt_err("epoll: cannot watch the UDP socket: %s", strerror(errno));
    return -1;
  }
  /* Offloads: every TUN read and write has a virtio-net header, so
   * without the queue's memory the device cannot be used. */
  if (d->tun_offload && !(d->tunoff = zt_tunoff_new())) {
    zt_err("out of memory for the TUN offload queue");
    return -1;
  }
  if (d->tun_fd >= 0 && d->feed_tun &&
      zt_loop_add_fd(d->loop, d->tun_fd, EPOLLIN, on_tun, d) != 0) {
    zt_err("epoll: cannot watch the TUN device: %s", strerror(errno));
    return -1;
  }
  if (zt_driver_open_ctl(d) != 0 || zt_driver_open_metrics(d) != 0)
    return -1;
  rearm(d);
  zt_loop_set_status_hook(d->loop, status_hook, d);
  zt_loop_set_reload_hook(d->loop, reload_hook, d);
  int rv = zt_loop_run(d->loop);
  zt_ctlsock_close(d->ctl);
  d->ctl = NULL;
  zt_driver_close_metrics(d);
  if (d->batch) {
    d->gso_messages = d->batch->gso_messages;
    d->gso_segments = d->batch->gso_segments;
  }
  free(d->batch);
  d->batch = NULL;
  free(d->rx_store);
  d->rx_store = NULL;
  if (d->status) { /* not a worker thread's driver */
    zt_info("stopping (signal %d)", zt_loop_signal_received(d->loop));
    zt_driver_log_status(d);
  }
  zt_tunoff_free(d->tunoff); /* after the status: its counters go too */
  d->tunoff = NULL;
  return rv;
}

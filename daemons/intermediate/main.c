/*
 * ztna-intermediate: the public rendezvous. Terminates agents' and
 * connectors' QUIC connections, applies policy and relays opaque
 * end-to-end traffic. All logic lives in core/intermediate.c; this file
 * loads configuration, opens the socket and runs the driver.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "auditfile.h"
#include "ccalgo.h"
#include "clock.h"
#include "config.h"
#include "dashboard.h"
#include "daemon.h"
#include "driver.h"
#include "file.h"
#include "intermediate.h"
#include "log.h"
#include "netaddr.h"
#include "pagepool.h"
#include "quicmem.h"
#include "checkconfig.h"
#include "policyfile.h"
#include "statefile.h"
#include "stun.h"
#include "svcstate.h"
#include "reuseport.h"
#include "udp.h"
#include "workers.h"

static const char usage[] =
    "usage: ztna-intermediate [options]\n"
    "  -c, --config FILE      JSON configuration (default "
    "/etc/ztna/intermediate.json)\n"
    "      --listen ADDR:PORT UDP address to listen on (default 0.0.0.0:4433)\n"
    "      --ca FILE          deployment CA certificate\n"
    "      --cert FILE        this Intermediate's certificate\n"
    "      --key FILE         its private key\n"
    "      --log-level LEVEL  error, warn, info (default) or debug\n"
    "      --control-socket PATH /run/ztna/intermediate.sock (default) or none\n"
    "      --check-config FILE  validate FILE and its policy, then exit\n"
    "                         (0 valid, 1 not; warnings on stderr)\n"
    "  -v, --verbose          same as --log-level debug\n"
    "  -h, --help             this text\n";

static void feed_udp(void *n, const struct sockaddr *from, socklen_t fromlen,
                     const uint8_t *pkt, size_t len, uint64_t now) {
  zt_intermediate_feed_udp(n, from, fromlen, pkt, len, now);
}
static uint64_t expiry(void *n) { return zt_intermediate_expiry(n); }
static void hold(void *n, bool on) { zt_intermediate_hold(n, on); }
static void handle_expiry(void *n, uint64_t now) {
  zt_intermediate_handle_expiry(n, now);
}
/* /metrics (platform/metricsd.c). /readyz needs no callback: the UDP
 * socket is bound before the loop serves HTTP, so it is listening. */
static int metrics(void *n, char *buf, size_t len) {
  return zt_intermediate_metrics(n, buf, len);
}

static int status_json(void *n, char *buf, size_t len);
static uint64_t relay_bytes(void *n) {
  return zt_intermediate_get_stats(n)->relay_bytes;
}

/* The admin dashboard (docs/dashboard.md) when dashboard_listen is set;
 * 0, or -1 when it cannot start (the daemon then stops: the operator
 * asked for it). */
static int open_dashboard(struct zt_loop *loop, struct zt_intermediate *im,
                          const struct zt_intermediate_config *c,
                          const struct zt_tls_creds *creds,
                          struct zt_dashboard **out) {
  char err[512], addr[64];
  const struct zt_dashboard_source src = {im, status_json, relay_bytes};
  *out = NULL;
  if (!c->dashboard_listen_len)
    return 0;
  const struct sockaddr *sa = (const struct sockaddr *)&c->dashboard_listen;
  zt_netaddr_str(sa, addr, sizeof(addr));
  bool tls = c->dashboard_tls > 0;
  *out = zt_dashboard_open(loop, sa, c->dashboard_listen_len,
                           c->dashboard_token_file, tls ? creds : NULL, &src,
                           err, sizeof(err));
  if (!*out) {
    zt_err("dashboard_listen %s: %s", addr, err);
    return -1;
  }
  zt_info("dashboard on %s://%s/ (%s)", tls ? "https" : "http", addr,
          tls ? (c->dashboard_token_file[0] ? "admin certificate or token"
                                            : "admin certificate")
          : c->dashboard_token_file[0] ? "token required"
                                       : "no token");
  return 0;
}

static int status_json(void *n, char *buf, size_t len) {
  return zt_intermediate_status_json(n, buf, len);
}
static int status(void *n, char *buf, size_t len) {
  return zt_intermediate_status(n, buf, len);
}

/* The second STUN port: its own socket beside the driver's, answering
 * Binding requests only (zt_intermediate_feed_stun_port), from that port:
 * a client compares what the two ports see of it. */
static void on_stun(struct zt_loop *l, int fd, uint32_t events, void *ud) {
  static uint8_t store[8][ZT_OUTER_UDP_PAYLOAD + 64];
  uint8_t *bufs[8], out[ZT_STUN_RESPONSE_MAX];
  size_t lens[8];
  struct sockaddr_storage peers[8];
  socklen_t peerlens[8];
  (void)l;
  (void)events;
  for (int i = 0; i < 8; i++)
    bufs[i] = store[i];
  /* Bounded like the main socket's reads: a flood here cannot starve it. */
  for (int round = 0; round < 8; round++) {
    int n = zt_udp_recv_batch(fd, bufs, sizeof(store[0]), lens, peers,
                              peerlens, 8);
    uint64_t now = zt_now_ns();
    for (int i = 0; i < n; i++) {
      size_t m = zt_intermediate_feed_stun_port(
          ud, (struct sockaddr *)&peers[i], bufs[i], lens[i], now, out,
          sizeof(out));
      if (m)
        zt_udp_send(fd, (struct sockaddr *)&peers[i], peerlens[i], out, m);
    }
    if (n < 8)
      break;
  }
}

/* The STUN socket: -1 when off, or when the default port (listen + 1)
 * cannot be had (a warning: netcheck then reports "unknown"); -2 when a
 * configured one cannot. */
static int open_stun(const struct zt_intermediate_config *cfg) {
  struct sockaddr_storage sa = cfg->listen;
  char err[512];
  in_port_t *port = sa.ss_family == AF_INET6
                        ? &((struct sockaddr_in6 *)&sa)->sin6_port
                        : &((struct sockaddr_in *)&sa)->sin_port;
  unsigned p = cfg->stun_port >= 0 ? (unsigned)cfg->stun_port
                                   : ntohs(*port) + 1u;
  if (p == 0 || p > 65535)
    return -1;
  *port = htons((uint16_t)p);
  int fd = zt_udp_open((struct sockaddr *)&sa, cfg->listen_len, err,
                       sizeof(err));
  if (fd < 0) {
    if (cfg->stun_port > 0) {
      zt_err("stun_port: %s", err);
      return -2;
    }
    zt_warn("no STUN port (listen port + 1): %s", err);
    return -1;
  }
  zt_info("stun on udp port %u", p);
  return fd;
}

/* Agent address bindings: read at start, replaced atomically on change. */
static char state_path[4200];

static void save_state(void *ud, const char *text, size_t len) {
  char err[512];
  (void)ud;
  if (zt_state_write(state_path, text, len, err, sizeof(err)) != 0)
    zt_err("cannot save agent address bindings: %s", err);
}

static int load_state(struct zt_intermediate *im, const char *dir) {
  char err[512];
  size_t len;
  if (zt_state_dir_ensure(dir, err, sizeof(err)) != 0) {
    zt_err("state_dir: %s", err);
    return -1;
  }
  snprintf(state_path, sizeof(state_path), "%s/agent-addresses", dir);
  if (access(state_path, F_OK) != 0)
    return 0; /* first start */
  char *text = zt_file_read(state_path, 16 << 20, &len, err, sizeof(err));
  if (!text) {
    zt_err("%s", err);
    return -1;
  }
  int rv = zt_intermediate_load_state(im, text, len, err, sizeof(err));
  if (rv != 0)
    zt_err("%s: %s", state_path, err);
  free(text);
  return rv;
}

static struct zt_intermediate_config cfg;
static struct zt_dashboard *dash;

static void log_note(void *ud, const char *line) {
  (void)ud;
  zt_info("%s", line);
}

/* SIGHUP and `ztna reload`: configuration and policy (checkconfig.c,
 * core/policyfile.c), then the CRL named at start, which also closes the
 * live connections it now revokes. A CRL that does not load keeps the
 * previous one. */
static int reload(void *node, uint64_t now, char *msg, size_t len) {
  int rv = zt_im_reload(node, now, msg, len);
  if (cfg.tls.crl[0]) {
    struct zt_crl *crl = zt_daemon_load_crl(&cfg.tls);
    if (crl)
      zt_intermediate_reload_crl(node, crl, now);
    else
      zt_err("reload: keeping the previous crl");
  }
  /* The dashboard's token; its HTTPS certificate follows the creds. */
  if (cfg.dashboard_token_file[0] && dash) {
    char why[600];
    if (zt_dashboard_reload(dash, why, sizeof(why)) != 0)
      zt_err("reload: %s", why);
    else
      zt_info("reload: %s", why);
  }
  return rv;
}

int main(int argc, char **argv) {
  struct zt_daemon_args args;
  char err[512], addr[64];
  const char *path;

  struct zt_policy *policy;

  zt_daemon_parse_args(argc, argv, usage, &args);
  if (args.check_config)
    return zt_im_check_config(args.check_config);
  path = zt_daemon_config_path(&args, "/etc/ztna/intermediate.json");
  if (zt_im_load(path, &cfg, &policy, err, sizeof(err)) != 0) {
    fprintf(stderr, "ztna-intermediate: %s\n", err);
    return 1;
  }
  if (zt_daemon_log_level(args.log_level, cfg.log_level) != 0)
    return 2;
  zt_cc_set_default(cfg.congestion_control); /* before any connection */
  /* ngtcp2's large blocks in pages the kernel backs only where written
   * (core/quicmem.h): a third less memory per idle connection. */
  const struct zq_page_source *pages =
      zt_pagepool_init((size_t)16 << 30, 16, err, sizeof(err));
  if (pages)
    zq_mem_set_page_source(pages);
  else
    zt_warn("%s: ngtcp2's blocks come from malloc", err);
  if (zt_daemon_audit_log(cfg.audit_log) != 0)
    return 1;
  if (args.listen && zt_netaddr_parse(args.listen, ZT_DEFAULT_PORT, &cfg.listen,
                                      &cfg.listen_len) != 0) {
    fprintf(stderr, "ztna-intermediate: --listen: bad address '%s'\n",
            args.listen);
    return 2;
  }
  if (!path)
    zt_warn("no configuration file: no services, every session is denied");
  /* Service addresses from service_pool: bound to names for good, so the
   * bindings on disk come first. A file we cannot read stops the start
   * rather than moving services' addresses under their agents. */
  if (zt_im_svcstate_open(&cfg, true, err, sizeof(err)) != 0 ||
      zt_im_assign(path, policy, zt_im_svcstate(), log_note, NULL, err,
                   sizeof(err)) != 0) {
    zt_err("%s", err);
    return 1;
  }
  zt_im_svcstate_save();

  struct zt_tls_creds *creds = zt_daemon_load_creds(&args, &cfg.tls, ZT_ROLE_INTERMEDIATE);
  if (!creds)
    return 1;
  struct zt_driver d = {.tun_fd = -1};
  struct zt_io io = {0};
  /* One socket per worker, the kernel steering each packet to its owner
   * (platform/reuseport.c); worker 0's is the driver's. */
  int fds[ZT_IM_MAX_WORKERS];
  if (zt_udp_open_group((struct sockaddr *)&cfg.listen, cfg.listen_len,
                        cfg.workers, fds, err, sizeof(err)) != 0) {
    zt_err("%s", err);
    return 1;
  }
  d.udp_fd = fds[0];
  /* Thousands of peers' handshakes and keepalives arrive in bursts: a
   * deeper queue than the other daemons' (docs/performance.md). */
  for (unsigned i = 0; i < cfg.workers; i++) {
    int rcvbuf = zt_udp_set_rcvbuf(fds[i], cfg.udp_receive_buffer);
    if (i == 0 && rcvbuf < cfg.udp_receive_buffer)
      zt_warn("udp_receive_buffer: asked %d bytes, the kernel gave %d (not "
              "root: net.core.rmem_max limits it)",
              cfg.udp_receive_buffer, rcvbuf);
  }
  if (!(d.loop = zt_loop_new())) {
    zt_err("cannot create the event loop");
    return 1;
  }
  zt_driver_io(&d, &io);
  if (cfg.state_dir[0])
    io.save_state = save_state;
  else
    zt_warn("no state_dir: agent address bindings last until a restart");
  struct zt_intermediate *im = zt_intermediate_new(
      &cfg, creds, &io, (struct sockaddr *)&cfg.listen, cfg.listen_len);
  if (!im)
    return 1;
  zt_intermediate_set_policy(im, policy, zt_now_ns());
  zt_im_reload_path(path);
  /* Bindings protect agents from each other: without them an offline
   * agent's address could go to someone else, so a state we cannot read
   * stops the start rather than being silently dropped. */
  if (cfg.state_dir[0] && load_state(im, cfg.state_dir) != 0)
    return 1;
  d.node = im;
  d.feed_udp = feed_udp;
  d.expiry = expiry;
  d.handle_expiry = handle_expiry;
  d.status = status;
  d.status_json = status_json;
  d.metrics = metrics;
  d.role = "intermediate";
  d.metrics_listen = (struct sockaddr *)&cfg.metrics_listen;
  d.metrics_listen_len = cfg.metrics_listen_len;
  d.reload = reload;
  d.hold = hold; /* the other workers stand still during a reload */
  d.creds = creds; /* SIGHUP reads the certificate and key again */
  d.tls = &cfg.tls;
  if (open_dashboard(d.loop, im, &cfg, creds, &dash) != 0)
    return 1;
  zt_daemon_control_socket(&args, cfg.control_socket, "intermediate", &d);
  int stun_fd = open_stun(&cfg);
  if (stun_fd == -2)
    return 1;
  if (stun_fd >= 0 &&
      zt_loop_add_fd(d.loop, stun_fd, EPOLLIN, on_stun, im) != 0) {
    zt_err("epoll: cannot watch the STUN socket: %s", strerror(errno));
    return 1;
  }
  if (zt_im_workers_start(im, &d, &io, fds, cfg.workers) != 0)
    return 1;
  zt_info("listening on udp %s, %u worker(s), %zu service(s), %zu policy "
          "rule(s)",
          zt_netaddr_str((struct sockaddr *)&cfg.listen, addr, sizeof(addr)),
          cfg.workers, zt_intermediate_policy(im)->n_services,
          zt_intermediate_policy(im)->n_rules);
  int rv = zt_driver_run(&d);
  zt_im_workers_stop(); /* before the goodbyes: those use worker 0's socket */
  zt_dashboard_close(dash);
  zt_intermediate_shutdown(im, zt_now_ns());
  zt_intermediate_free(im);
  zt_loop_free(d.loop);
  for (unsigned i = 0; i < cfg.workers; i++)
    close(fds[i]);
  if (stun_fd >= 0)
    close(stun_fd);
  zt_tls_creds_free(creds);
  zt_auditfile_close();
  return rv == 0 ? 0 : 1;
}

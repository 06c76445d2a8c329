/*
 * ztna-connector: runs inside the private network. It dials the
 * Intermediate, registers its services and delivers agents' packets to the
 * real backends through the kernel: a TUN device, destination NAT from each
 * service's virtual address to its backend, and masquerade so that replies
 * return (platform/nft.c). The logic lives in core/connector.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auditfile.h"
#include "ccalgo.h"
#include "clock.h"
#include "config.h"
#include "connector.h"
#include "conntrack.h"
#include "daemon.h"
#include "driver.h"
#include "ippkt.h"
#include "log.h"
#include "netaddr.h"
#include "nft.h"
#include "tun.h"
#include "udp.h"
#include "wire.h"

static const char usage[] =
    "usage: ztna-connector [options]\n"
    "  -c, --config FILE            JSON configuration (default "
    "/etc/ztna/connector.json)\n"
    "      --intermediate ADDR:PORT the Intermediate (required here or in the "
    "config, which may list several)\n"
    "      --intermediate-name NAME name in its certificate (default "
    "intermediate)\n"
    "      --bind ADDR:PORT         local UDP address (default 0.0.0.0:0)\n"
    "      --tun NAME               TUN device (default ztna-c0)\n"
    "      --ca FILE --cert FILE --key FILE   deployment CA, our certificate "
    "and key\n"
    "      --log-level LEVEL        error, warn, info (default) or debug\n"
    "      --control-socket PATH    /run/ztna/connector.sock (default) or none\n"
    "  -v, --verbose                same as --log-level debug\n"
    "  -h, --help                   this text\n"
    "Needs CAP_NET_ADMIN (TUN device, routes, nftables, ip_forward).\n";

static char tun_name[16];
/* ip_forward was off and we turned it on: the host is not a router, so the
 * forward chain drops everything that is not ztna's, and ip_forward goes
 * back off at exit (platform/nft.c). */
static bool we_enabled_forwarding;

static void feed_udp(void *n, const struct sockaddr *from, socklen_t fromlen,
                     const uint8_t *pkt, size_t len, uint64_t now) {
  zt_connector_feed_udp(n, from, fromlen, pkt, len, now);
}
static void feed_tun(void *n, const uint8_t *pkt, size_t len, uint64_t now) {
  zt_connector_feed_tun(n, pkt, len, now);
}
static uint64_t expiry(void *n) { return zt_connector_expiry(n); }
static void handle_expiry(void *n, uint64_t now) {
  zt_connector_handle_expiry(n, now);
}
/* /metrics and /readyz (platform/metricsd.c): ready once the
 * Intermediate accepted at least one of our services. */
static int metrics(void *n, char *buf, size_t len) {
  return zt_connector_metrics(n, buf, len);
}
static bool ready(void *n, char *why, size_t len) {
  if (zt_connector_registered(n) > 0)
    return true;
  snprintf(why, len, "no service registered (uplink %s)",
           zt_connector_is_connected(n) ? "up" : "down");
  return false;
}
static int status_json(void *n, char *buf, size_t len) {
  return zt_connector_status_json(n, buf, len);
}
static int status(void *n, char *buf, size_t len) {
  return zt_connector_status(n, buf, len);
}

static void route(void *ud, uint32_t addr, bool add) {
  char err[256];
  (void)ud;
  int rv = add ? zt_tun_route_add(tun_name, addr, 32, err, sizeof(err))
               : zt_tun_route_del(tun_name, addr, 32, err, sizeof(err));
  if (rv != 0)
    zt_err("%s", err);
}

static void nat(void *ud, const struct zt_nat_rule *rules, size_t n) {
  struct zt_nft_service svcs[64];
  char err[512];
  (void)ud;
  for (size_t i = 0; i < n && i < 64; i++)
    svcs[i] = (struct zt_nft_service){rules[i].vip, rules[i].backend};
  if (zt_nft_apply(tun_name, svcs, n,
                   we_enabled_forwarding ? ZT_NFT_ONLY_OURS : 0, err,
                   sizeof(err)) != 0)
    zt_err("nftables: %s", err);
  else
    zt_info("nftables: %zu service NAT rule(s) installed%s", n,
            we_enabled_forwarding ? "; other forwarding dropped" : "");
}

static void forget_addr(void *ud, uint32_t addr) {
  char err[256], ip[16];
  (void)ud;
  int n = zt_conntrack_forget_src(addr, err, sizeof(err));
  if (n < 0)
    zt_err("%s", err);
  else
    zt_info("conntrack: %d entr%s from %s deleted", n, n == 1 ? "y" : "ies",
            zt_ip4_str(addr, ip));
}

int main(int argc, char **argv) {
  static struct zt_connector_config cfg;
  struct zt_daemon_args args;
  char err[512];
  const char *path;
  struct sockaddr_storage bind_addr = {0};
  socklen_t bind_len;

  zt_daemon_parse_args(argc, argv, usage, &args);
  zt_connector_config_defaults(&cfg);
  if ((path = zt_daemon_config_path(&args, "/etc/ztna/connector.json")) &&
      zt_connector_config_load(&cfg, path, err, sizeof(err)) != 0) {
    fprintf(stderr, "ztna-connector: %s\n", err);
    return 1;
  }
  if (zt_daemon_log_level(args.log_level, cfg.log_level) != 0)
    return 2;
  zt_cc_set_default(cfg.congestion_control); /* before any connection */
  if (zt_daemon_audit_log(cfg.audit_log) != 0)
    return 1;
  if (args.intermediate &&
      zt_netaddr_parse(args.intermediate, ZT_DEFAULT_PORT, &cfg.intermediate,
                       &cfg.intermediate_len) != 0) {
    fprintf(stderr, "ztna-connector: --intermediate: bad address '%s'\n",
            args.intermediate);
    return 2;
  }
  if (args.intermediate) /* the flag names one: the file's list is off */
    cfg.n_more_intermediates = 0;
  if (!cfg.intermediate_len) {
    fprintf(stderr, "ztna-connector: no Intermediate address: give "
                    "--intermediate or \"intermediate\" in the config\n");
    return 2;
  }
  if (args.intermediate_name)
    snprintf(cfg.intermediate_name, sizeof(cfg.intermediate_name), "%s",
             args.intermediate_name);
  if (args.tun)
    snprintf(cfg.tun, sizeof(cfg.tun), "%s", args.tun);
  if (args.listen) {
    if (zt_netaddr_parse(args.listen, 0, &bind_addr, &bind_len) != 0) {
      fprintf(stderr, "ztna-connector: --bind: bad address '%s'\n",
              args.listen);
      return 2;
    }
  } else if (cfg.p2p_listen_len) { /* a fixed port agents may reach */
    bind_addr = cfg.p2p_listen;
    bind_len = cfg.p2p_listen_len;
  } else {
    zt_netaddr_parse("0.0.0.0:0", 0, &bind_addr, &bind_len);
  }
  if (cfg.n_services == 0)
    zt_warn("no services configured: nothing to offer");

  struct zt_tls_creds *creds = zt_daemon_load_creds(&args, &cfg.tls, ZT_ROLE_CONNECTOR);
  if (!creds)
    return 1;
  struct zt_driver d = {0};
  struct zt_io io = {0};
  bool forward_was_on = false;
  d.tun_offload = cfg.tun_offload;
  d.tun_fd = zt_tun_open_offload(cfg.tun, tun_name, &d.tun_offload, err,
                                 sizeof(err));
  bool leftover_ours = false;
  if (d.tun_fd < 0 || zt_tun_set_mtu(tun_name, ZT_TUN_MTU, err, sizeof(err)) ||
      zt_tun_up(tun_name, err, sizeof(err)) ||
      zt_nft_leftover_only_ours(tun_name, &leftover_ours, err, sizeof(err)) ||
      zt_ip_forward_enable(&forward_was_on, err, sizeof(err))) {
    zt_err("%s", err);
    return 1;
  }
  /* A previous instance died without cleaning up (kill -9): its table is
   * replaced below; the ip_forward it turned on is ours to restore. */
  if (leftover_ours && forward_was_on) {
    zt_warn("a previous connector on %s did not clean up (killed?): its "
            "nftables table is replaced, and ip_forward, which it had turned "
            "on, is restored at exit",
            tun_name);
    forward_was_on = false;
  }
  we_enabled_forwarding = !forward_was_on;
  zt_info("ip_forward %s", forward_was_on
                               ? "was on: this host routes on purpose; only "
                                 "traffic to and from the tunnel is filtered"
                               : "turned on: forwarding other than ztna's is "
                                 "dropped; restored at exit");
  d.udp_fd = zt_udp_open((struct sockaddr *)&bind_addr, bind_len, err,
                         sizeof(err));
  if (d.udp_fd < 0) {
    zt_err("%s", err);
    return 1;
  }
  struct sockaddr_storage local;
  socklen_t locallen;
  zt_udp_local(d.udp_fd, &local, &locallen);
  if (!(d.loop = zt_loop_new())) {
    zt_err("cannot create the event loop");
    return 1;
  }
  d.tun_name = tun_name;
  zt_driver_io(&d, &io);
  io.route = route;
  io.nat = nat;
  io.forget_addr = forget_addr;
  struct zt_connector_options opt = {
      .creds = creds,
      .intermediate_name = cfg.intermediate_name,
      .local = (struct sockaddr *)&local,
      .locallen = locallen,
      .server = (struct sockaddr *)&cfg.intermediate,
      .serverlen = cfg.intermediate_len,
      .n_more_servers = cfg.n_more_intermediates,
      .more_servers = cfg.more_intermediates,
      .more_serverlens = cfg.more_intermediates_len,
      .cfg = &cfg,
  };
  struct zt_connector *c = zt_connector_new(&opt, &io, zt_now_ns());
  if (!c)
    return 1;
  d.node = c;
  d.feed_udp = feed_udp;
  d.feed_tun = feed_tun;
  d.expiry = expiry;
  d.handle_expiry = handle_expiry;
  d.status = status;
  d.status_json = status_json;
  d.creds = creds; /* SIGHUP reads the certificate, key and CRL again */
  d.tls = &cfg.tls;
  d.metrics = metrics;
  d.ready = ready;
  d.role = "connector";
  d.metrics_listen = (struct sockaddr *)&cfg.metrics_listen;
  d.metrics_listen_len = cfg.metrics_listen_len;
  zt_daemon_control_socket(&args, cfg.control_socket, "connector", &d);
  /* The forward filter from the start, before any service registers. */
  nat(NULL, NULL, 0);
  int rv = zt_driver_run(&d);
  zt_connector_shutdown(c, zt_now_ns());
  zt_connector_free(c);
  /* Parked, not removed: flows through us survive a restart (nft.h). */
  if (zt_nft_park(tun_name, err, sizeof(err)) != 0)
    zt_warn("nftables: %s", err);
  else
    zt_info("nftables: table parked (no new translations; the flows "
            "through us keep theirs and survive a restart)");
  if (we_enabled_forwarding && zt_ip_forward_set(false, err, sizeof(err)) != 0)
    zt_warn("%s", err);
  zt_loop_free(d.loop);
  close(d.udp_fd);
  close(d.tun_fd);
  zt_tls_creds_free(creds);
  zt_auditfile_close();
  return rv == 0 ? 0 : 1;
}

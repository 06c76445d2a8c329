/*
 * ztna-agent: runs on the user's machine. A TUN device carries the routes
 * of the services this agent may reach (pushed by the Intermediate); the
 * logic lives in core/agent.c, this file wires it to the TUN device, the
 * routing table and a UDP socket.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "ccalgo.h"
#include "clock.h"
#include "config.h"
#include "daemon.h"
#include "driver.h"
#include "ippkt.h"
#include "log.h"
#include "netaddr.h"
#include "netwatch.h"
#include "resolved.h"
#include "tun.h"
#include "udp.h"
#include "wire.h"

static const char usage[] =
    "usage: ztna-agent [options]\n"
    "  -c, --config FILE            JSON configuration (default "
    "/etc/ztna/agent.json)\n"
    "      --intermediate ADDR:PORT the Intermediate (required here or in the "
    "config, which may list several)\n"
    "      --intermediate-name NAME name in its certificate (default "
    "intermediate)\n"
    "      --bind ADDR:PORT         local UDP address (default 0.0.0.0:0)\n"
    "      --tun NAME               TUN device (default ztna0)\n"
    "      --ca FILE --cert FILE --key FILE   deployment CA, our certificate "
    "and key\n"
    "      --log-level LEVEL        error, warn, info (default) or debug\n"
    "      --control-socket PATH    /run/ztna/agent.sock (default) or none\n"
    "  -v, --verbose                same as --log-level debug\n"
    "  -h, --help                   this text\n";

static char tun_name[16];

static void feed_udp(void *n, const struct sockaddr *from, socklen_t fromlen,
                     const uint8_t *pkt, size_t len, uint64_t now) {
  zt_agent_feed_udp(n, from, fromlen, pkt, len, now);
}
static void feed_tun(void *n, const uint8_t *pkt, size_t len, uint64_t now) {
  zt_agent_feed_tun(n, pkt, len, now);
}
static uint64_t expiry(void *n) { return zt_agent_expiry(n); }
static void handle_expiry(void *n, uint64_t now) {
  zt_agent_handle_expiry(n, now);
}
/* /metrics and /readyz (platform/metricsd.c): ready while the uplink to
 * an Intermediate is up and welcomed us. */
static int metrics(void *n, char *buf, size_t len) {
  return zt_agent_metrics(n, buf, len);
}
static bool ready(void *n, char *why, size_t len) {
  if (zt_agent_is_connected(n))
    return true;
  snprintf(why, len, "no uplink to an Intermediate");
  return false;
}
static int status_json(void *n, char *buf, size_t len) {
  return zt_agent_status_json(n, buf, len);
}
static int status(void *n, char *buf, size_t len) {
  return zt_agent_status(n, buf, len);
}
static int ping(void *n, const char *target, uint64_t cookie, uint64_t now,
                char *err, size_t errlen) {
  return zt_agent_ping(n, target, cookie, now, err, errlen);
}

/* The host's network changed: the agent moves its outer connection. */
static void network_changed_cb(void *node, const void *n, uint64_t now) {
  zt_agent_network_changed(node, n, now);
}
static void network_changed(void *ud, const struct zt_netchange *n) {
  zt_driver_call(ud, network_changed_cb, n);
}

static void set_tun_addr(void *ud, uint32_t addr) {
  char err[256], ip[16];
  (void)ud;
  if (zt_tun_set_addr(tun_name, addr, 32, err, sizeof(err)) != 0)
    zt_err("%s", err);
  else
    zt_info("%s: address %s/32", tun_name, zt_ip4_str(addr, ip));
}

static void route(void *ud, uint32_t vip, bool add) {
  char err[256], ip[16];
  (void)ud;
  int rv = add ? zt_tun_route_add(tun_name, vip, 32, err, sizeof(err))
               : zt_tun_route_del(tun_name, vip, 32, err, sizeof(err));
  if (rv != 0)
    zt_err("%s", err);
  else
    zt_info("%s route %s/32 via %s", add ? "added" : "removed",
            zt_ip4_str(vip, ip), tun_name);
}

/* Names in the domain go to our DNS address: through systemd-resolved
 * where it runs; elsewhere the log says how to do it by hand. True when
 * registered (to be reverted at exit). */
static bool register_dns(const struct zt_agent_config *cfg) {
  char err[512], ip[16];
  if (!cfg->dns_domain[0] || !cfg->dns_address)
    return false;
  zt_ip4_str(cfg->dns_address, ip);
  zt_info("dns: answering %s at %s:53 inside %s", cfg->dns_domain, ip,
          tun_name);
  if (!cfg->dns_resolved)
    return false; /* the configuration says: leave the resolver alone */
  if (!zt_resolved_same_netns()) {
    zt_info("dns: in a network namespace of its own: systemd-resolved "
            "left alone; query %s directly", ip);
    return false;
  }
  if (!zt_resolved_present(ZT_RESOLVECTL, ZT_RESOLVED_RUNDIR)) {
    zt_info("dns: systemd-resolved not running; to resolve *.%s, send "
            "queries for that domain to %s (dnsmasq: "
            "server=/%s/%s; or query it directly: dig @%s NAME.%s)",
            cfg->dns_domain, ip, cfg->dns_domain, ip, ip, cfg->dns_domain);
    return false;
  }
  if (zt_resolved_register(ZT_RESOLVECTL, tun_name, cfg->dns_address,
                           cfg->dns_domain, err, sizeof(err)) != 0) {
    zt_warn("dns: systemd-resolved registration failed: %s", err);
    return false;
  }
  zt_info("dns: systemd-resolved sends ~%s to %s via %s", cfg->dns_domain, ip,
          tun_name);
  return true;
}

int main(int argc, char **argv) {
  static struct zt_agent_config cfg;
  struct zt_daemon_args args;
  char err[512];
  const char *path;
  struct sockaddr_storage bind_addr = {0};
  socklen_t bind_len;

  zt_daemon_parse_args(argc, argv, usage, &args);
  zt_agent_config_defaults(&cfg);
  if ((path = zt_daemon_config_path(&args, "/etc/ztna/agent.json")) &&
      zt_agent_config_load(&cfg, path, err, sizeof(err)) != 0) {
    fprintf(stderr, "ztna-agent: %s\n", err);
    return 1;
  }
  if (zt_daemon_log_level(args.log_level, cfg.log_level) != 0)
    return 2;
  zt_cc_set_default(cfg.congestion_control); /* before any connection */
  if (args.intermediate &&
      zt_netaddr_parse(args.intermediate, ZT_DEFAULT_PORT, &cfg.intermediate,
                       &cfg.intermediate_len) != 0) {
    fprintf(stderr, "ztna-agent: --intermediate: bad address '%s'\n",
            args.intermediate);
    return 2;
  }
  if (args.intermediate) /* the flag names one: the file's list is off */
    cfg.n_more_intermediates = 0;
  if (!cfg.intermediate_len) {
    fprintf(stderr, "ztna-agent: no Intermediate address: give "
                    "--intermediate or \"intermediate\" in the config\n");
    return 2;
  }
  if (args.intermediate_name)
    snprintf(cfg.intermediate_name, sizeof(cfg.intermediate_name), "%s",
             args.intermediate_name);
  if (args.tun)
    snprintf(cfg.tun, sizeof(cfg.tun), "%s", args.tun);
  if (zt_netaddr_parse(args.listen ? args.listen : "0.0.0.0:0", 0, &bind_addr,
                       &bind_len) != 0) {
    fprintf(stderr, "ztna-agent: --bind: bad address '%s'\n", args.listen);
    return 2;
  }

  struct zt_tls_creds *creds = zt_daemon_load_creds(&args, &cfg.tls, ZT_ROLE_AGENT);
  if (!creds)
    return 1;
  struct zt_driver d = {0};
  struct zt_io io = {0};
  d.tun_offload = cfg.tun_offload;
  d.tun_fd = zt_tun_open_offload(cfg.tun, tun_name, &d.tun_offload, err,
                                 sizeof(err));
  if (d.tun_fd < 0) {
    zt_err("%s", err);
    return 1;
  }
  if (zt_tun_set_mtu(tun_name, ZT_TUN_MTU, err, sizeof(err)) != 0 ||
      zt_tun_up(tun_name, err, sizeof(err)) != 0) {
    zt_err("%s", err);
    return 1;
  }
  zt_info("%s: up, mtu %d", tun_name, ZT_TUN_MTU);
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
  io.tun_addr = set_tun_addr;
  io.route = route;
  struct zt_agent_options opt = {
      .creds = creds,
      .direct = cfg.direct,
      .intermediate_name = cfg.intermediate_name,
      .local = (struct sockaddr *)&local,
      .locallen = locallen,
      .server = (struct sockaddr *)&cfg.intermediate,
      .serverlen = cfg.intermediate_len,
      .n_more_servers = cfg.n_more_intermediates,
      .more_servers = cfg.more_intermediates,
      .more_serverlens = cfg.more_intermediates_len,
      .service_range = cfg.service_range,
      .service_range_len = cfg.service_range_len,
      .dns_domain = cfg.dns_domain,
      .dns_addr = cfg.dns_address,
  };
  struct zt_agent *agent = zt_agent_new(&opt, &io, zt_now_ns());
  if (!agent)
    return 1;
  d.node = agent;
  d.feed_udp = feed_udp;
  d.feed_tun = feed_tun;
  d.expiry = expiry;
  d.handle_expiry = handle_expiry;
  d.status = status;
  d.status_json = status_json;
  d.metrics = metrics;
  d.ready = ready;
  d.role = "agent";
  d.metrics_listen = (struct sockaddr *)&cfg.metrics_listen;
  d.metrics_listen_len = cfg.metrics_listen_len;
  d.ping = ping;
  d.creds = creds; /* SIGHUP reads the certificate, key and CRL again */
  d.tls = &cfg.tls;
  zt_daemon_control_socket(&args, cfg.control_socket, "agent", &d);
  /* Without it the agent still works; a network change then costs a
   * timeout instead of a round trip. */
  struct zt_netwatch *nw =
      zt_netwatch_open(d.loop, tun_name, network_changed, &d, err, sizeof(err));
  if (!nw)
    zt_warn("%s; network changes will be noticed by timeouts only", err);
  bool resolved = register_dns(&cfg);
  int rv = zt_driver_run(&d);
  if (resolved &&
      zt_resolved_revert(ZT_RESOLVECTL, tun_name, err, sizeof(err)) != 0)
    zt_warn("%s", err);
  zt_netwatch_close(nw);
  zt_agent_shutdown(agent, zt_now_ns());
  zt_agent_free(agent);
  zt_loop_free(d.loop);
  close(d.udp_fd);
  close(d.tun_fd);
  zt_tls_creds_free(creds);
  return rv == 0 ? 0 : 1;
}

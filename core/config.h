/*
 * The three daemons' JSON configuration files. Parsing is strict: an
 * unknown key, a wrong type or a bad value is refused with the file, the
 * line and the key's path ("connector.json:7: services[0].backend: ...").
 * Defaults are filled by *_defaults(); a file only overrides what it names,
 * and command-line flags override the file (the daemons do that part).
 */
#ifndef ZTNA_CONFIG_H
#define ZTNA_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns.h"
#include "portrule.h"
#include "wire.h"

#define ZT_PATH_MAX 256
#define ZT_MAX_POLICY 64

struct zt_tls_paths {
  char ca[ZT_PATH_MAX], cert[ZT_PATH_MAX], key[ZT_PATH_MAX];
  /* The CA's CRL (crl.h), "" for none: peers it lists are refused. */
  char crl[ZT_PATH_MAX];
};

struct zt_intermediate_config {
  struct sockaddr_storage listen;
  socklen_t listen_len;
  struct zt_tls_paths tls;
  uint32_t agent_pool;    /* host order network address */
  uint8_t agent_pool_len; /* prefix length */
  /* Where services without an "address" get one (svcpool.h); length 0:
   * none, every service must name its address. Never overlaps agent_pool. */
  uint32_t service_pool;
  uint8_t service_pool_len;
  size_t n_services;
  struct {
    char name[ZT_NAME_MAX + 1];
    uint32_t address; /* virtual IPv4, host order; 0: from service_pool */
    char connector[ZT_NAME_MAX + 1];
  } services[ZT_MAX_SERVICES];
  size_t n_policy;
  struct {
    char agent[ZT_NAME_MAX + 1]; /* agent name, or "*" */
    size_t n_services;
    char services[ZT_MAX_SERVICES][ZT_NAME_MAX + 1];
  } policy[ZT_MAX_POLICY];
  /* "policy": "FILE": the policy document (policy.h) that replaces the
   * inline services and policy above; "" when they are used. */
  char policy_file[ZT_PATH_MAX];
  int log_level; /* enum zt_log_level */
  int congestion_control; /* ngtcp2_cc_algo (ccalgo.h) */
  char control_socket[ZT_PATH_MAX]; /* "": the default, "none": off */
  /* HTTP /metrics, /healthz, /readyz (docs/operations.md); length 0: off */
  struct sockaddr_storage metrics_listen;
  socklen_t metrics_listen_len;
  /* The admin dashboard (docs/dashboard.md); length 0: off. Anywhere but
   * loopback it is HTTPS unless dashboard_allow_http, and plain HTTP there
   * needs the token file (the parser refuses otherwise). */
  struct sockaddr_storage dashboard_listen;
  socklen_t dashboard_listen_len;
  char dashboard_token_file[ZT_PATH_MAX]; /* "": no token asked */
  /* "dashboard_tls": after parsing 1 (HTTPS with the Intermediate's
   * certificate; admin client certificates accepted) or 0; unset, it is 1
   * off loopback and 0 on it. */
  int dashboard_tls;
  bool dashboard_allow_http; /* plain HTTP off loopback, knowingly */
  char audit_log[ZT_PATH_MAX]; /* docs/audit.md: a file, "-" stdout, "" off */
  /* Where the Intermediate keeps agent and service address bindings ("":
   * nowhere). */
  char state_dir[ZT_PATH_MAX];
  /* The second UDP port that answers STUN only, so `ztna netcheck` can
   * tell whether a NAT's mapping depends on the destination: -1 (the
   * default) for the listen port + 1, 0 for none. */
  int stun_port;
  /* "udp_receive_buffer": bytes of the listen socket's receive queue
   * (SO_RCVBUFFORCE as root: past net.core.rmem_max). 10,000 peers'
   * handshakes and keepalives overflowed 4 MB (docs/performance.md). */
  int udp_receive_buffer;
  /* "workers": threads, each with its own socket in an SO_REUSEPORT
   * group and the connections steered to it (intermediate.h). 1 (the
   * default): one thread, as on a small host. */
  unsigned workers;
  /* Unacknowledged control bytes one peer may make us hold (not in the
   * file: tests lower it). */
  size_t ctrl_backlog_max;
};

/* udp_receive_buffer: its bounds and the Intermediate's default. */
#define ZT_UDP_RCVBUF_MIN 65536
#define ZT_UDP_RCVBUF_MAX (1 << 30)
#define ZT_IM_UDP_RCVBUF (32 << 20)
#define ZT_IM_WORKERS_MAX 64

struct zt_connector_config {
  /* "intermediate": the first (or only) Intermediate ... */
  struct sockaddr_storage intermediate;
  socklen_t intermediate_len; /* 0: not set */
  /* ... and, when the file gives an array, the ones after it. */
  size_t n_more_intermediates;
  struct sockaddr_storage more_intermediates[ZT_MAX_INTERMEDIATES - 1];
  socklen_t more_intermediates_len[ZT_MAX_INTERMEDIATES - 1];
  char intermediate_name[ZT_NAME_MAX + 1];
  struct zt_tls_paths tls;
  char tun[16];
  /* Agent tunnel addresses the Intermediate may announce (SESSION_NEW):
   * anything outside gets no session and no route. Default 100.64.0.0/16,
   * the Intermediate's default agent_pool. */
  uint32_t agent_pool;
  uint8_t agent_pool_len;
  size_t n_services;
  struct {
    char name[ZT_NAME_MAX + 1];
    uint32_t backend; /* IPv4, host order */
    size_t n_rules;
    struct zt_port_rule rules[ZT_MAX_PORT_RULES];
  } services[ZT_MAX_SERVICES];
  int log_level;
  int congestion_control;
  char control_socket[ZT_PATH_MAX]; /* "": the default, "none": off */
  /* HTTP /metrics, /healthz, /readyz (docs/operations.md); length 0: off */
  struct sockaddr_storage metrics_listen;
  socklen_t metrics_listen_len;
  char audit_log[ZT_PATH_MAX]; /* docs/audit.md: a file, "-" stdout, "" off */
  /* Look for direct paths to agents (default true); false: relay only. */
  bool direct;
  /* A fixed UDP address to bind, for a connector whose port is reachable
   * from outside (a public address, a forwarded port): it is offered to
   * agents as a direct-path candidate. Length 0: an ephemeral port. */
  struct sockaddr_storage p2p_listen;
  socklen_t p2p_listen_len;
  /* TUN offloads (default true): TCP super segments read and written,
   * cut and merged by us (core/tso.c, core/gro.c); false: one packet per
   * read and write. */
  bool tun_offload;
};

struct zt_agent_config {
  /* As in the connector's: the first Intermediate, then the others. */
  struct sockaddr_storage intermediate;
  socklen_t intermediate_len;
  size_t n_more_intermediates;
  struct sockaddr_storage more_intermediates[ZT_MAX_INTERMEDIATES - 1];
  socklen_t more_intermediates_len[ZT_MAX_INTERMEDIATES - 1];
  char intermediate_name[ZT_NAME_MAX + 1];
  struct zt_tls_paths tls;
  char tun[16];
  /* Service addresses the Intermediate may hand us (SERVICES): anything
   * outside gets no route. Default 10.100.0.0/16, the range of the example
   * deployment's services (the Intermediate has no default of its own). */
  uint32_t service_range;
  uint8_t service_range_len;
  int log_level;
  int congestion_control;
  char control_socket[ZT_PATH_MAX]; /* "": the default, "none": off */
  /* HTTP /metrics, /healthz, /readyz (docs/operations.md); length 0: off */
  struct sockaddr_storage metrics_listen;
  socklen_t metrics_listen_len;
  /* Look for direct paths to connectors (default true); false: relay
   * only. */
  bool direct;
  /* DNS for the deployment's services inside the tunnel (docs/dns.md):
   * the domain (default "ztna.internal"; "": DNS off) and the address the
   * agent answers at (default 10.100.255.53). */
  char dns_domain[ZT_DNS_DOMAIN_MAX + 1];
  uint32_t dns_address;
  /* Register with systemd-resolved where it runs (default true). */
  bool dns_resolved;
  /* As the connector's tun_offload (default true). */
  bool tun_offload;
};

void zt_intermediate_config_defaults(struct zt_intermediate_config *c);
void zt_connector_config_defaults(struct zt_connector_config *c);
void zt_agent_config_defaults(struct zt_agent_config *c);

/* Parse `text` (len bytes, need not be NUL-terminated) on top of what `c`
 * holds. `path` only labels errors. 0 on success; -1 with "path:line: key:
 * reason" in err. On error `c` may be partly updated. */
int zt_intermediate_config_parse(struct zt_intermediate_config *c,
                                 const char *path, const char *text,
                                 size_t len, char *err, size_t errlen);
int zt_connector_config_parse(struct zt_connector_config *c, const char *path,
                              const char *text, size_t len, char *err,
                              size_t errlen);
int zt_agent_config_parse(struct zt_agent_config *c, const char *path,
                          const char *text, size_t len, char *err,
                          size_t errlen);

/* Read the file and parse it; a file that cannot be read is an error that
 * names it. */
int zt_intermediate_config_load(struct zt_intermediate_config *c,
                                const char *path, char *err, size_t errlen);
int zt_connector_config_load(struct zt_connector_config *c, const char *path,
                             char *err, size_t errlen);
int zt_agent_config_load(struct zt_agent_config *c, const char *path,
                         char *err, size_t errlen);

/* The policy document (docs/policy.md): groups, services, rules. Parsed
 * into *p (cleared first), with errors as above; on error *p is partly
 * filled and must not be used (parse into a fresh snapshot and swap). */
struct zt_policy;
int zt_policy_parse(struct zt_policy *p, const char *path, const char *text,
                    size_t len, char *err, size_t errlen);
int zt_policy_load(struct zt_policy *p, const char *path, char *err,
                   size_t errlen);
/* The inline services and policy of c as a snapshot (no file read). */
void zt_policy_from_inline(struct zt_policy *p,
                           const struct zt_intermediate_config *c);
/* The Intermediate's whole policy: its policy file when it names one, else
 * the inline services and policy compiled into *p. */
int zt_policy_from_config(struct zt_policy *p,
                          const struct zt_intermediate_config *c, char *err,
                          size_t errlen);

#endif

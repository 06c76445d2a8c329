/*
 * What the three daemons' main() functions share: the command line options
 * every one of them takes, loading the config file (a missing default file
 * is fine, a missing file named on the command line is not), and TLS
 * credentials.
 */
#ifndef ZTNA_DAEMON_H
#define ZTNA_DAEMON_H

#include <stdbool.h>

#include "config.h"
#include "tls.h"

struct zt_daemon_args {
  const char *config;     /* --config, or NULL for the default path */
  const char *ca, *cert, *key;
  const char *log_level;
  const char *intermediate; /* --intermediate (agent, connector) */
  const char *intermediate_name;
  const char *listen;     /* --listen (intermediate) / --bind (others) */
  const char *tun;
  const char *control_socket; /* --control-socket PATH or "none" */
  const char *check_config;   /* --check-config FILE (intermediate) */
};

/* Parses the common options; prints usage (with `usage`) on --help (exit 0)
 * or bad usage (exit 2). `extra` lists which of intermediate/tun/listen
 * the daemon takes. */
void zt_daemon_parse_args(int argc, char **argv, const char *usage,
                          struct zt_daemon_args *a);

/* The config path to read, or NULL when the default does not exist. */
const char *zt_daemon_config_path(const struct zt_daemon_args *a,
                                  const char *default_path);

/* Applies --log-level / config log level. -1 on a bad level name. */
int zt_daemon_log_level(const char *flag, int from_config);

/* Loads paths->crl, checked against paths->ca (crl.h); logs and returns
 * NULL on error (the daemon refuses to start; a reload keeps the old). */
struct zt_crl *zt_daemon_load_crl(const struct zt_tls_paths *paths);

/* Overrides TLS paths with flags and loads them (and the CRL, if any); logs and returns NULL on
 * error, including a certificate of another role than the daemon's. */
struct zt_tls_creds *zt_daemon_load_creds(const struct zt_daemon_args *a,
                                          struct zt_tls_paths *paths,
                                          enum zt_role role);

/* Opens the audit log named by the config's audit_log ("" : off; see
 * auditfile.h). 0, or -1 after logging why. */
int zt_daemon_audit_log(const char *configured);

struct zt_driver;
/* Points the driver's control socket at --control-socket, else the
 * config's control_socket, else /run/ztna/<daemon>.sock (that one
 * optional: see driver.h); "none" disables it. */
void zt_daemon_control_socket(const struct zt_daemon_args *a,
                              const char *configured, const char *daemon,
                              struct zt_driver *d);

#endif

/* Shared daemon start-up. See daemon.h. */
#include "daemon.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auditfile.h"
#include "ctlsock.h"
#include "driver.h"
#include "log.h"

#ifndef ZTNA_VERSION
#define ZTNA_VERSION "unknown"
#endif

void zt_daemon_parse_args(int argc, char **argv, const char *usage,
                          struct zt_daemon_args *a) {
  static const struct option opts[] = {
      {"config", required_argument, NULL, 'c'},
      {"ca", required_argument, NULL, 'A'},
      {"cert", required_argument, NULL, 'C'},
      {"key", required_argument, NULL, 'K'},
      {"log-level", required_argument, NULL, 'l'},
      {"verbose", no_argument, NULL, 'v'},
      {"intermediate", required_argument, NULL, 'i'},
      {"intermediate-name", required_argument, NULL, 'n'},
      {"listen", required_argument, NULL, 'L'},
      {"bind", required_argument, NULL, 'L'},
      {"tun", required_argument, NULL, 't'},
      {"control-socket", required_argument, NULL, 'S'},
      {"check-config", required_argument, NULL, 'k'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0},
  };
  int ch;
  memset(a, 0, sizeof(*a));
  /* Under systemd (stderr is the journal stream it names): priority
   * prefixes, no own timestamps (log.h), from the first line on. */
  struct stat st;
  if (fstat(2, &st) == 0 &&
      zt_log_journal_stream_matches(getenv("JOURNAL_STREAM"),
                                    (unsigned long long)st.st_dev,
                                    (unsigned long long)st.st_ino))
    zt_log_set_journal(true);
  while ((ch = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
    switch (ch) {
    case 'c': a->config = optarg; break;
    case 'A': a->ca = optarg; break;
    case 'C': a->cert = optarg; break;
    case 'K': a->key = optarg; break;
    case 'l': a->log_level = optarg; break;
    case 'v': a->log_level = "debug"; break;
    case 'i': a->intermediate = optarg; break;
    case 'n': a->intermediate_name = optarg; break;
    case 'L': a->listen = optarg; break;
    case 't': a->tun = optarg; break;
    case 'S': a->control_socket = optarg; break;
    case 'k': a->check_config = optarg; break;
    case 'h':
      fputs(usage, stdout);
      exit(0);
    case 'V': /* ZTNA_VERSION: the VERSION file, through the Makefile */
      printf("%s %s\n",
             strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0],
             ZTNA_VERSION);
      exit(0);
    default:
      fputs(usage, stderr);
      exit(2);
    }
  }
  if (optind < argc) {
    fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0], argv[optind]);
    fputs(usage, stderr);
    exit(2);
  }
}

const char *zt_daemon_config_path(const struct zt_daemon_args *a,
                                  const char *default_path) {
  if (a->config)
    return a->config;
  return access(default_path, F_OK) == 0 ? default_path : NULL;
}

int zt_daemon_log_level(const char *flag, int from_config) {
  enum zt_log_level level = (enum zt_log_level)from_config;
  if (flag && zt_log_level_parse(flag, &level) != 0) {
    fprintf(stderr, "unknown log level '%s' (error, warn, info, debug)\n",
            flag);
    return -1;
  }
  zt_log_set_level(level);
  return 0;
}

struct zt_tls_creds *zt_daemon_load_creds(const struct zt_daemon_args *a,
                                          struct zt_tls_paths *paths,
                                          enum zt_role role) {
  char err[512], warn[512];
  if (a->ca)
    snprintf(paths->ca, sizeof(paths->ca), "%s", a->ca);
  if (a->cert)
    snprintf(paths->cert, sizeof(paths->cert), "%s", a->cert);
  if (a->key)
    snprintf(paths->key, sizeof(paths->key), "%s", a->key);
  struct zt_tls_creds *c =
      zt_tls_creds_load_at(paths->ca, paths->cert, paths->key,
                           (uint64_t)time(NULL), err, sizeof(err), warn,
                           sizeof(warn));
  if (!c) {
    zt_err("%s", err);
    return NULL;
  }
  if (zt_tls_creds_check_role(c, role, err, sizeof(err)) != 0) {
    zt_err("%s", err);
    zt_tls_creds_free(c);
    return NULL;
  }
  if (warn[0])
    zt_warn("%s", warn);
  zt_info("identity %s/%s (certificate %s)", zt_role_name(c->own_role),
          c->own_name, paths->cert);
  /* A CRL we cannot use stops the start: running without it would let
   * revoked peers in. */
  if (paths->crl[0]) {
    struct zt_crl *crl = zt_daemon_load_crl(paths);
    if (!crl) {
      zt_tls_creds_free(c);
      return NULL;
    }
    zt_tls_creds_set_crl(c, crl);
  }
  return c;
}

struct zt_crl *zt_daemon_load_crl(const struct zt_tls_paths *paths) {
  char err[600], warn[400];
  struct zt_crl *crl = zt_crl_load_at(paths->crl, paths->ca, (int64_t)time(NULL),
                                      err, sizeof(err), warn, sizeof(warn));
  if (!crl) {
    zt_err("%s", err);
    return NULL;
  }
  if (warn[0])
    zt_warn("%s", warn);
  zt_info("crl %s: %zu revoked certificate(s)", paths->crl, zt_crl_count(crl));
  return crl;
}

void zt_daemon_control_socket(const struct zt_daemon_args *a,
                              const char *configured, const char *daemon,
                              struct zt_driver *d) {
  static char buf[128];
  d->ctl_path =
      zt_ctlsock_path(a->control_socket, configured, daemon, buf, sizeof(buf));
  d->ctl_required = a->control_socket || (configured && configured[0]);
}

int zt_daemon_audit_log(const char *configured) {
  char err[512];
  if (!configured[0])
    return 0;
  if (zt_auditfile_open(configured, err, sizeof(err)) != 0) {
    zt_err("%s", err);
    return -1;
  }
  zt_info("audit log: %s", strcmp(configured, "-") ? configured : "stdout");
  return 0;
}

/*
 * ztna: the operator's command: certificates, the status of a local
 * daemon, and pings through the agent. The daemons are ztna-intermediate, ztna-connector and ztna-agent.
 */
#include <stdio.h>
#include <string.h>

#include "cert_cmd.h"
#include "status_cmd.h"
#include "netcheck_cmd.h"
#include "ping_cmd.h"
#include "reload_cmd.h"

#ifndef ZTNA_VERSION
#define ZTNA_VERSION "unknown"
#endif

static const char usage[] =
    "usage: ztna <command> [args]\n"
    "  ca init --dir DIR [--name CN] [--days N] [--force]\n"
    "                      create the deployment CA (DIR/ca.pem, DIR/ca.key)\n"
    "  cert issue --ca-dir DIR --role ROLE --name NAME [--out PREFIX] ...\n"
    "                      issue a certificate for an intermediate, connector "
    "or agent\n"
    "  cert show FILE      print a certificate's identity and validity\n"
    "  cert revoke --ca-dir DIR CERT [--reason R]   revoke; writes DIR/crl.pem\n"
    "  crl show [--ca CA] FILE   print a CRL's revoked serials\n"
    "  cert verify --ca CA FILE\n"
    "                      check that FILE was issued by CA\n"
    "  status [--json] [--socket PATH | --daemon NAME]\n"
    "                      a local daemon's uplink, sessions and counters\n"
    "  reload [--socket PATH]\n"
    "                      make ztna-intermediate re-read its policy\n"
    "  ping [--control-socket PATH] [-c COUNT] [-i INTERVAL] [--json]\n"
    "       [--until-direct] TARGET\n"
    "                      probe a service's connector through the agent: "
    "RTT, direct\n"
    "                      or relay\n"
    "  netcheck --intermediate HOST:PORT [--stun-port P] [--json] "
    "[--timeout MS]\n"
    "                      the address a NAT gives us, and whether a direct "
    "path is likely\n"
    "  version             print the version\n"
    "Run 'ztna ca --help', 'ztna cert --help', 'ztna status --help' or\n"
    "'ztna ping --help' for details.\n";

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(usage, stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "ca"))
    return zt_cmd_ca(argc - 2, argv + 2);
  if (!strcmp(cmd, "cert"))
    return zt_cmd_cert(argc - 2, argv + 2);
  if (!strcmp(cmd, "crl"))
    return zt_cmd_crl(argc - 2, argv + 2);
  if (!strcmp(cmd, "status"))
    return zt_cmd_status(argc - 2, argv + 2);
  if (!strcmp(cmd, "ping"))
    return zt_cmd_ping(argc - 2, argv + 2);
  if (!strcmp(cmd, "reload"))
    return zt_cmd_reload(argc - 2, argv + 2);
  if (!strcmp(cmd, "netcheck"))
    return zt_cmd_netcheck(argc - 2, argv + 2);
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
    printf("ztna %s\n", ZTNA_VERSION);
    return 0;
  }
  if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
    fputs(usage, stdout);
    return 0;
  }
  fprintf(stderr, "ztna: unknown command '%s'\n", cmd);
  fputs(usage, stderr);
  return 2;
}

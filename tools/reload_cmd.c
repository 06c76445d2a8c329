/*
 * `ztna reload [--socket PATH]`: sends "reload" to the Intermediate's
 * control socket (platform/ctlsock.h) and prints its one-line answer: the
 * same as SIGHUP, with the outcome to see. Exit 0 when the new policy is
 * in force, 1 when the daemon kept the old one (the answer says why).
 */
#include "reload_cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlclient.h"
#include "ctlsock.h"

static const char usage[] =
    "usage: ztna reload [--socket PATH]\n"
    "  Makes ztna-intermediate re-read its configuration's policy and CRL;\n"
    "  sessions that lose their grant, and revoked peers, are closed. A broken\n"
    "  file changes nothing. On a connector's or agent's socket: its CRL.\n"
    "      --socket PATH    its control socket (default "
    ZT_CTLSOCK_DIR "/intermediate.sock)\n";

int zt_cmd_reload(int argc, char **argv) {
  static const struct option opts[] = {
      {"socket", required_argument, NULL, 's'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *path = ZT_CTLSOCK_DIR "/intermediate.sock";
  char err[512], *out;
  size_t outlen;
  int ch;
  optind = 1; /* argv[-1] is "reload": getopt starts after it */
  while ((ch = getopt_long(argc + 1, argv - 1, "h", opts, NULL)) != -1) {
    if (ch == 's') {
      path = optarg;
    } else if (ch == 'h') {
      fputs(usage, stdout);
      return 0;
    } else {
      fputs(usage, stderr);
      return 2;
    }
  }
  if (optind < argc + 1) {
    fprintf(stderr, "ztna reload: unexpected argument '%s'\n",
            argv[optind - 1]);
    return 2;
  }
  if (zt_ctl_ask(path, "reload\n", ZT_CTLSOCK_DEADLINE_MS, 4096, NULL, &out,
                 &outlen, err, sizeof(err)) != 0) {
    fprintf(stderr, "ztna reload: %s\n", err);
    return 1;
  }
  fputs(out, strncmp(out, "ok:", 3) == 0 ? stdout : stderr);
  int rv = strncmp(out, "ok:", 3) == 0 ? 0 : 1;
  free(out);
  return rv;
}

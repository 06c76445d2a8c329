/* `ztna ping`: probes a service's connector through the local agent
 * (docs/status.md, "ztna ping"). */
#ifndef ZTNA_PING_CMD_H
#define ZTNA_PING_CMD_H

#include <stdbool.h>
#include <stddef.h>

int zt_cmd_ping(int argc, char **argv);

/* ---- exposed for tests ---- */

struct zt_ping_opts {
  const char *path;   /* the agent's control socket */
  long count;         /* probes; 0: until interrupted */
  double interval;    /* seconds between probes, >= 0.01 */
  bool json;          /* the agent's JSON lines, unchanged */
  bool until_direct;  /* stop at the first pong that went direct */
  const char *target; /* service name or address */
};

/* Parses zt_cmd_ping's arguments (argv[-1] must be readable: the
 * command's name, for getopt). 0: run; 1: --help was printed; 2: usage
 * error (said on stderr). */
int zt_ping_parse(int argc, char **argv, struct zt_ping_opts *o);

enum zt_ping_kind {
  ZT_PING_DIRECT, /* a pong, over the direct path */
  ZT_PING_RELAY,  /* a pong, through the relay */
  ZT_PING_ERROR,  /* this probe failed (timeout, unknown service, ...) */
  ZT_PING_FATAL,  /* the request failed (no ping here, bad answer): stop */
};

/* One reply of the agent as the line a person reads (no newline). */
enum zt_ping_kind zt_ping_format(const char *reply, size_t len, char *line,
                                 size_t linelen);

#endif

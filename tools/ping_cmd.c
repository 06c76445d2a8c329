/*
 * `ztna ping [--control-socket PATH] [-c COUNT] [-i INTERVAL] [--json]
 * [--until-direct] TARGET`: like `tailscale ping`. Each probe is one
 * request "ping TARGET" on the agent's control socket; the agent sends an
 * authenticated probe through the end-to-end session to the connector
 * serving TARGET and answers, when the pong comes back or the probe times
 * out, with one JSON object: the peer, the path (direct or relay) and the
 * RTT. Output and exit status: docs/status.md, "ztna ping".
 */
#include "ping_cmd.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctlclient.h"
#include "ctlsock.h"
#include "json.h"
#include "jsonw.h"

static const char usage[] =
    "usage: ztna ping [--control-socket PATH] [-c COUNT] [-i INTERVAL] "
    "[--json]\n"
    "                 [--until-direct] TARGET\n"
    "  Sends authenticated probes through the local agent's end-to-end\n"
    "  session to the connector serving TARGET (a service name or address)\n"
    "  and prints, per reply, the RTT and whether it went direct or\n"
    "  through the relay.\n"
    "  -c, --count COUNT          probes to send (default 5; 0: until "
    "interrupted)\n"
    "  -i, --interval SECONDS     between probes (default 1, at least "
    "0.01)\n"
    "      --until-direct         stop at the first pong over the direct "
    "path\n"
    "      --json                 the agent's JSON, one line per probe\n"
    "      --control-socket PATH  the agent's control socket (default "
    ZT_CTLSOCK_DIR "/agent.sock)\n"
    "Exit status: 0 at least one pong, 1 none (or the agent cannot be\n"
    "reached), 2 usage error. The socket is root's: run as root.\n";

/* A reply is one line; a little room over the request's own bound. */
#define REPLY_MAX 8192
/* The agent answers within ZT_PING_TIMEOUT_MS (1 s) and the control
 * socket closes a client after ZT_CTLSOCK_DEADLINE_MS: wait a bit longer
 * than that. */
#define WAIT_MS (ZT_CTLSOCK_DEADLINE_MS + 3000)


int zt_ping_parse(int argc, char **argv, struct zt_ping_opts *o) {
  static const struct option opts[] = {
      {"control-socket", required_argument, NULL, 's'},
      {"socket", required_argument, NULL, 's'}, /* as `ztna status` */
      {"count", required_argument, NULL, 'c'},
      {"interval", required_argument, NULL, 'i'},
      {"json", no_argument, NULL, 'j'},
      {"until-direct", no_argument, NULL, 'u'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  *o = (struct zt_ping_opts){.path = ZT_CTLSOCK_DIR "/agent.sock",
                             .count = 5,
                             .interval = 1.0};
  int ch;
  char *end;
  optind = 0; /* a fresh scan, also on a second call */
  /* argv[-1] is "ping": getopt starts after it. */
  while ((ch = getopt_long(argc + 1, argv - 1, "c:i:h", opts, NULL)) !=
         -1) {
    switch (ch) {
    case 's': o->path = optarg; break;
    case 'j': o->json = true; break;
    case 'u': o->until_direct = true; break;
    case 'c':
      errno = 0;
      o->count = strtol(optarg, &end, 10);
      if (errno || end == optarg || *end || o->count < 0 ||
          o->count > 1000000000) {
        fprintf(stderr, "ztna ping: -c: a count from 0 (until interrupted) "
                        "up, not '%s'\n", optarg);
        return 2;
      }
      break;
    case 'i':
      o->interval = strtod(optarg, &end);
      if (end == optarg || *end || !isfinite(o->interval) ||
          o->interval < 0.01 || o->interval > 86400) {
        fprintf(stderr, "ztna ping: -i: seconds from 0.01 to 86400, not "
                        "'%s'\n", optarg);
        return 2;
      }
      break;
    case 'h': fputs(usage, stdout); return 1;
    default: fputs(usage, stderr); return 2;
    }
  }
  int rest = argc + 1 - optind;
  if (rest != 1) {
    if (rest)
      fprintf(stderr, "ztna ping: one TARGET, not %d arguments\n", rest);
    else
      fprintf(stderr, "ztna ping: TARGET is missing\n");
    fputs(usage, stderr);
    return 2;
  }
  o->target = argv[optind - 1];
  if (!zt_ctlsock_ping_target_ok(o->target)) {
    fprintf(stderr, "ztna ping: TARGET: a service name or address, 1 to 63 "
                    "printable characters without spaces\n");
    return 2;
  }
  if (!o->path[0]) {
    fprintf(stderr, "ztna ping: --control-socket: an empty path\n");
    return 2;
  }
  return 0;
}

static const char *str(const struct zt_json *o, const char *k) {
  const struct zt_json *v = zt_json_get(o, k);
  return v && v->type == ZT_JSON_STRING ? v->str : NULL;
}

/* "0.41 ms", "40.2 ms", "153 ms": about three significant digits. */
static void ms(char *b, size_t n, double us) {
  double v = us / 1000.0;
  snprintf(b, n, v < 10 ? "%.2f ms" : v < 100 ? "%.1f ms" : "%.0f ms", v);
}

enum zt_ping_kind zt_ping_format(const char *reply, size_t len, char *line,
                                 size_t linelen) {
  char err[256], rtt[32];
  while (len && (reply[len - 1] == '\n' || reply[len - 1] == '\r'))
    len--;
  if (len >= 6 && !strncmp(reply, "error:", 6)) { /* a text answer */
    snprintf(line, linelen, "%.*s", (int)len, reply);
    return ZT_PING_FATAL;
  }
  struct zt_json *j = zt_json_parse(reply, len, err, sizeof(err));
  if (!j || j->type != ZT_JSON_OBJECT) {
    snprintf(line, linelen, "the agent's answer is not a ping result: %s",
             j ? "not an object" : err);
    zt_json_free(j);
    return ZT_PING_FATAL;
  }
  const char *target = str(j, "target"), *error = str(j, "error");
  const struct zt_json *us = zt_json_get(j, "rtt_us");
  enum zt_ping_kind k;
  if (error) {
    /* Without a target the request itself failed (not an agent, a bad
     * request): more probes would fail the same way. */
    snprintf(line, linelen, "%s", error);
    k = target ? ZT_PING_ERROR : ZT_PING_FATAL;
  } else if (us && us->type == ZT_JSON_NUMBER && us->is_int &&
             us->integer >= 0 && str(j, "path")) {
    const char *peer = str(j, "peer"), *addr = str(j, "address");
    const char *path = str(j, "path"), *remote = str(j, "remote");
    bool direct = !strcmp(path, "direct");
    ms(rtt, sizeof(rtt), (double)us->integer);
    snprintf(line, linelen, "pong from %s%s%s%s via %s%s%s in %s",
             peer ? peer : target ? target : "?", addr ? " (" : "",
             addr ? addr : "", addr ? ")" : "", path,
             direct && remote ? " " : "", direct && remote ? remote : "",
             rtt);
    k = direct ? ZT_PING_DIRECT : ZT_PING_RELAY;
  } else {
    snprintf(line, linelen, "the agent's answer is not a ping result: no "
                            "error and no rtt_us/path");
    k = ZT_PING_FATAL;
  }
  zt_json_free(j);
  return k;
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
}

/* {"target":T,"error":E}, for --json when the agent said nothing. */
static void print_json_error(const char *target, const char *error) {
  char buf[512];
  struct zt_strbuf sb;
  struct zt_jsonw w;
  zt_strbuf_init(&sb, buf, sizeof(buf));
  zt_jsonw_init(&w, &sb);
  zt_jsonw_begin_object(&w, NULL);
  zt_jsonw_str(&w, "target", target);
  zt_jsonw_str(&w, "error", error);
  zt_jsonw_end_object(&w);
  printf("%s\n", buf);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps until the monotonic time `until` or an interrupt. */
static void sleep_until(double until) {
  while (!interrupted) {
    double left = until - now_s();
    if (left <= 0)
      return;
    struct timespec ts = {(time_t)left,
                          (long)((left - (double)(time_t)left) * 1e9)};
    nanosleep(&ts, NULL);
  }
}

/* One probe: 0 a pong (*direct set), 1 no pong, -1 stop. */
static int probe(const struct zt_ping_opts *o, const char *req, bool *direct) {
  char err[512], line[512];
  char *reply;
  size_t len;
  if (zt_ctl_ask(o->path, req, WAIT_MS, REPLY_MAX, &interrupted, &reply,
                 &len, err, sizeof(err)) != 0) {
    if (!interrupted)
      fprintf(stderr, "ztna ping: %s\n", err);
    return -1;
  }
  if (len == 0) { /* closed at the control socket's deadline */
    const char *e = "no reply from the agent in time";
    if (o->json)
      print_json_error(o->target, e);
    else
      printf("%s\n", e);
    free(reply);
    return 1;
  }
  enum zt_ping_kind k = zt_ping_format(reply, len, line, sizeof(line));
  if (o->json && reply[0] == '{')
    printf("%s%s", reply, reply[len - 1] == '\n' ? "" : "\n");
  else if (!o->json && k != ZT_PING_FATAL)
    printf("%s\n", line);
  free(reply);
  fflush(stdout);
  if (k == ZT_PING_FATAL) {
    fprintf(stderr, "ztna ping: %s: %s\n", o->path, line);
    return -1;
  }
  *direct = k == ZT_PING_DIRECT;
  return k == ZT_PING_ERROR ? 1 : 0;
}

int zt_cmd_ping(int argc, char **argv) {
  struct zt_ping_opts o;
  int rv = zt_ping_parse(argc, argv, &o);
  if (rv)
    return rv == 1 ? 0 : 2;
  char req[ZT_CTLSOCK_REQUEST_MAX];
  snprintf(req, sizeof(req), "ping %s\n", o.target);

  /* Ctrl-C ends the run between or during probes, with the exit status
   * of what arrived so far. */
  struct sigaction sa = {.sa_handler = on_sigint}, old_int, old_term;
  sigemptyset(&sa.sa_mask);
  interrupted = 0;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  long pongs = 0;
  double next = now_s();
  for (long i = 0; (o.count == 0 || i < o.count) && !interrupted; i++) {
    if (i > 0)
      sleep_until(next);
    if (interrupted)
      break;
    next = now_s() + o.interval;
    bool direct = false;
    int r = probe(&o, req, &direct);
    if (r < 0)
      break;
    if (r == 0) {
      pongs++;
      if (o.until_direct && direct)
        break;
    }
  }
  fflush(stdout);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  return pongs > 0 ? 0 : 1;
}

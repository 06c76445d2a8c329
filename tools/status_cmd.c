/*
 * `ztna status [--json] [--socket PATH] [--daemon NAME]`: connects to a
 * daemon's control socket (platform/ctlsock.h), asks "status json" and
 * prints it: unchanged with --json (the documented, stable format of
 * docs/status.md), else as aligned tables for a person.
 */
#include "status_cmd.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctlclient.h"
#include "ctlsock.h"
#include "json.h"

static const char usage[] =
    "usage: ztna status [--json] [--socket PATH | --daemon NAME]\n"
    "  Shows a local daemon's uplink, sessions (peer, path, address, RTT,\n"
    "  traffic, drops, path switches) and counters.\n"
    "      --json           the daemon's JSON, unchanged (docs/status.md)\n"
    "      --socket PATH    its control socket\n"
    "      --daemon NAME    agent, connector or intermediate: "
    ZT_CTLSOCK_DIR "/NAME.sock\n"
    "  Default: the first of " ZT_CTLSOCK_DIR "/agent.sock, connector.sock,\n"
    "  intermediate.sock that exists. The sockets are root's: run as root.\n";

#define REPLY_MAX (ZT_CTLSOCK_REPLY_MAX + 1024)
#define COLS 12
#define ROWS 512
#define CELL 64

/* ---- a table printed with aligned columns ---- */

struct table {
  int ncols, nrows;
  char cell[ROWS][COLS][CELL];
};

static void row(struct table *t, const char *const *v) {
  if (t->nrows >= ROWS)
    return;
  for (int i = 0; i < t->ncols; i++)
    snprintf(t->cell[t->nrows][i], CELL, "%s", v[i] ? v[i] : "-");
  t->nrows++;
}

static void print_table(const struct table *t) {
  int w[COLS] = {0};
  for (int r = 0; r < t->nrows; r++)
    for (int c = 0; c < t->ncols; c++) {
      int l = (int)strlen(t->cell[r][c]);
      if (l > w[c])
        w[c] = l;
    }
  for (int r = 0; r < t->nrows; r++) {
    for (int c = 0; c + 1 < t->ncols; c++)
      printf("%-*s  ", w[c], t->cell[r][c]);
    printf("%s", t->cell[r][t->ncols - 1]);
    printf("\n");
  }
}

/* ---- reading the JSON ---- */

static const char *str(const struct zt_json *o, const char *k) {
  const struct zt_json *v = zt_json_get(o, k);
  return v && v->type == ZT_JSON_STRING ? v->str : NULL;
}

static uint64_t num(const struct zt_json *o, const char *k) {
  const struct zt_json *v = zt_json_get(o, k);
  return v && v->type == ZT_JSON_NUMBER && v->is_int && v->integer >= 0
             ? (uint64_t)v->integer
             : 0;
}

static const char *u64s(char *b, uint64_t v) {
  snprintf(b, CELL, "%" PRIu64, v);
  return b;
}

static const char *rtt(char *b, uint64_t us) {
  if (!us)
    return "-";
  snprintf(b, CELL, "%.2f ms", (double)us / 1000.0);
  return b;
}

static uint64_t drops(const struct zt_json *s) {
  const struct zt_json *d = zt_json_get(s, "drops");
  uint64_t sum = 0;
  for (size_t i = 0; d && d->type == ZT_JSON_OBJECT && i < d->n; i++)
    if (d->items[i].type == ZT_JSON_NUMBER && d->items[i].is_int)
      sum += (uint64_t)d->items[i].integer;
  return sum;
}

/* "2027-03-01T12:00:00Z", with " (expires soon!)" within 30 days; NULL
 * when the status has no date. */
static const char *cert_cell(char *b, const struct zt_json *o) {
  const struct zt_json *soon = zt_json_get(o, "cert_expiring_soon");
  if (!str(o, "cert_not_after"))
    return NULL;
  snprintf(b, CELL, "%s%s", str(o, "cert_not_after"),
           soon && soon->type == ZT_JSON_BOOL && soon->boolean
               ? " (expires soon!)"
               : "");
  return b;
}

static void print_uplink(const struct zt_json *u) {
  char b[CELL];
  if (!u)
    return;
  printf("uplink: %s, intermediate %s at %s, observed %s, rtt %s",
         str(u, "state") ? str(u, "state") : "?",
         str(u, "intermediate") ? str(u, "intermediate") : "?",
         str(u, "address") ? str(u, "address") : "-",
         str(u, "observed") ? str(u, "observed") : "-",
         rtt(b, num(u, "rtt_us")));
  if (str(u, "tunnel_address"))
    printf(", tunnel address %s", str(u, "tunnel_address"));
  if (cert_cell(b, u))
    printf(", its certificate until %s", b);
  printf("\n");
}

/* The agent's network changes (counters.roaming), once there was one. */
static void print_roaming(const struct zt_json *counters) {
  const struct zt_json *r = counters ? zt_json_get(counters, "roaming") : NULL;
  if (!r || r->type != ZT_JSON_OBJECT || !num(r, "changes"))
    return;
  printf("roaming: %" PRIu64 " network change(s): %" PRIu64
         " migration(s), %" PRIu64 " revalidation(s), %" PRIu64 " redial(s)",
         num(r, "changes"), num(r, "migrations"), num(r, "revalidations"),
         num(r, "redials"));
  const struct zt_json *l = zt_json_get(r, "last_change");
  if (l && l->type == ZT_JSON_OBJECT && str(l, "what") && str(l, "action"))
    printf("; last %" PRIu64 " ms ago: %s -> %s", num(l, "ago_ms"),
           str(l, "what"), str(l, "action"));
  printf("\n");
}

static void print_sessions(const struct zt_json *ss) {
  static struct table t;
  char b[9][CELL];
  t.ncols = 11;
  t.nrows = 0;
  row(&t, (const char *const[]){"PEER", "STATE", "PATH", "REMOTE", "RTT",
                                "TX PKTS", "TX BYTES", "RX PKTS", "RX BYTES",
                                "DROPS", "SWITCHES"});
  for (size_t i = 0; ss && ss->type == ZT_JSON_ARRAY && i < ss->n; i++) {
    const struct zt_json *s = &ss->items[i];
    const struct zt_json *tx = zt_json_get(s, "tx"), *rx = zt_json_get(s, "rx");
    const char *reason = str(s, "last_switch_reason");
    snprintf(b[8], CELL, "%" PRIu64 "%s%s%s", num(s, "path_switches"),
             reason && reason[0] ? " (" : "", reason ? reason : "",
             reason && reason[0] ? ")" : "");
    row(&t, (const char *const[]){
                str(s, "peer"), str(s, "state"), str(s, "path"),
                str(s, "remote"), rtt(b[0], num(s, "rtt_us")),
                u64s(b[1], num(tx, "packets")), u64s(b[2], num(tx, "bytes")),
                u64s(b[3], num(rx, "packets")), u64s(b[4], num(rx, "bytes")),
                u64s(b[5], drops(s)), b[8]});
  }
  if (t.nrows == 1)
    printf("no sessions\n");
  else
    print_table(&t);
}

/* The Intermediate's "connectors" of a service (docs/status.md): each
 * with its state, "conn-a online, conn-b silent". NULL when absent. */
static const char *connectors_cell(char *buf, const struct zt_json *s) {
  const struct zt_json *cs = zt_json_get(s, "connectors");
  size_t off = 0;
  if (!cs || cs->type != ZT_JSON_ARRAY || cs->n == 0)
    return NULL;
  buf[0] = 0;
  for (size_t i = 0; i < cs->n && off < CELL; i++) {
    const char *n = str(&cs->items[i], "name"), *st = str(&cs->items[i], "state");
    int w = snprintf(buf + off, CELL - off, "%s%s %s", i ? ", " : "",
                     n ? n : "?", st ? st : "?");
    off += w > 0 ? (size_t)w : 0;
  }
  return buf;
}

static void print_services(const struct zt_json *sv) {
  static struct table t;
  char cb[CELL];
  t.ncols = 4;
  t.nrows = 0;
  row(&t, (const char *const[]){"SERVICE", "ADDRESS", "CONNECTOR/BACKEND",
                                "ONLINE"});
  for (size_t i = 0; sv && sv->type == ZT_JSON_ARRAY && i < sv->n; i++) {
    const struct zt_json *s = &sv->items[i];
    const struct zt_json *on = zt_json_get(s, "online");
    row(&t, (const char *const[]){
                str(s, "name"), str(s, "address"),
                connectors_cell(cb, s)  ? cb
                : str(s, "connector") ? str(s, "connector")
                                      : str(s, "backend"),
                on && on->type == ZT_JSON_BOOL ? (on->boolean ? "yes" : "no")
                                               : "-"});
  }
  if (t.nrows > 1)
    print_table(&t);
}

static void print_intermediate(const struct zt_json *j) {
  static struct table t;
  char b[3][CELL];
  const struct zt_json *ps = zt_json_get(j, "peers");
  t.ncols = 7;
  t.nrows = 0;
  row(&t, (const char *const[]){"PEER", "ROLE", "STATE", "OBSERVED",
                                "TUNNEL", "RTT", "CERT UNTIL"});
  for (size_t i = 0; ps && ps->type == ZT_JSON_ARRAY && i < ps->n; i++) {
    const struct zt_json *p = &ps->items[i];
    row(&t, (const char *const[]){str(p, "name"), str(p, "role"),
                                  str(p, "state"), str(p, "observed"),
                                  str(p, "tunnel_address"),
                                  rtt(b[0], num(p, "rtt_us")),
                                  cert_cell(b[2], p)});
  }
  print_table(&t);
  printf("\n");
  print_services(zt_json_get(j, "services"));
  printf("\n");
  const struct zt_json *ss = zt_json_get(j, "sessions");
  t.ncols = 4;
  t.nrows = 0;
  row(&t, (const char *const[]){"CHANNEL", "AGENT", "CONNECTOR", "PATH"});
  for (size_t i = 0; ss && ss->type == ZT_JSON_ARRAY && i < ss->n; i++) {
    const struct zt_json *s = &ss->items[i];
    row(&t, (const char *const[]){u64s(b[1], num(s, "channel")),
                                  str(s, "agent"), str(s, "connector"),
                                  str(s, "path")});
  }
  printf("%zu session(s), %" PRIu64 " direct\n",
         ss && ss->type == ZT_JSON_ARRAY ? ss->n : 0,
         num(j, "direct_sessions"));
  if (t.nrows > 1)
    print_table(&t);
}

static int print_human(const char *text, size_t len) {
  char err[256];
  struct zt_json *j = zt_json_parse(text, len, err, sizeof(err));
  if (!j || j->type != ZT_JSON_OBJECT) {
    fprintf(stderr, "ztna status: the daemon's answer is not a status: %s\n",
            j ? "not an object" : err);
    zt_json_free(j);
    return 1;
  }
  const char *daemon = str(j, "daemon");
  char cb[CELL];
  printf("%s %s", daemon ? daemon : "?",
         str(j, "identity") ? str(j, "identity") : "?");
  if (cert_cell(cb, j))
    printf(", certificate until %s", cb);
  if (str(j, "cert_serial"))
    printf(" (serial %s)", str(j, "cert_serial"));
  printf("\n");
  if (daemon && !strcmp(daemon, "intermediate")) {
    print_intermediate(j);
  } else {
    print_uplink(zt_json_get(j, "uplink"));
    print_roaming(zt_json_get(j, "counters"));
    printf("\n");
    print_sessions(zt_json_get(j, "sessions"));
    const struct zt_json *sv = zt_json_get(j, "services");
    if (sv && sv->n) {
      printf("\n");
      print_services(sv);
    }
  }
  zt_json_free(j);
  return 0;
}

/* ---- the socket ---- */

static const char *const daemons[] = {"agent", "connector", "intermediate"};

static int ask(const char *path, const char *req, char **out, size_t *outlen) {
  char err[512];
  if (zt_ctl_ask(path, req, 5000, REPLY_MAX, NULL, out, outlen, err,
                 sizeof(err)) != 0) {
    fprintf(stderr, "ztna status: %s\n", err);
    return -1;
  }
  return 0;
}

int zt_cmd_status(int argc, char **argv) {
  static const struct option opts[] = {
      {"json", no_argument, NULL, 'j'},
      {"socket", required_argument, NULL, 's'},
      {"daemon", required_argument, NULL, 'd'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  bool json = false;
  const char *path = NULL;
  char buf[128];
  int ch;
  optind = 1;
  /* argv[0] is "status" here: getopt starts after it. */
  while ((ch = getopt_long(argc + 1, argv - 1, "h", opts, NULL)) != -1) {
    switch (ch) {
    case 'j': json = true; break;
    case 's': path = optarg; break;
    case 'd': {
      bool ok = false;
      for (size_t i = 0; i < 3; i++)
        ok |= !strcmp(optarg, daemons[i]);
      if (!ok) {
        fprintf(stderr, "ztna status: --daemon: agent, connector or "
                        "intermediate, not '%s'\n", optarg);
        return 2;
      }
      snprintf(buf, sizeof(buf), "%s/%s.sock", ZT_CTLSOCK_DIR, optarg);
      path = buf;
      break;
    }
    case 'h': fputs(usage, stdout); return 0;
    default: fputs(usage, stderr); return 2;
    }
  }
  if (optind < argc + 1) {
    fprintf(stderr, "ztna status: unexpected argument '%s'\n",
            argv[optind - 1]);
    fputs(usage, stderr);
    return 2;
  }
  if (!path) {
    for (size_t i = 0; i < 3 && !path; i++) {
      snprintf(buf, sizeof(buf), "%s/%s.sock", ZT_CTLSOCK_DIR, daemons[i]);
      if (access(buf, F_OK) == 0)
        path = buf;
    }
    if (!path)
      snprintf(buf, sizeof(buf), "%s/agent.sock", ZT_CTLSOCK_DIR), path = buf;
  }
  char *reply;
  size_t len;
  if (ask(path, "status json\n", &reply, &len) != 0)
    return 1;
  int rv = 0;
  if (!strncmp(reply, "error:", 6)) {
    fprintf(stderr, "ztna status: %s: %s", path, reply);
    rv = 1;
  } else if (json) {
    fwrite(reply, 1, len, stdout);
  } else {
    rv = print_human(reply, len);
  }
  free(reply);
  return rv;
}

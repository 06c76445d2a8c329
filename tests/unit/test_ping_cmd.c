/* `ztna ping`, called as a function (no shell): argument parsing, the
 * lines printed for each kind of reply, and end to end against a fake
 * agent: a child process serving the real driver's control socket
 * (platform/driver.c) with a ping hook that answers from the event loop
 * like the agent does. Output is captured to check it. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../tools/ping_cmd.h"
#include "clock.h"
#include "ctlsock.h"
#include "driver.h"
#include "file.h"
#include "loop.h"
#include "test.h"

static char dir[64], sock[96], nosock[96];
static char out[8192], errout[8192]; /* the last command's stdout, stderr */

static void slurp(const char *path, char *buf, size_t len) {
  char err[256];
  char *text = zt_file_read(path, len - 1, NULL, err, sizeof(err));
  snprintf(buf, len, "%s", text ? text : "");
  free(text);
  unlink(path);
}

/* Runs zt_cmd_ping(argv) (argv[0] is "ping") with stdout and stderr
 * captured into out and errout. */
static int run(char **argv) {
  int argc = 0;
  while (argv[argc + 1])
    argc++;
  char po[128], pe[128];
  snprintf(po, sizeof(po), "%s/stdout", dir);
  snprintf(pe, sizeof(pe), "%s/stderr", dir);
  fflush(stdout);
  fflush(stderr);
  int saved_out = dup(1), saved_err = dup(2);
  int fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(fo, 1);
  dup2(fe, 2);
  close(fo);
  close(fe);
  int rv = zt_cmd_ping(argc, argv + 1);
  fflush(stdout);
  fflush(stderr);
  dup2(saved_out, 1);
  dup2(saved_err, 2);
  close(saved_out);
  close(saved_err);
  slurp(po, out, sizeof(out));
  slurp(pe, errout, sizeof(errout));
  return rv;
}

static int parse(char **argv, struct zt_ping_opts *o) {
  int argc = 0;
  while (argv[argc + 1])
    argc++;
  fflush(stdout);
  fflush(stderr);
  int saved_out = dup(1), saved_err = dup(2);
  int null = open("/dev/null", O_WRONLY);
  dup2(null, 1);
  dup2(null, 2);
  close(null);
  int rv = zt_ping_parse(argc, argv + 1, o);
  fflush(stdout);
  fflush(stderr);
  dup2(saved_out, 1);
  dup2(saved_err, 2);
  close(saved_out);
  close(saved_err);
  return rv;
}

#define ARGV(...) ((char *[]){"ping", __VA_ARGS__, NULL})

static void test_parse(void) {
  struct zt_ping_opts o;
  CHECK_EQ_INT(parse(ARGV("web"), &o), 0);
  CHECK_STR(o.target, "web");
  CHECK_STR(o.path, "/run/ztna/agent.sock");
  CHECK_EQ_INT(o.count, 5);
  CHECK(o.interval == 1.0);
  CHECK(!o.json && !o.until_direct);

  CHECK_EQ_INT(parse(ARGV("-c", "3", "-i", "0.5", "--json", "--until-direct",
                          "--control-socket", "/x/a.sock", "10.100.0.1"),
                     &o),
               0);
  CHECK_STR(o.target, "10.100.0.1");
  CHECK_STR(o.path, "/x/a.sock");
  CHECK_EQ_INT(o.count, 3);
  CHECK(o.interval == 0.5);
  CHECK(o.json && o.until_direct);
  /* Options after the target, long forms, 0 = until interrupted. */
  CHECK_EQ_INT(parse(ARGV("web", "--count", "0", "--interval", "0.01",
                          "--socket", "/y.sock"),
                     &o),
               0);
  CHECK_EQ_INT(o.count, 0);
  CHECK_STR(o.path, "/y.sock");

  CHECK_EQ_INT(parse(ARGV("--help"), &o), 1);
  char t63[64], t64[65];
  memset(t63, 'a', 63), t63[63] = 0;
  memset(t64, 'a', 64), t64[64] = 0;
  CHECK_EQ_INT(parse(ARGV(t63), &o), 0);
  /* Usage errors: 2. */
  CHECK_EQ_INT(parse((char *[]){"ping", NULL}, &o), 2);
  CHECK_EQ_INT(parse(ARGV("a", "b"), &o), 2);
  CHECK_EQ_INT(parse(ARGV(t64), &o), 2);
  CHECK_EQ_INT(parse(ARGV("we b"), &o), 2);
  CHECK_EQ_INT(parse(ARGV(""), &o), 2);
  CHECK_EQ_INT(parse(ARGV("-c", "-1", "web"), &o), 2);
  CHECK_EQ_INT(parse(ARGV("-c", "2x", "web"), &o), 2);
  CHECK_EQ_INT(parse(ARGV("-i", "0.001", "web"), &o), 2);
  CHECK_EQ_INT(parse(ARGV("-i", "nan", "web"), &o), 2);
  CHECK_EQ_INT(parse(ARGV("-i", "x", "web"), &o), 2);
  CHECK_EQ_INT(parse(ARGV("--bogus", "web"), &o), 2);
  CHECK_EQ_INT(parse(ARGV("-c"), &o), 2);
  CHECK_EQ_INT(parse(ARGV("--control-socket", "", "web"), &o), 2);
}

static enum zt_ping_kind fmt(const char *reply, char *line) {
  return zt_ping_format(reply, strlen(reply), line, 256);
}

static void test_format(void) {
  char line[256];
  CHECK_EQ_INT(fmt("{\"target\":\"web\",\"peer\":\"connector-1\",\"address\":"
                   "\"10.100.0.1\",\"path\":\"direct\",\"remote\":"
                   "\"192.0.2.7:4434\",\"rtt_us\":412}\n",
                   line),
               ZT_PING_DIRECT);
  CHECK_STR(line, "pong from connector-1 (10.100.0.1) via direct "
                  "192.0.2.7:4434 in 0.41 ms");
  CHECK_EQ_INT(fmt("{\"target\":\"web\",\"peer\":\"connector-1\",\"address\":"
                   "\"10.100.0.1\",\"path\":\"relay\",\"remote\":"
                   "\"198.51.100.1:4433\",\"rtt_us\":40213}",
                   line),
               ZT_PING_RELAY);
  CHECK_STR(line, "pong from connector-1 (10.100.0.1) via relay in 40.2 ms");
  CHECK_EQ_INT(fmt("{\"target\":\"web\",\"path\":\"relay\",\"rtt_us\":"
                   "153400,\"future\":[1]}",
                   line),
               ZT_PING_RELAY);
  CHECK_STR(line, "pong from web via relay in 153 ms");
  CHECK_EQ_INT(fmt("{\"target\":\"web\",\"error\":\"timeout\"}\n", line),
               ZT_PING_ERROR);
  CHECK_STR(line, "timeout");
  CHECK_EQ_INT(fmt("{\"target\":\"x\",\"error\":\"no service named 'x'\"}",
                   line),
               ZT_PING_ERROR);
  CHECK_STR(line, "no service named 'x'");
  /* Errors of the request itself stop the run. */
  CHECK_EQ_INT(fmt("{\"error\":\"ping is only supported by ztna-agent\"}\n",
                   line),
               ZT_PING_FATAL);
  CHECK_STR(line, "ping is only supported by ztna-agent");
  CHECK_EQ_INT(fmt("error: unknown request (try 'status' or 'status json')\n",
                   line),
               ZT_PING_FATAL);
  CHECK_STR(line, "error: unknown request (try 'status' or 'status json')");
  CHECK_EQ_INT(fmt("{\"target\":\"web\"", line), ZT_PING_FATAL);
  CHECK_CONTAINS(line, "not a ping result");
  CHECK_EQ_INT(fmt("[1]", line), ZT_PING_FATAL);
  CHECK_EQ_INT(fmt("{\"target\":\"web\",\"path\":\"direct\"}", line),
               ZT_PING_FATAL);
}

/* ---- a fake agent: the real driver and control socket ---- */

static struct zt_io fake_io;
static struct zt_loop *fake_loop;
static struct {
  uint64_t cookie;
  char json[256];
} pending[16];
static size_t npending;
static int flappy_probes;
static struct zt_timer answer_timer;

static uint64_t fake_expiry(void *n) {
  (void)n;
  return UINT64_MAX;
}

/* Like the agent: the result comes from the event loop, never inside
 * zt_agent_ping. */
static void on_answer(struct zt_loop *l, void *ud) {
  (void)l;
  (void)ud;
  for (size_t i = 0; i < npending; i++)
    fake_io.ping_result(fake_io.ud, pending[i].cookie, pending[i].json);
  npending = 0;
}

static int fake_ping(void *node, const char *target, uint64_t cookie,
                     uint64_t now, char *err, size_t errlen) {
  (void)node;
  if (!strcmp(target, "nope")) {
    snprintf(err, errlen, "no service named '%s' (\"quoted\")", target);
    return -1;
  }
  if (!strcmp(target, "slow") || npending == 16)
    return 0; /* never answered: the control socket's deadline */
  const char *path = "direct";
  if (!strcmp(target, "flappy"))
    path = ++flappy_probes < 3 ? "relay" : "direct";
  pending[npending].cookie = cookie;
  if (!strcmp(target, "lost"))
    snprintf(pending[npending].json, sizeof(pending[0].json),
             "{\"target\":\"%s\",\"error\":\"timeout\"}", target);
  else
    snprintf(pending[npending].json, sizeof(pending[0].json),
             "{\"target\":\"%s\",\"peer\":\"connector-1\",\"address\":"
             "\"10.100.0.1\",\"path\":\"%s\",\"remote\":\"192.0.2.7:4434\","
             "\"rtt_us\":412}",
             target, path);
  npending++;
  zt_timer_arm(fake_loop, &answer_timer, now + 1000000);
  return 0;
}

/* A child serving path until SIGTERM; with_ping false: like a connector. */
static pid_t serve(const char *path, bool with_ping) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid != 0)
    return pid;
  /* A failed check leaves the child behind: it goes with its parent. */
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  struct zt_driver d = {0};
  d.loop = fake_loop = zt_loop_new();
  if (!d.loop)
    _exit(1);
  zt_driver_io(&d, &fake_io);
  d.expiry = fake_expiry;
  d.ping = with_ping ? fake_ping : NULL;
  d.ctl_path = path;
  d.ctl_required = true;
  zt_timer_init(&answer_timer, on_answer, NULL);
  if (zt_driver_open_ctl(&d) != 0)
    _exit(1);
  zt_loop_run(d.loop); /* SIGTERM stops it */
  zt_ctlsock_close(d.ctl);
  zt_loop_free(d.loop);
  _exit(0);
}

static bool wait_for(const char *path) {
  for (int i = 0; i < 200; i++) {
    if (access(path, F_OK) == 0)
      return true;
    usleep(10000);
  }
  return false;
}

static void stop(pid_t pid) {
  int st;
  kill(pid, SIGTERM);
  waitpid(pid, &st, 0);
}

static int count_lines(const char *s, const char *needle) {
  int n = 0;
  for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
    n++;
  return n;
}

static void test_end_to_end(void) {
  /* `make ARCH=arm64 unit` (qemu-user): a forked child hangs there. */
  if (getenv("ZT_UNDER_QEMU"))
    SKIP("under %s: a forked child hangs there (qemu 7.2 on this kernel)",
         getenv("ZT_UNDER_QEMU"));
  pid_t pid = serve(sock, true);
  CHECK(pid > 0);
  if (!wait_for(sock)) {
    stop(pid);
    CHECK(!"the fake agent's socket");
  }
  /* Three pongs, direct. */
  int rv = run(ARGV("--control-socket", sock, "-c", "3", "-i", "0.01", "web"));
  CHECK_EQ_INT(rv, 0);
  CHECK_EQ_INT(count_lines(out, "pong from connector-1 (10.100.0.1) via "
                                "direct 192.0.2.7:4434 in 0.41 ms\n"),
               3);
  CHECK_STR(errout, "");
  /* --json: the agent's lines unchanged. */
  rv = run(ARGV("--control-socket", sock, "-c", "2", "-i", "0.01", "--json",
                "web"));
  CHECK_EQ_INT(rv, 0);
  CHECK_EQ_INT(count_lines(out, "{\"target\":\"web\",\"peer\":\"connector-1\""
                                ",\"address\":\"10.100.0.1\",\"path\":"
                                "\"direct\",\"remote\":\"192.0.2.7:4434\","
                                "\"rtt_us\":412}\n"),
               2);
  /* --until-direct: relay, relay, direct, then stop (of up to 10). */
  rv = run(ARGV("--control-socket", sock, "-c", "10", "-i", "0.01",
                "--until-direct", "flappy"));
  CHECK_EQ_INT(rv, 0);
  CHECK_EQ_INT(count_lines(out, "via relay in 0.41 ms\n"), 2);
  CHECK_EQ_INT(count_lines(out, "via direct"), 1);
  CHECK_EQ_INT(count_lines(out, "\n"), 3);
  /* Timeouts: printed, no pong, exit 1. */
  rv = run(ARGV("--control-socket", sock, "-c", "2", "-i", "0.01", "lost"));
  CHECK_EQ_INT(rv, 1);
  CHECK_STR(out, "timeout\ntimeout\n");
  /* The agent cannot start the probe: its error, escaped and parsed. */
  rv = run(ARGV("--control-socket", sock, "-c", "1", "nope"));
  CHECK_EQ_INT(rv, 1);
  CHECK_STR(out, "no service named 'nope' (\"quoted\")\n");
  rv = run(ARGV("--control-socket", sock, "-c", "1", "--json", "nope"));
  CHECK_EQ_INT(rv, 1);
  CHECK_STR(out, "{\"target\":\"nope\",\"error\":\"no service named 'nope' "
                 "(\\\"quoted\\\")\"}\n");
  /* Nobody answers: the control socket closes the client at its
   * deadline; said cleanly. */
  rv = run(ARGV("--control-socket", sock, "-c", "1", "slow"));
  CHECK_EQ_INT(rv, 1);
  CHECK_STR(out, "no reply from the agent in time\n");
  stop(pid);

  /* A daemon without ping (a connector): one clear error, no retries. */
  pid = serve(sock, false);
  CHECK(pid > 0);
  if (!wait_for(sock)) {
    stop(pid);
    CHECK(!"the fake connector's socket");
  }
  rv = run(ARGV("--control-socket", sock, "-c", "3", "-i", "0.01", "web"));
  stop(pid);
  CHECK_EQ_INT(rv, 1);
  CHECK_STR(out, "");
  CHECK_CONTAINS(errout, sock);
  CHECK_CONTAINS(errout, "ping is only supported by ztna-agent");
  CHECK_EQ_INT(count_lines(errout, "\n"), 1);
}

/* No daemon: the path and the reason, exit 1. */
static void test_no_daemon(void) {
  int rv = run(ARGV("--control-socket", nosock, "web"));
  CHECK_EQ_INT(rv, 1);
  CHECK_STR(out, "");
  CHECK_CONTAINS(errout, nosock);
  CHECK_CONTAINS(errout, "No such file or directory");
  CHECK_CONTAINS(errout, "is ztna-agent running?");
  CHECK_EQ_INT(run(ARGV("-c", "x", "web")), 2);
  CHECK_CONTAINS(errout, "-c");
}

int main(void) {
  snprintf(dir, sizeof(dir), "/tmp/ztna-ping.XXXXXX");
  if (!mkdtemp(dir))
    return 1;
  snprintf(sock, sizeof(sock), "%s/agent.sock", dir);
  snprintf(nosock, sizeof(nosock), "%s/none/agent.sock", dir);
  RUN(test_parse);
  RUN(test_format);
  RUN(test_end_to_end);
  RUN(test_no_daemon);
  unlink(sock);
  rmdir(dir);
  return TEST_EXIT();
}

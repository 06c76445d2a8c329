/*
 * SIGUSR1's status (zt_driver_log_status): logged whatever the log level
 * (the operator asked for it), and whole however long it is: a status of
 * hundreds of peers used to be cut at 8 KB without a word.
 */
#include "countertab.h"
#include "driver.h"
#include "log.h"
#include "test.h"

static unsigned lines, status_lines, peer_lines;
static bool saw_last, saw_driver;

static void sink(enum zt_log_level level, const char *line, void *ud) {
  (void)level;
  (void)ud;
  lines++;
  if (strncmp(line, "status: ", 8) != 0)
    return;
  status_lines++;
  peer_lines += !strncmp(line, "status: peer ", 13);
  saw_last = saw_last || !strcmp(line, "status: peer 999 last");
  saw_driver = saw_driver || !strncmp(line, "status: driver: udp_send_errors 0 ", 34);
}

/* 1000 lines of ~60 bytes: 60 KB, far past the old 8 KB buffer. */
static int big_status(void *node, char *buf, size_t len) {
  struct zt_strbuf sb;
  (void)node;
  zt_strbuf_init(&sb, buf, len);
  for (int i = 0; i < 1000; i++)
    zt_strbuf_printf(&sb, "peer %d %s\n", i,
                     i == 999 ? "last" : "at 198.51.100.7:4433 rtt 0.4 ms up");
  return (int)sb.off;
}

static void test_whole_status_under_warn(void) {
  struct zt_driver d = {.udp_fd = -1, .tun_fd = -1};
  d.status = big_status;
  zt_log_set_sink(sink, NULL);
  zt_log_set_level(ZT_LOG_WARN);
  zt_driver_log_status(&d);
  CHECK_EQ_INT(peer_lines, 1000);
  CHECK(saw_last);
  CHECK(saw_driver);
  CHECK(zt_log_get_level() == ZT_LOG_WARN); /* restored */
  /* Other info lines stay hidden under warn. */
  unsigned before = lines;
  zt_info("not shown");
  CHECK_EQ_INT(lines, before);
  zt_log_set_sink(NULL, NULL);
  zt_log_set_level(ZT_LOG_INFO);
}

int main(void) {
  RUN(test_whole_status_under_warn);
  return TEST_EXIT();
}

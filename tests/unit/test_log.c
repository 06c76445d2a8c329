/* log.c: level names, the threshold, the sink, and control characters from
 * peers neutralised. */
#include "log.h"
#include "test.h"

#include <stdio.h>

static char last[1100];
static int calls;
static enum zt_log_level last_level;

static void capture(enum zt_log_level level, const char *line, void *ud) {
  (void)ud;
  calls++;
  last_level = level;
  snprintf(last, sizeof(last), "%s", line);
}

static void test_levels(void) {
  enum zt_log_level l;
  CHECK_EQ_INT(zt_log_level_parse("debug", &l), 0);
  CHECK_EQ_INT(l, ZT_LOG_DEBUG);
  CHECK_EQ_INT(zt_log_level_parse("error", &l), 0);
  CHECK_EQ_INT(l, ZT_LOG_ERROR);
  CHECK_EQ_INT(zt_log_level_parse("verbose", &l), -1);
  CHECK_EQ_INT(zt_log_level_parse("", &l), -1);
}

static void test_threshold_and_sink(void) {
  zt_log_set_sink(capture, NULL);
  zt_log_set_level(ZT_LOG_WARN);
  calls = 0;
  zt_info("not shown");
  zt_dbg("not shown either");
  CHECK_EQ_INT(calls, 0);
  zt_warn("peer %s refused: %d", "alice", 42);
  CHECK_EQ_INT(calls, 1);
  CHECK_EQ_INT(last_level, ZT_LOG_WARN);
  CHECK_STR(last, "peer alice refused: 42");
  zt_log_set_level(ZT_LOG_DEBUG);
  zt_dbg("now %s", "shown");
  CHECK_EQ_INT(calls, 2);
  zt_log_set_level(ZT_LOG_INFO);
  zt_log_set_sink(NULL, NULL);
}

static void test_control_characters(void) {
  zt_log_set_sink(capture, NULL);
  zt_warn("reason: %s", "bad\n12:00:00.000 info  forged line\x1b[2J\x7f");
  CHECK_STR(last, "reason: bad?12:00:00.000 info  forged line?[2J?");
  zt_log_set_sink(NULL, NULL);
}

int main(void) {
  RUN(test_levels);
  RUN(test_threshold_and_sink);
  RUN(test_control_characters);
  return TEST_EXIT();
}

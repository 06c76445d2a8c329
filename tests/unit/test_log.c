/* log.c: level names, the threshold, the sink, and control characters from
 * peers (C0, DEL, C1 and every other byte >= 0x7f) escaped as \xNN. */
#include "log.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char last[4200]; /* a 1023-byte line escaped is 4092 */
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
  CHECK_STR(last, "reason: bad\\x0a12:00:00.000 info  forged line\\x1b[2J"
                  "\\x7f");
  zt_log_set_sink(NULL, NULL);
}

/* C1 controls: 0x9b is CSI to some terminals, as ESC [ is. */
static void test_c1_controls(void) {
  zt_log_set_sink(capture, NULL);
  zt_warn("name: %s", "a\x9b" "2Jb\x80\x9f\x85");
  CHECK_STR(last, "name: a\\x9b2Jb\\x80\\x9f\\x85");
  zt_log_set_sink(NULL, NULL);
}

/* Every byte >= 0x7f is escaped, UTF-8 too: U+009B encoded as C2 9B is
 * what a UTF-8 terminal may take for CSI. Printable ASCII passes as is. */
static void test_high_bytes(void) {
  zt_log_set_sink(capture, NULL);
  zt_warn("%s", "caf\xc3\xa9 \xc2\x9b \xff ~ok\\");
  CHECK_STR(last, "caf\\xc3\\xa9 \\xc2\\x9b \\xff ~ok\\");
  zt_log_set_sink(NULL, NULL);
}

/* The longest line, all escaped, arrives whole: 1023 bytes, 4 each. */
static void test_escaped_length(void) {
  char big[2000];
  memset(big, 0x9b, sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  zt_log_set_sink(capture, NULL);
  zt_warn("%s", big);
  CHECK_EQ_INT(strlen(last), 4 * 1023);
  CHECK(strncmp(last + 4 * 1022, "\\x9b", 4) == 0);
  zt_log_set_sink(NULL, NULL);
}

/* Journal mode (JOURNAL_STREAM): "<N>" syslog priority prefixes and no
 * timestamp, written to stderr by the default sink; the stream check
 * matches dev:inode exactly. */
static void test_journal(void) {
  CHECK(zt_log_journal_stream_matches("2049:123456", 2049, 123456));
  CHECK(!zt_log_journal_stream_matches("2049:123457", 2049, 123456));
  CHECK(!zt_log_journal_stream_matches("2048:123456", 2049, 123456));
  CHECK(!zt_log_journal_stream_matches("2049:123456x", 2049, 123456));
  CHECK(!zt_log_journal_stream_matches("2049", 2049, 123456));
  CHECK(!zt_log_journal_stream_matches(":123456", 0, 123456));
  CHECK(!zt_log_journal_stream_matches("", 0, 0));
  CHECK(!zt_log_journal_stream_matches(NULL, 0, 0));

  char path[] = "/tmp/ztna-log-XXXXXX", text[512] = "";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  zt_log_set_sink(NULL, NULL);
  zt_log_set_level(ZT_LOG_DEBUG);
  zt_log_set_journal(true);
  zt_err("e %d", 1);
  zt_warn("w");
  zt_info("i");
  zt_dbg("d");
  zt_log_set_journal(false);
  zt_info("plain");
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  zt_log_set_level(ZT_LOG_INFO);
  FILE *f = fdopen(fd, "r");
  CHECK(f);
  rewind(f);
  size_t n = fread(text, 1, sizeof(text) - 1, f);
  text[n] = 0;
  fclose(f);
  unlink(path);
  /* The journal lines are exactly prefix and message; the plain one is
   * "HH:MM:SS.mmm info  plain". */
  CHECK(strncmp(text, "<3>e 1\n<4>w\n<6>i\n<7>d\n", 22) == 0);
  CHECK_EQ_INT(strlen(text + 22), strlen("00:00:00.000 info  plain\n"));
  CHECK_CONTAINS(text + 22, " info  plain\n");
}

int main(void) {
  RUN(test_levels);
  RUN(test_journal);
  RUN(test_threshold_and_sink);
  RUN(test_control_characters);
  RUN(test_c1_controls);
  RUN(test_high_bytes);
  RUN(test_escaped_length);
  return TEST_EXIT();
}

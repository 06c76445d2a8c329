/* Logging: a level threshold and one sink. See log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum zt_log_level log_level = ZT_LOG_INFO;
static zt_log_sink log_sink;
static void *log_sink_ud;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void zt_log_set_level(enum zt_log_level level) { log_level = level; }
enum zt_log_level zt_log_get_level(void) { return log_level; }

void zt_log_set_sink(zt_log_sink sink, void *ud) {
  log_sink = sink;
  log_sink_ud = ud;
}

int zt_log_level_parse(const char *s, enum zt_log_level *out) {
  for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
    if (strcmp(s, level_names[i]) == 0) {
      *out = (enum zt_log_level)i;
      return 0;
    }
  }
  return -1;
}

void zt_log(enum zt_log_level level, const char *fmt, ...) {
  char line[1024];
  va_list ap;

  if (level > log_level)
    return;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  /* Lines quote what peers send (error reasons, names): a control character
   * must not start a forged log line or move a terminal's cursor. */
  for (char *c = line; *c; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7f)
      *c = '?';

  if (log_sink) {
    log_sink(level, line, log_sink_ud);
    return;
  }
  /* Wall-clock time in the default sink only: it is for humans reading a
   * daemon's output, never an input to protocol logic. */
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  localtime_r(&ts.tv_sec, &tm);
  fprintf(stderr, "%02d:%02d:%02d.%03ld %-5s %s\n", tm.tm_hour, tm.tm_min,
          tm.tm_sec, ts.tv_nsec / 1000000, level_names[level], line);
}

/* Logging: a level threshold and one sink. See log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static enum zt_log_level log_level = ZT_LOG_INFO;
static zt_log_sink log_sink;
static void *log_sink_ud;
static bool log_journal;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

/* Atomic: the Intermediate's worker threads log while the main thread
 * raises the level for a status dump (SIGUSR1). */
void zt_log_set_level(enum zt_log_level level) {
  __atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}
enum zt_log_level zt_log_get_level(void) {
  return __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

void zt_log_set_sink(zt_log_sink sink, void *ud) {
  log_sink = sink;
  log_sink_ud = ud;
}

void zt_log_set_journal(bool on) { log_journal = on; }

bool zt_log_journal_stream_matches(const char *env, unsigned long long dev,
                                   unsigned long long ino) {
  char *end;
  if (!env || *env < '0' || *env > '9')
    return false;
  unsigned long long d = strtoull(env, &end, 10);
  if (*end != ':' || end[1] < '0' || end[1] > '9')
    return false;
  unsigned long long i = strtoull(end + 1, &end, 10);
  return *end == 0 && d == dev && i == ino;
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

/* Lines quote what peers send (error reasons, names): a control character
 * must not start a forged log line or drive a terminal. That covers C0
 * (0x00-0x1f), DEL, and C1 (0x80-0x9f: 0x9b alone is CSI to some terminals).
 * Every byte outside printable ASCII becomes \xNN, UTF-8 included: decoding
 * UTF-8 to let only safe code points through would still have to catch
 * U+0080-U+009F (C2 80..C2 9F, which some UTF-8 terminals also obey),
 * overlong forms and stray bytes, and nothing legitimate needs it: peer
 * names are [A-Za-z0-9._-] and reasons printable ASCII (protocol.md). The
 * escape keeps the byte's value for whoever investigates. out has room for
 * 4 * strlen(in) + 1. */
static void escape_line(const char *in, char *out) {
  static const char hex[] = "0123456789abcdef";
  for (const unsigned char *c = (const unsigned char *)in; *c; c++) {
    if (*c >= 0x20 && *c < 0x7f) {
      *out++ = (char)*c;
    } else {
      *out++ = '\\';
      *out++ = 'x';
      *out++ = hex[*c >> 4];
      *out++ = hex[*c & 0xf];
    }
  }
  *out = '\0';
}

void zt_log(enum zt_log_level level, const char *fmt, ...) {
  char raw[1024], line[4 * sizeof(raw)];
  va_list ap;

  if (level > zt_log_get_level())
    return;
  va_start(ap, fmt);
  vsnprintf(raw, sizeof(raw), fmt, ap);
  va_end(ap);
  escape_line(raw, line);

  if (log_sink) {
    log_sink(level, line, log_sink_ud);
    return;
  }
  if (log_journal) {
    /* syslog priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG. */
    static const int prio[] = {3, 4, 6, 7};
    fprintf(stderr, "<%d>%s\n", prio[level], line);
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

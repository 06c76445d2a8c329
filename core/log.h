/*
 * Logging for libztna and the daemons. The core never writes to a file
 * descriptor itself: lines go to a sink the driver installs (stderr with a
 * timestamp by default). Tests install a sink that captures lines so they can
 * assert that a refusal was logged with its reason.
 */
#ifndef ZTNA_LOG_H
#define ZTNA_LOG_H

#include <stdbool.h>

enum zt_log_level { ZT_LOG_ERROR = 0, ZT_LOG_WARN, ZT_LOG_INFO, ZT_LOG_DEBUG };

typedef void (*zt_log_sink)(enum zt_log_level level, const char *line, void *ud);

void zt_log_set_level(enum zt_log_level level);
enum zt_log_level zt_log_get_level(void);
/* NULL restores the default stderr sink. */
void zt_log_set_sink(zt_log_sink sink, void *ud);
/* Under systemd the journal stamps each line itself and reads a leading
 * "<N>" as the line's syslog priority (sd-daemon(3)): in journal mode the
 * default sink writes "<3>" error, "<4>" warn, "<6>" info, "<7>" debug and
 * no timestamp of its own, so `journalctl -p warning` selects warnings and
 * errors. Off by default. */
void zt_log_set_journal(bool on);
/* True when JOURNAL_STREAM (env, "DEV:INODE" in decimal, as systemd sets
 * it) names the file stderr is (dev, ino from fstat(2)): stderr still goes
 * to the journal, not redirected elsewhere by a wrapper. NULL: false. */
bool zt_log_journal_stream_matches(const char *env, unsigned long long dev,
                                   unsigned long long ino);

/* Parses "error", "warn", "info", "debug"; returns -1 for anything else. */
int zt_log_level_parse(const char *s, enum zt_log_level *out);

void zt_log(enum zt_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define zt_err(...) zt_log(ZT_LOG_ERROR, __VA_ARGS__)
#define zt_warn(...) zt_log(ZT_LOG_WARN, __VA_ARGS__)
#define zt_info(...) zt_log(ZT_LOG_INFO, __VA_ARGS__)
#define zt_dbg(...)                                                          \
  do {                                                                       \
    if (zt_log_get_level() >= ZT_LOG_DEBUG) zt_log(ZT_LOG_DEBUG, __VA_ARGS__); \
  } while (0)

#endif

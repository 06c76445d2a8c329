/*
 * A writer for Prometheus' text exposition format 0.0.4 (what GET /metrics
 * answers, docs/operations.md), and a fixed-bucket latency histogram.
 *
 * A metric family is announced once with zt_metricsw_family() (its # HELP
 * and # TYPE lines), then its samples follow. Names must match
 * [a-zA-Z_:][a-zA-Z0-9_:]*; HELP text escapes backslash and newline, label
 * values escape backslash, double quote and newline, as the format
 * requires, so a value from anywhere cannot break the output. Output past
 * the buffer is cut off and counted, like every strbuf.
 */
#ifndef ZTNA_METRICS_H
#define ZTNA_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

enum zt_metric_type { ZT_METRIC_COUNTER, ZT_METRIC_GAUGE, ZT_METRIC_HISTOGRAM };

struct zt_metricsw {
  struct zt_strbuf *sb;
  unsigned bad_names; /* families or samples refused for an invalid name */
};

struct zt_label {
  const char *name, *value;
};

void zt_metricsw_init(struct zt_metricsw *m, struct zt_strbuf *sb);
/* Is name a valid metric (or, with label, label) name? */
bool zt_metric_name_valid(const char *name, bool label);
/* # HELP and # TYPE lines. An invalid name writes nothing (bad_names). */
void zt_metricsw_family(struct zt_metricsw *m, const char *name,
                        const char *help, enum zt_metric_type type);
/* One sample line: name{labels} value; n_labels may be 0. */
void zt_metricsw_u64(struct zt_metricsw *m, const char *name,
                     const struct zt_label *labels, size_t n_labels,
                     uint64_t v);
void zt_metricsw_double(struct zt_metricsw *m, const char *name,
                        const struct zt_label *labels, size_t n_labels,
                        double v);
/* A family and sample in one: counters and gauges without labels. */
void zt_metricsw_single(struct zt_metricsw *m, const char *name,
                        const char *help, enum zt_metric_type type,
                        uint64_t v);

/* Durations in buckets of 1 ms to 10 s (upper bounds, and +Inf). */
#define ZT_HIST_BUCKETS 10
extern const uint64_t zt_hist_bounds_ns[ZT_HIST_BUCKETS];
struct zt_hist {
  uint64_t count, sum_ns;
  uint64_t bucket[ZT_HIST_BUCKETS + 1]; /* per bucket, not cumulative; the
                                           last is above every bound */
};
void zt_hist_observe(struct zt_hist *h, uint64_t ns);
void zt_hist_add(struct zt_hist *acc, const struct zt_hist *h);
/* A histogram family in seconds: name_bucket{le=...} (cumulative),
 * name_sum, name_count. */
void zt_metricsw_hist_seconds(struct zt_metricsw *m, const char *name,
                              const char *help, const struct zt_hist *h);

#endif

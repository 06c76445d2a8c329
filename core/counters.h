/*
 * Counters defined once. Each node has one table (core/countertab.c) whose
 * rows name a counter or gauge: where it sits in the status JSON's
 * "counters" object and the text status ("group.member"), its Prometheus
 * name (with the ztna_ prefix, its unit, _total for counters) and help
 * text, and where its value lives (a uint64_t at an offset in one of the
 * node's stats structures). The text status, `ztna status --json` and
 * GET /metrics all walk the same table, so a counter added to the table
 * shows up in all three, and docs/operations.md is checked against it
 * (tests/unit/test_counters.c).
 */
#ifndef ZTNA_COUNTERS_H
#define ZTNA_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#include "jsonw.h"
#include "metrics.h"
#include "strbuf.h"

struct zt_counter {
  /* "group.member" or "member" in the status "counters" object and text
   * status; NULL: only a metric (gauges the status shows elsewhere). */
  const char *key;
  const char *metric; /* "ztna_intermediate_relay_bytes_total" */
  enum zt_metric_type type;
  uint8_t src;   /* which of the node's structures (its table's srcs[]) */
  size_t offset; /* of the uint64_t in that structure */
  const char *help;
};

struct zt_counter_table {
  const char *node; /* "agent", "connector", "intermediate", "daemon" */
  const struct zt_counter *rows;
  size_t n;
};

/* Rows: ZT_CTR(key, metric, src, struct type, field, help). Variadic so
 * that src and type may come from one macro ("IS" for "source, struct"). */
#define ZT_CTR(...) ZT_ROW_(ZT_METRIC_COUNTER, __VA_ARGS__)
#define ZT_GAUGE(...) ZT_ROW_(ZT_METRIC_GAUGE, __VA_ARGS__)
#define ZT_ROW_(...) ZT_ROW__(__VA_ARGS__)
#define ZT_ROW__(mtype, key, metric, src, type, field, help)                  \
  { key, metric, mtype, src, offsetof(type, field), help }

uint64_t zt_counter_value(const struct zt_counter *c, const void *const *srcs);
/* The members of the open "counters" object: consecutive rows of one
 * group share one nested object. Rows without a key are left out. */
void zt_counters_json(const struct zt_counter_table *t,
                      const void *const *srcs, struct zt_jsonw *w);
/* One text line per group: "group: member N member N", and "member N"
 * for rows without a group. */
void zt_counters_text(const struct zt_counter_table *t,
                      const void *const *srcs, struct zt_strbuf *sb);
/* Every row as a metric family with its one sample. */
void zt_counters_metrics(const struct zt_counter_table *t,
                         const void *const *srcs, struct zt_metricsw *m);
/* A node's /metrics page: every table of `tables` (NULL-terminated), then
 * the histogram h as `hist` in seconds. Returns the length it needed, like
 * the status writers. */
int zt_counters_page(char *buf, size_t len,
                     const struct zt_counter_table *const *tables,
                     const void *const *srcs, const char *hist,
                     const char *hist_help, const struct zt_hist *h);

#endif

/* See metrics.h. */
#include "metrics.h"

#include <stdio.h>
#include <string.h>

void zt_metricsw_init(struct zt_metricsw *m, struct zt_strbuf *sb) {
  m->sb = sb;
  m->bad_names = 0;
}

static bool name_char(char c, bool first, bool label) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
    return true;
  if (c == ':')
    return !label; /* colons are for recording rules, never labels */
  return !first && c >= '0' && c <= '9';
}

bool zt_metric_name_valid(const char *name, bool label) {
  if (!name || !name[0])
    return false;
  for (size_t i = 0; name[i]; i++)
    if (!name_char(name[i], i == 0, label))
      return false;
  /* Label names starting with __ are reserved for Prometheus itself. */
  return !(label && name[0] == '_' && name[1] == '_');
}

/* HELP escapes \ and newline; label values also escape the double quote. */
static void escaped(struct zt_strbuf *sb, const char *s, bool quote) {
  for (; *s; s++) {
    if (*s == '\\')
      zt_strbuf_printf(sb, "\\\\");
    else if (*s == '\n')
      zt_strbuf_printf(sb, "\\n");
    else if (*s == '"' && quote)
      zt_strbuf_printf(sb, "\\\"");
    else
      zt_strbuf_printf(sb, "%c", *s);
  }
}

static const char *type_name(enum zt_metric_type t) {
  switch (t) {
  case ZT_METRIC_COUNTER:
    return "counter";
  case ZT_METRIC_GAUGE:
    return "gauge";
  case ZT_METRIC_HISTOGRAM:
    return "histogram";
  }
  return "untyped";
}

void zt_metricsw_family(struct zt_metricsw *m, const char *name,
                        const char *help, enum zt_metric_type type) {
  if (!zt_metric_name_valid(name, false)) {
    m->bad_names++;
    return;
  }
  zt_strbuf_printf(m->sb, "# HELP %s ", name);
  escaped(m->sb, help ? help : "", false);
  zt_strbuf_printf(m->sb, "\n# TYPE %s %s\n", name, type_name(type));
}

/* name{a="x",b="y"} and the space before the value; false (nothing
 * written) for an invalid name. */
static bool sample_start(struct zt_metricsw *m, const char *name,
                         const struct zt_label *labels, size_t n) {
  bool ok = zt_metric_name_valid(name, false);
  for (size_t i = 0; ok && i < n; i++)
    ok = zt_metric_name_valid(labels[i].name, true);
  if (!ok) {
    m->bad_names++;
    return false;
  }
  zt_strbuf_printf(m->sb, "%s", name);
  for (size_t i = 0; i < n; i++) {
    zt_strbuf_printf(m->sb, "%s%s=\"", i ? "," : "{", labels[i].name);
    escaped(m->sb, labels[i].value ? labels[i].value : "", true);
    zt_strbuf_printf(m->sb, "\"");
  }
  zt_strbuf_printf(m->sb, n ? "} " : " ");
  return true;
}

void zt_metricsw_u64(struct zt_metricsw *m, const char *name,
                     const struct zt_label *labels, size_t n_labels,
                     uint64_t v) {
  if (sample_start(m, name, labels, n_labels))
    zt_strbuf_printf(m->sb, "%llu\n", (unsigned long long)v);
}

void zt_metricsw_double(struct zt_metricsw *m, const char *name,
                        const struct zt_label *labels, size_t n_labels,
                        double v) {
  if (sample_start(m, name, labels, n_labels))
    zt_strbuf_printf(m->sb, "%.9g\n", v);
}

void zt_metricsw_single(struct zt_metricsw *m, const char *name,
                        const char *help, enum zt_metric_type type,
                        uint64_t v) {
  zt_metricsw_family(m, name, help, type);
  zt_metricsw_u64(m, name, NULL, 0, v);
}

/* Handshakes take a few RTTs plus certificate checks: from well under a
 * millisecond on a LAN to seconds over a lossy path. */
const uint64_t zt_hist_bounds_ns[ZT_HIST_BUCKETS] = {
    1000000,   2500000,   5000000,    10000000,   25000000,
    50000000, 100000000, 250000000, 1000000000, 10000000000ull};

void zt_hist_observe(struct zt_hist *h, uint64_t ns) {
  size_t i = 0;
  while (i < ZT_HIST_BUCKETS && ns > zt_hist_bounds_ns[i])
    i++;
  h->bucket[i]++;
  h->count++;
  h->sum_ns += ns;
}

void zt_hist_add(struct zt_hist *acc, const struct zt_hist *h) {
  for (size_t i = 0; i <= ZT_HIST_BUCKETS; i++)
    acc->bucket[i] += h->bucket[i];
  acc->count += h->count;
  acc->sum_ns += h->sum_ns;
}

void zt_metricsw_hist_seconds(struct zt_metricsw *m, const char *name,
                              const char *help, const struct zt_hist *h) {
  char sub[128], le[32];
  if (strlen(name) + sizeof("_bucket") > sizeof(sub)) {
    m->bad_names++;
    return;
  }
  zt_metricsw_family(m, name, help, ZT_METRIC_HISTOGRAM);
  snprintf(sub, sizeof(sub), "%s_bucket", name);
  uint64_t cum = 0;
  for (size_t i = 0; i <= ZT_HIST_BUCKETS; i++) {
    cum += h->bucket[i];
    if (i < ZT_HIST_BUCKETS)
      snprintf(le, sizeof(le), "%g", (double)zt_hist_bounds_ns[i] / 1e9);
    else
      snprintf(le, sizeof(le), "+Inf");
    struct zt_label l = {"le", le};
    zt_metricsw_u64(m, sub, &l, 1, cum);
  }
  snprintf(sub, sizeof(sub), "%s_sum", name);
  zt_metricsw_double(m, sub, NULL, 0, (double)h->sum_ns / 1e9);
  snprintf(sub, sizeof(sub), "%s_count", name);
  zt_metricsw_u64(m, sub, NULL, 0, h->count);
}

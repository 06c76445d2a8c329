/*
 * The counter tables (core/countertab.c) and their writers
 * (core/counters.c): every metric name is valid, prefixed, unique, typed by
 * its suffix (_total for counters only); JSON keys are unique and a group
 * never comes back after another (the JSON would repeat a key); the JSON
 * and text writers group members as the status always did; and
 * docs/operations.md lists every metric (runs from the repo root).
 */
#include <stddef.h>

#include "countertab.h"
#include "file.h"
#include "test.h"

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && !strcmp(s + n - m, suffix);
}

static void test_names(void) {
  size_t total = 0;
  for (size_t t = 0; zt_all_counter_tables[t]; t++) {
    const struct zt_counter_table *tab = zt_all_counter_tables[t];
    for (size_t i = 0; i < tab->n; i++) {
      const struct zt_counter *c = &tab->rows[i];
      total++;
      if (!zt_metric_name_valid(c->metric, false) ||
          strncmp(c->metric, "ztna_", 5) != 0 || !c->help || !c->help[0]) {
        fprintf(stderr, "bad name or help: %s\n", c->metric);
        CHECK(0);
      }
      if ((c->type == ZT_METRIC_COUNTER) != ends_with(c->metric, "_total")) {
        fprintf(stderr, "%s: counters and only counters end in _total\n",
                c->metric);
        CHECK(0);
      }
      for (size_t u = 0; zt_all_counter_tables[u]; u++)
        for (size_t j = 0; j < zt_all_counter_tables[u]->n; j++)
          if ((u != t || j != i) &&
              !strcmp(c->metric, zt_all_counter_tables[u]->rows[j].metric)) {
            fprintf(stderr, "%s twice\n", c->metric);
            CHECK(0);
          }
    }
  }
  CHECK(total > 100);
}

static void test_keys(void) {
  for (size_t t = 0; zt_all_counter_tables[t]; t++) {
    const struct zt_counter_table *tab = zt_all_counter_tables[t];
    for (size_t i = 0; i < tab->n; i++) {
      const char *k = tab->rows[i].key;
      if (!k)
        continue;
      const char *dot = strchr(k, '.');
      size_t glen = dot ? (size_t)(dot - k) : 0;
      bool left = false; /* the group of row i ended before row j */
      for (size_t j = i + 1; j < tab->n; j++) {
        const char *k2 = tab->rows[j].key;
        if (!k2)
          continue;
        CHECK(strcmp(k, k2) != 0);
        bool same = glen && !strncmp(k, k2, glen) && k2[glen] == '.';
        if (same && left) {
          fprintf(stderr, "%s: group %.*s comes back after another\n", k2,
                  (int)glen, k);
          CHECK(0);
        }
        left = left || !same;
      }
    }
  }
}

struct s1 {
  uint64_t a, b, c;
};
struct s2 {
  uint64_t g;
};
static const struct zt_counter rows[] = {
    ZT_CTR("grp.a", "ztna_t_a_total", 0, struct s1, a, "A"),
    ZT_CTR("grp.b", "ztna_t_b_total", 0, struct s1, b, "B"),
    ZT_CTR("top", "ztna_t_c_total", 0, struct s1, c, "C"),
    ZT_GAUGE("other.g", "ztna_t_g", 1, struct s2, g, "G"),
    ZT_GAUGE(NULL, "ztna_t_hidden", 1, struct s2, g, "metrics only"),
};
static const struct zt_counter_table tab = {"t", rows, 5};

static void test_writers(void) {
  char buf[1024];
  struct zt_strbuf sb;
  struct zt_jsonw w;
  struct zt_metricsw m;
  struct s1 v1 = {1, 2, 3};
  struct s2 v2 = {40};
  const void *srcs[2] = {&v1, &v2};
  zt_strbuf_init(&sb, buf, sizeof(buf));
  zt_jsonw_init(&w, &sb);
  zt_jsonw_begin_object(&w, NULL);
  zt_counters_json(&tab, srcs, &w);
  zt_jsonw_end_object(&w);
  CHECK_STR(buf, "{\"grp\":{\"a\":1,\"b\":2},\"top\":3,\"other\":{\"g\":40}}");
  zt_strbuf_init(&sb, buf, sizeof(buf));
  zt_counters_text(&tab, srcs, &sb);
  CHECK_STR(buf, "grp: a 1 b 2\ntop 3\nother: g 40\n");
  zt_strbuf_init(&sb, buf, sizeof(buf));
  zt_metricsw_init(&m, &sb);
  zt_counters_metrics(&tab, srcs, &m);
  CHECK_CONTAINS(buf, "# TYPE ztna_t_a_total counter\nztna_t_a_total 1\n");
  CHECK_CONTAINS(buf, "# TYPE ztna_t_g gauge\nztna_t_g 40\n");
  CHECK_CONTAINS(buf, "# HELP ztna_t_hidden metrics only\n");
  CHECK_CONTAINS(buf, "\nztna_t_hidden 40\n");
}

/* docs/operations.md names every metric, each as `name` in its table. */
static void test_documented(void) {
  size_t len = 0;
  char err[256], want[160];
  char *doc = zt_file_read("docs/operations.md", 1 << 20, &len, err,
                           sizeof(err));
  if (!doc) {
    fprintf(stderr, "%s\n", err);
    CHECK(0);
  }
  unsigned missing = 0;
  for (size_t t = 0; zt_all_counter_tables[t]; t++)
    for (size_t i = 0; i < zt_all_counter_tables[t]->n; i++) {
      snprintf(want, sizeof(want), "`%s`",
               zt_all_counter_tables[t]->rows[i].metric);
      if (!strstr(doc, want)) {
        fprintf(stderr, "docs/operations.md lacks %s\n", want);
        missing++;
      }
    }
  for (size_t i = 0; zt_other_metric_names[i]; i++) {
    snprintf(want, sizeof(want), "`%s`", zt_other_metric_names[i]);
    if (!strstr(doc, want)) {
      fprintf(stderr, "docs/operations.md lacks %s\n", want);
      missing++;
    }
  }
  free(doc);
  CHECK_EQ_INT(missing, 0);
}

int main(void) {
  RUN(test_names);
  RUN(test_keys);
  RUN(test_writers);
  RUN(test_documented);
  return TEST_EXIT();
}

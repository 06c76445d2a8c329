/*
 * The Prometheus text writer (core/metrics.c): HELP and TYPE lines, the
 * sample syntax, escaping of help text and label values, invalid names
 * refused, counters and gauges typed as such, and the histogram's
 * cumulative buckets.
 */
#include "metrics.h"
#include "test.h"

static char buf[4096];
static struct zt_strbuf sb;
static struct zt_metricsw m;

static void fresh(void) {
  zt_strbuf_init(&sb, buf, sizeof(buf));
  zt_metricsw_init(&m, &sb);
}

static void test_counter_and_gauge(void) {
  fresh();
  zt_metricsw_single(&m, "ztna_x_total", "Things done", ZT_METRIC_COUNTER, 7);
  zt_metricsw_single(&m, "ztna_y", "Things now", ZT_METRIC_GAUGE, 3);
  CHECK_STR(buf, "# HELP ztna_x_total Things done\n"
                 "# TYPE ztna_x_total counter\n"
                 "ztna_x_total 7\n"
                 "# HELP ztna_y Things now\n"
                 "# TYPE ztna_y gauge\n"
                 "ztna_y 3\n");
  CHECK_EQ_INT(m.bad_names, 0);
}

static void test_labels_escaped(void) {
  fresh();
  struct zt_label l[2] = {{"role", "agent"}, {"name", "a\"b\\c\nd"}};
  zt_metricsw_u64(&m, "ztna_z", l, 2, 18446744073709551615ull);
  CHECK_STR(buf, "ztna_z{role=\"agent\",name=\"a\\\"b\\\\c\\nd\"} "
                 "18446744073709551615\n");
}

static void test_help_escaped(void) {
  fresh();
  zt_metricsw_family(&m, "ztna_h", "back\\slash \"quoted\"\nnext",
                     ZT_METRIC_GAUGE);
  /* HELP escapes backslash and newline only; quotes stay. */
  CHECK_STR(buf, "# HELP ztna_h back\\\\slash \"quoted\"\\nnext\n"
                 "# TYPE ztna_h gauge\n");
}

static void test_bad_names_refused(void) {
  fresh();
  struct zt_label bad = {"__reserved", "x"}, dash = {"a-b", "x"};
  zt_metricsw_single(&m, "9starts_with_digit", "h", ZT_METRIC_GAUGE, 1);
  zt_metricsw_single(&m, "has space", "h", ZT_METRIC_GAUGE, 1);
  zt_metricsw_single(&m, "", "h", ZT_METRIC_GAUGE, 1);
  zt_metricsw_u64(&m, "ok_name", &bad, 1, 1);
  zt_metricsw_u64(&m, "ok_name", &dash, 1, 1);
  CHECK_STR(buf, "");
  CHECK_EQ_INT(m.bad_names, 8); /* 3 families, 3 samples, 2 labels */
  CHECK(zt_metric_name_valid("ztna:recorded_rule", false));
  CHECK(!zt_metric_name_valid("a:b", true));
  CHECK(zt_metric_name_valid("_x9", true));
}

static void test_double(void) {
  fresh();
  zt_metricsw_double(&m, "ztna_s", NULL, 0, 0.0025);
  CHECK_STR(buf, "ztna_s 0.0025\n");
}

static void test_histogram(void) {
  struct zt_hist h = {0}, h2 = {0};
  zt_hist_observe(&h, 500000);      /* 0.5 ms: first bucket */
  zt_hist_observe(&h, 1000000);     /* 1 ms: on the bound, first bucket */
  zt_hist_observe(&h, 30000000);    /* 30 ms: le 0.05 */
  zt_hist_observe(&h2, 20000000000ull); /* 20 s: only +Inf */
  zt_hist_add(&h, &h2);
  CHECK_EQ_INT(h.count, 4);
  fresh();
  zt_metricsw_hist_seconds(&m, "ztna_hs_seconds", "Handshake time", &h);
  CHECK_CONTAINS(buf, "# TYPE ztna_hs_seconds histogram\n");
  CHECK_CONTAINS(buf, "ztna_hs_seconds_bucket{le=\"0.001\"} 2\n");
  CHECK_CONTAINS(buf, "ztna_hs_seconds_bucket{le=\"0.025\"} 2\n");
  CHECK_CONTAINS(buf, "ztna_hs_seconds_bucket{le=\"0.05\"} 3\n");
  CHECK_CONTAINS(buf, "ztna_hs_seconds_bucket{le=\"10\"} 3\n");
  CHECK_CONTAINS(buf, "ztna_hs_seconds_bucket{le=\"+Inf\"} 4\n");
  CHECK_CONTAINS(buf, "ztna_hs_seconds_sum 20.0315\n");
  CHECK_CONTAINS(buf, "ztna_hs_seconds_count 4\n");
}

static void test_cut_off_counted(void) {
  char small[16];
  struct zt_strbuf s2;
  struct zt_metricsw m2;
  zt_strbuf_init(&s2, small, sizeof(small));
  zt_metricsw_init(&m2, &s2);
  zt_metricsw_single(&m2, "ztna_long_name_total", "help", ZT_METRIC_COUNTER,
                     1);
  CHECK(s2.off >= sizeof(small)); /* the caller sees it must retry bigger */
  CHECK_EQ_INT(strlen(small), sizeof(small) - 1);
}

int main(void) {
  RUN(test_counter_and_gauge);
  RUN(test_labels_escaped);
  RUN(test_help_escaped);
  RUN(test_bad_names_refused);
  RUN(test_double);
  RUN(test_histogram);
  RUN(test_cut_off_counted);
  return TEST_EXIT();
}

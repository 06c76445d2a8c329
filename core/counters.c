/* See counters.h. */
#include "counters.h"

#include <stdio.h>
#include <string.h>

uint64_t zt_counter_value(const struct zt_counter *c,
                          const void *const *srcs) {
  uint64_t v;
  memcpy(&v, (const char *)srcs[c->src] + c->offset, sizeof(v));
  return v;
}

/* One keyed row as the status writers see it: its group ("relay" of
 * "relay.bytes", glen 0 for none), member and value; `first` when it
 * starts a group, or stands alone. */
struct row_view {
  const char *group, *member;
  size_t glen;
  bool first;
  uint64_t value;
};

static void walk(const struct zt_counter_table *t, const void *const *srcs,
                 void (*fn)(void *ud, const struct row_view *r), void *ud) {
  const char *prev = NULL; /* the previous keyed row's group */
  size_t prevlen = 0;
  for (size_t i = 0; i < t->n; i++) {
    const struct zt_counter *c = &t->rows[i];
    if (!c->key)
      continue;
    const char *dot = strchr(c->key, '.');
    struct row_view r = {c->key, dot ? dot + 1 : c->key,
                         dot ? (size_t)(dot - c->key) : 0, true,
                         zt_counter_value(c, srcs)};
    r.first = !prev || !r.glen || prevlen != r.glen ||
              memcmp(prev, r.group, r.glen) != 0;
    fn(ud, &r);
    prev = r.group;
    prevlen = r.glen;
  }
}

struct json_walk {
  struct zt_jsonw *w;
  bool open; /* a group's object is open */
};

static void json_row(void *ud, const struct row_view *r) {
  struct json_walk *j = ud;
  char name[64];
  if (r->first && j->open) {
    zt_jsonw_end_object(j->w);
    j->open = false;
  }
  if (r->first && r->glen) {
    snprintf(name, sizeof(name), "%.*s", (int)r->glen, r->group);
    zt_jsonw_begin_object(j->w, name);
    j->open = true;
  }
  zt_jsonw_u64(j->w, r->member, r->value);
}

void zt_counters_json(const struct zt_counter_table *t,
                      const void *const *srcs, struct zt_jsonw *w) {
  struct json_walk j = {w, false};
  walk(t, srcs, json_row, &j);
  if (j.open)
    zt_jsonw_end_object(w);
}

struct text_walk {
  struct zt_strbuf *sb;
  bool line; /* a line is being written */
};

static void text_row(void *ud, const struct row_view *r) {
  struct text_walk *x = ud;
  if (r->first && x->line)
    zt_strbuf_printf(x->sb, "\n");
  if (r->first && r->glen)
    zt_strbuf_printf(x->sb, "%.*s:", (int)r->glen, r->group);
  zt_strbuf_printf(x->sb, "%s%s %llu", r->first && !r->glen ? "" : " ",
                   r->member, (unsigned long long)r->value);
  x->line = true;
}

void zt_counters_text(const struct zt_counter_table *t,
                      const void *const *srcs, struct zt_strbuf *sb) {
  struct text_walk x = {sb, false};
  walk(t, srcs, text_row, &x);
  if (x.line)
    zt_strbuf_printf(sb, "\n");
}

void zt_counters_metrics(const struct zt_counter_table *t,
                         const void *const *srcs, struct zt_metricsw *m) {
  for (size_t i = 0; i < t->n; i++) {
    const struct zt_counter *c = &t->rows[i];
    zt_metricsw_single(m, c->metric, c->help, c->type,
                       zt_counter_value(c, srcs));
  }
}

int zt_counters_page(char *buf, size_t len,
                     const struct zt_counter_table *const *tables,
                     const void *const *srcs, const char *hist,
                     const char *hist_help, const struct zt_hist *h) {
  struct zt_strbuf sb;
  struct zt_metricsw m;
  zt_strbuf_init(&sb, buf, len);
  zt_metricsw_init(&m, &sb);
  for (size_t i = 0; tables[i]; i++)
    zt_counters_metrics(tables[i], srcs, &m);
  zt_metricsw_hist_seconds(&m, hist, hist_help, h);
  return (int)sb.off;
}

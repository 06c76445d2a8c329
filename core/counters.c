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

/* The group part of a key ("relay" of "relay.bytes"): its length, 0 for
 * none; *member is what follows the dot. */
static size_t group_of(const char *key, const char **member) {
  const char *dot = strchr(key, '.');
  *member = dot ? dot + 1 : key;
  return dot ? (size_t)(dot - key) : 0;
}

static bool same_group(const char *a, size_t alen, const char *b,
                       size_t blen) {
  return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

void zt_counters_json(const struct zt_counter_table *t,
                      const void *const *srcs, struct zt_jsonw *w) {
  const char *open = NULL; /* the group whose object is open */
  size_t openlen = 0;
  char name[64];
  for (size_t i = 0; i < t->n; i++) {
    const struct zt_counter *c = &t->rows[i];
    const char *member;
    if (!c->key)
      continue;
    size_t glen = group_of(c->key, &member);
    if (open && !same_group(open, openlen, c->key, glen)) {
      zt_jsonw_end_object(w);
      open = NULL;
    }
    if (glen && !open) {
      snprintf(name, sizeof(name), "%.*s", (int)glen, c->key);
      zt_jsonw_begin_object(w, name);
      open = c->key;
      openlen = glen;
    }
    zt_jsonw_u64(w, member, zt_counter_value(c, srcs));
  }
  if (open)
    zt_jsonw_end_object(w);
}

void zt_counters_text(const struct zt_counter_table *t,
                      const void *const *srcs, struct zt_strbuf *sb) {
  const char *line = NULL; /* the group of the line being written */
  size_t linelen = 0;
  for (size_t i = 0; i < t->n; i++) {
    const struct zt_counter *c = &t->rows[i];
    const char *member;
    if (!c->key)
      continue;
    size_t glen = group_of(c->key, &member);
    bool same = line && glen && same_group(line, linelen, c->key, glen);
    if (line && !same)
      zt_strbuf_printf(sb, "\n");
    if (!same && glen)
      zt_strbuf_printf(sb, "%.*s:", (int)glen, c->key);
    zt_strbuf_printf(sb, "%s%s %llu", same || glen ? " " : "", member,
                     (unsigned long long)zt_counter_value(c, srcs));
    line = c->key;
    linelen = glen;
  }
  if (line)
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

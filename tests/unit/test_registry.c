/* The registry of served services, keyed by name: each service holds the
 * set of connectors registered for it; add, remove, drop a connector from
 * every set, and full tables refusing more. */
#include <stdio.h>

#include "registry.h"
#include "test.h"

static struct zt_registry r;

static size_t count(const char *name) {
  const struct zt_registry_entry *e = zt_registry_get(&r, name);
  return e ? e->n : 0;
}

static void test_sets(void) {
  int a, b, c;
  memset(&r, 0, sizeof r);
  CHECK(zt_registry_get(&r, "web") == NULL);
  CHECK(!zt_registry_has(&r, "web", &a));
  CHECK_EQ_INT(zt_registry_add(&r, "web", &a), 1);
  CHECK_EQ_INT(zt_registry_add(&r, "web", &a), 0); /* no change */
  CHECK_EQ_INT(zt_registry_add(&r, "web", &b), 1); /* a second connector */
  CHECK_EQ_INT(zt_registry_add(&r, "echo", &a), 1);
  CHECK_EQ_INT(zt_registry_add(&r, "db", &c), 1);
  CHECK_EQ_INT(count("web"), 2);
  CHECK(zt_registry_has(&r, "web", &a) && zt_registry_has(&r, "web", &b));
  CHECK(!zt_registry_has(&r, "web", &c));
  CHECK(zt_registry_get(&r, "web")->conns[0] == &a); /* registration order */
  /* Dropping a connector takes it out of every set, and only it. */
  CHECK(zt_registry_drop_conn(&r, &a));
  CHECK_EQ_INT(count("web"), 1);
  CHECK(zt_registry_has(&r, "web", &b));
  CHECK(zt_registry_get(&r, "echo") == NULL); /* its only connector */
  CHECK(zt_registry_has(&r, "db", &c));
  CHECK(!zt_registry_drop_conn(&r, &a));
  CHECK(zt_registry_remove(&r, "web", &b));
  CHECK(!zt_registry_remove(&r, "web", &b));
  CHECK(!zt_registry_remove(&r, "db", &a)); /* not its connector */
  CHECK(zt_registry_get(&r, "web") == NULL);
  CHECK_EQ_INT(r.n, 1);
}

static void test_order_kept_on_remove(void) {
  int c[4];
  memset(&r, 0, sizeof r);
  for (int i = 0; i < 4; i++)
    CHECK_EQ_INT(zt_registry_add(&r, "web", &c[i]), 1);
  CHECK(zt_registry_remove(&r, "web", &c[1]));
  const struct zt_registry_entry *e = zt_registry_get(&r, "web");
  CHECK_EQ_INT(e->n, 3);
  CHECK(e->conns[0] == &c[0] && e->conns[1] == &c[2] && e->conns[2] == &c[3]);
}

static void test_full(void) {
  int a, many[ZT_POLICY_MAX_CONNECTORS + 1];
  char name[16];
  memset(&r, 0, sizeof r);
  for (int i = 0; i < ZT_MAX_SERVICES; i++) {
    snprintf(name, sizeof name, "s%d", i);
    CHECK_EQ_INT(zt_registry_add(&r, name, &a), 1);
  }
  CHECK_EQ_INT(zt_registry_add(&r, "one-more", &a), -1);
  CHECK(zt_registry_get(&r, "one-more") == NULL);
  CHECK(zt_registry_has(&r, "s63", &a));
  memset(&r, 0, sizeof r);
  for (int i = 0; i < ZT_POLICY_MAX_CONNECTORS; i++)
    CHECK_EQ_INT(zt_registry_add(&r, "web", &many[i]), 1);
  CHECK_EQ_INT(zt_registry_add(&r, "web", &many[ZT_POLICY_MAX_CONNECTORS]),
               -1);
  CHECK_EQ_INT(count("web"), ZT_POLICY_MAX_CONNECTORS);
}

int main(void) {
  RUN(test_sets);
  RUN(test_order_kept_on_remove);
  RUN(test_full);
  return TEST_EXIT();
}

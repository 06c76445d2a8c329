/* The registry of served services, keyed by name: set, replace, drop by
 * name and by connector, and a full table refusing more. */
#include <stdio.h>

#include "registry.h"
#include "test.h"

static struct zt_registry r;

static void test_set_get_drop(void) {
  int a, b;
  memset(&r, 0, sizeof r);
  CHECK(zt_registry_get(&r, "web") == NULL);
  CHECK_EQ_INT(zt_registry_set(&r, "web", &a), 1);
  CHECK_EQ_INT(zt_registry_set(&r, "web", &a), 0); /* no change */
  CHECK_EQ_INT(zt_registry_set(&r, "echo", &a), 1);
  CHECK_EQ_INT(zt_registry_set(&r, "db", &b), 1);
  CHECK(zt_registry_get(&r, "web") == &a);
  CHECK_EQ_INT(zt_registry_set(&r, "web", &b), 1); /* another connector */
  CHECK(zt_registry_get(&r, "web") == &b);
  CHECK(zt_registry_drop_conn(&r, &b));
  CHECK(zt_registry_get(&r, "web") == NULL);
  CHECK(zt_registry_get(&r, "db") == NULL);
  CHECK(zt_registry_get(&r, "echo") == &a);
  CHECK(!zt_registry_drop_conn(&r, &b));
  CHECK(zt_registry_drop(&r, "echo"));
  CHECK(!zt_registry_drop(&r, "echo"));
  CHECK_EQ_INT(r.n, 0);
}

static void test_full(void) {
  int a;
  char name[16];
  memset(&r, 0, sizeof r);
  for (int i = 0; i < ZT_MAX_SERVICES; i++) {
    snprintf(name, sizeof name, "s%d", i);
    CHECK_EQ_INT(zt_registry_set(&r, name, &a), 1);
  }
  CHECK_EQ_INT(zt_registry_set(&r, "one-more", &a), -1);
  CHECK(zt_registry_get(&r, "one-more") == NULL);
  CHECK(zt_registry_get(&r, "s63") == &a);
}

int main(void) {
  RUN(test_set_get_drop);
  RUN(test_full);
  return TEST_EXIT();
}

/* Agent tunnel addresses bound to identities (addrpool.c). */
#include <stdlib.h>

#include "addrpool.h"
#include "test.h"

#define NET 0x64400000u /* 100.64.0.0 */

static uint32_t alloc(struct zt_addrpool *p, const char *name, uint32_t hint,
                      void *owner) {
  return zt_addrpool_alloc(p, name, hint, owner).addr;
}

static void test_unique_while_live(void) {
  struct zt_addrpool p;
  int a, b, c;
  zt_addrpool_init(&p, NET, 30); /* 100.64.0.0/30: two usable */
  uint32_t x = alloc(&p, "alice", 0, &a);
  uint32_t y = alloc(&p, "bob", 0, &b);
  CHECK(x == NET + 1 || x == NET + 2);
  CHECK(y == NET + 1 || y == NET + 2);
  CHECK(x != y);
  CHECK_EQ_INT(alloc(&p, "carol", 0, &c), 0); /* both live: exhausted */
  zt_addrpool_release(&p, x, &b);             /* not the owner: no effect */
  CHECK_EQ_INT(alloc(&p, "carol", x, &c), 0);
  CHECK(zt_addrpool_contains(&p, x));
  CHECK(!zt_addrpool_contains(&p, 0x0a000001u));
  zt_addrpool_free(&p);
}

/* The attack from the review: agent B asked for agent A's address while A
 * was offline and got it, so packets for A's address went to B. */
static void test_offline_address_not_taken_by_hint(void) {
  struct zt_addrpool p;
  int a, b;
  zt_addrpool_init(&p, NET, 24);
  uint32_t x = alloc(&p, "alice", 0, &a);
  zt_addrpool_release(&p, x, &a); /* alice goes offline */
  uint32_t y = alloc(&p, "bob", x, &b);
  CHECK(y != 0);
  CHECK(y != x);
  CHECK_STR(zt_addrpool_bound_to(&p, x), "alice");
  zt_addrpool_release(&p, y, &b);
  CHECK_EQ_INT(alloc(&p, "alice", 0, &a), x); /* alice gets hers back */
  zt_addrpool_free(&p);
}

static void test_hint_for_unbound_address(void) {
  struct zt_addrpool p;
  int a, b;
  zt_addrpool_init(&p, NET, 24);
  CHECK_EQ_INT(alloc(&p, "alice", NET + 77, &a), NET + 77);
  CHECK(alloc(&p, "bob", 0x0a000001u, &b) != 0x0a000001u); /* outside */
  zt_addrpool_free(&p);
}

/* When every address is bound, a new identity takes the binding of the
 * one offline longest, and the caller learns whose it was. */
static void test_full_pool_evicts_oldest_offline(void) {
  struct zt_addrpool p;
  int a, b, c, d;
  zt_addrpool_init(&p, NET, 30);
  uint32_t x = alloc(&p, "alice", 0, &a);
  uint32_t y = alloc(&p, "bob", 0, &b);
  zt_addrpool_release(&p, x, &a);
  zt_addrpool_release(&p, y, &b);
  CHECK_EQ_INT(alloc(&p, "bob", 0, &b), y); /* bob used more recently */
  struct zt_addr_grant g = zt_addrpool_alloc(&p, "carol", 0, &c);
  CHECK_EQ_INT(g.addr, x);
  CHECK_STR(g.evicted, "alice");
  CHECK(g.new_binding);
  CHECK_STR(zt_addrpool_bound_to(&p, x), "carol");
  /* Both live: nothing to evict. */
  CHECK_EQ_INT(alloc(&p, "dave", 0, &d), 0);
  zt_addrpool_free(&p);
}

static void test_bindings_survive_a_restart(void) {
  struct zt_addrpool p;
  int a, b;
  char text[256], err[128];
  size_t skipped;
  zt_addrpool_init(&p, NET, 16);
  uint32_t x = alloc(&p, "alice", 0, &a);
  uint32_t y = alloc(&p, "bob", 0, &b);
  CHECK(p.changed);
  size_t n = zt_addrpool_dump(&p, text, sizeof(text));
  CHECK(n < sizeof(text));
  CHECK(!p.changed);
  zt_addrpool_free(&p);

  zt_addrpool_init(&p, NET, 16);
  CHECK_EQ_INT(zt_addrpool_load(&p, text, n, &skipped, err, sizeof(err)), 0);
  CHECK_EQ_INT(skipped, 0);
  /* bob asks for alice's address first: he still gets his own. */
  CHECK_EQ_INT(alloc(&p, "bob", x, &b), y);
  CHECK_EQ_INT(alloc(&p, "alice", 0, &a), x);
  zt_addrpool_free(&p);
}

static void test_load_rejects_and_skips(void) {
  struct zt_addrpool p;
  char err[128];
  size_t skipped;
  static const char bad[] = "alice 100.64.0.5\nbob\n";
  static const char odd[] = "alice 100.64.0.5\n"
                            "bob 10.0.0.1\n"          /* outside the pool */
                            "carol 100.64.0.5\n"      /* address taken */
                            "alice 100.64.0.6\n"      /* name taken */
                            "dave 100.64.0.7\n";
  zt_addrpool_init(&p, NET, 24);
  CHECK_EQ_INT(zt_addrpool_load(&p, bad, sizeof(bad) - 1, &skipped, err,
                                sizeof(err)),
               -1);
  CHECK_CONTAINS(err, "line 2");
  zt_addrpool_free(&p);
  zt_addrpool_init(&p, NET, 24);
  CHECK_EQ_INT(zt_addrpool_load(&p, odd, sizeof(odd) - 1, &skipped, err,
                                sizeof(err)),
               0);
  CHECK_EQ_INT(skipped, 3);
  CHECK_STR(zt_addrpool_bound_to(&p, NET + 5), "alice");
  CHECK_STR(zt_addrpool_bound_to(&p, NET + 7), "dave");
  CHECK(p.changed); /* the file should lose the skipped lines */
  zt_addrpool_free(&p);
}

int main(void) {
  RUN(test_unique_while_live);
  RUN(test_offline_address_not_taken_by_hint);
  RUN(test_hint_for_unbound_address);
  RUN(test_full_pool_evicts_oldest_offline);
  RUN(test_bindings_survive_a_restart);
  RUN(test_load_rejects_and_skips);
  return TEST_EXIT();
}

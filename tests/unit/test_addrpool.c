/* Agent tunnel addresses bound to identities (addrpool.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The name index (addrpool.h, by_name): every identity finds its own
 * binding among thousands, also when two names share a hash ("a1039599"
 * and "a1222382" do under the index's FNV-1a), and after an eviction
 * renamed a binding the old name is gone from the index, the new one in. */
static void test_name_index(void) {
  struct zt_addrpool p;
  static int owners[3000];
  char name[32];
  uint32_t addr[3000];
  zt_addrpool_init(&p, NET, 16);
  for (int i = 0; i < 3000; i++) {
    snprintf(name, sizeof(name), "agent-%d", i);
    addr[i] = alloc(&p, name, 0, &owners[i]);
    CHECK(addr[i] != 0);
    zt_addrpool_release(&p, addr[i], &owners[i]);
  }
  for (int i = 2999; i >= 0; i--) {
    snprintf(name, sizeof(name), "agent-%d", i);
    CHECK_EQ_INT(alloc(&p, name, 0, &owners[i]), addr[i]);
    zt_addrpool_release(&p, addr[i], &owners[i]);
  }
  zt_addrpool_free(&p);

  int a, b, c;
  zt_addrpool_init(&p, NET, 30); /* two usable addresses */
  uint32_t x = alloc(&p, "a1039599", 0, &a);
  uint32_t y = alloc(&p, "a1222382", 0, &b);
  CHECK(x && y && x != y);
  zt_addrpool_release(&p, x, &a);
  zt_addrpool_release(&p, y, &b);
  CHECK_EQ_INT(alloc(&p, "a1222382", 0, &b), y);
  CHECK_EQ_INT(alloc(&p, "a1039599", 0, &a), x);
  zt_addrpool_release(&p, y, &b);
  /* Full: carol takes y, a1222382's (offline longest); a1222382 then finds
   * no binding of its own and, the pool full with both live, none. */
  struct zt_addr_grant g = zt_addrpool_alloc(&p, "carol", 0, &c);
  CHECK_EQ_INT(g.addr, y);
  CHECK_STR(g.evicted, "a1222382");
  CHECK_STR(zt_addrpool_bound_to(&p, y), "carol");
  CHECK_EQ_INT(alloc(&p, "a1222382", 0, &b), 0);
  zt_addrpool_release(&p, y, &c);
  CHECK_EQ_INT(alloc(&p, "carol", 0, &c), y);
  zt_addrpool_free(&p);
}

/* The saved text, byte for byte: one "name address" line per binding,
 * oldest use first. */
static void test_dump_text(void) {
  struct zt_addrpool p;
  int a, b;
  char buf[128];
  zt_addrpool_init(&p, 0x0a000000u, 8);
  CHECK_EQ_INT(alloc(&p, "bob", 0x0a640a05u, &b), 0x0a640a05u);
  CHECK_EQ_INT(alloc(&p, "alice", 0x0a00ff01u, &a), 0x0a00ff01u);
  size_t n = zt_addrpool_dump(&p, buf, sizeof(buf));
  CHECK_STR(buf, "bob 10.100.10.5\nalice 10.0.255.1\n");
  CHECK_EQ_INT(n, strlen(buf));
  CHECK_EQ_INT(zt_addrpool_dump(&p, NULL, 0), n);
  CHECK_EQ_INT(zt_addrpool_dump(&p, buf, 8), n); /* cut, still the length */
  CHECK_STR(buf, "bob 10.");
  zt_addrpool_free(&p);
}

int main(void) {
  RUN(test_unique_while_live);
  RUN(test_offline_address_not_taken_by_hint);
  RUN(test_hint_for_unbound_address);
  RUN(test_full_pool_evicts_oldest_offline);
  RUN(test_bindings_survive_a_restart);
  RUN(test_load_rejects_and_skips);
  RUN(test_name_index);
  RUN(test_dump_text);
  return TEST_EXIT();
}

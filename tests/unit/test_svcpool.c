/*
 * Service addresses from service_pool (svcpool.c): fixed addresses first,
 * bindings by name that survive reloads, absences and restarts (dump and
 * load), the longest-unused binding reused only when the range is full,
 * and a range too small refused with nothing changed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "svcpool.h"
#include "test.h"

#define NET 0x0a640000u /* 10.100.0.0 */

static char err[256];
static char notes[2048];

static void note(void *ud, const char *line) {
  (void)ud;
  size_t n = strlen(notes);
  snprintf(notes + n, sizeof(notes) - n, "%s\n", line);
}

/* A policy of services "name" (allocated) or "name=LAST_OCTET" (fixed at
 * 10.100.0.LAST_OCTET), NULL-terminated. */
static void make(struct zt_policy *p, const char *const *names) {
  memset(p, 0, sizeof(*p));
  for (; *names; names++) {
    struct zt_policy_service *s = &p->services[p->n_services++];
    const char *eq = strchr(*names, '=');
    size_t n = eq ? (size_t)(eq - *names) : strlen(*names);
    memcpy(s->name, *names, n);
    s->allocated = !eq;
    if (eq)
      s->address = NET + (uint32_t)atoi(eq + 1);
  }
}

/* The address service `name` got (0: none, or no such service). */
static uint32_t addr_of(const struct zt_policy *p, const char *name) {
  int i = zt_policy_find_service(p, name);
  return i < 0 ? 0 : p->services[i].address;
}

static int run(struct zt_svcpool *sp, struct zt_policy *p,
               const char *const *names) {
  make(p, names);
  notes[0] = 0;
  return zt_svcpool_assign(sp, p, note, NULL, err, sizeof err);
}

#define POLICY(...) ((const char *const[]){__VA_ARGS__, NULL})

static struct zt_policy pol;

static void test_lowest_free_never_fixed(void) {
  struct zt_svcpool sp;
  zt_svcpool_init(&sp, NET, 24);
  CHECK_EQ_INT(run(&sp, &pol, POLICY("a", "f=1", "b", "g=3", "c")), 0);
  CHECK_EQ_INT(addr_of(&pol, "f"), NET + 1);
  CHECK_EQ_INT(addr_of(&pol, "a"), NET + 2); /* .1 and .3 are fixed */
  CHECK_EQ_INT(addr_of(&pol, "b"), NET + 4);
  CHECK_EQ_INT(addr_of(&pol, "c"), NET + 5);
  CHECK_CONTAINS(notes, "service 'a' gets 10.100.0.2");
  /* Stable: the same policy again changes nothing, says nothing. */
  CHECK_EQ_INT(run(&sp, &pol, POLICY("a", "f=1", "b", "g=3", "c")), 0);
  CHECK_EQ_INT(addr_of(&pol, "a"), NET + 2);
  CHECK_EQ_INT(addr_of(&pol, "b"), NET + 4);
  CHECK_EQ_INT(addr_of(&pol, "c"), NET + 5);
  CHECK_STR(notes, "");
  CHECK_EQ_INT(sp.n_bindings, 3);
  zt_svcpool_free(&sp);
}

/* A reload reorders the file and adds a service: names keep addresses. */
static void test_reload_keeps_bindings(void) {
  struct zt_svcpool sp;
  zt_svcpool_init(&sp, NET, 24);
  CHECK_EQ_INT(run(&sp, &pol, POLICY("a", "b")), 0);
  uint32_t a = addr_of(&pol, "a"), b = addr_of(&pol, "b");
  CHECK_EQ_INT(run(&sp, &pol, POLICY("c", "b", "a")), 0);
  CHECK_EQ_INT(addr_of(&pol, "a"), a);
  CHECK_EQ_INT(addr_of(&pol, "b"), b);
  CHECK(addr_of(&pol, "c") != a && addr_of(&pol, "c") != b);
  zt_svcpool_free(&sp);
}

/* A service missing from one policy keeps its binding: nobody else gets
 * its address while there is room, and it has it again when it is back. */
static void test_removed_then_readded(void) {
  struct zt_svcpool sp;
  zt_svcpool_init(&sp, NET, 24);
  CHECK_EQ_INT(run(&sp, &pol, POLICY("a", "b")), 0);
  uint32_t a = addr_of(&pol, "a");
  CHECK_EQ_INT(run(&sp, &pol, POLICY("b")), 0);
  CHECK_EQ_INT(run(&sp, &pol, POLICY("b", "c")), 0);
  CHECK(addr_of(&pol, "c") != a);
  CHECK_EQ_INT(run(&sp, &pol, POLICY("a", "b", "c")), 0);
  CHECK_EQ_INT(addr_of(&pol, "a"), a);
  CHECK_STR(zt_svcpool_bound_to(&sp, a), "a");
  zt_svcpool_free(&sp);
}

/* A fixed address wins over a binding of another name: the binding moves
 * (present service) or goes (absent one), and it is said. */
static void test_fixed_moves_binding(void) {
  struct zt_svcpool sp;
  zt_svcpool_init(&sp, NET, 24);
  CHECK_EQ_INT(run(&sp, &pol, POLICY("a", "b")), 0);
  CHECK_EQ_INT(addr_of(&pol, "a"), NET + 1);
  CHECK_EQ_INT(addr_of(&pol, "b"), NET + 2);
  CHECK_EQ_INT(run(&sp, &pol, POLICY("a", "b", "f=1")), 0);
  CHECK_EQ_INT(addr_of(&pol, "f"), NET + 1);
  CHECK(addr_of(&pol, "a") != NET + 1);
  CHECK_EQ_INT(addr_of(&pol, "a"), NET + 3);
  CHECK_EQ_INT(addr_of(&pol, "b"), NET + 2);
  CHECK_CONTAINS(notes, "10.100.0.1 is now the fixed address of service "
                        "'f'; service 'a' loses it and moves");
  /* b absent, then its address fixed for g: b's binding is dropped. */
  CHECK_EQ_INT(run(&sp, &pol, POLICY("a", "f=1")), 0);
  CHECK_EQ_INT(run(&sp, &pol, POLICY("a", "f=1", "g=2")), 0);
  CHECK_CONTAINS(notes, "service 'b' loses it\n");
  CHECK(zt_svcpool_bound_to(&sp, NET + 2) == NULL);
  zt_svcpool_free(&sp);
}

/* A service allocated, then fixed at that same address: its binding there
 * goes too, or a full range could hand the address to a newcomer while the
 * fixed service holds it (found by fuzz_svcpool). */
static void test_own_binding_on_fixed(void) {
  struct zt_svcpool sp;
  zt_svcpool_init(&sp, NET, 29); /* .1 to .6 */
  CHECK_EQ_INT(run(&sp, &pol, POLICY("a", "s2", "s3", "s4", "s5", "s6")), 0);
  CHECK_EQ_INT(addr_of(&pol, "a"), NET + 1);
  CHECK_EQ_INT(run(&sp, &pol, POLICY("a=1", "n1")), 0);
  CHECK_EQ_INT(addr_of(&pol, "n1"), NET + 2); /* s2's, not a's fixed .1 */
  CHECK(zt_svcpool_bound_to(&sp, NET + 1) == NULL);
  zt_svcpool_free(&sp);
}

/* Too many services for the range: an error with the figures, and
 * neither the bindings nor the policy touched. */
static void test_range_too_small(void) {
  struct zt_svcpool sp;
  zt_svcpool_init(&sp, NET, 30); /* .1 and .2 */
  CHECK_EQ_INT(run(&sp, &pol, POLICY("a")), 0);
  CHECK_EQ_INT(run(&sp, &pol, POLICY("a", "b", "c")), -1);
  CHECK_STR(err, "service_pool 10.100.0.0/30 is too small: 3 service(s) "
                 "need an address, 2 available (2 usable, 0 fixed inside "
                 "it)");
  CHECK_EQ_INT(addr_of(&pol, "a"), 0);
  CHECK_EQ_INT(sp.n_bindings, 1);
  CHECK_EQ_INT(run(&sp, &pol, POLICY("a", "b", "f=2")), -1);
  CHECK_CONTAINS(err, "2 service(s) need an address, 1 available");
  /* A fixed address outside the range takes nothing from it. */
  CHECK_EQ_INT(run(&sp, &pol, POLICY("a", "b", "f=9")), 0);
  zt_svcpool_free(&sp);
  zt_svcpool_init(&sp, 0, 0);
  CHECK_EQ_INT(run(&sp, &pol, POLICY("f=1")), 0);
  CHECK_EQ_INT(run(&sp, &pol, POLICY("a")), -1);
  CHECK_CONTAINS(err, "no service_pool");
  zt_svcpool_free(&sp);
}

/* A full range: a newcomer takes the binding unused longest, and only a
 * binding of a service absent from the policy. */
static void test_full_reuses_longest_unused(void) {
  struct zt_svcpool sp;
  zt_svcpool_init(&sp, NET, 29); /* .1 to .6 */
  CHECK_EQ_INT(run(&sp, &pol, POLICY("s1", "s2", "s3", "s4", "s5", "s6")), 0);
  uint32_t s1 = addr_of(&pol, "s1"), s2 = addr_of(&pol, "s2");
  CHECK_EQ_INT(run(&sp, &pol, POLICY("s2", "s3", "s4", "s5", "s6")), 0);
  CHECK_EQ_INT(run(&sp, &pol, POLICY("s3", "s4", "s5", "s6")), 0);
  CHECK_EQ_INT(run(&sp, &pol, POLICY("s3", "s4", "s5", "s6", "n1")), 0);
  CHECK_EQ_INT(addr_of(&pol, "n1"), s1);
  CHECK_CONTAINS(notes, "service 'n1' takes 10.100.0.1, the address of "
                        "service 's1'");
  CHECK_EQ_INT(run(&sp, &pol, POLICY("s3", "s4", "s5", "s6", "n1", "n2")), 0);
  CHECK_EQ_INT(addr_of(&pol, "n2"), s2);
  CHECK_EQ_INT(addr_of(&pol, "n1"), s1);
  zt_svcpool_free(&sp);
}

/* What is dumped loads back to the same bindings and the same order of
 * use: a restart changes no address and no later choice. */
static void test_dump_load_round_trip(void) {
  struct zt_svcpool sp, back;
  char text[512], again[512];
  size_t skipped;
  zt_svcpool_init(&sp, NET, 29);
  CHECK_EQ_INT(run(&sp, &pol, POLICY("s1", "s2", "s3", "s4", "s5", "s6")), 0);
  CHECK_EQ_INT(run(&sp, &pol, POLICY("s2", "s3", "s4", "s5", "s6")), 0);
  CHECK_EQ_INT(run(&sp, &pol, POLICY("s3", "s4", "s5", "s6")), 0);
  size_t n = zt_svcpool_dump(&sp, text, sizeof text);
  CHECK(n > 0 && n < sizeof text);
  CHECK_EQ_INT(strncmp(text, "s1 10.100.0.1\ns2 10.100.0.2\n", 28), 0);
  zt_svcpool_init(&back, NET, 29);
  CHECK_EQ_INT(zt_svcpool_load(&back, text, n, &skipped, err, sizeof err), 0);
  CHECK_EQ_INT(skipped, 0);
  CHECK_EQ_INT(zt_svcpool_dump(&back, again, sizeof again), n);
  CHECK_STR(again, text);
  CHECK_EQ_INT(run(&back, &pol, POLICY("s3", "s4", "s5", "s6", "n1")), 0);
  CHECK_EQ_INT(addr_of(&pol, "n1"), NET + 1); /* s1's: unused longest */
  CHECK_EQ_INT(addr_of(&pol, "s3"), NET + 3);
  zt_svcpool_free(&sp);
  zt_svcpool_free(&back);
}

static void test_load_rejects_and_skips(void) {
  struct zt_svcpool sp;
  size_t skipped;
  const char bad[] = "a 10.100.0.1\nnot a binding line\n";
  zt_svcpool_init(&sp, NET, 24);
  CHECK_EQ_INT(zt_svcpool_load(&sp, bad, sizeof bad - 1, &skipped, err,
                               sizeof err),
               -1);
  CHECK_STR(err, "line 2: expected \"name address\"");
  zt_svcpool_free(&sp);
  /* Outside the range, its network and broadcast addresses, a name or an
   * address twice: skipped and counted. */
  const char odd[] = "a 10.100.0.1\n\nb 10.101.0.1\nc 10.100.0.0\n"
                     "d 10.100.0.255\na 10.100.0.2\ne 10.100.0.1\n"
                     "f 10.100.0.254\n";
  zt_svcpool_init(&sp, NET, 24);
  CHECK_EQ_INT(zt_svcpool_load(&sp, odd, sizeof odd - 1, &skipped, err,
                               sizeof err),
               0);
  CHECK_EQ_INT(skipped, 5);
  CHECK_EQ_INT(sp.n_bindings, 2);
  CHECK_STR(zt_svcpool_bound_to(&sp, NET + 254), "f");
  zt_svcpool_free(&sp);
}

/* A copy is independent: what a failed reload allocated into its copy
 * never reaches the bindings in force. */
static void test_copy_and_commit(void) {
  struct zt_svcpool sp, copy;
  zt_svcpool_init(&sp, NET, 24);
  CHECK_EQ_INT(run(&sp, &pol, POLICY("a")), 0);
  CHECK_EQ_INT(zt_svcpool_copy(&copy, &sp), 0);
  CHECK_EQ_INT(run(&copy, &pol, POLICY("a", "b")), 0);
  CHECK_EQ_INT(sp.n_bindings, 1);
  CHECK(zt_svcpool_bound_to(&sp, addr_of(&pol, "b")) == NULL);
  zt_svcpool_commit(&sp, &copy);
  CHECK_STR(zt_svcpool_bound_to(&sp, addr_of(&pol, "b")), "b");
  CHECK_EQ_INT(copy.n_bindings, 0);
  zt_svcpool_free(&sp);
}

int main(void) {
  RUN(test_lowest_free_never_fixed);
  RUN(test_reload_keeps_bindings);
  RUN(test_removed_then_readded);
  RUN(test_fixed_moves_binding);
  RUN(test_own_binding_on_fixed);
  RUN(test_range_too_small);
  RUN(test_full_reuses_longest_unused);
  RUN(test_dump_load_round_trip);
  RUN(test_load_rejects_and_skips);
  RUN(test_copy_and_commit);
  return TEST_EXIT();
}

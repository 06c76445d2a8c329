/* The choice of a connector per agent and service (chooser.h): sticky
 * while responsive, otherwise rendezvous hashing over the responsive ones;
 * agents spread roughly evenly, and a connector leaving moves only its own
 * agents. */
#include <stdio.h>

#include "chooser.h"
#include "test.h"

#define AGENTS 3000

static const char *names[3] = {"conn-a", "conn-b", "conn-c"};

static void cands(struct zt_chooser_candidate *c, size_t n, unsigned silent) {
  for (size_t i = 0; i < n; i++) {
    c[i].name = names[i];
    c[i].responsive = !(silent & 1u << i);
  }
}

static void agent_name(char *buf, size_t len, int i) {
  snprintf(buf, len, "agent-%d", i);
}

static void test_nothing_registered_is_offline(void) {
  CHECK_EQ_INT(zt_chooser_pick("alice", "web", NULL, 0, NULL), -1);
  CHECK_EQ_INT(zt_chooser_pick("alice", "web", NULL, 0, "conn-a"), -1);
}

static void test_sticky_while_responsive(void) {
  struct zt_chooser_candidate c[3];
  cands(c, 3, 0);
  /* Whatever the weights say, the current one stays. */
  for (size_t k = 0; k < 3; k++)
    CHECK_EQ_INT(zt_chooser_pick("alice", "web", c, 3, names[k]), (int)k);
  /* A current one that is silent or not registered is left. */
  int fresh = zt_chooser_pick("alice", "web", c, 3, NULL);
  int other = (fresh + 1) % 3;
  cands(c, 3, 1u << other);
  CHECK_EQ_INT(zt_chooser_pick("alice", "web", c, 3, names[other]), fresh);
  cands(c, 3, 0);
  CHECK_EQ_INT(zt_chooser_pick("alice", "web", c, 3, "conn-gone"), fresh);
  /* The order of the candidates does not matter. */
  struct zt_chooser_candidate rev[3] = {c[2], c[1], c[0]};
  CHECK_EQ_INT(zt_chooser_pick("alice", "web", rev, 3, NULL), 2 - fresh);
}

/* A silent connector is never chosen while a responsive one is there; when
 * all are silent the agent keeps its own (it may well be alive). */
static void test_silent_never_chosen(void) {
  struct zt_chooser_candidate c[3];
  char agent[32];
  for (int i = 0; i < 300; i++) {
    agent_name(agent, sizeof agent, i);
    cands(c, 3, 1u << 0 | 1u << 2);
    CHECK_EQ_INT(zt_chooser_pick(agent, "web", c, 3, NULL), 1);
    CHECK_EQ_INT(zt_chooser_pick(agent, "web", c, 3, "conn-a"), 1);
  }
  cands(c, 3, 7u);
  CHECK_EQ_INT(zt_chooser_pick("alice", "web", c, 3, "conn-c"), 2);
  CHECK(zt_chooser_pick("alice", "web", c, 3, NULL) >= 0);
}

static void test_spread_roughly_even(void) {
  struct zt_chooser_candidate c[3];
  int per[3] = {0, 0, 0};
  char agent[32];
  cands(c, 3, 0);
  for (int i = 0; i < AGENTS; i++) {
    agent_name(agent, sizeof agent, i);
    per[zt_chooser_pick(agent, "web", c, 3, NULL)]++;
  }
  printf("  spread of %d agents over 3 connectors: %d %d %d\n", AGENTS, per[0],
         per[1], per[2]);
  for (int k = 0; k < 3; k++) /* 1000 expected; +-15% is far outside noise */
    CHECK(per[k] > 850 && per[k] < 1150);
}

/* Without stickiness (fresh choices): c leaving moves only c's agents, and
 * c coming back takes back only agents that were c's. */
static void test_minimal_movement(void) {
  struct zt_chooser_candidate all[3], two[2];
  int moved = 0, had_c = 0;
  char agent[32];
  cands(all, 3, 0);
  cands(two, 2, 0);
  for (int i = 0; i < AGENTS; i++) {
    agent_name(agent, sizeof agent, i);
    int before = zt_chooser_pick(agent, "web", all, 3, NULL);
    int after = zt_chooser_pick(agent, "web", two, 2, NULL);
    if (before == 2)
      had_c++;
    else
      CHECK_EQ_INT(after, before);
    moved += after != before;
  }
  CHECK_EQ_INT(moved, had_c);
  /* The service name is part of the weight: another service spreads the
   * same agents differently. */
  int differ = 0;
  for (int i = 0; i < 300; i++) {
    agent_name(agent, sizeof agent, i);
    differ += zt_chooser_pick(agent, "web", all, 3, NULL) !=
              zt_chooser_pick(agent, "db", all, 3, NULL);
  }
  CHECK(differ > 100);
}

static void test_choices_table(void) {
  static struct zt_choices t;
  CHECK_STR(zt_choices_get(&t, "web"), "");
  zt_choices_set(&t, "web", "conn-a");
  zt_choices_set(&t, "db", "conn-b");
  zt_choices_set(&t, "web", "conn-c");
  CHECK_STR(zt_choices_get(&t, "web"), "conn-c");
  CHECK_STR(zt_choices_get(&t, "db"), "conn-b");
  zt_choices_set(&t, "web", NULL);
  CHECK_STR(zt_choices_get(&t, "web"), "");
  CHECK_STR(zt_choices_get(&t, "db"), "conn-b");
  CHECK_EQ_INT(t.n, 1);
}

int main(void) {
  RUN(test_nothing_registered_is_offline);
  RUN(test_sticky_while_responsive);
  RUN(test_silent_never_chosen);
  RUN(test_spread_roughly_even);
  RUN(test_minimal_movement);
  RUN(test_choices_table);
  return TEST_EXIT();
}

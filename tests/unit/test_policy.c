/*
 * The policy document and its matcher: errors name file:line: key, the
 * precedence (agent rule > group rule > "*" rule; deny wins among equals;
 * default deny) is pinned by a table, per-port grants, and a broken file
 * never replaces a good snapshot.
 */
#include <netinet/in.h>
#include <unistd.h>

#include "config.h"
#include "policy.h"
#include "test.h"

static char err[512];

static struct zt_policy *parse(const char *text) {
  struct zt_policy *p = zt_policy_new();
  if (zt_policy_parse(p, "policy.json", text, strlen(text), err,
                      sizeof err) != 0) {
    zt_policy_free(p);
    return NULL;
  }
  return p;
}

/* Two groups, three services, rules of every kind. Line numbers matter to
 * the warnings test below. */
static const char doc[] =
    "{\n"
    "  \"groups\": [\n"
    "    {\"name\": \"eng\", \"agents\": [\"alice\", \"bob\"]},\n"
    "    {\"name\": \"ops\", \"agents\": [\"carol\"]}\n"
    "  ],\n"
    "  \"services\": [\n"
    "    {\"name\": \"web\", \"address\": \"10.100.0.10\", \"connector\": "
    "\"c1\", \"ports\": [\"tcp/80\", \"tcp/443\"]},\n"
    "    {\"name\": \"db\", \"address\": \"10.100.0.11\", \"connector\": "
    "\"c1\", \"ports\": [\"tcp/5432\", \"udp/5000-5010\"]},\n"
    "    {\"name\": \"wiki\", \"address\": \"10.100.0.12\", \"connector\": "
    "\"c2\"}\n"
    "  ],\n"
    "  \"rules\": [\n"
    "    {\"group\": \"eng\", \"services\": [\"web\"], \"ports\": "
    "[\"tcp/443\"]},\n"
    "    {\"agent\": \"bob\", \"services\": [\"web\"]},\n"
    "    {\"group\": \"ops\", \"services\": [\"db\"]},\n"
    "    {\"agent\": \"carol\", \"services\": [\"db\"], \"action\": "
    "\"deny\"},\n"
    "    {\"agent\": \"*\", \"services\": [\"wiki\"]},\n"
    "    {\"group\": \"eng\", \"services\": [\"wiki\"], \"action\": "
    "\"deny\"},\n"
    "    {\"group\": \"ops\", \"services\": [\"db\"], \"ports\": "
    "[\"udp/5001\"]}\n"
    "  ]\n"
    "}\n";

static void test_precedence_table(void) {
  struct zt_policy *p = parse(doc);
  if (!p)
    fprintf(stderr, "%s\n", err);
  CHECK(p);
  static const struct {
    const char *agent, *service;
    uint8_t proto;
    uint16_t port;
    bool allowed;
  } cases[] = {
      /* group rule with a port subset */
      {"alice", "web", IPPROTO_TCP, 443, true},
      {"alice", "web", IPPROTO_TCP, 80, false},
      /* bob's own rule beats the group's: every port of the service */
      {"bob", "web", IPPROTO_TCP, 80, true},
      {"bob", "web", IPPROTO_TCP, 443, true},
      {"bob", "web", IPPROTO_TCP, 8080, false}, /* not a port of web */
      {"bob", "web", IPPROTO_UDP, 80, false},
      /* not in any group, no rule: default deny */
      {"dave", "web", IPPROTO_TCP, 443, false},
      {"dave", "db", IPPROTO_TCP, 5432, false},
      /* carol's own deny beats her group's two allows */
      {"carol", "db", IPPROTO_TCP, 5432, false},
      {"carol", "db", IPPROTO_UDP, 5001, false},
      /* "*" rule: anyone without a more specific one */
      {"dave", "wiki", IPPROTO_TCP, 22, true},
      {"carol", "wiki", IPPROTO_ICMP, 0, true},
      /* the eng group's deny beats "*" */
      {"alice", "wiki", IPPROTO_TCP, 22, false},
      {"bob", "wiki", IPPROTO_ICMP, 0, false},
      /* names are exact */
      {"Alice", "web", IPPROTO_TCP, 443, false},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int s = zt_policy_find_service(p, cases[i].service);
    CHECK(s >= 0);
    bool got = zt_policy_allows(p, cases[i].agent, (size_t)s, cases[i].proto,
                                cases[i].port);
    if (got != cases[i].allowed)
      fprintf(stderr, "case %zu: %s %s %u/%u: got %d\n", i, cases[i].agent,
              cases[i].service, cases[i].proto, cases[i].port, got);
    CHECK(got == cases[i].allowed);
  }
  /* The rule that decided, for the audit log. */
  CHECK_EQ_INT(zt_policy_deciding_rule(p, "alice", 0), 0); /* eng web */
  CHECK_EQ_INT(zt_policy_deciding_rule(p, "bob", 0), 1);   /* his own */
  CHECK_EQ_INT(zt_policy_deciding_rule(p, "carol", 1), 3); /* her deny */
  CHECK_EQ_INT(zt_policy_deciding_rule(p, "alice", 2), 5); /* eng deny */
  CHECK_EQ_INT(zt_policy_deciding_rule(p, "dave", 2), 4);  /* "*" */
  CHECK_EQ_INT(zt_policy_deciding_rule(p, "dave", 0), -1); /* default */
  zt_policy_free(p);
}

/* Several allow rules of the deciding kind: their ports add up. */
static void test_union_of_allows(void) {
  struct zt_policy *p = parse(
      "{\"groups\": [{\"name\": \"g\", \"agents\": [\"a\"]}, {\"name\": "
      "\"h\", \"agents\": [\"a\"]}],\n"
      " \"services\": [{\"name\": \"s\", \"address\": \"10.1.0.1\", "
      "\"connector\": \"c\", \"ports\": [\"tcp/1-100\"]}],\n"
      " \"rules\": [{\"group\": \"g\", \"services\": [\"s\"], \"ports\": "
      "[\"tcp/10\"]},\n"
      "           {\"group\": \"h\", \"services\": [\"s\"], \"ports\": "
      "[\"tcp/20-30\"]}]}");
  CHECK(p);
  struct zt_policy_grant g;
  CHECK(zt_policy_grant(p, "a", 0, &g));
  CHECK_EQ_INT(g.n, 2);
  CHECK(zt_policy_allows(p, "a", 0, IPPROTO_TCP, 10));
  CHECK(zt_policy_allows(p, "a", 0, IPPROTO_TCP, 25));
  CHECK(!zt_policy_allows(p, "a", 0, IPPROTO_TCP, 11));
  CHECK(!zt_policy_grant(p, "b", 0, &g));
  CHECK_EQ_INT(g.n, 0);
  zt_policy_free(p);
}

static void test_empty_policy_denies(void) {
  struct zt_policy *p = parse("{}");
  CHECK(p);
  CHECK_EQ_INT(p->n_services, 0);
  struct zt_policy_grant g;
  CHECK(!zt_policy_grant(p, "a", 0, &g));
  zt_policy_free(p);
}

/* "connectors": several connectors may register one service; "connector"
 * is the one-element form. */
static void test_connectors(void) {
  struct zt_policy *p = parse(
      "{\"services\": [{\"name\": \"web\", \"address\": \"10.1.0.1\", "
      "\"connectors\": [\"c1\", \"c2\"]},\n{\"name\": \"db\", \"address\": "
      "\"10.1.0.2\", \"connector\": \"c2\"}]}");
  CHECK(p != NULL);
  if (!p) {
    fprintf(stderr, "%s\n", err);
    return;
  }
  CHECK_EQ_INT(p->services[0].n_connectors, 2);
  CHECK(zt_policy_names_connector(&p->services[0], "c1"));
  CHECK(zt_policy_names_connector(&p->services[0], "c2"));
  CHECK(!zt_policy_names_connector(&p->services[0], "c3"));
  CHECK_EQ_INT(p->services[1].n_connectors, 1);
  CHECK(!zt_policy_names_connector(&p->services[1], "c1"));
  CHECK_STR(p->services[1].connectors[0], "c2");
  zt_policy_free(p);
}

static void test_errors(void) {
  static const struct {
    const char *text, *msg;
  } cases[] = {
      {"{\n\"rules\": [{\"agent\": \"a\", \"services\": [\"nope\"]}]}",
       "policy.json:2: rules[0].services[0]: no service named 'nope'"},
      {"{\"services\": [{\"name\": \"s\", \"address\": \"10.1.0.1\", "
       "\"connector\": \"c\"}],\n\"rules\": [{\"group\": \"g\", "
       "\"services\": [\"s\"]}]}",
       "policy.json:2: rules[0].group: no group named 'g'"},
      {"{\"services\": [{\"name\": \"s\", \"address\": \"10.1.0.1\", "
       "\"connector\": \"c\"}],\n\"rules\": [{\"services\": [\"s\"]}]}",
       "policy.json:2: rules[0]: missing: \"agent\""},
      {"{\"services\": [{\"name\": \"s\", \"address\": \"10.1.0.1\", "
       "\"connector\": \"c\"}],\n\"rules\": [{\"agent\": \"a\"}]}",
       "policy.json:2: rules[0].services: missing"},
      {"{\"groups\": [{\"name\": \"g\", \"agents\": []}],\n"
       "\"services\": [{\"name\": \"s\", \"address\": \"10.1.0.1\", "
       "\"connector\": \"c\"}],\n\"rules\": [{\"agent\": \"a\", "
       "\"group\": \"g\", \"services\": [\"s\"]}]}",
       "policy.json:3: rules[0].group: a rule names one subject"},
      {"{\"services\": [{\"name\": \"s\", \"address\": \"10.1.0.1\", "
       "\"connector\": \"c\", \"ports\": [\"tcp/80\"]}],\n\"rules\": "
       "[{\"agent\": \"a\", \"services\": [\"s\"],\n \"ports\": "
       "[\"tcp/81\"]}]}",
       "policy.json:2: rules[0].ports[0]: tcp/81 is not among the ports of "
       "service 's'"},
      {"{\"services\": [{\"name\": \"s\", \"address\": \"10.1.0.1\", "
       "\"connector\": \"c\"}],\n\"rules\": [{\"agent\": \"a\", "
       "\"services\": [\"s\"], \"action\": \"maybe\"}]}",
       "policy.json:2: rules[0].action: expected \"allow\" or \"deny\""},
      {"{\"services\": [{\"name\": \"s\", \"address\": \"10.1.0.1\", "
       "\"connector\": \"c\"}],\n\"rules\": [{\"agent\": \"a\", "
       "\"services\": [\"s\"], \"action\": \"deny\", \"ports\": "
       "[\"tcp/1\"]}]}",
       "rules[0].ports: a deny rule takes no ports"},
      {"{\"groups\": [{\"name\": \"g\", \"agents\": [\"a\", \"a\"]}]}",
       "policy.json:1: groups[0].agents[1]: agent 'a' is listed twice"},
      {"{\"groups\": [{\"name\": \"g\", \"agents\": []},\n{\"name\": \"g\", "
       "\"agents\": []}]}",
       "policy.json:2: groups[1].name: group 'g' is defined twice"},
      {"{\"services\": [{\"name\": \"s\", \"address\": \"10.1.0.1\"}]}",
       "policy.json:1: services[0].connector: missing"},
      {"{\"services\": [{\"name\": \"s\", \"address\": \"10.1.0.1\", "
       "\"connector\": \"c\"},\n{\"name\": \"t\", \"address\": "
       "\"10.1.0.1\", \"connector\": \"c\"}]}",
       "policy.json:2: services[1].address: 10.1.0.1 is already the address"},
      {"{\"services\": [{\"name\": \"s\", \"address\": \"10.1.0.1\",\n"
       "\"connector\": \"c\", \"connectors\": [\"d\"]}]}",
       "policy.json:2: services[0].connectors: give \"connector\" or "
       "\"connectors\", not both"},
      {"{\"services\": [{\"name\": \"s\", \"address\": \"10.1.0.1\",\n"
       "\"connectors\": [\"c\", \"d\",\n\"c\"]}]}",
       "policy.json:3: services[0].connectors[2]: connector 'c' is listed "
       "twice"},
      {"{\"services\": [{\"name\": \"s\", \"address\": \"10.1.0.1\", "
       "\"connectors\": []}]}",
       "policy.json:1: services[0].connectors: empty"},
      {"{\"services\": [{\"name\": \"s\", \"address\": \"10.1.0.1\", "
       "\"connectors\": [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\", "
       "\"h\", \"i\"]}]}",
       "services[0].connectors: too many connectors (max 8)"},
      {"{\"services\": [{\"name\": \"s\", \"address\": \"10.1.0.1\", "
       "\"connectors\": [\"bad name\"]}]}",
       "services[0].connectors[0]: not a valid name"},
      {"{\"servics\": []}", "policy.json:1: servics: unknown key"},
      {"{\"rules\": [}", "policy.json:1:"},
      {"{\"groups\": [{\"name\": \"g\", \"agents\": [\"bad name\"]}]}",
       "groups[0].agents[0]: not a valid name"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct zt_policy *p = parse(cases[i].text);
    if (p)
      fprintf(stderr, "case %zu parsed\n", i);
    CHECK(!p);
    if (!strstr(err, cases[i].msg))
      fprintf(stderr, "case %zu\n", i);
    CHECK_CONTAINS(err, cases[i].msg);
  }
}

static void collect(void *ud, const char *line) {
  char *buf = ud;
  strncat(buf, line, 2047 - strlen(buf));
  strncat(buf, "\n", 2047 - strlen(buf));
}

static void test_warnings(void) {
  char out[2048] = "";
  struct zt_policy *p = parse(
      "{\"groups\": [{\"name\": \"empty\", \"agents\": []},\n"
      "{\"name\": \"g\", \"agents\": [\"a\"]}],\n"
      "\"services\": [{\"name\": \"s\", \"address\": \"10.1.0.1\", "
      "\"connector\": \"c\"},\n{\"name\": \"lonely\", \"address\": "
      "\"10.1.0.2\", \"connector\": \"c\"}],\n"
      "\"rules\": [{\"group\": \"empty\", \"services\": [\"s\"]},\n"
      "{\"group\": \"g\", \"services\": [\"s\"]},\n"
      "{\"agent\": \"a\", \"services\": [\"s\"]}]}");
  CHECK(p);
  CHECK_EQ_INT(zt_policy_warnings(p, collect, out), 3);
  CHECK_CONTAINS(out, "line 5: rules[0] matches nothing: group 'empty' is "
                      "empty");
  CHECK_CONTAINS(out, "line 6: rules[1] matches nothing: every member of "
                      "group 'g'");
  CHECK_CONTAINS(out, "service 'lonely': no rule grants it");
  zt_policy_free(p);
  /* The table's document: carol, ops's only member, has her own db rule,
   * so both ops rules can never decide anything. */
  out[0] = 0;
  p = parse(doc);
  CHECK(p);
  CHECK_EQ_INT(zt_policy_warnings(p, collect, out), 2);
  CHECK_CONTAINS(out, "line 14: rules[2] matches nothing: every member of "
                      "group 'ops'");
  zt_policy_free(p);
}

/* The intermediate.json forms: a file name, or the older inline lists. */
static void test_intermediate_forms(void) {
  static struct zt_intermediate_config c;
  const char *t1 = "{\"policy\": \"/etc/ztna/policy.json\"}";
  zt_intermediate_config_defaults(&c);
  CHECK_EQ_INT(zt_intermediate_config_parse(&c, "im.json", t1, strlen(t1),
                                            err, sizeof err),
               0);
  CHECK_STR(c.policy_file, "/etc/ztna/policy.json");
  const char *t2 = "{\"services\": [{\"name\": \"s\", \"address\": "
                   "\"10.1.0.1\", \"connector\": \"c\"}],\n"
                   "\"policy\": \"p.json\"}";
  zt_intermediate_config_defaults(&c);
  CHECK(zt_intermediate_config_parse(&c, "im.json", t2, strlen(t2), err,
                                     sizeof err) != 0);
  CHECK_CONTAINS(err, "im.json:1: services: with a policy file");
  const char *t3 = "{\"services\": [{\"name\": \"s\", \"address\": "
                   "\"10.1.0.1\", \"connector\": \"c\"}],\n"
                   "\"policy\": [{\"agent\": \"*\", \"services\": [\"s\"]},"
                   "{\"agent\": \"a\", \"services\": [\"s\"]}]}";
  zt_intermediate_config_defaults(&c);
  CHECK_EQ_INT(zt_intermediate_config_parse(&c, "im.json", t3, strlen(t3),
                                            err, sizeof err),
               0);
  struct zt_policy *p = zt_policy_new();
  CHECK(p);
  zt_policy_from_inline(p, &c);
  CHECK_EQ_INT(p->n_rules, 2);
  CHECK(zt_policy_allows(p, "anyone", 0, IPPROTO_TCP, 1));
  CHECK(zt_policy_allows(p, "a", 0, IPPROTO_UDP, 9));
  zt_policy_free(p);
}

/* Loading a broken file into a fresh snapshot leaves the one in force
 * alone: the swap only happens after a parse that succeeded. */
static void test_broken_file_keeps_old(void) {
  char path[] = "/tmp/ztna-policy-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  const char *bad = "{\"rules\": [{\"agent\": \"a\", \"services\": [\"x\"]}]}";
  CHECK(write(fd, bad, strlen(bad)) == (ssize_t)strlen(bad));
  close(fd);
  struct zt_policy *live = parse(doc);
  CHECK(live);
  struct zt_policy *fresh = zt_policy_new();
  CHECK(fresh);
  int rv = zt_policy_load(fresh, path, err, sizeof err);
  unlink(path);
  CHECK(rv != 0);
  CHECK_CONTAINS(err, path);
  CHECK_CONTAINS(err, "no service named 'x'");
  zt_policy_free(fresh);
  CHECK(zt_policy_allows(live, "alice", 0, IPPROTO_TCP, 443));
  CHECK(zt_policy_load(live, "/nonexistent/policy.json", err, sizeof err) !=
        0);
  CHECK_CONTAINS(err, "/nonexistent/policy.json");
  zt_policy_free(live);
}

int main(void) {
  RUN(test_precedence_table);
  RUN(test_union_of_allows);
  RUN(test_empty_policy_denies);
  RUN(test_connectors);
  RUN(test_errors);
  RUN(test_warnings);
  RUN(test_intermediate_forms);
  RUN(test_broken_file_keeps_old);
  return TEST_EXIT();
}

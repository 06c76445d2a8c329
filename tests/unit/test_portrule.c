/*
 * Port rules: the four forms parse and print back unchanged, malformed
 * rules are refused with a reason, and matching is inclusive, per protocol
 * and default deny.
 */
#include <netinet/in.h>

#include "portrule.h"
#include "test.h"

static char err[128];
static char buf[32];

static void test_parse_forms(void) {
  struct zt_port_rule r;
  CHECK(zt_port_rule_parse("tcp/80", &r, err, sizeof err) == 0);
  CHECK_EQ_INT(r.proto, IPPROTO_TCP);
  CHECK_EQ_INT(r.lo, 80);
  CHECK_EQ_INT(r.hi, 80);
  CHECK(zt_port_rule_parse("udp/5000-5010", &r, err, sizeof err) == 0);
  CHECK_EQ_INT(r.proto, IPPROTO_UDP);
  CHECK_EQ_INT(r.lo, 5000);
  CHECK_EQ_INT(r.hi, 5010);
  CHECK(zt_port_rule_parse("tcp/*", &r, err, sizeof err) == 0);
  CHECK_EQ_INT(r.proto, IPPROTO_TCP);
  CHECK_EQ_INT(r.lo, 0);
  CHECK_EQ_INT(r.hi, 65535);
  CHECK(zt_port_rule_parse("icmp", &r, err, sizeof err) == 0);
  CHECK_EQ_INT(r.proto, IPPROTO_ICMP);
  CHECK_EQ_INT(r.lo, 0);
  CHECK_EQ_INT(r.hi, 0);
  CHECK(zt_port_rule_parse("udp/1-65535", &r, err, sizeof err) == 0);
  CHECK(zt_port_rule_parse("tcp/7-7", &r, err, sizeof err) == 0);
  CHECK_EQ_INT(r.lo, 7);
  CHECK_EQ_INT(r.hi, 7);
}

static void test_roundtrip(void) {
  static const char *const rules[] = {"tcp/80",    "udp/5000-5010", "tcp/*",
                                      "udp/*",     "icmp",          "tcp/1",
                                      "udp/65535", "tcp/1-65535"};
  for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
    struct zt_port_rule r;
    CHECK(zt_port_rule_parse(rules[i], &r, err, sizeof err) == 0);
    CHECK_STR(zt_port_rule_str(&r, buf, sizeof buf), rules[i]);
  }
  struct zt_port_rule odd = {.proto = 47, .lo = 1, .hi = 2};
  CHECK_STR(zt_port_rule_str(&odd, buf, sizeof buf), "proto47/1-2");
}

static void test_refused(void) {
  static const struct {
    const char *rule, *why;
  } bad[] = {
      {"", "not a port rule"},       {"tcp", "not a port rule"},
      {"TCP/80", "not a port rule"}, {"Icmp", "not a port rule"},
      {"icmp/0", "not a port rule"}, {"sctp/80", "not a port rule"},
      {"tcp:80", "not a port rule"}, {" tcp/80", "not a port rule"},
      {"tcp/", "bad port"},          {"tcp/0", "bad port"},
      {"tcp/65536", "bad port"},     {"tcp/99999999999999", "bad port"},
      {"tcp/080", "bad port"},       {"tcp/-80", "bad port"},
      {"tcp/+80", "bad port"},       {"tcp/80 ", "bad port"},
      {"tcp/80-", "bad port"},       {"tcp/80-0", "bad port"},
      {"tcp/80-90-100", "bad port"}, {"tcp/**", "bad port"},
      {"tcp/1-*", "bad port"},       {"udp/5010-5000", "backwards"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct zt_port_rule r = {.proto = 99, .lo = 1, .hi = 1};
    err[0] = '\0';
    if (zt_port_rule_parse(bad[i].rule, &r, err, sizeof err) != -1) {
      fprintf(stderr, "accepted '%s'\n", bad[i].rule);
      CHECK(0);
    }
    CHECK_CONTAINS(err, bad[i].why);
    CHECK_EQ_INT(r.proto, 99); /* untouched */
  }
  /* No error buffer is fine. */
  struct zt_port_rule r;
  CHECK(zt_port_rule_parse("nope", &r, NULL, 0) == -1);
  CHECK(zt_port_rule_parse(NULL, &r, err, sizeof err) == -1);
}

static void test_match(void) {
  struct zt_port_rule rules[3];
  CHECK(zt_port_rule_parse("tcp/80", &rules[0], err, sizeof err) == 0);
  CHECK(zt_port_rule_parse("udp/5000-5010", &rules[1], err, sizeof err) == 0);
  CHECK(zt_port_rule_parse("icmp", &rules[2], err, sizeof err) == 0);

  CHECK(zt_port_rules_match(rules, 3, IPPROTO_TCP, 80));
  CHECK(!zt_port_rules_match(rules, 3, IPPROTO_TCP, 81));
  CHECK(!zt_port_rules_match(rules, 3, IPPROTO_TCP, 79));
  CHECK(!zt_port_rules_match(rules, 3, IPPROTO_UDP, 80));
  CHECK(zt_port_rules_match(rules, 3, IPPROTO_UDP, 5000));
  CHECK(zt_port_rules_match(rules, 3, IPPROTO_UDP, 5005));
  CHECK(zt_port_rules_match(rules, 3, IPPROTO_UDP, 5010));
  CHECK(!zt_port_rules_match(rules, 3, IPPROTO_UDP, 4999));
  CHECK(!zt_port_rules_match(rules, 3, IPPROTO_UDP, 5011));
  CHECK(!zt_port_rules_match(rules, 3, IPPROTO_TCP, 5005));
  /* ICMP ignores the port, whatever the caller passes. */
  CHECK(zt_port_rules_match(rules, 3, IPPROTO_ICMP, 0));
  CHECK(zt_port_rules_match(rules, 3, IPPROTO_ICMP, 12345));
  CHECK(!zt_port_rules_match(rules, 2, IPPROTO_ICMP, 0));
  /* Other protocols never match; no rules is default deny. */
  CHECK(!zt_port_rules_match(rules, 3, 47, 80));
  CHECK(!zt_port_rules_match(rules, 0, IPPROTO_TCP, 80));
  CHECK(!zt_port_rules_match(NULL, 0, IPPROTO_TCP, 80));
}

static void test_match_wildcard(void) {
  struct zt_port_rule r;
  CHECK(zt_port_rule_parse("tcp/*", &r, err, sizeof err) == 0);
  CHECK(zt_port_rules_match(&r, 1, IPPROTO_TCP, 0));
  CHECK(zt_port_rules_match(&r, 1, IPPROTO_TCP, 1));
  CHECK(zt_port_rules_match(&r, 1, IPPROTO_TCP, 65535));
  CHECK(!zt_port_rules_match(&r, 1, IPPROTO_UDP, 53));
  CHECK(!zt_port_rules_match(&r, 1, IPPROTO_ICMP, 0));
}

int main(void) {
  RUN(test_parse_forms);
  RUN(test_roundtrip);
  RUN(test_refused);
  RUN(test_match);
  RUN(test_match_wildcard);
  return TEST_EXIT();
}

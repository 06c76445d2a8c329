/*
 * Configuration files: a full valid file for each role sets every field,
 * a file only overrides what it names, and every class of mistake is
 * refused with the file, the line and the key's path. Runs from the repo
 * root (it loads the examples in deploy/config/).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ngtcp2/ngtcp2.h>

#include "ccalgo.h"
#include "config.h"
#include "log.h"
#include "netaddr.h"
#include "test.h"

static struct zt_intermediate_config icfg;
static struct zt_connector_config ccfg;
static struct zt_agent_config acfg;
static char err[512];
static char abuf[64];

/* Parse text on top of fresh defaults. */
static int im(const char *text) {
  zt_intermediate_config_defaults(&icfg);
  return zt_intermediate_config_parse(&icfg, "im.json", text, strlen(text), err,
                                      sizeof err);
}

static int conn(const char *text) {
  zt_connector_config_defaults(&ccfg);
  return zt_connector_config_parse(&ccfg, "conn.json", text, strlen(text), err,
                                   sizeof err);
}

static int agent(const char *text) {
  zt_agent_config_defaults(&acfg);
  return zt_agent_config_parse(&acfg, "agent.json", text, strlen(text), err,
                               sizeof err);
}

static const char *addr_str(const struct sockaddr_storage *ss) {
  return zt_netaddr_str((const struct sockaddr *)ss, abuf, sizeof abuf);
}

/* ---- valid files -------------------------------------------------------- */

static const char im_full[] =
    "{\n"
    "  \"listen\": \"198.51.100.1:5555\",\n"
    "  \"ca\": \"/pki/ca.pem\", \"cert\": \"/pki/i.pem\", \"key\": "
    "\"/pki/i.key\",\n"
    "  \"agent_pool\": \"100.80.0.0/12\",\n"
    "  \"log_level\": \"debug\",\n"
    "  \"services\": [\n"
    "    {\"name\": \"web\", \"address\": \"10.100.0.1\", \"connector\": "
    "\"conn-a\"},\n"
    "    {\"name\": \"echo\", \"address\": \"10.100.0.2\", \"connector\": "
    "\"conn_b.x\"}\n"
    "  ],\n"
    "  \"policy\": [\n"
    "    {\"agent\": \"alice\", \"services\": [\"web\", \"echo\"]},\n"
    "    {\"agent\": \"*\", \"services\": [\"echo\"]}\n"
    "  ]\n"
    "}\n";

static void test_intermediate_full(void) {
  CHECK_EQ_INT(im(im_full), 0);
  CHECK_STR(addr_str(&icfg.listen), "198.51.100.1:5555");
  CHECK_EQ_INT(icfg.listen_len, sizeof(struct sockaddr_in));
  CHECK_STR(icfg.tls.ca, "/pki/ca.pem");
  CHECK_STR(icfg.tls.cert, "/pki/i.pem");
  CHECK_STR(icfg.tls.key, "/pki/i.key");
  CHECK_EQ_INT(icfg.agent_pool, 0x64500000);
  CHECK_EQ_INT(icfg.agent_pool_len, 12);
  CHECK_EQ_INT(icfg.log_level, ZT_LOG_DEBUG);
  CHECK_EQ_INT(icfg.n_services, 2);
  CHECK_STR(icfg.services[0].name, "web");
  CHECK_EQ_INT(icfg.services[0].address, 0x0a640001);
  CHECK_STR(icfg.services[0].connector, "conn-a");
  CHECK_STR(icfg.services[1].name, "echo");
  CHECK_EQ_INT(icfg.services[1].address, 0x0a640002);
  CHECK_STR(icfg.services[1].connector, "conn_b.x");
  CHECK_EQ_INT(icfg.n_policy, 2);
  CHECK_STR(icfg.policy[0].agent, "alice");
  CHECK_EQ_INT(icfg.policy[0].n_services, 2);
  CHECK_STR(icfg.policy[0].services[0], "web");
  CHECK_STR(icfg.policy[0].services[1], "echo");
  CHECK_STR(icfg.policy[1].agent, "*");
  CHECK_EQ_INT(icfg.policy[1].n_services, 1);
  CHECK_STR(icfg.policy[1].services[0], "echo");
}

static void test_intermediate_policy_before_services(void) {
  /* Policy may come first: it is checked against the final services. */
  CHECK_EQ_INT(
      im("{\"policy\": [{\"agent\": \"bob\", \"services\": [\"db\"]}],\n"
         " \"services\": [{\"name\": \"db\", \"address\": "
         "\"10.1.0.1\", \"connector\": \"c\"}]}"),
      0);
  CHECK_EQ_INT(icfg.n_policy, 1);
  CHECK_STR(icfg.policy[0].services[0], "db");
}

static const char conn_full[] =
    "{\n"
    "  \"intermediate\": \"[2001:db8::1]\",\n"
    "  \"intermediate_name\": \"hub.example\",\n"
    "  \"ca\": \"ca.pem\", \"cert\": \"c.pem\", \"key\": \"c.key\",\n"
    "  \"tun\": \"tun-conn-15chr\",\n"
    "  \"log_level\": \"warn\",\n"
    "  \"services\": [\n"
    "    {\"name\": \"web\", \"backend\": \"10.30.0.2\",\n"
    "     \"ports\": [\"tcp/80\", \"tcp/8000-8080\", \"icmp\"]},\n"
    "    {\"name\": \"dns\", \"backend\": \"127.0.0.1\", \"ports\": "
    "[\"udp/*\"]}\n"
    "  ]\n"
    "}\n";

static void test_connector_full(void) {
  CHECK_EQ_INT(conn(conn_full), 0);
  CHECK_STR(addr_str(&ccfg.intermediate), "[2001:db8::1]:4433");
  CHECK_EQ_INT(ccfg.intermediate_len, sizeof(struct sockaddr_in6));
  CHECK_STR(ccfg.intermediate_name, "hub.example");
  CHECK_STR(ccfg.tls.ca, "ca.pem");
  CHECK_STR(ccfg.tls.cert, "c.pem");
  CHECK_STR(ccfg.tls.key, "c.key");
  CHECK_STR(ccfg.tun, "tun-conn-15chr");
  CHECK_EQ_INT(ccfg.log_level, ZT_LOG_WARN);
  CHECK_EQ_INT(ccfg.n_services, 2);
  CHECK_STR(ccfg.services[0].name, "web");
  CHECK_EQ_INT(ccfg.services[0].backend, 0x0a1e0002);
  CHECK_EQ_INT(ccfg.services[0].n_rules, 3);
  CHECK_EQ_INT(ccfg.services[0].rules[1].proto, IPPROTO_TCP);
  CHECK_EQ_INT(ccfg.services[0].rules[1].lo, 8000);
  CHECK_EQ_INT(ccfg.services[0].rules[1].hi, 8080);
  CHECK_EQ_INT(ccfg.services[0].rules[2].proto, IPPROTO_ICMP);
  CHECK_STR(ccfg.services[1].name, "dns");
  CHECK_EQ_INT(ccfg.services[1].backend, 0x7f000001);
  CHECK_EQ_INT(ccfg.services[1].n_rules, 1);
  CHECK_EQ_INT(ccfg.services[1].rules[0].proto, IPPROTO_UDP);
  CHECK_EQ_INT(ccfg.services[1].rules[0].hi, 65535);
}

static void test_agent_full(void) {
  CHECK_EQ_INT(agent("{\"intermediate\": \"203.0.113.10:4000\",\n"
                     " \"intermediate_name\": \"edge-1\",\n"
                     " \"ca\": \"a\", \"cert\": \"b\", \"key\": \"c\",\n"
                     " \"tun\": \"zt7\", \"log_level\": \"error\"}"),
               0);
  CHECK_STR(addr_str(&acfg.intermediate), "203.0.113.10:4000");
  CHECK_EQ_INT(acfg.intermediate_len, sizeof(struct sockaddr_in));
  CHECK_STR(acfg.intermediate_name, "edge-1");
  CHECK_STR(acfg.tls.ca, "a");
  CHECK_STR(acfg.tls.cert, "b");
  CHECK_STR(acfg.tls.key, "c");
  CHECK_STR(acfg.tun, "zt7");
  CHECK_EQ_INT(acfg.log_level, ZT_LOG_ERROR);
}

/* TUN offloads: on by default in both, off with false, a bool only. */
static void test_tun_offload(void) {
  CHECK_EQ_INT(agent("{}"), 0);
  CHECK(acfg.tun_offload);
  CHECK_EQ_INT(agent("{\"tun_offload\": false}"), 0);
  CHECK(!acfg.tun_offload);
  CHECK_EQ_INT(agent("{\"tun_offload\": \"no\"}"), -1);
  CHECK_CONTAINS(err, "tun_offload");
  CHECK_EQ_INT(conn("{}"), 0);
  CHECK(ccfg.tun_offload);
  CHECK(ccfg.direct);
  CHECK_EQ_INT(conn("{\"tun_offload\": false}"), 0);
  CHECK(!ccfg.tun_offload);
  CHECK(ccfg.direct); /* its own key, not another's */
  CHECK_EQ_INT(conn("{\"tun_offload\": 1}"), -1);
  CHECK_CONTAINS(err, "tun_offload");
}

/* DNS inside the tunnel: on by default, off with "", domains checked. */
static void test_agent_dns(void) {
  CHECK_EQ_INT(agent("{}"), 0);
  CHECK_STR(acfg.dns_domain, "ztna.internal");
  CHECK_EQ_INT(acfg.dns_address, 0x0a64ff35u);
  CHECK(acfg.dns_resolved);
  CHECK_EQ_INT(agent("{\"dns_resolved\": false}"), 0);
  CHECK(!acfg.dns_resolved);
  CHECK_EQ_INT(agent("{\"dns_domain\": \"Corp.Example\", "
                     "\"dns_address\": \"10.100.9.9\"}"),
               0);
  CHECK_STR(acfg.dns_domain, "Corp.Example");
  CHECK_EQ_INT(acfg.dns_address, 0x0a640909u);
  CHECK_EQ_INT(agent("{\"dns_domain\": \"\"}"), 0);
  CHECK_STR(acfg.dns_domain, "");
  CHECK_EQ_INT(agent("{\"dns_domain\": \"bad..name\"}"), -1);
  CHECK_CONTAINS(err, "dns_domain: not a domain name: 'bad..name'");
  CHECK_EQ_INT(agent("{\"dns_domain\": \"ztna.internal.\"}"), -1);
  CHECK_EQ_INT(agent("{\"dns_address\": \"127.0.0.53\"}"), -1);
  CHECK_CONTAINS(err, "dns_address");
}

/* ---- defaults ----------------------------------------------------------- */

static void test_defaults(void) {
  zt_intermediate_config_defaults(&icfg);
  CHECK_STR(addr_str(&icfg.listen), "0.0.0.0:4433");
  CHECK_EQ_INT(icfg.listen_len, sizeof(struct sockaddr_in));
  CHECK_STR(icfg.tls.ca, "/etc/ztna/ca.pem");
  CHECK_STR(icfg.tls.cert, "/etc/ztna/intermediate.pem");
  CHECK_STR(icfg.tls.key, "/etc/ztna/intermediate.key");
  CHECK_EQ_INT(icfg.agent_pool, 0x64400000);
  CHECK_EQ_INT(icfg.agent_pool_len, 16);
  CHECK_EQ_INT(icfg.n_services, 0);
  CHECK_EQ_INT(icfg.n_policy, 0);
  CHECK_EQ_INT(icfg.log_level, ZT_LOG_INFO);

  zt_connector_config_defaults(&ccfg);
  CHECK_EQ_INT(ccfg.intermediate_len, 0);
  CHECK_STR(ccfg.intermediate_name, "intermediate");
  CHECK_STR(ccfg.tls.ca, "/etc/ztna/ca.pem");
  CHECK_STR(ccfg.tls.cert, "/etc/ztna/connector.pem");
  CHECK_STR(ccfg.tls.key, "/etc/ztna/connector.key");
  CHECK_STR(ccfg.tun, "ztna-c0");
  CHECK_EQ_INT(ccfg.n_services, 0);
  CHECK_EQ_INT(ccfg.log_level, ZT_LOG_INFO);

  zt_agent_config_defaults(&acfg);
  CHECK_EQ_INT(acfg.intermediate_len, 0);
  CHECK_STR(acfg.intermediate_name, "intermediate");
  CHECK_STR(acfg.tls.cert, "/etc/ztna/agent.pem");
  CHECK_STR(acfg.tls.key, "/etc/ztna/agent.key");
  CHECK_STR(acfg.tun, "ztna0");
  CHECK_EQ_INT(acfg.log_level, ZT_LOG_INFO);
}

static void test_defaults_kept(void) {
  CHECK_EQ_INT(agent("{}"), 0);
  CHECK_EQ_INT(acfg.intermediate_len, 0);
  CHECK_STR(acfg.tun, "ztna0");

  CHECK_EQ_INT(agent("{\"cert\": \"/x/alice.pem\"}"), 0);
  CHECK_STR(acfg.tls.cert, "/x/alice.pem");
  CHECK_STR(acfg.tls.ca, "/etc/ztna/ca.pem");
  CHECK_STR(acfg.tls.key, "/etc/ztna/agent.key");
  CHECK_STR(acfg.intermediate_name, "intermediate");
  CHECK_EQ_INT(acfg.log_level, ZT_LOG_INFO);

  CHECK_EQ_INT(conn("{\"intermediate\": \"192.0.2.1\"}"), 0);
  CHECK_STR(addr_str(&ccfg.intermediate), "192.0.2.1:4433");
  CHECK_STR(ccfg.tun, "ztna-c0");
  CHECK_EQ_INT(ccfg.n_services, 0);

  CHECK_EQ_INT(im("{\"log_level\": \"warn\"}"), 0);
  CHECK_STR(addr_str(&icfg.listen), "0.0.0.0:4433");
  CHECK_EQ_INT(icfg.agent_pool_len, 16);
  CHECK_EQ_INT(icfg.log_level, ZT_LOG_WARN);
}

static void test_parse_on_top(void) {
  /* A second file (or the same twice) overrides only what it names. */
  CHECK_EQ_INT(conn(conn_full), 0);
  const char *tun = "{\"tun\": \"t2\"}";
  CHECK_EQ_INT(zt_connector_config_parse(&ccfg, "b.json", tun, strlen(tun), err,
                                         sizeof err),
               0);
  CHECK_STR(ccfg.tun, "t2");
  CHECK_EQ_INT(ccfg.n_services, 2);
  CHECK_STR(ccfg.intermediate_name, "hub.example");
  /* Naming "services" replaces the list rather than appending. */
  const char *one = "{\"services\": [{\"name\": \"x\", \"backend\": "
                    "\"10.0.0.9\", \"ports\": [\"tcp/1\"]}]}";
  CHECK_EQ_INT(zt_connector_config_parse(&ccfg, "b.json", one, strlen(one), err,
                                         sizeof err),
               0);
  CHECK_EQ_INT(ccfg.n_services, 1);
  CHECK_STR(ccfg.services[0].name, "x");
}

static void test_not_nul_terminated(void) {
  const char text[] = "{\"tun\": \"abc\"}garbage";
  zt_agent_config_defaults(&acfg);
  CHECK_EQ_INT(
      zt_agent_config_parse(&acfg, "a.json", text, 14, err, sizeof err), 0);
  CHECK_STR(acfg.tun, "abc");
}

/* ---- refusals ----------------------------------------------------------- */

static void test_exact_format(void) {
  const char *text = "{\n"
                     "  \"services\": [\n"
                     "    {\"name\": \"a\", \"backend\": \"10.0.0.1\",\n"
                     "     \"ports\": [\"tcp/1\"]},\n"
                     "    {\"name\": \"b\",\n"
                     "     \"ports\": [\"tcp/1\"],\n"
                     "     \"backend\": \"10.0.0.x\"}\n"
                     "  ]\n"
                     "}\n";
  CHECK_EQ_INT(conn(text), -1);
  CHECK_STR(err, "conn.json:7: services[1].backend: not an IPv4 address: "
                 "'10.0.0.x'");

  CHECK_EQ_INT(conn("{\n\"tun\": \"x\",\n  \"colour\": 1}"), -1);
  CHECK_STR(err, "conn.json:3: colour: unknown key");

  CHECK_EQ_INT(conn("{\"services\": [\n  {\"backend\": \"10.0.0.1\",\n"
                    "   \"ports\": [\"icmp\"]}]}"),
               -1);
  CHECK_STR(err, "conn.json:2: services[0].name: missing");

  CHECK_EQ_INT(conn("{\n\n  \"tun\": \"x\" \"y\"}"), -1);
  CHECK_STR(err, "conn.json:3: expected ',' or '}' after an object member, "
                 "got '\"'");
}

static void test_syntax_errors(void) {
  CHECK_EQ_INT(agent(""), -1);
  CHECK_CONTAINS(err, "agent.json:1: unexpected end of input");
  CHECK_EQ_INT(agent("{\n\"tun\": \"x\",\n}"), -1);
  CHECK_CONTAINS(err, "agent.json:3: expected a string key");
  CHECK_EQ_INT(im("{\"services\": [\n\n  01]}"), -1);
  CHECK_CONTAINS(err, "im.json:3: leading zeros");
  CHECK_EQ_INT(agent("{} {}"), -1);
  CHECK_CONTAINS(err, "agent.json:1: ");
  CHECK_CONTAINS(err, "after the document");
  CHECK_EQ_INT(agent("\n[]"), -1);
  CHECK_STR(err, "agent.json:2: expected an object at the top level, got an "
                 "array");
}

static void test_unknown_keys(void) {
  CHECK_EQ_INT(agent("{\"services\": []}"), -1); /* a connector's key */
  CHECK_STR(err, "agent.json:1: services: unknown key");
  CHECK_EQ_INT(agent("{\"Tun\": \"x\"}"), -1); /* case matters */
  CHECK_STR(err, "agent.json:1: Tun: unknown key");
  CHECK_EQ_INT(im("{\"listen\": \"0.0.0.0\", \"tun\": \"x\"}"), -1);
  CHECK_STR(err, "im.json:1: tun: unknown key");
  CHECK_EQ_INT(im("{\"services\": [{\"name\": \"w\", \"address\": "
                  "\"10.0.0.1\",\n \"connector\": \"c\", \"port\": 80}]}"),
               -1);
  CHECK_STR(err, "im.json:2: services[0].port: unknown key");
  CHECK_EQ_INT(im("{\"policy\": [{\"agent\": \"a\",\n \"service\": []}]}"), -1);
  CHECK_STR(err, "im.json:2: policy[0].service: unknown key");
  /* Unprintable bytes in a key are shown escaped, a long key cut. */
  CHECK_EQ_INT(agent("{\"a\\u0001\\n\\\\b\": 1}"), -1);
  CHECK_STR(err, "agent.json:1: a\\x01\\x0a\\x5cb: unknown key");
  CHECK_EQ_INT(agent("{\"\": 1}"), -1);
  CHECK_STR(err, "agent.json:1: \"\": unknown key");
  char text[400];
  snprintf(text, sizeof text, "{\"%0300d\": 1}", 0);
  CHECK_EQ_INT(agent(text), -1);
  CHECK_CONTAINS(err, "agent.json:1: 000000000000");
  CHECK_CONTAINS(err, "...: unknown key");
  CHECK(strlen(err) < 120);
}

static void test_duplicate_keys(void) {
  CHECK_EQ_INT(agent("{\"tun\": \"a\",\n \"tun\": \"b\"}"), -1);
  CHECK_STR(err, "agent.json:2: tun: duplicate key (first on line 1)");
  CHECK_EQ_INT(conn("{\"services\": [{\"name\": \"a\", \"name\": \"b\"}]}"),
               -1);
  CHECK_CONTAINS(err, "conn.json:1: services[0].name: duplicate key");
}

static void test_wrong_types(void) {
  CHECK_EQ_INT(agent("{\"tun\": 5}"), -1);
  CHECK_STR(err, "agent.json:1: tun: expected a string, got a number");
  CHECK_EQ_INT(agent("{\"ca\": null}"), -1);
  CHECK_STR(err, "agent.json:1: ca: expected a string, got null");
  CHECK_EQ_INT(conn("{\"services\": {}}"), -1);
  CHECK_STR(err, "conn.json:1: services: expected an array, got an object");
  CHECK_EQ_INT(conn("{\"services\": [\n\"web\"]}"), -1);
  CHECK_STR(err, "conn.json:2: services[0]: expected an object, got a string");
  CHECK_EQ_INT(conn("{\"services\": [{\"name\": \"w\", \"backend\": "
                    "\"10.0.0.1\",\n \"ports\": [80]}]}"),
               -1);
  CHECK_STR(err, "conn.json:2: services[0].ports[0]: expected a string, got "
                 "a number");
  CHECK_EQ_INT(im("{\"policy\": [{\"agent\": true}]}"), -1);
  CHECK_STR(err, "im.json:1: policy[0].agent: expected a string, got a "
                 "boolean");
  CHECK_EQ_INT(agent("{\"ca\": \"a\\u0000b\"}"), -1);
  CHECK_STR(err, "agent.json:1: ca: contains a NUL character");
}

static void test_missing_members(void) {
  const char *text = "{\"services\": [\n"
                     "  {\"name\": \"w\", \"address\": \"10.0.0.1\",\n"
                     "   \"connector\": \"c\"},\n"
                     "  {\"name\": \"v\",\n"
                     "   \"connector\": \"c\"}]}";
  CHECK_EQ_INT(im(text), -1);
  /* An inline service may leave its address out only with service_pool. */
  CHECK_STR(err, "im.json:4: services[1].address: no address and no "
                 "service_pool to allocate one from (service 'v')");
  CHECK_EQ_INT(im("{\"policy\": [{}]}"), -1);
  CHECK_STR(err, "im.json:1: policy[0].agent: missing");
  CHECK_EQ_INT(im("{\"policy\": [{\"agent\": \"*\"}]}"), -1);
  CHECK_STR(err, "im.json:1: policy[0].services: missing");
  CHECK_EQ_INT(conn("{\"services\": [{\"name\": \"w\", \"backend\": "
                    "\"10.0.0.1\"}]}"),
               -1);
  CHECK_STR(err, "conn.json:1: services[0].ports: missing");
}

static void test_bad_addresses(void) {
  CHECK_EQ_INT(agent("{\"intermediate\": \"ztna.example.com:4433\"}"), -1);
  CHECK_CONTAINS(err, "agent.json:1: intermediate: not an address");
  CHECK_CONTAINS(err, "'ztna.example.com:4433'");
  CHECK_EQ_INT(agent("{\"intermediate\": \"192.0.2.1:0\"}"), -1);
  CHECK_CONTAINS(err, "agent.json:1: intermediate: not an address");
  CHECK_EQ_INT(agent("{\"intermediate\": \"192.0.2.1:65536\"}"), -1);
  CHECK_CONTAINS(err, "agent.json:1: intermediate: not an address");
  CHECK_EQ_INT(im("{\n\"listen\": \"0.0.0.0:x\"}"), -1);
  CHECK_CONTAINS(err, "im.json:2: listen: not an address");
  CHECK_EQ_INT(im("{\"listen\": \"[::]:4433\"}"), 0);
  CHECK_STR(addr_str(&icfg.listen), "[::]:4433");

  CHECK_EQ_INT(im("{\"services\": [{\"name\": \"w\", \"connector\": \"c\",\n"
                  " \"address\": \"10.0.0.300\"}]}"),
               -1);
  CHECK_STR(err, "im.json:2: services[0].address: not an IPv4 address: "
                 "'10.0.0.300'");
  static const char *const unusable[] = {"0.0.0.0", "127.0.0.1", "224.0.0.1",
                                         "255.255.255.255"};
  char text[200];
  for (size_t i = 0; i < sizeof unusable / sizeof unusable[0]; i++) {
    snprintf(text, sizeof text,
             "{\"services\": [{\"name\": \"w\", \"connector\": \"c\", "
             "\"address\": \"%s\"}]}",
             unusable[i]);
    CHECK_EQ_INT(im(text), -1);
    CHECK_CONTAINS(err, "im.json:1: services[0].address: not a usable "
                        "unicast address");
  }
  CHECK_EQ_INT(conn("{\"services\": [{\"name\": \"w\", \"ports\": "
                    "[\"icmp\"],\n \"backend\": \"::1\"}]}"),
               -1);
  CHECK_STR(err, "conn.json:2: services[0].backend: not an IPv4 address: "
                 "'::1'");
}

static void test_bad_names(void) {
  static const char *const bad[] = {"",      "-web",      ".web", "we b",
                                    "web/1", "w\xc3\xa9", "web:1"};
  char text[200];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(text, sizeof text,
             "{\"services\": [{\"name\": \"%s\", \"backend\": \"10.0.0.1\", "
             "\"ports\": [\"icmp\"]}]}",
             bad[i]);
    CHECK_EQ_INT(conn(text), -1);
    CHECK_CONTAINS(err, "conn.json:1: services[0].name: not a valid name");
  }
  char name[ZT_NAME_MAX + 2];
  memset(name, 'n', sizeof name - 1);
  name[sizeof name - 1] = '\0';
  snprintf(text, sizeof text, "{\"intermediate_name\": \"%s\"}", name);
  CHECK_EQ_INT(agent(text), -1); /* 64 characters */
  CHECK_CONTAINS(err, "agent.json:1: intermediate_name: not a valid name");
  name[ZT_NAME_MAX] = '\0';
  snprintf(text, sizeof text, "{\"intermediate_name\": \"%s\"}", name);
  CHECK_EQ_INT(agent(text), 0); /* 63 */
  CHECK_STR(acfg.intermediate_name, name);

  CHECK_EQ_INT(im("{\"services\": [{\"name\": \"w\", \"address\": "
                  "\"10.0.0.1\",\n \"connector\": \"conn a\"}]}"),
               -1);
  CHECK_STR(err, "im.json:2: services[0].connector: not a valid name: "
                 "'conn a' (1-63 of A-Z a-z 0-9 . _ -, not starting with . "
                 "or -)");
  CHECK_EQ_INT(im("{\"services\": [{\"name\": \"w\", \"address\": "
                  "\"10.0.0.1\", \"connector\": \"c\"}],\n"
                  " \"policy\": [{\"agent\": \"**\", \"services\": "
                  "[\"w\"]}]}"),
               -1);
  CHECK_CONTAINS(err, "im.json:2: policy[0].agent: not a valid name: '**'");
}

static void test_duplicate_services(void) {
  CHECK_EQ_INT(im("{\"services\": [\n"
                  " {\"name\": \"w\", \"address\": \"10.0.0.1\", "
                  "\"connector\": \"c\"},\n"
                  " {\"name\": \"w\", \"address\": \"10.0.0.2\", "
                  "\"connector\": \"c\"}]}"),
               -1);
  CHECK_STR(err, "im.json:3: services[1].name: service 'w' is configured "
                 "twice");
  CHECK_EQ_INT(im("{\"services\": [\n"
                  " {\"name\": \"w\", \"address\": \"10.0.0.1\", "
                  "\"connector\": \"c\"},\n"
                  " {\"name\": \"v\",\n \"address\": \"10.0.0.1\", "
                  "\"connector\": \"c\"}]}"),
               -1);
  CHECK_STR(err, "im.json:4: services[1].address: 10.0.0.1 is already the "
                 "address of service 'w'");
  CHECK_EQ_INT(conn("{\"services\": [\n"
                    " {\"name\": \"w\", \"backend\": \"10.0.0.1\", "
                    "\"ports\": [\"icmp\"]},\n"
                    " {\"name\": \"w\", \"backend\": \"10.0.0.1\", "
                    "\"ports\": [\"icmp\"]}]}"),
               -1);
  CHECK_STR(err, "conn.json:3: services[1].name: service 'w' is configured "
                 "twice");
}

static void test_policy_errors(void) {
  const char *svc = "\"services\": [{\"name\": \"w\", \"address\": "
                    "\"10.0.0.1\", \"connector\": \"c\"}]";
  char text[400];
  snprintf(text, sizeof text,
           "{%s,\n \"policy\": [{\"agent\": \"a\", \"services\": [\"w\",\n"
           "  \"nope\"]}]}",
           svc);
  CHECK_EQ_INT(im(text), -1);
  CHECK_STR(err, "im.json:3: policy[0].services[1]: no service named 'nope'");
  snprintf(text, sizeof text,
           "{%s,\n \"policy\": [{\"agent\": \"a\", \"services\": [\"w\", "
           "\"w\"]}]}",
           svc);
  CHECK_EQ_INT(im(text), -1);
  CHECK_STR(err, "im.json:2: policy[0].services[1]: service 'w' is listed "
                 "twice");
  snprintf(text, sizeof text,
           "{%s,\n \"policy\": [{\"agent\": \"a\", \"services\": []}]}", svc);
  CHECK_EQ_INT(im(text), -1);
  CHECK_CONTAINS(err, "im.json:2: policy[0].services: empty");
  /* No services configured at all. */
  CHECK_EQ_INT(im("{\"policy\": [{\"agent\": \"a\", \"services\": [\"w\"]}]}"),
               -1);
  CHECK_STR(err, "im.json:1: policy[0].services[0]: no service named 'w'");
}

/* service_pool: a routable range of at least two addresses, apart from
 * agent_pool; inline services may then leave their address out. */
static void test_service_pool(void) {
  CHECK_EQ_INT(im("{\"service_pool\": \"10.100.0.0/16\"}"), 0);
  CHECK_EQ_INT(icfg.service_pool, 0x0a640000);
  CHECK_EQ_INT(icfg.service_pool_len, 16);
  CHECK_EQ_INT(im("{}"), 0);
  CHECK_EQ_INT(icfg.service_pool_len, 0); /* none by default */
  CHECK_EQ_INT(im("{\"service_pool\": \"10.100.0.0/31\"}"), -1);
  CHECK_STR(err, "im.json:1: service_pool: prefix length must be 8-30 (a /31 "
                 "has no address besides network and broadcast)");
  CHECK_EQ_INT(im("{\"service_pool\": \"127.0.0.0/8\"}"), -1);
  CHECK_CONTAINS(err, "im.json:1: service_pool: not a range of usable");
  /* Overlapping agent_pool, either inside it or around it, wherever the
   * two are in the file. */
  CHECK_EQ_INT(im("{\n\"service_pool\": \"100.64.1.0/24\"}"), -1);
  CHECK_STR(err, "im.json:2: service_pool: 100.64.1.0/24 overlaps agent_pool "
                 "100.64.0.0/16");
  CHECK_EQ_INT(im("{\"service_pool\": \"10.0.0.0/8\",\n"
                  "\"agent_pool\": \"10.64.0.0/16\"}"),
               -1);
  CHECK_STR(err, "im.json:1: service_pool: 10.0.0.0/8 overlaps agent_pool "
                 "10.64.0.0/16");
  CHECK_EQ_INT(im("{\"service_pool\": \"100.65.0.0/16\"}"), 0);
  /* An inline service without an address, with and without the pool. */
  const char *svc = "\"services\": [{\"name\": \"w\", \"connector\": "
                    "\"c\"}, {\"name\": \"v\", \"address\": \"10.100.0.1\", "
                    "\"connector\": \"c\"}]";
  char text[512];
  snprintf(text, sizeof text, "{%s, \"service_pool\": \"10.100.0.0/24\"}",
           svc);
  CHECK_EQ_INT(im(text), 0);
  CHECK_EQ_INT(icfg.n_services, 2);
  CHECK_EQ_INT(icfg.services[0].address, 0);
  snprintf(text, sizeof text, "{%s}", svc);
  CHECK_EQ_INT(im(text), -1);
  CHECK_STR(err, "im.json:1: services[0].address: no address and no "
                 "service_pool to allocate one from (service 'w')");
}

static void test_agent_pool(void) {
  CHECK_EQ_INT(im("{\"agent_pool\": \"10.0.0.0/8\"}"), 0);
  CHECK_EQ_INT(im("{\"agent_pool\": \"10.0.0.0/30\"}"), 0);
  CHECK_EQ_INT(im("{\"agent_pool\": \"11.0.0.0/8\"}"), 0);
  CHECK_EQ_INT(im("{\"agent_pool\": \"11.0.0.0/7\"}"), -1); /* host bit */
  CHECK_STR(err, "im.json:1: agent_pool: not an IPv4 prefix with zero host "
                 "bits (like \"100.64.0.0/16\"): '11.0.0.0/7'");
  CHECK_EQ_INT(im("{\"agent_pool\": \"10.0.0.0/7\"}"), -1);
  CHECK_STR(err, "im.json:1: agent_pool: prefix length must be 8-30: "
                 "'10.0.0.0/7'");
  CHECK_EQ_INT(im("{\"agent_pool\": \"10.0.0.0/31\"}"), -1);
  CHECK_CONTAINS(err, "im.json:1: agent_pool: prefix length must be 8-30");
  CHECK_EQ_INT(im("{\"agent_pool\": \"100.64.0.1/16\"}"), -1);
  CHECK_CONTAINS(err, "im.json:1: agent_pool: not an IPv4 prefix");
  CHECK_EQ_INT(im("{\"agent_pool\": \"100.64.0.0\"}"), -1);
  CHECK_CONTAINS(err, "im.json:1: agent_pool: not an IPv4 prefix");

  /* A virtual address inside the pool would collide with an agent's. */
  CHECK_EQ_INT(im("{\"agent_pool\": \"10.0.0.0/8\",\n \"services\": [{\"name\":"
                  " \"w\", \"connector\": \"c\",\n \"address\": "
                  "\"10.1.2.3\"}]}"),
               -1);
  CHECK_STR(err, "im.json:3: services[0].address: 10.1.2.3 (service 'w') is "
                 "inside agent_pool 10.0.0.0/8");
  CHECK_EQ_INT(im("{\"services\": [{\"name\": \"w\", \"connector\": \"c\", "
                  "\"address\": \"100.64.0.9\"}]}"),
               -1);
  CHECK_CONTAINS(err, "services[0].address: 100.64.0.9 (service 'w') is "
                      "inside agent_pool 100.64.0.0/16");
  /* Services from an earlier file, pool from this one: the pool is blamed. */
  CHECK_EQ_INT(im("{\"services\": [{\"name\": \"w\", \"connector\": \"c\", "
                  "\"address\": \"10.1.2.3\"}]}"),
               0);
  const char *pool = "{\n\"agent_pool\": \"10.1.0.0/16\"}";
  CHECK_EQ_INT(zt_intermediate_config_parse(&icfg, "b.json", pool, strlen(pool),
                                            err, sizeof err),
               -1);
  CHECK_STR(err, "b.json:2: agent_pool: 10.1.2.3 (service 'w') is inside "
                 "agent_pool 10.1.0.0/16");
}

/* The ranges a node pins locally against a compromised Intermediate:
 * the connector's agent_pool (SESSION_NEW addresses), the agent's
 * service_range (SERVICES addresses). */
static void test_pinned_ranges(void) {
  zt_connector_config_defaults(&ccfg);
  CHECK_EQ_INT(ccfg.agent_pool, 0x64400000); /* the Intermediate's default */
  CHECK_EQ_INT(ccfg.agent_pool_len, 16);
  zt_agent_config_defaults(&acfg);
  CHECK_EQ_INT(acfg.service_range, 0x0a640000); /* 10.100.0.0/16 */
  CHECK_EQ_INT(acfg.service_range_len, 16);

  CHECK_EQ_INT(conn("{\"agent_pool\": \"100.80.0.0/12\"}"), 0);
  CHECK_EQ_INT(ccfg.agent_pool, 0x64500000);
  CHECK_EQ_INT(ccfg.agent_pool_len, 12);
  CHECK_EQ_INT(agent("{\"service_range\": \"172.16.5.0/24\"}"), 0);
  CHECK_EQ_INT(acfg.service_range, 0xac100500);
  CHECK_EQ_INT(acfg.service_range_len, 24);
  CHECK_EQ_INT(agent("{\"service_range\": \"10.100.0.1/32\"}"), 0); /* one */
  CHECK_EQ_INT(acfg.service_range_len, 32);

  CHECK_EQ_INT(agent("{\n  \"service_range\": \"10.100.0.1/16\"}"), -1);
  CHECK_STR(err, "agent.json:2: service_range: not an IPv4 prefix with zero "
                 "host bits (like \"10.100.0.0/16\"): '10.100.0.1/16'");
  CHECK_EQ_INT(agent("{\"service_range\": \"10.0.0.0/7\"}"), -1);
  CHECK_STR(err, "agent.json:1: service_range: prefix length must be 8-32: "
                 "'10.0.0.0/7'");
  CHECK_EQ_INT(agent("{\"service_range\": \"127.0.0.0/8\"}"), -1);
  CHECK_STR(err, "agent.json:1: service_range: not a range of usable unicast "
                 "addresses: '127.0.0.0/8'");
  CHECK_EQ_INT(agent("{\"service_range\": \"224.0.0.0/8\"}"), -1);
  CHECK_CONTAINS(err, "not a range of usable unicast addresses");
  CHECK_EQ_INT(agent("{\"service_range\": \"0.0.0.0/8\"}"), -1);
  CHECK_CONTAINS(err, "not a range of usable unicast addresses");
  CHECK_EQ_INT(agent("{\"service_range\": 16}"), -1);
  CHECK_STR(err, "agent.json:1: service_range: expected a string, got a number");

  CHECK_EQ_INT(conn("{\"tun\": \"t0\",\n\n \"agent_pool\": \"100.64.0.0\"}"),
               -1);
  CHECK_STR(err, "conn.json:3: agent_pool: not an IPv4 prefix with zero host "
                 "bits (like \"10.100.0.0/16\"): '100.64.0.0'");
  CHECK_EQ_INT(conn("{\"agent_pool\": \"255.255.0.0/16\"}"), -1);
  CHECK_CONTAINS(err, "conn.json:1: agent_pool: not a range of usable");
  /* Each key is its own role's: not the other's. */
  CHECK_EQ_INT(conn("{\"service_range\": \"10.100.0.0/16\"}"), -1);
  CHECK_STR(err, "conn.json:1: service_range: unknown key");
  CHECK_EQ_INT(agent("{\"agent_pool\": \"100.64.0.0/16\"}"), -1);
  CHECK_STR(err, "agent.json:1: agent_pool: unknown key");
}

static void test_log_level(void) {
  CHECK_EQ_INT(agent("{\"log_level\": \"verbose\"}"), -1);
  CHECK_STR(err, "agent.json:1: log_level: unknown log level 'verbose' "
                 "(error, warn, info, debug)");
  CHECK_EQ_INT(agent("{\"log_level\": \"INFO\"}"), -1);
  CHECK_EQ_INT(agent("{\"log_level\": 3}"), -1);
  CHECK_CONTAINS(err, "expected a string, got a number");
}

/* "congestion_control": every role, the four names of ngtcp2 0.12.1, the
 * default when absent, and anything else refused with file:line and the
 * names allowed. */
static void test_congestion_control(void) {
  CHECK_EQ_INT(agent("{}"), 0);
  CHECK_EQ_INT(acfg.congestion_control, NGTCP2_CC_ALGO_BBR2);
  CHECK_EQ_INT(ZT_CC_DEFAULT, NGTCP2_CC_ALGO_BBR2);
  CHECK_EQ_INT(agent("{\"congestion_control\": \"cubic\"}"), 0);
  CHECK_EQ_INT(acfg.congestion_control, NGTCP2_CC_ALGO_CUBIC);
  CHECK_EQ_INT(conn("{\"congestion_control\": \"reno\"}"), 0);
  CHECK_EQ_INT(ccfg.congestion_control, NGTCP2_CC_ALGO_RENO);
  CHECK_EQ_INT(im("{\"congestion_control\": \"bbr\"}"), 0);
  CHECK_EQ_INT(icfg.congestion_control, NGTCP2_CC_ALGO_BBR);
  CHECK_EQ_INT(im("{\"congestion_control\": \"bbr2\"}"), 0);
  CHECK_EQ_INT(icfg.congestion_control, NGTCP2_CC_ALGO_BBR2);
  CHECK_EQ_INT(conn("{\n\"congestion_control\": \"BBR\"}"), -1);
  CHECK_STR(err, "conn.json:2: congestion_control: unknown congestion "
                 "control 'BBR' (reno, cubic, bbr, bbr2)");
  CHECK_EQ_INT(im("{\"congestion_control\": 2}"), -1);
  CHECK_STR(err, "im.json:1: congestion_control: expected a string, got a "
                 "number");
  CHECK_EQ_INT(agent("{\"congestion_control\": \"\"}"), -1);
  CHECK_CONTAINS(err, "unknown congestion control ''");
  /* The names round-trip; the process-wide choice is what new connections
   * get (quic.c's zq_config_defaults). */
  int algo = -1;
  CHECK_EQ_INT(zt_cc_parse("bbr2", &algo), 0);
  CHECK_STR(zt_cc_name(algo), "bbr2");
  CHECK_EQ_INT(zt_cc_parse("cubic ", &algo), -1);
  CHECK_EQ_INT(zt_cc_default(), ZT_CC_DEFAULT);
  zt_cc_set_default(NGTCP2_CC_ALGO_RENO);
  CHECK_EQ_INT(zt_cc_default(), NGTCP2_CC_ALGO_RENO);
  zt_cc_set_default(ZT_CC_DEFAULT);
}

/* "udp_receive_buffer": the Intermediate's only; 32 MiB when absent;
 * bytes from 64 KiB to 1 GiB, anything else refused with file:line. */
static void test_udp_receive_buffer(void) {
  CHECK_EQ_INT(im("{}"), 0);
  CHECK_EQ_INT(icfg.udp_receive_buffer, 32 << 20);
  CHECK_EQ_INT(im("{\"udp_receive_buffer\": 8388608}"), 0);
  CHECK_EQ_INT(icfg.udp_receive_buffer, 8388608);
  CHECK_EQ_INT(im("{\"udp_receive_buffer\": 65535}"), -1);
  CHECK_STR(err, "im.json:1: udp_receive_buffer: expected bytes from 65536 "
                 "to 1073741824 (1 GiB)");
  CHECK_EQ_INT(im("{\"udp_receive_buffer\": 1073741825}"), -1);
  CHECK_EQ_INT(im("{\"udp_receive_buffer\": 1.5e6}"), -1);
  CHECK_EQ_INT(im("{\"udp_receive_buffer\": \"32M\"}"), -1);
  CHECK_CONTAINS(err, "expected a number");
  CHECK_EQ_INT(agent("{\"udp_receive_buffer\": 8388608}"), -1);
}

/* "workers": the Intermediate's only; 1 when absent; 1 to 64. */
static void test_workers(void) {
  CHECK_EQ_INT(im("{}"), 0);
  CHECK_EQ_INT(icfg.workers, 1);
  CHECK_EQ_INT(im("{\"workers\": 4}"), 0);
  CHECK_EQ_INT(icfg.workers, 4);
  CHECK_EQ_INT(im("{\"workers\": 0}"), -1);
  CHECK_STR(err, "im.json:1: workers: expected a number of threads from 1 "
                 "to 64");
  CHECK_EQ_INT(im("{\"workers\": 65}"), -1);
  CHECK_EQ_INT(im("{\"workers\": 2.5}"), -1);
  CHECK_EQ_INT(agent("{\"workers\": 2}"), -1);
}

static void test_tun(void) {
  CHECK_EQ_INT(agent("{\"tun\": \"0123456789abcdef\"}"), -1); /* 16 */
  CHECK_CONTAINS(err, "agent.json:1: tun: not a valid interface name: "
                      "'0123456789abcdef' (1-15");
  CHECK_EQ_INT(agent("{\"tun\": \"\"}"), -1);
  CHECK_CONTAINS(err, "agent.json:1: tun: not a valid interface name");
  CHECK_EQ_INT(agent("{\"tun\": \"a/b\"}"), -1);
  CHECK_CONTAINS(err, "agent.json:1: tun: not a valid interface name");
  CHECK_EQ_INT(agent("{\"tun\": \"..\"}"), -1);
  CHECK_EQ_INT(agent("{\"tun\": \"0123456789abcde\"}"), 0); /* 15 */
  CHECK_STR(acfg.tun, "0123456789abcde");
}

/* audit_log: the Intermediate's and the connector's, off by default; a
 * path or "-"; not an agent key. */
static void test_audit_log(void) {
  CHECK_EQ_INT(im("{}"), 0);
  CHECK_STR(icfg.audit_log, "");
  CHECK_EQ_INT(im("{\"audit_log\": \"/var/log/ztna/audit.jsonl\"}"), 0);
  CHECK_STR(icfg.audit_log, "/var/log/ztna/audit.jsonl");
  CHECK_EQ_INT(conn("{\"audit_log\": \"-\"}"), 0);
  CHECK_STR(ccfg.audit_log, "-");
  CHECK_EQ_INT(conn("{\"audit_log\": \"\"}"), -1);
  CHECK_STR(err, "conn.json:1: audit_log: empty path");
  CHECK_EQ_INT(conn("{\"audit_log\": true}"), -1);
  CHECK_CONTAINS(err, "conn.json:1: audit_log: ");
  CHECK_EQ_INT(agent("{\"audit_log\": \"-\"}"), -1);
  CHECK_STR(err, "agent.json:1: audit_log: unknown key");
}

static void test_paths(void) {
  char text[ZT_PATH_MAX + 64];
  char path[ZT_PATH_MAX + 1];
  memset(path, 'p', ZT_PATH_MAX);
  path[0] = '/';
  path[ZT_PATH_MAX] = '\0'; /* 256 bytes: one too many */
  snprintf(text, sizeof text, "{\n\"key\": \"%s\"}", path);
  CHECK_EQ_INT(conn(text), -1);
  CHECK_STR(err, "conn.json:2: key: path too long (256 bytes, max 255)");
  CHECK_STR(ccfg.tls.key, "/etc/ztna/connector.key"); /* not truncated */
  path[ZT_PATH_MAX - 1] = '\0';
  snprintf(text, sizeof text, "{\n\"key\": \"%s\"}", path);
  CHECK_EQ_INT(conn(text), 0);
  CHECK_STR(ccfg.tls.key, path);
  CHECK_EQ_INT(conn("{\"ca\": \"\"}"), -1);
  CHECK_STR(err, "conn.json:1: ca: empty path");
  CHECK_EQ_INT(im("{\"cert\": \"/tmp/\\u00e9.pem\"}"), 0); /* UTF-8 is fine */
  CHECK_STR(icfg.tls.cert, "/tmp/\xc3\xa9.pem");
  /* The CRL: optional (none by default), in all three. */
  CHECK_STR(icfg.tls.crl, "");
  CHECK_EQ_INT(im("{\"crl\": \"/etc/ztna/crl.pem\"}"), 0);
  CHECK_STR(icfg.tls.crl, "/etc/ztna/crl.pem");
  CHECK_EQ_INT(conn("{\"crl\": \"/c/crl.pem\"}"), 0);
  CHECK_STR(ccfg.tls.crl, "/c/crl.pem");
  CHECK_EQ_INT(agent("{\"crl\": \"/a/crl.pem\"}"), 0);
  CHECK_STR(acfg.tls.crl, "/a/crl.pem");
  CHECK_EQ_INT(im("{\"crl\": 5}"), -1);
}

static void test_port_rules(void) {
  const char *fmt = "{\"services\": [{\"name\": \"w\", \"backend\": "
                    "\"10.0.0.1\",\n \"ports\": [%s]}]}";
  char text[1024];
  snprintf(text, sizeof text, fmt, "\"tcp/80\",\n \"tcp/x\"");
  CHECK_EQ_INT(conn(text), -1);
  CHECK_STR(err, "conn.json:3: services[0].ports[1]: bad port in rule: ports "
                 "are 1..65535: 'tcp/x'");
  snprintf(text, sizeof text, fmt, "\"http\"");
  CHECK_EQ_INT(conn(text), -1);
  CHECK_CONTAINS(err, "conn.json:2: services[0].ports[0]: not a port rule");
  CHECK_CONTAINS(err, "'http'");
  snprintf(text, sizeof text, fmt, "\"udp/10-5\"");
  CHECK_EQ_INT(conn(text), -1);
  CHECK_CONTAINS(err, "conn.json:2: services[0].ports[0]: port range 10-5 is "
                      "backwards");
  snprintf(text, sizeof text, fmt, "");
  CHECK_EQ_INT(conn(text), -1);
  CHECK_CONTAINS(err, "conn.json:2: services[0].ports: empty");

  char rules[512] = "";
  for (int i = 1; i <= ZT_MAX_PORT_RULES; i++) {
    char one[16];
    snprintf(one, sizeof one, "%s\"tcp/%d\"", i > 1 ? ",\n" : "", i);
    strcat(rules, one);
  }
  snprintf(text, sizeof text, fmt, rules);
  CHECK_EQ_INT(conn(text), 0);
  CHECK_EQ_INT(ccfg.services[0].n_rules, ZT_MAX_PORT_RULES);
  CHECK_EQ_INT(ccfg.services[0].rules[15].lo, 16);
  strcat(rules, ",\n\"tcp/17\"");
  snprintf(text, sizeof text, fmt, rules);
  CHECK_EQ_INT(conn(text), -1);
  /* Blamed on the first rule too many, on its own line. */
  CHECK_STR(err, "conn.json:18: services[0].ports: too many port rules (max "
                 "16)");
}

/* A services array of n entries, one per line, for the limit tests. */
static char *many_services(size_t n, int intermediate) {
  char *text = malloc(n * 120 + 64);
  if (!text)
    abort();
  size_t o = (size_t)sprintf(text, "{\"services\": [\n");
  for (size_t i = 0; i < n; i++)
    o += (size_t)sprintf(
        text + o,
        intermediate ? "%s{\"name\": \"s%zu\", \"address\": \"10.9.%zu.1\", "
                       "\"connector\": \"c\"}\n"
                     : "%s{\"name\": \"s%zu\", \"backend\": \"10.9.%zu.1\", "
                       "\"ports\": [\"icmp\"]}\n",
        i ? "," : "", i, i);
  sprintf(text + o, "]}");
  return text;
}

static void test_limits(void) {
  char *text = many_services(ZT_MAX_SERVICES, 1);
  int r = im(text);
  free(text);
  CHECK_EQ_INT(r, 0);
  CHECK_EQ_INT(icfg.n_services, ZT_MAX_SERVICES);
  text = many_services(ZT_MAX_SERVICES + 1, 1);
  r = im(text);
  free(text);
  CHECK_EQ_INT(r, -1);
  CHECK_STR(err, "im.json:66: services: too many services (max 64)");

  text = many_services(ZT_MAX_SERVICES, 0);
  r = conn(text);
  free(text);
  CHECK_EQ_INT(r, 0);
  CHECK_EQ_INT(ccfg.n_services, ZT_MAX_SERVICES);
  text = many_services(ZT_MAX_SERVICES + 1, 0);
  r = conn(text);
  free(text);
  CHECK_EQ_INT(r, -1);
  CHECK_STR(err, "conn.json:66: services: too many services (max 64)");

  /* Policy: ZT_MAX_POLICY entries, then one more. */
  size_t cap = (ZT_MAX_POLICY + 1) * 64 + 256;
  text = malloc(cap);
  CHECK(text);
  size_t o = (size_t)sprintf(text, "{\"services\": [{\"name\": \"w\", "
                                   "\"address\": \"10.0.0.1\", \"connector\":"
                                   " \"c\"}],\n\"policy\": [\n");
  for (int i = 0; i < ZT_MAX_POLICY; i++)
    o += (size_t)sprintf(text + o,
                         "%s{\"agent\": \"a%d\", \"services\": [\"w\"]}\n",
                         i ? "," : "", i);
  strcpy(text + o, "]}");
  r = im(text);
  size_t n = icfg.n_policy;
  strcpy(text + o, ",{\"agent\": \"z\", \"services\": [\"w\"]}]}");
  int r2 = im(text);
  free(text);
  CHECK_EQ_INT(r, 0);
  CHECK_EQ_INT(n, ZT_MAX_POLICY);
  CHECK_EQ_INT(r2, -1);
  CHECK_STR(err, "im.json:67: policy: too many policy entries (max 64)");
}

/* ---- files -------------------------------------------------------------- */

static void test_load_examples(void) {
  zt_intermediate_config_defaults(&icfg);
  CHECK_EQ_INT(zt_intermediate_config_load(
                   &icfg, "deploy/config/intermediate.json", err, sizeof err),
               0);
  CHECK_EQ_INT(icfg.n_services, 2);
  CHECK_STR(icfg.services[0].name, "web");
  CHECK_EQ_INT(icfg.services[0].address, 0x0a640001);
  CHECK_STR(icfg.services[1].name, "echo");
  CHECK_EQ_INT(icfg.services[1].address, 0x0a640002);
  CHECK_STR(icfg.services[1].connector, "conn-a");
  CHECK_EQ_INT(icfg.n_policy, 1);
  CHECK_STR(icfg.policy[0].agent, "alice");
  CHECK_EQ_INT(icfg.service_pool, 0x0a640000);
  CHECK_EQ_INT(icfg.service_pool_len, 17);

  zt_connector_config_defaults(&ccfg);
  CHECK_EQ_INT(zt_connector_config_load(&ccfg, "deploy/config/connector.json",
                                        err, sizeof err),
               0);
  CHECK_STR(addr_str(&ccfg.intermediate), "203.0.113.10:4433");
  CHECK_EQ_INT(ccfg.n_services, 2);
  CHECK_STR(ccfg.services[0].name, "web");
  CHECK_STR(ccfg.services[1].name, "echo");
  CHECK_EQ_INT(ccfg.agent_pool, 0x64400000);
  CHECK_EQ_INT(ccfg.agent_pool_len, 16);

  zt_agent_config_defaults(&acfg);
  CHECK_EQ_INT(
      zt_agent_config_load(&acfg, "deploy/config/agent.json", err, sizeof err),
      0);
  CHECK_STR(addr_str(&acfg.intermediate), "203.0.113.10:4433");
  CHECK_STR(acfg.tun, "ztna0");
  CHECK_EQ_INT(acfg.service_range, 0x0a640000);
  CHECK_EQ_INT(acfg.service_range_len, 16);
}

static void test_load_missing(void) {
  zt_agent_config_defaults(&acfg);
  CHECK_EQ_INT(
      zt_agent_config_load(&acfg, "/nonexistent/agent.json", err, sizeof err),
      -1);
  CHECK_STR(err, "/nonexistent/agent.json: No such file or directory");
  CHECK_EQ_INT(zt_intermediate_config_load(&icfg, "/", err, sizeof err), -1);
  CHECK_STR(err, "/: Is a directory");
  /* No error buffer is allowed too. */
  CHECK_EQ_INT(zt_connector_config_load(&ccfg, "/nonexistent", NULL, 0), -1);
}

static void test_load_file(void) {
  char path[] = "/tmp/test_config_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  const char *bad = "{\n  \"tun\": \"ok\",\n  \"tunn\": \"x\"\n}\n";
  int w = (int)write(fd, bad, strlen(bad));
  close(fd);
  zt_agent_config_defaults(&acfg);
  int r = zt_agent_config_load(&acfg, path, err, sizeof err);
  char want[128];
  snprintf(want, sizeof want, "%s:3: tunn: unknown key", path);
  int same = strcmp(err, want) == 0;

  /* 1 MiB is the cap: a file one byte over is refused unread. */
  FILE *f = fopen(path, "w");
  int big_ok = f != NULL;
  if (f) {
    fputc('{', f);
    for (int i = 1; i < 1024 * 1024 - 1; i++)
      fputc(' ', f);
    fputc('}', f);
    fclose(f);
  }
  int r_max = zt_agent_config_load(&acfg, path, err, sizeof err);
  if (big_ok && (f = fopen(path, "a")) != NULL) {
    fputc('\n', f);
    fclose(f);
  }
  int r_over = zt_agent_config_load(&acfg, path, err, sizeof err);
  char want_big[128];
  snprintf(want_big, sizeof want_big, "%s: file too large", path);
  int big_msg = strncmp(err, want_big, strlen(want_big)) == 0;
  unlink(path);

  CHECK_EQ_INT(w, (int)strlen(bad));
  CHECK_EQ_INT(r, -1);
  CHECK(same);
  CHECK(big_ok);
  CHECK_EQ_INT(r_max, 0);
  CHECK_EQ_INT(r_over, -1);
  CHECK(big_msg);
}

/* ---- "intermediate" as one address or a list (several Intermediates) ---- */

static void test_string_form(void) {
  CHECK_EQ_INT(agent("{\"intermediate\": \"203.0.113.10:4000\"}"), 0);
  CHECK_STR(addr_str(&acfg.intermediate), "203.0.113.10:4000");
  CHECK_EQ_INT(acfg.n_more_intermediates, 0);
  CHECK_EQ_INT(conn("{\"intermediate\": \"203.0.113.11\"}"), 0);
  CHECK_STR(addr_str(&ccfg.intermediate), "203.0.113.11:4433");
  CHECK_EQ_INT(ccfg.n_more_intermediates, 0);
}

static void test_array_form(void) {
  CHECK_EQ_INT(conn("{\"intermediate\": [\"198.51.100.2:4433\",\n"
                    "  \"198.51.100.4\", \"[2001:db8::4]:5000\"],\n"
                    " \"intermediate_name\": \"edge\"}"),
               0);
  CHECK_STR(addr_str(&ccfg.intermediate), "198.51.100.2:4433");
  CHECK_EQ_INT(ccfg.n_more_intermediates, 2);
  CHECK_STR(addr_str(&ccfg.more_intermediates[0]), "198.51.100.4:4433");
  CHECK_EQ_INT(ccfg.more_intermediates_len[0], sizeof(struct sockaddr_in));
  CHECK_STR(addr_str(&ccfg.more_intermediates[1]), "[2001:db8::4]:5000");
  CHECK_EQ_INT(ccfg.more_intermediates_len[1], sizeof(struct sockaddr_in6));
  CHECK_STR(ccfg.intermediate_name, "edge");

  CHECK_EQ_INT(agent("{\"intermediate\": [\"198.51.100.2\"]}"), 0);
  CHECK_STR(addr_str(&acfg.intermediate), "198.51.100.2:4433");
  CHECK_EQ_INT(acfg.n_more_intermediates, 0);

  /* Eight is the most. */
  CHECK_EQ_INT(agent("{\"intermediate\": [\"10.0.0.1\", \"10.0.0.2\", "
                     "\"10.0.0.3\", \"10.0.0.4\", \"10.0.0.5\", \"10.0.0.6\", "
                     "\"10.0.0.7\", \"10.0.0.8\"]}"),
               0);
  CHECK_EQ_INT(acfg.n_more_intermediates, 7);
  CHECK_STR(addr_str(&acfg.more_intermediates[6]), "10.0.0.8:4433");
}

static void test_array_errors(void) {
  CHECK_EQ_INT(agent("{\n\"intermediate\": []}"), -1);
  CHECK_STR(err, "agent.json:2: intermediate: empty list: give at least one "
                 "address");
  CHECK_EQ_INT(conn("{\"intermediate\": [\"10.0.0.1\",\n"
                    "  \"10.0.0.2:99999\"]}"),
               -1);
  CHECK(strncmp(err, "conn.json:2: intermediate[1]: not an address", 44) == 0);
  CHECK_EQ_INT(conn("{\"intermediate\": [\"10.0.0.1\",\n 7]}"), -1);
  CHECK_STR(err, "conn.json:2: intermediate[1]: expected a string, got a number");
  CHECK_EQ_INT(agent("{\"intermediate\": [\"10.0.0.1\", \"10.0.0.2\", "
                     "\"10.0.0.3\", \"10.0.0.4\", \"10.0.0.5\", \"10.0.0.6\", "
                     "\"10.0.0.7\", \"10.0.0.8\",\n \"10.0.0.9\"]}"),
               -1);
  CHECK_STR(err, "agent.json:2: intermediate: too many Intermediates (max 8)");
  CHECK_EQ_INT(agent("{\"intermediate\": {\"a\": 1}}"), -1);
  CHECK(strstr(err, "agent.json:1: intermediate: expected a string") != NULL);
}

/* A file that names one address after a list (a second parse on top, as
 * the daemons do with flags) does not keep the list's tail. */
static void test_string_replaces_list(void) {
  CHECK_EQ_INT(conn("{\"intermediate\": [\"10.0.0.1\", \"10.0.0.2\"]}"), 0);
  CHECK_EQ_INT(ccfg.n_more_intermediates, 1);
  const char *one = "{\"intermediate\": \"10.0.0.3\"}";
  CHECK_EQ_INT(zt_connector_config_parse(&ccfg, "c2.json", one, strlen(one),
                                         err, sizeof err),
               0);
  CHECK_EQ_INT(ccfg.n_more_intermediates, 0);
  CHECK_STR(addr_str(&ccfg.intermediate), "10.0.0.3:4433");
}

/* The examples in deploy/config/ list two Intermediates. */
static void test_examples_list_two(void) {
  zt_connector_config_defaults(&ccfg);
  CHECK_EQ_INT(zt_connector_config_load(&ccfg, "deploy/config/connector.json",
                                        err, sizeof err),
               0);
  CHECK_EQ_INT(ccfg.n_more_intermediates, 1);
  CHECK_STR(addr_str(&ccfg.more_intermediates[0]), "198.51.100.10:4433");
  zt_agent_config_defaults(&acfg);
  CHECK_EQ_INT(
      zt_agent_config_load(&acfg, "deploy/config/agent.json", err, sizeof err),
      0);
  CHECK_EQ_INT(acfg.n_more_intermediates, 1);
  CHECK_STR(addr_str(&acfg.intermediate), "203.0.113.10:4433");
}

/* metrics_listen: off by default in all three, an address with a port
 * when given, errors naming file:line: key. */
static void test_metrics_listen(void) {
  CHECK_EQ_INT(im("{}"), 0);
  CHECK_EQ_INT(icfg.metrics_listen_len, 0);
  CHECK_EQ_INT(conn("{}"), 0);
  CHECK_EQ_INT(ccfg.metrics_listen_len, 0);
  CHECK_EQ_INT(agent("{}"), 0);
  CHECK_EQ_INT(acfg.metrics_listen_len, 0);
  CHECK_EQ_INT(im("{\"metrics_listen\": \"127.0.0.1:9101\"}"), 0);
  CHECK_STR(addr_str(&icfg.metrics_listen), "127.0.0.1:9101");
  CHECK_EQ_INT(conn("{\"metrics_listen\": \"10.0.0.1:9102\"}"), 0);
  CHECK_STR(addr_str(&ccfg.metrics_listen), "10.0.0.1:9102");
  CHECK_EQ_INT(agent("{\"metrics_listen\": \"[::1]:9103\"}"), 0);
  CHECK(acfg.metrics_listen_len > 0);
  CHECK_EQ_INT(agent("{\n\"metrics_listen\": \"127.0.0.1\"}"), -1);
  CHECK_CONTAINS(err, "agent.json:2: metrics_listen: give the port too");
  CHECK_EQ_INT(im("{\n\n\"metrics_listen\": \"nonsense:x\"}"), -1);
  CHECK_CONTAINS(err, "im.json:3: metrics_listen:");
  CHECK_EQ_INT(conn("{\"metrics_listen\": 9101}"), -1);
  CHECK_CONTAINS(err, "metrics_listen");
}

int main(void) {
  RUN(test_metrics_listen);
  RUN(test_intermediate_full);
  RUN(test_intermediate_policy_before_services);
  RUN(test_connector_full);
  RUN(test_agent_full);
  RUN(test_agent_dns);
  RUN(test_tun_offload);
  RUN(test_defaults);
  RUN(test_defaults_kept);
  RUN(test_parse_on_top);
  RUN(test_not_nul_terminated);
  RUN(test_exact_format);
  RUN(test_syntax_errors);
  RUN(test_unknown_keys);
  RUN(test_duplicate_keys);
  RUN(test_wrong_types);
  RUN(test_missing_members);
  RUN(test_bad_addresses);
  RUN(test_bad_names);
  RUN(test_duplicate_services);
  RUN(test_policy_errors);
  RUN(test_agent_pool);
  RUN(test_service_pool);
  RUN(test_pinned_ranges);
  RUN(test_log_level);
  RUN(test_congestion_control);
  RUN(test_udp_receive_buffer);
  RUN(test_workers);
  RUN(test_tun);
  RUN(test_paths);
  RUN(test_audit_log);
  RUN(test_port_rules);
  RUN(test_limits);
  RUN(test_load_examples);
  RUN(test_load_missing);
  RUN(test_load_file);
  RUN(test_string_form);
  RUN(test_array_form);
  RUN(test_array_errors);
  RUN(test_string_replaces_list);
  RUN(test_examples_list_two);
  return TEST_EXIT();
}

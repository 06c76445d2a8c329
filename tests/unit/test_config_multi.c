/*
 * "intermediate" as one address or as a list of them (several
 * Intermediates): both forms for the agent and the connector, and each
 * mistake refused with the file, the line and the element's key path.
 */
#include <netinet/in.h>
#include <string.h>

#include "config.h"
#include "netaddr.h"
#include "test.h"

static struct zt_connector_config ccfg;
static struct zt_agent_config acfg;
static char err[512];
static char abuf[64];

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

int main(void) {
  RUN(test_string_form);
  RUN(test_array_form);
  RUN(test_array_errors);
  RUN(test_string_replaces_list);
  RUN(test_examples_list_two);
  return TEST_EXIT();
}

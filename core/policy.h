/*
 * Access policy: which agents may reach which services, and which of their
 * ports. A policy is compiled once (from a policy document, or from the
 * older inline "services"/"policy" members of intermediate.json) into a
 * snapshot that is never changed afterwards: the Intermediate holds one
 * snapshot, and a reload builds a whole new one and swaps the pointer, so
 * a broken file can never leave a half-updated policy in force.
 *
 * Matching (docs/policy.md, "Precedence"): for an agent and a service,
 * only the rules naming that service count, and of those only the most
 * specific kind that applies to the agent: rules naming the agent beat
 * rules naming one of its groups, which beat rules for everyone ("*").
 * Among the rules of that kind a deny wins; otherwise the grant is the
 * union of the allow rules' ports. No rule: no access (default deny).
 */
#ifndef ZTNA_POLICY_H
#define ZTNA_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "portrule.h"
#include "wire.h"

#define ZT_POLICY_MAX_GROUPS 32
#define ZT_POLICY_MAX_MEMBERS 64 /* agents in one group */
#define ZT_POLICY_MAX_RULES 64
/* Connectors one service may name ("connectors": [...]): each agent is
 * served by one of them (chooser.h), another takes over when it leaves. */
#define ZT_POLICY_MAX_CONNECTORS 8
/* Ports one grant can hold (the union of its rules' ports): what
 * SESSION_NEW carries per service. */
#define ZT_POLICY_GRANT_MAX ZT_MAX_PORT_RULES

enum zt_policy_subject {
  ZT_SUBJECT_EVERYONE = 1, /* "agent": "*" */
  ZT_SUBJECT_GROUP = 2,
  ZT_SUBJECT_AGENT = 3, /* the values are the specificity: higher wins */
};

struct zt_policy_service {
  char name[ZT_NAME_MAX + 1];
  uint32_t address; /* virtual IPv4, host order */
  /* The connectors that may register it, at least one, no duplicates. */
  size_t n_connectors;
  char connectors[ZT_POLICY_MAX_CONNECTORS][ZT_NAME_MAX + 1];
  /* No "address" in the file: one comes from service_pool (svcpool.h),
   * filled in before the snapshot goes into force; 0 until then. */
  bool allocated;
  int line; /* of its "address" (or of the service, when allocated) */
  /* What of the backend the service offers at most; 0 rules: everything
   * (the connector's own "ports" still apply). */
  size_t n_ports;
  struct zt_port_rule ports[ZT_MAX_PORT_RULES];
};

struct zt_policy_group {
  char name[ZT_NAME_MAX + 1];
  size_t n_agents;
  char agents[ZT_POLICY_MAX_MEMBERS][ZT_NAME_MAX + 1];
};

struct zt_policy_rule {
  enum zt_policy_subject subject;
  char agent[ZT_NAME_MAX + 1]; /* ZT_SUBJECT_AGENT */
  uint8_t group;               /* ZT_SUBJECT_GROUP: index in groups[] */
  bool deny;
  size_t n_services;
  uint8_t services[ZT_MAX_SERVICES]; /* indexes in services[] */
  /* 0: every port of each service; else a subset of each one's ports. */
  size_t n_ports;
  struct zt_port_rule ports[ZT_MAX_PORT_RULES];
  int line; /* in its file, for warnings */
};

/* The whole snapshot. Filled by the parsers (config.h) or
 * zt_policy_from_inline(), then only ever read. */
struct zt_policy {
  size_t n_services, n_groups, n_rules;
  struct zt_policy_service services[ZT_MAX_SERVICES];
  struct zt_policy_group groups[ZT_POLICY_MAX_GROUPS];
  struct zt_policy_rule rules[ZT_POLICY_MAX_RULES];
};

/* What an agent may reach of one service: n == 0 means nothing. */
struct zt_policy_grant {
  size_t n;
  struct zt_port_rule ports[ZT_POLICY_GRANT_MAX];
};

/* A zeroed snapshot (no services, no rules: everything denied), or NULL. */
struct zt_policy *zt_policy_new(void);
void zt_policy_free(struct zt_policy *p);

/* Index of the service named `name`, or -1. */
int zt_policy_find_service(const struct zt_policy *p, const char *name);
int zt_policy_find_group(const struct zt_policy *p, const char *name);
/* Does service `s` name connector `name` (may it register it)? */
bool zt_policy_names_connector(const struct zt_policy_service *s,
                               const char *name);

/* The grant of `agent` on service index `svc` (see the top of this file).
 * Returns true when it holds at least one port. */
bool zt_policy_grant(const struct zt_policy *p, const char *agent, size_t svc,
                     struct zt_policy_grant *out);
/* May `agent` reach proto/dport of service `svc`? (dport ignored for
 * ICMP.) */
bool zt_policy_allows(const struct zt_policy *p, const char *agent, size_t svc,
                      uint8_t proto, uint16_t dport);
/* The index in rules[] of the rule that decided for `agent` and service
 * `svc` (the first deny among the deciding rules, else their first allow),
 * or -1 when none did (default deny): for the audit log. */
int zt_policy_deciding_rule(const struct zt_policy *p, const char *agent,
                            size_t svc);
bool zt_policy_grant_equal(const struct zt_policy_grant *a,
                           const struct zt_policy_grant *b);

/* Rules that can never decide anything (an empty group, a group rule whose
 * every member has a rule of its own for each of its services) and
 * services no rule names: one line each into fn. Returns how many. */
size_t zt_policy_warnings(const struct zt_policy *p,
                          void (*fn)(void *ud, const char *line), void *ud);

#endif

/*
 * The audit log: one JSON line per security decision (an authentication, a
 * HELLO or REGISTER, a session granted or denied, a packet denied by a port
 * rule, a reload, a revocation), with a fixed schema documented field by
 * field in docs/audit.md. Like the log, the core never writes a file
 * itself: lines go to a sink the driver installs (platform/auditfile.c:
 * the `audit_log` file or stdout); tests install a memory sink. With no
 * sink (the default) nothing is formatted at all.
 *
 * The helpers below are what the decision points call, one line each, so
 * the nodes' code stays about the decision and not about the log. They
 * take what the node has at hand (role and name, a sockaddr) and always
 * write every field of the schema, null where it does not apply.
 */
#ifndef ZTNA_AUDIT_H
#define ZTNA_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "identity.h"

/* A line (ending in '\n', len counts it). Returns 0, or -1 when it could
 * not be written (counted as a write error; never fatal). */
typedef int (*zt_audit_sink)(const char *line, size_t len, void *ud);

/* NULL: audit off. Installing a sink (or NULL) first writes the summary of
 * packet denials still suppressed to the old sink. */
void zt_audit_set_sink(zt_audit_sink sink, void *ud);
bool zt_audit_enabled(void);
/* The wall clock for `ts`, in ns since the Unix epoch; NULL restores
 * CLOCK_REALTIME. Tests pin it. */
void zt_audit_set_clock(uint64_t (*now_ns)(void));

struct zt_audit_stats {
  uint64_t lines;        /* handed to the sink */
  uint64_t write_errors; /* the sink said no (a full disk...) */
  uint64_t suppressed;   /* denial lines over the rate limit */
};
const struct zt_audit_stats *zt_audit_get_stats(void);
void zt_audit_reset_stats(void); /* tests */
/* "audit lines N write_errors N suppressed N" for the status (no newline);
 * "" when the audit log is off. */
const char *zt_audit_status(char *buf, size_t len);

/* One event; every pointer may be NULL (written as null), port < 0 too. */
struct zt_audit_event {
  const char *event;    /* "auth", "hello", "register", "session", ... */
  enum zt_role role;    /* with name: identity "role/name" */
  const char *name;     /* NULL or "": identity null */
  const char *source;   /* "address:port" as seen */
  const char *service;
  const char *connector;
  int port;             /* -1: none */
  const char *proto;
  bool allow;           /* decision: "allow" or "deny" */
  const char *rule;     /* what decided */
  const char *reason;   /* why (denials), or what happened */
};
void zt_audit_emit(const struct zt_audit_event *e);

/* ---- the decision points ------------------------------------------------ */

/* The outer handshake: accepted (role and name from the certificate) or
 * refused (name unknown: NULL; reason from TLS). */
void zt_audit_auth(enum zt_role role, const char *name,
                   const struct sockaddr *src, bool allow, const char *reason);
/* HELLO: the peer took its place (an agent got its tunnel address). */
void zt_audit_hello(enum zt_role role, const char *name,
                    const struct sockaddr *src, bool allow,
                    const char *reason);
/* REGISTER, one line per service a connector asked for. */
void zt_audit_register(const char *connector, const struct sockaddr *src,
                       const char *service, bool allow, const char *reason);
/* SESSION_OPEN at the Intermediate: granted per service (rule: the policy
 * entry that granted it), or denied (service NULL: the agent asked for a
 * connector; reason: why). Denials are rate-limited like packet denials
 * (an agent can ask as often as it likes), on the caller's clock now. */
void zt_audit_session(uint64_t now, const char *agent,
                      const struct sockaddr *src, const char *service,
                      const char *connector, bool allow, const char *rule,
                      const char *reason);
/* SESSION_NEW at the connector: the announced agent at its tunnel address
 * (host order), accepted or refused. */
void zt_audit_session_new(const char *agent, uint32_t agent_ip, bool allow,
                          const char *reason);
/* A packet from an agent the connector dropped (a port rule, a service the
 * session was not granted). Rate-limited on the caller's clock `now` (ns):
 * past ZT_AUDIT_DENY_BURST at once and ZT_AUDIT_DENY_RATE a second the
 * lines are counted, and the next one that passes is preceded by a
 * "suppressed" line with their count (rule: the event it stands for). source is the packet's source
 * address and port, port its destination port (null for ICMP and
 * fragments without ports). */
#define ZT_AUDIT_DENY_RATE 10
#define ZT_AUDIT_DENY_BURST 20
struct zt_ip_info;
void zt_audit_packet_denied(uint64_t now, const char *agent,
                            const struct zt_ip_info *ip, const char *service,
                            const char *reason);
/* For the reload path: what was reloaded (a file, "SIGHUP"), whether the
 * new state is in force, and why not (or what changed). */
void zt_audit_reload(const char *what, bool applied, const char *reason);
/* For revocation: the identity ("role/name" given as role and name) whose
 * certificate was revoked or refused for being revoked, where it was seen
 * (may be NULL), what listed it (rule: "crl FILE", "policy serial ..."). */
void zt_audit_revoke(enum zt_role role, const char *name,
                     const struct sockaddr *src, const char *rule,
                     const char *reason);
/* The same for a certificate the CRL in crl_file lists: rule "crl FILE". */
void zt_audit_revoke_crl(enum zt_role role, const char *name,
                         const struct sockaddr *src, const char *crl_file,
                         const char *reason);

#endif

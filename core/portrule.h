/*
 * Which protocols and ports of a backend a service exposes: "tcp/80",
 * "udp/5000-5010", "icmp", or a protocol's every port with an asterisk
 * after the slash. The connector checks every packet an
 * agent sends against its service's rules (default deny): the Intermediate's
 * policy says who may reach a service, these say what of it.
 */
#ifndef ZTNA_PORTRULE_H
#define ZTNA_PORTRULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZT_MAX_PORT_RULES 16

struct zt_port_rule {
  uint8_t proto;   /* IPPROTO_TCP, IPPROTO_UDP or IPPROTO_ICMP */
  uint16_t lo, hi; /* inclusive port range; 0..0 for icmp */
};

/* 0 on success; -1 with a reason in err. */
int zt_port_rule_parse(const char *s, struct zt_port_rule *out, char *err,
                       size_t errlen);

/* The same forms as parsed, e.g. "udp/1000-2000". Returns buf. */
const char *zt_port_rule_str(const struct zt_port_rule *r, char *buf,
                             size_t len);

/* True when some rule allows proto/dport. For ICMP, dport is ignored. */
bool zt_port_rules_match(const struct zt_port_rule *rules, size_t n,
                         uint8_t proto, uint16_t dport);

#endif

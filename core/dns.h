/*
 * A minimal, strict DNS responder (RFC 1035) for the deployment's own
 * domain: the agent answers "web.ztna.internal" with the address of the
 * service "web" from the table the Intermediate pushed. It is not a
 * resolver: names outside the domain are REFUSED, never forwarded.
 *
 * Queries come from the host through the TUN device, so they are untrusted
 * bytes: every length and pointer is checked before it is believed.
 * Accepted: one question, no answer or authority records, at most one
 * additional record and that one an EDNS0 OPT (RFC 6891) with a root name.
 * Compression pointers in the question's name are followed only backwards
 * (so they cannot loop) and never outside the message; labels are at most
 * 63 bytes of letters, digits, '-' and '_', names at most 255 bytes.
 * Pure functions: the table is passed in.
 */
#ifndef ZTNA_DNS_H
#define ZTNA_DNS_H

#include <stddef.h>
#include <stdint.h>

#define ZT_DNS_PORT 53
#define ZT_DNS_HDR_LEN 12
#define ZT_DNS_NAME_MAX 255 /* wire form, RFC 1035 2.3.4 */
#define ZT_DNS_LABEL_MAX 63
#define ZT_DNS_DOMAIN_MAX 253 /* as text, no trailing dot */
/* Without EDNS0 a UDP answer may be at most 512 bytes (RFC 1035 4.2.1). */
#define ZT_DNS_UDP_MAX 512
/* The payload size we advertise and honour with EDNS0 (the "DNS flag day
 * 2020" figure: fits any path without fragmenting). */
#define ZT_DNS_EDNS_MAX 1232
/* Seconds a resolver may cache our answers: short, as the pushed table
 * changes with policy. */
#define ZT_DNS_TTL 30

#define ZT_DNS_TYPE_A 1
#define ZT_DNS_TYPE_AAAA 28
#define ZT_DNS_TYPE_OPT 41
#define ZT_DNS_TYPE_ANY 255
#define ZT_DNS_CLASS_IN 1

enum zt_dns_rcode {
  ZT_DNS_NOERROR = 0,
  ZT_DNS_FORMERR = 1,
  ZT_DNS_NXDOMAIN = 3,
  ZT_DNS_NOTIMP = 4,
  ZT_DNS_REFUSED = 5,
};

/* One name of the table: `name` is a service name (one label, matched
 * without regard to ASCII case) answered as name.domain. */
struct zt_dns_entry {
  const char *name;
  uint32_t addr; /* IPv4, host order */
};

/* What zt_dns_answer did, for counters and tests. */
struct zt_dns_outcome {
  int rcode;      /* enum zt_dns_rcode of the reply; -1 when none */
  int answers;    /* A records in the reply (0 or 1) */
  int truncated;  /* TC set: the reply did not fit */
  int edns;       /* the query had an OPT record */
  uint16_t qtype; /* 0 when the question was not parsed */
};

/* Answers the query q (qlen bytes, the UDP payload). domain is the
 * deployment's domain without a trailing dot, e.g. "ztna.internal",
 * compared without regard to case. Writes the reply into out (outlen
 * bytes; a reply is never longer than 512 bytes, or ZT_DNS_EDNS_MAX with
 * EDNS0, and is cut to outlen with TC set when outlen is smaller) and
 * returns its length, or 0 when no reply may be sent: shorter than a
 * header, or itself a response (QR set: answering responses could loop).
 * Malformed queries get FORMERR. */
size_t zt_dns_answer(const uint8_t *q, size_t qlen, const char *domain,
                     const struct zt_dns_entry *table, size_t n, uint8_t *out,
                     size_t outlen, struct zt_dns_outcome *oc);

/* Is domain usable as the deployment's domain: dot-separated labels as
 * above, no leading or trailing dot, at most 253 characters? */
int zt_dns_domain_valid(const char *domain);

#endif

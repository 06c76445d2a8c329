/*
 * The agent's DNS address inside the tunnel: UDP queries to
 * addr:53 read from the TUN device are answered right there (dns.c), the
 * reply IPv4/UDP packet written back into the TUN device. Nothing binds
 * port 53 on the host and nothing leaves the machine. UDP only: our
 * answers are at most one A record, far below 512 bytes, so a resolver
 * never needs TCP (a reply that does not fit is truncated, TC set).
 */
#ifndef ZTNA_DNSTUN_H
#define ZTNA_DNSTUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns.h"
#include "ippkt.h"

/* 10.100.255.53: inside the default service_range (10.100.0.0/16), so it
 * routes into the tunnel like a service, far from where services are
 * usually numbered from (10.100.0.1 up). */
#define ZT_DNS_DEFAULT_ADDR 0x0a64ff35u
#define ZT_DNS_DEFAULT_DOMAIN "ztna.internal"

struct zt_dnstun_stats {
  uint64_t queries;   /* UDP to addr:53 */
  uint64_t answers;   /* replies with an A record */
  uint64_t nxdomain;  /* unknown names in the domain */
  uint64_t refused;   /* names outside the domain */
  uint64_t other;     /* other replies: no data, NOTIMP, FORMERR, TC */
  uint64_t malformed; /* dropped: bad UDP, no reply possible */
  uint64_t not_dns;   /* to addr but not UDP port 53: dropped */
};

struct zt_dnstun {
  uint32_t addr; /* host order; 0: DNS off */
  char domain[ZT_DNS_DOMAIN_MAX + 1];
  struct zt_dnstun_stats st;
};

/* Takes the packet pkt (len bytes, ip its zt_ip_parse) when it is addressed
 * to d->addr: answers it through tun_write, or counts and drops it; returns
 * true then. False (nothing done) for every other packet. */
bool zt_dnstun_handle(struct zt_dnstun *d, const uint8_t *pkt, size_t len,
                      const struct zt_ip_info *ip,
                      const struct zt_dns_entry *table, size_t n,
                      void (*tun_write)(void *ud, const uint8_t *pkt,
                                        size_t len),
                      void *ud);

/* The counters as a text line naming the domain and address (nothing when
 * DNS is off); the JSON and metrics come from the agent's counter table
 * (countertab.c). */
struct zt_strbuf;
void zt_dnstun_status(const struct zt_dnstun *d, struct zt_strbuf *sb);

/* The UDP checksum of an IPv4 packet's UDP part (udp, ulen bytes, checksum
 * field included) with its pseudo-header, network order; 0 over a packet
 * whose checksum is right. */
uint16_t zt_dnstun_udp_checksum(uint32_t src, uint32_t dst, const uint8_t *udp,
                                size_t ulen);

#endif

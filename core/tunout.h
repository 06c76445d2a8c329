/*
 * What the TUN-read side of the agent and the connector does with a packet
 * before it goes into the tunnel, given `max`, the largest datagram the
 * session carries now (zq_max_datagram of its inner connection, which path
 * MTU discovery may change at any time: pass it per packet):
 *  - a TCP SYN or SYN-ACK gets its MSS clamped to max - 40 (core/mss.c);
 *  - a packet that fits is sent as it is;
 *  - a bigger one with DF set is dropped and answered, into the TUN device,
 *    with an ICMP "fragmentation needed" quoting max (core/icmp.c), at most
 *    ZT_TUNOUT_ICMP_RATE a second (token bucket), never about an ICMP
 *    error;
 *  - a bigger one without DF is cut into fragments that fit
 *    (core/ipfrag.c), each sent on its own.
 * Pure: sending and writing back go through the callbacks.
 */
#ifndef ZTNA_TUNOUT_H
#define ZTNA_TUNOUT_H

#include <stddef.h>
#include <stdint.h>

#include "jsonw.h"
#include "ratelimit.h"
#include "strbuf.h"

#define ZT_TUNOUT_ICMP_RATE 20  /* ICMP errors a second, sustained */
#define ZT_TUNOUT_ICMP_BURST 10 /* at once */
/* IPv4 and TCP headers without options: MSS = datagram size - this. */
#define ZT_TUNOUT_TCPIP_HDR 40

struct zt_tunout_stats {
  uint64_t mss_clamped;  /* SYNs whose MSS option was lowered */
  uint64_t fragmented;   /* packets cut into fragments */
  uint64_t fragments;    /* fragments sent */
  uint64_t too_big;      /* packets dropped as too big (DF set) */
  uint64_t icmp_sent;    /* "fragmentation needed" written back */
  uint64_t icmp_limited; /* ... not written: over the rate */
};

struct zt_tunout {
  struct zt_bucket icmp;
  struct zt_tunout_stats stats;
  uint8_t *buf; /* 64 KiB scratch, allocated on first use */
};

/* Sends one packet (or fragment) into the tunnel: 0, or nonzero when it
 * was not taken. */
typedef int (*zt_tunout_send_fn)(void *ud, const uint8_t *pkt, size_t len);
/* Writes a packet back into the TUN device. */
typedef void (*zt_tunout_write_fn)(void *ud, const uint8_t *pkt, size_t len);

enum zt_tunout_result {
  ZT_TUNOUT_SENT = 0,
  ZT_TUNOUT_TOO_BIG = 1,     /* dropped (and maybe answered with ICMP) */
  ZT_TUNOUT_SEND_FAILED = 2, /* send refused it, or one of its fragments */
};

void zt_tunout_free(struct zt_tunout *t);

/* pkt: an IPv4 packet zt_ip_parse accepted. */
enum zt_tunout_result zt_tunout_send(struct zt_tunout *t, const uint8_t *pkt,
                                     size_t len, size_t max, uint64_t now,
                                     zt_tunout_send_fn send, void *send_ud,
                                     zt_tunout_write_fn write, void *write_ud);

/* The counters are rows of the agent's and connector's tables
 * (countertab.c): "size" in the status. */

#endif

/* Packets from the TUN device into the tunnel: size handling. See tunout.h. */
#include "tunout.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "icmp.h"
#include "ipfrag.h"
#include "ippkt.h"
#include "mss.h"

#define SCRATCH 65536 /* one IPv4 packet at most */

void zt_tunout_free(struct zt_tunout *t) {
  free(t->buf);
  t->buf = NULL;
}

struct frag_ctx {
  struct zt_tunout *t;
  zt_tunout_send_fn send;
  void *ud;
};

/* Fails with -2: zt_ip_fragment's own failure is -1. */
static int send_fragment(void *ud, const uint8_t *piece, size_t len) {
  struct frag_ctx *f = ud;
  if (f->send(f->ud, piece, len) != 0)
    return -2;
  f->t->stats.fragments++;
  return 0;
}

static void too_big_answer(struct zt_tunout *t, const uint8_t *pkt, size_t len,
                           size_t max, uint64_t now, zt_tunout_write_fn write,
                           void *write_ud) {
  uint8_t icmp[ZT_ICMP_FRAG_NEEDED_MAX];
  size_t n = zt_icmp_frag_needed(pkt, len, (uint16_t)max, icmp);
  if (n == 0)
    return; /* about an ICMP error, a later fragment, no single host */
  if (!zt_bucket_take(&t->icmp, now, ZT_TUNOUT_ICMP_RATE,
                      ZT_TUNOUT_ICMP_BURST)) {
    t->stats.icmp_limited++;
    return;
  }
  write(write_ud, icmp, n);
  t->stats.icmp_sent++;
}

/* t->buf: the first half holds a clamped copy of the packet, the second
 * the fragment being built. */
static bool scratch(struct zt_tunout *t) {
  return t->buf || (t->buf = malloc(2 * SCRATCH));
}

static enum zt_tunout_result send_whole(const uint8_t *pkt, size_t len,
                                        zt_tunout_send_fn send, void *ud) {
  return send(ud, pkt, len) == 0 ? ZT_TUNOUT_SENT : ZT_TUNOUT_SEND_FAILED;
}

enum zt_tunout_result zt_tunout_send(struct zt_tunout *t, const uint8_t *pkt,
                                     size_t len, size_t max, uint64_t now,
                                     zt_tunout_send_fn send, void *send_ud,
                                     zt_tunout_write_fn write, void *write_ud) {
  struct zt_ip_info ip;
  if (zt_ip_parse(pkt, len, &ip) != 0)
    return send_whole(pkt, len, send, send_ud);
  len = ip.total_len; /* bytes past it are not part of the packet */
  if (max > 65535)
    max = 65535;
  /* SYNs are few and small: copy one, clamp the copy. */
  if (ip.proto == ZT_IP_PROTO_TCP && !ip.is_fragment &&
      max > ZT_TUNOUT_TCPIP_HDR && scratch(t)) {
    memcpy(t->buf, pkt, len);
    if (zt_tcp_clamp_mss(t->buf, len, (uint16_t)(max - ZT_TUNOUT_TCPIP_HDR))) {
      t->stats.mss_clamped++;
      pkt = t->buf;
    }
  }
  if (len <= max)
    return send_whole(pkt, len, send, send_ud);
  if (zt_ip_rd16(pkt + 6) & ZT_IP_DF) {
    t->stats.too_big++;
    too_big_answer(t, pkt, len, max, now, write, write_ud);
    return ZT_TUNOUT_TOO_BIG;
  }
  struct frag_ctx f = {t, send, send_ud};
  int rv = scratch(t) ? zt_ip_fragment(pkt, len, max, t->buf + SCRATCH,
                                       send_fragment, &f)
                      : -1;
  if (rv == -1) { /* max leaves no room for 8 bytes of payload */
    t->stats.too_big++;
    return ZT_TUNOUT_TOO_BIG;
  }
  t->stats.fragmented++;
  return rv > 0 ? ZT_TUNOUT_SENT : ZT_TUNOUT_SEND_FAILED;
}


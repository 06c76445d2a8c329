/* Coalescing of TUN writes. See gro.h. */
#include "gro.h"

#include <string.h>

#include "ippkt.h"

#define TCP_ACK 0x10
#define TCP_PSH 0x08
#define NONE UINT16_MAX

void zt_gro_reset(struct zt_gro *g) {
  g->npkt = 0;
  g->nitem = 0;
}

/* What zt_gro_add reads of a packet. */
enum kind {
  OTHER,      /* not IPv4 TCP: no flow of ours */
  TCP_OPAQUE, /* IPv4 TCP whose headers we do not read: closes all */
  TCP_SINGLE, /* IPv4 TCP that may not be merged: closes its flow */
  TCP_DATA,   /* a candidate: ACK (maybe PSH) with payload */
};

static enum kind classify(const uint8_t *p, size_t len, size_t *thl) {
  if (len < 20 || p[0] >> 4 != 4 || p[9] != 6)
    return OTHER;
  if ((p[0] & 0x0f) != 5 || len < 40 || zt_ip_rd16(p + 2) != len ||
      zt_ip_rd16(p + 6) & (ZT_IP_MF | ZT_IP_OFFMASK))
    return TCP_OPAQUE;
  *thl = (size_t)(p[32] >> 4) * 4;
  if (*thl < 20 || 20 + *thl > len)
    return TCP_OPAQUE;
  uint8_t f = p[33];
  if ((f & (uint8_t)~TCP_PSH) != TCP_ACK || 20 + *thl == len)
    return TCP_SINGLE;
  return TCP_DATA;
}

/* Same flow: addresses and ports. */
static bool same_flow(const uint8_t *a, const uint8_t *b) {
  return !memcmp(a + 12, b + 12, 8) && !memcmp(a + 20, b + 20, 4);
}

/* May b follow the last segment of the item headed by a? Everything the
 * kernel copies from the first segment when it cuts them again. */
static bool same_headers(const uint8_t *a, const uint8_t *b, size_t thl) {
  return a[1] == b[1] && a[8] == b[8] &&                 /* TOS, TTL */
         (a[6] & 0x40) == (b[6] & 0x40) &&               /* DF */
         !memcmp(a + 28, b + 28, 4) &&                   /* ack */
         !memcmp(a + 34, b + 34, 2) &&                   /* window */
         (a[32] >> 4) * 4 == (int)thl &&                 /* options: */
         !memcmp(a + 40, b + 40, thl - 20);              /* same bytes */
}

static void close_all(struct zt_gro *g) {
  for (size_t i = 0; i < g->nitem; i++)
    g->item[i].open = false;
}

/* The flow's most recent item, or NULL. */
static struct zt_gro_item *flow_item(struct zt_gro *g, const uint8_t *p) {
  for (size_t i = g->nitem; i-- > 0;) {
    struct zt_gro_item *it = &g->item[i];
    if (it->tcp && same_flow(g->pkt[it->first].p, p))
      return it;
  }
  return NULL;
}

int zt_gro_add(struct zt_gro *g, uint8_t *pkt, size_t len) {
  if (g->npkt >= ZT_GRO_MAX_PKTS)
    return -1;
  uint16_t idx = (uint16_t)g->npkt++;
  g->pkt[idx].p = pkt;
  g->pkt[idx].len = len;
  g->pkt[idx].next = NONE;
  size_t thl = 0;
  enum kind k = classify(pkt, len, &thl);
  struct zt_gro_item *prev = NULL;
  if (k == TCP_OPAQUE)
    close_all(g);
  else if (k != OTHER)
    prev = flow_item(g, pkt);
  size_t pay = len - 20 - thl;
  if (k == TCP_DATA && prev && prev->open &&
      zt_ip_rd32(pkt + 24) == prev->next_seq && pay <= prev->gso_size &&
      prev->total + pay <= ZT_GRO_MAX_LEN &&
      same_headers(g->pkt[prev->first].p, pkt, thl)) {
    g->pkt[prev->last].next = idx;
    prev->last = idx;
    prev->nseg++;
    prev->total += (uint32_t)pay;
    prev->next_seq += (uint32_t)pay;
    /* A short segment or a PSH ends a super segment. */
    prev->open = pay == prev->gso_size && !(pkt[33] & TCP_PSH);
    return 0;
  }
  if (prev)
    prev->open = false;
  struct zt_gro_item *it = &g->item[g->nitem++];
  memset(it, 0, sizeof(*it));
  it->first = it->last = idx;
  it->nseg = 1;
  it->total = (uint32_t)len;
  it->tcp = k == TCP_SINGLE || k == TCP_DATA;
  if (k == TCP_DATA) {
    it->gso_size = (uint16_t)pay;
    it->next_seq = zt_ip_rd32(pkt + 24) + (uint32_t)pay;
    it->open = !(pkt[33] & TCP_PSH);
  }
  return 0;
}

size_t zt_gro_item_out(struct zt_gro *g, size_t k,
                       uint8_t hdr[ZT_VNET_HDR_LEN], struct zt_gro_span *spans,
                       struct zt_gro_stats *st) {
  struct zt_gro_item *it = &g->item[k];
  struct zt_vnethdr h = {0};
  uint8_t *head = g->pkt[it->first].p;
  size_t n = 0;
  spans[n].p = head;
  spans[n++].len = g->pkt[it->first].len;
  st->writes++;
  if (it->nseg > 1) {
    size_t thl = (size_t)(head[32] >> 4) * 4, hdrs = 20 + thl;
    for (uint16_t i = g->pkt[it->first].next; i != NONE; i = g->pkt[i].next) {
      spans[n].p = g->pkt[i].p + hdrs;
      spans[n++].len = g->pkt[i].len - hdrs;
    }
    /* The last segment's PSH belongs to the super segment. */
    head[33] |= g->pkt[it->last].p[33] & TCP_PSH;
    zt_ip_wr16(head + 2, (uint16_t)it->total);
    zt_ip_set_checksum(head, 20);
    /* CHECKSUM_PARTIAL: the pseudo-header's sum, not complemented; the
     * kernel adds the rest of each segment when it cuts them. */
    zt_ip_wr16(head + 36,
               zt_csum_fold(zt_csum_pseudo4(head, 6,
                                            (uint16_t)(it->total - 20))));
    h.flags = ZT_VNET_F_NEEDS_CSUM;
    h.gso_type = ZT_VNET_GSO_TCPV4;
    h.hdr_len = (uint16_t)hdrs;
    h.gso_size = it->gso_size;
    h.csum_start = 20;
    h.csum_offset = 16;
    st->merged++;
    st->segments += it->nseg;
  }
  zt_vnethdr_build(&h, hdr);
  return n;
}

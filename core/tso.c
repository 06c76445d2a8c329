/* Cutting TUN super segments into packets. See tso.h. */
#include "tso.h"

#include <string.h>

#include "ippkt.h"

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_CWR 0x80

const char *zt_tso_strerror(int err) {
  switch (err) {
  case ZT_TSO_OK: return "ok";
  case ZT_TSO_ESHORT: return "shorter than the virtio-net header";
  case ZT_TSO_EGSOTYPE: return "GSO type not offered";
  case ZT_TSO_EHEADERS: return "GSO_TCPV4 without IPv4/TCP headers";
  case ZT_TSO_ELENGTH: return "IPv4 total length is not the read's length";
  case ZT_TSO_EGSOSIZE: return "GSO size 0";
  case ZT_TSO_ECSUM: return "checksum offsets outside the packet";
  }
  return "unknown";
}

/* A GSO_TCPV4 packet's header lengths, checked: 0 or an error. */
static int tcp4_headers(const uint8_t *pkt, size_t len, size_t *iphl,
                        size_t *hdrs) {
  if (len < 20 || pkt[0] >> 4 != 4 || pkt[9] != 6)
    return ZT_TSO_EHEADERS;
  *iphl = (size_t)(pkt[0] & 0x0f) * 4;
  if (*iphl < 20 || *iphl + 20 > len ||
      zt_ip_rd16(pkt + 6) & (ZT_IP_MF | ZT_IP_OFFMASK))
    return ZT_TSO_EHEADERS;
  size_t thl = (size_t)(pkt[*iphl + 12] >> 4) * 4;
  if (thl < 20 || *iphl + thl > len)
    return ZT_TSO_EHEADERS;
  *hdrs = *iphl + thl;
  if (zt_ip_rd16(pkt + 2) != len)
    return ZT_TSO_ELENGTH;
  return 0;
}

/* Segment at seg (headers then pay bytes of payload): the lengths, id,
 * sequence number, flags and both checksums for segment i of last. */
static void fix_segment(uint8_t *seg, size_t iphl, size_t hdrs, size_t pay,
                        uint16_t id0, uint32_t seq0, uint8_t flags0,
                        size_t i, size_t last, uint16_t gso) {
  uint8_t *tcp = seg + iphl;
  zt_ip_wr16(seg + 2, (uint16_t)(hdrs + pay));
  zt_ip_wr16(seg + 4, (uint16_t)(id0 + i));
  zt_ip_set_checksum(seg, iphl);
  zt_ip_wr32(tcp + 4, seq0 + (uint32_t)(i * gso));
  uint8_t f = flags0;
  if (i != last)
    f &= (uint8_t)~(TCP_FIN | TCP_PSH);
  if (i != 0)
    f &= (uint8_t)~TCP_CWR;
  tcp[13] = f;
  tcp[16] = tcp[17] = 0;
  uint16_t l4 = (uint16_t)(hdrs - iphl + pay);
  uint32_t s = zt_csum_pseudo4(seg, 6, l4);
  s = zt_csum_add(s, tcp, l4);
  zt_ip_wr16(tcp + 16, (uint16_t)~zt_csum_fold(s));
}

static int split_tcp4(const struct zt_vnethdr *h, uint8_t *pkt, size_t len,
                      zt_tso_emit_fn emit, void *ud,
                      struct zt_tso_stats *st) {
  size_t iphl, hdrs;
  int rc = tcp4_headers(pkt, len, &iphl, &hdrs);
  if (rc != 0)
    return rc;
  if (h->gso_size == 0)
    return ZT_TSO_EGSOSIZE;
  uint8_t orig[120]; /* IPv4 60 + TCP 60 at most */
  memcpy(orig, pkt, hdrs);
  size_t payload = len - hdrs, gso = h->gso_size;
  size_t nseg = payload == 0 ? 1 : (payload + gso - 1) / gso;
  uint16_t id0 = zt_ip_rd16(orig + 4);
  uint32_t seq0 = zt_ip_rd32(orig + iphl + 4);
  uint8_t flags0 = orig[iphl + 13];
  st->gso_reads++;
  for (size_t i = 0; i < nseg; i++) {
    size_t off = hdrs + i * gso; /* this segment's payload in pkt */
    size_t pay = i + 1 < nseg ? gso : payload - i * gso;
    uint8_t *seg = pkt + off - hdrs; /* over the last one's tail */
    memcpy(seg, orig, hdrs);
    fix_segment(seg, iphl, hdrs, pay, id0, seq0, flags0, i, nseg - 1,
                (uint16_t)gso);
    emit(ud, seg, hdrs + pay);
  }
  st->segments += nseg;
  return (int)nseg;
}

int zt_tso_read(uint8_t *buf, size_t n, zt_tso_emit_fn emit, void *ud,
                struct zt_tso_stats *st) {
  struct zt_vnethdr h;
  int rc;
  if (zt_vnethdr_parse(buf, n, &h) != 0) {
    rc = ZT_TSO_ESHORT;
    goto bad;
  }
  st->reads++;
  uint8_t *pkt = buf + ZT_VNET_HDR_LEN;
  size_t len = n - ZT_VNET_HDR_LEN;
  switch (h.gso_type & (uint8_t)~ZT_VNET_GSO_ECN) {
  case ZT_VNET_GSO_NONE:
    if (zt_vnet_csum_complete(&h, pkt, len) != 0) {
      rc = ZT_TSO_ECSUM;
      goto bad;
    }
    if (h.flags & ZT_VNET_F_NEEDS_CSUM)
      st->csum_done++;
    emit(ud, pkt, len);
    return 1;
  case ZT_VNET_GSO_TCPV4:
    /* Both checksums are computed afresh: the partial sum is not used. */
    rc = split_tcp4(&h, pkt, len, emit, ud, st);
    if (rc < 0)
      goto bad;
    return rc;
  default:
    rc = ZT_TSO_EGSOTYPE;
    goto bad;
  }
bad:
  st->bad++;
  return rc;
}

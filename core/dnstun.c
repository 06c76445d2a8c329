/* DNS answered inside the agent's TUN device. See dnstun.h. */
#include "dnstun.h"

#include <string.h>

#include "jsonw.h"
#include "strbuf.h"

uint16_t zt_dnstun_udp_checksum(uint32_t src, uint32_t dst, const uint8_t *udp,
                                size_t ulen) {
  uint32_t sum = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) +
                 ZT_IP_PROTO_UDP + (uint32_t)ulen;
  for (size_t i = 0; i + 1 < ulen; i += 2)
    sum += (uint32_t)(udp[i] << 8 | udp[i + 1]);
  if (ulen & 1)
    sum += (uint32_t)udp[ulen - 1] << 8;
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  uint16_t v = (uint16_t)~sum;
  uint8_t be[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  memcpy(&v, be, 2);
  return v;
}

static void count(struct zt_dnstun_stats *st, const struct zt_dns_outcome *oc) {
  if (oc->answers)
    st->answers++;
  else if (oc->rcode == ZT_DNS_NXDOMAIN)
    st->nxdomain++;
  else if (oc->rcode == ZT_DNS_REFUSED)
    st->refused++;
  else
    st->other++;
}

bool zt_dnstun_handle(struct zt_dnstun *d, const uint8_t *pkt, size_t len,
                      const struct zt_ip_info *ip,
                      const struct zt_dns_entry *table, size_t n,
                      void (*tun_write)(void *ud, const uint8_t *pkt,
                                        size_t len),
                      void *ud) {
  if (d->addr == 0 || ip->dst != d->addr)
    return false;
  (void)len;
  if (ip->proto != ZT_IP_PROTO_UDP || !ip->l4_ok || ip->is_fragment ||
      ip->dport != ZT_DNS_PORT) {
    d->st.not_dns++;
    return true;
  }
  d->st.queries++;
  const uint8_t *udp = pkt + ip->hdr_len;
  size_t ulen = zt_ip_rd16(udp + 4);
  uint16_t ck;
  memcpy(&ck, udp + 6, 2);
  if (ulen < 8 || ulen > (size_t)ip->total_len - ip->hdr_len ||
      (ck != 0 && zt_dnstun_udp_checksum(ip->src, ip->dst, udp, ulen) != 0)) {
    d->st.malformed++;
    return true;
  }
  uint8_t out[20 + 8 + ZT_DNS_EDNS_MAX];
  struct zt_dns_outcome oc;
  size_t r = zt_dns_answer(udp + 8, ulen - 8, d->domain, table, n, out + 28,
                           ZT_DNS_EDNS_MAX, &oc);
  if (r == 0) {
    d->st.malformed++;
    return true;
  }
  count(&d->st, &oc);
  if (oc.rcode == ZT_DNS_FORMERR)
    d->st.malformed++;
  size_t total = 28 + r;
  /* from the DNS address to the asker */
  zt_ip_reply_header(out, pkt, 0, ZT_IP_DF, ZT_IP_PROTO_UDP, (uint16_t)total);
  uint8_t *u = out + 20;
  memset(u, 0, 8);
  zt_ip_wr16(u, ZT_DNS_PORT);
  zt_ip_wr16(u + 2, ip->sport);
  zt_ip_wr16(u + 4, (uint16_t)(8 + r));
  ck = zt_dnstun_udp_checksum(ip->dst, ip->src, u, 8 + r);
  if (ck == 0)
    ck = 0xffff; /* 0 means "no checksum" in UDP */
  memcpy(u + 6, &ck, 2);
  tun_write(ud, out, total);
  return true;
}

void zt_dnstun_status(const struct zt_dnstun *d, struct zt_strbuf *sb) {
  const struct zt_dnstun_stats *s = &d->st;
  char ip[16];
  if (!d->addr)
    return;
  zt_strbuf_printf(sb,
                   "dns %s at %s: queries %llu answers %llu nxdomain %llu "
                   "refused %llu other %llu malformed %llu not_dns %llu\n",
                   d->domain, zt_ip4_str(d->addr, ip),
                   (unsigned long long)s->queries,
                   (unsigned long long)s->answers,
                   (unsigned long long)s->nxdomain,
                   (unsigned long long)s->refused,
                   (unsigned long long)s->other,
                   (unsigned long long)s->malformed,
                   (unsigned long long)s->not_dns);
}

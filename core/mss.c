/* TCP MSS clamping. See mss.h. */
#include "mss.h"

#include "ippkt.h"

#define TCP_SYN 0x02
#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2

void zt_cksum_update16(uint8_t *ck, uint16_t old, uint16_t new_) {
  /* HC' = ~(~HC + ~m + m'), summed with end-around carry. */
  uint32_t sum = (uint16_t)~zt_ip_rd16(ck) + (uint32_t)(uint16_t)~old + new_;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  zt_ip_wr16(ck, (uint16_t)~sum);
}

static uint16_t swap16(uint16_t v) { return (uint16_t)(v << 8 | v >> 8); }

bool zt_tcp_clamp_mss(uint8_t *pkt, size_t len, uint16_t mss) {
  struct zt_ip_info ip;
  if (zt_ip_parse(pkt, len, &ip) != 0 || ip.proto != ZT_IP_PROTO_TCP ||
      ip.is_fragment || !ip.l4_ok)
    return false;
  uint8_t *tcp = pkt + ip.hdr_len;
  size_t tcp_len = (size_t)ip.total_len - ip.hdr_len;
  size_t doff = (size_t)(tcp[12] >> 4) * 4;
  if (!(tcp[13] & TCP_SYN) || doff < 20 || doff > tcp_len)
    return false;
  for (size_t i = 20; i < doff;) {
    uint8_t kind = tcp[i];
    if (kind == TCPOPT_EOL)
      break;
    if (kind == TCPOPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= doff || tcp[i + 1] < 2 || i + tcp[i + 1] > doff)
      return false; /* malformed options: leave them to the receiver */
    if (kind == TCPOPT_MSS && tcp[i + 1] == 4) {
      uint16_t old = zt_ip_rd16(tcp + i + 2);
      if (old <= mss)
        return false;
      zt_ip_wr16(tcp + i + 2, mss);
      /* The checksum sums 16-bit words from the TCP header's start: a
       * value at an odd offset straddles two words, which is the same
       * sum with its bytes swapped. */
      if ((i + 2) % 2)
        zt_cksum_update16(tcp + 16, swap16(old), swap16(mss));
      else
        zt_cksum_update16(tcp + 16, old, mss);
      return true;
    }
    i += tcp[i + 1];
  }
  return false;
}

/* IPv4 fragmentation. See ipfrag.h. */
#include "ipfrag.h"

#include <stdbool.h>
#include <string.h>

#include "ippkt.h"


/* The header of the second and later pieces: the fixed 20 bytes and the
 * options whose "copied" bit is set, padded with EOL to 4 bytes. */
static size_t later_header(const uint8_t *hdr, size_t hdr_len, uint8_t *out) {
  size_t n = 20;
  memcpy(out, hdr, 20);
  for (size_t i = 20; i < hdr_len;) {
    uint8_t type = hdr[i];
    if (type == 0) /* end of options */
      break;
    if (type == 1) { /* no-op */
      i++;
      continue;
    }
    if (i + 1 >= hdr_len || hdr[i + 1] < 2 || i + hdr[i + 1] > hdr_len)
      break; /* malformed: copy nothing more */
    if (type & 0x80) {
      memcpy(out + n, hdr + i, hdr[i + 1]);
      n += hdr[i + 1];
    }
    i += hdr[i + 1];
  }
  while (n % 4)
    out[n++] = 0;
  out[0] = (uint8_t)(0x40 | (n / 4));
  return n;
}

static int emit_piece(uint8_t *buf, size_t hl, size_t plen, uint16_t frag,
                      zt_ipfrag_emit emit, void *ud) {
  zt_ip_wr16(buf + 2, (uint16_t)(hl + plen));
  zt_ip_wr16(buf + 6, frag);
  zt_ip_set_checksum(buf, hl);
  return emit(ud, buf, hl + plen);
}

int zt_ip_fragment(const uint8_t *pkt, size_t len, size_t mtu, uint8_t *buf,
                   zt_ipfrag_emit emit, void *ud) {
  struct zt_ip_info ip;
  uint8_t later[60];
  if (zt_ip_parse(pkt, len, &ip) != 0)
    return -1;
  uint16_t fl = zt_ip_rd16(pkt + 6);
  if (fl & ZT_IP_DF)
    return -1;
  size_t later_len = later_header(pkt, ip.hdr_len, later);
  if (mtu < (size_t)ip.hdr_len + 8 || mtu > 65535)
    return -1;
  /* Offsets stay those of the original datagram: pkt may be a fragment. */
  size_t base = (size_t)(fl & ZT_IP_OFFMASK) * 8;
  int more_after = (fl & ZT_IP_MF) != 0;
  const uint8_t *payload = pkt + ip.hdr_len;
  size_t plen = (size_t)ip.total_len - ip.hdr_len, pos = 0;
  int pieces = 0;
  while (pos < plen || pieces == 0) {
    size_t hl = pieces == 0 ? ip.hdr_len : later_len;
    size_t room = (mtu - hl) & ~(size_t)7;
    size_t n = plen - pos <= mtu - hl ? plen - pos : room;
    bool last = pos + n == plen;
    memcpy(buf, pieces == 0 ? pkt : later, hl);
    memcpy(buf + hl, payload + pos, n);
    uint16_t frag = (uint16_t)(((base + pos) / 8) & ZT_IP_OFFMASK);
    if (!last || more_after)
      frag |= ZT_IP_MF;
    frag |= fl & 0x8000; /* the reserved bit, as it was */
    int rv = emit_piece(buf, hl, n, frag, emit, ud);
    if (rv != 0)
      return rv;
    pos += n;
    pieces++;
  }
  return pieces;
}

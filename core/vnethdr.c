/* The virtio-net header and checksum helpers. See vnethdr.h. */
#include "vnethdr.h"

#include <string.h>

static uint16_t rd_host16(const uint8_t *p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return v;
}

int zt_vnethdr_parse(const uint8_t *buf, size_t len, struct zt_vnethdr *h) {
  if (len < ZT_VNET_HDR_LEN)
    return -1;
  h->flags = buf[0];
  h->gso_type = buf[1];
  h->hdr_len = rd_host16(buf + 2);
  h->gso_size = rd_host16(buf + 4);
  h->csum_start = rd_host16(buf + 6);
  h->csum_offset = rd_host16(buf + 8);
  return 0;
}

void zt_vnethdr_build(const struct zt_vnethdr *h,
                      uint8_t out[ZT_VNET_HDR_LEN]) {
  out[0] = h->flags;
  out[1] = h->gso_type;
  memcpy(out + 2, &h->hdr_len, 2);
  memcpy(out + 4, &h->gso_size, 2);
  memcpy(out + 6, &h->csum_start, 2);
  memcpy(out + 8, &h->csum_offset, 2);
}

uint32_t zt_csum_add(uint32_t sum, const uint8_t *data, size_t len) {
  uint64_t s = sum;
  size_t i = 0;
  for (; i + 1 < len; i += 2)
    s += (uint32_t)(data[i] << 8 | data[i + 1]);
  if (i < len)
    s += (uint32_t)data[i] << 8;
  while (s >> 32)
    s = (s & 0xffffffffu) + (s >> 32);
  return (uint32_t)s;
}

uint16_t zt_csum_fold(uint32_t sum) {
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)sum;
}

uint32_t zt_csum_pseudo4(const uint8_t *ip, uint8_t proto, uint16_t l4len) {
  uint32_t s = zt_csum_add(0, ip + 12, 8); /* source and destination */
  return s + proto + l4len;
}

int zt_vnet_csum_complete(const struct zt_vnethdr *h, uint8_t *pkt,
                          size_t len) {
  if (!(h->flags & ZT_VNET_F_NEEDS_CSUM))
    return 0;
  size_t start = h->csum_start, field = start + h->csum_offset;
  if (start >= len || field + 2 > len)
    return -1;
  /* The field's partial sum is part of the region summed. */
  uint16_t ck = (uint16_t)~zt_csum_fold(zt_csum_add(0, pkt + start,
                                                    len - start));
  /* 0 means "no checksum" to UDP; +0 and -0 are the same sum to TCP. */
  if (ck == 0)
    ck = 0xffff;
  pkt[field] = (uint8_t)(ck >> 8);
  pkt[field + 1] = (uint8_t)ck;
  return 0;
}

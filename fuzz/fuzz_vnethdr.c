/*
 * libFuzzer target for TUN reads with offloads: the whole input is one
 * read, virtio-net header first (core/tso.c), the way the kernel hands it
 * over but untrusted. Every packet handed out must lie inside the input
 * (or be a segment no longer than its headers plus gso_size) with its
 * IPv4 total length and checksum right; then the packets go through the
 * write-side coalescing (core/gro.c), whose writes must carry exactly the
 * queued bytes less the headers of merged segments.
 */
#include <stdlib.h>
#include <string.h>

#include "gro.h"
#include "ippkt.h"
#include "tso.h"
#include "vnethdr.h"

static uint8_t buf[65536 + ZT_VNET_HDR_LEN];
static uint8_t arena[ZT_GRO_MAX_PKTS][65536];
static struct zt_gro gro;
static size_t queued_bytes, in_len;
static struct zt_vnethdr hdr;

static void emit(void *ud, const uint8_t *pkt, size_t len) {
  (void)ud;
  if (pkt < buf + ZT_VNET_HDR_LEN || pkt + len > buf + in_len)
    abort();
  if ((hdr.gso_type & ~ZT_VNET_GSO_ECN) == ZT_VNET_GSO_TCPV4) {
    size_t ihl = (size_t)(pkt[0] & 15) * 4;
    if (zt_ip_rd16(pkt + 2) != len || zt_ip_checksum(pkt, ihl) != 0)
      abort();
  }
  if (gro.npkt < ZT_GRO_MAX_PKTS) {
    memcpy(arena[gro.npkt], pkt, len);
    if (zt_gro_add(&gro, arena[gro.npkt], len) != 0)
      abort();
    queued_bytes += len;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct zt_tso_stats st = {0};
  struct zt_gro_stats gst = {0};
  uint8_t vh[ZT_VNET_HDR_LEN];
  struct zt_gro_span spans[ZT_GRO_MAX_PKTS];
  if (size > sizeof(buf))
    return 0;
  memcpy(buf, data, size);
  in_len = size;
  zt_vnethdr_parse(data, size, &hdr);
  zt_gro_reset(&gro);
  queued_bytes = 0;
  int rc = zt_tso_read(buf, size, emit, NULL, &st);
  zt_tso_strerror(rc);
  if ((rc < 0) != (st.bad == 1))
    abort();
  size_t written = 0, headers = 0;
  for (size_t k = 0; k < gro.nitem; k++) {
    size_t n = zt_gro_item_out(&gro, k, vh, spans, &gst);
    struct zt_vnethdr oh;
    zt_vnethdr_parse(vh, sizeof(vh), &oh);
    if (n != gro.item[k].nseg)
      abort();
    for (size_t i = 0; i < n; i++)
      written += spans[i].len;
    if (n > 1) {
      headers += (n - 1) * oh.hdr_len;
      if (oh.gso_type != ZT_VNET_GSO_TCPV4 ||
          written > ZT_GRO_MAX_LEN * gro.nitem)
        abort();
    }
  }
  if (written + headers != queued_bytes)
    abort();
  return 0;
}

/* TUN reads and writes with virtio-net headers. See tunoffload.h. */
#include "tunoffload.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "tun.h"

/* Room for a full queue of the biggest packets the nodes write (TUN MTU),
 * and for a few reassembled datagrams up to 64 KB. */
#define ZT_TUNOFF_ARENA (256u * 1024)

struct zt_tunoff *zt_tunoff_new(void) {
  struct zt_tunoff *t = calloc(1, sizeof(*t));
  if (t && !(t->arena = malloc(ZT_TUNOFF_ARENA))) {
    free(t);
    return NULL;
  }
  return t;
}

void zt_tunoff_free(struct zt_tunoff *t) {
  if (!t)
    return;
  free(t->arena);
  free(t);
}

int zt_tunoff_flush(struct zt_tunoff *t, int fd) {
  uint8_t hdr[ZT_VNET_HDR_LEN];
  struct zt_gro_span spans[ZT_GRO_MAX_PKTS];
  struct iovec iov[ZT_GRO_MAX_PKTS + 1];
  int errors = 0;
  for (size_t k = 0; k < t->gro.nitem; k++) {
    size_t n = zt_gro_item_out(&t->gro, k, hdr, spans, &t->gros);
    iov[0].iov_base = hdr;
    iov[0].iov_len = sizeof(hdr);
    for (size_t i = 0; i < n; i++) {
      iov[i + 1].iov_base = (void *)spans[i].p;
      iov[i + 1].iov_len = spans[i].len;
    }
    if (zt_tun_writev(fd, iov, (int)n + 1) != 0)
      errors++;
  }
  zt_gro_reset(&t->gro);
  t->used = 0;
  return errors;
}

int zt_tunoff_queue(struct zt_tunoff *t, int fd, const uint8_t *pkt,
                    size_t len) {
  int errors = 0;
  if (len > ZT_TUNOFF_ARENA)
    return zt_tunoff_flush(t, fd) + (zt_tunoff_write_now(fd, pkt, len) != 0);
  if (t->gro.npkt >= ZT_GRO_MAX_PKTS || t->used + len > ZT_TUNOFF_ARENA)
    errors = zt_tunoff_flush(t, fd);
  uint8_t *p = t->arena + t->used;
  memcpy(p, pkt, len);
  t->used += len;
  zt_gro_add(&t->gro, p, len); /* room was made above */
  return errors;
}

int zt_tunoff_write_now(int fd, const uint8_t *pkt, size_t len) {
  uint8_t hdr[ZT_VNET_HDR_LEN] = {0}; /* GSO_NONE, no flags */
  struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)pkt, len}};
  return zt_tun_writev(fd, iov, 2);
}

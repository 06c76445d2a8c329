/*
 * The driver's side of TUN offloads (config "tun_offload", tun.h
 * zt_tun_open_offload): every read and write carries a virtio-net header.
 * Reads are cut into packets by core/tso.c before the node sees them;
 * the node's writes during one loop callback are queued and written at
 * its end, consecutive TCP segments of a flow merged by core/gro.c.
 */
#ifndef ZTNA_TUNOFFLOAD_H
#define ZTNA_TUNOFFLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "gro.h"
#include "tso.h"

struct zt_tunoff {
  struct zt_gro gro;
  struct zt_tso_stats tso;
  struct zt_gro_stats gros;
  size_t used;    /* bytes of arena holding queued packets */
  uint8_t *arena; /* ZT_TUNOFF_ARENA bytes */
};

/* NULL when out of memory. */
struct zt_tunoff *zt_tunoff_new(void);
void zt_tunoff_free(struct zt_tunoff *t);
/* Queues a copy of pkt for fd (written out first if the queue is full);
 * the number of failed writes. */
int zt_tunoff_queue(struct zt_tunoff *t, int fd, const uint8_t *pkt,
                    size_t len);
/* Writes the queue out, merged; the number of failed writes. */
int zt_tunoff_flush(struct zt_tunoff *t, int fd);
/* One packet now, behind a plain header: 0 or -1. */
int zt_tunoff_write_now(int fd, const uint8_t *pkt, size_t len);

#endif

/* What nodes share about their driver. See node_io.h. */
#include "node_io.h"

#include "quic.h"
#include "wire.h"

void zt_io_send_all(const struct zt_io *io, struct zq_conn *q, uint64_t now) {
  uint8_t buf[ZT_OUTER_UDP_PAYLOAD];
  struct sockaddr_storage to;
  socklen_t tolen;
  ssize_t n;
  while ((n = zq_write(q, buf, sizeof(buf), &to, &tolen, now)) > 0)
    io->udp_send(io->ud, (struct sockaddr *)&to, tolen, buf, (size_t)n);
}

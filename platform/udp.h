/* The daemons' one UDP socket: non-blocking, batched receive. */
#ifndef ZTNA_UDP_H
#define ZTNA_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* Non-blocking socket bound to `sa`; IPv6 sockets are dual-stack. Sets
 * IP_MTU_DISCOVER to "do" (DF set, so the path limit is ours to respect, not
 * fragmented away) and larger buffers. fd, or -1 with err. */
int zt_udp_open(const struct sockaddr *sa, socklen_t len, char *err,
                size_t errlen);

/* The socket zt_udp_open makes, with all its options, not yet bound (for
 * callers that set more options before binding: reuseport.h). */
int zt_udp_socket(const struct sockaddr *sa, char *err, size_t errlen);

/* The receive queue of fd set to `bytes` (SO_RCVBUFFORCE, else SO_RCVBUF
 * up to net.core.rmem_max); what the kernel granted (it doubles the ask
 * for its bookkeeping), or -1. */
int zt_udp_set_rcvbuf(int fd, int bytes);

/* Up to n datagrams with recvmmsg. Datagrams longer than cap are dropped.
 * Returns the count (0 when nothing is waiting), -1 on error. */
int zt_udp_recv_batch(int fd, uint8_t **bufs, size_t cap, size_t *lens,
                      struct sockaddr_storage *peers, socklen_t *peerlens,
                      int n);

/* UDP GRO (UDP_GRO): the kernel may hand over several datagrams of one
 * sender in one message, each of one size but the last (which may be
 * shorter), as a UDP GSO send produced them. Our senders send that way
 * (struct zt_udp_batch), and a GSO message crosses veths, bridges and NAT
 * as one buffer: received whole, it is one socket wakeup and one copy
 * instead of one per datagram. Only for a socket whose reader splits the
 * messages (zt_udp_recv_gro). Returns whether the kernel took it. */
bool zt_udp_enable_gro(int fd);
#define ZT_UDP_GRO_MAX 65535 /* the largest message GRO makes */
/* zt_udp_recv_batch for a GRO socket: segs[i] is the size of each datagram
 * in message i (lens[i] when it holds one). Give cap >= ZT_UDP_GRO_MAX, or
 * coalesced messages longer than cap are dropped whole. */
int zt_udp_recv_gro(int fd, uint8_t **bufs, size_t cap, size_t *lens,
                    size_t *segs, struct sockaddr_storage *peers,
                    socklen_t *peerlens, int n);
/* The datagrams of one received message: call with *off = 0 and use
 * data + *off for the returned length while it is not 0. */
static inline size_t zt_udp_next_segment(size_t len, size_t seg,
                                         size_t *off) {
  size_t left = len - *off, take = seg && seg < left ? seg : left;
  *off += take;
  return take;
}

/* 0 sent, 1 would block (dropped: QUIC recovers), -1 error. */
int zt_udp_send(int fd, const struct sockaddr *to, socklen_t tolen,
                const uint8_t *data, size_t len);

/* Outgoing datagrams collected during one event-loop callback and sent
 * with one sendmmsg(2): on this kind of machine the per-syscall cost is a
 * large part of a packet's cost. Consecutive datagrams to one destination
 * with the same size go out as one UDP GSO message (UDP_SEGMENT), which
 * crosses the kernel's stack once; per destination the order is kept. */
#define ZT_UDP_BATCH 64
struct zt_udp_batch {
  int fd;
  bool no_gso; /* the kernel refused GSO once: plain datagrams from then on */
  unsigned n;
  uint16_t len[ZT_UDP_BATCH];
  struct sockaddr_storage to[ZT_UDP_BATCH];
  socklen_t tolen[ZT_UDP_BATCH];
  uint8_t data[ZT_UDP_BATCH][1500];
  /* scratch for zt_udp_batch_flush() */
  struct mmsghdr msgs[ZT_UDP_BATCH];
  struct iovec iov[ZT_UDP_BATCH];
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } cmsg[ZT_UDP_BATCH];
  uint64_t gso_messages, gso_segments; /* for status and tests */
};
/* Queues a copy (sending the batch first when it is full). Returns how
 * many datagrams failed to go out, as zt_udp_batch_flush(). */
int zt_udp_batch_add(struct zt_udp_batch *b, const struct sockaddr *to,
                     socklen_t tolen, const uint8_t *data, size_t len);
/* Sends what is queued. Returns the number of datagrams dropped (a full
 * socket buffer or an error), 0 when all went out. */
int zt_udp_batch_flush(struct zt_udp_batch *b);

/* The bound local address. */
int zt_udp_local(int fd, struct sockaddr_storage *out, socklen_t *outlen);

#endif

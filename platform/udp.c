/* The daemons' UDP socket. See udp.h. */
#include "udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "netaddr.h"

#define SOCK_BUF_BYTES (4 * 1024 * 1024)
#define MAX_BATCH 64

/* "a.b.c.d:port" / "[v6]:port" for error messages. Local (not netaddr.c) so
 * that the platform library stands on its own. */
/* Large buffers absorb bursts (a full congestion window arriving while the
 * loop is busy) instead of dropping them. SO_*BUFFORCE goes past
 * net.core.rmem_max/wmem_max but needs CAP_NET_ADMIN; without it the plain
 * option is capped by the sysctl, which is the best an unprivileged process
 * can do, so neither failure is reported. */
static int set_buffer(int fd, int force_opt, int opt, int bytes) {
  if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof(bytes)) == 0)
    return 0;
  return setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof(bytes));
}

int zt_udp_set_rcvbuf(int fd, int bytes) {
  int got = 0;
  socklen_t len = sizeof(got);
  if (set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, bytes) != 0)
    return -1;
  return getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len) == 0 ? got : -1;
}

int zt_udp_socket(const struct sockaddr *sa, char *err, size_t errlen) {
  char where[INET6_ADDRSTRLEN + 16];
  int off = 0, pmtu;
  zt_netaddr_str(sa, where, sizeof(where));

  int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(err, errlen, "socket for %s: %s", where, strerror(errno));
    return -1;
  }
  if (sa->sa_family == AF_INET6) {
    /* Dual-stack: one socket serves IPv4 peers too (as ::ffff:a.b.c.d),
     * whatever net.ipv6.bindv6only says. */
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) != 0) {
      snprintf(err, errlen, "IPV6_V6ONLY=0 on %s: %s", where, strerror(errno));
      goto fail;
    }
    pmtu = IPV6_PMTUDISC_DO;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &pmtu, sizeof(pmtu)) !=
        0) {
      snprintf(err, errlen, "IPV6_MTU_DISCOVER on %s: %s", where,
               strerror(errno));
      goto fail;
    }
  }
  /* DF on every datagram: QUIC sizes its packets for the path itself, and a
   * fragmented datagram is one lost fragment away from being lost whole. On
   * a dual-stack socket this covers the IPv4-mapped traffic. */
  pmtu = IP_PMTUDISC_DO;
  if (setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu)) != 0 &&
      sa->sa_family == AF_INET) {
    snprintf(err, errlen, "IP_MTU_DISCOVER on %s: %s", where, strerror(errno));
    goto fail;
  }
  (void)set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, SOCK_BUF_BYTES);
  (void)set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, SOCK_BUF_BYTES);
  return fd;

fail:
  close(fd);
  return -1;
}

int zt_udp_open(const struct sockaddr *sa, socklen_t len, char *err,
                size_t errlen) {
  int fd = zt_udp_socket(sa, err, errlen);
  if (fd >= 0 && bind(fd, sa, len) != 0) {
    char where[INET6_ADDRSTRLEN + 16];
    snprintf(err, errlen, "bind %s: %s",
             zt_netaddr_str(sa, where, sizeof(where)), strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

bool zt_udp_enable_gro(int fd) {
  int on = 1;
  return setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on)) == 0;
}

/* The segment size of a GRO message, from its UDP_GRO control message;
 * 0 when it has none (a single datagram). */
static size_t gro_segment(struct msghdr *h) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c))
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
        c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int seg;
      memcpy(&seg, CMSG_DATA(c), sizeof(seg));
      return seg > 0 ? (size_t)seg : 0;
    }
  return 0;
}

int zt_udp_recv_batch(int fd, uint8_t **bufs, size_t cap, size_t *lens,
                      struct sockaddr_storage *peers, socklen_t *peerlens,
                      int n) {
  return zt_udp_recv_gro(fd, bufs, cap, lens, NULL, peers, peerlens, n);
}

int zt_udp_recv_gro(int fd, uint8_t **bufs, size_t cap, size_t *lens,
                    size_t *segs, struct sockaddr_storage *peers,
                    socklen_t *peerlens, int n) {
  struct mmsghdr msgs[MAX_BATCH];
  struct iovec iov[MAX_BATCH];
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } ctl[MAX_BATCH];
  int out = 0;

  if (n > MAX_BATCH)
    n = MAX_BATCH;
  /* Repeats only when every datagram of a batch was dropped as oversized:
   * 0 must keep meaning "nothing is waiting". */
  while (out == 0) {
    int want = n;
    memset(msgs, 0, sizeof(msgs[0]) * (size_t)want);
    for (int i = 0; i < want; i++) {
      iov[i].iov_base = bufs[i];
      iov[i].iov_len = cap;
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &peers[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(peers[i]);
      if (segs) {
        msgs[i].msg_hdr.msg_control = ctl[i].buf;
        msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
      }
    }
    int got = recvmmsg(fd, msgs, (unsigned)want, MSG_DONTWAIT, NULL);
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
      if (errno == EINTR)
        continue;
      /* An ICMP error queued on the socket is reported once by the next
       * receive; it concerns some earlier send, not this read. */
      if (errno == ECONNREFUSED || errno == EHOSTUNREACH ||
          errno == ENETUNREACH)
        continue;
      return -1;
    }
    if (got == 0)
      return 0;
    for (int i = 0; i < got; i++) {
      /* Longer than cap: not a datagram we could have sent or accept, and
       * its tail is gone. Skipped; later ones move down over it. */
      if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
        zt_dbg("udp: dropped a datagram longer than %zu bytes", cap);
        continue;
      }
      if (out != i) {
        memmove(bufs[out], bufs[i], msgs[i].msg_len);
        peers[out] = peers[i];
      }
      lens[out] = msgs[i].msg_len;
      if (segs) {
        size_t seg = gro_segment(&msgs[i].msg_hdr);
        segs[out] = seg ? seg : lens[out];
      }
      peerlens[out] = msgs[i].msg_hdr.msg_namelen;
      out++;
    }
    if (got < want)
      break;
  }
  return out;
}

int zt_udp_send(int fd, const struct sockaddr *to, socklen_t tolen,
                const uint8_t *data, size_t len) {
  for (;;) {
    if (sendto(fd, data, len, 0, to, tolen) >= 0)
      return 0;
    if (errno == EINTR)
      continue;
    /* A full socket buffer or qdisc: drop, QUIC's loss recovery resends. */
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
      return 1;
    if (zt_log_get_level() >= ZT_LOG_DEBUG) {
      int e = errno; /* the caller may want it */
      char where[INET6_ADDRSTRLEN + 16];
      zt_dbg("udp: sendto %s (%zu bytes): %s",
             zt_netaddr_str(to, where, sizeof(where)), len, strerror(e));
      errno = e;
    }
    return -1;
  }
}

int zt_udp_local(int fd, struct sockaddr_storage *out, socklen_t *outlen) {
  *outlen = sizeof(*out);
  return getsockname(fd, (struct sockaddr *)out, outlen);
}

/* Groups the queued datagrams into messages: a run of datagrams to one
 * destination, all of one size except a shorter last one, becomes one GSO
 * message. A run never skips over a datagram of its destination, so each
 * destination sees its datagrams in the order they were queued. Returns
 * the number of messages. */
static unsigned build_messages(struct zt_udp_batch *b) {
  bool taken[ZT_UDP_BATCH] = {false};
  unsigned k = 0, v = 0;
  for (unsigned i = 0; i < b->n; i++) {
    if (taken[i])
      continue;
    taken[i] = true;
    unsigned first = v, count = 1, seg = b->len[i];
    b->iov[v++] = (struct iovec){b->data[i], b->len[i]};
    /* The kernel takes at most 64 KiB per message. */
    unsigned max = b->no_gso ? 1 : 65000 / seg;
    for (unsigned j = i + 1; j < b->n && count < max; j++) {
      if (taken[j] || !zt_netaddr_equal((struct sockaddr *)&b->to[i],
                                        (struct sockaddr *)&b->to[j]))
        continue;
      if (b->len[j] > seg)
        break;
      taken[j] = true;
      b->iov[v++] = (struct iovec){b->data[j], b->len[j]};
      count++;
      if (b->len[j] < seg)
        break;
    }
    struct msghdr *h = &b->msgs[k].msg_hdr;
    *h = (struct msghdr){.msg_name = &b->to[i],
                         .msg_namelen = b->tolen[i],
                         .msg_iov = &b->iov[first],
                         .msg_iovlen = count};
    if (count > 1) {
      h->msg_control = b->cmsg[k].buf;
      h->msg_controllen = sizeof(b->cmsg[k].buf);
      struct cmsghdr *c = CMSG_FIRSTHDR(h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t gso = (uint16_t)seg;
      memcpy(CMSG_DATA(c), &gso, sizeof(gso));
      b->gso_messages++;
      b->gso_segments += count;
    }
    k++;
  }
  return k;
}

/* Sends the datagrams of a refused GSO message one by one. Returns how
 * many of them failed; *too_big (when not NULL): whether one failed for
 * its size. */
static int resend_singly(struct zt_udp_batch *b, const struct msghdr *h,
                         bool *too_big) {
  int dropped = 0;
  for (size_t i = 0; i < h->msg_iovlen; i++)
    if (zt_udp_send(b->fd, h->msg_name, h->msg_namelen, h->msg_iov[i].iov_base,
                    h->msg_iov[i].iov_len) != 0) {
      dropped++;
      if (errno == EMSGSIZE && too_big)
        *too_big = true;
    }
  return dropped;
}

/* A GSO message the kernel refused. Segments larger than the path MTU it
 * learned from an ICMP "fragmentation needed" get EMSGSIZE from this
 * kernel (6.18, test_udp), but EINVAL from udp_send_skb's gso_size check
 * in others: when the datagrams sent singly fail with EMSGSIZE, it was the
 * path's doing and GSO stays on. Otherwise GSO itself was refused: off
 * from now on. */
static int resend_plain(struct zt_udp_batch *b, const struct msghdr *h) {
  int err = errno;
  bool too_big = false;
  int dropped = resend_singly(b, h, &too_big);
  if (err == EINVAL && too_big)
    return dropped;
  b->no_gso = true;
  zt_warn("udp: the kernel refused UDP GSO (%s); sending datagrams singly",
          strerror(err));
  return dropped;
}

int zt_udp_batch_flush(struct zt_udp_batch *b) {
  unsigned k = build_messages(b), done = 0;
  int dropped = 0;
  while (done < k) {
    int n = sendmmsg(b->fd, b->msgs + done, k - done, 0);
    if (n > 0) {
      done += (unsigned)n;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    struct msghdr *h = &b->msgs[done].msg_hdr;
    if (h->msg_iovlen > 1 && (errno == EIO || errno == EINVAL ||
                              errno == ENOPROTOOPT || errno == EOPNOTSUPP)) {
      dropped += resend_plain(b, h);
    } else if (h->msg_iovlen > 1 && errno == EMSGSIZE) {
      /* Its first datagram is bigger than the path MTU the kernel knows
       * (a path MTU probe, typically): only that one may be refused, not
       * the smaller ones that share its message. */
      dropped += resend_singly(b, h, NULL);
    } else {
      /* Full buffer, unreachable destination...: drop this message (QUIC's
       * loss recovery resends) and go on with the others, which may be for
       * other peers. */
      if (zt_log_get_level() >= ZT_LOG_DEBUG && n < 0) {
        char where[INET6_ADDRSTRLEN + 16];
        zt_dbg("udp: sendmmsg to %s: %s",
               zt_netaddr_str(h->msg_name, where, sizeof(where)),
               strerror(errno));
      }
      dropped += (int)h->msg_iovlen;
    }
    done++;
  }
  b->n = 0;
  return dropped;
}

int zt_udp_batch_add(struct zt_udp_batch *b, const struct sockaddr *to,
                     socklen_t tolen, const uint8_t *data, size_t len) {
  int dropped = 0;
  if (len == 0 || len > sizeof(b->data[0]) || tolen > sizeof(b->to[0]))
    return 1;
  if (b->n == ZT_UDP_BATCH)
    dropped = zt_udp_batch_flush(b);
  unsigned i = b->n++;
  memcpy(b->data[i], data, len);
  memset(&b->to[i], 0, sizeof(b->to[i]));
  memcpy(&b->to[i], to, tolen);
  b->tolen[i] = tolen;
  b->len[i] = (uint16_t)len;
  return dropped;
}

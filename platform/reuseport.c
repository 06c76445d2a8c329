/* SO_REUSEPORT groups with connection-ID steering. See reuseport.h. */
#include "reuseport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "netaddr.h"
#include "steerprog.h"
#include "udp.h"

static void close_all(int *fds, unsigned n) {
  for (unsigned i = 0; i < n; i++)
    close(fds[i]);
}

int zt_udp_open_group(const struct sockaddr *addr, socklen_t len, unsigned n,
                      int *fds, char *err, size_t errlen) {
  char where[INET6_ADDRSTRLEN + 16];
  struct sockaddr_storage bound;
  socklen_t boundlen = len;
  struct sock_filter prog[ZT_STEER_CBPF_MAX];
  int on = 1;
  unsigned opened = 0;

  if (n == 0 || len > sizeof(bound)) {
    snprintf(err, errlen, "socket group: %u sockets of a %u-byte address", n,
             (unsigned)len);
    return -1;
  }
  if (n == 1) {
    fds[0] = zt_udp_open(addr, len, err, errlen);
    return fds[0] < 0 ? -1 : 0;
  }
  memcpy(&bound, addr, len);
  zt_netaddr_str(addr, where, sizeof(where));
  for (unsigned i = 0; i < n; i++) {
    int fd = zt_udp_socket((struct sockaddr *)&bound, err, errlen);
    if (fd < 0)
      goto fail;
    fds[opened++] = fd;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) {
      snprintf(err, errlen, "SO_REUSEPORT on socket %u for %s: %s", i, where,
               strerror(errno));
      goto fail;
    }
    if (bind(fd, (struct sockaddr *)&bound, boundlen) != 0) {
      snprintf(err, errlen, "bind socket %u of %u to %s: %s", i, n, where,
               strerror(errno));
      goto fail;
    }
    if (i > 0)
      continue;
    /* The first socket: learn the port (when 0 was asked) and attach the
     * program, which then holds for the whole group. */
    boundlen = sizeof(bound);
    if (getsockname(fd, (struct sockaddr *)&bound, &boundlen) != 0) {
      snprintf(err, errlen, "getsockname of %s: %s", where, strerror(errno));
      goto fail;
    }
    zt_netaddr_str((struct sockaddr *)&bound, where, sizeof(where));
    struct sock_fprog fprog = {
        .len = (unsigned short)zt_steer_cbpf(n, prog, ZT_STEER_CBPF_MAX),
        .filter = prog};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog,
                   sizeof(fprog)) != 0) {
      snprintf(err, errlen, "SO_ATTACH_REUSEPORT_CBPF on %s: %s", where,
               strerror(errno));
      goto fail;
    }
  }
  return 0;

fail:
  close_all(fds, opened);
  return -1;
}

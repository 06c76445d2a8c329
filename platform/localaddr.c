/* This host's addresses as candidates. See localaddr.h. */
#include "localaddr.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

size_t zt_local_addrs(const char *exclude, uint16_t port,
                      struct sockaddr_storage *out, size_t max) {
  struct ifaddrs *list, *i;
  size_t n = 0;
  if (getifaddrs(&list) != 0)
    return 0;
  for (i = list; i && n < max; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
        !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK) ||
        (exclude && strcmp(i->ifa_name, exclude) == 0))
      continue;
    const struct sockaddr_in *a = (const struct sockaddr_in *)i->ifa_addr;
    uint32_t ip = ntohl(a->sin_addr.s_addr);
    if ((ip >> 16) == 0xa9fe || (ip >> 24) == 127)
      continue;
    struct sockaddr_in *o = (struct sockaddr_in *)&out[n++];
    memset(&out[n - 1], 0, sizeof(out[0]));
    o->sin_family = AF_INET;
    o->sin_addr = a->sin_addr;
    o->sin_port = port;
  }
  freeifaddrs(list);
  return n;
}

int zt_route_source(const struct sockaddr *to, socklen_t tolen, uint16_t port,
                    struct sockaddr_storage *out, socklen_t *outlen) {
  int fd = socket(to->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  *outlen = sizeof(*out);
  int rv = connect(fd, to, tolen) == 0 &&
                   getsockname(fd, (struct sockaddr *)out, outlen) == 0
               ? 0
               : -1;
  close(fd);
  if (rv == 0 && out->ss_family == AF_INET)
    ((struct sockaddr_in *)out)->sin_port = port;
  else if (rv == 0 && out->ss_family == AF_INET6)
    ((struct sockaddr_in6 *)out)->sin6_port = port;
  return rv;
}

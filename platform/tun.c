/* TUN devices and their set-up through ioctls. See tun.h. */
#include "tun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ippkt.h"
#include "log.h"

static int name_ok(const char *ifname, char *err, size_t errlen) {
  if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ) {
    snprintf(err, errlen, "interface name \"%s\": must be 1 to %d characters",
             ifname ? ifname : "", IFNAMSIZ - 1);
    return -1;
  }
  return 0;
}

static void ifreq_for(struct ifreq *ifr, const char *ifname) {
  memset(ifr, 0, sizeof(*ifr));
  memcpy(ifr->ifr_name, ifname, strlen(ifname)); /* checked < IFNAMSIZ */
}

/* The interface ioctls want some socket of the family they configure; its
 * own address and state do not matter. */
static int ctl_socket(const char *ifname, char *err, size_t errlen) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    snprintf(err, errlen, "%s: socket for interface ioctls: %s", ifname,
             strerror(errno));
  return s;
}

static void sin_set(struct sockaddr *sa, uint32_t addr) {
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(addr);
  memcpy(sa, &sin, sizeof(sin));
}

static uint32_t prefix_mask(uint8_t len) {
  return len == 0 ? 0 : 0xffffffffu << (32 - len);
}

static int tun_open_flags(const char *name, char actual[16], short flags,
                          char *err, size_t errlen) {
  struct ifreq ifr;
  /* An empty name lets the kernel pick tunN. */
  if (name && *name && name_ok(name, err, errlen) != 0)
    return -1;
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "open /dev/net/tun: %s", strerror(errno));
    return -1;
  }
  ifreq_for(&ifr, name ? name : "");
  /* IFF_NO_PI: bare IP packets, no 4-byte protocol header to strip. */
  ifr.ifr_flags = (short)(IFF_TUN | IFF_NO_PI | flags);
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    snprintf(err, errlen, "TUNSETIFF %s: %s", name && *name ? name : "(any)",
             strerror(errno));
    close(fd);
    return -1;
  }
  memcpy(actual, ifr.ifr_name, IFNAMSIZ);
  actual[IFNAMSIZ - 1] = '\0';
  return fd;
}

int zt_tun_open(const char *name, char actual[16], char *err, size_t errlen) {
  return tun_open_flags(name, actual, 0, err, errlen);
}

int zt_tun_open_offload(const char *name, char actual[16], bool *offload,
                        char *err, size_t errlen) {
  char why[256];
  if (!*offload)
    return zt_tun_open(name, actual, err, errlen);
  int fd = tun_open_flags(name, actual, IFF_VNET_HDR, why, sizeof(why));
  /* Checksums and TCPv4 segmentation left to us: the kernel may hand us
   * 64 KB super segments and take them from us (tso.h, gro.h). */
  if (fd >= 0 && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4) == 0)
    return fd;
  if (fd >= 0) {
    snprintf(why, sizeof(why), "TUNSETOFFLOAD: %s", strerror(errno));
    close(fd);
  }
  *offload = false;
  zt_warn("%s: TUN offloads not available (%s); one packet per read and "
          "write", name && *name ? name : "tun", why);
  return zt_tun_open(name, actual, err, errlen);
}

int zt_tun_set_mtu(const char *ifname, int mtu, char *err, size_t errlen) {
  struct ifreq ifr;
  if (name_ok(ifname, err, errlen) != 0)
    return -1;
  int s = ctl_socket(ifname, err, errlen);
  if (s < 0)
    return -1;
  ifreq_for(&ifr, ifname);
  ifr.ifr_mtu = mtu;
  int rv = ioctl(s, SIOCSIFMTU, &ifr);
  if (rv != 0)
    snprintf(err, errlen, "%s: set MTU %d: %s", ifname, mtu, strerror(errno));
  close(s);
  return rv == 0 ? 0 : -1;
}

int zt_tun_set_addr(const char *ifname, uint32_t addr, uint8_t prefix,
                    char *err, size_t errlen) {
  struct ifreq ifr;
  char ip[INET_ADDRSTRLEN];
  if (name_ok(ifname, err, errlen) != 0)
    return -1;
  if (prefix > 32) {
    snprintf(err, errlen, "%s: prefix length %u out of range", ifname, prefix);
    return -1;
  }
  int s = ctl_socket(ifname, err, errlen);
  if (s < 0)
    return -1;
  int rv = -1;
  ifreq_for(&ifr, ifname);
  sin_set(&ifr.ifr_addr, addr);
  if (ioctl(s, SIOCSIFADDR, &ifr) != 0) {
    snprintf(err, errlen, "%s: set address %s: %s", ifname,
             zt_ip4_str(addr, ip), strerror(errno));
    goto out;
  }
  /* SIOCSIFADDR installs the classful default mask; the real one next. */
  ifreq_for(&ifr, ifname);
  sin_set(&ifr.ifr_netmask, prefix_mask(prefix));
  if (ioctl(s, SIOCSIFNETMASK, &ifr) != 0) {
    snprintf(err, errlen, "%s: set netmask /%u: %s", ifname, prefix,
             strerror(errno));
    goto out;
  }
  rv = 0;
out:
  close(s);
  return rv;
}

int zt_tun_up(const char *ifname, char *err, size_t errlen) {
  struct ifreq ifr;
  if (name_ok(ifname, err, errlen) != 0)
    return -1;
  int s = ctl_socket(ifname, err, errlen);
  if (s < 0)
    return -1;
  int rv = -1;
  ifreq_for(&ifr, ifname);
  /* Read-modify-write: keep whatever other flags the device has. */
  if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) {
    snprintf(err, errlen, "%s: get flags: %s", ifname, strerror(errno));
    goto out;
  }
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) {
    snprintf(err, errlen, "%s: set up: %s", ifname, strerror(errno));
    goto out;
  }
  rv = 0;
out:
  close(s);
  return rv;
}

static int route_ioctl(unsigned long req, const char *ifname, uint32_t dst,
                       uint8_t len, char *err, size_t errlen) {
  struct rtentry rt;
  char ip[INET_ADDRSTRLEN];
  const char *what = req == SIOCADDRT ? "add" : "delete";
  if (name_ok(ifname, err, errlen) != 0)
    return -1;
  if (len > 32) {
    snprintf(err, errlen, "%s: route prefix length %u out of range", ifname,
             len);
    return -1;
  }
  int s = ctl_socket(ifname, err, errlen);
  if (s < 0)
    return -1;
  /* The kernel's copy of the name is taken during the call. */
  char dev[IFNAMSIZ];
  snprintf(dev, sizeof(dev), "%s", ifname);

  memset(&rt, 0, sizeof(rt));
  uint32_t mask = prefix_mask(len);
  sin_set(&rt.rt_dst, dst & mask);
  sin_set(&rt.rt_genmask, mask);
  sin_set(&rt.rt_gateway, 0);
  rt.rt_flags = RTF_UP | (len == 32 ? RTF_HOST : 0);
  rt.rt_dev = dev;

  int rv = ioctl(s, req, &rt);
  int e = errno;
  close(s);
  if (rv == 0)
    return 0;
  /* Idempotent on purpose: a restarted daemon re-adds routes it left
   * behind, and clean-up may run after the kernel already dropped them
   * (ESRCH), or the device with them (ENODEV). */
  if (req == SIOCADDRT && e == EEXIST)
    return 0;
  if (req == SIOCDELRT && (e == ESRCH || e == ENODEV))
    return 0;
  snprintf(err, errlen, "%s: %s route %s/%u: %s", ifname, what,
           zt_ip4_str(dst & mask, ip), len, strerror(e));
  return -1;
}

int zt_tun_route_add(const char *ifname, uint32_t dst, uint8_t len, char *err,
                     size_t errlen) {
  return route_ioctl(SIOCADDRT, ifname, dst, len, err, errlen);
}

int zt_tun_route_del(const char *ifname, uint32_t dst, uint8_t len, char *err,
                     size_t errlen) {
  return route_ioctl(SIOCDELRT, ifname, dst, len, err, errlen);
}

ssize_t zt_tun_read(int fd, uint8_t *buf, size_t cap) {
  ssize_t n;
  do
    n = read(fd, buf, cap);
  while (n < 0 && errno == EINTR);
  return n;
}

int zt_tun_write(int fd, const uint8_t *pkt, size_t len) {
  struct iovec v = {(void *)pkt, len};
  return zt_tun_writev(fd, &v, 1);
}

/* A TUN write takes the packet whole or not at all; anything else is
 * reported as an I/O error rather than half a packet. */
int zt_tun_writev(int fd, const struct iovec *iov, int n) {
  size_t len = 0;
  ssize_t w;
  for (int i = 0; i < n; i++)
    len += iov[i].iov_len;
  do
    w = writev(fd, iov, n);
  while (w < 0 && errno == EINTR);
  if (w < 0)
    return -1;
  if ((size_t)w != len) {
    errno = EIO;
    return -1;
  }
  return 0;
}

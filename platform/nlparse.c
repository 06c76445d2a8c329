/* rtnetlink notices into a network-change notice. See nlparse.h. */
#include "nlparse.h"

#include <libmnl/libmnl.h>
#include <limits.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>

/* Attributes of one message, by type; NULL where absent or malformed. */
struct attrs {
  const struct nlattr *tb[IFA_MAX > RTA_MAX ? IFA_MAX + 1 : RTA_MAX + 1];
  int max;
};

static int attr_cb(const struct nlattr *a, void *data) {
  struct attrs *at = data;
  int type = mnl_attr_get_type(a);
  if (type <= at->max)
    at->tb[type] = a;
  return MNL_CB_OK;
}

static void parse_attrs(const struct nlmsghdr *nlh, size_t hdrlen, int max,
                        struct attrs *at) {
  memset(at, 0, sizeof(*at));
  at->max = max;
  mnl_attr_parse(nlh, (unsigned)hdrlen, attr_cb, at);
}

static bool same_addr(const struct sockaddr_storage *ss, int family,
                      const void *raw) {
  if (ss->ss_family != family)
    return false;
  return family == AF_INET
             ? !memcmp(&((const struct sockaddr_in *)ss)->sin_addr, raw, 4)
             : !memcmp(&((const struct sockaddr_in6 *)ss)->sin6_addr, raw, 16);
}

/* Once per address: the kernel announces a promoted secondary address
 * again, and a flapping one may come and go several times in a burst. */
static void add_addr(struct sockaddr_storage *list, unsigned *count,
                     int family, const void *raw) {
  for (unsigned i = 0; i < *count && i < ZT_NETCHANGE_ADDRS; i++)
    if (same_addr(&list[i], family, raw))
      return;
  if (*count < ZT_NETCHANGE_ADDRS) {
    struct sockaddr_storage *ss = &list[*count];
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET) {
      struct sockaddr_in *sin = (struct sockaddr_in *)ss;
      sin->sin_family = AF_INET;
      memcpy(&sin->sin_addr, raw, 4);
    } else {
      struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
      sin6->sin6_family = AF_INET6;
      memcpy(&sin6->sin6_addr, raw, 16);
    }
  }
  (*count)++;
}

static bool is_loopback(int family, const uint8_t *raw) {
  static const uint8_t lo6[16] = {[15] = 1};
  return family == AF_INET ? raw[0] == 127 : memcmp(raw, lo6, 16) == 0;
}

static bool on_addr(struct zt_nl_state *st, const struct nlmsghdr *nlh,
                    struct zt_netchange *n) {
  const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
  struct attrs at;
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa)) {
    st->malformed++;
    return false;
  }
  if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
    return false;
  if ((int)ifa->ifa_index == st->ignore_ifindex)
    return false;
  parse_attrs(nlh, sizeof(*ifa), IFA_MAX, &at);
  /* IFA_LOCAL is an IPv4 address's own (IFA_ADDRESS is the peer's on a
   * point-to-point link); IPv6 has only IFA_ADDRESS. */
  const struct nlattr *a = at.tb[IFA_LOCAL] ? at.tb[IFA_LOCAL]
                                            : at.tb[IFA_ADDRESS];
  size_t want = ifa->ifa_family == AF_INET ? 4 : 16;
  if (!a || mnl_attr_get_payload_len(a) != want) {
    st->malformed++;
    return false;
  }
  const uint8_t *raw = mnl_attr_get_payload(a);
  if (is_loopback(ifa->ifa_family, raw))
    return false;
  if (nlh->nlmsg_type == RTM_NEWADDR) {
    n->what |= ZT_NET_ADDR_ADDED;
    add_addr(n->added, &n->n_added, ifa->ifa_family, raw);
  } else {
    n->what |= ZT_NET_ADDR_REMOVED;
    add_addr(n->removed, &n->n_removed, ifa->ifa_family, raw);
  }
  return true;
}

static bool on_route(struct zt_nl_state *st, const struct nlmsghdr *nlh,
                     struct zt_netchange *n) {
  const struct rtmsg *rt = mnl_nlmsg_get_payload(nlh);
  struct attrs at;
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*rt)) {
    st->malformed++;
    return false;
  }
  /* Only default routes of the main table decide where our packets to
   * the Intermediate leave from; the /32s we add into the TUN device and
   * the kernel's prefix and local routes do not. */
  if ((rt->rtm_family != AF_INET && rt->rtm_family != AF_INET6) ||
      rt->rtm_dst_len != 0 || rt->rtm_type != RTN_UNICAST)
    return false;
  parse_attrs(nlh, sizeof(*rt), RTA_MAX, &at);
  uint32_t table = rt->rtm_table;
  if (at.tb[RTA_TABLE] && mnl_attr_get_payload_len(at.tb[RTA_TABLE]) == 4)
    table = mnl_attr_get_u32(at.tb[RTA_TABLE]);
  if (table != RT_TABLE_MAIN)
    return false;
  if (at.tb[RTA_OIF] && mnl_attr_get_payload_len(at.tb[RTA_OIF]) == 4 &&
      (int)mnl_attr_get_u32(at.tb[RTA_OIF]) == st->ignore_ifindex)
    return false;
  n->what |= ZT_NET_ROUTE_DEFAULT;
  return true;
}

/* A link event only when its up-and-running state changes (or for an
 * interface not seen before); the table forgets the oldest when full. */
static bool on_link(struct zt_nl_state *st, const struct nlmsghdr *nlh,
                    struct zt_netchange *n) {
  const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi)) {
    st->malformed++;
    return false;
  }
  if ((ifi->ifi_flags & IFF_LOOPBACK) || ifi->ifi_index == st->ignore_ifindex)
    return false;
  bool up = nlh->nlmsg_type == RTM_NEWLINK && (ifi->ifi_flags & IFF_UP) &&
            (ifi->ifi_flags & IFF_RUNNING);
  unsigned i;
  for (i = 0; i < st->n_links; i++)
    if (st->links[i].ifindex == ifi->ifi_index)
      break;
  if (i < st->n_links && st->links[i].up == up &&
      nlh->nlmsg_type == RTM_NEWLINK)
    return false;
  if (i == st->n_links) {
    if (st->n_links == ZT_NL_LINKS) {
      memmove(&st->links[0], &st->links[1],
              (ZT_NL_LINKS - 1) * sizeof(st->links[0]));
      st->n_links--;
    }
    i = st->n_links++;
    st->links[i].ifindex = ifi->ifi_index;
  }
  st->links[i].up = up;
  if (nlh->nlmsg_type == RTM_DELLINK) { /* gone: forget it */
    st->links[i] = st->links[--st->n_links];
  }
  n->what |= up ? ZT_NET_LINK_UP : ZT_NET_LINK_DOWN;
  return true;
}

/* mnl_nlmsg_ok() compares the length as an int: a length of 2^31 or more
 * turns negative and passes, and the next message is then read from far
 * outside the buffer (found by fuzz_netlink). Compared unsigned here. */
/* And libmnl walks a message's attributes up to its length rounded up to
 * 4 (mnl_nlmsg_get_payload_tail): a message whose rounded length runs past
 * the buffer would let its last attribute be read past the end (also found
 * by fuzz_netlink). The kernel's messages are whole and aligned. */
static bool msg_ok(const struct nlmsghdr *nlh, int left) {
  return left >= (int)sizeof(*nlh) && nlh->nlmsg_len >= sizeof(*nlh) &&
         nlh->nlmsg_len <= (unsigned)left &&
         MNL_ALIGN(nlh->nlmsg_len) <= (unsigned)left;
}

unsigned zt_nl_parse(struct zt_nl_state *st, const void *buf, size_t len,
                     struct zt_netchange *n) {
  const struct nlmsghdr *nlh = buf;
  int left = len > INT_MAX ? INT_MAX : (int)len;
  unsigned changed = 0;
  for (; msg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
    bool hit = false;
    switch (nlh->nlmsg_type) {
    case RTM_NEWADDR:
    case RTM_DELADDR:
      hit = on_addr(st, nlh, n);
      break;
    case RTM_NEWROUTE:
    case RTM_DELROUTE:
      hit = on_route(st, nlh, n);
      break;
    case RTM_NEWLINK:
    case RTM_DELLINK:
      hit = on_link(st, nlh, n);
      break;
    default:
      break;
    }
    if (hit) {
      n->events++;
      changed++;
    }
  }
  /* Bytes left that do not make a whole message: a truncated read. */
  if (left > 0)
    st->malformed++;
  return changed;
}

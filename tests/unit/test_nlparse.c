/* rtnetlink messages into network-change notices (platform/nlparse.c),
 * with messages built here as the kernel builds them, and broken ones. */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include "nlparse.h"
#include "test.h"

static uint32_t buf[4096]; /* netlink messages are 4-byte aligned */
static size_t used;

static void reset(void) {
  memset(buf, 0, sizeof(buf));
  used = 0;
}

static struct nlmsghdr *put(uint16_t type) {
  struct nlmsghdr *nlh = mnl_nlmsg_put_header((char *)buf + used);
  nlh->nlmsg_type = type;
  return nlh;
}
static void done(struct nlmsghdr *nlh) { used += MNL_ALIGN(nlh->nlmsg_len); }

static void put_addr(uint16_t type, int family, int ifindex, const char *ip) {
  struct nlmsghdr *nlh = put(type);
  struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
  uint8_t raw[16];
  ifa->ifa_family = (uint8_t)family;
  ifa->ifa_index = (uint32_t)ifindex;
  inet_pton(family, ip, raw);
  mnl_attr_put(nlh, family == AF_INET ? IFA_LOCAL : IFA_ADDRESS,
               family == AF_INET ? 4 : 16, raw);
  done(nlh);
}

static void put_route(uint16_t type, uint8_t dst_len, uint8_t table,
                      int oif) {
  struct nlmsghdr *nlh = put(type);
  struct rtmsg *rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
  rt->rtm_family = AF_INET;
  rt->rtm_dst_len = dst_len;
  rt->rtm_table = table;
  rt->rtm_type = RTN_UNICAST;
  if (oif)
    mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)oif);
  done(nlh);
}

static void put_link(uint16_t type, int ifindex, unsigned flags) {
  struct nlmsghdr *nlh = put(type);
  struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
  ifi->ifi_index = ifindex;
  ifi->ifi_flags = flags;
  done(nlh);
}

static void test_addresses(void) {
  struct zt_nl_state st = {.ignore_ifindex = 9};
  struct zt_netchange n = {0};
  char ip[64];
  reset();
  put_addr(RTM_NEWADDR, AF_INET, 2, "10.10.1.3");
  put_addr(RTM_DELADDR, AF_INET, 2, "10.10.1.2");
  put_addr(RTM_NEWADDR, AF_INET6, 2, "2001:db8::5");
  put_addr(RTM_NEWADDR, AF_INET, 9, "100.64.0.2"); /* our TUN: ignored */
  put_addr(RTM_NEWADDR, AF_INET, 1, "127.0.0.1");  /* loopback: ignored */
  CHECK_EQ_INT(zt_nl_parse(&st, buf, used, &n), 3);
  CHECK_EQ_INT(n.what, ZT_NET_ADDR_ADDED | ZT_NET_ADDR_REMOVED);
  CHECK_EQ_INT(n.n_added, 2);
  CHECK_EQ_INT(n.n_removed, 1);
  CHECK_EQ_INT(n.events, 3);
  inet_ntop(AF_INET, &((struct sockaddr_in *)&n.removed[0])->sin_addr, ip,
            sizeof(ip));
  CHECK_STR(ip, "10.10.1.2");
  inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&n.added[1])->sin6_addr, ip,
            sizeof(ip));
  CHECK_STR(ip, "2001:db8::5");
  CHECK_EQ_INT(st.malformed, 0);
  /* More addresses than are kept: all counted. */
  reset();
  put_addr(RTM_NEWADDR, AF_INET, 2, "10.10.1.3"); /* again: once */
  for (int i = 0; i < ZT_NETCHANGE_ADDRS + 3; i++) {
    char ip[16];
    snprintf(ip, sizeof(ip), "10.0.0.%d", i + 1);
    put_addr(RTM_NEWADDR, AF_INET, 2, ip);
  }
  zt_nl_parse(&st, buf, used, &n);
  CHECK_EQ_INT(n.n_added, 2 + ZT_NETCHANGE_ADDRS + 3);
}

static void test_routes(void) {
  struct zt_nl_state st = {.ignore_ifindex = 9};
  struct zt_netchange n = {0};
  reset();
  put_route(RTM_NEWROUTE, 32, RT_TABLE_MAIN, 9);  /* a service /32 in the TUN */
  put_route(RTM_NEWROUTE, 24, RT_TABLE_MAIN, 2);  /* a prefix route */
  put_route(RTM_NEWROUTE, 0, RT_TABLE_LOCAL, 2);  /* not the main table */
  put_route(RTM_NEWROUTE, 0, RT_TABLE_MAIN, 9);   /* default into our TUN */
  CHECK_EQ_INT(zt_nl_parse(&st, buf, used, &n), 0);
  CHECK_EQ_INT(n.what, 0);
  reset();
  put_route(RTM_DELROUTE, 0, RT_TABLE_MAIN, 2);
  CHECK_EQ_INT(zt_nl_parse(&st, buf, used, &n), 1);
  CHECK_EQ_INT(n.what, ZT_NET_ROUTE_DEFAULT);
}

static void test_links(void) {
  struct zt_nl_state st = {.ignore_ifindex = 9};
  struct zt_netchange n = {0};
  const unsigned up = IFF_UP | IFF_RUNNING;
  reset();
  put_link(RTM_NEWLINK, 2, up);           /* first sight: up */
  put_link(RTM_NEWLINK, 2, up);           /* no change: nothing */
  put_link(RTM_NEWLINK, 9, 0);            /* our TUN */
  put_link(RTM_NEWLINK, 1, IFF_LOOPBACK); /* loopback */
  CHECK_EQ_INT(zt_nl_parse(&st, buf, used, &n), 1);
  CHECK_EQ_INT(n.what, ZT_NET_LINK_UP);
  memset(&n, 0, sizeof(n));
  reset();
  put_link(RTM_NEWLINK, 2, IFF_UP); /* carrier lost: down */
  CHECK_EQ_INT(zt_nl_parse(&st, buf, used, &n), 1);
  CHECK_EQ_INT(n.what, ZT_NET_LINK_DOWN);
  memset(&n, 0, sizeof(n));
  reset();
  put_link(RTM_NEWLINK, 2, up);
  put_link(RTM_DELLINK, 3, up); /* a link removed */
  CHECK_EQ_INT(zt_nl_parse(&st, buf, used, &n), 2);
  CHECK_EQ_INT(n.what, ZT_NET_LINK_UP | ZT_NET_LINK_DOWN);
  CHECK_EQ_INT(st.n_links, 1);
  /* The table stays bounded with many interfaces. */
  reset();
  for (int i = 100; i < 100 + 2 * ZT_NL_LINKS; i++)
    put_link(RTM_NEWLINK, i, up);
  zt_nl_parse(&st, buf, used, &n);
  CHECK_EQ_INT(st.n_links, ZT_NL_LINKS);
}

static void test_malformed(void) {
  struct zt_nl_state st = {0};
  struct zt_netchange n = {0};
  reset();
  /* An address message too short for its header. */
  struct nlmsghdr *nlh = put(RTM_NEWADDR);
  nlh->nlmsg_len += 2;
  done(nlh);
  /* An IPv4 address of 16 bytes. */
  nlh = put(RTM_NEWADDR);
  struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
  ifa->ifa_family = AF_INET;
  ifa->ifa_index = 2;
  uint8_t raw[16] = {10, 1, 2, 3};
  mnl_attr_put(nlh, IFA_LOCAL, 16, raw);
  done(nlh);
  /* A default route, then a message whose length runs past the buffer:
   * the route counts, the rest is skipped. */
  put_route(RTM_NEWROUTE, 0, RT_TABLE_MAIN, 2);
  nlh = put(RTM_NEWROUTE);
  nlh->nlmsg_len = 4000;
  used += sizeof(*nlh);
  CHECK_EQ_INT(zt_nl_parse(&st, buf, used, &n), 1);
  CHECK_EQ_INT(n.what, ZT_NET_ROUTE_DEFAULT);
  CHECK_EQ_INT(st.malformed, 3);
  /* A length of 2^31 or more (negative as an int, which libmnl's own
   * check lets through) ends the buffer instead of jumping out of it. */
  reset();
  put_route(RTM_NEWROUTE, 0, RT_TABLE_MAIN, 2);
  nlh = put(RTM_NEWROUTE);
  nlh->nlmsg_len = 0x80000010u;
  used += sizeof(*nlh);
  st.malformed = 0;
  memset(&n, 0, sizeof(n));
  CHECK_EQ_INT(zt_nl_parse(&st, buf, used, &n), 1);
  CHECK_EQ_INT(st.malformed, 1);
  /* Empty and tiny buffers. */
  CHECK_EQ_INT(zt_nl_parse(&st, buf, 0, &n), 0);
  CHECK_EQ_INT(zt_nl_parse(&st, buf, 3, &n), 0);
}

/* Found by fuzz_netlink: a 30-byte RTM_NEWADDR whose IFA_LOCAL claims 8
 * bytes with 6 left. libmnl walks attributes up to the length rounded up
 * to 4, past the end of the buffer; the message must be refused whole.
 * The buffer is exactly 30 bytes on the heap, so ASan (make SAN=1 unit)
 * sees any read past it. */
static void test_unaligned_tail(void) {
  static const uint8_t msg[30] = {
      0x1e, 0, 0, 0, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* nlmsghdr */
      2, 0x18, 0, 0, 2, 0, 0, 5,                              /* ifaddrmsg */
      8, 0, 2, 0, 0x3f, 0x18};                                /* IFA_LOCAL, cut */
  struct zt_nl_state st = {.ignore_ifindex = -1};
  struct zt_netchange n = {0};
  uint8_t *heap = malloc(sizeof(msg));
  CHECK(heap != NULL);
  if (!heap)
    return;
  memcpy(heap, msg, sizeof(msg));
  CHECK_EQ_INT(zt_nl_parse(&st, heap, sizeof(msg), &n), 0);
  CHECK_EQ_INT(n.what, 0);
  free(heap);
}

int main(void) {
  RUN(test_unaligned_tail);
  RUN(test_addresses);
  RUN(test_routes);
  RUN(test_links);
  RUN(test_malformed);
  return TEST_EXIT();
}

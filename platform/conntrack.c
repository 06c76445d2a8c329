/*
 * Conntrack entries by original source. See conntrack.h.
 *
 * One handle dumps the IPv4 table; entries that match are deleted through
 * a second handle from inside the dump callback (a netlink socket cannot
 * take a request while it is answering a dump), as conntrack(8) does. An
 * entry already gone by then (ENOENT) is not an error: it is what we
 * wanted.
 */
#include "conntrack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

struct forget {
  struct nfct_handle *del;
  uint32_t src; /* network order */
  int deleted;
  int failed, first_errno;
};

static int on_entry(enum nf_conntrack_msg_type type, struct nf_conntrack *ct,
                    void *data) {
  struct forget *f = data;
  (void)type;
  if (nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO) != AF_INET ||
      nfct_get_attr_u32(ct, ATTR_ORIG_IPV4_SRC) != f->src)
    return NFCT_CB_CONTINUE;
  if (nfct_query(f->del, NFCT_Q_DESTROY, ct) == 0)
    f->deleted++;
  else if (errno != ENOENT && !f->failed++)
    f->first_errno = errno;
  return NFCT_CB_CONTINUE;
}

int zt_conntrack_forget_src(uint32_t addr, char *err, size_t errlen) {
  struct forget f = {.src = htonl(addr)};
  char ip[INET_ADDRSTRLEN];
  uint32_t family = AF_INET;
  inet_ntop(AF_INET, &f.src, ip, sizeof(ip));

  struct nfct_handle *dump = nfct_open(CONNTRACK, 0);
  if (!dump) {
    snprintf(err, errlen, "conntrack: netlink socket: %s", strerror(errno));
    return -1;
  }
  if (!(f.del = nfct_open(CONNTRACK, 0))) {
    snprintf(err, errlen, "conntrack: netlink socket: %s", strerror(errno));
    nfct_close(dump);
    return -1;
  }
  nfct_callback_register(dump, NFCT_T_ALL, on_entry, &f);
  int rv = nfct_query(dump, NFCT_Q_DUMP, &family);
  int e = errno;
  nfct_close(f.del);
  nfct_close(dump);
  if (rv != 0) {
    snprintf(err, errlen, "conntrack: listing entries from %s: %s", ip,
             strerror(e));
    return -1;
  }
  if (f.failed) {
    snprintf(err, errlen,
             "conntrack: %d entr%s from %s not deleted (%s); %d deleted",
             f.failed, f.failed == 1 ? "y" : "ies", ip,
             strerror(f.first_errno), f.deleted);
    return -1;
  }
  return f.deleted;
}

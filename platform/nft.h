/*
 * The connector's kernel NAT and forwarding filter: for each service,
 * packets arriving on the TUN device for its virtual address get their
 * destination rewritten to the backend (DNAT), and are masqueraded on the
 * way out so the backend's replies come back through the connector and
 * into the tunnel; the forward chain lets into the TUN only the replies of
 * those flows (see nft.c). One table, `inet ztna_<tun>`, owned by the
 * connector: replaced atomically on each change, deleted at exit. Rules go
 * through libnftables (Debian's libnftables1).
 */
#ifndef ZTNA_NFT_H
#define ZTNA_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct zt_nft_service {
  uint32_t vip, backend; /* host byte order */
};

/* ztna turned ip_forward on: drop all other forwarded IPv4 traffic too. */
#define ZT_NFT_ONLY_OURS 1u

/* The ruleset text for nft; length written or -1 if it did not fit. */
int zt_nft_render(const char *tun, const struct zt_nft_service *s, size_t n,
                  unsigned flags, char *buf, size_t len);
/* Applies it; -1 with nft's error text (one line) in err. */
int zt_nft_apply(const char *tun, const struct zt_nft_service *s, size_t n,
                 unsigned flags, char *err, size_t errlen);
/* Deleting a table that is not there is not an error. */
int zt_nft_remove(const char *tun, char *err, size_t errlen);
/* A clean stop: the table becomes its two NAT chains, with only the
 * masquerade of flows we marked. Why keep anything: the kernel translates
 * the packets of a NATed flow only while it tracks connections in this
 * namespace and some nat chain is hooked in. With the table gone, the
 * replies of every flow through the connector reach this host's own stack
 * untranslated and its TCP resets them, so a restart (an upgrade, a config
 * change) would cut every TCP connection through the connector. Empty NAT
 * chains were not enough: measured, a download across a clean restart
 * stalled in 7 runs of 9 with them, and survived 15 of 15 once a rule
 * using conntrack (this masquerade) stayed, which keeps the namespace's
 * connection tracking hooked in. The rule changes no packet of its own: it
 * only applies to flows our prerouting rules marked, and a parked table
 * has none. The next start replaces the table, and `nft delete table inet
 * ztna_<tun>` removes it for good. */
int zt_nft_park(const char *tun, char *err, size_t errlen);
/* A connector killed (kill -9) leaves its table, and ip_forward on if it
 * had turned it on. *found: our table is there with the drop of other
 * forwarding (ZT_NFT_ONLY_OURS), i.e. the dead instance had turned
 * ip_forward on, and the next start must restore it at exit rather than
 * take the host for a router. 0, or -1 with err. */
int zt_nft_leftover_only_ours(const char *tun, bool *found, char *err,
                              size_t errlen);

/* net.ipv4.ip_forward of the current network namespace. The connector
 * routes between TUN and LAN: enable() turns it on and says whether it was
 * on already (then the host is a router on purpose); set(false) at exit
 * restores it when ztna was the one to turn it on. */
int zt_ip_forward_get(bool *on, char *err, size_t errlen);
int zt_ip_forward_set(bool on, char *err, size_t errlen);
int zt_ip_forward_enable(bool *was_on, char *err, size_t errlen);

#endif

/*
 * The connector's kernel NAT: for each service, packets arriving on the TUN
 * device for its virtual address get their destination rewritten to the
 * backend (DNAT), and are masqueraded on the way out so the backend's
 * replies come back through the connector and into the tunnel. One table,
 * `inet ztna_<tun>`, owned by the connector: replaced atomically on each
 * change, deleted at exit. Rules go through `nft -f -` (the nft tool from
 * Debian's nftables package).
 */
#ifndef ZTNA_NFT_H
#define ZTNA_NFT_H

#include <stddef.h>
#include <stdint.h>

struct zt_nft_service {
  uint32_t vip, backend; /* host byte order */
};

/* The ruleset text for `nft -f`; length written or -1 if it did not fit. */
int zt_nft_render(const char *tun, const struct zt_nft_service *s, size_t n,
                  char *buf, size_t len);
int zt_nft_apply(const char *tun, const struct zt_nft_service *s, size_t n,
                 char *err, size_t errlen);
/* Deleting a table that is not there is not an error. */
int zt_nft_remove(const char *tun, char *err, size_t errlen);
/* net.ipv4.ip_forward=1 (the connector routes between TUN and LAN). */
int zt_ip_forward_enable(char *err, size_t errlen);

#endif

/*
 * Socket addresses as people write them: "198.51.100.1:4433", "[::1]:4433",
 * "10.30.0.2", "100.64.0.0/16". Parsing never resolves names: a config file
 * must not make the daemon block on DNS at start-up.
 */
#ifndef ZTNA_NETADDR_H
#define ZTNA_NETADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* "ip:port", "[ipv6]:port", or a bare IP (then default_port). A port of 0
 * is allowed only when default_port is 0 (binding "any port"). 0 on success,
 * -1 on a malformed address. */
int zt_netaddr_parse(const char *s, uint16_t default_port,
                     struct sockaddr_storage *out, socklen_t *outlen);

/* "ip:port" or "[ipv6]:port"; returns buf. */
const char *zt_netaddr_str(const struct sockaddr *sa, char *buf, size_t len);

/* Same family, address and port. */
bool zt_netaddr_equal(const struct sockaddr *a, const struct sockaddr *b);

/* Dotted-quad IPv4 into host byte order. 0 on success, -1 otherwise. */
int zt_ip4_parse(const char *s, uint32_t *out);

/* "a.b.c.d/len" (len 0..32) into host-order network address and length.
 * Host bits must be zero ("10.0.0.1/8" is refused). */
int zt_prefix4_parse(const char *s, uint32_t *net, uint8_t *len);

#endif

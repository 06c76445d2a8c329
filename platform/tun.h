/*
 * Linux TUN devices (IFF_TUN | IFF_NO_PI: raw IP packets) and the ioctls to
 * set them up: MTU, IPv4 address, up, and /len routes through them. No
 * shelling out to ip(8).
 */
#ifndef ZTNA_TUN_H
#define ZTNA_TUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Opens (creating if needed) `name`, non-blocking; the kernel's name goes
 * into actual. fd or -1 with err. */
int zt_tun_open(const char *name, char actual[16], char *err, size_t errlen);
/* The same with offloads when *offload (IFF_VNET_HDR, TUNSETOFFLOAD
 * TUN_F_CSUM|TUN_F_TSO4: every read and write starts with a virtio-net
 * header, tunoffload.h); a kernel that refuses them gets one warning and
 * today's device, and *offload becomes false. */
int zt_tun_open_offload(const char *name, char actual[16], bool *offload,
                        char *err, size_t errlen);
int zt_tun_set_mtu(const char *ifname, int mtu, char *err, size_t errlen);
/* addr in host byte order. */
int zt_tun_set_addr(const char *ifname, uint32_t addr, uint8_t prefix,
                    char *err, size_t errlen);
int zt_tun_up(const char *ifname, char *err, size_t errlen);
/* Route dst/len via the device. Adding an existing route is not an error;
 * neither is deleting a missing one. */
int zt_tun_route_add(const char *ifname, uint32_t dst, uint8_t len, char *err,
                     size_t errlen);
int zt_tun_route_del(const char *ifname, uint32_t dst, uint8_t len, char *err,
                     size_t errlen);
/* One packet; -1 with errno EAGAIN when none. */
ssize_t zt_tun_read(int fd, uint8_t *buf, size_t cap);
/* 0 or -1. */
int zt_tun_write(int fd, const uint8_t *pkt, size_t len);
/* One packet from n pieces (a virtio-net header first): 0 or -1. */
struct iovec;
int zt_tun_writev(int fd, const struct iovec *iov, int n);

#endif

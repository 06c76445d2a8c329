/*
 * A simulated network for in-process tests of the real nodes: packets are
 * delivered in simulated time with per-link delay, jitter (which reorders)
 * and loss, from a seeded PRNG so every run is the same. Hosts may sit
 * behind a NAT: their source address is rewritten to a public one, which
 * the test can change mid-flow (NAT rebinding).
 */
#ifndef ZTNA_SIMNET_H
#define ZTNA_SIMNET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_MAX_HOSTS 8

struct sim_host;
typedef void (*sim_deliver)(void *node, const struct sockaddr *from,
                            socklen_t fromlen, const uint8_t *pkt, size_t len,
                            uint64_t now);

struct sim_host {
  struct sockaddr_in priv; /* the address the node's socket has */
  struct sockaddr_in pub;  /* what others see (== priv without NAT) */
  void *node;              /* may be NULL while "down" */
  sim_deliver deliver;
  double loss;             /* probability each packet from/to it is lost */
  uint64_t delay_ns, jitter_ns;
  /* Largest UDP payload its link carries both ways (0: any): a path MTU
   * with no ICMP, bigger packets are lost silently (and counted). */
  size_t mtu;
  /* Packets from this host to that one are lost (NULL: none): a firewall
   * between two hosts that lets each reach the others. */
  const struct sim_host *unreachable;
  uint64_t sent, received, dropped, too_big;
};

struct sim_pkt {
  uint64_t at;
  uint64_t seq; /* send order: packets due at the same time keep it */
  struct sockaddr_in from, to;
  size_t len;
  uint8_t *data;
};

struct simnet {
  uint64_t now;
  uint64_t rng;
  struct sim_host hosts[SIM_MAX_HOSTS];
  size_t n_hosts;
  struct sim_pkt *q;
  size_t q_len, q_cap;
  uint64_t sent_seq;
};

void sim_init(struct simnet *s, uint64_t seed);
void sim_free(struct simnet *s);
struct sim_host *sim_add_host(struct simnet *s, const char *priv,
                              uint16_t port, const char *pub,
                              uint16_t pub_port);
/* The zt_io udp_send implementation for host h (ud = host). */
void sim_udp_send(void *ud, const struct sockaddr *to, socklen_t tolen,
                  const uint8_t *data, size_t len);
/* Delivers every packet due at or before t; returns how many. */
size_t sim_deliver_until(struct simnet *s, uint64_t t);
/* Earliest pending delivery, or UINT64_MAX. */
uint64_t sim_next(const struct simnet *s);
double sim_rand(struct simnet *s);
struct sockaddr_in sim_addr(const char *ip, uint16_t port);

extern struct simnet *sim_current; /* for sim_udp_send */

#endif

/* The simulated network. See simnet.h. */
#include "simnet.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

struct simnet *sim_current;

struct sockaddr_in sim_addr(const char *ip, uint16_t port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

void sim_init(struct simnet *s, uint64_t seed) {
  memset(s, 0, sizeof(*s));
  s->rng = seed ? seed : 1;
  s->now = 1000000000ULL; /* t = 1 s: zero is not a valid ngtcp2 time */
  sim_current = s;
}

void sim_free(struct simnet *s) {
  for (size_t i = 0; i < s->q_len; i++)
    free(s->q[i].data);
  free(s->q);
  memset(s, 0, sizeof(*s));
}

double sim_rand(struct simnet *s) {
  /* xorshift64* */
  s->rng ^= s->rng >> 12;
  s->rng ^= s->rng << 25;
  s->rng ^= s->rng >> 27;
  return (double)((s->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

struct sim_host *sim_add_host(struct simnet *s, const char *priv,
                              uint16_t port, const char *pub,
                              uint16_t pub_port) {
  struct sim_host *h = &s->hosts[s->n_hosts++];
  memset(h, 0, sizeof(*h));
  h->priv = sim_addr(priv, port);
  h->pub = pub ? sim_addr(pub, pub_port) : h->priv;
  h->delay_ns = 5 * 1000000ULL;
  return h;
}

static bool same(const struct sockaddr_in *a, const struct sockaddr_in *b) {
  return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

static struct sim_host *host_by_pub(struct simnet *s,
                                    const struct sockaddr_in *a) {
  for (size_t i = 0; i < s->n_hosts; i++)
    if (same(&s->hosts[i].pub, a))
      return &s->hosts[i];
  return NULL;
}

void sim_udp_send(void *ud, const struct sockaddr *to, socklen_t tolen,
                  const uint8_t *data, size_t len) {
  struct simnet *s = sim_current;
  struct sim_host *h = ud;
  (void)tolen;
  h->sent++;
  struct sim_host *dst = host_by_pub(s, (const struct sockaddr_in *)to);
  double loss = h->loss + (dst ? dst->loss : 0);
  if (!dst || dst == h->unreachable || sim_rand(s) < loss) {
    h->dropped++;
    return;
  }
  if ((h->mtu && len > h->mtu) || (dst->mtu && len > dst->mtu)) {
    h->dropped++;
    h->too_big++;
    return;
  }
  if (s->q_len == s->q_cap) {
    s->q_cap = s->q_cap ? s->q_cap * 2 : 256;
    s->q = realloc(s->q, s->q_cap * sizeof(*s->q));
  }
  uint64_t jitter = h->jitter_ns + dst->jitter_ns;
  struct sim_pkt *p = &s->q[s->q_len++];
  p->at = s->now + h->delay_ns + dst->delay_ns +
          (jitter ? (uint64_t)(sim_rand(s) * (double)jitter) : 0);
  p->seq = s->sent_seq++;
  p->from = h->pub; /* the NAT rewrites the source */
  p->to = *(const struct sockaddr_in *)to;
  p->len = len;
  p->data = malloc(len);
  memcpy(p->data, data, len);
}

uint64_t sim_next(const struct simnet *s) {
  uint64_t t = UINT64_MAX;
  for (size_t i = 0; i < s->q_len; i++)
    if (s->q[i].at < t)
      t = s->q[i].at;
  return t;
}

size_t sim_deliver_until(struct simnet *s, uint64_t t) {
  size_t delivered = 0;
  for (;;) {
    size_t best = s->q_len;
    for (size_t i = 0; i < s->q_len; i++)
      if (s->q[i].at <= t &&
          (best == s->q_len || s->q[i].at < s->q[best].at ||
           (s->q[i].at == s->q[best].at && s->q[i].seq < s->q[best].seq)))
        best = i;
    if (best == s->q_len)
      return delivered;
    struct sim_pkt p = s->q[best];
    s->q[best] = s->q[--s->q_len];
    if (p.at > s->now)
      s->now = p.at;
    /* Looked up at delivery: a NAT that rebinds drops packets to the old
     * public address, like a real one whose mapping expired. */
    struct sim_host *dst = host_by_pub(s, &p.to);
    if (dst && dst->node) {
      dst->received++;
      dst->deliver(dst->node, (struct sockaddr *)&p.from, sizeof(p.from),
                   p.data, p.len, s->now);
    }
    free(p.data);
    delivered++;
  }
}

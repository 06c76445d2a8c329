/* IPv4 fragment reassembly. See reasm.h. */
#include "reasm.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ippkt.h"

#define IP_MAX_LEN 65535u
#define IP_MIN_HDR 20u

struct frag_range {
  uint32_t start, end; /* payload bytes [start, end) */
};

struct zt_reasm_group {
  uint32_t src, dst;
  uint16_t id;
  uint8_t proto;
  /* Refused (overlap, tiny first fragment, too long...): kept without data
   * until it times out, so the rest of its fragments are dropped too
   * instead of starting a group that could only time out. */
  bool refused;
  bool have_first, have_last;
  uint8_t hdr_len;
  uint8_t hdr[60];  /* the first fragment's header */
  uint64_t seq, created;
  uint32_t total;    /* payload length, known once the last fragment came */
  uint32_t received; /* payload bytes held (fragments never overlap) */
  uint32_t cap;      /* bytes allocated at data */
  uint8_t *data;     /* payload, at its offset */
  unsigned n_frags;
  struct frag_range frags[ZT_REASM_MAX_FRAGS];
};

void zt_reasm_init(struct zt_reasm *r) { memset(r, 0, sizeof(*r)); }

static void drop_data(struct zt_reasm *r, struct zt_reasm_group *g) {
  r->bytes -= g->cap;
  free(g->data);
  g->data = NULL;
  g->cap = 0;
  g->n_frags = 0;
  g->received = 0;
}

static void group_free(struct zt_reasm *r, size_t i) {
  drop_data(r, r->groups[i]);
  free(r->groups[i]);
  r->groups[i] = NULL;
}

static void group_refuse(struct zt_reasm *r, struct zt_reasm_group *g) {
  drop_data(r, g);
  g->refused = true;
}

void zt_reasm_free(struct zt_reasm *r) {
  for (size_t i = 0; i < ZT_REASM_MAX_GROUPS; i++)
    if (r->groups[i])
      group_free(r, i);
  free(r->done);
  r->done = NULL;
}

size_t zt_reasm_groups(const struct zt_reasm *r) {
  size_t n = 0;
  for (size_t i = 0; i < ZT_REASM_MAX_GROUPS; i++)
    n += r->groups[i] != NULL;
  return n;
}

size_t zt_reasm_bytes(const struct zt_reasm *r) { return r->bytes; }

static void expire(struct zt_reasm *r, uint64_t now) {
  for (size_t i = 0; i < ZT_REASM_MAX_GROUPS; i++) {
    struct zt_reasm_group *g = r->groups[i];
    if (g && now - g->created >= ZT_REASM_TIMEOUT_NS) {
      if (!g->refused)
        r->stats.timed_out++;
      group_free(r, i);
    }
  }
}

/* The oldest group other than keep, or -1. */
static long oldest(const struct zt_reasm *r, const struct zt_reasm_group *keep) {
  long best = -1;
  for (size_t i = 0; i < ZT_REASM_MAX_GROUPS; i++) {
    const struct zt_reasm_group *g = r->groups[i];
    if (g && g != keep && (best < 0 || g->seq < r->groups[best]->seq))
      best = (long)i;
  }
  return best;
}

static void evict_oldest(struct zt_reasm *r, const struct zt_reasm_group *keep) {
  long i = oldest(r, keep);
  if (i >= 0) {
    r->stats.evicted++;
    group_free(r, (size_t)i);
  }
}

static struct zt_reasm_group *group_find(struct zt_reasm *r, uint32_t src,
                                         uint32_t dst, uint16_t id,
                                         uint8_t proto) {
  for (size_t i = 0; i < ZT_REASM_MAX_GROUPS; i++) {
    struct zt_reasm_group *g = r->groups[i];
    if (g && g->src == src && g->dst == dst && g->id == id &&
        g->proto == proto)
      return g;
  }
  return NULL;
}

static struct zt_reasm_group *group_new(struct zt_reasm *r, uint64_t now) {
  size_t slot = ZT_REASM_MAX_GROUPS;
  for (size_t i = 0; i < ZT_REASM_MAX_GROUPS && slot == ZT_REASM_MAX_GROUPS;
       i++)
    if (!r->groups[i])
      slot = i;
  if (slot == ZT_REASM_MAX_GROUPS) {
    long o = oldest(r, NULL);
    r->stats.evicted++;
    group_free(r, (size_t)o);
    slot = (size_t)o;
  }
  struct zt_reasm_group *g = calloc(1, sizeof(*g));
  if (!g)
    return NULL;
  g->seq = ++r->seq;
  g->created = now;
  r->groups[slot] = g;
  return g;
}

/* Makes room for payload bytes up to end: the byte budget is shared by all
 * groups, and the oldest others go first. */
static bool group_reserve(struct zt_reasm *r, struct zt_reasm_group *g,
                          uint32_t end) {
  if (end <= g->cap)
    return true;
  uint32_t cap = g->cap * 2 > end ? g->cap * 2 : end;
  if (cap > IP_MAX_LEN)
    cap = IP_MAX_LEN;
  if (g->have_last && cap > g->total)
    cap = g->total;
  while (r->bytes + (cap - g->cap) > ZT_REASM_MAX_BYTES && oldest(r, g) >= 0)
    evict_oldest(r, g);
  uint8_t *d = realloc(g->data, cap);
  if (!d)
    return false;
  r->bytes += cap - g->cap;
  g->data = d;
  g->cap = cap;
  return true;
}

enum add_result { ADD_OK, ADD_DUP, ADD_OVERLAP, ADD_BAD };

/* Checks one fragment's payload [start, end) against what the group holds
 * and what it has learned of the datagram's length. */
static enum add_result check_fragment(const struct zt_reasm_group *g,
                                      uint32_t start, uint32_t end, bool more,
                                      const uint8_t *payload) {
  for (unsigned i = 0; i < g->n_frags; i++) {
    const struct frag_range *f = &g->frags[i];
    if (start >= f->end || end <= f->start)
      continue;
    if (f->start == start && f->end == end &&
        memcmp(g->data + start, payload, end - start) == 0)
      return ADD_DUP;
    return ADD_OVERLAP;
  }
  if (more && g->have_last && end > g->total)
    return ADD_BAD; /* past the end the last fragment set */
  if (!more && g->have_last)
    return ADD_BAD; /* a second, different last fragment */
  if (!more)
    for (unsigned i = 0; i < g->n_frags; i++)
      if (g->frags[i].end > end)
        return ADD_BAD; /* a last fragment before bytes already held */
  if (g->n_frags == ZT_REASM_MAX_FRAGS)
    return ADD_BAD;
  return ADD_OK;
}

/* The datagram of a complete group, into r->done. */
static bool assemble(struct zt_reasm *r, struct zt_reasm_group *g,
                     size_t *outlen) {
  size_t len = (size_t)g->hdr_len + g->total;
  uint8_t *d = malloc(len);
  if (!d)
    return false;
  memcpy(d, g->hdr, g->hdr_len);
  memcpy(d + g->hdr_len, g->data, g->total);
  zt_ip_wr16(d + 2, (uint16_t)len);
  /* Fragment offset and MF cleared; DF too: the sender let this datagram
   * be fragmented, so the kernel may cut it again for the next link. */
  zt_ip_wr16(d + 6, 0);
  zt_ip_set_checksum(d, g->hdr_len);
  r->done = d;
  *outlen = len;
  return true;
}

enum zt_reasm_result zt_reasm_feed(struct zt_reasm *r, const uint8_t *pkt,
                                   size_t len, uint64_t now,
                                   const uint8_t **out, size_t *outlen) {
  struct zt_ip_info ip;
  free(r->done);
  r->done = NULL;
  if (zt_ip_parse(pkt, len, &ip) != 0 || !ip.is_fragment)
    return ZT_REASM_NOT_FRAGMENT;
  r->stats.fragments++;
  expire(r, now);

  uint16_t fl = zt_ip_rd16(pkt + 6);
  bool more = (fl & ZT_IP_MF) != 0;
  uint32_t start = (uint32_t)(fl & ZT_IP_OFFMASK) * 8;
  uint32_t plen = (uint32_t)ip.total_len - ip.hdr_len;
  uint32_t end = start + plen;
  const uint8_t *payload = pkt + ip.hdr_len;
  /* A corrupt header would be dropped by the kernel; reassembled, it would
   * get a fresh checksum instead. */
  if (zt_ip_checksum(pkt, ip.hdr_len) != 0 || plen == 0 ||
      (more && plen % 8 != 0)) {
    r->stats.bad++;
    return ZT_REASM_DROPPED;
  }
  struct zt_reasm_group *g =
      group_find(r, ip.src, ip.dst, zt_ip_rd16(pkt + 4), ip.proto);
  if (!g) {
    if (!(g = group_new(r, now))) {
      r->stats.bad++;
      return ZT_REASM_DROPPED;
    }
    g->src = ip.src;
    g->dst = ip.dst;
    g->id = zt_ip_rd16(pkt + 4);
    g->proto = ip.proto;
  }
  if (g->refused) {
    r->stats.bad++;
    return ZT_REASM_DROPPED;
  }
  /* No header is shorter than 20 bytes: a datagram whose payload ends
   * past 65515 cannot exist (the ping of death). */
  if (end + IP_MIN_HDR > IP_MAX_LEN ||
      (start == 0 && plen < zt_ip_l4_min_len(ip.proto))) {
    r->stats.bad++;
    group_refuse(r, g);
    return ZT_REASM_DROPPED;
  }
  switch (check_fragment(g, start, end, more, payload)) {
  case ADD_DUP:
    return ZT_REASM_HELD;
  case ADD_OVERLAP:
    r->stats.overlaps++;
    group_refuse(r, g);
    return ZT_REASM_DROPPED;
  case ADD_BAD:
    r->stats.bad++;
    group_refuse(r, g);
    return ZT_REASM_DROPPED;
  case ADD_OK:
    break;
  }
  if (!group_reserve(r, g, end)) {
    r->stats.bad++;
    group_refuse(r, g);
    return ZT_REASM_DROPPED;
  }
  memcpy(g->data + start, payload, plen);
  g->frags[g->n_frags++] = (struct frag_range){start, end};
  g->received += plen;
  if (start == 0) {
    g->have_first = true;
    g->hdr_len = (uint8_t)ip.hdr_len;
    memcpy(g->hdr, pkt, ip.hdr_len);
  }
  if (!more) {
    g->have_last = true;
    g->total = end;
  }
  if (!g->have_first || !g->have_last || g->received != g->total)
    return ZT_REASM_HELD;
  /* Complete. The header is only known now that the first fragment came. */
  size_t slot = 0;
  while (r->groups[slot] != g)
    slot++;
  enum zt_reasm_result res = ZT_REASM_DROPPED;
  if ((size_t)g->hdr_len + g->total > IP_MAX_LEN) {
    r->stats.bad++;
  } else if (assemble(r, g, outlen)) {
    *out = r->done;
    r->stats.reassembled++;
    res = ZT_REASM_DONE;
  }
  group_free(r, slot);
  return res;
}

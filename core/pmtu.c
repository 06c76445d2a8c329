/* Path MTU discovery state machine (RFC 8899). See pmtu.h. */
#include "pmtu.h"

#include <string.h>

#define NS_PER_MS 1000000ULL

/* The 1280-byte-MTU plateaus, tried before any binary search: the common
 * small path (tunnels, IPv6 minimum) is then found with one probe. */
static const size_t plateaus[] = {1252 /* IPv4: 1280-20-8 */,
                                  1232 /* IPv6: 1280-40-8 */};

static void set_plpmtu(struct zt_pmtu *p, size_t size, enum zt_pmtu_why why) {
  if (size == p->plpmtu)
    return;
  if (!p->changed)
    p->changed_from = p->plpmtu;
  p->changed = true;
  p->plpmtu = size;
  p->why = why;
}

/* The next size worth probing, 0 when the search is done. */
static size_t next_target(const struct zt_pmtu *p) {
  if (p->max > p->plpmtu && p->max < p->fail_size)
    return p->max;
  for (size_t i = 0; i < sizeof(plateaus) / sizeof(plateaus[0]); i++)
    if (plateaus[i] > p->plpmtu && plateaus[i] < p->fail_size &&
        plateaus[i] < p->max)
      return plateaus[i];
  size_t hi = p->fail_size > p->max ? p->max + 1 : p->fail_size;
  if (hi > p->plpmtu + ZT_PMTU_SEARCH_GAP)
    return p->plpmtu + (hi - p->plpmtu) / 2;
  return 0;
}

static void advance(struct zt_pmtu *p, uint64_t now) {
  p->inflight = false;
  p->target = next_target(p);
  if (p->target) {
    p->state = ZT_PMTU_SEARCHING;
  } else {
    p->state = ZT_PMTU_COMPLETE;
    p->raise_at = now + (uint64_t)ZT_PMTU_RAISE_MS * NS_PER_MS;
  }
}

void zt_pmtu_init(struct zt_pmtu *p, size_t base, size_t max, uint64_t now) {
  memset(p, 0, sizeof(*p));
  p->base = base;
  p->max = max < base ? base : max;
  p->plpmtu = base;
  p->fail_size = p->max + 1;
  p->why = ZT_PMTU_WHY_START;
  p->next_probe_id = 1;
  p->next_seq = 1;
  p->epoch_seq = 1;
  advance(p, now);
}

void zt_pmtu_restart(struct zt_pmtu *p, uint64_t now) {
  set_plpmtu(p, p->base, ZT_PMTU_WHY_NEW_PATH);
  p->fail_size = p->max + 1;
  p->raise_fail = 0;
  p->probe_lost = 0;
  p->bh_losses = 0;
  p->acked_max = 0;
  p->epoch_seq = p->next_seq;
  p->npending = 0;
  advance(p, now);
}

size_t zt_pmtu_probe_size(const struct zt_pmtu *p) {
  return p->inflight ? 0 : p->target;
}

uint64_t zt_pmtu_probe_sent(struct zt_pmtu *p, uint64_t now, uint64_t rto_ns) {
  uint64_t min = (uint64_t)ZT_PMTU_PROBE_TIMEOUT_MIN_MS * NS_PER_MS;
  p->inflight = true;
  p->probe_id = p->next_probe_id++;
  p->probe_deadline = now + (rto_ns > min ? rto_ns : min);
  p->probes_sent++;
  return p->probe_id;
}

/* Only the acknowledgement of the probe in flight confirms its size: an
 * old probe's late ack says nothing about the size probed now. */
void zt_pmtu_probe_acked(struct zt_pmtu *p, uint64_t id, uint64_t now) {
  if (id != p->probe_id || !p->inflight)
    return;
  p->probes_acked++;
  p->probe_lost = 0;
  p->raise_fail = 0;
  if (p->target > p->plpmtu)
    set_plpmtu(p, p->target, ZT_PMTU_WHY_PROBE_ACKED);
  advance(p, now);
}

static void probe_failed(struct zt_pmtu *p, uint64_t now) {
  p->probes_lost++;
  p->inflight = false;
  /* One lost probe is not proof: congestion drops probes too. */
  if (++p->probe_lost < ZT_PMTU_MAX_PROBES)
    return;
  p->probe_lost = 0;
  if (p->target < p->fail_size)
    p->fail_size = p->target;
  /* The raise timer's probe of max: the path did not grow, and what the
   * last search found holds again. */
  if (p->raise_fail && p->target == p->max)
    p->fail_size = p->raise_fail;
  p->raise_fail = 0;
  advance(p, now);
}

void zt_pmtu_probe_lost(struct zt_pmtu *p, uint64_t id, uint64_t now) {
  if (!p->inflight || id != p->probe_id)
    return;
  probe_failed(p, now);
}

uint64_t zt_pmtu_data_seq(const struct zt_pmtu *p) { return p->next_seq; }

void zt_pmtu_data_sent(struct zt_pmtu *p, uint64_t seq, size_t size,
                       uint64_t now) {
  if (seq < p->next_seq)
    return; /* sent already */
  p->next_seq = seq + 1;
  if (size <= p->base)
    return;
  p->last_large = seq;
  unsigned i = p->npending;
  if (i == ZT_PMTU_PENDING) { /* forget the oldest */
    i = 0;
    for (unsigned k = 1; k < p->npending; k++)
      if (p->pending[k].seq < p->pending[i].seq)
        i = k;
  } else {
    p->npending++;
  }
  p->pending[i] = (struct zt_pmtu_sent){seq, now};
}

/* Forgets a remembered large datagram; false when it was not remembered
 * (judged already, or forgotten as one of too many). */
static bool unpend(struct zt_pmtu *p, uint64_t seq) {
  for (unsigned i = 0; i < p->npending; i++)
    if (p->pending[i].seq == seq) {
      p->pending[i] = p->pending[--p->npending];
      return true;
    }
  return false;
}

void zt_pmtu_data_acked(struct zt_pmtu *p, uint64_t seq, size_t size) {
  if (seq > p->acked_any)
    p->acked_any = seq;
  if (size <= p->base)
    return;
  unpend(p, seq);
  if (seq <= p->acked_max)
    return;
  p->acked_max = seq;
  p->bh_losses = 0;
}

static void black_hole(struct zt_pmtu *p, uint64_t now) {
  p->black_holes++;
  /* Not proof that the old size fails for good (a path cut for a moment
   * looks the same): the search tries max first again. */
  p->fail_size = p->max + 1;
  p->raise_fail = 0;
  set_plpmtu(p, p->base, ZT_PMTU_WHY_BLACK_HOLE);
  p->bh_losses = 0;
  p->probe_lost = 0;
  p->epoch_seq = p->next_seq;
  p->npending = 0;
  advance(p, now);
}

/* One large datagram is lost (the caller forgot it already). */
static void large_lost(struct zt_pmtu *p, uint64_t seq, uint64_t now) {
  /* Lost before a later large one got through: congestion, not the path.
   * Lost before the last size change: says nothing about this size. */
  if (seq <= p->acked_max || seq < p->epoch_seq)
    return;
  if (++p->bh_losses < ZT_PMTU_MAX_PROBES)
    return;
  black_hole(p, now);
}

void zt_pmtu_data_lost(struct zt_pmtu *p, uint64_t seq, uint64_t now) {
  if (unpend(p, seq))
    large_lost(p, seq, now);
}

unsigned zt_pmtu_sweep(struct zt_pmtu *p, uint64_t now, uint64_t loss_delay) {
  unsigned lost = 0;
  for (unsigned i = 0; i < p->npending;) {
    struct zt_pmtu_sent s = p->pending[i];
    if (s.seq < p->acked_any &&
        (s.seq + ZT_PMTU_REORDER <= p->acked_any || now - s.at >= loss_delay)) {
      p->pending[i] = p->pending[--p->npending];
      lost++;
      large_lost(p, s.seq, now); /* a black hole forgets the rest */
      continue;
    }
    i++;
  }
  return lost;
}

void zt_pmtu_pto(struct zt_pmtu *p, unsigned pto_count, uint64_t now) {
  /* Nothing above base was sent since the last change: the timeouts are
   * about something else (a cut path), and base is the floor anyway. */
  if (pto_count < ZT_PMTU_BLACK_HOLE_PTOS || p->plpmtu <= p->base ||
      p->last_large < p->epoch_seq)
    return;
  black_hole(p, now);
}

uint64_t zt_pmtu_expiry(const struct zt_pmtu *p) {
  if (p->inflight)
    return p->probe_deadline;
  if (p->state == ZT_PMTU_COMPLETE && p->plpmtu < p->max)
    return p->raise_at;
  return UINT64_MAX;
}

void zt_pmtu_handle_expiry(struct zt_pmtu *p, uint64_t now) {
  if (p->inflight && now >= p->probe_deadline) {
    p->inflight = false; /* the same size again; see PROBE_TIMEOUT_MIN */
    return;
  }
  if (!p->inflight && p->state == ZT_PMTU_COMPLETE && p->plpmtu < p->max &&
      now >= p->raise_at) {
    /* The path may have grown: try max again (only max: if it fails,
     * what the last search found still holds). */
    p->raise_fail = p->fail_size;
    p->fail_size = p->max + 1;
    advance(p, now);
  }
}

const char *zt_pmtu_state_name(const struct zt_pmtu *p) {
  return p->state == ZT_PMTU_COMPLETE ? "complete" : "searching";
}

const char *zt_pmtu_why_name(enum zt_pmtu_why why) {
  switch (why) {
  case ZT_PMTU_WHY_START:
    return "start";
  case ZT_PMTU_WHY_PROBE_ACKED:
    return "probe acknowledged";
  case ZT_PMTU_WHY_BLACK_HOLE:
    return "black hole: large packets lost";
  case ZT_PMTU_WHY_NEW_PATH:
    return "new path";
  }
  return "?";
}

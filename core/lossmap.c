/* Lost datagrams counted from the acknowledgements. See lossmap.h. */
#include "lossmap.h"

#include <stdbool.h>
#include <string.h>

static uint64_t *word(struct zt_lossmap *m, uint64_t seq, uint64_t *bit) {
  uint64_t i = seq % ZT_LOSSMAP_BITS;
  *bit = 1ULL << (i % 64);
  return &m->acked[i / 64];
}

#define NONE UINT64_MAX

static bool is_acked(struct zt_lossmap *m, uint64_t seq) {
  uint64_t bit, *w = word(m, seq, &bit);
  return *w & bit;
}

void zt_lossmap_init(struct zt_lossmap *m, uint64_t first) {
  memset(m, 0, sizeof(*m));
  m->base = m->next = first;
  m->hole_since = NONE;
}

/* Judges the oldest: lost (counted in *count) unless acknowledged; its bit
 * is cleared for the sequence number that will share it. */
static void judge_oldest(struct zt_lossmap *m, uint64_t *count) {
  uint64_t bit, *w = word(m, m->base, &bit);
  if (!(*w & bit))
    (*count)++;
  *w &= ~bit;
  m->base++;
  m->hole_since = NONE;
}

void zt_lossmap_sent(struct zt_lossmap *m, uint64_t seq) {
  if (seq < m->next)
    return; /* out of order: not ours to judge */
  /* Skipped numbers (sent elsewhere, or never) count as acknowledged. */
  for (; m->next < seq; m->next++) {
    if (m->next - m->base >= ZT_LOSSMAP_BITS)
      judge_oldest(m, &m->untracked);
    uint64_t bit, *w = word(m, m->next, &bit);
    *w |= bit;
  }
  if (m->next - m->base >= ZT_LOSSMAP_BITS)
    judge_oldest(m, &m->untracked);
  m->next = seq + 1;
}

void zt_lossmap_acked(struct zt_lossmap *m, uint64_t seq) {
  if (seq < m->base || seq >= m->next)
    return; /* judged already (spuriously: it was late), or not ours */
  uint64_t bit, *w = word(m, seq, &bit);
  *w |= bit;
  if (seq > m->acked_max)
    m->acked_max = seq;
}

unsigned zt_lossmap_sweep(struct zt_lossmap *m, uint64_t now,
                          uint64_t loss_delay) {
  uint64_t lost = 0, ignored = 0;
  while (m->base < m->acked_max) {
    if (is_acked(m, m->base)) {
      judge_oldest(m, &ignored);
      continue;
    }
    /* an unacknowledged one, passed over */
    if (m->base + ZT_LOSSMAP_REORDER <= m->acked_max) {
      judge_oldest(m, &lost);
      continue;
    }
    if (m->hole_since == NONE)
      m->hole_since = now;
    if (now - m->hole_since < loss_delay)
      break; /* maybe reordered: the next sweep tells */
    judge_oldest(m, &lost);
  }
  m->lost += lost;
  return (unsigned)lost;
}

/* u32 -> pointer hash map. See keymap.h. */
#include "keymap.h"

#include <stdlib.h>
#include <string.h>

static size_t slot_of(const struct zt_keymap *m, uint32_t key) {
  /* Keys are often random already, but tunnel addresses are sequential:
   * mix them (Murmur3 finalizer) so neighbours do not cluster. */
  key ^= key >> 16;
  key *= 0x85ebca6bu;
  key ^= key >> 13;
  key *= 0xc2b2ae35u;
  key ^= key >> 16;
  return key & (m->cap - 1);
}

void zt_keymap_init(struct zt_keymap *m) { memset(m, 0, sizeof(*m)); }

void zt_keymap_free(struct zt_keymap *m) {
  free(m->slots);
  memset(m, 0, sizeof(*m));
}

static int grow(struct zt_keymap *m) {
  size_t ncap = m->cap ? m->cap * 2 : 16;
  struct zt_keymap_slot *old = m->slots;
  size_t ocap = m->cap;
  m->slots = calloc(ncap, sizeof(*m->slots));
  if (!m->slots) {
    m->slots = old;
    return -1;
  }
  m->cap = ncap;
  m->count = 0;
  for (size_t i = 0; i < ocap; i++)
    if (old[i].key)
      zt_keymap_put(m, old[i].key, old[i].val);
  free(old);
  return 0;
}

int zt_keymap_put(struct zt_keymap *m, uint32_t key, void *val) {
  if (key == 0)
    return -1;
  if ((m->count + 1) * 2 > m->cap && grow(m) != 0)
    return -1;
  for (size_t i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
    if (m->slots[i].key == key)
      return -1;
    if (m->slots[i].key == 0) {
      m->slots[i].key = key;
      m->slots[i].val = val;
      m->count++;
      return 0;
    }
  }
}

void *zt_keymap_get(const struct zt_keymap *m, uint32_t key) {
  if (key == 0 || m->cap == 0)
    return NULL;
  for (size_t i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
    if (m->slots[i].key == key)
      return m->slots[i].val;
    if (m->slots[i].key == 0)
      return NULL;
  }
}

void *zt_keymap_del(struct zt_keymap *m, uint32_t key) {
  if (key == 0 || m->cap == 0)
    return NULL;
  size_t mask = m->cap - 1, i = slot_of(m, key);
  while (m->slots[i].key != key) {
    if (m->slots[i].key == 0)
      return NULL;
    i = (i + 1) & mask;
  }
  void *val = m->slots[i].val;
  /* Backward-shift: move later members of the probe run into the hole when
   * their home slot is at or before it, so lookups never stop early. */
  for (size_t j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
    size_t home = slot_of(m, m->slots[j].key);
    if (((j - home) & mask) >= ((j - i) & mask)) {
      m->slots[i] = m->slots[j];
      i = j;
    }
  }
  m->slots[i].key = 0;
  m->slots[i].val = NULL;
  m->count--;
  return val;
}

void zt_keymap_iter_init(struct zt_keymap_iter *it, struct zt_keymap *m) {
  it->m = m;
  it->start = 0;
  it->step = 0;
  it->last = 0;
  for (size_t i = 0; i < m->cap; i++)
    if (m->slots[i].key == 0) {
      it->start = i + 1;
      break;
    }
}

int zt_keymap_next(struct zt_keymap_iter *it, uint32_t *key, void **val) {
  struct zt_keymap *m = it->m;
  if (m->cap == 0)
    return 0;
  size_t mask = m->cap - 1;
  /* The entry returned last still in its slot: move past it. Gone
   * (deleted): its slot now holds a later entry or nothing; look again. */
  if (it->last && m->slots[(it->start + it->step) & mask].key == it->last)
    it->step++;
  it->last = 0;
  for (; it->step < m->cap; it->step++) {
    const struct zt_keymap_slot *s = &m->slots[(it->start + it->step) & mask];
    if (s->key) {
      it->last = s->key;
      if (key)
        *key = s->key;
      if (val)
        *val = s->val;
      return 1;
    }
  }
  return 0;
}

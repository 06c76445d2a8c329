/*
 * A map from 32-bit keys to pointers: connection keys to peers, relay
 * channels to sessions, tunnel addresses to sessions. Open addressing with
 * linear probing and backward-shift deletion (no tombstones), grown at half
 * load. Key 0 is reserved as the empty marker and never stored.
 */
#ifndef ZTNA_KEYMAP_H
#define ZTNA_KEYMAP_H

#include <stddef.h>
#include <stdint.h>

struct zt_keymap_slot {
  uint32_t key;
  void *val;
};

struct zt_keymap {
  struct zt_keymap_slot *slots;
  size_t cap, count; /* cap is a power of two */
};

void zt_keymap_init(struct zt_keymap *m);
void zt_keymap_free(struct zt_keymap *m);
/* 0; -1 for key 0, a key already present, or no memory. */
int zt_keymap_put(struct zt_keymap *m, uint32_t key, void *val);
void *zt_keymap_get(const struct zt_keymap *m, uint32_t key);
/* Returns the removed value or NULL. */
void *zt_keymap_del(struct zt_keymap *m, uint32_t key);

/* Iteration over every entry, in slot order:
 *
 *   struct zt_keymap_iter it;
 *   for (zt_keymap_iter_init(&it, m); zt_keymap_next(&it, &key, &val);)
 *     ... may zt_keymap_del(m, key) of the entry just returned ...
 *
 * Deleting the entry just returned is safe: every entry present from start
 * to end is returned exactly once. The walk starts just after an empty slot
 * (the table is at most half full, so one exists): backward-shift deletion
 * then only moves entries not yet visited, towards the current slot, which
 * the iterator looks at again when its entry is gone. Any other change
 * (insertions, deleting other keys) while iterating is not allowed: a put
 * may grow the table. */
struct zt_keymap_iter {
  struct zt_keymap *m;
  size_t start, step; /* slot (start + step) & (cap - 1) is next */
  uint32_t last;      /* the key returned last, 0: none yet */
};
void zt_keymap_iter_init(struct zt_keymap_iter *it, struct zt_keymap *m);
/* 1 with the next entry in *key and *val (either may be NULL), 0 at the
 * end. */
int zt_keymap_next(struct zt_keymap_iter *it, uint32_t *key, void **val);

#endif

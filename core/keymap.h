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

#endif

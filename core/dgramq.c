/* Bounded datagram FIFO. See dgramq.h. */
#include "dgramq.h"

#include <stdlib.h>
#include <string.h>

int zt_dgramq_init(struct zt_dgramq *q, size_t cap, size_t slot_size) {
  memset(q, 0, sizeof(*q));
  q->slots = calloc(cap, sizeof(*q->slots));
  if (!q->slots)
    return -1;
  q->cap = cap;
  q->slot_size = slot_size;
  return 0;
}

void zt_dgramq_free(struct zt_dgramq *q) {
  for (size_t i = 0; i < q->cap; i++)
    free(q->slots[i].data);
  free(q->slots);
  memset(q, 0, sizeof(*q));
}

int zt_dgramq_push(struct zt_dgramq *q, const uint8_t *data, size_t len) {
  if (len > q->slot_size)
    return -2;
  if (q->count == q->cap)
    return -1;
  struct zt_dgram_slot *s = &q->slots[(q->head + q->count) % q->cap];
  if (!s->data && !(s->data = malloc(q->slot_size)))
    return -1;
  memcpy(s->data, data, len);
  s->len = len;
  s->tries = 0;
  q->count++;
  return 0;
}

struct zt_dgram_slot *zt_dgramq_front(struct zt_dgramq *q) {
  return q->count ? &q->slots[q->head] : NULL;
}

void zt_dgramq_pop(struct zt_dgramq *q) {
  if (!q->count)
    return;
  q->head = (q->head + 1) % q->cap;
  q->count--;
}

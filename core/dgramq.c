/* Fair datagram queue. See dgramq.h. */
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
  for (size_t i = 0; i < cap; i++)
    q->slots[i].next = i + 1 < cap ? (int32_t)(i + 1) : -1;
  q->free_head = cap ? 0 : -1;
  return 0;
}

void zt_dgramq_free(struct zt_dgramq *q) {
  for (size_t i = 0; i < q->cap; i++)
    free(q->slots[i].data);
  free(q->slots);
  free(q->flows);
  memset(q, 0, sizeof(*q));
}

/* Linear: a connection carries a handful of channels at a time. */
static struct zt_dgram_flow *flow_find(struct zt_dgramq *q, uint32_t id) {
  for (size_t i = 0; i < q->n_flows; i++)
    if (q->flows[i].id == id)
      return &q->flows[i];
  return NULL;
}

static struct zt_dgram_flow *flow_add(struct zt_dgramq *q, uint32_t id) {
  if (q->n_flows == q->flows_cap) {
    size_t cap = q->flows_cap ? q->flows_cap * 2 : 4;
    struct zt_dgram_flow *f = realloc(q->flows, cap * sizeof(*f));
    if (!f)
      return NULL;
    q->flows = f;
    q->flows_cap = cap;
  }
  /* A new flow takes its turn last. */
  struct zt_dgram_flow *f = &q->flows[q->n_flows++];
  *f = (struct zt_dgram_flow){.id = id, .head = -1, .tail = -1};
  return f;
}

static void flow_remove(struct zt_dgramq *q, size_t i) {
  memmove(&q->flows[i], &q->flows[i + 1],
          (q->n_flows - i - 1) * sizeof(q->flows[0]));
  q->n_flows--;
  if (q->turn > i)
    q->turn--;
  if (q->turn >= q->n_flows)
    q->turn = 0;
}

/* Takes the oldest datagram of flow i off its list and frees its slot. */
static void drop_head(struct zt_dgramq *q, size_t i) {
  struct zt_dgram_flow *f = &q->flows[i];
  int32_t s = f->head;
  f->head = q->slots[s].next;
  if (f->head < 0)
    f->tail = -1;
  f->count--;
  q->slots[s].next = q->free_head;
  q->free_head = s;
  q->count--;
  if (!f->count)
    flow_remove(q, i);
}

int zt_dgramq_push(struct zt_dgramq *q, uint32_t flow, const uint8_t *data,
                   size_t len) {
  if (len > q->slot_size)
    return -2;
  struct zt_dgram_flow *f = flow_find(q, flow);
  if (q->count == q->cap) {
    size_t longest = 0;
    for (size_t i = 1; i < q->n_flows; i++)
      if (q->flows[i].count > q->flows[longest].count)
        longest = i;
    if (!q->n_flows || (f && q->flows[longest].count <= f->count))
      return -1; /* this flow is (one of) the longest: its own loss */
    drop_head(q, longest);
    q->evicted++;
    f = flow_find(q, flow); /* the array may have moved */
  }
  int32_t s = q->free_head;
  struct zt_dgram_slot *slot = &q->slots[s];
  if (!slot->data && !(slot->data = malloc(q->slot_size)))
    return -1;
  if (!f && !(f = flow_add(q, flow)))
    return -1;
  q->free_head = slot->next;
  memcpy(slot->data, data, len);
  slot->len = len;
  slot->tries = 0;
  slot->next = -1;
  if (f->tail >= 0)
    q->slots[f->tail].next = s;
  else
    f->head = s;
  f->tail = s;
  f->count++;
  q->count++;
  return 0;
}

struct zt_dgram_slot *zt_dgramq_front(struct zt_dgramq *q) {
  return q->count ? &q->slots[q->flows[q->turn].head] : NULL;
}

void zt_dgramq_pop(struct zt_dgramq *q) {
  if (!q->count)
    return;
  size_t i = q->turn;
  size_t before = q->n_flows;
  drop_head(q, i);
  /* The flow stayed: the next one's turn. It left: the next one already
   * moved into its place. */
  if (q->n_flows == before)
    q->turn = (i + 1) % q->n_flows;
}

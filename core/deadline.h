/*
 * A min-heap of deadlines, for nodes that hold many connections and must
 * know the earliest of their timers without looking at each one: the
 * Intermediate keeps one entry per peer (the earliest of its QUIC timer,
 * its certificate check and its silence watch), so arming the loop's timer
 * is O(1) and moving one peer's deadline O(log n), where a scan of every
 * peer after every packet batch was O(n).
 *
 * The entry is embedded in the caller's object and remembers its index in
 * the heap, so an object updates or leaves the heap without a search.
 * Only the heap's array is allocated (grown by doubling).
 */
#ifndef ZTNA_DEADLINE_H
#define ZTNA_DEADLINE_H

#include <stddef.h>
#include <stdint.h>

#define ZT_DEADLINE_NONE UINT64_MAX

struct zt_deadline {
  uint64_t at; /* ZT_DEADLINE_NONE while not in a heap */
  size_t idx;  /* its position in the heap's array while in it */
};

struct zt_deadline_heap {
  struct zt_deadline **v;
  size_t n, cap;
};

void zt_deadline_heap_init(struct zt_deadline_heap *h);
/* Frees the array only; the entries belong to their objects. */
void zt_deadline_heap_free(struct zt_deadline_heap *h);
/* An entry that is in no heap yet (at = ZT_DEADLINE_NONE). */
void zt_deadline_init(struct zt_deadline *d);
/* Puts d in the heap at time `at`, or moves it there when it is in already;
 * ZT_DEADLINE_NONE takes it out. 0, or -1 when out of memory (d is then in
 * no heap). */
int zt_deadline_set(struct zt_deadline_heap *h, struct zt_deadline *d,
                    uint64_t at);
/* Makes room for n entries, so that zt_deadline_set() of up to n entries
 * cannot fail. 0, or -1 when out of memory. */
int zt_deadline_reserve(struct zt_deadline_heap *h, size_t n);
/* Takes d out (nothing when it is in no heap). */
void zt_deadline_remove(struct zt_deadline_heap *h, struct zt_deadline *d);
/* The earliest entry, NULL when empty; its time: ZT_DEADLINE_NONE when
 * empty. */
struct zt_deadline *zt_deadline_first(const struct zt_deadline_heap *h);
uint64_t zt_deadline_next(const struct zt_deadline_heap *h);

#endif

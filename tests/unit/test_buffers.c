/* sendbuf (stream bytes that never move) and dgramq (bounded FIFO). */
#include <stdlib.h>

#include "dgramq.h"
#include "sendbuf.h"
#include "test.h"

static void test_sendbuf_chunks_and_acks(void) {
  struct zt_sendbuf b;
  static uint8_t data[3 * ZT_SENDBUF_CHUNK + 100];
  const uint8_t *p;
  size_t n, total = 0;
  for (size_t i = 0; i < sizeof(data); i++)
    data[i] = (uint8_t)(i * 7);
  zt_sendbuf_init(&b);
  zt_sendbuf_unsent(&b, &p, &n);
  CHECK_EQ_INT(n, 0);
  CHECK_EQ_INT(zt_sendbuf_append(&b, data, 10), 0);
  CHECK_EQ_INT(zt_sendbuf_append(&b, data + 10, sizeof(data) - 10), 0);
  /* Unsent bytes come out in order, a chunk at most at a time, and the
   * pointers handed out stay valid while later bytes are appended. */
  const uint8_t *first = NULL;
  while (zt_sendbuf_unsent(&b, &p, &n), n > 0) {
    CHECK(n <= ZT_SENDBUF_CHUNK);
    CHECK(memcmp(p, data + total, n) == 0);
    if (!first)
      first = p;
    zt_sendbuf_mark_sent(&b, n < 1000 ? n : 1000);
    total += n < 1000 ? n : 1000;
  }
  CHECK_EQ_INT(total, sizeof(data));
  CHECK_EQ_INT(zt_sendbuf_append(&b, data, 5), 0);
  CHECK(memcmp(first, data, 10) == 0); /* did not move */
  CHECK_EQ_INT(zt_sendbuf_unacked(&b), sizeof(data) + 5);
  zt_sendbuf_ack(&b, 0, ZT_SENDBUF_CHUNK + 1);
  CHECK_EQ_INT(zt_sendbuf_unacked(&b), sizeof(data) + 5 - ZT_SENDBUF_CHUNK - 1);
  zt_sendbuf_ack(&b, 500, 10); /* inside the acked prefix: no change */
  CHECK_EQ_INT(zt_sendbuf_unacked(&b), sizeof(data) + 5 - ZT_SENDBUF_CHUNK - 1);
  zt_sendbuf_ack(&b, ZT_SENDBUF_CHUNK + 1, sizeof(data) + 4 - ZT_SENDBUF_CHUNK);
  CHECK_EQ_INT(zt_sendbuf_unacked(&b), 0);
  zt_sendbuf_unsent(&b, &p, &n);
  CHECK_EQ_INT(n, 5);
  CHECK(memcmp(p, data, 5) == 0);
  zt_sendbuf_free(&b);
}

/* An idle stream keeps no chunk: once everything sent is acknowledged the
 * last chunk goes too, and appending again starts at the right offset. */
static void test_sendbuf_idle_keeps_nothing(void) {
  struct zt_sendbuf b;
  const uint8_t *p;
  size_t n;
  uint8_t d[100];
  for (size_t i = 0; i < sizeof(d); i++)
    d[i] = (uint8_t)i;
  zt_sendbuf_init(&b);
  CHECK_EQ_INT(zt_sendbuf_append(&b, d, 60), 0);
  zt_sendbuf_unsent(&b, &p, &n);
  CHECK_EQ_INT(n, 60);
  zt_sendbuf_mark_sent(&b, 60);
  zt_sendbuf_ack(&b, 0, 30);
  CHECK(b.head != NULL); /* 30 bytes still unacknowledged */
  zt_sendbuf_ack(&b, 30, 30);
  CHECK(b.head == NULL && b.tail == NULL);
  CHECK_EQ_INT(zt_sendbuf_unacked(&b), 0);
  CHECK_EQ_INT(zt_sendbuf_append(&b, d + 60, 40), 0);
  zt_sendbuf_unsent(&b, &p, &n);
  CHECK_EQ_INT(n, 40);
  CHECK(memcmp(p, d + 60, 40) == 0);
  zt_sendbuf_mark_sent(&b, 40);
  CHECK_EQ_INT(zt_sendbuf_unacked(&b), 40);
  zt_sendbuf_ack(&b, 60, 40);
  CHECK(b.head == NULL);
  zt_sendbuf_free(&b);
}

static void test_dgramq_bounds(void) {
  struct zt_dgramq q;
  uint8_t d[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  CHECK_EQ_INT(zt_dgramq_init(&q, 3, 8), 0);
  CHECK(zt_dgramq_front(&q) == NULL);
  CHECK_EQ_INT(zt_dgramq_push(&q, 0, d, 9), -2); /* too big */
  for (int i = 0; i < 3; i++) {
    d[0] = (uint8_t)i;
    CHECK_EQ_INT(zt_dgramq_push(&q, 0, d, 8), 0);
  }
  CHECK_EQ_INT(zt_dgramq_push(&q, 0, d, 8), -1); /* full */
  for (int round = 0; round < 10; round++) { /* wraps around */
    struct zt_dgram_slot *s = zt_dgramq_front(&q);
    CHECK(s && s->len == 8 && s->data[0] == (uint8_t)round);
    zt_dgramq_pop(&q);
    d[0] = (uint8_t)(round + 3);
    CHECK_EQ_INT(zt_dgramq_push(&q, 0, d, 8), 0);
  }
  zt_dgramq_free(&q);
}

static uint32_t front_flow(struct zt_dgramq *q) {
  struct zt_dgram_slot *s = zt_dgramq_front(q);
  return s ? s->data[0] : 0;
}

/* Three flows queued in bursts come out interleaved, each in its order. */
static void test_dgramq_flows_take_turns(void) {
  struct zt_dgramq q;
  uint8_t d[2];
  CHECK_EQ_INT(zt_dgramq_init(&q, 16, 8), 0);
  for (uint8_t f = 1; f <= 3; f++)
    for (uint8_t i = 0; i < 3; i++) {
      d[0] = f, d[1] = i;
      CHECK_EQ_INT(zt_dgramq_push(&q, 100 + f, d, 2), 0);
    }
  static const uint8_t want[][2] = {{1, 0}, {2, 0}, {3, 0}, {1, 1}, {2, 1},
                                    {3, 1}, {1, 2}, {2, 2}, {3, 2}};
  for (size_t i = 0; i < 9; i++) {
    struct zt_dgram_slot *s = zt_dgramq_front(&q);
    CHECK(s != NULL);
    CHECK_EQ_INT(s->data[0], want[i][0]);
    CHECK_EQ_INT(s->data[1], want[i][1]);
    zt_dgramq_pop(&q);
  }
  CHECK(zt_dgramq_front(&q) == NULL);
  zt_dgramq_free(&q);
}

/* The attack from the review: one channel fills the queue, and another
 * channel's datagrams used to be dropped. Now the flood loses its oldest,
 * the other flow gets in and gets every other turn. */
static void test_dgramq_flood_cannot_starve_others(void) {
  struct zt_dgramq q;
  uint8_t d[1] = {1};
  CHECK_EQ_INT(zt_dgramq_init(&q, 8, 8), 0);
  for (int i = 0; i < 8; i++)
    CHECK_EQ_INT(zt_dgramq_push(&q, 1, d, 1), 0);
  CHECK_EQ_INT(zt_dgramq_push(&q, 1, d, 1), -1); /* the flood: refused */
  d[0] = 2;
  for (int i = 0; i < 4; i++) /* the other channel: let in */
    CHECK_EQ_INT(zt_dgramq_push(&q, 2, d, 1), 0);
  CHECK_EQ_INT(q.evicted, 4);
  CHECK_EQ_INT(q.count, 8);
  /* Equal lengths now: neither may push the other out. */
  CHECK_EQ_INT(zt_dgramq_push(&q, 2, d, 1), -1);
  int seen2 = 0;
  for (int i = 0; i < 4; i++) {
    seen2 += front_flow(&q) == 2;
    zt_dgramq_pop(&q);
  }
  CHECK_EQ_INT(seen2, 2);
  zt_dgramq_free(&q);
}

int main(void) {
  RUN(test_sendbuf_chunks_and_acks);
  RUN(test_sendbuf_idle_keeps_nothing);
  RUN(test_dgramq_bounds);
  RUN(test_dgramq_flows_take_turns);
  RUN(test_dgramq_flood_cannot_starve_others);
  return TEST_EXIT();
}

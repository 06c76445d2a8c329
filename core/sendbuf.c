/* Stream send buffer: chunks that never move. See sendbuf.h. */
#include "sendbuf.h"

#include <stdlib.h>
#include <string.h>

struct zt_sendbuf_chunk {
  struct zt_sendbuf_chunk *next;
  size_t len;
  uint8_t data[ZT_SENDBUF_CHUNK];
};

void zt_sendbuf_init(struct zt_sendbuf *b) { memset(b, 0, sizeof(*b)); }

void zt_sendbuf_free(struct zt_sendbuf *b) {
  struct zt_sendbuf_chunk *c = b->head;
  while (c) {
    struct zt_sendbuf_chunk *next = c->next;
    free(c);
    c = next;
  }
  memset(b, 0, sizeof(*b));
}

int zt_sendbuf_append(struct zt_sendbuf *b, const uint8_t *data, size_t len) {
  /* Allocate every chunk needed first so that a failure appends nothing. */
  size_t room = b->tail ? ZT_SENDBUF_CHUNK - b->tail->len : 0;
  struct zt_sendbuf_chunk *fresh = NULL, **link = &fresh;
  for (size_t need = len > room ? len - room : 0; need > 0;) {
    struct zt_sendbuf_chunk *c = malloc(sizeof(*c));
    if (!c) {
      while (fresh) {
        struct zt_sendbuf_chunk *next = fresh->next;
        free(fresh);
        fresh = next;
      }
      return -1;
    }
    c->next = NULL;
    c->len = 0;
    *link = c;
    link = &c->next;
    need = need > ZT_SENDBUF_CHUNK ? need - ZT_SENDBUF_CHUNK : 0;
  }
  if (b->tail) {
    b->tail->next = fresh; /* the tail is the last chunk: next was NULL */
  } else {
    b->head = b->tail = fresh;
    b->head_offset = b->end;
  }

  while (len > 0) {
    struct zt_sendbuf_chunk *t = b->tail;
    if (t->len == ZT_SENDBUF_CHUNK) {
      t = b->tail = t->next;
    }
    size_t n = ZT_SENDBUF_CHUNK - t->len;
    if (n > len)
      n = len;
    memcpy(t->data + t->len, data, n);
    t->len += n;
    data += n;
    len -= n;
    b->end += n;
  }
  return 0;
}

void zt_sendbuf_unsent(const struct zt_sendbuf *b, const uint8_t **data,
                       size_t *len) {
  *data = NULL;
  *len = 0;
  if (b->sent == b->end)
    return;
  uint64_t off = b->head_offset;
  for (struct zt_sendbuf_chunk *c = b->head; c; c = c->next) {
    if (b->sent < off + c->len) {
      *data = c->data + (b->sent - off);
      *len = (size_t)(off + c->len - b->sent);
      return;
    }
    off += c->len;
  }
}

void zt_sendbuf_mark_sent(struct zt_sendbuf *b, size_t len) {
  b->sent += len;
}

void zt_sendbuf_ack(struct zt_sendbuf *b, uint64_t offset, uint64_t len) {
  if (offset <= b->acked && offset + len > b->acked)
    b->acked = offset + len;
  /* Free full chunks that lie wholly in the acknowledged prefix. The tail
   * stays while it is still being filled. */
  while (b->head && b->head != b->tail &&
         b->head_offset + b->head->len <= b->acked) {
    struct zt_sendbuf_chunk *c = b->head;
    b->head_offset += c->len;
    b->head = c->next;
    free(c);
  }
  /* Everything acknowledged: the tail goes too (16 KB that an idle
   * connection, most of an Intermediate's, would otherwise keep for good);
   * the next append starts a new chain at `end`. */
  if (b->head && b->head == b->tail && b->acked == b->end &&
      b->sent == b->end) {
    free(b->head);
    b->head = b->tail = NULL;
    b->head_offset = b->end;
  }
}

size_t zt_sendbuf_unacked(const struct zt_sendbuf *b) {
  return (size_t)(b->end - b->acked);
}

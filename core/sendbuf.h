/*
 * The send buffer of a reliable QUIC stream. ngtcp2 keeps pointers into the
 * bytes we hand it until the peer acknowledges them, so the bytes must never
 * move: the buffer is a chain of fixed-size chunks, appended at the tail and
 * freed from the head as acknowledgements arrive.
 */
#ifndef ZTNA_SENDBUF_H
#define ZTNA_SENDBUF_H

#include <stddef.h>
#include <stdint.h>

#define ZT_SENDBUF_CHUNK 16384

struct zt_sendbuf_chunk;

struct zt_sendbuf {
  struct zt_sendbuf_chunk *head, *tail;
  uint64_t head_offset; /* stream offset of head->data[0] */
  uint64_t end;         /* stream offset after the last appended byte */
  uint64_t sent;        /* bytes handed to ngtcp2 */
  uint64_t acked;       /* bytes acknowledged (prefix) */
};

void zt_sendbuf_init(struct zt_sendbuf *b);
void zt_sendbuf_free(struct zt_sendbuf *b);
/* 0, or -1 when out of memory (nothing appended). */
int zt_sendbuf_append(struct zt_sendbuf *b, const uint8_t *data, size_t len);
/* The next unsent contiguous bytes (len 0: none). */
void zt_sendbuf_unsent(const struct zt_sendbuf *b, const uint8_t **data,
                       size_t *len);
void zt_sendbuf_mark_sent(struct zt_sendbuf *b, size_t len);
/* The peer acknowledged [offset, offset+len): frees chunks wholly before
 * the acknowledged prefix, and the last one too once everything is. Acks arrive in any order; we track the prefix only
 * when it is contiguous, which ngtcp2 guarantees for this callback. */
void zt_sendbuf_ack(struct zt_sendbuf *b, uint64_t offset, uint64_t len);
size_t zt_sendbuf_unacked(const struct zt_sendbuf *b);

#endif

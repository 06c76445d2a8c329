/* Admission tables (admit.c) and their hash (siphash.c). */
#include <arpa/inet.h>
#include <stdlib.h>

#include "admit.h"
#include "siphash.h"
#include "test.h"

static void test_siphash_reference_vectors(void) {
  /* The reference implementation's vectors: key 00..0f, message 00..n-1. */
  uint8_t key[16], msg[15];
  for (int i = 0; i < 16; i++)
    key[i] = (uint8_t)i;
  for (int i = 0; i < 15; i++)
    msg[i] = (uint8_t)i;
  CHECK(zt_siphash(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
  CHECK(zt_siphash(key, msg, 15) == 0xa129ca6149be45e5ULL);
}

static struct zt_admit_ip ip4(uint32_t a) {
  struct sockaddr_in s = {.sin_family = AF_INET};
  struct zt_admit_ip ip;
  s.sin_addr.s_addr = htonl(a);
  zt_admit_ip_of((struct sockaddr *)&s, &ip);
  return ip;
}

/* Counts stay exact through any order of begins and ends (backward-shift
 * deletion keeps every entry findable). */
static void test_counts_exact(void) {
  struct zt_admit a;
  struct zt_admit_limits l;
  zt_admit_limits_defaults(&l);
  l.max_handshakes = 64;
  l.max_per_source = 3;
  CHECK_EQ_INT(zt_admit_init(&a, &l), 0);
  unsigned n[40] = {0};
  srand(7);
  for (int step = 0; step < 20000; step++) {
    uint32_t k = (uint32_t)rand() % 40;
    struct zt_admit_ip ip = ip4(0x0a000000u + k);
    if (rand() % 2) {
      enum zt_admit_verdict v = zt_admit_handshake_begin(&a, &ip);
      size_t total = zt_admit_handshakes(&a);
      if (v == ZT_ADMIT_OK)
        n[k]++;
      else
        CHECK(v == ZT_ADMIT_GLOBAL ? total == 64 : n[k] == 3);
    } else if (n[k]) {
      zt_admit_handshake_end(&a, &ip);
      n[k]--;
    }
    size_t sum = 0;
    for (int i = 0; i < 40; i++)
      sum += n[i];
    CHECK_EQ_INT(zt_admit_handshakes(&a), sum);
  }
  zt_admit_free(&a);
}

/* A source's bucket refills at its rate. */
static void test_reset_refill(void) {
  struct zt_admit a;
  struct zt_admit_limits l;
  zt_admit_limits_defaults(&l);
  CHECK_EQ_INT(zt_admit_init(&a, &l), 0);
  struct zt_admit_ip ip = ip4(0xc0000201u);
  uint64_t t = 5000000000ULL;
  for (unsigned i = 0; i < l.source_resets_burst; i++)
    CHECK_EQ_INT(zt_admit_reset(&a, &ip, t), ZT_ADMIT_OK);
  CHECK_EQ_INT(zt_admit_reset(&a, &ip, t), ZT_ADMIT_SOURCE);
  t += 1000000000ULL / l.source_resets_per_sec; /* one interval later */
  CHECK_EQ_INT(zt_admit_reset(&a, &ip, t), ZT_ADMIT_OK);
  CHECK_EQ_INT(zt_admit_reset(&a, &ip, t), ZT_ADMIT_SOURCE);
  zt_admit_free(&a);
}

int main(void) {
  RUN(test_siphash_reference_vectors);
  RUN(test_counts_exact);
  RUN(test_reset_refill);
  return TEST_EXIT();
}

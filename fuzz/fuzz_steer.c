/*
 * libFuzzer target for worker steering: the input is one UDP payload as
 * it reaches the Intermediate's SO_REUSEPORT group. For every worker count
 * 1..8 the model (core/steer.c) must name a worker that exists or the
 * kernel's hash (-1), and the classic BPF program the kernel runs
 * (platform/steerprog.c), here in the tests' interpreter, must pick the
 * same: a program that read past the payload or disagreed with the model
 * would send a connection's packets to a worker that does not own it.
 */
#include <stdlib.h>
#include <string.h>

#include "../tests/tools/cbpf.h"
#include "steer.h"
#include "steerprog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 2048)
    size = 2048;
  /* Exactly size bytes (ASan flags any read beyond). */
  uint8_t *copy = malloc(size ? size : 1);
  memcpy(copy, data, size);
  for (unsigned n = 1; n <= 8; n++) {
    struct sock_filter prog[ZT_STEER_CBPF_MAX];
    size_t plen = zt_steer_cbpf(n, prog, ZT_STEER_CBPF_MAX);
    int w = zt_steer_worker(copy, size, n);
    if (plen == 0 || w < -1 || w >= (int)n)
      abort();
    uint64_t r = cbpf_run(prog, plen, copy, size);
    if (r == CBPF_BAD || (r >= n ? -1 : (int)r) != w)
      abort();
  }
  free(copy);
  return 0;
}

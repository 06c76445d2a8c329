#include "ccalgo.h"

#include <ngtcp2/ngtcp2.h>
#include <stddef.h>
#include <string.h>

static const struct {
  const char *name;
  int algo;
} algos[] = {
    {"reno", NGTCP2_CC_ALGO_RENO},
    {"cubic", NGTCP2_CC_ALGO_CUBIC},
    {"bbr", NGTCP2_CC_ALGO_BBR},
    {"bbr2", NGTCP2_CC_ALGO_BBR2},
};

_Static_assert(ZT_CC_DEFAULT == NGTCP2_CC_ALGO_BBR2, "ccalgo.h");

static int current = ZT_CC_DEFAULT;

int zt_cc_parse(const char *name, int *algo) {
  for (size_t i = 0; i < sizeof algos / sizeof algos[0]; i++)
    if (strcmp(name, algos[i].name) == 0) {
      *algo = algos[i].algo;
      return 0;
    }
  return -1;
}

const char *zt_cc_name(int algo) {
  for (size_t i = 0; i < sizeof algos / sizeof algos[0]; i++)
    if (algos[i].algo == algo)
      return algos[i].name;
  return "?";
}

int zt_cc_default(void) { return current; }

void zt_cc_set_default(int algo) { current = algo; }

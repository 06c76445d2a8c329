/* A classic BPF interpreter for the tests: only the instructions the
 * steering program (platform/steerprog.c) uses, with the kernel's meaning
 * (net/core/filter.c): packet loads are big-endian; a load past the end of
 * the packet ends the program with 0; jumps are relative to the next
 * instruction. Anything else, or running off the end, is a bug in the
 * program under test: CBPF_BAD. Header-only so that a unit test and a
 * fuzz target can both include it. */
#ifndef ZTNA_TEST_CBPF_H
#define ZTNA_TEST_CBPF_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

#define CBPF_BAD 0xbadbadbaULL /* not a uint32_t: no program returns it */

static inline int cbpf_load(const uint8_t *pkt, size_t len, uint32_t k,
                            unsigned size, uint32_t *a) {
  if (k > len || size > len - k)
    return -1;
  uint32_t v = 0;
  for (unsigned i = 0; i < size; i++)
    v = v << 8 | pkt[k + i];
  *a = v;
  return 0;
}

/* The program's return value, or CBPF_BAD. */
static inline uint64_t cbpf_run(const struct sock_filter *prog, size_t n,
                                const uint8_t *pkt, size_t len) {
  uint32_t a = 0, x = 0;
  for (size_t pc = 0; pc < n; pc++) {
    const struct sock_filter *f = &prog[pc];
    int jump = -1; /* -1: no jump; else the condition's truth */
    switch (f->code) {
    case BPF_LD | BPF_W | BPF_LEN:
      a = (uint32_t)len;
      break;
    case BPF_LD | BPF_W | BPF_ABS:
    case BPF_LD | BPF_H | BPF_ABS:
    case BPF_LD | BPF_B | BPF_ABS: {
      unsigned size = BPF_SIZE(f->code) == BPF_W   ? 4
                      : BPF_SIZE(f->code) == BPF_H ? 2
                                                   : 1;
      if (cbpf_load(pkt, len, f->k, size, &a) != 0)
        return 0;
      break;
    }
    case BPF_MISC | BPF_TAX:
      x = a;
      break;
    case BPF_MISC | BPF_TXA:
      a = x;
      break;
    case BPF_ALU | BPF_MOD | BPF_K:
      if (f->k == 0)
        return CBPF_BAD; /* the kernel's checker refuses it */
      a %= f->k;
      break;
    case BPF_JMP | BPF_JA:
      pc += f->k;
      break;
    case BPF_JMP | BPF_JEQ | BPF_K:
      jump = a == f->k;
      break;
    case BPF_JMP | BPF_JGE | BPF_K:
      jump = a >= f->k;
      break;
    case BPF_JMP | BPF_JSET | BPF_K:
      jump = (a & f->k) != 0;
      break;
    case BPF_RET | BPF_K:
      return f->k;
    case BPF_RET | BPF_A:
      return a;
    default:
      return CBPF_BAD;
    }
    if (jump >= 0)
      pc += jump ? f->jt : f->jf;
  }
  return CBPF_BAD;
}

#endif

/* The steering program. See steerprog.h. */
#include "steerprog.h"

#include <stdint.h>
#include <string.h>

/* "Not mine to pick": any return >= the group's size sends the datagram
 * to the socket the kernel's 4-tuple hash picks. */
#define STEER_HASH 0xffffffffu

/* The instructions, in order; the jump offsets below count them. */
enum {
  I_LEN,       /* A = payload length */
  I_SHORTLEN,  /* len < 5: hash */
  I_TAX,       /* X = len */
  I_FIRST,     /* A = byte 0 */
  I_FORM,      /* bit 0x80: long header */
  I_SHORTKEY,  /* A = bytes 1..4 */
  I_TOKEY,     /* to I_ZERO */
  I_TXA,       /* long header: A = len */
  I_LONGLEN,   /* len < 10: hash */
  I_DCIDLEN,   /* A = byte 5 */
  I_DCIDMIN,   /* DCID length < 4: hash */
  I_LONGKEY,   /* A = bytes 6..9 */
  I_ZERO,      /* key 0 (Retry-answered Initial): hash */
  I_MOD,       /* A = key % n */
  I_RETA,      /* the owner */
  I_RETHASH,   /* the kernel's hash */
  I_COUNT
};

/* Jump offset from instruction `from` to instruction `to` (cBPF jumps are
 * relative to the next instruction). */
#define J(from, to) ((uint8_t)((to) - (from)-1))

size_t zt_steer_cbpf(unsigned n_workers, struct sock_filter *out,
                     size_t cap) {
  if (n_workers <= 1) {
    if (cap < 1)
      return 0;
    out[0] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
    return 1;
  }
  if (cap < I_COUNT)
    return 0;
  /* Every load is behind a length check: a cBPF load past the end ends the
   * program with 0, which would pick socket 0, not the hash. */
  const struct sock_filter prog[I_COUNT] = {
      [I_LEN] = BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
      [I_SHORTLEN] =
          BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 5, 0, J(I_SHORTLEN, I_RETHASH)),
      [I_TAX] = BPF_STMT(BPF_MISC | BPF_TAX, 0),
      [I_FIRST] = BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
      [I_FORM] =
          BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x80, J(I_FORM, I_TXA), 0),
      [I_SHORTKEY] = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 1),
      [I_TOKEY] = BPF_STMT(BPF_JMP | BPF_JA, J(I_TOKEY, I_ZERO)),
      [I_TXA] = BPF_STMT(BPF_MISC | BPF_TXA, 0),
      [I_LONGLEN] =
          BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 10, 0, J(I_LONGLEN, I_RETHASH)),
      [I_DCIDLEN] = BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 5),
      [I_DCIDMIN] =
          BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 4, 0, J(I_DCIDMIN, I_RETHASH)),
      [I_LONGKEY] = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 6),
      [I_ZERO] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, J(I_ZERO, I_RETHASH), 0),
      [I_MOD] = BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, n_workers),
      [I_RETA] = BPF_STMT(BPF_RET | BPF_A, 0),
      [I_RETHASH] = BPF_STMT(BPF_RET | BPF_K, STEER_HASH),
  };
  memcpy(out, prog, sizeof(prog));
  return I_COUNT;
}

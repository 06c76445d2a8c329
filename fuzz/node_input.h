/*
 * Shared by the node-level fuzzers: reading ops from the fuzz input, TLS
 * credentials made once per process (the Intermediate derives its reset
 * secret from its key), silenced logging, and the abort used for a broken
 * invariant.
 */
#ifndef ZTNA_FUZZ_NODE_INPUT_H
#define ZTNA_FUZZ_NODE_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tls.h"

/* The input as a stream of ops; reads past the end give zeros, so every
 * input is a valid program. */
struct fz_in {
  const uint8_t *p;
  size_t left;
};
uint8_t fz_u8(struct fz_in *in);
uint16_t fz_u16(struct fz_in *in);
uint32_t fz_u32(struct fz_in *in);
/* Up to max bytes (fewer at the end of the input). */
size_t fz_bytes(struct fz_in *in, const uint8_t **p, size_t max);

/* Credentials of a throwaway CA's certificate for role/name, made on first
 * use. Aborts if GnuTLS cannot make them: nothing could be fuzzed. */
struct zt_tls_creds *fz_creds(enum zt_role role, const char *name);
/* Logs are formatted (that code sees peers' bytes too) but dropped, unless
 * FUZZ_VERBOSE is set (then printed, and fz_verbose is true: drivers trace
 * their ops too). The audit log is on, each line checked to be one JSON
 * object (an invariant). */
void fz_quiet_logs(void);
extern bool fz_verbose;

/* A broken invariant: says which, then aborts so libFuzzer keeps the
 * input. */
void fz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
#define FZ_CHECK(cond, ...)                                                    \
  do {                                                                         \
    if (!(cond))                                                               \
      fz_fail(__VA_ARGS__);                                                    \
  } while (0)

#endif

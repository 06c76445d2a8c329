/* Helpers of the node-level fuzzers. See node_input.h. */
#include "node_input.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "certgen.h"
#include "json.h"
#include "log.h"

uint8_t fz_u8(struct fz_in *in) {
  if (!in->left)
    return 0;
  in->left--;
  return *in->p++;
}

uint16_t fz_u16(struct fz_in *in) {
  uint16_t hi = fz_u8(in);
  return (uint16_t)(hi << 8 | fz_u8(in));
}

uint32_t fz_u32(struct fz_in *in) {
  uint32_t hi = fz_u16(in);
  return hi << 16 | fz_u16(in);
}

size_t fz_bytes(struct fz_in *in, const uint8_t **p, size_t max) {
  size_t n = max < in->left ? max : in->left;
  *p = in->p;
  in->p += n;
  in->left -= n;
  return n;
}

struct zt_tls_creds *fz_creds(enum zt_role role, const char *name) {
  static struct zt_pem ca;
  char err[256];
  struct zt_pem leaf;
  if (!ca.cert && zt_cert_make_ca("fuzz CA", 1, &ca, err, sizeof(err)) != 0)
    fz_fail("CA: %s", err);
  if (zt_cert_issue(&ca, role, name, 1, NULL, NULL, &leaf, err, sizeof(err)) !=
      0)
    fz_fail("certificate: %s", err);
  struct zt_tls_creds *c =
      zt_tls_creds_from_pem(ca.cert, leaf.cert, leaf.key, err, sizeof(err));
  zt_pem_free(&leaf);
  if (!c)
    fz_fail("credentials: %s", err);
  return c;
}

static void drop_line(enum zt_log_level level, const char *line, void *ud) {
  (void)level;
  (void)line;
  (void)ud;
}

/* FUZZ_VERBOSE=1 when replaying one input: the node's own log, between the
 * driver's op trace lines, is what explains a broken invariant. */
static void print_line(enum zt_log_level level, const char *line, void *ud) {
  (void)level;
  (void)ud;
  fprintf(stderr, "  | %s\n", line);
}

bool fz_verbose;

/* Audit lines are formatted from what peers send (names, reasons): each
 * must be one JSON object on one line, whatever the peers did. */
static int check_audit_line(const char *line, size_t len, void *ud) {
  char err[128] = "";
  (void)ud;
  FZ_CHECK(len > 0 && line[len - 1] == '\n' && !memchr(line, '\n', len - 1),
           "audit line not one line: %.*s", (int)len, line);
  struct zt_json *j = zt_json_parse(line, len, err, sizeof(err));
  FZ_CHECK(j && j->type == ZT_JSON_OBJECT, "audit line not a JSON object "
           "(%s): %.*s", err, (int)len, line);
  zt_json_free(j);
  if (fz_verbose)
    fprintf(stderr, "  audit %.*s", (int)len, line);
  return 0;
}

void fz_quiet_logs(void) {
  fz_verbose = getenv("FUZZ_VERBOSE") != NULL;
  zt_log_set_level(ZT_LOG_DEBUG);
  zt_log_set_sink(fz_verbose ? print_line : drop_line, NULL);
  zt_audit_set_sink(check_audit_line, NULL);
}

void fz_fail(const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "INVARIANT BROKEN: ");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
  abort();
}

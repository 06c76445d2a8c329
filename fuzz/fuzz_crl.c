/*
 * libFuzzer target for loading a CRL (crl.h): the input is the file's text
 * (operator input, but a daemon must fail cleanly, never crash, on any
 * file). A CA is made once per run, so the seeds (CRLs of other CAs, junk)
 * exercise GnuTLS's parsing and our refusal paths; a refusal must give a
 * reason, and anything that loads must answer lookups.
 */
#include <stdlib.h>
#include <string.h>

#include "certgen.h"
#include "crl.h"

static struct zt_pem ca;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[512];
  if (!ca.cert &&
      zt_cert_make_ca("fuzz-ca", 1, &ca, err, sizeof(err)) != 0)
    abort();
  char *text = malloc(size + 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  text[size] = 0;
  struct zt_crl *crl = zt_crl_from_pem(text, ca.cert, err, sizeof(err));
  if (crl) {
    uint8_t serial[ZT_SERIAL_MAX] = {0};
    (void)zt_crl_revoked(crl, serial, size % (ZT_SERIAL_MAX + 1), NULL);
    (void)zt_crl_count(crl);
  } else if (!err[0]) {
    abort(); /* refused without a reason */
  }
  zt_crl_free(crl);
  free(text);
  return 0;
}

/*
 * libFuzzer target for the dashboard's admin certificate check
 * (core/dashcert.c): the input is the certificate chain any client can
 * present in the HTTPS handshake, as up to 4 DER blobs, each preceded by
 * its length (2 bytes, big-endian). The deployment CA is made fresh at the
 * first call, so no input can carry its signature: the verdict must never
 * be "admin", a refusal must say why, and no name comes out of a refusal.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "certgen.h"
#include "dashcert.h"
#include "tls.h"

static struct zt_tls_creds *creds;

static void init(void) {
  struct zt_pem ca = {0}, im = {0};
  char err[256];
  if (zt_cert_make_ca("fuzz-ca", 10, &ca, err, sizeof(err)) ||
      zt_cert_issue(&ca, ZT_ROLE_INTERMEDIATE, "intermediate", 10, NULL, NULL,
                    &im, err, sizeof(err)) ||
      !(creds = zt_tls_creds_from_pem(ca.cert, im.cert, im.key, err,
                                      sizeof(err))))
    abort();
  zt_pem_free(&ca);
  zt_pem_free(&im);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  gnutls_datum_t chain[4];
  unsigned n = 0;
  char name[ZT_NAME_MAX + 1], reason[400] = "";
  if (!creds)
    init();
  while (n < 4 && size >= 2) {
    size_t len = (size_t)data[0] << 8 | data[1];
    data += 2, size -= 2;
    if (len > size)
      len = size;
    chain[n].data = (unsigned char *)data;
    chain[n].size = (unsigned)len;
    n++;
    data += len, size -= len;
  }
  enum zt_dash_cert v = zt_dash_cert_check(creds, n ? chain : NULL, n,
                                           1800000000, name, reason,
                                           sizeof(reason));
  if (v == ZT_DASH_CERT_ADMIN || name[0])
    abort();
  if (v == ZT_DASH_CERT_REFUSED && !reason[0])
    abort();
  if (v == ZT_DASH_CERT_NONE && n != 0)
    abort();
  return 0;
}

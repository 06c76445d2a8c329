/* The CRL read again on reload. See crlreload.h. */
#include "crlreload.h"

#include <stdio.h>
#include <time.h>

#include "crl.h"

int zt_crl_reload(struct zt_tls_creds *creds, const struct zt_tls_paths *paths,
                  char *msg, size_t len) {
  char err[600], warn[400];
  if (!paths->crl[0]) {
    snprintf(msg, len, "no crl configured (configuration changes take a "
                       "restart)");
    return -1;
  }
  struct zt_crl *crl = zt_crl_load_at(paths->crl, paths->ca, (int64_t)time(NULL),
                                      err, sizeof(err), warn, sizeof(warn));
  if (!crl) {
    snprintf(msg, len, "%s; keeping the previous crl", err);
    return -1;
  }
  size_t n = zt_crl_count(crl);
  zt_tls_creds_set_crl(creds, crl);
  snprintf(msg, len, "crl %s reloaded: %zu revoked certificate(s)%s%s",
           paths->crl, n, warn[0] ? "; " : "", warn);
  return 0;
}

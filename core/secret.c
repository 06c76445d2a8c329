/* See secret.h. */
#include "secret.h"

#include <stdlib.h>
#include <string.h>

/* explicit_bzero (glibc >= 2.25) is a call the optimiser must keep, unlike
 * a memset right before free(). */
void zt_wipe(void *p, size_t n) {
  if (p && n)
    explicit_bzero(p, n);
}

void zt_free_secret(void *p, size_t n) {
  zt_wipe(p, n);
  free(p);
}

void zt_free_secret_str(char *s) {
  if (s)
    zt_free_secret(s, strlen(s) + 1);
}

void zt_free_secret_datum(gnutls_datum_t *d) {
  zt_wipe(d->data, d->size);
  gnutls_free(d->data);
  d->data = NULL;
  d->size = 0;
}

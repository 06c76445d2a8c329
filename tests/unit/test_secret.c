/* secret.c: wiping really zeroes, and every free helper takes what it says
 * (NULL, an empty datum, a string) without a leak or a double free (run
 * under ASan by make SAN=1). */
#include <stdlib.h>

#include "secret.h"
#include "test.h"

static void test_wipe(void) {
  unsigned char buf[48];
  memset(buf, 0xa5, sizeof(buf));
  zt_wipe(buf + 8, 32);
  for (size_t i = 0; i < sizeof(buf); i++)
    CHECK_EQ_INT(buf[i], i >= 8 && i < 40 ? 0 : 0xa5);
  zt_wipe(NULL, 10); /* nothing to wipe: no crash */
}

static void test_free_helpers(void) {
  zt_free_secret(NULL, 0);
  zt_free_secret_str(NULL);
  zt_free_secret(malloc(16), 16);
  char *s = malloc(8);
  CHECK(s);
  strcpy(s, "-----BE");
  zt_free_secret_str(s);
  gnutls_datum_t d = {gnutls_malloc(32), 32};
  CHECK(d.data);
  memset(d.data, 0x5a, 32);
  zt_free_secret_datum(&d);
  CHECK(d.data == NULL);
  CHECK_EQ_INT(d.size, 0);
  zt_free_secret_datum(&d); /* emptied: a second call is harmless */
}

int main(void) {
  RUN(test_wipe);
  RUN(test_free_helpers);
  return TEST_EXIT();
}

/*
 * libFuzzer target for the dashboard's credential checks (core/dashauth.c),
 * which read an HTTP Authorization header from anyone who can connect and
 * a token file. Checks that the bearer check accepts exactly
 * "Bearer " + token and nothing else, and that a parsed token keeps the
 * rules it promises (length, printable, no spaces).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dashauth.h"

#define WANT "c2VjcmV0LXRva2VuLWZvci1mdXp6aW5n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  bool ok = zt_dash_bearer_ok(s, WANT);
  if (ok != (strcmp(s, "Bearer " WANT) == 0))
    abort();
  char tok[ZT_DASH_TOKEN_MAX + 1], err[256];
  if (zt_dash_token_parse(s, size, tok, sizeof(tok), err, sizeof(err)) == 0) {
    size_t n = strlen(tok);
    if (n < ZT_DASH_TOKEN_MIN || n > ZT_DASH_TOKEN_MAX)
      abort();
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)tok[i] <= ' ' || (unsigned char)tok[i] >= 0x7f)
        abort();
    /* What it parsed is what it accepts. */
    char hdr[ZT_DASH_TOKEN_MAX + 8];
    memcpy(hdr, "Bearer ", 7);
    memcpy(hdr + 7, tok, n + 1);
    if (!zt_dash_bearer_ok(hdr, tok))
      abort();
  } else if (!err[0]) {
    abort();
  }
  free(s);
  return 0;
}

/*
 * libFuzzer target for reading identities out of peer certificates: the
 * input is the DER a peer presents in its handshake. Half the input also
 * goes to the URI parser directly. A parsed identity must be a valid name.
 */
#include <stdlib.h>
#include <string.h>

#include "identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  enum zt_role role;
  char name[ZT_NAME_MAX + 1], err[256];
  if (zt_identity_from_der(data, size, &role, name, err, sizeof(err)) == 0 &&
      (!zt_name_valid(name) || role == ZT_ROLE_NONE))
    abort();
  if (zt_identity_parse_uri((const char *)data, size, &role, name) == 0 &&
      (!zt_name_valid(name) || strlen(name) > ZT_NAME_MAX))
    abort();
  return 0;
}

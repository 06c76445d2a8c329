/*
 * libFuzzer target for the service address state file (svcpool.h,
 * <state_dir>/service-addresses): the input is the file's text. A daemon
 * must refuse a malformed file with a reason and never crash; what loads
 * must allocate within the rules (every allocated address usable in the
 * range, none equal to a fixed address, none twice) and dump to text that
 * loads back to the same bindings.
 */
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "svcpool.h"

#define NET 0x0a640000u /* 10.100.0.0/28: 14 usable, full quickly */
#define LEN 28

static struct zt_policy pol;

static void check_policy(void) {
  for (size_t i = 0; i < pol.n_services; i++) {
    uint32_t a = pol.services[i].address;
    if (!pol.services[i].allocated)
      continue;
    if (a <= NET || a >= NET + 15)
      abort(); /* outside the range, or its network/broadcast address */
    for (size_t j = 0; j < pol.n_services; j++)
      if (j != i && pol.services[j].address == a)
        abort(); /* twice, or a fixed address */
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct zt_svcpool p, back;
  char err[256] = "";
  size_t skipped;
  zt_svcpool_init(&p, NET, LEN);
  if (zt_svcpool_load(&p, (const char *)data, size, &skipped, err,
                      sizeof(err)) != 0) {
    if (!err[0])
      abort(); /* refused without a reason */
    zt_svcpool_free(&p);
    return 0;
  }
  /* A policy drawn from the input's length: some fixed addresses inside
   * the range, some services without one, names that may be in the file. */
  static const char *const names[] = {"web", "db", "api", "a", "b", "c",
                                      "d",   "e",  "f",   "g", "h", "i"};
  memset(&pol, 0, sizeof(pol));
  for (size_t i = 0; i < 12; i++) {
    struct zt_policy_service *s = &pol.services[pol.n_services++];
    memcpy(s->name, names[i], strlen(names[i]) + 1);
    if ((size >> i) & 1)
      s->address = NET + 1 + (uint32_t)i;
    else
      s->allocated = true;
  }
  if (zt_svcpool_assign(&p, &pol, NULL, NULL, err, sizeof(err)) == 0)
    check_policy();
  else if (!err[0])
    abort();
  size_t need = zt_svcpool_dump(&p, NULL, 0);
  char *text = need != (size_t)-1 ? malloc(need + 1) : NULL;
  if (text) {
    zt_svcpool_dump(&p, text, need + 1);
    zt_svcpool_init(&back, NET, LEN);
    if (zt_svcpool_load(&back, text, need, &skipped, err, sizeof(err)) != 0 ||
        skipped || back.n_bindings != p.n_bindings)
      abort(); /* what we write must read back whole */
    zt_svcpool_free(&back);
    free(text);
  }
  zt_svcpool_free(&p);
  return 0;
}

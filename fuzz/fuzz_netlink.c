/*
 * libFuzzer target for the rtnetlink parser (platform/nlparse.c): the input
 * is one recv()'s worth of netlink messages. The kernel is trusted, but
 * the parser must never read past a message or its attributes; the notice
 * it builds must stay within its bounds, and its description must be a
 * terminated string.
 */
#include <stdlib.h>
#include <string.h>

#include "nlparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct zt_nl_state st; /* kept across inputs: the link table too */
  struct zt_netchange n;
  char text[160];
  if (size > 65536)
    size = 65536;
  /* Exactly size bytes (ASan flags any read beyond), aligned as a
   * recv() buffer is. */
  uint8_t *copy = malloc(size ? size : 1);
  memcpy(copy, data, size);
  memset(&n, 0, sizeof(n));
  st.ignore_ifindex = 9;
  unsigned changed = zt_nl_parse(&st, copy, size, &n);
  if (changed != n.events || (changed == 0) != (n.what == 0) ||
      st.n_links > ZT_NL_LINKS)
    abort();
  zt_netchange_describe(&n, text, sizeof(text));
  if (strnlen(text, sizeof(text)) == sizeof(text))
    abort();
  free(copy);
  return 0;
}

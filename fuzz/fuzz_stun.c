/*
 * libFuzzer target for STUN (core/stun.c): the input is one datagram,
 * as a request at the Intermediate and as a response at `ztna netcheck`.
 * Checks the rules, not just memory safety: an answer is never larger
 * than its request, it is a Binding success with the request's
 * transaction ID that our own client parses back to the sender's address,
 * and a request the responder answers is one the recogniser accepts.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "stun.h"

static void answer_as(const uint8_t *data, size_t size,
                      const struct sockaddr *from) {
  uint8_t out[ZT_STUN_RESPONSE_MAX];
  size_t n;
  enum zt_stun_verdict v = zt_stun_answer(data, size, from, out, sizeof(out),
                                          &n);
  bool req = zt_stun_is_binding_request(data, size);
  if ((v != ZT_STUN_NOT_STUN) != req)
    abort();
  if (v != ZT_STUN_ANSWER) {
    if (n != 0)
      abort();
    return;
  }
  if (n > size || n != zt_stun_response_len(from))
    abort(); /* amplification */
  struct sockaddr_storage m;
  socklen_t ml;
  if (zt_stun_parse_response(out, n, data + 8, &m, &ml) != 0 ||
      m.ss_family != (n == ZT_STUN_RESPONSE_V4 ? AF_INET : AF_INET6))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(40001),
                           .sin_addr = {htonl(0xc6336402)}};
  struct sockaddr_in6 a6 = {.sin6_family = AF_INET6,
                            .sin6_port = htons(40001)};
  a6.sin6_addr.s6_addr[0] = 0x20;
  a6.sin6_addr.s6_addr[15] = 7;
  answer_as(data, size, (struct sockaddr *)&a4);
  answer_as(data, size, (struct sockaddr *)&a6);
  /* As a response to the transaction the input names itself (so the
   * address decoding is reached), and to one it cannot. */
  if (size >= ZT_STUN_HDR) {
    struct sockaddr_storage m;
    socklen_t ml;
    if (zt_stun_parse_response(data, size, data + 8, &m, &ml) == 0 &&
        !(m.ss_family == AF_INET && ml == sizeof(struct sockaddr_in)) &&
        !(m.ss_family == AF_INET6 && ml == sizeof(struct sockaddr_in6)))
      abort();
    static const uint8_t other[ZT_STUN_TXID_LEN] = {0xff};
    if (memcmp(data + 8, other, ZT_STUN_TXID_LEN) != 0 &&
        zt_stun_parse_response(data, size, other, &m, &ml) == 0)
      abort();
  }
  return 0;
}

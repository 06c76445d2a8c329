/*
 * libFuzzer target for IPv4 parsing: the whole input is one packet as read
 * from a TUN device or a peer. Checks the parsed lengths stay inside the
 * input and that ports are only reported with an L4 header present.
 */
#include <stdlib.h>
#include <string.h>

#include "ippkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct zt_ip_info info;
  char s[16];
  zt_ip_checksum(data, size);
  int rc = zt_ip_parse(data, size, &info);
  zt_ip_strerror(rc);
  if (rc != 0)
    return 0;
  if (info.hdr_len < 20 || info.hdr_len > info.total_len ||
      info.total_len > size)
    abort();
  if (!info.l4_ok && (info.sport || info.dport || info.icmp_type))
    abort();
  if (info.l4_ok && info.is_fragment && (data[6] & 0x1f || data[7]))
    abort(); /* a non-first fragment has no L4 header */
  zt_ip_proto_name(info.proto);
  zt_ip4_str(info.src, s);
  if (strlen(s) < 7 || strlen(s) > 15)
    abort();
  return 0;
}

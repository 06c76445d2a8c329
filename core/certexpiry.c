/* Peer certificate expiry on live connections. See certexpiry.h. */
#include "certexpiry.h"

#include <stdio.h>
#include <time.h>

bool zt_cert_expired(int64_t not_after, int64_t wall) {
  return not_after > 0 && wall > not_after;
}

uint64_t zt_cert_next_check(int64_t not_after, bool has_wall, int64_t wall,
                            uint64_t now) {
  if (not_after <= 0 || !has_wall)
    return UINT64_MAX;
  if (zt_cert_expired(not_after, wall))
    return now;
  /* Just past not-after (it is valid through that second). */
  uint64_t left = (uint64_t)(not_after - wall + 1);
  uint64_t wait = left > ZT_CERT_RECHECK_NS / 1000000000ull
                      ? ZT_CERT_RECHECK_NS
                      : left * 1000000000ull;
  return now + wait;
}

bool zt_cert_expiring_soon(int64_t not_after, int64_t wall) {
  return not_after > 0 && not_after - wall < ZT_CERT_WARN_S;
}

void zt_cert_time_str(int64_t t, char *buf, size_t n) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (!gmtime_r(&tt, &tm) || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(buf, n, "@%lld", (long long)t);
}

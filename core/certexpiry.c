/* Peer certificate expiry on live connections. See certexpiry.h. */
#include "certexpiry.h"

#include <stdio.h>
#include <time.h>

#include "log.h"
#include "node_io.h"
#include "quic.h"

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

int64_t zt_io_wall(const struct zt_io *io) {
  return io->wall_clock ? io->wall_clock(io->ud) : 0;
}

bool zt_cert_watch_run(struct zt_cert_watch *cw, const struct zq_conn *q,
                       const struct zt_io *io, uint64_t now, const char *role,
                       const char *name) {
  int64_t not_after = zq_peer_cert(q)->not_after, wall = zt_io_wall(io);
  bool has_wall = io->wall_clock != NULL;
  char when[40];
  zt_cert_time_str(not_after, when, sizeof(when));
  if (has_wall && zt_cert_expired(not_after, wall)) {
    zt_warn("%s %s: certificate expired on %s: closing its connection", role,
            name, when);
    cw->check_at = 0;
    return true;
  }
  if (has_wall && !cw->warned && zt_cert_expiring_soon(not_after, wall)) {
    cw->warned = true;
    zt_warn("%s %s: certificate expires on %s (in %lld days): renew it", role,
            name, when, (long long)((not_after - wall) / 86400));
  }
  uint64_t next = zt_cert_next_check(not_after, has_wall, wall, now);
  cw->check_at = next == UINT64_MAX ? 0 : next;
  return false;
}

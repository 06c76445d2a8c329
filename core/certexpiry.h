/*
 * When a connection's peer certificate expires, the connection ends.
 *
 * The handshake checks dates once; a connection made a minute before the
 * peer's certificate expired would otherwise live on for as long as the
 * peer keeps it up. Each node keeps, per connection, a deadline on its own
 * (monotonic, nanosecond) clock at which it looks at the wall clock
 * (zt_io.wall_clock) again and compares it with the certificate's
 * not-after. The deadline is never more than ZT_CERT_RECHECK_NS away, so a
 * wall clock set forward (an operator, NTP after a long suspend) is noticed
 * within that time rather than when the monotonic clock catches up.
 *
 * Pure arithmetic: the nodes own the timers and the closing.
 */
#ifndef ZTNA_CERTEXPIRY_H
#define ZTNA_CERTEXPIRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZT_CERT_RECHECK_NS (60ull * 1000000000ull)

/* Has a certificate with this not-after (Unix seconds; <= 0: unknown, never)
 * expired at wall time `wall` (Unix seconds)? RFC 5280: valid through
 * not-after inclusive. */
bool zt_cert_expired(int64_t not_after, int64_t wall);

/* The next time (node clock, ns) to look again, at node time `now` and wall
 * time `wall`: `now` when already expired, UINT64_MAX when not_after is
 * unknown or there is no wall clock (has_wall false). */
uint64_t zt_cert_next_check(int64_t not_after, bool has_wall, int64_t wall,
                            uint64_t now);

/* "2026-01-02T03:04:05Z" into buf. */
void zt_cert_time_str(int64_t t, char *buf, size_t n);

/* Within ZT_CERT_WARN_S of expiry (30 days): operators are warned. */
#define ZT_CERT_WARN_S (30ll * 86400ll)
bool zt_cert_expiring_soon(int64_t not_after, int64_t wall);

/* One connection's watch, kept by its node: run it when the handshake is
 * done and again whenever check_at (0: not armed) has come. */
struct zq_conn;
struct zt_io;
struct zt_cert_watch {
  uint64_t check_at;
  bool warned; /* "expires within 30 days" logged once */
};
/* true when q's peer certificate has expired: the caller closes the
 * connection (ZT_ERR_CERT_EXPIRED); the line naming `role name` and the
 * date is logged here, and the watch disarmed. Otherwise re-arms, and
 * warns once within ZT_CERT_WARN_S of expiry. */
bool zt_cert_watch_run(struct zt_cert_watch *cw, const struct zq_conn *q,
                       const struct zt_io *io, uint64_t now, const char *role,
                       const char *name);
/* The io's wall clock, or 0 without one. */
int64_t zt_io_wall(const struct zt_io *io);

#endif

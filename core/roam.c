/* Roaming decisions, without I/O. See roam.h. */
#include "roam.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "jsonw.h"
#include "log.h"
#include "netaddr.h"
#include "strbuf.h"
#include "uplink.h"

#define NS_PER_MS 1000000ULL

/* The changes that can break a path even when our source address stays:
 * the link went away (the NAT may have forgotten us, or we came back on
 * another network with the same address), a default route changed, one of
 * our addresses went. An address added elsewhere cannot. */
#define PATH_SUSPECT                                                         \
  (ZT_NET_ADDR_REMOVED | ZT_NET_LINK_UP | ZT_NET_LINK_DOWN |                 \
   ZT_NET_ROUTE_DEFAULT | ZT_NET_OVERRUN)

enum zt_roam_action zt_roam_decide(const struct zt_roam_facts *f) {
  if (f->uplink == ZT_ROAM_UPLINK_STOPPED)
    return ZT_ROAM_NONE;
  if (!f->have_route)
    return ZT_ROAM_WAIT_ROUTE;
  bool suspect = f->source_changed || f->route_was_lost ||
                 (f->what & PATH_SUSPECT);
  switch (f->uplink) {
  case ZT_ROAM_UPLINK_DOWN:
    /* The reconnect timer may be 30 s away; a new network is the moment
     * to try. */
    return ZT_ROAM_REDIAL;
  case ZT_ROAM_UPLINK_DIALING:
    /* A handshake cannot migrate (RFC 9000 9: not before it is
     * confirmed); its Initials went out from the old address. */
    return suspect ? ZT_ROAM_REDIAL : ZT_ROAM_NONE;
  case ZT_ROAM_UPLINK_UP:
    if (f->source_changed)
      return ZT_ROAM_MIGRATE;
    return suspect ? ZT_ROAM_REVALIDATE : ZT_ROAM_NONE;
  case ZT_ROAM_UPLINK_STOPPED:
    break;
  }
  return ZT_ROAM_NONE;
}

const char *zt_roam_action_name(enum zt_roam_action a) {
  switch (a) {
  case ZT_ROAM_NONE:
    return "none";
  case ZT_ROAM_WAIT_ROUTE:
    return "wait for a route";
  case ZT_ROAM_MIGRATE:
    return "migrate";
  case ZT_ROAM_REVALIDATE:
    return "revalidate";
  case ZT_ROAM_REDIAL:
    return "redial";
  }
  return "?";
}

static void describe_addrs(struct zt_strbuf *sb, const char *verb,
                           const struct sockaddr_storage *a, unsigned kept,
                           unsigned total) {
  char ip[INET6_ADDRSTRLEN];
  if (!total)
    return;
  zt_strbuf_printf(sb, "%saddr %s", sb->off ? ", " : "", verb);
  for (unsigned i = 0; i < kept && i < ZT_NETCHANGE_ADDRS; i++) {
    const void *raw = a[i].ss_family == AF_INET6
                          ? (const void *)&((const struct sockaddr_in6 *)&a[i])
                                ->sin6_addr
                          : (const void *)&((const struct sockaddr_in *)&a[i])
                                ->sin_addr;
    if (!inet_ntop(a[i].ss_family, raw, ip, sizeof(ip)))
      snprintf(ip, sizeof(ip), "?");
    zt_strbuf_printf(sb, " %s", ip);
  }
  if (total > kept)
    zt_strbuf_printf(sb, " (+%u)", total - kept);
}

void zt_netchange_describe(const struct zt_netchange *n, char *buf,
                           size_t len) {
  static const struct {
    unsigned bit;
    const char *name;
  } flags[] = {
      {ZT_NET_LINK_DOWN, "link down"},
      {ZT_NET_LINK_UP, "link up"},
      {ZT_NET_ROUTE_DEFAULT, "default route"},
      {ZT_NET_OVERRUN, "events lost"},
  };
  struct zt_strbuf sb;
  if (!len)
    return;
  buf[0] = 0;
  zt_strbuf_init(&sb, buf, len);
  describe_addrs(&sb, "removed", n->removed,
                 n->n_removed < ZT_NETCHANGE_ADDRS ? n->n_removed
                                                   : ZT_NETCHANGE_ADDRS,
                 n->n_removed);
  describe_addrs(&sb, "added", n->added,
                 n->n_added < ZT_NETCHANGE_ADDRS ? n->n_added
                                                 : ZT_NETCHANGE_ADDRS,
                 n->n_added);
  for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
    if (n->what & flags[i].bit)
      zt_strbuf_printf(&sb, "%s%s", sb.off ? ", " : "", flags[i].name);
  if (!sb.off)
    zt_strbuf_printf(&sb, "no change of interest");
}

void zt_roam_note(struct zt_roam *r, const struct zt_netchange *n,
                  enum zt_roam_action a, uint64_t rtt_ns, uint64_t now) {
  r->changes++;
  r->last_change_ns = now;
  r->last_action = a;
  zt_netchange_describe(n, r->last_change, sizeof(r->last_change));
  r->route_lost = a == ZT_ROAM_WAIT_ROUTE;
  switch (a) {
  case ZT_ROAM_MIGRATE:
  case ZT_ROAM_REVALIDATE: {
    uint64_t grace = ZT_ROAM_GRACE_MIN_MS * NS_PER_MS;
    if (rtt_ns * ZT_ROAM_GRACE_RTTS > grace)
      grace = rtt_ns * ZT_ROAM_GRACE_RTTS;
    if (a == ZT_ROAM_MIGRATE)
      r->migrations++;
    else
      r->revalidations++;
    r->moved_at = now;
    r->check_at = now + grace;
    break;
  }
  case ZT_ROAM_REDIAL:
    r->redials++;
    r->moved_at = r->check_at = 0; /* the handshake has its own timeout */
    break;
  case ZT_ROAM_WAIT_ROUTE:
    r->no_route++;
    r->moved_at = r->check_at = 0;
    break;
  case ZT_ROAM_NONE:
    break;
  }
}

bool zt_roam_grace_failed(struct zt_roam *r, uint64_t last_rx, uint64_t now) {
  if (!r->check_at)
    return false;
  if (last_rx > r->moved_at) { /* the new path answered */
    r->moved_at = r->check_at = 0;
    return false;
  }
  if (now < r->check_at)
    return false;
  r->moved_at = r->check_at = 0;
  r->grace_redials++;
  return true;
}

uint64_t zt_roam_expiry(const struct zt_roam *r) {
  return r->check_at ? r->check_at : UINT64_MAX;
}

/* ---- with the uplink ----------------------------------------------------- */

static bool lookup_source(const struct zt_uplink *u,
                          struct sockaddr_storage *out, socklen_t *outlen) {
  const struct zt_io *io = u->io;
  return io->source_addr &&
         io->source_addr(io->ud, (const struct sockaddr *)&u->server,
                         u->serverlen, out, outlen) == 0;
}

void zt_roam_init(struct zt_roam *r, const struct zt_uplink *u) {
  memset(r, 0, sizeof(*r));
  if (!lookup_source(u, &r->source, &r->sourcelen))
    r->sourcelen = 0;
}

static enum zt_roam_uplink uplink_state(const struct zt_uplink *u) {
  if (zt_uplink_is_replaced(u))
    return ZT_ROAM_UPLINK_STOPPED;
  if (!u->q)
    return ZT_ROAM_UPLINK_DOWN;
  return zt_uplink_is_up(u) ? ZT_ROAM_UPLINK_UP : ZT_ROAM_UPLINK_DIALING;
}

/* The socket's wildcard address with its port: the same socket as `src`. */
static socklen_t wildcard_of(const struct sockaddr_storage *src,
                             struct sockaddr_storage *out) {
  memset(out, 0, sizeof(*out));
  if (src->ss_family == AF_INET6) {
    struct sockaddr_in6 *o = (struct sockaddr_in6 *)out;
    o->sin6_family = AF_INET6;
    o->sin6_port = ((const struct sockaddr_in6 *)src)->sin6_port;
    return sizeof(*o);
  }
  struct sockaddr_in *o = (struct sockaddr_in *)out;
  o->sin_family = AF_INET;
  o->sin_port = ((const struct sockaddr_in *)src)->sin_port;
  return sizeof(*o);
}

enum zt_roam_action zt_roam_on_change(struct zt_roam *r, struct zt_uplink *u,
                                      const struct zt_netchange *n,
                                      uint64_t now) {
  struct sockaddr_storage src, target;
  socklen_t srclen = 0, targetlen;
  char what[160], was[64], is[64];
  bool known = u->io->source_addr != NULL;
  bool found = lookup_source(u, &src, &srclen);
  struct zt_roam_facts f = {
      .what = n->what,
      .have_route = found || !known,
      .source_changed =
          found && (!r->sourcelen ||
                    !zt_netaddr_equal((const struct sockaddr *)&src,
                                      (const struct sockaddr *)&r->source)),
      .route_was_lost = r->route_lost,
      .uplink = uplink_state(u),
  };
  enum zt_roam_action a = zt_roam_decide(&f);
  if (!found) { /* no source known: the socket's own address stands in */
    memcpy(&src, &u->local, u->locallen);
    srclen = u->locallen;
  }
  zt_netchange_describe(n, what, sizeof(what));
  snprintf(was, sizeof(was), "none");
  if (r->sourcelen)
    zt_netaddr_str((const struct sockaddr *)&r->source, was, sizeof(was));
  zt_netaddr_str((const struct sockaddr *)&src, is, sizeof(is));
  if (a == ZT_ROAM_MIGRATE || a == ZT_ROAM_REVALIDATE) {
    /* ngtcp2 migrates only to a local address other than the current one.
     * A new source address is one; for the same source (a link that
     * flapped), the socket's wildcard address names the same socket, and
     * the two take turns. */
    memcpy(&target, &src, srclen);
    targetlen = srclen;
    if (zt_netaddr_equal((const struct sockaddr *)&target,
                         (const struct sockaddr *)&u->local))
      targetlen = wildcard_of(&src, &target);
    if (zt_uplink_migrate(u, (const struct sockaddr *)&target, targetlen,
                          now) != 0) {
      zt_info("network changed (%s): cannot migrate the connection to the "
              "intermediate; dialing again",
              what);
      a = ZT_ROAM_REDIAL;
    }
  }
  zt_info("network changed (%s): source %s -> %s: %s", what, was,
          found ? is : "no route", zt_roam_action_name(a));
  if (a == ZT_ROAM_REDIAL)
    zt_uplink_redial(u, (const struct sockaddr *)&src, srclen,
                     "network changed", now);
  zt_roam_note(r, n, a, zt_uplink_rtt_ns(u), now);
  if (found) {
    r->source = src;
    r->sourcelen = srclen;
  }
  return a;
}

void zt_roam_handle_expiry(struct zt_roam *r, struct zt_uplink *u,
                           uint64_t now) {
  if (zt_roam_grace_failed(r, u->last_rx, now)) {
    zt_warn("roaming: no answer from the intermediate on the new path; "
            "dialing again");
    zt_uplink_redial(u, NULL, 0, "no answer on the new path", now);
  }
}

void zt_roam_status_json(const struct zt_roam *r, struct zt_jsonw *w,
                         uint64_t now) {
  zt_jsonw_begin_object(w, "roaming");
  zt_jsonw_u64(w, "changes", r->changes);
  zt_jsonw_u64(w, "migrations", r->migrations);
  zt_jsonw_u64(w, "revalidations", r->revalidations);
  zt_jsonw_u64(w, "redials", r->redials);
  zt_jsonw_u64(w, "grace_redials", r->grace_redials);
  zt_jsonw_u64(w, "no_route", r->no_route);
  if (r->changes) {
    zt_jsonw_begin_object(w, "last_change");
    zt_jsonw_u64(w, "ago_ms", (now - r->last_change_ns) / NS_PER_MS);
    zt_jsonw_str(w, "what", r->last_change);
    zt_jsonw_str(w, "action", zt_roam_action_name(r->last_action));
    zt_jsonw_end_object(w);
  } else {
    zt_jsonw_null(w, "last_change");
  }
  zt_jsonw_end_object(w);
}

void zt_roam_status(const struct zt_roam *r, struct zt_strbuf *sb) {
  zt_strbuf_printf(sb,
                   "roaming: changes %llu migrations %llu revalidations %llu "
                   "redials %llu grace_redials %llu no_route %llu",
                   (unsigned long long)r->changes,
                   (unsigned long long)r->migrations,
                   (unsigned long long)r->revalidations,
                   (unsigned long long)r->redials,
                   (unsigned long long)r->grace_redials,
                   (unsigned long long)r->no_route);
  if (r->changes)
    zt_strbuf_printf(sb, "; last: %s -> %s", r->last_change,
                     zt_roam_action_name(r->last_action));
  zt_strbuf_printf(sb, "\n");
}

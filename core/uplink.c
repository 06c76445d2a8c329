/*
 * The connection to the Intermediate, kept alive. See uplink.h.
 *
 * Lifecycle: start -> dialing -> handshake done (on_up: HELLO) -> WELCOME
 * (connected) -> ... -> dead (on_down) -> backoff timer -> dialing again.
 * The backoff resets only on WELCOME, so a server that accepts UDP but
 * refuses our certificate is retried at the capped rate, not hammered. A
 * connection that was accepted and then ended by a Stateless Reset or a
 * CONNECTION_CLOSE (the Intermediate restarted or left) is redialled at
 * once: the backoff only starts if that attempt fails too.
 */
#include "uplink.h"

#include "strbuf.h"

#include <gnutls/crypto.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "netaddr.h"
#include "relay.h"
#include "wire.h"

#define NS_PER_MS 1000000ULL

static void cert_check(struct zt_uplink *u, uint64_t now) {
  if (u->q && !zq_is_dead(u->q) &&
      zt_cert_watch_run(&u->cert, u->q, u->io, now, "intermediate",
                        zq_peer_name(u->q)))
    zq_close(u->q, ZT_ERR_CERT_EXPIRED, "intermediate certificate expired");
}

static void on_ready(struct zq_conn *q, void *ud) {
  struct zt_uplink *u = ud;
  u->was_up = true;
  /* Not "connected" yet: the Intermediate may still refuse our
   * certificate. HELLO goes now, WELCOME says it accepted us. */
  zt_dbg("handshake with intermediate %s/%s done, waiting for WELCOME",
         zt_role_name(zq_peer_role(q)), zq_peer_name(q));
  cert_check(u, u->now);
  if (u->h.on_up)
    u->h.on_up(u, u->ud);
}

static void on_welcome(struct zt_uplink *u) {
  char addr[64];
  u->welcomed = true;
  u->welcomed_at = u->now;
  u->stats.connects++;
  zt_hist_observe(&u->stats.handshake, zq_get_stats(u->q)->handshake_ns);
  zt_repeat_reset(&u->fails);
  zt_info("connected to intermediate %s/%s at %s",
          zt_role_name(zq_peer_role(u->q)), zq_peer_name(u->q),
          zt_netaddr_str((struct sockaddr *)&u->server, addr, sizeof(addr)));
}

static void on_ctrl_msg(void *ud, const struct zt_ctrl_msg *m) {
  struct zt_uplink *u = ud;
  /* Only a WELCOME proves the Intermediate accepted us (a refused client
   * certificate shows up after our side of the handshake completes), so
   * only then does the backoff start again from one second. */
  if (m->type == ZT_MSG_WELCOME) {
    if (!u->welcomed)
      on_welcome(u);
    zt_backoff_reset(&u->backoff);
    u->observed = m->u.welcome.observed;
    u->observedlen = sizeof(u->observed);
  } else if (m->type == ZT_MSG_OBSERVED) {
    u->observed = m->u.observed.observed;
    u->observedlen = sizeof(u->observed);
  }
  if (u->h.on_msg)
    u->h.on_msg(u, m, u->ud);
}

static void on_stream(struct zq_conn *q, const uint8_t *data, size_t len,
                      void *ud) {
  struct zt_uplink *u = ud;
  (void)q;
  zt_ctrl_reader_feed(&u->reader, data, len, on_ctrl_msg, u);
}

static void on_datagram(struct zq_conn *q, const uint8_t *data, size_t len,
                        void *ud) {
  struct zt_uplink *u = ud;
  uint32_t channel;
  const uint8_t *payload;
  size_t plen;
  (void)q;
  u->watch_until = u->now + ZT_UPLINK_WATCH_MS * NS_PER_MS;
  if (zt_relay_parse(data, len, &channel, &payload, &plen) != 0) {
    u->stats.relay_malformed++;
    zt_dbg("uplink: dropped malformed relay frame (%zu bytes)", len);
    return;
  }
  if (u->h.on_relay)
    u->h.on_relay(u, channel, payload, plen, u->ud);
}

static const struct zq_handlers uplink_handlers = {
    .on_ready = on_ready,
    .on_stream = on_stream,
    .on_datagram = on_datagram,
};

void zt_uplink_init(struct zt_uplink *u, const struct zq_config *qcfg,
                    const struct zt_io *io, const struct sockaddr *local,
                    socklen_t locallen, const struct sockaddr *server,
                    socklen_t serverlen, const struct zt_uplink_handlers *h,
                    void *ud) {
  memset(u, 0, sizeof(*u));
  u->qcfg = *qcfg;
  u->io = io;
  u->h = *h;
  u->ud = ud;
  memcpy(&u->local, local, locallen);
  u->locallen = locallen;
  memcpy(&u->server, server, serverlen);
  u->serverlen = serverlen;
  zt_ctrl_reader_init(&u->reader);
}

void zt_uplink_free(struct zt_uplink *u) {
  zq_free(u->q);
  u->q = NULL;
}

static void schedule_reconnect(struct zt_uplink *u, uint64_t now,
                               bool quiet) {
  uint32_t r;
  gnutls_rnd(GNUTLS_RND_NONCE, &r, sizeof(r));
  uint64_t ms = zt_backoff_next_ms(&u->backoff, r);
  u->reconnect_at = now + ms * NS_PER_MS;
  if (quiet)
    zt_dbg("reconnecting in %.1f s", (double)ms / 1000.0);
  else
    zt_info("reconnecting in %.1f s", (double)ms / 1000.0);
}

void zt_uplink_start(struct zt_uplink *u, uint64_t now) {
  char err[256], addr[64];
  u->reconnect_at = 0;
  u->was_up = false;
  u->welcomed = false;
  zt_ctrl_reader_init(&u->reader);
  u->last_rx = now;
  u->q = zq_client_new(
      &u->qcfg, &uplink_handlers, u, (struct sockaddr *)&u->local, u->locallen,
      (struct sockaddr *)&u->server, u->serverlen, now, err, sizeof(err));
  if (!u->q) {
    zt_err("cannot dial intermediate: %s", err);
    schedule_reconnect(u, now, false);
    return;
  }
  /* After failures, only the attempts whose failure is logged say so. */
  if (u->fails.count == 0)
    zt_info("dialing intermediate at %s",
            zt_netaddr_str((struct sockaddr *)&u->server, addr, sizeof(addr)));
}

bool zt_uplink_owns(const struct zt_uplink *u, const struct sockaddr *from,
                    const uint8_t *pkt, size_t len) {
  uint32_t key;
  if (!u->q)
    return false;
  if (zq_packet_key(pkt, len, &key) == 0 && key == zq_key(u->q))
    return true;
  return zt_netaddr_equal(from, (const struct sockaddr *)&u->server);
}

void zt_uplink_feed(struct zt_uplink *u, const struct sockaddr *from,
                    socklen_t fromlen, const uint8_t *pkt, size_t len,
                    uint64_t now) {
  if (!u->q)
    return;
  u->now = now;
  u->last_rx = now;
  zq_read(u->q, (struct sockaddr *)&u->local, u->locallen, from, fromlen, pkt,
          len, now);
  zt_uplink_flush(u, now);
}

bool zt_uplink_is_up(const struct zt_uplink *u) {
  return u->q && zq_is_ready(u->q);
}

int zt_uplink_send_msg(struct zt_uplink *u, const struct zt_ctrl_msg *m) {
  uint8_t buf[ZT_CTRL_HDR_LEN + ZT_CTRL_BODY_MAX];
  if (!zt_uplink_is_up(u))
    return -1;
  int n = zt_ctrl_encode(m, buf, sizeof(buf));
  if (n < 0) {
    zt_err("cannot encode %s message", zt_ctrl_type_name(m->type));
    return -1;
  }
  return zq_send_stream(u->q, buf, (size_t)n) == 0 ? 0 : -1;
}

int zt_uplink_send_relay(struct zt_uplink *u, uint32_t channel,
                         const uint8_t *payload, size_t len) {
  uint8_t frame[ZT_OUTER_UDP_PAYLOAD];
  if (!zt_uplink_is_up(u) || len > sizeof(frame) - ZT_RELAY_HDR_LEN) {
    u->stats.relay_send_drops++;
    return -1;
  }
  zt_relay_write_hdr(frame, channel);
  memcpy(frame + ZT_RELAY_HDR_LEN, payload, len);
  if (zq_send_datagram_flow(u->q, channel, frame, len + ZT_RELAY_HDR_LEN) !=
      0) {
    u->stats.relay_send_drops++;
    return -1;
  }
  return 0;
}

size_t zt_uplink_max_relay_payload(const struct zt_uplink *u) {
  return u->q ? zq_max_datagram(u->q) - ZT_RELAY_HDR_LEN
              : ZT_OUTER_DGRAM_MAX - ZT_RELAY_HDR_LEN;
}

void zt_uplink_poke(struct zt_uplink *u, uint64_t now) {
  static const uint8_t pad[ZT_CTRL_HDR_LEN] = {ZT_CTRL_PAD, 0, 0};
  if (!u->welcomed || !zt_uplink_is_up(u) || now < u->next_poke)
    return;
  u->next_poke = now + ZT_UPLINK_POKE_MS * NS_PER_MS;
  if (zq_send_stream(u->q, pad, sizeof(pad)) == 0 && u->poked_at <= u->last_rx)
    u->poked_at = now; /* the first poke since we last heard anything */
}

uint64_t zt_uplink_unanswered_since(const struct zt_uplink *u) {
  return u->q && u->poked_at > u->last_rx ? u->poked_at : 0;
}

/* Ended before the Intermediate accepted us: say why, in words that point
 * at the cause, once per cause and then every ZT_REPEAT_EVERY attempts.
 * True if the failure was logged. */
static bool log_refusal(struct zt_uplink *u, const char *reason) {
  char cause[400];
  uint8_t alert;
  unsigned n;
  if (zq_end_kind(u->q) == ZQ_END_PEER_CLOSED &&
      zq_peer_tls_alert(u->q, &alert))
    zt_refusal_explain(alert, u->qcfg.creds ? u->qcfg.creds->cert_file : "",
                       u->qcfg.creds ? u->qcfg.creds->ca_file : "", cause,
                       sizeof(cause));
  else
    snprintf(cause, sizeof(cause), "%s", reason);
  if (!zt_repeat_should_log(&u->fails, cause, &n)) {
    zt_dbg("cannot connect to intermediate: %s (attempt %u)", cause, n);
    return false;
  }
  if (n == 1)
    zt_warn("cannot connect to intermediate: %s", cause);
  else
    zt_warn("cannot connect to intermediate: %s (%u attempts in a row)",
            cause, n);
  return true;
}

static void go_down(struct zt_uplink *u, uint64_t now) {
  char reason[256];
  uint64_t code;
  bool logged = true;
  snprintf(reason, sizeof(reason), "%s", zq_close_reason(u->q));
  /* Another instance of our identity connected after us: reconnecting
   * would throw it out in turn, and the two would take turns for ever. The
   * newer one keeps the identity; this one stays down until restarted. */
  u->replaced = zq_end_kind(u->q) == ZQ_END_PEER_CLOSED &&
                zq_peer_app_error(u->q, &code) && code == ZT_ERR_REPLACED;
  if (u->replaced)
    zt_err("connection to intermediate closed: %s; another instance of this "
           "identity is running, so this one will not reconnect (restart it "
           "to take over)",
           reason);
  else if (u->welcomed)
    zt_warn("connection to intermediate lost: %s", reason);
  else
    logged = log_refusal(u, reason);
  /* Accepted, then forgotten (Stateless Reset: it restarted) or told
   * goodbye (it is restarting): the first attempt goes at once. At most
   * once per backoff step, should it keep closing us right after WELCOME. */
  enum zq_end end = zq_end_kind(u->q);
  bool at_once = u->welcomed && !u->replaced &&
                 (end == ZQ_END_RESET || end == ZQ_END_PEER_CLOSED) &&
                 now - u->welcomed_at >= ZT_BACKOFF_INITIAL_MS * NS_PER_MS;
  zq_free(u->q);
  u->q = NULL;
  if (u->was_up)
    u->stats.disconnects++;
  u->was_up = false;
  u->welcomed = false;
  u->watch_until = 0;
  if (at_once) {
    u->reconnect_at = now ? now : 1; /* 0 means none pending */
    zt_info("reconnecting now");
  } else if (!u->replaced) {
    schedule_reconnect(u, now, !logged);
  }
  if (u->h.on_down)
    u->h.on_down(u, reason, u->ud);
}

void zt_uplink_flush(struct zt_uplink *u, uint64_t now) {
  if (!u->q)
    return;
  zt_io_send_all(u->io, u->q, now);
  if (zq_is_dead(u->q))
    go_down(u, now);
}

/* When relayed traffic stopped, the uplink's silence is worth a poke:
 * the time of the next one, or UINT64_MAX. */
static uint64_t silence_check_at(const struct zt_uplink *u) {
  if (!u->welcomed || !u->watch_until)
    return UINT64_MAX;
  uint64_t t = u->last_rx + ZT_UPLINK_QUIET_MS * NS_PER_MS;
  if (t < u->next_poke)
    t = u->next_poke;
  return t < u->watch_until ? t : UINT64_MAX;
}

uint64_t zt_uplink_expiry(const struct zt_uplink *u) {
  if (u->q) {
    uint64_t e = zq_expiry(u->q), s = silence_check_at(u);
    if (s < e)
      e = s;
    return u->cert.check_at && u->cert.check_at < e ? u->cert.check_at : e;
  }
  return u->reconnect_at ? u->reconnect_at : UINT64_MAX;
}

void zt_uplink_handle_expiry(struct zt_uplink *u, uint64_t now) {
  if (!u->q) {
    if (u->reconnect_at && now >= u->reconnect_at)
      zt_uplink_start(u, now);
  } else {
    if (zq_expiry(u->q) <= now)
      zq_handle_expiry(u->q, now);
    if (u->cert.check_at && u->cert.check_at <= now)
      cert_check(u, now);
    if (silence_check_at(u) <= now) {
      zt_uplink_poke(u, now);
      if (u->next_poke <= now) /* not sent: no busy loop either */
        u->next_poke = now + ZT_UPLINK_POKE_MS * NS_PER_MS;
    }
  }
  zt_uplink_flush(u, now);
}

uint64_t zt_uplink_rtt_ns(const struct zt_uplink *u) {
  return u->q ? zq_rtt_ns(u->q) : 0;
}

bool zt_uplink_is_replaced(const struct zt_uplink *u) { return u->replaced; }

void zt_uplink_abandon(struct zt_uplink *u, const char *reason, uint64_t now) {
  if (!u->q || zq_is_dead(u->q))
    return;
  zq_close(u->q, 0, reason);
  zt_uplink_flush(u, now); /* sends the close; the connection is dead */
}

void zt_uplink_status(const struct zt_uplink *u, struct zt_strbuf *sb) {
  char q[256];
  if (u->replaced)
    zt_strbuf_printf(sb, "uplink replaced by another instance of this "
                         "identity: not reconnecting\n");
  if (!u->q || !zt_uplink_is_up(u))
    return;
  zq_format_stats(u->q, q, sizeof(q));
  zt_strbuf_printf(sb, "uplink quic: %s\n", q);
}

void zt_uplink_shutdown(struct zt_uplink *u, uint64_t now) {
  u->reconnect_at = 0;
  if (!u->q || zq_is_dead(u->q))
    return;
  zq_close(u->q, 0, "shutting down");
  zt_io_send_all(u->io, u->q, now);
}

int zt_uplink_migrate(struct zt_uplink *u, const struct sockaddr *local,
                      socklen_t locallen, uint64_t now) {
  if (!u->q || !zq_is_ready(u->q) ||
      zq_migrate(u->q, local, locallen, now) != 0)
    return -1;
  memcpy(&u->local, local, locallen);
  u->locallen = locallen;
  return 0;
}

void zt_uplink_redial(struct zt_uplink *u, const struct sockaddr *local,
                      socklen_t locallen, const char *why, uint64_t now) {
  if (u->replaced)
    return;
  if (local) {
    memcpy(&u->local, local, locallen);
    u->locallen = locallen;
  }
  /* No CONNECTION_CLOSE: its path is gone. The Intermediate lets the new
   * connection of our identity replace the old one. */
  if (u->q) {
    zt_info("dropping the connection to intermediate: %s", why);
    zq_free(u->q);
    u->q = NULL;
    if (u->was_up)
      u->stats.disconnects++;
    u->was_up = false;
    if (u->h.on_down)
      u->h.on_down(u, why, u->ud);
  }
  zt_backoff_reset(&u->backoff);
  zt_uplink_start(u, now);
}

/* The mock QUIC layer of the node-level fuzzers. See mock_quic.h. */
#include "mock_quic.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dgramq.h"
#include "identity.h"
#include "pmtu.h"
#include "sendbuf.h"
#include "wire.h"

#define NS_PER_MS 1000000ULL

struct zq_conn {
  struct zq_config cfg;
  struct zq_handlers h;
  void *ud;
  uint32_t key;
  uint64_t serial;
  bool is_server;
  bool first_sent; /* server: its first flight; client: its Initial */
  bool ready, dead, closing_requested, close_sent;
  enum zq_end end;
  bool peer_app_close;
  uint64_t peer_app_error;
  uint64_t app_error;
  char reason[256];
  enum zt_role peer_role;
  char peer_name[ZT_NAME_MAX + 1];
  struct zt_tls_peer_cert peer_cert; /* zero: no serial, no expiry */
  struct sockaddr_storage local, remote;
  socklen_t locallen, remotelen;
  struct zt_sendbuf sbuf;
  struct zt_dgramq dq;
  size_t max_dgram;
  struct zt_pmtu pmtu;
  size_t inflight; /* bytes written since the peer's last ACK */
  uint64_t created, last_recv;
  struct zq_stats stats;
  struct zq_conn *prev, *next; /* every live connection */
};

static struct zq_conn *all;
static size_t n_live;
static uint32_t next_key = 0x10000001;
static uint64_t next_serial = 1;
static struct zq_conn *last_accepted, *last_client, *reading;
static mq_dgram_hook dgram_hook;
static void *dgram_hook_ud;

static void set_dead(struct zq_conn *c, enum zq_end end, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_dead(struct zq_conn *c, enum zq_end end, const char *fmt, ...) {
  if (!c->dead) {
    va_list ap;
    c->end = end;
    va_start(ap, fmt);
    vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
    va_end(ap);
  }
  c->dead = true;
}

/* ---- packets ------------------------------------------------------------ */

static void put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

size_t mq_put_initial(uint8_t *pkt, size_t cap, uint32_t dcid_key) {
  if (cap < MQ_INITIAL_HDR_LEN)
    return 0;
  memset(pkt, 0, MQ_INITIAL_HDR_LEN);
  pkt[0] = 0xc0;
  put_u32(pkt + 1, 1); /* QUIC v1 */
  pkt[5] = ZT_SCID_LEN;
  put_u32(pkt + 6, dcid_key);
  return MQ_INITIAL_HDR_LEN;
}

size_t mq_put_short(uint8_t *pkt, size_t cap, uint32_t dcid_key) {
  if (cap < MQ_SHORT_HDR_LEN)
    return 0;
  memset(pkt, 0, MQ_SHORT_HDR_LEN);
  pkt[0] = 0x40;
  put_u32(pkt + 1, dcid_key);
  return MQ_SHORT_HDR_LEN;
}

size_t mq_put_frame(uint8_t *pkt, size_t len, size_t cap, uint8_t type,
                    const uint8_t *body, size_t blen) {
  if (blen > 0xffff || cap - len < MQ_FRAME_HDR_LEN + blen || len > cap)
    return 0;
  pkt[len] = type;
  pkt[len + 1] = (uint8_t)(blen >> 8);
  pkt[len + 2] = (uint8_t)blen;
  if (blen)
    memcpy(pkt + len + MQ_FRAME_HDR_LEN, body, blen);
  return len + MQ_FRAME_HDR_LEN + blen;
}

int mq_parse_out(const uint8_t *pkt, size_t len, uint32_t *key, bool *initial,
                 struct mq_cursor *frames) {
  if (len < MQ_SHORT_HDR_LEN || (pkt[0] != 0x40 && pkt[0] != 0xf0))
    return -1;
  *key = get_u32(pkt + 1);
  *initial = pkt[0] == 0xf0;
  frames->p = pkt + MQ_SHORT_HDR_LEN;
  frames->left = len - MQ_SHORT_HDR_LEN;
  return 0;
}

bool mq_next_frame(struct mq_cursor *c, uint8_t *type, const uint8_t **body,
                   size_t *blen) {
  if (c->left < MQ_FRAME_HDR_LEN)
    return false;
  size_t n = (size_t)c->p[1] << 8 | c->p[2];
  if (c->left - MQ_FRAME_HDR_LEN < n)
    return false;
  *type = c->p[0];
  *body = c->p + MQ_FRAME_HDR_LEN;
  *blen = n;
  c->p += MQ_FRAME_HDR_LEN + n;
  c->left -= MQ_FRAME_HDR_LEN + n;
  return true;
}

/* ---- introspection ------------------------------------------------------ */

void mq_reset(void) {
  next_key = 0x10000001;
  last_accepted = last_client = reading = NULL;
}
size_t mq_live(void) { return n_live; }
struct zq_conn *mq_last_accepted(void) { return last_accepted; }
struct zq_conn *mq_last_client(void) { return last_client; }
struct zq_conn *mq_reading(void) { return reading; }
uint64_t mq_serial(const struct zq_conn *c) { return c->serial; }
size_t mq_stream_queued(const struct zq_conn *c) {
  return zt_sendbuf_unacked(&c->sbuf);
}
size_t mq_dgram_queued(const struct zq_conn *c) { return c->dq.count; }
size_t mq_inflight(const struct zq_conn *c) { return c->inflight; }
bool mq_close_sent(const struct zq_conn *c) { return c->close_sent; }
struct zq_conn *mq_find(uint64_t serial) {
  for (struct zq_conn *c = all; c; c = c->next)
    if (c->serial == serial)
      return c;
  return NULL;
}
bool mq_is_live(const struct zq_conn *c) {
  for (struct zq_conn *x = all; x; x = x->next)
    if (x == c)
      return true;
  return false;
}
uint64_t mq_app_error(const struct zq_conn *c) { return c->app_error; }
void mq_set_dgram_hook(mq_dgram_hook hook, void *ud) {
  dgram_hook = hook;
  dgram_hook_ud = ud;
}

/* ---- construction ------------------------------------------------------- */

void zq_config_defaults(struct zq_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->max_udp_payload = ZT_OUTER_UDP_PAYLOAD;
  cfg->idle_timeout_ms = ZT_IDLE_TIMEOUT_MS;
  cfg->keepalive_ms = ZT_KEEPALIVE_MS;
  cfg->handshake_timeout_ms = ZT_HANDSHAKE_TIMEOUT_MS;
  cfg->dgram_queue_max = 1024;
}

static struct zq_conn *conn_new(const struct zq_config *cfg,
                                const struct zq_handlers *h, void *ud,
                                bool is_server, const struct sockaddr *local,
                                socklen_t locallen,
                                const struct sockaddr *remote,
                                socklen_t remotelen, uint64_t now) {
  struct zq_conn *c = calloc(1, sizeof(*c));
  if (!c)
    return NULL;
  c->cfg = *cfg;
  c->h = *h;
  c->ud = ud;
  c->is_server = is_server;
  c->key = next_key++;
  c->serial = next_serial++;
  memcpy(&c->local, local, locallen);
  c->locallen = locallen;
  memcpy(&c->remote, remote, remotelen);
  c->remotelen = remotelen;
  c->created = c->last_recv = now;
  zt_sendbuf_init(&c->sbuf);
  /* The same size rule as quic.c: a datagram fits an empty packet. */
  c->max_dgram =
      cfg->max_udp_payload - (ZT_OUTER_UDP_PAYLOAD - ZT_OUTER_DGRAM_MAX);
  /* No path to discover: the search is over at the maximum. */
  zt_pmtu_init(&c->pmtu, cfg->max_udp_payload, cfg->max_udp_payload, now);
  if (zt_dgramq_init(&c->dq, cfg->dgram_queue_max, c->max_dgram) != 0) {
    free(c);
    return NULL;
  }
  c->next = all;
  if (all)
    all->prev = c;
  all = c;
  n_live++;
  return c;
}

struct zq_conn *zq_client_new(const struct zq_config *cfg,
                              const struct zq_handlers *h, void *ud,
                              const struct sockaddr *local, socklen_t locallen,
                              const struct sockaddr *remote,
                              socklen_t remotelen, uint64_t now, char *err,
                              size_t errlen) {
  struct zq_conn *c =
      conn_new(cfg, h, ud, false, local, locallen, remote, remotelen, now);
  if (!c)
    snprintf(err, errlen, "out of memory");
  last_client = c;
  return c;
}

struct zq_conn *
zq_server_accept(const struct zq_config *cfg, const struct zq_handlers *h,
                 void *ud, const struct sockaddr *local, socklen_t locallen,
                 const struct sockaddr *remote, socklen_t remotelen,
                 const uint8_t *pkt, size_t len, uint64_t now, char *err,
                 size_t errlen) {
  last_accepted = NULL;
  /* Like ngtcp2_accept(): only a client Initial opens a connection. Its
   * frames (a ClientHello) complete nothing yet. */
  if (!zq_packet_is_initial(pkt, len) || len < MQ_INITIAL_HDR_LEN ||
      pkt[5] != ZT_SCID_LEN) {
    snprintf(err, errlen, "not a connection-opening packet (%zu bytes)", len);
    return NULL;
  }
  struct zq_conn *c =
      conn_new(cfg, h, ud, true, local, locallen, remote, remotelen, now);
  if (!c) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  last_accepted = c;
  return c;
}

/* The accept path of a real server, for the mock's packets: an Initial's
 * DCID is the 16 bytes after its length byte, as in quic.c's packets. The
 * mock's clients never carry tokens, so there is nothing to validate and a
 * Retry is never written: under the fuzzer's handful of peers the
 * Intermediate never reaches its Retry threshold anyway. */
int zq_initial_parse(const uint8_t *pkt, size_t len, struct zq_initial *ini) {
  memset(ini, 0, sizeof(*ini));
  if (!zq_packet_is_initial(pkt, len) || len < MQ_INITIAL_HDR_LEN ||
      pkt[5] != ZT_SCID_LEN)
    return -1;
  ini->hd.dcid.datalen = ZT_SCID_LEN;
  memcpy(ini->hd.dcid.data, pkt + 6, ZT_SCID_LEN);
  return 0;
}

enum zq_token zq_initial_check_token(const struct zq_config *cfg,
                                     struct zq_initial *ini,
                                     const struct sockaddr *remote,
                                     socklen_t remotelen, uint64_t now) {
  (void)cfg, (void)ini, (void)remote, (void)remotelen, (void)now;
  return ZQ_TOKEN_NONE;
}

size_t zq_write_retry(const struct zq_config *cfg,
                      const struct zq_initial *ini,
                      const struct sockaddr *remote, socklen_t remotelen,
                      uint64_t now, uint8_t *out, size_t cap) {
  (void)cfg, (void)ini, (void)remote, (void)remotelen, (void)now, (void)out;
  (void)cap;
  return 0;
}

struct zq_conn *zq_server_accept_initial(
    const struct zq_config *cfg, const struct zq_handlers *h, void *ud,
    const struct sockaddr *local, socklen_t locallen,
    const struct sockaddr *remote, socklen_t remotelen,
    const struct zq_initial *ini, const uint8_t *pkt, size_t len,
    uint64_t now, char *err, size_t errlen) {
  (void)ini;
  return zq_server_accept(cfg, h, ud, local, locallen, remote, remotelen, pkt,
                          len, now, err, errlen);
}

void zq_free(struct zq_conn *c) {
  if (!c)
    return;
  if (c->prev)
    c->prev->next = c->next;
  else
    all = c->next;
  if (c->next)
    c->next->prev = c->prev;
  n_live--;
  if (last_accepted == c)
    last_accepted = NULL;
  if (last_client == c)
    last_client = NULL;
  if (reading == c)
    reading = NULL;
  zt_sendbuf_free(&c->sbuf);
  zt_dgramq_free(&c->dq);
  free(c);
}

/* ---- packet classification: the real rules ------------------------------ */

uint32_t zq_key(const struct zq_conn *c) { return c->key; }

int zq_packet_key(const uint8_t *pkt, size_t len, uint32_t *key) {
  if (len < 1)
    return -1;
  if (pkt[0] & 0x80) {
    if (len < 6 || pkt[5] != ZT_SCID_LEN || len < 6 + ZT_SCID_LEN)
      return -1;
    *key = get_u32(pkt + 6);
    return 0;
  }
  if (len < 1 + ZT_SCID_LEN)
    return -1;
  *key = get_u32(pkt + 1);
  return 0;
}

bool zq_packet_is_initial(const uint8_t *pkt, size_t len) {
  return len >= 7 && (pkt[0] & 0x80) && ((pkt[0] & 0x30) == 0) &&
         get_u32(pkt + 1) == 1;
}

/* ---- reading ------------------------------------------------------------ */

/* What zt_tls_verify_peer() decides, given the identity the certificate
 * carries. */
static bool verify(struct zq_conn *c, const uint8_t *body, size_t blen,
                   char *why, size_t whylen) {
  char name[ZT_NAME_MAX + 1];
  if (blen < 2 || blen - 1 > ZT_NAME_MAX ||
      !zt_name_valid_n((const char *)body + 1, blen - 1) || body[0] < 1 ||
      body[0] > 3) {
    snprintf(why, whylen, "certificate has no ztna identity");
    return false;
  }
  memcpy(name, body + 1, blen - 1);
  name[blen - 1] = '\0';
  c->peer_role = (enum zt_role)body[0];
  snprintf(c->peer_name, sizeof(c->peer_name), "%s", name);
  if (!(c->cfg.expect.roles & (1u << c->peer_role))) {
    snprintf(why, whylen, "peer %s/%s: role %s not accepted here",
             zt_role_name(c->peer_role), name, zt_role_name(c->peer_role));
    return false;
  }
  if (c->cfg.expect.name && strcmp(c->cfg.expect.name, name) != 0) {
    snprintf(why, whylen, "peer %s/%s: expected name %s",
             zt_role_name(c->peer_role), name, c->cfg.expect.name);
    return false;
  }
  return true;
}

static void on_close_frame(struct zq_conn *c, const uint8_t *b, size_t n) {
  uint64_t code = 0;
  for (size_t i = 0; i < 8 && i < n; i++)
    code = code << 8 | b[i];
  c->peer_app_close = true;
  c->peer_app_error = code;
  set_dead(c, ZQ_END_PEER_CLOSED, "closed by peer: application error 0x%llx%s%.*s",
           (unsigned long long)code, n > 8 ? ": " : "",
           n > 8 ? (int)(n - 8) : 0, n > 8 ? (const char *)b + 8 : "");
  c->closing_requested = false; /* draining: nothing more to send */
  c->close_sent = true;
}

static int read_frames(struct zq_conn *c, struct mq_cursor *cur) {
  uint8_t type;
  const uint8_t *body;
  size_t blen;
  char why[200];

  while (!c->dead && mq_next_frame(cur, &type, &body, &blen)) {
    switch (type) {
    case MQ_F_HANDSHAKE:
      if (c->ready)
        break;
      if (!verify(c, body, blen, why, sizeof(why))) {
        c->peer_role = ZT_ROLE_NONE;
        c->peer_name[0] = '\0';
        set_dead(c, ZQ_END_REFUSED, "peer refused: %s", why);
        c->closing_requested = true; /* the next write sends the alert */
        return -1;
      }
      c->ready = true;
      if (c->h.on_ready)
        c->h.on_ready(c, c->ud);
      break;
    case MQ_F_STREAM:
      /* 1-RTT data before the handshake completes cannot be decrypted. */
      if (c->ready && blen) {
        c->stats.stream_bytes_recv += blen;
        if (c->h.on_stream)
          c->h.on_stream(c, body, blen, c->ud);
      }
      break;
    case MQ_F_DGRAM:
      if (c->ready) {
        c->stats.dgram_recv++;
        if (c->h.on_datagram)
          c->h.on_datagram(c, body, blen, c->ud);
      }
      break;
    case MQ_F_CLOSE:
      on_close_frame(c, body, blen);
      return -1;
    case MQ_F_ACK:
      zt_sendbuf_ack(&c->sbuf, 0, c->sbuf.sent);
      c->inflight = 0;
      break;
    default:
      break; /* an unknown frame: a real stack would close; ignore it */
    }
  }
  return c->dead ? -1 : 0;
}

int zq_read(struct zq_conn *c, const struct sockaddr *local, socklen_t locallen,
            const struct sockaddr *remote, socklen_t remotelen,
            const uint8_t *pkt, size_t len, uint64_t now) {
  struct mq_cursor cur;
  uint32_t key;
  (void)local;
  (void)locallen;

  if (c->dead)
    return -1;
  /* Long-header packets (Initial retransmissions, a stray Initial that hit
   * our key) carry nothing the mock acts on; a short header must carry our
   * connection ID, as anything else would not decrypt. */
  if (len < 1 || (pkt[0] & 0x80))
    return 0;
  if (zq_packet_key(pkt, len, &key) != 0 || key != c->key)
    return 0;
  c->last_recv = now;
  /* The peer moved: ngtcp2 validates the new path and switches to it. */
  if (c->ready && remotelen <= sizeof(c->remote) &&
      (remotelen != c->remotelen || memcmp(remote, &c->remote, remotelen))) {
    memset(&c->remote, 0, sizeof(c->remote));
    memcpy(&c->remote, remote, remotelen);
    c->remotelen = remotelen;
  }
  cur.p = pkt + MQ_SHORT_HDR_LEN;
  cur.left = len - MQ_SHORT_HDR_LEN;
  struct zq_conn *outer = reading;
  reading = c;
  int rv = read_frames(c, &cur);
  reading = outer;
  return rv;
}

/* ---- writing ------------------------------------------------------------ */

static void put_header(struct zq_conn *c, uint8_t *buf, bool initial) {
  memset(buf, 0, MQ_SHORT_HDR_LEN);
  buf[0] = initial ? 0xf0 : 0x40;
  put_u32(buf + 1, c->key);
}

static void copy_to(struct zq_conn *c, struct sockaddr_storage *to,
                    socklen_t *tolen) {
  memcpy(to, &c->remote, c->remotelen);
  *tolen = c->remotelen;
}

ssize_t zq_write(struct zq_conn *c, uint8_t *buf, size_t cap,
                 struct sockaddr_storage *to, socklen_t *tolen, uint64_t now) {
  size_t n = 0;
  (void)now;

  if (cap < MQ_SHORT_HDR_LEN + MQ_FRAME_HDR_LEN + 8 + sizeof(c->reason))
    return c->dead ? (c->close_sent ? 0 : -1) : 0;
  if (c->closing_requested && !c->close_sent) {
    uint8_t body[8 + sizeof(c->reason)];
    size_t rl = strlen(c->reason);
    for (int i = 0; i < 8; i++)
      body[i] = (uint8_t)(c->app_error >> (56 - 8 * i));
    memcpy(body + 8, c->reason, rl);
    put_header(c, buf, false);
    n = mq_put_frame(buf, MQ_SHORT_HDR_LEN, cap, MQ_F_CLOSE, body, 8 + rl);
    c->close_sent = true;
    if (!c->dead)
      c->end = ZQ_END_LOCAL;
    c->dead = true;
    copy_to(c, to, tolen);
    return (ssize_t)n;
  }
  if (c->dead)
    return c->close_sent ? 0 : -1;

  bool first = !c->first_sent;
  c->first_sent = true;
  if (c->inflight >= MQ_INFLIGHT_MAX && !first)
    return 0; /* congestion window full until the peer acknowledges */
  if (cap > c->cfg.max_udp_payload)
    cap = c->cfg.max_udp_payload;
  put_header(c, buf, first && !c->is_server);
  n = MQ_SHORT_HDR_LEN;

  /* Stream bytes first, then datagrams: the order quic.c uses. */
  const uint8_t *sdata;
  size_t slen;
  zt_sendbuf_unsent(&c->sbuf, &sdata, &slen);
  if (c->ready && slen && cap - n > MQ_FRAME_HDR_LEN) {
    size_t take = cap - n - MQ_FRAME_HDR_LEN;
    if (take > slen)
      take = slen;
    n = mq_put_frame(buf, n, cap, MQ_F_STREAM, sdata, take);
    zt_sendbuf_mark_sent(&c->sbuf, take);
    c->stats.stream_bytes_sent += take;
  }
  struct zt_dgram_slot *dg;
  while (c->ready && (dg = zt_dgramq_front(&c->dq)) &&
         cap - n >= MQ_FRAME_HDR_LEN + dg->len) {
    n = mq_put_frame(buf, n, cap, MQ_F_DGRAM, dg->data, dg->len);
    zt_dgramq_pop(&c->dq);
    c->stats.dgram_sent++;
  }
  if (n == MQ_SHORT_HDR_LEN && !first)
    return 0;
  c->inflight += n;
  copy_to(c, to, tolen);
  return (ssize_t)n;
}

uint64_t zq_expiry(const struct zq_conn *c) {
  if (c->dead)
    return UINT64_MAX;
  if (!c->ready)
    return c->created + c->cfg.handshake_timeout_ms * NS_PER_MS;
  return c->last_recv + c->cfg.idle_timeout_ms * NS_PER_MS;
}

int zq_handle_expiry(struct zq_conn *c, uint64_t now) {
  if (c->dead)
    return -1;
  if (now < zq_expiry(c))
    return 0;
  set_dead(c, ZQ_END_TIMEOUT, c->ready ? "idle timeout" : "handshake timed out");
  c->close_sent = true; /* an idle connection closes silently */
  return -1;
}

/* ---- application data --------------------------------------------------- */

int zq_send_stream(struct zq_conn *c, const uint8_t *data, size_t len) {
  if (c->dead || c->closing_requested)
    return ZQ_ERR_CLOSED;
  if (zt_sendbuf_append(&c->sbuf, data, len) != 0)
    return ZQ_ERR_NOMEM;
  return 0;
}

int zq_send_datagram(struct zq_conn *c, const uint8_t *data, size_t len) {
  return zq_send_datagram_flow(c, 0, data, len);
}

int zq_send_datagram_flow(struct zq_conn *c, uint32_t flow,
                          const uint8_t *data, size_t len) {
  if (dgram_hook)
    dgram_hook(dgram_hook_ud, c, data, len);
  if (c->dead || c->closing_requested)
    return ZQ_ERR_CLOSED;
  uint64_t evicted = c->dq.evicted;
  int rv = zt_dgramq_push(&c->dq, flow, data, len);
  c->stats.dgram_drop_fair += c->dq.evicted - evicted;
  switch (rv) {
  case 0:
    return 0;
  case -2:
    c->stats.dgram_drop_too_big++;
    return ZQ_ERR_TOO_BIG;
  default:
    c->stats.dgram_drop_queue_full++;
    return ZQ_ERR_QUEUE_FULL;
  }
}

size_t zq_max_datagram(const struct zq_conn *c) { return c->max_dgram; }

const struct zt_pmtu *zq_pmtu(const struct zq_conn *c) { return &c->pmtu; }
uint64_t zq_pmtu_probes_recv(const struct zq_conn *c) {
  (void)c;
  return 0;
}
void zq_path_changed(struct zq_conn *c, uint64_t now) {
  /* the mock has no probes: the new path is as good as the old */
  zt_pmtu_init(&c->pmtu, c->pmtu.max, c->pmtu.max, now);
}

size_t zq_stream_backlog(const struct zq_conn *c) {
  return zt_sendbuf_unacked(&c->sbuf);
}

enum zq_end zq_end_kind(const struct zq_conn *c) {
  return c->dead ? c->end : ZQ_END_NONE;
}

bool zq_peer_tls_alert(const struct zq_conn *c, uint8_t *alert) {
  (void)c;
  (void)alert;
  return false; /* the mock never refuses a certificate */
}

bool zq_refused_revoked(const struct zq_conn *c) {
  (void)c;
  return false; /* nor for being revoked */
}

bool zq_peer_app_error(const struct zq_conn *c, uint64_t *code) {
  if (!c->peer_app_close)
    return false;
  *code = c->peer_app_error;
  return true;
}

void zq_close(struct zq_conn *c, uint64_t app_error, const char *reason) {
  if (c->dead || c->closing_requested)
    return;
  c->app_error = app_error;
  snprintf(c->reason, sizeof(c->reason), "%s", reason ? reason : "");
  c->closing_requested = true;
}

/* ---- accessors ---------------------------------------------------------- */

bool zq_is_ready(const struct zq_conn *c) { return c->ready && !c->dead; }
bool zq_is_dead(const struct zq_conn *c) { return c->dead; }
const char *zq_close_reason(const struct zq_conn *c) { return c->reason; }
enum zt_role zq_peer_role(const struct zq_conn *c) { return c->peer_role; }
const char *zq_peer_name(const struct zq_conn *c) { return c->peer_name; }
const struct zt_tls_peer_cert *zq_peer_cert(const struct zq_conn *c) {
  return &c->peer_cert;
}

int zq_format_stats(const struct zq_conn *c, char *buf, size_t len) {
  const struct zq_stats *st = &c->stats;
  return snprintf(buf, len,
                  "mock; datagrams sent %llu recv %llu dropped: queue_full "
                  "%llu too_big %llu",
                  (unsigned long long)st->dgram_sent,
                  (unsigned long long)st->dgram_recv,
                  (unsigned long long)st->dgram_drop_queue_full,
                  (unsigned long long)st->dgram_drop_too_big);
}

/* The real size rules (short header only, smaller than the trigger, at
 * most 64 bytes); the bytes are not a real token. */
size_t zq_stateless_reset(const struct zq_config *cfg, const uint8_t *pkt,
                          size_t len, uint8_t *out, size_t cap) {
  if (!cfg->has_reset_secret || len < 1 + ZT_SCID_LEN + 17 ||
      (pkt[0] & 0x80) != 0)
    return 0;
  size_t size = len - 1 > 64 ? 64 : len - 1;
  if (size > cap)
    return 0;
  memset(out, 0x5a, size);
  out[0] = 0x40;
  return size;
}

const struct zq_stats *zq_get_stats(const struct zq_conn *c) {
  return &c->stats;
}
void *zq_user_data(const struct zq_conn *c) { return c->ud; }

const struct sockaddr *zq_remote(const struct zq_conn *c, socklen_t *len) {
  *len = c->remotelen;
  return (const struct sockaddr *)&c->remote;
}

uint64_t zq_rtt_ns(const struct zq_conn *c) {
  (void)c;
  return 0;
}

int zq_migrate(struct zq_conn *c, const struct sockaddr *local,
               socklen_t locallen, uint64_t now) {
  (void)c;
  (void)local;
  (void)locallen;
  (void)now;
  return -1; /* the node fuzzers never roam */
}

/* Both ends of a mock connection derive the same bytes: the label's, so
 * probes between mock peers authenticate. */
int zq_export_key(const struct zq_conn *c, const char *label, uint8_t *out,
                  size_t len) {
  if (!c->ready || c->dead)
    return -1;
  size_t ll = strlen(label);
  for (size_t i = 0; i < len; i++)
    out[i] = (uint8_t)(label[i % ll] + i);
  return 0;
}

/*
 * One QUIC connection over ngtcp2 + GnuTLS, sans-IO. See quic.h.
 *
 * The write path is the only subtle part. zq_write() builds one packet per
 * call: control-stream bytes first (registration must not wait behind
 * bulk traffic), then as many queued datagrams as fit, then whatever ngtcp2
 * itself needs to send (ACKs, PINGs, retransmissions). ngtcp2 0.12 silently
 * skips a datagram that cannot fit in the current packet. Our datagrams
 * always fit an empty packet (zq_max_datagram() is computed for that), so a
 * skip means the packet was full of something else: an ACK, another
 * datagram, or ACK-only packets while the congestion window is full. The
 * datagram stays at the head of the queue; only one skipped in
 * DGRAM_MAX_TRIES packets running is dropped (counted as unplaced), a guard
 * against a queue blocked forever, never a limit normal traffic meets.
 * After a packet with data arrives, ngtcp2's own packets (ACKs, mostly)
 * may wait up to 1 ms for a reply of ours to carry them (ack_held()).
 */
#include "quic.h"

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ccalgo.h"
#include "dgramq.h"
#include "log.h"
#include "lossmap.h"
#include "pmtu.h"
#include "quicmem.h"
#include "secret.h"
#include "sendbuf.h"
#include "wire.h"

#define NS_PER_MS 1000000ULL
/* Under a full congestion window every incoming packet can make us write
 * an ACK-only packet while the head datagram waits: the guard must be far
 * above that (3 tries dropped ~3% of a bulk TCP flow's packets). */
#define DGRAM_MAX_TRIES 256
/* dgram_id of a path MTU probe (pmtu.h): this bit and the probe's id. Other
 * datagrams carry (pmtu sequence << 16 | length), the sequence 0 for those
 * too small to tell anything about the path. */
#define DGRAM_ID_PROBE (1ULL << 63)

static const char tls_priority[] =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
    "+CHACHA20-POLY1305:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:"
    "%DISABLE_TLS13_COMPAT_MODE";

/* Parsed once, shared by every session, never freed. */
static gnutls_priority_t tls_priority_cache;
static int tls_priority_rv;
static pthread_once_t tls_priority_once = PTHREAD_ONCE_INIT;
static void tls_priority_parse(void) {
  tls_priority_rv = gnutls_priority_init(&tls_priority_cache, tls_priority,
                                         NULL);
}

struct zq_conn {
  ngtcp2_crypto_conn_ref conn_ref; /* gnutls session ptr points here */
  ngtcp2_conn *conn;
  gnutls_session_t tls;
  struct zq_config cfg;
  struct zq_handlers h;
  void *ud;
  uint32_t key;
  bool is_server;

  int64_t stream_id; /* the control stream; -1 until open */
  struct zt_sendbuf sbuf;
  struct zt_dgramq dq;
  size_t max_dgram; /* at the configured maximum packet size */
  struct zt_pmtu pmtu;
  struct zt_lossmap loss; /* which datagrams were lost (lossmap.h) */
  uint64_t pmtu_probes_recv; /* padding datagrams received (probes) */

  bool ready, dead, closing_requested, close_sent;
  /* Handshake confirmed (RFC 9001 4.1.2): path MTU probes wait for it, or
   * a probe the path cannot carry could take the client's Finished with
   * it (ngtcp2 coalesces Handshake packets into the probe's datagram). */
  bool confirmed;
  bool got_reset; /* the peer sent a Stateless Reset */
  enum zq_end end;
  bool peer_app_close;     /* the peer closed with an application error */
  uint64_t peer_app_error; /* ...this one */
  uint64_t app_error;
  char reason[256];

  enum zt_role peer_role;
  char peer_name[ZT_NAME_MAX + 1];
  struct zt_tls_peer_cert peer_cert; /* serial, not-after (accepted peer) */
  char refuse_reason[200];
  uint8_t refuse_alert;   /* the TLS alert our refusal is sent with */
  uint8_t peer_tls_alert; /* the peer closed with this TLS alert (0: none) */

  struct sockaddr_storage local, remote;
  socklen_t locallen, remotelen;
  struct zq_stats stats;
  uint64_t last_ts; /* of the call in progress, for ngtcp2's callbacks */

  /* The ACK hold (ack_held()): until when ngtcp2's own packets wait, how
   * many packets with data were read since that window began, and whether
   * the packet being read carries data (a datagram or control bytes). */
  uint32_t hold_rx;
  bool rx_data;
  uint64_t ack_hold_until;
};

static void set_dead(struct zq_conn *c, enum zq_end end, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The first cause wins: it is what the operator needs to read. The reason
 * text may quote the peer's own words; decisions use `end`, never the text. */
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

/* Logs a path MTU change once, with its cause. */
static void note_pmtu(struct zq_conn *c) {
  if (!c->pmtu.changed)
    return;
  c->pmtu.changed = false;
  zt_info("quic %s%s%s: path MTU %zu -> %zu (%s)",
          strcmp(c->cfg.alpn, ZT_ALPN_INNER) ? "outer" : "inner",
          c->peer_name[0] ? " " : "", c->peer_name, c->pmtu.changed_from,
          c->pmtu.plpmtu, zt_pmtu_why_name(c->pmtu.why));
}

void zq_config_defaults(struct zq_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->max_udp_payload = ZT_OUTER_UDP_PAYLOAD;
  cfg->idle_timeout_ms = ZT_IDLE_TIMEOUT_MS;
  cfg->keepalive_ms = ZT_KEEPALIVE_MS;
  cfg->handshake_timeout_ms = ZT_HANDSHAKE_TIMEOUT_MS;
  cfg->dgram_queue_max = 1024;
  cfg->cc_algo = zt_cc_default();
  cfg->key_stride = 1; /* any key: one worker */
  cfg->key_residue = 0;
}

/* ---- connection IDs ----------------------------------------------------- */

static void fill_cid(struct zq_conn *c, ngtcp2_cid *cid) {
  cid->datalen = ZT_SCID_LEN;
  cid->data[0] = (uint8_t)(c->key >> 24);
  cid->data[1] = (uint8_t)(c->key >> 16);
  cid->data[2] = (uint8_t)(c->key >> 8);
  cid->data[3] = (uint8_t)c->key;
  gnutls_rnd(GNUTLS_RND_NONCE, cid->data + 4, ZT_SCID_LEN - 4);
}

static uint32_t read_key(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

int zq_packet_key(const uint8_t *pkt, size_t len, uint32_t *key) {
  if (len < 1)
    return -1;
  if (pkt[0] & 0x80) { /* long header: version(4) then dcid len, dcid */
    if (len < 6 || pkt[5] != ZT_SCID_LEN || len < 6 + ZT_SCID_LEN)
      return -1;
    *key = read_key(pkt + 6);
    return 0;
  }
  if (len < 1 + ZT_SCID_LEN)
    return -1;
  *key = read_key(pkt + 1);
  return 0;
}

bool zq_packet_is_initial(const uint8_t *pkt, size_t len) {
  /* QUIC v1 Initial: long header, type bits 00. The fixed bit may be
   * greased, so it is not checked. */
  return len >= 7 && (pkt[0] & 0x80) && ((pkt[0] & 0x30) == 0) &&
         read_key(pkt + 1) == NGTCP2_PROTO_VER_V1;
}

/* ---- ngtcp2 callbacks --------------------------------------------------- */

static void rand_cb(uint8_t *dest, size_t destlen,
                    const ngtcp2_rand_ctx *rand_ctx) {
  (void)rand_ctx;
  gnutls_rnd(GNUTLS_RND_RANDOM, dest, destlen);
}

/* The stateless reset token of one of our connection IDs: derived from the
 * server's secret when it has one, random otherwise. */
static int reset_token(const struct zq_config *cfg, const ngtcp2_cid *cid,
                       uint8_t *token) {
  if (cfg->has_reset_secret)
    return ngtcp2_crypto_generate_stateless_reset_token(
        token, cfg->reset_secret, sizeof(cfg->reset_secret), cid);
  return gnutls_rnd(GNUTLS_RND_RANDOM, token, NGTCP2_STATELESS_RESET_TOKENLEN)
             ? -1
             : 0;
}

static int get_new_connection_id_cb(ngtcp2_conn *conn, ngtcp2_cid *cid,
                                    uint8_t *token, size_t cidlen,
                                    void *user_data) {
  struct zq_conn *c = user_data;
  (void)conn;
  (void)cidlen;
  fill_cid(c, cid);
  if (reset_token(&c->cfg, cid, token) != 0)
    return NGTCP2_ERR_CALLBACK_FAILURE;
  return 0;
}

static int recv_stateless_reset_cb(ngtcp2_conn *conn,
                                   const ngtcp2_pkt_stateless_reset *sr,
                                   void *user_data) {
  struct zq_conn *c = user_data;
  (void)conn;
  (void)sr;
  c->got_reset = true;
  return 0;
}

/* Allocates the datagram queue when the application queues its first
 * datagram: its slot array alone is 24 KB, and an Intermediate holds
 * thousands of connections that never carry one (idle agents). */
static int dq_ready(struct zq_conn *c) {
  if (c->dq.slots)
    return 0;
  return zt_dgramq_init(&c->dq, c->cfg.dgram_queue_max, c->max_dgram);
}

static int handshake_completed_cb(ngtcp2_conn *conn, void *user_data) {
  struct zq_conn *c = user_data;
  (void)conn;
  /* The client opens the control stream on its next write (open_stream),
   * outside ngtcp2's callback. */
  c->ready = true;
  c->stats.handshake_ns = c->last_ts - c->stats.created_ns;
  if (c->is_server) /* a server's handshake is confirmed once complete */
    c->confirmed = true;
  if (c->h.on_ready)
    c->h.on_ready(c, c->ud);
  return 0;
}

static int handshake_confirmed_cb(ngtcp2_conn *conn, void *user_data) {
  struct zq_conn *c = user_data;
  (void)conn;
  c->confirmed = true;
  return 0;
}

static int recv_stream_data_cb(ngtcp2_conn *conn, uint32_t flags,
                               int64_t stream_id, uint64_t offset,
                               const uint8_t *data, size_t datalen,
                               void *user_data, void *stream_user_data) {
  struct zq_conn *c = user_data;
  (void)flags;
  (void)offset;
  (void)stream_user_data;
  /* Only the first client-initiated bidirectional stream carries control
   * messages; anything else from a peer is ignored but still credited. */
  if (c->is_server && c->stream_id < 0 && stream_id == 0)
    c->stream_id = stream_id;
  if (stream_id == c->stream_id && datalen > 0) {
    c->rx_data = true;
    c->stats.stream_bytes_recv += datalen;
    if (c->h.on_stream)
      c->h.on_stream(c, data, datalen, c->ud);
  }
  ngtcp2_conn_extend_max_stream_offset(conn, stream_id, datalen);
  ngtcp2_conn_extend_max_offset(conn, datalen);
  return 0;
}

static int acked_stream_data_offset_cb(ngtcp2_conn *conn, int64_t stream_id,
                                       uint64_t offset, uint64_t datalen,
                                       void *user_data,
                                       void *stream_user_data) {
  struct zq_conn *c = user_data;
  (void)conn;
  (void)stream_user_data;
  if (stream_id == c->stream_id)
    zt_sendbuf_ack(&c->sbuf, offset, datalen);
  return 0;
}

static int recv_datagram_cb(ngtcp2_conn *conn, uint32_t flags,
                            const uint8_t *data, size_t datalen,
                            void *user_data) {
  struct zq_conn *c = user_data;
  (void)conn;
  (void)flags;
  /* A path MTU probe: padding, on both layers (not a relay frame type, not
   * IPv4). Dropped here, counted, never seen as a malformed datagram. */
  if (datalen == 0 || data[0] == ZT_DGRAM_PADDING) {
    c->pmtu_probes_recv++;
    return 0;
  }
  c->stats.dgram_recv++;
  c->stats.dgram_bytes_recv += datalen;
  c->rx_data = true;
  if (c->h.on_datagram)
    c->h.on_datagram(c, data, datalen, c->ud);
  return 0;
}

/* Datagrams are never retransmitted; counting the lost ones tells an
 * operator where a tunnelled TCP's retransmissions come from. */
static int lost_datagram_cb(ngtcp2_conn *conn, uint64_t dgram_id,
                            void *user_data) {
  struct zq_conn *c = user_data;
  (void)conn;
  if (dgram_id & DGRAM_ID_PROBE) {
    zt_pmtu_probe_lost(&c->pmtu, dgram_id & ~DGRAM_ID_PROBE, c->last_ts);
    return 0;
  }
  /* counted in dgram_lost by the loss map, which sees them all */
  zt_pmtu_data_lost(&c->pmtu, dgram_id >> 16, c->last_ts);
  return 0;
}

static int ack_datagram_cb(ngtcp2_conn *conn, uint64_t dgram_id,
                           void *user_data) {
  struct zq_conn *c = user_data;
  (void)conn;
  if (dgram_id & DGRAM_ID_PROBE)
    zt_pmtu_probe_acked(&c->pmtu, dgram_id & ~DGRAM_ID_PROBE, c->last_ts);
  else {
    zt_lossmap_acked(&c->loss, dgram_id >> 16);
    zt_pmtu_data_acked(&c->pmtu, dgram_id >> 16,
                       (dgram_id & 0xffff) + ZT_QUIC_DGRAM_OVERHEAD);
  }
  return 0;
}

static ngtcp2_conn *get_conn_cb(ngtcp2_crypto_conn_ref *ref) {
  struct zq_conn *c = ref->user_data;
  return c->conn;
}

static const ngtcp2_callbacks base_callbacks = {
    .recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
    .handshake_completed = handshake_completed_cb,
    .handshake_confirmed = handshake_confirmed_cb,
    .encrypt = ngtcp2_crypto_encrypt_cb,
    .decrypt = ngtcp2_crypto_decrypt_cb,
    .hp_mask = ngtcp2_crypto_hp_mask_cb,
    .recv_stream_data = recv_stream_data_cb,
    .acked_stream_data_offset = acked_stream_data_offset_cb,
    .rand = rand_cb,
    .get_new_connection_id = get_new_connection_id_cb,
    .update_key = ngtcp2_crypto_update_key_cb,
    .delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
    .delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
    .recv_datagram = recv_datagram_cb,
    .lost_datagram = lost_datagram_cb,
    .ack_datagram = ack_datagram_cb,
    .recv_stateless_reset = recv_stateless_reset_cb,
    .get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
    .version_negotiation = ngtcp2_crypto_version_negotiation_cb,
};

/* ---- TLS ---------------------------------------------------------------- */

static int verify_cb(gnutls_session_t session) {
  ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr(session);
  struct zq_conn *c = ref->user_data;
  if (zt_tls_verify_peer(session, &c->cfg.expect, c->cfg.creds->crl,
                         &c->peer_role, c->peer_name, &c->peer_cert,
                         c->refuse_reason, sizeof(c->refuse_reason),
                         &c->refuse_alert) != 0)
    return GNUTLS_E_CERTIFICATE_ERROR;
  return 0;
}

static int tls_init(struct zq_conn *c, char *err, size_t errlen) {
  unsigned flags = c->is_server ? GNUTLS_SERVER : GNUTLS_CLIENT;
  gnutls_datum_t alpn = {(unsigned char *)c->cfg.alpn,
                         (unsigned)strlen(c->cfg.alpn)};
  int rv = gnutls_init(&c->tls, flags | GNUTLS_NO_END_OF_EARLY_DATA);
  if (rv != 0) {
    snprintf(err, errlen, "gnutls_init: %s", gnutls_strerror(rv));
    return -1;
  }
  rv = c->is_server ? ngtcp2_crypto_gnutls_configure_server_session(c->tls)
                    : ngtcp2_crypto_gnutls_configure_client_session(c->tls);
  if (rv != 0) {
    snprintf(err, errlen, "ngtcp2_crypto_gnutls_configure_session failed");
    return -1;
  }
  /* One parsed priority cache for every session (GnuTLS counts its
   * references): set_direct() parsed 8 KB of it per connection. */
  pthread_once(&tls_priority_once, tls_priority_parse);
  rv = tls_priority_rv ? tls_priority_rv
                       : gnutls_priority_set(c->tls, tls_priority_cache);
  if (rv != 0) {
    snprintf(err, errlen, "gnutls_priority_set: %s", gnutls_strerror(rv));
    return -1;
  }
  gnutls_session_set_ptr(c->tls, &c->conn_ref);
  rv = gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE,
                              c->cfg.creds->cred);
  if (rv != 0) {
    snprintf(err, errlen, "gnutls_credentials_set: %s", gnutls_strerror(rv));
    return -1;
  }
  gnutls_alpn_set_protocols(
      c->tls, &alpn, 1,
      GNUTLS_ALPN_MANDATORY |
          (c->is_server ? GNUTLS_ALPN_SERVER_PRECEDENCE : 0));
  /* Both sides verify: the server requires a client certificate. */
  gnutls_session_set_verify_function(c->tls, verify_cb);
  if (c->is_server) {
    gnutls_certificate_server_set_request(c->tls, GNUTLS_CERT_REQUIRE);
    /* Do not list our CA in the CertificateRequest: a GnuTLS client would
     * then withhold a certificate from another CA, and all we could log is
     * "certificate required". Seeing it lets us say who was refused and
     * why. */
    gnutls_certificate_send_x509_rdn_sequence(c->tls, 1);
  } else if (c->cfg.expect.name) {
    gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, c->cfg.expect.name,
                           strlen(c->cfg.expect.name));
  }
  return 0;
}

/* ---- construction ------------------------------------------------------- */

/* A random connection key, never 0 (Retry SCIDs carry 0), and in the
 * residue class cfg asks for (quic.h) so the packets of the connection are
 * steered to the worker that creates it. A draw whose rounding lands on 0
 * or wraps past 2^32 is drawn again. */
static uint32_t draw_key(const struct zq_config *cfg) {
  uint32_t stride = cfg->key_stride, key;
  for (;;) {
    gnutls_rnd(GNUTLS_RND_NONCE, &key, sizeof(key));
    if (stride > 1) {
      uint32_t base = key - key % stride;
      key = base + cfg->key_residue % stride;
      if (key < base)
        continue;
    }
    if (key != 0)
      return key;
  }
}

static struct zq_conn *
conn_alloc(const struct zq_config *cfg, const struct zq_handlers *h, void *ud,
           bool is_server, const struct sockaddr *local, socklen_t locallen,
           const struct sockaddr *remote, socklen_t remotelen, uint64_t now) {
  struct zq_conn *c = calloc(1, sizeof(*c));
  if (!c)
    return NULL;
  c->cfg = *cfg;
  c->h = *h;
  c->ud = ud;
  c->is_server = is_server;
  c->stream_id = -1;
  c->stats.created_ns = now;
  c->conn_ref.get_conn = get_conn_cb;
  c->conn_ref.user_data = c;
  c->key = draw_key(cfg);
  memcpy(&c->local, local, locallen);
  c->locallen = locallen;
  memcpy(&c->remote, remote, remotelen);
  c->remotelen = remotelen;
  zt_sendbuf_init(&c->sbuf);
  /* A datagram must fit one packet with the short header and AEAD tag. */
  c->max_dgram =
      cfg->max_udp_payload - (ZT_OUTER_UDP_PAYLOAD - ZT_OUTER_DGRAM_MAX);
  /* Every path starts at QUIC's minimum and discovers upward (pmtu.h). */
  zt_pmtu_init(&c->pmtu,
               cfg->max_udp_payload < ZT_PMTU_BASE ? cfg->max_udp_payload
                                                  : ZT_PMTU_BASE,
               cfg->max_udp_payload, now);
  zt_lossmap_init(&c->loss, zt_pmtu_data_seq(&c->pmtu));
  /* The datagram queue (its slot array alone is 24 KB) waits for the
   * first datagram: a server must keep as little as it can for Initials
   * from anybody, and for idle peers (dq_ready). */
  return c;
}

/* docs/performance.md, "Where the time goes (perf, per layer)": ACK frequency. */
#define ZQ_ACK_THRESH 32
/* docs/performance.md, "ACK-only packets and the relayed round trip". */
#define ZQ_ACK_HOLD_NS (1 * NS_PER_MS)
#define ZQ_ACK_HOLD_PKTS 2

static void fill_settings(const struct zq_config *cfg, ngtcp2_settings *s,
                          uint64_t now) {
  ngtcp2_settings_default(s);
  s->initial_ts = now;
  s->max_tx_udp_payload_size = cfg->max_udp_payload;
  /* Our own path MTU discovery (pmtu.h) sets the size of every packet
   * through the buffer length we give ngtcp2: ngtcp2 0.12's probes only
   * the fixed sizes 1406/1342/1232/1444, so a 1280-byte IPv4 path would end
   * at 1232, too small for the relayed inner connection's 1200-byte
   * packets plus their headers (1245), while 1252 fits. */
  s->no_pmtud = 1;
  s->no_tx_udp_payload_size_shaping = 1;
  s->handshake_timeout = cfg->handshake_timeout_ms * NS_PER_MS;
  s->cc_algo = (ngtcp2_cc_algo)cfg->cc_algo; /* ccalgo.h: why */
  /* An ACK for every ZQ_ACK_THRESH ack-eliciting packets instead of
   * ngtcp2's 2. Every packet here carries a DATAGRAM (ack-eliciting), and
   * with two nested connections each ACK is itself a packet to send,
   * relay and decrypt: at 2, ACK-only packets were 40% of the
   * Intermediate's traffic. ngtcp2 still acknowledges at once on
   * reordering or a gap, and never holds an ACK back longer than
   * min(max_ack_delay, smoothed RTT / 8), so loss detection and the
   * congestion controller still hear within an eighth of a round trip.
   * docs/performance.md: CPU per MB and throughput for 2..64. */
  s->ack_thresh = ZQ_ACK_THRESH;
  /* Never set s->qlog: this ngtcp2 version's qlog writer has overflows. */
}

static void fill_params(const struct zq_config *cfg, ngtcp2_transport_params *p,
                        bool is_server) {
  ngtcp2_transport_params_default(p);
  p->initial_max_streams_bidi = is_server ? 1 : 0;
  p->initial_max_stream_data_bidi_local = 256 * 1024;
  p->initial_max_stream_data_bidi_remote = 256 * 1024;
  p->initial_max_data = 1024 * 1024;
  p->max_idle_timeout = cfg->idle_timeout_ms * NS_PER_MS;
  p->max_datagram_frame_size = 65535;
  p->active_connection_id_limit = 4;
}

static int conn_finish(struct zq_conn *c, char *err, size_t errlen) {
  if (tls_init(c, err, errlen) != 0)
    return -1;
  ngtcp2_conn_set_tls_native_handle(c->conn, c->tls);
  if (c->cfg.keepalive_ms)
    ngtcp2_conn_set_keep_alive_timeout(c->conn,
                                       c->cfg.keepalive_ms * NS_PER_MS);
  return 0;
}

struct zq_conn *zq_client_new(const struct zq_config *cfg,
                              const struct zq_handlers *h, void *ud,
                              const struct sockaddr *local, socklen_t locallen,
                              const struct sockaddr *remote,
                              socklen_t remotelen, uint64_t now, char *err,
                              size_t errlen) {
  struct zq_conn *c =
      conn_alloc(cfg, h, ud, false, local, locallen, remote, remotelen, now);
  ngtcp2_settings settings;
  ngtcp2_transport_params params;
  ngtcp2_cid dcid, scid;
  ngtcp2_callbacks cb = base_callbacks;

  if (!c) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  cb.client_initial = ngtcp2_crypto_client_initial_cb;
  cb.recv_retry = ngtcp2_crypto_recv_retry_cb;
  fill_settings(cfg, &settings, now);
  fill_params(cfg, &params, false);
  dcid.datalen = ZT_SCID_LEN;
  gnutls_rnd(GNUTLS_RND_RANDOM, dcid.data, dcid.datalen);
  fill_cid(c, &scid);
  ngtcp2_path path = {
      {(struct sockaddr *)&c->local, c->locallen},
      {(struct sockaddr *)&c->remote, c->remotelen},
      NULL,
  };
  int rv =
      ngtcp2_conn_client_new(&c->conn, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1,
                             &cb, &settings, &params, zq_mem(), c);
  if (rv != 0) {
    snprintf(err, errlen, "ngtcp2_conn_client_new: %s", ngtcp2_strerror(rv));
    zq_free(c);
    return NULL;
  }
  if (conn_finish(c, err, errlen) != 0) {
    zq_free(c);
    return NULL;
  }
  return c;
}

/* ---- address validation and accept ---------------------------------------- */

int zq_initial_parse(const uint8_t *pkt, size_t len, struct zq_initial *ini) {
  memset(ini, 0, sizeof(*ini));
  return ngtcp2_accept(&ini->hd, pkt, len) == 0 ? 0 : -1;
}

/* Tokens authenticate the client's address as raw sockaddr bytes: only the
 * family, address and port may count, never padding or flow labels. */
static socklen_t canon_addr(const struct sockaddr *sa, socklen_t salen,
                            struct sockaddr_storage *out) {
  memset(out, 0, sizeof(*out));
  if (sa->sa_family == AF_INET && salen >= sizeof(struct sockaddr_in)) {
    struct sockaddr_in *o = (struct sockaddr_in *)out;
    const struct sockaddr_in *i = (const struct sockaddr_in *)sa;
    o->sin_family = AF_INET;
    o->sin_port = i->sin_port;
    o->sin_addr = i->sin_addr;
    return sizeof(*o);
  }
  if (sa->sa_family == AF_INET6 && salen >= sizeof(struct sockaddr_in6)) {
    struct sockaddr_in6 *o = (struct sockaddr_in6 *)out;
    const struct sockaddr_in6 *i = (const struct sockaddr_in6 *)sa;
    o->sin6_family = AF_INET6;
    o->sin6_port = i->sin6_port;
    o->sin6_addr = i->sin6_addr;
    o->sin6_scope_id = i->sin6_scope_id;
    return sizeof(*o);
  }
  return 0;
}

enum zq_token zq_initial_check_token(const struct zq_config *cfg,
                                     struct zq_initial *ini,
                                     const struct sockaddr *remote,
                                     socklen_t remotelen, uint64_t now) {
  struct sockaddr_storage ca;
  socklen_t calen = canon_addr(remote, remotelen, &ca);
  const ngtcp2_vec *t = &ini->hd.token;
  if (t->len == 0)
    return ZQ_TOKEN_NONE;
  /* We never send NEW_TOKEN, so a Retry token is the only kind we know. */
  if (!cfg->has_token_secret || calen == 0 ||
      t->base[0] != NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY ||
      ngtcp2_crypto_verify_retry_token(
          &ini->odcid, t->base, t->len, cfg->token_secret,
          sizeof(cfg->token_secret), ini->hd.version, (struct sockaddr *)&ca,
          calen, &ini->hd.dcid, ZQ_RETRY_TOKEN_MS * NS_PER_MS, now) != 0)
    return ZQ_TOKEN_INVALID;
  ini->validated = true;
  return ZQ_TOKEN_VALID;
}

size_t zq_write_retry(const struct zq_config *cfg,
                      const struct zq_initial *ini,
                      const struct sockaddr *remote, socklen_t remotelen,
                      uint64_t now, uint8_t *out, size_t cap) {
  struct sockaddr_storage ca;
  socklen_t calen = canon_addr(remote, remotelen, &ca);
  uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN];
  ngtcp2_cid scid;
  if (!cfg->has_token_secret || calen == 0)
    return 0;
  /* The Retry's SCID becomes the DCID of the client's next Initial. Its
   * key bytes are zero, a key no connection has (quic.h), so that Initial
   * and its retransmissions never reach an existing connection by
   * accident. */
  scid.datalen = ZT_SCID_LEN;
  memset(scid.data, 0, 4);
  gnutls_rnd(GNUTLS_RND_NONCE, scid.data + 4, ZT_SCID_LEN - 4);
  ngtcp2_ssize tlen = ngtcp2_crypto_generate_retry_token(
      token, cfg->token_secret, sizeof(cfg->token_secret), ini->hd.version,
      (struct sockaddr *)&ca, calen, &scid, &ini->hd.dcid, now);
  if (tlen < 0)
    return 0;
  ngtcp2_ssize n =
      ngtcp2_crypto_write_retry(out, cap, ini->hd.version, &ini->hd.scid,
                                &scid, &ini->hd.dcid, token, (size_t)tlen);
  return n > 0 ? (size_t)n : 0;
}

struct zq_conn *zq_server_accept_initial(
    const struct zq_config *cfg, const struct zq_handlers *h, void *ud,
    const struct sockaddr *local, socklen_t locallen,
    const struct sockaddr *remote, socklen_t remotelen,
    const struct zq_initial *ini, const uint8_t *pkt, size_t len,
    uint64_t now, char *err, size_t errlen) {
  struct zq_conn *c =
      conn_alloc(cfg, h, ud, true, local, locallen, remote, remotelen, now);
  if (!c) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  ngtcp2_settings settings;
  ngtcp2_transport_params params;
  ngtcp2_cid scid;
  ngtcp2_callbacks cb = base_callbacks;
  cb.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
  fill_settings(cfg, &settings, now);
  fill_params(cfg, &params, true);
  if (ini->validated) {
    /* RFC 9000 7.3: the client checks both against what it sent and got.
     * The token also tells ngtcp2 the address is validated (no
     * anti-amplification limit). */
    params.original_dcid = ini->odcid;
    params.retry_scid = ini->hd.dcid;
    params.retry_scid_present = 1;
    settings.token = ini->hd.token;
  } else {
    params.original_dcid = ini->hd.dcid;
  }
  fill_cid(c, &scid);
  params.stateless_reset_token_present = 1;
  if (reset_token(cfg, &scid, params.stateless_reset_token) != 0) {
    snprintf(err, errlen, "cannot make a stateless reset token");
    zq_free(c);
    return NULL;
  }
  ngtcp2_path path = {
      {(struct sockaddr *)&c->local, c->locallen},
      {(struct sockaddr *)&c->remote, c->remotelen},
      NULL,
  };
  int rv = ngtcp2_conn_server_new(&c->conn, &ini->hd.scid, &scid, &path,
                                  ini->hd.version, &cb, &settings, &params,
                                  zq_mem(), c);
  if (rv != 0) {
    snprintf(err, errlen, "ngtcp2_conn_server_new: %s", ngtcp2_strerror(rv));
    zq_free(c);
    return NULL;
  }
  if (conn_finish(c, err, errlen) != 0) {
    zq_free(c);
    return NULL;
  }
  if (zq_read(c, local, locallen, remote, remotelen, pkt, len, now) != 0) {
    snprintf(err, errlen, "%s", c->reason);
    zq_free(c);
    return NULL;
  }
  return c;
}

struct zq_conn *
zq_server_accept(const struct zq_config *cfg, const struct zq_handlers *h,
                 void *ud, const struct sockaddr *local, socklen_t locallen,
                 const struct sockaddr *remote, socklen_t remotelen,
                 const uint8_t *pkt, size_t len, uint64_t now, char *err,
                 size_t errlen) {
  struct zq_initial ini;
  if (zq_initial_parse(pkt, len, &ini) != 0) {
    snprintf(err, errlen, "not a connection-opening packet (%zu bytes)", len);
    return NULL;
  }
  return zq_server_accept_initial(cfg, h, ud, local, locallen, remote,
                                  remotelen, &ini, pkt, len, now, err, errlen);
}

void zq_free(struct zq_conn *c) {
  if (!c)
    return;
  if (c->conn)
    ngtcp2_conn_del(c->conn);
  if (c->tls)
    gnutls_deinit(c->tls);
  zt_sendbuf_free(&c->sbuf);
  zt_dgramq_free(&c->dq);
  zt_free_secret(c, sizeof(*c)); /* its config copy holds the server secrets */
}

/* ---- I/O ---------------------------------------------------------------- */

static void note_read_error(struct zq_conn *c, int rv) {
  ngtcp2_connection_close_error ccerr;

  if (c->got_reset) {
    set_dead(c, ZQ_END_RESET, "stateless reset: the peer no longer knows this connection "
                "(restarted?)");
    c->close_sent = true; /* nothing to tell a peer that forgot us */
    return;
  }

  if (rv == NGTCP2_ERR_DRAINING || rv == NGTCP2_ERR_CLOSING) {
    ngtcp2_conn_get_connection_close_error(c->conn, &ccerr);
    char what[80];
    if (ccerr.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT &&
        ccerr.error_code >= NGTCP2_CRYPTO_ERROR &&
        ccerr.error_code < NGTCP2_CRYPTO_ERROR + 0x100) {
      const char *a = gnutls_alert_get_strname(
          (gnutls_alert_description_t)(ccerr.error_code & 0xff));
      snprintf(what, sizeof(what), "TLS alert %s", a ? a : "?");
      c->peer_tls_alert = (uint8_t)(ccerr.error_code & 0xff);
    } else {
      snprintf(what, sizeof(what), "%s error 0x%llx",
               ccerr.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION
                   ? "application"
                   : "transport",
               (unsigned long long)ccerr.error_code);
    }
    if (ccerr.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION) {
      c->peer_app_error = ccerr.error_code;
      c->peer_app_close = true;
    }
    set_dead(c, ZQ_END_PEER_CLOSED, "closed by peer: %s%s%.*s", what, ccerr.reasonlen ? ": " : "",
             (int)ccerr.reasonlen,
             ccerr.reason ? (const char *)ccerr.reason : "");
    return;
  }
  if (c->refuse_reason[0]) {
    set_dead(c, ZQ_END_REFUSED, "peer refused: %s", c->refuse_reason);
  } else if (rv == NGTCP2_ERR_CRYPTO) {
    const char *a = gnutls_alert_get_strname(
        (gnutls_alert_description_t)ngtcp2_conn_get_tls_alert(c->conn));
    set_dead(c, ZQ_END_ERROR, "TLS handshake failed: %s", a ? a : "unknown alert");
  } else {
    set_dead(c, ZQ_END_ERROR, "%s", ngtcp2_strerror(rv));
  }
  /* Our side failed: the next zq_write() tells the peer why. */
  c->closing_requested = true;
}

/* Large datagrams that a later one's acknowledgement passed over are lost
 * (zt_pmtu_sweep: ngtcp2 does not report those it sent a loss probe for).
 * RFC 9002's time threshold, 9/8 of the RTT, 1 ms at least. */
static void sweep_datagrams(struct zq_conn *c, uint64_t now) {
  if (c->pmtu.npending == 0 && c->loss.base >= c->loss.acked_max)
    return; /* nothing acknowledged past what is judged */
  ngtcp2_conn_stat cs;
  ngtcp2_conn_get_conn_stat(c->conn, &cs);
  uint64_t rtt = cs.smoothed_rtt > cs.latest_rtt ? cs.smoothed_rtt
                                                 : cs.latest_rtt;
  uint64_t delay = rtt + rtt / 8;
  if (delay < NGTCP2_MILLISECONDS)
    delay = NGTCP2_MILLISECONDS;
  c->stats.dgram_lost += zt_lossmap_sweep(&c->loss, now, delay);
  if (c->pmtu.npending)
    zt_pmtu_sweep(&c->pmtu, now, delay);
}

int zq_read(struct zq_conn *c, const struct sockaddr *local, socklen_t locallen,
            const struct sockaddr *remote, socklen_t remotelen,
            const uint8_t *pkt, size_t len, uint64_t now) {
  ngtcp2_path path = {
      {(struct sockaddr *)local, locallen},
      {(struct sockaddr *)remote, remotelen},
      NULL,
  };
  ngtcp2_pkt_info pi = {0};

  if (c->dead)
    return -1;
  c->last_ts = now;
  bool was_confirmed = c->confirmed;
  c->rx_data = false;
  uint64_t acked_any = c->pmtu.acked_any;
  int rv = ngtcp2_conn_read_pkt(c->conn, &path, &pi, pkt, len, now);
  if (c->confirmed && c->pmtu.acked_any != acked_any)
    sweep_datagrams(c, now);
  note_pmtu(c);
  if (rv == 0) {
    /* Only packets with data open or count toward a window: an ACK-only
     * packet needs no answer, and a PING or a path MTU probe is answered
     * on ngtcp2's own timer. Nor is the handshake held: its ACKs,
     * HANDSHAKE_DONE and the first control messages go at once. */
    if (was_confirmed && c->rx_data) {
      if (now >= c->ack_hold_until) { /* a new window */
        c->ack_hold_until = now + ZQ_ACK_HOLD_NS;
        c->hold_rx = 0;
      }
      c->hold_rx++;
    }
    return 0;
  }
  /* A packet that fails to decrypt or parse is ngtcp2's to discard; only
   * errors that end the connection reach here (see ngtcp2_conn_read_pkt). */
  if (rv == NGTCP2_ERR_DROP_CONN || rv == NGTCP2_ERR_DRAINING ||
      rv == NGTCP2_ERR_CLOSING) {
    note_read_error(c, rv);
    c->closing_requested = false; /* nothing more to send */
    c->close_sent = true;
    return -1;
  }
  if (rv == NGTCP2_ERR_RETRY || rv == NGTCP2_ERR_DISCARD_PKT)
    return 0;
  note_read_error(c, rv);
  return -1;
}

static ssize_t write_close(struct zq_conn *c, uint8_t *buf, size_t cap,
                           ngtcp2_path_storage *ps, uint64_t now) {
  ngtcp2_connection_close_error ccerr;
  ngtcp2_pkt_info pi;

  c->close_sent = true;
  if (ngtcp2_conn_is_in_closing_period(c->conn) ||
      ngtcp2_conn_is_in_draining_period(c->conn))
    return 0;
  if (c->refuse_reason[0] || ngtcp2_conn_get_tls_alert(c->conn)) {
    /* Our own verdict names the cause (expired, unknown CA, ...); GnuTLS
     * would say bad_certificate for every refusal. */
    ngtcp2_connection_close_error_set_transport_error_tls_alert(
        &ccerr,
        c->refuse_reason[0] && c->refuse_alert
            ? c->refuse_alert
            : ngtcp2_conn_get_tls_alert(c->conn),
        NULL, 0);
  } else {
    ngtcp2_connection_close_error_set_application_error(
        &ccerr, c->app_error, (const uint8_t *)c->reason, strlen(c->reason));
  }
  ngtcp2_ssize n = ngtcp2_conn_write_connection_close(c->conn, &ps->path, &pi,
                                                      buf, cap, &ccerr, now);
  return n > 0 ? n : 0;
}

static void copy_to(const ngtcp2_path *path, struct sockaddr_storage *to,
                    socklen_t *tolen) {
  memcpy(to, path->remote.addr, path->remote.addrlen);
  *tolen = (socklen_t)path->remote.addrlen;
}

/* A path MTU probe when one is due: one DATAGRAM of padding alone in a
 * packet of exactly the probe size (ngtcp2 pads a packet to the buffer's
 * end once less than 10 bytes are left, so the payload leaves 2..5 for any
 * packet number length). Its acknowledgement or loss comes back through
 * ack_datagram_cb/lost_datagram_cb. 0 when none is sent. */
static ngtcp2_ssize write_probe(struct zq_conn *c, uint8_t *buf, size_t cap,
                                ngtcp2_path_storage *ps, uint64_t now) {
  static const uint8_t zeros[ZT_OUTER_UDP_PAYLOAD]; /* ZT_DGRAM_PADDING */
  size_t size = zt_pmtu_probe_size(&c->pmtu);
  ngtcp2_pkt_info pi;
  int accepted = 0;
  if (!c->confirmed || size == 0 || size > cap || size > sizeof(zeros))
    return 0;
  ngtcp2_vec v = {(uint8_t *)zeros, size - ZT_QUIC_DGRAM_OVERHEAD - 2};
  uint64_t id = c->pmtu.next_probe_id;
  ngtcp2_ssize n = ngtcp2_conn_writev_datagram(
      c->conn, &ps->path, &pi, buf, size, &accepted,
      NGTCP2_WRITE_DATAGRAM_FLAG_NONE, DGRAM_ID_PROBE | id, &v, 1, now);
  if (n > 0 && accepted)
    zt_pmtu_probe_sent(&c->pmtu, now, 3 * ngtcp2_conn_get_pto(c->conn));
  return n;
}

/* The largest datagram this connection may carry once its path MTU search
 * is over. A datagram above the current size but within this one waits in
 * the queue for the search instead of being dropped: right after a
 * connection starts (1200 bytes) the first relayed inner packets (1205)
 * would otherwise be lost and the inner handshake would wait for its
 * retransmission timer. The first probe (the maximum) settles it within a
 * round trip on a normal path. */
static size_t dgram_confirmed(const struct zq_conn *c) {
  size_t now = c->pmtu.plpmtu - ZT_QUIC_DGRAM_OVERHEAD;
  return now < c->max_dgram ? now : c->max_dgram;
}

static size_t dgram_possible(const struct zq_conn *c) {
  if (c->pmtu.state != ZT_PMTU_SEARCHING)
    return dgram_confirmed(c);
  size_t hi = c->pmtu.fail_size > c->pmtu.max ? c->pmtu.max
                                              : c->pmtu.fail_size - 1;
  hi -= ZT_QUIC_DGRAM_OVERHEAD;
  return hi < c->max_dgram ? hi : c->max_dgram;
}

/* Whether ngtcp2's own packet (an ACK-only packet, mostly) should wait a
 * little for data of ours to ride on.
 *
 * ngtcp2 0.12 acknowledges at once any ack-eliciting packet whose number
 * is not one above the last ack-eliciting one, even when the packets in
 * between were the peer's own ACK-only packets and nothing is missing
 * (newer ngtcp2 checks for a real gap), and otherwise after an eighth of
 * the RTT: tens of microseconds on a LAN. Traffic in both directions (a
 * ping and its reply, a request and its response, TCP and its ACKs) thus
 * made each side answer each packet with an ACK-only packet, on both QUIC
 * layers: four extra packets per relayed round trip, each a syscall and a
 * wakeup at every hop, sent before the data that followed them.
 *
 * So the first packet with data read (a datagram or control bytes) opens
 * a window of ZQ_ACK_HOLD_NS in which ngtcp2 writes only alongside data of
 * ours (it adds every ACK that is due to any packet it writes): a reply
 * takes the ACK along, and what is left goes when the window ends. The
 * second packet with data in a window ends the hold, and from there on
 * traffic is acknowledged as ngtcp2 does it: a request/response exchange
 * is what the hold is for, and holding more of a stream costs its sender
 * (held to 32 packets, a 300 Mbit/s one-way UDP flow lost 3-7%: its
 * window ran out between ACKs; held to 4, 1,000 relayed sessions through
 * one Intermediate lost a fifth of their throughput). The peer subtracts
 * the delay from its RTT samples; 1 ms is well inside the 25 ms
 * max_ack_delay we announce. Retransmissions and probes of ngtcp2's may
 * wait the same 1 ms; data of ours never does. The handshake is not held.
 * docs/performance.md, "ACK-only packets and the relayed round trip". */
static bool ack_held(const struct zq_conn *c, uint64_t now) {
  return now < c->ack_hold_until && c->hold_rx < ZQ_ACK_HOLD_PKTS;
}

/* Stream bytes first, then datagrams, then ngtcp2's own frames. */
/* ngtcp2 took datagram seq (len bytes) into a packet. */
static void dgram_taken(struct zq_conn *c, uint64_t seq, size_t len,
                        uint64_t now) {
  zt_pmtu_data_sent(&c->pmtu, seq, len + ZT_QUIC_DGRAM_OVERHEAD, now);
  zt_lossmap_sent(&c->loss, seq);
  c->stats.dgram_bytes_sent += len;
  c->stats.dgram_sent++;
}

ssize_t zq_write(struct zq_conn *c, uint8_t *buf, size_t cap,
                 struct sockaddr_storage *to, socklen_t *tolen, uint64_t now) {
  ngtcp2_path_storage ps;
  ngtcp2_pkt_info pi;
  ngtcp2_ssize n;

  ngtcp2_path_storage_zero(&ps);
  c->last_ts = now;
  size_t bufcap = cap;
  /* Every packet fits the path as far as it is known (pmtu.h). */
  if (cap > c->pmtu.plpmtu)
    cap = c->pmtu.plpmtu;
  if (c->closing_requested && !c->close_sent) {
    n = write_close(c, buf, cap, &ps, now);
    if (n > 0)
      copy_to(&ps.path, to, tolen);
    if (!c->dead)
      c->end = ZQ_END_LOCAL; /* zq_close(); failures set theirs before */
    c->dead = true;
    return n;
  }
  if (c->dead)
    return c->close_sent ? 0 : -1;

  if (!c->is_server && c->ready && c->stream_id < 0 &&
      ngtcp2_conn_open_bidi_stream(c->conn, &c->stream_id, NULL) != 0)
    c->stream_id = -1; /* stream credit not there yet: try again later */

  /* Datagrams about to go out with nothing of the stream in flight: a PAD
   * frame (wire.h) rides along, so that a loss probe can always be sent.
   * Path MTU probes are datagrams too. */
  if (c->ready && c->stream_id >= 0 &&
      (zt_dgramq_front(&c->dq) ||
       (c->confirmed && zt_pmtu_probe_size(&c->pmtu))) &&
      zt_sendbuf_unacked(&c->sbuf) == 0) {
    static const uint8_t pad[ZT_CTRL_HDR_LEN] = {ZT_CTRL_PAD, 0, 0};
    if (zt_sendbuf_append(&c->sbuf, pad, sizeof(pad)) == 0)
      c->stats.pad_frames++;
  }

  n = write_probe(c, buf, bufcap, &ps, now);
  if (n != 0)
    goto written; /* a probe, or a packet of ngtcp2's own in its place */

  bool open_pkt = false; /* frames of ours wait in ngtcp2's open packet */

  for (;;) {
    const uint8_t *sdata;
    size_t slen;
    zt_sendbuf_unsent(&c->sbuf, &sdata, &slen);
    struct zt_dgram_slot *dg = c->ready ? zt_dgramq_front(&c->dq) : NULL;
    ngtcp2_ssize accepted = -1;
    int accepted_dg = 0;

    if (dg && dg->len > dgram_confirmed(c)) {
      if (dg->len > dgram_possible(c)) {
        /* Queued before the path MTU went down: it fits no packet now. */
        zt_dgramq_pop(&c->dq);
        c->stats.dgram_drop_too_big++;
        continue;
      }
      dg = NULL; /* waits for the search (dgram_possible) */
    }

    if (slen > 0 && c->stream_id >= 0) {
      ngtcp2_vec v = {(uint8_t *)sdata, slen};
      n = ngtcp2_conn_writev_stream(c->conn, &ps.path, &pi, buf, cap, &accepted,
                                    NGTCP2_WRITE_STREAM_FLAG_MORE, c->stream_id,
                                    &v, 1, now);
      if (accepted > 0) {
        zt_sendbuf_mark_sent(&c->sbuf, (size_t)accepted);
        c->stats.stream_bytes_sent += (uint64_t)accepted;
      }
      if (n == NGTCP2_ERR_WRITE_MORE) {
        open_pkt = true;
        continue;
      }
      if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED ||
          n == NGTCP2_ERR_STREAM_SHUT_WR) {
        /* Flow control: fall through to datagrams and ngtcp2's frames. */
        slen = 0;
      } else {
        goto written;
      }
    }
    if (dg) {
      ngtcp2_vec v = {dg->data, dg->len};
      /* Numbered for black hole detection (pmtu.h) and the loss count
       * (lossmap.h); the number is used once ngtcp2 took the datagram. */
      uint64_t seq = zt_pmtu_data_seq(&c->pmtu);
      n = ngtcp2_conn_writev_datagram(
          c->conn, &ps.path, &pi, buf, cap, &accepted_dg,
          NGTCP2_WRITE_DATAGRAM_FLAG_MORE, seq << 16 | dg->len, &v, 1, now);
      if (n == NGTCP2_ERR_WRITE_MORE) {
        open_pkt = true;
        dgram_taken(c, seq, dg->len, now);
        zt_dgramq_pop(&c->dq);
        continue;
      }
      if (n == NGTCP2_ERR_INVALID_STATE || n == NGTCP2_ERR_INVALID_ARGUMENT) {
        /* The peer does not take datagrams this big (or at all). */
        zt_dgramq_pop(&c->dq);
        c->stats.dgram_drop_state++;
        continue;
      }
      if (n > 0) {
        if (accepted_dg) {
          dgram_taken(c, seq, dg->len, now);
          zt_dgramq_pop(&c->dq);
        } else if (++dg->tries >= DGRAM_MAX_TRIES) {
          zt_dgramq_pop(&c->dq);
          c->stats.dgram_drop_unplaced++;
        }
      }
      if (n != 0)
        goto written;
      /* Nothing written: the congestion window is full. ngtcp2 may still
       * owe frames that no window holds back, a loss probe (PTO) or an
       * ACK, and only writes them when asked for a packet of its own:
       * without this, a connection whose whole flight was lost (a direct
       * path cut under load) waited for an ACK that could never come. */
    }
    /* Nothing of ours: flush the open packet, or ngtcp2's own frames. */
    if (!open_pkt && !dg && slen == 0 && ack_held(c, now)) {
      c->stats.ack_holds++;
      return 0;
    }
    n = ngtcp2_conn_write_pkt(c->conn, &ps.path, &pi, buf, cap, now);
  written:
    note_pmtu(c);
    if (n < 0) {
      /* Fatal for the connection; the peer learns of it by idle timeout. */
      set_dead(c, ZQ_END_ERROR, "write: %s", ngtcp2_strerror((int)n));
      c->close_sent = true;
      return -1;
    }
    if (n > 0)
      copy_to(&ps.path, to, tolen);
    return n;
  }
}

uint64_t zq_expiry(const struct zq_conn *c) {
  if (c->dead)
    return UINT64_MAX;
  /* In an ACK hold window (ack_held()) ngtcp2's timers wait for its end,
   * unless data of ours waits too: it is never held, and its timer may be
   * the pacer's (with datagrams queued behind the pacer, waiting for the
   * window's end cut the relay of 1,000 sessions to half). */
  uint64_t t = ngtcp2_conn_get_expiry(c->conn);
  if (ack_held(c, c->last_ts) && t < c->ack_hold_until && c->dq.count == 0 &&
      c->sbuf.sent == c->sbuf.end)
    t = c->ack_hold_until;
  uint64_t p = c->confirmed ? zt_pmtu_expiry(&c->pmtu) : UINT64_MAX;
  return p < t ? p : t;
}

int zq_handle_expiry(struct zq_conn *c, uint64_t now) {
  if (c->dead)
    return -1;
  c->last_ts = now;
  if (c->confirmed)
    zt_pmtu_handle_expiry(&c->pmtu, now);
  int rv = ngtcp2_conn_handle_expiry(c->conn, now);
  if (c->confirmed) {
    ngtcp2_conn_stat cs;
    ngtcp2_conn_get_conn_stat(c->conn, &cs);
    zt_pmtu_pto(&c->pmtu, (unsigned)cs.pto_count, now);
    sweep_datagrams(c, now);
  }
  note_pmtu(c);
  if (rv == 0)
    return 0;
  if (rv == NGTCP2_ERR_IDLE_CLOSE)
    set_dead(c, ZQ_END_TIMEOUT, c->ready ? "idle timeout" : "handshake timed out");
  else
    set_dead(c, ZQ_END_ERROR, "timer: %s", ngtcp2_strerror(rv));
  c->close_sent = true; /* an idle connection closes silently (RFC 9000 10.1) */
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
  if (c->dead || c->closing_requested)
    return ZQ_ERR_CLOSED;
  if (len > dgram_possible(c)) {
    c->stats.dgram_drop_too_big++;
    return ZQ_ERR_TOO_BIG;
  }
  if (dq_ready(c) != 0)
    return ZQ_ERR_NOMEM;
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

size_t zq_max_datagram(const struct zq_conn *c) { return dgram_possible(c); }

const struct zt_pmtu *zq_pmtu(const struct zq_conn *c) { return &c->pmtu; }

uint64_t zq_pmtu_probes_recv(const struct zq_conn *c) {
  return c->pmtu_probes_recv;
}

void zq_path_changed(struct zq_conn *c, uint64_t now) {
  zt_pmtu_restart(&c->pmtu, now);
  note_pmtu(c);
}

size_t zq_stream_backlog(const struct zq_conn *c) {
  return zt_sendbuf_unacked(&c->sbuf);
}

void zq_close(struct zq_conn *c, uint64_t app_error, const char *reason) {
  if (c->dead || c->closing_requested)
    return;
  c->app_error = app_error;
  snprintf(c->reason, sizeof(c->reason), "%s", reason ? reason : "");
  c->closing_requested = true;
}

/* ---- accessors ---------------------------------------------------------- */

uint32_t zq_key(const struct zq_conn *c) { return c->key; }
bool zq_is_ready(const struct zq_conn *c) { return c->ready && !c->dead; }
bool zq_is_dead(const struct zq_conn *c) { return c->dead; }
const char *zq_close_reason(const struct zq_conn *c) { return c->reason; }
enum zq_end zq_end_kind(const struct zq_conn *c) {
  return c->dead ? c->end : ZQ_END_NONE;
}
bool zq_peer_tls_alert(const struct zq_conn *c, uint8_t *alert) {
  if (!c->peer_tls_alert)
    return false;
  *alert = c->peer_tls_alert;
  return true;
}

bool zq_refused_revoked(const struct zq_conn *c) {
  return zq_end_kind(c) == ZQ_END_REFUSED &&
         c->refuse_alert == GNUTLS_A_CERTIFICATE_REVOKED;
}

bool zq_peer_app_error(const struct zq_conn *c, uint64_t *code) {
  if (!c->peer_app_close)
    return false;
  *code = c->peer_app_error;
  return true;
}
enum zt_role zq_peer_role(const struct zq_conn *c) { return c->peer_role; }
const char *zq_peer_name(const struct zq_conn *c) { return c->peer_name; }
const struct zt_tls_peer_cert *zq_peer_cert(const struct zq_conn *c) {
  return &c->peer_cert;
}
int zq_format_stats(const struct zq_conn *c, char *buf, size_t len) {
  ngtcp2_conn_stat cs;
  const struct zq_stats *st = &c->stats;
  ngtcp2_conn_get_conn_stat(c->conn, &cs);
  return snprintf(
      buf, len,
      "rtt %.1f ms cwnd %llu inflight %llu; datagrams sent %llu recv %llu "
      "lost %llu dropped: queue_full %llu fair_share %llu too_big %llu "
      "unplaced %llu refused %llu; pmtu %zu %s",
      (double)cs.smoothed_rtt / 1e6, (unsigned long long)cs.cwnd,
      (unsigned long long)cs.bytes_in_flight,
      (unsigned long long)st->dgram_sent, (unsigned long long)st->dgram_recv,
      (unsigned long long)st->dgram_lost,
      (unsigned long long)st->dgram_drop_queue_full,
      (unsigned long long)st->dgram_drop_fair,
      (unsigned long long)st->dgram_drop_too_big,
      (unsigned long long)st->dgram_drop_unplaced,
      (unsigned long long)st->dgram_drop_state, c->pmtu.plpmtu,
      zt_pmtu_state_name(&c->pmtu));
}

size_t zq_stateless_reset(const struct zq_config *cfg, const uint8_t *pkt,
                          size_t len, uint8_t *out, size_t cap) {
  /* Short header: first bit 0 (the fixed bit may be greased), then our
   * ZT_SCID_LEN-byte connection ID. The
   * answer is one byte shorter than the packet, at most 64 bytes. */
  size_t size = len - 1;
  if (!cfg->has_reset_secret || len < 1 + ZT_SCID_LEN + 17 ||
      (pkt[0] & 0x80) != 0)
    return 0;
  if (size > 64)
    size = 64;
  if (size > cap)
    return 0;
  ngtcp2_cid dcid;
  ngtcp2_cid_init(&dcid, pkt + 1, ZT_SCID_LEN);
  uint8_t token[NGTCP2_STATELESS_RESET_TOKENLEN], rand[64];
  size_t randlen = size - 1 - sizeof(token);
  if (randlen < NGTCP2_MIN_STATELESS_RESET_RANDLEN ||
      reset_token(cfg, &dcid, token) != 0 ||
      gnutls_rnd(GNUTLS_RND_NONCE, rand, randlen) != 0)
    return 0;
  ngtcp2_ssize n =
      ngtcp2_pkt_write_stateless_reset(out, size, token, rand, randlen);
  return n > 0 ? (size_t)n : 0;
}

const struct zq_stats *zq_get_stats(const struct zq_conn *c) {
  return &c->stats;
}
void *zq_user_data(const struct zq_conn *c) { return c->ud; }

const struct sockaddr *zq_remote(const struct zq_conn *c, socklen_t *len) {
  const ngtcp2_path *p = ngtcp2_conn_get_path(c->conn);
  *len = (socklen_t)p->remote.addrlen;
  return p->remote.addr;
}

uint64_t zq_rtt_ns(const struct zq_conn *c) {
  ngtcp2_conn_stat st;
  ngtcp2_conn_get_conn_stat(c->conn, &st);
  return st.smoothed_rtt;
}

int zq_export_key(const struct zq_conn *c, const char *label, uint8_t *out,
                  size_t len) {
  if (!c->ready || c->dead)
    return -1;
  return gnutls_prf_rfc5705(c->tls, strlen(label), label, 0, NULL, len,
                            (char *)out) == 0
             ? 0
             : -1;
}

/* Client migration (roaming, core/roam.c): immediate, since the old path
 * is usually gone; ngtcp2 moves to a fresh connection ID, restarts
 * congestion control and validates the new path with a PATH_CHALLENGE
 * that goes out on the next write. */
int zq_migrate(struct zq_conn *c, const struct sockaddr *local,
               socklen_t locallen, uint64_t now) {
  if (c->is_server || c->dead || !c->ready)
    return -1;
  ngtcp2_path path = *ngtcp2_conn_get_path(c->conn);
  path.local.addr = (ngtcp2_sockaddr *)local;
  path.local.addrlen = locallen;
  path.user_data = NULL;
  if (ngtcp2_conn_initiate_immediate_migration(c->conn, &path, now) != 0)
    return -1;
  memcpy(&c->local, local, locallen);
  c->locallen = locallen;
  return 0;
}

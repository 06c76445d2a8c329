/*
 * quic.c on its own: a client and a server joined back to back in memory,
 * with fake time. Handshake and mutual verification, the control stream,
 * datagram sizing against what ngtcp2 really accepts, refusals, keepalive
 * and idle timeout.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "certgen.h"
#include "e2e.h"
#include "log.h"
#include "pmtu.h"
#include "quic.h"
#include "test.h"
#include "wire.h"

#define MS 1000000ULL

static struct zt_pem ca, ca2, p_im, p_agent, p_conn, p_foreign;

static struct zt_tls_creds *creds(const struct zt_pem *p) {
  char err[256];
  struct zt_tls_creds *c =
      zt_tls_creds_from_pem(ca.cert, p->cert, p->key, err, sizeof(err));
  if (!c) {
    fprintf(stderr, "%s\n", err);
    exit(1);
  }
  return c;
}

struct end {
  struct zq_conn *q;
  int ready;
  size_t stream_bytes, dgrams, last_dgram_len;
};

static void on_ready(struct zq_conn *q, void *ud) {
  (void)q;
  ((struct end *)ud)->ready++;
}
static void on_stream(struct zq_conn *q, const uint8_t *d, size_t n, void *ud) {
  (void)q;
  (void)d;
  ((struct end *)ud)->stream_bytes += n;
}
static void on_dgram(struct zq_conn *q, const uint8_t *d, size_t n, void *ud) {
  (void)q;
  (void)d;
  ((struct end *)ud)->dgrams++;
  ((struct end *)ud)->last_dgram_len = n;
}
static const struct zq_handlers handlers = {on_ready, on_stream, on_dgram};

struct pair {
  struct end c, s;
  struct zq_config ccfg, scfg;
  struct sockaddr_in ca, sa;
  uint64_t now;
  size_t mtu;     /* largest UDP payload the path carries; 0: any */
  size_t biggest; /* largest packet sent either way */
  /* when set, sees every packet pump() moves (from_server: its sender) */
  void (*watch)(struct pair *p, const uint8_t *pkt, size_t len,
                int from_server);
};

/* Moves every pending packet from one end to the other until quiet. */
static void pump(struct pair *p) {
  uint8_t buf[2048];
  struct sockaddr_storage to;
  socklen_t tolen;
  ssize_t n;
  for (int round = 0; round < 100; round++) {
    int moved = 0;
    while ((n = zq_write(p->c.q, buf, sizeof(buf), &to, &tolen, p->now)) > 0) {
      moved = 1;
      if ((size_t)n > p->biggest)
        p->biggest = (size_t)n;
      if (p->watch)
        p->watch(p, buf, (size_t)n, 0);
      if (p->mtu && (size_t)n > p->mtu)
        continue; /* too big for the path: lost */
      if (!p->s.q) {
        char err[256];
        p->s.q = zq_server_accept(&p->scfg, &handlers, &p->s,
                                  (struct sockaddr *)&p->sa, sizeof(p->sa),
                                  (struct sockaddr *)&p->ca, sizeof(p->ca),
                                  buf, (size_t)n, p->now, err, sizeof(err));
      } else {
        zq_read(p->s.q, (struct sockaddr *)&p->sa, sizeof(p->sa),
                (struct sockaddr *)&p->ca, sizeof(p->ca), buf, (size_t)n,
                p->now);
      }
    }
    while (p->s.q &&
           (n = zq_write(p->s.q, buf, sizeof(buf), &to, &tolen, p->now)) > 0) {
      moved = 1;
      if ((size_t)n > p->biggest)
        p->biggest = (size_t)n;
      if (p->watch)
        p->watch(p, buf, (size_t)n, 1);
      if (p->mtu && (size_t)n > p->mtu)
        continue;
      zq_read(p->c.q, (struct sockaddr *)&p->ca, sizeof(p->ca),
              (struct sockaddr *)&p->sa, sizeof(p->sa), buf, (size_t)n, p->now);
    }
    p->now += 1 * MS;
    if (!moved)
      return;
  }
}

static void pair_init(struct pair *p, struct zt_tls_creds *client,
                      struct zt_tls_creds *server, unsigned server_roles) {
  char err[256];
  memset(p, 0, sizeof(*p));
  p->now = 1000 * MS;
  p->ca = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(1000)};
  p->sa = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(4433)};
  zq_config_defaults(&p->ccfg);
  p->ccfg.creds = client;
  p->ccfg.alpn = ZT_ALPN_OUTER;
  p->ccfg.expect.roles = 1u << ZT_ROLE_INTERMEDIATE;
  p->ccfg.expect.name = "intermediate";
  zq_config_defaults(&p->scfg);
  p->scfg.creds = server;
  p->scfg.alpn = ZT_ALPN_OUTER;
  p->scfg.expect.roles = server_roles;
  p->c.q = zq_client_new(&p->ccfg, &handlers, &p->c, (struct sockaddr *)&p->ca,
                         sizeof(p->ca), (struct sockaddr *)&p->sa,
                         sizeof(p->sa), p->now, err, sizeof(err));
}

static void pair_free(struct pair *p) {
  zq_free(p->c.q);
  zq_free(p->s.q);
}

static void test_handshake_stream_datagram(void) {
  struct zt_tls_creds *ci = creds(&p_agent), *cs = creds(&p_im);
  struct pair p;
  pair_init(&p, ci, cs, 1u << ZT_ROLE_AGENT);
  CHECK(p.c.q);
  pump(&p);
  CHECK(p.s.q);
  CHECK(zq_is_ready(p.c.q) && zq_is_ready(p.s.q));
  CHECK_EQ_INT(zq_peer_role(p.s.q), ZT_ROLE_AGENT);
  CHECK_STR(zq_peer_name(p.s.q), "alice");
  CHECK_EQ_INT(zq_peer_role(p.c.q), ZT_ROLE_INTERMEDIATE);
  CHECK_STR(zq_peer_name(p.c.q), "intermediate");

  /* 300 KB each way: more than one chunk and more than the initial
   * stream flow-control window. */
  static uint8_t big[300000];
  big[0] = 0x45; /* datagrams of zeros would be padding (ZT_DGRAM_PADDING) */
  CHECK_EQ_INT(zq_send_stream(p.c.q, big, sizeof(big)), 0);
  /* The stream also carries the empty PAD frames (wire.h) that ride along
   * with datagrams, path MTU probes included. */
  size_t pads = 0;
  for (int i = 0; i < 50 && p.s.stream_bytes < sizeof(big) + pads; i++) {
    pump(&p);
    pads = ZT_CTRL_HDR_LEN * zq_get_stats(p.c.q)->pad_frames;
  }
  CHECK_EQ_INT(p.s.stream_bytes, sizeof(big) + pads);
  CHECK_EQ_INT(zq_send_stream(p.s.q, big, 1000), 0);
  pump(&p);
  CHECK_EQ_INT(p.c.stream_bytes,
               1000 + ZT_CTRL_HDR_LEN * zq_get_stats(p.s.q)->pad_frames);

  /* The largest datagram we promise fits a real packet, both ways. */
  size_t max = zq_max_datagram(p.c.q);
  CHECK_EQ_INT(max, ZT_OUTER_DGRAM_MAX);
  CHECK_EQ_INT(zq_send_datagram(p.c.q, big, max), 0);
  CHECK_EQ_INT(zq_send_datagram(p.s.q, big, max), 0);
  pump(&p);
  CHECK_EQ_INT(p.s.dgrams, 1);
  CHECK_EQ_INT(p.s.last_dgram_len, max);
  CHECK_EQ_INT(p.c.dgrams, 1);
  CHECK_EQ_INT(zq_get_stats(p.c.q)->dgram_drop_too_big, 0);
  CHECK_EQ_INT(zq_send_datagram(p.c.q, big, max + 1), ZQ_ERR_TOO_BIG);
  CHECK_EQ_INT(zq_get_stats(p.c.q)->dgram_drop_too_big, 1);

  /* Many small datagrams share packets; the queue bound is enforced. */
  for (int i = 0; i < 1024; i++)
    CHECK_EQ_INT(zq_send_datagram(p.c.q, big, 100), 0);
  CHECK_EQ_INT(zq_send_datagram(p.c.q, big, 100), ZQ_ERR_QUEUE_FULL);
  for (int i = 0; i < 20; i++)
    pump(&p);
  CHECK_EQ_INT(p.s.dgrams, 1 + 1024);
  pair_free(&p);
  zt_tls_creds_free(ci);
  zt_tls_creds_free(cs);
}

/* The inner session's budget: an IP packet of the TUN MTU fits an inner
 * datagram, and the inner packet fits a relay frame in an outer datagram. */
static void test_inner_sizes(void) {
  struct zt_tls_creds *ci = creds(&p_agent), *cs = creds(&p_conn);
  struct pair p;
  char err[256];
  memset(&p, 0, sizeof(p));
  p.now = 1000 * MS;
  zt_e2e_config(&p.ccfg, ci, ZT_ROLE_CONNECTOR, "conn-a");
  zt_e2e_config(&p.scfg, cs, ZT_ROLE_AGENT, "alice");
  p.ca = zt_e2e_agent_addr;
  p.sa = zt_e2e_connector_addr;
  p.c.q = zq_client_new(&p.ccfg, &handlers, &p.c, (struct sockaddr *)&p.ca,
                        sizeof(p.ca), (struct sockaddr *)&p.sa, sizeof(p.sa),
                        p.now, err, sizeof(err));
  pump(&p);
  CHECK(zq_is_ready(p.c.q) && zq_is_ready(p.s.q));
  CHECK_EQ_INT(zq_max_datagram(p.c.q), ZT_TUN_MTU);
  static uint8_t pkt[ZT_TUN_MTU] = {0x45};
  CHECK_EQ_INT(zq_send_datagram(p.c.q, pkt, sizeof(pkt)), 0);
  uint8_t buf[2048];
  struct sockaddr_storage to;
  socklen_t tolen;
  ssize_t n, biggest = 0;
  while ((n = zq_write(p.c.q, buf, sizeof(buf), &to, &tolen, p.now)) > 0)
    if (n > biggest)
      biggest = n;
  CHECK(biggest <= ZT_INNER_UDP_PAYLOAD);
  CHECK(biggest + ZT_RELAY_HDR_LEN <= ZT_OUTER_DGRAM_MAX);
  CHECK_EQ_INT(zq_get_stats(p.c.q)->dgram_sent, 1);
  pair_free(&p);
  zt_tls_creds_free(ci);
  zt_tls_creds_free(cs);
}

static void test_foreign_ca_refused(void) {
  char err[256];
  struct zt_tls_creds *ci =
      zt_tls_creds_from_pem(ca.cert, p_foreign.cert, p_foreign.key, err, sizeof(err));
  struct zt_tls_creds *cs = creds(&p_im);
  struct pair p;
  CHECK(ci);
  pair_init(&p, ci, cs, 1u << ZT_ROLE_AGENT);
  pump(&p);
  CHECK(p.s.q);
  CHECK(zq_is_dead(p.s.q));
  CHECK(!p.s.ready);
  CHECK_CONTAINS(zq_close_reason(p.s.q), "refused");
  CHECK_CONTAINS(zq_close_reason(p.s.q), "certificate");
  CHECK(zq_is_dead(p.c.q));
  CHECK_CONTAINS(zq_close_reason(p.c.q), "TLS alert");
  pair_free(&p);
  zt_tls_creds_free(ci);
  zt_tls_creds_free(cs);
}

static void test_wrong_role_refused(void) {
  /* A connector certificate where the client expects the Intermediate. */
  struct zt_tls_creds *ci = creds(&p_agent), *cs = creds(&p_conn);
  struct pair p;
  pair_init(&p, ci, cs, 1u << ZT_ROLE_AGENT);
  pump(&p);
  CHECK(zq_is_dead(p.c.q));
  CHECK_CONTAINS(zq_close_reason(p.c.q), "role connector not accepted");
  pair_free(&p);
  zt_tls_creds_free(ci);
  zt_tls_creds_free(cs);
}

/* A CRL from the test CA revoking `who`. */
static struct zt_crl *crl_of(const struct zt_pem *who) {
  struct zt_revocation r = {.when = 1700000000};
  char err[256], *pem = NULL;
  struct zt_crl *crl = NULL;
  if (zt_cert_serial(who->cert, r.serial, &r.len, NULL, err, sizeof(err)) ||
      zt_crl_make(&ca, &r, 1, 1700000000, 30, &pem, err, sizeof(err)) ||
      !(crl = zt_crl_from_pem(pem, ca.cert, err, sizeof(err)))) {
    fprintf(stderr, "crl: %s\n", err);
    exit(1);
  }
  free(pem);
  return crl;
}

/* The server's CRL lists the client: refused in the handshake with
 * certificate_revoked, the reason naming identity and serial. A CRL that
 * lists someone else changes nothing, and the accepted connection knows
 * its peer's serial and not-after. */
static void test_revoked_peer_refused(void) {
  struct zt_tls_creds *ci = creds(&p_agent), *cs = creds(&p_im);
  struct pair p;
  uint8_t alert = 0;
  zt_tls_creds_set_crl(cs, crl_of(&p_conn));
  pair_init(&p, ci, cs, 1u << ZT_ROLE_AGENT);
  pump(&p);
  CHECK(p.s.ready && p.c.ready);
  CHECK(zq_peer_cert(p.s.q)->serial_len > 0);
  CHECK(zq_peer_cert(p.s.q)->not_after > 1700000000);
  CHECK(zq_peer_cert(p.c.q)->not_after > 1700000000);
  pair_free(&p);

  zt_tls_creds_set_crl(cs, crl_of(&p_agent));
  pair_init(&p, ci, cs, 1u << ZT_ROLE_AGENT);
  pump(&p);
  CHECK(!p.s.ready);
  CHECK(zq_is_dead(p.s.q));
  CHECK_CONTAINS(zq_close_reason(p.s.q), "peer agent/alice: certificate serial");
  CHECK_CONTAINS(zq_close_reason(p.s.q), "revoked on 2023-11-14T22:13:20Z");
  CHECK(zq_is_dead(p.c.q));
  CHECK(zq_peer_tls_alert(p.c.q, &alert));
  CHECK_EQ_INT(alert, GNUTLS_A_CERTIFICATE_REVOKED);
  pair_free(&p);
  zt_tls_creds_set_crl(cs, NULL);

  /* The other way: an agent with a CRL refuses a revoked Intermediate. */
  zt_tls_creds_set_crl(ci, crl_of(&p_im));
  pair_init(&p, ci, cs, 1u << ZT_ROLE_AGENT);
  pump(&p);
  CHECK(!p.c.ready);
  CHECK_CONTAINS(zq_close_reason(p.c.q), "intermediate/intermediate: certificate serial");
  pair_free(&p);
  zt_tls_creds_free(ci);
  zt_tls_creds_free(cs);
}

static void test_keepalive_and_idle_timeout(void) {
  struct zt_tls_creds *ci = creds(&p_agent), *cs = creds(&p_im);
  struct pair p;
  pair_init(&p, ci, cs, 1u << ZT_ROLE_AGENT);
  pump(&p);
  CHECK(zq_is_ready(p.c.q));
  /* Two minutes of silence from the application: keepalive PINGs every
   * 10 s keep both ends well inside the 30 s idle timeout. */
  uint64_t end = p.now + 120000 * MS;
  while (p.now < end) {
    uint64_t t = zq_expiry(p.c.q);
    if (zq_expiry(p.s.q) < t)
      t = zq_expiry(p.s.q);
    if (t > p.now)
      p.now = t;
    if (zq_expiry(p.c.q) <= p.now)
      zq_handle_expiry(p.c.q, p.now);
    if (zq_expiry(p.s.q) <= p.now)
      zq_handle_expiry(p.s.q, p.now);
    pump(&p);
  }
  CHECK(zq_is_ready(p.c.q) && zq_is_ready(p.s.q));
  /* Now the network goes silent: the idle timeout ends both. */
  uint64_t t = p.now + 31000 * MS;
  while (p.now < t && !zq_is_dead(p.c.q)) {
    uint64_t e = zq_expiry(p.c.q);
    p.now = e > p.now ? e : p.now + MS;
    zq_handle_expiry(p.c.q, p.now);
    uint8_t buf[1500];
    struct sockaddr_storage to;
    socklen_t tolen;
    while (zq_write(p.c.q, buf, sizeof(buf), &to, &tolen, p.now) > 0)
      ; /* lost */
  }
  CHECK(zq_is_dead(p.c.q));
  CHECK_STR(zq_close_reason(p.c.q), "idle timeout");
  pair_free(&p);
  zt_tls_creds_free(ci);
  zt_tls_creds_free(cs);
}

/* Client packets written at p->now, each read by the server at p->now;
 * datagrams of `len` bytes, one per packet. Returns how many went. */
static int client_sends(struct pair *p, int count, size_t len) {
  uint8_t buf[2048], d[1200] = {0x45};
  struct sockaddr_storage to;
  socklen_t tolen;
  ssize_t n;
  int sent = 0;
  for (int i = 0; i < count; i++) {
    if (zq_send_datagram(p->c.q, d, len) != 0)
      return -1;
    while ((n = zq_write(p->c.q, buf, sizeof(buf), &to, &tolen, p->now)) > 0) {
      zq_read(p->s.q, (struct sockaddr *)&p->sa, sizeof(p->sa),
              (struct sockaddr *)&p->ca, sizeof(p->ca), buf, (size_t)n, p->now);
      sent++;
    }
  }
  return sent;
}

static ssize_t server_write(struct pair *p, uint64_t now) {
  uint8_t buf[2048];
  struct sockaddr_storage to;
  socklen_t tolen;
  return zq_write(p->s.q, buf, sizeof(buf), &to, &tolen, now);
}

/* The ACK hold (quic.c, ack_held()): after a packet arrives, ngtcp2's
 * own ACK-only packet waits up to 1 ms for data to ride on; data never
 * waits, and a window with 4 packets is acknowledged at once. */
static void test_ack_hold(void) {
  struct zt_tls_creds *ci = creds(&p_agent), *cs = creds(&p_im);
  struct pair p;
  pair_init(&p, ci, cs, 1u << ZT_ROLE_AGENT);
  pump(&p);
  CHECK(zq_is_ready(p.c.q) && zq_is_ready(p.s.q));
  /* Settle: whatever the handshake left is acknowledged. */
  for (int i = 0; i < 3; i++) {
    p.now += 50 * MS;
    zq_handle_expiry(p.c.q, p.now);
    zq_handle_expiry(p.s.q, p.now);
    pump(&p);
  }

  /* One packet: the ACK waits for the window's end, not for ngtcp2's
   * RTT/8 timer (well under 0.5 ms here: the RTT is ~1 ms). */
  uint64_t t0 = p.now;
  uint64_t holds = zq_get_stats(p.s.q)->ack_holds;
  CHECK_EQ_INT(client_sends(&p, 1, 100), 1);
  CHECK_EQ_INT(server_write(&p, t0 + MS / 2), 0);
  CHECK(zq_get_stats(p.s.q)->ack_holds > holds);
  CHECK_EQ_INT(zq_expiry(p.s.q), t0 + 1 * MS);
  zq_handle_expiry(p.s.q, t0 + 1 * MS);
  CHECK(server_write(&p, t0 + 1 * MS) > 0); /* the ACK, at the end */
  CHECK_EQ_INT(server_write(&p, t0 + 1 * MS), 0);

  /* A reply inside the window goes at once (and takes the ACK along). */
  p.now = t0 + 10 * MS;
  CHECK_EQ_INT(client_sends(&p, 1, 100), 1);
  CHECK_EQ_INT(server_write(&p, p.now + MS / 2), 0);
  uint8_t d[100] = {0x45};
  CHECK_EQ_INT(zq_send_datagram(p.s.q, d, sizeof(d)), 0);
  CHECK(server_write(&p, p.now + MS / 2) > 0);

  /* More traffic: from the 2nd packet with data in a window on
   * (ZQ_ACK_HOLD_PKTS) nothing waits. */
  p.now = t0 + 20 * MS;
  CHECK_EQ_INT(client_sends(&p, 1, 100), 1);
  CHECK_EQ_INT(server_write(&p, p.now + MS / 2), 0);
  CHECK_EQ_INT(client_sends(&p, 1, 100), 1);
  CHECK(server_write(&p, p.now + MS / 2) > 0);

  /* A packet without data (the client's ACK-only packet for a datagram
   * of the server's) opens no window: nothing to answer, nothing held. */
  p.now = t0 + 30 * MS;
  CHECK_EQ_INT(zq_send_datagram(p.s.q, d, sizeof(d)), 0);
  uint8_t buf[2048];
  struct sockaddr_storage to;
  socklen_t tolen;
  ssize_t n = zq_write(p.s.q, buf, sizeof(buf), &to, &tolen, p.now);
  CHECK(n > 0);
  zq_read(p.c.q, (struct sockaddr *)&p.ca, sizeof(p.ca),
          (struct sockaddr *)&p.sa, sizeof(p.sa), buf, (size_t)n, p.now);
  p.now += 2 * MS; /* past the client's own window: its ACK goes */
  zq_handle_expiry(p.c.q, p.now);
  n = zq_write(p.c.q, buf, sizeof(buf), &to, &tolen, p.now);
  CHECK(n > 0);
  zq_read(p.s.q, (struct sockaddr *)&p.sa, sizeof(p.sa),
          (struct sockaddr *)&p.ca, sizeof(p.ca), buf, (size_t)n, p.now);
  holds = zq_get_stats(p.s.q)->ack_holds;
  server_write(&p, p.now); /* whatever ngtcp2 has, it is not held */
  CHECK_EQ_INT(zq_get_stats(p.s.q)->ack_holds, holds);

  pair_free(&p);
  zt_tls_creds_free(ci);
  zt_tls_creds_free(cs);
}

/* A whole flight lost while the sender always has datagrams queued (a
 * direct path cut under load): the sender's window stays full, so only a
 * loss probe (PTO) can learn what happened. It must go out although the
 * queue is never empty, and the connection must carry datagrams again. */
static void test_tail_loss_with_queue_full(void) {
  struct zt_tls_creds *ci = creds(&p_agent), *cs = creds(&p_im);
  struct pair p;
  uint8_t d[1000] = {0x45}, buf[2048];
  struct sockaddr_storage to;
  socklen_t tolen;
  pair_init(&p, ci, cs, 1u << ZT_ROLE_AGENT);
  pump(&p);
  CHECK(zq_is_ready(p.c.q) && zq_is_ready(p.s.q));
  /* Fill the window into a black hole. */
  for (int i = 0; i < 200; i++)
    zq_send_datagram(p.c.q, d, sizeof(d));
  while (zq_write(p.c.q, buf, sizeof(buf), &to, &tolen, p.now) > 0)
    ;
  size_t before = p.s.dgrams;
  /* The path works again; the application keeps the queue topped up. */
  uint64_t end = p.now + 5000 * MS;
  while (p.now < end && p.s.dgrams == before) {
    for (int i = 0; i < 4; i++) /* never empty; full is counted, fine */
      zq_send_datagram(p.c.q, d, sizeof(d));
    uint64_t t = zq_expiry(p.c.q);
    if (zq_expiry(p.s.q) < t)
      t = zq_expiry(p.s.q);
    p.now = t > p.now ? t : p.now + MS;
    if (zq_expiry(p.c.q) <= p.now)
      zq_handle_expiry(p.c.q, p.now);
    if (zq_expiry(p.s.q) <= p.now)
      zq_handle_expiry(p.s.q, p.now);
    pump(&p);
  }
  CHECK(p.s.dgrams > before);
  CHECK(zq_get_stats(p.c.q)->dgram_lost > 0);
  pair_free(&p);
  zt_tls_creds_free(ci);
  zt_tls_creds_free(cs);
}

/* Runs both ends' timers and the path for `ms` of simulated time. */
static void run_for(struct pair *p, uint64_t ms) {
  uint64_t end = p->now + ms * MS;
  while (p->now < end) {
    uint64_t t = zq_expiry(p->c.q);
    if (p->s.q && zq_expiry(p->s.q) < t)
      t = zq_expiry(p->s.q);
    if (t > end)
      t = end;
    p->now = t > p->now ? t : p->now + MS;
    if (zq_expiry(p->c.q) <= p->now)
      zq_handle_expiry(p->c.q, p->now);
    if (p->s.q && zq_expiry(p->s.q) <= p->now)
      zq_handle_expiry(p->s.q, p->now);
    pump(p);
  }
}

/* Path MTU discovery against real ngtcp2: a probe is exactly its size, a
 * 1280-byte IPv4 path ends at 1252 both ways, the promised datagram size
 * fits exactly, and a path that shrinks under traffic is found again. */
static void test_path_mtu(void) {
  struct zt_tls_creds *ci = creds(&p_agent), *cs = creds(&p_im);
  struct pair p;
  static uint8_t d[2000] = {0x45};
  pair_init(&p, ci, cs, 1u << ZT_ROLE_AGENT);
  pump(&p);
  CHECK(zq_is_ready(p.c.q) && zq_is_ready(p.s.q));
  /* a clean path: one probe of exactly the maximum, both ways */
  CHECK_EQ_INT(p.biggest, ZT_OUTER_UDP_PAYLOAD);
  CHECK_EQ_INT(zq_pmtu(p.c.q)->plpmtu, ZT_OUTER_UDP_PAYLOAD);
  CHECK_EQ_INT(zq_pmtu(p.s.q)->plpmtu, ZT_OUTER_UDP_PAYLOAD);
  CHECK(zq_pmtu_probes_recv(p.s.q) >= 1);
  CHECK_EQ_INT(p.s.dgrams, 0); /* probes never reach the application */
  pair_free(&p);

  /* a 1280-byte IPv4 path from the start */
  pair_init(&p, ci, cs, 1u << ZT_ROLE_AGENT);
  p.mtu = 1252;
  pump(&p);
  CHECK(zq_is_ready(p.c.q) && zq_is_ready(p.s.q));
  /* searching: the maximum may still be confirmed */
  CHECK_EQ_INT(zq_pmtu(p.c.q)->plpmtu, ZT_QUIC_MIN_UDP_PAYLOAD);
  CHECK_EQ_INT(zq_max_datagram(p.c.q), ZT_OUTER_DGRAM_MAX);
  run_for(&p, 30000);
  CHECK_EQ_INT(zq_pmtu(p.c.q)->plpmtu, 1252);
  CHECK_EQ_INT(zq_pmtu(p.s.q)->plpmtu, 1252);
  CHECK_EQ_INT(zq_pmtu(p.c.q)->state, ZT_PMTU_COMPLETE);
  size_t max = zq_max_datagram(p.c.q);
  CHECK_EQ_INT(max, 1252 - ZT_QUIC_DGRAM_OVERHEAD);
  CHECK_EQ_INT(zq_send_datagram(p.c.q, d, max + 1), ZQ_ERR_TOO_BIG);
  CHECK_EQ_INT(zq_send_datagram(p.c.q, d, max), 0);
  CHECK_EQ_INT(zq_send_datagram(p.s.q, d, max), 0);
  pump(&p);
  CHECK_EQ_INT(p.s.dgrams, 1);
  CHECK_EQ_INT(p.s.last_dgram_len, max);
  CHECK_EQ_INT(p.c.dgrams, 1);
  pair_free(&p);

  /* the path shrinks under traffic, no ICMP: black hole, then 1252 */
  pair_init(&p, ci, cs, 1u << ZT_ROLE_AGENT);
  pump(&p);
  CHECK_EQ_INT(zq_pmtu(p.c.q)->plpmtu, ZT_OUTER_UDP_PAYLOAD);
  p.mtu = 1252;
  size_t got = 0;
  for (int i = 0; i < 400; i++) {
    size_t n = zq_max_datagram(p.c.q);
    zq_send_datagram(p.c.q, d, n);
    run_for(&p, 20);
    if (i >= 300)
      got += p.s.dgrams;
    p.s.dgrams = 0;
  }
  CHECK_EQ_INT(zq_pmtu(p.c.q)->black_holes, 1);
  CHECK_EQ_INT(zq_pmtu(p.c.q)->plpmtu, 1252);
  CHECK_EQ_INT(got, 100); /* the last 100 all arrived */
  pair_free(&p);
  zt_tls_creds_free(ci);
  zt_tls_creds_free(cs);
}

/* The path shrinks while the large datagrams are sparse, each followed by
 * small ones (an application's big UDP message every 50 ms beside a
 * small one): every large packet is lost alone and the loss-probe timer
 * fires before a later packet's ACK could declare it lost. ngtcp2 does not
 * report a datagram whose packet was probed for (PTO) as lost, so the
 * black hole must be found from the acknowledgements of the later small
 * ones: within a few large losses, not by chance seconds later. */
static void test_black_hole_sparse(void) {
  struct zt_tls_creds *ci = creds(&p_agent), *cs = creds(&p_im);
  struct pair p;
  static uint8_t d[2000] = {0x45};
  pair_init(&p, ci, cs, 1u << ZT_ROLE_AGENT);
  pump(&p);
  CHECK_EQ_INT(zq_pmtu(p.c.q)->plpmtu, ZT_OUTER_UDP_PAYLOAD);
  p.mtu = 1252;
  int found = -1;
  for (int i = 0; i < 100 && found < 0; i++) {
    zq_send_datagram(p.c.q, d, zq_max_datagram(p.c.q));
    run_for(&p, 25);
    zq_send_datagram(p.c.q, d, 500);
    run_for(&p, 25);
    if (zq_pmtu(p.c.q)->black_holes)
      found = i;
  }
  CHECK(found >= 0 && found < ZT_PMTU_MAX_PROBES + 2);
  run_for(&p, 200);
  CHECK_EQ_INT(zq_pmtu(p.c.q)->plpmtu, 1252);
  /* and counted as lost, which ngtcp2's reports alone did not (0) */
  CHECK(zq_get_stats(p.c.q)->dgram_lost >= ZT_PMTU_MAX_PROBES);
  pair_free(&p);
  zt_tls_creds_free(ci);
  zt_tls_creds_free(cs);
}

static void test_packet_key(void) {
  uint8_t shorthdr[1 + ZT_SCID_LEN] = {0x40, 0xde, 0xad, 0xbe, 0xef};
  uint32_t key;
  CHECK_EQ_INT(zq_packet_key(shorthdr, sizeof(shorthdr), &key), 0);
  CHECK_EQ_INT(key, 0xdeadbeefu);
  CHECK_EQ_INT(zq_packet_key(shorthdr, 5, &key), -1);
  uint8_t longhdr[6 + ZT_SCID_LEN] = {0xc0, 0, 0, 0, 1, ZT_SCID_LEN, 1, 2, 3, 4};
  CHECK_EQ_INT(zq_packet_key(longhdr, sizeof(longhdr), &key), 0);
  CHECK_EQ_INT(key, 0x01020304u);
  CHECK(zq_packet_is_initial(longhdr, sizeof(longhdr)));
  longhdr[5] = 8; /* a DCID length we never issue */
  CHECK_EQ_INT(zq_packet_key(longhdr, sizeof(longhdr), &key), -1);
  CHECK(!zq_packet_is_initial(shorthdr, sizeof(shorthdr)));
}

/* key_stride / key_residue (quic.h): what the kernel's steering program
 * reads from each packet is a key of the residue class asked for, in the
 * server's SCIDs (long headers), in the DCIDs the client sends to, and in
 * the connection IDs the server hands out by NEW_CONNECTION_ID (the client
 * moves to one of those when it migrates). */
static int stride_bad;          /* packets whose key was not the server's */
static size_t stride_ndcid;     /* distinct DCIDs of client short headers */
static uint8_t stride_dcid[8][ZT_SCID_LEN];
static void stride_watch(struct pair *p, const uint8_t *pkt, size_t len,
                         int from_server) {
  uint32_t want = p->s.q ? zq_key(p->s.q) : 0, key;
  if (from_server) {
    if (!(pkt[0] & 0x80))
      return; /* short header: DCID is the client's */
    size_t at = 6 + (size_t)pkt[5]; /* SCID length byte */
    if (len < at + 1 + 4 || pkt[at] != ZT_SCID_LEN)
      stride_bad++;
    else if ((key = (uint32_t)pkt[at + 1] << 24 | (uint32_t)pkt[at + 2] << 16 |
                    (uint32_t)pkt[at + 3] << 8 | pkt[at + 4]) != want)
      stride_bad++;
    return;
  }
  if (pkt[0] & 0x80)
    return; /* long header: the first Initials go to the client's DCID */
  if (zq_packet_key(pkt, len, &key) != 0 || key != want)
    stride_bad++;
  for (size_t i = 0; i < stride_ndcid; i++)
    if (memcmp(stride_dcid[i], pkt + 1, ZT_SCID_LEN) == 0)
      return;
  if (stride_ndcid < 8)
    memcpy(stride_dcid[stride_ndcid++], pkt + 1, ZT_SCID_LEN);
}

static void test_key_stride(void) {
  struct zt_tls_creds *ci = creds(&p_agent), *cs = creds(&p_im);
  uint32_t keys[8];
  for (int i = 0; i < 8; i++) {
    struct pair p;
    pair_init(&p, ci, cs, 1u << ZT_ROLE_AGENT);
    p.scfg.key_stride = 3;
    p.scfg.key_residue = 2;
    p.watch = stride_watch;
    stride_bad = 0;
    stride_ndcid = 0;
    pump(&p);
    CHECK(p.s.q && zq_is_ready(p.c.q) && zq_is_ready(p.s.q));
    keys[i] = zq_key(p.s.q);
    CHECK_EQ_INT(keys[i] % 3, 2);
    CHECK(keys[i] != 0);
    /* migrate: the client now sends to a NEW_CONNECTION_ID connection ID */
    struct sockaddr_in moved = p.ca;
    moved.sin_port = htons(2000);
    CHECK_EQ_INT(zq_migrate(p.c.q, (struct sockaddr *)&moved, sizeof(moved),
                            p.now),
                 0);
    p.ca = moved;
    CHECK_EQ_INT(zq_send_datagram(p.c.q, (const uint8_t *)"\x45", 1), 0);
    for (int r = 0; r < 5; r++)
      pump(&p);
    CHECK(stride_ndcid >= 2);
    CHECK_EQ_INT(stride_bad, 0);
    pair_free(&p);
  }
  /* the keys are random within the class, not one fixed value */
  int distinct = 0;
  for (int i = 1; i < 8; i++)
    distinct += keys[i] != keys[0];
  CHECK(distinct > 0);
  zt_tls_creds_free(ci);
  zt_tls_creds_free(cs);
}

/* A server that lost the connection (restarted) resets it statelessly:
 * the token comes from the secret, so the client recognises it. A reset
 * made with another secret is ignored. */
static void test_stateless_reset(void) {
  struct zt_tls_creds *ci = creds(&p_agent), *cs = creds(&p_im);
  struct pair p;
  uint8_t buf[2048], reset[64];
  struct sockaddr_storage to;
  socklen_t tolen;
  pair_init(&p, ci, cs, 1u << ZT_ROLE_AGENT);
  CHECK_EQ_INT(zt_tls_derive_secret(cs, "test", p.scfg.reset_secret), 0);
  p.scfg.has_reset_secret = true;
  pump(&p);
  CHECK(zq_is_ready(p.c.q) && zq_is_ready(p.s.q));
  /* The server forgets the connection; the client sends something. */
  zq_free(p.s.q);
  p.s.q = NULL;
  CHECK_EQ_INT(zq_send_datagram(p.c.q, (const uint8_t *)"hello", 5), 0);
  ssize_t n = zq_write(p.c.q, buf, sizeof(buf), &to, &tolen, p.now);
  CHECK(n > 40);
  /* Not without the secret, and never for a long-header packet. */
  struct zq_config none = p.scfg;
  none.has_reset_secret = false;
  CHECK_EQ_INT(zq_stateless_reset(&none, buf, (size_t)n, reset, sizeof(reset)),
               0);
  uint8_t initial[64] = {0xc0};
  CHECK_EQ_INT(zq_stateless_reset(&p.scfg, initial, sizeof(initial), reset,
                                  sizeof(reset)),
               0);
  /* Another secret: the client ignores the reset. */
  struct zq_config other = p.scfg;
  other.reset_secret[0] ^= 1;
  size_t rn = zq_stateless_reset(&other, buf, (size_t)n, reset, sizeof(reset));
  CHECK(rn > 0 && rn < (size_t)n);
  zq_read(p.c.q, (struct sockaddr *)&p.ca, sizeof(p.ca),
          (struct sockaddr *)&p.sa, sizeof(p.sa), reset, rn, p.now);
  CHECK(!zq_is_dead(p.c.q));
  /* The right one closes it at once, with a reason that says so. */
  rn = zq_stateless_reset(&p.scfg, buf, (size_t)n, reset, sizeof(reset));
  CHECK(rn > 0 && rn < (size_t)n);
  zq_read(p.c.q, (struct sockaddr *)&p.ca, sizeof(p.ca),
          (struct sockaddr *)&p.sa, sizeof(p.sa), reset, rn, p.now);
  CHECK(zq_is_dead(p.c.q));
  CHECK_CONTAINS(zq_close_reason(p.c.q), "stateless reset");
  pair_free(&p);
  zt_tls_creds_free(ci);
  zt_tls_creds_free(cs);
}

/* Certificate rotation (tls.h zt_tls_creds_reload): the server's
 * certificate and key are replaced under a live connection. That connection
 * carries on; the next handshake presents the new certificate; a broken
 * set of files (key of another certificate, another CA, expired, missing,
 * another identity) is refused with the file and the reason, and the
 * certificate in use stays. */
static void put(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0);
}

static void serial_of(const char *pem, char hex[3 * ZT_SERIAL_MAX]) {
  uint8_t s[ZT_SERIAL_MAX];
  size_t n = sizeof(s);
  char err[128];
  CHECK_EQ_INT(zt_cert_serial(pem, s, &n, NULL, err, sizeof(err)), 0);
  zt_serial_hex(s, n, hex, 3 * ZT_SERIAL_MAX);
}

static void peer_serial(const struct zq_conn *q, char hex[3 * ZT_SERIAL_MAX]) {
  const struct zt_tls_peer_cert *pc = zq_peer_cert(q);
  zt_serial_hex(pc->serial, pc->serial_len, hex, 3 * ZT_SERIAL_MAX);
}

/* A new handshake against cs: the serial the client saw ("" refused). */
static void handshake_serial(struct zt_tls_creds *cs,
                             char hex[3 * ZT_SERIAL_MAX]) {
  struct zt_tls_creds *ci = creds(&p_agent);
  struct pair p;
  pair_init(&p, ci, cs, 1u << ZT_ROLE_AGENT);
  pump(&p);
  hex[0] = 0;
  if (zq_is_ready(p.c.q))
    peer_serial(p.c.q, hex);
  pair_free(&p);
  zt_tls_creds_free(ci);
}

static void test_creds_rotation(void) {
  char dir[] = "/tmp/ztna-rotate-XXXXXX", caf[64], crt[64], key[64], msg[1024];
  char err[256], s_old[3 * ZT_SERIAL_MAX], s_new[3 * ZT_SERIAL_MAX],
      seen[3 * ZT_SERIAL_MAX];
  struct zt_pem im2 = {0}, im3 = {0}, other = {0}, old = {0};
  CHECK(mkdtemp(dir));
  snprintf(caf, sizeof(caf), "%s/ca.pem", dir);
  snprintf(crt, sizeof(crt), "%s/im.pem", dir);
  snprintf(key, sizeof(key), "%s/im.key", dir);
  put(caf, ca.cert);
  put(crt, p_im.cert);
  put(key, p_im.key);
  struct zt_tls_creds *cs = zt_tls_creds_load(caf, crt, key, err, sizeof(err));
  CHECK(cs);
  serial_of(p_im.cert, s_old);
  CHECK_STR(cs->own_serial, s_old);

  /* A live connection before the rotation. */
  struct zt_tls_creds *ci = creds(&p_agent);
  struct pair live;
  pair_init(&live, ci, cs, 1u << ZT_ROLE_AGENT);
  pump(&live);
  CHECK(zq_is_ready(live.c.q) && zq_is_ready(live.s.q));

  /* Renewed: same identity, new key, new serial. */
  CHECK_EQ_INT(zt_cert_issue(&ca, ZT_ROLE_INTERMEDIATE, "intermediate", 2,
                             NULL, NULL, &im2, err, sizeof(err)), 0);
  put(crt, im2.cert);
  put(key, im2.key);
  uint64_t now = (uint64_t)time(NULL);
  CHECK_EQ_INT(zt_tls_creds_reload(cs, caf, crt, key, now, msg, sizeof(msg)), 0);
  serial_of(im2.cert, s_new);
  CHECK(strcmp(s_new, s_old) != 0);
  CHECK_STR(cs->own_serial, s_new);
  CHECK_CONTAINS(msg, s_new);
  CHECK_CONTAINS(msg, "reloaded");

  /* The live connection still carries datagrams both ways. */
  uint8_t d[100] = {0x45};
  CHECK_EQ_INT(zq_send_datagram(live.c.q, d, sizeof(d)), 0);
  CHECK_EQ_INT(zq_send_datagram(live.s.q, d, sizeof(d)), 0);
  pump(&live);
  CHECK_EQ_INT(live.s.dgrams, 1);
  CHECK_EQ_INT(live.c.dgrams, 1);
  CHECK(!zq_is_dead(live.c.q) && !zq_is_dead(live.s.q));
  peer_serial(live.c.q, seen);
  CHECK_STR(seen, s_old);
  /* A new one is shown the new certificate. */
  handshake_serial(cs, seen);
  CHECK_STR(seen, s_new);

  /* Key of another certificate: refused, naming both files. */
  CHECK_EQ_INT(zt_cert_issue(&ca, ZT_ROLE_INTERMEDIATE, "intermediate", 2,
                             NULL, NULL, &im3, err, sizeof(err)), 0);
  put(crt, im3.cert);
  CHECK_EQ_INT(zt_tls_creds_reload(cs, caf, crt, key, now, msg, sizeof(msg)), -1);
  CHECK_CONTAINS(msg, "do not match");
  CHECK_CONTAINS(msg, crt);
  CHECK_CONTAINS(msg, key);
  CHECK_CONTAINS(msg, "keeping the previous certificate");
  CHECK_STR(cs->own_serial, s_new);
  handshake_serial(cs, seen);
  CHECK_STR(seen, s_new);

  /* Another CA's certificate. */
  CHECK_EQ_INT(zt_cert_issue(&ca2, ZT_ROLE_INTERMEDIATE, "intermediate", 2,
                             NULL, NULL, &other, err, sizeof(err)), 0);
  put(crt, other.cert);
  put(key, other.key);
  CHECK_EQ_INT(zt_tls_creds_reload(cs, caf, crt, key, now, msg, sizeof(msg)), -1);
  CHECK_CONTAINS(msg, "not signed by the CA");
  /* Expired: an hour ago. */
  CHECK_EQ_INT(zt_cert_issue_until(&ca, ZT_ROLE_INTERMEDIATE, "intermediate",
                                   (int64_t)now - 3600, NULL, NULL, &old, err,
                                   sizeof(err)), 0);
  put(crt, old.cert);
  put(key, old.key);
  CHECK_EQ_INT(zt_tls_creds_reload(cs, caf, crt, key, now, msg, sizeof(msg)), -1);
  CHECK_CONTAINS(msg, "expired on");
  /* Another identity: a restart's business. */
  put(crt, p_agent.cert);
  put(key, p_agent.key);
  CHECK_EQ_INT(zt_tls_creds_reload(cs, caf, crt, key, now, msg, sizeof(msg)), -1);
  CHECK_CONTAINS(msg, "ztna://agent/alice, not this daemon's");
  /* Missing. */
  CHECK_EQ_INT(unlink(crt), 0);
  CHECK_EQ_INT(zt_tls_creds_reload(cs, caf, crt, key, now, msg, sizeof(msg)), -1);
  CHECK_CONTAINS(msg, "No such file");
  CHECK_STR(cs->own_serial, s_new);
  handshake_serial(cs, seen);
  CHECK_STR(seen, s_new);

  pair_free(&live);
  zt_tls_creds_free(ci);
  zt_tls_creds_free(cs);
  zt_pem_free(&im2);
  zt_pem_free(&im3);
  zt_pem_free(&other);
  zt_pem_free(&old);
  unlink(caf);
  unlink(key);
  rmdir(dir);
}

int main(void) {
  char err[256];
  if (getenv("QUIC_VERBOSE") == NULL)
    zt_log_set_level(ZT_LOG_ERROR);
  if (zt_cert_make_ca("test-ca", 1, &ca, err, sizeof(err)) ||
      zt_cert_make_ca("other-ca", 1, &ca2, err, sizeof(err)) ||
      zt_cert_issue(&ca, ZT_ROLE_INTERMEDIATE, "intermediate", 1, NULL, NULL,
                    &p_im, err, sizeof(err)) ||
      zt_cert_issue(&ca, ZT_ROLE_AGENT, "alice", 1, NULL, NULL, &p_agent, err,
                    sizeof(err)) ||
      zt_cert_issue(&ca, ZT_ROLE_CONNECTOR, "conn-a", 1, NULL, NULL, &p_conn,
                    err, sizeof(err)) ||
      zt_cert_issue(&ca2, ZT_ROLE_AGENT, "alice", 1, NULL, NULL, &p_foreign,
                    err, sizeof(err))) {
    fprintf(stderr, "certgen: %s\n", err);
    return 1;
  }
  RUN(test_tail_loss_with_queue_full);
  RUN(test_packet_key);
  RUN(test_key_stride);
  RUN(test_handshake_stream_datagram);
  RUN(test_inner_sizes);
  RUN(test_path_mtu);
  RUN(test_black_hole_sparse);
  RUN(test_foreign_ca_refused);
  RUN(test_wrong_role_refused);
  RUN(test_revoked_peer_refused);
  RUN(test_keepalive_and_idle_timeout);
  RUN(test_stateless_reset);
  RUN(test_creds_rotation);
  RUN(test_ack_hold);
  zt_pem_free(&ca);
  zt_pem_free(&ca2);
  zt_pem_free(&p_im);
  zt_pem_free(&p_agent);
  zt_pem_free(&p_conn);
  zt_pem_free(&p_foreign);
  return TEST_EXIT();
}

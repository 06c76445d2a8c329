/*
 * The parts of the JSON status (docs/status.md) the three nodes share: the
 * uplink object, a session's path and QUIC figures, addresses. Each node's
 * *_status_json() writes its own top level and calls these, so the same
 * field means the same thing whichever daemon reports it.
 */
#ifndef ZTNA_STATUSW_H
#define ZTNA_STATUSW_H

#include <sys/socket.h>

#include "jsonw.h"

#define ZT_STATUS_VERSION 1

struct zq_conn;
struct zt_uplink;

/* "key":"a.b.c.d:port", or null when sa is NULL or len is 0. */
void zt_statusw_addr(struct zt_jsonw *w, const char *key,
                     const struct sockaddr *sa, socklen_t len);
/* "key":"a.b.c.d", or null for 0 (no address). */
void zt_statusw_ip4(struct zt_jsonw *w, const char *key, uint32_t ip);
/* A certificate's expiry (certexpiry.h): "cert_not_after":"ISO time" (null
 * when unknown) and "cert_expiring_soon": within 30 days at wall time
 * `wall` (false without a wall clock). */
void zt_statusw_cert(struct zt_jsonw *w, int64_t not_after, bool has_wall,
                     int64_t wall);
/* The daemon's own certificate: zt_statusw_cert at io's wall clock. */
struct zt_io;
struct zt_tls_creds;
void zt_statusw_own_cert(struct zt_jsonw *w, const struct zt_tls_creds *creds,
                         const struct zt_io *io);
/* A connection's peer certificate, as zt_statusw_cert (null before the
 * handshake is done). */
void zt_statusw_peer_cert(struct zt_jsonw *w, const struct zq_conn *q,
                          const struct zt_io *io);
/* Opens the top-level object: {"daemon":..., "version":1, "identity":... */
void zt_statusw_begin(struct zt_jsonw *w, const char *daemon,
                      const char *identity);
/* "uplink":{...} of an agent or connector; intermediate_name is the name
 * its certificate must carry. Leaves the object open for extra members. */
void zt_statusw_uplink_begin(struct zt_jsonw *w, const struct zt_uplink *u,
                             const char *intermediate_name);
/* The members of an end-to-end session's object that describe its inner
 * QUIC connection: "rtt_us" (QUIC's smoothed estimate), "tx", "rx",
 * "drops". q may be NULL (not yet open). */
void zt_statusw_session_quic(struct zt_jsonw *w, const struct zq_conn *q);
/* "pmtu":{...}: the path MTU search of one QUIC connection (docs/
 * status.md), or null when q is NULL. */
void zt_statusw_pmtu(struct zt_jsonw *w, const struct zq_conn *q);
/* key: the address the relay's packets go to (the Intermediate's). */
void zt_statusw_relay_remote(struct zt_jsonw *w, const char *key,
                             const struct zt_uplink *u);

#endif

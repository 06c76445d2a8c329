/*
 * The daemons' control socket: a Unix stream socket (by default
 * /run/ztna/<daemon>.sock) on which `ztna status` asks for the status. It
 * lives in the event loop and never blocks it: each client sends one
 * request line ("status" or "status json") within a short deadline and a
 * bounded buffer, gets one reply, and is closed.
 *
 * A reply may also come later: requests other than "status" go to an
 * optional second handler (zt_ctlsock_set_defer), which may take the
 * request and answer it afterwards, from any event, with zt_ctlsock_reply()
 * (`ztna ping`: the reply is the probe's result). The client's deadline
 * still applies: one that has no reply by then is closed.
 *
 * Access is the socket file's mode: 0600, so only its owner (root, for the
 * daemons) may connect. The status names peers, addresses and traffic
 * figures, which other local users have no business reading.
 */
#ifndef ZTNA_CTLSOCK_H
#define ZTNA_CTLSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

#define ZT_CTLSOCK_DIR "/run/ztna"
#define ZT_CTLSOCK_MAX_CLIENTS 8
#define ZT_CTLSOCK_REQUEST_MAX 128    /* one request line, newline included */
#define ZT_CTLSOCK_DEADLINE_MS 2000   /* per client, request and reply */
#define ZT_CTLSOCK_REPLY_MAX (4u << 20)
/* The buffer of a deferring handler's immediate reply. */
#define ZT_CTLSOCK_DEFER_REPLY_MAX 4096

struct zt_ctlsock;

/* Answers one request ("status", "status json"): writes the reply into buf
 * (len bytes) and returns the length it needed, which may be >= len (then
 * it is called again with a bigger buffer). */
typedef int (*zt_ctlsock_handler)(void *ud, const char *request, char *buf,
                                  size_t len);

/* Answers a request other than "status"/"status json" (any line, the
 * unknown ones included), once per request. client_id names this client
 * for zt_ctlsock_reply(): ids are never reused while the socket is open
 * (a 64-bit counter from 1). Returns a negative value to answer later
 * (ZT_CTLSOCK_DEFERRED), or the length of an immediate reply written into
 * buf (len is ZT_CTLSOCK_DEFER_REPLY_MAX; a reply that does not fit is
 * replaced by an error line). */
typedef int (*zt_ctlsock_defer)(void *ud, const char *request,
                                uint64_t client_id, char *buf, size_t len);
#define ZT_CTLSOCK_DEFERRED (-1)

/* The path to use: `flag` (--control-socket), else `configured`
 * ("control_socket"), else /run/ztna/<daemon>.sock; NULL for "none". */
const char *zt_ctlsock_path(const char *flag, const char *configured,
                            const char *daemon, char *buf, size_t len);

/* Creates the socket at path (and its directory, 0755, if missing),
 * replacing a stale socket file a crashed daemon left, but not a live one
 * (another daemon answers there) nor anything that is not a socket. NULL
 * with a reason in err. */
struct zt_ctlsock *zt_ctlsock_open(struct zt_loop *l, const char *path,
                                   zt_ctlsock_handler h, void *ud, char *err,
                                   size_t errlen);
/* Sets (or, with NULL, clears) the deferring handler. Without one, other
 * requests get "error: unknown request". */
void zt_ctlsock_set_defer(struct zt_ctlsock *c, zt_ctlsock_defer h, void *ud);
/* The reply to a deferred request: sent, then the client is closed. 0, or
 * -1 when that client is gone (closed by its peer or its deadline, or
 * already answered): then nothing happens. */
int zt_ctlsock_reply(struct zt_ctlsock *c, uint64_t client_id,
                     const char *text, size_t len);
/* Deferred clients closed by their deadline before their reply came. */
uint64_t zt_ctlsock_deferred_timeouts(const struct zt_ctlsock *c);
/* Clients waiting for a deferred reply now. */
size_t zt_ctlsock_deferred_pending(const struct zt_ctlsock *c);
/* Closes the clients and the socket and removes the file (if it is still
 * ours). NULL is fine. */
void zt_ctlsock_close(struct zt_ctlsock *c);

/* TARGET of a "ping TARGET" request: 1 to 63 printable characters, no
 * spaces (the daemon checks it, and `ztna ping` before sending it). */
bool zt_ctlsock_ping_target_ok(const char *t);

#endif

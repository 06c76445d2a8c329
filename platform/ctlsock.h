/*
 * The daemons' control socket: a Unix stream socket (by default
 * /run/ztna/<daemon>.sock) on which `ztna status` asks for the status. It
 * lives in the event loop and never blocks it: each client sends one
 * request line ("status" or "status json") within a short deadline and a
 * bounded buffer, gets one reply, and is closed.
 *
 * Access is the socket file's mode: 0600, so only its owner (root, for the
 * daemons) may connect. The status names peers, addresses and traffic
 * figures, which other local users have no business reading.
 */
#ifndef ZTNA_CTLSOCK_H
#define ZTNA_CTLSOCK_H

#include <stddef.h>

#include "loop.h"

#define ZT_CTLSOCK_DIR "/run/ztna"
#define ZT_CTLSOCK_MAX_CLIENTS 8
#define ZT_CTLSOCK_REQUEST_MAX 64     /* one request line, newline included */
#define ZT_CTLSOCK_DEADLINE_MS 2000   /* per client, request and reply */
#define ZT_CTLSOCK_REPLY_MAX (4u << 20)

struct zt_ctlsock;

/* Answers one request ("status", "status json"): writes the reply into buf
 * (len bytes) and returns the length it needed, which may be >= len (then
 * it is called again with a bigger buffer). */
typedef int (*zt_ctlsock_handler)(void *ud, const char *request, char *buf,
                                  size_t len);

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
/* Closes the clients and the socket and removes the file (if it is still
 * ours). NULL is fine. */
void zt_ctlsock_close(struct zt_ctlsock *c);

#endif

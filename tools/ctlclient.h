/* The client side of a daemon's control socket (platform/ctlsock.h): one
 * request, one reply, shared by `ztna status` and `ztna ping`. */
#ifndef ZTNA_TOOLS_CTLCLIENT_H
#define ZTNA_TOOLS_CTLCLIENT_H

#include <signal.h>
#include <stddef.h>

/* Connects to path, sends req (one line, newline included) and reads the
 * reply until the daemon closes, at most max bytes, waiting at most
 * timeout_ms for each read. 0 with *out (malloc'd, NUL-terminated; empty
 * when the daemon closed without answering) and *outlen; -1 with err
 * naming path and the reason: no daemon there ("is ztna-agent
 * running?"), permission denied ("try sudo"), no answer in time. When
 * cancel is not NULL and a signal interrupts the wait with *cancel set,
 * -1 with err "interrupted". */
int zt_ctl_ask(const char *path, const char *req, int timeout_ms, size_t max,
               const volatile sig_atomic_t *cancel, char **out,
               size_t *outlen, char *err, size_t errlen);

#endif

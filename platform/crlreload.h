/*
 * The CRL read again on SIGHUP and `ztna reload` by the daemons that have
 * no other reload: the agent (it checks the Intermediate's and the
 * connectors' certificates) and the connector (it checks every agent's at
 * the inner handshake). Without this a revocation reached them only at a
 * restart. The Intermediate has its own (daemons/intermediate/main.c),
 * which also closes the live connections the new CRL revokes; here the new
 * list applies to the next handshakes: a revoked agent's live sessions end
 * when the Intermediate, reloaded too, closes its connection.
 */
#ifndef ZTNA_CRLRELOAD_H
#define ZTNA_CRLRELOAD_H

#include <stddef.h>

#include "config.h"
#include "tls.h"

/* Reads paths->crl again (checked against paths->ca) into creds. 0 and msg
 * "crl FILE reloaded: N revoked certificate(s)"; -1 and msg naming the
 * reason when there is no crl configured or it does not load (the previous
 * CRL stays: a broken file must not let revoked peers back in). */
int zt_crl_reload(struct zt_tls_creds *creds, const struct zt_tls_paths *paths,
                  char *msg, size_t len);

#endif

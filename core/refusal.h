/*
 * Why the Intermediate refused us, in words an operator can act on.
 *
 * In TLS 1.3 the client finishes its side of the handshake before the
 * server has checked the client's certificate, so a refused agent or
 * connector learns of it only from the TLS alert in the server's
 * CONNECTION_CLOSE. The Intermediate picks the alert by cause
 * (zt_tls_verify_peer); here each alert becomes a sentence naming our
 * certificate file and CA file and what to check.
 *
 * A refused client retries with backoff; zt_repeat keeps the log to one
 * line per cause and then one per ZT_REPEAT_EVERY attempts.
 */
#ifndef ZTNA_REFUSAL_H
#define ZTNA_REFUSAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "the intermediate refused our certificate /etc/ztna/agent.pem:
 * certificate_expired: it has expired or is not valid yet by the
 * intermediate's clock; renew it (ztna cert) or check both clocks".
 * cert_file/ca_file may be "" (credentials from memory). */
void zt_refusal_explain(uint8_t alert, const char *cert_file,
                        const char *ca_file, char *out, size_t len);

#define ZT_REPEAT_EVERY 10
struct zt_repeat {
  char last[160];  /* the cause last logged */
  unsigned count;  /* attempts that ended with it, in a row */
};
/* One more failure with this cause: log it now? True on a new cause and
 * on every ZT_REPEAT_EVERY-th repeat; *count is the run so far. */
bool zt_repeat_should_log(struct zt_repeat *r, const char *cause,
                          unsigned *count);
void zt_repeat_reset(struct zt_repeat *r);

#endif

/*
 * The end-to-end (inner) QUIC session between an agent and a connector,
 * carried in relay frames through the Intermediate. Its packets never leave
 * the process as UDP, so its path is synthetic: two fixed addresses that
 * stand for "the relay". ngtcp2 only compares them; they are never used to
 * send anything. Keeping them constant means a later direct path can be
 * modelled as a second synthetic local address (client-side migration).
 */
#ifndef ZTNA_E2E_H
#define ZTNA_E2E_H

#include <netinet/in.h>

#include "quic.h"

/* The agent's and the connector's ends of the relay path. */
extern const struct sockaddr_in zt_e2e_agent_addr;
extern const struct sockaddr_in zt_e2e_connector_addr;

/* Inner-session settings: ALPN, sizes that fit inside a relay frame, and
 * the identity the peer must prove. */
void zt_e2e_config(struct zq_config *cfg, struct zt_tls_creds *creds,
                   enum zt_role peer_role, const char *peer_name);

/* Feeds one relayed packet to the inner connection. */
void zt_e2e_feed(struct zq_conn *inner, bool at_agent, const uint8_t *pkt,
                 size_t len, uint64_t now);

#endif

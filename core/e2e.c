/* The inner session's relay path. See e2e.h. */
#include "e2e.h"

#include <arpa/inet.h>
#include <string.h>

#include "wire.h"

/* 192.0.0.0/24 is IETF protocol assignment space: never a real peer. */
const struct sockaddr_in zt_e2e_agent_addr = {
    .sin_family = AF_INET,
    .sin_port = 0x0100, /* port 1, network order */
    .sin_addr = {0x010000c0}, /* 192.0.0.1 */
};
const struct sockaddr_in zt_e2e_connector_addr = {
    .sin_family = AF_INET,
    .sin_port = 0x0100,
    .sin_addr = {0x020000c0}, /* 192.0.0.2 */
};

void zt_e2e_config(struct zq_config *cfg, struct zt_tls_creds *creds,
                   enum zt_role peer_role, const char *peer_name) {
  zq_config_defaults(cfg);
  cfg->creds = creds;
  cfg->alpn = ZT_ALPN_INNER;
  cfg->expect.roles = 1u << peer_role;
  cfg->expect.name = peer_name;
  cfg->max_udp_payload = ZT_INNER_UDP_PAYLOAD;
  /* The relay frame is what crosses NATs; the outer connection's
   * keepalives hold the mapping. The inner one only needs to outlive
   * quiet periods of the tunnelled traffic. */
  cfg->keepalive_ms = ZT_KEEPALIVE_MS;
}

void zt_e2e_feed(struct zq_conn *inner, bool at_agent, const uint8_t *pkt,
                 size_t len, uint64_t now) {
  const struct sockaddr_in *local =
      at_agent ? &zt_e2e_agent_addr : &zt_e2e_connector_addr;
  const struct sockaddr_in *remote =
      at_agent ? &zt_e2e_connector_addr : &zt_e2e_agent_addr;
  zq_read(inner, (const struct sockaddr *)local, sizeof(*local),
          (const struct sockaddr *)remote, sizeof(*remote), pkt, len, now);
}

/*
 * Every wire format and limit of ztna in one place. docs/protocol.md is the
 * prose version of this file; when one changes, so does the other.
 *
 * Two layers of QUIC (RFC 9000) with DATAGRAM frames (RFC 9221):
 *  - outer: agent/connector <-> Intermediate, ALPN ZT_ALPN_OUTER. Stream 0
 *    (client-initiated bidi) is the control stream carrying ctrl messages;
 *    DATAGRAM frames carry relay frames.
 *  - inner: agent <-> connector, ALPN ZT_ALPN_INNER, carried inside relay
 *    frames. Its DATAGRAM frames carry raw IPv4 packets.
 */
#ifndef ZTNA_WIRE_H
#define ZTNA_WIRE_H

#include <stdint.h>

#define ZT_ALPN_OUTER "ztna/1"
#define ZT_ALPN_INNER "ztna-e2e/1"
#define ZT_PROTOCOL_VERSION 1
#define ZT_DEFAULT_PORT 4433

/* ---- QUIC sizing -------------------------------------------------------- */

/* Outer UDP payload: fits a 1500-byte IPv6 path (1500 - 40 - 8). */
#define ZT_OUTER_UDP_PAYLOAD 1452
/* Largest DATAGRAM payload one outer packet carries: UDP payload minus the
 * short header (1 + 18-byte DCID + 4-byte packet number), the AEAD tag (16)
 * and the DATAGRAM frame header (1 + 2-byte length), with a few bytes of
 * slack. test_quic checks it against what ngtcp2 really accepts. */
#define ZT_OUTER_DGRAM_MAX 1404
/* A relay frame header is 5 bytes, so the inner connection's packets may be
 * at most this big; the inner QUIC connection is configured with it. */
#define ZT_INNER_UDP_PAYLOAD (ZT_OUTER_DGRAM_MAX - ZT_RELAY_HDR_LEN)
/* Largest IP packet an inner DATAGRAM carries, and so the agent's TUN MTU. */
#define ZT_INNER_DGRAM_MAX (ZT_INNER_UDP_PAYLOAD - 48)
#define ZT_TUN_MTU ZT_INNER_DGRAM_MAX

#define ZT_SCID_LEN 16

/* Path MTU (core/pmtu.h): every connection, outer and inner, starts at
 * QUIC's minimum UDP payload and discovers upward to its maximum above. A
 * datagram fits a packet of size S when it is at most S minus the exact
 * overhead: short header 1 + DCID ZT_SCID_LEN + packet number 4, AEAD tag
 * 16, DATAGRAM frame type 1 + length 2. */
#define ZT_QUIC_MIN_UDP_PAYLOAD 1200
#define ZT_QUIC_DGRAM_OVERHEAD (1 + ZT_SCID_LEN + 4 + 16 + 3)
/* A DATAGRAM payload starting with this byte is padding: a path MTU probe,
 * on both layers (no relay frame type, not IPv4). Dropped on receipt. */
#define ZT_DGRAM_PADDING 0x00

/* ---- Timers (milliseconds) ---------------------------------------------- */

#define ZT_IDLE_TIMEOUT_MS 30000      /* outer and inner max_idle_timeout */
#define ZT_KEEPALIVE_MS 10000         /* PING when idle this long */
/* A connector's outer connection PINGs far more often (connectors are
 * few), so that the Intermediate can tell within seconds that one was
 * killed: silent longer than ZT_CONNECTOR_SILENT_MS, it is chosen for no
 * agent (docs/protocol.md, "Several connectors for one service"). */
#define ZT_CONNECTOR_KEEPALIVE_MS 1000
#define ZT_CONNECTOR_SILENT_MS 3000
#define ZT_HANDSHAKE_TIMEOUT_MS 10000
#define ZT_BACKOFF_INITIAL_MS 1000    /* reconnect: 1, 2, 4, 8, 16, 30 s */
#define ZT_BACKOFF_MAX_MS 30000

/* ---- What one peer may hold at the Intermediate ------------------------ */

/* Control bytes queued for a peer and not yet acknowledged. A SERVICES
 * table is at most ~8.5 KB; a peer that withholds stream credit or ACKs
 * past this is closed rather than allowed to grow our memory. */
#define ZT_CTRL_BACKLOG_MAX (256 * 1024)
/* SESSION_OPENs per agent: a burst, then a steady rate (per second). An
 * agent opens one session per connector, again only after a failure. */
#define ZT_SESSION_OPEN_BURST 20
#define ZT_SESSION_OPEN_RATE 5

/* ---- Relay frames (outer DATAGRAM payload) -------------------------------
 *
 *   0      1               5
 *   +------+---------------+----------------------------+
 *   | type | channel (u32) | payload (inner QUIC packet) |
 *   +------+---------------+----------------------------+
 *
 * The Intermediate allocates channels (SESSION_OPEN). It forwards the frame
 * unchanged to the other end of the channel; it never looks at the payload.
 */
#define ZT_RELAY_HDR_LEN 5
#define ZT_RELAY_DATA 0x01

/* ---- Control messages (outer stream 0) -----------------------------------
 *
 *   +------+--------------+------------------+
 *   | type | length (u16) | body[length]      |
 *   +------+--------------+------------------+
 *
 * Integers are big-endian. A str8 is a u8 length and that many bytes (not
 * NUL-terminated on the wire); a name in a str8 follows the one name rule,
 * zt_name_valid_n in identity.h. An addr is a u8 family (4 or 6), 4 or 16
 * address bytes, u16 port. An ip4 is a u32.
 */
#define ZT_CTRL_HDR_LEN 3
#define ZT_CTRL_BODY_MAX 16384 /* a full SERVICES table is 8513 bytes */
#define ZT_NAME_MAX 63
#define ZT_MAX_SERVICES 64
/* Intermediates one agent or connector may be configured with. */
#define ZT_MAX_INTERMEDIATES 8
#define ZT_MAX_REASON 127

/* An empty frame of type 0: skipped by every reader without a count. QUIC
 * senders put one on the stream whenever datagrams go out and none of the
 * stream is in flight, because ngtcp2 0.12 arms its loss-probe timer only
 * for packets with frames it would retransmit, never for DATAGRAM: a
 * flight of datagrams lost whole (a path cut) would otherwise stall the
 * connection with a full congestion window until the idle timeout. */
#define ZT_CTRL_PAD 0x00

enum zt_ctrl_type {
  /* peer -> Intermediate: u8 version, ip4 previous tunnel address (0: none) */
  ZT_MSG_HELLO = 0x01,
  /* Intermediate -> peer: str8 identity as seen, addr observed, ip4 tunnel
   * address (agents; 0 for connectors) */
  ZT_MSG_WELCOME = 0x02,
  /* connector -> Intermediate: u8 n, n x str8 service name */
  ZT_MSG_REGISTER = 0x03,
  /* Intermediate -> connector: u8 n, n x (str8 name, u8 status, ip4 vip) */
  ZT_MSG_REGISTER_ACK = 0x04,
  /* Intermediate -> agent: u8 n, n x (str8 name, ip4 vip, str8 connector,
   * u8 online). The whole table, pushed whenever it changes. */
  ZT_MSG_SERVICES = 0x05,
  /* agent -> Intermediate: u32 request id, str8 connector */
  ZT_MSG_SESSION_OPEN = 0x06,
  /* Intermediate -> agent: u32 request id, u8 status, u32 channel */
  ZT_MSG_SESSION_READY = 0x07,
  /* Intermediate -> connector: u32 channel, str8 agent identity, ip4 agent
   * tunnel address, u8 n, n x ip4 vip the agent may reach */
  ZT_MSG_SESSION_NEW = 0x08,
  /* either way: u32 channel, u8 status */
  ZT_MSG_SESSION_CLOSE = 0x09,
  /* Intermediate -> peer: addr observed (sent again when it changes) */
  ZT_MSG_OBSERVED = 0x0a,
  /* either way: u8 status, str8 reason (may be empty: length 0 allowed) */
  ZT_MSG_ERROR = 0x0b,
  /* Inner session only (agent <-> connector, end to end, never seen by the
   * Intermediate): u32 probe key, u8 n (<= ZT_MAX_CANDIDATES), n x addr:
   * the sender's direct-path candidates and the key its probes answer to.
   * The agent sends first; the connector answers with its own. */
  ZT_MSG_CANDIDATES = 0x0c,
  /* agent -> Intermediate: u32 channel, u8 path (0 relay, 1 direct), for
   * the Intermediate's status; informational only. */
  ZT_MSG_PATH = 0x0d,
};
#define ZT_MSG_LAST ZT_MSG_PATH
#define ZT_MAX_CANDIDATES 8

enum zt_status {
  ZT_OK = 0,
  ZT_ERR_UNKNOWN_SERVICE = 1,
  ZT_ERR_NOT_ALLOWED = 2,
  ZT_ERR_OFFLINE = 3,
  ZT_ERR_NO_RESOURCES = 4,
  ZT_ERR_PROTOCOL = 5,
  ZT_ERR_GONE = 6,
  /* A newer connection of the same identity took this one's place (also
   * the QUIC application error the older connection is closed with, and
   * the SESSION_CLOSE status of the older one's channels: unlike
   * PEER_LOST, a direct session with the older instance ends too). */
  ZT_ERR_REPLACED = 7,
  /* SESSION_CLOSE: the other end's connection to the Intermediate ended.
   * A session on a direct path outlives its channel (docs/protocol.md). */
  ZT_ERR_PEER_LOST = 8,
  /* QUIC application errors a connection is closed with when its peer's
   * certificate is revoked (CRL reload) or expires (certexpiry.h). */
  ZT_ERR_CERT_REVOKED = 9,
  ZT_ERR_CERT_EXPIRED = 10,
};

#endif

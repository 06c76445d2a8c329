/*
 * The congestion controller of a daemon's QUIC connections (both layers:
 * the outer connection to the Intermediate and the inner end-to-end one),
 * chosen once per process by the config key "congestion_control".
 *
 * Why it matters: the tunnel's packets are DATAGRAM frames, never
 * retransmitted, so a loss-based controller (ngtcp2's default, CUBIC) reads
 * random path loss as congestion and shrinks its window on every loss,
 * twice over (two nested layers): 2% loss capped a tunnelled flow near
 * 2-3 Mbit/s and dropped 77% of a 20 Mbit/s UDP stream in the datagram
 * queue. A model-based controller (BBR, BBR2) keeps sending at the
 * measured bottleneck rate. Figures: docs/performance.md.
 */
#ifndef ZTNA_CCALGO_H
#define ZTNA_CCALGO_H

/* Values are ngtcp2_cc_algo's (ngtcp2 0.12.1: Reno, CUBIC, BBR, BBR2). */
#define ZT_CC_NAMES "reno, cubic, bbr, bbr2"
/* The default: BBR2 (NGTCP2_CC_ALGO_BBR2), measured best on a lossy link
 * (docs/performance.md). */
#define ZT_CC_DEFAULT 3

/* 0 and the algorithm (an ngtcp2_cc_algo value) for "reno", "cubic",
 * "bbr" or "bbr2"; -1 for anything else. */
int zt_cc_parse(const char *name, int *algo);
const char *zt_cc_name(int algo);

/* The process-wide choice zq_config_defaults() copies into every new
 * connection's settings. Starts at ZT_CC_DEFAULT; a daemon sets it from its
 * configuration before its first connection. */
int zt_cc_default(void);
void zt_cc_set_default(int algo);

#endif

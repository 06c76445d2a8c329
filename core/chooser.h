/*
 * Which connector serves an agent, for a service several connectors serve
 * (policy "connectors": [...]). The Intermediate decides and announces the
 * one chosen in SERVICES; the agent simply uses it.
 *
 * Sticky first: an agent keeps the connector it was given while that one
 * is registered and responsive (heard from recently), so a connector coming
 * back does not pull live flows away from the one that took over.
 * Otherwise rendezvous hashing: of the usable connectors, the one with the
 * highest weight(agent, service, connector). Agents spread evenly, every
 * Intermediate (and every restart) computes the same answer, and when a
 * connector leaves only its own agents move.
 */
#ifndef ZTNA_CHOOSER_H
#define ZTNA_CHOOSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/* A registered connector of the service. */
struct zt_chooser_candidate {
  const char *name;
  bool responsive; /* heard from lately (not silent) */
};

/* The rendezvous weight of `connector` for this agent and service. */
uint64_t zt_chooser_weight(const char *agent, const char *service,
                           const char *connector);

/* The index in c[] of the connector serving `agent` for `service`: the one
 * named `current` (the previous choice; NULL or "" for none) while it is
 * responsive, else the responsive one of highest weight. A silent one is
 * chosen only when none is responsive (the same way: it may well be alive,
 * and there is nothing better). -1 when n is 0: the service is offline. */
int zt_chooser_pick(const char *agent, const char *service,
                    const struct zt_chooser_candidate *c, size_t n,
                    const char *current);

/* One agent's choices so far, by service name: what makes them sticky. */
struct zt_choices {
  size_t n;
  struct {
    char service[ZT_NAME_MAX + 1];
    char connector[ZT_NAME_MAX + 1];
  } e[ZT_MAX_SERVICES];
};

/* The connector chosen for `service`, or "" when none is. */
const char *zt_choices_get(const struct zt_choices *c, const char *service);
/* Records the choice; NULL or "" forgets it. */
void zt_choices_set(struct zt_choices *c, const char *service,
                    const char *connector);

#endif

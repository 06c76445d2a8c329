/*
 * Tells systemd-resolved, where it runs, that names in the deployment's
 * domain (and only those) are resolved by the agent's DNS address through
 * the TUN device: `resolvectl dns TUN ADDR` and `resolvectl domain TUN
 * ~DOMAIN` (a routing-only domain: the link is not used for other names,
 * nor made the default route for DNS). Undone with `resolvectl revert TUN`
 * at exit.
 *
 * resolvectl, not D-Bus through libsystemd's sd-bus: three short-lived
 * commands at start and exit, off the packet path, need no new library,
 * and resolvectl is resolved's documented, stable command-line interface.
 */
#ifndef ZTNA_RESOLVED_H
#define ZTNA_RESOLVED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZT_RESOLVECTL "/usr/bin/resolvectl"
#define ZT_RESOLVED_RUNDIR "/run/systemd/resolve"

/* Is systemd-resolved there to talk to: resolvectl executable and
 * resolved's runtime directory present? */
bool zt_resolved_present(const char *resolvectl, const char *rundir);

/* Does this process share its network namespace with PID 1, where
 * systemd-resolved runs? False only when both are readable and differ
 * (an agent in a test's namespace must not configure the host's resolver
 * for a link index that means another device there); unreadable (no
 * CAP_SYS_PTRACE, as under the shipped unit) counts as shared. */
bool zt_resolved_same_netns(void);

/* Registers addr (host order) as the DNS server of ifname for ~domain,
 * running resolvectl (its path) twice. 0, or -1 with err naming the
 * command that failed (then the half done is reverted). */
int zt_resolved_register(const char *resolvectl, const char *ifname,
                         uint32_t addr, const char *domain, char *err,
                         size_t errlen);

/* `resolvectl revert ifname`; 0 or -1 with err. */
int zt_resolved_revert(const char *resolvectl, const char *ifname, char *err,
                       size_t errlen);

#endif

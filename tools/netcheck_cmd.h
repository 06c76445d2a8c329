/* `ztna netcheck`: what a NAT does to our UDP (docs/netcheck.md). */
#ifndef ZTNA_NETCHECK_CMD_H
#define ZTNA_NETCHECK_CMD_H

int zt_cmd_netcheck(int argc, char **argv);

#endif

/* `ztna status`: asks a local daemon over its control socket. */
#ifndef ZTNA_STATUS_CMD_H
#define ZTNA_STATUS_CMD_H

int zt_cmd_status(int argc, char **argv);

#endif

/* `ztna reload`: asks the Intermediate to re-read its policy. */
#ifndef ZTNA_TOOLS_RELOAD_CMD_H
#define ZTNA_TOOLS_RELOAD_CMD_H

int zt_cmd_reload(int argc, char **argv);

#endif

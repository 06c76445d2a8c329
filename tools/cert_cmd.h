/* `ztna ca ...` and `ztna cert ...`: the operator's certificate tasks. */
#ifndef ZTNA_TOOLS_CERT_CMD_H
#define ZTNA_TOOLS_CERT_CMD_H

/* argv[0] is the subcommand ("init", "issue", ...). Exit codes: 0 done,
 * 1 failed, 2 bad usage. */
int zt_cmd_ca(int argc, char **argv);
int zt_cmd_cert(int argc, char **argv);
/* `ztna crl show`. */
int zt_cmd_crl(int argc, char **argv);

#endif

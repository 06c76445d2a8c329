/*
 * Where a daemon's audit lines go (config `audit_log`, docs/audit.md): a
 * file opened for appending, or "-" for stdout. One per process, like the
 * audit sink it installs. The file is reopened on SIGHUP so logrotate can
 * move it away and signal; a line that cannot be written (a full disk) is
 * counted by the audit module and the daemon carries on.
 */
#ifndef ZTNA_AUDITFILE_H
#define ZTNA_AUDITFILE_H

#include <stddef.h>

/* Opens path and installs the sink: 0, or -1 with err naming the file and
 * the reason. */
int zt_auditfile_open(const char *path, char *err, size_t errlen);
/* Reopens the file at the same path (a no-op for stdout or when none is
 * open): the old one is kept when the new one cannot be opened. 0, or -1
 * with err. */
int zt_auditfile_reopen(char *err, size_t errlen);
/* Uninstalls the sink (writing what it still owes) and closes the file. */
void zt_auditfile_close(void);

#endif

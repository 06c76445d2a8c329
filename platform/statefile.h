/*
 * Small state files a daemon keeps across restarts (the Intermediate's
 * agent address bindings). Written atomically: a crash or a full disk
 * leaves the old file or the new one, never half of either.
 */
#ifndef ZTNA_STATEFILE_H
#define ZTNA_STATEFILE_H

#include <stddef.h>

/* Creates dir (mode 0700) if it does not exist. 0 or -1 with err. */
int zt_state_dir_ensure(const char *dir, char *err, size_t errlen);
/* Replaces path with text: path.tmp written, fsync'd, renamed over path,
 * and the directory fsync'd. 0 or -1 with "PATH: reason" in err. */
int zt_state_write(const char *path, const char *text, size_t len, char *err,
                   size_t errlen);

#endif

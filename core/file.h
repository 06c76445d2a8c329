/* Reading a whole (small) file: configs, certificates, keys. */
#ifndef ZTNA_FILE_H
#define ZTNA_FILE_H

#include <stddef.h>

/* The file's contents, NUL-terminated, malloc'd; its length in *len (may be
 * NULL). A file over `max` bytes is refused rather than read: a mistaken
 * path to a log or a device must not be slurped. NULL with "PATH: reason"
 * in err otherwise. A key file's contents are a secret: free them with
 * zt_free_secret_str (secret.h); a failed read wipes what it had read. */
char *zt_file_read(const char *path, size_t max, size_t *len, char *err,
                   size_t errlen);

#endif

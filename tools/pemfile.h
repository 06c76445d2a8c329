/* Writing the PEM files of the ztna tool (reading is core/file.h). */
#ifndef ZTNA_TOOLS_PEMFILE_H
#define ZTNA_TOOLS_PEMFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Writes through a temporary file and rename(2), so a crash never leaves a
 * half-written key. Without `force`, an existing file is an error. */
int zt_write_file(const char *path, const char *data, mode_t mode, bool force,
                  char *err, size_t errlen);

#endif

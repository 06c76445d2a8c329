/* Service address bindings on disk. See svcstate.h. */
#include "svcstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "log.h"
#include "statefile.h"

static struct zt_svcpool bindings;
static char state_path[ZT_PATH_MAX + 32]; /* "": nothing kept on disk */
static char *saved;                        /* the file's text, NULL: none */

struct zt_svcpool *zt_im_svcstate(void) { return &bindings; }

int zt_im_svcstate_open(const struct zt_intermediate_config *cfg,
                        bool writable, char *err, size_t errlen) {
  size_t len, skipped;
  zt_svcpool_init(&bindings, cfg->service_pool, cfg->service_pool_len);
  state_path[0] = '\0';
  if (!cfg->service_pool_len)
    return 0;
  if (!cfg->state_dir[0]) {
    if (writable)
      zt_warn("no state_dir: service addresses from service_pool last "
              "until a restart");
    return 0;
  }
  if (writable && zt_state_dir_ensure(cfg->state_dir, err, errlen) != 0)
    return -1;
  snprintf(state_path, sizeof(state_path), "%s/service-addresses",
           cfg->state_dir);
  if (access(state_path, F_OK) != 0)
    return 0; /* first start */
  if (!writable && access(state_path, R_OK) != 0) {
    fprintf(stderr,
            "warning: %s: not readable: showing a fresh allocation\n",
            state_path);
    return 0;
  }
  char *text = zt_file_read(state_path, 16 << 20, &len, err, errlen);
  if (!text)
    return -1;
  char why[256];
  if (zt_svcpool_load(&bindings, text, len, &skipped, why, sizeof(why)) != 0) {
    snprintf(err, errlen, "%s: %s", state_path, why);
    free(text);
    zt_svcpool_free(&bindings);
    return -1;
  }
  if (skipped)
    zt_warn("%s: %zu binding(s) outside service_pool or duplicated, "
            "dropped",
            state_path, skipped);
  free(saved);
  saved = text;
  return 0;
}

void zt_im_svcstate_save(void) {
  char err[512];
  if (!state_path[0])
    return;
  size_t need = zt_svcpool_dump(&bindings, NULL, 0);
  char *text = need != (size_t)-1 ? malloc(need + 1) : NULL;
  if (!text) {
    zt_err("cannot save service address bindings: out of memory");
    return;
  }
  zt_svcpool_dump(&bindings, text, need + 1);
  if (saved && strcmp(saved, text) == 0) {
    free(text);
    return;
  }
  if (zt_state_write(state_path, text, need, err, sizeof(err)) != 0) {
    zt_err("cannot save service address bindings: %s", err);
    free(text);
    return;
  }
  free(saved);
  saved = text;
}

/* landfall convert/: vhdx reader.  PLACEHOLDER being written: probes never match. */
#include <errno.h>
#include "format.h"

static int vhdx_probe (struct lf_file *f) { (void) f; return LF_NO_MATCH; }
static void *vhdx_open (struct lf_file *f, struct lf_disk *d)
{ (void) d; lf_error (ENOTSUP, "%s: vhdx is not supported yet", f->path); return NULL; }
static int vhdx_pread (void *h, void *b, size_t c, uint64_t o)
{ (void) h; (void) b; (void) c; (void) o; return -1; }
static void vhdx_close (void *h) { (void) h; }

const struct lf_format vhdx_format = {
  .name = "vhdx", .probe = vhdx_probe, .open = vhdx_open,
  .pread = vhdx_pread, .close = vhdx_close,
};

/* landfall convert/: vmdk reader.  PLACEHOLDER being written: probes never match. */
#include <errno.h>
#include "format.h"

static int vmdk_probe (struct lf_file *f) { (void) f; return LF_NO_MATCH; }
static void *vmdk_open (struct lf_file *f, struct lf_disk *d)
{ (void) d; lf_error (ENOTSUP, "%s: vmdk is not supported yet", f->path); return NULL; }
static int vmdk_pread (void *h, void *b, size_t c, uint64_t o)
{ (void) h; (void) b; (void) c; (void) o; return -1; }
static void vmdk_close (void *h) { (void) h; }

const struct lf_format vmdk_format = {
  .name = "vmdk", .probe = vmdk_probe, .open = vmdk_open,
  .pread = vmdk_pread, .close = vmdk_close,
};

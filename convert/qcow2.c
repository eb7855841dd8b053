/* landfall convert/: qcow2 reader.  PLACEHOLDER being written: probes never match. */
#include <errno.h>
#include "format.h"

static int qcow2_probe (struct lf_file *f) { (void) f; return LF_NO_MATCH; }
static void *qcow2_open (struct lf_file *f, struct lf_disk *d)
{ (void) d; lf_error (ENOTSUP, "%s: qcow2 is not supported yet", f->path); return NULL; }
static int qcow2_pread (void *h, void *b, size_t c, uint64_t o)
{ (void) h; (void) b; (void) c; (void) o; return -1; }
static void qcow2_close (void *h) { (void) h; }

const struct lf_format qcow2_format = {
  .name = "qcow2", .probe = qcow2_probe, .open = qcow2_open,
  .pread = qcow2_pread, .close = qcow2_close,
};

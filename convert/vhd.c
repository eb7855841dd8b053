#include <errno.h>
#include "format.h"
static int vhd_probe (struct lf_file *f) { (void) f; return LF_NO_MATCH; }
static void *vhd_open (struct lf_file *f, struct lf_disk *d) { (void) d; lf_error (ENOTSUP, "%s: x", f->path); return NULL; }
static int vhd_pread (void *h, void *b, size_t c, uint64_t o) { (void) h; (void) b; (void) c; (void) o; return -1; }
static void vhd_close (void *h) { (void) h; }
const struct lf_format vhd_format = { .name = "vhd", .probe = vhd_probe, .open = vhd_open, .pread = vhd_pread, .close = vhd_close };

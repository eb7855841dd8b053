/* landfall convert/: OVA.  PLACEHOLDER being written. */
#include <errno.h>
#include <stdlib.h>
#include "format.h"

int lf_ova_probe (const char *path) { (void) path; return LF_NO_MATCH; }
int lf_ova_list (const char *path, struct lf_ova_disk **ret)
{ (void) ret; lf_error (ENOTSUP, "%s: OVA not supported yet", path); return -1; }
void lf_ova_free (struct lf_ova_disk *disks, int n) { (void) disks; (void) n; }
struct lf_disk *lf_disk_open_ova_member (const char *p, const struct lf_ova_disk *m)
{ (void) m; lf_error (ENOTSUP, "%s: OVA not supported yet", p); return NULL; }

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall verify/: QA of a disk against a target hardware profile (hw/),
 * statically through guest/'s readers and by booting it under QEMU as the
 * profile says.  A peer of bootfix/: it decides from guest/ facts and the
 * profile, knows no job, and is what both `landfall verify` and a job's
 * verify step run, so the two cannot disagree on one output.
 */
#ifndef LF_VERIFY_H
#define LF_VERIFY_H

#include <stdbool.h>
#include <jansson.h>

/* verify.c: the static checks of verify (struct lf_guest, hw/'s profile).
 * Each check is {"check", "subject", "status": pass|fail|unknown|note,
 * "reason", "what_to_do"}.
 */
struct lf_guest;
struct lf_hw_profile;
extern void lf_verify_add (json_t *checks, const char *id,
                           const char *subject, const char *status,
                           const char *hint, const char *fmt, ...)
  __attribute__ ((format (printf, 6, 7)));
/* Every static check of the inspected guest G against P, in a new array. */
extern json_t *lf_verify_static (struct lf_guest *g,
                                 const struct lf_hw_profile *p);

/* boot.c: boot G's disks (through qcow2 overlays: never written)
 * under QEMU as P describes; the "boot" check, or NULL with the error
 * recorded if QEMU could not be started at all.
 */
#define LF_VERIFY_MAX_DISKS 8
struct lf_verify_boot_opts {
  unsigned timeout;             /* seconds */
  const char *const *markers;   /* NULL-terminated; any one passes */
  const char *log;              /* keep the console log here, or NULL */
};
extern json_t *lf_verify_boot (struct lf_guest *g,
                               const struct lf_hw_profile *p,
                               const struct lf_verify_boot_opts *o);

/* How many checks of CHECKS (an lf_verify_static / lf_verify_boot
 * array) have STATUS ("fail", "unknown", ...).
 */
extern size_t lf_verify_count (json_t *checks, const char *status);

#endif /* LF_VERIFY_H */

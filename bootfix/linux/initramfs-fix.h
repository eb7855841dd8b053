/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/linux: the initramfs fix's own parts, shared by
 * initramfs.c (the images and the profile's modules), depmod.c (the
 * image's module indexes) and early-load.c (the generators' early-load
 * lists).  Not for other concerns.
 */
#ifndef LF_INITRAMFS_FIX_H
#define LF_INITRAMFS_FIX_H

#include <sys/types.h>

#include "bootfix/bootfix.h"

#define CONCERN "initramfs"
#define MODULE_FILE_MAX   (64 * LF_MiB)   /* one module file */
#define MODULES_INDEX_MAX (64 * LF_MiB)   /* one modules.* file */
#define MODULES_TEXT_MAX_LINE 8192        /* one alias/symbol line */

/* The modules an image holds for one kernel: name -> path relative to
 * its module directory, sorted by name.
 */
struct present {
  size_t n, cap;
  char **name, **rel;
};

/* The modules a profile wants in every initramfs: the first NREQ must be
 * there, the rest where the kernel has them.  FOUND[m] is set when a
 * kernel's image got (or had) module m, for the generator's config.
 */
struct modlist {
  const struct lf_hw_profile *hw;
  const char **name;
  bool *found;
  size_t n, nreq;
};

/* initramfs.c */
extern bool lf_is_module_path (const char *path);
/* A guest or image file that may be absent: 0 with *BUF NULL if so. */
extern int lf_ird_read_opt (struct lf_plan *p, const char *path, size_t max,
                            char **buf, size_t *len);
extern void lf_present_free (struct present *ps);
/* Index of NAME, or -1. */
extern ssize_t lf_present_find (const struct present *ps, const char *name);
/* Insert or replace (a later archive entry overrides an earlier one). */
extern int lf_present_add (struct present *ps, const char *name,
                           const char *rel);
/* Every module file under MODDIR (the image's resolved module directory). */
extern int lf_present_scan (struct lf_initramfs *img, const char *moddir,
                            struct present *ps);
/* Split LINE (no newline) into at most MAX whitespace-separated fields. */
extern size_t lf_ird_fields (char *line, char **f, size_t max);

/* depmod.c: every index of IDIR (the image's module directory; GDIR the
 * guest's) for the modules in PS.
 */
extern int lf_depmod_rebuild (struct lf_plan *p, struct lf_initramfs *img,
                              const struct lf_moddep *guest,
                              const struct present *ps, const char *gdir,
                              const char *idir);
/* Does the image's modules.dep.bin resolve module NAME to REL? */
extern bool lf_depmod_bin_resolves (struct lf_initramfs *img,
                                    const char *idir, const char *name,
                                    const char *rel);

/* early-load.c: does the early-load list text TXT name NAME (dracut's
 * rd.driver.pre= words if DRACUT)?
 */
extern bool lf_early_list_has (const char *txt, bool dracut,
                               const char *name);
/* The early-load list in IMG for generator GEN: *OK if it names all NNEED
 * of NEED; if APPLY, the missing ones are appended.
 */
extern int lf_early_list (struct lf_initramfs *img, const char *gen,
                          const char **need, size_t nneed, bool apply,
                          bool *ok);
/* The modules of ML that were found, into generator GEN's config. */
extern int lf_early_persist (struct lf_plan *p, const char *gen,
                             const struct modlist *ml);

#endif /* LF_INITRAMFS_FIX_H */

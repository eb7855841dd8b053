/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall guest/: kernel modules as a guest and its initramfs images
 * hold them, read once: modules.dep and modules.builtin (modules-dep.c),
 * and whether a module with its whole dependency closure is inside an
 * image (modread.c).  inspect, verify and the initramfs fix all ask here.
 */
#ifndef LF_MODREAD_H
#define LF_MODREAD_H

#include <stdbool.h>
#include <stddef.h>

#include "guest/guest.h"
#include "initramfs/initramfs.h"

/* modules-dep.c
 *
 * A kernel's lib/modules/KVER/modules.dep ("path: dep dep ...", one line
 * per module, as depmod writes it), parsed as hostile text: every line,
 * path and count is capped, and paths must be relative to the module
 * directory with no "." or ".." component and a kernel-module suffix
 * (.ko, .ko.xz, .ko.zst, .ko.gz).  Errors name the file and the line.
 */
#define MODULES_DEP_MAX_SIZE   (64 * LF_MiB)  /* the whole file */
#define MODULES_DEP_MAX_LINES  (1u << 18)     /* modules (~6000 today) */
#define MODULES_DEP_MAX_LINE   65536          /* bytes in one line */
#define MODULES_DEP_MAX_DEPS   1024           /* dependencies of one module */
#define MODULES_DEP_MAX_PATH   4096           /* PATH_MAX */
#define MODULE_MAX_NAME        255            /* module name bytes */

struct lf_moddep_entry {
  char *path;                   /* "kernel/drivers/hv/hv_vmbus.ko" */
  char *name;                   /* "hv_vmbus" ('-' becomes '_') */
  size_t ndeps;
  size_t *deps;                 /* indexes into the entries; a dependency
                                   with no line of its own is an error */
  size_t line;                  /* 1-based */
};
struct lf_moddep {
  size_t n;
  struct lf_moddep_entry *e;    /* in file order (depmod's module order) */
  size_t *by_name;              /* entry indexes sorted by name */
};
extern int lf_moddep_parse (const char *buf, size_t len, const char *name,
                            struct lf_moddep *ret);
extern void lf_moddep_free (struct lf_moddep *d);
/* The entry for module NAME ('-' and '_' are the same), or NULL. */
extern const struct lf_moddep_entry *
lf_moddep_find (const struct lf_moddep *d, const char *name);
/* kmod's module name of PATH: the basename up to its first '.', with '-'
 * as '_', into BUF (SIZE bytes).  -1 (EINVAL) if empty or too long.
 */
extern int lf_module_name (const char *path, char *buf, size_t size);
/* Is NAME listed in a modules.builtin text (one path per line)? */
extern bool lf_modules_builtin_has (const char *builtin, size_t len,
                                    const char *name);

/* ---- initramfs images (modread.c) ---- */

/* Initramfs images of big distributions reach 100-200 MiB. */
#define LF_INITRAMFS_READ_MAX (512 * LF_MiB)

/* Parse an initramfs image read from a guest (BUF, LEN, taken over and
 * freed; NAME for messages) as every reader of guest images must: its
 * decoded bytes
 * streamed, never whole in memory, and only the small files the fix and
 * verify read kept (module indexes, early-load lists; with CONTENTS
 * false, none).
 */
extern struct lf_initramfs *lf_linux_initramfs_parse (void *buf,
                                                      size_t len,
                                                      const char *name,
                                                      bool contents);

/* An image file's content as a NUL-terminated copy in *OUT, or NULL if
 * absent; -1 if it was not kept in memory (lf_linux_initramfs_parse keeps
 * the module indexes and early-load lists only) or on ENOMEM.
 */
extern int lf_initramfs_text (struct lf_initramfs *img, const char *path,
                              char **out, size_t *len);
/* The generator an image's contents show: "initramfs-tools", "dracut",
 * "mkinitrd" or "unknown".
 */
extern const char *lf_initramfs_generator (struct lf_initramfs *img);

/* Add module K of D and everything it needs, each once, to the closure:
 * SEEN (D->n flags) marks members, QUEUE (room for D->n) lists them in
 * the order found from index QN on.  Returns the new length.  modules.dep
 * lists the closure whole, but it may list cycles: the walk stops on them.
 */
extern size_t lf_moddep_closure (const struct lf_moddep *d, size_t k,
                                 bool *seen, size_t *queue, size_t qn);

/* Is the module at REL (relative to the image's module directory DIR,
 * "lib/modules/KVER") in IMG, under any compression the kernel loads?
 * modules.dep names the file as it is, but an image may recompress.
 */
extern bool lf_initramfs_has_module (struct lf_initramfs *img,
                                     const char *dir, const char *rel);

/* Module NAME in IMG (modules.dep of the image DEP, may be NULL, and the
 * texts of modules.builtin of the image and of the guest, each may be
 * NULL): built in, present with all it needs, or not.
 */
enum lf_modstate { LF_MOD_BUILTIN, LF_MOD_PRESENT, LF_MOD_MISSING,
                   LF_MOD_UNRESOLVED };
struct lf_modcheck {
  enum lf_modstate state;
  size_t ndeps;                 /* LF_MOD_PRESENT: the closure's size - 1 */
  char missing[600];            /* LF_MOD_UNRESOLVED: the first absent
                                   dependency, "name (path)" */
};
extern int lf_initramfs_module (struct lf_initramfs *img, const char *dir,
                                const struct lf_moddep *dep,
                                const char *builtin, size_t blen,
                                const char *gbuiltin, size_t gblen,
                                const char *name, struct lf_modcheck *ret);

/* inspect-linux.c: facts of the kernel modules NAMES (NULL-terminated;
 * the caller's, from a profile: guest/ only reports) for every kernel and
 * initramfs inspection listed in OS.  Each kernel gets "profile_modules"
 * {name: {"state": builtin|module|missing, "file"}}; each image its
 * segments and their compression, the generator its contents show, and
 * "profile_modules" {name: builtin|present|absent}.  Problems with one
 * image are recorded in its entry ("error"), not returned.
 */
extern int lf_linux_module_facts (struct lf_os *os, const char *const *names);

#endif /* LF_MODREAD_H */

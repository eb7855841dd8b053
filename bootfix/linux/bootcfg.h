/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/linux: pure text transforms of boot configuration and
 * fstab (reference/linux.md §3, §4), grouped by source file.
 *
 * Each transform takes a file's text (untrusted: any bytes, NULs, no
 * final newline, very long lines) and returns the new text and what it
 * found; none reads or writes the guest, so unit tests and the fuzz target
 * drive them directly (bootfix/test-linux-text.c, tests/fuzz/fuzz-bootcfg.c).
 * Lines that are not edited are copied byte for byte, and running a
 * transform on its own output changes nothing.
 */
#ifndef LF_BOOTCFG_H
#define LF_BOOTCFG_H

#include "bootfix/bootfix.h"

#define BOOTCFG_MAX_SIZE   (4 << 20)  /* one configuration file */
#define BOOTCFG_MAX_LINE   65536      /* longer lines are left alone */
#define BOOTCFG_MAX_WORDS  4096       /* arguments on one command line */
#define BOOTCFG_MAX_FINDINGS 256      /* per file; more are counted */
#define GRUBENV_MAX_SIZE   65536      /* grub-editenv writes 1024 */

/* cmdline.c: findings of a transform, in order. */
struct lf_text_finding {
  enum lf_finding what;
  char *msg;
};
struct lf_findings {
  size_t n;
  size_t dropped;               /* past BOOTCFG_MAX_FINDINGS */
  struct lf_text_finding *f;
};
extern void lf_findings_add (struct lf_findings *fs, enum lf_finding what,
                             const char *fmt, ...) LF_PRINTF (3, 4);
extern void lf_findings_free (struct lf_findings *fs);

/* The kernel command line edit (reference/linux.md §3). */
struct lf_cmdline_opts {
  /* root=/dev/sdXN (hd, vd, xvd, /dev/disk/by-id, by-path) becomes
   * root=UUID=ROOT_UUID; NULL leaves root= alone.
   */
  const char *root_uuid;
  /* resume=/dev/...: the UUID of the swap it names, or NULL (left). */
  const char *(*resolve) (void *opaque, const char *device);
  void *opaque;
  /* Append our arguments (net.ifnames=0 if IFNAMES, rootdelay=ROOTDELAY
   * if ROOTDELAY >= 0, the profile's, the serial console last).  Without ADD, only the remove list applies and
   * arguments of ours are dropped (GRUB_CMDLINE_LINUX_DEFAULT, which
   * grub-mkconfig puts after GRUB_CMDLINE_LINUX).
   */
  bool add;
  bool ifnames;
  int rootdelay;
  /* The target's arguments (its profile's linux.kernel_params: NULL-
   * terminated, either may be NULL), and "console=ttyS0,115200n8" for its
   * serial console or "".  Set by lf_cmdline_opts_profile.
   */
  const char *const *params_add;
  const char *const *params_remove;
  char serial_word[LF_HW_MAX_STRING + 32];
};

/* The target's arguments in O from profile P (which must outlive O).
 * -1 with the error recorded if its serial console is too long.
 */
extern int lf_cmdline_opts_profile (struct lf_cmdline_opts *o,
                                    const struct lf_hw_profile *p);
/* What verify checks on a command line ARGS (one line, quote-aware):
 * *MISSING the arguments O appends that ARGS lacks, *UNWANTED the words
 * of ARGS O's remove list drops; each a ", "-separated list, or NULL.
 * The serial console's word is never unwanted, and its absence is not
 * listed: verify's linux-serial-console check says that.  With
 * O->ROOTDELAY >= 0 (the target has a value), no rootdelay= is unwanted.
 */
extern void lf_cmdline_audit (const char *args,
                              const struct lf_cmdline_opts *o,
                              char **missing, char **unwanted);

/* Edit the arguments ARGS (LEN bytes, one line).  A new string; the
 * original bytes if nothing changes (*CHANGED false).  NULL (ENOMEM,
 * EINVAL for a NUL byte, E2BIG past BOOTCFG_MAX_WORDS) with the error
 * recorded.
 */
extern char *lf_cmdline_edit (const char *args, size_t len,
                              const struct lf_cmdline_opts *o, bool *changed);

enum lf_bootcfg_kind {
  LF_BOOTCFG_GRUB2,             /* grub.cfg: linux/linux16/linuxefi lines,
                                   set kernelopts=, terminal commands */
  LF_BOOTCFG_BLS,               /* /boot/loader/entries/x.conf: options */
  LF_BOOTCFG_GRUB_LEGACY,       /* menu.lst, grub.conf: kernel lines */
  LF_BOOTCFG_EXTLINUX,          /* extlinux.conf, syslinux.cfg: APPEND */
  LF_BOOTCFG_DEFAULT_GRUB,      /* /etc/default/grub */
  LF_BOOTCFG_DEFAULT_GRUB_D,    /* /etc/default/grub.d/x.cfg: existing
                                   keys only, nothing added */
  LF_BOOTCFG_GRUBENV,           /* grubenv: kernelopts=, size kept */
  LF_BOOTCFG_KERNEL_CMDLINE,    /* /etc/kernel/cmdline */
};

/* Transform TEXT (LEN bytes) of KIND; NAME is used in findings.  Returns
 * the number of edits (0: *OUT is a copy of TEXT) or -1 with the error
 * recorded (out of memory, or a file over BOOTCFG_MAX_SIZE).  A construct
 * too odd to edit safely is left as it is, with an LF_WARNING finding.
 */
extern int lf_bootcfg_edit (enum lf_bootcfg_kind kind, const char *name,
                            const char *text, size_t len,
                            const struct lf_cmdline_opts *o,
                            char **out, size_t *outlen,
                            struct lf_findings *fnd);

/* fstab-edit.c: /etc/fstab (reference/linux.md §4). */
struct lf_fstab_res {
  bool found;                   /* on the disks given */
  bool os_disk;                 /* on the disk that holds / */
  char uuid[64];                /* its filesystem (or swap) UUID, or "" */
};
/* Where does SPEC (decoded) of the entry for MOUNTPOINT lead?  -1 only
 * for errors that should stop the edit (recorded).
 */
typedef int (*lf_fstab_resolve_fn) (void *opaque, const char *spec,
                                    const char *mountpoint,
                                    struct lf_fstab_res *r);
/* Device names become UUID=, data disks and swap get nofail, network
 * filesystems and names that lead nowhere are commented out with a
 * "# landfall:" note.  Same return convention as lf_bootcfg_edit.
 */
extern int lf_fstab_edit (const char *text, size_t len,
                          lf_fstab_resolve_fn resolve, void *opaque,
                          char **out, size_t *outlen,
                          struct lf_findings *fnd);
/* Is SPEC a kernel device name or a by-id/by-path link (names that change
 * on Azure)?
 */
extern bool lf_fstab_spec_is_device_name (const char *spec);

/* fstab.c: the guest side.  The filesystem (or swap) SPEC names among
 * G's, for the entry of MOUNTPOINT (NULL: none); "/" falls back to the
 * root the inspection found.  NULL if it names nothing on the disks given.
 */
extern struct lf_guest_fs *lf_linux_spec_fs (struct lf_guest *g,
                                             struct lf_os *os,
                                             const char *spec,
                                             const char *mountpoint);
/* Is F on the disk (or in the volume group) that holds OS's root? */
extern bool lf_linux_fs_on_os_disk (struct lf_guest *g, struct lf_os *os,
                                    const struct lf_guest_fs *f);

#endif /* LF_BOOTCFG_H */

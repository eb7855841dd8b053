/* landfall bootfix/: the changes that make a guest boot and connect on
 * Azure, one file per concern, grouped here by source file.
 *
 * bootfix/ is written against guest/'s filesystem interface and
 * initramfs/'s archive layer, decides what to change, and knows no job.
 */
#ifndef LF_BOOTFIX_H
#define LF_BOOTFIX_H

#include "guest.h"
#include "modread.h"
#include "initramfs.h"
#include "hw.h"

#include <stdio.h>

/* Options of a fix, from the CLI or the job. */
struct lf_fix_opts {
  const struct lf_hw_profile *profile;  /* the target (hw/): what drivers,
                                           modules and limits it needs */
  int rootdelay;                /* seconds for rootdelay=, -1: per profile
                                   and initramfs generator */
  bool rdp_no_nla;              /* Windows: RDP without NLA */
  bool cloud_init_azure;        /* Linux: write cloud-init's Azure
                                   datasource config (reference/linux.md
                                   §8: only when asked; no CLI flag yet) */
};

/* plan.c
 *
 * Every change is planned first: a list of edits (file contents to write,
 * files to remove) that --dry-run prints as diffs, and findings (already
 * right, skipped, warning, error) for the report.  Concerns read through
 * the plan (lf_plan_read), so a later concern sees an earlier one's
 * planned content.  Applying is done once for all concerns (journal.c).
 */
struct lf_plan;

enum lf_finding { LF_CHANGED, LF_ALREADY_RIGHT, LF_SKIPPED, LF_WARNING,
                  LF_FAILED };

extern struct lf_plan *lf_plan_new (struct lf_mounts *ms);
extern void lf_plan_free (struct lf_plan *p);
/* Plan PATH (a guest path) to hold BUF.  Content equal to what the file
 * holds (or will hold) is recorded as already right, not as an edit.  MODE
 * is for a new file; an existing file keeps its mode and owner.  WHY is one
 * line for the report ("hv_vmbus added to the early-load list").
 */
extern int lf_plan_write (struct lf_plan *p, const char *concern,
                          const char *path, const void *buf, size_t len,
                          uint32_t mode, const char *why);
/* The same with BUF (malloc'd) taken over, freed on error too. */
extern int lf_plan_write_take (struct lf_plan *p, const char *concern,
                               const char *path, void *buf, size_t len,
                               uint32_t mode, const char *why);
/* One concern's share of an edit several concerns made (the Windows fix
 * edits each hive once for all its concerns): the values or keys it
 * changed in the file.
 */
struct lf_plan_by {
  const char *concern;
  unsigned changes;
};
/* lf_plan_write_take for an edit shared by the NBY concerns BY. */
extern int lf_plan_write_by (struct lf_plan *p, const struct lf_plan_by *by,
                             size_t nby, const char *path, void *buf,
                             size_t len, uint32_t mode, const char *why);
/* Plan the removal of a file or symlink (not followed); nothing if absent. */
extern int lf_plan_remove (struct lf_plan *p, const char *concern,
                           const char *path, const char *why);
/* Plan a new symlink PATH -> TARGET (systemd enablement links).  A link
 * already pointing there is already right; anything else at PATH is left
 * alone with a warning, since it is the administrator's.
 */
extern int lf_plan_symlink (struct lf_plan *p, const char *concern,
                            const char *path, const char *target,
                            const char *why);
/* A finding that is not an edit (printf-style message). */
extern void lf_plan_note (struct lf_plan *p, const char *concern,
                          enum lf_finding what, const char *fmt, ...)
  LF_PRINTF (4, 5);
/* PATH as the plan will leave it: planned content, or the guest's.  ENOENT
 * if absent or planned for removal.  The buffer is NUL-terminated.
 */
extern int lf_plan_read (struct lf_plan *p, const char *path, size_t max,
                         char **buf, size_t *len);
extern bool lf_plan_exists (struct lf_plan *p, const char *path);
extern size_t lf_plan_nedits (const struct lf_plan *p);
/* Unified diffs of text edits, a summary of binary ones (--dry-run). */
extern void lf_plan_print (const struct lf_plan *p, FILE *fp);
/* The findings and edits for the report. */
extern json_t *lf_plan_report (const struct lf_plan *p);
/* The findings in order, typed (the report is their JSON). */
struct lf_plan_finding {
  const char *concern;
  enum lf_finding what;
  const char *msg;
};
extern size_t lf_plan_nfindings (const struct lf_plan *p);
extern struct lf_plan_finding lf_plan_finding (const struct lf_plan *p,
                                               size_t i);
/* The guest path of edit I (I < lf_plan_nedits). */
extern const char *lf_plan_edit_path (const struct lf_plan *p, size_t i);
/* Did any concern record LF_FAILED? */
extern bool lf_plan_failed (const struct lf_plan *p);

/* journal.c
 *
 * Applying a plan, for every guest file the same sequence (STYLE.md):
 * journal the intent and flush it; keep the original under a backup name,
 * once; write the new content atomically; mark the entry done.  A re-run
 * finds each entry done, half done or not started; undo walks the journal
 * backwards and leaves every file byte for byte as it was, then removes
 * the journal and backups.  DIR is the journal's guest directory
 * ("/var/lib/landfall" on Linux, "/landfall" on a Windows volume).
 */
extern int lf_plan_apply (struct lf_plan *p, const char *dir);
extern int lf_undo (struct lf_mounts *ms, const char *dir, json_t **report);

/* linux/initramfs.c */

/* The image reader, lf_linux_initramfs_parse, is guest/modread.h's. */

/* linux/modules-dep.c moved to guest/ (modread.h): a reader. */

/* linux/kmod-index.c
 *
 * kmod's binary index (modules.dep.bin, modules.alias.bin, ...): a trie of
 * 7-bit ASCII keys, each with values ordered by priority, written the way
 * depmod writes it (big-endian u32s, nodes in post-order, the root's
 * offset in the header), so that libkmod reads it and the bytes equal
 * depmod's for the same keys, values and priorities.
 */
#define KMOD_INDEX_MAGIC        UINT32_C (0xB007F457)
#define KMOD_INDEX_VERSION      UINT32_C (0x00020001)
#define KMOD_INDEX_NODE_PREFIX  UINT32_C (0x80000000)
#define KMOD_INDEX_NODE_VALUES  UINT32_C (0x40000000)
#define KMOD_INDEX_NODE_CHILDS  UINT32_C (0x20000000)
#define KMOD_INDEX_NODE_MASK    UINT32_C (0x0FFFFFFF) /* offsets < 256 MiB */
#define KMOD_INDEX_MAX_KEY      1024    /* depmod's alias buffer */
#define KMOD_INDEX_MAX_VALUE    (1024 * 1024)
#define KMOD_INDEX_MAX_ENTRIES  (1u << 22)

struct lf_kmod_index;
extern struct lf_kmod_index *lf_kmod_index_new (const char *name);
extern void lf_kmod_index_free (struct lf_kmod_index *idx);
/* Add KEY -> VALUE.  Among a key's values, lower PRIORITY comes first; of
 * equal priorities the later added comes first (as depmod's insert does).
 * Bytes outside 1..127 are refused (EINVAL), as depmod refuses them.
 */
extern int lf_kmod_index_add (struct lf_kmod_index *idx, const char *key,
                              const char *value, uint32_t priority);
extern int lf_kmod_index_write (struct lf_kmod_index *idx, void **out,
                                size_t *outlen);
/* Exact lookup in an index file BUF (untrusted): *VALUE (malloc'd) is the
 * first value of KEY.  LF_MATCH, LF_NO_MATCH, or -1 for a damaged index.
 */
extern int lf_kmod_index_lookup (const void *buf, size_t len,
                                 const char *name, const char *key,
                                 char **value);
/* depmod's alias normalisation: '-' becomes '_' outside [...] ranges.
 * -1 (EINVAL) for an unmatched bracket or an alias too long for SIZE.
 */
extern int lf_kmod_alias_normalize (const char *alias, char *buf,
                                    size_t size);

/* linux/fix.c: the whole Linux fix, every concern in order, into P. */
extern int lf_fix_linux (struct lf_guest *g, struct lf_os *os,
                         struct lf_plan *p, const struct lf_fix_opts *o);
#define LF_LINUX_JOURNAL_DIR "/var/lib/landfall"

/* The Linux concerns, one file each.  Each reads the guest through the
 * plan (lf_plan_read / lf_plan_exists), plans its edits and records its
 * findings; -1 only for errors that should stop the whole fix (the plan
 * is then not applied).  A problem limited to one item (one kernel, one
 * NIC) is a finding (LF_FAILED or LF_WARNING), not -1.
 */
/* linux/initramfs.c: Hyper-V modules into every initramfs */
extern int lf_fix_linux_initramfs (struct lf_guest *g, struct lf_os *os,
                                   struct lf_plan *p,
                                   const struct lf_fix_opts *o);
/* linux/fstab.c: fstab by UUID, nofail for data disks */
extern int lf_fix_linux_fstab (struct lf_guest *g, struct lf_os *os,
                               struct lf_plan *p, const struct lf_fix_opts *o);
/* linux/boot.c: kernel command line in every boot loader config */
extern int lf_fix_linux_boot (struct lf_guest *g, struct lf_os *os,
                              struct lf_plan *p, const struct lf_fix_opts *o);
/* linux/network.c: primary NIC on DHCP in every stack, udev rules */
extern int lf_fix_linux_network (struct lf_guest *g, struct lf_os *os,
                                 struct lf_plan *p,
                                 const struct lf_fix_opts *o);
/* linux/agents.c: VMware tools off, waagent/cloud-init for Azure */
extern int lf_fix_linux_agents (struct lf_guest *g, struct lf_os *os,
                                struct lf_plan *p, const struct lf_fix_opts *o);

/* windows/fix.c: the whole Windows fix into P.  Refused (-1, nothing
 * planned) for a BitLocker volume, a hibernated or dirty NTFS volume and
 * a hive with unreplayed transaction logs; then every concern in order.
 * The journal lives on the Windows volume.
 */
extern int lf_fix_windows (struct lf_guest *g, struct lf_os *os,
                           struct lf_plan *p, const struct lf_fix_opts *o);
#define LF_WINDOWS_JOURNAL_DIR "/landfall"

/* fixers.c: the fix of each OS type (lf_os.type), one table. */
struct lf_fixer {
  const char *type;             /* "linux", "windows" */
  int (*fix) (struct lf_guest *g, struct lf_os *os, struct lf_plan *p,
              const struct lf_fix_opts *o);
  const char *journal_dir;      /* the journal's guest directory */
};
/* The fixer of TYPE, or NULL (ENOTSUP, "no fix for an operating system of
 * type 'TYPE'").
 */
extern const struct lf_fixer *lf_fixer_find (const char *type);
/* OS's fix into P; *DIR (if DIR) its journal directory.  -1 for an OS
 * type with no fix, as for any error.
 */
extern int lf_fix_os (struct lf_guest *g, struct lf_os *os, struct lf_plan *p,
                      const struct lf_fix_opts *o, const char **dir);

/* The guest path of a driver: what its ImagePath IMAGE (may be NULL)
 * names, else SYSROOT/System32/drivers/FILE (where Windows looks for a
 * kernel driver with no ImagePath).  NULL if out of memory (recorded).
 */
extern char *lf_win_driver_path (const char *sysroot, const char *image,
                                 const char *file);

/* readiness.c: a profile's report-only items against a guest, as one
 * line for a note, or NULL when there is nothing to say (or out of
 * memory).  Linux: linux.readiness for kernel KVER (module present, built
 * in, or absent, and a kernel older than the item's "since").
 */
extern char *lf_linux_readiness (struct lf_os *os, const char *kver,
                                 const struct lf_hw_profile *p);
/* Windows: windows.readiness, each driver file present or absent. */
extern char *lf_win_readiness (struct lf_os *os,
                               const struct lf_hw_profile *p);
/* The fix's "readiness" concern: the above as notes, nothing changed. */
extern int lf_fix_linux_readiness (struct lf_guest *g, struct lf_os *os,
                                   struct lf_plan *p,
                                   const struct lf_fix_opts *o);
/* linux.udev_rules that no rules directory of the guest holds. */
extern char *lf_linux_udev_missing (struct lf_os *os,
                                    const struct lf_hw_profile *p);

#endif /* LF_BOOTFIX_H */

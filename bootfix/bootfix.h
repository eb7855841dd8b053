/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/: the changes that make a guest boot and connect on
 * Azure, one file per concern, grouped here by source file.
 *
 * bootfix/ is written against guest/'s filesystem interface and
 * initramfs/'s archive layer, decides what to change, and knows no job.
 */
#ifndef LF_BOOTFIX_H
#define LF_BOOTFIX_H

#include "guest/guest.h"
#include "guest/modread.h"
#include "initramfs/initramfs.h"
#include "hw/hw.h"

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
/* Plan directory PATH and its missing parents (nothing if it exists). */
extern int lf_plan_mkdir (struct lf_plan *p, const char *concern,
                          const char *path);
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


/* gpt-convert.c: an MBR disk made GPT with a new EFI system partition, in
 * place, for a UEFI profile (see the file).  Sizes in sectors of 512.
 */
#define LF_GPT_MAX_PARTS 128
#define LF_ESP_SIZE      (100 * LF_MiB)
#ifndef LF_ARRAY_SIZE
#define LF_ARRAY_SIZE(a) (sizeof (a) / sizeof ((a)[0]))
#endif
struct lf_gpt_part {
  unsigned number;              /* 1-based; the GPT entry keeps it */
  uint64_t start, size;         /* sectors */
  unsigned mbr_type;            /* 0x83 ... */
  bool bootable;
};
struct lf_gpt_conv {
  char path[4096];              /* the image file */
  size_t disk_index;            /* among the disks given */
  bool vhd;                     /* a fixed VHD: its footer moves */
  uint64_t old_size, new_size;  /* the disk's bytes, footer excluded */
  uint64_t old_file_size;
  uint64_t gap;                 /* bytes before the first partition: the
                                   MBR and grub's core.img, for undo */
  uint64_t esp_start, esp_sectors;
  unsigned esp_number;
  uint32_t disk_id;             /* the MBR signature: GPT GUIDs and the
                                   FAT volume id derive from it */
  char esp_volid[10];           /* "1DFA-0003": fstab's UUID= */
  bool had_extended;            /* logical partitions became entries */
  size_t nparts;
  struct lf_gpt_part parts[LF_GPT_MAX_PARTS];
  /* The ESP's loader: the guest's signed shim and grub, or (LOADER NULL)
   * a grub image built from the host's grub-efi-amd64-bin whose embedded
   * configuration finds BOOT_UUID and loads GRUB_PREFIX/grub.cfg.
   */
  char *loader, *grub;
  size_t loaderlen, grublen;
  char boot_uuid[64];
  char grub_prefix[64];         /* "/boot/grub", or "/grub" for a /boot
                                   filesystem */
};
/* The refusals, by name, for partitions PARTS of a disk of DISK_BYTES:
 * none, more than 127 (the ESP needs an entry), one starting before
 * sector 34 (GPT's header and entries), one beyond the disk, a type with
 * no GPT equivalent.  NAME is for messages.
 */
extern int lf_gpt_conv_check (const struct lf_gpt_part *parts, size_t n,
                              uint64_t disk_bytes, const char *name);
/* Read the MBR of the image PATH (VHD: a fixed VHD of DISK_BYTES plus its
 * footer) with libfdisk and plan its conversion into *C; -1 naming what
 * cannot be converted (a block device: it cannot grow).  Writes nothing.
 */
extern int lf_gpt_conv_plan (const char *path, bool vhd, uint64_t disk_bytes,
                             struct lf_gpt_conv *c);
extern void lf_gpt_conv_free (struct lf_gpt_conv *c);
/* Grow the image, write the ESP (WITH_ESP: built with mkfs.fat and
 * mtools) and the GPT.  The journal must hold the gap first.
 */
extern int lf_gpt_conv_apply (const struct lf_gpt_conv *c, bool with_esp);
/* The grub configuration a built loader embeds (a new string). */
extern char *lf_gpt_conv_embedded_cfg (const struct lf_gpt_conv *c);
/* Give the image PATH its MBR disk back from the journal's record META
 * (old_file_size, new_file_size, old_footer hex for a VHD) and the GAP
 * bytes: the sectors before the first partition, the size, the footer.
 */
extern int lf_gpt_conv_undo (const char *path, const json_t *meta,
                             const void *gap, size_t gaplen);
/* The host's grub x86_64-efi modules ($LANDFALL_GRUB_EFI_DIR, default
 * /usr/lib/grub/x86_64-efi, from Debian's grub-efi-amd64-bin).
 */
extern const char *lf_grub_efi_dir (void);

/* linux/uefi.c: for a UEFI profile on an MBR disk, plan the conversion
 * (refusals as failed findings), the guest's side of it (fstab's
 * /boot/efi, grub.cfg's linux16) and its journal record; the disk itself
 * is converted by lf_plan_convert_disk once the guest is closed.
 */
extern int lf_fix_linux_uefi (struct lf_guest *g, struct lf_os *os,
                              struct lf_plan *p, const struct lf_fix_opts *o);
/* Why a Secure Boot profile HW refuses a guest without its signed shim
 * (HAVE_SHIM false) or signed grub, naming the file (a static string).
 */
#define LF_SHIM_PATH "/usr/lib/shim/shimx64.efi.signed"
#define LF_SIGNED_GRUB_PATH "/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed"
extern const char *lf_secure_boot_missing (const struct lf_hw_profile *hw,
                                           bool have_shim);
/* TEXT (a grub.cfg) with linux16/initrd16 as linux/initrd; *CHANGES how
 * many.  A new string.
 */
extern char *lf_grub_cfg_uefi (const char *text, size_t len,
                               unsigned *changes);
/* The disk conversion the plan holds (NULL: none), and the journal's
 * record of it.  The plan keeps ownership.
 */
extern void lf_plan_set_disk_conv (struct lf_plan *p, struct lf_gpt_conv *c,
                                   void *gap);
extern const struct lf_gpt_conv *lf_plan_disk_conv (const struct lf_plan *p);
/* After lf_plan_apply and with every handle on the disk closed: convert
 * it (nothing if the plan holds no conversion).
 */
extern int lf_plan_convert_disk (struct lf_plan *p);
/* The disk conversion the journal in DIR records: *META (the record),
 * *GAP (malloc'd) and *GAPLEN; 0 with *META NULL when there is none.
 */
extern int lf_undo_disk_record (struct lf_mounts *ms, const char *dir,
                                json_t **meta, char **gap, size_t *gaplen);

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

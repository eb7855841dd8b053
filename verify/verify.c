/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall verify: the static checks of a machine's disks against a
 * target hardware profile (hw/).
 *
 * Each check reads what inspection found (os->facts) or the guest itself,
 * read-only, through the same parsers the fix uses (initramfs/,
 * modules.dep, fstab, the hives), so that verify and fix cannot disagree
 * on what a file means.  A check is one JSON object: an id, what it
 * looked at, a status (pass, fail, unknown when it could not tell, note
 * for accepted-with-a-remark), the reason and, when not a pass, what to do.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/common.h"
#include "guest/guest.h"
#include "bootfix/bootfix.h"
#include "bootfix/linux/bootcfg.h"
#include "guest/bootread.h"
#include "hw/hw.h"
#include "verify/verify.h"

#define GPT_ESP       "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
#define GPT_BIOS_BOOT "21686148-6449-6e6f-744e-656564454649"
#define MODULES_TEXT_MAX   (64 * LF_MiB)
#define SAN_ONLINE_ALL 1

void LF_PRINTF (6, 7)
lf_verify_add (json_t *checks, const char *id, const char *subject,
               const char *status, const char *hint, const char *fmt, ...)
{
  char reason[2048];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (reason, sizeof reason, fmt, ap);
  va_end (ap);
  json_array_append_new (checks, json_pack ("{s:s, s:s, s:s, s:s, s:s?}",
                                            "check", id, "subject", subject,
                                            "status", status,
                                            "reason", reason,
                                            "what_to_do", hint));
}
#define ADD lf_verify_add

/* ---- Container and disk --------------------------------------------- */

static void
check_container (struct lf_guest *g, size_t i, bool os_disk,
                 const struct lf_hw_profile *p, json_t *c)
{
  const char *path = lf_disk_path (g->disks[i]);
  const char *fmt = lf_disk_format (g->disks[i]);
  const char *sub = lf_disk_subformat (g->disks[i]);
  uint64_t size = lf_disk_size (g->disks[i]);
  bool raw = strcmp (fmt, "raw") == 0;
  char hs[32], hm[32];

  if (strcmp (p->container, "any") == 0)
    ADD (c, "container", path, "pass", NULL, "%s: any container (profile)",
         fmt);
  else if (strcmp (fmt, "vhd") == 0 && strcmp (sub, "fixed") == 0)
    /* lf_disk_open refused a footer with a bad cookie, checksum or a
     * size beyond the file, so an open fixed VHD has a valid footer.
     */
    ADD (c, "container", path, "pass", NULL,
         "fixed VHD, footer valid (cookie, checksum, size within the file)");
  else if (raw)
    ADD (c, "container", path, "note",
         "landfall convert --in-place DISK (appends the footer, no copy)",
         "raw image: the bytes are what Azure boots, but upload needs a "
         "fixed VHD footer");
  else
    ADD (c, "container", path, "fail",
         "landfall convert DISK -o DISK.vhd",
         "%s%s%s: Azure accepts only a fixed VHD", fmt, *sub ? " " : "", sub);

  if (size % p->size_multiple == 0)
    ADD (c, "disk-size-multiple", path, "pass", NULL,
         "%" PRIu64 " bytes is a whole multiple of %" PRIu64, size,
         p->size_multiple);
  else
    ADD (c, "disk-size-multiple", path, raw ? "note" : "fail",
         "landfall convert (or convert --in-place) rounds the size up",
         "%" PRIu64 " bytes is not a multiple of %" PRIu64 " (%s)%s", size,
         p->size_multiple, lf_human_size (size, hs, sizeof hs),
         raw ? ": convert rounds it up" : ": Azure refuses the upload");
  if (os_disk) {
    lf_human_size (p->max_os_disk_size, hm, sizeof hm);
    if (size <= p->max_os_disk_size)
      ADD (c, "os-disk-size", path, "pass", NULL, "%s, at most %s",
           lf_human_size (size, hs, sizeof hs), hm);
    else
      ADD (c, "os-disk-size", path, "fail",
           "shrink the OS disk's partitions below the limit, or choose a "
           "profile that allows it (azure-gen2: 4 TiB)",
           "%s is more than %s, the OS disk limit of %s",
           lf_human_size (size, hs, sizeof hs), hm, p->name);
  }
}

/* ---- Partition table and boot code ---------------------------------- */

static bool
profile_has_table (const struct lf_hw_profile *p, const char *t)
{
  for (char **x = p->partition_tables; *x; x++)
    if (strcmp (*x, t) == 0)
      return true;
  return false;
}

static void
check_uefi_loader (struct lf_guest *g, size_t d, const struct lf_partition *esp,
                   const char *path, json_t *c)
{
  static const char loader[] = "/EFI/BOOT/BOOTX64.EFI";
  struct lf_guest_fs *f = NULL;
  struct lf_stat st;

  for (size_t i = 0; i < g->nfs; i++)
    if (g->fss[i].disk == d && g->fss[i].part == esp->number)
      f = &g->fss[i];
  if (f && f->fs) {
    if (f->fs->ops->lstat (f->fs, loader, &st) == 0 && S_ISREG (st.mode))
      ADD (c, "boot-code", path, "pass", NULL,
           "EFI system partition %u holds the fallback loader "
           "\\EFI\\BOOT\\BOOTX64.EFI", esp->number);
    else {
      lf_error_clear ();
      ADD (c, "boot-code", path, "fail",
           "landfall fix installs the fallback loader from the guest's own "
           "boot loader",
           "EFI system partition %u has no \\EFI\\BOOT\\BOOTX64.EFI: Azure's "
           "UEFI keeps no boot entries of the source, so only the fallback "
           "loader boots", esp->number);
    }
    return;
  }
  /* Honest rather than hopeful: without a FAT reader we cannot see the
   * loader, and a pass here would be a guess.
   */
  ADD (c, "boot-code", path, "unknown",
       "run on a workstation with libguestfs (--guestfs=always), or look "
       "with mtools: mdir -i DISK@@OFFSET ::/EFI/BOOT",
       "EFI system partition %u is %s, which no backend here reads: "
       "\\EFI\\BOOT\\BOOTX64.EFI could not be looked for", esp->number,
       f && *f->info.type ? f->info.type : "not opened");
}

static void
check_boot (struct lf_guest *g, size_t d, const struct lf_hw_profile *p,
            json_t *c)
{
  const struct lf_partition_table *t = &g->tables[d];
  const char *path = lf_disk_path (g->disks[d]);
  const struct lf_partition *esp = NULL, *biosboot = NULL;
  const char *want = p->partition_tables[0];

  for (size_t i = 0; i < t->n; i++) {
    if (strcasecmp (t->parts[i].type, GPT_ESP) == 0 ||
        strcasecmp (t->parts[i].type, "0xef") == 0)
      esp = esp ? esp : &t->parts[i];
    if (strcasecmp (t->parts[i].type, GPT_BIOS_BOOT) == 0)
      biosboot = &t->parts[i];
  }
  if (!*t->type)
    ADD (c, "partition-table", path, "fail",
         "a boot disk needs a partition table: rebuild the source disk",
         "no partition table (a bare filesystem does not boot)");
  else if (profile_has_table (p, t->type))
    ADD (c, "partition-table", path, "pass", NULL, "%s%s, as %s needs",
         strcmp (t->type, "dos") == 0 ? "MBR (dos)" : "GPT",
         t->hybrid ? " (hybrid)" : "", p->name);
  else
    ADD (c, "partition-table", path, "fail",
         strcmp (p->firmware, "uefi") == 0
         ? "verify against azure-gen1 (BIOS) instead, or convert the disk to "
           "GPT with an EFI system partition (e.g. with the guest's own tools "
           "before migration)"
         : "verify against azure-gen2 (UEFI) instead, or rebuild the disk "
           "as MBR before migration",
         "%s partition table, but %s (%s) needs %s", t->type, p->name,
         p->firmware, want);

  if (strcmp (p->firmware, "bios") == 0) {
    uint8_t mbr[440];
    bool code = lf_bd_pread (g->disk_bds[d], mbr, sizeof mbr, 0) == 0 &&
      !lf_is_zero (mbr, sizeof mbr);
    lf_error_clear ();
    if (strcmp (t->type, "gpt") == 0 && !biosboot)
      ADD (c, "boot-code", path, "fail",
           "verify against azure-gen2 (UEFI); BIOS needs an MBR disk or a "
           "BIOS boot partition",
           "GPT disk without a BIOS boot partition%s: BIOS firmware cannot "
           "boot it", esp ? " (it has an EFI system partition: a UEFI disk)"
           : "");
    else if (code)
      ADD (c, "boot-code", path, "pass", NULL,
           "MBR boot code present (first 440 bytes not empty)");
    else
      ADD (c, "boot-code", path, "fail",
           "install a boot loader in the MBR on the source (grub-install, "
           "or bootsect /nt60 on Windows)",
           "the MBR's boot code area is empty: BIOS firmware finds nothing "
           "to run%s", esp ? " (it has an EFI system partition: a UEFI disk)"
           : "");
  }
  else {
    if (!esp)
      ADD (c, "boot-code", path, "fail",
           "verify against azure-gen1 (BIOS) instead, or add an EFI system "
           "partition and a UEFI boot loader on the source",
           "no EFI system partition: UEFI firmware has nothing to boot");
    else
      check_uefi_loader (g, d, esp, path, c);
  }
}

/* ---- Linux ---------------------------------------------------------- */

static const char *
base_name (const char *p)
{
  const char *s = strrchr (p, '/');
  return s ? s + 1 : p;
}

/* Append S to the growing list *L ("a, b"). */
static void
list_add (char **l, const char *s)
{
  char *n = NULL;
  if (asprintf (&n, "%s%s%s", *l ? *l : "", *l ? ", " : "", s) == -1)
    return;
  free (*l);
  *l = n;
}

/* The guest's md arrays are assembled by its initramfs: the md driver,
 * each array's personality, mdadm and an mdadm.conf that, if it lists
 * arrays, lists these (by UUID, in mdadm's spelling or blkid's).
 */
static void
check_initramfs_md (struct lf_initramfs *img, const char *dir,
                    const struct lf_moddep *dep, const char *builtin,
                    size_t blen, const char *gbuiltin, size_t gblen,
                    json_t *mds, const char *kver, const char *ird, json_t *c)
{
  CLEANUP_FREE char *bad = NULL;
  CLEANUP_FREE char *found = NULL;
  const char *hint = "install mdadm on the source and rebuild the "
    "initramfs there (update-initramfs -u, or dracut with its mdraid "
    "module), then run landfall fix";
  size_t i;
  json_t *a;

  json_array_foreach (mds, i, a) {
    const char *name = json_string_value (json_object_get (a, "name")) ?: "?";
    const char *level = json_string_value (json_object_get (a, "level")) ?: "";
    const char *pers = strcmp (level, "RAID1") == 0 ? "raid1"
      : strcmp (level, "RAID0") == 0 ? "raid0"
      : strcmp (level, "RAID10") == 0 ? "raid10"
      : strcmp (level, "linear") == 0 ? "linear"
      : strcmp (level, "RAID4") == 0 || strcmp (level, "RAID5") == 0 ||
        strcmp (level, "RAID6") == 0 ? "raid456" : NULL;
    const char *mods[] = { "md_mod", pers };
    char s[300];
    for (size_t k = 0; k < 2 && mods[k]; k++) {
      struct lf_modcheck mc;
      if (lf_initramfs_module (img, dir, dep, builtin, blen, gbuiltin, gblen,
                               mods[k], &mc) == -1) {
        lf_error_clear ();
        mc.state = LF_MOD_MISSING;
      }
      if (mc.state == LF_MOD_MISSING || mc.state == LF_MOD_UNRESOLVED) {
        snprintf (s, sizeof s, "%s (for %s, %s) %s", mods[k], name, level,
                  mc.state == LF_MOD_MISSING ? "is missing" : "has a "
                  "dependency missing");
        list_add (&bad, s);
      }
      else if (strstr (found ?: "", mods[k]) == NULL)
        list_add (&found, mods[k]);
    }
  }
  if (!lf_initramfs_lookup (img, "sbin/mdadm", true) &&
      !lf_initramfs_lookup (img, "usr/sbin/mdadm", true))
    list_add (&bad, "no mdadm");
  const struct lf_initramfs_entry *conf =
    lf_initramfs_lookup (img, "etc/mdadm/mdadm.conf", true);
  if (!conf)
    conf = lf_initramfs_lookup (img, "etc/mdadm.conf", true);
  /* initramfs-tools assembles what mdadm.conf lists (its hook writes
   * one); dracut's mdraid module assembles by udev without one.
   */
  if (!conf && lf_initramfs_lookup (img, "conf/initramfs.conf", true))
    list_add (&bad, "no mdadm.conf");
  else if (conf->data && conf->size < 1024 * 1024) {
    /* ARRAY lines, if any, must name these arrays: mdadm assembles only
     * what they list then.  Compared as hex digits, case-insensitively.
     */
    CLEANUP_FREE char *hex = malloc (conf->size + 1);
    size_t hn = 0;
    bool arrays = false;
    for (size_t k = 0; hex && k < conf->size; k++) {
      char ch = (char) conf->data[k];
      if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))
        hex[hn++] = ch;
      else if (ch >= 'A' && ch <= 'F')
        hex[hn++] = (char) (ch - 'A' + 'a');
      else if (ch == '\n')
        hex[hn++] = '\n';
      if (k + 6 <= conf->size && memcmp (conf->data + k, "ARRAY ", 6) == 0 &&
          (k == 0 || conf->data[k - 1] == '\n'))
        arrays = true;
    }
    if (hex)
      hex[hn] = '\0';
    json_array_foreach (mds, i, a) {
      const char *uuid = json_string_value (json_object_get (a, "uuid")) ?: "";
      char want[40], s[200];
      size_t w = 0;
      for (const char *u = uuid; *u && w < sizeof want - 1; u++)
        if (*u != '-')
          want[w++] = *u;
      want[w] = '\0';
      if (hex && arrays && !strstr (hex, want)) {
        snprintf (s, sizeof s, "mdadm.conf lists arrays, not %s (UUID %s)",
                  json_string_value (json_object_get (a, "name")) ?: "?", uuid);
        list_add (&bad, s);
      }
    }
  }
  if (bad)
    ADD (c, "linux-initramfs-md", ird, "fail", hint,
         "kernel %s: the initramfs cannot assemble the md arrays: %s", kver,
         bad);
  else
    ADD (c, "linux-initramfs-md", ird, "pass", NULL,
         "kernel %s: %s, mdadm and %s: it assembles %zu md arrays", kver,
         found ?: "", conf ? conf->path : "udev (no mdadm.conf)",
         json_array_size (mds));
}

static void
check_initramfs (struct lf_os *os, const char *kver, const char *ird,
                 const struct lf_hw_profile *p, json_t *c)
{
  CLEANUP_FREE char *buf = NULL;
  CLEANUP_FREE char *deptext = NULL;
  CLEANUP_FREE char *builtin = NULL;
  CLEANUP_FREE char *gbuiltin = NULL;
  CLEANUP_FREE char *missing = NULL;
  CLEANUP_FREE char *unresolved = NULL;
  CLEANUP_FREE char *found = NULL;
  size_t len, deplen = 0, blen = 0, gblen = 0;
  struct lf_initramfs *img = NULL;
  struct lf_moddep dep = { 0 };
  bool have_dep = false;
  char dir[512], path[600];
  const char *hint = "landfall fix --profile PROFILE adds the profile's "
    "modules and their dependencies to every initramfs";

  json_t *mds = json_object_get (os->facts, "md_arrays");
  if (!p->linux_modules[0]) {
    ADD (c, "linux-initramfs-modules", ird, "pass", NULL,
         "the profile needs no modules");
    if (!json_array_size (mds))
      return;
  }
  if (lf_guest_read (&os->mounts, ird, LF_INITRAMFS_READ_MAX, &buf, &len) == 0) {
    img = lf_linux_initramfs_parse (buf, len, ird, true);
    buf = NULL;                 /* taken over by the parser */
  }
  if (!img) {
    ADD (c, "linux-initramfs-modules", ird, "fail",
         "rebuild the initramfs on the source, then run landfall fix",
         "cannot read the default kernel's initramfs: %s", lf_last_error ());
    lf_error_clear ();
    return;
  }
  snprintf (dir, sizeof dir, "lib/modules/%s", kver);
  snprintf (path, sizeof path, "%s/modules.dep", dir);
  /* Not kept by the parser, or absent: no modules.dep to this check. */
  if (lf_initramfs_text (img, path, &deptext, &deplen) == -1)
    lf_error_clear ();
  if (deptext) {
    if (lf_moddep_parse (deptext, deplen, path, &dep) == 0)
      have_dep = true;
    else {
      ADD (c, "linux-initramfs-modules", ird, "fail", hint,
           "the initramfs's modules.dep is damaged: %s", lf_last_error ());
      lf_error_clear ();
      lf_initramfs_free (img);
      return;
    }
  }
  snprintf (path, sizeof path, "%s/modules.builtin", dir);
  if (lf_initramfs_text (img, path, &builtin, &blen) == -1)
    lf_error_clear ();
  snprintf (path, sizeof path, "/lib/modules/%s/modules.builtin", kver);
  if (lf_guest_read (&os->mounts, path, MODULES_TEXT_MAX, &gbuiltin,
                     &gblen) == -1) {
    gbuiltin = NULL;
    lf_error_clear ();
  }

  if (json_array_size (mds))
    check_initramfs_md (img, dir, have_dep ? &dep : NULL, builtin, blen,
                        gbuiltin, gblen, mds, kver, ird, c);
  for (char **m = p->linux_modules; *m; m++) {
    struct lf_modcheck mc;
    char s[900];
    if (lf_initramfs_module (img, dir, have_dep ? &dep : NULL, builtin, blen,
                             gbuiltin, gblen, *m, &mc) == -1) {
      lf_error_clear ();
      continue;
    }
    switch (mc.state) {
    case LF_MOD_BUILTIN:
      snprintf (s, sizeof s, "%s (built in)", *m);
      list_add (&found, s);
      break;
    case LF_MOD_MISSING:
      list_add (&missing, *m);
      break;
    case LF_MOD_UNRESOLVED:
      snprintf (s, sizeof s, "%s needs %s, not in the image", *m, mc.missing);
      list_add (&unresolved, s);
      break;
    case LF_MOD_PRESENT:
      snprintf (s, sizeof s, "%s (+%zu dependencies)", *m, mc.ndeps);
      list_add (&found, s);
      break;
    }
  }
  if (!have_dep && missing)
    list_add (&missing, "(the image has no modules.dep)");
  if (!p->linux_modules[0])
    ;
  else if (missing || unresolved)
    ADD (c, "linux-initramfs-modules", ird, "fail", hint,
         "kernel %s: %s%s%s%s%s", kver,
         missing ? "missing from the initramfs: " : "", missing ? missing : "",
         missing && unresolved ? "; " : "",
         unresolved ? "unresolved dependencies: " : "",
         unresolved ? unresolved : "");
  else
    ADD (c, "linux-initramfs-modules", ird, "pass", NULL,
         "kernel %s: %s, dependency closure inside the image", kver, found);
  if (have_dep)
    lf_moddep_free (&dep);
  lf_initramfs_free (img);
}

static bool
virtual_fstype (const char *t)
{
  static const char *const v[] = { "proc", "sysfs", "tmpfs", "devpts",
    "none", "devtmpfs", "securityfs", "cgroup", "cgroup2", "debugfs",
    "efivarfs", "hugetlbfs", "mqueue", "bpf", "binfmt_misc", NULL };
  for (const char *const *x = v; *x; x++)
    if (strcmp (t, *x) == 0)
      return true;
  return strncmp (t, "nfs", 3) == 0 || strcmp (t, "cifs") == 0 ||
    strcmp (t, "smb3") == 0;
}

static void
check_fstab (struct lf_os *os, const char *subject, json_t *c)
{
  json_t *fstab = json_object_get (os->facts, "fstab"), *e;
  const char *err = json_string_value (json_object_get (os->facts,
                                                        "fstab_error"));
  CLEANUP_FREE char *bad = NULL;
  size_t i, good = 0, skipped = 0;

  if (err) {
    ADD (c, "linux-fstab", subject, "fail", "repair /etc/fstab on the source",
         "/etc/fstab: %s", err);
    return;
  }
  json_array_foreach (fstab, i, e) {
    const char *spec = json_string_value (json_object_get (e, "spec")) ?: "";
    const char *mp = json_string_value (json_object_get (e, "mountpoint")) ?: "";
    const char *type = json_string_value (json_object_get (e, "type")) ?: "";
    const char *opts = json_string_value (json_object_get (e, "options")) ?: "";
    const char *by = json_string_value (json_object_get (e, "resolved_by"));
    bool nofail = json_is_true (json_object_get (e, "nofail")) ||
      strstr (opts, "noauto");
    json_t *to = json_object_get (e, "resolves_to");
    char s[700];

    if (json_object_get (e, "error")) {
      snprintf (s, sizeof s, "line %d: %s",
                (int) json_integer_value (json_object_get (e, "line")),
                json_string_value (json_object_get (e, "error")));
      list_add (&bad, s);
      continue;
    }
    /* What cannot stop a boot is not a failure: network and virtual
     * filesystems, and entries the boot does not wait for.
     */
    if ((virtual_fstype (type) && strcmp (type, "swap") != 0) || nofail) {
      skipped++;
      continue;
    }
    if (lf_fstab_spec_is_device_name (spec)) {
      snprintf (s, sizeof s, "%s on %s is named by device name (names "
                "change on Azure: the OS disk is not always sda, and a "
                "resource disk is added)", spec, mp);
      list_add (&bad, s);
    }
    else if (!to || json_is_null (to)) {
      snprintf (s, sizeof s, "%s on %s resolves to no filesystem on the "
                "disks given%s%s%s", spec, mp, by ? " (by " : "",
                by ? by : "", by ? ")" : "");
      list_add (&bad, s);
    }
    else
      good++;
  }
  if (bad)
    ADD (c, "linux-fstab", subject, "fail",
         "landfall fix names filesystems by UUID and adds nofail to data "
         "disks; give every disk of the machine",
         "/etc/fstab: %s", bad);
  else
    ADD (c, "linux-fstab", subject, "pass", NULL,
         "/etc/fstab: %zu entries resolve by UUID or LABEL to filesystems "
         "present (%zu skipped: virtual, network, nofail or noauto)", good,
         skipped);
}

/* The profile's linux.kernel_params on the default entry: the same lists
 * and matching the fix applies (bootfix/linux/cmdline.c).
 */
static void
check_kernel_params (const char *args, const char *cfg,
                     const struct lf_hw_profile *p, json_t *c)
{
  struct lf_cmdline_opts co = { .rootdelay = p->rootdelay };
  CLEANUP_FREE char *missing = NULL;
  CLEANUP_FREE char *unwanted = NULL;

  if (!p->kernel_params_add[0] && !p->kernel_params_remove[0])
    return;
  if (lf_cmdline_opts_profile (&co, p) == -1) {
    ADD (c, "linux-kernel-params", cfg, "unknown", NULL, "%s",
         lf_last_error ());
    lf_error_clear ();
    return;
  }
  lf_cmdline_audit (args, &co, &missing, &unwanted);
  if (missing || unwanted)
    ADD (c, "linux-kernel-params", cfg, "fail",
         "landfall fix --profile sets the profile's kernel parameters",
         "the default entry's command line%s%s%s%s (profile %s)",
         missing ? " lacks " : "", missing ? missing : "",
         unwanted ? (missing ? " and has " : " has ") : "",
         unwanted ? unwanted : "", p->name);
  else
    ADD (c, "linux-kernel-params", cfg, "pass", NULL,
         "the default entry's command line has %s's kernel parameters "
         "(what it adds, none it removes)", p->name);
}

static void
check_linux (struct lf_guest *g, struct lf_os *os,
             const struct lf_hw_profile *p, json_t *c)
{
  const char *subject = json_string_value (json_object_get (os->facts, "root"))
    ?: lf_guest_fs_device (g, &g->fss[os->root]);
  json_t *bl, *k, *kernel = NULL;
  size_t i;
  const char *cfg = NULL;
  CLEANUP_FREE char *text = NULL;
  struct lf_boot_entry entry = { 0 };
  size_t len;
  bool have_entry = false;

  json_array_foreach (json_object_get (os->facts, "bootloaders"), i, bl)
    if (strcmp (json_string_value (json_object_get (bl, "type")) ?: "",
                "grub2") == 0 && !cfg)
      cfg = json_string_value (json_object_get (bl, "config"));
  if (cfg && lf_guest_read (&os->mounts, cfg, BOOTCFG_MAX_SIZE, &text,
                            &len) == 0)
    have_entry = lf_grub_default_entry (text, len, &entry);
  lf_error_clear ();

  /* The default kernel: the one the default entry names, else the
   * newest the inspection found (kernels are listed newest first).
   */
  json_array_foreach (json_object_get (os->facts, "kernels"), i, k) {
    const char *kp = json_string_value (json_object_get (k, "path")) ?: "";
    if (have_entry && strcmp (base_name (kp), base_name (entry.kernel)) == 0)
      kernel = k;
  }
  if (!kernel)
    kernel = json_array_get (json_object_get (os->facts, "kernels"), 0);

  if (!kernel)
    ADD (c, "linux-initramfs-modules", subject, "fail",
         "install a kernel on the source", "no kernel found in /boot");
  else {
    const char *kver = json_string_value (json_object_get (kernel, "version"));
    const char *ird = json_string_value (json_object_get (kernel, "initramfs"));
    if (!ird)
      ADD (c, "linux-initramfs-modules", subject, "fail",
           "build an initramfs for the kernel on the source, then run "
           "landfall fix", "kernel %s has no initramfs", kver ?: "?");
    else
      check_initramfs (os, kver ?: "", ird, p, c);
  }

  if (!have_entry) {
    const char *why = cfg ? "no linux line in the grub configuration"
      : "no grub2 configuration (other boot loaders are not read by verify)";
    ADD (c, "linux-root", subject, "unknown",
         "check the boot loader's kernel command line by hand", "%s", why);
    ADD (c, "linux-serial-console", subject, "unknown",
         "check the boot loader's kernel command line by hand", "%s", why);
  }
  else {
    const char *args = entry.args;
    CLEANUP_FREE char *root = lf_cmdline_get (args, "root");
    struct lf_guest_fs *f;
    if (entry.note)
      ADD (c, "linux-default-entry", cfg, "note", NULL, "%s", entry.note);
    if (!root)
      ADD (c, "linux-root", cfg, "fail",
           "landfall fix sets root=UUID= on the kernel command line",
           "the default entry's command line has no root=");
    else if (lf_fstab_spec_is_device_name (root))
      ADD (c, "linux-root", cfg, "fail",
           "landfall fix sets root=UUID= on the kernel command line",
           "root=%s is a device name: names change on Azure", root);
    else if (!(f = lf_linux_spec_fs (g, os, root, "/")))
      ADD (c, "linux-root", cfg, "fail",
           "give every disk of the machine, or correct root= on the source",
           "root=%s resolves to no filesystem on the disks given", root);
    else {
      /* btrfs: the subvolume rootflags= names, or the default one. */
      CLEANUP_FREE char *flags = lf_cmdline_get (args, "rootflags");
      struct lf_guest_fs *sv = lf_guest_btrfs_subvol (g, f, flags ? flags : "");
      if (!sv) {
        ADD (c, "linux-root", cfg, "fail",
             "correct rootflags= on the source",
             "root=%s%s%s: %s", root, flags ? " rootflags=" : "",
             flags ? flags : "", lf_last_error ());
        lf_error_clear ();
      }
      else if (sv != f && os->root < g->nfs && sv != &g->fss[os->root])
        ADD (c, "linux-root", cfg, "fail",
             "correct rootflags= on the source",
             "root=%s%s%s is %s, but the operating system is in %s", root,
             flags ? " rootflags=" : "", flags ? flags : "",
             lf_guest_fs_device (g, sv),
             lf_guest_fs_device (g, &g->fss[os->root]));
      else
        ADD (c, "linux-root", cfg, "pass", NULL, "root=%s%s%s is %s (%s)",
             root, flags ? " rootflags=" : "", flags ? flags : "",
             lf_guest_fs_device (g, sv), sv->info.type);
    }
    if (!*p->serial_console)
      ;
    else if (lf_cmdline_has_console (args, p->serial_console))
      ADD (c, "linux-serial-console", cfg, "pass", NULL,
           "console=%s on the default entry's command line",
           p->serial_console);
    else
      ADD (c, "linux-serial-console", cfg, "fail",
           "landfall fix adds console=ttyS0,115200n8 (Azure's serial "
           "console and boot diagnostics read it)",
           "no console=%s on the default entry's command line: Azure's "
           "serial console and boot diagnostics show nothing",
           p->serial_console);
    check_kernel_params (args, cfg, p, c);
  }

  lf_boot_entry_free (&entry);
  check_fstab (os, subject, c);

  /* Report-only: what the fix notes too (bootfix/readiness.c). */
  json_array_foreach (json_object_get (os->facts, "kernels"), i, k) {
    const char *kv = json_string_value (json_object_get (k, "version"));
    CLEANUP_FREE char *r = kv ? lf_linux_readiness (os, kv, p) : NULL;
    if (r)
      ADD (c, "linux-readiness", subject, "note", NULL,
           "kernel %s, accelerated networking: %s", kv, r);
  }
  CLEANUP_FREE char *udev = lf_linux_udev_missing (os, p);
  if (udev)
    ADD (c, "linux-udev-rules", subject, "note",
         "install azure-vm-utils in the guest (SLES 15 SP5+, RHEL 9.6+, "
         "Ubuntu 25.04+ have it)",
         "warning: no udev rules %s: the /dev/disk/azure/... links of %s's disks "
         "will be missing", udev, p->name);
  else if (p->udev_rules && p->udev_rules[0])
    ADD (c, "linux-udev-rules", subject, "pass", NULL,
         "the udev rules %s needs are there", p->name);

  /* The primary NIC, as the inspection's reader marked it (the one rule
   * fix applies too: guest/netread.h).
   */
  json_t *net = json_object_get (os->facts, "network"), *n, *primary = NULL;
  json_array_foreach (net, i, n)
    if (json_is_true (json_object_get (n, "primary")))
      primary = n;
  if (!primary)
    ADD (c, "linux-network-dhcp", subject, "unknown",
         "make sure the guest configures its NIC by DHCP (landfall fix "
         "writes the config for the stack it finds)",
         "no network configuration found (ifupdown, netplan, "
         "NetworkManager, ifcfg, wicked, systemd-networkd)");
  else {
    const char *ifc = json_string_value (json_object_get (primary, "interface"))
      ?: "(bound to no interface)";
    const char *mode = json_string_value (json_object_get (primary, "mode"))
      ?: "unknown";
    const char *file = json_string_value (json_object_get (primary, "file"))
      ?: "?";
    if (strcmp (mode, "dhcp") == 0)
      ADD (c, "linux-network-dhcp", file, "pass", NULL,
           "primary NIC %s on DHCP (%s)", ifc,
           json_string_value (json_object_get (primary, "stack")));
    else
      ADD (c, "linux-network-dhcp", file,
           strcmp (mode, "static") == 0 ? "fail" : "unknown",
           "landfall fix puts the primary NIC (as eth0) on DHCP; Azure "
           "assigns the address",
           "primary NIC %s is %s, not DHCP: on Azure it gets no address",
           ifc, mode);
  }
}

/* ---- Windows -------------------------------------------------------- */

/* Is boot driver D boot start in control set CS with its files?  Reasons
 * why not are added to *BAD.
 */
static bool
driver_ok (struct lf_hive *hv, struct lf_os *os, const char *sysroot,
           const char *cs, const struct lf_hw_win_driver *d, char **bad)
{
  char key[512], s[1024];
  uint32_t start;
  bool ok = true;

  snprintf (key, sizeof key, "%s\\Services\\%s", cs, d->service);
  uint64_t node = lf_hive_node (hv, key);
  lf_error_clear ();
  if (!node) {
    snprintf (s, sizeof s, "%s: no service key", d->service);
    list_add (bad, s);
    return false;
  }
  CLEANUP_FREE char *ip = lf_hive_get_string (hv, node, "ImagePath");
  CLEANUP_FREE char *file = lf_win_driver_path (sysroot, ip, d->file);
  lf_error_clear ();
  bool has_start = lf_hive_get_dword (hv, node, "Start", &start) == 0;
  lf_error_clear ();
  if (!has_start || start != 0) {
    if (has_start)
      snprintf (s, sizeof s, "%s: Start=%u, not 0 (boot)", d->service,
                (unsigned) start);
    else
      snprintf (s, sizeof s, "%s: no Start value", d->service);
    list_add (bad, s);
    ok = false;
  }
  if (!file || !lf_guest_exists (&os->mounts, file)) {
    snprintf (s, sizeof s, "%s: driver file %s missing", d->service,
              file ? file : d->file);
    list_add (bad, s);
    ok = false;
  }
  for (char **n = d->needs; *n; n++) {
    char np[512];
    snprintf (np, sizeof np, "%s/System32/drivers/%s", sysroot, *n);
    if (!lf_guest_exists (&os->mounts, np)) {
      snprintf (s, sizeof s, "%s: needs %s, missing", d->service, np);
      list_add (bad, s);
      ok = false;
    }
  }
  lf_error_clear ();
  return ok;
}

/* The profile's registry edits (windows.registry), in every control set
 * the inspection found: the fix applies them to all, and Windows boots
 * LastKnownGood's when the current one fails.
 */
static void
check_win_registry (struct lf_hive *hv, struct lf_os *os,
                    const struct lf_hw_profile *p, const char *hive,
                    json_t *c)
{
  CLEANUP_FREE char *bad = NULL;
  const char *cs;
  json_t *v;
  size_t nsets = 0;

  if (p->nwin_registry == 0)
    return;
  json_object_foreach (json_object_get (os->facts, "control_sets"), cs, v) {
    nsets++;
    for (size_t i = 0; i < p->nwin_registry; i++) {
      const struct lf_hw_reg_edit *e = &p->win_registry[i];
      char path[600], s[900];
      uint32_t d;
      snprintf (path, sizeof path, "%s\\%s", cs, e->key);
      uint64_t node = lf_hive_node (hv, path);
      lf_error_clear ();
      bool ok = true;
      switch (e->action) {
      case LF_HW_REG_DELETE_KEY:
        ok = !node;
        break;
      case LF_HW_REG_DELETE_VALUE:
        {
          char *k = node ? lf_hive_value_key (hv, node, e->value) : NULL;
          ok = !k;
          free (k);
        }
        break;
      case LF_HW_REG_SET_DWORD:
        ok = !node || (lf_hive_get_dword (hv, node, e->value, &d) == 0 &&
                       d == e->dword);
        break;
      }
      lf_error_clear ();
      if (ok)
        continue;
      if (e->action == LF_HW_REG_SET_DWORD)
        snprintf (s, sizeof s, "%s\\%s is not %u (%s)", path, e->value,
                  (unsigned) e->dword, e->why);
      else
        snprintf (s, sizeof s, "%s%s%s exists (%s)", path,
                  e->value ? "\\" : "", e->value ? e->value : "", e->why);
      list_add (&bad, s);
    }
  }
  if (bad)
    ADD (c, "windows-registry", hive, "fail",
         "landfall fix --profile applies the profile's registry edits in "
         "every control set", "%s", bad);
  else
    ADD (c, "windows-registry", hive, "pass", NULL,
         "%s's %zu registry edit%s hold in all %zu control sets", p->name,
         p->nwin_registry, p->nwin_registry == 1 ? "" : "s", nsets);
}

static void
check_windows (struct lf_guest *g, struct lf_os *os,
               const struct lf_hw_profile *p, json_t *c)
{
  const char *cs = json_string_value (json_object_get (os->facts,
                                                       "current_control_set"));
  const char *sysroot = json_string_value (json_object_get (os->facts,
                                                            "systemroot"));
  const char *hive = json_string_value (json_object_get (
      json_object_get (os->facts, "system_hive"), "path"));
  const char *subject = lf_guest_fs_device (g, &g->fss[os->root]);
  json_t *set;
  struct lf_hive *hv = NULL;
  CLEANUP_FREE char *bad = NULL;
  CLEANUP_FREE char *good = NULL;
  const char *hint = "landfall fix sets the drivers boot start; a missing "
    "driver file needs driver injection (not done by landfall)";

  if (!cs || !sysroot || !hive) {
    ADD (c, "windows-boot-drivers", subject, "fail",
         "check the SYSTEM hive on the source",
         "no current control set or SYSTEM hive found");
    return;
  }
  /* The same reader and words as the fix's refusal or warning. */
  char sel[1024];
  bool sel_fatal;
  if (lf_win_select_check (os, sel, sizeof sel, &sel_fatal) > 0)
    ADD (c, "windows-control-sets", hive, sel_fatal ? "fail" : "note",
         "repair Select in Windows (or the hive): it must name existing "
         "control sets", "SYSTEM: %s", sel);
  else
    ADD (c, "windows-control-sets", hive, "pass", NULL,
         "Select\\Current, Default and LastKnownGood name control sets that "
         "exist");
  set = json_object_get (json_object_get (os->facts, "control_sets"), cs);
  if (!(hv = lf_hive_open (&os->mounts, hive, false))) {
    ADD (c, "windows-boot-drivers", hive, "fail",
         "check the SYSTEM hive on the source", "%s", lf_last_error ());
    lf_error_clear ();
  }
  for (size_t i = 0; hv && i < p->nwin_drivers; i++) {
    const struct lf_hw_win_driver *d = &p->win_drivers[i];
    CLEANUP_FREE char *why = NULL;
    bool first = true, any = false;

    if (!*d->any_of) {
      if (driver_ok (hv, os, sysroot, cs, d, &bad))
        list_add (&good, d->service);
      continue;
    }
    /* A set of alternatives (VMware's controllers): one boot-start member
     * with its files is enough.  Each set once, at its first member.
     */
    for (size_t j = 0; first && j < i; j++)
      first = strcmp (p->win_drivers[j].any_of, d->any_of) != 0;
    if (!first)
      continue;
    for (size_t j = i; j < p->nwin_drivers; j++)
      if (strcmp (p->win_drivers[j].any_of, d->any_of) == 0 &&
          driver_ok (hv, os, sysroot, cs, &p->win_drivers[j], &why)) {
        list_add (&good, p->win_drivers[j].service);
        any = true;
      }
    if (!any) {
      char s[2048];
      snprintf (s, sizeof s, "none of the \"%s\" controllers' drivers can "
                "boot (%s)", d->any_of, why ? why : "");
      list_add (&bad, s);
    }
  }
  if (hv)
    check_win_registry (hv, os, p, hive, c);
  CLEANUP_FREE char *ready = lf_win_readiness (os, p);
  if (ready)
    ADD (c, "windows-readiness", hive, "note", NULL,
         "accelerated networking: %s", ready);
  if (hv) {
    if (bad)
      ADD (c, "windows-boot-drivers", hive, "fail", hint,
           "%s: %s (Windows stops with INACCESSIBLE_BOOT_DEVICE, 0x7B)", cs,
           bad);
    else
      ADD (c, "windows-boot-drivers", hive, "pass", NULL,
           "%s: %s boot start with their files present", cs,
           good ? good : "(none required)");
    lf_hive_close (hv);
  }

  json_t *san = json_object_get (set, "san_policy");
  if (json_is_integer (san) && json_integer_value (san) == SAN_ONLINE_ALL)
    ADD (c, "windows-san-policy", hive, "pass", NULL,
         "%s: SAN policy OnlineAll (1)", cs);
  else if (json_is_integer (san))
    ADD (c, "windows-san-policy", hive, "fail",
         "landfall fix sets SanPolicy=1 (OnlineAll)",
         "%s: SAN policy %lld, not OnlineAll: Azure data disks come up "
         "offline", cs, (long long) json_integer_value (san));
  else
    ADD (c, "windows-san-policy", hive, "fail",
         "landfall fix sets SanPolicy=1 (OnlineAll)",
         "%s: no SAN policy set (Windows Server's default, OfflineShared, "
         "keeps Azure data disks offline)", cs);

  json_t *nics = json_object_get (set, "nics"), *nic;
  size_t i, ndhcp = 0;
  CLEANUP_FREE char *statics = NULL;
  json_array_foreach (nics, i, nic) {
    json_t *addrs = json_object_get (nic, "IPAddress");
    if (json_is_false (json_object_get (nic, "dhcp")) &&
        json_array_size (addrs) > 0) {
      char s[300];
      snprintf (s, sizeof s, "%s (%s)",
                json_string_value (json_object_get (nic, "interface")) ?: "?",
                json_string_value (json_array_get (addrs, 0)) ?: "?");
      list_add (&statics, s);
    }
    else if (json_is_true (json_object_get (nic, "dhcp")))
      ndhcp++;
  }
  if (statics)
    ADD (c, "windows-network-dhcp", hive, "fail",
         "landfall fix sets every interface to DHCP (old addresses go to "
         "the report)",
         "%s: static addresses on %s: on Azure they get no traffic", cs,
         statics);
  else if (ndhcp)
    ADD (c, "windows-network-dhcp", hive, "pass", NULL,
         "%s: %zu interfaces on DHCP, none static", cs, ndhcp);
  else
    ADD (c, "windows-network-dhcp", hive, "unknown",
         "make sure Windows configures its NIC by DHCP",
         "%s: no configured interface found", cs);
}

/* ---- All of it ------------------------------------------------------ */

json_t *
lf_verify_static (struct lf_guest *g, const struct lf_hw_profile *p)
{
  json_t *c = json_array ();
  size_t osdisk = 0;

  for (size_t i = 0; i < g->nos; i++)
    if (g->fss[g->oses[i].root].disk < g->ndisks) {
      osdisk = g->fss[g->oses[i].root].disk;
      break;
    }
  for (size_t d = 0; d < g->ndisks; d++)
    check_container (g, d, d == osdisk, p, c);
  check_boot (g, osdisk, p, c);

  if (g->nos == 0)
    ADD (c, "operating-system", lf_disk_path (g->disks[osdisk]), "fail",
         "give every disk of the machine; an encrypted or unreadable root "
         "cannot be verified",
         "no operating system found on the disks given");
  for (size_t i = 0; i < g->nos; i++) {
    struct lf_os *os = &g->oses[i];
    if (strcmp (os->type, "linux") == 0)
      check_linux (g, os, p, c);
    else if (strcmp (os->type, "windows") == 0)
      check_windows (g, os, p, c);
  }
  return c;
}

size_t
lf_verify_count (json_t *checks, const char *status)
{
  size_t i, n = 0;
  json_t *c;

  json_array_foreach (checks, i, c)
    if (strcmp (json_string_value (json_object_get (c, "status")) ?: "",
                status) == 0)
      n++;
  return n;
}

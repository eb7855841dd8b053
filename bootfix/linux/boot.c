/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/linux: the kernel command line in every boot loader
 * configuration, and the UEFI fallback loader (reference/linux.md §3, §12).
 *
 * Added: net.ifnames=0 (the network concern names the NIC eth0),
 * rootdelay=N where it helps, the profile's linux.kernel_params.add
 * (Azure's: earlyprintk=ttyS0 console=tty1; NVMe's io_timeout) and its
 * serial console last (the last console is /dev/console); removed: its
 * remove list (rhgb, quiet, splash, §3's list, every other console=);
 * root=/dev/sdXN becomes root=UUID= of the root filesystem, resume= the
 * UUID of its swap.  grub.cfg is edited as well as /etc/default/grub,
 * since grub-mkconfig is not run (it would be a guest program).  The text
 * edits are cmdline.c's pure lf_bootcfg_edit.
 *
 * rootdelay: Azure's guides recommend rootdelay=300, but what it costs
 * depends on the initramfs generator.  Read from the Debian 12 guest's own
 * initramfs-tools 0.142 (/usr/share/initramfs-tools/init, lines 231-233):
 * after loading its modules /init runs `if [ "$ROOTDELAY" ]; then sleep
 * "$ROOTDELAY"; fi`, unconditionally, so rootdelay=300 costs 300 s on every
 * boot even with the disk present (what was seen under QEMU).  Its
 * scripts/local (local_device_setup) then polls once a second for the root
 * device for max(30, ROOTDELAY) s counted from $starttime, which is set
 * *before* that sleep: the argument buys no wait beyond the sleep itself,
 * and without it the device is awaited up to 30 s, which covers storvsc.
 * dracut does not read rootdelay= at all (dracut.cmdline(7) has no such
 * option; the kernel's own rootdelay only applies in prepare_namespace,
 * which does not run when the initramfs has an /init): it waits for root
 * in its initqueue (rd.retry) or through systemd's device unit
 * (rd.timeout, default none), so the argument is useless there.  For both
 * it is left out and an old one removed.  Older generators (SUSE and RHEL
 * 5 mkinitrd) and unknown ones get the profile's linux.rootdelay (Azure's
 * 300, the value its SLES 11 and RHEL 6 steps use; none for VMware).
 * --rootdelay N (struct lf_fix_opts) overrides.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bootfix/linux/bootcfg.h"

#define CONCERN "boot"

struct boot_ctx {
  struct lf_guest *g;
  struct lf_os *os;
  struct lf_plan *p;
  struct lf_cmdline_opts co;
  const struct lf_hw_profile *profile;
  unsigned files;               /* boot configurations found */
};

/* resume=/dev/sdX2: the UUID of what it names. */
static const char *
resume_uuid (void *opaque, const char *device)
{
  struct boot_ctx *c = opaque;
  struct lf_guest_fs *f = lf_linux_spec_fs (c->g, c->os, device, NULL);
  return f && f->info.uuid[0] ? f->info.uuid : NULL;
}

/* Edit PATH as KIND if it exists; plan it if it changes. */
static int
edit_file (struct boot_ctx *c, const char *path, enum lf_bootcfg_kind kind)
{
  CLEANUP_FREE char *buf = NULL;
  CLEANUP_FREE char *out = NULL;
  size_t len, outlen;
  struct lf_findings fnd = { 0 };
  int n, ret = -1;

  if (!lf_plan_exists (c->p, path))
    return 0;
  if (lf_plan_read (c->p, path, BOOTCFG_MAX_SIZE, &buf, &len) == -1) {
    lf_plan_note (c->p, CONCERN, LF_WARNING, "%s", lf_last_error ());
    lf_error_clear ();
    return 0;
  }
  c->files++;
  n = lf_bootcfg_edit (kind, path, buf, len, &c->co, &out, &outlen, &fnd);
  if (n == -1) {
    lf_plan_note (c->p, CONCERN, LF_FAILED, "%s", lf_last_error ());
    lf_error_clear ();
    ret = 0;
    goto out;
  }
  for (size_t i = 0; i < fnd.n; i++)
    lf_plan_note (c->p, CONCERN, fnd.f[i].what, "%s", fnd.f[i].msg);
  if (n == 0)
    lf_plan_note (c->p, CONCERN, LF_ALREADY_RIGHT, "%s: kernel command line "
                  "and serial console already set for %s", path,
                  c->profile->name);
  else {
    lf_plan_note (c->p, CONCERN, LF_CHANGED, "%s: %d edit%s (%s's kernel "
                  "parameters and serial console, root by UUID)", path, n,
                  n == 1 ? "" : "s", c->profile->name);
    if (lf_plan_write (c->p, CONCERN, path, out, outlen, 0644,
                       "kernel command line and serial console for the "
                       "target")
        == -1)
      goto out;
  }
  ret = 0;
 out:
  lf_findings_free (&fnd);
  return ret;
}

/* Every DIR/NAME ending in SUFFIX, edited as KIND. */
static int
edit_dir (struct boot_ctx *c, const char *dir, const char *suffix,
          enum lf_bootcfg_kind kind)
{
  char **names = NULL;
  int r = 0;

  if (lf_guest_list_opt (&c->os->mounts, dir, &names) != 1) {
    lf_error_clear ();
    return 0;
  }
  for (char **n = names; *n && r == 0; n++) {
    size_t l = strlen (*n), sl = strlen (suffix);
    char path[4096];
    if (l <= sl || strcmp (*n + l - sl, suffix) != 0 ||
        (size_t) snprintf (path, sizeof path, "%s/%s", dir, *n) >= sizeof path)
      continue;
    r = edit_file (c, path, kind);
  }
  lf_free_names (names);
  return r;
}


/* A name in DIR equal to NAME ignoring case (FAT), or NULL. */
static char *
find_nocase (struct lf_os *os, const char *dir, const char *name)
{
  char **names = NULL;
  char *r = NULL;
  if (lf_guest_list_opt (&os->mounts, dir, &names) != 1) {
    lf_error_clear ();
    return NULL;
  }
  for (char **n = names; *n && !r; n++)
    if (strcasecmp (*n, name) == 0)
      r = strdup (*n);
  lf_free_names (names);
  return r;
}

/* §12: the removable-media path \EFI\BOOT\BOOTX64.EFI, since the source's
 * NVRAM entries stay behind.  The ESP is FAT, which no native backend
 * reads or writes: then it is a finding, not a failure.
 */
static int
uefi_fallback (struct boot_ctx *c)
{
  struct lf_guest *g = c->g;
  struct lf_os *os = c->os;

  if (!lf_facts_has (json_object_get (os->facts, "firmware"), "uefi"))
    return 0;
  const struct lf_guest_fs *esp = NULL;
  for (size_t i = 0; i < g->nfs && !esp; i++)
    if (strcmp (g->fss[i].info.type, "vfat") == 0 &&
        lf_linux_fs_on_os_disk (g, os, &g->fss[i]))
      esp = &g->fss[i];
  if (!esp || !esp->fs) {
    lf_plan_note (c->p, CONCERN, LF_WARNING, "ESP is vfat%s: no native "
                  "backend writes it, so \\EFI\\BOOT\\BOOTX64.EFI (the "
                  "fallback loader Azure Gen2 boots) and the ESP's grub.cfg "
                  "were not checked: check them, or run with libguestfs",
                  esp ? "" : " (not found on the OS disk)");
    return 0;
  }
  CLEANUP_FREE char *efi = find_nocase (os, "/boot/efi", "EFI");
  if (!efi) {
    lf_plan_note (c->p, CONCERN, LF_WARNING, "UEFI guest, but the ESP at "
                  "/boot/efi has no EFI directory");
    return 0;
  }
  char efidir[64];
  snprintf (efidir, sizeof efidir, "/boot/efi/%s", efi);
  CLEANUP_FREE char *bootdir = find_nocase (os, efidir, "BOOT");
  if (bootdir) {
    char d[128];
    snprintf (d, sizeof d, "%s/%s", efidir, bootdir);
    CLEANUP_FREE char *ldr = find_nocase (os, d, "BOOTX64.EFI");
    if (ldr) {
      lf_plan_note (c->p, CONCERN, LF_ALREADY_RIGHT, "%s/%s: the UEFI "
                    "fallback loader is there (kept, whatever installed it)",
                    d, ldr);
      return 0;
    }
  }
  /* The distro's directory: the one with shim or grub (reference §12). */
  static const char *const dirs[] = {
    "debian", "ubuntu", "redhat", "centos", "rocky", "almalinux", "fedora",
    "sles", "opensuse",
  };
  static const char *const loaders[] = { "shimx64.efi", "grubx64.efi",
                                         "grub.efi" };
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    CLEANUP_FREE char *dd = find_nocase (os, efidir, dirs[i]);
    if (!dd)
      continue;
    char src[256];
    for (size_t j = 0; j < sizeof loaders / sizeof loaders[0]; j++) {
      CLEANUP_FREE char *ln = NULL;
      snprintf (src, sizeof src, "%s/%s", efidir, dd);
      ln = find_nocase (os, src, loaders[j]);
      if (!ln)
        continue;
      /* shim loads grubx64.efi (and mmx64.efi) from its own directory. */
      static const char *const extra[] = { NULL, "grubx64.efi", "mmx64.efi" };
      for (size_t k = 0; k < (j == 0 ? 3 : 1); k++) {
        CLEANUP_FREE char *name = k ? find_nocase (os, src, extra[k]) : NULL;
        CLEANUP_FREE char *buf = NULL;
        char from[512], to[512];
        size_t len;
        if (k && !name)
          continue;
        snprintf (from, sizeof from, "%s/%s", src, k ? name : ln);
        snprintf (to, sizeof to, "%s/BOOT/%s", efidir,
                  k ? extra[k] : "BOOTX64.EFI");
        if (lf_plan_read (c->p, from, 64 << 20, &buf, &len) == -1 ||
            lf_plan_write (c->p, CONCERN, to, buf, len, 0644,
                           "UEFI fallback loader for Azure Gen2") == -1) {
          lf_plan_note (c->p, CONCERN, LF_WARNING, "UEFI fallback loader: "
                        "%s", lf_last_error ());
          lf_error_clear ();
          return 0;
        }
      }
      lf_plan_note (c->p, CONCERN, LF_CHANGED, "%s/BOOT/BOOTX64.EFI from "
                    "%s/%s (the UEFI fallback path Azure Gen2 boots)", efidir,
                    src, ln);
      return 0;
    }
  }
  lf_plan_note (c->p, CONCERN, LF_WARNING, "UEFI guest, but no shim or grub "
                "found under %s to make the fallback loader from", efidir);
  return 0;
}

int
lf_fix_linux_boot (struct lf_guest *g, struct lf_os *os, struct lf_plan *p,
                   const struct lf_fix_opts *o)
{
  struct boot_ctx c = { .g = g, .os = os, .p = p, .profile = o->profile };
  const char *gen = json_string_value (json_object_get (os->facts,
                                                       "initramfs_generator"));
  bool waits = gen && (strcmp (gen, "initramfs-tools") == 0 ||
                       strcmp (gen, "dracut") == 0);

  c.co.root_uuid = os->root < g->nfs && g->fss[os->root].info.uuid[0]
    ? g->fss[os->root].info.uuid : NULL;
  c.co.resolve = resume_uuid;
  c.co.opaque = &c;
  c.co.add = true;
  c.co.ifnames = true;
  c.co.rootdelay = o->rootdelay >= 0 ? o->rootdelay : waits ? -1
    : o->profile->rootdelay;
  if (lf_cmdline_opts_profile (&c.co, o->profile) == -1)
    return -1;
  if (!c.co.root_uuid)
    lf_plan_note (p, CONCERN, LF_WARNING, "the root filesystem has no UUID: "
                  "root= left as it is");

  static const struct { const char *path; enum lf_bootcfg_kind kind; } files[] = {
    { "/etc/default/grub", LF_BOOTCFG_DEFAULT_GRUB },
    { "/boot/grub/grub.cfg", LF_BOOTCFG_GRUB2 },
    { "/boot/grub2/grub.cfg", LF_BOOTCFG_GRUB2 },
    { "/boot/grub2/grubenv", LF_BOOTCFG_GRUBENV },
    { "/boot/grub/grubenv", LF_BOOTCFG_GRUBENV },
    { "/boot/grub/menu.lst", LF_BOOTCFG_GRUB_LEGACY },
    { "/boot/grub/grub.conf", LF_BOOTCFG_GRUB_LEGACY },
    { "/boot/extlinux/extlinux.conf", LF_BOOTCFG_EXTLINUX },
    { "/boot/syslinux/syslinux.cfg", LF_BOOTCFG_EXTLINUX },
    { "/boot/syslinux/extlinux.conf", LF_BOOTCFG_EXTLINUX },
    { "/etc/kernel/cmdline", LF_BOOTCFG_KERNEL_CMDLINE },
  };
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    if (edit_file (&c, files[i].path, files[i].kind) == -1)
      return -1;
  if (edit_dir (&c, "/etc/default/grub.d", ".cfg",
                LF_BOOTCFG_DEFAULT_GRUB_D) == -1 ||
      edit_dir (&c, "/boot/loader/entries", ".conf", LF_BOOTCFG_BLS) == -1)
    return -1;
  /* The ESP's grub.cfg (UEFI), where the ESP could be opened. */
  char **dirs = NULL;
  if (lf_guest_list_opt (&os->mounts, "/boot/efi/EFI", &dirs) == 1) {
    int r = 0;
    for (char **d = dirs; *d && r == 0; d++) {
      char path[4096];
      if (strcasecmp (*d, "BOOT") == 0)
        continue;
      snprintf (path, sizeof path, "/boot/efi/EFI/%s/grub.cfg", *d);
      r = edit_file (&c, path, LF_BOOTCFG_GRUB2);
      snprintf (path, sizeof path, "/boot/efi/EFI/%s/grub.conf", *d);
      if (r == 0)
        r = edit_file (&c, path, LF_BOOTCFG_GRUB_LEGACY);
    }
    lf_free_names (dirs);
    if (r == -1)
      return -1;
  }
  else
    lf_error_clear ();
  if (c.files == 0)
    lf_plan_note (p, CONCERN, LF_WARNING, "no boot loader configuration "
                  "found (grub2, BLS, grub legacy, extlinux): the kernel "
                  "command line was not set");
  else if (o->rootdelay >= 0)
    lf_plan_note (p, CONCERN, LF_ALREADY_RIGHT, "rootdelay=%d, as asked",
                  o->rootdelay);
  else if (waits)
    lf_plan_note (p, CONCERN, LF_ALREADY_RIGHT, "no rootdelay: %s waits for "
                  "the root device by itself (initramfs-tools would sleep "
                  "rootdelay seconds on every boot; dracut ignores it)", gen);
  else if (o->profile->rootdelay >= 0)
    lf_plan_note (p, CONCERN, LF_ALREADY_RIGHT, "rootdelay=%d (%s's "
                  "value) for the %s initramfs generator",
                  o->profile->rootdelay, o->profile->name,
                  gen ? gen : "unknown");
  return uefi_fallback (&c);
}

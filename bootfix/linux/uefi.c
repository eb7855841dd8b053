/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/linux: BIOS -> UEFI, offline, when the profile's
 * firmware is UEFI and the guest's boot disk is MBR with no EFI system
 * partition (Azure generation 2 from a BIOS VMware VM).
 *
 * The disk is converted by gpt-convert.c once the guest is closed; here
 * are the decision (from the profile's firmware and partition_tables, not
 * its name), the refusals before anything is written, the guest's side
 * (/boot/efi in fstab by UUID with nofail, linux16/initrd16 in grub.cfg
 * that a UEFI grub does not have) and the bytes undo needs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bootfix/bootfix.h"

#define CONCERN "uefi"
#define SHIM LF_SHIM_PATH
#define SIGNED_GRUB LF_SIGNED_GRUB_PATH
#define EFI_LOADER_MAX (16 * LF_MiB)
#define GRUB_CFG_MAX (16 * LF_MiB)

const char *
lf_grub_efi_dir (void)
{
  const char *d = getenv ("LANDFALL_GRUB_EFI_DIR");
  return d && *d ? d : "/usr/lib/grub/x86_64-efi";
}

const char *
lf_secure_boot_missing (const struct lf_hw_profile *hw, bool have_shim)
{
  static char msg[512];
  snprintf (msg, sizeof msg, "%s boots with Secure Boot, and the guest has "
            "no %s (%s): only a chain signed from shim boots there; install "
            "shim-signed and grub-efi-amd64-signed in the guest before "
            "migrating, or use azure-gen2", hw->name,
            have_shim ? "signed grub" : "signed shim",
            have_shim ? SIGNED_GRUB : SHIM);
  return msg;
}

static bool
in_path (const char *prog)
{
  const char *path = getenv ("PATH");
  char buf[4096];

  if (!path)
    path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
  for (const char *s = path; *s; ) {
    const char *e = strchr (s, ':');
    size_t n = e ? (size_t) (e - s) : strlen (s);
    snprintf (buf, sizeof buf, "%.*s/%s", (int) n, s, prog);
    if (access (buf, X_OK) == 0)
      return true;
    s += n + (e ? 1 : 0);
  }
  /* Debian keeps mkfs.fat in /usr/sbin, outside a user's PATH. */
  snprintf (buf, sizeof buf, "/usr/sbin/%s", prog);
  return access (buf, X_OK) == 0;
}


/* Does the profile's list of partition tables hold T? */
static bool
profile_table (const struct lf_hw_profile *hw, const char *t)
{
  for (char **x = hw->partition_tables; x && *x; x++)
    if (strcmp (*x, t) == 0)
      return true;
  return false;
}

/* linux16/initrd16 (grub's i386-pc 16-bit boot protocol) are not in UEFI
 * grub: each as the first word of a line becomes linux/initrd.  *CHANGES
 * counts them; a new string, or NULL with ENOMEM.
 */
char *
lf_grub_cfg_uefi (const char *text, size_t len, unsigned *changes)
{
  char *out = malloc (len + 1), *o = out;
  size_t i = 0;

  *changes = 0;
  if (!out) {
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  while (i < len) {
    size_t ls = i;
    while (i < len && (text[i] == ' ' || text[i] == '\t'))
      i++;
    memcpy (o, text + ls, i - ls);
    o += i - ls;
    static const char *const words[] = { "linux16", "initrd16" };
    for (size_t w = 0; w < 2; w++) {
      size_t wl = strlen (words[w]);
      if (len - i > wl && memcmp (text + i, words[w], wl) == 0 &&
          (text[i + wl] == ' ' || text[i + wl] == '\t')) {
        memcpy (o, words[w], wl - 2);
        o += wl - 2;
        i += wl;
        (*changes)++;
        break;
      }
    }
    const char *nl = memchr (text + i, '\n', len - i);
    size_t n = nl ? (size_t) (nl - (text + i)) + 1 : len - i;
    memcpy (o, text + i, n);
    o += n;
    i += n;
  }
  *o = '\0';
  return out;
}

/* fstab with a /boot/efi line for UUID, unless it has one: NULL with
 * *ERR 0 when there is nothing to add.
 */
static char *
fstab_with_esp (const char *text, size_t len, const char *uuid, int *err)
{
  struct lf_fstab t;
  char *out = NULL;
  bool have = false;

  *err = 0;
  if (lf_fstab_parse (text, len, "/etc/fstab", &t) == -1) {
    *err = -1;
    return NULL;
  }
  for (size_t i = 0; i < t.n; i++)
    if (t.e[i].valid && strcmp (t.e[i].file, "/boot/efi") == 0)
      have = true;
  lf_fstab_free (&t);
  if (have)
    return NULL;
  /* nofail: a guest whose initramfs or kernel lacks vfat still boots;
   * only /boot/efi is missing then.
   */
  if (asprintf (&out, "%.*s%s# EFI system partition, added by landfall for "
                "UEFI\nUUID=%s /boot/efi vfat umask=0077,nofail 0 2\n",
                (int) len, text, len && text[len - 1] != '\n' ? "\n" : "",
                uuid) == -1) {
    lf_error (ENOMEM, "out of memory");
    *err = -1;
    return NULL;
  }
  return out;
}

int
lf_fix_linux_uefi (struct lf_guest *g, struct lf_os *os, struct lf_plan *p,
                   const struct lf_fix_opts *o)
{
  const struct lf_hw_profile *hw = o->profile;
  struct lf_fs *bootfs = NULL;
  CLEANUP_FREE char *bootpath = NULL;
  struct lf_guest_fs *bf = NULL;
  struct lf_gpt_conv *c = NULL;
  const char *path;
  uint64_t off;
  size_t d;
  void *gap = NULL;

  if (!hw || strcmp (hw->firmware, "uefi") != 0 ||
      lf_facts_has (json_object_get (os->facts, "firmware"), "uefi"))
    return 0;
  if (lf_mounts_resolve (&os->mounts, "/boot", true, &bootfs, &bootpath) == -1) {
    lf_plan_note (p, CONCERN, LF_FAILED, "/boot: %s", lf_last_error ());
    lf_error_clear ();
    return 0;
  }
  for (size_t i = 0; i < g->nfs; i++)
    if (g->fss[i].fs == bootfs)
      bf = &g->fss[i];
  /* /boot on a logical volume: the boot disk is the first (the OS
   * disk of a job).
   */
  d = bf && bf->disk != SIZE_MAX ? bf->disk : 0;
  if (d >= g->ndisks || strcmp (g->tables[d].type, "dos") != 0 ||
      profile_table (hw, "dos"))
    return 0;
  if (strcmp (os->type, "linux") != 0)
    return 0;
  if (!bf || !*bf->info.uuid) {
    lf_plan_note (p, CONCERN, LF_FAILED, "%s needs a GPT disk with an EFI "
                  "system partition, and /boot's filesystem has no UUID for "
                  "the new loader to find it by: not converted", hw->name);
    return 0;
  }
  if (!lf_bd_raw_location (g->disk_bds[d], &path, &off) || off != 0) {
    lf_plan_note (p, CONCERN, LF_FAILED, "%s needs GPT: the MBR disk %s "
                  "can only be converted as a raw image or a fixed VHD "
                  "(convert it first)", hw->name,
                  lf_disk_path (g->disks[d]));
    return 0;
  }
  if (!(c = calloc (1, sizeof *c))) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  if (lf_gpt_conv_plan (path, strcmp (lf_disk_format (g->disks[d]), "vhd") == 0,
                        lf_disk_size (g->disks[d]), c) == -1) {
    lf_plan_note (p, CONCERN, LF_FAILED, "%s needs GPT and the MBR disk "
                  "cannot be converted: %s", hw->name, lf_last_error ());
    lf_error_clear ();
    lf_gpt_conv_free (c);
    return 0;
  }
  c->disk_index = d;
  snprintf (c->boot_uuid, sizeof c->boot_uuid, "%s", bf->info.uuid);
  snprintf (c->grub_prefix, sizeof c->grub_prefix, "%s/grub",
            strcmp (bootpath, "/") == 0 ? "" : bootpath);

  /* The loader: the guest's own signed chain where it has one; Secure
   * Boot (Trusted Launch) boots nothing else.
   */
  if (hw->secure_boot &&
      !(lf_plan_exists (p, SHIM) && lf_plan_exists (p, SIGNED_GRUB))) {
    lf_plan_note (p, CONCERN, LF_FAILED, "%s", lf_secure_boot_missing (hw,
                  lf_plan_exists (p, SHIM)));
    lf_gpt_conv_free (c);
    return 0;
  }
  if (lf_plan_exists (p, SHIM) && lf_plan_exists (p, SIGNED_GRUB)) {
    if (lf_plan_read (p, SHIM, EFI_LOADER_MAX, &c->loader, &c->loaderlen) == -1 ||
        lf_plan_read (p, SIGNED_GRUB, EFI_LOADER_MAX, &c->grub, &c->grublen) == -1) {
      lf_gpt_conv_free (c);
      return -1;
    }
  }
  else {
    char mod[4200];
    snprintf (mod, sizeof mod, "%s/normal.mod", lf_grub_efi_dir ());
    if (access (mod, R_OK) == -1 || !in_path ("grub-mkimage")) {
      lf_plan_note (p, CONCERN, LF_FAILED, "the guest has no signed shim "
                    "(%s) and this host cannot build a UEFI grub (%s, "
                    "grub-mkimage: install grub-efi-amd64-bin)", SHIM, mod);
      lf_gpt_conv_free (c);
      return 0;
    }
  }
  if (!in_path ("mkfs.fat") || !in_path ("mcopy") || !in_path ("mmd")) {
    lf_plan_note (p, CONCERN, LF_FAILED, "making the EFI system partition "
                  "needs mkfs.fat and mtools on this host (install "
                  "dosfstools and mtools)");
    lf_gpt_conv_free (c);
    return 0;
  }

  /* The guest's side. */
  {
    CLEANUP_FREE char *buf = NULL;
    size_t len;
    int err;
    if (lf_plan_read (p, "/etc/fstab", 1 * LF_MiB, &buf, &len) == -1) {
      lf_gpt_conv_free (c);
      return -1;
    }
    char *nf = fstab_with_esp (buf, len, c->esp_volid, &err);
    if (err) {
      lf_gpt_conv_free (c);
      return -1;
    }
    if (nf && lf_plan_write_take (p, CONCERN, "/etc/fstab", nf, strlen (nf),
                                  0644, "/boot/efi: the new EFI system "
                                  "partition, by UUID, nofail") == -1) {
      lf_gpt_conv_free (c);
      return -1;
    }
    if (lf_plan_mkdir (p, CONCERN, "/boot/efi") == -1) {
      lf_gpt_conv_free (c);
      return -1;
    }
  }
  {
    CLEANUP_FREE char *cfg = NULL;
    CLEANUP_FREE char *buf = NULL;
    size_t len;
    unsigned n;
    if (asprintf (&cfg, "/boot/grub/grub.cfg") == -1) {
      lf_gpt_conv_free (c);
      return -1;
    }
    if (lf_plan_read (p, cfg, GRUB_CFG_MAX, &buf, &len) == -1) {
      lf_plan_note (p, CONCERN, LF_FAILED, "%s: %s: the UEFI loader hands "
                    "over to it, so it must exist", cfg, lf_last_error ());
      lf_error_clear ();
      lf_gpt_conv_free (c);
      return 0;
    }
    char *nb = lf_grub_cfg_uefi (buf, len, &n);
    if (!nb) {
      lf_gpt_conv_free (c);
      return -1;
    }
    if (n > 0) {
      char why[96];
      snprintf (why, sizeof why, "%u linux16/initrd16 line%s made "
                "linux/initrd (UEFI grub)", n, n == 1 ? "" : "s");
      if (lf_plan_write_take (p, CONCERN, cfg, nb, strlen (nb), 0644,
                              why) == -1) {
        lf_gpt_conv_free (c);
        return -1;
      }
    }
    else
      free (nb);
  }
  if (!(gap = malloc (c->gap)) ||
      lf_bd_pread (g->disk_bds[d], gap, c->gap, 0) == -1) {
    if (!gap)
      lf_error (ENOMEM, "out of memory");
    free (gap);
    lf_gpt_conv_free (c);
    return -1;
  }
  lf_plan_note (p, CONCERN, LF_CHANGED, "%s boots with UEFI: %s converted "
                "from MBR to GPT (%zu partition%s kept where they are), a new "
                "EFI system partition %u with %s at \\EFI\\BOOT\\BOOTX64.EFI",
                hw->name, lf_disk_path (g->disks[d]), c->nparts,
                c->nparts == 1 ? "" : "s", c->esp_number,
                c->loader ? "the guest's signed shim and grub"
                : "a grub built from the host's grub-efi-amd64-bin");
  lf_plan_set_disk_conv (p, c, gap);
  return 0;
}

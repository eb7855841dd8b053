/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/linux: /etc/fstab by UUID, nofail for data disks and
 * swap (reference/linux.md §4).
 *
 * Device names change on Azure (the OS disk is sda on Gen1 IDE, data disks
 * move, /dev/sdb is the temporary resource disk, VMware's SCSI ids in
 * /dev/disk/by-id are gone), so every entry named by device becomes UUID=
 * of the filesystem it maps to on the disks given (source disk N = disk N
 * given).  The text edit is fstab-edit.c's pure lf_fstab_edit; this file
 * only answers its questions from the guest's filesystems.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bootfix/linux/bootcfg.h"

/* The partition numbered PART on disk DISK. */
static struct lf_guest_fs *
fs_at (struct lf_guest *g, size_t disk, unsigned part)
{
  for (size_t i = 0; i < g->nfs; i++)
    if (g->fss[i].disk == disk && g->fss[i].part == part)
      return &g->fss[i];
  return NULL;
}

/* "/dev/sdb2": disk 1, partition 2 (0 for the whole disk).  One or two
 * letters (sdaa is the 27th disk); the rest must be digits.
 */
static bool
parse_kernel_name (const char *spec, size_t *disk, unsigned *part)
{
  static const char *const pfx[] = { "/dev/sd", "/dev/hd", "/dev/vd",
                                     "/dev/xvd" };
  const char *d = NULL;
  for (size_t i = 0; i < sizeof pfx / sizeof pfx[0] && !d; i++)
    if (strncmp (spec, pfx[i], strlen (pfx[i])) == 0)
      d = spec + strlen (pfx[i]);
  if (!d || d[0] < 'a' || d[0] > 'z')
    return false;
  size_t n = (size_t) (d[0] - 'a');
  d++;
  if (d[0] >= 'a' && d[0] <= 'z') {
    n = (n + 1) * 26 + (size_t) (d[0] - 'a');
    d++;
  }
  unsigned long p = 0;
  for (const char *c = d; *c; c++) {
    if (*c < '0' || *c > '9' || p > 100000)
      return false;
    p = p * 10 + (unsigned long) (*c - '0');
  }
  *disk = n;
  *part = (unsigned) p;
  return true;
}

/* /dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:T:0[-partN]: VMware puts
 * disk N of a controller at SCSI target N, so T is the disk given (the
 * order the source VM had).  Other paths (ata, virtio) are not mapped.
 */
static bool
parse_by_path (const char *spec, size_t *disk, unsigned *part)
{
  const char *s = strstr (spec, "-scsi-");
  unsigned h, c, t, l;
  int end = 0;

  if (strncmp (spec, "/dev/disk/by-path/", 18) != 0 || !s ||
      sscanf (s, "-scsi-%u:%u:%u:%u%n", &h, &c, &t, &l, &end) != 4 ||
      c != 0 || l != 0 || t > 1024)
    return false;
  s += end;
  *part = 0;
  if (*s) {
    unsigned p;
    int e2 = 0;
    if (sscanf (s, "-part%u%n", &p, &e2) != 1 || s[e2] != '\0' || p > 100000)
      return false;
    *part = p;
  }
  *disk = t;
  return true;
}

/* /dev/mapper/vg-lv ("--" is a "-" in a name) or /dev/vg/lv: "vg/lv". */
static bool
parse_lv (const char *spec, char *out, size_t size)
{
  if (strncmp (spec, "/dev/mapper/", 12) == 0) {
    const char *s = spec + 12;
    size_t o = 0;
    bool split = false;
    for (size_t i = 0; s[i]; ) {
      if (o + 2 >= size)
        return false;
      if (s[i] == '-' && s[i + 1] == '-') {
        out[o++] = '-';
        i += 2;
      }
      else if (s[i] == '-' && !split) {
        out[o++] = '/';
        split = true;
        i++;
      }
      else
        out[o++] = s[i++];
    }
    out[o] = '\0';
    return split;
  }
  if (strncmp (spec, "/dev/", 5) == 0 && strncmp (spec, "/dev/disk/", 10) != 0) {
    const char *sl = strchr (spec + 5, '/');
    if (!sl || strchr (sl + 1, '/') || strlen (spec + 5) >= size)
      return false;
    strcpy (out, spec + 5);
    return true;
  }
  return false;
}

struct lf_guest_fs *
lf_linux_spec_fs (struct lf_guest *g, struct lf_os *os, const char *spec,
                  const char *mountpoint)
{
  static const struct { const char *prefix, *key; } keyed[] = {
    { "UUID=", "UUID" }, { "LABEL=", "LABEL" },
    { "/dev/disk/by-uuid/", "UUID" }, { "/dev/disk/by-label/", "LABEL" },
  };
  struct lf_guest_fs *f = NULL;
  size_t disk;
  unsigned part;
  char lv[300];

  for (size_t i = 0; i < sizeof keyed / sizeof keyed[0]; i++)
    if (strncmp (spec, keyed[i].prefix, strlen (keyed[i].prefix)) == 0)
      return lf_guest_find_fs (g, keyed[i].key,
                               spec + strlen (keyed[i].prefix));
  const char *pu = strncmp (spec, "PARTUUID=", 9) == 0 ? spec + 9
    : strncmp (spec, "/dev/disk/by-partuuid/", 22) == 0 ? spec + 22 : NULL;
  if (pu) {
    for (size_t i = 0; i < g->nfs; i++) {
      const struct lf_guest_fs *c = &g->fss[i];
      if (c->disk >= g->ndisks || !g->tables)
        continue;
      const struct lf_partition_table *t = &g->tables[c->disk];
      for (size_t j = 0; j < t->n; j++)
        if (t->parts[j].number == c->part && t->parts[j].uuid[0] &&
            strcasecmp (t->parts[j].uuid, pu) == 0)
          return &g->fss[i];
    }
    return NULL;
  }
  if (parse_kernel_name (spec, &disk, &part) ||
      parse_by_path (spec, &disk, &part))
    f = fs_at (g, disk, part);
  else if (parse_lv (spec, lv, sizeof lv)) {
    for (size_t i = 0; i < g->nfs && !f; i++)
      if (strcmp (g->fss[i].lv, lv) == 0)
        f = &g->fss[i];
  }
  /* The inspection found the root; whatever the fstab calls it, "/" is
   * that filesystem (a by-id name of the source disk, for one).
   */
  if (!f && mountpoint && strcmp (mountpoint, "/") == 0 && os->root < g->nfs)
    f = &g->fss[os->root];
  return f;
}

bool
lf_linux_fs_on_os_disk (struct lf_guest *g, struct lf_os *os,
                        const struct lf_guest_fs *f)
{
  if (os->root >= g->nfs)
    return false;
  const struct lf_guest_fs *root = &g->fss[os->root];
  /* An md array: on the OS disk if it has a member there (the root's
   * disk, or a disk of the root's own array).
   */
  const struct lf_md_array *fa = lf_guest_md (g, f), *ra = lf_guest_md (g, root);
  if (fa || ra) {
    uint64_t fd = fa ? fa->disks : f->disk < 64 ? UINT64_C (1) << f->disk : 0;
    uint64_t rd = ra ? ra->disks
      : root->disk < 64 ? UINT64_C (1) << root->disk : 0;
    return (fd & rd) != 0;
  }
  if (f->disk != SIZE_MAX)
    return root->disk != SIZE_MAX && f->disk == root->disk;
  /* A logical volume: on the OS disk if in the root's volume group (the
   * PVs behind it are not tracked here).
   */
  const char *a = strchr (f->lv, '/'), *b = strchr (root->lv, '/');
  return a && b && a - f->lv == b - root->lv &&
    strncmp (f->lv, root->lv, (size_t) (a - f->lv)) == 0;
}

struct fstab_ctx {
  struct lf_guest *g;
  struct lf_os *os;
};

static int
resolve_cb (void *opaque, const char *spec, const char *mountpoint,
            struct lf_fstab_res *r)
{
  struct fstab_ctx *c = opaque;
  struct lf_guest_fs *f = lf_linux_spec_fs (c->g, c->os, spec, mountpoint);

  memset (r, 0, sizeof *r);
  if (!f)
    return 0;
  r->found = true;
  r->os_disk = lf_linux_fs_on_os_disk (c->g, c->os, f);
  snprintf (r->uuid, sizeof r->uuid, "%s", f->info.uuid);
  return 0;
}

int
lf_fix_linux_fstab (struct lf_guest *g, struct lf_os *os, struct lf_plan *p,
                    const struct lf_fix_opts *o)
{
  CLEANUP_FREE char *buf = NULL;
  CLEANUP_FREE char *out = NULL;
  size_t len, outlen;
  struct lf_findings fnd = { 0 };
  struct fstab_ctx c = { g, os };
  int n, ret = -1;

  (void) o;
  if (lf_plan_read (p, "/etc/fstab", BOOTCFG_MAX_SIZE, &buf, &len) == -1) {
    lf_plan_note (p, "fstab", lf_last_errno () == ENOENT ? LF_SKIPPED : LF_WARNING,
                  "/etc/fstab: %s", lf_last_error ());
    lf_error_clear ();
    return 0;
  }
  n = lf_fstab_edit (buf, len, resolve_cb, &c, &out, &outlen, &fnd);
  if (n == -1) {
    lf_plan_note (p, "fstab", LF_FAILED, "%s", lf_last_error ());
    lf_error_clear ();
    ret = 0;
    goto out;
  }
  for (size_t i = 0; i < fnd.n; i++)
    lf_plan_note (p, "fstab", fnd.f[i].what, "%s", fnd.f[i].msg);
  if (fnd.dropped)
    lf_plan_note (p, "fstab", LF_WARNING, "/etc/fstab: %zu more findings "
                  "not listed", fnd.dropped);
  if (n == 0)
    lf_plan_note (p, "fstab", LF_ALREADY_RIGHT, "/etc/fstab names every "
                  "local filesystem by UUID or another stable name, with "
                  "nofail where needed");
  else if (lf_plan_write (p, "fstab", "/etc/fstab", out, outlen, 0644,
                          "filesystems by UUID, nofail on data disks and "
                          "swap") == -1)
    goto out;
  ret = 0;
 out:
  lf_findings_free (&fnd);
  return ret;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall guest/: finding what is on a set of disks.
 *
 * Every disk given is opened (any convert/ format), its partition table
 * read, every partition and every mappable LVM logical volume probed, each
 * filesystem a native backend reads opened, and every operating system
 * root found inspected (inspect-linux.c, inspect-windows.c).  Multi-disk
 * guests work: /boot, /var or D: may live on another disk given together.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "guest/guest.h"

#define GUEST_MAX_DISKS 64
#define GUEST_MAX_BDS   1024

static int
add_bd (struct lf_guest *g, struct lf_blockdev *bd)
{
  if (g->nbds == GUEST_MAX_BDS) {
    lf_error (EINVAL, "more than %d block devices", GUEST_MAX_BDS);
    lf_bd_free (bd);
    return -1;
  }
  if (lf_grow (&g->bds, &g->bds_cap, g->nbds + 1, sizeof *g->bds) == -1) {
    lf_bd_free (bd);
    return -1;
  }
  g->bds[g->nbds++] = bd;
  return 0;
}

/* Probe BD and record it as a filesystem (or a PV, or something we only
 * report).  DISK is the index of the disk, PART the partition number or
 * 0, LV the logical volume name or NULL.
 */
static int
add_fs (struct lf_guest *g, struct lf_blockdev *bd, size_t disk,
        unsigned part, const char *lv)
{
  struct lf_guest_fs *f;

  if (lf_grow (&g->fss, &g->fss_cap, g->nfs + 1, sizeof *g->fss) == -1)
    return -1;
  f = &g->fss[g->nfs];
  memset (f, 0, sizeof *f);
  f->bd = bd;
  f->disk = disk;
  f->part = part;
  if (lv)
    snprintf (f->lv, sizeof f->lv, "%s", lv);
  if (lf_fs_probe (bd, &f->info) == -1) {
    snprintf (f->error, sizeof f->error, "%s", lf_last_error ());
    g->nfs++;
    return 0;                   /* a finding, not a failure of inspection */
  }
  g->nfs++;
  return 0;
}

/* The kernel driver for a blkid type, or NULL: Debian's kernel has no
 * ntfs3, so NTFS stays with libntfs-3g.
 */
static const char *
kernel_fstype (const char *type)
{
  if (strcmp (type, "ext2") == 0 || strcmp (type, "ext3") == 0 ||
      strcmp (type, "ext4") == 0)
    return "ext4";
  if (strcmp (type, "xfs") == 0 || strcmp (type, "btrfs") == 0 ||
      strcmp (type, "vfat") == 0)
    return type;
  return NULL;
}

/* The device node of partition PART (0: the whole disk) of DISK, when DISK
 * is a block device: the child of its sysfs directory whose "partition"
 * file says PART.  -1 for an image file or no such partition.
 */
static int
partition_node (const char *disk, unsigned part, char *node, size_t n)
{
  struct stat st;
  char dir[128];

  if (stat (disk, &st) == -1 || !S_ISBLK (st.st_mode))
    return -1;
  if (part == 0) {
    snprintf (node, n, "%s", disk);
    return 0;
  }
  snprintf (dir, sizeof dir, "/sys/dev/block/%u:%u", major (st.st_rdev),
            minor (st.st_rdev));
  DIR *d = opendir (dir);
  if (!d)
    return -1;
  struct dirent *e;
  int r = -1;
  while (r == -1 && (e = readdir (d)) != NULL) {
    char pf[600], buf[32];
    if (e->d_name[0] == '.')
      continue;
    snprintf (pf, sizeof pf, "%s/%s/partition", dir, e->d_name);
    FILE *fp = fopen (pf, "r");
    if (!fp)
      continue;
    if (fgets (buf, sizeof buf, fp) && (unsigned) atoi (buf) == part) {
      if ((size_t) snprintf (node, n, "/dev/%s", e->d_name) < n)
        r = 0;
    }
    fclose (fp);
  }
  closedir (d);
  return r;
}

/* LV F as a device-mapper device over the PVs' partition nodes (the
 * appliance: the kernel mounts it like a partition), its node into NODE
 * and its name into F->dm.  -1 when it cannot be: the native backend is
 * tried then, as for a partition.
 */
static int
lv_node (struct lf_guest *g, const char *const *paths, struct lf_guest_fs *f,
         bool writable, char *node, size_t n)
{
  const struct lf_lvm_lv *lv = NULL;
  const struct lf_bd_segment *segs;
  CLEANUP_FREE struct lf_dm_target *t = NULL;
  char name[sizeof f->dm];
  size_t ns = 0;

  for (size_t i = 0; i < g->lvm.n && !lv; i++)
    if (g->lvm.lvs[i].bd && g->lvm.lvs[i].bd == f->bd)
      lv = &g->lvm.lvs[i];
  if (!lv || !(segs = lf_bd_segments (lv->bd, &ns)) || ns == 0) {
    lf_error (EINVAL, "%s: not a linear LV", f->lv);
    return -1;
  }
  if (!(t = calloc (ns, sizeof *t))) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  for (size_t s = 0; s < ns; s++) {
    const struct lf_guest_fs *pv = NULL;
    char pnode[256];
    struct stat st;
    /* The PV's own partition: a target over the whole disk would claim
     * it, and the kernel would then refuse to mount its other partitions
     * (/boot beside the PV).
     */
    for (size_t i = 0; i < g->nfs && !pv; i++)
      if (g->fss[i].bd == segs[s].dev && !g->fss[i].lv[0] &&
          g->fss[i].disk < g->ndisks)
        pv = &g->fss[i];
    if (!pv || partition_node (paths[pv->disk], pv->part, pnode,
                               sizeof pnode) == -1 ||
        stat (pnode, &st) == -1 || !S_ISBLK (st.st_mode)) {
      lf_error (ENODEV, "%s: segment %zu: its PV %s is not a block device "
                "partition", f->lv, s, lf_bd_name (segs[s].dev));
      return -1;
    }
    if (segs[s].dev_offset % 512 || segs[s].len % 512 || segs[s].len == 0) {
      lf_error (EINVAL, "%s: segment %zu is not whole sectors", f->lv, s);
      return -1;
    }
    t[s] = (struct lf_dm_target) { .dev = st.st_rdev,
                                   .offset = segs[s].dev_offset / 512,
                                   .len = segs[s].len / 512 };
  }
  if (lf_dm_name (lv->vg, lv->name, name, sizeof name) == -1 ||
      lf_dm_create (name, lv->uuid, t, ns, writable, node, n) == -1)
    return -1;
  snprintf (f->dm, sizeof f->dm, "%s", name);
  return 0;
}

/* Record md array members: each marked as such (blkid may see the ext4
 * of a metadata 1.0 or 0.90 member, which starts at its first byte) and
 * left unopened, since writing one mirror alone makes them differ.
 */
static int
scan_md (struct lf_guest *g)
{
  for (size_t i = 0; i < g->nfs; i++) {
    struct lf_guest_fs *f = &g->fss[i];
    struct lf_md_member m;
    char lvl[32];
    int r;

    if (!f->bd || f->lv[0] || f->disk >= g->ndisks)
      continue;
    if ((r = lf_md_probe (f->bd, &m)) == -1) {
      /* Damage matters only where blkid saw a member too. */
      if (strcmp (f->info.type, "linux_raid_member") == 0)
        snprintf (f->error, sizeof f->error, "%s", lf_last_error ());
      else
        LF_DEBUG (1, "%s: %s", lf_bd_name (f->bd), lf_last_error ());
      lf_error_clear ();
      continue;
    }
    if (r == 0)
      continue;
    snprintf (f->info.type, sizeof f->info.type, "linux_raid_member");
    snprintf (f->info.uuid, sizeof f->info.uuid, "%s", m.uuid);
    snprintf (f->error, sizeof f->error, "%s: member %d of %s (%s, "
              "metadata %s): no native backend assembles md arrays (the "
              "libguestfs backend does, on a workstation)",
              lf_bd_name (f->bd), m.role, m.name,
              lf_md_level_name (&m, lvl, sizeof lvl), m.metadata);
    struct lf_md_array *a = NULL;
    for (size_t k = 0; k < g->nmd && !a; k++)
      if (strcmp (g->md[k].sb.uuid, m.uuid) == 0)
        a = &g->md[k];
    if (!a) {
      if (lf_grow (&g->md, &g->md_cap, g->nmd + 1, sizeof *g->md) == -1)
        return -1;
      a = &g->md[g->nmd++];
      memset (a, 0, sizeof *a);
      a->sb = m;
    }
    if (m.role >= 0 && !(a->roles & (UINT64_C (1) << m.role))) {
      a->roles |= UINT64_C (1) << m.role;
      a->present++;
    }
    a->disks |= UINT64_C (1) << f->disk;
    size_t len = strlen (a->members);
    if (len < sizeof a->members - 1)
      snprintf (a->members + len, sizeof a->members - len, "%s%s (member %d)",
                len ? ", " : "", lf_bd_name (f->bd), m.role);
  }
  return 0;
}

int
lf_guest_md_check (const struct lf_guest *g)
{
  for (size_t k = 0; k < g->nmd; k++) {
    const struct lf_md_array *a = &g->md[k];
    char lvl[32];
    if (a->present < a->sb.raid_disks) {
      char missing[256] = "";
      size_t len = 0;
      for (unsigned r = 0; r < a->sb.raid_disks && len < sizeof missing - 8; r++)
        if (!(a->roles & (UINT64_C (1) << r)))
          len += (size_t) snprintf (missing + len, sizeof missing - len,
                                    "%s%u", len ? ", " : "", r);
      lf_error (EINVAL, "%s is a %s of %u members; %u given: %s; missing: "
                "member %s: give the disks of every member together (%s)",
                a->sb.name, lf_md_level_name (&a->sb, lvl, sizeof lvl),
                a->sb.raid_disks, a->present, a->members, missing,
                a->sb.level == 1 ? "writing one mirror alone would make the "
                "mirrors differ" : "the array cannot be read without them");
      return -1;
    }
  }
  return 0;
}

const struct lf_md_array *
lf_guest_md (const struct lf_guest *g, const struct lf_guest_fs *f)
{
  if (f->bd || !f->lv[0])
    return NULL;
  for (size_t k = 0; k < g->nmd; k++)
    if (strcmp (g->md[k].sb.name, f->lv) == 0)
      return &g->md[k];
  return NULL;
}

struct lf_guest *
lf_guest_open (const char *const *paths, size_t n, bool writable)
{
  struct lf_guest *g = calloc (1, sizeof *g);
  struct lf_blockdev **pvs = NULL;
  size_t npvs = 0, pvs_cap = 0;

  if (!g) {
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  if (n == 0 || n > GUEST_MAX_DISKS) {
    lf_error (EINVAL, "between 1 and %d disks, please", GUEST_MAX_DISKS);
    goto error;
  }
  g->writable = writable;
  g->disks = calloc (n, sizeof *g->disks);
  g->disk_bds = calloc (n, sizeof *g->disk_bds);
  g->tables = calloc (n, sizeof *g->tables);
  if (!g->disks || !g->disk_bds || !g->tables) {
    lf_error (ENOMEM, "out of memory");
    goto error;
  }
  g->ndisks = n;

  for (size_t i = 0; i < n; i++) {
    g->disks[i] = lf_disk_open (paths[i], NULL);
    if (!g->disks[i])
      goto error;
    g->disk_bds[i] = lf_bd_new_disk (g->disks[i], writable, paths[i]);
    if (!g->disk_bds[i])
      goto error;
    if (lf_partitions_probe (g->disk_bds[i], &g->tables[i]) == -1)
      goto error;
    if (g->tables[i].n == 0) {
      if (add_fs (g, g->disk_bds[i], i, 0, NULL) == -1)
        goto error;
      continue;
    }
    for (size_t p = 0; p < g->tables[i].n; p++) {
      const struct lf_partition *pt = &g->tables[i].parts[p];
      char name[512];
      if (pt->extended)
        continue;
      snprintf (name, sizeof name, "%s:p%u", paths[i], pt->number);
      struct lf_blockdev *bd = lf_bd_new_window (g->disk_bds[i], pt->offset,
                                                 pt->size, name);
      if (!bd || add_bd (g, bd) == -1 || add_fs (g, bd, i, pt->number, NULL) == -1)
        goto error;
    }
  }

  /* LVM: every PV found, across all disks, then the LVs on them. */
  for (size_t i = 0; i < g->nfs; i++)
    if (strcmp (g->fss[i].info.type, "LVM2_member") == 0) {
      if (lf_grow (&pvs, &pvs_cap, npvs + 1, sizeof *pvs) == -1)
        goto error;
      pvs[npvs++] = g->fss[i].bd;
    }
  if (npvs > 0) {
    if (lf_lvm_scan (pvs, npvs, &g->lvm) == -1)
      goto error;
    for (size_t i = 0; i < g->lvm.n; i++) {
      struct lf_lvm_lv *lv = &g->lvm.lvs[i];
      char name[300];
      if (!lv->bd)
        continue;
      snprintf (name, sizeof name, "%s/%s", lv->vg, lv->name);
      if (add_fs (g, lv->bd, SIZE_MAX, 0, name) == -1)
        goto error;
    }
  }
  free (pvs);
  if (scan_md (g) == -1)
    goto error;
  if (writable && lf_guest_md_check (g) == -1)
    goto error;

  /* Open what the native backends read; in the appliance
   * (LANDFALL_MOUNT=kernel), what the kernel mounts, mounted by it.  Only
   * there: a hostile filesystem image attacks the kernel that mounts it,
   * and the appliance is a throwaway VM, which a workstation is not
   * (libguestfs' reason for its own appliance).
   */
  const char *km = getenv ("LANDFALL_MOUNT");
  bool kernel = km && strcmp (km, "kernel") == 0;
  for (size_t i = 0; i < g->nfs; i++) {
    struct lf_guest_fs *f = &g->fss[i];
    const char *t = f->info.type;
    if (f->error[0] || !*t || strcmp (t, "LVM2_member") == 0 ||
        strcmp (t, "swap") == 0)
      continue;
    if (kernel && !f->lv[0] && f->disk < g->ndisks) {
      const char *kt = kernel_fstype (t);
      char node[256];
      if (kt && partition_node (paths[f->disk], f->part, node,
                                sizeof node) == 0) {
        f->fs = lf_fs_open_kernel (node, kt, writable);
        if (f->fs)
          continue;
        LF_DEBUG (1, "%s: %s; trying the native backend", node,
                  lf_last_error ());
      }
      lf_error_clear ();
    }
    /* An LV the same way, through device-mapper: with no native backend
     * for XFS, the only way there in the appliance.
     */
    if (kernel && f->lv[0] && f->bd && kernel_fstype (t)) {
      char node[256];
      if (lv_node (g, paths, f, writable, node, sizeof node) == 0) {
        f->fs = lf_fs_open_kernel (node, kernel_fstype (t), writable);
        if (f->fs)
          continue;
        LF_DEBUG (1, "%s (%s): %s; trying the native backend", f->lv, node,
                  lf_last_error ());
        (void) lf_dm_remove (f->dm);
        f->dm[0] = '\0';
      }
      else
        LF_DEBUG (1, "%s: %s; trying the native backend", f->lv,
                  lf_last_error ());
      lf_error_clear ();
    }
    f->fs = lf_fs_open (f->bd, &f->info, writable);
    if (!f->fs)
      snprintf (f->error, sizeof f->error, "%s", lf_last_error ());
  }
  return g;

 error:
  free (pvs);
  lf_guest_close (g);
  return NULL;
}

/* Types no native backend reads that are worth launching an appliance
 * for: they hold roots, /boot or /var.  (vfat, iso9660... are opened too
 * once the appliance runs, but launch nothing.)
 */
static bool
guestfs_worthy (const char *type)
{
  static const char *const types[] = {
    "xfs", "btrfs", "f2fs", "jfs", "reiserfs", "ufs", "hfsplus", "nilfs2",
  };
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if (strcmp (type, types[i]) == 0)
      return true;
  return false;
}

int
lf_guest_open_guestfs (struct lf_guest *g, bool always)
{
  struct lf_guestfs *h = NULL;
  struct lf_guestfs_fs *l = NULL;
  size_t nl = 0, wanted = 0;
  int opened = 0;

  for (size_t i = 0; i < g->nfs; i++)
    wanted += !g->fss[i].fs && guestfs_worthy (g->fss[i].info.type);
  /* An md array, when whole: the appliance assembles it. */
  for (size_t k = 0; k < g->nmd; k++)
    wanted += g->md[k].present >= g->md[k].sb.raid_disks;
  for (size_t i = 0; i < g->lvm.n; i++)
    wanted += g->lvm.lvs[i].bd == NULL;
  if ((!wanted && !always) || !lf_guestfs_available ()) {
    LF_DEBUG (1, "libguestfs: %zu filesystems for it%s: no appliance", wanted,
              lf_guestfs_available () ? "" : ", but built without it");
    return 0;
  }
  LF_DEBUG (1, "libguestfs: %zu filesystems no native backend reads", wanted);
  h = lf_guestfs_new ();
  if (!h)
    goto not_launched;
  for (size_t d = 0; d < g->ndisks; d++)
    if (lf_guestfs_add_disk (h, lf_disk_path (g->disks[d]),
                             lf_disk_format (g->disks[d]), !g->writable) == -1)
      goto not_launched;
  if (lf_guestfs_filesystems (h, &l, &nl) == -1)
    goto not_launched;
  for (size_t k = 0; k < nl; k++) {
    const char *type = l[k].info.type;
    struct lf_guest_fs *f = NULL;
    size_t disk;
    unsigned part;
    char lv[300];

    if (l[k].md_uuid[0]) {
      /* An array the appliance assembled: by its name in the superblock
       * (the appliance numbers them md127 down).
       */
      const struct lf_md_array *a = NULL;
      for (size_t m = 0; m < g->nmd && !a; m++) {
        char hex[40];
        size_t hl = 0;
        for (const char *u = g->md[m].sb.uuid; *u && hl < sizeof hex - 1; u++)
          if (*u != '-')
            hex[hl++] = *u;
        hex[hl] = '\0';
        if (strcasecmp (hex, l[k].md_uuid) == 0)
          a = &g->md[m];
      }
      if (!a || !*type || strcmp (type, "swap") == 0 ||
          strcmp (type, "LVM2_member") == 0 || strcmp (type, "crypto_LUKS") == 0)
        continue;
      snprintf (lv, sizeof lv, "%s", a->sb.name);
      disk = SIZE_MAX;
      part = 0;
    }
    else if (!*type || strcmp (type, "swap") == 0 ||
        strcmp (type, "LVM2_member") == 0 || strcmp (type, "crypto_LUKS") == 0 ||
        strcmp (type, "linux_raid_member") == 0 ||
        lf_guestfs_parse_device (l[k].volume, &disk, &part, lv, sizeof lv) == -1) {
      lf_error_clear ();
      continue;
    }
    for (size_t i = 0; i < g->nfs && !f; i++)
      if ((lv[0] ? strcmp (g->fss[i].lv, lv) == 0
           : !g->fss[i].lv[0] && g->fss[i].disk == disk && g->fss[i].part == part) &&
          (g->fss[i].subvol_default || !g->fss[i].subvol[0]))
        f = &g->fss[i];
    if (f && l[k].subvol[0] && !l[k].subvol_default) {
      /* Another subvolume of the same btrfs: an entry of its own. */
      size_t at = (size_t) (f - g->fss);
      if (lf_grow (&g->fss, &g->fss_cap, g->nfs + 1, sizeof *g->fss) == -1) {
        free (l);
        lf_guestfs_close (h);
        return -1;
      }
      f = &g->fss[g->nfs++];
      *f = g->fss[at];
      f->fs = NULL;
      f->error[0] = '\0';
      f->subvol_default = false;
      if ((size_t) snprintf (f->name, sizeof f->name, "%s[subvol=%s]",
                             f->lv[0] ? f->lv : lf_bd_name (f->bd),
                             l[k].subvol) >= sizeof f->name) {
        LF_DEBUG (1, "libguestfs: %s: skipped (name too long)", l[k].device);
        g->nfs--;
        continue;
      }
    }
    if (f && l[k].subvol_default) {
      f->subvol_default = true;
      /* The device is a subvolume other than the top level (SUSE's
       * @/.snapshots/1/snapshot): say which.
       */
      if (l[k].subvol[0] &&
          (size_t) snprintf (f->name, sizeof f->name, "%s[subvol=%s]",
                             f->lv[0] ? f->lv : lf_bd_name (f->bd),
                             l[k].subvol) >= sizeof f->name)
        f->name[0] = '\0';
    }
    if (f) {
      snprintf (f->subvol, sizeof f->subvol, "%s", l[k].subvol);
      f->subvolid = l[k].subvolid;
    }
    if (!f && lv[0]) {          /* an LV lvm.c could not map, an md array */
      if (lf_grow (&g->fss, &g->fss_cap, g->nfs + 1, sizeof *g->fss) == -1) {
        free (l);
        lf_guestfs_close (h);
        return -1;
      }
      f = &g->fss[g->nfs++];
      memset (f, 0, sizeof *f);
      f->disk = SIZE_MAX;
      snprintf (f->lv, sizeof f->lv, "%s", lv);
      f->info = l[k].info;
    }
    if (!f || f->fs)
      continue;
    f->fs = lf_fs_open_guestfs_subvol (h, l[k].volume,
                                       l[k].subvol_default ? NULL : l[k].subvol,
                                       g->writable);
    if (!f->fs)
      snprintf (f->error, sizeof f->error, "%s", lf_last_error ());
    else {
      f->error[0] = '\0';
      opened++;
    }
  }
  free (l);
  lf_guestfs_close (h);         /* the filesystems keep it running */
  return opened;

 not_launched:
  /* A finding for each filesystem that waited for it. */
  for (size_t i = 0; i < g->nfs; i++) {
    struct lf_guest_fs *f = &g->fss[i];
    size_t len = strlen (f->error);
    if (!f->fs && guestfs_worthy (f->info.type) && len < sizeof f->error - 3)
      snprintf (f->error + len, sizeof f->error - len, "%s%s",
                len ? "; " : "", lf_last_error ());
  }
  free (l);
  lf_guestfs_close (h);
  lf_error_clear ();
  return 0;
}

static void
free_oses (struct lf_guest *g)
{
  for (size_t i = 0; i < g->nos; i++) {
    lf_mounts_free (&g->oses[i].mounts);
    json_decref (g->oses[i].facts);
  }
  free (g->oses);
  g->oses = NULL;
  g->nos = g->oses_cap = 0;
}

int
lf_guest_reinspect (struct lf_guest *g)
{
  free_oses (g);
  return lf_guest_inspect (g);
}

void
lf_guest_close (struct lf_guest *g)
{
  if (!g)
    return;
  free_oses (g);
  for (size_t i = 0; i < g->nfs; i++) {
    lf_fs_close (g->fss[i].fs);
    /* After the unmount, so that the device is no longer open.  One left
     * behind is removed before the next activation; the caller's error
     * (closing after a failure) is kept either way.
     */
    if (g->fss[i].dm[0]) {
      struct lf_error_record rec;
      lf_error_save (&rec);
      if (lf_dm_remove (g->fss[i].dm) == -1)
        LF_DEBUG (1, "%s", lf_last_error ());
      lf_error_restore (&rec);
    }
  }
  free (g->fss);
  free (g->md);
  /* LVs map onto partitions: free them first, then partitions, then disks. */
  lf_lvm_free (&g->lvm);
  for (size_t i = g->nbds; i-- > 0; )
    lf_bd_free (g->bds[i]);
  free (g->bds);
  for (size_t i = 0; i < g->ndisks; i++) {
    if (g->tables)
      lf_partitions_free (&g->tables[i]);
    if (g->disk_bds)
      lf_bd_free (g->disk_bds[i]);
    if (g->disks)
      lf_disk_close (g->disks[i]);
  }
  free (g->tables);
  free (g->disk_bds);
  free (g->disks);
  free (g);
}

const char *
lf_guest_fs_device (const struct lf_guest *g, const struct lf_guest_fs *f)
{
  (void) g;
  return f->name[0] ? f->name : f->lv[0] ? f->lv : lf_bd_name (f->bd);
}

/* The value of mount option NAME in MNTOPS ("subvol=@,ro"), as a new
 * string, or NULL.
 */
static char *
mount_option (const char *mntops, const char *name)
{
  size_t n = strlen (name);
  for (const char *p = mntops; p && *p; ) {
    size_t len = strcspn (p, ",");
    if (len > n && strncmp (p, name, n) == 0 && p[n] == '=')
      return strndup (p + n + 1, len - n - 1);
    p += len;
    if (*p == ',')
      p++;
  }
  return NULL;
}

struct lf_guest_fs *
lf_guest_btrfs_subvol (struct lf_guest *g, struct lf_guest_fs *f,
                       const char *mntops)
{
  if (!f || strcmp (f->info.type, "btrfs") != 0)
    return f;
  char *sv = mount_option (mntops, "subvol");
  char *id = mount_option (mntops, "subvolid");
  const char *want = sv;
  unsigned long wid = 0;
  struct lf_guest_fs *r = NULL;

  if (id && lf_parse_uint (id, 0, ULONG_MAX, &wid) == -1)
    wid = ULONG_MAX;            /* matches nothing */
  /* subvol=/@/home and subvol=@/home are the same (from the top level). */
  while (want && *want == '/')
    want++;
  for (size_t i = 0; i < g->nfs && !r; i++) {
    struct lf_guest_fs *c = &g->fss[i];
    if (strcmp (c->info.type, "btrfs") != 0 || c->disk != f->disk ||
        c->part != f->part || strcmp (c->lv, f->lv) != 0)
      continue;
    if (want ? strcmp (c->subvol, want) == 0 && (!id || c->subvolid == wid)
        : id ? c->subvolid == wid || (wid == 5 && c->subvol_default && !c->subvol[0])
        : c->subvol_default)
      r = c;
  }
  if (!r)
    lf_error (EINVAL, "btrfs %s: no subvolume %s%s%s%s%s among those opened "
              "(snapshots are left out)", f->info.uuid,
              sv ? "subvol=" : "", sv ? sv : "", sv && id ? "," : "",
              id ? "subvolid=" : "", id ? id : !sv ? "(the default)" : "");
  free (sv);
  free (id);
  return r;
}

/* Does FS look like the root of an OS?  Returns the type or NULL. */
static const char *
os_type (struct lf_fs *fs)
{
  struct lf_mounts ms = { 0 };
  const char *type = NULL;

  if (lf_mounts_add (&ms, "/", fs) == -1)
    return NULL;
  if (lf_guest_exists (&ms, "/Windows/System32/config/SYSTEM") ||
      lf_guest_exists (&ms, "/WINNT/system32/config/system"))
    type = "windows";
  else if (lf_guest_exists (&ms, "/etc") &&
           (lf_guest_exists (&ms, "/etc/os-release") ||
            lf_guest_exists (&ms, "/usr/lib/os-release") ||
            lf_guest_exists (&ms, "/etc/redhat-release") ||
            lf_guest_exists (&ms, "/etc/SuSE-release") ||
            lf_guest_exists (&ms, "/etc/debian_version")) &&
           (lf_guest_exists (&ms, "/bin") || lf_guest_exists (&ms, "/usr/bin")))
    type = "linux";
  lf_mounts_free (&ms);
  lf_error_clear ();
  return type;
}

int
lf_guest_inspect (struct lf_guest *g)
{
  for (size_t i = 0; i < g->nfs; i++) {
    struct lf_guest_fs *f = &g->fss[i];
    const char *type;
    struct lf_os *os;

    if (!f->fs || !(type = os_type (f->fs)))
      continue;
    if (lf_grow (&g->oses, &g->oses_cap, g->nos + 1, sizeof *g->oses) == -1)
      return -1;
    os = &g->oses[g->nos++];
    memset (os, 0, sizeof *os);
    os->root = i;
    os->type = type;
    os->facts = json_object ();
    if (!os->facts || lf_mounts_add (&os->mounts, "/", f->fs) == -1)
      return -1;
    json_object_set_new (os->facts, "type", json_string (type));
    json_object_set_new (os->facts, "root",
                         json_string (lf_guest_fs_device (g, f)));
    if (g->nmd) {
      json_t *mds = json_array ();
      for (size_t k = 0; k < g->nmd; k++) {
        const struct lf_md_array *a = &g->md[k];
        char lvl[32];
        json_array_append_new (mds, json_pack (
          "{s:s, s:s, s:s, s:s, s:i, s:i, s:s}", "name", a->sb.name,
          "uuid", a->sb.uuid, "metadata", a->sb.metadata,
          "level", lf_md_level_name (&a->sb, lvl, sizeof lvl),
          "raid_disks", (int) a->sb.raid_disks, "present", (int) a->present,
          "members", a->members));
      }
      json_object_set_new (os->facts, "md_arrays", mds);
    }
    int r = strcmp (type, "linux") == 0
      ? lf_inspect_linux (g, os) : lf_inspect_windows (g, os);
    if (r == -1)
      return -1;
  }
  return 0;
}

/* Find the filesystem an fstab spec (or a Windows volume) names. */
struct lf_guest_fs *
lf_guest_find_fs (struct lf_guest *g, const char *key, const char *value)
{
  for (size_t i = 0; i < g->nfs; i++) {
    struct lf_guest_fs *f = &g->fss[i];
    const char *v = strcmp (key, "UUID") == 0 ? f->info.uuid
      : strcmp (key, "LABEL") == 0 ? f->info.label : NULL;
    if (v && *v && strcasecmp (v, value) == 0)
      return f;
  }
  return NULL;
}

void
lf_guest_firmware (struct lf_guest *g, struct lf_os *os)
{
  /* An EFI system partition means UEFI; MBR boot code or a BIOS boot
   * partition means BIOS.  A disk may have both (hybrid).
   */
  bool esp = false, bios = false;
  for (size_t d = 0; d < g->ndisks; d++) {
    const struct lf_partition_table *t = &g->tables[d];
    for (size_t p = 0; p < t->n; p++) {
      const char *ty = t->parts[p].type;
      if (strcasecmp (ty, "c12a7328-f81f-11d2-ba4b-00a0c93ec93b") == 0 ||
          strcasecmp (ty, "0xef") == 0)
        esp = true;
      if (strcasecmp (ty, "21686148-6449-6e6f-744e-656564454649") == 0)
        bios = true;
    }
    if (strcmp (t->type, "dos") == 0) {
      uint8_t mbr[440];
      if (lf_bd_pread (g->disk_bds[d], mbr, sizeof mbr, 0) == 0 &&
          !lf_is_zero (mbr, sizeof mbr))
        bios = true;
      lf_error_clear ();
    }
  }
  /* The firmware only: which target fits it is the profiles' business
   * (hw/), decided above guest/.
   */
  json_t *fw = json_array ();
  if (bios)
    json_array_append_new (fw, json_string ("bios"));
  if (esp)
    json_array_append_new (fw, json_string ("uefi"));
  json_object_set_new (os->facts, "firmware", fw);
}

static json_t *
partition_json (const struct lf_partition *p)
{
  return json_pack ("{s:i, s:I, s:I, s:s, s:s, s:s, s:b, s:b, s:b}",
                    "number", (int) p->number,
                    "offset", (json_int_t) p->offset,
                    "size", (json_int_t) p->size,
                    "type", p->type, "uuid", p->uuid, "name", p->name,
                    "bootable", p->bootable, "extended", p->extended,
                    "logical", p->logical);
}

json_t *
lf_guest_report (struct lf_guest *g)
{
  json_t *disks = json_array (), *fss = json_array (), *oses = json_array ();
  json_t *lvs = json_array ();

  for (size_t i = 0; i < g->ndisks; i++) {
    json_t *parts = json_array ();
    for (size_t p = 0; p < g->tables[i].n; p++)
      json_array_append_new (parts, partition_json (&g->tables[i].parts[p]));
    json_array_append_new (disks, json_pack (
      "{s:s, s:s, s:s, s:I, s:{s:s, s:s, s:b, s:o}}",
      "path", lf_disk_path (g->disks[i]),
      "format", lf_disk_format (g->disks[i]),
      "subformat", lf_disk_subformat (g->disks[i]),
      "virtual_size", (json_int_t) lf_disk_size (g->disks[i]),
      "partition_table",
        "type", g->tables[i].type, "id", g->tables[i].id,
        "hybrid", g->tables[i].hybrid, "partitions", parts));
  }
  for (size_t i = 0; i < g->lvm.n; i++) {
    const struct lf_lvm_lv *lv = &g->lvm.lvs[i];
    json_t *j = json_pack ("{s:s, s:s, s:s, s:b}", "vg", lv->vg,
                           "name", lv->name, "uuid", lv->uuid,
                           "mapped", lv->bd != NULL);
    if (!lv->bd)
      json_object_set_new (j, "why_not", json_string (lv->why_not));
    json_array_append_new (lvs, j);
  }
  for (size_t i = 0; i < g->nfs; i++) {
    const struct lf_guest_fs *f = &g->fss[i];
    json_t *j = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:o}",
                           "device", lf_guest_fs_device (g, f),
                           "type", f->info.type, "uuid", f->info.uuid,
                           "label", f->info.label, "version", f->info.version,
                           "size", f->bd ? json_integer ((json_int_t) lf_bd_size (f->bd))
                                         : json_null ());
    if (f->disk != SIZE_MAX) {
      json_object_set_new (j, "disk", json_integer ((json_int_t) f->disk));
      json_object_set_new (j, "partition", json_integer (f->part));
    }
    if (f->fs)
      json_object_set_new (j, "backend", json_string (f->fs->ops->name));
    if (f->error[0])
      json_object_set_new (j, "error", json_string (f->error));
    json_array_append_new (fss, j);
  }
  for (size_t i = 0; i < g->nos; i++)
    json_array_append (oses, g->oses[i].facts);
  return json_pack ("{s:o, s:o, s:o, s:o}", "disks", disks,
                    "logical_volumes", lvs, "filesystems", fss,
                    "operating_systems", oses);
}

bool
lf_facts_has (json_t *arr, const char *s)
{
  size_t i;
  json_t *v;

  json_array_foreach (arr, i, v)
    if (json_is_string (v) && strcmp (json_string_value (v), s) == 0)
      return true;
  return false;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall supervisor/: a job's prerequisites (run-job.h).
 *
 * Everything is checked, and every problem found is reported, before
 * anything is written: a job refused here leaves no trace.  The disks a
 * job names by LUN or serial are found here too.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/common.h"
#include "convert/convert.h"
#include "guest/guest.h"
#include "bootfix/bootfix.h"
#include "supervisor/cli.h"
#include "supervisor/job.h"
#include "supervisor/run-job.h"

/* Room the fix may need inside an image is inside the image; this is for
 * the state and report files and the filesystem's own overhead.
 */
#define SPACE_SLACK   (64 * LF_MiB)
#define VHD_EPOCH     946684800                       /* 2000-01-01 UTC */

/* The bytes a conversion may write: the data extents of the source (holes
 * and zero ranges stay holes).  Capped walk: past the cap, assume data.
 */
static uint64_t
data_estimate (struct lf_disk *d)
{
  uint64_t size = lf_disk_size (d), off = 0, data = 0;
  unsigned n = 0;

  while (off < size) {
    uint64_t len = size - off;
    unsigned type;
    if (++n > 1000000 || lf_disk_extent (d, off, &len, &type) == -1) {
      lf_error_clear ();
      return data + (size - off);
    }
    if (type == LF_EXTENT_DATA)
      data += len;
    off += len;
  }
  return data;
}

/* The nearest existing directory at or above PATH (for statvfs). */
static char *
existing_dir (const char *path)
{
  char *p = strdup (path);
  struct stat st;

  while (p && stat (p, &st) == -1) {
    char *d = strdup (dirname (p));
    free (p);
    p = d;
  }
  return p;
}

static void
check_space (struct run *r, const char *dir, uint64_t need)
{
  CLEANUP_FREE char *d = existing_dir (dir);
  struct statvfs sv;
  char a[32], b[32];

  if (!d || statvfs (d, &sv) == -1) {
    lf_strs_add (&r->problems, "%s: cannot tell the free space: %s", dir,
             strerror (errno));
    return;
  }
  uint64_t avail = (uint64_t) sv.f_bavail * sv.f_frsize;
  if (avail < need)
    lf_strs_add (&r->problems, "%s: %s free, the outputs need about %s", d,
             lf_human_size (avail, a, sizeof a), lf_human_size (need, b, sizeof b));
}

/* What the prerequisites need of the guest's inspection facts, read once
 * from guest/'s JSON (its edge) into fields.
 */
struct os_facts {
  bool windows, bitlocker, hibernated;
  bool bios, uefi;              /* boot code found for each */
};


static char *
os_facts_read (const struct lf_os *os, struct os_facts *f)
{
  json_t *distro = json_object_get (os->facts, "distro");
  const char *name = json_string_value (json_object_get (distro, "name"));
  json_t *fw = json_object_get (os->facts, "firmware");
  char *desc = NULL;

  if (!name)
    name = json_string_value (json_object_get (os->facts, "product"));
  f->windows = strcmp (os->type, "windows") == 0;
  f->bitlocker = json_is_true (json_object_get (os->facts, "bitlocker"));
  f->hibernated = json_is_true (json_object_get (os->facts, "hibernated"));
  f->bios = lf_facts_has (fw, "bios");
  f->uefi = lf_facts_has (fw, "uefi");
  if (asprintf (&desc, "%s%s%s", os->type, name ? ": " : "",
                name ? name : "") == -1)
    desc = NULL;
  return desc;
}

/* The index of the job disk that holds PV device BD, or SIZE_MAX. */
static size_t
pv_disk (const struct lf_guest *g, const struct lf_blockdev *bd)
{
  for (size_t i = 0; i < g->nfs; i++)
    if (g->fss[i].bd == bd && !g->fss[i].lv[0])
      return g->fss[i].disk;
  return SIZE_MAX;
}

/* The OS of the guest inspected, as the job needs it: exactly one, with
 * its root on the OS disk (a partition of it, or an LV of a volume group
 * with a physical volume on it).  NULL with the error recorded.
 */
struct lf_os *
lf_run_job_os (struct lf_guest *g)
{
  if (g->nos == 0) {
    lf_error (ENOENT, "no operating system found on the disks: the OS disk "
              "must hold a Linux or Windows installation");
    return NULL;
  }
  if (g->nos > 1) {
    lf_error (ENOTSUP, "%zu operating systems found: a job is the disks of "
              "one machine", g->nos);
    return NULL;
  }
  struct lf_os *os = &g->oses[0];
  const struct lf_guest_fs *rf = &g->fss[os->root];
  const struct lf_lvm_vg *vg = NULL;

  if (rf->disk == 0)
    return os;
  /* An md array with a member on the OS disk (lf_guest_md_check saw that
   * every member is in the job).
   */
  const struct lf_md_array *md = lf_guest_md (g, rf);
  if (md && (md->disks & 1))
    return os;
  /* An LV: of a VG with a PV on the OS disk (the installers' layout, also
   * when the VG was grown onto data disks).  check_vgs saw to the rest.
   */
  for (size_t k = 0; rf->lv[0] && k < g->lvm.n && !vg; k++) {
    const struct lf_lvm_lv *lv = &g->lvm.lvs[k];
    size_t vl = strlen (lv->vg);
    if (rf->bd ? lv->bd == rf->bd
        : strncmp (rf->lv, lv->vg, vl) == 0 && rf->lv[vl] == '/' &&
          strcmp (rf->lv + vl + 1, lv->name) == 0)
      vg = &g->lvm.vgs[lv->vg_index];
  }
  for (size_t p = 0; vg && p < vg->npvs; p++)
    if (vg->pvs[p].bd && pv_disk (g, vg->pvs[p].bd) == 0)
      return os;
  lf_error (EINVAL, "the operating system's root is on %s, %s",
            lf_guest_fs_device (g, rf),
            vg ? "whose volume group has no physical volume on the OS disk "
            "(is the first disk of the job the OS disk?)" : "not on the OS disk");
  return NULL;
}

/* Every volume group with a PV on the OS disk must be whole: a disk of it
 * left out of the job loses the LVs on it, the root's among them (and the
 * fix would see no OS or half of one).  One problem per missing PV, with
 * where LVM last saw it.  A data disks' VG that is incomplete is only
 * warned about: the job may leave out disks that are not the machine's.
 */
static void
check_vgs (struct run *r, struct lf_guest *g)
{
  for (size_t v = 0; v < g->lvm.nvgs; v++) {
    const struct lf_lvm_vg *vg = &g->lvm.vgs[v];
    bool on_os = false;
    for (size_t p = 0; p < vg->npvs; p++)
      on_os |= vg->pvs[p].bd && pv_disk (g, vg->pvs[p].bd) == 0;
    for (size_t p = 0; p < vg->npvs; p++) {
      const struct lf_lvm_pv *pv = &vg->pvs[p];
      if (pv->bd)
        continue;
      lf_strs_add (on_os ? &r->problems : &r->st.warnings,
               "volume group %s%s spans a disk that is not in the job: its "
               "physical volume %s (UUID %s%s%s%s) was found on none of the "
               "job's disks; add that disk to the job", vg->name,
               on_os ? " (on the OS disk)" : "", pv->name, pv->uuid,
               pv->hint[0] ? ", last seen by LVM as " : "", pv->hint,
               pv->hint[0] ? " on the source machine" : "");
    }
  }
}

/* A Linux MBR disk meeting a UEFI profile: the fix converts it to GPT
 * with an ESP.  Refused here, by name, what it could not convert.
 */
static void
check_gpt_conversion (struct run *r, struct lf_guest *g, struct lf_os *os,
                      const struct lf_hw_profile *hw, const char *want)
{
  const struct lf_job *job = r->job;
  struct lf_gpt_part parts[LF_GPT_MAX_PARTS];
  size_t np = 0;
  const struct lf_partition_table *t = &g->tables[0];
  bool ok = true;

  for (size_t i = 0; i < t->n && ok; i++) {
    if (t->parts[i].extended)
      continue;
    if (np == LF_GPT_MAX_PARTS) {
      lf_error (E2BIG, "more than %d partitions: GPT holds 128 with the "
                "new EFI system partition", LF_GPT_MAX_PARTS - 1);
      ok = false;
      break;
    }
    parts[np].number = t->parts[i].number;
    parts[np].start = t->parts[i].offset / 512;
    parts[np].size = t->parts[i].size / 512;
    parts[np].mbr_type = (unsigned) strtoul (t->parts[i].type, NULL, 16);
    parts[np].bootable = t->parts[i].bootable;
    np++;
  }
  struct stat bst;
  if (ok && job->in_place && job->disks[0].path &&
      stat (job->disks[0].path, &bst) == 0 && S_ISBLK (bst.st_mode)) {
    lf_error (ENOSPC, "%s is a block device, fixed in place: it cannot "
              "grow for the EFI system partition", job->disks[0].path);
    ok = false;
  }
  if (ok && hw->secure_boot &&
      !(lf_guest_exists (&os->mounts, LF_SHIM_PATH) &&
        lf_guest_exists (&os->mounts, LF_SIGNED_GRUB_PATH))) {
    lf_strs_add (&r->problems, "%s", lf_secure_boot_missing (hw,
                 lf_guest_exists (&os->mounts, LF_SHIM_PATH)));
    lf_error_clear ();
  }
  else if (!ok || lf_gpt_conv_check (parts, np, lf_disk_size (g->disks[0]),
                                     "the OS disk") == -1) {
    lf_strs_add (&r->problems, "%s boots with UEFI and the OS disk is MBR: "
                 "it cannot be converted to GPT: %s", want, lf_last_error ());
    lf_error_clear ();
  }
  else
    lf_run_log (r, "prerequisites: %s boots with UEFI: the OS disk's MBR "
                "becomes GPT with a new EFI system partition in the fix step",
                want);
}

static void
check_guest (struct run *r)
{
  const struct lf_job *job = r->job;
  const char **paths = calloc (job->ndisks, sizeof *paths);
  size_t n = 0;
  struct lf_guest *g = NULL;
  struct lf_os *os;

  if (!paths) {
    lf_strs_add (&r->problems, "out of memory");
    return;
  }
  /* The disks that opened; the OS disk stays first. */
  for (size_t i = 0; i < job->ndisks; i++)
    if (r->src[i].ok)
      paths[n++] = job->disks[i].path;
  g = lf_cli_guest_open (paths, n, false, lf_run_guestfs (job), NULL);
  if (!g || lf_guest_inspect (g) == -1) {
    lf_strs_add (&r->problems, "inspecting the disks: %s", lf_last_error ());
    goto out;
  }
  check_vgs (r, g);
  if (lf_guest_md_check (g) == -1) {
    lf_strs_add (&r->problems, "%s", lf_last_error ());
    lf_error_clear ();
    goto out;
  }
  if (!(os = lf_run_job_os (g))) {
    lf_strs_add (&r->problems, "%s", lf_last_error ());
    goto out;
  }
  struct os_facts f;
  free (r->st.os);
  if (!(r->st.os = os_facts_read (os, &f))) {
    lf_strs_add (&r->problems, "out of memory");
    goto out;
  }
  if (f.windows) {
    if (f.bitlocker)
      lf_strs_add (&r->problems, "BitLocker is on: the volume cannot be fixed "
               "offline (suspend or decrypt it on the source first)");
    if (f.hibernated)
      lf_strs_add (&r->problems, "Windows is hibernated (or Fast Startup left it "
               "so): shut it down fully on the source first");
  }
  /* The same table and words as landfall fix (bootfix/fixers.c). */
  if (!lf_fixer_find (os->type))
    lf_strs_add (&r->problems, "%s", lf_last_error ());

  /* Firmware against the profile.  Inspection tells what boot code is on
   * the disk (BIOS code in the MBR or a BIOS boot partition; an ESP).
   */
  bool bios = f.bios, uefi = f.uefi;
  const char *want = job->profile;
  if (strcmp (want, "auto") == 0) {
    /* Gen1 where the disk boots with BIOS: it needs no change of the
     * partition table and is what a VMware BIOS VM was.
     */
    if (bios || !uefi) {
      snprintf (r->st.profile, sizeof r->st.profile, "azure-gen1");
      if (!bios)
        lf_strs_add (&r->st.warnings, "profile auto: the disk shows neither BIOS "
                 "boot code nor an EFI system partition; assuming "
                 "azure-gen1 (not checked)");
    }
    else
      snprintf (r->st.profile, sizeof r->st.profile, "azure-gen2");
  }
  else {
    snprintf (r->st.profile, sizeof r->st.profile, "%s", want);
    const struct lf_hw_profile *hw = lf_run_hw (r);
    bool want_bios = hw && strcmp (hw->firmware, "bios") == 0;
    if (!hw) {
      lf_strs_add (&r->problems, "profile %s: %s", want, lf_last_error ());
      lf_error_clear ();
    }
    else if (!bios && !uefi)
      lf_strs_add (&r->st.warnings, "%s: the firmware the disk boots with could not "
               "be told (no BIOS boot code, no EFI system partition found); "
               "not checked", want);
    else if (want_bios && !bios)
      lf_strs_add (&r->problems, "%s boots with BIOS, and the OS disk has no BIOS "
               "boot code (only an EFI system partition): use a UEFI profile "
               "(azure-gen2)", want);
    else if (!want_bios && !uefi && strcmp (os->type, "linux") == 0 &&
             g->ndisks > 0 && strcmp (g->tables[0].type, "dos") == 0)
      check_gpt_conversion (r, g, os, hw, want);
    else if (!want_bios && !uefi)
      lf_strs_add (&r->problems, "%s boots with UEFI, and the OS disk has no EFI "
               "system partition (BIOS/MBR boot only): use a BIOS profile "
               "(azure-gen1)", want);
  }
 out:
  free (paths);
  lf_guest_close (g);
}

void
lf_run_prerequisites (struct run *r)
{
  const struct lf_job *job = r->job;
  uint64_t need = SPACE_SLACK;
  char rb[32], a[32];

  snprintf (r->st.profile, sizeof r->st.profile, "%s", job->profile);
  for (size_t i = 0; i < job->ndisks; i++) {
    const struct lf_job_disk *jd = &job->disks[i];
    struct src_info *s = &r->src[i];
    struct lf_disk *d;
    struct stat st;

    lf_run_role (i, rb, sizeof rb);
    if (stat (jd->path, &st) == -1) {
      lf_strs_add (&r->problems, "%s %s: %s", rb, jd->path, strerror (errno));
      continue;
    }
    if (!S_ISREG (st.st_mode) && !S_ISBLK (st.st_mode)) {
      lf_strs_add (&r->problems, "%s %s: not an image file or a block device", rb,
               jd->path);
      continue;
    }
    if (access (jd->path, job->in_place ? R_OK | W_OK : R_OK) == -1) {
      lf_strs_add (&r->problems, "%s %s: %s%s", rb, jd->path, strerror (errno),
               job->in_place ? " (in place needs read and write access)" : "");
      continue;
    }
    /* In place, the disk is written: refused now, before anything is
     * done, if the kernel uses it (the fix's open would refuse it later).
     */
    if (job->in_place) {
      int fd = open (jd->path, O_RDONLY | O_CLOEXEC);
      bool excl;
      if (fd >= 0 && lf_check_not_in_use (jd->path, fd, &excl) == -1) {
        lf_strs_add (&r->problems, "%s: %s", rb, lf_last_error ());
        close (fd);
        continue;
      }
      if (fd >= 0)
        close (fd);
    }
    if (!(d = lf_disk_open (jd->path, NULL))) {
      lf_strs_add (&r->problems, "%s: %s", rb, lf_last_error ());
      continue;
    }
    s->size = lf_disk_size (d);
    snprintf (s->format, sizeof s->format, "%s%s%s", lf_disk_format (d),
              lf_disk_subformat (d)[0] ? " " : "", lf_disk_subformat (d));
    /* In place on a block device (the appliance, with the platform's
     * disks attached): the device is the VHD's data; the platform keeps
     * the footer outside what the VM sees, so there is nothing to
     * convert -- only its size must already be a whole MiB.
     */
    if (job->in_place && S_ISBLK (st.st_mode) &&
        strcmp (lf_disk_format (d), "raw") == 0 && s->size % LF_MiB != 0)
      lf_strs_add (&r->problems, "%s %s: a block device of %" PRIu64 " bytes, not "
               "a whole MiB: Azure disks always are; is it the right disk?",
               rb, jd->path, s->size);
    if (job->in_place && !S_ISBLK (st.st_mode) &&
        (!S_ISREG (st.st_mode) ||
         !(strcmp (lf_disk_format (d), "raw") == 0 ||
           (strcmp (lf_disk_format (d), "vhd") == 0 &&
            strcmp (lf_disk_subformat (d), "fixed") == 0))))
      lf_strs_add (&r->problems, "%s %s: is %s%s: in place needs a raw image or a "
               "fixed VHD in a regular file (use an output directory)", rb,
               jd->path, s->format, S_ISREG (st.st_mode) ? "" : " on a device");
    s->data_estimate = job->in_place ? 0 : data_estimate (d);
    lf_disk_close (d);
    if (lf_azure_size (s->size, i == 0, &s->rounded) == -1) {
      lf_strs_add (&r->problems, "%s %s: %s", rb, jd->path, lf_last_error ());
      continue;
    }
    s->mtime_sec = (int64_t) st.st_mtim.tv_sec;
    s->mtime_nsec = (int64_t) st.st_mtim.tv_nsec;
    s->ok = true;
    need += s->data_estimate + LF_MiB + LF_VHD_FOOTER_SIZE;
  }
  if (r->src[0].ok)
    check_guest (r);
  else
    lf_strs_add (&r->problems, "the OS disk could not be read: the operating "
             "system was not checked");
  /* The profile is known here unless it was auto and no OS was found. */
  const struct lf_hw_profile *hw = strcmp (r->st.profile, "auto") ? lf_run_hw (r)
    : NULL;
  lf_error_clear ();
  if (hw && r->src[0].ok && r->src[0].rounded > hw->max_os_disk_size) {
    char lim[32];
    lf_strs_add (&r->problems, "OS disk: %s is over %s's limit of %s for an OS "
             "disk; a UEFI (GPT) profile allows more if the disk boots with "
             "UEFI", lf_human_size (r->src[0].rounded, a, sizeof a), hw->name,
             lf_human_size (hw->max_os_disk_size, lim, sizeof lim));
  }

  if (!job->in_place) {
    struct stat st;
    if (stat (job->output, &st) == 0 && !S_ISDIR (st.st_mode))
      lf_strs_add (&r->problems, "output %s: exists and is not a directory",
               job->output);
    else {
      for (size_t i = 0; i < job->ndisks; i++) {
        CLEANUP_FREE char *out = lf_job_output_path (job, i);
        if (out && lstat (out, &st) == 0)
          lf_strs_add (&r->problems, "output %s: exists, and no job state says "
                   "this job wrote it: remove it or choose another output",
                   out);
      }
      check_space (r, job->output, need);
    }
  }
  else
    for (size_t i = 0; i < job->ndisks; i++)
      if (r->src[i].ok) {
        CLEANUP_FREE char *copy = strdup (job->disks[i].path);
        if (copy)
          check_space (r, dirname (copy), 2 * LF_MiB);
      }
}

/* A disk's footer id: the first 16 bytes of a SHA-256 over the machine,
 * the disk's place and the source's identity, made an RFC 9562 version 8
 * (custom) UUID.  The same source gives the same id on every run.
 */
static void
disk_uuid (struct run *r, size_t i, char *hex)
{
  static const char digits[] = "0123456789abcdef";
  char text[512];
  unsigned char md[32];
  unsigned mdlen = 0;
  int n = snprintf (text, sizeof text, "landfall-vhd-id\n%s\n%zu\n%" PRIu64
                    "\n%" PRId64 ".%09" PRId64 "\n", r->job->machine, i,
                    r->src[i].size, r->src[i].mtime_sec, r->src[i].mtime_nsec);

  memset (md, 0, sizeof md);
  (void) EVP_Digest (text, (size_t) n, md, &mdlen, EVP_sha256 (), NULL);
  md[6] = (unsigned char) ((md[6] & 0x0f) | 0x80);
  md[8] = (unsigned char) ((md[8] & 0x3f) | 0x80);
  for (unsigned k = 0; k < 16; k++) {
    hex[2 * k] = digits[md[k] >> 4];
    hex[2 * k + 1] = digits[md[k] & 15];
  }
  hex[32] = '\0';
}

/* The state a job starts with, once its prerequisites have passed: the
 * profile, the OS, the warnings found and the prerequisites' time are
 * already in R->st; every other step is pending.
 */
int
lf_run_new_state (struct run *r)
{
  const struct lf_job *job = r->job;
  struct lf_job_state *st = &r->st;
  int64_t clock = 0;

  /* The fix's clock: the newest source mtime, so that the same sources
   * give the same image on every run (and a guest file's time is when its
   * machine was last written, not some later conversion).
   */
  for (size_t i = 0; i < job->ndisks; i++)
    clock = LF_MAX (clock, r->src[i].mtime_sec);
  if (clock < VHD_EPOCH)
    clock = VHD_EPOCH;
  snprintf (st->job_sha256, sizeof st->job_sha256, "%s", job->sha256);
  st->clock = clock;
  st->runs = 0;
  if (!(st->machine = strdup (job->machine)) ||
      (!st->os && !(st->os = strdup (""))) ||
      (job->point_id && !(st->recovery_point = strdup (job->point_id))) ||
      !(st->disks = calloc (job->ndisks ? job->ndisks : 1, sizeof *st->disks))) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  for (size_t i = 0; i < job->ndisks; i++) {
    struct lf_state_disk *d = &st->disks[st->ndisks++];
    int64_t ts = r->src[i].mtime_sec - VHD_EPOCH;
    disk_uuid (r, i, d->uuid);
    snprintf (d->source_mtime, sizeof d->source_mtime, "%" PRId64 ".%09" PRId64,
              r->src[i].mtime_sec, r->src[i].mtime_nsec);
    d->timestamp = (uint32_t) (ts < 1 ? 1 : ts > UINT32_MAX ? UINT32_MAX : ts);
    d->source_size = r->src[i].size;
    d->state = LF_DISK_PENDING;
    if (!(d->source = strdup (job->disks[i].path)) ||
        !(d->output = lf_job_output_path (job, i))) {
      lf_error (ENOMEM, "out of memory");
      return -1;
    }
  }
  return 0;
}

/* The job's disks named as the platform attaches them (lun:N, serial:S:
 * disks.c) become device nodes here, in a copy of the job: every later
 * step, the state file and the report see the node.  sysfs is read under
 * $LANDFALL_SYSFS_ROOT (tests give a fake tree); the system's own
 * controller is the one holding $LANDFALL_OWN_DISK (PID 1 sets it to the
 * appliance's boot disk) or "/".  Every name that resolves to no disk,
 * to several, or to a disk another name took is a prerequisite problem
 * naming what was found; the copy is NULL when the job names none.
 */
struct lf_job_disk *
lf_run_resolve_disks (struct run *r, const struct lf_job *job)
{
  struct lf_blockdevs devs;
  struct lf_job_disk *dk;
  const char *root = getenv ("LANDFALL_SYSFS_ROOT");
  const char *own = getenv ("LANDFALL_OWN_DISK");
  char ownbuf[64], node[PATH_MAX], rb[32], desc[256];
  size_t i, nspec = 0;

  for (i = 0; i < job->ndisks; i++)
    nspec += job->disks[i].spec;
  if (nspec == 0)
    return NULL;
  if (!root || !*root)
    root = "/";
  if (!(dk = calloc (job->ndisks, sizeof *dk)))
    return NULL;
  memcpy (dk, job->disks, job->ndisks * sizeof *dk);
  for (i = 0; i < job->ndisks; i++)
    if (dk[i].spec)
      dk[i].path = NULL;
  if (lf_blockdevs_scan (root, &devs) == -1) {
    lf_strs_add (&r->problems, "disks: %s", lf_last_error ());
    return dk;
  }
  if (!own) {
    lf_disk_of_root (root, ownbuf, sizeof ownbuf);
    own = ownbuf;
  }
  long own_host = lf_disk_own_host (&devs, own);
  for (i = 0; i < job->ndisks; i++) {
    if (!dk[i].spec)
      continue;
    lf_run_role (i, rb, sizeof rb);
    struct stat sb;
    /* Where udev runs, its link is the answer. */
    if (strncmp (dk[i].given, "/dev/disk/", 10) == 0 &&
        stat (dk[i].given, &sb) == 0 && S_ISBLK (sb.st_mode) &&
        realpath (dk[i].given, node)) {
      if (!(dk[i].path = strdup (node)))
        break;
      continue;
    }
    if (lf_disk_spec_resolve (&devs, dk[i].given, own_host, node, sizeof node) == -1) {
      lf_strs_add (&r->problems, "%s: %s", rb, lf_last_error ());
      continue;
    }
    for (size_t j = 0; j < i; j++)
      if (dk[j].path && strcmp (dk[j].path, node) == 0)
        lf_strs_add (&r->problems, "%s: %s is %s, which %s already names", rb,
                 dk[i].given, node, dk[j].given);
    const struct lf_blockdev *b = lf_blockdevs_find (&devs, node + 5);
    if (b) {
      lf_blockdev_describe (b, desc, sizeof desc);
      lf_run_log (r, "%s %s: %s", rb, dk[i].given, desc);
    }
    dk[i].path = strdup (node);
  }
  lf_blockdevs_free (&devs);
  return dk;
}

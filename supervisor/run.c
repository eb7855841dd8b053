/* landfall supervisor/: running a job, with resume.
 *
 * Steps: prerequisites, convert, fix, verify, report.  The state file
 * (job.h: lf_job_state_path) is written atomically (temporary, fsync,
 * rename, fsync of the directory) after every step and every disk, and
 * is the only thing a re-run trusts.  It is written only once the
 * prerequisites have passed, so a job that fails them leaves no trace.
 *
 * Crash windows, and why a re-run gives the same bytes:
 *   - The output of a conversion is a pure function of the source: the
 *     footer's unique id and timestamp are derived from the source's
 *     identity (size, mtime) when the prerequisites pass and kept in the
 *     state.  The writer works under a temporary name and renames; a kill
 *     mid-copy leaves a temporary (removed here) and a disk still
 *     "pending", which is converted again from the start.
 *   - The fix edits the converted image.  A fix that was running (or
 *     failed) when the last run stopped has left the image in an unknown
 *     mix of old and new blocks: libext2fs' allocations depend on the
 *     order of what was written, so finishing from the guest journal
 *     would give a correct guest, but not the same bytes.  So when the
 *     output is a copy, the disks are converted again and the fix is done
 *     again from the start; every write of the fix carries the job's
 *     fixed clock (lf_fs_set_clock), so the image is the same to the bit.
 *     In place there is no pristine copy: the fix is finished from what
 *     is on the disk (re-plan; the guest journal keeps undo exact), which
 *     gives a correct guest but not necessarily the same bytes.
 *   - Verify only reads; report writes one file atomically.  Both are
 *     simply done again.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common.h"
#include "convert.h"
#include "guest.h"
#include "bootfix.h"
#include "cli.h"
#include "job.h"
#include "verify.h"

#define STATE_VERSION 1
#define STATE_MAX     (16 * LF_MiB)
/* Room the fix may need inside an image is inside the image; this is for
 * the state and report files and the filesystem's own overhead.
 */
#define SPACE_SLACK   (64 * LF_MiB)
#define VHD_EPOCH     946684800                       /* 2000-01-01 UTC */

static const char *const step_names[] = {
  "prerequisites", "convert", "fix", "verify", "report",
};
#define NSTEPS 5
enum { S_PREREQ, S_CONVERT, S_FIX, S_VERIFY, S_REPORT };

struct run {
  const struct lf_job *job;
  const struct lf_run_opts *o;
  char *state_path;
  json_t *state;                /* NULL until the prerequisites passed */
  json_t *problems;             /* prerequisites: every one found */
  json_t *warnings;             /* strings */
  json_t *errors;               /* strings */
  double step_seconds[NSTEPS];
  const char *step_state[NSTEPS];
  /* From the prerequisites, for the state. */
  struct src_info {
    bool ok;
    uint64_t size, rounded, data_estimate;
    int64_t mtime_sec, mtime_nsec;
    char format[32];
  } *src;
  char profile[LF_HW_MAX_STRING + 1];  /* resolved */
  struct lf_hw_profile *hw;     /* loaded once, when first needed */
  char os_desc[256];
  /* The outputs' guest while a libguestfs appliance holds them: the fix
   * leaves it open for verify's planning again, so that a job launches
   * one appliance for both (30 s each under TCG).  Everything in it was
   * synced by the fix before its step was marked done.
   */
  struct lf_guest *out_g;
  struct lf_os *out_os;
};

/* The resolved profile (r->profile, or the state's), loaded once; NULL
 * with the error recorded.
 */
static const struct lf_hw_profile *
run_hw (struct run *r)
{
  const char *name = r->state ? json_string_value (json_object_get (r->state,
                                                                    "profile"))
    : NULL;

  if (!name)
    name = r->profile;
  if (r->hw && strcmp (r->hw->name, name) != 0) {
    lf_hw_profile_free (r->hw);
    r->hw = NULL;
  }
  if (!r->hw)
    r->hw = lf_hw_profile_load (NULL, name);
  return r->hw;
}

static void
logf_ (struct run *r, const char *fmt, ...) LF_PRINTF (2, 3);
static void
logf_ (struct run *r, const char *fmt, ...)
{
  va_list ap;

  if (r->o->log_fd < 0)
    return;
  va_start (ap, fmt);
  dprintf (r->o->log_fd, "landfall run: ");
  vdprintf (r->o->log_fd, fmt, ap);
  dprintf (r->o->log_fd, "\n");
  va_end (ap);
}

static void
add_str (json_t *arr, const char *fmt, ...) LF_PRINTF (2, 3);
static void
add_str (json_t *arr, const char *fmt, ...)
{
  va_list ap;
  char *s = NULL;

  va_start (ap, fmt);
  if (vasprintf (&s, fmt, ap) != -1) {
    json_t *j = json_string (s);
    /* Messages quote guest and file names, which may not be UTF-8. */
    json_array_append_new (arr, j ? j : json_string ("(message not UTF-8)"));
    free (s);
  }
  va_end (ap);
}

static const char *
role (size_t i, char *buf, size_t len)
{
  if (i == 0)
    snprintf (buf, len, "OS disk");
  else
    snprintf (buf, len, "data disk %zu", i);
  return buf;
}

/* ---- The state file ---------------------------------------------------- */

/* Write J to PATH atomically: a temporary beside it, fsync, rename, fsync
 * of the directory.  A crash leaves the old file or the new, never a mix.
 */
int
lf_write_json_atomic (const char *path, json_t *j)
{
  CLEANUP_FREE char *tmp = NULL;
  char *text = json_dumps (j, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
  int fd = -1, ret = -1;

  if (!text || asprintf (&tmp, "%s.tmp", path) == -1) {
    tmp = NULL;
    lf_error (ENOMEM, "out of memory");
    goto out;
  }
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd == -1 ||
      lf_pwrite_all (fd, text, strlen (text), 0) == -1 ||
      lf_pwrite_all (fd, "\n", 1, strlen (text)) == -1 ||
      fsync (fd) == -1) {
    lf_error (errno, "%s: %m", tmp);
    goto out;
  }
  if (close (fd) == -1) {
    fd = -1;
    lf_error (errno, "%s: %m", tmp);
    goto out;
  }
  fd = -1;
  if (rename (tmp, path) == -1) {
    lf_error (errno, "%s: rename from %s: %m", path, tmp);
    goto out;
  }
  if (lf_fsync_dir_of (path) == -1)
    goto out;
  ret = 0;
 out:
  if (fd >= 0) {
    close (fd);
    unlink (tmp);
  }
  free (text);
  return ret;
}

static int
save_state (struct run *r)
{
  if (lf_write_json_atomic (r->state_path, r->state) == -1) {
    lf_error_prefix ("the job's state file");
    return -1;
  }
  return 0;
}

/* Load the state file if there is one: 1 loaded, 0 none, -1 error. */
static int
load_state (struct run *r)
{
  json_error_t err;
  struct stat st;
  json_t *s;

  if (stat (r->state_path, &st) == -1) {
    if (errno == ENOENT)
      return 0;
    lf_error (errno, "%s: %m", r->state_path);
    return -1;
  }
  if (st.st_size > (off_t) STATE_MAX) {
    lf_error (EFBIG, "%s: larger than %" PRIu64 " bytes: not a state file "
              "landfall wrote", r->state_path, STATE_MAX);
    return -1;
  }
  s = json_load_file (r->state_path, 0, &err);
  if (!s) {
    lf_error (EINVAL, "%s:%d: damaged state file (%s); remove it to start "
              "the job over", r->state_path, err.line, err.text);
    return -1;
  }
  /* Checked as untrusted: every field used later has its type here. */
  json_t *steps = json_object_get (s, "steps");
  json_t *disks = json_object_get (s, "disks");
  bool ok = json_integer_value (json_object_get (s, "version")) == STATE_VERSION
    && json_is_string (json_object_get (s, "job_sha256"))
    && json_is_integer (json_object_get (s, "clock"))
    && json_is_string (json_object_get (s, "profile"))
    && json_is_object (steps) && json_is_array (disks)
    && json_array_size (disks) == r->job->ndisks
    && json_is_array (json_object_get (s, "warnings"));
  for (size_t i = 0; ok && i < NSTEPS; i++)
    ok = json_is_string (json_object_get (json_object_get (steps, step_names[i]),
                                          "state"));
  for (size_t i = 0; ok && i < json_array_size (disks); i++) {
    json_t *d = json_array_get (disks, i);
    const char *u = json_string_value (json_object_get (d, "uuid"));
    ok = u && strlen (u) == 32 && strspn (u, "0123456789abcdef") == 32
      && json_is_integer (json_object_get (d, "timestamp"))
      && json_is_string (json_object_get (d, "state"));
  }
  if (!ok) {
    json_decref (s);
    lf_error (EINVAL, "%s: not a state file of this landfall version (or "
              "damaged); remove it to start the job over", r->state_path);
    return -1;
  }
  if (strcmp (json_string_value (json_object_get (s, "job_sha256")),
              r->job->sha256) != 0) {
    json_decref (s);
    lf_error (EINVAL, "%s: the job file changed since this job was started; "
              "restore it, or remove the state file (and the outputs) to "
              "start over", r->state_path);
    return -1;
  }
  /* Another recovery point (changed in the job, or `latest` now finds a
   * newer one): before commit that is Change recovery point (failover.md
   * 7.6), so the outputs of the old point are removed and the job starts
   * over from the new one, prerequisites included.
   */
  const char *was = json_string_value (json_object_get (s, "recovery_point"));
  const char *now = r->job->point_id;
  if ((was || now) && (!was || !now || strcmp (was, now) != 0)) {
    logf_ (r, "recovery point changed from %s to %s: removing the outputs "
           "of %s and starting over", was ? was : "(none)",
           now ? now : "(none)", was ? was : "(none)");
    for (size_t i = 0; i < r->job->ndisks; i++) {
      CLEANUP_FREE char *out = lf_job_output_path (r->job, i);
      const char *o = json_string_value (json_object_get (
        json_array_get (disks, i), "output"));
      /* Only what the job writes, and only what the state says it wrote. */
      if (out && o && strcmp (o, out) == 0 && unlink (out) == -1 &&
          errno != ENOENT) {
        json_decref (s);
        lf_error (errno, "%s: %m", out);
        return -1;
      }
    }
    json_decref (s);
    if (unlink (r->state_path) == -1) {
      lf_error (errno, "%s: %m", r->state_path);
      return -1;
    }
    return 0;
  }
  r->state = s;
  return 1;
}

static json_t *
st_step (struct run *r, int i)
{
  return json_object_get (json_object_get (r->state, "steps"), step_names[i]);
}

static const char *
st_step_state (struct run *r, int i)
{
  return json_string_value (json_object_get (st_step (r, i), "state"));
}

static void
st_set_step (struct run *r, int i, const char *state, double seconds)
{
  json_t *s = st_step (r, i);
  json_object_set_new (s, "state", json_string (state));
  if (seconds >= 0)
    json_object_set_new (s, "seconds", json_real (seconds));
}

static json_t *
st_disk (struct run *r, size_t i)
{
  return json_array_get (json_object_get (r->state, "disks"), i);
}

/* ---- Prerequisites ---------------------------------------------------- */

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
    add_str (r->problems, "%s: cannot tell the free space: %s", dir,
             strerror (errno));
    return;
  }
  uint64_t avail = (uint64_t) sv.f_bavail * sv.f_frsize;
  if (avail < need)
    add_str (r->problems, "%s: %s free, the outputs need about %s", d,
             lf_human_size (avail, a, sizeof a), lf_human_size (need, b, sizeof b));
}

static bool
has_string (json_t *arr, const char *s)
{
  size_t i;
  json_t *v;

  json_array_foreach (arr, i, v)
    if (json_is_string (v) && strcmp (json_string_value (v), s) == 0)
      return true;
  return false;
}

/* Here rather than in main.c: run.o is in libsupervisor.a, which the
 * unit tests link without main.o.
 */
struct lf_guest *
lf_cli_guest_open (const char *const *paths, size_t n, bool writable,
                   int when, bool *launched)
{
  struct lf_guest *g = lf_guest_open (paths, n, writable);
  int opened = 0;

  if (launched)
    *launched = false;
  if (g && when != LF_GUESTFS_NEVER &&
      (opened = lf_guest_open_guestfs (g, when == LF_GUESTFS_ALWAYS)) == -1) {
    lf_guest_close (g);
    return NULL;
  }
  if (launched)
    *launched = opened > 0;
  return g;
}

/* The job's guestfs key; in the appliance (no CLI) auto. */
static int
job_guestfs (const struct lf_job *job)
{
  return job->guestfs < 0 ? LF_GUESTFS_AUTO : job->guestfs;
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
static struct lf_os *
job_os (struct lf_guest *g)
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
      add_str (on_os ? r->problems : r->warnings,
               "volume group %s%s spans a disk that is not in the job: its "
               "physical volume %s (UUID %s%s%s%s) was found on none of the "
               "job's disks; add that disk to the job", vg->name,
               on_os ? " (on the OS disk)" : "", pv->name, pv->uuid,
               pv->hint[0] ? ", last seen by LVM as " : "", pv->hint,
               pv->hint[0] ? " on the source machine" : "");
    }
  }
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
    add_str (r->problems, "out of memory");
    return;
  }
  /* The disks that opened; the OS disk stays first. */
  for (size_t i = 0; i < job->ndisks; i++)
    if (r->src[i].ok)
      paths[n++] = job->disks[i].path;
  g = lf_cli_guest_open (paths, n, false, job_guestfs (job), NULL);
  if (!g || lf_guest_inspect (g) == -1) {
    add_str (r->problems, "inspecting the disks: %s", lf_last_error ());
    goto out;
  }
  check_vgs (r, g);
  if (lf_guest_md_check (g) == -1) {
    add_str (r->problems, "%s", lf_last_error ());
    lf_error_clear ();
    goto out;
  }
  if (!(os = job_os (g))) {
    add_str (r->problems, "%s", lf_last_error ());
    goto out;
  }
  {
    json_t *distro = json_object_get (os->facts, "distro");
    const char *name = json_string_value (json_object_get (distro, "name"));
    if (!name)
      name = json_string_value (json_object_get (os->facts, "product"));
    snprintf (r->os_desc, sizeof r->os_desc, "%s%s%s", os->type,
              name ? ": " : "", name ? name : "");
  }
  if (strcmp (os->type, "windows") == 0) {
    if (json_is_true (json_object_get (os->facts, "bitlocker")))
      add_str (r->problems, "BitLocker is on: the volume cannot be fixed "
               "offline (suspend or decrypt it on the source first)");
    if (json_is_true (json_object_get (os->facts, "hibernated")))
      add_str (r->problems, "Windows is hibernated (or Fast Startup left it "
               "so): shut it down fully on the source first");
  }
  /* The same table and words as landfall fix (bootfix/fixers.c). */
  if (!lf_fixer_find (os->type))
    add_str (r->problems, "%s", lf_last_error ());

  /* Firmware against the profile.  Inspection tells what boot code is on
   * the disk (BIOS code in the MBR or a BIOS boot partition; an ESP).
   */
  json_t *fw = json_object_get (os->facts, "firmware");
  bool bios = has_string (fw, "bios"), uefi = has_string (fw, "uefi");
  const char *want = job->profile;
  if (strcmp (want, "auto") == 0) {
    /* Gen1 where the disk boots with BIOS: it needs no change of the
     * partition table and is what a VMware BIOS VM was.
     */
    if (bios || !uefi) {
      snprintf (r->profile, sizeof r->profile, "azure-gen1");
      if (!bios)
        add_str (r->warnings, "profile auto: the disk shows neither BIOS "
                 "boot code nor an EFI system partition; assuming "
                 "azure-gen1 (not checked)");
    }
    else
      snprintf (r->profile, sizeof r->profile, "azure-gen2");
  }
  else {
    snprintf (r->profile, sizeof r->profile, "%s", want);
    const struct lf_hw_profile *hw = run_hw (r);
    bool want_bios = hw && strcmp (hw->firmware, "bios") == 0;
    if (!hw) {
      add_str (r->problems, "profile %s: %s", want, lf_last_error ());
      lf_error_clear ();
    }
    else if (!bios && !uefi)
      add_str (r->warnings, "%s: the firmware the disk boots with could not "
               "be told (no BIOS boot code, no EFI system partition found); "
               "not checked", want);
    else if (want_bios && !bios)
      add_str (r->problems, "%s boots with BIOS, and the OS disk has no BIOS "
               "boot code (only an EFI system partition): use a UEFI profile "
               "(azure-gen2)", want);
    else if (!want_bios && !uefi)
      add_str (r->problems, "%s boots with UEFI, and the OS disk has no EFI "
               "system partition (BIOS/MBR boot only): use a BIOS profile "
               "(azure-gen1)", want);
  }
 out:
  free (paths);
  lf_guest_close (g);
}

static void
step_prerequisites (struct run *r)
{
  const struct lf_job *job = r->job;
  uint64_t need = SPACE_SLACK;
  char rb[32], a[32];

  snprintf (r->profile, sizeof r->profile, "%s", job->profile);
  for (size_t i = 0; i < job->ndisks; i++) {
    const struct lf_job_disk *jd = &job->disks[i];
    struct src_info *s = &r->src[i];
    struct lf_disk *d;
    struct stat st;

    role (i, rb, sizeof rb);
    if (stat (jd->path, &st) == -1) {
      add_str (r->problems, "%s %s: %s", rb, jd->path, strerror (errno));
      continue;
    }
    if (!S_ISREG (st.st_mode) && !S_ISBLK (st.st_mode)) {
      add_str (r->problems, "%s %s: not an image file or a block device", rb,
               jd->path);
      continue;
    }
    if (access (jd->path, job->in_place ? R_OK | W_OK : R_OK) == -1) {
      add_str (r->problems, "%s %s: %s%s", rb, jd->path, strerror (errno),
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
        add_str (r->problems, "%s: %s", rb, lf_last_error ());
        close (fd);
        continue;
      }
      if (fd >= 0)
        close (fd);
    }
    if (!(d = lf_disk_open (jd->path, NULL))) {
      add_str (r->problems, "%s: %s", rb, lf_last_error ());
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
      add_str (r->problems, "%s %s: a block device of %" PRIu64 " bytes, not "
               "a whole MiB: Azure disks always are; is it the right disk?",
               rb, jd->path, s->size);
    if (job->in_place && !S_ISBLK (st.st_mode) &&
        (!S_ISREG (st.st_mode) ||
         !(strcmp (lf_disk_format (d), "raw") == 0 ||
           (strcmp (lf_disk_format (d), "vhd") == 0 &&
            strcmp (lf_disk_subformat (d), "fixed") == 0))))
      add_str (r->problems, "%s %s: is %s%s: in place needs a raw image or a "
               "fixed VHD in a regular file (use an output directory)", rb,
               jd->path, s->format, S_ISREG (st.st_mode) ? "" : " on a device");
    s->data_estimate = job->in_place ? 0 : data_estimate (d);
    lf_disk_close (d);
    if (lf_azure_size (s->size, i == 0, &s->rounded) == -1) {
      add_str (r->problems, "%s %s: %s", rb, jd->path, lf_last_error ());
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
    add_str (r->problems, "the OS disk could not be read: the operating "
             "system was not checked");
  /* The profile is known here unless it was auto and no OS was found. */
  const struct lf_hw_profile *hw = strcmp (r->profile, "auto") ? run_hw (r)
    : NULL;
  lf_error_clear ();
  if (hw && r->src[0].ok && r->src[0].rounded > hw->max_os_disk_size) {
    char lim[32];
    add_str (r->problems, "OS disk: %s is over %s's limit of %s for an OS "
             "disk; a UEFI (GPT) profile allows more if the disk boots with "
             "UEFI", lf_human_size (r->src[0].rounded, a, sizeof a), hw->name,
             lf_human_size (hw->max_os_disk_size, lim, sizeof lim));
  }

  if (!job->in_place) {
    struct stat st;
    if (stat (job->output, &st) == 0 && !S_ISDIR (st.st_mode))
      add_str (r->problems, "output %s: exists and is not a directory",
               job->output);
    else {
      for (size_t i = 0; i < job->ndisks; i++) {
        CLEANUP_FREE char *out = lf_job_output_path (job, i);
        if (out && lstat (out, &st) == 0)
          add_str (r->problems, "output %s: exists, and no job state says "
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

/* The state a job starts with, once its prerequisites have passed. */
static int
new_state (struct run *r)
{
  const struct lf_job *job = r->job;
  json_t *steps = json_object (), *disks = json_array ();
  int64_t clock = 0;

  /* The fix's clock: the newest source mtime, so that the same sources
   * give the same image on every run (and a guest file's time is when its
   * machine was last written, not some later conversion).
   */
  for (size_t i = 0; i < job->ndisks; i++)
    clock = LF_MAX (clock, r->src[i].mtime_sec);
  if (clock < VHD_EPOCH)
    clock = VHD_EPOCH;
  for (int i = 0; i < NSTEPS; i++)
    json_object_set_new (steps, step_names[i],
                         json_pack ("{s:s}", "state", "pending"));
  for (size_t i = 0; i < job->ndisks; i++) {
    CLEANUP_FREE char *out = lf_job_output_path (job, i);
    char uuid[33];
    int64_t ts = r->src[i].mtime_sec - VHD_EPOCH;
    disk_uuid (r, i, uuid);
    char mt[64];
    snprintf (mt, sizeof mt, "%" PRId64 ".%09" PRId64, r->src[i].mtime_sec,
              r->src[i].mtime_nsec);
    json_array_append_new (disks, json_pack (
      "{s:s, s:s?, s:s, s:I, s:I, s:s, s:s}",
      "source", job->disks[i].path, "output", out, "uuid", uuid,
      "timestamp", (json_int_t) (ts < 1 ? 1 : ts > UINT32_MAX ? UINT32_MAX : ts),
      "source_size", (json_int_t) r->src[i].size, "source_mtime", mt,
      "state", "pending"));
  }
  r->state = json_pack ("{s:i, s:s, s:s, s:I, s:s, s:s, s:i, s:o, s:o, s:O}",
                        "version", STATE_VERSION, "job_sha256", job->sha256,
                        "machine", job->machine, "clock", (json_int_t) clock,
                        "profile", r->profile, "os", r->os_desc,
                        "runs", 0, "steps", steps, "disks", disks,
                        "warnings", r->warnings);
  if (!r->state) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  if (job->point_id)
    json_object_set_new (r->state, "recovery_point", json_string (job->point_id));
  return 0;
}

/* ---- Convert ---------------------------------------------------------- */

/* Temporaries a killed writer left beside OUT ("OUT.landfall-XXXXXX"). */
static void
remove_stale_temps (const char *out)
{
  CLEANUP_FREE char *copy = strdup (out), *copy2 = strdup (out);
  DIR *dir;
  struct dirent *e;

  if (!copy || !copy2 || !(dir = opendir (dirname (copy))))
    return;
  const char *base = basename (copy2);
  size_t bl = strlen (base);
  while ((e = readdir (dir)) != NULL)
    if (strncmp (e->d_name, base, bl) == 0 &&
        strncmp (e->d_name + bl, ".landfall-", 10) == 0 &&
        strlen (e->d_name + bl + 10) == 6) {
      LF_DEBUG (1, "removing %s left by an interrupted conversion", e->d_name);
      (void) unlinkat (dirfd (dir), e->d_name, 0);
    }
  closedir (dir);
}

static int
hex_to_bytes (const char *hex, uint8_t *out, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    if (sscanf (hex + 2 * i, "%2x", &v) != 1)
      return -1;
    out[i] = (uint8_t) v;
  }
  return 0;
}

static int
step_convert (struct run *r)
{
  const struct lf_job *job = r->job;

  for (size_t i = 0; i < job->ndisks; i++) {
    json_t *ds = st_disk (r, i);
    /* From the job, never from the state file: what we write where is
     * decided by the job alone.
     */
    CLEANUP_FREE char *out = lf_job_output_path (job, i);
    const char *src = job->disks[i].path;
    struct lf_convert_result res;
    uint8_t uuid[16];
    char rb[32], label[64];
    struct stat st;
    double t0 = lf_now ();
    int rc;

    role (i, rb, sizeof rb);
    if (!out)
      return -1;
    if (strcmp (json_string_value (json_object_get (ds, "state")), "converted") == 0) {
      json_int_t fsz = json_integer_value (json_object_get (json_object_get (ds, "convert"), "file_size"));
      if (stat (out, &st) == 0 && st.st_size == (off_t) fsz) {
        logf_ (r, "convert: %s: already done", rb);
        continue;
      }
      logf_ (r, "convert: %s: %s is missing or changed: converting again", rb, out);
    }
    if (lf_cancel) {
      lf_error (EINTR, "interrupted");
      return -1;
    }
    /* A source written since the job started (a replica still syncing)
     * would mix old and new data across disks and runs: refuse.  In place
     * the source is the output, which we write ourselves.
     */
    if (!job->in_place && stat (src, &st) == 0 && !S_ISBLK (st.st_mode)) {
      char mt[64];
      snprintf (mt, sizeof mt, "%" PRId64 ".%09" PRId64,
                (int64_t) st.st_mtim.tv_sec, (int64_t) st.st_mtim.tv_nsec);
      const char *was = json_string_value (json_object_get (ds, "source_mtime"));
      if (was && strcmp (was, mt) != 0) {
        lf_error (ESTALE, "%s %s: modified since the job started (mtime %s, "
                  "was %s): remove %s and the outputs to start over", rb, src,
                  mt, was, r->state_path);
        return -1;
      }
    }
    if (hex_to_bytes (json_string_value (json_object_get (ds, "uuid")), uuid, 16) == -1) {
      lf_error (EINVAL, "%s: disk %zu: bad uuid", r->state_path, i);
      return -1;
    }
    snprintf (label, sizeof label, "convert %s", rb);
    struct lf_progress *pr = lf_progress_new (label, json_integer_value (
      json_object_get (ds, "source_size")), r->o->log_fd >= 0 ? r->o->log_fd : 2,
      r->o->progress && r->o->log_fd >= 0);
    struct lf_convert_opts co = {
      .os_disk = i == 0, .progress = pr, .uuid = uuid,
      .timestamp = (uint32_t) json_integer_value (json_object_get (ds, "timestamp")),
    };
    if (job->in_place && stat (src, &st) == 0 && S_ISBLK (st.st_mode)) {
      memset (&res, 0, sizeof res);
      res.action = "block device: left as it is (the platform holds its "
        "footer)";
      res.source_size = res.size = res.file_size = (uint64_t) json_integer_value (
        json_object_get (ds, "source_size"));
      rc = 0;
    }
    else if (job->in_place)
      rc = lf_convert_in_place (src, &co, &res);
    else {
      remove_stale_temps (out);
      struct lf_disk *d = lf_disk_open (src, NULL);
      rc = d ? lf_convert_to_vhd (d, out, &co, &res) : -1;
      if (d) {
        char f[64];
        snprintf (f, sizeof f, "%s%s%s", lf_disk_format (d),
                  lf_disk_subformat (d)[0] ? " " : "", lf_disk_subformat (d));
        json_object_set_new (ds, "source_format", json_string (f));
      }
      lf_disk_close (d);
    }
    lf_progress_free (pr);
    if (rc == -1) {
      lf_error_prefix ("%s", rb);
      return -1;
    }
    json_object_set_new (ds, "convert", json_pack (
      "{s:s, s:I, s:I, s:I, s:I, s:f}", "action", res.action,
      "source_size", (json_int_t) res.source_size, "size", (json_int_t) res.size,
      "file_size", (json_int_t) res.file_size,
      "data_bytes", (json_int_t) res.data_bytes, "seconds", lf_now () - t0));
    json_object_set_new (ds, "state", json_string ("converted"));
    if (save_state (r) == -1)
      return -1;
    logf_ (r, "convert: %s: %s -> %s (%s)", rb, src, out, res.action);
  }
  return 0;
}

/* ---- Fix and verify ----------------------------------------------------- */

static char **
output_paths (struct run *r)
{
  char **v = calloc (r->job->ndisks + 1, sizeof *v);

  for (size_t i = 0; v && i < r->job->ndisks; i++)
    if (!(v[i] = lf_job_output_path (r->job, i))) {
      lf_free_names (v);
      return NULL;
    }
  if (!v)
    lf_error (ENOMEM, "out of memory");
  return v;
}

/* Open the outputs, find the OS and plan its fix into *PP. */
static int
plan_fix (struct run *r, bool writable, struct lf_guest **gp,
          struct lf_plan **pp, const char **dir)
{
  const struct lf_hw_profile *hw = run_hw (r);
  char **paths = hw ? output_paths (r) : NULL;
  struct lf_fix_opts fo = {
    .profile = hw,
    .rootdelay = r->job->rootdelay, .rdp_no_nla = r->job->rdp_no_nla,
  };
  struct lf_os *os;
  int ret = -1;

  struct lf_guest *g = r->out_g;
  bool launched = false;

  *gp = NULL;
  *pp = NULL;
  if (!paths)
    return -1;
  if (g)
    os = r->out_os;
  else {
    g = lf_cli_guest_open ((const char *const *) paths, r->job->ndisks,
                           writable, job_guestfs (r->job), &launched);
    *gp = g;
    if (!g || lf_guest_inspect (g) == -1 || !(os = job_os (g)))
      goto out;
    if (launched && writable) {
      r->out_g = g;
      r->out_os = os;
      *gp = NULL;
    }
  }
  if (!(*pp = lf_plan_new (&os->mounts)) || lf_fix_os (g, os, *pp, &fo, dir) == -1)
    goto out;
  ret = 0;
 out:
  lf_free_names (paths);
  return ret;
}

/* "fstab: cannot ..." for each failed finding, into r->errors. */
static void
plan_failures (struct run *r, const struct lf_plan *p)
{
  for (size_t i = 0; i < lf_plan_nfindings (p); i++) {
    struct lf_plan_finding f = lf_plan_finding (p, i);
    if (f.what == LF_FAILED)
      add_str (r->errors, "fix: %s: %s", f.concern, f.msg);
  }
}

static int
step_fix (struct run *r)
{
  struct lf_guest *g = NULL;
  struct lf_plan *p = NULL;
  const char *dir = NULL;
  json_t *rep = NULL;
  int ret = -1;

  /* Every inode, directory and superblock time the fix writes. */
  lf_fs_set_clock (json_integer_value (json_object_get (r->state, "clock")));
  if (plan_fix (r, true, &g, &p, &dir) == -1)
    goto out;
  if (lf_plan_failed (p)) {
    plan_failures (r, p);
    lf_error (EINVAL, "the fix could not be planned (nothing was changed)");
    goto out;
  }
  if (lf_plan_apply (p, dir) == -1)
    goto out;
  /* JSON only for the state file and the report. */
  if (!(rep = lf_plan_report (p))) {
    lf_error (ENOMEM, "out of memory");
    goto out;
  }
  json_object_set_new (rep, "journal", json_string (dir));
  json_object_set (r->state, "fix", rep);
  logf_ (r, "fix: %zu change%s", lf_plan_nedits (p),
         lf_plan_nedits (p) == 1 ? "" : "s");
  ret = 0;
 out:
  json_decref (rep);
  lf_plan_free (p);
  lf_guest_close (g);
  lf_fs_set_clock (0);
  return ret;
}

static int
step_verify (struct run *r)
{
  const struct lf_job *job = r->job;
  struct lf_guest *g = NULL;
  struct lf_plan *p = NULL;
  const char *dir;
  int ret = -1;

  /* A libguestfs appliance the fix kept open was inspected before the
   * fix wrote through it: what it knows now is what the fix left.
   */
  if (r->out_g) {
    if (lf_guest_reinspect (r->out_g) == -1 ||
        !(r->out_os = job_os (r->out_g))) {
      lf_error_prefix ("verify: inspecting the outputs again");
      goto out;
    }
  }
  /* The fix planned again, read-only, must find nothing left to do. */
  if (plan_fix (r, false, &g, &p, &dir) == -1) {
    lf_error_prefix ("verify: planning the fix again");
    goto out;
  }
  if (lf_plan_nedits (p) > 0 || lf_plan_failed (p)) {
    for (size_t i = 0; i < lf_plan_nedits (p); i++)
      add_str (r->errors, "verify: the fix would still change %s",
               lf_plan_edit_path (p, i));
    plan_failures (r, p);
    lf_error (EINVAL, "verify: the fix planned again is not empty (%zu "
              "change%s left)", lf_plan_nedits (p),
              lf_plan_nedits (p) == 1 ? "" : "s");
    goto out;
  }
  /* The profile's own checks, as `landfall verify --profile` runs them
   * on this output (on plan_fix's guest, or the job's libguestfs
   * appliance it reused): a failed check fails the job, the rest are
   * warnings.  The report shows them either way.
   */
  json_t *checks = lf_verify_static (g ? g : r->out_g, r->hw);
  if (!checks) {
    lf_error_prefix ("verify: the checks of profile %s", r->hw->name);
    goto out;
  }
  size_t nfail = lf_verify_count (checks, "fail");
  json_t *v = json_pack ("{s:i, s:b, s:s, s:o}", "replan_changes", 0,
                         "footers_ok", 0, "profile", r->hw->name,
                         "checks", checks);
  if (!v || json_object_set_new (r->state, "verify", v) == -1) {
    lf_error (ENOMEM, "out of memory");
    goto out;
  }
  size_t k;
  json_t *ck;
  json_array_foreach (checks, k, ck) {
    const char *st = json_string_value (json_object_get (ck, "status"));
    const char *id = json_string_value (json_object_get (ck, "check"));
    const char *why = json_string_value (json_object_get (ck, "reason"));
    if (strcmp (st, "fail") == 0)
      add_str (r->errors, "verify: %s: %s: %s", r->hw->name, id, why);
    else if (strcmp (st, "unknown") == 0)
      add_str (r->warnings, "verify: %s: %s: could not tell: %s",
               r->hw->name, id, why);
  }
  if (nfail) {
    lf_error (EINVAL, "verify: %zu check%s of profile %s failed", nfail,
              nfail == 1 ? "" : "s", r->hw->name);
    goto out;
  }

  /* The appliance's work is done: shut it down before reading the
   * outputs' final bytes.
   */
  lf_plan_free (p);
  p = NULL;
  lf_guest_close (g);
  g = NULL;
  lf_guest_close (r->out_g);
  r->out_g = NULL;
  r->out_os = NULL;

  /* Static checks of each output: what Azure checks when it takes a VHD. */
  for (size_t i = 0; i < job->ndisks; i++) {
    json_t *ds = st_disk (r, i);
    CLEANUP_FREE char *out = lf_job_output_path (job, i);
    struct lf_disk *d;
    struct stat st;
    char rb[32], hex[65] = "";

    role (i, rb, sizeof rb);
    if (!out)
      goto out;
    if (job->in_place && stat (out, &st) == 0 && S_ISBLK (st.st_mode)) {
      json_object_set_new (ds, "verified", json_pack ("{s:b, s:s}",
                           "fixed_vhd", 0, "note", "a block device: its VHD "
                           "footer is the platform's"));
      continue;
    }
    if (!(d = lf_disk_open (out, "vhd"))) {
      lf_error_prefix ("verify: %s", rb);
      goto out;
    }
    bool fixed = strcmp (lf_disk_subformat (d), "fixed") == 0;
    uint64_t size = lf_disk_size (d);
    lf_disk_close (d);
    if (!fixed || size % LF_MiB != 0 || stat (out, &st) == -1 ||
        (uint64_t) st.st_size != size + LF_VHD_FOOTER_SIZE) {
      lf_error (EINVAL, "verify: %s %s: not a fixed VHD of a whole MiB with "
                "its footer at the end (size %" PRIu64 ")", rb, out, size);
      goto out;
    }
    if (job->checksum) {
      CLEANUP_CLOSE int fd = open (out, O_RDONLY | O_CLOEXEC);
      if (fd == -1 || lf_sha256_file (fd, (uint64_t) st.st_size, hex) == -1) {
        if (fd == -1)
          lf_error (errno, "%s: %m", out);
        lf_error_prefix ("verify: %s: checksum", rb);
        goto out;
      }
      json_object_set_new (ds, "sha256", json_string (hex));
    }
    json_object_set_new (ds, "verified", json_pack ("{s:b, s:I, s:I}",
                         "fixed_vhd", 1, "size", (json_int_t) size,
                         "file_size", (json_int_t) st.st_size));
  }

  json_object_set_new (v, "footers_ok", json_true ());
  ret = 0;
 out:
  lf_plan_free (p);
  lf_guest_close (g);
  return ret;
}

/* ---- Report ----------------------------------------------------------- */

static char *
report_path (const struct lf_job *job, const char *jobdir)
{
  char *r = NULL;
  int n = job->in_place
    ? asprintf (&r, "%s/%s-landfall-report.json", jobdir, job->machine)
    : asprintf (&r, "%s/landfall-report.json", job->output);

  if (n == -1) {
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  return r;
}

static const char *
result_name (enum lf_run_result res)
{
  static const char *const n[] = { "success", "success-with-warnings",
                                   "failed", "interrupted" };
  return n[res];
}

static int
exit_status (enum lf_run_result res)
{
  static const int s[] = { 0, 3, 1, 4 };
  return s[res];
}

/* The report; *RES becomes LF_RUN_WARNINGS when a success had some. */
static json_t *
build_report (struct run *r, enum lf_run_result *resp)
{
  enum lf_run_result res = *resp;
  const struct lf_job *job = r->job;
  json_t *steps = json_array (), *disks = json_array (), *timings = json_object ();
  json_t *fix = r->state ? json_object_get (r->state, "fix") : NULL;
  json_t *warnings = json_deep_copy (r->warnings);
  double total = 0;
  size_t i;
  json_t *f;

  for (int s = 0; s < NSTEPS; s++) {
    double sec = r->step_seconds[s];
    const char *st = r->step_state[s];
    if (r->state) {
      json_t *js = st_step (r, s);
      if (json_is_number (json_object_get (js, "seconds")))
        sec = json_number_value (json_object_get (js, "seconds"));
      if (!st)
        st = json_string_value (json_object_get (js, "state"));
    }
    if (!st)
      st = "pending";
    total += sec;
    json_array_append_new (steps, json_pack ("{s:s, s:s, s:f}", "name",
                           step_names[s], "state", st, "seconds", sec));
    json_object_set_new (timings, step_names[s], json_real (sec));
  }
  json_object_set_new (timings, "total_seconds", json_real (total));

  for (size_t d = 0; d < job->ndisks; d++) {
    json_t *ds = r->state ? st_disk (r, d) : NULL;
    json_t *cv = json_object_get (ds, "convert");
    const struct lf_job_disk *jd = &job->disks[d];
    json_t *j = json_pack ("{s:s, s:s}", "role", d == 0 ? "os" : "data",
                           "source", jd->path ? jd->path : jd->given);
    /* A disk the job named by LUN or serial: that name, beside the node
     * it was found at.
     */
    if (jd->spec)
      json_object_set_new (j, "name", json_string (jd->given));
    if (ds) {
      json_object_set (j, "output", json_object_get (ds, "output"));
      if (json_object_get (ds, "source_format"))
        json_object_set (j, "source_format", json_object_get (ds, "source_format"));
      if (cv) {
        json_object_set (j, "action", json_object_get (cv, "action"));
        json_object_set (j, "source_size", json_object_get (cv, "source_size"));
        json_object_set (j, "size", json_object_get (cv, "size"));
        json_object_set (j, "file_size", json_object_get (cv, "file_size"));
        json_object_set (j, "data_bytes", json_object_get (cv, "data_bytes"));
      }
      if (json_object_get (ds, "sha256"))
        json_object_set (j, "sha256", json_object_get (ds, "sha256"));
    }
    json_array_append_new (disks, j);
  }

  /* Warnings from the fix's findings, distinct from its errors. */
  json_array_foreach (json_object_get (fix, "findings"), i, f)
    if (strcmp (json_string_value (json_object_get (f, "result")), "warning") == 0)
      add_str (warnings, "fix: %s: %s",
               json_string_value (json_object_get (f, "concern")),
               json_string_value (json_object_get (f, "message")));
  if (res == LF_RUN_OK && json_array_size (warnings) > 0)
    res = LF_RUN_WARNINGS;
  *resp = res;

  json_t *rep = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:i}",
    "command", "run", "job", r->o->job_path ? r->o->job_path : job->name,
    "machine", job->machine, "source", job->source,
    "profile_requested", job->profile,
    "profile", r->state ? json_string_value (json_object_get (r->state, "profile"))
                        : r->profile,
    "output", job->in_place ? "in-place" : job->output,
    "ok", res == LF_RUN_OK || res == LF_RUN_WARNINGS,
    "result", result_name (res), "exit_status", exit_status (res));
  json_object_set_new (rep, "os", json_string (r->state
    ? json_string_value (json_object_get (r->state, "os")) : r->os_desc));
  json_object_set_new (rep, "options", json_pack ("{s:b, s:b, s:i}",
    "checksum", job->checksum, "rdp_no_nla", job->rdp_no_nla,
    "rootdelay", job->rootdelay));
  if (r->state) {
    json_object_set (rep, "runs", json_object_get (r->state, "runs"));
    json_object_set (rep, "clock", json_object_get (r->state, "clock"));
  }
  json_object_set_new (rep, "steps", steps);
  json_object_set_new (rep, "disks", disks);
  json_object_set_new (rep, "changes", fix ? json_deep_copy (json_object_get (fix, "edits"))
                                           : json_array ());
  json_object_set_new (rep, "findings", fix ? json_deep_copy (json_object_get (fix, "findings"))
                                            : json_array ());
  if (fix)
    json_object_set (rep, "journal", json_object_get (fix, "journal"));
  json_object_set_new (rep, "warnings", warnings);
  json_object_set_new (rep, "errors", json_deep_copy (r->errors));
  json_object_set_new (rep, "timings", timings);
  if (job->point_id)
    json_object_set_new (rep, "recovery_point", json_pack (
      "{s:s, s:s, s:s, s:s, s:s}", "manifest", job->manifest, "option",
      job->recovery_point, "id", job->point_id, "time", job->point_time,
      "why", job->point_why ? job->point_why : ""));
  if (r->o->appliance)
    json_object_set_new (rep, "appliance", json_deep_copy (r->o->appliance));
  return rep;
}

/* ---- The sequence ----------------------------------------------------- */

/* The job's disks named as the platform attaches them (lun:N, serial:S:
 * disks.c) become device nodes here, in a copy of the job: every later
 * step, the state file and the report see the node.  sysfs is read under
 * $LANDFALL_SYSFS_ROOT (tests give a fake tree); the system's own
 * controller is the one holding $LANDFALL_OWN_DISK (PID 1 sets it to the
 * appliance's boot disk) or "/".  Every name that resolves to no disk,
 * to several, or to a disk another name took is a prerequisite problem
 * naming what was found; the copy is NULL when the job names none.
 */
static struct lf_job_disk *
resolve_disks (struct run *r, const struct lf_job *job)
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
    add_str (r->problems, "disks: %s", lf_last_error ());
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
    role (i, rb, sizeof rb);
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
      add_str (r->problems, "%s: %s", rb, lf_last_error ());
      continue;
    }
    for (size_t j = 0; j < i; j++)
      if (dk[j].path && strcmp (dk[j].path, node) == 0)
        add_str (r->problems, "%s: %s is %s, which %s already names", rb,
                 dk[i].given, node, dk[j].given);
    const struct lf_blockdev *b = lf_blockdevs_find (&devs, node + 5);
    if (b) {
      lf_blockdev_describe (b, desc, sizeof desc);
      logf_ (r, "%s %s: %s", rb, dk[i].given, desc);
    }
    dk[i].path = strdup (node);
  }
  lf_blockdevs_free (&devs);
  return dk;
}

static void
free_resolved (struct lf_job_disk *dk, size_t n)
{
  if (!dk)
    return;
  for (size_t i = 0; i < n; i++)
    if (dk[i].spec)
      free (dk[i].path);
  free (dk);
}

int
lf_run_job (const struct lf_job *job, const struct lf_run_opts *o,
            enum lf_run_result *result, json_t **report)
{
  struct run r = { .job = job, .o = o };
  enum lf_run_result res = LF_RUN_OK;
  int ret = -1, loaded;
  struct lf_job rjob;
  struct lf_job_disk *resolved = NULL;
  size_t ndisks = job->ndisks;

  *report = NULL;
  r.problems = json_array ();
  r.warnings = json_array ();
  r.errors = json_array ();
  r.src = calloc (job->ndisks, sizeof *r.src);
  r.state_path = lf_job_state_path (job, o->jobdir);
  if (!r.src || !r.state_path || !r.problems || !r.warnings || !r.errors) {
    lf_error (ENOMEM, "out of memory");
    goto out;
  }
  if (job->point_id)
    logf_ (&r, "recovery point %s (%s, %s%s%s)", job->point_id,
           job->point_time, job->recovery_point,
           job->point_why && *job->point_why ? ": " : "",
           job->point_why ? job->point_why : "");
  double t_prereq = lf_now ();
  if ((resolved = resolve_disks (&r, job))) {
    rjob = *job;
    rjob.disks = resolved;
    r.job = job = &rjob;
  }
  for (size_t i = 0; i < job->ndisks; i++)
    if (!job->disks[i].path) {
      if (json_array_size (r.problems) == 0) {
        lf_error (ENOMEM, "out of memory");
        goto out;
      }
      loaded = 0;
      goto refused;
    }
  if ((loaded = load_state (&r)) == -1)
    goto out;

  if (!loaded) {
    logf_ (&r, "[1/5] prerequisites: checking %zu disk%s", job->ndisks,
           job->ndisks == 1 ? "" : "s");
    step_prerequisites (&r);
  refused:
    r.step_seconds[S_PREREQ] = lf_now () - t_prereq;
    if (json_array_size (r.problems) > 0 || lf_cancel) {
      size_t i;
      json_t *p;
      res = json_array_size (r.problems) > 0 ? LF_RUN_FAILED : LF_RUN_INTERRUPTED;
      r.step_state[S_PREREQ] = res == LF_RUN_FAILED ? "failed" : "interrupted";
      json_array_foreach (r.problems, i, p)
        add_str (r.errors, "prerequisites: %s", json_string_value (p));
      logf_ (&r, "[1/5] prerequisites: %s (%.1f s): %zu problem%s; nothing "
             "was written", r.step_state[S_PREREQ], r.step_seconds[S_PREREQ],
             json_array_size (r.problems),
             json_array_size (r.problems) == 1 ? "" : "s");
      *report = build_report (&r, &res);
      ret = 0;
      goto out;
    }
    /* Only now is anything written. */
    if ((!job->in_place && lf_mkdir_p (job->output) == -1) || new_state (&r) == -1)
      goto out;
    st_set_step (&r, S_PREREQ, "done", r.step_seconds[S_PREREQ]);
    logf_ (&r, "[1/5] prerequisites: done (%.1f s): %s, %s", r.step_seconds[S_PREREQ],
           r.os_desc, r.profile);
  }
  else {
    json_array_extend (r.warnings, json_object_get (r.state, "warnings"));
    logf_ (&r, "resuming the job from %s", r.state_path);
  }
  json_object_set_new (r.state, "runs", json_integer (
    json_integer_value (json_object_get (r.state, "runs")) + 1));

  /* A fix that did not finish left the copies in an unknown state; redo
   * them from the sources (see the comment at the top).
   */
  {
    const char *fs = st_step_state (&r, S_FIX);
    if (!job->in_place && (!strcmp (fs, "running") || !strcmp (fs, "failed"))) {
      logf_ (&r, "the fix of the last run did not finish: converting again "
             "so that the result is exactly that of an uninterrupted run");
      for (size_t i = 0; i < job->ndisks; i++)
        json_object_set_new (st_disk (&r, i), "state", json_string ("pending"));
      st_set_step (&r, S_CONVERT, "pending", -1);
      st_set_step (&r, S_FIX, "pending", -1);
    }
  }
  if (save_state (&r) == -1)
    goto out;

  static int (*const fns[NSTEPS]) (struct run *) = {
    NULL, step_convert, step_fix, step_verify, NULL,
  };
  for (int s = S_CONVERT; s <= S_REPORT; s++) {
    if (strcmp (st_step_state (&r, s), "done") == 0) {
      logf_ (&r, "[%d/5] %s: already done", s + 1, step_names[s]);
      continue;
    }
    if (lf_cancel) {
      res = LF_RUN_INTERRUPTED;
      break;
    }
    double t0 = lf_now ();
    logf_ (&r, "[%d/5] %s: running", s + 1, step_names[s]);
    st_set_step (&r, s, "running", -1);
    if (save_state (&r) == -1)
      goto out;
    int rc = 0;
    if (fns[s])
      rc = fns[s] (&r);
    else {                      /* the report: the last step */
      CLEANUP_FREE char *rp = report_path (job, o->jobdir);
      st_set_step (&r, s, "done", lf_now () - t0);
      enum lf_run_result ok = LF_RUN_OK;
      json_t *rep = build_report (&r, &ok);
      json_object_set_new (rep, "report", json_string (rp ? rp : ""));
      rc = rp && lf_write_json_atomic (rp, rep) == 0 ? 0 : -1;
      json_decref (rep);
    }
    double sec = lf_now () - t0;
    if (rc == -1) {
      bool intr = lf_cancel && lf_last_errno () == EINTR;
      if (!intr)
        add_str (r.errors, "%s: %s", step_names[s], lf_last_error ());
      st_set_step (&r, s, intr ? "interrupted" : "failed", sec);
      logf_ (&r, "[%d/5] %s: %s (%.1f s): %s", s + 1, step_names[s],
             intr ? "interrupted" : "failed", sec, lf_last_error ());
      res = intr ? LF_RUN_INTERRUPTED : LF_RUN_FAILED;
      if (save_state (&r) == -1)
        goto out;
      break;
    }
    st_set_step (&r, s, "done", sec);
    if (save_state (&r) == -1)
      goto out;
    logf_ (&r, "[%d/5] %s: done (%.1f s)", s + 1, step_names[s], sec);
  }
  if (res == LF_RUN_INTERRUPTED)
    logf_ (&r, "interrupted: run the same command again to resume");
  *report = build_report (&r, &res);
  {
    CLEANUP_FREE char *rp = report_path (job, o->jobdir);
    json_object_set_new (*report, "report", json_string (rp ? rp : ""));
    /* A failed or interrupted run leaves its report too (the successful
     * one was written by the report step).
     */
    if (res == LF_RUN_FAILED || res == LF_RUN_INTERRUPTED)
      if (rp)
        (void) lf_write_json_atomic (rp, *report);
  }
  ret = 0;

 out:
  if (ret == 0)
    *result = res;
  lf_guest_close (r.out_g);
  json_decref (r.state);
  json_decref (r.problems);
  json_decref (r.warnings);
  json_decref (r.errors);
  free (r.src);
  free (r.state_path);
  lf_hw_profile_free (r.hw);
  free_resolved (resolved, ndisks);
  return ret;
}

/* ---- Undo ------------------------------------------------------------- */

int
lf_run_undo (const struct lf_job *job, const char *jobdir, json_t **report)
{
  struct lf_run_opts o = { .log_fd = -1, .jobdir = jobdir };
  struct run r = { .job = job, .o = &o };
  struct lf_guest *g = NULL;
  struct lf_os *os;
  char **paths = NULL;
  json_t *entries = NULL;
  int ret = -1, loaded;

  *report = NULL;
  r.state_path = lf_job_state_path (job, jobdir);
  if (!r.state_path || (loaded = load_state (&r)) == -1)
    goto out;
  if (!(paths = output_paths (&r)))
    goto out;
  for (size_t i = 0; i < job->ndisks; i++) {
    struct stat st;
    if (stat (paths[i], &st) == -1) {
      lf_error (errno, "%s: %m (the job's output is gone: nothing to undo)",
                paths[i]);
      goto out;
    }
  }
  g = lf_cli_guest_open ((const char *const *) paths, job->ndisks, true,
                         job_guestfs (job), NULL);
  if (!g || lf_guest_inspect (g) == -1 || !(os = job_os (g)))
    goto out;
  const struct lf_fixer *f = lf_fixer_find (os->type);
  if (!f || lf_undo (&os->mounts, f->journal_dir, &entries) == -1)
    goto out;
  /* The job is no longer fixed: a re-run fixes (and verifies) again. */
  if (loaded) {
    for (int s = S_FIX; s <= S_REPORT; s++)
      st_set_step (&r, s, "pending", -1);
    json_object_del (r.state, "fix");
    json_object_del (r.state, "verify");
    if (save_state (&r) == -1)
      goto out;
  }
  *report = json_pack ("{s:s, s:s, s:b, s:O}", "command", "undo", "machine",
                       job->machine, "ok", 1, "entries", entries);
  ret = 0;
 out:
  json_decref (entries);
  lf_free_names (paths);
  lf_guest_close (g);
  json_decref (r.state);
  free (r.state_path);
  lf_hw_profile_free (r.hw);
  return ret;
}

/* ---- The summary ------------------------------------------------------ */

/* "N files (by concern: a 3, b 1)": the files changed, then each
 * concern's changes in the order it first appears.  An edit several
 * concerns made (a Windows hive) is one file, and each of them is counted
 * its own changes in it (changes_by_concern: the values and keys it
 * changed); a file counts one for each concern that wrote it.
 */
#define SUMMARY_MAX_CONCERNS 32

static void
print_changes (const json_t *changes, FILE *fp)
{
  const char *name[SUMMARY_MAX_CONCERNS];
  json_int_t count[SUMMARY_MAX_CONCERNS];
  size_t n = 0, i;
  json_t *e;

  json_array_foreach (changes, i, e) {
    const char *c;
    json_t *v;
    json_object_foreach (json_object_get (e, "changes_by_concern"), c, v) {
      size_t k = 0;
      while (k < n && strcmp (name[k], c) != 0)
        k++;
      if (k == n) {
        if (n == SUMMARY_MAX_CONCERNS)
          continue;
        name[n] = c;
        count[n++] = 0;
      }
      count[k] += json_integer_value (v);
    }
  }
  fprintf (fp, "  changes:  %zu file%s", json_array_size (changes),
           json_array_size (changes) == 1 ? "" : "s");
  for (i = 0; i < n; i++)
    fprintf (fp, "%s%s %" JSON_INTEGER_FORMAT, i ? ", " : " (by concern: ",
             name[i], count[i]);
  fprintf (fp, "%s\n", n ? ")" : "");
}

void
lf_run_print_summary (const json_t *rep, FILE *fp)
{
  json_t *steps = json_object_get (rep, "steps");
  json_t *disks = json_object_get (rep, "disks");
  json_t *changes = json_object_get (rep, "changes");
  json_t *warnings = json_object_get (rep, "warnings");
  json_t *errors = json_object_get (rep, "errors");
  size_t i;
  json_t *v;
  char a[32];

  fprintf (fp, "landfall run: %s (%s, %s) -> %s: %s\n",
           json_string_value (json_object_get (rep, "machine")),
           json_string_value (json_object_get (rep, "source")),
           json_string_value (json_object_get (rep, "profile")),
           json_string_value (json_object_get (rep, "output")),
           json_string_value (json_object_get (rep, "result")));
  if (json_string_length (json_object_get (rep, "os")))
    fprintf (fp, "  os:       %s\n", json_string_value (json_object_get (rep, "os")));
  json_array_foreach (steps, i, v)
    fprintf (fp, "  %-14s %-12s %6.1f s\n",
             json_string_value (json_object_get (v, "name")),
             json_string_value (json_object_get (v, "state")),
             json_number_value (json_object_get (v, "seconds")));
  json_array_foreach (disks, i, v) {
    const char *out = json_string_value (json_object_get (v, "output"));
    const char *sha = json_string_value (json_object_get (v, "sha256"));
    fprintf (fp, "  %-4s %s", json_string_value (json_object_get (v, "role")),
             json_string_value (json_object_get (v, "source")));
    if (out && json_object_get (v, "size"))
      fprintf (fp, " -> %s (%s, %s)", out,
               lf_human_size ((uint64_t) json_integer_value (json_object_get (v, "size")),
                              a, sizeof a),
               json_string_value (json_object_get (v, "action")));
    fputc ('\n', fp);
    if (sha)
      fprintf (fp, "       sha256 %s\n", sha);
  }
  print_changes (changes, fp);
  fprintf (fp, "  warnings: %zu\n", json_array_size (warnings));
  json_array_foreach (warnings, i, v)
    fprintf (fp, "    - %s\n", json_string_value (v));
  if (json_array_size (errors)) {
    fprintf (fp, "  errors:   %zu\n", json_array_size (errors));
    json_array_foreach (errors, i, v)
      fprintf (fp, "    - %s\n", json_string_value (v));
  }
  if (json_string_length (json_object_get (rep, "report")))
    fprintf (fp, "  report:   %s\n", json_string_value (json_object_get (rep, "report")));
  fprintf (fp, "  total:    %.1f s\n", json_number_value (json_object_get (
           json_object_get (rep, "timings"), "total_seconds")));
}

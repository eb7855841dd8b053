/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall guest/: the libguestfs backend, for what no native backend
 * reads (XFS, btrfs, LUKS with a key, LVM volumes that are not linear), on
 * a workstation.
 *
 * libguestfs runs a small Linux appliance under QEMU with the guest's
 * disks attached and mounts its filesystems with that kernel.  A launch
 * costs seconds with KVM and about 30 s under TCG, so there is one
 * appliance per guest, holding all its disks, launched only when a call
 * first needs it.  Each filesystem is mounted at a private mount point
 * (/lf/N, made with mkmountpoint, so nothing is ever mounted over the
 * appliance's "/" and filesystems never nest).  The handle is reference-
 * counted: every open filesystem holds one reference, so the caller may
 * drop its own (lf_guestfs_close) as soon as it has opened what it wants,
 * and the appliance shuts down with the last filesystem.
 *
 * KVM: /dev/kvm existing, or even answering ioctls, does not mean QEMU
 * guests run (see lf_kvm_works).  When KVM does not work, the appliance is
 * told "force_tcg": libguestfs' own "kvm:tcg" fallback does not fall back
 * on such hosts, it hangs.
 *
 * Errors: libguestfs' handler is silenced (guestfs_set_error_handler
 * (g, NULL, NULL)) and guestfs_last_error/guestfs_last_errno become our
 * lf_error, as nbdkit's plugins/guestfs/guestfs-plugin.c does; its events
 * become our debug lines (warnings at -v; with -vv libguestfs' verbose
 * output and trace, the appliance's console included).
 *
 * Built without libguestfs (no HAVE_LIBGUESTFS), lf_kvm_works and
 * lf_guestfs_parse_device still work, and everything else fails with
 * ENOTSUP saying so.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HAVE_LIBGUESTFS
#include <guestfs.h>
#endif

#include "guest/guest.h"

/* Limits on what we hand to the appliance. */
#define GFS_MAX_DISKS    64     /* as GUEST_MAX_DISKS in inspect.c */
#define GFS_MAX_PATH     4096
#define GFS_READ_PIECE   (1024 * 1024)  /* bytes per guestfs_pread */
#define GFS_MAX_FS       4096   /* list_filesystems entries kept */

/* --- KVM detection (always built: QEMU boot tests need it too) --------- */

static pthread_once_t kvm_once = PTHREAD_ONCE_INIT;
static bool kvm_ok;
static char kvm_why[256];

/* 1 if /proc/cpuinfo's flags show vmx or svm, 0 if not, -1 if unknown. */
static int
cpu_virt_flag (void)
{
  FILE *fp = fopen ("/proc/cpuinfo", "re");
  char line[8192];
  int r = -1;

  if (!fp)
    return -1;
  while (r != 1 && fgets (line, sizeof line, fp)) {
    if (strncmp (line, "flags", 5) != 0)
      continue;
    r = 0;
    for (char *save = NULL, *w = strtok_r (strchr (line, ':') ?: line,
                                           " \t\n:", &save);
         w; w = strtok_r (NULL, " \t\n", &save))
      if (strcmp (w, "vmx") == 0 || strcmp (w, "svm") == 0) {
        r = 1;
        break;
      }
  }
  fclose (fp);
  return r;
}

static bool
module_loaded (const char *name)
{
  char p[128];
  snprintf (p, sizeof p, "/sys/module/%s", name);
  return access (p, F_OK) == 0;
}

static void
kvm_probe (void)
{
  int kvm = -1, vm = -1, vcpu = -1, r;

  kvm_ok = false;
  kvm = open ("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm == -1) {
    snprintf (kvm_why, sizeof kvm_why, "cannot open /dev/kvm: %s",
              strerror (errno));
    goto out;
  }
  r = ioctl (kvm, KVM_GET_API_VERSION, 0);
  if (r != KVM_API_VERSION) {
    snprintf (kvm_why, sizeof kvm_why, "/dev/kvm: API version %d, not %d",
              r, KVM_API_VERSION);
    goto out;
  }
  vm = ioctl (kvm, KVM_CREATE_VM, 0);
  if (vm == -1) {
    snprintf (kvm_why, sizeof kvm_why, "/dev/kvm: KVM_CREATE_VM: %s",
              strerror (errno));
    goto out;
  }
  if (ioctl (vm, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0) {
    snprintf (kvm_why, sizeof kvm_why,
              "/dev/kvm: no KVM_CAP_USER_MEMORY (QEMU needs it)");
    goto out;
  }
  vcpu = ioctl (vm, KVM_CREATE_VCPU, 0);
  if (vcpu == -1) {
    snprintf (kvm_why, sizeof kvm_why, "/dev/kvm: KVM_CREATE_VCPU: %s",
              strerror (errno));
    goto out;
  }
  /* All of the above succeeds on a software KVM such as PVM (kvm_pvm, a
   * nested variant without VMX/SVM), and so does running a few real-,
   * protected- and long-mode instructions; yet ordinary guests then hang
   * or QEMU aborts ("failed to set MSR 0x10a").  Hardware KVM needs the
   * CPU's vmx or svm, which the kernel shows in /proc/cpuinfo.
   */
  if (cpu_virt_flag () == 0) {
    snprintf (kvm_why, sizeof kvm_why,
              "/dev/kvm answers, but the CPU has neither vmx nor svm: a "
              "software KVM variant%s that runs only guests built for it",
              module_loaded ("kvm_pvm") ? " (kvm_pvm)" : "");
    goto out;
  }
  if (module_loaded ("kvm_pvm") && !module_loaded ("kvm_intel") &&
      !module_loaded ("kvm_amd")) {
    snprintf (kvm_why, sizeof kvm_why,
              "/dev/kvm is kvm_pvm (no kvm_intel or kvm_amd): it runs only "
              "guests built for PVM");
    goto out;
  }
  kvm_ok = true;
  snprintf (kvm_why, sizeof kvm_why,
            "/dev/kvm: API %d, a VM and a vCPU created, CPU has vmx/svm",
            KVM_API_VERSION);
 out:
  if (vcpu >= 0)
    close (vcpu);
  if (vm >= 0)
    close (vm);
  if (kvm >= 0)
    close (kvm);
  LF_DEBUG (1, "KVM %s: %s", kvm_ok ? "works" : "does not work", kvm_why);
}

bool
lf_kvm_works (const char **reason)
{
  const char *e = getenv ("LANDFALL_KVM");

  if (e && (strcmp (e, "0") == 0 || strcmp (e, "1") == 0)) {
    if (reason)
      *reason = e[0] == '1' ? "forced on by LANDFALL_KVM=1"
        : "forced off by LANDFALL_KVM=0";
    return e[0] == '1';
  }
  pthread_once (&kvm_once, kvm_probe);
  if (reason)
    *reason = kvm_why;
  return kvm_ok;
}

/* --- Device names (no libguestfs needed) ------------------------------- */

int
lf_guestfs_parse_device (const char *device, size_t *disk, unsigned *part,
                         char *lv, size_t lvlen)
{
  const char *s;
  size_t d = 0, n = 0;

  *disk = SIZE_MAX;
  *part = 0;
  if (lvlen)
    lv[0] = '\0';
  if (strncmp (device, "/dev/sd", 7) == 0 || strncmp (device, "/dev/vd", 7) == 0) {
    /* Letters in bijective base 26 (a..z, aa..zz...), then a number. */
    for (s = device + 7; *s >= 'a' && *s <= 'z' && n < 4; s++, n++)
      d = d * 26 + (size_t) (*s - 'a' + 1);
    if (n > 0 && n < 4 && d <= GFS_MAX_DISKS) {
      unsigned long p = 0;
      if (*s) {
        char *end;
        if (*s < '1' || *s > '9')
          goto bad;
        p = strtoul (s, &end, 10);
        if (*end || p > 4096)
          goto bad;
      }
      *disk = d - 1;
      *part = (unsigned) p;
      return 0;
    }
    goto bad;
  }
  /* /dev/VG/LV, as list_filesystems names logical volumes. */
  if (strncmp (device, "/dev/", 5) == 0 && strncmp (device, "/dev/mapper/", 12) != 0 &&
      (s = strchr (device + 5, '/')) != NULL && s > device + 5 && s[1] &&
      !strchr (s + 1, '/')) {
    if (strlen (device + 5) >= lvlen)
      goto bad;
    snprintf (lv, lvlen, "%s", device + 5);
    return 0;
  }
 bad:
  lf_error (EINVAL, "%s: not a disk, partition or logical volume name",
            device);
  return -1;
}

#ifdef HAVE_LIBGUESTFS

struct lf_guestfs {
  guestfs_h *g;
  unsigned refs;                /* the caller's, plus one per open fs */
  size_t ndisks;
  bool any_readonly;
  bool launched;
  bool launch_failed;           /* a handle cannot be launched twice */
  struct lf_error_record launch_error;
  bool have_lf_dir;
  unsigned next_mp;
};

bool
lf_guestfs_available (void)
{
  return true;
}

/* Record libguestfs' last error, after "WHAT: ". */
static void gerror (struct lf_guestfs *h, const char *fmt, ...)
  LF_PRINTF (2, 3);
static void
gerror (struct lf_guestfs *h, const char *fmt, ...)
{
  char what[1024];
  va_list ap;
  const char *msg = guestfs_last_error (h->g);
  int e = guestfs_last_errno (h->g);

  va_start (ap, fmt);
  vsnprintf (what, sizeof what, fmt, ap);
  va_end (ap);
  lf_error (e ? e : EIO, "%s: %s", what, msg ? msg : "libguestfs failed");
}

/* libguestfs events -> our debug output, one line per line. */
static void
debug_event (guestfs_h *g, void *opaque, uint64_t event, int eh, int flags,
             const char *buf, size_t buf_len, const uint64_t *array,
             size_t array_len)
{
  (void) g; (void) opaque; (void) eh; (void) flags; (void) array;
  (void) array_len;
  const char *kind = event == GUESTFS_EVENT_APPLIANCE ? "appliance"
    : event == GUESTFS_EVENT_TRACE ? "trace"
    : event == GUESTFS_EVENT_WARNING ? "warning" : "library";

  while (buf_len > 0) {
    const char *nl = memchr (buf, '\n', buf_len);
    size_t n = nl ? (size_t) (nl - buf) : buf_len;
    size_t m = n;
    while (m > 0 && (buf[m - 1] == '\r' || buf[m - 1] == '\n'))
      m--;
    if (m > 0)
      lf_debug_print ("libguestfs", "%s: %.*s", kind, (int) m, buf);
    buf += n + (nl ? 1 : 0);
    buf_len -= n + (nl ? 1 : 0);
  }
}

struct lf_guestfs *
lf_guestfs_new (void)
{
  struct lf_guestfs *h = calloc (1, sizeof *h);
  uint64_t events = GUESTFS_EVENT_WARNING;

  if (!h) {
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  h->refs = 1;
  h->g = guestfs_create_flags (GUESTFS_CREATE_NO_ENVIRONMENT);
  if (!h->g) {
    lf_error (errno ? errno : ENOMEM, "creating a libguestfs handle: %m");
    free (h);
    return NULL;
  }
  guestfs_set_error_handler (h->g, NULL, NULL);
  if (lf_debug_level >= 2) {
    guestfs_set_verbose (h->g, 1);
    guestfs_set_trace (h->g, 1);
    events |= GUESTFS_EVENT_APPLIANCE | GUESTFS_EVENT_LIBRARY |
      GUESTFS_EVENT_TRACE;
  }
  /* LIBGUESTFS_BACKEND, LIBGUESTFS_DEBUG, ... still apply. */
  if (guestfs_parse_environment (h->g) == -1) {
    gerror (h, "libguestfs: reading its environment variables");
    goto error;
  }
  if (lf_debug_level >= 1 &&
      guestfs_set_event_callback (h->g, debug_event, events, 0, NULL) == -1) {
    gerror (h, "libguestfs: setting up debug output");
    goto error;
  }
  return h;
 error:
  guestfs_close (h->g);
  free (h);
  return NULL;
}

static void
unref (struct lf_guestfs *h)
{
  if (!h || --h->refs > 0)
    return;
  if (h->launched && guestfs_shutdown (h->g) == -1)
    /* Destructors record no errors (STYLE.md); writers call ops->sync
     * before closing, which is what makes their data safe.
     */
    LF_DEBUG (1, "libguestfs shutdown: %s", guestfs_last_error (h->g));
  guestfs_close (h->g);
  free (h);
}

void
lf_guestfs_close (struct lf_guestfs *h)
{
  unref (h);
}

int
lf_guestfs_add_disk (struct lf_guestfs *h, const char *path,
                     const char *format, bool readonly)
{
  /* Our names (lf_disk_format) to QEMU's. */
  static const struct { const char *ours, *qemu; } formats[] = {
    { "raw", "raw" }, { "qcow2", "qcow2" }, { "vmdk", "vmdk" },
    { "vhd", "vpc" }, { "vpc", "vpc" }, { "vhdx", "vhdx" },
  };
  const char *qfmt = NULL;

  for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
    if (strcmp (format, formats[i].ours) == 0)
      qfmt = formats[i].qemu;
  if (!qfmt) {
    lf_error (ENOTSUP, "%s: libguestfs cannot be given %s disks", path,
              format);
    return -1;
  }
  if (h->launched || h->launch_failed) {
    lf_error (EINVAL, "%s: disks must be added before the appliance is "
              "launched", path);
    return -1;
  }
  if (h->ndisks == GFS_MAX_DISKS) {
    lf_error (EINVAL, "%s: more than %d disks", path, GFS_MAX_DISKS);
    return -1;
  }
  if (guestfs_add_drive_opts (h->g, path,
                              GUESTFS_ADD_DRIVE_OPTS_FORMAT, qfmt,
                              GUESTFS_ADD_DRIVE_OPTS_READONLY, readonly ? 1 : 0,
                              -1) == -1) {
    gerror (h, "%s: adding it to the libguestfs appliance", path);
    return -1;
  }
  h->ndisks++;
  h->any_readonly |= readonly;
  LF_DEBUG (1, "disk %zu: %s (%s%s)", h->ndisks - 1, path, qfmt,
            readonly ? ", read-only" : "");
  return 0;
}

int
lf_guestfs_launch (struct lf_guestfs *h)
{
  const char *why;
  double t0;

  if (h->launched)
    return 0;
  if (h->launch_failed) {
    lf_error_restore (&h->launch_error);
    return -1;
  }
  if (h->ndisks == 0) {
    lf_error (EINVAL, "libguestfs: no disks to launch the appliance with");
    return -1;
  }
  if (lf_kvm_works (&why))
    LF_DEBUG (1, "launching the libguestfs appliance with KVM (%s)", why);
  else {
    LF_DEBUG (1, "launching the libguestfs appliance with TCG, no KVM "
              "(%s): expect about 30 s", why);
    if (guestfs_set_backend_setting (h->g, "force_tcg", "1") == -1) {
      gerror (h, "libguestfs: setting force_tcg");
      return -1;
    }
  }
  t0 = lf_now ();
  if (guestfs_launch (h->g) == -1) {
    /* The first line; the rest is libguestfs' advice to debug it. */
    const char *msg = guestfs_last_error (h->g);
    int e = guestfs_last_errno (h->g);
    msg = msg ? msg : "unknown error";
    lf_error (e ? e : EIO, "libguestfs could not launch its appliance (%s): "
              "%.*s (landfall -vv shows its output; libguestfs-test-tool "
              "tests it)", lf_kvm_works (NULL) ? "KVM" : "TCG",
              (int) strcspn (msg, "\n"), msg);
    h->launch_failed = true;
    lf_error_save (&h->launch_error);
    return -1;
  }
  h->launched = true;
  LF_DEBUG (1, "libguestfs appliance launched in %.1f s (%s)",
            lf_now () - t0, lf_kvm_works (NULL) ? "KVM" : "TCG");
  return 0;
}

static void
free_strings (char **v)
{
  if (!v)
    return;
  for (char **p = v; *p; p++)
    free (*p);
  free (v);
}

/* A snapshot of another subvolume, by the places snapper and Timeshift
 * keep them: ".snapshots/N/snapshot", "timeshift-btrfs/snapshots/...".
 */
static bool
snapshot_path (const char *path)
{
  if (strncmp (path, "timeshift-btrfs/", 16) == 0)
    return true;
  for (const char *c = path; (c = strstr (c, ".snapshots/")) != NULL; c++)
    if (c == path || c[-1] == '/')
      return true;
  return false;
}

static struct lf_guestfs_fs *
grow (struct lf_guestfs_fs **v, size_t *n, size_t *cap)
{
  if (lf_grow (v, cap, *n + 1, sizeof **v) == -1)
    return NULL;
  memset (&(*v)[*n], 0, sizeof **v);
  return &(*v)[(*n)++];
}

/* After btrfs device D (the last of V): its subvolumes, but the default
 * (D is that one) and snapshots.  The "btrfsvol:" names list_filesystems
 * gives are not used: libguestfs 1.48 puts the appliance's own device
 * names in them (/dev/sdb1 for our /dev/sda1).
 */
static int
add_subvolumes (struct lf_guestfs *h, struct lf_guestfs_fs **v, size_t *n,
                size_t *cap)
{
  size_t di = *n - 1;
  char dev[sizeof (*v)->volume];
  struct guestfs_btrfssubvolume_list *l;
  int64_t def;

  snprintf (dev, sizeof dev, "%s", (*v)[di].volume);
  (*v)[di].subvol_default = true;
  l = guestfs_btrfs_subvolume_list (h->g, dev);
  def = l ? guestfs_btrfs_subvolume_get_default (h->g, dev) : -1;
  if (!l || def == -1) {
    /* The device (its default subvolume) is still read. */
    LF_DEBUG (1, "libguestfs: %s: btrfs subvolumes unread: %s", dev,
              guestfs_last_error (h->g));
    if (l)
      guestfs_free_btrfssubvolume_list (l);
    return 0;
  }
  (*v)[di].subvolid = (uint64_t) def;
  for (uint32_t i = 0; i < l->len; i++) {
    const struct guestfs_btrfssubvolume *sv = &l->val[i];
    const char *path = sv->btrfssubvolume_path;
    if ((int64_t) sv->btrfssubvolume_id == def) {
      snprintf ((*v)[di].subvol, sizeof (*v)[di].subvol, "%s", path);
      continue;
    }
    if (snapshot_path (path) || strlen (path) >= sizeof (*v)->subvol ||
        strchr (path, ',') || *n == GFS_MAX_FS) {
      LF_DEBUG (1, "libguestfs: %s: subvolume %s skipped (%s)", dev, path,
                snapshot_path (path) ? "a snapshot" : "too many, or its name");
      continue;
    }
    struct lf_guestfs_fs *f = grow (v, n, cap);
    if (!f) {
      guestfs_free_btrfssubvolume_list (l);
      return -1;
    }
    *f = (*v)[di];
    f->subvol_default = false;
    f->subvolid = sv->btrfssubvolume_id;
    snprintf (f->subvol, sizeof f->subvol, "%s", path);
    snprintf (f->device, sizeof f->device, "btrfsvol:%s/%s", dev, path);
    LF_DEBUG (1, "libguestfs: %s: btrfs subvolume %s (id %" PRIu64 ")", dev,
              path, f->subvolid);
  }
  LF_DEBUG (1, "libguestfs: %s: default subvolume %s (id %" PRId64 ")", dev,
            def == 5 ? "(top level)" : (*v)[di].subvol, def);
  guestfs_free_btrfssubvolume_list (l);
  return 0;
}

int
lf_guestfs_filesystems (struct lf_guestfs *h, struct lf_guestfs_fs **ret,
                        size_t *nret)
{
  char **l;
  struct lf_guestfs_fs *v = NULL;
  size_t n = 0, cap = 0;

  *ret = NULL;
  *nret = 0;
  if (lf_guestfs_launch (h) == -1)
    return -1;
  l = guestfs_list_filesystems (h->g);
  if (!l) {
    gerror (h, "libguestfs: listing filesystems");
    return -1;
  }
  for (size_t i = 0; l[i] && l[i + 1]; i += 2) {
    const char *dev = l[i], *type = l[i + 1];
    struct lf_guestfs_fs *f;
    char *s;

    /* Subvolumes: add_subvolumes names them. */
    if (strncmp (dev, "btrfsvol:", 9) == 0)
      continue;
    if (n == GFS_MAX_FS || strlen (dev) >= sizeof f->volume) {
      LF_DEBUG (1, "libguestfs: %s: skipped (too many or too long)", dev);
      continue;
    }
    if (!(f = grow (&v, &n, &cap)))
      goto error;
    snprintf (f->device, sizeof f->device, "%s", dev);
    snprintf (f->volume, sizeof f->volume, "%s", dev);
    if (strcmp (type, "unknown") != 0)
      snprintf (f->info.type, sizeof f->info.type, "%s", type);
    /* An md array: the caller knows it by its UUID, not by the number the
     * appliance gave it.
     */
    if (strncmp (dev, "/dev/md", 7) == 0) {
      char **d = guestfs_md_detail (h->g, dev);
      for (size_t k = 0; d && d[k] && d[k + 1]; k += 2)
        if (strcmp (d[k], "uuid") == 0) {
          size_t o = 0;
          for (const char *u = d[k + 1]; *u && o < sizeof f->md_uuid - 1; u++)
            if (*u != ':' && *u != '-')
              f->md_uuid[o++] = *u;
          f->md_uuid[o] = '\0';
        }
      if (!d)
        LF_DEBUG (1, "libguestfs: %s: md-detail: %s", dev,
                  guestfs_last_error (h->g) ?: "?");
      free_strings (d);
    }
    /* UUID and label are findings: absent is not an error. */
    if ((s = guestfs_vfs_uuid (h->g, dev)) != NULL) {
      snprintf (f->info.uuid, sizeof f->info.uuid, "%s", s);
      free (s);
    }
    if ((s = guestfs_vfs_label (h->g, dev)) != NULL) {
      snprintf (f->info.label, sizeof f->info.label, "%s", s);
      free (s);
    }
    LF_DEBUG (1, "libguestfs: %s: %s uuid=%s label=%s%s%s", f->device,
              *f->info.type ? f->info.type : "unknown", f->info.uuid,
              f->info.label, f->md_uuid[0] ? " md array " : "", f->md_uuid);
    if (strcmp (f->info.type, "btrfs") == 0 && add_subvolumes (h, &v, &n, &cap) == -1)
      goto error;
  }
  free_strings (l);
  *ret = v;
  *nret = n;
  return 0;
 error:
  free (v);
  free_strings (l);
  return -1;
}

char *
lf_guestfs_open_luks (struct lf_guestfs *h, const char *device,
                      const char *key, const char *name)
{
  char *mapper = NULL;
  size_t len = strlen (name);
  int r;

  if (len == 0 || len > 64 ||
      strspn (name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
              "0123456789_-") != len) {
    lf_error (EINVAL, "%s: '%s' is not a usable device-mapper name (1-64 "
              "letters, digits, '_' or '-')", device, name);
    return NULL;
  }
  if (lf_guestfs_launch (h) == -1)
    return NULL;
  /* The key is a "Key" argument: libguestfs' trace shows it as ***. */
#ifdef GUESTFS_HAVE_CRYPTSETUP_OPEN
  r = guestfs_cryptsetup_open (h->g, device, key, name,
                               GUESTFS_CRYPTSETUP_OPEN_READONLY,
                               h->any_readonly ? 1 : 0, -1);
#else
  r = h->any_readonly ? guestfs_luks_open_ro (h->g, device, key, name)
    : guestfs_luks_open (h->g, device, key, name);
#endif
  if (r == -1) {
    gerror (h, "%s: opening the LUKS volume", device);
    return NULL;
  }
  /* LVM inside the encrypted volume shows up once activated. */
  if (guestfs_vg_activate_all (h->g, 1) == -1)
    LF_DEBUG (1, "libguestfs: vg_activate_all after %s: %s", device,
              guestfs_last_error (h->g));
  if (asprintf (&mapper, "/dev/mapper/%s", name) == -1) {
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  return mapper;
}

/* --- The filesystem backend -------------------------------------------- */

struct gfs {
  struct lf_guestfs *h;         /* one reference held */
  char *device;
  char mp[32];                  /* "/lf/N" in the appliance */
  bool mounted;
};

/* The appliance path of guest PATH ("/" is the mount point itself). */
static char *
full_path (struct lf_fs *fs, const char *path)
{
  struct gfs *p = fs->priv;
  char *r;
  size_t len = strlen (path);

  if (path[0] != '/' || len > GFS_MAX_PATH) {
    lf_error (EINVAL, "%s: '%.64s': not an absolute path of at most %d "
              "bytes", fs->name, path, GFS_MAX_PATH);
    return NULL;
  }
  /* fs.c resolves "." and ".."; one here would walk out of the mount. */
  for (const char *c = path; (c = strstr (c, "/..")) != NULL; c += 3)
    if (c[3] == '/' || c[3] == '\0') {
      lf_error (EINVAL, "%s: %s: '..' in a resolved path", fs->name, path);
      return NULL;
    }
  if (asprintf (&r, "%s%s", p->mp, strcmp (path, "/") == 0 ? "" : path) == -1) {
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  return r;
}

static guestfs_h *
G (struct lf_fs *fs)
{
  return ((struct gfs *) fs->priv)->h->g;
}

static struct lf_guestfs *
H (struct lf_fs *fs)
{
  return ((struct gfs *) fs->priv)->h;
}

static int
gfs_lookup (struct lf_fs *fs, const char *path, struct lf_stat *st)
{
  CLEANUP_FREE char *p = full_path (fs, path);
  struct guestfs_statns *s;

  if (!p)
    return -1;
  s = guestfs_lstatns (G (fs), p);
  if (!s) {
    int e = guestfs_last_errno (G (fs));
    if (e == ENOENT || e == ENOTDIR)
      return 0;
    gerror (H (fs), "%s: %s", fs->name, path);
    return -1;
  }
  *st = (struct lf_stat) { .mode = (uint32_t) s->st_mode,
                           .size = (uint64_t) s->st_size,
                           .ino = (uint64_t) s->st_ino,
                           .nlink = (uint32_t) s->st_nlink,
                           .uid = (uint32_t) s->st_uid,
                           .gid = (uint32_t) s->st_gid,
                           .mtime = s->st_mtime_sec };
  guestfs_free_statns (s);
  return 1;
}

static int
gfs_readlink (struct lf_fs *fs, const char *path, char **target)
{
  CLEANUP_FREE char *p = full_path (fs, path);

  if (!p)
    return -1;
  *target = guestfs_readlink (G (fs), p);
  if (!*target) {
    gerror (H (fs), "%s: readlink %s", fs->name, path);
    return -1;
  }
  return 0;
}

static int
gfs_read (struct lf_fs *fs, const char *path, size_t max, char **bufp,
          size_t *lenp)
{
  CLEANUP_FREE char *p = full_path (fs, path);
  struct lf_stat st;
  char *data, *buf;
  size_t size = 0;

  if (!p || lf_fs_lstat_by_lookup (fs, path, &st) == -1)
    return -1;
  if (!S_ISREG (st.mode)) {
    lf_error (S_ISDIR (st.mode) ? EISDIR : EINVAL,
              "%s: %s: not a regular file", fs->name, path);
    return -1;
  }
  /* Size first: read_file would copy all of it out of the appliance. */
  if (st.size > max) {
    lf_error (EFBIG, "%s: %s is %" PRIu64 " bytes, over the limit of %zu",
              fs->name, path, st.size, max);
    return -1;
  }
  /* pread in pieces, not read_file: read_file is a file transfer, whose
   * setup costs 0.2-1 s per call under TCG (measured: a Debian fix reads
   * 32 files), where a pread is one message (a few ms).  A piece stays
   * well inside the protocol's 4 MiB message.  The size is lstat's: the
   * guest is not running, nothing grows it meanwhile.
   */
  buf = malloc ((size_t) st.size + 1);
  if (!buf) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  while (size < st.size) {
    size_t want = st.size - size > GFS_READ_PIECE ? GFS_READ_PIECE
      : (size_t) (st.size - size), got = 0;
    data = guestfs_pread (G (fs), p, (int) want, (int64_t) size, &got);
    if (!data) {
      free (buf);
      gerror (H (fs), "%s: read %s", fs->name, path);
      return -1;
    }
    if (got > want) {
      free (data);
      free (buf);
      lf_error (EIO, "%s: read %s: %zu bytes for %zu asked", fs->name, path,
                got, want);
      return -1;
    }
    memcpy (buf + size, data, got);
    free (data);
    if (got == 0)               /* shorter than lstat said */
      break;
    size += got;
  }
  buf[size] = '\0';
  *bufp = buf;
  *lenp = size;
  return 0;
}

static int
cmp_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static int
gfs_list (struct lf_fs *fs, const char *path, char ***namesp)
{
  CLEANUP_FREE char *p = full_path (fs, path);
  char **names;
  size_t n = 0;

  if (!p)
    return -1;
  names = guestfs_ls (G (fs), p);
  if (!names) {
    gerror (H (fs), "%s: list %s", fs->name, path);
    return -1;
  }
  while (names[n])
    n++;
  qsort (names, n, sizeof *names, cmp_names);
  *namesp = names;
  return 0;
}

/* Upload LEN bytes of BUF to appliance path TMP, through a memfd: no size
 * limit (guestfs_write's buffer travels in one 4 MiB protocol message).
 */
static int
upload (struct lf_fs *fs, const void *buf, size_t len, const char *tmp,
        const char *path)
{
  CLEANUP_CLOSE int fd = memfd_create ("landfall-guestfs", MFD_CLOEXEC);
  char src[64];

  if (fd == -1) {
    lf_error (errno, "%s: %s: memfd_create: %m", fs->name, path);
    return -1;
  }
  if (lf_pwrite_all (fd, buf, len, 0) == -1) {
    lf_error_prefix ("%s: %s", fs->name, path);
    return -1;
  }
  snprintf (src, sizeof src, "/dev/fd/%d", fd);
  if (guestfs_upload (G (fs), src, tmp) == -1) {
    gerror (H (fs), "%s: writing %s", fs->name, tmp);
    return -1;
  }
  return 0;
}

/* The same sequence as tree.c's, with the appliance's kernel doing the
 * work: the new content goes to "<dir>/.<name>.landfall-tmp", gets the old
 * file's owner and mode (or MODE), is synced, and is renamed over PATH
 * with rename(2) inside the appliance, which is atomic there as on any
 * Linux; then synced again.  libguestfs has no per-file fsync: sync is the
 * whole appliance's, which also flushes QEMU's cache into the image.
 */
static int
gfs_write_atomic (struct lf_fs *fs, const char *path, const void *buf,
                  size_t len, uint32_t mode)
{
  CLEANUP_FREE char *p = full_path (fs, path);
  CLEANUP_FREE char *tmp = NULL;
  guestfs_h *g = G (fs);
  struct guestfs_statns *old = NULL;
  const char *slash, *name;

  if (!p)
    return -1;
  slash = strrchr (p, '/');
  name = slash + 1;
  if (!*name || strcmp (path, "/") == 0) {
    lf_error (EINVAL, "%s: %s: no file name", fs->name, path);
    return -1;
  }
  if (asprintf (&tmp, "%.*s/.%s.landfall-tmp", (int) (slash - p), p,
                name) == -1) {
    tmp = NULL;
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  old = guestfs_lstatns (g, p);
  if (!old && guestfs_last_errno (g) != ENOENT) {
    gerror (H (fs), "%s: %s", fs->name, path);
    return -1;
  }
  if (old && !S_ISREG (old->st_mode)) {
    guestfs_free_statns (old);
    lf_error (EINVAL, "%s: %s exists and is not a regular file", fs->name,
              path);
    return -1;
  }
  if (guestfs_rm_f (g, tmp) == -1)      /* a leftover of a crashed run */
    LF_DEBUG (1, "%s: rm -f %s: %s", fs->name, tmp, guestfs_last_error (g));
  if (upload (fs, buf, len, tmp, path) == -1)
    goto error;
  /* chown before chmod: chown clears set-user-ID bits. */
  if (old && guestfs_chown (g, (int) old->st_uid, (int) old->st_gid, tmp) == -1) {
    gerror (H (fs), "%s: %s: keeping the owner", fs->name, path);
    goto error;
  }
  if (guestfs_chmod (g, (int) ((old ? (uint32_t) old->st_mode : mode) & 07777),
                     tmp) == -1) {
    gerror (H (fs), "%s: %s: setting the mode", fs->name, path);
    goto error;
  }
  if (guestfs_sync (g) == -1) {
    gerror (H (fs), "%s: sync before replacing %s", fs->name, path);
    goto error;
  }
  if (guestfs_rename (g, tmp, p) == -1) {
    gerror (H (fs), "%s: rename to %s", fs->name, path);
    goto error;
  }
  guestfs_free_statns (old);
  if (guestfs_sync (g) == -1) {
    gerror (H (fs), "%s: sync after replacing %s", fs->name, path);
    return -1;
  }
  return 0;
 error:
  guestfs_free_statns (old);
  (void) guestfs_rm_f (g, tmp);
  return -1;
}

static int
gfs_mkdir (struct lf_fs *fs, const char *path, uint32_t mode)
{
  CLEANUP_FREE char *p = full_path (fs, path);

  if (!p)
    return -1;
  /* mkdir_mode is subject to the appliance's umask: chmod makes it exact. */
  if (guestfs_mkdir_mode (G (fs), p, (int) (mode & 07777)) == -1 ||
      guestfs_chmod (G (fs), (int) (mode & 07777), p) == -1) {
    gerror (H (fs), "%s: mkdir %s", fs->name, path);
    return -1;
  }
  return 0;
}

static int
gfs_rename (struct lf_fs *fs, const char *from, const char *to)
{
  CLEANUP_FREE char *pf = full_path (fs, from);
  CLEANUP_FREE char *pt = pf ? full_path (fs, to) : NULL;

  if (!pf || !pt)
    return -1;
  if (guestfs_rename (G (fs), pf, pt) == -1 || guestfs_sync (G (fs)) == -1) {
    gerror (H (fs), "%s: rename %s to %s", fs->name, from, to);
    return -1;
  }
  return 0;
}

static int
gfs_remove (struct lf_fs *fs, const char *path)
{
  CLEANUP_FREE char *p = full_path (fs, path);
  struct lf_stat st;
  int r;

  if (!p || lf_fs_lstat_by_lookup (fs, path, &st) == -1)
    return -1;
  if (strcmp (path, "/") == 0) {
    lf_error (EINVAL, "%s: cannot remove the root", fs->name);
    return -1;
  }
  /* rm is unlink(2): a symlink goes, not what it points to. */
  r = S_ISDIR (st.mode) ? guestfs_rmdir (G (fs), p) : guestfs_rm (G (fs), p);
  if (r == -1 || guestfs_sync (G (fs)) == -1) {
    gerror (H (fs), "%s: remove %s", fs->name, path);
    return -1;
  }
  return 0;
}

static int
gfs_symlink (struct lf_fs *fs, const char *target, const char *path)
{
  CLEANUP_FREE char *p = full_path (fs, path);

  if (!p)
    return -1;
  /* TARGET is stored as given: it is resolved in the guest, never here. */
  if (guestfs_ln_s (G (fs), target, p) == -1 || guestfs_sync (G (fs)) == -1) {
    gerror (H (fs), "%s: symlink %s -> %s", fs->name, path, target);
    return -1;
  }
  return 0;
}

static int
gfs_sync (struct lf_fs *fs)
{
  if (guestfs_sync (G (fs)) == -1) {
    gerror (H (fs), "%s: sync", fs->name);
    return -1;
  }
  return 0;
}

static void
gfs_close (struct lf_fs *fs)
{
  struct gfs *p = fs->priv;

  if (p) {
    if (p->mounted && guestfs_umount (p->h->g, p->mp) == -1)
      LF_DEBUG (1, "%s: umount %s: %s", fs->name, p->mp,
                guestfs_last_error (p->h->g));
    unref (p->h);
    free (p->device);
    free (p);
  }
  free (fs->name);
  free (fs);
}

static const struct lf_fs_ops gfs_ops_ro = {
  .name = "guestfs",
  .lstat = lf_fs_lstat_by_lookup, .lookup = gfs_lookup,
  .readlink = gfs_readlink, .read = gfs_read,
  .list = gfs_list, .close = gfs_close,
};

static const struct lf_fs_ops gfs_ops_rw = {
  .name = "guestfs",
  .lstat = lf_fs_lstat_by_lookup, .lookup = gfs_lookup,
  .readlink = gfs_readlink, .read = gfs_read,
  .list = gfs_list, .write_atomic = gfs_write_atomic, .mkdir = gfs_mkdir,
  .rename = gfs_rename, .remove = gfs_remove, .symlink = gfs_symlink,
  .sync = gfs_sync, .close = gfs_close,
};

struct lf_fs *
lf_fs_open_guestfs (struct lf_guestfs *h, const char *device, bool writable)
{
  return lf_fs_open_guestfs_subvol (h, device, NULL, writable);
}

struct lf_fs *
lf_fs_open_guestfs_subvol (struct lf_guestfs *h, const char *device,
                           const char *subvol, bool writable)
{
  struct lf_fs *fs = NULL;
  struct gfs *p = NULL;
  int r;

  if (writable && h->any_readonly) {
    /* libguestfs would write into a throwaway overlay, and say nothing. */
    lf_error (EROFS, "%s: the disks were given to libguestfs read-only",
              device);
    return NULL;
  }
  if (lf_guestfs_launch (h) == -1)
    return NULL;
  fs = calloc (1, sizeof *fs);
  p = calloc (1, sizeof *p);
  if (!fs || !p || !(p->device = strdup (device)) ||
      asprintf (&fs->name, "%s (guestfs)", device) == -1) {
    if (fs)
      fs->name = NULL;
    lf_error (ENOMEM, "out of memory");
    goto error;
  }
  p->h = h;
  h->refs++;
  fs->priv = p;
  fs->ops = writable ? &gfs_ops_rw : &gfs_ops_ro;
  fs->writable = writable;

  /* Mount points in the appliance's own root, never over it. */
  if (!h->have_lf_dir) {
    if (guestfs_mkmountpoint (h->g, "/lf") == -1) {
      gerror (h, "%s: libguestfs: mkmountpoint /lf", device);
      goto error;
    }
    h->have_lf_dir = true;
  }
  snprintf (p->mp, sizeof p->mp, "/lf/%u", h->next_mp++);
  if (guestfs_mkmountpoint (h->g, p->mp) == -1) {
    gerror (h, "%s: libguestfs: mkmountpoint %s", device, p->mp);
    goto error;
  }
  /* "" is no subvolume: only btrfs knows the option. */
  if (subvol && *subvol) {
    CLEANUP_FREE char *opts = NULL;
    if (strchr (subvol, ',') ||
        asprintf (&opts, "%ssubvol=%s", writable ? "" : "ro,", subvol) == -1) {
      opts = NULL;
      lf_error (EINVAL, "%s: btrfs subvolume '%s': cannot be mounted by name",
                device, subvol);
      goto error;
    }
    r = guestfs_mount_options (h->g, opts, device, p->mp);
  }
  else
    r = writable ? guestfs_mount (h->g, device, p->mp)
      : guestfs_mount_ro (h->g, device, p->mp);
  if (r == -1 && !writable) {
    /* XFS with a dirty log will not mount read-only without norecovery
     * (the drive is read-only to the appliance).
     */
    CLEANUP_FREE char *type = guestfs_vfs_type (h->g, device);
    if (type && strcmp (type, "xfs") == 0) {
      LF_DEBUG (1, "%s: mount_ro failed (%s); trying norecovery", device,
                guestfs_last_error (h->g));
      r = guestfs_mount_options (h->g, "ro,norecovery", device, p->mp);
    }
  }
  if (r == -1) {
    gerror (h, "%s: libguestfs could not mount it%s", device,
            writable ? "" : " read-only");
    goto error;
  }
  p->mounted = true;
  LF_DEBUG (1, "%s%s%s mounted at %s in the appliance%s", device,
            subvol && *subvol ? " subvol=" : "", subvol ? subvol : "", p->mp,
            writable ? ", writable" : "");
  return fs;
 error:
  if (fs && p && p->h)
    gfs_close (fs);
  else {
    if (p)
      free (p->device);
    free (p);
    if (fs)
      free (fs->name);
    free (fs);
  }
  return NULL;
}

#else /* !HAVE_LIBGUESTFS */

/* Built without libguestfs: every entry point says so. */
#define NO_GUESTFS(what)                                                  \
  lf_error (ENOTSUP, "%s: landfall was built without libguestfs "         \
            "(install libguestfs-dev and rebuild)", (what))

bool
lf_guestfs_available (void)
{
  return false;
}

struct lf_guestfs *
lf_guestfs_new (void)
{
  NO_GUESTFS ("libguestfs backend");
  return NULL;
}

int
lf_guestfs_add_disk (struct lf_guestfs *h, const char *path,
                     const char *format, bool readonly)
{
  (void) h; (void) format; (void) readonly;
  NO_GUESTFS (path);
  return -1;
}

int
lf_guestfs_launch (struct lf_guestfs *h)
{
  (void) h;
  NO_GUESTFS ("libguestfs appliance");
  return -1;
}

int
lf_guestfs_filesystems (struct lf_guestfs *h, struct lf_guestfs_fs **ret,
                        size_t *n)
{
  (void) h;
  *ret = NULL;
  *n = 0;
  NO_GUESTFS ("libguestfs appliance");
  return -1;
}

char *
lf_guestfs_open_luks (struct lf_guestfs *h, const char *device,
                      const char *key, const char *name)
{
  (void) h; (void) key; (void) name;
  NO_GUESTFS (device);
  return NULL;
}

struct lf_fs *
lf_fs_open_guestfs_subvol (struct lf_guestfs *h, const char *device,
                           const char *subvol, bool writable)
{
  (void) subvol;
  return lf_fs_open_guestfs (h, device, writable);
}

struct lf_fs *
lf_fs_open_guestfs (struct lf_guestfs *h, const char *device, bool writable)
{
  (void) h; (void) writable;
  NO_GUESTFS (device);
  return NULL;
}

void
lf_guestfs_close (struct lf_guestfs *h)
{
  (void) h;
}

#endif /* !HAVE_LIBGUESTFS */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall supervisor/: disks named as the platform attaches them.
 *
 * A helper VM on Azure gets the replicated disks as data disks at LUNs of
 * its second SCSI controller (or as NVMe namespaces on Azure Boost sizes);
 * the order in which the kernel names them sdX is not stable, and a wrong
 * guess fixes the wrong disk.  A job may therefore name a disk
 *
 *   lun:N                 LUN N of the SCSI controller that is not the
 *                         system's own (the one holding the appliance's
 *                         boot disk, or "/" on a workstation)
 *   lun:H:N               LUN N of SCSI host H (where there are several)
 *   nvme:N                NVMe namespace id N
 *   serial:S              the disk whose serial number is S
 *   /dev/disk/azure/scsi1/lunN   Azure's own name for lun:N
 *   /dev/disk/by-id/...   resolved by the serial it ends with when no udev
 *                         made the link (the appliance has no udev)
 *
 * and the appliance, which has no udev, resolves them from sysfs.  The
 * scan reads plain files under a root directory so that tests give a fake
 * tree; resolution is a pure function of the scan.  sysfs is the
 * kernel's, but its values are still read bounded and checked: a device
 * model string or a VPD page comes from the (virtual) hardware.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/common.h"
#include "supervisor/job.h"

static bool
parse_ulong (const char *s, unsigned long max, unsigned long *ret)
{
  unsigned long v = 0;

  if (!*s || strlen (s) > 10)
    return false;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return false;
    v = v * 10 + (unsigned long) (*s - '0');
  }
  if (v > max)
    return false;
  *ret = v;
  return true;
}

/* Fill SPEC from S; false if S is not a well-formed disk name. */
static bool
spec_parse (const char *s, struct lf_disk_spec *spec)
{
  char buf[LF_DISK_MAX_SPEC + 1];
  unsigned long a, b;

  memset (spec, 0, sizeof *spec);
  spec->host = -1;
  if (strlen (s) > LF_DISK_MAX_SPEC)
    return false;
  snprintf (buf, sizeof buf, "%s", s);
  if (strncmp (buf, "lun:", 4) == 0) {
    char *c = strchr (buf + 4, ':');
    spec->kind = LF_DISK_LUN;
    if (c) {
      *c = '\0';
      if (!parse_ulong (buf + 4, LF_DISK_MAX_HOST, &a) ||
          !parse_ulong (c + 1, LF_DISK_MAX_LUN, &b))
        return false;
      spec->host = (long) a;
      spec->num = b;
      return true;
    }
    if (!parse_ulong (buf + 4, LF_DISK_MAX_LUN, &b))
      return false;
    spec->num = b;
    return true;
  }
  if (strncmp (buf, "/dev/disk/azure/scsi1/lun", 25) == 0) {
    spec->kind = LF_DISK_LUN;
    if (!parse_ulong (buf + 25, LF_DISK_MAX_LUN, &b))
      return false;
    spec->num = b;
    return true;
  }
  if (strncmp (buf, "nvme:", 5) == 0) {
    spec->kind = LF_DISK_NVME;
    return parse_ulong (buf + 5, LF_DISK_MAX_NSID, &spec->num) && spec->num > 0;
  }
  const char *ser = NULL;
  if (strncmp (buf, "serial:", 7) == 0) {
    spec->kind = LF_DISK_SERIAL;
    ser = s + 7;
  }
  else if (strncmp (buf, "/dev/disk/by-id/", 16) == 0) {
    spec->kind = LF_DISK_BYID;
    ser = s + 16;
  }
  if (!ser)
    return false;
  if (!*ser || strlen (ser) >= sizeof spec->text)
    return false;
  for (const char *c = ser; *c; c++)
    if ((unsigned char) *c <= 0x20 || (unsigned char) *c >= 0x7f || *c == '/')
      return false;
  snprintf (spec->text, sizeof spec->text, "%s", ser);
  return true;
}

bool
lf_disk_spec_is (const char *s)
{
  return strncmp (s, "lun:", 4) == 0 || strncmp (s, "nvme:", 5) == 0 ||
    strncmp (s, "serial:", 7) == 0 || strncmp (s, "/dev/disk/", 10) == 0;
}

int
lf_disk_spec_parse (const char *s, struct lf_disk_spec *spec)
{
  if (strncmp (s, "/dev/disk/", 10) == 0 &&
      strncmp (s, "/dev/disk/by-id/", 16) != 0 &&
      strncmp (s, "/dev/disk/azure/scsi1/lun", 25) != 0) {
    /* by-uuid, by-path...: udev's links, taken as they are where udev
     * runs; nothing in sysfs says which disk they would name.
     */
    memset (spec, 0, sizeof *spec);
    spec->kind = LF_DISK_PATH;
    spec->host = -1;
    return 0;
  }
  if (!spec_parse (s, spec)) {
    lf_error (EINVAL, "'%.80s' is not a disk name: lun:N or lun:H:N (N up to "
              "%d), nvme:N (a namespace id from 1), serial:S (printable, no "
              "spaces), /dev/disk/by-id/NAME or /dev/disk/azure/scsi1/lunN", s,
              LF_DISK_MAX_LUN);
    return -1;
  }
  return 0;
}

/* ---- The scan --------------------------------------------------------- */

/* At most MAX bytes of ROOT/REL, NUL-terminated; its length or -1. */
static ssize_t
read_small (const char *root, const char *rel, char *buf, size_t max)
{
  char path[PATH_MAX];
  int fd;
  ssize_t n;

  snprintf (path, sizeof path, "%s/%s", strcmp (root, "/") ? root : "", rel);
  if ((fd = open (path, O_RDONLY | O_CLOEXEC)) == -1)
    return -1;
  n = read (fd, buf, max - 1);
  close (fd);
  if (n < 0)
    return -1;
  buf[n] = '\0';
  return n;
}

/* S trimmed of blanks and control bytes at both ends into OUT; anything
 * not printable ASCII inside makes it "" (no serial rather than a wrong
 * one: a serial is matched exactly).
 */
static void
clean_serial (const char *s, size_t len, char *out, size_t outlen)
{
  while (len > 0 && ((unsigned char) *s <= 0x20 || (unsigned char) *s >= 0x7f))
    s++, len--;
  while (len > 0 && ((unsigned char) s[len - 1] <= 0x20 ||
                     (unsigned char) s[len - 1] >= 0x7f))
    len--;
  out[0] = '\0';
  if (len == 0 || len >= outlen)
    return;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char) s[i] <= 0x20 || (unsigned char) s[i] >= 0x7f)
      return;
  memcpy (out, s, len);
  out[len] = '\0';
}

/* Decimal digits at *P, at most MAX, into *V; *P moves past them.
 * (sscanf's %d is undefined on overflow; sysfs text is checked anyway.)
 */
static bool
digits (const char **p, unsigned long long max, unsigned long long *v)
{
  const char *s = *p;
  unsigned long long x = 0;

  if (*s < '0' || *s > '9')
    return false;
  for (; *s >= '0' && *s <= '9'; s++) {
    if (x > (max - (unsigned long long) (*s - '0')) / 10)
      return false;
    x = x * 10 + (unsigned long long) (*s - '0');
  }
  *p = s;
  *v = x;
  return true;
}

/* "H:C:T:L", each part bounded, nothing after. */
static bool
scsi_address (const char *s, struct lf_blockdev *d)
{
  unsigned long long h, c, t, l;
  if (!digits (&s, INT_MAX, &h) || *s++ != ':' ||
      !digits (&s, INT_MAX, &c) || *s++ != ':' ||
      !digits (&s, INT_MAX, &t) || *s++ != ':' ||
      !digits (&s, LF_DISK_MAX_LUN, &l) || *s)
    return false;
  d->host = (int) h;
  d->channel = (int) c;
  d->target = (int) t;
  d->lun = (unsigned long) l;
  return true;
}

static void
scan_one (const char *root, const char *name, struct lf_blockdev *d)
{
  char rel[PATH_MAX], buf[512], link[PATH_MAX];
  ssize_t n;
  unsigned long long sectors, v;
  const char *p;

  memset (d, 0, sizeof *d);
  snprintf (d->name, sizeof d->name, "%s", name);
  d->host = d->nvme_ctrl = -1;
  snprintf (rel, sizeof rel, "sys/class/block/%s/size", name);
  p = buf;
  if (read_small (root, rel, buf, sizeof buf) > 0 &&
      digits (&p, UINT64_MAX / 512, &sectors) && (*p == '\n' || !*p))
    d->size = sectors * 512;

  /* SCSI (storvsc, virtio-scsi, libata too): the device directory is
   * named by its address, host:channel:target:lun.
   */
  snprintf (rel, sizeof rel, "%s/sys/class/block/%s/device",
            strcmp (root, "/") ? root : "", name);
  if (realpath (rel, link)) {
    const char *base = strrchr (link, '/');
    base = base ? base + 1 : link;
    if (!scsi_address (base, d))
      d->host = -1;
  }
  /* nvmeCnN: controller C, namespace N (the nsid attribute, where the
   * kernel has it, is the authority).
   */
  unsigned long long ctrl, ns;
  p = name + 4;
  if (strncmp (name, "nvme", 4) == 0 && digits (&p, INT_MAX, &ctrl) &&
      *p++ == 'n' && digits (&p, LF_DISK_MAX_NSID, &ns) && !*p) {
    d->nvme_ctrl = (int) ctrl;
    d->nsid = (unsigned long) ns;
    snprintf (rel, sizeof rel, "sys/class/block/%s/nsid", name);
    p = buf;
    if (read_small (root, rel, buf, sizeof buf) > 0 &&
        digits (&p, LF_DISK_MAX_NSID, &v) && (*p == '\n' || !*p))
      d->nsid = (unsigned long) v;
  }

  /* The serial: the SCSI unit serial number page (VPD 0x80: 4 bytes of
   * header, then the serial), virtio-blk's and NVMe's serial attributes.
   */
  snprintf (rel, sizeof rel, "sys/class/block/%s/device/vpd_pg80", name);
  if ((n = read_small (root, rel, buf, sizeof buf)) >= 4 &&
      (unsigned char) buf[1] == 0x80) {
    size_t plen = ((size_t) (unsigned char) buf[2] << 8) | (unsigned char) buf[3];
    clean_serial (buf + 4, LF_MIN (plen, (size_t) n - 4), d->serial,
                  sizeof d->serial);
  }
  const char *attrs[] = { "serial", "device/serial" };
  for (size_t i = 0; i < 2 && !d->serial[0]; i++) {
    snprintf (rel, sizeof rel, "sys/class/block/%s/%s", name, attrs[i]);
    if ((n = read_small (root, rel, buf, sizeof buf)) > 0)
      clean_serial (buf, (size_t) n, d->serial, sizeof d->serial);
  }
}

static int
cmp_dev (const void *a, const void *b)
{
  const struct lf_blockdev *x = a, *y = b;
  /* SCSI disks first, by address; the others by name. */
  if ((x->host < 0) != (y->host < 0))
    return x->host < 0 ? 1 : -1;
  if (x->host != y->host)
    return x->host < y->host ? -1 : 1;
  if (x->lun != y->lun)
    return x->lun < y->lun ? -1 : 1;
  return strcmp (x->name, y->name);
}

int
lf_blockdevs_scan (const char *root, struct lf_blockdevs *out)
{
  char dir[PATH_MAX], rel[PATH_MAX], buf[16];
  DIR *d;
  struct dirent *e;

  out->n = 0;
  out->d = NULL;
  snprintf (dir, sizeof dir, "%s/sys/class/block", strcmp (root, "/") ? root : "");
  if (!(d = opendir (dir))) {
    lf_error (errno, "%s: cannot list the block devices", dir);
    return -1;
  }
  while ((e = readdir (d)) != NULL) {
    if (e->d_name[0] == '.' || strlen (e->d_name) >= sizeof out->d->name ||
        !strncmp (e->d_name, "loop", 4) || !strncmp (e->d_name, "ram", 3) ||
        !strncmp (e->d_name, "zram", 4))
      continue;
    /* Partitions are not disks a job can name. */
    snprintf (rel, sizeof rel, "sys/class/block/%s/partition", e->d_name);
    if (read_small (root, rel, buf, sizeof buf) >= 0)
      continue;
    if (out->n >= LF_DISK_MAX_DEVICES)
      break;
    struct lf_blockdev *nd = realloc (out->d, (out->n + 1) * sizeof *nd);
    if (!nd) {
      closedir (d);
      lf_blockdevs_free (out);
      lf_error (ENOMEM, "out of memory");
      return -1;
    }
    out->d = nd;
    scan_one (root, e->d_name, &out->d[out->n++]);
  }
  closedir (d);
  if (out->n)
    qsort (out->d, out->n, sizeof *out->d, cmp_dev);
  return 0;
}

void
lf_blockdevs_free (struct lf_blockdevs *devs)
{
  free (devs->d);
  devs->d = NULL;
  devs->n = 0;
}

const struct lf_blockdev *
lf_blockdevs_find (const struct lf_blockdevs *devs, const char *name)
{
  for (size_t i = 0; i < devs->n; i++)
    if (strcmp (devs->d[i].name, name) == 0)
      return &devs->d[i];
  return NULL;
}

json_t *
lf_blockdevs_json (const struct lf_blockdevs *devs, long own_host)
{
  json_t *a = json_array ();

  for (size_t i = 0; a && i < devs->n; i++) {
    const struct lf_blockdev *d = &devs->d[i];
    char dev[80];
    snprintf (dev, sizeof dev, "/dev/%s", d->name);
    json_t *o = json_pack ("{s:s, s:I, s:s}", "device", dev, "size",
                           (json_int_t) d->size, "serial", d->serial);
    if (!o)
      continue;
    if (d->host >= 0) {
      char addr[64];
      snprintf (addr, sizeof addr, "%d:%d:%d:%lu", d->host, d->channel,
                d->target, d->lun);
      json_object_set_new (o, "scsi", json_string (addr));
      json_object_set_new (o, "lun", json_integer ((json_int_t) d->lun));
      if (d->host == own_host)
        json_object_set_new (o, "own_controller", json_true ());
    }
    if (d->nvme_ctrl >= 0)
      json_object_set_new (o, "nvme_namespace", json_integer ((json_int_t) d->nsid));
    json_array_append_new (a, o);
  }
  return a;
}

void
lf_blockdev_describe (const struct lf_blockdev *d, char *buf, size_t len)
{
  char size[32], where[64] = "";

  if (d->host >= 0)
    snprintf (where, sizeof where, " scsi %d:%d:%d:%lu", d->host, d->channel,
              d->target, d->lun);
  else if (d->nvme_ctrl >= 0)
    snprintf (where, sizeof where, " nvme%d namespace %lu", d->nvme_ctrl, d->nsid);
  snprintf (buf, len, "/dev/%s%s, %s%s%s", d->name, where,
            lf_human_size (d->size, size, sizeof size),
            d->serial[0] ? ", serial " : "", d->serial);
}

/* ---- Resolution ------------------------------------------------------- */

/* "host2: 0 1 3; host3: 0" -- what lun:N could have named. */
static void
luns_seen (const struct lf_blockdevs *devs, long own_host, char *buf, size_t len)
{
  size_t off = 0;
  long last = -2;

  buf[0] = '\0';
  for (size_t i = 0; i < devs->n && off < len; i++) {
    const struct lf_blockdev *d = &devs->d[i];
    if (d->host < 0)
      continue;
    int w;
    if (d->host != last)
      w = snprintf (buf + off, len - off, "%shost%d%s: %lu", off ? "; " : "",
                    d->host, d->host == own_host ? " (the system's own)" : "",
                    d->lun);
    else
      w = snprintf (buf + off, len - off, " %lu", d->lun);
    if (w < 0)
      break;
    off += (size_t) w;
    last = d->host;
  }
  if (!buf[0])
    snprintf (buf, len, "no SCSI disk at all");
}

static void
serials_seen (const struct lf_blockdevs *devs, char *buf, size_t len)
{
  size_t off = 0;

  buf[0] = '\0';
  for (size_t i = 0; i < devs->n && off < len; i++) {
    int w = snprintf (buf + off, len - off, "%s%s=%s", off ? ", " : "",
                      devs->d[i].name, devs->d[i].serial[0] ? devs->d[i].serial
                      : "(none)");
    if (w < 0)
      break;
    off += (size_t) w;
  }
  if (!buf[0])
    snprintf (buf, len, "no disk at all");
}

/* Does the by-id name end with SERIAL after a '-' or '_' (how udev forms
 * scsi-0QEMU_QEMU_HARDDISK_SERIAL, virtio-SERIAL, nvme-MODEL_SERIAL)?
 */
static bool
byid_matches (const char *name, const char *serial)
{
  size_t n = strlen (name), s = strlen (serial);
  return s > 0 && n > s && strcmp (name + n - s, serial) == 0 &&
    (name[n - s - 1] == '-' || name[n - s - 1] == '_');
}

int
lf_disk_spec_resolve (const struct lf_blockdevs *devs, const char *s,
                      long own_host, char *name, size_t len)
{
  struct lf_disk_spec spec;
  const struct lf_blockdev *hit = NULL;
  size_t nhits = 0;
  char seen[1024], hits[256] = "";

  if (lf_disk_spec_parse (s, &spec) == -1)
    return -1;
  if (spec.kind == LF_DISK_PATH) {
    lf_error (EINVAL, "%.80s: udev's name, and no udev made it here: name the "
              "disk lun:N, nvme:N, serial:S or /dev/disk/by-id/NAME", s);
    return -1;
  }
  for (size_t i = 0; i < devs->n; i++) {
    const struct lf_blockdev *d = &devs->d[i];
    bool m = false;
    switch (spec.kind) {
    case LF_DISK_LUN:
      m = d->host >= 0 && d->lun == spec.num &&
        (spec.host >= 0 ? d->host == spec.host : d->host != own_host);
      break;
    case LF_DISK_NVME:
      m = d->nvme_ctrl >= 0 && d->nsid == spec.num;
      break;
    case LF_DISK_SERIAL:
      m = d->serial[0] && strcmp (d->serial, spec.text) == 0;
      break;
    case LF_DISK_BYID:
      m = byid_matches (spec.text, d->serial);
      break;
    case LF_DISK_PATH:
      break;
    }
    if (m) {
      size_t o = strlen (hits);
      snprintf (hits + o, sizeof hits - o, "%s/dev/%s", nhits ? ", " : "", d->name);
      hit = d;
      nhits++;
    }
  }
  if (nhits == 1) {
    snprintf (name, len, "/dev/%s", hit->name);
    return 0;
  }
  if (spec.kind == LF_DISK_LUN)
    luns_seen (devs, own_host, seen, sizeof seen);
  if (spec.kind == LF_DISK_NVME) {
    size_t off = 0;
    seen[0] = '\0';
    for (size_t i = 0; i < devs->n && off < sizeof seen; i++)
      if (devs->d[i].nvme_ctrl >= 0) {
        int w = snprintf (seen + off, sizeof seen - off, "%s%s=%lu",
                          off ? ", " : "", devs->d[i].name, devs->d[i].nsid);
        if (w < 0)
          break;
        off += (size_t) w;
      }
    if (!seen[0])
      snprintf (seen, sizeof seen, "no NVMe namespace at all");
  }
  else if (spec.kind != LF_DISK_LUN)
    serials_seen (devs, seen, sizeof seen);
  if (nhits == 0)
    lf_error (ENOENT, "%s: no such disk (%s: %s)", s,
              spec.kind == LF_DISK_LUN ? "LUNs seen"
              : spec.kind == LF_DISK_NVME ? "namespaces seen" : "serials seen",
              seen);
  else
    lf_error (EEXIST, "%s: ambiguous: %zu disks match (%s)%s", s, nhits, hits,
              spec.kind == LF_DISK_LUN && spec.host < 0
              ? ": name the controller too, lun:H:N" : "");
  return -1;
}

long
lf_disk_own_host (const struct lf_blockdevs *devs, const char *own_disk)
{
  const char *n = own_disk;
  if (!n || !*n)
    return -1;
  if (strncmp (n, "/dev/", 5) == 0)
    n += 5;
  const struct lf_blockdev *d = lf_blockdevs_find (devs, n);
  return d ? d->host : -1;
}

/* The whole disk's name ("sda") for the sysfs directory SYSDIR of a disk
 * or of one of its partitions; "" if SYSDIR does not resolve.
 */
void
lf_sysfs_disk_name (const char *sysdir, char *name, size_t len)
{
  char real[PATH_MAX], part[PATH_MAX + 16];

  name[0] = '\0';
  if (!realpath (sysdir, real))
    return;
  /* A partition's directory sits inside its disk's. */
  snprintf (part, sizeof part, "%s/partition", real);
  if (access (part, F_OK) == 0) {
    char *slash = strrchr (real, '/');
    if (slash)
      *slash = '\0';
  }
  const char *base = strrchr (real, '/');
  snprintf (name, len, "%s", base ? base + 1 : real);
}

/* The whole disk holding ROOT's "/" (a workstation's system disk), from
 * /sys/dev/block/MAJ:MIN; "" when "/" is not on a disk (the appliance's
 * initramfs).
 */
void
lf_disk_of_root (const char *root, char *name, size_t len)
{
  struct stat st;
  char rel[PATH_MAX];

  name[0] = '\0';
  if (stat ("/", &st) == -1 || major (st.st_dev) == 0)
    return;
  snprintf (rel, sizeof rel, "%s/sys/dev/block/%u:%u", strcmp (root, "/") ? root : "",
            major (st.st_dev), minor (st.st_dev));
  lf_sysfs_disk_name (rel, name, len);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall guest/: is a disk we are about to write in use by the kernel?
 *
 * Writing a block device under a mounted filesystem corrupts it: the
 * kernel caches metadata and writes it back over ours (and ours under its
 * feet).  So before a disk is opened for writing, every way the kernel
 * can be using its bytes is looked for, and the first found is an error
 * naming it (the mount point, the swap, the holder):
 *
 *  - the device and each of its partitions (sysfs), compared by
 *    major:minor with /proc/self/mountinfo, /proc/swaps and their
 *    holders/ directories (device-mapper, md);
 *  - the same bytes under another name: every loop device backed by the
 *    same file (the disk is a loop device, or an image file) over an
 *    overlapping range, e.g. `losetup -o` of a partition, which the
 *    kernel does not know is part of the disk;
 *  - finally, for a block device, an exclusive open (O_EXCL), which fails
 *    while anything in the kernel claims it or a partition: a mount in
 *    another mount namespace, which our mountinfo does not show, too.
 *
 * Mounts landfall made itself in this process (LANDFALL_MOUNT=kernel, the
 * appliance: lf_fs_open_kernel) are its own business and allowed: they
 * are recognised by mount point, which only this process registered, not
 * by a path prefix that another landfall (or anyone) could also use.
 */
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

#include "guest/guest.h"

#define INUSE_MAX_DEVS 256

struct devset {
  dev_t dev[INUSE_MAX_DEVS];
  char why[INUSE_MAX_DEVS][256]; /* how it relates to the disk */
  size_t n;
};

static void
devset_add (struct devset *s, dev_t d, const char *why)
{
  for (size_t i = 0; i < s->n; i++)
    if (s->dev[i] == d)
      return;
  if (s->n == INUSE_MAX_DEVS)
    return;
  s->dev[s->n] = d;
  snprintf (s->why[s->n], sizeof s->why[s->n], "%s", why);
  s->n++;
}

static const char *
devset_find (const struct devset *s, dev_t d)
{
  for (size_t i = 0; i < s->n; i++)
    if (s->dev[i] == d)
      return s->why[i];
  return NULL;
}

/* First line of a sysfs file, without its newline; -1 if unreadable. */
static int
read_line (const char *path, char *buf, size_t size)
{
  FILE *fp = fopen (path, "re");
  int r = -1;

  if (!fp)
    return -1;
  if (fgets (buf, (int) size, fp)) {
    buf[strcspn (buf, "\n")] = '\0';
    r = 0;
  }
  fclose (fp);
  return r;
}

static bool
parse_devno (const char *s, dev_t *d)
{
  unsigned ma, mi;
  char end;

  if (sscanf (s, "%u:%u%c", &ma, &mi, &end) != 2)
    return false;
  *d = makedev (ma, mi);
  return true;
}

/* The kernel name ("loop1", "sda2") of device D, from sysfs. */
static void
dev_name (dev_t d, char *buf, size_t size)
{
  char link[64], target[PATH_MAX];
  ssize_t n;

  snprintf (link, sizeof link, "/sys/dev/block/%u:%u", major (d), minor (d));
  n = readlink (link, target, sizeof target - 1);
  if (n <= 0) {
    snprintf (buf, size, "%u:%u", major (d), minor (d));
    return;
  }
  target[n] = '\0';
  const char *base = strrchr (target, '/');
  snprintf (buf, size, "%.40s", base ? base + 1 : target);
}

/* D's partitions: the children of its sysfs directory with a partition
 * file (sda1, nvme0n1p2, loop0p1).
 */
static void
add_partitions (struct devset *s, dev_t d, const char *whose)
{
  char dir[64];
  DIR *dp;
  struct dirent *e;

  snprintf (dir, sizeof dir, "/sys/dev/block/%u:%u", major (d), minor (d));
  if (!(dp = opendir (dir)))
    return;
  while ((e = readdir (dp)) != NULL) {
    char path[400], buf[32], why[256];
    dev_t pd;
    if (e->d_name[0] == '.')
      continue;
    snprintf (path, sizeof path, "%s/%s/partition", dir, e->d_name);
    if (access (path, F_OK) == -1)
      continue;
    snprintf (path, sizeof path, "%s/%s/dev", dir, e->d_name);
    if (read_line (path, buf, sizeof buf) == -1 || !parse_devno (buf, &pd))
      continue;
    snprintf (why, sizeof why, "its partition /dev/%.40s%s", e->d_name, whose);
    devset_add (s, pd, why);
  }
  closedir (dp);
}

/* The file behind loop device D and the range of it D shows; false if D
 * is not a loop device (or its file is gone).
 */
static bool
loop_backing (dev_t d, struct stat *file, uint64_t *off, uint64_t *end,
              char *path, size_t size)
{
  char base[64], p[128], buf[32];
  uint64_t limit = 0;

  snprintf (base, sizeof base, "/sys/dev/block/%u:%u/loop", major (d),
            minor (d));
  snprintf (p, sizeof p, "%s/backing_file", base);
  if (read_line (p, path, size) == -1 || stat (path, file) == -1)
    return false;
  *off = 0;
  snprintf (p, sizeof p, "%s/offset", base);
  if (read_line (p, buf, sizeof buf) == 0)
    *off = strtoull (buf, NULL, 10);
  snprintf (p, sizeof p, "%s/sizelimit", base);
  if (read_line (p, buf, sizeof buf) == 0)
    limit = strtoull (buf, NULL, 10);
  *end = limit == 0 || limit > UINT64_MAX - *off ? UINT64_MAX : *off + limit;
  return true;
}

/* Every loop device over FILE's bytes [OFF, END), with its partitions. */
static void
add_loop_aliases (struct devset *s, const struct stat *file, uint64_t off,
                  uint64_t end)
{
  DIR *dp = opendir ("/sys/block");
  struct dirent *e;

  if (!dp)
    return;
  while ((e = readdir (dp)) != NULL) {
    char p[300], buf[32], bpath[PATH_MAX], why[256];
    struct stat bst;
    uint64_t boff, bend;
    dev_t d;
    if (strncmp (e->d_name, "loop", 4) != 0)
      continue;
    snprintf (p, sizeof p, "/sys/block/%s/dev", e->d_name);
    if (read_line (p, buf, sizeof buf) == -1 || !parse_devno (buf, &d) ||
        !loop_backing (d, &bst, &boff, &bend, bpath, sizeof bpath))
      continue;
    if (bst.st_dev != file->st_dev || bst.st_ino != file->st_ino ||
        boff >= end || off >= bend)
      continue;
    snprintf (why, sizeof why, "/dev/%.40s (a loop device over the same "
              "bytes: offset %" PRIu64 " of %.100s)", e->d_name, boff, bpath);
    devset_add (s, d, why);
    add_partitions (s, d, " of it");
  }
  closedir (dp);
}

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void
unescape (char *s)
{
  char *o = s;

  for (; *s; s++) {
    if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
        s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
      *o++ = (char) ((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
      s += 3;
    }
    else
      *o++ = *s;
  }
  *o = '\0';
}

/* A mount of a device in S that is not one of ours: the error, -1. */
static int
check_mounts (const char *path, const struct devset *s, bool *ours)
{
  FILE *fp = fopen ("/proc/self/mountinfo", "re");
  char *line = NULL;
  size_t cap = 0;
  int r = 0;

  *ours = false;
  if (!fp)
    return 0;                   /* no /proc: the O_EXCL open still checks */
  while (r == 0 && getline (&line, &cap, fp) != -1) {
    /* id parent major:minor root mount-point options ... */
    char devno[32], mp[PATH_MAX];
    const char *why;
    dev_t d;
    if (sscanf (line, "%*u %*u %31s %*s %4095s", devno, mp) != 2 ||
        !parse_devno (devno, &d) || !(why = devset_find (s, d)))
      continue;
    unescape (mp);
    if (lf_kernel_mount_is_ours (mp)) {
      *ours = true;
      continue;
    }
    lf_error (EBUSY, "%s: %s is mounted on %s: landfall does not write a "
              "disk the kernel is using (unmount it first)", path, why, mp);
    r = -1;
  }
  free (line);
  fclose (fp);
  return r;
}

static int
check_swaps (const char *path, const struct devset *s)
{
  FILE *fp = fopen ("/proc/swaps", "re");
  char *line = NULL;
  size_t cap = 0;
  int r = 0;

  if (!fp)
    return 0;
  while (r == 0 && getline (&line, &cap, fp) != -1) {
    char name[PATH_MAX];
    struct stat st;
    const char *why;
    if (sscanf (line, "%4095s", name) != 1 || name[0] != '/')
      continue;
    unescape (name);
    if (stat (name, &st) == -1 || !S_ISBLK (st.st_mode) ||
        !(why = devset_find (s, st.st_rdev)))
      continue;
    lf_error (EBUSY, "%s: %s is in use as swap (%s): landfall does not "
              "write a disk the kernel is using (swapoff it first)", path,
              why, name);
    r = -1;
  }
  free (line);
  fclose (fp);
  return r;
}

/* device-mapper, md, bcache...: a holder maps the device's bytes. */
static int
check_holders (const char *path, const struct devset *s)
{
  for (size_t i = 0; i < s->n; i++) {
    char dir[80];
    DIR *dp;
    struct dirent *e;
    snprintf (dir, sizeof dir, "/sys/dev/block/%u:%u/holders",
              major (s->dev[i]), minor (s->dev[i]));
    if (!(dp = opendir (dir)))
      continue;
    while ((e = readdir (dp)) != NULL) {
      if (e->d_name[0] == '.')
        continue;
      lf_error (EBUSY, "%s: %s is held by /dev/%s (device-mapper, LVM or "
                "RAID): landfall does not write a disk the kernel is using "
                "(deactivate it first)", path, s->why[i], e->d_name);
      closedir (dp);
      return -1;
    }
    closedir (dp);
  }
  return 0;
}

int
lf_check_not_in_use (const char *path, int fd, bool *excl_ok)
{
  struct devset *s = calloc (1, sizeof *s);
  struct stat st, file;
  char bpath[PATH_MAX];
  uint64_t off, end;
  bool ours = false;
  int r = -1;

  *excl_ok = false;
  if (!s) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  if (fstat (fd, &st) == -1) {
    lf_error (errno, "%s: %m", path);
    goto out;
  }
  if (S_ISBLK (st.st_mode)) {
    devset_add (s, st.st_rdev, "it");
    add_partitions (s, st.st_rdev, "");
    if (loop_backing (st.st_rdev, &file, &off, &end, bpath, sizeof bpath))
      add_loop_aliases (s, &file, off, end);
  }
  else if (S_ISREG (st.st_mode))
    add_loop_aliases (s, &st, 0, UINT64_MAX);
  if (check_mounts (path, s, &ours) == -1 || check_swaps (path, s) == -1 ||
      check_holders (path, s) == -1)
    goto out;
  /* With a mount of our own on it, an exclusive open would fail on that:
   * the scan above is then the whole check.
   */
  *excl_ok = S_ISBLK (st.st_mode) && !ours;
  if (*excl_ok) {
    char name[64];
    int x = open (path, O_RDONLY | O_EXCL | O_CLOEXEC);
    if (x == -1 && errno == EBUSY) {
      dev_name (st.st_rdev, name, sizeof name);
      lf_error (EBUSY, "%s: the device (%s) or a partition of it is held "
                "open exclusively by the kernel or another program (a mount "
                "in another mount namespace, a RAID or device-mapper member, "
                "another landfall): landfall does not write a disk in use",
                path, name);
      goto out;
    }
    if (x == -1) {
      lf_error (errno, "%s: %m", path);
      goto out;
    }
    close (x);
  }
  r = 0;
 out:
  free (s);
  return r;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall guest/: device-mapper devices for logical volumes, so that the
 * kernel mounts a filesystem in an LV like one on a partition.  Only in
 * the appliance (LANDFALL_MOUNT=kernel): it has no lvm2 tools, and XFS,
 * which no native backend reads, lives in LVs on the RHEL family.  The
 * table is lvm.c's own reading of the metadata (inspect.c turns its
 * segments into targets over the PVs' partition nodes), made through
 * libdevmapper, which only talks to the kernel: nothing of LVM's runs.
 *
 * Names are deterministic ("lf-VG-LV"), so that a device a crashed job
 * left behind is found and removed before the next one is made; the
 * UUID prefix "LANDFALL-" marks a device as ours, and one without it is
 * never removed.  There is no udev in the appliance: no cookies, and the
 * kernel's own node (/dev/dm-N, devtmpfs) is what gets mounted.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <libdevmapper.h>
#include <linux/dm-ioctl.h>  /* DM_NAME_LEN, DM_UUID_LEN */

#include "guest/guest.h"

#define DM_UUID_PREFIX "LANDFALL-"

/* libdevmapper's messages: its errors become our error (the last one,
 * which is what its callers return on), the rest debug lines.
 */
static char dm_last[256];

static void LF_PRINTF (5, 6)
dm_log (int level, const char *file, int line, int dm_errno, const char *f,
        ...)
{
  char msg[256];
  va_list ap;

  (void) file;
  (void) line;
  va_start (ap, f);
  vsnprintf (msg, sizeof msg, f, ap);
  va_end (ap);
  if ((level & 7) <= 3) {        /* _LOG_ERR */
    snprintf (dm_last, sizeof dm_last, "%s", msg);
    (void) dm_errno;
  }
  LF_DEBUG (2, "libdevmapper: %s", msg);
}

static void
dm_init (void)
{
  static bool done;

  if (done)
    return;
  done = true;
  dm_log_with_errno_init (dm_log);
  /* No udev to wait for: libdevmapper would otherwise wait for it. */
  dm_udev_set_sync_support (0);
}

int
lf_dm_name (const char *vg, const char *lv, char *buf, size_t n)
{
  size_t o = 0, max = LF_MIN (n, (size_t) DM_NAME_LEN);
  char tmp[DM_NAME_LEN * 2 + 8];

  /* LVM's own escaping: '-' doubled, one '-' between VG and LV. */
  o = (size_t) snprintf (tmp, sizeof tmp, "lf-");
  for (const char *s = vg; *s && o < sizeof tmp - 3; s++)
    o += (size_t) snprintf (tmp + o, sizeof tmp - o, *s == '-' ? "--" : "%c", *s);
  if (o < sizeof tmp - 2)
    tmp[o++] = '-';
  for (const char *s = lv; *s && o < sizeof tmp - 3; s++)
    o += (size_t) snprintf (tmp + o, sizeof tmp - o, *s == '-' ? "--" : "%c", *s);
  tmp[o] = '\0';
  if (o >= max || o >= sizeof tmp - 3) {
    lf_error (ENAMETOOLONG, "%s/%s: too long for a device-mapper name "
              "(%zu characters at most)", vg, lv, max - 1);
    return -1;
  }
  memcpy (buf, tmp, o + 1);
  return 0;
}

int
lf_dm_table_line (const struct lf_dm_target *t, char *params, size_t n)
{
  if (snprintf (params, n, "%u:%u %" PRIu64, major (t->dev), minor (t->dev),
                t->offset) >= (int) n) {
    lf_error (ENAMETOOLONG, "device-mapper table line too long");
    return -1;
  }
  return 0;
}

/* One task on NAME; 0 when it ran.  INFO (may be NULL) gets its state. */
static int
dm_simple (int type, const char *name, struct dm_info *info, bool deferred)
{
  struct dm_task *dmt = dm_task_create (type);
  int r = -1;

  dm_last[0] = '\0';
  if (!dmt) {
    lf_error (ENOMEM, "device-mapper: no task (is dm_mod loaded?)");
    return -1;
  }
  if (!dm_task_set_name (dmt, name) ||
      (deferred && !dm_task_deferred_remove (dmt))) {
    lf_error (EINVAL, "device-mapper: %s: %s", name, dm_last);
    goto out;
  }
  if (!dm_task_run (dmt)) {
    int e = dm_task_get_errno (dmt);
    lf_error (e ? e : EIO, "device-mapper: %s %s: %s", type == DM_DEVICE_REMOVE
              ? "removing" : "looking up", name, dm_last[0] ? dm_last
              : strerror (e ? e : EIO));
    goto out;
  }
  if (info && !dm_task_get_info (dmt, info)) {
    lf_error (EIO, "device-mapper: %s: no info", name);
    goto out;
  }
  r = 0;
 out:
  dm_task_destroy (dmt);
  return r;
}

/* Is NAME (existing) ours: a UUID with our prefix?  false if it cannot
 * be told.
 */
static bool
dm_is_ours (const char *name)
{
  struct dm_task *dmt = dm_task_create (DM_DEVICE_INFO);
  bool ours = false;

  if (!dmt)
    return false;
  if (dm_task_set_name (dmt, name) && dm_task_run (dmt)) {
    const char *uuid = dm_task_get_uuid (dmt);
    ours = uuid && strncmp (uuid, DM_UUID_PREFIX, strlen (DM_UUID_PREFIX)) == 0;
  }
  dm_task_destroy (dmt);
  return ours;
}

int
lf_dm_create (const char *name, const char *uuid,
              const struct lf_dm_target *t, size_t n, bool writable,
              char *node, size_t nodesz)
{
  struct dm_task *dmt = NULL;
  struct dm_info info;
  char duuid[DM_UUID_LEN], params[64], sys[64], target[256];
  uint64_t start = 0;
  int r = -1;

  dm_init ();
  if (n == 0) {
    lf_error (EINVAL, "%s: no segments", name);
    return -1;
  }
  /* A device a crashed run left: gone before ours is made, unless it is
   * someone else's or still in use (then the create fails and says so).
   */
  if (dm_simple (DM_DEVICE_INFO, name, &info, false) == -1)
    return -1;
  if (info.exists) {
    if (!dm_is_ours (name)) {
      lf_error (EEXIST, "device-mapper: %s exists and is not landfall's",
                name);
      return -1;
    }
    if (info.open_count > 0) {
      lf_error (EBUSY, "device-mapper: %s (left by an earlier run) is still "
                "open: unmount it first", name);
      return -1;
    }
    LF_DEBUG (1, "device-mapper: removing %s, left by an earlier run", name);
    if (dm_simple (DM_DEVICE_REMOVE, name, NULL, false) == -1)
      return -1;
  }

  snprintf (duuid, sizeof duuid, DM_UUID_PREFIX "%s", uuid);
  dm_last[0] = '\0';
  if (!(dmt = dm_task_create (DM_DEVICE_CREATE))) {
    lf_error (ENOMEM, "device-mapper: no task (is dm_mod loaded?)");
    return -1;
  }
  if (!dm_task_set_name (dmt, name) || !dm_task_set_uuid (dmt, duuid) ||
      (!writable && !dm_task_set_ro (dmt))) {
    lf_error (EINVAL, "device-mapper: %s: %s", name, dm_last);
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    if (lf_dm_table_line (&t[i], params, sizeof params) == -1)
      goto out;
    LF_DEBUG (1, "device-mapper: %s: %" PRIu64 " %" PRIu64 " linear %s",
              name, start, t[i].len, params);
    if (!dm_task_add_target (dmt, start, t[i].len, "linear", params)) {
      lf_error (ENOMEM, "device-mapper: %s: %s", name, dm_last);
      goto out;
    }
    start += t[i].len;
  }
  if (!dm_task_run (dmt)) {
    int e = dm_task_get_errno (dmt);
    lf_error (e ? e : EIO, "device-mapper: creating %s: %s", name,
              dm_last[0] ? dm_last : strerror (e ? e : EIO));
    goto out;
  }
  if (!dm_task_get_info (dmt, &info) || !info.exists) {
    lf_error (EIO, "device-mapper: %s: created, but not there", name);
    goto remove;
  }
  /* The kernel's name for it, whose node devtmpfs made. */
  snprintf (sys, sizeof sys, "/sys/dev/block/%u:%u", info.major, info.minor);
  ssize_t len = readlink (sys, target, sizeof target - 1);
  if (len <= 0) {
    lf_error (errno ? errno : EIO, "%s: %s: %m", name, sys);
    goto remove;
  }
  target[len] = '\0';
  const char *base = strrchr (target, '/');
  base = base ? base + 1 : target;
  struct stat st;
  if ((size_t) snprintf (node, nodesz, "/dev/%s", base) >= nodesz ||
      stat (node, &st) == -1 || !S_ISBLK (st.st_mode) ||
      st.st_rdev != makedev (info.major, info.minor)) {
    lf_error (ENOENT, "device-mapper: %s is %u:%u, but /dev/%s is not its "
              "node", name, info.major, info.minor, base);
    goto remove;
  }
  LF_DEBUG (1, "device-mapper: %s is %s (%s, %zu segment%s)", name, node,
            writable ? "read-write" : "read-only", n, n == 1 ? "" : "s");
  r = 0;
  goto out;

 remove:
  (void) dm_simple (DM_DEVICE_REMOVE, name, NULL, false);
 out:
  dm_task_destroy (dmt);
  return r;
}

int
lf_dm_remove (const char *name)
{
  dm_init ();
  if (dm_simple (DM_DEVICE_REMOVE, name, NULL, false) == 0)
    return 0;
  /* Still open (a mount detached lazily): gone when the last user goes. */
  if (lf_last_errno () == EBUSY &&
      dm_simple (DM_DEVICE_REMOVE, name, NULL, true) == 0) {
    LF_DEBUG (1, "device-mapper: %s is busy: removed when last closed", name);
    return 0;
  }
  return -1;
}

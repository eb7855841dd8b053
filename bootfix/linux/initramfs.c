/* landfall bootfix/linux: the Hyper-V drivers in the guest's initramfs
 * images.  This file reads (for inspection and verification); injection
 * comes with the Linux fix.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bootfix.h"

const char *const lf_hyperv_modules[3] = { "hv_vmbus", "hv_storvsc",
                                           "hv_netvsc" };

/* Initramfs images of big distributions reach 100-200 MiB. */
#define INITRAMFS_READ_MAX (512 * LF_MiB)

/* The generator an image's contents show. */
static const char *
generator_of (struct lf_initramfs *img)
{
  if (lf_initramfs_lookup (img, "conf/initramfs.conf", true))
    return "initramfs-tools";
  if (lf_initramfs_lookup (img, "usr/lib/dracut", true) ||
      lf_initramfs_lookup (img, "etc/cmdline.d", true))
    return "dracut";
  if (lf_initramfs_lookup (img, "linuxrc", true) &&
      lf_initramfs_lookup (img, "run_all.sh", true))
    return "mkinitrd";
  return "unknown";
}

/* Is module FILE (a guest path such as
 * /lib/modules/KVER/kernel/drivers/hv/hv_vmbus.ko.xz) in the image, under
 * any of the compressions an image may use for it?
 */
static bool
has_module (struct lf_initramfs *img, const char *file)
{
  static const char *const exts[] = { ".ko", ".ko.xz", ".ko.zst", ".ko.gz" };
  char base[1024];
  const char *ko = strstr (file, ".ko");

  if (file[0] != '/' || !ko || ko <= file + 1 ||
      (size_t) (ko - file) >= sizeof base - 16)
    return false;
  snprintf (base, sizeof base, "%.*s", (int) (ko - file - 1), file + 1);
  for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
    char p[1100];
    snprintf (p, sizeof p, "%s%s", base, exts[i]);
    const struct lf_initramfs_entry *e = lf_initramfs_lookup (img, p, true);
    if (e && S_ISREG (e->mode))
      return true;
  }
  return false;
}

static json_t *
kernel_facts (struct lf_os *os, const char *kver)
{
  size_t i;
  json_t *k;

  json_array_foreach (json_object_get (os->facts, "kernels"), i, k)
    if (strcmp (json_string_value (json_object_get (k, "version")) ?: "",
                kver) == 0)
      return k;
  return NULL;
}

int
lf_linux_initramfs_facts (struct lf_guest *g, struct lf_os *os)
{
  size_t i;
  json_t *ent;

  (void) g;
  json_array_foreach (json_object_get (os->facts, "initramfs"), i, ent) {
    const char *path = json_string_value (json_object_get (ent, "path"));
    const char *kver = json_string_value (json_object_get (ent, "kernel"));
    char *buf = NULL;
    size_t len;
    struct lf_initramfs *img;

    if (!path || !kver)
      continue;
    if (lf_guest_read (&os->mounts, path, INITRAMFS_READ_MAX, &buf, &len) == -1) {
      json_object_set_new (ent, "error", json_string (lf_last_error ()));
      lf_error_clear ();
      continue;
    }
    img = lf_initramfs_parse (buf, len, path);
    free (buf);
    if (!img) {
      json_object_set_new (ent, "error", json_string (lf_last_error ()));
      lf_error_clear ();
      continue;
    }
    json_t *segs = json_array ();
    for (size_t s = 0; s < lf_initramfs_nsegments (img); s++)
      json_array_append_new (segs, json_string (lf_initramfs_segment (img, s)->compression));
    json_object_set_new (ent, "segments", segs);
    json_object_set_new (ent, "contents_generator",
                         json_string (generator_of (img)));

    json_t *mods = json_object ();
    json_t *kmods = json_object_get (kernel_facts (os, kver), "hyperv_modules");
    for (size_t m = 0; m < 3; m++) {
      json_t *km = json_object_get (kmods, lf_hyperv_modules[m]);
      const char *state = json_string_value (json_object_get (km, "state"));
      const char *file = json_string_value (json_object_get (km, "file"));
      const char *v;
      if (state && strcmp (state, "builtin") == 0)
        v = "builtin";
      else if (file && has_module (img, file))
        v = "present";
      else
        v = "absent";
      json_object_set_new (mods, lf_hyperv_modules[m], json_string (v));
    }
    json_object_set_new (ent, "hyperv_modules", mods);
    lf_initramfs_free (img);
  }
  return 0;
}

int
lf_fix_linux_initramfs (struct lf_guest *g, struct lf_os *os,
                        struct lf_plan *p, const struct lf_fix_opts *o)
{
  /* NOT WRITTEN YET: injection comes with the Linux fix. */
  (void) g; (void) os; (void) o;
  lf_plan_note (p, "initramfs", LF_SKIPPED, "not implemented yet");
  return 0;
}

/* landfall bootfix/linux: /etc/fstab by UUID, nofail for data disks.
 *
 * Device names change on Azure (the OS disk is sda on Gen1 IDE, data disks
 * move, the temporary disk takes a letter), so every local entry named by
 * device becomes UUID=, and data filesystems get nofail so that a missing
 * disk cannot stop the boot (reference/linux.md §4).  Only the first field
 * and the options of the lines concerned change; every other byte stays.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootfix.h"

#define FSTAB_MAX (1 << 20)

/* Mount points whose loss should stop the boot: no nofail for them. */
static bool
is_system_mount (const char *mp)
{
  static const char *const sys[] = { "/", "/boot", "/boot/efi", "/usr",
                                     "/var", "/home", "/opt", "/tmp" };
  for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++)
    if (strcmp (mp, sys[i]) == 0)
      return true;
  return false;
}

static bool
named_by_device (const char *spec)
{
  return strncmp (spec, "/dev/sd", 7) == 0 || strncmp (spec, "/dev/hd", 7) == 0 ||
    strncmp (spec, "/dev/vd", 7) == 0 || strncmp (spec, "/dev/xvd", 8) == 0 ||
    strncmp (spec, "/dev/disk/by-id/", 16) == 0 ||
    strncmp (spec, "/dev/disk/by-path/", 18) == 0;
}

/* The inspection's finding for the entry on LINE, or NULL. */
static json_t *
fact_for_line (struct lf_os *os, unsigned line)
{
  size_t i;
  json_t *e;

  json_array_foreach (json_object_get (os->facts, "fstab"), i, e)
    if (json_integer_value (json_object_get (e, "line")) == line)
      return e;
  return NULL;
}

/* The filesystem behind DEVICE (a name from lf_guest_fs_device). */
static struct lf_guest_fs *
fs_by_device (struct lf_guest *g, const char *device)
{
  for (size_t i = 0; i < g->nfs; i++)
    if (strcmp (lf_guest_fs_device (g, &g->fss[i]), device) == 0)
      return &g->fss[i];
  return NULL;
}

int
lf_fix_linux_fstab (struct lf_guest *g, struct lf_os *os, struct lf_plan *p,
                    const struct lf_fix_opts *o)
{
  char *buf = NULL;
  size_t len;
  struct lf_fstab t;
  char *out = NULL;
  size_t outlen = 0;
  FILE *fp;
  unsigned lineno = 0, changed = 0;
  int ret = -1;

  (void) o;
  if (lf_plan_read (p, "/etc/fstab", FSTAB_MAX, &buf, &len) == -1) {
    lf_plan_note (p, "fstab", LF_WARNING, "/etc/fstab: %s", lf_last_error ());
    lf_error_clear ();
    return 0;
  }
  if (lf_fstab_parse (buf, len, "/etc/fstab", &t) == -1) {
    lf_plan_note (p, "fstab", LF_FAILED, "%s", lf_last_error ());
    free (buf);
    return 0;
  }
  fp = open_memstream (&out, &outlen);
  if (!fp) {
    lf_error (errno, "out of memory");
    goto out;
  }
  /* Walk the text line by line; the parser's entries carry line numbers. */
  size_t ei = 0;
  for (const char *s = buf; s < buf + len; ) {
    const char *nl = memchr (s, '\n', (size_t) (buf + len - s));
    size_t n = nl ? (size_t) (nl - s) + 1 : (size_t) (buf + len - s);
    const struct lf_fstab_entry *e = NULL;
    lineno++;
    while (ei < t.n && t.e[ei].line < lineno)
      ei++;
    if (ei < t.n && t.e[ei].line == lineno)
      e = &t.e[ei];

    bool local = e && e->valid && strcmp (e->vfstype, "proc") &&
      strcmp (e->vfstype, "sysfs") && strcmp (e->vfstype, "tmpfs") &&
      strcmp (e->vfstype, "devpts") && strncmp (e->vfstype, "nfs", 3) &&
      strcmp (e->vfstype, "cifs");
    if (!local || !named_by_device (e->spec)) {
      bool want_nofail = local && !is_system_mount (e->file) &&
        strcmp (e->vfstype, "swap") && !lf_fstab_has_option (e, "nofail") &&
        !lf_fstab_has_option (e, "noauto");
      if (!want_nofail) {
        fwrite (s, 1, n, fp);
        s += n;
        continue;
      }
    }
    json_t *fact = fact_for_line (os, lineno);
    const char *dev = json_string_value (json_object_get (fact, "resolves_to"));
    struct lf_guest_fs *f = dev ? fs_by_device (g, dev) : NULL;
    const char *spec = e->spec;
    char uuidspec[128];

    if (named_by_device (e->spec)) {
      if (!f || !f->info.uuid[0]) {
        /* Unresolvable: it would hang the boot on Azure. */
        fprintf (fp, "# landfall: disabled, %s is not on the disks given\n#",
                 e->spec);
        fwrite (s, 1, n, fp);
        lf_plan_note (p, "fstab", LF_WARNING,
                      "line %u: %s (%s) not found on the disks given: "
                      "commented out", lineno, e->spec, e->file);
        changed++;
        s += n;
        continue;
      }
      snprintf (uuidspec, sizeof uuidspec, "UUID=%s", f->info.uuid);
      spec = uuidspec;
      lf_plan_note (p, "fstab", LF_CHANGED, "line %u: %s -> %s (%s)", lineno,
                    e->spec, uuidspec, e->file);
    }
    bool add_nofail = !is_system_mount (e->file) &&
      strcmp (e->vfstype, "swap") != 0 && !lf_fstab_has_option (e, "nofail") &&
      !lf_fstab_has_option (e, "noauto");
    if (add_nofail)
      lf_plan_note (p, "fstab", LF_CHANGED, "line %u: %s gets nofail (a data "
                    "disk must not stop the boot)", lineno, e->file);
    /* Rebuild the line from its fields: the spacing of a changed line is
     * normalised to tabs, which fstab(5) allows.
     */
    fprintf (fp, "%s\t%s\t%s\t%s%s\t%d\t%d\n", spec, e->file, e->vfstype,
             e->mntops, add_nofail ? ",nofail" : "", e->freq, e->passno);
    changed++;
    s += n;
  }
  if (fclose (fp) != 0) {
    lf_error (errno, "out of memory");
    fp = NULL;
    goto out;
  }
  fp = NULL;
  if (changed == 0)
    lf_plan_note (p, "fstab", LF_ALREADY_RIGHT,
                  "/etc/fstab names every local filesystem by UUID or label");
  else if (lf_plan_write (p, "fstab", "/etc/fstab", out, outlen, 0644,
                          "filesystems by UUID, nofail on data disks") == -1)
    goto out;
  ret = 0;
 out:
  if (fp)
    fclose (fp);
  free (out);
  free (buf);
  lf_fstab_free (&t);
  return ret;
}

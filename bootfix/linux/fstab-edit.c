/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/linux: /etc/fstab as a pure text transform
 * (reference/linux.md §4, bootcfg.h).
 *
 * Per 6-field line (others copied unchanged):
 *  - a kernel device name (/dev/sdXN, hdXN, vdXN, xvdXN) or a by-id /
 *    by-path link becomes UUID= of the filesystem (or swap) it maps to;
 *    one that maps to nothing on the disks given is commented out with a
 *    note, except "/", which is reported and left;
 *  - UUID=, LABEL=, PARTUUID=, /dev/mapper, /dev/VG/LV stay;
 *  - every entry not on the OS disk, and every swap, gets nofail (unless
 *    noauto), so a missing disk cannot stop the boot;
 *  - network filesystems are commented out (Azure's behaviour);
 *  - swap without a UUID is commented out; swap on the OS disk reported;
 *  - proc, tmpfs, bind mounts, /dev/sr0 and the like stay.
 * Only the first field and the options of an edited line change; its
 * spacing and every other line stay byte for byte.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootfix/linux/bootcfg.h"

#define FSTAB_EDIT_MAX_FIELD 4096

static const char *const net_types[] = {
  "nfs", "nfs4", "cifs", "smbfs", "smb3", "vboxsf", "sshfs", "fuse.sshfs",
};

bool
lf_fstab_spec_is_device_name (const char *spec)
{
  /* NVMe (Azure Boost) names disks /dev/nvme0nN and has no SCSI LUNs,
   * so the azure-vm-utils SCSI links vanish there too.
   */
  static const char *const pfx[] = {
    "/dev/sd", "/dev/hd", "/dev/vd", "/dev/xvd", "/dev/nvme",
    "/dev/disk/by-id/", "/dev/disk/by-path/", "/dev/disk/azure/scsi",
  };
  for (size_t i = 0; i < sizeof pfx / sizeof pfx[0]; i++)
    if (strncmp (spec, pfx[i], strlen (pfx[i])) == 0 &&
        spec[strlen (pfx[i])] != '\0')
      return true;
  return false;
}

/* Names that stay the same on Azure (rule 2). */
static bool
is_persistent_name (const char *spec)
{
  static const char *const pfx[] = {
    "UUID=", "LABEL=", "PARTUUID=", "PARTLABEL=", "/dev/mapper/",
    "/dev/disk/by-uuid/", "/dev/disk/by-label/", "/dev/disk/by-partuuid/",
    "/dev/disk/by-partlabel/",
  };
  for (size_t i = 0; i < sizeof pfx / sizeof pfx[0]; i++)
    if (strncmp (spec, pfx[i], strlen (pfx[i])) == 0)
      return true;
  /* /dev/VG/LV: two components under /dev, not a /dev/disk link. */
  if (strncmp (spec, "/dev/", 5) == 0 && strncmp (spec, "/dev/disk/", 10) != 0) {
    const char *sl = strchr (spec + 5, '/');
    return sl && sl > spec + 5 && sl[1] && !strchr (sl + 1, '/');
  }
  return false;
}

static bool
has_option (const char *opts, size_t n, const char *opt)
{
  size_t ol = strlen (opt);
  for (size_t i = 0; i < n; ) {
    size_t j = i;
    while (j < n && opts[j] != ',')
      j++;
    if (j - i == ol && memcmp (opts + i, opt, ol) == 0)
      return true;
    i = j + 1;
  }
  return false;
}

static void
comment_out (FILE *fp, const char *line, size_t n, const char *why)
{
  fprintf (fp, "# landfall: disabled, %s\n#", why);
  fwrite (line, 1, n, fp);
}

/* One line (no newline) of N bytes: 1 if written edited to FP, 0 if it
 * is to be copied, -1 on error.
 */
static int
edit_line (FILE *fp, const char *line, size_t n, unsigned lineno,
           lf_fstab_resolve_fn resolve, void *opaque, struct lf_findings *fnd)
{
  const char *f[6];
  size_t fl[6];
  unsigned nf = 0;

  if (n > BOOTCFG_MAX_LINE || memchr (line, '\0', n)) {
    lf_findings_add (fnd, LF_WARNING, "/etc/fstab: line %u is longer than "
                     "%d bytes or holds NUL bytes: left as it is", lineno,
                     BOOTCFG_MAX_LINE);
    return 0;
  }
  nf = lf_fstab_split (line, n, f, fl, 6);
  if (nf == 0)
    return 0;
  if (nf < 3) {
    lf_findings_add (fnd, LF_WARNING, "/etc/fstab: line %u has fewer than "
                     "3 fields: left as it is", lineno);
    return 0;
  }
  if (fl[0] > FSTAB_EDIT_MAX_FIELD || fl[1] > FSTAB_EDIT_MAX_FIELD ||
      fl[2] > FSTAB_EDIT_MAX_FIELD)
    return 0;

  CLEANUP_FREE char *spec = lf_fstab_unescape (f[0], fl[0]);
  CLEANUP_FREE char *mp = lf_fstab_unescape (f[1], fl[1]);
  CLEANUP_FREE char *type = strndup (f[2], fl[2]);
  if (!spec || !mp || !type) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  const char *opts = nf > 3 ? f[3] : "";
  size_t optslen = nf > 3 ? fl[3] : 0;
  bool is_swap = strcmp (type, "swap") == 0;
  bool noauto = has_option (opts, optslen, "noauto");
  bool nofail = has_option (opts, optslen, "nofail");

  for (size_t i = 0; i < sizeof net_types / sizeof net_types[0]; i++)
    if (strcmp (type, net_types[i]) == 0) {
      char why[256];
      snprintf (why, sizeof why, "network filesystem %.64s on %.64s "
                "(not reachable when a migrated machine first boots)",
                type, mp);
      comment_out (fp, line, n, why);
      lf_findings_add (fnd, LF_CHANGED, "/etc/fstab: line %u: network "
                       "filesystem %s (%s) commented out", lineno, spec, mp);
      return 1;
    }
  if (has_option (opts, optslen, "bind"))
    return 0;
  bool devname = lf_fstab_spec_is_device_name (spec);
  if (!devname && !is_persistent_name (spec))
    return 0;                   /* proc, tmpfs, /dev/sr0, server:/x... */

  struct lf_fstab_res r;
  memset (&r, 0, sizeof r);
  if (resolve (opaque, spec, mp, &r) == -1)
    return -1;
  const char *newspec = NULL;
  char uuidspec[80];
  if (devname) {
    if (!r.found && strcmp (mp, "/") == 0) {
      lf_findings_add (fnd, LF_FAILED, "/etc/fstab: line %u: the root "
                       "filesystem %s was not found on the disks given: "
                       "left as it is", lineno, spec);
      return 0;
    }
    if (!r.found || !r.uuid[0]) {
      const char *what = r.found ? "has no UUID" : "not found";
      char why[FSTAB_EDIT_MAX_FIELD + 128];
      snprintf (why, sizeof why, "%s %s on the disks given (a missing "
                "device would stop the boot)", spec, what);
      comment_out (fp, line, n, why);
      lf_findings_add (fnd, LF_WARNING, "/etc/fstab: line %u: %s (%s) %s on "
                       "the disks given: commented out", lineno, spec, mp,
                       what);
      return 1;
    }
    snprintf (uuidspec, sizeof uuidspec, "UUID=%.64s", r.uuid);
    newspec = uuidspec;
    lf_findings_add (fnd, LF_CHANGED, "/etc/fstab: line %u: %s -> %s (%s)",
                     lineno, spec, uuidspec, mp);
  }
  else if (!r.found)
    lf_findings_add (fnd, LF_WARNING, "/etc/fstab: line %u: %s (%s) is not "
                     "on the disks given%s", lineno, spec, mp,
                     noauto || nofail ? "" : ": nofail added");
  if (is_swap && r.found && r.os_disk)
    lf_findings_add (fnd, LF_WARNING, "/etc/fstab: line %u: swap %s is on "
                     "the OS disk; Azure's guides want swap on the resource "
                     "disk (waagent or cloud-init): kept", lineno, spec);
  bool add_nofail = !noauto && !nofail && (is_swap || !r.found || !r.os_disk);
  if (add_nofail && r.found)
    lf_findings_add (fnd, LF_CHANGED, "/etc/fstab: line %u: %s gets nofail "
                     "(%s)", lineno, mp, is_swap ? "swap" : "not on the OS "
                     "disk: a missing disk must not stop the boot");
  if (!newspec && !add_nofail)
    return 0;

  /* Rebuild: the spec field, then up to the end of the options. */
  if (newspec) {
    fwrite (line, 1, (size_t) (f[0] - line), fp);
    fputs (newspec, fp);
  }
  else
    fwrite (line, 1, (size_t) (f[0] + fl[0] - line), fp);
  const char *rest = f[0] + fl[0];
  if (add_nofail) {
    unsigned last = nf > 3 ? 3 : 2;
    fwrite (rest, 1, (size_t) (f[last] + fl[last] - rest), fp);
    fputs (nf > 3 ? ",nofail" : "\tdefaults,nofail", fp);
    rest = f[last] + fl[last];
  }
  fwrite (rest, 1, (size_t) (line + n - rest), fp);
  return 1;
}

int
lf_fstab_edit (const char *text, size_t len, lf_fstab_resolve_fn resolve,
               void *opaque, char **out, size_t *outlen,
               struct lf_findings *fnd)
{
  char *buf = NULL;
  size_t buflen = 0;
  FILE *fp;
  int nedits = 0;
  unsigned lineno = 0;

  if (len > BOOTCFG_MAX_SIZE) {
    lf_error (EFBIG, "/etc/fstab: %zu bytes, more than the %d allowed", len,
              BOOTCFG_MAX_SIZE);
    return -1;
  }
  fp = open_memstream (&buf, &buflen);
  if (!fp) {
    lf_error (errno, "out of memory");
    return -1;
  }
  for (size_t pos = 0; pos < len; ) {
    const char *line = text + pos;
    const char *nl = memchr (line, '\n', len - pos);
    size_t n = nl ? (size_t) (nl - line) : len - pos;

    pos += n + (nl ? 1 : 0);
    lineno++;
    int r = edit_line (fp, line, n, lineno, resolve, opaque, fnd);
    if (r == -1) {
      fclose (fp);
      free (buf);
      return -1;
    }
    if (r == 0)
      fwrite (line, 1, n, fp);
    else
      nedits++;
    if (nl)
      fputc ('\n', fp);
  }
  if (fclose (fp) != 0) {
    free (buf);
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  *out = buf;
  *outlen = buflen;
  return nedits;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/: a profile's report-only readiness items (linux.readiness,
 * windows.readiness, linux.udev_rules) judged against a guest: accelerated
 * networking's drivers (mlx4/mlx5 and MANA on Azure) and Azure's NVMe udev
 * rules.  None of them stops a boot, so they are notes, never failures:
 * without them traffic stays on the synthetic path, or the
 * /dev/disk/azure links are missing.  fix reports them and verify checks
 * them with these same words.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootfix/bootfix.h"
#include "guest/modread.h"

/* Append to the growing list *L ("a; b"); false when out of memory. */
static bool
add (char **l, const char *fmt, ...) LF_PRINTF (2, 3);

static bool
add (char **l, const char *fmt, ...)
{
  va_list ap;
  char *s = NULL, *n = NULL;
  int r;

  va_start (ap, fmt);
  r = vasprintf (&s, fmt, ap);
  va_end (ap);
  if (r < 0)
    return false;
  r = asprintf (&n, "%s%s%s", *l ? *l : "", *l ? "; " : "", s);
  free (s);
  if (r < 0)
    return false;
  free (*l);
  *l = n;
  return true;
}

/* Is kernel version KVER ("6.1.0-18-amd64") older than SINCE ("6.2")?
 * Compared number by number; a part KVER lacks counts as 0.
 */
static bool
kernel_older (const char *kver, const char *since)
{
  for (;;) {
    char *ke, *se;
    unsigned long s = strtoul (since, &se, 10);
    unsigned long k = strtoul (kver, &ke, 10);
    if (ke == kver)
      k = 0;
    if (k != s)
      return k < s;
    if (*se != '.')
      return false;
    since = se + 1;
    kver = *ke == '.' ? ke + 1 : ke;
  }
}

char *
lf_linux_readiness (struct lf_os *os, const char *kver,
                    const struct lf_hw_profile *p)
{
  CLEANUP_FREE char *dep = NULL;
  CLEANUP_FREE char *builtin = NULL;
  size_t deplen = 0, blen = 0;
  struct lf_moddep d = { 0 };
  bool have_dep = false;
  char *out = NULL;
  char path[512];

  if (p->nlinux_readiness == 0)
    return NULL;
  snprintf (path, sizeof path, "/lib/modules/%s/modules.dep", kver);
  if (lf_guest_read (&os->mounts, path, MODULES_DEP_MAX_SIZE, &dep, &deplen) == 0
      && lf_moddep_parse (dep, deplen, path, &d) == 0)
    have_dep = true;
  lf_error_clear ();
  snprintf (path, sizeof path, "/lib/modules/%s/modules.builtin", kver);
  if (lf_guest_read (&os->mounts, path, MODULES_DEP_MAX_SIZE, &builtin,
                     &blen) == -1) {
    builtin = NULL;
    blen = 0;
  }
  lf_error_clear ();
  for (size_t i = 0; i < p->nlinux_readiness; i++) {
    const struct lf_hw_readiness *r = &p->linux_readiness[i];
    bool old = *r->since && kernel_older (kver, r->since), ok;
    if (have_dep && lf_moddep_find (&d, r->name))
      ok = add (&out, "%s: module present", r->name);
    else if (builtin && lf_modules_builtin_has (builtin, blen, r->name))
      ok = add (&out, "%s: built in", r->name);
    else
      ok = add (&out, "%s: absent%s%s%s (%s)", r->name,
                !have_dep ? " (no modules.dep)" : "",
                old ? ", and the kernel predates " : "", old ? r->since : "",
                r->why);
    if (!ok) {
      free (out);
      out = NULL;
      break;
    }
  }
  if (have_dep)
    lf_moddep_free (&d);
  return out;
}

char *
lf_win_readiness (struct lf_os *os, const struct lf_hw_profile *p)
{
  const char *sysroot = json_string_value (json_object_get (os->facts,
                                                           "systemroot"));
  char *out = NULL;

  for (size_t i = 0; sysroot && i < p->nwin_readiness; i++) {
    const struct lf_hw_readiness *r = &p->win_readiness[i];
    CLEANUP_FREE char *path = lf_win_driver_path (sysroot, NULL, r->file);
    bool there = path && lf_guest_exists (&os->mounts, path);
    lf_error_clear ();
    if (!add (&out, "%s (%s): %s", r->name, path ? path : r->file,
              there ? "present" : "absent") ||
        (!there && !add (&out, "%s", r->why))) {
      free (out);
      return NULL;
    }
  }
  return out;
}

char *
lf_linux_udev_missing (struct lf_os *os, const struct lf_hw_profile *p)
{
  /* Where packages and the administrator put rules (udev(7)). */
  static const char *const dirs[] = { "/usr/lib/udev/rules.d",
                                      "/lib/udev/rules.d",
                                      "/etc/udev/rules.d" };
  char *out = NULL;

  for (char **r = p->udev_rules; r && *r; r++) {
    bool found = false;
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0] && !found; i++) {
      char path[512];
      snprintf (path, sizeof path, "%s/%s", dirs[i], *r);
      found = lf_guest_exists (&os->mounts, path);
    }
    lf_error_clear ();
    if (!found && !add (&out, "%s", *r)) {
      free (out);
      return NULL;
    }
  }
  return out;
}

int
lf_fix_linux_readiness (struct lf_guest *g, struct lf_os *os,
                        struct lf_plan *p, const struct lf_fix_opts *o)
{
  const struct lf_hw_profile *hw = o->profile;
  size_t i;
  json_t *k;

  (void) g;
  json_array_foreach (json_object_get (os->facts, "kernels"), i, k) {
    const char *kver = json_string_value (json_object_get (k, "version"));
    CLEANUP_FREE char *r = kver ? lf_linux_readiness (os, kver, hw) : NULL;
    if (r)
      lf_plan_note (p, "readiness", LF_SKIPPED, "kernel %s, %s's "
                    "accelerated networking (reported, not enforced): %s",
                    kver, hw->name, r);
  }
  CLEANUP_FREE char *udev = lf_linux_udev_missing (os, hw);
  if (udev)
    lf_plan_note (p, "readiness", LF_WARNING, "no udev rules %s in the "
                  "guest (Azure's azure-vm-utils package): the "
                  "/dev/disk/azure/... links %s's disks are named by will "
                  "be missing", udev, hw->name);
  return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/windows: the Windows fix, refusals first, then every
 * concern in order (reference/windows.md).
 *
 * Refused before anything is planned: a BitLocker volume, a hibernated or
 * dirty NTFS volume (fast startup: Windows would resume into a state that
 * does not know about our edits, or chkdsk would "repair" them), and a
 * SYSTEM or SOFTWARE hive whose transaction logs hold unreplayed changes
 * (hivex does not replay them; editing the base file would lose them, or
 * Windows would replay stale log pages over our edits), and a Select\Current
 * or Default naming no control set (lf_win_select_check).  Each is an error
 * (-1), so the CLI plans and writes nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bootfix/windows/winfix.h"

const char *
lf_win_sysroot (const struct lf_os *os)
{
  const char *s = json_string_value (json_object_get (os->facts,
                                                      "systemroot"));
  return s && (strcmp (s, "/Windows") == 0 || strcmp (s, "/WINNT") == 0)
    ? s : "/Windows";
}

int
lf_win_hive_path (const struct lf_os *os, const char *name, char *buf,
                  size_t size)
{
  int n = snprintf (buf, size, "%s/System32/config/%s", lf_win_sysroot (os),
                    name);
  if (n < 0 || (size_t) n >= size) {
    lf_error (ENAMETOOLONG, "hive path for %s too long", name);
    return -1;
  }
  return 0;
}

unsigned
lf_win_version (const struct lf_os *os)
{
  const char *v = json_string_value (json_object_get (json_object_get (
    os->facts, "product"), "version"));
  unsigned major, minor;
  char end;

  /* "6.3", or "10.0" from CurrentMajor/MinorVersionNumber: inspection
   * already prefers those, since Windows 10 keeps "6.3" in CurrentVersion.
   */
  if (!v || sscanf (v, "%3u.%3u%c", &major, &minor, &end) != 2 ||
      minor > 99)
    return 0;
  return major * 100 + minor;
}

static bool
fact_true (const struct lf_os *os, const char *key)
{
  return json_is_true (json_object_get (os->facts, key));
}

/* The refusals, in the order a user would fix them. */
static int
refuse (struct lf_guest *g, const struct lf_os *os)
{
  const char *root = json_string_value (json_object_get (os->facts, "root"));
  json_t *hive = json_object_get (os->facts, "system_hive");
  const char *err;

  if (!root)
    root = "the Windows volume";
  if (fact_true (os, "bitlocker")) {
    const char *dev = "a volume";
    for (size_t i = 0; i < g->nfs; i++)
      if (strcmp (g->fss[i].info.type, "BitLocker") == 0)
        dev = lf_guest_fs_device (g, &g->fss[i]);
    lf_error (EACCES, "%s: BitLocker-encrypted volume: landfall does not "
              "change a machine with BitLocker volumes (the boot "
              "configuration it edits is measured, and the volume cannot "
              "be read): decrypt it in Windows (manage-bde -off) first",
              dev);
    return -1;
  }
  if (fact_true (os, "hibernated")) {
    lf_error (EPERM, "%s: volume is hibernated (Windows fast startup or "
              "hibernation): shut Windows down fully (shutdown /s /t 0, or "
              "disable fast startup) and try again", root);
    return -1;
  }
  if (fact_true (os, "ntfs_dirty")) {
    lf_error (EUCLEAN, "%s: NTFS volume is marked dirty (not shut down "
              "cleanly, or chkdsk is pending): run chkdsk in Windows and shut "
              "it down fully", root);
    return -1;
  }
  if ((err = json_string_value (json_object_get (os->facts,
                                                 "system_hive_error")))) {
    lf_error (EINVAL, "the SYSTEM hive cannot be used: %s", err);
    return -1;
  }
  if (!hive) {
    lf_error (ENOENT, "%s: no SYSTEM hive was inspected", root);
    return -1;
  }
  if (json_is_true (json_object_get (hive, "dirty"))) {
    const char *path = json_string_value (json_object_get (hive, "path"));
    json_t *logs = json_object_get (hive, "logs");
    if (json_array_size (logs) > 0)
      lf_error (EUCLEAN, "%s: the hive's transaction logs (%s%s) hold "
                "changes not yet written to it (base block sequence numbers "
                "differ): landfall does not replay them; start Windows once "
                "and shut it down cleanly, then try again", path ? path : "SYSTEM",
                json_string_value (json_array_get (logs, 0)),
                json_array_size (logs) > 1 ? " and .LOG2" : "");
    else
      lf_error (EUCLEAN, "%s: the hive was not written back cleanly (base "
                "block sequence numbers differ) and its .LOG1/.LOG2 are "
                "missing: changes may be lost; start Windows once and shut "
                "it down cleanly, then try again", path ? path : "SYSTEM");
    return -1;
  }
  char sel[1024];
  bool fatal;
  if (lf_win_select_check (os, sel, sizeof sel, &fatal) > 0 && fatal) {
    const char *path = json_string_value (json_object_get (hive, "path"));
    lf_error (ENOENT, "%s: %s: Windows would not boot the control set "
              "landfall fixes; repair Select in Windows (or the hive) first",
              path ? path : "SYSTEM", sel);
    return -1;
  }
  json_t *product = json_object_get (os->facts, "product");
  if (json_is_true (json_object_get (product, "hive_dirty"))) {
    lf_error (EUCLEAN, "%s/System32/config/SOFTWARE: the hive's transaction "
              "logs hold changes not yet written to it (base block sequence "
              "numbers differ): start Windows once and shut it down cleanly, "
              "then try again", lf_win_sysroot (os));
    return -1;
  }
  return 0;
}

int
lf_winfix_open (struct lf_winfix *c, struct lf_guest *g, struct lf_os *os,
                struct lf_plan *p, const struct lf_fix_opts *o)
{
  char path[512];

  *c = (struct lf_winfix) { .g = g, .os = os, .p = p, .o = o };
  if (lf_win_hive_path (os, "SYSTEM", path, sizeof path) == -1 ||
      !(c->system = lf_whive_open (p, "", path, "SYSTEM")) ||
      lf_win_hive_path (os, "SOFTWARE", path, sizeof path) == -1)
    goto error;
  /* Only rdp.c edits SOFTWARE, and says so when it is missing. */
  if (lf_plan_exists (p, path) &&
      !(c->software = lf_whive_open (p, "", path, "SOFTWARE")))
    goto error;
  return 0;
 error:
  lf_winfix_close (c);
  return -1;
}

int
lf_winfix_run (struct lf_winfix *c, const char *name, lf_winfix_fn *fn)
{
  struct lf_whive *hives[] = { c->system, c->software, c->bcd };

  for (size_t i = 0; i < sizeof hives / sizeof hives[0]; i++)
    if (hives[i])
      lf_whive_set_concern (hives[i], name);
  return fn (c);
}

int
lf_winfix_commit (struct lf_winfix *c)
{
  if (c->system && lf_whive_commit (c->system, WIN_HIVE_WHY) == -1)
    return -1;
  if (c->software && lf_whive_commit (c->software, WIN_HIVE_WHY) == -1)
    return -1;
  if (c->bcd && lf_whive_commit (c->bcd, WIN_BCD_WHY) == -1)
    return -1;
  return 0;
}

void
lf_winfix_close (struct lf_winfix *c)
{
  lf_whive_close (c->system);
  lf_whive_close (c->software);
  lf_whive_close (c->bcd);
  c->system = c->software = c->bcd = NULL;
}

int
lf_fix_windows (struct lf_guest *g, struct lf_os *os, struct lf_plan *p,
                const struct lf_fix_opts *o)
{
  static const struct {
    const char *name;
    lf_winfix_fn *fn;
  } concerns[] = {
    { "boot-drivers",  lf_fix_windows_boot_drivers },
    { "san-policy",    lf_fix_windows_san_policy },
    { "drive-letters", lf_fix_windows_drive_letters },
    { "network",       lf_fix_windows_network },
    { "rdp",           lf_fix_windows_rdp },
    { "agents",        lf_fix_windows_agents },
    { "time",          lf_fix_windows_time },
    { "bcd",           lf_fix_windows_bcd },
  };
  struct lf_winfix c = { 0 };
  int r = -1;

  if (strcmp (os->type, "windows") != 0) {
    lf_error (EINVAL, "lf_fix_windows: the OS is %s", os->type);
    return -1;
  }
  if (refuse (g, os) == -1)
    return -1;
  char sel[1024];
  bool fatal;
  if (lf_win_select_check (os, sel, sizeof sel, &fatal) > 0)
    lf_plan_note (p, "control-sets", LF_WARNING, "SYSTEM: %s", sel);
  /* Each hive is opened once, every concern edits the open hive, and
   * each hive is committed once: one plan edit per hive.
   */
  if (lf_winfix_open (&c, g, os, p, o) == -1)
    return -1;
  for (size_t i = 0; i < sizeof concerns / sizeof concerns[0]; i++)
    if (lf_winfix_run (&c, concerns[i].name, concerns[i].fn) == -1)
      goto out;
  r = lf_winfix_commit (&c);
 out:
  lf_winfix_close (&c);
  return r;
}

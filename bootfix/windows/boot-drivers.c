/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/windows: the boot-start drivers Azure's (Hyper-V's)
 * storage needs, in every control set (reference/windows.md W01-W11).
 *
 * A driver whose service key exists gets Start=0 (created if absent).  A
 * missing key whose driver file is present is created as Windows would
 * (Type, Start, ErrorControl, ImagePath, Group).  A missing driver file is
 * LF_FAILED "needs driver injection": a disk without it stops with
 * INACCESSIBLE_BOOT_DEVICE (0x7B), so it is never written.  The file is
 * the one the service's ImagePath names (storflt's is vmstorfl.sys), plus
 * the port drivers intelide and atapi load.
 *
 * Checked, never changed: the boot-critical services (W09), the filter
 * drivers of the storage classes (W10: one that cannot load is a 0x7B as
 * sure as a missing storvsc, so LF_FAILED), and on Windows 8.1 / 2012 R2
 * whether the VMBus driver package knows the ACPI id Azure's hosts now
 * use (W11, reported).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bootfix/windows/winfix.h"

#define CONCERN "boot-drivers"

/* The drivers are the profile's (hw/NAME.json "windows.boot_drivers"):
 * Azure's Hyper-V storage, VMware's controllers for a failback.
 */

/* Boot-critical services that must already be boot start (W09).  The
 * reference also lists "volume", which came with Windows 8 (6.2): the
 * real Windows 7 hive has none, so it is looked for from 6.2 on only.
 */
static const char *const core[] = {
  "ACPI", "disk", "volmgr", "partmgr", "volsnap", "volume",
};
#define CORE_VOLUME_SINCE 602

/* DiskDrive, hdc (IDE/ATA controllers), SCSIAdapter, Volume. */
const char *const lf_win_storage_classes[4] = {
  "{4D36E96A-E325-11CE-BFC1-08002BE10318}",
  "{4D36E967-E325-11CE-BFC1-08002BE10318}",
  "{4D36E97B-E325-11CE-BFC1-08002BE10318}",
  "{71A27CDD-812A-11D0-BEC7-08002BE2092F}",
};
static const char *const filter_values[] = { "UpperFilters", "LowerFilters" };

/* The guest path of a driver (declared in bootfix.h: verify checks the
 * same file the fix does).
 */
char *
lf_win_driver_path (const char *sysroot, const char *image, const char *file)
{
  char *path = lf_win_image_path (sysroot, image);

  if (!path && asprintf (&path, "%s/System32/drivers/%s", sysroot,
                         file) == -1)
    path = NULL;
  if (!path)
    lf_error (ENOMEM, "out of memory");
  return path;
}

/* Check the driver's files; LF_FAILED notes for missing ones when NOTE.
 * Returns true if all are there.
 */
static bool
files_present (struct lf_plan *p, const char *sysroot, const char *where,
               const struct lf_hw_win_driver *d, const char *image, bool note)
{
  CLEANUP_FREE char *path = lf_win_driver_path (sysroot, image, d->file);
  char also[512];
  bool ok = true;

  if (!path)
    return false;
  if (!note) {
    if (!lf_plan_exists (p, path))
      return false;
    for (char **n = d->needs; *n; n++) {
      snprintf (also, sizeof also, "%s/System32/drivers/%s", sysroot, *n);
      if (!lf_plan_exists (p, also))
        return false;
    }
    return true;
  }
  if (!lf_plan_exists (p, path)) {
    lf_plan_note (p, CONCERN, LF_FAILED, "%s: driver file %s is missing: "
                  "needs driver injection (landfall injects no drivers; "
                  "without it Windows stops with INACCESSIBLE_BOOT_DEVICE, "
                  "0x7B)", where, path);
    ok = false;
  }
  for (char **n = d->needs; *n; n++) {
    snprintf (also, sizeof also, "%s/System32/drivers/%s", sysroot, *n);
    if (!lf_plan_exists (p, also)) {
      lf_plan_note (p, CONCERN, LF_FAILED, "%s: %s needs %s, which is "
                    "missing: needs driver injection (0x7B otherwise)",
                    where, d->service, also);
      ok = false;
    }
  }
  return ok;
}

static int
fix_driver (struct lf_whive *w, const char *sysroot, const char *cs,
            uint64_t services, const struct lf_hw_win_driver *d)
{
  char where[300], image[300];
  uint64_t key = lf_whive_node (w, services, d->service);

  snprintf (where, sizeof where, "%s\\Services\\%s", cs, d->service);
  if (key) {
    CLEANUP_FREE char *ip = lf_whive_get_sz (w, key, "ImagePath");
    if (!files_present (w->p, sysroot, where, d, ip, true))
      return 0;
    return lf_whive_set_dword (w, key, where, "Start", 0) == -1 ? -1 : 0;
  }
  if (!files_present (w->p, sysroot, where, d, NULL, true))
    return 0;
  /* W06: the service key as Windows registers a boot driver. */
  snprintf (where, sizeof where, "%s\\Services", cs);
  key = lf_whive_key (w, services, where, d->service);
  if (!key)
    return -1;
  snprintf (where, sizeof where, "%s\\Services\\%s", cs, d->service);
  snprintf (image, sizeof image, "system32\\drivers\\%s", d->file);
  if (lf_whive_set_dword (w, key, where, "Type", 1) == -1 ||
      lf_whive_set_dword (w, key, where, "Start", 0) == -1 ||
      lf_whive_set_dword (w, key, where, "ErrorControl", 1) == -1 ||
      lf_whive_set_sz (w, key, where, "ImagePath", image, true) == -1 ||
      (*d->group &&
       lf_whive_set_sz (w, key, where, "Group", d->group, false) == -1))
    return -1;
  /* W07 (the CriticalDeviceDatabase / DriverDatabase binding) needs the
   * Hyper-V hardware IDs, which are not researched yet.
   */
  lf_plan_note (w->p, CONCERN, LF_WARNING, "%s: service key created, but "
                "no PnP device binding (CriticalDeviceDatabase/"
                "DriverDatabase) for it: check that the driver is installed "
                "in Windows", where);
  return 0;
}

char **
lf_win_class_filters (struct lf_whive *w, const char *cs)
{
  char **all = calloc (1, sizeof *all);
  size_t n = 0;

  if (!all) {
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  for (size_t c = 0; c < 4; c++) {
    char where[300];
    snprintf (where, sizeof where, "%s\\Control\\Class\\%s", cs,
              lf_win_storage_classes[c]);
    uint64_t cls = lf_whive_node (w, 0, where);
    for (size_t f = 0; cls && f < 2; f++) {
      char **list = NULL;
      int r = lf_whive_get_multi (w, cls, filter_values[f], &list);
      if (r == -1) {
        lf_free_names (all);
        return NULL;
      }
      if (r != LF_MATCH)
        continue;
      size_t k = 0;
      while (list[k])
        k++;
      char **na = realloc (all, (n + k + 1) * sizeof *na);
      if (!na) {
        lf_error (ENOMEM, "out of memory");
        lf_free_names (list);
        lf_free_names (all);
        return NULL;
      }
      all = na;
      memcpy (all + n, list, k * sizeof *list);
      n += k;
      all[n] = NULL;
      free (list);              /* the strings moved to ALL */
    }
  }
  return all;
}

/* One filter NAME listed in WHERE\VALUE: LF_FAILED unless it can load. */
static int
check_filter (struct lf_whive *w, const char *sysroot, const char *cs,
              const char *where, const char *value, const char *name)
{
  char svc[300], file[300];
  uint32_t start;
  uint64_t key = 0;

  snprintf (svc, sizeof svc, "%s\\Services", cs);
  /* A name with a backslash would be looked up as a path. */
  if (!strchr (name, '\\') && *name)
    key = lf_whive_node (w, lf_whive_node (w, 0, svc), name);
  if (!key) {
    lf_plan_note (w->p, CONCERN, LF_FAILED, "SYSTEM\\%s\\%s lists filter "
                  "driver \"%s\", which has no service key (SYSTEM\\%s\\%s): "
                  "Windows would stop with INACCESSIBLE_BOOT_DEVICE (0x7B); "
                  "reinstall that driver, or remove it from %s, in Windows",
                  where, value, name, svc, name, value);
    return 0;
  }
  if (lf_whive_get_dword (w, key, "Start", &start) == LF_MATCH && start == 4) {
    lf_plan_note (w->p, CONCERN, LF_FAILED, "SYSTEM\\%s\\%s lists filter "
                  "driver \"%s\", which is disabled (SYSTEM\\%s\\%s\\Start "
                  "is 4): Windows would stop with INACCESSIBLE_BOOT_DEVICE "
                  "(0x7B); enable it, or remove it from %s, in Windows",
                  where, value, name, svc, name, value);
    return 0;
  }
  CLEANUP_FREE char *ip = lf_whive_get_sz (w, key, "ImagePath");
  snprintf (file, sizeof file, "%s.sys", name);
  CLEANUP_FREE char *path = lf_win_driver_path (sysroot, ip, file);
  if (!path)
    return -1;
  if (!lf_plan_exists (w->p, path))
    lf_plan_note (w->p, CONCERN, LF_FAILED, "SYSTEM\\%s\\%s lists filter "
                  "driver \"%s\", whose file %s is missing: Windows would "
                  "stop with INACCESSIBLE_BOOT_DEVICE (0x7B); reinstall that "
                  "driver, or remove it from %s, in Windows", where, value,
                  name, path, value);
  return 0;
}

int
lf_win_check_class_filters (struct lf_whive *w, const char *sysroot,
                            const char *cs)
{
  for (size_t c = 0; c < 4; c++) {
    char where[300];
    snprintf (where, sizeof where, "%s\\Control\\Class\\%s", cs,
              lf_win_storage_classes[c]);
    uint64_t cls = lf_whive_node (w, 0, where);
    for (size_t f = 0; cls && f < 2; f++) {
      char **list = NULL;
      int r = lf_whive_get_multi (w, cls, filter_values[f], &list);
      if (r == -1)
        return -1;
      if (r != LF_MATCH)
        continue;
      for (char **n = list; *n; n++)
        if (check_filter (w, sysroot, cs, where, filter_values[f], *n) == -1) {
          lf_free_names (list);
          return -1;
        }
      lf_free_names (list);
    }
  }
  return 0;
}

void
lf_win_check_vmbus_acpi (struct lf_whive *w, const struct lf_os *os)
{
  /* What the package holds for ACPI\VMBus (reference W11); the 2012R2
   * troubleshooting article's workaround adds the same for ACPI\MSFT1000,
   * as the update does, so that descriptor marks a guest that will boot
   * (unverified against an updated hive).
   */
  static const char *const parts[] = {
    "Configurations\\VMBus_Device_WIN8_Child.NT",
    "Configurations\\VMBus_Support_Device.NT",
    "Descriptors\\ACPI\\VMBus", "Descriptors\\VMBUS\\SUBCHANNEL", "Strings",
  };
  static const char inf[] = "DriverDatabase\\DriverInfFiles\\wvmbus.inf";
  char where[600], missing[300] = "";

  if (lf_win_version (os) != 603)
    return;
  uint64_t n = lf_whive_node (w, 0, inf);
  CLEANUP_FREE char *active = n ? lf_whive_get_sz (w, n, "Active") : NULL;
  if (!active || !*active || strchr (active, '\\') || strlen (active) > 200) {
    lf_plan_note (w->p, CONCERN, LF_WARNING, "SYSTEM\\%s: no Active driver "
                  "package: the Hyper-V VMBus driver of this Windows 8.1 / "
                  "Server 2012 R2 cannot be checked; it needs the platform "
                  "update (Azure's hosts present VMBus as ACPI\\MSFT1000), "
                  "or it may stop with INACCESSIBLE_BOOT_DEVICE (0x7B)", inf);
    return;
  }
  snprintf (where, sizeof where, "DriverDatabase\\DriverPackages\\%s", active);
  uint64_t pkg = lf_whive_node (w, 0, where);
  if (pkg && lf_whive_node (w, pkg, "Descriptors\\ACPI\\MSFT1000")) {
    lf_plan_note (w->p, CONCERN, LF_ALREADY_RIGHT, "SYSTEM\\%s\\Descriptors"
                  "\\ACPI\\MSFT1000: the VMBus driver knows the ACPI id "
                  "Azure's hosts use", where);
    return;
  }
  for (size_t i = 0; pkg && i < sizeof parts / sizeof parts[0]; i++)
    if (!lf_whive_node (w, pkg, parts[i]) &&
        strlen (missing) + strlen (parts[i]) + 3 < sizeof missing)
      snprintf (missing + strlen (missing), sizeof missing - strlen (missing),
                "%s%s", *missing ? ", " : "", parts[i]);
  lf_plan_note (w->p, CONCERN, LF_WARNING, "SYSTEM\\%s: Windows 8.1 / Server "
                "2012 R2 whose VMBus driver knows ACPI\\VMBus only, not "
                "ACPI\\MSFT1000 as Azure's hosts now present it: needs the "
                "platform update (install the latest updates before "
                "migrating), or it may stop with INACCESSIBLE_BOOT_DEVICE "
                "(0x7B)%s%s%s", where, !pkg ? " (the package key is missing)"
                : "", *missing ? "; the package also lacks " : "", missing);
}

/* Is driver D present as the control set has it (its ImagePath's file, or
 * the default one, and the port drivers it needs)?
 */
static bool
driver_present (struct lf_whive *w, const char *sysroot, uint64_t services,
                const struct lf_hw_win_driver *d)
{
  uint64_t key = lf_whive_node (w, services, d->service);
  CLEANUP_FREE char *ip = key ? lf_whive_get_sz (w, key, "ImagePath") : NULL;

  return files_present (w->p, sysroot, NULL, d, ip, false);
}

/* The profile's boot drivers in control set CS.  A required driver must be
 * there; of a set of alternatives (any_of), those present are made boot
 * start, the others skipped, and only a set with none present fails.
 */
static int
fix_drivers (struct lf_whive *w, const char *sysroot, const char *cs,
             uint64_t services, const struct lf_hw_profile *hw)
{
  for (size_t i = 0; i < hw->nwin_drivers; i++) {
    const struct lf_hw_win_driver *d = &hw->win_drivers[i];
    bool first = true, any = false;
    char names[512] = "";

    if (!*d->any_of) {
      if (fix_driver (w, sysroot, cs, services, d) == -1)
        return -1;
      continue;
    }
    /* Each set once, at its first member. */
    for (size_t j = 0; first && j < i; j++)
      first = strcmp (hw->win_drivers[j].any_of, d->any_of) != 0;
    if (!first)
      continue;
    for (size_t j = i; j < hw->nwin_drivers; j++) {
      const struct lf_hw_win_driver *a = &hw->win_drivers[j];
      if (strcmp (a->any_of, d->any_of) != 0)
        continue;
      if (strlen (names) + strlen (a->service) + 3 < sizeof names)
        snprintf (names + strlen (names), sizeof names - strlen (names),
                  "%s%s", *names ? ", " : "", a->service);
      if (!driver_present (w, sysroot, services, a)) {
        lf_plan_note (w->p, CONCERN, LF_SKIPPED, "SYSTEM\\%s\\Services\\%s: "
                      "driver %s not in the guest (one of %s's \"%s\" "
                      "controllers)", cs, a->service, a->file, hw->name,
                      a->any_of);
        continue;
      }
      any = true;
      if (fix_driver (w, sysroot, cs, services, a) == -1)
        return -1;
    }
    if (!any)
      lf_plan_note (w->p, CONCERN, LF_FAILED, "SYSTEM\\%s: none of the "
                    "drivers of %s's \"%s\" boot controllers (%s) is in the "
                    "guest with its files: Windows cannot find its disk there "
                    "and stops with INACCESSIBLE_BOOT_DEVICE (0x7B); install "
                    "one (VMware Tools brings pvscsi) before moving it",
                    cs, hw->name, d->any_of, names);
  }
  return 0;
}

/* The profile's registry edits (windows.registry) in control set CS:
 * NVMe's StartOverride keys, which would override Start=0.
 */
static int
fix_registry (struct lf_whive *w, const char *cs,
              const struct lf_hw_profile *hw)
{
  for (size_t i = 0; i < hw->nwin_registry; i++) {
    const struct lf_hw_reg_edit *e = &hw->win_registry[i];
    char path[600];
    int r = 0;

    if ((size_t) snprintf (path, sizeof path, "%s\\%s", cs, e->key)
        >= sizeof path) {
      lf_error (ENAMETOOLONG, "%s: registry key too long", e->key);
      return -1;
    }
    uint64_t node = lf_whive_node (w, 0, path);
    switch (e->action) {
    case LF_HW_REG_DELETE_KEY:
      r = lf_whive_delete_key (w, path);
      break;
    case LF_HW_REG_DELETE_VALUE:
      r = node ? lf_whive_delete (w, node, path, e->value) : 0;
      break;
    case LF_HW_REG_SET_DWORD:
      /* Only where the key exists: a value of a service the guest does
       * not have would create nothing that loads.
       */
      r = node ? lf_whive_set_dword (w, node, path, e->value, e->dword) : 0;
      if (r == 0 && !node)
        lf_plan_note (w->p, CONCERN, LF_SKIPPED, "SYSTEM\\%s: no such key "
                      "(%s needs %s = %u: %s)", path, hw->name, e->value,
                      (unsigned) e->dword, e->why);
      break;
    }
    if (r == -1)
      return -1;
    if (r == 0 && e->action != LF_HW_REG_SET_DWORD)
      lf_plan_note (w->p, CONCERN, LF_ALREADY_RIGHT, "SYSTEM\\%s%s%s: "
                    "absent, as %s needs (%s)", path, e->value ? "\\" : "",
                    e->value ? e->value : "", hw->name, e->why);
  }
  return 0;
}

int
lf_fix_windows_boot_drivers (struct lf_winfix *c)
{
  struct lf_os *os = c->os;
  struct lf_plan *p = c->p;
  const char *sysroot = lf_win_sysroot (os);
  struct lf_whive *w = c->system;
  char **sets = NULL;
  char *ready = NULL;
  int r = -1;

  if (!(sets = lf_whive_control_sets (w)))
    goto out;
  for (char **cs = sets; *cs; cs++) {
    char where[300];
    snprintf (where, sizeof where, "%s\\Services", *cs);
    uint64_t services = lf_whive_node (w, 0, where);
    if (!services) {
      lf_plan_note (p, CONCERN, LF_FAILED, "SYSTEM\\%s: key missing: "
                    "the control set is damaged", where);
      continue;
    }
    if (fix_drivers (w, sysroot, *cs, services, c->o->profile) == -1 ||
        fix_registry (w, *cs, c->o->profile) == -1)
      goto out;
    for (size_t i = 0; i < sizeof core / sizeof core[0]; i++) {
      if (strcmp (core[i], "volume") == 0 &&
          lf_win_version (os) < CORE_VOLUME_SINCE)
        continue;
      uint64_t k = lf_whive_node (w, services, core[i]);
      uint32_t start;
      if (!k)
        lf_plan_note (p, CONCERN, LF_WARNING, "SYSTEM\\%s\\%s: boot-critical "
                      "service missing", where, core[i]);
      else if (lf_whive_get_dword (w, k, "Start", &start) != LF_MATCH)
        lf_plan_note (p, CONCERN, LF_WARNING, "SYSTEM\\%s\\%s: no Start "
                      "value (boot-critical, should be 0): Windows may stop "
                      "with 0x7B", where, core[i]);
      else if (start != 0)
        lf_plan_note (p, CONCERN, LF_WARNING, "SYSTEM\\%s\\%s\\Start is %u, "
                      "not 0 (boot): Windows may stop with 0x7B", where,
                      core[i], start);
    }
    /* After the drivers: a filter can be one whose key was just created. */
    if (lf_win_check_class_filters (w, sysroot, *cs) == -1)
      goto out;
  }
  lf_win_check_vmbus_acpi (w, os);
  ready = lf_win_readiness (os, c->o->profile);
  if (ready)
    lf_plan_note (p, CONCERN, LF_SKIPPED, "%s's accelerated networking "
                  "(reported, not enforced): %s", c->o->profile->name, ready);
  r = 0;
 out:
  lf_free_names (sets);
  free (ready);
  return r;
}

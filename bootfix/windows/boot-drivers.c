/* landfall bootfix/windows: the boot-start drivers Azure's (Hyper-V's)
 * storage needs, in every control set (reference/windows.md W01-W09).
 *
 * A driver whose service key exists gets Start=0 (created if absent).  A
 * missing key whose driver file is present is created as Windows would
 * (Type, Start, ErrorControl, ImagePath, Group).  A missing driver file is
 * LF_FAILED "needs driver injection": a disk without it stops with
 * INACCESSIBLE_BOOT_DEVICE (0x7B), so it is never written.  The file is
 * the one the service's ImagePath names (storflt's is vmstorfl.sys), plus
 * the port drivers intelide and atapi load.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "winfix.h"

#define CONCERN "boot-drivers"

struct boot_driver {
  const char *service;
  const char *file;             /* default image, in System32\drivers */
  const char *also;             /* a port driver it needs, or NULL */
  const char *group;            /* load-order group (the inbox INFs') */
};

/* Groups as the inbox drivers register them (checked against the real
 * Windows 7 and Windows 10 hives in the test data).
 */
static const struct boot_driver drivers[] = {
  { "storvsc",  "storvsc.sys",  NULL,          "Base" },
  { "vmbus",    "vmbus.sys",    NULL,          "System Bus Extender" },
  { "storflt",  "vmstorfl.sys", NULL,          "Extended Base" },
  { "intelide", "intelide.sys", "pciidex.sys", "System Bus Extender" },
  { "atapi",    "atapi.sys",    "ataport.sys", "SCSI Miniport" },
};

/* Boot-critical services that must already be boot start (W09).  The
 * reference also lists "volume", which Windows 7 does not have (checked
 * against the real hive): a warning there would be false.
 */
static const char *const core[] = {
  "ACPI", "disk", "volmgr", "partmgr", "volsnap",
};

/* Check the driver's files; LF_FAILED notes for missing ones.  Returns
 * true if all are there.
 */
static bool
files_present (struct lf_plan *p, const char *sysroot, const char *where,
               const struct boot_driver *d, const char *image)
{
  CLEANUP_FREE char *path = lf_win_image_path (sysroot, image);
  char def[512], also[512];
  bool ok = true;

  if (!path) {
    snprintf (def, sizeof def, "%s/System32/drivers/%s", sysroot, d->file);
    path = strdup (def);
    if (!path)
      return false;
  }
  if (!lf_plan_exists (p, path)) {
    lf_plan_note (p, CONCERN, LF_FAILED, "%s: driver file %s is missing: "
                  "needs driver injection (landfall injects no drivers; "
                  "without it Windows stops with INACCESSIBLE_BOOT_DEVICE, "
                  "0x7B)", where, path);
    ok = false;
  }
  if (d->also) {
    snprintf (also, sizeof also, "%s/System32/drivers/%s", sysroot, d->also);
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
            hive_node_h services, const struct boot_driver *d)
{
  char where[300], image[300];
  hive_node_h key = lf_whive_node (w, services, d->service);

  snprintf (where, sizeof where, "%s\\Services\\%s", cs, d->service);
  if (key) {
    CLEANUP_FREE char *ip = lf_whive_get_sz (w, key, "ImagePath");
    if (!files_present (w->p, sysroot, where, d, ip))
      return 0;
    return lf_whive_set_dword (w, key, where, "Start", 0) == -1 ? -1 : 0;
  }
  if (!files_present (w->p, sysroot, where, d, NULL))
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
      lf_whive_set_sz (w, key, where, "Group", d->group, false) == -1)
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

int
lf_fix_windows_boot_drivers (struct lf_guest *g, struct lf_os *os,
                             struct lf_plan *p, const struct lf_fix_opts *o)
{
  char path[512];
  const char *sysroot = lf_win_sysroot (os);
  CLEANUP_WHIVE struct lf_whive *w = NULL;
  char **sets = NULL;
  int r = -1;

  (void) g;
  (void) o;
  if (lf_win_hive_path (os, "SYSTEM", path, sizeof path) == -1 ||
      !(w = lf_whive_open (p, CONCERN, path, "SYSTEM")) ||
      !(sets = lf_whive_control_sets (w)))
    goto out;
  for (char **cs = sets; *cs; cs++) {
    char where[300];
    snprintf (where, sizeof where, "%s\\Services", *cs);
    hive_node_h services = lf_whive_node (w, 0, where);
    if (!services) {
      lf_plan_note (p, CONCERN, LF_FAILED, "SYSTEM\\%s: key missing: "
                    "the control set is damaged", where);
      continue;
    }
    for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++)
      if (fix_driver (w, sysroot, *cs, services, &drivers[i]) == -1)
        goto out;
    for (size_t i = 0; i < sizeof core / sizeof core[0]; i++) {
      hive_node_h k = lf_whive_node (w, services, core[i]);
      uint32_t start;
      if (!k)
        lf_plan_note (p, CONCERN, LF_WARNING, "SYSTEM\\%s\\%s: boot-critical "
                      "service missing", where, core[i]);
      else if (lf_whive_get_dword (w, k, "Start", &start) == LF_MATCH &&
               start != 0)
        lf_plan_note (p, CONCERN, LF_WARNING, "SYSTEM\\%s\\%s\\Start is %u, "
                      "not 0 (boot): Windows may stop with 0x7B", where,
                      core[i], start);
    }
  }
  r = lf_whive_commit (w, WIN_HIVE_WHY);
 out:
  lf_free_names (sets);
  return r;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall fuzz target: the Windows fix's hive reading (guest/hive.c, the
 * hivex adapter, bootfix/windows/hive-edit.c and the concerns above it).
 * hivex parses the cells; what
 * landfall itself parses is the base block's sequence numbers and the
 * value data it decodes (REG_MULTI_SZ lists of page files and BCD display
 * orders, class filter lists, UTF-16 strings, firewall rule strings,
 * ImagePaths).
 *
 * The input is written as both the SYSTEM hive and the BCD store of a
 * mounted-tree guest (with the boot drivers' files present, so the edit
 * paths run), then every Windows concern plans its edits on the hives
 * opened once (as lf_fix_windows runs them); the planned
 * hive is planned again, which must change nothing more.  Errors are
 * expected; crashes and sanitizer reports are the bugs.
 *
 * Seeds (hivexregedit --merge into hivex's 'minimal' test hive): system
 * has Select, two control sets with the boot drivers, partmgr, Dhcp, a
 * static interface, a persistent route, Terminal Server, firewall rules,
 * VMware Tools and the agent, PagingFiles on D: and MountedDevices;
 * system-filters adds storage class filters (present, missing, a VMware
 * user-mode one, a REG_SZ list), TimeZoneInformation, W32Time and a
 * wvmbus.inf DriverDatabase package without ACPI\MSFT1000; bcd has
 * {bootmgr} with a default loader and a display order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootfix/bootfix.h"
#include "bootfix/windows/winfix.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static char root[64];

static void
put (const char *rel, const void *data, size_t size)
{
  char path[256];
  FILE *fp;

  snprintf (path, sizeof path, "%s%s", root, rel);
  fp = fopen (path, "wb");
  if (!fp || (size && fwrite (data, 1, size, fp) != size) || fclose (fp))
    abort ();
}

static void
make_tree (void)
{
  static const char *const dirs[] = {
    "/Windows", "/Windows/System32", "/Windows/System32/config",
    "/Windows/System32/drivers", "/Boot",
  };
  static const char *const drivers[] = {
    "storvsc", "vmbus", "vmstorfl", "storflt", "intelide", "pciidex",
    "atapi", "ataport",
  };
  char path[256];

  strcpy (root, "/tmp/landfall-fuzz-winhive-XXXXXX");
  if (!mkdtemp (root))
    abort ();
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    snprintf (path, sizeof path, "%s%s", root, dirs[i]);
    if (mkdir (path, 0755) == -1)
      abort ();
  }
  for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++) {
    snprintf (path, sizeof path, "/Windows/System32/drivers/%s.sys",
              drivers[i]);
    put (path, "MZ", 2);
  }
}

static void
remove_tree (void)
{
  char cmd[128];
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", root);
  if (system (cmd) != 0)
    abort ();
}

#define NCONCERNS 8

/* Every concern as lf_fix_windows runs them (the hives opened once,
 * committed once), but on past a failing one: the count of those that
 * succeeded, NCONCERNS + 1 if the commit did too.
 */
static size_t
run_concerns (struct lf_os *os, struct lf_plan *p)
{
  static lf_winfix_fn *const concerns[] = {
    lf_fix_windows_boot_drivers, lf_fix_windows_san_policy,
    lf_fix_windows_drive_letters, lf_fix_windows_network,
    lf_fix_windows_rdp, lf_fix_windows_agents, lf_fix_windows_time,
    lf_fix_windows_bcd,
  };
  /* The boot drivers are the profile's: azure-gen1's, the longest list,
   * read once from the source tree (the corpus is replayed from the top;
   * LANDFALL_HW_DIR for a run elsewhere).
   */
  static struct lf_hw_profile *hw;
  struct lf_guest g = { 0 };
  struct lf_fix_opts o = { .rdp_no_nla = true };
  struct lf_winfix c;
  size_t ok = 0;

  if (!hw) {
    const char *dir = getenv ("LANDFALL_HW_DIR");
    if (!(hw = lf_hw_profile_load (dir && *dir ? dir : "hw", "azure-gen1"))) {
      fprintf (stderr, "fuzz-winhive: %s\n", lf_last_error ());
      abort ();
    }
  }
  o.profile = hw;

  _Static_assert (sizeof concerns / sizeof concerns[0] == NCONCERNS,
                  "NCONCERNS counts the concerns");
  if (lf_winfix_open (&c, &g, os, p, &o) == -1) {
    lf_error_clear ();
    return 0;
  }
  for (size_t i = 0; i < sizeof concerns / sizeof concerns[0]; i++) {
    ok += lf_winfix_run (&c, "fuzz", concerns[i]) == 0;
    lf_error_clear ();
  }
  ok += lf_winfix_commit (&c) == 0;
  lf_error_clear ();
  lf_winfix_close (&c);
  return ok;
}

/* The report, as the CLI would make it. */
static void
report (struct lf_plan *p)
{
  json_t *r = lf_plan_report (p);
  char *s = json_dumps (r, 0);
  free (s);
  json_decref (r);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct lf_fs *fs;
  struct lf_mounts ms = { 0 };
  struct lf_os os = { .type = "windows" };

  make_tree ();
  put ("/Windows/System32/config/SYSTEM", data, size);
  put ("/Boot/BCD", data, size);
  fs = lf_fs_open_tree (root, true);
  if (!fs || lf_mounts_add (&ms, "/", fs) == -1)
    abort ();
  os.mounts = ms;
  /* Letters as inspection reports them: C: the Windows volume.  Version
   * 6.3 (2012 R2), so that the VMBus DriverDatabase check (W11) runs too.
   */
  os.facts = json_pack ("{s:s, s:s, s:[{s:s, s:s}], s:{s:s}}", "systemroot",
                        "/Windows", "root", "disk.img:p1", "drive_letters",
                        "letter", "C:", "partition", "disk.img:p1",
                        "product", "version", "6.3");

  struct lf_plan *p = lf_plan_new (&ms);
  if (!p)
    abort ();
  size_t ok = run_concerns (&os, p);
  report (p);
  /* Planning again over the planned hives: when every concern succeeded
   * the first time (failed findings included: they are skipped both
   * times), each finds its values right and plans nothing.
   */
  if (ok == NCONCERNS + 1) {
    struct lf_plan *p2 = lf_plan_new (&ms);
    char *buf = NULL;
    size_t len;
    /* The second plan starts from the first's bytes. */
    if (lf_plan_read (p, "/Windows/System32/config/SYSTEM", WIN_HIVE_MAX,
                      &buf, &len) == 0) {
      put ("/Windows/System32/config/SYSTEM", buf, len);
      free (buf);
    }
    if (lf_plan_read (p, "/Boot/BCD", WIN_HIVE_MAX, &buf, &len) == 0) {
      put ("/Boot/BCD", buf, len);
      free (buf);
    }
    if (run_concerns (&os, p2) == NCONCERNS + 1 && lf_plan_nedits (p2) != 0) {
      lf_plan_print (p2, stderr);
      abort ();                 /* not idempotent */
    }
    report (p2);
    lf_plan_free (p2);
  }
  lf_error_clear ();
  lf_plan_free (p);
  json_decref (os.facts);
  lf_mounts_free (&ms);
  lf_fs_close (fs);
  remove_tree ();
  return 0;
}

#include "tests/fuzz/fuzz-main.h"

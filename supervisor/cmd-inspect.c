/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall inspect: what is on a machine's disks. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "guest/guest.h"
#include "bootfix/bootfix.h"
#include "supervisor/cli.h"

static void
usage (FILE *fp)
{
  fprintf (fp,
"Usage: landfall inspect [OPTIONS] DISK...\n"
"\n"
"Report what is on the disks of one machine, read-only, without running\n"
"anything from the guest: per disk its format, size, partition table and\n"
"partitions; filesystems (type, UUID, label); LVM logical volumes; and for\n"
"each operating system found:\n"
"  Windows: product, version, build, edition, architecture, control sets,\n"
"    the profile's boot drivers (service, Start, .sys), SAN policy,\n"
"    drive letters mapped to\n"
"    partitions, NICs (static or DHCP), VMware Tools, Azure agent,\n"
"    BitLocker, hive state;\n"
"  Linux: distribution, version, family, architecture, kernels with the\n"
"    profile's modules, initramfs images (which of them each holds) and\n"
"    generator, boot loaders,\n"
"    firmware, fstab and what each entry resolves to, network stacks and\n"
"    their addressing, persistent-net rules, VMware tools, waagent,\n"
"    cloud-init, SELinux;\n"
"  and which Azure generations the disk can boot as, and why.\n"
"\n"
"Give every disk of the machine, in the order the source VM had them:\n"
"/boot, /var or D: may live on another disk, and /dev/sdb means the\n"
"second disk given.\n"
"\n"
"Options:\n"
"      --json        the report as JSON on stdout\n"
"      --profile P   the target whose drivers and modules are reported (a\n"
"                    profile of hw/, default azure-gen1)\n"
"      --guestfs=WHEN  read what no native backend reads (XFS, btrfs, LVs\n"
"                    that are not linear) with libguestfs, which boots a\n"
"                    helper VM (seconds with KVM, ~30 s without): 'auto'\n"
"                    (default) only when there is such a filesystem,\n"
"                    'always', or 'never'; LANDFALL_GUESTFS=WHEN sets the\n"
"                    default.  LANDFALL_KVM=0|1 overrides KVM detection.\n"
"  -v, --verbose     debug output on stderr\n"
LF_CLI_ALLOW_BACKING_HELP
"  -h, --help        this help\n"
"\n"
"Exit status: 0 success, 1 failure, 2 usage error.\n");
}

static void
print_human (json_t *r)
{
  size_t i;
  json_t *d, *f, *os;

  json_array_foreach (json_object_get (r, "disks"), i, d) {
    json_t *pt = json_object_get (d, "partition_table");
    printf ("disk %zu: %s (%s%s%s, %lld bytes), partition table: %s\n", i,
            json_string_value (json_object_get (d, "path")),
            json_string_value (json_object_get (d, "format")),
            *json_string_value (json_object_get (d, "subformat")) ? " " : "",
            json_string_value (json_object_get (d, "subformat")),
            (long long) json_integer_value (json_object_get (d, "virtual_size")),
            *json_string_value (json_object_get (pt, "type"))
            ? json_string_value (json_object_get (pt, "type")) : "none");
  }
  json_array_foreach (json_object_get (r, "filesystems"), i, f) {
    json_t *err = json_object_get (f, "error");
    printf ("  %-28s %-12s %s%s%s\n",
            json_string_value (json_object_get (f, "device")),
            *json_string_value (json_object_get (f, "type"))
            ? json_string_value (json_object_get (f, "type")) : "(unknown)",
            json_string_value (json_object_get (f, "uuid")),
            err ? "  ! " : "", err ? json_string_value (err) : "");
  }
  json_array_foreach (json_object_get (r, "operating_systems"), i, os) {
    const char *type = json_string_value (json_object_get (os, "type"));
    printf ("%s on %s", type, json_string_value (json_object_get (os, "root")));
    if (strcmp (type, "linux") == 0) {
      json_t *dist = json_object_get (os, "distro");
      printf (": %s (family %s)\n",
              json_string_value (json_object_get (dist, "name")) ?: "?",
              json_string_value (json_object_get (dist, "family")) ?: "?");
    }
    else {
      json_t *p = json_object_get (os, "product");
      printf (": %s, build %s\n",
              json_string_value (json_object_get (p, "name")) ?: "?",
              json_string_value (json_object_get (p, "build")) ?: "?");
    }
  }
}

int
lf_cmd_inspect (int argc, char *argv[])
{
  enum { OPT_JSON = 256, OPT_GUESTFS, OPT_PROFILE };
  static const struct option longopts[] = {
    { "json",    no_argument, NULL, OPT_JSON },
    { "profile", required_argument, NULL, OPT_PROFILE },
    { "guestfs", required_argument, NULL, OPT_GUESTFS },
    { "verbose", no_argument, NULL, 'v' },
    LF_CLI_ALLOW_BACKING_OPTION,
    { "help",    no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  bool json = false;
  struct lf_guest *g = NULL;
  json_t *report = NULL;
  int c, ret = LF_EXIT_FAILED;
  const char *guestfs = getenv ("LANDFALL_GUESTFS");
  const char *profile = "azure-gen1";
  struct lf_hw_profile *hw = NULL;
  const char *svc[LF_HW_MAX_LIST + 1] = { NULL };
  const char *files[LF_HW_MAX_LIST + 1] = { NULL };

  if (!guestfs || !*guestfs)
    guestfs = "auto";
  optind = 1;
  while ((c = getopt_long (argc, argv, "vh", longopts, NULL)) != -1) {
    switch (c) {
    case OPT_JSON: json = true; break;
    case OPT_GUESTFS: guestfs = optarg; break;
    case OPT_PROFILE: profile = optarg; break;
    case 'v': lf_debug_level++; break;
    case LF_OPT_ALLOW_BACKING:
      if (lf_cli_allow_backing ("inspect", optarg) == -1)
        return LF_EXIT_USAGE;
      break;
    case 'h': usage (stdout); return LF_EXIT_OK;
    default: usage (stderr); return LF_EXIT_USAGE;
    }
  }
  if (strcmp (guestfs, "auto") != 0 && strcmp (guestfs, "always") != 0 &&
      strcmp (guestfs, "never") != 0) {
    fprintf (stderr, "%s inspect: --guestfs (or LANDFALL_GUESTFS) is "
             "'auto', 'always' or 'never', not '%s'\n", lf_progname, guestfs);
    return LF_EXIT_USAGE;
  }
  if (optind >= argc) {
    fprintf (stderr, "%s inspect: expected at least one disk (see --help)\n",
             lf_progname);
    return LF_EXIT_USAGE;
  }
  g = lf_guest_open ((const char *const *) argv + optind,
                     (size_t) (argc - optind), false);
  if (!g)
    goto out;
  if (strcmp (guestfs, "never") != 0 &&
      lf_guest_open_guestfs (g, strcmp (guestfs, "always") == 0) == -1)
    goto out;
  if (!(hw = lf_hw_profile_load (NULL, profile))) {
    lf_error_prefix ("--profile");
    goto out;
  }
  if (lf_guest_inspect (g) == -1)
    goto out;
  /* guest/ reports facts; which drivers and modules matter is the
   * profile's to say.
   */
  for (size_t i = 0; i < hw->nwin_drivers && i < LF_HW_MAX_LIST; i++) {
    svc[i] = hw->win_drivers[i].service;
    files[i] = hw->win_drivers[i].file;
  }
  for (size_t i = 0; i < g->nos; i++)
    if ((strcmp (g->oses[i].type, "linux") == 0 &&
         lf_linux_module_facts (&g->oses[i],
                                (const char *const *) hw->linux_modules) == -1) ||
        (strcmp (g->oses[i].type, "windows") == 0 &&
         lf_win_driver_facts (&g->oses[i], svc, files) == -1))
      goto out;
  report = lf_guest_report (g);
  json_object_set_new (report, "profile", json_string (hw->name));
  if (json)
    lf_cli_print_json (report);
  else
    print_human (report);
  ret = LF_EXIT_OK;
 out:
  if (ret != LF_EXIT_OK) {
    lf_cli_print_error ();
    if (json) {
      json_t *e = json_pack ("{s:s, s:b, s:s}", "command", "inspect", "ok", 0,
                             "error", lf_last_error ());
      lf_cli_print_json (e);
      json_decref (e);
    }
  }
  json_decref (report);
  lf_guest_close (g);
  lf_hw_profile_free (hw);
  return ret;
}

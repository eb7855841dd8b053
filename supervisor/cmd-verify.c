/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall verify: will this machine's disks boot on the target hardware?
 * Static checks against a profile of hw/, and optionally a QEMU boot
 * configured like it.  The disks are opened read-only and never changed.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "guest/guest.h"
#include "bootfix/bootfix.h"
#include "hw/hw.h"
#include "supervisor/cli.h"

#define VERIFY_MAX_MARKERS 16

static void
usage (FILE *fp)
{
  fprintf (fp,
"Usage: landfall verify --profile P [OPTIONS] DISK...\n"
"       landfall verify --host [--json]\n"
"       landfall verify --list-profiles\n"
"\n"
"Check the disks of one machine (the OS disk first) against a target\n"
"hardware profile, read-only: the container (fixed VHD, footer, whole\n"
"MiB, OS disk limit), the partition table and boot code for the\n"
"profile's firmware; for Linux the default kernel's initramfs (every\n"
"module the profile needs and its dependencies), root= and fstab by\n"
"UUID/LABEL to filesystems present, the serial console and DHCP on the\n"
"primary NIC; for Windows Select naming existing control sets, the\n"
"profile's boot drivers (Start=0, files present) in the current control\n"
"set, SAN policy OnlineAll and DHCP.\n"
"Each check passes or fails with its reason and what to do.\n"
"\n"
"Options:\n"
"  -p, --profile P   target profile (hw/P.json), e.g. azure-gen1, azure-gen2\n"
"      --boot        also boot the disks under QEMU as the profile says\n"
"                    (through qcow2 overlays: the disks are not written);\n"
"                    KVM only where it really works, TCG otherwise\n"
"      --timeout S   seconds to wait for userspace (default 240)\n"
"      --marker TEXT console text that means userspace was reached\n"
"                    (repeatable; default 'login:')\n"
"      --boot-log F  keep the serial console log in F\n"
"      --json        the report as JSON on stdout\n"
"      --guestfs=WHEN  as for inspect (auto, always, never)\n"
"      --host        report the hardware landfall runs on (DMI, VMBus)\n"
"      --list-profiles  the profiles found, and where\n"
"  -v, --verbose     debug output on stderr\n"
LF_CLI_ALLOW_BACKING_HELP
"  -h, --help        this help\n"
"\n"
"Profiles are read from $LANDFALL_HW_DIR, else beside the binary\n"
"(../share/landfall/hw installed, ../hw in a source tree), else\n"
"PREFIX/share/landfall/hw.  LANDFALL_KVM=0|1 overrides KVM detection.\n"
"\n"
"Exit status: 0 no check failed (unknowns are listed), 1 a check failed\n"
"or an error, 2 usage error.\n");
}

static void
print_human (json_t *r)
{
  json_t *c;
  size_t i;

  printf ("profile %s\n", json_string_value (json_object_get (
      json_object_get (r, "profile"), "name")));
  json_array_foreach (json_object_get (r, "checks"), i, c) {
    const char *st = json_string_value (json_object_get (c, "status"));
    const char *hint = json_string_value (json_object_get (c, "what_to_do"));
    char up[16];
    size_t k;
    for (k = 0; st[k] && k < sizeof up - 1; k++)
      up[k] = (char) (st[k] >= 'a' && st[k] <= 'z' ? st[k] - 32 : st[k]);
    up[k] = '\0';
    printf ("%-7s %-24s %s\n        %s\n", up,
            json_string_value (json_object_get (c, "check")),
            json_string_value (json_object_get (c, "subject")),
            json_string_value (json_object_get (c, "reason")));
    if (hint && strcmp (st, "pass") != 0)
      printf ("        what to do: %s\n", hint);
  }
  json_t *s = json_object_get (r, "summary");
  printf ("%lld passed, %lld failed, %lld unknown, %lld notes: %s\n",
          (long long) json_integer_value (json_object_get (s, "pass")),
          (long long) json_integer_value (json_object_get (s, "fail")),
          (long long) json_integer_value (json_object_get (s, "unknown")),
          (long long) json_integer_value (json_object_get (s, "note")),
          json_is_true (json_object_get (r, "ok")) ? "OK" : "FAILED");
}

int
lf_cmd_verify (int argc, char *argv[])
{
  enum { OPT_JSON = 256, OPT_BOOT, OPT_TIMEOUT, OPT_MARKER, OPT_LOG,
         OPT_GUESTFS, OPT_HOST, OPT_LIST };
  static const struct option longopts[] = {
    { "profile",  required_argument, NULL, 'p' },
    { "boot",     no_argument, NULL, OPT_BOOT },
    { "timeout",  required_argument, NULL, OPT_TIMEOUT },
    { "marker",   required_argument, NULL, OPT_MARKER },
    { "boot-log", required_argument, NULL, OPT_LOG },
    { "json",     no_argument, NULL, OPT_JSON },
    { "guestfs",  required_argument, NULL, OPT_GUESTFS },
    { "host",     no_argument, NULL, OPT_HOST },
    { "list-profiles", no_argument, NULL, OPT_LIST },
    { "verbose",  no_argument, NULL, 'v' },
    LF_CLI_ALLOW_BACKING_OPTION,
    { "help",     no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  bool json = false, boot = false, host = false, list = false;
  const char *profile = NULL, *guestfs = getenv ("LANDFALL_GUESTFS");
  const char *markers[VERIFY_MAX_MARKERS + 1] = { NULL };
  size_t nmarkers = 0;
  struct lf_verify_boot_opts bo = { .timeout = 240, .markers = markers };
  struct lf_hw_profile *p = NULL;
  struct lf_guest *g = NULL;
  json_t *report = NULL, *checks = NULL;
  int c, ret = LF_EXIT_FAILED;

  if (!guestfs || !*guestfs)
    guestfs = "auto";
  optind = 1;
  while ((c = getopt_long (argc, argv, "p:vh", longopts, NULL)) != -1) {
    switch (c) {
    case 'p': profile = optarg; break;
    case OPT_BOOT: boot = true; break;
    case OPT_TIMEOUT: {
      unsigned long t;
      if (lf_parse_uint (optarg, 1, 86400, &t) == -1) {
        fprintf (stderr, "%s verify: --timeout: '%s' is not 1..86400 "
                 "seconds\n", lf_progname, optarg);
        return LF_EXIT_USAGE;
      }
      bo.timeout = (unsigned) t;
      break;
    }
    case OPT_MARKER:
      if (nmarkers == VERIFY_MAX_MARKERS || !*optarg) {
        fprintf (stderr, "%s verify: --marker: at most %d, not empty\n",
                 lf_progname, VERIFY_MAX_MARKERS);
        return LF_EXIT_USAGE;
      }
      markers[nmarkers++] = optarg;
      break;
    case OPT_LOG: bo.log = optarg; break;
    case OPT_JSON: json = true; break;
    case OPT_GUESTFS: guestfs = optarg; break;
    case OPT_HOST: host = true; break;
    case OPT_LIST: list = true; break;
    case 'v': lf_debug_level++; break;
    case LF_OPT_ALLOW_BACKING:
      if (lf_cli_allow_backing ("verify", optarg) == -1)
        return LF_EXIT_USAGE;
      break;
    case 'h': usage (stdout); return LF_EXIT_OK;
    default: usage (stderr); return LF_EXIT_USAGE;
    }
  }
  if (!nmarkers)
    markers[0] = "login:";
  if (strcmp (guestfs, "auto") != 0 && strcmp (guestfs, "always") != 0 &&
      strcmp (guestfs, "never") != 0) {
    fprintf (stderr, "%s verify: --guestfs is 'auto', 'always' or 'never', "
             "not '%s'\n", lf_progname, guestfs);
    return LF_EXIT_USAGE;
  }

  if (host) {
    json_t *h = lf_hw_probe ("/");
    if (json)
      lf_cli_print_json (h);
    else {
      json_t *dmi = json_object_get (h, "dmi");
      printf ("platform: %s\nvendor: %s\nproduct: %s\nVMBus: %s (%zu "
              "devices)\nCPU hypervisor flag: %s\n",
              json_string_value (json_object_get (h, "platform")),
              json_string_value (json_object_get (dmi, "sys_vendor")) ?: "?",
              json_string_value (json_object_get (dmi, "product_name")) ?: "?",
              json_is_true (json_object_get (json_object_get (h, "vmbus"),
                                             "present")) ? "present" : "absent",
              json_array_size (json_object_get (json_object_get (h, "vmbus"),
                                                "devices")),
              json_is_true (json_object_get (h, "cpu_hypervisor_flag"))
              ? "yes" : "no");
    }
    json_decref (h);
    return LF_EXIT_OK;
  }
  if (list) {
    const char *dir = lf_hw_dir ();
    char **names = dir ? lf_hw_profile_names (dir) : NULL;
    if (!names) {
      lf_cli_print_error ();
      return LF_EXIT_FAILED;
    }
    for (char **n = names; *n; n++) {
      struct lf_hw_profile *q = lf_hw_profile_load (dir, *n);
      printf ("%-16s %s\n", *n, q ? q->description : lf_last_error ());
      lf_hw_profile_free (q);
      free (*n);
    }
    free (names);
    printf ("(from %s)\n", dir);
    return LF_EXIT_OK;
  }
  if (!profile) {
    fprintf (stderr, "%s verify: --profile P is required (see "
             "--list-profiles)\n", lf_progname);
    return LF_EXIT_USAGE;
  }
  if (optind >= argc) {
    fprintf (stderr, "%s verify: expected at least one disk (see --help)\n",
             lf_progname);
    return LF_EXIT_USAGE;
  }
  if (!(p = lf_hw_profile_load (NULL, profile)))
    goto out;
  /* Read-only: verify never changes what it verifies. */
  g = lf_guest_open ((const char *const *) argv + optind,
                     (size_t) (argc - optind), false);
  if (!g)
    goto out;
  if (strcmp (guestfs, "never") != 0 &&
      lf_guest_open_guestfs (g, strcmp (guestfs, "always") == 0) == -1)
    goto out;
  if (lf_guest_inspect (g) == -1)
    goto out;
  checks = lf_verify_static (g, p);
  if (boot) {
    json_t *b = lf_verify_boot (g, p, &bo);
    if (!b) {
      lf_verify_add (checks, "boot", lf_disk_path (g->disks[0]), "fail",
                     "install qemu-system-x86 and qemu-utils",
                     "could not boot: %s", lf_last_error ());
      lf_error_clear ();
    }
    else
      json_array_append_new (checks, b);
  }

  json_int_t n[4] = { 0 };
  static const char *const st[4] = { "pass", "fail", "unknown", "note" };
  size_t i;
  json_t *ch;
  json_array_foreach (checks, i, ch)
    for (size_t k = 0; k < 4; k++)
      if (strcmp (json_string_value (json_object_get (ch, "status")),
                  st[k]) == 0)
        n[k]++;
  report = json_pack ("{s:s, s:b, s:o, s:O, s:{s:I, s:I, s:I, s:I}}",
                      "command", "verify", "ok", n[1] == 0,
                      "profile", lf_hw_profile_json (p), "checks", checks,
                      "summary", "pass", n[0], "fail", n[1],
                      "unknown", n[2], "note", n[3]);
  if (json)
    lf_cli_print_json (report);
  else
    print_human (report);
  ret = n[1] == 0 ? LF_EXIT_OK : LF_EXIT_FAILED;
  lf_hw_profile_free (p);
  lf_guest_close (g);
  json_decref (checks);
  json_decref (report);
  return ret;

 out:
  lf_cli_print_error ();
  if (json) {
    json_t *e = json_pack ("{s:s, s:b, s:s}", "command", "verify", "ok", 0,
                           "error", lf_last_error ());
    lf_cli_print_json (e);
    json_decref (e);
  }
  lf_hw_profile_free (p);
  lf_guest_close (g);
  json_decref (checks);
  return ret;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall: hw/ unit tests.  The profiles shipped in hw/ must load; each
 * error path of the parser builds a bad profile in memory and checks the
 * message names the file and the field; the host probe reads a fake
 * sysfs tree.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "hw/hw.h"

static const char good[] =
  "{ \"name\": \"t\", \"firmware\": \"bios\", \"partition_tables\": [\"dos\"],"
  "  \"boot_bus\": \"ide\","
  "  \"disk\": { \"container\": \"vhd-fixed\", \"size_multiple\": 1048576,"
  "            \"max_os_disk_size\": 2199023255552 },"
  "  \"linux\": { \"modules\": [\"hv_vmbus\"], \"serial_console\": \"ttyS0\" },"
  "  \"windows\": { \"boot_drivers\": [ { \"service\": \"storflt\","
  "                 \"file\": \"vmstorfl.sys\", \"needs\": [\"x.sys\"] } ] },"
  "  \"qemu\": { \"machine\": \"pc\", \"firmware\": \"seabios\","
  "             \"disk_bus\": \"ide\", \"nic\": \"e1000\", \"memory_mib\": 512 } }";

/* GOOD with FROM replaced by TO, parsed as "dir/t.json". */
static struct lf_hw_profile *
parse_edit (const char *from, const char *to)
{
  char buf[4096];
  const char *at = strstr (good, from);
  ck_assert_msg (at != NULL, "%s not in the sample", from);
  snprintf (buf, sizeof buf, "%.*s%s%s", (int) (at - good), good, to,
            at + strlen (from));
  return lf_hw_profile_parse (buf, strlen (buf), "dir/t.json");
}

static void
expect_error (const char *from, const char *to, const char *msg)
{
  struct lf_hw_profile *p = parse_edit (from, to);
  ck_assert_msg (p == NULL, "'%s' -> '%s' was accepted", from, to);
  ck_assert_msg (strstr (lf_last_error (), msg) != NULL,
                 "'%s' -> '%s': got '%s', expected '%s'", from, to,
                 lf_last_error (), msg);
  ck_assert_msg (strncmp (lf_last_error (), "dir/t.json", 10) == 0,
                 "message does not name the file: %s", lf_last_error ());
}

START_TEST (test_good)
{
  struct lf_hw_profile *p = parse_edit ("\"t\"", "\"t\"");
  ck_assert_msg (p != NULL, "%s", lf_last_error ());
  ck_assert_str_eq (p->firmware, "bios");
  ck_assert_uint_eq (p->max_os_disk_size, UINT64_C (2199023255552));
  ck_assert_uint_eq (p->nwin_drivers, 1);
  ck_assert_str_eq (p->win_drivers[0].needs[0], "x.sys");
  ck_assert_str_eq (p->qemu_cpu, "qemu64");       /* default */
  ck_assert_ptr_null (p->qemu_ovmf_code[0]);
  ck_assert_str_eq (p->win_drivers[0].group, "");         /* defaults */
  ck_assert_str_eq (p->win_drivers[0].any_of, "");
  ck_assert_ptr_nonnull (p->linux_modules_optional);
  ck_assert_ptr_null (p->linux_modules_optional[0]);
  json_t *j = lf_hw_profile_json (p);
  ck_assert_ptr_nonnull (j);
  json_decref (j);
  lf_hw_profile_free (p);
}
END_TEST

START_TEST (test_errors)
{
  expect_error ("{ \"name\"", "[", "line 1");
  expect_error ("\"name\": \"t\"", "\"name\": \"u\"", "field 'name': 'u' differs");
  expect_error ("\"name\": \"t\"", "\"name\": 5", "field 'name': expected a string");
  expect_error ("\"name\": \"t\",", "", "field 'name': missing");
  expect_error ("\"bios\"", "\"coreboot\"", "field 'firmware': 'coreboot' is not one of");
  expect_error ("\"firmware\": \"bios\",", "\"firmware\": \"bios\", \"secure_boot\": 1,",
                "field 'secure_boot': expected true or false");
  expect_error ("\"firmware\": \"bios\",", "\"firmware\": \"bios\", \"secure_boot\": true,",
                "field 'secure_boot': Secure Boot needs firmware 'uefi'");
  expect_error ("[\"dos\"]", "[]", "field 'partition_tables': empty");
  expect_error ("[\"dos\"]", "[\"apm\"]", "is not 'dos' or 'gpt'");
  expect_error ("1048576,", "1000000,", "field 'disk.size_multiple': 1000000 is not a power of 2");
  expect_error ("2199023255552", "-1", "field 'disk.max_os_disk_size': -1 is out of range");
  expect_error ("2199023255552", "\"2T\"", "field 'disk.max_os_disk_size': expected an integer");
  expect_error ("\"ttyS0\" }", "\"ttyS0\", \"modprobe\": 1 }", "field 'linux.modprobe': not a known field");
  expect_error ("[\"hv_vmbus\"]", "[\"../x\"]", "is not a module name");
  expect_error ("\"vmstorfl.sys\"", "\"..\\\\x.sys\"", "not a plain file name");
  expect_error ("\"e1000\"", "\"e1000,romfile=/etc/shadow\"", "field 'qemu.nic'");
  expect_error ("\"seabios\"", "\"ovmf\"", "field 'qemu.ovmf_code'");
  expect_error ("\"ttyS0\"", "\"tty\\u0001\"", "control character");
  expect_error ("\"firmware\": \"bios\",",
                "\"firmware\": \"bios\", \"firmware\": \"uefi\",", "duplicate");
  expect_error ("512 }", "512, \"extra\": [] }", "field 'qemu.extra'");
  expect_error ("{ \"service\": \"storflt\",", "5, { \"service\": \"storflt\",",
                "windows.boot_drivers[0]': expected an object");
  expect_error ("\"needs\": [\"x.sys\"]", "\"needs\": [], \"any_of\": \"a/b\"",
                "any_of 'a/b' is not a plain name");
  expect_error ("\"needs\": [\"x.sys\"]", "\"group\": \"SCSI\\nminiport\"",
                "windows.boot_drivers[0].group': control character");
  expect_error ("\"needs\": [\"x.sys\"]", "\"group\": 7",
                "windows.boot_drivers[0].group': expected a string");
  expect_error ("[\"hv_vmbus\"]", "[\"hv_vmbus\"], \"modules_optional\": [\"a b\"]",
                "field 'linux.modules_optional': 'a b' is not a module name");
  expect_error ("[\"hv_vmbus\"]", "[\"hv_vmbus\"], \"modules_optional\": \"x\"",
                "field 'linux.modules_optional': expected an array");
  expect_error ("\"qemu\": {", "\"agents\": { \"disable\": [\"sshd\"] }, \"qemu\": {",
                "field 'agents.disable': 'sshd' is not 'vmware-tools'");
  expect_error ("\"qemu\": {", "\"agents\": { \"remove\": [] }, \"qemu\": {",
                "field 'agents.remove': not a known field");
  /* The target model: kernel parameters, registry edits, readiness. */
  expect_error ("\"ttyS0\" }", "\"ttyS0\", \"kernel_params\": { \"add\": [\"a b\"] } }",
                "field 'linux.kernel_params.add': 'a b' is not one kernel argument");
  expect_error ("\"ttyS0\" }", "\"ttyS0\", \"kernel_params\": { \"drop\": [] } }",
                "field 'linux.kernel_params.drop': not a known field");
  expect_error ("\"ttyS0\" }", "\"ttyS0\", \"rootdelay\": -1 }",
                "field 'linux.rootdelay': -1 is out of range");
  expect_error ("\"ttyS0\" }", "\"ttyS0\", \"readiness\": [ { \"module\": \"mana\", \"since\": \"6.x\", \"why\": \"w\" } ] }",
                "'6.x' is not a kernel version");
  expect_error ("\"needs\": [\"x.sys\"] } ]", "\"needs\": [\"x.sys\"] } ], \"registry\": [ { \"key\": \"Services\\\\x\", \"why\": \"w\" } ]",
                "windows.registry[0]': needs 'delete': true");
  expect_error ("\"needs\": [\"x.sys\"] } ]", "\"needs\": [\"x.sys\"] } ], \"registry\": [ { \"key\": \"\\\\x\", \"delete\": true, \"why\": \"w\" } ]",
                "is not a relative registry path");
  expect_error ("\"needs\": [\"x.sys\"] } ]", "\"needs\": [\"x.sys\"] } ], \"readiness\": [ { \"service\": \"mana\", \"why\": \"w\" } ]",
                "windows.readiness[0].file': missing");
  expect_error ("\"disk_bus\": \"ide\"", "\"disk_bus\": \"sata\"",
                "'sata' is not one of 'ide', 'scsi', 'nvme'");
}
END_TEST

START_TEST (test_too_big)
{
  size_t n = LF_HW_PROFILE_MAX_SIZE + 1;
  char *buf = malloc (n);
  ck_assert_ptr_nonnull (buf);
  memset (buf, ' ', n);
  ck_assert_ptr_null (lf_hw_profile_parse (buf, n, "big.json"));
  ck_assert_int_eq (lf_last_errno (), EFBIG);
  free (buf);
}
END_TEST

/* The shipped profiles, from the source tree (tests run at the top). */
START_TEST (test_shipped)
{
  char **names = lf_hw_profile_names ("hw");
  ck_assert_msg (names != NULL, "%s", lf_last_error ());
  size_t n = 0;
  for (char **x = names; *x; x++, n++) {
    struct lf_hw_profile *p = lf_hw_profile_load ("hw", *x);
    ck_assert_msg (p != NULL, "%s", lf_last_error ());
    lf_hw_profile_free (p);
    free (*x);
  }
  free (names);
  ck_assert_uint_ge (n, 2);
  struct lf_hw_profile *g2 = lf_hw_profile_load ("hw", "azure-gen2");
  ck_assert_ptr_nonnull (g2);
  ck_assert_str_eq (g2->firmware, "uefi");
  ck_assert_uint_eq (g2->max_os_disk_size, 4 * LF_TiB);
  ck_assert_str_eq (g2->qemu_disk_bus, "scsi");
  lf_hw_profile_free (g2);
  ck_assert_ptr_null (lf_hw_profile_load ("hw", "azure-gen9"));
  ck_assert_msg (strstr (lf_last_error (), "azure-gen1, azure-gen2") != NULL,
                 "%s", lf_last_error ());
  ck_assert_ptr_null (lf_hw_profile_load ("hw", "../etc/passwd"));

  /* NVMe: its registry edits, kernel parameter and QEMU controller. */
  struct lf_hw_profile *nv = lf_hw_profile_load ("hw", "azure-gen2-nvme");
  ck_assert_msg (nv != NULL, "%s", lf_last_error ());
  ck_assert_str_eq (nv->boot_bus, "nvme");
  ck_assert_str_eq (nv->qemu_disk_bus, "nvme");
  ck_assert_uint_eq (nv->nwin_registry, 2);
  ck_assert_int_eq (nv->win_registry[0].action, LF_HW_REG_DELETE_KEY);
  ck_assert_str_eq (nv->win_registry[0].key, "Services\\stornvme\\StartOverride");
  bool io = false;
  for (char **a = nv->kernel_params_add; *a; a++)
    io |= strcmp (*a, "nvme_core.io_timeout=240") == 0;
  ck_assert (io);
  ck_assert_int_eq (nv->rootdelay, 300);
  json_decref (lf_hw_profile_json (nv));
  lf_hw_profile_free (nv);

  /* The failback target: its storage drivers are alternatives. */
  struct lf_hw_profile *vm = lf_hw_profile_load ("hw", "vmware");
  ck_assert_msg (vm != NULL, "%s", lf_last_error ());
  ck_assert_str_eq (vm->firmware, "bios");
  ck_assert_str_eq (vm->qemu_scsi_controller, "pvscsi");
  ck_assert_str_eq (vm->qemu_nic, "vmxnet3");
  ck_assert_uint_ge (vm->nwin_drivers, 2);
  for (size_t i = 0; i < vm->nwin_drivers; i++)
    ck_assert_str_eq (vm->win_drivers[i].any_of, "vmware-storage");
  bool pvscsi = false, vmxnet3 = false;
  for (char **m = vm->linux_modules; *m; m++) {
    pvscsi |= strcmp (*m, "vmw_pvscsi") == 0;
    vmxnet3 |= strcmp (*m, "vmxnet3") == 0;
  }
  ck_assert (pvscsi && vmxnet3);
  ck_assert_str_eq (vm->linux_modules_optional[0], "mptsas");
  /* It keeps VMware's tools and reports Azure's agents. */
  ck_assert_ptr_null (vm->agents_disable[0]);
  ck_assert_ptr_null (vm->agents_configure[0]);
  ck_assert_str_eq (vm->agents_report[0], "waagent");
  lf_hw_profile_free (vm);
  /* Both Azure generations list their drivers as required, with the
   * load-order group a created key gets.
   */
  struct lf_hw_profile *g1 = lf_hw_profile_load ("hw", "azure-gen1");
  ck_assert_ptr_nonnull (g1);
  ck_assert_uint_eq (g1->nwin_drivers, 5);
  for (size_t i = 0; i < g1->nwin_drivers; i++) {
    ck_assert_str_eq (g1->win_drivers[i].any_of, "");
    ck_assert_str_ne (g1->win_drivers[i].group, "");
  }
  lf_hw_profile_free (g1);
}
END_TEST

static void
put (const char *root, const char *rel, const char *text)
{
  char path[512], cmd[600];
  snprintf (path, sizeof path, "%s/%s", root, rel);
  snprintf (cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
  ck_assert_int_eq (system (cmd), 0);
  FILE *fp = fopen (path, "w");
  ck_assert_ptr_nonnull (fp);
  fputs (text, fp);
  fclose (fp);
}

START_TEST (test_probe)
{
  char root[] = "/tmp/landfall-test-hw-XXXXXX", cmd[100];
  ck_assert_ptr_nonnull (mkdtemp (root));
  put (root, "sys/class/dmi/id/sys_vendor", "Microsoft Corporation\n");
  put (root, "sys/class/dmi/id/product_name", "Virtual Machine\n");
  put (root, "sys/class/dmi/id/chassis_asset_tag",
       "7783-7084-3265-9085-8269-3286-77\n");
  put (root, "sys/bus/vmbus/devices/dev1/class_id",
       "{ba6163d9-04a1-4d29-b605-72e2ffb1dc7f}\n");
  put (root, "proc/cpuinfo", "processor : 0\nflags : fpu sse hypervisor\n");
  json_t *j = lf_hw_probe (root);
  ck_assert_str_eq (json_string_value (json_object_get (j, "platform")), "azure");
  ck_assert (json_is_true (json_object_get (json_object_get (j, "vmbus"), "present")));
  ck_assert_uint_eq (json_array_size (json_object_get (json_object_get (j, "vmbus"), "devices")), 1);
  ck_assert (json_is_true (json_object_get (j, "cpu_hypervisor_flag")));
  json_decref (j);
  /* Hyper-V without Azure's asset tag; then nothing at all. */
  put (root, "sys/class/dmi/id/chassis_asset_tag", "None\n");
  j = lf_hw_probe (root);
  ck_assert_str_eq (json_string_value (json_object_get (j, "platform")), "hyper-v");
  json_decref (j);
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", root);
  ck_assert_int_eq (system (cmd), 0);
  j = lf_hw_probe ("/nonexistent-landfall");
  ck_assert_str_eq (json_string_value (json_object_get (j, "platform")), "unknown");
  json_decref (j);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("hw");
  TCase *tc = tcase_create ("core");
  SRunner *sr;
  int failed;

  tcase_add_test (tc, test_good);
  tcase_add_test (tc, test_errors);
  tcase_add_test (tc, test_too_big);
  tcase_add_test (tc, test_shipped);
  tcase_add_test (tc, test_probe);
  suite_add_tcase (s, tc);
  sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

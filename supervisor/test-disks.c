/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for supervisor/disks.c: disk names (lun:N, serial:S...)
 * resolved against a fake sysfs tree laid out as the kernel lays it out
 * for a helper VM: the appliance's own disk on host0, data disks at LUNs
 * of a virtio-scsi controller (host2) and of a second one (host3), a
 * virtio-blk disk, NVMe namespaces.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "supervisor/job.h"

static char root[64];

static void
put (const char *rel, const void *data, size_t len)
{
  char path[512], dir[600];
  snprintf (path, sizeof path, "%s/%s", root, rel);
  snprintf (dir, sizeof dir, "mkdir -p \"$(dirname '%s')\"", path);
  ck_assert_int_eq (system (dir), 0);
  FILE *fp = fopen (path, "w");
  ck_assert_ptr_nonnull (fp);
  ck_assert_uint_eq (fwrite (data, 1, len, fp), len);
  fclose (fp);
}

static void
puts_ (const char *rel, const char *text)
{
  put (rel, text, strlen (text));
}

/* A SCSI disk NAME at ADDR (H:C:T:L) of SIZE sectors. */
static void
scsi (const char *name, const char *addr, const char *sectors)
{
  char rel[256], target[256], link[512];
  int h = (int) strcspn (addr, ":");
  snprintf (rel, sizeof rel, "sys/devices/pci0000:00/host%.*s/%s/model", h, addr, addr);
  puts_ (rel, "QEMU HARDDISK\n");
  snprintf (rel, sizeof rel, "sys/class/block/%s/size", name);
  puts_ (rel, sectors);
  snprintf (target, sizeof target, "../../../devices/pci0000:00/host%.*s/%s", h, addr, addr);
  snprintf (link, sizeof link, "%s/sys/class/block/%s/device", root, name);
  ck_assert_int_eq (symlink (target, link), 0);
}

static void
setup (void)
{
  snprintf (root, sizeof root, "/tmp/lf-test-disks.XXXXXX");
  ck_assert_ptr_nonnull (mkdtemp (root));
  scsi ("sda", "0:0:0:0", "69632\n");           /* the appliance's own */
  puts_ ("sys/class/block/sda1/partition", "1\n");
  puts_ ("sys/class/block/sda1/size", "67584\n");
  scsi ("sdb", "2:0:0:1", "2097152\n");
  scsi ("sdc", "2:0:0:3", "4194304\n");
  /* VPD page 0x80: header, then the serial padded with blanks. */
  put ("sys/devices/pci0000:00/host2/2:0:0:3/vpd_pg80",
       "\0\x80\0\x0c" "SER-0003    ", 16);
  scsi ("sdd", "3:0:0:1", "2097152\n");
  puts_ ("sys/class/block/vda/size", "1024\n");
  puts_ ("sys/class/block/vda/serial", "VIRT1\n");
  puts_ ("sys/class/block/nvme0n1/size", "2048\n");
  puts_ ("sys/class/block/nvme0n1/device/serial", "  NVSER  \n");
  puts_ ("sys/class/block/nvme0n2/size", "2048\n");
  puts_ ("sys/class/block/nvme0n2/nsid", "2\n");
  puts_ ("sys/class/block/loop0/size", "8\n");
}

static void
teardown (void)
{
  char cmd[128];
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", root);
  ck_assert_int_eq (system (cmd), 0);
}

static struct lf_blockdevs devs;

static void
scan (void)
{
  ck_assert_int_eq (lf_blockdevs_scan (root, &devs), 0);
}

static void
resolves (const char *spec, long own, const char *want)
{
  char node[128];
  ck_assert_msg (lf_disk_spec_resolve (&devs, spec, own, node, sizeof node) == 0,
                 "%s: %s", spec, lf_last_error ());
  ck_assert_str_eq (node, want);
}

static void
refused (const char *spec, long own, int errnum, const char *msg)
{
  char node[128] = "";
  ck_assert_msg (lf_disk_spec_resolve (&devs, spec, own, node, sizeof node) == -1,
                 "%s resolved to %s", spec, node);
  ck_assert_int_eq (lf_last_errno (), errnum);
  ck_assert_msg (strstr (lf_last_error (), msg), "%s: \"%s\" lacks \"%s\"", spec,
                 lf_last_error (), msg);
}

START_TEST (test_scan)
{
  scan ();
  /* Whole disks only: no partition, no loop device. */
  ck_assert_uint_eq (devs.n, 7);
  const struct lf_blockdev *d = lf_blockdevs_find (&devs, "sdc");
  ck_assert_ptr_nonnull (d);
  ck_assert_int_eq (d->host, 2);
  ck_assert_uint_eq (d->lun, 3);
  ck_assert_str_eq (d->serial, "SER-0003");
  ck_assert_uint_eq (d->size, 4194304ULL * 512);
  d = lf_blockdevs_find (&devs, "vda");
  ck_assert_int_eq (d->host, -1);
  ck_assert_str_eq (d->serial, "VIRT1");
  d = lf_blockdevs_find (&devs, "nvme0n1");
  ck_assert_int_eq (d->nvme_ctrl, 0);
  ck_assert_uint_eq (d->nsid, 1);
  ck_assert_str_eq (d->serial, "NVSER");
  ck_assert_ptr_null (lf_blockdevs_find (&devs, "sda1"));
  ck_assert_int_eq (lf_disk_own_host (&devs, "/dev/sda"), 0);
  ck_assert_int_eq (lf_disk_own_host (&devs, "vda"), -1);

  /* The report's list: LUN, serial, size, and which is the own controller. */
  json_t *j = lf_blockdevs_json (&devs, 0);
  ck_assert_uint_eq (json_array_size (j), 7);
  json_t *first = json_array_get (j, 0);
  ck_assert_str_eq (json_string_value (json_object_get (first, "device")), "/dev/sda");
  ck_assert (json_is_true (json_object_get (first, "own_controller")));
  size_t i;
  json_t *o;
  bool seen = false;
  json_array_foreach (j, i, o)
    if (!strcmp (json_string_value (json_object_get (o, "device")), "/dev/sdc")) {
      ck_assert_int_eq (json_integer_value (json_object_get (o, "lun")), 3);
      ck_assert_str_eq (json_string_value (json_object_get (o, "serial")), "SER-0003");
      ck_assert_str_eq (json_string_value (json_object_get (o, "scsi")), "2:0:0:3");
      seen = true;
    }
  ck_assert (seen);
  json_decref (j);
  lf_blockdevs_free (&devs);
}
END_TEST

START_TEST (test_resolve)
{
  scan ();
  resolves ("lun:3", 0, "/dev/sdc");
  resolves ("lun:2:1", 0, "/dev/sdb");
  resolves ("lun:3:1", 0, "/dev/sdd");
  resolves ("lun:0:0", 0, "/dev/sda");          /* named: the own one too */
  resolves ("/dev/disk/azure/scsi1/lun3", 0, "/dev/sdc");
  resolves ("nvme:2", 0, "/dev/nvme0n2");
  resolves ("nvme:1", 0, "/dev/nvme0n1");
  resolves ("serial:SER-0003", 0, "/dev/sdc");
  resolves ("serial:VIRT1", 0, "/dev/vda");
  resolves ("/dev/disk/by-id/virtio-VIRT1", 0, "/dev/vda");
  resolves ("/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_SER-0003", 0, "/dev/sdc");
  resolves ("/dev/disk/by-id/nvme-Microsoft_NVMe_Direct_Disk_NVSER", 0, "/dev/nvme0n1");
  /* Without an own controller, LUN 0 is the appliance's disk's. */
  resolves ("lun:0", -1, "/dev/sda");

  /* Missing: the message lists what there is. */
  refused ("lun:0", 0, ENOENT,
           "lun:0: no such disk (LUNs seen: host0 (the system's own): 0; "
           "host2: 1 3; host3: 1)");
  refused ("lun:7", 0, ENOENT, "LUNs seen: host0 (the system's own): 0; host2: 1 3");
  refused ("lun:9:1", 0, ENOENT, "no such disk");
  refused ("nvme:3", 0, ENOENT, "namespaces seen: nvme0n1=1, nvme0n2=2");
  refused ("serial:NOPE", 0, ENOENT, "serials seen: sda=(none)");
  refused ("serial:SER-000", 0, ENOENT, "sdc=SER-0003");
  refused ("/dev/disk/by-id/virtio-VIRT", 0, ENOENT, "no such disk");
  /* Ambiguous: two controllers have a LUN 1. */
  refused ("lun:1", 0, EEXIST, "lun:1: ambiguous: 2 disks match (/dev/sdb, /dev/sdd): "
           "name the controller too, lun:H:N");
  refused ("/dev/disk/by-uuid/1234", 0, EINVAL, "no udev");
  refused ("lun:x", 0, EINVAL, "is not a disk name");
  lf_blockdevs_free (&devs);
}
END_TEST

/* Values from the (virtual) hardware are not trusted: a VPD page whose
 * length runs past what was read, a serial with control bytes, a size
 * that would overflow.
 */
START_TEST (test_hostile_sysfs)
{
  put ("sys/devices/pci0000:00/host2/2:0:0:1/vpd_pg80", "\0\x80\xff\xff" "AB", 6);
  put ("sys/devices/pci0000:00/host3/3:0:0:1/vpd_pg80", "\0\x80\0\x04" "A\x01" "BC", 8);
  puts_ ("sys/class/block/vda/size", "99999999999999999999999\n");
  puts_ ("sys/class/block/vda/serial", "\n");
  /* Addresses and names whose numbers do not fit. */
  scsi ("sde", "99999999999:0:0:1", "8\n");
  scsi ("sdf", "4:0:0:99999", "8\n");
  puts_ ("sys/class/block/nvme99999999999n1/size", "8\n");
  puts_ ("sys/class/block/nvme1n99999999999/size", "8\n");
  scan ();
  ck_assert_int_eq (lf_blockdevs_find (&devs, "sde")->host, -1);
  ck_assert_int_eq (lf_blockdevs_find (&devs, "sdf")->host, -1);
  ck_assert_int_eq (lf_blockdevs_find (&devs, "nvme99999999999n1")->nvme_ctrl, -1);
  ck_assert_int_eq (lf_blockdevs_find (&devs, "nvme1n99999999999")->nvme_ctrl, -1);
  ck_assert_str_eq (lf_blockdevs_find (&devs, "sdb")->serial, "AB");
  ck_assert_str_eq (lf_blockdevs_find (&devs, "sdd")->serial, "");
  ck_assert_uint_eq (lf_blockdevs_find (&devs, "vda")->size, 0);
  ck_assert_str_eq (lf_blockdevs_find (&devs, "vda")->serial, "");
  refused ("serial:VIRT1", 0, ENOENT, "vda=(none)");
  lf_blockdevs_free (&devs);
}
END_TEST

START_TEST (test_spec_syntax)
{
  struct lf_disk_spec s;
  static const char *const good[] = {
    "lun:0", "lun:63", "lun:16383", "lun:1:0", "lun:65535:16383", "nvme:1",
    "nvme:4294967294", "serial:6002248065d1a4e8", "/dev/disk/by-id/wwn-0x5000c5",
    "/dev/disk/azure/scsi1/lun0", "/dev/disk/by-path/pci-0000:00:04.0", NULL,
  };
  static const char *const bad[] = {
    "lun:", "lun:-1", "lun:+1", "lun:16384", "lun:1:", "lun::1", "lun:1:2:3",
    "lun:0x1", "lun:99999999999", "nvme:0", "nvme:", "nvme:4294967295",
    "serial:", "serial:a b", "serial:a/b", "serial:\x7f", "/dev/disk/by-id/",
    "/dev/disk/azure/scsi1/lun", "/dev/disk/azure/scsi1/lunx", NULL,
  };
  for (size_t i = 0; good[i]; i++)
    ck_assert_msg (lf_disk_spec_parse (good[i], &s) == 0, "%s: %s", good[i],
                   lf_last_error ());
  for (size_t i = 0; bad[i]; i++) {
    ck_assert_msg (lf_disk_spec_parse (bad[i], &s) == -1, "%s parsed", bad[i]);
    ck_assert_int_eq (lf_last_errno (), EINVAL);
  }
  char longer[LF_DISK_MAX_SPEC + 10];
  memset (longer, 'a', sizeof longer);
  memcpy (longer, "serial:", 7);
  longer[sizeof longer - 1] = '\0';
  ck_assert_int_eq (lf_disk_spec_parse (longer, &s), -1);
  ck_assert (lf_disk_spec_is ("lun:1") && lf_disk_spec_is ("/dev/disk/by-id/x"));
  ck_assert (!lf_disk_spec_is ("disk.vhd") && !lf_disk_spec_is ("/dev/sdc") &&
             !lf_disk_spec_is ("luna.vhd"));
}
END_TEST

/* In a job file: the name is kept as written, checked, not made a path. */
START_TEST (test_job_names)
{
  const char *text = "machine = m\nos-disk = lun:3\ndisk = serial:SER-0003\n"
    "disk = data.vhd\noutput = in-place\n";
  struct lf_job *j = lf_job_parse (text, strlen (text), "m.job", "/jobs");
  ck_assert_msg (j != NULL, "%s", lf_last_error ());
  ck_assert (j->disks[0].spec && j->disks[1].spec && !j->disks[2].spec);
  ck_assert_str_eq (j->disks[0].path, "lun:3");
  ck_assert_str_eq (j->disks[2].path, "/jobs/data.vhd");
  lf_job_free (j);
  text = "machine = m\nos-disk = lun:3x\noutput = in-place\n";
  ck_assert_ptr_null (lf_job_parse (text, strlen (text), "m.job", "/jobs"));
  ck_assert_msg (strncmp (lf_last_error (), "m.job:2: os-disk: 'lun:3x' is not a disk name", 45) == 0,
                 "%s", lf_last_error ());
  text = "machine = m\nos-disk = lun:3\ndisk = lun:3\noutput = in-place\n";
  ck_assert_ptr_null (lf_job_parse (text, strlen (text), "m.job", "/jobs"));
  ck_assert_msg (strstr (lf_last_error (), "already given on line 2"), "%s", lf_last_error ());
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("disks");
  TCase *tc = tcase_create ("disks");
  SRunner *sr;
  int nfailed;

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_scan);
  tcase_add_test (tc, test_resolve);
  tcase_add_test (tc, test_hostile_sysfs);
  tcase_add_test (tc, test_spec_syntax);
  tcase_add_test (tc, test_job_names);
  suite_add_tcase (s, tc);
  sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  nfailed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

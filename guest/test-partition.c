/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for guest/partition.c and guest/probe.c (libblkid adapter).
 *
 * main () builds the images once with real tools (sfdisk here-docs,
 * mkfs.*, mkswap, cryptsetup, sgdisk, qemu-img); damaged variants are
 * made from them by flipping or poking a few bytes, each described where
 * it is made.  Tools that are missing skip only the checks that need them.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest/guest.h"

/* "Linux root ünïcödé" in UTF-8. */
#define NAME2 "Linux root \xc3\xbc" "n\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9"

static char dir[] = "/tmp/landfall-test-partition-XXXXXX";
static bool have_luks, have_xfs, have_vfat;

static const char script[] =
  "set -e\n"
  "d=$1; cd \"$d\"\n"
  "poke () { printf -- \"$3\" | dd of=\"$1\" bs=1 seek=\"$2\" conv=notrunc status=none; }\n"
  "putfs () {   # IMG OFFSET SIZE MKFS...: a filesystem made apart, copied in\n"
  "  img=$1 off=$2 size=$3; shift 3\n"
  "  rm -f fs.tmp; truncate -s \"$size\" fs.tmp\n"
  "  \"$@\" fs.tmp >/dev/null 2>fs.log || { cat fs.log; exit 1; }\n"
  "  dd if=fs.tmp of=\"$img\" bs=1M seek=\"$off\" oflag=seek_bytes "
  "conv=notrunc,sparse status=none\n"
  "  rm -f fs.tmp\n"
  "}\n"
  /* MBR: 2 primaries, an extended partition holding 2 logical ones. */
  "truncate -s 600M mbr.img\n"
  "sfdisk -q mbr.img <<EOF\n"
  "label: dos\n"
  "label-id: 0x1234abcd\n"
  "start=2048, size=40960, type=83, bootable\n"
  "start=43008, size=20480, type=82\n"
  "start=65536, type=5\n"
  "start=67584, size=20480, type=c\n"
  "start=90112, size=655360, type=83\n"
  "EOF\n"
  "putfs mbr.img $((2048*512)) $((40960*512)) mkfs.ext4 -q -F -b 4096 -L root\n"
  "putfs mbr.img $((43008*512)) $((20480*512)) mkswap -L sw\n"
  "if command -v mkfs.vfat >/dev/null; then\n"
  "  putfs mbr.img $((67584*512)) $((20480*512)) mkfs.vfat -n EFIX; touch have-vfat; fi\n"
  "if command -v mkfs.xfs >/dev/null; then\n"
  "  putfs mbr.img $((90112*512)) $((655360*512)) mkfs.xfs -q -f -L data; touch have-xfs; fi\n"
  "qemu-img convert -O qcow2 mbr.img mbr.qcow2\n"
  /* GPT with names (one not ASCII) and fixed GUIDs. */
  "truncate -s 64M gpt.img\n"
  "sfdisk -q gpt.img <<EOF\n"
  "label: gpt\n"
  "label-id: 01234567-89AB-CDEF-0123-456789ABCDEF\n"
  "start=2048, size=20480, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, "
  "uuid=11111111-2222-3333-4444-555555555555, name=\"EFI system\"\n"
  "start=22528, size=40960, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, "
  "uuid=66666666-7777-8888-9999-AAAAAAAAAAAA, name=\"" NAME2 "\"\n"
  "start=63488, size=40000, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n"
  "EOF\n"
  "putfs gpt.img $((22528*512)) $((40960*512)) mkfs.ext4 -q -F -L gptroot "
  "-U 0f0e0d0c-0b0a-0908-0706-050403020100\n"
  "if command -v cryptsetup >/dev/null; then\n"
  "  truncate -s $((40000*512)) luks.tmp\n"
  "  printf pw | cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 "
  "--pbkdf-force-iterations 1000 luks.tmp -\n"
  "  dd if=luks.tmp of=gpt.img bs=512 seek=63488 conv=notrunc,sparse status=none\n"
  "  rm -f luks.tmp; touch have-luks\n"
  "fi\n"
  /* Hybrid: an MBR entry besides the protective one. */
  "cp --sparse=always gpt.img hybrid.img\n"
  "if command -v sgdisk >/dev/null; then sgdisk -h 1 hybrid.img >/dev/null\n"
  "else poke hybrid.img $((446+16+4)) '\\014'; "
  "poke hybrid.img $((446+16+8)) '\\000\\010\\000\\000\\000\\120\\000\\000'; fi\n"
  /* Primary GPT header CRC broken (byte 16 of LBA 1 is the CRC). */
  "cp --sparse=always gpt.img gpt-bad1.img\n"
  "poke gpt-bad1.img $((512+16)) '\\377\\377'\n"
  /* Both headers broken (the backup is the last LBA). */
  "cp --sparse=always gpt-bad1.img gpt-bad2.img\n"
  "poke gpt-bad2.img $((64*1024*1024-512+16)) '\\377\\377'\n"
  /* A partition running past the end: p1's size is 0xffffff sectors. */
  "truncate -s 64M past.img\n"
  "printf 'label: dos\\nstart=2048, size=20480, type=83\\n' | sfdisk -q past.img\n"
  "poke past.img $((446+12)) '\\377\\377\\377\\000'\n"
  /* Overlapping primaries: p2 moved to start inside p1. */
  "truncate -s 64M overlap.img\n"
  "printf 'label: dos\\nstart=2048, size=20480, type=83\\nstart=22528, "
  "size=20480, type=83\\n' | sfdisk -q overlap.img\n"
  "poke overlap.img $((446+16+8)) '\\000\\020\\000\\000'\n"
  /* An EBR chain that loops: the second EBR (at 88064, 22528 sectors
   * into the extended partition) links to itself. */
  "cp --sparse=always mbr.img ebrloop.img\n"
  "poke ebrloop.img $((88064*512+446+16+4)) '\\005'\n"
  "poke ebrloop.img $((88064*512+446+16+8)) '\\000\\130\\000\\000\\000\\010\\000\\000'\n"
  /* No table: a bare filesystem; and all zeros. */
  "truncate -s 32M bare.img; mkfs.ext4 -q -F -L bare bare.img\n"
  "truncate -s 32M zero.img\n"
  /* BitLocker (Windows 7+): the boot sector and an FVE metadata block at
   * 33 MiB, as libblkid's bitlocker.c checks them; and as qcow2. */
  "truncate -s 64M bitlocker.img\n"
  "poke bitlocker.img 0 '\\353\\130\\220-FVE-FS-'\n"
  "poke bitlocker.img 176 '\\000\\000\\020\\002\\000\\000\\000\\000'\n"
  "poke bitlocker.img $((0x2100000)) '-FVE-FS-\\000\\000\\002\\000'\n"
  "qemu-img convert -O qcow2 bitlocker.img bitlocker.qcow2\n";

struct dev {
  struct lf_disk *disk;
  struct lf_blockdev *bd;
};

static void
open_dev (struct dev *d, const char *name)
{
  char path[512];

  snprintf (path, sizeof path, "%s/%s", dir, name);
  d->disk = lf_disk_open (path, NULL);
  ck_assert_msg (d->disk, "%s: %s", path, lf_last_error ());
  d->bd = lf_bd_new_disk (d->disk, false, name);
  ck_assert (d->bd);
}

static void
close_dev (struct dev *d)
{
  lf_bd_free (d->bd);
  lf_disk_close (d->disk);
}

static void
probe_window (struct lf_blockdev *bd, const struct lf_partition *p,
              struct lf_fsinfo *fi)
{
  struct lf_blockdev *w = lf_bd_new_window (bd, p->offset, p->size, "part");

  ck_assert (w);
  ck_assert_msg (lf_fs_probe (w, fi) == 0, "%s", lf_last_error ());
  lf_bd_free (w);
}

/* The MBR disk, read raw or through qcow2 (the memfd path). */
static void
check_mbr (const char *name)
{
  struct dev d;
  struct lf_partition_table t;
  struct lf_fsinfo fi;
  static const struct {
    unsigned number; uint64_t start, size; const char *type;
    bool boot, ext, log;
  } want[] = {
    { 1, 2048, 40960, "0x83", true, false, false },
    { 2, 43008, 20480, "0x82", false, false, false },
    { 3, 65536, 1163264, "0x05", false, true, false },
    { 5, 67584, 20480, "0x0c", false, false, true },
    { 6, 90112, 655360, "0x83", false, false, true },
  };

  open_dev (&d, name);
  ck_assert_msg (lf_partitions_probe (d.bd, &t) == 0, "%s", lf_last_error ());
  ck_assert_str_eq (t.type, "dos");
  ck_assert_str_eq (t.id, "0x1234abcd");
  ck_assert (!t.hybrid);
  ck_assert_uint_eq (t.n, 5);
  for (size_t i = 0; i < 5; i++) {
    ck_assert_uint_eq (t.parts[i].number, want[i].number);
    ck_assert_uint_eq (t.parts[i].offset, want[i].start * 512);
    ck_assert_uint_eq (t.parts[i].size, want[i].size * 512);
    ck_assert_str_eq (t.parts[i].type, want[i].type);
    ck_assert (t.parts[i].bootable == want[i].boot);
    ck_assert (t.parts[i].extended == want[i].ext);
    ck_assert (t.parts[i].logical == want[i].log);
  }
  ck_assert_str_eq (t.parts[0].uuid, "1234abcd-01");
  ck_assert_str_eq (t.parts[4].uuid, "1234abcd-06");

  probe_window (d.bd, &t.parts[0], &fi);
  ck_assert_str_eq (fi.type, "ext4");
  ck_assert_str_eq (fi.label, "root");
  ck_assert_str_eq (fi.version, "1.0");
  ck_assert_uint_eq (fi.block_size, 4096);
  ck_assert_uint_eq (strlen (fi.uuid), 36);
  probe_window (d.bd, &t.parts[1], &fi);
  ck_assert_str_eq (fi.type, "swap");
  ck_assert_str_eq (fi.label, "sw");
  if (have_vfat) {
    probe_window (d.bd, &t.parts[3], &fi);
    ck_assert_str_eq (fi.type, "vfat");
    ck_assert_str_eq (fi.label, "EFIX");
  }
  if (have_xfs) {
    probe_window (d.bd, &t.parts[4], &fi);
    ck_assert_str_eq (fi.type, "xfs");
    ck_assert_str_eq (fi.label, "data");
  }
  /* The whole disk has a table, not a filesystem. */
  ck_assert_int_eq (lf_fs_probe (d.bd, &fi), 0);
  ck_assert_str_eq (fi.type, "");
  lf_partitions_free (&t);
  close_dev (&d);
}

START_TEST (test_mbr_raw) { check_mbr ("mbr.img"); }
END_TEST

START_TEST (test_mbr_qcow2) { check_mbr ("mbr.qcow2"); }
END_TEST

static void
check_gpt (const char *name, bool hybrid)
{
  struct dev d;
  struct lf_partition_table t;
  struct lf_fsinfo fi;

  open_dev (&d, name);
  ck_assert_msg (lf_partitions_probe (d.bd, &t) == 0, "%s", lf_last_error ());
  ck_assert_str_eq (t.type, "gpt");
  ck_assert_str_eq (t.id, "01234567-89ab-cdef-0123-456789abcdef");
  ck_assert (t.hybrid == hybrid);
  ck_assert_uint_eq (t.n, 3);
  ck_assert_uint_eq (t.parts[0].number, 1);
  ck_assert_uint_eq (t.parts[0].offset, 2048 * 512);
  ck_assert_uint_eq (t.parts[0].size, 20480 * 512);
  ck_assert_str_eq (t.parts[0].type, "c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
  ck_assert_str_eq (t.parts[0].uuid, "11111111-2222-3333-4444-555555555555");
  ck_assert_str_eq (t.parts[0].name, "EFI system");
  ck_assert_str_eq (t.parts[1].type, "0fc63daf-8483-4772-8e79-3d69d8477de4");
  ck_assert_str_eq (t.parts[1].uuid, "66666666-7777-8888-9999-aaaaaaaaaaaa");
  ck_assert_str_eq (t.parts[1].name,
                    NAME2);
  ck_assert_uint_eq (t.parts[2].number, 3);
  ck_assert_str_eq (t.parts[2].name, "");
  ck_assert (!t.parts[0].bootable && !t.parts[0].logical);

  probe_window (d.bd, &t.parts[1], &fi);
  ck_assert_str_eq (fi.type, "ext4");
  ck_assert_str_eq (fi.label, "gptroot");
  ck_assert_str_eq (fi.uuid, "0f0e0d0c-0b0a-0908-0706-050403020100");
  if (have_luks) {
    probe_window (d.bd, &t.parts[2], &fi);
    ck_assert_str_eq (fi.type, "crypto_LUKS");
    ck_assert_str_eq (fi.version, "2");
  }
  lf_partitions_free (&t);
  close_dev (&d);
}

START_TEST (test_gpt) { check_gpt ("gpt.img", false); }
END_TEST

START_TEST (test_hybrid) { check_gpt ("hybrid.img", true); }
END_TEST

/* libblkid falls back to the backup GPT header: the table is intact. */
START_TEST (test_gpt_primary_damaged) { check_gpt ("gpt-bad1.img", false); }
END_TEST

static void
expect_error (const char *name, const char *want)
{
  struct dev d;
  struct lf_partition_table t;

  open_dev (&d, name);
  ck_assert_int_eq (lf_partitions_probe (d.bd, &t), -1);
  ck_assert_msg (strstr (lf_last_error (), want) != NULL,
                 "error \"%s\" does not contain \"%s\"", lf_last_error (),
                 want);
  ck_assert_uint_eq (t.n, 0);
  ck_assert_ptr_null (t.parts);
  close_dev (&d);
}

START_TEST (test_gpt_both_damaged)
{
  expect_error ("gpt-bad2.img", "gpt-bad2.img: damaged GPT: the disk has a "
                "protective MBR");
}
END_TEST

START_TEST (test_past_end)
{
  expect_error ("past.img", "past.img: dos partition table: partition 1 "
                "(start sector 2048, 16777215 sectors) is outside the device "
                "(131072 sectors)");
}
END_TEST

START_TEST (test_overlap)
{
  expect_error ("overlap.img", "overlap.img: dos partition table: partition 2 "
                "(0x200000, 10485760 bytes) overlaps partition 1");
}
END_TEST

/* libblkid notices the chain coming back to an EBR it has read and stops:
 * the table is the one without the loop.
 */
START_TEST (test_ebr_loop)
{
  struct dev d;
  struct lf_partition_table t;

  open_dev (&d, "ebrloop.img");
  ck_assert_msg (lf_partitions_probe (d.bd, &t) == 0, "%s", lf_last_error ());
  ck_assert_uint_eq (t.n, 5);
  ck_assert_uint_eq (t.parts[4].number, 6);
  ck_assert (t.parts[4].logical);
  lf_partitions_free (&t);
  close_dev (&d);
}
END_TEST

START_TEST (test_no_table)
{
  struct dev d;
  struct lf_partition_table t;
  struct lf_fsinfo fi;

  open_dev (&d, "bare.img");
  ck_assert_int_eq (lf_partitions_probe (d.bd, &t), 0);
  ck_assert_str_eq (t.type, "");
  ck_assert_uint_eq (t.n, 0);
  lf_partitions_free (&t);
  ck_assert_int_eq (lf_fs_probe (d.bd, &fi), 0);
  ck_assert_str_eq (fi.type, "ext4");
  ck_assert_str_eq (fi.label, "bare");
  close_dev (&d);

  open_dev (&d, "zero.img");
  ck_assert_int_eq (lf_partitions_probe (d.bd, &t), 0);
  ck_assert_str_eq (t.type, "");
  ck_assert_int_eq (lf_fs_probe (d.bd, &fi), 0);
  ck_assert_str_eq (fi.type, "");
  ck_assert_str_eq (fi.uuid, "");
  close_dev (&d);
}
END_TEST

static void
check_bitlocker (const char *name)
{
  struct dev d;
  struct lf_fsinfo fi;

  open_dev (&d, name);
  ck_assert_msg (lf_fs_probe (d.bd, &fi) == 0, "%s", lf_last_error ());
  ck_assert_str_eq (fi.type, "BitLocker");
  close_dev (&d);
}

START_TEST (test_bitlocker) { check_bitlocker ("bitlocker.img"); }
END_TEST

/* The FVE block at 33 MiB is outside the first/last MiB: the memfd path
 * must follow the boot sector's pointer.
 */
START_TEST (test_bitlocker_qcow2) { check_bitlocker ("bitlocker.qcow2"); }
END_TEST

static bool
exists (const char *name)
{
  char path[512];
  snprintf (path, sizeof path, "%s/%s", dir, name);
  return access (path, F_OK) == 0;
}

/* A writer reopens the disk by path: if the path was replaced after the
 * read-only open, the new file must not be written.
 */
START_TEST (test_replaced_path)
{
  char a[512], b[512];
  snprintf (a, sizeof a, "%s/replaced.img", dir);
  snprintf (b, sizeof b, "%s/replaced-new.img", dir);
  FILE *fp = fopen (a, "w");
  ck_assert (fp && ftruncate (fileno (fp), 1 << 20) == 0);
  fclose (fp);
  struct lf_disk *disk = lf_disk_open (a, "raw");
  ck_assert (disk);
  struct lf_blockdev *bd = lf_bd_new_disk (disk, true, "replaced");
  ck_assert_msg (bd, "%s", lf_last_error ());
  lf_bd_free (bd);

  fp = fopen (b, "w");
  ck_assert (fp && ftruncate (fileno (fp), 1 << 20) == 0);
  fclose (fp);
  ck_assert_int_eq (rename (b, a), 0);
  ck_assert (!lf_bd_new_disk (disk, true, "replaced"));
  ck_assert_msg (strstr (lf_last_error (), "another file"), "%s",
                 lf_last_error ());
  lf_disk_close (disk);
}
END_TEST

int
main (void)
{
  char path[512], cmd[2048];
  FILE *fp;
  int failed;

  if (!mkdtemp (dir))
    return EXIT_FAILURE;
  snprintf (path, sizeof path, "%s/mk.sh", dir);
  fp = fopen (path, "w");
  if (!fp || fputs (script, fp) == EOF || fclose (fp) != 0)
    return EXIT_FAILURE;
  if (system ("command -v sfdisk >/dev/null && command -v mkfs.ext4 "
              ">/dev/null && command -v qemu-img >/dev/null") != 0) {
    printf ("SKIP: needs sfdisk, mkfs.ext4 and qemu-img\n");
    return 77;
  }
  snprintf (cmd, sizeof cmd, "PATH=/usr/sbin:/sbin:$PATH bash %s/mk.sh %s",
            dir, dir);
  if (system (cmd) != 0) {
    fprintf (stderr, "building the fixtures failed\n");
    return EXIT_FAILURE;
  }
  have_luks = exists ("have-luks");
  have_xfs = exists ("have-xfs");
  have_vfat = exists ("have-vfat");
  if (!have_luks || !have_xfs || !have_vfat)
    printf ("note: checks skipped for lack of%s%s%s\n",
            have_luks ? "" : " cryptsetup", have_xfs ? "" : " mkfs.xfs",
            have_vfat ? "" : " mkfs.vfat");

  Suite *s = suite_create ("partition");
  TCase *tc = tcase_create ("partition");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_mbr_raw);
  tcase_add_test (tc, test_mbr_qcow2);
  tcase_add_test (tc, test_gpt);
  tcase_add_test (tc, test_hybrid);
  tcase_add_test (tc, test_gpt_primary_damaged);
  tcase_add_test (tc, test_gpt_both_damaged);
  tcase_add_test (tc, test_past_end);
  tcase_add_test (tc, test_overlap);
  tcase_add_test (tc, test_ebr_loop);
  tcase_add_test (tc, test_no_table);
  tcase_add_test (tc, test_bitlocker);
  tcase_add_test (tc, test_bitlocker_qcow2);
  tcase_add_test (tc, test_replaced_path);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  if (!getenv ("LANDFALL_TEST_KEEP")) {
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    (void) system (cmd);
  }
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for guest/lvm.c: LVM2 volume groups written by the real lvm
 * tools, read natively.
 *
 * The host has no device-mapper, but pvcreate, vgcreate and lvcreate work
 * on loop devices with activation off (--driverloaded n, -an -Zn): they
 * write the same label and metadata as always.  main () builds the images
 * once with a shell script (loop devices detached by its trap), asks
 * pvs/lvs where each segment lives, and writes a marker at the start of
 * every segment at the offset computed from that output (not from our
 * code).  The tests then read the markers back through our mapping.
 *
 *   a.img, b.img  VG vg0 over two PVs (1 MiB extents):
 *                 root  8 extents on a            (linear)
 *                 two   two segments on a         (linear, 2 segments)
 *                 filler                          (linear)
 *                 str   2 stripes over a and b    (-> why_not)
 *                 big   70 extents over b then a  (linear across 2 PVs)
 *   w.img         VG vgw with a 32 KiB metadata area rewritten until the
 *                 text wraps around its circular buffer
 *
 * Skipped (exit 77) when the lvm tools or loop devices are unavailable.
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

static char dir[] = "/tmp/landfall-test-lvm-XXXXXX";

static const char script[] =
  "set -e\n"
  "d=$1; cd \"$d\"\n"
  "export LVM_SYSTEM_DIR=$d/lvmsys LVM_SUPPRESS_FD_WARNINGS=1\n"
  "mkdir -p lvmsys\n"
  "truncate -s 64M a.img b.img w.img\n"
  "A=; B=; W=\n"
  "trap 'for l in $A $B $W; do losetup -d $l; done' EXIT\n"
  "A=$(losetup -f --show a.img); B=$(losetup -f --show b.img)\n"
  "W=$(losetup -f --show w.img)\n"
  /* Only our loop devices, no udev, no backups in /etc. */
  "cat > lvmsys/lvm.conf <<EOC\n"
  "devices { filter = [ \"a|^$A\\$|\", \"a|^$B\\$|\", \"a|^$W\\$|\", \"r|.*|\" ]"
  " use_devicesfile = 0 obtain_device_list_from_udev = 0 }\n"
  "activation { udev_sync = 0 udev_rules = 0 }\n"
  "backup { backup = 0 archive = 0 }\n"
  "global { locking_dir = \"$d/lvmsys\" }\n"
  "EOC\n"
  "L='--driverloaded n'\n"
  "pvcreate -qq $A $B\n"
  "vgcreate -qq -s 1M vg0 $A $B\n"
  "lvcreate -qq $L -an -Zn -L 8M -n root vg0 $A\n"
  "lvcreate -qq $L -an -Zn -L 4M -n two vg0 $A\n"
  "lvcreate -qq $L -an -Zn -L 4M -n filler vg0 $A\n"
  "lvextend -qq $L -L +4M vg0/two $A\n"
  "lvcreate -qq $L -an -Zn -i2 -I64k -L 8M -n str vg0\n"
  "lvcreate -qq $L -an -Zn -l 70 -n big vg0\n"
  "pvcreate -qq --metadatasize 32k --dataalignment 4k $W\n"
  "vgcreate -qq -s 1M vgw $W\n"
  "lvcreate -qq $L -an -Zn -L 4M -n lv vgw\n"
  /* Rewrite vgw's metadata until the current copy wraps: the mda header
   * at 4096 holds the area size, then raw_locn offset and size. */
  "n=0\n"
  "while :; do\n"
  "  set -- $(od -An -t u8 -j $((4096 + 32)) -N 24 w.img)\n"
  "  [ $(($2 + $3)) -gt $1 ] && break\n"
  "  n=$((n + 1)); [ $n -lt 400 ] || exit 1\n"
  "  if [ $((n % 2)) = 1 ]; then vgchange -qq --addtag t vgw\n"
  "  else vgchange -qq --deltag t vgw; fi\n"
  "done\n"
  "names=\"s|$A|a.img|g; s|$B|b.img|g; s|$W|w.img|g\"\n"
  "lvs --noheadings --units b --nosuffix --segments "
  "-o vg_name,lv_name,seg_start_pe,vg_extent_size,segtype,seg_pe_ranges "
  "| sed \"$names\" > segs.txt\n"
  "pvs --noheadings --units b --nosuffix -o pv_name,pe_start,pv_uuid "
  "| sed \"$names\" > pvs.txt\n";

/* What pvs said. */
struct pvinfo { char img[16]; uint64_t pe_start; char uuid[64]; };
static struct pvinfo pvinfo[3];
static size_t npvinfo;

/* What lvs said: one linear segment each. */
struct seginfo {
  char vg[16], lv[16], img[16], type[16];
  uint64_t start_pe, extent, pe;
};
static struct seginfo segs[32];
static size_t nsegs;

static const struct pvinfo *
pv_of (const char *img)
{
  for (size_t i = 0; i < npvinfo; i++)
    if (strcmp (pvinfo[i].img, img) == 0)
      return &pvinfo[i];
  return NULL;
}

static void
marker (char *buf, size_t len, const char *vg, const char *lv, uint64_t pe)
{
  memset (buf, 0, len);
  snprintf (buf, len, "landfall test: %.100s/%.100s segment at LV extent %" PRIu64,
            vg, lv, pe);
}

/* Build everything and write the markers.  Returns 77 to skip. */
static int
build (void)
{
  char cmd[4096], path[512];
  FILE *fp;
  char line[512];

  if (!mkdtemp (dir))
    return 1;
  snprintf (path, sizeof path, "%s/mk.sh", dir);
  fp = fopen (path, "w");
  if (!fp || fputs (script, fp) == EOF || fclose (fp) != 0)
    return 1;
  if (system ("command -v pvcreate >/dev/null && command -v losetup "
              ">/dev/null") != 0 || geteuid () != 0) {
    printf ("SKIP: needs root, losetup and the lvm2 tools\n");
    return 77;
  }
  snprintf (cmd, sizeof cmd, "bash %s/mk.sh %s 2>%s/mk.log", dir, dir, dir);
  if (system (cmd) != 0) {
    snprintf (cmd, sizeof cmd, "cat %s/mk.log", dir);
    (void) system (cmd);
    printf ("SKIP: the lvm tools could not build the fixtures here\n");
    return 77;
  }

  snprintf (path, sizeof path, "%s/pvs.txt", dir);
  fp = fopen (path, "r");
  while (fp && fgets (line, sizeof line, fp) && npvinfo < 3) {
    struct pvinfo *p = &pvinfo[npvinfo];
    if (sscanf (line, "%15s %" SCNu64 " %63s", p->img, &p->pe_start,
                p->uuid) == 3)
      npvinfo++;
  }
  if (fp)
    fclose (fp);
  snprintf (path, sizeof path, "%s/segs.txt", dir);
  fp = fopen (path, "r");
  while (fp && fgets (line, sizeof line, fp) && nsegs < 32) {
    struct seginfo *s = &segs[nsegs];
    char range[128];
    uint64_t last;
    if (sscanf (line, "%15s %15s %" SCNu64 " %" SCNu64 " %15s %127s", s->vg,
                s->lv, &s->start_pe, &s->extent, s->type, range) != 6)
      continue;
    if (strcmp (s->type, "linear") != 0)
      continue;
    {
      char *colon = strchr (range, ':');
      if (!colon)
        continue;
      *colon = '\0';
      snprintf (s->img, sizeof s->img, "%.15s", range);
      if (sscanf (colon + 1, "%" SCNu64 "-%" SCNu64, &s->pe, &last) != 2)
        continue;
    }
    nsegs++;
  }
  if (fp)
    fclose (fp);
  if (npvinfo != 3 || nsegs < 7) {
    fprintf (stderr, "could not read pvs/lvs output (%zu PVs, %zu segs)\n",
             npvinfo, nsegs);
    return 1;
  }
  /* A marker at the first sector of each segment, at the PV offset
   * pe_start + pe * extent_size computed from pvs/lvs.
   */
  for (size_t i = 0; i < nsegs; i++) {
    const struct pvinfo *p = pv_of (segs[i].img);
    char buf[512];
    int fd;
    if (!p)
      return 1;
    snprintf (path, sizeof path, "%s/%s", dir, segs[i].img);
    fd = open (path, O_WRONLY);
    marker (buf, sizeof buf, segs[i].vg, segs[i].lv, segs[i].start_pe);
    if (fd == -1 || pwrite (fd, buf, sizeof buf,
                            (off_t) (p->pe_start + segs[i].pe *
                                     segs[i].extent)) != sizeof buf)
      return 1;
    close (fd);
  }
  return 0;
}

/* Open the named images as block devices. */
struct devs {
  size_t n;
  struct lf_disk *disk[4];
  struct lf_blockdev *bd[4];
};

static void
open_devs (struct devs *d, const char *const *names)
{
  memset (d, 0, sizeof *d);
  for (; *names; names++) {
    char path[512];
    snprintf (path, sizeof path, "%s/%s", dir, *names);
    d->disk[d->n] = lf_disk_open (path, NULL);
    ck_assert_msg (d->disk[d->n], "%s: %s", path, lf_last_error ());
    d->bd[d->n] = lf_bd_new_disk (d->disk[d->n], false, *names);
    ck_assert (d->bd[d->n]);
    d->n++;
  }
}

static void
close_devs (struct devs *d)
{
  for (size_t i = 0; i < d->n; i++) {
    lf_bd_free (d->bd[i]);
    lf_disk_close (d->disk[i]);
  }
}

static const struct lf_lvm_lv *
find_lv (const struct lf_lvm *lvm, const char *vg, const char *name)
{
  for (size_t i = 0; i < lvm->n; i++)
    if (strcmp (lvm->lvs[i].vg, vg) == 0 &&
        strcmp (lvm->lvs[i].name, name) == 0)
      return &lvm->lvs[i];
  return NULL;
}

/* Every segment lvs reported for VG/LV reads back its marker. */
static void
check_markers (const struct lf_lvm_lv *lv)
{
  unsigned found = 0;

  ck_assert_msg (lv->bd, "%s/%s not mapped: %s", lv->vg, lv->name,
                 lv->why_not);
  for (size_t i = 0; i < nsegs; i++) {
    char want[512], got[512];
    if (strcmp (segs[i].vg, lv->vg) != 0 || strcmp (segs[i].lv, lv->name))
      continue;
    marker (want, sizeof want, lv->vg, lv->name, segs[i].start_pe);
    ck_assert_int_eq (lf_bd_pread (lv->bd, got, sizeof got,
                                   segs[i].start_pe * segs[i].extent), 0);
    ck_assert_msg (memcmp (want, got, sizeof got) == 0,
                   "%s/%s: marker of the segment at extent %" PRIu64
                   " not found (got \"%.60s\")", lv->vg, lv->name,
                   segs[i].start_pe, got);
    found++;
  }
  ck_assert_uint_gt (found, 0);
}

START_TEST (test_probe_pv)
{
  struct devs d;
  struct lf_fsinfo fi;
  const char *const names[] = { "a.img", NULL };

  open_devs (&d, names);
  ck_assert_int_eq (lf_fs_probe (d.bd[0], &fi), 0);
  ck_assert_str_eq (fi.type, "LVM2_member");
  ck_assert_str_eq (fi.uuid, pv_of ("a.img")->uuid);
  close_devs (&d);
}
END_TEST

static void
check_vg0 (const struct lf_lvm *lvm)
{
  const struct lf_lvm_lv *lv;

  lv = find_lv (lvm, "vg0", "root");
  ck_assert (lv);
  ck_assert_uint_eq (lf_bd_size (lv->bd), 8 * LF_MiB);
  ck_assert_str_eq (lf_bd_name (lv->bd), "vg0/root");
  ck_assert_uint_eq (strlen (lv->uuid), 38);
  check_markers (lv);
  lv = find_lv (lvm, "vg0", "two");
  ck_assert (lv);
  ck_assert_uint_eq (lf_bd_size (lv->bd), 8 * LF_MiB);
  check_markers (lv);
  lv = find_lv (lvm, "vg0", "big");
  ck_assert (lv);
  ck_assert_uint_eq (lf_bd_size (lv->bd), 70 * LF_MiB);
  check_markers (lv);
  lv = find_lv (lvm, "vg0", "filler");
  ck_assert (lv && lv->bd);
  lv = find_lv (lvm, "vg0", "str");
  ck_assert (lv);
  ck_assert_ptr_null (lv->bd);
  ck_assert_str_eq (lv->why_not, "needs libguestfs: striped segments "
                    "(2 stripes)");
}

START_TEST (test_two_pvs)
{
  struct devs d;
  struct lf_lvm lvm;
  const char *const names[] = { "a.img", "b.img", NULL };

  open_devs (&d, names);
  ck_assert_msg (lf_lvm_scan (d.bd, d.n, &lvm) == 0, "%s", lf_last_error ());
  ck_assert_uint_eq (lvm.n, 5);
  check_vg0 (&lvm);
  lf_lvm_free (&lvm);
  close_devs (&d);
}
END_TEST

START_TEST (test_order_and_two_vgs)
{
  struct devs d;
  struct lf_lvm lvm;
  const char *const names[] = { "w.img", "b.img", "a.img", NULL };

  open_devs (&d, names);
  ck_assert_msg (lf_lvm_scan (d.bd, d.n, &lvm) == 0, "%s", lf_last_error ());
  ck_assert_uint_eq (lvm.n, 6);
  check_vg0 (&lvm);
  check_markers (find_lv (&lvm, "vgw", "lv"));
  lf_lvm_free (&lvm);
  close_devs (&d);
}
END_TEST

/* vgw's current metadata wraps around the end of its area. */
START_TEST (test_wrapped_metadata)
{
  struct devs d;
  struct lf_lvm lvm;
  const char *const names[] = { "w.img", NULL };
  uint8_t h[512];

  open_devs (&d, names);
  ck_assert_int_eq (lf_bd_pread (d.bd[0], h, sizeof h, 4096), 0);
  ck_assert_uint_gt (lf_le64 (h + 0x28) + lf_le64 (h + 0x30),
                     lf_le64 (h + 0x20));
  ck_assert_msg (lf_lvm_scan (d.bd, d.n, &lvm) == 0, "%s", lf_last_error ());
  ck_assert_uint_eq (lvm.n, 1);
  check_markers (find_lv (&lvm, "vgw", "lv"));
  lf_lvm_free (&lvm);
  close_devs (&d);
}
END_TEST

START_TEST (test_incomplete)
{
  struct devs d;
  struct lf_lvm lvm;
  const struct lf_lvm_lv *lv;
  const char *const names_a[] = { "a.img", NULL };
  const char *const names_b[] = { "b.img", NULL };

  open_devs (&d, names_a);
  ck_assert_msg (lf_lvm_scan (d.bd, d.n, &lvm) == 0, "%s", lf_last_error ());
  check_markers (find_lv (&lvm, "vg0", "root"));
  lv = find_lv (&lvm, "vg0", "big");
  ck_assert (lv && !lv->bd);
  ck_assert_msg (strstr (lv->why_not, "VG vg0 is incomplete: PV pv1") != NULL,
                 "%s", lv->why_not);
  /* The VG as a job checks it: pv0 found on a.img, pv1 missing, named by
   * its UUID as pvs printed it and where LVM last saw it (a loop device).
   */
  ck_assert_uint_eq (lvm.nvgs, 1);
  ck_assert_str_eq (lvm.vgs[0].name, "vg0");
  ck_assert_uint_eq (lvm.vgs[0].npvs, 2);
  ck_assert_str_eq (lvm.vgs[0].pvs[0].name, "pv0");
  ck_assert_ptr_eq (lvm.vgs[0].pvs[0].bd, d.bd[0]);
  ck_assert_str_eq (lvm.vgs[0].pvs[1].name, "pv1");
  ck_assert_ptr_null (lvm.vgs[0].pvs[1].bd);
  ck_assert_str_eq (lvm.vgs[0].pvs[1].uuid, pv_of ("b.img")->uuid);
  ck_assert_msg (strncmp (lvm.vgs[0].pvs[1].hint, "/dev/loop", 9) == 0, "%s",
                 lvm.vgs[0].pvs[1].hint);
  ck_assert_uint_eq (lv->vg_index, 0);
  lf_lvm_free (&lvm);
  close_devs (&d);

  open_devs (&d, names_b);
  ck_assert_msg (lf_lvm_scan (d.bd, d.n, &lvm) == 0, "%s", lf_last_error ());
  lv = find_lv (&lvm, "vg0", "root");
  ck_assert (lv && !lv->bd);
  ck_assert_msg (strstr (lv->why_not, "incomplete") != NULL, "%s",
                 lv->why_not);
  lf_lvm_free (&lvm);
  close_devs (&d);
}
END_TEST

/* The same PVs as qcow2 images: reads go through convert/'s qcow2 reader. */
START_TEST (test_qcow2_pvs)
{
  struct devs d;
  struct lf_lvm lvm;
  char cmd[1024];
  const char *const names[] = { "a.qcow2", "b.qcow2", NULL };

  snprintf (cmd, sizeof cmd, "cd %s && qemu-img convert -O qcow2 a.img "
            "a.qcow2 && qemu-img convert -O qcow2 b.img b.qcow2", dir);
  ck_assert_int_eq (system (cmd), 0);
  open_devs (&d, names);
  ck_assert_msg (lf_lvm_scan (d.bd, d.n, &lvm) == 0, "%s", lf_last_error ());
  check_vg0 (&lvm);
  lf_lvm_free (&lvm);
  close_devs (&d);
}
END_TEST

/* ---- Damaged copies of a.img ---- */

/* LVM's CRC, written again here from lib/misc/crc.c so that the test does
 * not trust the code under test.
 */
static uint32_t
crc (uint32_t c, const uint8_t *p, size_t n)
{
  static const uint32_t tab[16] = {
    0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
    0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
    0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
  };
  while (n--) {
    c ^= *p++;
    c = (c >> 4) ^ tab[c & 0xf];
    c = (c >> 4) ^ tab[c & 0xf];
  }
  return c;
}

static void
copy_a (const char *name)
{
  char cmd[1024];
  snprintf (cmd, sizeof cmd, "cp --sparse=always %s/a.img %s/%s", dir, dir,
            name);
  ck_assert_int_eq (system (cmd), 0);
}

/* Replace the first occurrence of FROM in a copy's metadata text by TO
 * (or cut the text to CUT bytes if FROM is NULL), then fix the checksums
 * as LVM would.  The metadata of a.img does not wrap.
 */
static void
edit_metadata (const char *name, const char *from, const char *to, size_t cut)
{
  char path[512], *text, *p;
  uint8_t h[512];
  uint64_t off, size;
  int fd;

  snprintf (path, sizeof path, "%s/%s", dir, name);
  fd = open (path, O_RDWR);
  ck_assert_int_ge (fd, 0);
  ck_assert_int_eq (pread (fd, h, 512, 4096), 512);
  ck_assert_mem_eq (h + 4, "\040LVM2\040x[5A%r0N*>", 16);
  ck_assert_uint_eq (lf_le32 (h), crc (0xf597a6cf, h + 4, 508));
  off = lf_le64 (h + 0x28);
  size = lf_le64 (h + 0x30);
  ck_assert_uint_le (off + size, lf_le64 (h + 0x20));
  text = calloc (1, size + 256);
  ck_assert_int_eq (pread (fd, text, size, (off_t) (4096 + off)), (ssize_t) size);
  ck_assert_uint_eq (lf_le32 (h + 0x38), crc (0xf597a6cf, (uint8_t *) text, size));
  if (from) {
    p = strstr (text, from);
    ck_assert_msg (p, "\"%s\" not in the metadata", from);
    ck_assert_uint_le (strlen (to), strlen (from) + 200);
    memmove (p + strlen (to), p + strlen (from), strlen (p + strlen (from)) + 1);
    memcpy (p, to, strlen (to));
    size = strlen (text) + 1;
  }
  else
    size = cut;
  ck_assert_int_eq (pwrite (fd, text, size, (off_t) (4096 + off)), (ssize_t) size);
  lf_put_le64 (h + 0x30, size);
  lf_put_le32 (h + 0x38, crc (0xf597a6cf, (uint8_t *) text, size));
  lf_put_le32 (h, crc (0xf597a6cf, h + 4, 508));
  ck_assert_int_eq (pwrite (fd, h, 512, 4096), 512);
  free (text);
  close (fd);
}

/* Flip one byte of a copy of a.img. */
static void
flip (const char *name, uint64_t off)
{
  char path[512];
  uint8_t b;
  int fd;

  snprintf (path, sizeof path, "%s/%s", dir, name);
  fd = open (path, O_RDWR);
  ck_assert_int_ge (fd, 0);
  ck_assert_int_eq (pread (fd, &b, 1, (off_t) off), 1);
  b ^= 0x5a;
  ck_assert_int_eq (pwrite (fd, &b, 1, (off_t) off), 1);
  close (fd);
}

/* Scanning NAME alone fails with an error containing WANT. */
static void
expect_error (const char *name, const char *want)
{
  struct devs d;
  struct lf_lvm lvm;
  const char *const names[] = { name, NULL };

  open_devs (&d, names);
  ck_assert_int_eq (lf_lvm_scan (d.bd, d.n, &lvm), -1);
  ck_assert_msg (strstr (lf_last_error (), want) != NULL,
                 "error \"%s\" does not contain \"%s\"", lf_last_error (),
                 want);
  ck_assert_uint_eq (lvm.n, 0);
  close_devs (&d);
}

START_TEST (test_bad_label_crc)
{
  copy_a ("d-label.img");
  flip ("d-label.img", 512 + 0x30);             /* inside the pv_header */
  expect_error ("d-label.img", "d-label.img: LVM2 label in sector 1: bad "
                "checksum");
}
END_TEST

START_TEST (test_not_a_pv)
{
  copy_a ("d-zero.img");
  flip ("d-zero.img", 512);                     /* "LABELONE" */
  expect_error ("d-zero.img", "d-zero.img: not an LVM2 physical volume");
}
END_TEST

START_TEST (test_bad_mda_header)
{
  copy_a ("d-mdah.img");
  flip ("d-mdah.img", 4096 + 0x30);
  expect_error ("d-mdah.img", "d-mdah.img: LVM2 metadata area 0 header at "
                "0x1000: bad checksum");
}
END_TEST

START_TEST (test_bad_text_checksum)
{
  char path[512];
  uint8_t h[512];
  int fd;

  copy_a ("d-text.img");
  snprintf (path, sizeof path, "%s/d-text.img", dir);
  fd = open (path, O_RDONLY);
  ck_assert_int_eq (pread (fd, h, 512, 4096), 512);
  close (fd);
  flip ("d-text.img", 4096 + lf_le64 (h + 0x28) + 10);
  expect_error ("d-text.img", "d-text.img: LVM2 metadata area 0: text at "
                "offset");
  ck_assert (strstr (lf_last_error (), "bad checksum"));
}
END_TEST

START_TEST (test_truncated_text)
{
  copy_a ("d-trunc.img");
  edit_metadata ("d-trunc.img", NULL, NULL, 700);
  expect_error ("d-trunc.img", "d-trunc.img: LVM2 metadata area 0: line");
  ck_assert_msg (strstr (lf_last_error (), "not closed") ||
                 strstr (lf_last_error (), "unexpected end"), "%s",
                 lf_last_error ());
}
END_TEST

START_TEST (test_unbalanced_braces)
{
  copy_a ("d-brace.img");
  edit_metadata ("d-brace.img", "physical_volumes {", "physical_volumes {{",
                 0);
  expect_error ("d-brace.img", "d-brace.img: LVM2 metadata area 0: line");
  copy_a ("d-brace2.img");
  edit_metadata ("d-brace2.img", "logical_volumes {", "logical_volumes ", 0);
  expect_error ("d-brace2.img", "d-brace2.img: LVM2 metadata area 0: line");
}
END_TEST

START_TEST (test_absurd_extents)
{
  copy_a ("d-ext.img");
  edit_metadata ("d-ext.img", "extent_count = 8\n",
                 "extent_count = 4000000000\n", 0);
  expect_error ("d-ext.img", "VG vg0: LV ");
  ck_assert_msg (strstr (lf_last_error (), "beyond pv0's pe_count"), "%s",
                 lf_last_error ());
  copy_a ("d-ext2.img");
  edit_metadata ("d-ext2.img", "extent_size = 2048",
                 "extent_size = 99999999999999999999", 0);
  expect_error ("d-ext2.img", "number too large");
  copy_a ("d-ext3.img");
  edit_metadata ("d-ext3.img", "segment_count = 1", "segment_count = 3", 0);
  expect_error ("d-ext3.img", "segment_count is 3 but 1 segments are present");
}
END_TEST

static void
cleanup (void)
{
  char cmd[600];

  if (getenv ("LANDFALL_TEST_KEEP"))
    return;
  snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
  (void) system (cmd);
}

int
main (void)
{
  int r = build ();

  if (r != 0) {
    cleanup ();
    return r;
  }
  Suite *s = suite_create ("lvm");
  TCase *tc = tcase_create ("lvm");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_probe_pv);
  tcase_add_test (tc, test_two_pvs);
  tcase_add_test (tc, test_order_and_two_vgs);
  tcase_add_test (tc, test_wrapped_metadata);
  tcase_add_test (tc, test_incomplete);
  tcase_add_test (tc, test_qcow2_pvs);
  tcase_add_test (tc, test_bad_label_crc);
  tcase_add_test (tc, test_not_a_pv);
  tcase_add_test (tc, test_bad_mda_header);
  tcase_add_test (tc, test_bad_text_checksum);
  tcase_add_test (tc, test_truncated_text);
  tcase_add_test (tc, test_unbalanced_braces);
  tcase_add_test (tc, test_absurd_extents);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  cleanup ();
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

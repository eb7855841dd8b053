/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall fuzz target: LVM2 (guest/lvm.c).
 *
 * The first byte of the input picks the mode:
 *   even: the rest is the start of a raw PV (the file is padded with zeros
 *         to 4 MiB so that a real PV's first sectors make a seed).  The
 *         label CRC, the metadata area header CRC and the text checksum are
 *         recomputed here wherever the input points them, so that fuzzing
 *         reaches past them (fuzz inputs skip checksum checks);
 *   odd:  the rest is metadata text, wrapped here in a valid PV (label at
 *         sector 1, one metadata area at 4 KiB, data at 1 MiB) whose UUID
 *         is FUZZ_UUID: the text parser and the VG/LV mapping.
 * Then lf_lvm_scan runs over the device and every LV mapped is read.
 * Errors are expected; crashes and sanitizer reports are the bugs.  Built
 * with -DFUZZ_TARGET it is a libFuzzer target, otherwise a replayer of the
 * files named on its command line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "convert/convert.h"
#include "guest/guest.h"

#define DISK_SIZE (4 * 1024 * 1024)
#define MDA_OFF   4096
#define MDA_SIZE  (1024 * 1024 - MDA_OFF)
#define FUZZ_UUID "abcdefghijklmnopqrstuvwxyz012345"
#define MAGIC     "\040LVM2\040x[5A%r0N*>"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static uint32_t
crc (uint32_t c, const uint8_t *p, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++)
      c = (c & 1) ? (c >> 1) ^ 0xedb88320u : c >> 1;
  }
  return c;
}

/* Recompute the checksums of a raw PV in DISK (DISK_SIZE bytes). */
static void
fix_checksums (uint8_t *disk)
{
  for (unsigned s = 0; s < 4; s++) {
    uint8_t *l = disk + 512 * s;
    uint32_t off;
    size_t list;
    if (memcmp (l, "LABELONE", 8) != 0)
      continue;
    off = lf_le32 (l + 0x14);
    if (off >= 32 && off <= 512 - 40) {
      /* Skip the data areas, then fix each metadata area it names. */
      list = off + 40;
      for (int which = 0; which < 2; which++)
        while (list + 16 <= 512) {
          uint64_t o = lf_le64 (l + list), sz = lf_le64 (l + list + 8);
          list += 16;
          if (o == 0)
            break;
          if (which == 1 && o <= DISK_SIZE - 512) {
            uint8_t *h = disk + o;
            uint64_t ro = lf_le64 (h + 0x28), rs = lf_le64 (h + 0x30);
            if (sz >= 512 && sz <= DISK_SIZE - o && ro >= 512 && ro < sz &&
                rs <= sz - 512) {
              uint64_t first = rs < sz - ro ? rs : sz - ro;
              uint32_t c = crc (0xf597a6cf, h + ro, first);
              c = crc (c, h + 512, rs - first);
              lf_put_le32 (h + 0x38, c);
            }
            lf_put_le32 (h, crc (0xf597a6cf, h + 4, 508));
          }
        }
    }
    lf_put_le32 (l + 0x10, crc (0xf597a6cf, l + 0x14, 512 - 0x14));
    break;
  }
}

/* A valid PV around TEXT. */
static void
make_pv (uint8_t *disk, const uint8_t *text, size_t len)
{
  uint8_t *l = disk + 512, *h = disk + MDA_OFF;

  if (len > MDA_SIZE - 512)
    len = MDA_SIZE - 512;
  memcpy (l, "LABELONE", 8);
  lf_put_le64 (l + 0x08, 1);
  lf_put_le32 (l + 0x14, 32);
  memcpy (l + 0x18, "LVM2 001", 8);
  memcpy (l + 32, FUZZ_UUID, 32);
  lf_put_le64 (l + 64, DISK_SIZE);
  lf_put_le64 (l + 72, 1024 * 1024);           /* data area */
  lf_put_le64 (l + 104, MDA_OFF);              /* metadata area */
  lf_put_le64 (l + 112, MDA_SIZE);
  memcpy (h + 4, MAGIC, 16);
  lf_put_le32 (h + 0x14, 1);
  lf_put_le64 (h + 0x18, MDA_OFF);
  lf_put_le64 (h + 0x20, MDA_SIZE);
  lf_put_le64 (h + 0x28, 512);
  lf_put_le64 (h + 0x30, len ? len : 1);
  memcpy (h + 512, text, len);
  lf_put_le32 (h + 0x38, crc (0xf597a6cf, h + 512, len ? len : 1));
  lf_put_le32 (h, crc (0xf597a6cf, h + 4, 508));
  lf_put_le32 (l + 0x10, crc (0xf597a6cf, l + 0x14, 512 - 0x14));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char path[] = "/tmp/landfall-fuzz-lvm-XXXXXX";
  static uint8_t disk[DISK_SIZE];
  static char buf[4096];
  struct lf_disk *d;
  struct lf_blockdev *bd;
  struct lf_lvm lvm;
  int fd;

  if (size < 1)
    return 0;
  memset (disk, 0, sizeof disk);
  if (data[0] & 1)
    make_pv (disk, data + 1, size - 1);
  else {
    memcpy (disk, data + 1, LF_MIN (size - 1, (size_t) DISK_SIZE));
    fix_checksums (disk);
  }
  fd = mkstemp (path);
  if (fd == -1 || lf_pwrite_all (fd, disk, sizeof disk, 0) == -1)
    abort ();
  close (fd);
  d = lf_disk_open (path, "raw");
  if (d) {
    bd = lf_bd_new_disk (d, false, "fuzz");
    if (bd && lf_lvm_scan (&bd, 1, &lvm) == 0) {
      for (size_t i = 0; i < lvm.n; i++)
        if (lvm.lvs[i].bd)
          (void) lf_bd_pread (lvm.lvs[i].bd, buf,
                              (size_t) LF_MIN ((uint64_t) sizeof buf,
                                               lf_bd_size (lvm.lvs[i].bd)),
                              0);
      lf_lvm_free (&lvm);
    }
    lf_bd_free (bd);
    lf_disk_close (d);
  }
  unlink (path);
  return 0;
}

#include "tests/fuzz/fuzz-main.h"

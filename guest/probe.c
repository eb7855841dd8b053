/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall guest/: the libblkid adapter (what is on a block device), and
 * the file descriptor libblkid reads any of our block devices through.
 *
 * libblkid wants a file descriptor.  A device whose bytes are a plain
 * range of a file (a raw image or a fixed VHD, or a window of one) is
 * handed over as that file with an offset and a size.  Anything else (a
 * VMDK or qcow2 disk, a partition of one, an LVM logical volume) becomes a
 * sparse memfd of the device's size into which we copy only the regions
 * libblkid reads:
 *
 *   - the first and the last LF_PROBE_EDGE (1 MiB) bytes: the MBR, the
 *     primary GPT header and entries (LBA 1..33), the backup GPT (the last
 *     33 sectors), and the superblocks of everything we report (ext2/3/4 at
 *     1 KiB, XFS/NTFS/vfat/LUKS/BitLocker at 0, swap at the end of the
 *     first page, the LVM2 label in the first 4 sectors, btrfs at 64 KiB,
 *     iso9660 at 32 KiB, md/ddf/ZFS labels near the end);
 *   - the EBRs of an MBR extended partition, which may be anywhere in it:
 *     the chain is walked here the way libblkid will walk it, at most
 *     LF_PROBE_MAX_EBR links;
 *   - a GPT entry array that a header places outside the first/last MiB
 *     (legal, rare), at most LF_PROBE_MAX_GPT_ENTRIES bytes;
 *   - BitLocker's FVE metadata blocks, which its boot sector points to
 *     anywhere in the volume (libblkid reads the first one to be sure).
 *
 * Everything else reads as zeros, which libblkid takes as "no signature
 * there".  Reads go through lf_bd_pread, so they are bounded and any image
 * format works.  The memfd costs only the pages written (2 MiB or so).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <blkid.h>

#include "guest/guest.h"

#define LF_PROBE_EDGE            LF_MiB
#define LF_PROBE_MAX_EBR         128    /* libblkid's dos.c stops at 100 */
#define LF_PROBE_MAX_GPT_ENTRIES (4 * LF_MiB)
#define SECTOR 512u

/* Copy [OFF, OFF+LEN) of BD into FD at the same offset (clipped to BD). */
static int
copy_range (struct lf_blockdev *bd, int fd, uint64_t off, uint64_t len)
{
  static const size_t chunk = 256 * 1024;
  CLEANUP_FREE char *buf = NULL;
  uint64_t size = lf_bd_size (bd), end;

  if (off >= size)
    return 0;
  if (ADD_OVERFLOW (off, len, &end) || end > size)
    end = size;
  buf = malloc (chunk);
  if (!buf) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  while (off < end) {
    size_t n = (size_t) LF_MIN ((uint64_t) chunk, end - off);
    if (lf_bd_pread (bd, buf, n, off) == -1)
      return -1;
    if (!lf_is_zero (buf, n) && lf_pwrite_all (fd, buf, n, off) == -1) {
      lf_error_prefix ("%s: probe copy", lf_bd_name (bd));
      return -1;
    }
    off += n;
  }
  return 0;
}

static bool
is_ext_type (uint8_t t)
{
  return t == 0x05 || t == 0x0f || t == 0x85;
}

/* Copy the EBR chain of each extended partition in the MBR.  Values are
 * hostile: every link is bounded by the extended partition and the
 * device, and the walk stops after LF_PROBE_MAX_EBR links (a loop).
 */
static int
copy_ebrs (struct lf_blockdev *bd, int fd, const uint8_t *mbr)
{
  uint64_t nsect = lf_bd_size (bd) / SECTOR;

  if (mbr[510] != 0x55 || mbr[511] != 0xaa)
    return 0;
  for (unsigned i = 0; i < 4; i++) {
    const uint8_t *e = mbr + 446 + 16 * i;
    uint64_t ext_start = lf_le32 (e + 8), cur = ext_start;
    if (!is_ext_type (e[4]) || ext_start == 0)
      continue;
    for (unsigned n = 0; n < LF_PROBE_MAX_EBR && cur && cur < nsect; n++) {
      uint8_t ebr[SECTOR];
      uint64_t next = 0;
      if (lf_bd_pread (bd, ebr, SECTOR, cur * SECTOR) == -1)
        return -1;
      if (lf_pwrite_all (fd, ebr, SECTOR, cur * SECTOR) == -1) {
        lf_error_prefix ("%s: probe copy", lf_bd_name (bd));
        return -1;
      }
      if (ebr[510] != 0x55 || ebr[511] != 0xaa)
        break;
      for (unsigned j = 0; j < 4; j++) {
        const uint8_t *l = ebr + 446 + 16 * j;
        if (is_ext_type (l[4]) && lf_le32 (l + 8) != 0) {
          next = ext_start + lf_le32 (l + 8);
          break;
        }
      }
      cur = next;
    }
  }
  return 0;
}

/* Copy a GPT entry array that lies outside the regions already copied. */
static int
copy_gpt_entries (struct lf_blockdev *bd, int fd, uint64_t lba)
{
  uint8_t h[SECTOR];
  uint64_t off, entries_lba, bytes;
  uint32_t n, esz;

  if (MUL_OVERFLOW (lba, (uint64_t) SECTOR, &off))
    return 0;
  if (off >= lf_bd_size (bd) || lf_bd_size (bd) - off < SECTOR)
    return 0;
  if (lf_bd_pread (bd, h, SECTOR, off) == -1)
    return -1;
  if (memcmp (h, "EFI PART", 8) != 0)
    return 0;
  entries_lba = lf_le64 (h + 72);
  n = lf_le32 (h + 80);
  esz = lf_le32 (h + 84);
  if (MUL_OVERFLOW ((uint64_t) n, (uint64_t) esz, &bytes) ||
      bytes > LF_PROBE_MAX_GPT_ENTRIES ||
      MUL_OVERFLOW (entries_lba, (uint64_t) SECTOR, &off))
    return 0;                   /* libblkid will reject it too */
  return copy_range (bd, fd, off, bytes);
}

/* BitLocker: the boot sector holds the offsets of three FVE metadata
 * blocks (Windows 7 and later at 176, BitLocker To Go at 424 + 16).
 */
static int
copy_bitlocker_fve (struct lf_blockdev *bd, int fd, const uint8_t *boot)
{
  size_t at;

  if (memcmp (boot, "\xeb\x58\x90-FVE-FS-", 11) == 0)
    at = 176;
  else if (memcmp (boot, "\xeb\x58\x90MSWIN4.1", 11) == 0)
    at = 440;
  else
    return 0;
  for (unsigned i = 0; i < 3; i++)
    if (copy_range (bd, fd, lf_le64 (boot + at + 8 * i), 4096) == -1)
      return -1;
  return 0;
}

/* See the comment at the top of the file. */
static int
make_memfd (struct lf_blockdev *bd)
{
  uint64_t size = lf_bd_size (bd);
  uint8_t mbr[SECTOR];
  int fd = memfd_create ("landfall-probe", MFD_CLOEXEC);

  if (fd == -1) {
    lf_error (errno, "%s: memfd_create: %m", lf_bd_name (bd));
    return -1;
  }
  if (ftruncate (fd, (off_t) size) == -1) {
    lf_error (errno, "%s: memfd of %" PRIu64 " bytes: %m", lf_bd_name (bd),
              size);
    goto error;
  }
  if (copy_range (bd, fd, 0, LF_PROBE_EDGE) == -1 ||
      copy_range (bd, fd, size > LF_PROBE_EDGE ? size - LF_PROBE_EDGE : 0,
                  LF_PROBE_EDGE) == -1)
    goto error;
  if (size >= SECTOR) {
    if (lf_bd_pread (bd, mbr, SECTOR, 0) == -1 ||
        copy_ebrs (bd, fd, mbr) == -1 ||
        copy_bitlocker_fve (bd, fd, mbr) == -1 ||
        copy_gpt_entries (bd, fd, 1) == -1 ||
        copy_gpt_entries (bd, fd, size / SECTOR - 1) == -1)
      goto error;
  }
  return fd;

 error:
  close (fd);
  return -1;
}

int
lf_bd_probe_fd (struct lf_blockdev *bd, uint64_t *offset)
{
  const char *path;
  int fd;

  if (lf_bd_raw_location (bd, &path, offset)) {
    fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd == -1)
      lf_error (errno, "%s: %s: %m", lf_bd_name (bd), path);
    return fd;
  }
  *offset = 0;
  return make_memfd (bd);
}

/* Copy a libblkid value into a fixed field; a value that does not fit is
 * cut (hostile labels may be long) but stays a valid C string.
 */
static void
lookup (blkid_probe pr, const char *name, char *dst, size_t dstlen)
{
  const char *v = NULL;
  size_t len = 0;

  dst[0] = '\0';
  if (blkid_probe_lookup_value (pr, name, &v, &len) == 0 && v)
    snprintf (dst, dstlen, "%s", v);
}

int
lf_fs_probe (struct lf_blockdev *bd, struct lf_fsinfo *ret)
{
  CLEANUP_CLOSE int fd = -1;
  blkid_probe pr = NULL;
  uint64_t offset;
  char bs[32];
  int r, rv = -1;

  memset (ret, 0, sizeof *ret);
  fd = lf_bd_probe_fd (bd, &offset);
  if (fd == -1)
    return -1;
  pr = blkid_new_probe ();
  if (!pr) {
    lf_error (ENOMEM, "%s: blkid_new_probe failed", lf_bd_name (bd));
    return -1;
  }
  if (offset > INT64_MAX || lf_bd_size (bd) > INT64_MAX ||
      blkid_probe_set_device (pr, fd, (blkid_loff_t) offset,
                              (blkid_loff_t) lf_bd_size (bd)) != 0) {
    lf_error (errno ? errno : EIO, "%s: libblkid could not use the device "
              "(offset 0x%" PRIx64 ", size %" PRIu64 ")", lf_bd_name (bd),
              offset, lf_bd_size (bd));
    goto out;
  }
  blkid_probe_enable_partitions (pr, 0);
  blkid_probe_enable_superblocks (pr, 1);
  blkid_probe_set_superblocks_flags (pr, BLKID_SUBLKS_TYPE |
                                     BLKID_SUBLKS_UUID | BLKID_SUBLKS_LABEL |
                                     BLKID_SUBLKS_VERSION |
                                     BLKID_SUBLKS_USAGE);
  errno = 0;
  r = blkid_do_safeprobe (pr);
  if (r == 1) {                 /* nothing found */
    rv = 0;
    goto out;
  }
  if (r == -2) {
    lf_error (EINVAL, "%s: several different filesystem signatures (a "
              "disk reformatted without wiping?): refusing to guess",
              lf_bd_name (bd));
    goto out;
  }
  if (r != 0) {
    lf_error (errno ? errno : EIO, "%s: libblkid superblock probe failed",
              lf_bd_name (bd));
    goto out;
  }
  lookup (pr, "TYPE", ret->type, sizeof ret->type);
  lookup (pr, "UUID", ret->uuid, sizeof ret->uuid);
  lookup (pr, "LABEL", ret->label, sizeof ret->label);
  lookup (pr, "VERSION", ret->version, sizeof ret->version);
  lookup (pr, "BLOCK_SIZE", bs, sizeof bs);
  ret->block_size = strtoull (bs, NULL, 10);
  LF_DEBUG (1, "%s: %s uuid=%s label=\"%s\" version=%s block_size=%" PRIu64,
            lf_bd_name (bd), ret->type, ret->uuid, ret->label, ret->version,
            ret->block_size);
  rv = 0;

 out:
  blkid_free_probe (pr);
  return rv;
}

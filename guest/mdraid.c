/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall guest/: Linux md RAID member superblocks (metadata 0.90 and
 * 1.x), read to know which arrays a set of disks holds and whether every
 * member of each is there.  The arrays themselves are assembled by the
 * libguestfs appliance: a write through one member alone would make the
 * mirrors differ, so no native backend opens a member.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "guest/guest.h"

#define MD_MAGIC   0xa92b4efcu
#define SB1_SIZE   4096         /* what is read: header + dev_roles */
#define SB1_ROLES  256
#define SB0_SIZE   4096
#define SB0_RESERVED 65536      /* 0.90: 64 KiB aligned, at the end */

static const char *
level_name (int level, char *buf, size_t n)
{
  switch (level) {
  case -1: return "linear";
  case -4: return "multipath";
  default:
    snprintf (buf, n, "RAID%d", level);
    return buf;
  }
}

const char *
lf_md_level_name (const struct lf_md_member *m, char *buf, size_t n)
{
  return level_name (m->level, buf, n);
}

static void
uuid_string (const uint8_t *u, char *out)
{
  /* blkid's spelling, which the fsinfo of the partition has too. */
  snprintf (out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
            "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5],
            u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

/* The name mdadm gives the array's device: /dev/md/NAME for 1.x, where
 * "host:0" is md0 on that host; mdMINOR for 0.90.
 */
static void
array_name (const char *set_name, char *out, size_t n)
{
  const char *s = strrchr (set_name, ':');
  s = s ? s + 1 : set_name;
  bool digits = *s != '\0';
  for (const char *p = s; *p; p++)
    if (*p < '0' || *p > '9')
      digits = false;
  if (digits)
    snprintf (out, n, "md%s", s);
  else if (*s)
    snprintf (out, n, "md/%s", s);
  else
    snprintf (out, n, "md");
}

static int
probe_1x (struct lf_blockdev *bd, uint64_t off, const char *version,
          struct lf_md_member *m)
{
  uint8_t sb[SB1_SIZE];
  const char *dev = lf_bd_name (bd);

  if (lf_bd_pread (bd, sb, sizeof sb, off) == -1)
    return -1;
  if (lf_le32 (sb) != MD_MAGIC)
    return 0;
  if (lf_le32 (sb + 4) != 1) {
    lf_error (EINVAL, "%s: md superblock at %" PRIu64 ": major version %"
              PRIu32 ", expected 1", dev, off, lf_le32 (sb + 4));
    return -1;
  }
  /* super_offset names where it is: a stale copy elsewhere says otherwise. */
  if (lf_le64 (sb + 144) != off / 512)
    return 0;
  uint64_t size = lf_bd_size (bd) / 512;
  uint64_t doff = lf_le64 (sb + 128), dsize = lf_le64 (sb + 136);
  uint32_t raid_disks = lf_le32 (sb + 92), devnum = lf_le32 (sb + 160);
  uint32_t max_dev = lf_le32 (sb + 220);
  if (doff > size || dsize > size - doff) {
    lf_error (EINVAL, "%s: md superblock %s: data offset %" PRIu64
              " + size %" PRIu64 " sectors past the device's %" PRIu64,
              dev, version, doff, dsize, size);
    return -1;
  }
  if (raid_disks == 0 || raid_disks > LF_MD_MAX_DISKS) {
    lf_error (EINVAL, "%s: md superblock %s: %" PRIu32 " raid disks (1 to %d)",
              dev, version, raid_disks, LF_MD_MAX_DISKS);
    return -1;
  }
  if (max_dev > (SB1_SIZE - SB1_ROLES) / 2 || devnum >= max_dev) {
    lf_error (EINVAL, "%s: md superblock %s: device number %" PRIu32
              " of %" PRIu32 " role slots", dev, version, devnum, max_dev);
    return -1;
  }
  memset (m, 0, sizeof *m);
  snprintf (m->metadata, sizeof m->metadata, "%s", version);
  uuid_string (sb + 16, m->uuid);
  char set_name[33];
  memcpy (set_name, sb + 32, 32);
  set_name[32] = '\0';
  for (char *p = set_name; *p; p++)
    if ((unsigned char) *p < 0x20 || (unsigned char) *p > 0x7e)
      *p = '?';
  snprintf (m->set_name, sizeof m->set_name, "%s", set_name);
  array_name (set_name, m->name, sizeof m->name);
  m->level = (int32_t) lf_le32 (sb + 72);
  m->raid_disks = raid_disks;
  uint16_t role = lf_le16 (sb + SB1_ROLES + 2 * devnum);
  /* 0xffff spare, 0xfffe faulty: not a member holding data. */
  m->role = role < raid_disks ? role : -1;
  m->data_offset = doff * 512;
  m->data_size = dsize * 512;
  return 1;
}

static int
probe_090 (struct lf_blockdev *bd, struct lf_md_member *m)
{
  uint64_t size = lf_bd_size (bd);
  uint8_t sb[SB0_SIZE];
  const char *dev = lf_bd_name (bd);

  if (size < 2 * SB0_RESERVED)
    return 0;
  uint64_t off = (size & ~(uint64_t) (SB0_RESERVED - 1)) - SB0_RESERVED;
  if (lf_bd_pread (bd, sb, sizeof sb, off) == -1)
    return -1;
  if (lf_le32 (sb) != MD_MAGIC || lf_le32 (sb + 4) != 0)
    return 0;
  uint32_t raid_disks = lf_le32 (sb + 40);
  if (raid_disks == 0 || raid_disks > LF_MD_MAX_DISKS) {
    lf_error (EINVAL, "%s: md superblock 0.90: %" PRIu32 " raid disks "
              "(1 to %d)", dev, raid_disks, LF_MD_MAX_DISKS);
    return -1;
  }
  memset (m, 0, sizeof *m);
  snprintf (m->metadata, sizeof m->metadata, "0.90");
  uint8_t u[16];
  memcpy (u, sb + 20, 4);       /* set_uuid0, then set_uuid1..3 */
  memcpy (u + 4, sb + 52, 12);
  uuid_string (u, m->uuid);
  snprintf (m->name, sizeof m->name, "md%" PRIu32, lf_le32 (sb + 72));
  m->level = (int32_t) lf_le32 (sb + 28);
  m->raid_disks = raid_disks;
  /* this_disk, the descriptor at word 992: its raid_disk is the role. */
  uint32_t role = lf_le32 (sb + 992 * 4 + 12);
  m->role = role < raid_disks ? (int) role : -1;
  m->data_offset = 0;
  m->data_size = off;
  return 1;
}

int
lf_md_probe (struct lf_blockdev *bd, struct lf_md_member *m)
{
  uint64_t size = lf_bd_size (bd);
  int r;

  if (size < 3 * SB1_SIZE)
    return 0;
  /* mdadm's order: 1.2 (4 KiB in), 1.1 (at 0), 1.0 (8 KiB from the end,
   * 4 KiB aligned), 0.90 (64 KiB aligned, 64 KiB from the end).
   */
  if ((r = probe_1x (bd, 4096, "1.2", m)) != 0 ||
      (r = probe_1x (bd, 0, "1.1", m)) != 0 ||
      (r = probe_1x (bd, ((size / 512 - 16) & ~(uint64_t) 7) * 512, "1.0",
                     m)) != 0)
    return r;
  return probe_090 (bd, m);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall guest/: partition tables, read with libblkid.
 *
 * libblkid parses MBR (with the EBR chain of an extended partition,
 * logical partitions numbered from 5 as Linux does) and GPT (primary
 * header, or the backup at the last LBA when the primary's CRC is bad).
 * What it returns is still hostile data: every partition is checked
 * against the device here, and a table with a partition outside the device
 * or two overlapping partitions is an error naming the partition.
 *
 * What libblkid does with damaged tables (checked by test-partition.c):
 *   - GPT primary header or entries bad, backup good: the backup is used;
 *   - both GPT headers bad: no GPT; the protective MBR's 0xEE entry stops
 *     the MBR prober too, so libblkid reports no table.  We report that as
 *     an error ("protective MBR but no valid GPT header") rather than as a
 *     bare filesystem;
 *   - an EBR chain that loops: libblkid stops after 100 links; an EBR link
 *     pointing outside the extended partition ends the chain.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blkid.h>

#include "guest/guest.h"

/* GPT allows more than 128 entries; nothing real has thousands. */
#define LF_MAX_PARTITIONS 1024
#define SECTOR 512u

void
lf_partitions_free (struct lf_partition_table *t)
{
  if (!t)
    return;
  free (t->parts);
  t->parts = NULL;
  t->n = 0;
}

/* The MBR in sector 0: whether it has a 0xEE entry, and how many entries
 * of other types (a hybrid MBR when the disk is GPT).
 */
static int
read_mbr (struct lf_blockdev *bd, bool *protective, unsigned *others)
{
  uint8_t mbr[SECTOR];

  *protective = false;
  *others = 0;
  if (lf_bd_size (bd) < SECTOR)
    return 0;
  if (lf_bd_pread (bd, mbr, SECTOR, 0) == -1)
    return -1;
  if (mbr[510] != 0x55 || mbr[511] != 0xaa)
    return 0;
  for (unsigned i = 0; i < 4; i++) {
    const uint8_t *e = mbr + 446 + 16 * i;
    if (e[4] == 0xee)
      *protective = true;
    else if (e[4] != 0 && lf_le32 (e + 12) != 0)
      (*others)++;
  }
  return 0;
}

static int
cmp_offset (const void *a, const void *b)
{
  const struct lf_partition *x = a, *y = b;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Partitions must not overlap, except a logical one inside its extended
 * container.  Sorts a copy; O(n log n).
 */
static int
check_overlaps (struct lf_blockdev *bd, const struct lf_partition_table *t)
{
  CLEANUP_FREE struct lf_partition *s = NULL;
  size_t n = 0;

  s = malloc ((t->n ? t->n : 1) * sizeof *s);
  if (!s) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  for (size_t i = 0; i < t->n; i++)
    if (!t->parts[i].extended)
      s[n++] = t->parts[i];
  qsort (s, n, sizeof *s, cmp_offset);
  /* Ends were checked against the device: no overflow.  M is the
   * partition reaching furthest so far.
   */
  for (size_t i = 1, m = 0; i < n; i++) {
    if (s[i].offset < s[m].offset + s[m].size) {
      lf_error (EINVAL, "%s: %s partition table: partition %u (0x%" PRIx64
                ", %" PRIu64 " bytes) overlaps partition %u (0x%" PRIx64
                ", %" PRIu64 " bytes)", lf_bd_name (bd), t->type,
                s[i].number, s[i].offset, s[i].size, s[m].number,
                s[m].offset, s[m].size);
      return -1;
    }
    if (s[i].offset + s[i].size > s[m].offset + s[m].size)
      m = i;
  }
  /* Logical partitions lie inside an extended one. */
  for (size_t i = 0; i < t->n; i++) {
    const struct lf_partition *l = &t->parts[i];
    bool inside = false;
    if (!l->logical)
      continue;
    for (size_t j = 0; j < t->n; j++) {
      const struct lf_partition *e = &t->parts[j];
      if (e->extended && l->offset >= e->offset &&
          l->offset + l->size <= e->offset + e->size)
        inside = true;
    }
    if (!inside) {
      lf_error (EINVAL, "%s: dos partition table: logical partition %u "
                "(0x%" PRIx64 ", %" PRIu64 " bytes) is outside its extended "
                "partition", lf_bd_name (bd), l->number, l->offset, l->size);
      return -1;
    }
  }
  return 0;
}

/* Decode one libblkid partition into P, checking it against the device. */
static int
decode_partition (struct lf_blockdev *bd, const char *ttype,
                  blkid_partition par, struct lf_partition *p)
{
  blkid_loff_t start = blkid_partition_get_start (par);
  blkid_loff_t size = blkid_partition_get_size (par);
  int partno = blkid_partition_get_partno (par);
  const char *s;
  uint64_t off, len, end;

  memset (p, 0, sizeof *p);
  if (partno <= 0 || partno > LF_MAX_PARTITIONS) {
    lf_error (EINVAL, "%s: %s partition table: partition number %d is out "
              "of range (limit %d)", lf_bd_name (bd), ttype, partno,
              LF_MAX_PARTITIONS);
    return -1;
  }
  p->number = (unsigned) partno;
  /* libblkid counts 512-byte sectors whatever the device's sector size. */
  if (start < 0 || size <= 0 ||
      MUL_OVERFLOW ((uint64_t) start, (uint64_t) SECTOR, &off) ||
      MUL_OVERFLOW ((uint64_t) size, (uint64_t) SECTOR, &len) ||
      ADD_OVERFLOW (off, len, &end) || end > lf_bd_size (bd)) {
    lf_error (EINVAL, "%s: %s partition table: partition %d (start sector "
              "%lld, %lld sectors) is outside the device (%" PRIu64
              " sectors)", lf_bd_name (bd), ttype, partno, (long long) start,
              (long long) size, lf_bd_size (bd) / SECTOR);
    return -1;
  }
  p->offset = off;
  p->size = len;
  s = blkid_partition_get_type_string (par);
  if (s && *s)
    snprintf (p->type, sizeof p->type, "%s", s);
  else
    snprintf (p->type, sizeof p->type, "0x%02x",
              (unsigned) blkid_partition_get_type (par) & 0xff);
  s = blkid_partition_get_uuid (par);
  snprintf (p->uuid, sizeof p->uuid, "%s", s ? s : "");
  s = blkid_partition_get_name (par);
  snprintf (p->name, sizeof p->name, "%s", s ? s : "");
  p->extended = blkid_partition_is_extended (par) != 0;
  p->logical = blkid_partition_is_logical (par) != 0;
  if (strcmp (ttype, "dos") == 0)
    p->bootable = (blkid_partition_get_flags (par) & 0x80) != 0;
  return 0;
}

int
lf_partitions_probe (struct lf_blockdev *bd, struct lf_partition_table *ret)
{
  CLEANUP_CLOSE int fd = -1;
  blkid_probe pr = NULL;
  blkid_partlist ls;
  blkid_parttable tab;
  const char *ttype, *id;
  uint64_t offset;
  bool protective;
  unsigned others;
  int n, rv = -1;

  memset (ret, 0, sizeof *ret);
  if (read_mbr (bd, &protective, &others) == -1)
    return -1;
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
    lf_error (errno ? errno : EIO, "%s: libblkid could not use the device",
              lf_bd_name (bd));
    goto out;
  }
  blkid_probe_enable_superblocks (pr, 0);
  blkid_probe_enable_partitions (pr, 1);
  blkid_probe_set_partitions_flags (pr, BLKID_PARTS_ENTRY_DETAILS);
  errno = 0;
  ls = blkid_probe_get_partitions (pr);
  tab = ls ? blkid_partlist_get_table (ls) : NULL;
  if (!tab) {
    if (protective) {
      lf_error (EINVAL, "%s: damaged GPT: the disk has a protective MBR "
                "(type 0xee) but neither the primary nor the backup GPT "
                "header is valid", lf_bd_name (bd));
      goto out;
    }
    if (errno && errno != EINVAL && errno != ENOENT) {
      lf_error (errno, "%s: libblkid partition probe failed: %m",
                lf_bd_name (bd));
      goto out;
    }
    rv = 0;                     /* no table: a bare filesystem, or empty */
    goto out;
  }
  ttype = blkid_parttable_get_type (tab);
  snprintf (ret->type, sizeof ret->type, "%s", ttype ? ttype : "?");
  id = blkid_parttable_get_id (tab);
  if (strcmp (ret->type, "dos") == 0 && id && *id)
    snprintf (ret->id, sizeof ret->id, "0x%s", id);
  else
    snprintf (ret->id, sizeof ret->id, "%s", id ? id : "");
  if (strcmp (ret->type, "dos") != 0 && strcmp (ret->type, "gpt") != 0) {
    lf_error (ENOTSUP, "%s: %s partition tables are not supported (only "
              "MBR and GPT)", lf_bd_name (bd), ret->type);
    goto out;
  }
  ret->hybrid = strcmp (ret->type, "gpt") == 0 && protective && others > 0;
  n = blkid_partlist_numof_partitions (ls);
  if (n < 0 || n > LF_MAX_PARTITIONS) {
    lf_error (EINVAL, "%s: %s partition table: %d partitions (limit %d)",
              lf_bd_name (bd), ret->type, n, LF_MAX_PARTITIONS);
    goto out;
  }
  ret->parts = calloc (n ? (size_t) n : 1, sizeof *ret->parts);
  if (!ret->parts) {
    lf_error (ENOMEM, "out of memory");
    goto out;
  }
  for (int i = 0; i < n; i++) {
    blkid_partition par = blkid_partlist_get_partition (ls, i);
    if (!par || decode_partition (bd, ret->type, par, &ret->parts[i]) == -1) {
      if (!par)
        lf_error (EIO, "%s: libblkid lost partition %d", lf_bd_name (bd), i);
      goto out;
    }
    ret->n++;
    LF_DEBUG (1, "%s: partition %u at 0x%" PRIx64 " size %" PRIu64
              " type %s%s%s%s", lf_bd_name (bd), ret->parts[i].number,
              ret->parts[i].offset, ret->parts[i].size, ret->parts[i].type,
              ret->parts[i].bootable ? " bootable" : "",
              ret->parts[i].extended ? " extended" : "",
              ret->parts[i].logical ? " logical" : "");
  }
  if (check_overlaps (bd, ret) == -1)
    goto out;
  LF_DEBUG (1, "%s: %s table %s, %zu partitions%s", lf_bd_name (bd),
            ret->type, ret->id, ret->n, ret->hybrid ? " (hybrid MBR)" : "");
  rv = 0;

 out:
  blkid_free_probe (pr);
  if (rv == -1)
    lf_partitions_free (ret);
  return rv;
}

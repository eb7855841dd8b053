/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall convert/: VHD reader — fixed, dynamic and differencing.
 *
 * Layout (disks.md §3, §6): a fixed disk is raw data followed by a 512-byte
 * footer.  A dynamic or differencing disk starts with a copy of the footer,
 * then a 1024-byte dynamic header (cookie "cxsparse") pointing at the BAT,
 * one big-endian u32 sector number per block; each allocated block is a
 * sector bitmap followed by the block's data.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include "convert/format.h"

/* The dynamic disk header.  NB. All fields are big-endian. */
struct vhd_parent_locator {
  uint32_t platform_code;       /* 0x00 "W2ru", "W2ku", "MacX", ... */
  uint32_t data_space;          /* 0x04 sectors, or bytes (erratum) */
  uint32_t data_length;         /* 0x08 bytes */
  uint32_t reserved;            /* 0x0c */
  uint64_t data_offset;         /* 0x10 absolute file offset */
} __attribute__ ((packed));
_Static_assert (sizeof (struct vhd_parent_locator) == 24, "locator is 24 bytes");

struct vhd_dyn_header {
  char     cookie[8];           /* 0x000 "cxsparse" */
  uint64_t data_offset;         /* 0x008 unused, all ones */
  uint64_t table_offset;        /* 0x010 BAT file offset */
  uint32_t header_version;      /* 0x018 0x00010000 */
  uint32_t max_table_entries;   /* 0x01c */
  uint32_t block_size;          /* 0x020 */
  uint32_t checksum;            /* 0x024 */
  uint8_t  parent_uuid[16];     /* 0x028 */
  uint32_t parent_timestamp;    /* 0x038 */
  uint32_t reserved1;           /* 0x03c */
  uint8_t  parent_name[512];    /* 0x040 UTF-16 big-endian */
  struct vhd_parent_locator locators[8]; /* 0x240 */
  uint8_t  reserved2[256];      /* 0x300 */
} __attribute__ ((packed));
_Static_assert (sizeof (struct vhd_dyn_header) == 1024,
                "dynamic header is 1024 bytes");
_Static_assert (offsetof (struct vhd_dyn_header, locators) == 0x240,
                "parent locators at 0x240");

/* Limits: "these stop really stupid stuff and/or exploits" (hivex). */
#define VHD_MIN_BLOCK_SIZE   512u
#define VHD_MAX_BLOCK_SIZE   (256u * 1024 * 1024)
/* 32 TiB in 2 MiB blocks: 64 MiB of BAT in memory at most. */
#define VHD_MAX_BAT_ENTRIES  (UINT32_C (1) << 24)
#define VHD_MAX_LOCATOR_DATA 4096u
#define VHD_BAT_UNUSED       UINT32_C (0xffffffff)

#define PLAT_W2RU 0x57327275    /* relative Windows path, UTF-16LE */
#define PLAT_W2KU 0x57326b75    /* absolute Windows path, UTF-16LE */
#define PLAT_MACX 0x4d616358    /* file URL, UTF-8 */

struct vhd_handle {
  struct lf_file *f;
  struct lf_disk *d;
  uint32_t type;
  uint64_t data_size;           /* fixed: bytes of data before the footer */
  uint32_t block_size;
  uint32_t bitmap_size;         /* bytes, padded to a sector */
  uint32_t nr_entries;
  uint32_t *bat;                /* host order */
};

static int
vhd_probe (struct lf_file *f)
{
  uint8_t buf[LF_VHD_FOOTER_SIZE];

  if (f->size < LF_VHD_FOOTER_SIZE)
    return lf_probe_short (f, "conectix", 8, "VHD");
  if (lf_file_read (f, buf, 8, 0, "VHD footer copy") == -1)
    return -1;
  if (lf_vhd_footer_has_cookie (buf))
    return LF_MATCH;
  if (lf_file_read (f, buf, sizeof buf, f->size - sizeof buf,
                    "VHD footer") == -1)
    return -1;
  return lf_vhd_footer_has_cookie (buf) ? LF_MATCH : LF_NO_MATCH;
}

static void
vhd_close (void *hv)
{
  struct vhd_handle *h = hv;
  if (!h)
    return;
  free (h->bat);
  free (h);
}

/* Does [off, off+len) intersect [start, start+n)? */
static bool
overlaps (uint64_t off, uint64_t len, uint64_t start, uint64_t n)
{
  return off < start + n && start < off + len;
}

/* Turn a path from a locator or the header into one to try beside the
 * child: backslashes become slashes, a leading ".\" goes, and a Windows
 * absolute path ("C:\dir\parent.vhd", which cannot exist here) becomes
 * its base name.  Modifies P in place.
 */
static void
normalise_parent_path (char *p)
{
  char *s;

  for (char *q = p; *q; q++)
    if (*q == '\\')
      *q = '/';
  while (p[0] == '.' && p[1] == '/')
    memmove (p, p + 2, strlen (p + 2) + 1);
  if (p[0] && p[1] == ':' && (s = strrchr (p, '/')) != NULL)
    memmove (p, s + 1, strlen (s + 1) + 1);
}

/* Add candidate S (taking ownership) unless it is empty or a duplicate. */
static void
add_candidate (char **cands, size_t *n, char *s)
{
  normalise_parent_path (s);
  for (size_t i = 0; i < *n; i++)
    if (strcmp (cands[i], s) == 0) {
      free (s);
      return;
    }
  if (*s)
    cands[(*n)++] = s;
  else
    free (s);
}

/* Find and open the parent of a differencing disk.  Tried in order: the
 * locators in the header's order (W2ru relative, W2ku absolute, MacX),
 * then the parent name from the header, each resolved beside the child.
 * The parent's unique id must match the header's.
 */
static int
open_parent (struct vhd_handle *h, const struct vhd_dyn_header *dh)
{
  struct lf_file *f = h->f;
  char *cands[9];               /* 8 locators and the header's name */
  size_t n = 0;
  int ret = -1;
  char tried[1024] = "";

  for (int i = 0; i < 8; i++) {
    const struct vhd_parent_locator *l = &dh->locators[i];
    uint32_t code = lf_be32 (&l->platform_code);
    uint32_t len = lf_be32 (&l->data_length);
    uint64_t off = lf_be64 (&l->data_offset);
    CLEANUP_FREE uint8_t *data = NULL;
    char *s = NULL;

    if (code == 0)
      continue;
    if (code != PLAT_W2RU && code != PLAT_W2KU && code != PLAT_MACX)
      continue;
    if (len == 0 || len > VHD_MAX_LOCATOR_DATA) {
      lf_error (EINVAL, "%s: parent locator %d: data length %" PRIu32
                " is 0 or over the limit of %u", f->path, i, len,
                VHD_MAX_LOCATOR_DATA);
      goto out;
    }
    data = lf_file_read_alloc (f, len, off, VHD_MAX_LOCATOR_DATA,
                               "parent locator data");
    if (!data) {
      lf_error_prefix ("parent locator %d", i);
      goto out;
    }
    if (code == PLAT_MACX) {
      s = strndup ((char *) data, len);
      if (s && strncmp (s, "file://", 7) == 0)
        memmove (s, s + 7, strlen (s + 7) + 1);
    }
    else
      s = lf_utf16_to_utf8 (data, len, false);
    if (!s) {
      lf_error (ENOMEM, "out of memory");
      goto out;
    }
    add_candidate (cands, &n, s);
  }
  {
    char *name = lf_utf16_to_utf8 (dh->parent_name, sizeof dh->parent_name,
                                   true);
    if (!name)
      goto out;
    add_candidate (cands, &n, name);
  }

  for (size_t i = 0; i < n; i++) {
    struct lf_disk *p = lf_disk_open_backing (h->d, cands[i], NULL,
                                              "parent locator");
    if (!p && lf_last_errno () == ENOENT) {
      size_t t = strlen (tried);
      snprintf (tried + t, sizeof tried - t, "%s%s", t ? ", " : "", cands[i]);
      continue;
    }
    if (!p)
      goto out;
    const char *path = p->file->path;
    if (strcmp (lf_disk_format (p), "vhd") != 0) {
      lf_error (EINVAL, "%s: parent %s is %s, not a VHD", f->path, path,
                lf_disk_format (p));
      lf_disk_close (p);
      goto out;
    }
    /* The parent's footer unique id must be the one the child recorded:
     * a different disk of the same name would silently corrupt the data.
     */
    struct vhd_handle *ph = p->h;
    uint8_t pf[LF_VHD_FOOTER_SIZE];
    uint64_t where = ph->type == VHD_TYPE_FIXED ? p->file->size - sizeof pf : 0;
    struct lf_vhd_footer_info pinfo;
    if (lf_file_read (p->file, pf, sizeof pf, where, "VHD footer") == -1 ||
        lf_vhd_footer_decode (pf, p->file->path, "footer", &pinfo) == -1) {
      lf_disk_close (p);
      goto out;
    }
    if (memcmp (pinfo.uuid, dh->parent_uuid, 16) != 0 && !lf_fuzzing) {
      lf_error (EINVAL, "%s: parent %s has a different unique id than the "
                "differencing header records (the parent was replaced or "
                "modified)", f->path, path);
      lf_disk_close (p);
      goto out;
    }
    h->d->backing = p;
    ret = 0;
    goto out;
  }
  lf_error (ENOENT, "%s: parent of differencing disk not found (tried: %s)",
            f->path, tried[0] ? tried : "no usable parent locator");

 out:
  for (size_t i = 0; i < n; i++)
    free (cands[i]);
  return ret;
}

static int
open_dynamic (struct vhd_handle *h, const struct lf_vhd_footer_info *fi)
{
  struct lf_file *f = h->f;
  struct vhd_dyn_header dh;
  uint64_t table_offset, bat_bytes, needed, data_end;
  uint32_t stored, computed;

  if (lf_file_read (f, &dh, sizeof dh, fi->data_offset,
                    "dynamic disk header") == -1)
    return -1;
  if (memcmp (dh.cookie, "cxsparse", 8) != 0) {
    lf_error (EINVAL, "%s: dynamic disk header at 0x%" PRIx64 ": cookie is "
              "not \"cxsparse\"", f->path, fi->data_offset);
    return -1;
  }
  stored = lf_be32 (&dh.checksum);
  computed = lf_vhd_checksum ((const uint8_t *) &dh, sizeof dh,
                              offsetof (struct vhd_dyn_header, checksum));
  if (stored != computed && !lf_fuzzing) {
    lf_error (EINVAL, "%s: dynamic disk header: checksum 0x%08" PRIx32
              " does not match the computed 0x%08" PRIx32, f->path, stored,
              computed);
    return -1;
  }
  table_offset = lf_be64 (&dh.table_offset);
  h->nr_entries = lf_be32 (&dh.max_table_entries);
  h->block_size = lf_be32 (&dh.block_size);
  LF_DEBUG (2, "%s: dynamic header: BAT at 0x%" PRIx64 ", %" PRIu32
            " entries, block size %" PRIu32, f->path, table_offset,
            h->nr_entries, h->block_size);

  /* Sanity checks, before anything below uses these fields. */
  if (h->block_size < VHD_MIN_BLOCK_SIZE || h->block_size > VHD_MAX_BLOCK_SIZE ||
      !lf_is_power_of_2 (h->block_size)) {
    lf_error (EINVAL, "%s: dynamic disk header: block size %" PRIu32 " is not "
              "a power of 2 between %u and %u", f->path, h->block_size,
              VHD_MIN_BLOCK_SIZE, VHD_MAX_BLOCK_SIZE);
    return -1;
  }
  if (h->nr_entries > VHD_MAX_BAT_ENTRIES) {
    lf_error (EINVAL, "%s: dynamic disk header: %" PRIu32 " BAT entries is "
              "over the limit of %" PRIu32, f->path, h->nr_entries,
              VHD_MAX_BAT_ENTRIES);
    return -1;
  }
  needed = LF_DIV_ROUND_UP (h->d->size, h->block_size);
  if (h->nr_entries < needed) {
    lf_error (EINVAL, "%s: dynamic disk header: %" PRIu32 " BAT entries "
              "cannot cover the virtual size %" PRIu64 " (%" PRIu64 " needed)",
              f->path, h->nr_entries, h->d->size, needed);
    return -1;
  }
  bat_bytes = (uint64_t) h->nr_entries * 4;
  if (table_offset % 512 ||
      overlaps (table_offset, bat_bytes, 0, fi->data_offset + sizeof dh) ||
      !lf_file_contains (f, table_offset, bat_bytes)) {
    lf_error (EINVAL, "%s: BAT at 0x%" PRIx64 " (%" PRIu64 " bytes) is "
              "misaligned, overlaps the headers or is beyond end of file "
              "(0x%" PRIx64 ")", f->path, table_offset, bat_bytes, f->size);
    return -1;
  }
  /* One bit per sector, padded to a whole sector. */
  h->bitmap_size = (uint32_t) LF_DIV_ROUND_UP (h->block_size / 512 / 8, 512) * 512;

  h->bat = lf_file_read_alloc (f, bat_bytes, table_offset,
                               (uint64_t) VHD_MAX_BAT_ENTRIES * 4, "BAT");
  if (!h->bat)
    return -1;
  /* Every allocated block must lie in the file, clear of the headers,
   * the BAT and the footer, so reads never need to check again.
   */
  data_end = f->size - LF_VHD_FOOTER_SIZE;
  for (uint32_t i = 0; i < h->nr_entries; i++) {
    uint32_t e = lf_be32 (&h->bat[i]);
    uint64_t off = (uint64_t) e * 512;
    uint64_t len = (uint64_t) h->bitmap_size + h->block_size;

    h->bat[i] = e;
    if (e == VHD_BAT_UNUSED)
      continue;
    if (overlaps (off, len, 0, fi->data_offset + sizeof dh) ||
        overlaps (off, len, table_offset, bat_bytes)) {
      lf_error (EINVAL, "%s: BAT entry %" PRIu32 ": block at 0x%" PRIx64
                " overlaps the headers or the BAT", f->path, i, off);
      return -1;
    }
    if (off + len > data_end) {
      lf_error (EINVAL, "%s: BAT entry %" PRIu32 ": block at 0x%" PRIx64
                " (%" PRIu64 " bytes) is beyond end of file (0x%" PRIx64 ")",
                f->path, i, off, len, f->size);
      return -1;
    }
  }
  if (h->type == VHD_TYPE_DIFFERENCING)
    return open_parent (h, &dh);
  return 0;
}

static void *
vhd_open (struct lf_file *f, struct lf_disk *d)
{
  struct vhd_handle *h = calloc (1, sizeof *h);
  uint8_t buf[LF_VHD_FOOTER_SIZE];
  struct lf_vhd_footer_info fi;

  if (!h) {
    lf_error (errno, "out of memory");
    return NULL;
  }
  h->f = f;
  h->d = d;
  if (f->size < LF_VHD_FOOTER_SIZE) {
    lf_error (EINVAL, "%s: file of %" PRIu64 " bytes is too short for a VHD "
              "footer", f->path, f->size);
    goto error;
  }
  /* A dynamic disk has a copy of the footer at 0: prefer the copy at the
   * end, which is written last, and fall back to the copy (a disk cut off
   * by a failed copy still has its head).
   */
  if (lf_file_read (f, buf, sizeof buf, f->size - sizeof buf,
                    "VHD footer") == -1)
    goto error;
  if (lf_vhd_footer_decode (buf, f->path, "footer at end of file", &fi) == -1) {
    struct lf_error_record first;
    lf_error_save (&first);
    if (lf_file_read (f, buf, sizeof buf, 0, "VHD footer copy") == -1 ||
        !lf_vhd_footer_has_cookie (buf) ||
        lf_vhd_footer_decode (buf, f->path, "footer copy at 0", &fi) == -1 ||
        fi.disk_type == VHD_TYPE_FIXED) {
      lf_error_restore (&first);
      goto error;
    }
  }
  h->type = fi.disk_type;
  d->size = lf_vhd_footer_virtual_size (&fi);

  switch (h->type) {
  case VHD_TYPE_FIXED:
    h->data_size = f->size - LF_VHD_FOOTER_SIZE;
    if (d->size > h->data_size) {
      lf_error (EINVAL, "%s: fixed VHD: virtual size %" PRIu64 " is larger "
                "than the %" PRIu64 " bytes of data in the file (truncated?)",
                f->path, d->size, h->data_size);
      goto error;
    }
    snprintf (d->subformat, sizeof d->subformat, "fixed");
    break;
  case VHD_TYPE_DYNAMIC:
  case VHD_TYPE_DIFFERENCING:
    snprintf (d->subformat, sizeof d->subformat, "%s",
              h->type == VHD_TYPE_DYNAMIC ? "dynamic" : "differencing");
    if (open_dynamic (h, &fi) == -1)
      goto error;
    break;
  }
  return h;

 error:
  vhd_close (h);
  return NULL;
}

/* Is sector S of the block whose bitmap is BM present in this file? */
static bool
bitmap_bit (const uint8_t *bm, uint64_t s)
{
  return bm[s / 8] & (0x80 >> (s % 8));
}

/* For a differencing block: read the bitmap. */
static int
read_bitmap (struct vhd_handle *h, uint32_t e, uint8_t *bm)
{
  return lf_file_read (h->f, bm, h->bitmap_size, (uint64_t) e * 512,
                       "sector bitmap");
}

static int
vhd_pread (void *hv, void *buf, size_t count, uint64_t offset)
{
  struct vhd_handle *h = hv;
  char *p = buf;

  if (h->type == VHD_TYPE_FIXED)
    return lf_file_read (h->f, buf, count, offset, "data");

  while (count > 0) {
    uint64_t blk = offset / h->block_size;
    uint32_t in = (uint32_t) (offset % h->block_size);
    size_t n = LF_MIN (count, (size_t) (h->block_size - in));
    uint32_t e = h->bat[blk];
    uint64_t base = (uint64_t) e * 512 + h->bitmap_size;

    if (e == VHD_BAT_UNUSED) {
      if (h->d->backing) {
        if (lf_disk_pread_padded (h->d->backing, p, n, offset) == -1)
          return -1;
      }
      else
        memset (p, 0, n);
    }
    else if (h->type == VHD_TYPE_DYNAMIC) {
      /* qemu and Hyper-V read an allocated block whole, ignoring the
       * bitmap; so do we, to give the same content.
       */
      if (lf_file_read (h->f, p, n, base + in, "data block") == -1)
        return -1;
    }
    else {
      /* Differencing: runs of sectors, from this file or the parent. */
      CLEANUP_FREE uint8_t *bm = malloc (h->bitmap_size);
      if (!bm) {
        lf_error (errno, "out of memory");
        return -1;
      }
      if (read_bitmap (h, e, bm) == -1)
        return -1;
      size_t done = 0;
      while (done < n) {
        uint64_t s = (in + done) / 512;
        bool here = bitmap_bit (bm, s);
        size_t run = 512 - (in + done) % 512;
        while (done + run < n && bitmap_bit (bm, (in + done + run) / 512) == here)
          run += 512;
        run = LF_MIN (run, n - done);
        if (here) {
          if (lf_file_read (h->f, p + done, run, base + in + done,
                            "data block") == -1)
            return -1;
        }
        else if (lf_disk_pread_padded (h->d->backing, p + done, run,
                                       offset + done) == -1)
          return -1;
        done += run;
      }
    }
    p += n;
    offset += n;
    count -= n;
  }
  return 0;
}

static int
vhd_extent (void *hv, uint64_t offset, uint64_t *len, unsigned *type)
{
  struct vhd_handle *h = hv;
  uint64_t blk, in, n;
  uint32_t e;

  if (h->type == VHD_TYPE_FIXED)
    return lf_file_extent (h->f, offset, len, type);

  blk = offset / h->block_size;
  in = offset % h->block_size;
  n = LF_MIN (*len, h->block_size - in);
  e = h->bat[blk];
  if (e == VHD_BAT_UNUSED) {
    *len = n;
    if (!h->d->backing) {
      *type = LF_EXTENT_ZERO;
      return 0;
    }
    return lf_disk_extent_padded (h->d->backing, offset, len, type);
  }
  if (h->type == VHD_TYPE_DYNAMIC) {
    *len = n;
    *type = LF_EXTENT_DATA;
    return 0;
  }
  /* Differencing: the run of sectors with the same bitmap bit. */
  CLEANUP_FREE uint8_t *bm = malloc (h->bitmap_size);
  if (!bm) {
    lf_error (errno, "out of memory");
    return -1;
  }
  if (read_bitmap (h, e, bm) == -1)
    return -1;
  bool here = bitmap_bit (bm, in / 512);
  uint64_t run = 512 - in % 512;
  while (run < n && bitmap_bit (bm, (in + run) / 512) == here)
    run += 512;
  *len = LF_MIN (run, n);
  if (here) {
    *type = LF_EXTENT_DATA;
    return 0;
  }
  return lf_disk_extent_padded (h->d->backing, offset, len, type);
}

const struct lf_format vhd_format = {
  .name    = "vhd",
  .probe   = vhd_probe,
  .open    = vhd_open,
  .pread   = vhd_pread,
  .extent  = vhd_extent,
  .close   = vhd_close,
};

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall convert/: VMDK (VMware virtual disk) reader.
 *
 * Layouts read here (VMware "Virtual Disk Format 5.0"):
 *
 *  - a hosted sparse extent ("KDMV" magic): monolithicSparse, one extent of
 *    twoGbMaxExtentSparse, and streamOptimized (deflate-compressed grains,
 *    each behind a 12-byte grain marker, with the grain directory and a
 *    copy of the header in a footer at the end of the file);
 *  - an ESX sparse extent ("COWD" magic, vmfsSparse redo logs);
 *  - a text descriptor ("# Disk DescriptorFile") naming FLAT, VMFS,
 *    SPARSE, VMFSSPARSE and ZERO extents in files beside it
 *    (monolithicFlat, twoGbMaxExtentFlat/Sparse, vmfs, vmfsThin, ...).
 *
 * A sparse extent maps a grain (the allocation unit) through two levels:
 * the grain directory (GD, held in memory, every entry checked at open)
 * points to grain tables (GT, read per request, never cached, so readers
 * share nothing mutable), whose entries (GTE) give the grain's sector in
 * the file.  GTE 0 is unallocated (zeros, or the parent's data in a delta
 * link), GTE 1 a grain of zeros.
 *
 * pread is reentrant: each call carries its own scratch (GT, compressed
 * buffer, inflate stream), so conversion workers read in parallel.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libdeflate.h>

#include "convert/format.h"

/* Named limits: every table, count and size a header or descriptor claims
 * is checked against one of these before it is used.
 */
#define VMDK_SECTOR               UINT64_C (512)
/* A descriptor (embedded or a file) is a few hundred bytes in practice. */
#define VMDK_MAX_DESCRIPTOR       (1 * LF_MiB)
/* 32 TiB (Azure's largest disk) in 2 GiB extents. */
#define VMDK_MAX_EXTENTS          16384
/* Grains of 1 MiB; VMware and qemu write 64 KiB, ESX redo logs 512 B. */
#define VMDK_MAX_GRAIN_SECTORS    UINT64_C (2048)
/* qemu refuses more; VMware always writes 512. */
#define VMDK_MAX_GTES_PER_GT      512
/* Fixed by the ESX sparse (COWD) format. */
#define VMDK3_GTES_PER_GT         4096
/* 16 MiB of grain directory: 128 TiB with 64 KiB grains. */
#define VMDK_MAX_GD_ENTRIES       (UINT64_C (4) * 1024 * 1024)
/* Twice VMware's 62 TiB maximum. */
#define VMDK_MAX_CAPACITY         (128 * LF_TiB)
/* A compressed grain may not be larger than two grains (as qemu). */
#define VMDK_MAX_COMPRESSED(grain) (2 * (grain))
/* Longest extent file name or parent hint accepted. */
#define VMDK_MAX_NAME             4096

#define VMDK4_MAGIC               "KDMV"
#define VMDK3_MAGIC               "COWD"
#define VMDK4_FLAG_NL_DETECT      (UINT32_C (1) << 0)
#define VMDK4_FLAG_RGD            (UINT32_C (1) << 1)
#define VMDK4_FLAG_ZERO_GRAIN     (UINT32_C (1) << 2)
#define VMDK4_FLAG_COMPRESS       (UINT32_C (1) << 16)
#define VMDK4_FLAG_MARKER         (UINT32_C (1) << 17)
#define VMDK4_COMPRESS_NONE       0
#define VMDK4_COMPRESS_DEFLATE    1
#define VMDK4_GD_AT_END           UINT64_C (0xffffffffffffffff)
#define VMDK_GTE_ZERO             1

#define VMDK_MARKER_EOS           0
#define VMDK_MARKER_GT            1
#define VMDK_MARKER_GD            2
#define VMDK_MARKER_FOOTER        3

/* The hosted sparse extent header.  NB. All fields are little-endian. */
struct vmdk4_header {
  char     magic[4];            /* 0x00 "KDMV" */
  uint32_t version;             /* 0x04 1, 2 or 3 */
  uint32_t flags;               /* 0x08 VMDK4_FLAG_* */
  uint64_t capacity;            /* 0x0c sectors */
  uint64_t grain_size;          /* 0x14 sectors */
  uint64_t desc_offset;         /* 0x1c sectors, 0: no embedded descriptor */
  uint64_t desc_size;           /* 0x24 sectors */
  uint32_t num_gtes_per_gt;     /* 0x2c 512 */
  uint64_t rgd_offset;          /* 0x30 sectors, redundant GD (ignored) */
  uint64_t gd_offset;           /* 0x38 sectors, or VMDK4_GD_AT_END */
  uint64_t overhead;            /* 0x40 sectors before the first grain */
  uint8_t  unclean_shutdown;    /* 0x48 */
  char     single_end_line;     /* 0x49 '\n' */
  char     non_end_line;        /* 0x4a ' ' */
  char     double_end_line[2];  /* 0x4b "\r\n" */
  uint16_t compress_algorithm;  /* 0x4d VMDK4_COMPRESS_* */
  uint8_t  pad[433];            /* 0x4f */
} __attribute__ ((packed));
_Static_assert (sizeof (struct vmdk4_header) == 512,
                "VMDK sparse header is 512 bytes");

/* The ESX sparse (COWD) header, the part we read.  NB. Little-endian. */
struct vmdk3_header {
  char     magic[4];            /* 0x00 "COWD" */
  uint32_t version;             /* 0x04 1 */
  uint32_t flags;               /* 0x08 */
  uint32_t capacity;            /* 0x0c sectors */
  uint32_t grain_size;          /* 0x10 sectors */
  uint32_t gd_offset;           /* 0x14 sectors */
  uint32_t gd_entries;          /* 0x18 */
  uint32_t next_free_sector;    /* 0x1c */
} __attribute__ ((packed));
_Static_assert (sizeof (struct vmdk3_header) == 32,
                "VMDK COWD header fields are 32 bytes");

/* A grain marker (streamOptimized) precedes each compressed grain; with
 * size 0 it is a metadata marker and TYPE follows.  NB. Little-endian.
 */
struct vmdk_marker {
  uint64_t lba;                 /* 0x00 sector of the grain, or count */
  uint32_t size;                /* 0x08 compressed bytes that follow */
  uint32_t type;                /* 0x0c VMDK_MARKER_*, when size is 0 */
} __attribute__ ((packed));
_Static_assert (sizeof (struct vmdk_marker) == 16, "VMDK marker is 16 bytes");
#define VMDK_GRAIN_MARKER_SIZE 12   /* lba + size, then the data */

/* The streamOptimized footer: the last three sectors of the file. */
struct vmdk_footer {
  struct vmdk_marker footer_marker;   /* 0x000 type FOOTER */
  uint8_t pad1[496];
  struct vmdk4_header header;         /* 0x200 */
  struct vmdk_marker eos_marker;      /* 0x400 type EOS */
  uint8_t pad2[496];
} __attribute__ ((packed));
_Static_assert (sizeof (struct vmdk_footer) == 1536,
                "VMDK stream footer is three sectors");

enum vmdk_kind { VMDK_EXT_FLAT, VMDK_EXT_ZERO, VMDK_EXT_SPARSE };

/* One extent, decoded into host order and checked. */
struct vmdk_extent {
  enum vmdk_kind kind;
  uint64_t start;               /* bytes, in the virtual disk */
  uint64_t length;              /* bytes */
  struct lf_file *file;         /* NULL for ZERO */
  bool own_file;                /* false when it is the disk's own file */
  uint64_t flat_offset;         /* FLAT: bytes into the file */

  /* SPARSE (hosted or COWD). */
  uint64_t capacity;            /* bytes the sparse header covers */
  uint64_t grain_size;          /* bytes */
  uint32_t gtes_per_gt;
  uint64_t gd_entries;
  uint32_t *gd;                 /* host order, each entry checked */
  bool compressed;              /* deflate grains */
  bool markers;                 /* grain markers before compressed grains */
  bool zero_gte;                /* GTE 1 means a grain of zeros */
};

struct vmdk {
  struct lf_disk *d;
  struct lf_file *file;         /* the disk's file: descriptor or sparse */
  struct vmdk_extent *ext;
  size_t nr_ext, ext_cap;
  uint64_t max_grain;           /* largest grain, for scratch buffers */
  bool has_cid;
  uint32_t cid;
};

/* What a descriptor says, parsed from text. */
struct vmdk_desc_extent {
  enum vmdk_kind kind;
  bool cowd_allowed;            /* VMFSSPARSE or SPARSE */
  uint64_t sectors;
  uint64_t offset;              /* FLAT: sectors into the file */
  char *name;
  unsigned line;
};

struct vmdk_desc {
  char create_type[64];
  bool has_cid, has_parent_cid;
  uint32_t cid, parent_cid;
  char *parent_hint;
  struct vmdk_desc_extent *ext;
  size_t nr_ext, ext_cap;
};

static void
desc_free (struct vmdk_desc *dd)
{
  free (dd->parent_hint);
  for (size_t i = 0; i < dd->nr_ext; i++)
    free (dd->ext[i].name);
  free (dd->ext);
  memset (dd, 0, sizeof *dd);
}

/* ---- Probe ----------------------------------------------------------- */

/* A text descriptor, as qemu and VMware recognise one: the line
 * "# Disk DescriptorFile", or blank and comment lines and then "version=".
 */
static bool
looks_like_descriptor (const char *p, size_t len)
{
  const char *end = p + len;
  static const char sig[] = "# Disk DescriptorFile";

  if (len >= sizeof sig - 1 && strncasecmp (p, sig, sizeof sig - 1) == 0)
    return true;
  while (p < end) {
    if (*p == '#') {
      while (p < end && *p != '\n')
        p++;
      p++;
      continue;
    }
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
      p++;
    if (p < end && *p == '\n') {
      p++;
      continue;
    }
    return (size_t) (end - p) >= 9 && strncmp (p, "version=", 8) == 0 &&
      p[8] >= '1' && p[8] <= '3';
  }
  return false;
}

static int
vmdk_probe (struct lf_file *f)
{
  char buf[1024];
  size_t n = (size_t) LF_MIN (f->size, (uint64_t) sizeof buf);

  if (n < 4)
    return LF_NO_MATCH;
  /* A sparse extent starts with a one-sector header; a descriptor (text)
   * may well be shorter.
   */
  if (f->size < LF_PROBE_MIN_SIZE &&
      (lf_probe_short (f, VMDK4_MAGIC, 4, "VMDK") == -1 ||
       lf_probe_short (f, VMDK3_MAGIC, 4, "VMDK") == -1))
    return -1;
  if (lf_file_read (f, buf, n, 0, "VMDK probe") == -1)
    return -1;
  if (memcmp (buf, VMDK4_MAGIC, 4) == 0 || memcmp (buf, VMDK3_MAGIC, 4) == 0)
    return LF_MATCH;
  if (f->size <= VMDK_MAX_DESCRIPTOR && looks_like_descriptor (buf, n))
    return LF_MATCH;
  return LF_NO_MATCH;
}

/* ---- Descriptor ------------------------------------------------------ */

static bool
is_blank (char c)
{
  return c == ' ' || c == '\t';
}

/* Parse an unsigned decimal number at *P; false if none or it overflows. */
static bool
parse_u64 (const char **pp, uint64_t *ret)
{
  const char *p = *pp;
  uint64_t v = 0;

  if (*p < '0' || *p > '9')
    return false;
  while (*p >= '0' && *p <= '9') {
    if (MUL_OVERFLOW (v, UINT64_C (10), &v) ||
        ADD_OVERFLOW (v, (uint64_t) (*p - '0'), &v))
      return false;
    p++;
  }
  *pp = p;
  *ret = v;
  return true;
}

/* The value of "key = value" or key="value", quotes removed, into BUF. */
static bool
get_value (const char *p, char *buf, size_t buflen)
{
  size_t n;

  while (is_blank (*p))
    p++;
  if (*p == '"') {
    const char *q = strchr (p + 1, '"');
    if (!q)
      return false;
    p++;
    n = (size_t) (q - p);
  }
  else {
    n = strlen (p);
    while (n > 0 && is_blank (p[n - 1]))
      n--;
  }
  if (n >= buflen)
    return false;
  memcpy (buf, p, n);
  buf[n] = '\0';
  return true;
}

static bool
parse_hex32 (const char *s, uint32_t *ret)
{
  uint64_t v = 0;
  size_t i;

  for (i = 0; s[i]; i++) {
    int c = s[i], x;
    if (c >= '0' && c <= '9') x = c - '0';
    else if (c >= 'a' && c <= 'f') x = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') x = c - 'A' + 10;
    else return false;
    v = v * 16 + (uint64_t) x;
    if (v > UINT32_MAX)
      return false;
  }
  if (i == 0)
    return false;
  *ret = (uint32_t) v;
  return true;
}

/* One extent line: ACCESS SECTORS TYPE ["NAME" [OFFSET]].  LINE is
 * NUL-terminated without its end of line.
 */
static int
parse_extent_line (const char *path, unsigned lineno, const char *line,
                   struct vmdk_desc *dd)
{
  const char *p = line, *name_start = NULL;
  char type[16];
  size_t n, name_len = 0;
  struct vmdk_desc_extent e = { .line = lineno };
  bool has_offset = false;

  /* The access word was matched by the caller. */
  while (*p && !is_blank (*p))
    p++;
  while (is_blank (*p))
    p++;
  if (!parse_u64 (&p, &e.sectors))
    goto malformed;
  while (is_blank (*p))
    p++;
  for (n = 0; p[n] && !is_blank (p[n]); n++)
    ;
  if (n == 0 || n >= sizeof type)
    goto malformed;
  memcpy (type, p, n);
  type[n] = '\0';
  p += n;
  while (is_blank (*p))
    p++;
  if (*p == '"') {
    const char *q = strchr (p + 1, '"');
    if (!q)
      goto malformed;
    name_start = p + 1;
    name_len = (size_t) (q - name_start);
    p = q + 1;
    while (is_blank (*p))
      p++;
    if (*p) {
      if (!parse_u64 (&p, &e.offset))
        goto malformed;
      has_offset = true;
      while (is_blank (*p))
        p++;
    }
  }
  if (*p)
    goto malformed;

  if (strcmp (type, "FLAT") == 0 || strcmp (type, "VMFS") == 0)
    e.kind = VMDK_EXT_FLAT;
  else if (strcmp (type, "SPARSE") == 0 || strcmp (type, "VMFSSPARSE") == 0)
    e.kind = VMDK_EXT_SPARSE;
  else if (strcmp (type, "ZERO") == 0)
    e.kind = VMDK_EXT_ZERO;
  else {
    lf_error (ENOTSUP, "%s: descriptor line %u: extent type '%s' is not "
              "supported (raw device mappings and seSparse cannot be "
              "converted)", path, lineno, type);
    return -1;
  }
  if (e.kind == VMDK_EXT_ZERO ? name_start != NULL : name_start == NULL)
    goto malformed;
  if (e.kind != VMDK_EXT_FLAT && has_offset)
    goto malformed;
  if (e.sectors == 0) {
    lf_error (EINVAL, "%s: descriptor line %u: extent of 0 sectors",
              path, lineno);
    return -1;
  }

  if (name_start) {
    if (name_len == 0 || name_len > VMDK_MAX_NAME) {
      lf_error (EINVAL, "%s: descriptor line %u: extent file name of %zu "
                "bytes (the limit is %d)", path, lineno, name_len,
                VMDK_MAX_NAME);
      return -1;
    }
    e.name = strndup (name_start, name_len);
    if (!e.name) {
      lf_error (errno, "out of memory");
      return -1;
    }
    /* Extent files live beside the descriptor: lf_file_open_named
     * refuses, when the extent is opened, a name that leads (by "..", an
     * absolute path or a symlink) out of that directory.
     */
  }

  if (dd->nr_ext >= VMDK_MAX_EXTENTS) {
    lf_error (EINVAL, "%s: descriptor has more than %d extents", path,
              VMDK_MAX_EXTENTS);
    free (e.name);
    return -1;
  }
  if (lf_grow (&dd->ext, &dd->ext_cap, dd->nr_ext + 1,
               sizeof *dd->ext) == -1) {
    free (e.name);
    return -1;
  }
  dd->ext[dd->nr_ext++] = e;
  return 0;

 malformed:
  lf_error (EINVAL, "%s: descriptor line %u: malformed extent line: %.80s",
            path, lineno, line);
  return -1;
}

/* Parse the descriptor TEXT (LEN bytes, NUL bytes end it early). */
static int
parse_descriptor (const char *path, const char *text, size_t len,
                  struct vmdk_desc *dd)
{
  CLEANUP_FREE char *copy = NULL;
  char *p, *end;
  unsigned lineno = 0;

  copy = malloc (len + 1);
  if (!copy) {
    lf_error (errno, "out of memory");
    return -1;
  }
  memcpy (copy, text, len);
  copy[len] = '\0';
  end = copy + strlen (copy);   /* an embedded descriptor is NUL padded */

  for (p = copy; p < end; ) {
    char *nl = memchr (p, '\n', (size_t) (end - p));
    char *line = p, *eol = nl ? nl : end;
    char value[VMDK_MAX_NAME + 1];

    p = nl ? nl + 1 : end;
    lineno++;
    *eol = '\0';
    if (eol > line && eol[-1] == '\r')
      eol[-1] = '\0';
    while (is_blank (*line))
      line++;
    if (*line == '\0' || *line == '#')
      continue;

    if (strncmp (line, "RW", 2) == 0 || strncmp (line, "RDONLY", 6) == 0 ||
        strncmp (line, "NOACCESS", 8) == 0) {
      size_t w = strcspn (line, " \t");
      if ((w == 2 && strncmp (line, "RW", 2) == 0) ||
          (w == 6 && strncmp (line, "RDONLY", 6) == 0)) {
        if (parse_extent_line (path, lineno, line, dd) == -1)
          return -1;
        continue;
      }
      if (w == 8 && strncmp (line, "NOACCESS", 8) == 0) {
        lf_error (ENOTSUP, "%s: descriptor line %u: a NOACCESS extent "
                  "cannot be read", path, lineno);
        return -1;
      }
    }

    /* key = value */
    char *eq = strchr (line, '=');
    if (!eq)
      continue;                 /* VMware ignores what it does not know */
    char *k = line, *ke = eq;
    while (ke > k && is_blank (ke[-1]))
      ke--;
    *ke = '\0';
    if (!get_value (eq + 1, value, sizeof value)) {
      if (strcmp (k, "parentFileNameHint") == 0 ||
          strcmp (k, "createType") == 0) {
        lf_error (EINVAL, "%s: descriptor line %u: bad value for %s",
                  path, lineno, k);
        return -1;
      }
      continue;
    }
    if (strcmp (k, "createType") == 0) {
      if (strlen (value) >= sizeof dd->create_type) {
        lf_error (EINVAL, "%s: descriptor line %u: createType is too long",
                  path, lineno);
        return -1;
      }
      strcpy (dd->create_type, value);
    }
    else if (strcmp (k, "CID") == 0) {
      if (!parse_hex32 (value, &dd->cid)) {
        lf_error (EINVAL, "%s: descriptor line %u: CID '%.20s' is not a "
                  "32-bit hex number", path, lineno, value);
        return -1;
      }
      dd->has_cid = true;
    }
    else if (strcmp (k, "parentCID") == 0) {
      if (!parse_hex32 (value, &dd->parent_cid)) {
        lf_error (EINVAL, "%s: descriptor line %u: parentCID '%.20s' is not "
                  "a 32-bit hex number", path, lineno, value);
        return -1;
      }
      dd->has_parent_cid = true;
    }
    else if (strcmp (k, "parentFileNameHint") == 0) {
      if (value[0] == '\0') {
        lf_error (EINVAL, "%s: descriptor line %u: empty parentFileNameHint",
                  path, lineno);
        return -1;
      }
      free (dd->parent_hint);
      dd->parent_hint = strdup (value);
      if (!dd->parent_hint) {
        lf_error (errno, "out of memory");
        return -1;
      }
    }
  }
  return 0;
}

/* ---- Sparse extents -------------------------------------------------- */

/* The fields of a hosted sparse header, in host order. */
struct vmdk4_info {
  uint32_t version, flags, gtes_per_gt;
  uint64_t capacity, grain_size, desc_offset, desc_size, gd_offset, overhead;
  uint16_t compress_algorithm;
  bool nl_ok;
};

static void
vmdk4_decode (const struct vmdk4_header *h, struct vmdk4_info *ret)
{
  ret->version = lf_le32 (&h->version);
  ret->flags = lf_le32 (&h->flags);
  ret->capacity = lf_le64 (&h->capacity);
  ret->grain_size = lf_le64 (&h->grain_size);
  ret->desc_offset = lf_le64 (&h->desc_offset);
  ret->desc_size = lf_le64 (&h->desc_size);
  ret->gtes_per_gt = lf_le32 (&h->num_gtes_per_gt);
  ret->gd_offset = lf_le64 (&h->gd_offset);
  ret->overhead = lf_le64 (&h->overhead);
  ret->compress_algorithm = lf_le16 (&h->compress_algorithm);
  ret->nl_ok = h->single_end_line == '\n' && h->non_end_line == ' ' &&
    h->double_end_line[0] == '\r' && h->double_end_line[1] == '\n';
  LF_DEBUG (2, "version %" PRIu32 " flags 0x%" PRIx32 " capacity %" PRIu64
            " grain %" PRIu64 " desc %" PRIu64 "+%" PRIu64 " gtes %" PRIu32
            " gd 0x%" PRIx64 " overhead %" PRIu64 " compress %u",
            ret->version, ret->flags, ret->capacity, ret->grain_size,
            ret->desc_offset, ret->desc_size, ret->gtes_per_gt,
            ret->gd_offset, ret->overhead, ret->compress_algorithm);
}

/* A streamOptimized file written as a stream has its grain directory
 * offset only in the footer: the header, a footer marker, and an
 * end-of-stream marker in the last three sectors.
 */
static int
read_footer (struct lf_file *f, struct vmdk4_info *info)
{
  struct vmdk_footer ft;
  uint64_t off;

  if (f->size < sizeof ft + VMDK_SECTOR) {
    lf_error (EINVAL, "%s: streamOptimized footer: file of %" PRIu64 " bytes "
              "is too short to hold one (truncated stream?)", f->path,
              f->size);
    return -1;
  }
  off = f->size - sizeof ft;
  if (lf_file_read (f, &ft, sizeof ft, off, "streamOptimized footer") == -1)
    return -1;
  if (lf_le32 (&ft.footer_marker.size) != 0 ||
      lf_le32 (&ft.footer_marker.type) != VMDK_MARKER_FOOTER ||
      memcmp (ft.header.magic, VMDK4_MAGIC, 4) != 0 ||
      lf_le64 (&ft.eos_marker.lba) != 0 ||
      lf_le32 (&ft.eos_marker.size) != 0 ||
      lf_le32 (&ft.eos_marker.type) != VMDK_MARKER_EOS) {
    lf_error (EINVAL, "%s: streamOptimized footer: no footer and "
              "end-of-stream marker at 0x%" PRIx64 ": the stream is "
              "truncated or was never completed", f->path, off);
    return -1;
  }
  vmdk4_decode (&ft.header, info);
  if (info->gd_offset == VMDK4_GD_AT_END) {
    lf_error (EINVAL, "%s: streamOptimized footer at 0x%" PRIx64 ": grain "
              "directory offset is still 'at end'", f->path, off);
    return -1;
  }
  return 0;
}

/* Read and check the grain directory of E (fields set by the caller).
 * GD_OFF is in bytes.
 */
static int
load_gd (struct vmdk_extent *e, uint64_t gd_off)
{
  struct lf_file *f = e->file;
  uint64_t gd_bytes, gt_bytes = (uint64_t) e->gtes_per_gt * 4;
  uint8_t *raw;

  if (e->gd_entries > VMDK_MAX_GD_ENTRIES) {
    lf_error (EFBIG, "%s: grain directory of %" PRIu64 " entries is larger "
              "than the limit of %" PRIu64, f->path, e->gd_entries,
              VMDK_MAX_GD_ENTRIES);
    return -1;
  }
  if (e->gd_entries == 0)
    return 0;
  gd_bytes = e->gd_entries * 4;
  if (gd_off < VMDK_SECTOR) {
    lf_error (EINVAL, "%s: grain directory at 0x%" PRIx64 " overlaps the "
              "header", f->path, gd_off);
    return -1;
  }
  raw = lf_file_read_alloc (f, gd_bytes, gd_off, VMDK_MAX_GD_ENTRIES * 4,
                            "grain directory");
  if (!raw)
    return -1;
  e->gd = (uint32_t *) raw;     /* decoded in place */
  for (uint64_t i = 0; i < e->gd_entries; i++) {
    uint32_t gde = lf_le32 (raw + i * 4);
    uint64_t gt_off = (uint64_t) gde * VMDK_SECTOR;
    e->gd[i] = gde;
    if (gde == 0)
      continue;
    if (!lf_file_contains (f, gt_off, gt_bytes)) {
      lf_error (EINVAL, "%s: grain directory entry %" PRIu64 ": grain table "
                "at 0x%" PRIx64 " is beyond end of file (0x%" PRIx64 ")",
                f->path, i, gt_off, f->size);
      return -1;
    }
  }
  return 0;
}

/* Checks common to both sparse headers, once the fields are set. */
static int
check_sparse_geometry (struct vmdk_extent *e, uint64_t capacity_sectors,
                       uint64_t grain_sectors)
{
  struct lf_file *f = e->file;
  uint64_t per_gt;

  if (!lf_is_power_of_2 (grain_sectors) ||
      grain_sectors > VMDK_MAX_GRAIN_SECTORS) {
    lf_error (EINVAL, "%s: sparse header: grain size %" PRIu64 " sectors is "
              "not a power of 2 between 1 and %" PRIu64, f->path,
              grain_sectors, VMDK_MAX_GRAIN_SECTORS);
    return -1;
  }
  if (MUL_OVERFLOW (capacity_sectors, VMDK_SECTOR, &e->capacity) ||
      e->capacity > VMDK_MAX_CAPACITY) {
    lf_error (EFBIG, "%s: sparse header: capacity %" PRIu64 " sectors is "
              "larger than the limit of %" PRIu64 " bytes", f->path,
              capacity_sectors, VMDK_MAX_CAPACITY);
    return -1;
  }
  e->grain_size = grain_sectors * VMDK_SECTOR;
  per_gt = e->grain_size * e->gtes_per_gt;   /* at most 2^30 * 2^12 */
  e->gd_entries = LF_DIV_ROUND_UP (e->capacity, per_gt);
  return 0;
}

/* Parse the hosted sparse extent in E->file.  If DESC is not NULL and the
 * file has an embedded descriptor, parse it into DESC.
 */
static int
open_vmdk4 (struct vmdk_extent *e, struct vmdk_desc *desc)
{
  struct lf_file *f = e->file;
  struct vmdk4_header hdr;
  struct vmdk4_info info, primary;

  if (lf_file_read (f, &hdr, sizeof hdr, 0, "sparse header") == -1)
    return -1;
  vmdk4_decode (&hdr, &info);
  primary = info;

  if (info.version < 1 || info.version > 3) {
    lf_error (ENOTSUP, "%s: sparse header: version %" PRIu32 " is not "
              "supported (1 to 3 are)", f->path, info.version);
    return -1;
  }
  if (info.gd_offset == VMDK4_GD_AT_END && read_footer (f, &info) == -1)
    return -1;

  if (info.compress_algorithm != VMDK4_COMPRESS_NONE &&
      info.compress_algorithm != VMDK4_COMPRESS_DEFLATE) {
    lf_error (ENOTSUP, "%s: sparse header: compression algorithm %u is not "
              "supported (0 none, 1 deflate)", f->path,
              info.compress_algorithm);
    return -1;
  }
  e->compressed = info.compress_algorithm == VMDK4_COMPRESS_DEFLATE;
  e->markers = (info.flags & VMDK4_FLAG_MARKER) != 0;
  e->zero_gte = true;
  if (info.gtes_per_gt == 0 || info.gtes_per_gt > VMDK_MAX_GTES_PER_GT) {
    lf_error (EINVAL, "%s: sparse header: %" PRIu32 " entries per grain "
              "table (1 to %d are accepted)", f->path, info.gtes_per_gt,
              VMDK_MAX_GTES_PER_GT);
    return -1;
  }
  e->gtes_per_gt = info.gtes_per_gt;
  if (check_sparse_geometry (e, info.capacity, info.grain_size) == -1)
    return -1;
  {
    /* As qemu: the file must at least reach the first grain. */
    uint64_t grains_at;
    if (MUL_OVERFLOW (info.overhead, VMDK_SECTOR, &grains_at) ||
        grains_at > f->size) {
      lf_error (EINVAL, "%s: sparse header: grains start at sector %" PRIu64
                " but the file is only 0x%" PRIx64 " bytes (truncated?)",
                f->path, info.overhead, f->size);
      return -1;
    }
  }
  if (info.gd_offset > UINT64_MAX / VMDK_SECTOR) {
    lf_error (EINVAL, "%s: sparse header: grain directory offset 0x%" PRIx64
              " sectors is out of range", f->path, info.gd_offset);
    return -1;
  }

  if ((primary.flags & VMDK4_FLAG_NL_DETECT) && !primary.nl_ok) {
    lf_error (EINVAL, "%s: sparse header: the end-of-line check bytes are "
              "damaged (was the file copied in text mode?)", f->path);
    return -1;
  }

  /* The embedded descriptor (the primary header's copy). */
  if (desc && primary.desc_offset != 0 && primary.desc_size != 0) {
    uint64_t off, len;
    CLEANUP_FREE char *text = NULL;
    if (primary.desc_size > VMDK_MAX_DESCRIPTOR / VMDK_SECTOR ||
        MUL_OVERFLOW (primary.desc_offset, VMDK_SECTOR, &off)) {
      lf_error (EINVAL, "%s: sparse header: embedded descriptor at sector %"
                PRIu64 " (%" PRIu64 " sectors) is larger than the limit of %"
                PRIu64 " bytes or out of range", f->path, primary.desc_offset,
                primary.desc_size, VMDK_MAX_DESCRIPTOR);
      return -1;
    }
    len = primary.desc_size * VMDK_SECTOR;
    text = lf_file_read_alloc (f, len, off, VMDK_MAX_DESCRIPTOR,
                               "embedded descriptor");
    if (!text || parse_descriptor (f->path, text, len, desc) == -1)
      return -1;
  }

  return load_gd (e, info.gd_offset * VMDK_SECTOR);
}

/* Parse the ESX sparse (COWD) extent in E->file. */
static int
open_vmdk3 (struct vmdk_extent *e)
{
  struct lf_file *f = e->file;
  struct vmdk3_header hdr;
  uint32_t version, capacity, grain, gd_offset, gd_entries;

  if (lf_file_read (f, &hdr, sizeof hdr, 0, "COWD header") == -1)
    return -1;
  version = lf_le32 (&hdr.version);
  capacity = lf_le32 (&hdr.capacity);
  grain = lf_le32 (&hdr.grain_size);
  gd_offset = lf_le32 (&hdr.gd_offset);
  gd_entries = lf_le32 (&hdr.gd_entries);
  LF_DEBUG (2, "COWD version %" PRIu32 " capacity %" PRIu32 " grain %" PRIu32
            " gd %" PRIu32 " (%" PRIu32 " entries)", version, capacity, grain,
            gd_offset, gd_entries);
  if (version != 1) {
    lf_error (ENOTSUP, "%s: COWD header: version %" PRIu32 " is not "
              "supported", f->path, version);
    return -1;
  }
  e->gtes_per_gt = VMDK3_GTES_PER_GT;
  e->zero_gte = false;
  if (check_sparse_geometry (e, capacity, grain) == -1)
    return -1;
  if (gd_entries < e->gd_entries) {
    lf_error (EINVAL, "%s: COWD header: grain directory of %" PRIu32
              " entries cannot map a capacity of %" PRIu32 " sectors",
              f->path, gd_entries, capacity);
    return -1;
  }
  return load_gd (e, (uint64_t) gd_offset * VMDK_SECTOR);
}

/* ---- Reading --------------------------------------------------------- */

/* Per-call scratch: nothing here is shared between threads. */
struct vmdk_io {
  const struct vmdk_extent *gt_ext;   /* whose grain table is in gt */
  uint64_t gt_index;                  /* and which */
  uint32_t gt[VMDK3_GTES_PER_GT];
  uint8_t *comp;                      /* compressed grain */
  size_t comp_size;
  uint8_t *grain;                     /* one inflated grain */
  size_t grain_size;
  /* libdeflate, not zlib: grains are whole buffers, which libdeflate
   * inflates two to three times faster (the conversion's hot loop).
   */
  struct libdeflate_decompressor *dd;
};

static void
io_free (struct vmdk_io *io)
{
  free (io->comp);
  free (io->grain);
  if (io->dd)
    libdeflate_free_decompressor (io->dd);
}

/* The GTE of grain GRAIN of sparse extent E: 0 with *ABSENT set if the GD
 * has no table for it.
 */
static int
get_gte (const struct vmdk_extent *e, struct vmdk_io *io, uint64_t grain,
         uint32_t *gte)
{
  uint64_t gdi = grain / e->gtes_per_gt;

  if (gdi >= e->gd_entries || e->gd[gdi] == 0) {
    *gte = 0;
    return 0;
  }
  if (io->gt_ext != e || io->gt_index != gdi) {
    uint8_t raw[sizeof io->gt];
    size_t n = (size_t) e->gtes_per_gt * 4;
    io->gt_ext = NULL;
    if (lf_file_read (e->file, raw, n, (uint64_t) e->gd[gdi] * VMDK_SECTOR,
                      "grain table") == -1)
      return -1;
    for (size_t i = 0; i < e->gtes_per_gt; i++)
      io->gt[i] = lf_le32 (raw + i * 4);
    io->gt_ext = e;
    io->gt_index = gdi;
  }
  *gte = io->gt[grain % e->gtes_per_gt];
  return 0;
}

/* Bytes of grain GRAIN that belong to the extent (the last is short). */
static uint64_t
grain_bytes (const struct vmdk_extent *e, uint64_t grain)
{
  uint64_t start = grain * e->grain_size;
  return LF_MIN (e->grain_size, e->capacity - start);
}

/* Inflate compressed grain GRAIN (GTE) into DST, which has room for the
 * whole grain (E->grain_size bytes).  Returns the inflated length.
 */
static int64_t
inflate_grain (const struct vmdk_extent *e, struct vmdk_io *io,
               uint64_t grain, uint32_t gte, uint8_t *dst)
{
  struct lf_file *f = e->file;
  uint64_t off = (uint64_t) gte * VMDK_SECTOR, data_off, data_len;
  uint64_t max = VMDK_MAX_COMPRESSED (e->grain_size);
  uint64_t want = grain_bytes (e, grain), got;
  size_t first;

  if (!io->comp || io->comp_size < max + VMDK_GRAIN_MARKER_SIZE) {
    free (io->comp);
    io->comp_size = (size_t) (max + VMDK_GRAIN_MARKER_SIZE);
    io->comp = malloc (io->comp_size);
    if (!io->comp) {
      lf_error (errno, "%s: compressed grain: out of memory", f->path);
      return -1;
    }
  }
  if (off >= f->size) {
    lf_error (EINVAL, "%s: grain %" PRIu64 ": compressed grain at 0x%" PRIx64
              " is beyond end of file (0x%" PRIx64 ")", f->path, grain, off,
              f->size);
    return -1;
  }
  /* One read in the usual case: the marker and a grain's worth. */
  first = (size_t) LF_MIN (f->size - off,
                           (uint64_t) VMDK_GRAIN_MARKER_SIZE + e->grain_size);
  if (lf_file_read (f, io->comp, first, off, "compressed grain") == -1)
    return -1;
  if (e->markers) {
    if (first < VMDK_GRAIN_MARKER_SIZE) {
      lf_error (EINVAL, "%s: grain %" PRIu64 ": grain marker at 0x%" PRIx64
                " is beyond end of file (0x%" PRIx64 ")", f->path, grain,
                off, f->size);
      return -1;
    }
    data_len = lf_le32 (io->comp + 8);
    if (lf_le64 (io->comp) != grain * (e->grain_size / VMDK_SECTOR))
      LF_DEBUG (1, "%s: grain %" PRIu64 ": marker says sector %" PRIu64,
                f->path, grain, lf_le64 (io->comp));
    if (data_len == 0) {
      lf_error (EINVAL, "%s: grain %" PRIu64 ": grain marker at 0x%" PRIx64
                ": compressed size is 0 (a metadata marker where a grain "
                "should be)", f->path, grain, off);
      return -1;
    }
    if (data_len > max) {
      lf_error (EINVAL, "%s: grain %" PRIu64 ": grain marker at 0x%" PRIx64
                ": compressed size %" PRIu64 " is larger than the limit of %"
                PRIu64 " (twice the grain size)", f->path, grain, off,
                data_len, max);
      return -1;
    }
    data_off = VMDK_GRAIN_MARKER_SIZE;
    if (!lf_file_contains (f, off + data_off, data_len)) {
      lf_error (EINVAL, "%s: grain %" PRIu64 ": compressed grain at 0x%"
                PRIx64 " (%" PRIu64 " bytes) is beyond end of file (0x%"
                PRIx64 ")", f->path, grain, off, data_len, f->size);
      return -1;
    }
    if (data_off + data_len > first &&
        lf_file_read (f, io->comp + first, data_off + data_len - first,
                      off + first, "compressed grain") == -1)
      return -1;
  }
  else {
    /* No marker: the stream ends where deflate says it does. */
    data_off = 0;
    data_len = first;
  }

  if (!io->dd && !(io->dd = libdeflate_alloc_decompressor ())) {
    lf_error (ENOMEM, "%s: cannot allocate a decompressor", f->path);
    return -1;
  }
  size_t in_used = 0, out_len = 0;
  enum libdeflate_result r =
    libdeflate_zlib_decompress_ex (io->dd, io->comp + data_off,
                                   (size_t) data_len, dst,
                                   (size_t) e->grain_size, &in_used, &out_len);
  got = out_len;
  if (r != LIBDEFLATE_SUCCESS) {
    if (r == LIBDEFLATE_INSUFFICIENT_SPACE)
      lf_error (EINVAL, "%s: grain %" PRIu64 ": compressed grain at 0x%"
                PRIx64 " inflates to more than the grain size (%" PRIu64
                " bytes)", f->path, grain, off, e->grain_size);
    else
      lf_error (EINVAL, "%s: grain %" PRIu64 ": compressed grain at 0x%"
                PRIx64 " (%" PRIu64 " bytes) is not valid zlib data%s",
                f->path, grain, off, data_len,
                r == LIBDEFLATE_BAD_DATA ? "" : " (truncated)");
    return -1;
  }
  if (got < want) {
    lf_error (EINVAL, "%s: grain %" PRIu64 ": compressed grain at 0x%" PRIx64
              " inflates to %" PRIu64 " bytes, expected %" PRIu64, f->path,
              grain, off, got, want);
    return -1;
  }
  return (int64_t) got;
}

/* A run of pieces handled together: zeros, the parent, or file data that
 * is contiguous in both the buffer and the file.
 */
enum run_kind { RUN_NONE, RUN_ZERO, RUN_PARENT, RUN_FILE };
struct run {
  enum run_kind kind;
  uint8_t *buf;
  uint64_t len;
  uint64_t pos;                 /* RUN_FILE: file offset; RUN_PARENT: disk */
};

static int
run_flush (const struct vmdk *h, const struct vmdk_extent *e, struct run *r)
{
  int ret = 0;

  switch (r->kind) {
  case RUN_NONE:
    break;
  case RUN_ZERO:
    memset (r->buf, 0, r->len);
    break;
  case RUN_PARENT:
    ret = lf_disk_pread_padded (h->d->backing, r->buf, r->len, r->pos);
    break;
  case RUN_FILE:
    ret = lf_file_read (e->file, r->buf, r->len, r->pos, "grain");
    break;
  }
  r->kind = RUN_NONE;
  return ret;
}

/* Add a piece to the run, flushing first if it does not continue it. */
static int
run_add (const struct vmdk *h, const struct vmdk_extent *e, struct run *r,
         enum run_kind kind, uint8_t *buf, uint64_t len, uint64_t pos)
{
  if (r->kind == kind && r->buf + r->len == buf &&
      (kind == RUN_ZERO || r->pos + r->len == pos)) {
    r->len += len;
    return 0;
  }
  if (run_flush (h, e, r) == -1)
    return -1;
  *r = (struct run) { .kind = kind, .buf = buf, .len = len, .pos = pos };
  return 0;
}

static int
sparse_read (const struct vmdk *h, const struct vmdk_extent *e,
             struct vmdk_io *io, uint8_t *buf, uint64_t count, uint64_t off)
{
  struct run run = { .kind = RUN_NONE };

  while (count > 0) {
    uint64_t grain = off / e->grain_size, in_grain = off % e->grain_size;
    uint64_t n = LF_MIN (count, e->grain_size - in_grain);
    uint32_t gte;

    if (off >= e->capacity) {
      /* The descriptor gave the extent more than its header covers. */
      n = count;
      gte = 0;
    }
    else if (get_gte (e, io, grain, &gte) == -1)
      return -1;

    if (gte == 0 || (gte == VMDK_GTE_ZERO && e->zero_gte)) {
      if (gte == 0 && h->d->backing) {
        if (run_add (h, e, &run, RUN_PARENT, buf, n, e->start + off) == -1)
          return -1;
      }
      else if (run_add (h, e, &run, RUN_ZERO, buf, n, 0) == -1)
        return -1;
    }
    else if (!e->compressed) {
      uint64_t goff = (uint64_t) gte * VMDK_SECTOR;
      if (!lf_file_contains (e->file, goff, grain_bytes (e, grain))) {
        lf_error (EINVAL, "%s: grain %" PRIu64 ": grain at 0x%" PRIx64
                  " is beyond end of file (0x%" PRIx64 ")", e->file->path,
                  grain, goff, e->file->size);
        return -1;
      }
      if (run_add (h, e, &run, RUN_FILE, buf, n, goff + in_grain) == -1)
        return -1;
    }
    else {
      if (run_flush (h, e, &run) == -1)
        return -1;
      if (in_grain == 0 && n == e->grain_size) {
        /* The whole grain is wanted: inflate into the caller's buffer. */
        if (inflate_grain (e, io, grain, gte, buf) == -1)
          return -1;
      }
      else {
        if (!io->grain) {
          io->grain = malloc (h->max_grain);
          if (!io->grain) {
            lf_error (errno, "%s: grain buffer: out of memory",
                      e->file->path);
            return -1;
          }
          io->grain_size = h->max_grain;
        }
        if (inflate_grain (e, io, grain, gte, io->grain) == -1)
          return -1;
        memcpy (buf, io->grain + in_grain, n);
      }
    }
    buf += n;
    off += n;
    count -= n;
  }
  return run_flush (h, e, &run);
}

/* The extent holding disk offset OFFSET (binary search). */
static const struct vmdk_extent *
find_extent (const struct vmdk *h, uint64_t offset)
{
  size_t lo = 0, hi = h->nr_ext;

  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (h->ext[mid].start <= offset)
      lo = mid;
    else
      hi = mid;
  }
  return &h->ext[lo];
}

static int
vmdk_pread (void *hv, void *bufv, size_t count, uint64_t offset)
{
  const struct vmdk *h = hv;
  uint8_t *buf = bufv;
  struct vmdk_io io = { .gt_ext = NULL };
  int ret = 0;

  while (count > 0) {
    const struct vmdk_extent *e = find_extent (h, offset);
    uint64_t rel = offset - e->start;
    size_t n = (size_t) LF_MIN ((uint64_t) count, e->length - rel);

    switch (e->kind) {
    case VMDK_EXT_ZERO:
      memset (buf, 0, n);
      break;
    case VMDK_EXT_FLAT:
      ret = lf_file_read (e->file, buf, n, e->flat_offset + rel,
                          "flat extent data");
      break;
    case VMDK_EXT_SPARSE:
      ret = sparse_read (h, e, &io, buf, n, rel);
      break;
    }
    if (ret == -1)
      break;
    buf += n;
    offset += n;
    count -= n;
  }
  io_free (&io);
  return ret;
}

/* ---- Extent map ------------------------------------------------------ */

static int
sparse_extent (const struct vmdk *h, const struct vmdk_extent *e,
               uint64_t rel, uint64_t *len, unsigned *type)
{
  struct vmdk_io io = { .gt_ext = NULL };
  uint64_t got = 0, want = *len;
  bool parent = false;
  int ret = 0;

  *type = LF_EXTENT_ZERO;
  while (got < want) {
    uint64_t off = rel + got;
    uint64_t grain = off / e->grain_size;
    uint64_t n = LF_MIN (want - got, e->grain_size - off % e->grain_size);
    uint32_t gte = 0;
    unsigned t;
    bool p = false;

    if (off >= e->capacity)
      n = want - got;
    else if (grain / e->gtes_per_gt >= e->gd_entries ||
             e->gd[grain / e->gtes_per_gt] == 0) {
      /* A whole grain table's span at once. */
      uint64_t span = e->grain_size * e->gtes_per_gt;
      n = LF_MIN (want - got, span - off % span);
    }
    else if ((ret = get_gte (e, &io, grain, &gte)) == -1)
      break;

    if (gte == 0 && h->d->backing)
      p = true, t = LF_EXTENT_DATA;
    else if (gte == 0 || (gte == VMDK_GTE_ZERO && e->zero_gte))
      t = LF_EXTENT_ZERO;
    else
      t = LF_EXTENT_DATA;
    if (got == 0) {
      *type = t;
      parent = p;
    }
    else if (t != *type || p != parent)
      break;
    got += n;
    /* One grain table at a time: disk.c merges the answers. */
    if (got < want && ((rel + got) / e->grain_size) % e->gtes_per_gt == 0)
      break;
  }
  io_free (&io);
  if (ret == -1)
    return -1;
  if (parent) {
    /* Unallocated here: ask the parent what it has. */
    *len = got;
    return lf_disk_extent_padded (h->d->backing, e->start + rel, len, type);
  }
  *len = got;
  return 0;
}

static int
vmdk_extent (void *hv, uint64_t offset, uint64_t *len, unsigned *type)
{
  const struct vmdk *h = hv;
  const struct vmdk_extent *e = find_extent (h, offset);
  uint64_t rel = offset - e->start;

  *len = LF_MIN (*len, e->length - rel);
  switch (e->kind) {
  case VMDK_EXT_ZERO:
    *type = LF_EXTENT_ZERO;
    return 0;
  case VMDK_EXT_FLAT:
    return lf_file_extent (e->file, e->flat_offset + rel, len, type);
  case VMDK_EXT_SPARSE:
    return sparse_extent (h, e, rel, len, type);
  }
  return 0;
}

/* ---- Open and close -------------------------------------------------- */

static void
vmdk_close (void *hv)
{
  struct vmdk *h = hv;

  if (!h)
    return;
  for (size_t i = 0; i < h->nr_ext; i++) {
    free (h->ext[i].gd);
    if (h->ext[i].own_file)
      lf_file_close (h->ext[i].file);
  }
  free (h->ext);
  free (h);
}

static const char *const known_create_types[] = {
  "monolithicSparse", "monolithicFlat", "twoGbMaxExtentSparse",
  "twoGbMaxExtentFlat", "streamOptimized", "vmfs", "vmfsThin",
  "vmfsSparse", "vmfsPreallocated", "vmfsEagerZeroedThick", "custom",
  NULL
};

static bool
known_create_type (const char *t)
{
  for (size_t i = 0; known_create_types[i]; i++)
    if (strcmp (t, known_create_types[i]) == 0)
      return true;
  return false;
}

/* Open a SPARSE extent file: hosted (KDMV) or ESX (COWD) by its magic. */
static int
open_sparse_file (struct vmdk_extent *e, struct vmdk_desc *desc)
{
  char magic[4];

  if (lf_file_read (e->file, magic, sizeof magic, 0, "sparse magic") == -1)
    return -1;
  if (memcmp (magic, VMDK4_MAGIC, 4) == 0)
    return open_vmdk4 (e, desc);
  if (memcmp (magic, VMDK3_MAGIC, 4) == 0)
    return open_vmdk3 (e);
  lf_error (EINVAL, "%s: sparse extent: no \"KDMV\" or \"COWD\" magic",
            e->file->path);
  return -1;
}

static int
add_extent (struct vmdk *h, const struct vmdk_extent *e)
{
  if (h->nr_ext >= VMDK_MAX_EXTENTS) {
    lf_error (EINVAL, "%s: more than %d extents", h->file->path,
              VMDK_MAX_EXTENTS);
    return -1;
  }
  if (lf_grow (&h->ext, &h->ext_cap, h->nr_ext + 1, sizeof *h->ext) == -1)
    return -1;
  h->ext[h->nr_ext++] = *e;
  return 0;
}

/* Open the extents a descriptor file lists. */
static int
open_desc_extents (struct vmdk *h, const struct vmdk_desc *dd)
{
  const char *path = h->file->path;
  uint64_t start = 0;

  if (dd->nr_ext == 0) {
    lf_error (EINVAL, "%s: descriptor lists no extents", path);
    return -1;
  }
  for (size_t i = 0; i < dd->nr_ext; i++) {
    const struct vmdk_desc_extent *de = &dd->ext[i];
    struct vmdk_extent e = { .kind = de->kind, .start = start };

    if (MUL_OVERFLOW (de->sectors, VMDK_SECTOR, &e.length) ||
        ADD_OVERFLOW (start, e.length, &start) || start > VMDK_MAX_CAPACITY) {
      lf_error (EFBIG, "%s: descriptor line %u: extents add up to more than "
                "the limit of %" PRIu64 " bytes", path, de->line,
                VMDK_MAX_CAPACITY);
      return -1;
    }
    if (de->kind != VMDK_EXT_ZERO) {
      char what[48];
      snprintf (what, sizeof what, "descriptor line %u: extent file",
                de->line);
      e.file = lf_file_open_named (h->file, de->name, what);
      if (!e.file)
        return -1;
      e.own_file = true;
    }
    if (de->kind == VMDK_EXT_FLAT) {
      uint64_t end;
      if (MUL_OVERFLOW (de->offset, VMDK_SECTOR, &e.flat_offset) ||
          ADD_OVERFLOW (e.flat_offset, e.length, &end) ||
          end > e.file->size) {
        lf_error (EINVAL, "%s: descriptor line %u: flat extent %s is %"
                  PRIu64 " bytes, too short for %" PRIu64 " sectors at "
                  "sector %" PRIu64, path, de->line, e.file->path,
                  e.file->size, de->sectors, de->offset);
        lf_file_close (e.file);
        return -1;
      }
    }
    else if (de->kind == VMDK_EXT_SPARSE) {
      if (open_sparse_file (&e, NULL) == -1) {
        lf_error_prefix ("%s: descriptor line %u", path, de->line);
        free (e.gd);
        lf_file_close (e.file);
        return -1;
      }
      if (e.capacity < e.length) {
        lf_error (EINVAL, "%s: descriptor line %u: sparse extent %s covers %"
                  PRIu64 " sectors, fewer than the descriptor's %" PRIu64,
                  path, de->line, e.file->path, e.capacity / VMDK_SECTOR,
                  de->sectors);
        free (e.gd);
        lf_file_close (e.file);
        return -1;
      }
      h->max_grain = LF_MAX (h->max_grain, e.grain_size);
    }
    if (add_extent (h, &e) == -1) {
      free (e.gd);
      lf_file_close (e.file);
      return -1;
    }
  }
  return 0;
}

/* A delta link: open the parent and check it is the one we were made on. */
static int
open_parent (struct vmdk *h, struct lf_disk *d, const struct vmdk_desc *dd)
{
  struct lf_disk *p;

  if (!dd->has_parent_cid || dd->parent_cid == UINT32_MAX)
    return 0;
  if (!dd->parent_hint) {
    lf_error (EINVAL, "%s: descriptor has parentCID %08" PRIx32 " but no "
              "parentFileNameHint", h->file->path, dd->parent_cid);
    return -1;
  }
  /* A parent is always a VMDK: never let a hint pull in another file. */
  p = lf_disk_open_backing (d, dd->parent_hint, "vmdk",
                            "parentFileNameHint");
  if (!p && dd->parent_hint[0] == '/' &&
      (lf_last_errno () == ENOENT || lf_last_errno () == EXDEV)) {
    /* VMware writes the parent's path on the original host; try the
     * same name beside this file.  If that is not there either, the
     * first error (a refusal, say) is the one to show.
     */
    const char *base = strrchr (dd->parent_hint, '/') + 1;
    struct lf_error_record first;
    lf_error_save (&first);
    if (*base)
      p = lf_disk_open_backing (d, base, "vmdk", "parentFileNameHint");
    if (!p && lf_last_errno () == ENOENT)
      lf_error_restore (&first);
  }
  if (!p)
    return -1;
  d->backing = p;
  if (p->fmt == &vmdk_format) {
    const struct vmdk *ph = p->h;
    if (ph->has_cid && ph->cid != dd->parent_cid) {
      lf_error (EINVAL, "%s: parentCID %08" PRIx32 " does not match the CID "
                "%08" PRIx32 " of the parent %s: the parent was changed "
                "after this delta link was made", h->file->path,
                dd->parent_cid, ph->cid, p->file->path);
      return -1;
    }
  }
  return 0;
}

static void *
vmdk_open (struct lf_file *f, struct lf_disk *d)
{
  struct vmdk *h = NULL;
  struct vmdk_desc dd = { .nr_ext = 0 };
  CLEANUP_FREE char *text = NULL;
  char magic[4] = "";
  const char *subformat;

  h = calloc (1, sizeof *h);
  if (!h) {
    lf_error (errno, "out of memory");
    return NULL;
  }
  h->d = d;
  h->file = f;

  if (f->size >= 4 &&
      lf_file_read (f, magic, sizeof magic, 0, "VMDK magic") == -1)
    goto error;

  if (memcmp (magic, VMDK4_MAGIC, 4) == 0 ||
      memcmp (magic, VMDK3_MAGIC, 4) == 0) {
    struct vmdk_extent e = { .kind = VMDK_EXT_SPARSE, .file = f };
    bool cowd = memcmp (magic, VMDK3_MAGIC, 4) == 0;

    if (open_sparse_file (&e, &dd) == -1) {
      free (e.gd);
      goto error;
    }
    if (e.capacity == 0) {
      free (e.gd);
      lf_error (ENOTSUP, "%s: sparse header: capacity is 0 (a sparse "
                "extent that only points to a descriptor is not supported)",
                f->path);
      goto error;
    }
    e.length = e.capacity;
    h->max_grain = e.grain_size;
    if (add_extent (h, &e) == -1) {
      free (e.gd);
      goto error;
    }
    if (e.compressed)
      subformat = "streamOptimized";
    else if (cowd)
      subformat = "vmfsSparse";
    else if (known_create_type (dd.create_type))
      subformat = dd.create_type;
    else
      subformat = "monolithicSparse";
  }
  else {
    if (f->size > VMDK_MAX_DESCRIPTOR) {
      lf_error (EINVAL, "%s: not a VMDK: no sparse magic, and %" PRIu64
                " bytes is larger than a descriptor may be (%" PRIu64 ")",
                f->path, f->size, VMDK_MAX_DESCRIPTOR);
      goto error;
    }
    text = lf_file_read_alloc (f, f->size, 0, VMDK_MAX_DESCRIPTOR,
                               "descriptor");
    if (!text)
      goto error;
    if (!looks_like_descriptor (text, f->size)) {
      lf_error (EINVAL, "%s: not a VMDK: no sparse magic and no "
                "\"# Disk DescriptorFile\" line", f->path);
      goto error;
    }
    /* qemu pads a descriptor file with NULs: the text ends at the first. */
    if (parse_descriptor (f->path, text, f->size, &dd) == -1)
      goto error;
    if (dd.create_type[0] == '\0') {
      lf_error (EINVAL, "%s: descriptor has no createType", f->path);
      goto error;
    }
    if (!known_create_type (dd.create_type)) {
      lf_error (ENOTSUP, "%s: descriptor: createType \"%s\" is not supported",
                f->path, dd.create_type);
      goto error;
    }
    if (open_desc_extents (h, &dd) == -1)
      goto error;
    subformat = dd.create_type;
  }

  h->has_cid = dd.has_cid;
  h->cid = dd.cid;
  {
    const struct vmdk_extent *last = &h->ext[h->nr_ext - 1];
    d->size = last->start + last->length;
  }
  {
    /* Every known createType fits; truncate anything else. */
    size_t n = LF_MIN (strlen (subformat), sizeof d->subformat - 1);
    memcpy (d->subformat, subformat, n);
    d->subformat[n] = '\0';
  }
  if (open_parent (h, d, &dd) == -1)
    goto error;
  desc_free (&dd);
  return h;

 error:
  desc_free (&dd);
  vmdk_close (h);
  return NULL;
}

const struct lf_format vmdk_format = {
  .name    = "vmdk",
  .probe   = vmdk_probe,     /* LF_MATCH, LF_NO_MATCH or -1 */
  .open    = vmdk_open,
  .pread   = vmdk_pread,
  .extent  = vmdk_extent,    /* grains: unallocated and zero grains are holes */
  .close   = vmdk_close,
};

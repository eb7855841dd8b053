/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall convert/: qcow2 reader (versions 2 and 3).
 *
 * The layout (qemu docs/interop/qcow2.txt): a big-endian header in the
 * first cluster, optional header extensions after it, a backing file name,
 * and a two-level map from guest clusters to host clusters: the L1 table
 * (read whole at open, bounded by QCOW2_MAX_L1_ENTRIES) points at L2
 * tables, which are read on demand into a small locked LRU cache, so
 * memory does not grow with the virtual size.  An L2 entry is a data
 * cluster, a compressed cluster (zlib or zstd), a zero cluster, or
 * unallocated (read from the backing file, or zeros without one).  With
 * extended L2 entries (incompatible bit 4) each cluster is 32 subclusters,
 * each allocated, zero or unallocated on its own.
 *
 * We only read: refcounts, snapshots and bitmaps are ignored, and the
 * dirty bit (lazy refcounts) does not matter.  Every offset from the file
 * is checked for alignment and against the end of the file before use.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>
#include <zstd.h>

#include "convert/format.h"

/* The header.  NB. All fields are big-endian.  Version 2 headers end at
 * 0x48 (72 bytes); version 3 headers are header_length bytes, at least
 * 0x68 (104), and 0x70 (112) with the compression type.
 */
struct qcow2_header {
  char     magic[4];                 /* 0x00 "QFI\xfb" */
  uint32_t version;                  /* 0x04 2 or 3 */
  uint64_t backing_file_offset;      /* 0x08 0: no backing file */
  uint32_t backing_file_size;        /* 0x10 name length, not NUL-ended */
  uint32_t cluster_bits;             /* 0x14 9 .. 21 */
  uint64_t size;                     /* 0x18 virtual size in bytes */
  uint32_t crypt_method;             /* 0x20 0 none, 1 AES, 2 LUKS */
  uint32_t l1_size;                  /* 0x24 L1 entries */
  uint64_t l1_table_offset;          /* 0x28 cluster aligned */
  uint64_t refcount_table_offset;    /* 0x30 only where metadata lies */
  uint32_t refcount_table_clusters;  /* 0x38 */
  uint32_t nb_snapshots;             /* 0x3c (ignored) */
  uint64_t snapshots_offset;         /* 0x40 (ignored) */
  /* Version 3 only. */
  uint64_t incompatible_features;    /* 0x48 QCOW2_INCOMPAT_* */
  uint64_t compatible_features;      /* 0x50 */
  uint64_t autoclear_features;       /* 0x58 */
  uint32_t refcount_order;           /* 0x60 refcount width is 1 << this */
  uint32_t header_length;            /* 0x64 >= 104, multiple of 8 */
  uint8_t  compression_type;         /* 0x68 if header_length > 104 */
  uint8_t  padding[7];               /* 0x69 */
} __attribute__ ((packed));
_Static_assert (sizeof (struct qcow2_header) == 112,
                "qcow2 header with compression type is 112 bytes");

#define QCOW2_MAGIC             "QFI\xfb"
#define QCOW2_V2_HEADER_LENGTH  72
#define QCOW2_V3_HEADER_LENGTH  104
_Static_assert (offsetof (struct qcow2_header, incompatible_features) ==
                QCOW2_V2_HEADER_LENGTH, "version 2 header is 72 bytes");
_Static_assert (offsetof (struct qcow2_header, compression_type) ==
                QCOW2_V3_HEADER_LENGTH, "version 3 header is 104 bytes");

/* A header extension: type, length, then the data padded to 8 bytes. */
struct qcow2_ext_header {
  uint32_t type;                     /* 0x00 QCOW2_EXT_* */
  uint32_t length;                   /* 0x04 data bytes */
} __attribute__ ((packed));
_Static_assert (sizeof (struct qcow2_ext_header) == 8,
                "qcow2 extension header is 8 bytes");

/* One entry of the feature name table extension. */
struct qcow2_feature_name {
  uint8_t  type;                     /* 0x00 0 incompat, 1 compat, 2 autoclear */
  uint8_t  bit;                      /* 0x01 0 .. 63 */
  char     name[46];                 /* 0x02 NUL-padded */
} __attribute__ ((packed));
_Static_assert (sizeof (struct qcow2_feature_name) == 48,
                "qcow2 feature name entry is 48 bytes");

#define QCOW2_EXT_END              UINT32_C (0x00000000)
#define QCOW2_EXT_BACKING_FORMAT   UINT32_C (0xe2792aca)
#define QCOW2_EXT_FEATURE_NAMES    UINT32_C (0x6803f857)

#define QCOW2_INCOMPAT_DIRTY       (UINT64_C (1) << 0)
#define QCOW2_INCOMPAT_CORRUPT     (UINT64_C (1) << 1)
#define QCOW2_INCOMPAT_DATA_FILE   (UINT64_C (1) << 2)
#define QCOW2_INCOMPAT_COMPRESSION (UINT64_C (1) << 3)
#define QCOW2_INCOMPAT_EXTL2       (UINT64_C (1) << 4)
#define QCOW2_INCOMPAT_KNOWN       (QCOW2_INCOMPAT_DIRTY |            \
                                    QCOW2_INCOMPAT_CORRUPT |          \
                                    QCOW2_INCOMPAT_DATA_FILE |        \
                                    QCOW2_INCOMPAT_COMPRESSION |      \
                                    QCOW2_INCOMPAT_EXTL2)

#define QCOW2_COMPRESSION_ZLIB  0
#define QCOW2_COMPRESSION_ZSTD  1

/* L1 and L2 entries. */
#define QCOW2_L1E_OFFSET_MASK   UINT64_C (0x00fffffffffffe00)
#define QCOW2_L2E_OFFSET_MASK   UINT64_C (0x00fffffffffffe00)
#define QCOW2_OFLAG_COPIED      (UINT64_C (1) << 63)
#define QCOW2_OFLAG_COMPRESSED  (UINT64_C (1) << 62)
#define QCOW2_OFLAG_ZERO        (UINT64_C (1) << 0)
#define QCOW2_SUBCLUSTERS       32      /* per cluster, extended L2 */
#define QCOW2_COMPRESSED_SECTOR 512

/* Limits.  "These limits are in place to stop really stupid stuff and/or
 * exploits" (hivex).  The cluster size range and the L1 and name limits
 * are qemu's own, so any image qemu accepts is accepted here.
 */
#define QCOW2_MIN_CLUSTER_BITS    9
#define QCOW2_MAX_CLUSTER_BITS    21
#define QCOW2_MIN_EXTL2_CLUSTER_BITS 14   /* qemu: subclusters >= 512 B */
#define QCOW2_MAX_L1_ENTRIES      (UINT64_C (32) * 1024 * 1024 / 8)
#define QCOW2_MAX_BACKING_NAME    1023
#define QCOW2_MAX_BACKING_FORMAT  15      /* qemu's char[16] */
#define QCOW2_MAX_REFCOUNT_ORDER  6
#define QCOW2_L2_CACHE_BYTES      (32 * LF_MiB)
#define QCOW2_L2_CACHE_MAX_SLOTS  64
#define QCOW2_MAX_REFTABLE_BYTES  (8 * LF_MiB)   /* qemu's QCOW_MAX_REFTABLE_SIZE */
#define QCOW2_REFT_OFFSET_MASK    UINT64_C (0xfffffffffffffe00)

/* The header decoded into host order, with its checks done. */
struct qcow2_info {
  uint32_t version;
  uint64_t backing_file_offset;
  uint32_t backing_file_size;
  uint32_t cluster_bits;
  uint64_t size;
  uint32_t crypt_method;
  uint32_t l1_size;
  uint64_t l1_table_offset;
  uint64_t refcount_table_offset;
  uint32_t refcount_table_clusters;
  uint32_t nb_snapshots;
  uint64_t incompatible_features;
  uint64_t compatible_features;
  uint64_t autoclear_features;
  uint32_t refcount_order;
  uint32_t header_length;
  uint8_t  compression_type;
};

/* What one guest range maps to. */
enum run_type { RUN_DATA, RUN_ZERO, RUN_BACKING, RUN_COMPRESSED };

struct l2_slot {
  uint64_t offset;              /* host offset of the table; 0: empty */
  uint64_t last_use;
  uint64_t *t;                  /* entries in host order */
  int uniform;                  /* RUN_ZERO or RUN_BACKING if every entry
                                   is, else -1 */
};

/* A cluster range of the file holding metadata: no data cluster and no
 * other table may lie in it, or a write through one would corrupt the
 * other (qemu's overlap checks), and a crafted image could make guest data
 * of its own tables.
 */
struct meta_range {
  uint64_t start, end;          /* [start, end), cluster aligned */
  const char *what;             /* "the L1 table", "an L2 table"... */
};

struct qcow2 {
  struct lf_file *f;
  struct lf_disk *d;            /* owns the backing disk, if any */
  struct qcow2_info hdr;

  uint64_t cluster_size;
  unsigned l2_bits;             /* log2 of L2 entries per table */
  uint64_t l2_entries;
  bool extended_l2;
  unsigned granule_bits;        /* subcluster (extended L2) or cluster */
  unsigned csize_shift;         /* compressed descriptor layout */
  uint64_t csize_mask, coffset_mask;

  uint64_t l1_entries;          /* needed for the virtual size */
  uint64_t *l1;                 /* L2 table offsets (masked), host order */
  struct meta_range *meta;      /* sorted by start, disjoint */
  size_t nmeta;
  uint64_t gap_start, gap_end;  /* the free space between two ranges the
                                   last data cluster lay in (under lock) */

  pthread_mutex_t lock;         /* protects the L2 cache */
  bool lock_init;
  struct l2_slot *cache;
  unsigned nr_slots;
  uint64_t tick;

  char incompat_names[64][47];  /* from the feature name table */
};

struct run {
  enum run_type type;
  uint64_t len;
  uint64_t host;                /* DATA: host offset of the first byte */
  uint64_t coffset, csize;      /* COMPRESSED: the compressed bytes */
};

static int
qcow2_probe (struct lf_file *f)
{
  char magic[4];

  if (f->size < LF_PROBE_MIN_SIZE)
    return lf_probe_short (f, QCOW2_MAGIC, 4, "qcow2");
  if (lf_file_read (f, magic, sizeof magic, 0, "qcow2 magic") == -1)
    return -1;
  return memcmp (magic, QCOW2_MAGIC, 4) == 0 ? LF_MATCH : LF_NO_MATCH;
}

#define HDR32(buf, field) lf_be32 ((buf) + offsetof (struct qcow2_header, field))
#define HDR64(buf, field) lf_be64 ((buf) + offsetof (struct qcow2_header, field))

/* Decode the header at BUF (LEN bytes: 72, or more for version 3). */
static void
decode_header (const uint8_t *buf, size_t len, struct qcow2_info *h)
{
  memset (h, 0, sizeof *h);
  h->version = HDR32 (buf, version);
  h->backing_file_offset = HDR64 (buf, backing_file_offset);
  h->backing_file_size = HDR32 (buf, backing_file_size);
  h->cluster_bits = HDR32 (buf, cluster_bits);
  h->size = HDR64 (buf, size);
  h->crypt_method = HDR32 (buf, crypt_method);
  h->l1_size = HDR32 (buf, l1_size);
  h->l1_table_offset = HDR64 (buf, l1_table_offset);
  h->refcount_table_offset = HDR64 (buf, refcount_table_offset);
  h->refcount_table_clusters = HDR32 (buf, refcount_table_clusters);
  h->nb_snapshots = HDR32 (buf, nb_snapshots);
  if (h->version >= 3 && len >= QCOW2_V3_HEADER_LENGTH) {
    h->incompatible_features = HDR64 (buf, incompatible_features);
    h->compatible_features = HDR64 (buf, compatible_features);
    h->autoclear_features = HDR64 (buf, autoclear_features);
    h->refcount_order = HDR32 (buf, refcount_order);
    h->header_length = HDR32 (buf, header_length);
    if (len > offsetof (struct qcow2_header, compression_type))
      h->compression_type = buf[offsetof (struct qcow2_header, compression_type)];
  }
  else {
    h->refcount_order = 4;
    h->header_length = QCOW2_V2_HEADER_LENGTH;
  }
}

static void
debug_header (const char *path, const struct qcow2_info *h)
{
  LF_DEBUG (2, "%s: qcow2 version %" PRIu32
            " (2 is qemu's compat=0.10, 3 is compat=1.1)", path, h->version);
  LF_DEBUG (2, "%s: cluster_bits %" PRIu32 " (%" PRIu64 " byte clusters)",
            path, h->cluster_bits,
            h->cluster_bits < 64 ? UINT64_C (1) << h->cluster_bits : 0);
  LF_DEBUG (2, "%s: size %" PRIu64 " (virtual size in bytes)", path, h->size);
  LF_DEBUG (2, "%s: crypt_method %" PRIu32 " (must be 0: no encryption)",
            path, h->crypt_method);
  LF_DEBUG (2, "%s: l1_size %" PRIu32 ", l1_table_offset 0x%" PRIx64,
            path, h->l1_size, h->l1_table_offset);
  LF_DEBUG (2, "%s: backing_file_offset 0x%" PRIx64
            ", backing_file_size %" PRIu32, path,
            h->backing_file_offset, h->backing_file_size);
  LF_DEBUG (2, "%s: nb_snapshots %" PRIu32
            " (internal snapshots are not read, only the active layer)",
            path, h->nb_snapshots);
  LF_DEBUG (2, "%s: incompatible 0x%" PRIx64 " compatible 0x%" PRIx64
            " autoclear 0x%" PRIx64 " (incompatible bit 0 dirty is fine "
            "for reading)", path, h->incompatible_features,
            h->compatible_features, h->autoclear_features);
  LF_DEBUG (2, "%s: refcount_order %" PRIu32 ", header_length %" PRIu32
            ", compression_type %u (0 zlib, 1 zstd)", path, h->refcount_order,
            h->header_length, h->compression_type);
}

/* Name of incompatible feature BIT for messages: the image's own feature
 * name table first, then the ones we know.
 */
static const char *
incompat_name (const struct qcow2 *q, unsigned bit)
{
  static const char *const known[] = {
    "dirty", "corrupt", "external data file", "compression type",
    "extended L2 entries",
  };
  if (q->incompat_names[bit][0])
    return q->incompat_names[bit];
  if (bit < sizeof known / sizeof known[0])
    return known[bit];
  return "unknown";
}

/* Header extensions, between the header and the backing file name (or
 * the end of the first cluster).  Bounded by that area.
 */
static int
read_extensions (struct qcow2 *q, char *backing_fmt, size_t fmtlen)
{
  struct lf_file *f = q->f;
  const struct qcow2_info *h = &q->hdr;
  uint64_t start = h->header_length, end = q->cluster_size, off;
  CLEANUP_FREE uint8_t *area = NULL;
  unsigned n = 0;

  backing_fmt[0] = '\0';
  if (h->backing_file_offset > start && h->backing_file_offset < end)
    end = h->backing_file_offset;
  if (end > f->size)
    end = f->size;
  if (end <= start)
    return 0;
  area = lf_file_read_alloc (f, end - start, start, q->cluster_size,
                             "qcow2 header extensions");
  if (!area)
    return -1;

  /* Offsets below are relative to the area; each step moves forward by
   * at least 8 bytes, so the loop ends.
   */
  for (off = 0; end - start - off >= sizeof (struct qcow2_ext_header); n++) {
    uint32_t type = lf_be32 (area + off);
    uint32_t len = lf_be32 (area + off + 4);
    uint64_t room = end - start - off - sizeof (struct qcow2_ext_header);
    const uint8_t *data = area + off + sizeof (struct qcow2_ext_header);
    uint64_t padded;

    if (type == QCOW2_EXT_END)
      break;
    if (len > room) {
      lf_error (EINVAL, "%s: qcow2 header extension %u (type 0x%08" PRIx32
                ") at 0x%" PRIx64 ": length %" PRIu32 " is beyond the end "
                "of the header area (0x%" PRIx64 ")", f->path, n, type,
                start + off, len, end);
      return -1;
    }
    switch (type) {
    case QCOW2_EXT_BACKING_FORMAT:
      if (len > QCOW2_MAX_BACKING_FORMAT || len >= fmtlen) {
        lf_error (EINVAL, "%s: qcow2 backing format extension: length %"
                  PRIu32 " is larger than the limit of %d", f->path, len,
                  QCOW2_MAX_BACKING_FORMAT);
        return -1;
      }
      memcpy (backing_fmt, data, len);
      backing_fmt[len] = '\0';
      if (strlen (backing_fmt) != len) {
        lf_error (EINVAL, "%s: qcow2 backing format extension contains a "
                  "NUL byte", f->path);
        return -1;
      }
      break;
    case QCOW2_EXT_FEATURE_NAMES:
      for (uint64_t i = 0; i + sizeof (struct qcow2_feature_name) <= len;
           i += sizeof (struct qcow2_feature_name)) {
        const uint8_t *e = data + i;
        uint8_t ftype = e[offsetof (struct qcow2_feature_name, type)];
        uint8_t bit = e[offsetof (struct qcow2_feature_name, bit)];
        if (ftype != 0 || bit >= 64)
          continue;
        memcpy (q->incompat_names[bit],
                e + offsetof (struct qcow2_feature_name, name), 46);
        q->incompat_names[bit][46] = '\0';
        /* Keep messages printable. */
        for (char *p = q->incompat_names[bit]; *p; p++)
          if ((unsigned char) *p < 0x20 || (unsigned char) *p > 0x7e)
            *p = '?';
      }
      break;
    default:                    /* bitmaps, encryption, data file: unused */
      break;
    }
    if (lf_round_up_overflow (len, 8, &padded))
      break;                    /* cannot happen: len <= room */
    padded += sizeof (struct qcow2_ext_header);
    if (padded >= end - start - off)
      break;
    off += padded;
  }
  return 0;
}

/* qemu's format names (as in -F and the backing format extension) to
 * ours.
 */
static int
map_backing_format (const char *path, const char *qfmt, const char **ret)
{
  static const struct { const char *qemu, *ours; } names[] = {
    { "raw", "raw" }, { "file", "raw" }, { "host_device", "raw" },
    { "qcow2", "qcow2" }, { "vmdk", "vmdk" }, { "vpc", "vhd" },
    { "vhd", "vhd" }, { "vhdx", "vhdx" },
  };

  *ret = NULL;
  if (!qfmt[0])
    return 0;                   /* not recorded: probe */
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp (qfmt, names[i].qemu) == 0) {
      *ret = names[i].ours;
      return 0;
    }
  lf_error (ENOTSUP, "%s: qcow2 backing format extension: backing file "
            "format '%s' is not supported", path, qfmt);
  return -1;
}

static int
open_backing (struct qcow2 *q, const char *backing_fmt)
{
  struct lf_file *f = q->f;
  const struct qcow2_info *h = &q->hdr;
  char name[QCOW2_MAX_BACKING_NAME + 1];
  const char *fmt;

  if (h->backing_file_offset == 0 || h->backing_file_size == 0)
    return 0;
  /* Checked in the sanity block: size <= 1023, inside the first cluster. */
  if (lf_file_read (f, name, h->backing_file_size, h->backing_file_offset,
                    "qcow2 backing file name") == -1)
    return -1;
  name[h->backing_file_size] = '\0';
  if (strlen (name) != h->backing_file_size) {
    lf_error (EINVAL, "%s: qcow2 backing file name at 0x%" PRIx64
              " contains a NUL byte", f->path, h->backing_file_offset);
    return -1;
  }
  if (strncmp (name, "json:", 5) == 0) {
    lf_error (ENOTSUP, "%s: qcow2 backing file name is a qemu json: "
              "specification, which is not supported", f->path);
    return -1;
  }
  if (map_backing_format (f->path, backing_fmt, &fmt) == -1)
    return -1;
  LF_DEBUG (1, "%s: backing file %s (format %s)", f->path, name,
            fmt ? fmt : "probed");
  q->d->backing = lf_disk_open_backing (q->d, name, fmt,
                                         "qcow2 backing file");
  if (!q->d->backing)
    return -1;
  return 0;
}

static void qcow2_close (void *hv);

static int
meta_add (struct qcow2 *q, size_t *cap, uint64_t start, uint64_t len,
          const char *what)
{
  uint64_t end;

  if (*cap == q->nmeta) {
    size_t ncap = *cap ? *cap * 2 : 64;
    struct meta_range *m = reallocarray (q->meta, ncap, sizeof *m);
    if (!m) {
      lf_error (ENOMEM, "%s: qcow2 metadata map: out of memory", q->f->path);
      return -1;
    }
    q->meta = m;
    *cap = ncap;
  }
  if (lf_round_up_overflow (len, q->cluster_size, &len) ||
      ADD_OVERFLOW (start, len, &end)) {
    lf_error (EINVAL, "%s: qcow2: %s at 0x%" PRIx64 " (%" PRIu64 " bytes) "
              "runs past the end of the address space", q->f->path, what,
              start, len);
    return -1;
  }
  q->meta[q->nmeta++] = (struct meta_range) { start, end, what };
  return 0;
}

static int
meta_cmp (const void *a, const void *b)
{
  const struct meta_range *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

/* The metadata range that [OFF, OFF + LEN) overlaps, or NULL: a binary
 * search, since the ranges are sorted and disjoint.  The next data cluster
 * is mostly in the same gap between tables as the last one: that is
 * checked first, in O(1) (a search over tens of thousands of tables per
 * cluster tripled the time of a whole-disk read).  Call with the lock.
 */
static const struct meta_range *
meta_overlap (struct qcow2 *q, uint64_t off, uint64_t len)
{
  size_t lo = 0, hi = q->nmeta;
  uint64_t end = len > UINT64_MAX - off ? UINT64_MAX : off + len;

  if (off >= q->gap_start && end <= q->gap_end)
    return NULL;

  /* The last range starting before END is the only candidate. */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (q->meta[mid].start < end)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo > 0 && q->meta[lo - 1].end > off)
    return &q->meta[lo - 1];
  q->gap_start = lo > 0 ? q->meta[lo - 1].end : 0;
  q->gap_end = lo < q->nmeta ? q->meta[lo].start : UINT64_MAX;
  return NULL;
}

/* Where the header, L1 table, L2 tables, refcount table and refcount
 * blocks lie, sorted; two that overlap are an error.  O(n log n) in the
 * number of tables, once at open; each data cluster is then checked in
 * O(log n).
 */
static int
build_meta (struct qcow2 *q)
{
  struct lf_file *f = q->f;
  const struct qcow2_info *h = &q->hdr;
  size_t cap = 0;
  CLEANUP_FREE uint8_t *rt = NULL;
  uint64_t rt_bytes = (uint64_t) h->refcount_table_clusters * q->cluster_size;

  if (meta_add (q, &cap, 0, q->cluster_size, "the header cluster") == -1)
    return -1;
  if (h->l1_size > 0 &&
      meta_add (q, &cap, h->l1_table_offset, (uint64_t) h->l1_size * 8,
                "the L1 table") == -1)
    return -1;
  for (uint64_t i = 0; i < q->l1_entries; i++)
    if (q->l1[i] && meta_add (q, &cap, q->l1[i], q->cluster_size,
                              "an L2 table") == -1)
      return -1;

  if (h->refcount_table_clusters > 0) {
    if (h->refcount_table_offset & (q->cluster_size - 1)) {
      lf_error (EINVAL, "%s: qcow2 header: refcount_table_offset 0x%" PRIx64
                " is not aligned to the cluster size (%" PRIu64 ")", f->path,
                h->refcount_table_offset, q->cluster_size);
      return -1;
    }
    if (rt_bytes > QCOW2_MAX_REFTABLE_BYTES) {
      lf_error (EINVAL, "%s: qcow2 header: refcount_table_clusters %" PRIu32
                " (%" PRIu64 " bytes) is larger than the limit of %" PRIu64 " bytes",
                f->path, h->refcount_table_clusters, rt_bytes,
                (uint64_t) QCOW2_MAX_REFTABLE_BYTES);
      return -1;
    }
    if (meta_add (q, &cap, h->refcount_table_offset, rt_bytes,
                  "the refcount table") == -1)
      return -1;
    /* Blocks it names are metadata too; a table cut short by the end of
     * the file names no more of them (the reader never uses refcounts).
     */
    uint64_t avail = h->refcount_table_offset >= f->size ? 0
      : LF_MIN (rt_bytes, f->size - h->refcount_table_offset);
    avail &= ~UINT64_C (7);
    if (avail > 0) {
      rt = lf_file_read_alloc (f, avail, h->refcount_table_offset,
                               QCOW2_MAX_REFTABLE_BYTES,
                               "qcow2 refcount table");
      if (!rt)
        return -1;
    }
    for (uint64_t i = 0; i < avail / 8; i++) {
      uint64_t rb = lf_be64 (rt + i * 8) & QCOW2_REFT_OFFSET_MASK;
      if (rb == 0)
        continue;
      if (rb & (q->cluster_size - 1)) {
        lf_error (EINVAL, "%s: refcount table entry %" PRIu64 ": refcount "
                  "block at 0x%" PRIx64 " is not aligned to the cluster "
                  "size (%" PRIu64 ")", f->path, i, rb, q->cluster_size);
        return -1;
      }
      if (meta_add (q, &cap, rb, q->cluster_size, "a refcount block") == -1)
        return -1;
    }
  }

  qsort (q->meta, q->nmeta, sizeof *q->meta, meta_cmp);
  for (size_t i = 1; i < q->nmeta; i++)
    if (q->meta[i].start < q->meta[i - 1].end) {
      const struct meta_range *a = &q->meta[i - 1], *b = &q->meta[i];
      lf_error (EINVAL, "%s: qcow2 metadata overlaps: %s at 0x%" PRIx64
                " and %s at 0x%" PRIx64 " (0x%" PRIx64 " bytes) share "
                "clusters", f->path, b->what, b->start, a->what, a->start,
                a->end - a->start);
      return -1;
    }
  return 0;
}

static void *
qcow2_open (struct lf_file *f, struct lf_disk *d)
{
  struct qcow2 *q = NULL;
  struct qcow2_info *h;
  uint8_t buf[sizeof (struct qcow2_header)] = { 0 };
  size_t hlen = QCOW2_V2_HEADER_LENGTH;
  char backing_fmt[QCOW2_MAX_BACKING_FORMAT + 1];
  uint64_t clusters, rounded, l1_bytes, unknown;
  CLEANUP_FREE uint8_t *l1raw = NULL;

  q = calloc (1, sizeof *q);
  if (!q) {
    lf_error (errno, "%s: out of memory", f->path);
    return NULL;
  }
  q->f = f;
  q->d = d;
  h = &q->hdr;

  if (f->size < QCOW2_V2_HEADER_LENGTH) {
    lf_error (EINVAL, "%s: file is too small (%" PRIu64 " bytes) for a "
              "qcow2 header", f->path, f->size);
    goto error;
  }
  if (lf_file_read (f, buf, QCOW2_V2_HEADER_LENGTH, 0, "qcow2 header") == -1)
    goto error;
  if (memcmp (buf, QCOW2_MAGIC, 4) != 0) {
    lf_error (EINVAL, "%s: qcow2 header: bad magic %02x %02x %02x %02x "
              "(expected \"QFI\\xfb\")", f->path, buf[0], buf[1], buf[2],
              buf[3]);
    goto error;
  }
  if (lf_be32 (buf + 4) == 3) {
    hlen = LF_MIN (f->size, (uint64_t) sizeof buf);
    if (hlen < QCOW2_V3_HEADER_LENGTH) {
      lf_error (EINVAL, "%s: file is too small (%" PRIu64 " bytes) for a "
                "qcow2 version 3 header", f->path, f->size);
      goto error;
    }
    if (lf_file_read (f, buf, hlen, 0, "qcow2 header") == -1)
      goto error;
    /* Fields past header_length are not part of this header. */
    if (lf_be32 (buf + offsetof (struct qcow2_header, header_length)) <
        sizeof buf)
      hlen = LF_MAX (QCOW2_V3_HEADER_LENGTH,
                     lf_be32 (buf + offsetof (struct qcow2_header,
                                              header_length)));
  }
  decode_header (buf, hlen, h);
  debug_header (f->path, h);

  /* Sanity checks, before any field becomes an offset or a size. */
  if (h->version != 2 && h->version != 3) {
    lf_error (ENOTSUP, "%s: qcow2 header: version %" PRIu32 " is not "
              "supported (only 2 and 3)", f->path, h->version);
    goto error;
  }
  if (h->cluster_bits < QCOW2_MIN_CLUSTER_BITS ||
      h->cluster_bits > QCOW2_MAX_CLUSTER_BITS) {
    lf_error (EINVAL, "%s: qcow2 header: cluster_bits %" PRIu32 " is "
              "outside the range %d..%d", f->path, h->cluster_bits,
              QCOW2_MIN_CLUSTER_BITS, QCOW2_MAX_CLUSTER_BITS);
    goto error;
  }
  q->cluster_size = UINT64_C (1) << h->cluster_bits;
  if (h->version == 3) {
    if (h->header_length < QCOW2_V3_HEADER_LENGTH ||
        h->header_length % 8 != 0 || h->header_length > q->cluster_size) {
      lf_error (EINVAL, "%s: qcow2 header: header_length %" PRIu32 " is "
                "not a multiple of 8 between %d and the cluster size (%"
                PRIu64 ")", f->path, h->header_length,
                QCOW2_V3_HEADER_LENGTH, q->cluster_size);
      goto error;
    }
    if (h->refcount_order > QCOW2_MAX_REFCOUNT_ORDER) {
      lf_error (EINVAL, "%s: qcow2 header: refcount_order %" PRIu32
                " is larger than the limit of %d", f->path, h->refcount_order,
                QCOW2_MAX_REFCOUNT_ORDER);
      goto error;
    }
  }
  if (h->crypt_method != 0) {
    lf_error (ENOTSUP, "%s: qcow2 header: crypt_method %" PRIu32 ": "
              "encrypted qcow2 is not supported", f->path, h->crypt_method);
    goto error;
  }
  if (h->backing_file_offset != 0) {
    uint64_t end;
    if (h->backing_file_size > QCOW2_MAX_BACKING_NAME) {
      lf_error (EINVAL, "%s: qcow2 header: backing_file_size %" PRIu32
                " is larger than the limit of %d", f->path,
                h->backing_file_size, QCOW2_MAX_BACKING_NAME);
      goto error;
    }
    if (ADD_OVERFLOW (h->backing_file_offset,
                      (uint64_t) h->backing_file_size, &end) ||
        end > q->cluster_size || h->backing_file_offset < h->header_length) {
      lf_error (EINVAL, "%s: qcow2 header: backing file name at 0x%" PRIx64
                " (%" PRIu32 " bytes) is not between the header and the "
                "end of the first cluster (0x%" PRIx64 ")", f->path,
                h->backing_file_offset, h->backing_file_size,
                q->cluster_size);
      goto error;
    }
  }

  /* Feature names come from an extension, so read them before refusing
   * an unknown feature.
   */
  if (read_extensions (q, backing_fmt, sizeof backing_fmt) == -1)
    goto error;
  if (h->incompatible_features & QCOW2_INCOMPAT_CORRUPT) {
    lf_error (EINVAL, "%s: qcow2 header: the image is marked corrupt "
              "(incompatible feature bit 1); repair it with "
              "'qemu-img check -r all' first", f->path);
    goto error;
  }
  if (h->incompatible_features & QCOW2_INCOMPAT_DATA_FILE) {
    lf_error (ENOTSUP, "%s: qcow2 header: the image keeps its data in an "
              "external data file (incompatible feature bit 2), which is "
              "not supported", f->path);
    goto error;
  }
  unknown = h->incompatible_features & ~QCOW2_INCOMPAT_KNOWN;
  if (unknown) {
    unsigned bit = (unsigned) __builtin_ctzll (unknown);
    lf_error (ENOTSUP, "%s: qcow2 header: unknown incompatible feature bit "
              "%u (%s) is set (incompatible_features 0x%" PRIx64 ")",
              f->path, bit, incompat_name (q, bit), h->incompatible_features);
    goto error;
  }
  if (h->incompatible_features & QCOW2_INCOMPAT_COMPRESSION) {
    if (h->header_length <= offsetof (struct qcow2_header, compression_type)) {
      lf_error (EINVAL, "%s: qcow2 header: the compression type bit is set "
                "but header_length %" PRIu32 " has no compression_type "
                "field", f->path, h->header_length);
      goto error;
    }
    if (h->compression_type != QCOW2_COMPRESSION_ZLIB &&
        h->compression_type != QCOW2_COMPRESSION_ZSTD) {
      lf_error (ENOTSUP, "%s: qcow2 header: compression_type %u is not "
                "supported (0 zlib, 1 zstd)", f->path, h->compression_type);
      goto error;
    }
  }
  else if (h->compression_type != QCOW2_COMPRESSION_ZLIB) {
    lf_error (EINVAL, "%s: qcow2 header: compression_type %u without the "
              "compression type feature bit (incompatible bit 3)", f->path,
              h->compression_type);
    goto error;
  }
  q->extended_l2 = (h->incompatible_features & QCOW2_INCOMPAT_EXTL2) != 0;
  if (q->extended_l2 && h->cluster_bits < QCOW2_MIN_EXTL2_CLUSTER_BITS) {
    lf_error (EINVAL, "%s: qcow2 header: extended L2 entries need clusters "
              "of at least %" PRIu64 " bytes, not %" PRIu64, f->path,
              UINT64_C (1) << QCOW2_MIN_EXTL2_CLUSTER_BITS, q->cluster_size);
    goto error;
  }

  /* Derived geometry. */
  q->l2_bits = h->cluster_bits - (q->extended_l2 ? 4 : 3);
  q->l2_entries = UINT64_C (1) << q->l2_bits;
  q->granule_bits = h->cluster_bits - (q->extended_l2 ? 5 : 0);
  q->csize_shift = 62 - (h->cluster_bits - 8);
  q->csize_mask = (UINT64_C (1) << (h->cluster_bits - 8)) - 1;
  q->coffset_mask = (UINT64_C (1) << q->csize_shift) - 1;

  /* The L1 table must cover the virtual size. */
  if (lf_round_up_overflow (h->size, q->cluster_size, &rounded)) {
    lf_error (EINVAL, "%s: qcow2 header: size %" PRIu64 " is too large",
              f->path, h->size);
    goto error;
  }
  clusters = rounded >> h->cluster_bits;
  q->l1_entries = (clusters >> q->l2_bits) +
    ((clusters & (q->l2_entries - 1)) != 0);
  if (q->l1_entries > QCOW2_MAX_L1_ENTRIES) {
    lf_error (EINVAL, "%s: qcow2 header: size %" PRIu64 " needs %" PRIu64
              " L1 entries, more than the limit of %" PRIu64, f->path,
              h->size, q->l1_entries, QCOW2_MAX_L1_ENTRIES);
    goto error;
  }
  if (h->l1_size < q->l1_entries) {
    lf_error (EINVAL, "%s: qcow2 header: l1_size %" PRIu32 " is too small "
              "for size %" PRIu64 " (%" PRIu64 " entries needed)", f->path,
              h->l1_size, h->size, q->l1_entries);
    goto error;
  }
  if (h->l1_size > QCOW2_MAX_L1_ENTRIES) {
    lf_error (EINVAL, "%s: qcow2 header: l1_size %" PRIu32 " is larger "
              "than the limit of %" PRIu64, f->path, h->l1_size,
              QCOW2_MAX_L1_ENTRIES);
    goto error;
  }
  if (h->l1_table_offset & (q->cluster_size - 1)) {
    lf_error (EINVAL, "%s: qcow2 header: l1_table_offset 0x%" PRIx64
              " is not aligned to the cluster size (%" PRIu64 ")", f->path,
              h->l1_table_offset, q->cluster_size);
    goto error;
  }
  if (q->l1_entries > 0 && h->l1_table_offset == 0) {
    lf_error (EINVAL, "%s: qcow2 header: l1_table_offset is 0 (the header "
              "cluster)", f->path);
    goto error;
  }
  d->size = h->size;

  if (open_backing (q, backing_fmt) == -1)
    goto error;

  /* The L1 table: only the entries the virtual size needs are used. */
  l1_bytes = q->l1_entries * 8;   /* <= 32 MiB by the check above */
  q->l1 = calloc (q->l1_entries ? q->l1_entries : 1, sizeof *q->l1);
  if (!q->l1) {
    lf_error (errno, "%s: qcow2 L1 table: out of memory", f->path);
    goto error;
  }
  if (q->l1_entries) {
    l1raw = lf_file_read_alloc (f, l1_bytes, h->l1_table_offset,
                                QCOW2_MAX_L1_ENTRIES * 8, "qcow2 L1 table");
    if (!l1raw)
      goto error;
  }
  for (uint64_t i = 0; i < q->l1_entries; i++) {
    uint64_t l2 = lf_be64 (l1raw + i * 8) & QCOW2_L1E_OFFSET_MASK;
    if (l2 == 0)
      continue;                 /* the whole L2 range is unallocated */
    if (l2 & (q->cluster_size - 1)) {
      lf_error (EINVAL, "%s: L1 entry %" PRIu64 ": L2 table at 0x%" PRIx64
                " is not aligned to the cluster size (%" PRIu64 ")",
                f->path, i, l2, q->cluster_size);
      goto error;
    }
    if (!lf_file_contains (f, l2, q->cluster_size)) {
      lf_error (EINVAL, "%s: L1 entry %" PRIu64 ": L2 table at 0x%" PRIx64
                " is beyond end of file (0x%" PRIx64 ")", f->path, i, l2,
                f->size);
      goto error;
    }
    q->l1[i] = l2;
  }
  if (build_meta (q) == -1)
    goto error;

  /* The L2 cache: at most QCOW2_L2_CACHE_BYTES of tables. */
  q->nr_slots = (unsigned) LF_MIN ((uint64_t) QCOW2_L2_CACHE_MAX_SLOTS,
                                   QCOW2_L2_CACHE_BYTES >> h->cluster_bits);
  q->cache = calloc (q->nr_slots, sizeof *q->cache);
  if (!q->cache) {
    lf_error (errno, "%s: qcow2 L2 cache: out of memory", f->path);
    goto error;
  }
  if (pthread_mutex_init (&q->lock, NULL) != 0) {
    lf_error (EAGAIN, "%s: qcow2: cannot create a mutex", f->path);
    goto error;
  }
  q->lock_init = true;

  snprintf (d->subformat, sizeof d->subformat, "v%" PRIu32 "%s%s%s",
            h->version, q->extended_l2 ? "+extl2" : "",
            h->compression_type == QCOW2_COMPRESSION_ZSTD ? "+zstd" : "",
            d->backing ? "+backing" : "");
  return q;

 error:
  /* d->backing, if opened, belongs to the disk and is closed with it. */
  qcow2_close (q);
  return NULL;
}

/* RUN_ZERO or RUN_BACKING if every entry of table T is that, else -1.
 * Lets a map over a table of zero or unallocated clusters answer in one
 * step, so a huge disk of them does not cost one step per cluster.
 */
static int
l2_uniform (const struct qcow2 *q, const uint64_t *t)
{
  bool zero = true, backing = true;

  for (uint64_t i = 0; i < q->l2_entries && (zero || backing); i++) {
    if (!q->extended_l2) {
      uint64_t e = t[i];
      zero = zero && (e & (QCOW2_OFLAG_ZERO | QCOW2_OFLAG_COMPRESSED)) ==
        QCOW2_OFLAG_ZERO;
      backing = backing && (e & ~QCOW2_OFLAG_COPIED) == 0;
    }
    else {
      uint64_t e = t[i * 2], bitmap = t[i * 2 + 1];
      bool plain = !(e & QCOW2_OFLAG_COMPRESSED);
      zero = zero && plain && bitmap == UINT64_C (0xffffffff00000000);
      backing = backing && plain && bitmap == 0;
    }
  }
  return zero ? RUN_ZERO : backing ? RUN_BACKING : -1;
}

/* The L2 table at L2OFF, host order, from the cache.  Call with the lock
 * held; the slot stays valid until the lock is released.
 */
static const struct l2_slot *
l2_get (struct qcow2 *q, uint64_t l1_index, uint64_t l2off)
{
  struct l2_slot *victim = NULL;
  uint64_t n = q->cluster_size / 8;

  q->tick++;
  for (unsigned i = 0; i < q->nr_slots; i++) {
    struct l2_slot *s = &q->cache[i];
    if (s->t && s->offset == l2off) {
      s->last_use = q->tick;
      return s;
    }
    if (!victim || s->last_use < victim->last_use)
      victim = &q->cache[i];
  }
  if (!victim->t) {
    victim->t = malloc (q->cluster_size);
    if (!victim->t) {
      lf_error (errno, "%s: L1 entry %" PRIu64 ": L2 table: out of memory",
                q->f->path, l1_index);
      return NULL;
    }
  }
  victim->offset = 0;
  victim->last_use = 0;
  if (lf_file_read (q->f, victim->t, q->cluster_size, l2off,
                    "qcow2 L2 table") == -1)
    return NULL;
  for (uint64_t i = 0; i < n; i++)
    victim->t[i] = lf_be64 (&victim->t[i]);
  victim->uniform = l2_uniform (q, victim->t);
  victim->offset = l2off;
  victim->last_use = q->tick;
  return victim;
}

/* Type of the granule (cluster, or subcluster with extended L2) holding
 * guest offset VOFF, whose L2 table T is at L2OFF.
 */
static int
classify (struct qcow2 *q, const uint64_t *t, uint64_t l2off, uint64_t voff,
          struct run *r)
{
  struct lf_file *f = q->f;
  uint64_t idx = (voff >> q->hdr.cluster_bits) & (q->l2_entries - 1);
  uint64_t entry = t[q->extended_l2 ? idx * 2 : idx];
  uint64_t off = entry & QCOW2_L2E_OFFSET_MASK;
  const struct meta_range *m;

  if (entry & QCOW2_OFLAG_COMPRESSED) {
    uint64_t sectors = ((entry >> q->csize_shift) & q->csize_mask) + 1;
    r->type = RUN_COMPRESSED;
    r->coffset = entry & q->coffset_mask;
    r->csize = sectors * QCOW2_COMPRESSED_SECTOR -
      (r->coffset & (QCOW2_COMPRESSED_SECTOR - 1));
    /* The last sector may run past the end of the file (qemu rounds the
     * length up to sectors); the start may not.
     */
    if (r->coffset < q->cluster_size || r->coffset >= f->size) {
      lf_error (EINVAL, "%s: L2 table at 0x%" PRIx64 ", entry %" PRIu64
                ": compressed cluster at 0x%" PRIx64 " is %s (0x%" PRIx64
                ")", f->path, l2off, idx, r->coffset,
                r->coffset >= f->size ? "beyond end of file" :
                "inside the header cluster", f->size);
      return -1;
    }
    if ((m = meta_overlap (q, r->coffset, r->csize))) {
      lf_error (EINVAL, "%s: L2 table at 0x%" PRIx64 ", entry %" PRIu64
                ": compressed cluster at 0x%" PRIx64 " (%" PRIu64 " bytes) "
                "overlaps %s at 0x%" PRIx64, f->path, l2off, idx, r->coffset,
                r->csize, m->what, m->start);
      return -1;
    }
    return 0;
  }

  if (!q->extended_l2) {
    if (entry & QCOW2_OFLAG_ZERO) {
      /* As qemu does, also for version 2, where the bit is reserved. */
      r->type = RUN_ZERO;
      return 0;
    }
    if (off == 0) {
      r->type = RUN_BACKING;
      return 0;
    }
  }
  else {
    uint64_t bitmap = t[idx * 2 + 1];
    uint32_t alloc = (uint32_t) bitmap, zero = (uint32_t) (bitmap >> 32);
    unsigned sc = (unsigned) (voff >> q->granule_bits) &
      (QCOW2_SUBCLUSTERS - 1);
    if (alloc & zero) {
      lf_error (EINVAL, "%s: L2 table at 0x%" PRIx64 ", entry %" PRIu64
                ": subcluster bitmap 0x%016" PRIx64 " marks subclusters "
                "both allocated and zero", f->path, l2off, idx, bitmap);
      return -1;
    }
    if (off == 0 && alloc) {
      lf_error (EINVAL, "%s: L2 table at 0x%" PRIx64 ", entry %" PRIu64
                ": subcluster bitmap 0x%016" PRIx64 " allocates subclusters "
                "of an unallocated cluster", f->path, l2off, idx, bitmap);
      return -1;
    }
    if (zero & (UINT32_C (1) << sc)) {
      r->type = RUN_ZERO;
      return 0;
    }
    if (!(alloc & (UINT32_C (1) << sc))) {
      r->type = RUN_BACKING;
      return 0;
    }
  }

  if (off & (q->cluster_size - 1)) {
    lf_error (EINVAL, "%s: L2 table at 0x%" PRIx64 ", entry %" PRIu64
              ": data cluster at 0x%" PRIx64 " is not aligned to the "
              "cluster size (%" PRIu64 ")", f->path, l2off, idx, off,
              q->cluster_size);
    return -1;
  }
  /* A data cluster whose tail runs past the end of the file reads as
   * zeros there (as qemu reads it); one starting beyond is corrupt.
   */
  if (off >= f->size) {
    lf_error (EINVAL, "%s: L2 table at 0x%" PRIx64 ", entry %" PRIu64
              ": data cluster at 0x%" PRIx64 " is beyond end of file (0x%"
              PRIx64 ")", f->path, l2off, idx, off, f->size);
    return -1;
  }
  if ((m = meta_overlap (q, off, q->cluster_size))) {
    lf_error (EINVAL, "%s: L2 table at 0x%" PRIx64 ", entry %" PRIu64
              ": data cluster at 0x%" PRIx64 " overlaps %s at 0x%" PRIx64,
              f->path, l2off, idx, off, m->what, m->start);
    return -1;
  }
  r->type = RUN_DATA;
  r->host = off + (voff & (q->cluster_size - 1));
  return 0;
}

/* Map guest [OFFSET, OFFSET + MAXLEN) as far as one kind of run goes,
 * within one L2 table.  A data run is contiguous in the file.  For pread
 * (FOR_EXTENT false) a compressed run is one cluster; for extent it goes
 * on over following compressed clusters.
 */
static int
map (struct qcow2 *q, uint64_t offset, uint64_t maxlen, bool for_extent,
     struct run *r)
{
  unsigned cb = q->hdr.cluster_bits;
  unsigned cover_bits = cb + q->l2_bits;        /* <= 21 + 18 */
  uint64_t l1_index = offset >> cover_bits;
  uint64_t cover_end, limit, granule = UINT64_C (1) << q->granule_bits;
  uint64_t l2off, voff;
  const struct l2_slot *slot;
  const uint64_t *t;
  int ret = -1;

  if (l1_index >= q->l1_entries) {
    lf_error (EINVAL, "internal error: %s: guest offset 0x%" PRIx64
              " is beyond the L1 table", q->f->path, offset);
    return -1;
  }
  cover_end = (l1_index + 1) << cover_bits;
  limit = LF_MIN (maxlen, cover_end - offset);
  l2off = q->l1[l1_index];
  memset (r, 0, sizeof *r);

  if (l2off == 0) {
    /* Unallocated, and so are the following empty L1 entries. */
    r->type = RUN_BACKING;
    for (uint64_t i = l1_index + 1;
         i < q->l1_entries && q->l1[i] == 0 && limit < maxlen; i++)
      limit = LF_MIN (maxlen, ((i + 1) << cover_bits) - offset);
    r->len = limit;
    return 0;
  }

  pthread_mutex_lock (&q->lock);
  slot = l2_get (q, l1_index, l2off);
  if (!slot)
    goto out;
  if (slot->uniform != -1) {
    r->type = (enum run_type) slot->uniform;
    r->len = limit;
    ret = 0;
    goto out;
  }
  t = slot->t;
  if (classify (q, t, l2off, offset, r) == -1)
    goto out;
  if (r->type == RUN_COMPRESSED && !for_extent) {
    r->len = LF_MIN (limit, q->cluster_size - (offset & (q->cluster_size - 1)));
    ret = 0;
    goto out;
  }
  r->len = LF_MIN (limit, granule - (offset & (granule - 1)));
  for (voff = offset + r->len; r->len < limit; voff += granule) {
    struct run next;
    if (classify (q, t, l2off, voff, &next) == -1)
      goto out;
    if (next.type != r->type)
      break;
    if (r->type == RUN_DATA && next.host != r->host + r->len)
      break;
    r->len += LF_MIN (granule, limit - r->len);
  }
  ret = 0;
 out:
  pthread_mutex_unlock (&q->lock);
  return ret;
}

/* Per-call scratch for compressed clusters, so parallel readers share
 * nothing.  Allocated on the first compressed cluster of a call.
 */
struct scratch {
  uint8_t *in;                  /* compressed bytes, at most 2 clusters */
  uint8_t *out;                 /* one cluster */
  z_stream z;
  bool z_init;
  ZSTD_DCtx *zstd;
};

static void
scratch_free (struct scratch *s)
{
  free (s->in);
  free (s->out);
  if (s->z_init)
    inflateEnd (&s->z);
  ZSTD_freeDCtx (s->zstd);
}

static int
inflate_zlib (struct qcow2 *q, struct scratch *s, const uint8_t *in,
              size_t inlen, uint8_t *out, uint64_t coffset)
{
  int r;

  if (!s->z_init) {
    memset (&s->z, 0, sizeof s->z);
    /* Raw deflate with a 4 KiB window, as qemu writes it. */
    if (inflateInit2 (&s->z, -12) != Z_OK) {
      lf_error (ENOMEM, "%s: zlib: cannot initialise inflate", q->f->path);
      return -1;
    }
    s->z_init = true;
  }
  else if (inflateReset (&s->z) != Z_OK) {
    lf_error (EIO, "%s: zlib: cannot reset inflate", q->f->path);
    return -1;
  }
  s->z.next_in = (Bytef *) in;
  s->z.avail_in = (uInt) inlen;
  s->z.next_out = out;
  s->z.avail_out = (uInt) q->cluster_size;
  r = inflate (&s->z, Z_FINISH);
  /* A full cluster is success even if the stream goes on (qemu). */
  if ((r != Z_STREAM_END && r != Z_BUF_ERROR) || s->z.avail_out != 0) {
    lf_error (EINVAL, "%s: compressed cluster at 0x%" PRIx64 " (%zu bytes): "
              "zlib inflate %s, %" PRIu64 " of %" PRIu64 " bytes", q->f->path,
              coffset, inlen, r == Z_STREAM_END || r == Z_BUF_ERROR ?
              "ended early" : (s->z.msg ? s->z.msg : "failed"),
              q->cluster_size - s->z.avail_out, q->cluster_size);
    return -1;
  }
  return 0;
}

static int
inflate_zstd (struct qcow2 *q, struct scratch *s, const uint8_t *in,
              size_t inlen, uint8_t *out, uint64_t coffset)
{
  ZSTD_inBuffer ib = { in, inlen, 0 };
  ZSTD_outBuffer ob = { out, q->cluster_size, 0 };
  size_t r = 0;

  if (!s->zstd) {
    s->zstd = ZSTD_createDCtx ();
    if (!s->zstd) {
      lf_error (ENOMEM, "%s: zstd: cannot create a context", q->f->path);
      return -1;
    }
  }
  else
    ZSTD_DCtx_reset (s->zstd, ZSTD_reset_session_only);
  /* Streaming, since the input is padded to sectors after the frame. */
  while (ob.pos < ob.size) {
    size_t in_pos = ib.pos, out_pos = ob.pos;
    r = ZSTD_decompressStream (s->zstd, &ob, &ib);
    if (ZSTD_isError (r)) {
      lf_error (EINVAL, "%s: compressed cluster at 0x%" PRIx64 " (%zu "
                "bytes): zstd: %s", q->f->path, coffset, inlen,
                ZSTD_getErrorName (r));
      return -1;
    }
    if (ib.pos == in_pos && ob.pos == out_pos)
      break;                    /* no progress: input exhausted */
  }
  if (ob.pos != ob.size) {
    lf_error (EINVAL, "%s: compressed cluster at 0x%" PRIx64 " (%zu bytes): "
              "zstd output is %zu bytes, not the cluster size (%" PRIu64 ")",
              q->f->path, coffset, inlen, ob.pos, q->cluster_size);
    return -1;
  }
  return 0;
}

/* Inflate the compressed cluster of R and copy the part asked for. */
static int
read_compressed (struct qcow2 *q, struct scratch *s, const struct run *r,
                 uint8_t *buf, uint64_t offset)
{
  uint64_t within = offset & (q->cluster_size - 1);
  uint64_t avail = q->f->size - r->coffset;     /* > 0: classify checked */
  size_t inlen = (size_t) LF_MIN (r->csize, avail);
  bool direct = within == 0 && r->len == q->cluster_size;
  uint8_t *out;

  if (!s->in) {
    s->in = malloc (2 * q->cluster_size);       /* csize <= 2 clusters */
    if (!s->in) {
      lf_error (errno, "%s: compressed cluster: out of memory", q->f->path);
      return -1;
    }
  }
  if (!direct && !s->out) {
    s->out = malloc (q->cluster_size);
    if (!s->out) {
      lf_error (errno, "%s: compressed cluster: out of memory", q->f->path);
      return -1;
    }
  }
  out = direct ? buf : s->out;
  if (lf_file_read (q->f, s->in, inlen, r->coffset,
                    "qcow2 compressed cluster") == -1)
    return -1;
  if (q->hdr.compression_type == QCOW2_COMPRESSION_ZSTD) {
    if (inflate_zstd (q, s, s->in, inlen, out, r->coffset) == -1)
      return -1;
  }
  else if (inflate_zlib (q, s, s->in, inlen, out, r->coffset) == -1)
    return -1;
  if (!direct)
    memcpy (buf, s->out + within, r->len);
  return 0;
}

static int
qcow2_pread (void *hv, void *bufv, size_t count, uint64_t offset)
{
  struct qcow2 *q = hv;
  uint8_t *buf = bufv;
  struct scratch s = { 0 };
  int ret = -1;

  while (count > 0) {
    struct run r;
    if (map (q, offset, count, false, &r) == -1)
      goto out;
    switch (r.type) {
    case RUN_DATA: {
      uint64_t avail = q->f->size > r.host ? q->f->size - r.host : 0;
      size_t n = (size_t) LF_MIN (r.len, avail);
      if (n && lf_file_read (q->f, buf, n, r.host, "qcow2 data cluster") == -1)
        goto out;
      memset (buf + n, 0, r.len - n);
      break;
    }
    case RUN_ZERO:
      memset (buf, 0, r.len);
      break;
    case RUN_BACKING:
      if (q->d->backing) {
        if (lf_disk_pread_padded (q->d->backing, buf, r.len, offset) == -1)
          goto out;
      }
      else
        memset (buf, 0, r.len);
      break;
    case RUN_COMPRESSED:
      if (read_compressed (q, &s, &r, buf, offset) == -1)
        goto out;
      break;
    }
    buf += r.len;
    offset += r.len;
    count -= r.len;
  }
  ret = 0;
 out:
  scratch_free (&s);
  return ret;
}

static int
qcow2_extent (void *hv, uint64_t offset, uint64_t *len, unsigned *type)
{
  struct qcow2 *q = hv;
  struct run r;

  if (map (q, offset, *len, true, &r) == -1)
    return -1;
  switch (r.type) {
  case RUN_BACKING:
    if (q->d->backing) {
      uint64_t n = r.len;
      if (lf_disk_extent_padded (q->d->backing, offset, &n, type) == -1)
        return -1;
      *len = n;
      return 0;
    }
    *type = LF_EXTENT_ZERO;
    break;
  case RUN_ZERO:
    *type = LF_EXTENT_ZERO;
    break;
  case RUN_DATA: {
    /* Clusters allocated over a hole of the file (qemu-img create -o
     * preallocation=metadata, or a tail past the end) read as zeros.
     */
    uint64_t n = r.len;
    if (lf_file_extent (q->f, r.host, &n, type) == -1)
      return -1;
    *len = n;
    return 0;
  }
  case RUN_COMPRESSED:
    *type = LF_EXTENT_DATA;
    break;
  }
  *len = r.len;
  return 0;
}

static void
qcow2_close (void *hv)
{
  struct qcow2 *q = hv;

  if (!q)
    return;
  if (q->cache)
    for (unsigned i = 0; i < q->nr_slots; i++)
      free (q->cache[i].t);
  free (q->cache);
  free (q->l1);
  free (q->meta);
  if (q->lock_init)
    pthread_mutex_destroy (&q->lock);
  free (q);
}

const struct lf_format qcow2_format = {
  .name    = "qcow2",
  .probe   = qcow2_probe,   /* LF_MATCH on the magic "QFI\xfb" */
  .open    = qcow2_open,
  .pread   = qcow2_pread,
  .extent  = qcow2_extent,
  .close   = qcow2_close,
};

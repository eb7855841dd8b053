/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall convert/: VHDX reader — fixed, dynamic and differencing, read
 * only, with the metadata log replayed in memory.
 *
 * Layout (disks.md §7, MS-VHDX): the first 1 MiB is the header section in
 * 64 KiB slots: the file identifier "vhdxfile" @0, two headers @64 KiB and
 * @128 KiB (the valid one with the higher sequence number wins), two
 * region tables @192 KiB and @256 KiB locating the BAT and the metadata
 * region.  The metadata region holds a 64 KiB table of items (block size,
 * virtual size, sector sizes, parent locator).  The BAT has one 64-bit
 * entry per payload block, with one sector bitmap entry after every
 * "chunk ratio" payload entries.
 *
 * If the current header names a log (non-zero log GUID), the log may hold
 * metadata and BAT updates that never reached their place: the BAT and
 * metadata cannot be trusted until it is replayed.  qemu refuses such a
 * file read-only; we replay it in memory instead, never touching the file:
 * the replayed sectors become an "overlay" that every read of the file goes
 * through (vhdx_read).
 *
 * Every field is decoded once into host order and checked right after.
 * Everything pread needs is loaded at open, so reads take no lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "convert/format.h"

/* ---------------------------------------------------------------------- */
/* On-disk structures.  NB. All fields are little-endian. */

struct vhdx_file_id {
  char     signature[8];        /* 0x000 "vhdxfile" */
  uint16_t creator[256];        /* 0x008 UTF-16LE, NUL-terminated */
} __attribute__ ((packed));
_Static_assert (sizeof (struct vhdx_file_id) == 520, "file id is 520 bytes");

struct vhdx_header {
  char     signature[4];        /* 0x000 "head" */
  uint32_t checksum;            /* 0x004 CRC-32C of the 4 KiB, this zeroed */
  uint64_t sequence_number;     /* 0x008 the higher valid one is current */
  uint8_t  file_write_guid[16]; /* 0x010 */
  uint8_t  data_write_guid[16]; /* 0x020 a child's parent_linkage names it */
  uint8_t  log_guid[16];        /* 0x030 all zero: no log to replay */
  uint16_t log_version;         /* 0x040 0 */
  uint16_t version;             /* 0x042 1 */
  uint32_t log_length;          /* 0x044 multiple of 1 MiB */
  uint64_t log_offset;          /* 0x048 multiple of 1 MiB, >= 1 MiB */
  uint8_t  reserved[4016];      /* 0x050 */
} __attribute__ ((packed));
_Static_assert (sizeof (struct vhdx_header) == 4096, "header is 4 KiB");
_Static_assert (offsetof (struct vhdx_header, log_offset) == 0x48,
                "log offset at 0x48");

struct vhdx_region_table_header {
  char     signature[4];        /* 0x00 "regi" */
  uint32_t checksum;            /* 0x04 CRC-32C of the 64 KiB table */
  uint32_t entry_count;         /* 0x08 at most 2047 */
  uint32_t reserved;            /* 0x0c */
} __attribute__ ((packed));
_Static_assert (sizeof (struct vhdx_region_table_header) == 16,
                "region table header is 16 bytes");

struct vhdx_region_table_entry {
  uint8_t  guid[16];            /* 0x00 BAT, metadata, or unknown */
  uint64_t file_offset;         /* 0x10 multiple of 1 MiB, >= 1 MiB */
  uint32_t length;              /* 0x18 multiple of 1 MiB */
  uint32_t flags;               /* 0x1c bit 0: required */
} __attribute__ ((packed));
_Static_assert (sizeof (struct vhdx_region_table_entry) == 32,
                "region table entry is 32 bytes");

struct vhdx_metadata_table_header {
  char     signature[8];        /* 0x00 "metadata" */
  uint16_t reserved;            /* 0x08 */
  uint16_t entry_count;         /* 0x0a at most 2047 */
  uint8_t  reserved2[20];       /* 0x0c */
} __attribute__ ((packed));
_Static_assert (sizeof (struct vhdx_metadata_table_header) == 32,
                "metadata table header is 32 bytes");

struct vhdx_metadata_table_entry {
  uint8_t  item_id[16];         /* 0x00 */
  uint32_t offset;              /* 0x10 from the region start, >= 64 KiB */
  uint32_t length;              /* 0x14 at most 1 MiB */
  uint32_t flags;               /* 0x18 bit 0 user, 1 virtual disk,
                                           2 required */
  uint32_t reserved;            /* 0x1c */
} __attribute__ ((packed));
_Static_assert (sizeof (struct vhdx_metadata_table_entry) == 32,
                "metadata table entry is 32 bytes");

struct vhdx_file_parameters {
  uint32_t block_size;          /* 0x00 1 MiB .. 256 MiB, power of 2 */
  uint32_t flags;               /* 0x04 bit 0 leave blocks allocated,
                                        bit 1 has parent */
} __attribute__ ((packed));
_Static_assert (sizeof (struct vhdx_file_parameters) == 8,
                "file parameters are 8 bytes");

struct vhdx_parent_locator_header {
  uint8_t  locator_type[16];    /* 0x00 VHDX_PARENT_LOCATOR_GUID */
  uint16_t reserved;            /* 0x10 */
  uint16_t key_value_count;     /* 0x12 */
} __attribute__ ((packed));
_Static_assert (sizeof (struct vhdx_parent_locator_header) == 20,
                "parent locator header is 20 bytes");

struct vhdx_parent_locator_entry {
  uint32_t key_offset;          /* 0x00 from the item start */
  uint32_t value_offset;        /* 0x04 */
  uint16_t key_length;          /* 0x08 bytes of UTF-16LE */
  uint16_t value_length;        /* 0x0a */
} __attribute__ ((packed));
_Static_assert (sizeof (struct vhdx_parent_locator_entry) == 12,
                "parent locator entry is 12 bytes");

struct vhdx_log_entry_header {
  char     signature[4];        /* 0x00 "loge" */
  uint32_t checksum;            /* 0x04 CRC-32C of the whole entry */
  uint32_t entry_length;        /* 0x08 multiple of 4 KiB */
  uint32_t tail;                /* 0x0c offset of the sequence's first entry */
  uint64_t sequence_number;     /* 0x10 > 0 */
  uint32_t descriptor_count;    /* 0x18 */
  uint32_t reserved;            /* 0x1c */
  uint8_t  log_guid[16];        /* 0x20 must match the header's */
  uint64_t flushed_file_offset; /* 0x30 the file is at least this long */
  uint64_t last_file_offset;    /* 0x38 the file's size after the entry */
} __attribute__ ((packed));
_Static_assert (sizeof (struct vhdx_log_entry_header) == 64,
                "log entry header is 64 bytes");

/* A data descriptor ("desc") or a zero descriptor ("zero"). */
struct vhdx_log_descriptor {
  char     signature[4];        /* 0x00 "desc" or "zero" */
  uint32_t trailing_bytes;      /* 0x04 desc: last 4 bytes of the sector */
  uint64_t leading_bytes;       /* 0x08 desc: first 8 bytes; zero: length */
  uint64_t file_offset;         /* 0x10 multiple of 4 KiB */
  uint64_t sequence_number;     /* 0x18 = the entry's */
} __attribute__ ((packed));
_Static_assert (sizeof (struct vhdx_log_descriptor) == 32,
                "log descriptor is 32 bytes");

struct vhdx_log_data_sector {
  char     signature[4];        /* 0x000 "data" */
  uint32_t sequence_high;       /* 0x004 */
  uint8_t  data[4084];          /* 0x008 bytes 8..4091 of the sector */
  uint32_t sequence_low;        /* 0xffc */
} __attribute__ ((packed));
_Static_assert (sizeof (struct vhdx_log_data_sector) == 4096,
                "log data sector is 4 KiB");

/* GUIDs as stored on disk (the first three fields little-endian). */
static const uint8_t VHDX_BAT_GUID[16] = {   /* 2DC27766-F623-4200-9D64-115E9BFD4A08 */
  0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42,
  0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08 };
static const uint8_t VHDX_METADATA_GUID[16] = { /* 8B7CA206-4790-4B9A-B8FE-575F050F886E */
  0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b,
  0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e };
static const uint8_t VHDX_FILE_PARAMETERS_GUID[16] = { /* CAA16737-FA36-4D43-B3B6-33F0AA44E76B */
  0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa, 0x43, 0x4d,
  0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b };
static const uint8_t VHDX_VIRTUAL_DISK_SIZE_GUID[16] = { /* 2FA54224-CD1B-4876-B211-5DBED83BF4B8 */
  0x24, 0x42, 0xa5, 0x2f, 0x1b, 0xcd, 0x76, 0x48,
  0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8 };
static const uint8_t VHDX_PAGE83_GUID[16] = { /* BECA12AB-B2E6-4523-93EF-C309E000C746 */
  0xab, 0x12, 0xca, 0xbe, 0xe6, 0xb2, 0x23, 0x45,
  0x93, 0xef, 0xc3, 0x09, 0xe0, 0x00, 0xc7, 0x46 };
static const uint8_t VHDX_LOGICAL_SECTOR_GUID[16] = { /* 8141BF1D-A96F-4709-BA47-F233A8FAAB5F */
  0x1d, 0xbf, 0x41, 0x81, 0x6f, 0xa9, 0x09, 0x47,
  0xba, 0x47, 0xf2, 0x33, 0xa8, 0xfa, 0xab, 0x5f };
static const uint8_t VHDX_PHYSICAL_SECTOR_GUID[16] = { /* CDA348C7-445D-4471-9CC9-E9885251C556 */
  0xc7, 0x48, 0xa3, 0xcd, 0x5d, 0x44, 0x71, 0x44,
  0x9c, 0xc9, 0xe9, 0x88, 0x52, 0x51, 0xc5, 0x56 };
static const uint8_t VHDX_PARENT_LOCATOR_GUID[16] = { /* A8D35F2D-B30B-454D-ABF7-D3D84834AB0C */
  0x2d, 0x5f, 0xd3, 0xa8, 0x0b, 0xb3, 0x4d, 0x45,
  0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c };
static const uint8_t VHDX_PARENT_TYPE_VHDX_GUID[16] = { /* B04AEFB7-D19E-4A81-B789-25B8E9445913 */
  0xb7, 0xef, 0x4a, 0xb0, 0x9e, 0xd1, 0x81, 0x4a,
  0xb7, 0x89, 0x25, 0xb8, 0xe9, 0x44, 0x59, 0x13 };

/* Fixed places. */
#define VHDX_HEADER_SECTION      (1 * LF_MiB)
#define VHDX_HEADER1_OFFSET      (64 * LF_KiB)
#define VHDX_HEADER2_OFFSET      (128 * LF_KiB)
#define VHDX_HEADER_SIZE         4096u
#define VHDX_REGION1_OFFSET      (192 * LF_KiB)
#define VHDX_REGION2_OFFSET      (256 * LF_KiB)
#define VHDX_REGION_TABLE_SIZE   (64u * 1024)
#define VHDX_METADATA_TABLE_SIZE (64u * 1024)
#define VHDX_LOG_SECTOR          4096u
#define VHDX_SECTOR_BITMAP_SIZE  (1 * LF_MiB)
#define VHDX_ALIGN               (1 * LF_MiB)

/* Limits: "these stop really stupid stuff and/or exploits" (hivex). */
#define VHDX_MAX_REGION_ENTRIES   2047u  /* what fits in 64 KiB */
#define VHDX_MAX_METADATA_ENTRIES 2047u
#define VHDX_MAX_METADATA_ITEM    (1u * 1024 * 1024)
#define VHDX_MIN_BLOCK_SIZE       (1u * 1024 * 1024)
#define VHDX_MAX_BLOCK_SIZE       (256u * 1024 * 1024)
#define VHDX_MAX_VIRTUAL_SIZE     (64 * LF_TiB)
/* 64 TiB in 1 MiB blocks, plus the sector bitmap entries: 512 MiB. */
#define VHDX_MAX_BAT_ENTRIES      ((UINT64_C (1) << 26) + (UINT64_C (1) << 16))
/* Hyper-V and qemu make 1 MiB logs. */
#define VHDX_MAX_LOG_LENGTH       (64u * 1024 * 1024)
#define VHDX_MAX_LOG_DESCRIPTORS  65536u
/* CRC work while searching the log for its active sequence. */
#define VHDX_MAX_LOG_SCAN_BYTES   (256 * LF_MiB)
#define VHDX_MAX_FILE_SIZE        (128 * LF_TiB)
#define VHDX_MAX_LOCATOR_ENTRIES  256u

/* BAT entry states. */
#define VHDX_BAT_STATE_MASK          UINT64_C (7)
#define PAYLOAD_BLOCK_NOT_PRESENT       0
#define PAYLOAD_BLOCK_UNDEFINED         1
#define PAYLOAD_BLOCK_ZERO              2
#define PAYLOAD_BLOCK_UNMAPPED          3
#define PAYLOAD_BLOCK_FULLY_PRESENT     6
#define PAYLOAD_BLOCK_PARTIALLY_PRESENT 7
#define SB_BLOCK_PRESENT                6

#define VHDX_REGION_REQUIRED   UINT32_C (1)
#define VHDX_META_IS_REQUIRED  UINT32_C (4)
#define VHDX_PARAM_LEAVE_BLOCKS_ALLOCATED UINT32_C (1)
#define VHDX_PARAM_HAS_PARENT             UINT32_C (2)

/* ---------------------------------------------------------------------- */
/* CRC-32C (Castagnoli, reflected 0x82F63B78), table driven. */

static uint32_t crc32c_table[256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static void
crc32c_init (void)
{
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = (c & 1) ? (c >> 1) ^ UINT32_C (0x82f63b78) : c >> 1;
    crc32c_table[i] = c;
  }
}

/* Continue CRC (pass 0 to start) over LEN bytes. */
static uint32_t
crc32c_update (uint32_t crc, const void *buf, size_t len)
{
  const uint8_t *p = buf;

  pthread_once (&crc32c_once, crc32c_init);
  crc = ~crc;
  while (len--)
    crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

/* The CRC of BUF with its 4-byte checksum field (at 4) read as zero. */
static uint32_t
crc32c_with_zero_field (const uint8_t *buf, size_t len)
{
  static const uint8_t zero[4];
  uint32_t crc = crc32c_update (0, buf, 4);
  crc = crc32c_update (crc, zero, 4);
  return crc32c_update (crc, buf + 8, len - 8);
}

/* ---------------------------------------------------------------------- */
/* Decoded, checked structures (host order). */

struct vhdx_header_info {
  uint64_t sequence_number;
  uint8_t data_write_guid[16];
  uint8_t log_guid[16];
  uint32_t log_length;
  uint64_t log_offset;
};

struct vhdx_region {
  uint64_t offset;
  uint32_t length;
};

struct vhdx_regions {
  struct vhdx_region bat, metadata;
};

struct vhdx_metadata_entry {
  uint8_t item_id[16];
  uint32_t offset, length, flags;
};

/* One piece of the replayed log: [start, end) of the file reads from SRC
 * (SRC[0] is the byte at SRC_BASE), or as zeros when SRC is NULL.
 */
struct vhdx_overlay_seg {
  uint64_t start, end;
  const uint8_t *src;
  uint64_t src_base;
};

struct vhdx {
  struct lf_file *f;
  struct lf_disk *d;
  uint64_t file_size;           /* the file's size after the log replay */
  uint64_t size;                /* virtual */
  uint32_t block_size;
  uint32_t logical_sector_size;
  uint32_t physical_sector_size;
  uint64_t chunk_ratio;
  uint64_t nr_blocks;
  uint64_t bat_entries;
  uint64_t *bat;                /* every entry, host order */
  bool has_parent, leave_allocated;
  uint8_t data_write_guid[16];
  uint8_t page83[16];
  struct vhdx_regions regions;
  uint64_t log_offset, log_length;
  struct vhdx_overlay_seg *overlay;
  size_t nr_overlay;
  uint8_t *overlay_data;        /* replayed data sectors, 4 KiB each */
};

static bool
guid_is_zero (const uint8_t *g)
{
  return lf_is_zero (g, 16);
}

/* "XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX" into BUF (at least 37 bytes). */
static const char *
guid_to_string (const uint8_t *g, char *buf, size_t len)
{
  snprintf (buf, len, "%08" PRIX32 "-%04X-%04X-%02X%02X-"
            "%02X%02X%02X%02X%02X%02X",
            lf_le32 (g), (unsigned) lf_le16 (g + 4), (unsigned) lf_le16 (g + 6),
            g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
  return buf;
}

static bool
ranges_overlap (uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
  /* Callers have checked that neither end overflows. */
  return alen && blen && a < b + blen && b < a + alen;
}

/* ---------------------------------------------------------------------- */
/* Structure decoders.  Each takes the raw bytes, names PATH and WHERE in
 * its errors, and leaves a checked host-order result.
 */

/* The file identifier: 8 bytes of signature then the creator.  *CREATOR
 * (may be NULL) gets a new UTF-8 string.
 */
static int
vhdx_decode_file_id (const uint8_t *buf, size_t len, const char *path,
                     char **creator)
{
  const struct vhdx_file_id *id = (const void *) buf;

  if (len < sizeof *id) {
    lf_error (EINVAL, "%s: VHDX file identifier is %zu bytes, expected %zu",
              path, len, sizeof *id);
    return -1;
  }
  if (memcmp (id->signature, "vhdxfile", 8) != 0) {
    lf_error (EINVAL, "%s: VHDX file identifier: bad signature (expected "
              "\"vhdxfile\")", path);
    return -1;
  }
  if (creator) {
    *creator = lf_utf16_to_utf8 (id->creator, sizeof id->creator, false);
    if (!*creator) {
      lf_error (ENOMEM, "%s: VHDX file identifier: out of memory", path);
      return -1;
    }
  }
  return 0;
}

/* One of the two 4 KiB headers. */
static int
vhdx_decode_header (const uint8_t *buf, const char *path, const char *where,
                    struct vhdx_header_info *ret)
{
  const struct vhdx_header *h = (const void *) buf;
  uint32_t stored, crc;
  uint16_t version, log_version;
  uint64_t end;

  if (memcmp (h->signature, "head", 4) != 0) {
    lf_error (EINVAL, "%s: VHDX %s: bad signature (expected \"head\")",
              path, where);
    return -1;
  }
  stored = lf_le32 (&h->checksum);
  crc = crc32c_with_zero_field (buf, VHDX_HEADER_SIZE);
  if (!lf_fuzzing && crc != stored) {
    lf_error (EINVAL, "%s: VHDX %s: checksum 0x%08" PRIx32 " does not match "
              "the contents (0x%08" PRIx32 ")", path, where, stored, crc);
    return -1;
  }
  memset (ret, 0, sizeof *ret);
  ret->sequence_number = lf_le64 (&h->sequence_number);
  memcpy (ret->data_write_guid, h->data_write_guid, 16);
  memcpy (ret->log_guid, h->log_guid, 16);
  version = lf_le16 (&h->version);
  log_version = lf_le16 (&h->log_version);
  ret->log_length = lf_le32 (&h->log_length);
  ret->log_offset = lf_le64 (&h->log_offset);

  /* Sanity checks. */
  if (version != 1) {
    lf_error (ENOTSUP, "%s: VHDX %s: version %u is not supported (only 1)",
              path, where, (unsigned) version);
    return -1;
  }
  if (log_version != 0) {
    lf_error (ENOTSUP, "%s: VHDX %s: log version %u is not supported "
              "(only 0)", path, where, (unsigned) log_version);
    return -1;
  }
  if (ret->log_length % VHDX_ALIGN != 0) {
    lf_error (EINVAL, "%s: VHDX %s: log length 0x%" PRIx32 " is not a "
              "multiple of 1 MiB", path, where, ret->log_length);
    return -1;
  }
  if (ret->log_length &&
      (ret->log_offset < VHDX_HEADER_SECTION ||
       ret->log_offset % VHDX_ALIGN != 0 ||
       ADD_OVERFLOW (ret->log_offset, (uint64_t) ret->log_length, &end) ||
       end > VHDX_MAX_FILE_SIZE)) {
    lf_error (EINVAL, "%s: VHDX %s: log offset 0x%" PRIx64 " is not a "
              "multiple of 1 MiB past the header section, or too large",
              path, where, ret->log_offset);
    return -1;
  }
  return 0;
}

/* A 64 KiB region table (BUF holds VHDX_REGION_TABLE_SIZE bytes). */
static int
vhdx_decode_region_table (const uint8_t *buf, const char *path,
                          const char *where, struct vhdx_regions *ret)
{
  const struct vhdx_region_table_header *rh = (const void *) buf;
  uint32_t stored, crc, count;
  bool have_bat = false, have_meta = false;

  if (memcmp (rh->signature, "regi", 4) != 0) {
    lf_error (EINVAL, "%s: VHDX %s: bad signature (expected \"regi\")",
              path, where);
    return -1;
  }
  stored = lf_le32 (&rh->checksum);
  crc = crc32c_with_zero_field (buf, VHDX_REGION_TABLE_SIZE);
  if (!lf_fuzzing && crc != stored) {
    lf_error (EINVAL, "%s: VHDX %s: checksum 0x%08" PRIx32 " does not match "
              "the contents (0x%08" PRIx32 ")", path, where, stored, crc);
    return -1;
  }
  count = lf_le32 (&rh->entry_count);
  if (count > VHDX_MAX_REGION_ENTRIES) {
    lf_error (EINVAL, "%s: VHDX %s: %" PRIu32 " entries, more than the "
              "limit of %u", path, where, count, VHDX_MAX_REGION_ENTRIES);
    return -1;
  }
  memset (ret, 0, sizeof *ret);
  for (uint32_t i = 0; i < count; i++) {
    const struct vhdx_region_table_entry *e =
      (const void *) (buf + sizeof *rh + (size_t) i * sizeof *e);
    uint64_t off = lf_le64 (&e->file_offset), end;
    uint32_t len = lf_le32 (&e->length), flags = lf_le32 (&e->flags);
    struct vhdx_region *r = NULL;
    char g[40];

    if (memcmp (e->guid, VHDX_BAT_GUID, 16) == 0) {
      if (have_bat) {
        lf_error (EINVAL, "%s: VHDX %s: entry %" PRIu32 ": a second BAT "
                  "region", path, where, i);
        return -1;
      }
      have_bat = true;
      r = &ret->bat;
    }
    else if (memcmp (e->guid, VHDX_METADATA_GUID, 16) == 0) {
      if (have_meta) {
        lf_error (EINVAL, "%s: VHDX %s: entry %" PRIu32 ": a second metadata "
                  "region", path, where, i);
        return -1;
      }
      have_meta = true;
      r = &ret->metadata;
    }
    else if (flags & VHDX_REGION_REQUIRED) {
      lf_error (ENOTSUP, "%s: VHDX %s: entry %" PRIu32 ": unknown region "
                "{%s} is marked required", path, where, i,
                guid_to_string (e->guid, g, sizeof g));
      return -1;
    }
    else
      continue;                 /* an optional region we do not know */

    if (off < VHDX_HEADER_SECTION || off % VHDX_ALIGN != 0 ||
        len == 0 || len % VHDX_ALIGN != 0 ||
        ADD_OVERFLOW (off, (uint64_t) len, &end) ||
        end > VHDX_MAX_FILE_SIZE) {
      lf_error (EINVAL, "%s: VHDX %s: entry %" PRIu32 ": %s region at 0x%"
                PRIx64 " (0x%" PRIx32 " bytes) is not 1 MiB aligned past "
                "the header section", path, where, i,
                r == &ret->bat ? "BAT" : "metadata", off, len);
      return -1;
    }
    r->offset = off;
    r->length = len;
  }
  if (!have_bat || !have_meta) {
    lf_error (EINVAL, "%s: VHDX %s: no %s region", path, where,
              !have_bat ? "BAT" : "metadata");
    return -1;
  }
  if (ranges_overlap (ret->bat.offset, ret->bat.length,
                      ret->metadata.offset, ret->metadata.length)) {
    lf_error (EINVAL, "%s: VHDX %s: BAT region at 0x%" PRIx64 " overlaps the "
              "metadata region at 0x%" PRIx64, path, where, ret->bat.offset,
              ret->metadata.offset);
    return -1;
  }
  return 0;
}

/* The metadata table header (32 bytes): returns the entry count. */
static int
vhdx_decode_metadata_table_header (const uint8_t *buf, const char *path,
                                   uint32_t *count)
{
  const struct vhdx_metadata_table_header *mh = (const void *) buf;

  if (memcmp (mh->signature, "metadata", 8) != 0) {
    lf_error (EINVAL, "%s: VHDX metadata table: bad signature (expected "
              "\"metadata\")", path);
    return -1;
  }
  *count = lf_le16 (&mh->entry_count);
  if (*count > VHDX_MAX_METADATA_ENTRIES) {
    lf_error (EINVAL, "%s: VHDX metadata table: %" PRIu32 " entries, more "
              "than the limit of %u", path, *count, VHDX_MAX_METADATA_ENTRIES);
    return -1;
  }
  return 0;
}

/* One metadata table entry (32 bytes), checked against a region of
 * REGION_LENGTH bytes.
 */
static int
vhdx_decode_metadata_entry (const uint8_t *buf, const char *path,
                            uint32_t index, uint32_t region_length,
                            struct vhdx_metadata_entry *ret)
{
  const struct vhdx_metadata_table_entry *e = (const void *) buf;
  uint64_t end;
  char g[40];

  memcpy (ret->item_id, e->item_id, 16);
  ret->offset = lf_le32 (&e->offset);
  ret->length = lf_le32 (&e->length);
  ret->flags = lf_le32 (&e->flags);

  if (ret->length == 0)         /* spec: offset must then be zero too */
    return 0;
  if (ret->length > VHDX_MAX_METADATA_ITEM) {
    lf_error (EINVAL, "%s: VHDX metadata entry %" PRIu32 " {%s}: length %"
              PRIu32 " is larger than the limit of %u", path, index,
              guid_to_string (ret->item_id, g, sizeof g), ret->length,
              VHDX_MAX_METADATA_ITEM);
    return -1;
  }
  end = (uint64_t) ret->offset + ret->length;
  if (ret->offset < VHDX_METADATA_TABLE_SIZE || end > region_length) {
    lf_error (EINVAL, "%s: VHDX metadata entry %" PRIu32 " {%s}: item at 0x%"
              PRIx32 " (%" PRIu32 " bytes) is outside the metadata region "
              "(0x%" PRIx32 " bytes, items from 0x10000)", path, index,
              guid_to_string (ret->item_id, g, sizeof g), ret->offset,
              ret->length, region_length);
    return -1;
  }
  return 0;
}

/* File parameters item (8 bytes). */
static int
vhdx_decode_file_parameters (const uint8_t *buf, const char *path,
                             uint32_t *block_size, uint32_t *flags)
{
  const struct vhdx_file_parameters *p = (const void *) buf;

  *block_size = lf_le32 (&p->block_size);
  *flags = lf_le32 (&p->flags);
  if (*block_size < VHDX_MIN_BLOCK_SIZE || *block_size > VHDX_MAX_BLOCK_SIZE ||
      !lf_is_power_of_2 (*block_size)) {
    lf_error (EINVAL, "%s: VHDX file parameters: block size %" PRIu32 " is "
              "not a power of 2 between 1 MiB and 256 MiB", path, *block_size);
    return -1;
  }
  return 0;
}

/* A parent locator key or value: UTF-16LE at OFF (LEN bytes) in the item. */
static char *
locator_string (const uint8_t *item, uint32_t item_len, uint32_t off,
                uint16_t len, const char *path, uint32_t index,
                const char *what)
{
  uint64_t end = (uint64_t) off + len;
  char *s;

  if (len == 0 || len % 2 != 0 || end > item_len) {
    lf_error (EINVAL, "%s: VHDX parent locator entry %" PRIu32 ": %s at 0x%"
              PRIx32 " (%u bytes) is empty, odd or outside the item (%" PRIu32
              " bytes)", path, index, what, off, (unsigned) len, item_len);
    return NULL;
  }
  s = lf_utf16_to_utf8 (item + off, len, false);
  if (!s)
    lf_error (ENOMEM, "%s: VHDX parent locator: out of memory", path);
  return s;
}

struct vhdx_parent_locator {
  char *parent_linkage, *parent_linkage2, *relative_path,
    *absolute_win32_path, *volume_path;
};

static void
vhdx_free_parent_locator (struct vhdx_parent_locator *pl)
{
  free (pl->parent_linkage);
  free (pl->parent_linkage2);
  free (pl->relative_path);
  free (pl->absolute_win32_path);
  free (pl->volume_path);
  memset (pl, 0, sizeof *pl);
}

/* The parent locator item (LEN bytes at ITEM). */
static int
vhdx_decode_parent_locator (const uint8_t *item, uint32_t len,
                            const char *path, struct vhdx_parent_locator *ret)
{
  const struct vhdx_parent_locator_header *ph = (const void *) item;
  uint32_t count;
  char g[40];

  memset (ret, 0, sizeof *ret);
  if (len < sizeof *ph) {
    lf_error (EINVAL, "%s: VHDX parent locator is %" PRIu32 " bytes, "
              "shorter than its header", path, len);
    return -1;
  }
  if (memcmp (ph->locator_type, VHDX_PARENT_TYPE_VHDX_GUID, 16) != 0) {
    lf_error (ENOTSUP, "%s: VHDX parent locator type {%s} is not supported",
              path, guid_to_string (ph->locator_type, g, sizeof g));
    return -1;
  }
  count = lf_le16 (&ph->key_value_count);
  if (count > VHDX_MAX_LOCATOR_ENTRIES ||
      sizeof *ph + (uint64_t) count *
      sizeof (struct vhdx_parent_locator_entry) > len) {
    lf_error (EINVAL, "%s: VHDX parent locator: %" PRIu32 " entries do not "
              "fit in %" PRIu32 " bytes or exceed the limit of %u", path,
              count, len, VHDX_MAX_LOCATOR_ENTRIES);
    return -1;
  }
  for (uint32_t i = 0; i < count; i++) {
    const struct vhdx_parent_locator_entry *e =
      (const void *) (item + sizeof *ph + (size_t) i * sizeof *e);
    CLEANUP_FREE char *key = NULL;
    char *value = NULL, **slot = NULL;

    key = locator_string (item, len, lf_le32 (&e->key_offset),
                          lf_le16 (&e->key_length), path, i, "key");
    if (!key)
      goto error;
    if (strcmp (key, "parent_linkage") == 0) slot = &ret->parent_linkage;
    else if (strcmp (key, "parent_linkage2") == 0) slot = &ret->parent_linkage2;
    else if (strcmp (key, "relative_path") == 0) slot = &ret->relative_path;
    else if (strcmp (key, "absolute_win32_path") == 0)
      slot = &ret->absolute_win32_path;
    else if (strcmp (key, "volume_path") == 0) slot = &ret->volume_path;
    else
      continue;                 /* unknown keys are ignored (MS-VHDX) */
    if (*slot) {
      lf_error (EINVAL, "%s: VHDX parent locator entry %" PRIu32 ": key "
                "\"%s\" appears twice", path, i, key);
      goto error;
    }
    value = locator_string (item, len, lf_le32 (&e->value_offset),
                            lf_le16 (&e->value_length), path, i, "value");
    if (!value)
      goto error;
    *slot = value;
  }
  if (!ret->parent_linkage) {
    lf_error (EINVAL, "%s: VHDX parent locator has no parent_linkage", path);
    goto error;
  }
  return 0;

 error:
  vhdx_free_parent_locator (ret);
  return -1;
}

/* ---------------------------------------------------------------------- */
/* Reading the file through the replayed log. */

/* Read LEN bytes at OFF of the file as it is after the log replay.  With
 * TOLERANT, the part past the end of the file reads as zeros (a last data
 * block only partly written, which qemu accepts); otherwise it is an
 * error naming WHAT.
 */
static int
vhdx_read (const struct vhdx *h, void *buf, size_t len, uint64_t off,
           bool tolerant, const char *what)
{
  uint8_t *b = buf;
  size_t in_file = 0;
  uint64_t end;

  if (ADD_OVERFLOW (off, (uint64_t) len, &end) ||
      (!tolerant && end > h->file_size)) {
    lf_error (EINVAL, "%s: %s at 0x%" PRIx64 " (%zu bytes) is beyond end of "
              "file (0x%" PRIx64 ")", h->f->path, what, off, len, h->file_size);
    return -1;
  }
  if (off < h->f->size)
    in_file = (size_t) LF_MIN ((uint64_t) len, h->f->size - off);
  if (in_file && lf_file_read (h->f, b, in_file, off, what) == -1)
    return -1;
  memset (b + in_file, 0, len - in_file);

  if (h->nr_overlay && len) {
    /* The first segment ending after OFF. */
    size_t lo = 0, hi = h->nr_overlay;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (h->overlay[mid].end <= off)
        lo = mid + 1;
      else
        hi = mid;
    }
    for (size_t i = lo; i < h->nr_overlay && h->overlay[i].start < end; i++) {
      const struct vhdx_overlay_seg *s = &h->overlay[i];
      uint64_t a = LF_MAX (s->start, off), z = LF_MIN (s->end, end);
      if (s->src)
        memcpy (b + (a - off), s->src + (a - s->src_base), z - a);
      else
        memset (b + (a - off), 0, z - a);
    }
  }
  return 0;
}

static bool
vhdx_overlay_intersects (const struct vhdx *h, uint64_t off, uint64_t len)
{
  for (size_t i = 0; i < h->nr_overlay; i++)
    if (ranges_overlap (off, len, h->overlay[i].start,
                        h->overlay[i].end - h->overlay[i].start))
      return true;
  return false;
}

/* ---------------------------------------------------------------------- */
/* The log. */

struct log_entry_info {
  uint64_t seq;
  uint32_t sectors;             /* entry length / 4 KiB */
  uint32_t tail;                /* sector index */
  uint32_t desc_count;
  uint64_t flushed_file_offset, last_file_offset;
};

struct log_ctx {
  const char *path;
  const uint8_t *log;           /* the whole log, LOG_SECTORS x 4 KiB */
  uint32_t log_sectors;
  const uint8_t *guid;
  uint64_t crc_budget;
  bool budget_exceeded;
};

static const uint8_t *
log_sector (const struct log_ctx *c, uint64_t idx)
{
  return c->log + (size_t) (idx % c->log_sectors) * VHDX_LOG_SECTOR;
}

/* Sectors holding the header and COUNT descriptors (64 + 32 * COUNT). */
static uint64_t
log_desc_sectors (uint64_t count)
{
  return (count + 2 + 127) / 128;
}

static const uint8_t *
log_descriptor (const struct log_ctx *c, uint32_t pos, uint64_t k)
{
  uint64_t slot = k + 2;        /* the header takes the first two slots */
  return log_sector (c, pos + slot / 128) + (slot % 128) * 32;
}

/* Is there a valid entry at sector POS?  Checks the header, every
 * descriptor and data sector, and the CRC over the whole entry.
 */
static bool
log_entry_valid (struct log_ctx *c, uint32_t pos, struct log_entry_info *ret)
{
  const struct vhdx_log_entry_header *eh = (const void *) log_sector (c, pos);
  uint32_t len = lf_le32 (&eh->entry_length);
  uint64_t seq = lf_le64 (&eh->sequence_number), dsec, ndata = 0;
  uint32_t count = lf_le32 (&eh->descriptor_count);
  uint32_t tail = lf_le32 (&eh->tail);

  if (memcmp (eh->signature, "loge", 4) != 0 ||
      len == 0 || len % VHDX_LOG_SECTOR != 0 ||
      len / VHDX_LOG_SECTOR > c->log_sectors ||
      tail % VHDX_LOG_SECTOR != 0 || tail / VHDX_LOG_SECTOR >= c->log_sectors ||
      seq == 0 || memcmp (eh->log_guid, c->guid, 16) != 0)
    return false;
  dsec = log_desc_sectors (count);
  if (dsec > len / VHDX_LOG_SECTOR)
    return false;
  for (uint64_t k = 0; k < count; k++) {
    const struct vhdx_log_descriptor *d =
      (const void *) log_descriptor (c, pos, k);
    uint64_t foff = lf_le64 (&d->file_offset);
    if (lf_le64 (&d->sequence_number) != seq || foff % VHDX_LOG_SECTOR != 0)
      return false;
    if (memcmp (d->signature, "zero", 4) == 0) {
      if (lf_le64 (&d->leading_bytes) % VHDX_LOG_SECTOR != 0)
        return false;
    }
    else if (memcmp (d->signature, "desc", 4) == 0) {
      const struct vhdx_log_data_sector *ds;
      if (dsec + ndata >= len / VHDX_LOG_SECTOR)
        return false;           /* more data descriptors than sectors */
      ds = (const void *) log_sector (c, pos + dsec + ndata);
      if (memcmp (ds->signature, "data", 4) != 0 ||
          (((uint64_t) lf_le32 (&ds->sequence_high) << 32) |
           lf_le32 (&ds->sequence_low)) != seq)
        return false;
      ndata++;
    }
    else
      return false;
  }
  if (!lf_fuzzing) {
    uint32_t crc, sectors = len / VHDX_LOG_SECTOR;
    if (c->crc_budget < len) {
      c->budget_exceeded = true;
      return false;
    }
    c->crc_budget -= len;
    crc = crc32c_with_zero_field (log_sector (c, pos), VHDX_LOG_SECTOR);
    for (uint32_t s = 1; s < sectors; s++)
      crc = crc32c_update (crc, log_sector (c, (uint64_t) pos + s),
                           VHDX_LOG_SECTOR);
    if (crc != lf_le32 (&eh->checksum))
      return false;
  }
  ret->seq = seq;
  ret->sectors = len / VHDX_LOG_SECTOR;
  ret->tail = tail / VHDX_LOG_SECTOR;
  ret->desc_count = count;
  ret->flushed_file_offset = lf_le64 (&eh->flushed_file_offset);
  ret->last_file_offset = lf_le64 (&eh->last_file_offset);
  return true;
}

/* An interval of the replay, before flattening. */
struct log_write {
  uint64_t start, end;
  const uint8_t *src;           /* 4 KiB page, or NULL for zeros */
  size_t prio;                  /* replay order: later wins */
};

static int
cmp_write_start (const void *a, const void *b)
{
  const struct log_write *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

static int
cmp_u64 (const void *a, const void *b)
{
  const uint64_t *x = a, *y = b;
  return *x < *y ? -1 : *x > *y;
}

/* Max-heap of indexes into W by priority. */
static void
heap_push (size_t *heap, size_t *n, const struct log_write *w, size_t v)
{
  size_t i = (*n)++;
  heap[i] = v;
  while (i > 0 && w[heap[(i - 1) / 2]].prio < w[heap[i]].prio) {
    size_t p = (i - 1) / 2, t = heap[p];
    heap[p] = heap[i]; heap[i] = t;
    i = p;
  }
}

static void
heap_pop (size_t *heap, size_t *n, const struct log_write *w)
{
  size_t i = 0;
  heap[0] = heap[--(*n)];
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i, t;
    if (l < *n && w[heap[l]].prio > w[heap[m]].prio) m = l;
    if (r < *n && w[heap[r]].prio > w[heap[m]].prio) m = r;
    if (m == i)
      break;
    t = heap[m]; heap[m] = heap[i]; heap[i] = t;
    i = m;
  }
}

/* Flatten the writes (later ones win) into sorted, disjoint segments. */
static int
vhdx_build_overlay (struct vhdx *h, struct log_write *w, size_t n)
{
  CLEANUP_FREE uint64_t *pts = NULL;
  CLEANUP_FREE size_t *heap = NULL;
  size_t npts = 0, nheap = 0, next = 0;

  if (n == 0)
    return 0;
  pts = malloc (2 * n * sizeof *pts);
  heap = malloc (n * sizeof *heap);
  h->overlay = malloc (2 * n * sizeof *h->overlay);
  if (!pts || !heap || !h->overlay) {
    lf_error (ENOMEM, "%s: VHDX log replay: out of memory", h->f->path);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    pts[npts++] = w[i].start;
    pts[npts++] = w[i].end;
  }
  qsort (pts, npts, sizeof *pts, cmp_u64);
  qsort (w, n, sizeof *w, cmp_write_start);
  for (size_t p = 0; p + 1 < npts; p++) {
    uint64_t a = pts[p], z = pts[p + 1];
    const struct log_write *top;
    struct vhdx_overlay_seg *last;
    if (a == z)
      continue;
    while (next < n && w[next].start <= a)
      heap_push (heap, &nheap, w, next++);
    while (nheap && w[heap[0]].end <= a)
      heap_pop (heap, &nheap, w);
    if (!nheap)
      continue;
    top = &w[heap[0]];
    last = h->nr_overlay ? &h->overlay[h->nr_overlay - 1] : NULL;
    if (last && last->end == a && last->src == top->src &&
        (top->src == NULL || last->src_base == top->start))
      last->end = z;
    else
      h->overlay[h->nr_overlay++] = (struct vhdx_overlay_seg) {
        .start = a, .end = z, .src = top->src, .src_base = top->start,
      };
  }
  return 0;
}

/* Find the active sequence in the log and replay it into the overlay. */
static int
vhdx_replay_log (struct vhdx *h, const struct vhdx_header_info *hdr)
{
  CLEANUP_FREE uint8_t *log = NULL;
  CLEANUP_FREE struct log_write *writes = NULL;
  struct log_ctx c;
  struct log_entry_info e, best_head = { 0 };
  uint32_t best_start = 0, best_count = 0, replay_start, replay_count;
  size_t nwrites = 0, ndata = 0, total_desc = 0;
  uint64_t eff_size;
  char g[40];

  if (guid_is_zero (hdr->log_guid) || hdr->log_length == 0)
    return 0;                   /* no log to replay */

  LF_DEBUG (1, "%s: VHDX log {%s} at 0x%" PRIx64 " (%" PRIu32 " bytes) is "
            "not empty: replaying it in memory", h->f->path,
            guid_to_string (hdr->log_guid, g, sizeof g), hdr->log_offset,
            hdr->log_length);
  if (hdr->log_length > VHDX_MAX_LOG_LENGTH) {
    lf_error (EINVAL, "%s: VHDX log is %" PRIu32 " bytes, larger than the "
              "limit of %u", h->f->path, hdr->log_length, VHDX_MAX_LOG_LENGTH);
    return -1;
  }
  log = lf_file_read_alloc (h->f, hdr->log_length, hdr->log_offset,
                            VHDX_MAX_LOG_LENGTH, "VHDX log");
  if (!log)
    return -1;
  c = (struct log_ctx) {
    .path = h->f->path, .log = log,
    .log_sectors = hdr->log_length / VHDX_LOG_SECTOR,
    .guid = hdr->log_guid, .crc_budget = VHDX_MAX_LOG_SCAN_BYTES,
  };

  /* As qemu's vhdx_log_search: walk the circular log once; at each valid
   * entry follow the run of entries with consecutive sequence numbers;
   * the run whose last entry has the highest sequence number is active.
   * A run never covers more than the whole log.
   */
  for (uint64_t pos = 0; pos < c.log_sectors; ) {
    uint32_t start = (uint32_t) pos, count = 1;
    uint64_t used, p;
    struct log_entry_info head;

    if (!log_entry_valid (&c, start, &head)) {
      pos++;
      continue;
    }
    used = head.sectors;
    p = pos + head.sectors;
    while (used < c.log_sectors &&
           log_entry_valid (&c, (uint32_t) (p % c.log_sectors), &e) &&
           e.seq == head.seq + 1 && used + e.sectors <= c.log_sectors) {
      head = e;
      used += e.sectors;
      p += e.sectors;
      count++;
    }
    if (best_count == 0 || head.seq > best_head.seq) {
      best_head = head;
      best_start = start;
      best_count = count;
    }
    pos = p;
  }
  if (c.budget_exceeded) {
    lf_error (EINVAL, "%s: VHDX log: searching it needed more than the "
              "limit of %" PRIu64 " bytes of checksums", h->f->path,
              VHDX_MAX_LOG_SCAN_BYTES);
    return -1;
  }
  if (best_count == 0) {
    LF_DEBUG (1, "%s: VHDX log has no valid entry: nothing to replay",
              h->f->path);
    return 0;
  }

  /* The head's tail names where the unflushed part starts: replay from
   * there if it is in the run, else the whole run (qemu's behaviour).
   */
  replay_start = best_start;
  replay_count = best_count;
  {
    uint64_t p = best_start;
    for (uint32_t i = 0; i < best_count; i++) {
      if (!log_entry_valid (&c, (uint32_t) (p % c.log_sectors), &e))
        break;
      if (p % c.log_sectors == best_head.tail) {
        replay_start = (uint32_t) (p % c.log_sectors);
        replay_count = best_count - i;
        break;
      }
      p += e.sectors;
    }
  }
  LF_DEBUG (1, "%s: VHDX log: replaying %" PRIu32 " entries from sector %"
            PRIu32 ", head sequence number %" PRIu64, h->f->path,
            replay_count, replay_start, best_head.seq);

  /* Collect the writes of each entry, in order.  The run is at most the
   * whole log, checked twice more below.
   */
  c.crc_budget = 2 * (uint64_t) hdr->log_length;
  eff_size = h->f->size;
  {
    uint64_t p = replay_start;
    for (uint32_t i = 0; i < replay_count; i++) {
      uint32_t pos = (uint32_t) (p % c.log_sectors);
      if (!log_entry_valid (&c, pos, &e)) {
        lf_error (EINVAL, "internal error: %s: VHDX log entry at sector %"
                  PRIu32 " changed", h->f->path, pos);
        return -1;
      }
      if (e.flushed_file_offset > h->f->size) {
        lf_error (EINVAL, "%s: VHDX log entry %" PRIu64 ": flushed file "
                  "offset 0x%" PRIx64 " is beyond end of file (0x%" PRIx64
                  "): the file was truncated", h->f->path, e.seq,
                  e.flushed_file_offset, h->f->size);
        return -1;
      }
      if (e.last_file_offset > VHDX_MAX_FILE_SIZE) {
        lf_error (EINVAL, "%s: VHDX log entry %" PRIu64 ": last file offset "
                  "0x%" PRIx64 " is larger than the limit of 0x%" PRIx64,
                  h->f->path, e.seq, e.last_file_offset, VHDX_MAX_FILE_SIZE);
        return -1;
      }
      eff_size = LF_MAX (eff_size, e.last_file_offset);
      total_desc += e.desc_count;
      if (total_desc > VHDX_MAX_LOG_DESCRIPTORS) {
        lf_error (EINVAL, "%s: VHDX log: more than the limit of %u "
                  "descriptors to replay", h->f->path,
                  VHDX_MAX_LOG_DESCRIPTORS);
        return -1;
      }
      p += e.sectors;
    }
  }
  writes = calloc (total_desc ? total_desc : 1, sizeof *writes);
  h->overlay_data = malloc (total_desc ? total_desc * VHDX_LOG_SECTOR : 1);
  if (!writes || !h->overlay_data) {
    lf_error (ENOMEM, "%s: VHDX log replay: out of memory", h->f->path);
    return -1;
  }
  {
    uint64_t p = replay_start;
    for (uint32_t i = 0; i < replay_count; i++) {
      uint32_t pos = (uint32_t) (p % c.log_sectors);
      uint64_t dsec, nd = 0;
      (void) log_entry_valid (&c, pos, &e);       /* checked above */
      dsec = log_desc_sectors (e.desc_count);
      for (uint64_t k = 0; k < e.desc_count; k++) {
        const struct vhdx_log_descriptor *d =
          (const void *) log_descriptor (&c, pos, k);
        struct log_write *wr = &writes[nwrites];
        uint64_t foff = lf_le64 (&d->file_offset), len, end;

        if (memcmp (d->signature, "desc", 4) == 0) {
          const struct vhdx_log_data_sector *ds =
            (const void *) log_sector (&c, pos + dsec + nd);
          uint8_t *page = h->overlay_data + ndata * VHDX_LOG_SECTOR;
          memcpy (page, &d->leading_bytes, 8);
          memcpy (page + 8, ds->data, sizeof ds->data);
          memcpy (page + 8 + sizeof ds->data, &d->trailing_bytes, 4);
          wr->src = page;
          len = VHDX_LOG_SECTOR;
          ndata++;
          nd++;
        }
        else {
          wr->src = NULL;
          len = lf_le64 (&d->leading_bytes);
          if (len == 0)
            continue;
        }
        if (ADD_OVERFLOW (foff, len, &end) || end > VHDX_MAX_FILE_SIZE) {
          lf_error (EINVAL, "%s: VHDX log entry %" PRIu64 " descriptor %"
                    PRIu64 ": write at 0x%" PRIx64 " (%" PRIu64 " bytes) "
                    "is beyond the limit of 0x%" PRIx64, h->f->path, e.seq,
                    k, foff, len, VHDX_MAX_FILE_SIZE);
          return -1;
        }
        wr->start = foff;
        wr->end = end;
        wr->prio = nwrites++;
        eff_size = LF_MAX (eff_size, end);
      }
      p += e.sectors;
    }
  }
  h->file_size = eff_size;
  if (vhdx_build_overlay (h, writes, nwrites) == -1)
    return -1;
  LF_DEBUG (1, "%s: VHDX log: %zu writes replayed in memory as %zu "
            "segments; file size after replay 0x%" PRIx64, h->f->path,
            nwrites, h->nr_overlay, h->file_size);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Open. */

static int
vhdx_probe (struct lf_file *f)
{
  char sig[8];

  if (f->size < LF_PROBE_MIN_SIZE)
    return lf_probe_short (f, "vhdxfile", 8, "VHDX");
  if (lf_file_read (f, sig, sizeof sig, 0, "VHDX file identifier") == -1)
    return -1;
  return memcmp (sig, "vhdxfile", 8) == 0 ? LF_MATCH : LF_NO_MATCH;
}

static void
vhdx_close (void *hv)
{
  struct vhdx *h = hv;

  if (!h)
    return;
  free (h->bat);
  free (h->overlay);
  free (h->overlay_data);
  free (h);
}

/* Read both headers and pick the current one. */
static int
vhdx_load_headers (struct vhdx *h, struct vhdx_header_info *ret)
{
  uint8_t buf[VHDX_HEADER_SIZE];
  struct vhdx_header_info hi[2];
  bool ok[2];
  struct lf_error_record first;
  const uint64_t offs[2] = { VHDX_HEADER1_OFFSET, VHDX_HEADER2_OFFSET };
  const char *names[2] = { "header 1 (at 0x10000)", "header 2 (at 0x20000)" };

  for (int i = 0; i < 2; i++) {
    ok[i] = lf_file_read (h->f, buf, sizeof buf, offs[i], names[i]) == 0 &&
      vhdx_decode_header (buf, h->f->path, names[i], &hi[i]) == 0;
    if (i == 0 && !ok[0])
      lf_error_save (&first);
  }
  if (!ok[0] && !ok[1]) {
    /* Report the first header's problem; the second's is usually alike. */
    lf_error_restore (&first);
    lf_error_prefix ("%s: no valid VHDX header", h->f->path);
    return -1;
  }
  if (ok[0] && (!ok[1] || hi[0].sequence_number >= hi[1].sequence_number))
    *ret = hi[0];
  else
    *ret = hi[1];
  LF_DEBUG (2, "%s: VHDX headers valid: %d %d; current sequence number %"
            PRIu64 ", log at 0x%" PRIx64 " (%" PRIu32 " bytes)", h->f->path,
            ok[0], ok[1], ret->sequence_number, ret->log_offset,
            ret->log_length);
  return 0;
}

static int
vhdx_load_regions (struct vhdx *h)
{
  CLEANUP_FREE uint8_t *buf = NULL;
  struct lf_error_record first;
  const uint64_t offs[2] = { VHDX_REGION1_OFFSET, VHDX_REGION2_OFFSET };
  const char *names[2] = { "region table 1 (at 0x30000)",
                           "region table 2 (at 0x40000)" };
  int i;

  buf = malloc (VHDX_REGION_TABLE_SIZE);
  if (!buf) {
    lf_error (ENOMEM, "%s: out of memory", h->f->path);
    return -1;
  }
  for (i = 0; i < 2; i++) {
    if (vhdx_read (h, buf, VHDX_REGION_TABLE_SIZE, offs[i], false,
                   names[i]) == 0 &&
        vhdx_decode_region_table (buf, h->f->path, names[i],
                                  &h->regions) == 0)
      break;
    if (i == 0)
      lf_error_save (&first);
  }
  if (i == 2) {
    lf_error_restore (&first);
    lf_error_prefix ("%s: no valid VHDX region table", h->f->path);
    return -1;
  }

  /* Regions must stay clear of the log. */
  if (h->log_length &&
      (ranges_overlap (h->regions.bat.offset, h->regions.bat.length,
                       h->log_offset, h->log_length) ||
       ranges_overlap (h->regions.metadata.offset, h->regions.metadata.length,
                       h->log_offset, h->log_length))) {
    lf_error (EINVAL, "%s: VHDX %s: the BAT or metadata region overlaps "
              "the log at 0x%" PRIx64, h->f->path, names[i], h->log_offset);
    return -1;
  }
  return 0;
}

/* Read one metadata item into BUF (exactly LEN bytes expected). */
static int
read_item (struct vhdx *h, const struct vhdx_metadata_entry *e, void *buf,
           uint32_t len, const char *what)
{
  if (e->length != len) {
    lf_error (EINVAL, "%s: VHDX metadata item %s is %" PRIu32 " bytes, "
              "expected %" PRIu32, h->f->path, what, e->length, len);
    return -1;
  }
  return vhdx_read (h, buf, len, h->regions.metadata.offset + e->offset,
                    false, what);
}

static int
vhdx_load_metadata (struct vhdx *h, struct vhdx_parent_locator *pl)
{
  CLEANUP_FREE uint8_t *table = NULL;
  CLEANUP_FREE struct vhdx_metadata_entry *ents = NULL;
  uint32_t count, region_len = h->regions.metadata.length;
  const struct vhdx_metadata_entry *fp = NULL, *vs = NULL, *ls = NULL,
    *ps = NULL, *p83 = NULL, *loc = NULL;
  uint8_t b8[8], b16[16];
  uint32_t flags;
  char g[40];

  if (region_len < VHDX_METADATA_TABLE_SIZE) {
    lf_error (EINVAL, "%s: VHDX metadata region is %" PRIu32 " bytes, too "
              "small for its table", h->f->path, region_len);
    return -1;
  }
  table = malloc (VHDX_METADATA_TABLE_SIZE);
  ents = calloc (VHDX_MAX_METADATA_ENTRIES, sizeof *ents);
  if (!table || !ents) {
    lf_error (ENOMEM, "%s: out of memory", h->f->path);
    return -1;
  }
  if (vhdx_read (h, table, VHDX_METADATA_TABLE_SIZE,
                 h->regions.metadata.offset, false,
                 "VHDX metadata table") == -1)
    return -1;
  if (vhdx_decode_metadata_table_header (table, h->f->path, &count) == -1)
    return -1;

  for (uint32_t i = 0; i < count; i++) {
    struct vhdx_metadata_entry *e = &ents[i];
    const struct vhdx_metadata_entry **slot = NULL;

    if (vhdx_decode_metadata_entry (table + 32 + (size_t) i * 32,
                                    h->f->path, i, region_len, e) == -1)
      return -1;
    if (memcmp (e->item_id, VHDX_FILE_PARAMETERS_GUID, 16) == 0) slot = &fp;
    else if (memcmp (e->item_id, VHDX_VIRTUAL_DISK_SIZE_GUID, 16) == 0)
      slot = &vs;
    else if (memcmp (e->item_id, VHDX_LOGICAL_SECTOR_GUID, 16) == 0) slot = &ls;
    else if (memcmp (e->item_id, VHDX_PHYSICAL_SECTOR_GUID, 16) == 0)
      slot = &ps;
    else if (memcmp (e->item_id, VHDX_PAGE83_GUID, 16) == 0) slot = &p83;
    else if (memcmp (e->item_id, VHDX_PARENT_LOCATOR_GUID, 16) == 0)
      slot = &loc;
    else if (e->flags & VHDX_META_IS_REQUIRED) {
      lf_error (ENOTSUP, "%s: VHDX metadata entry %" PRIu32 ": unknown item "
                "{%s} is marked required", h->f->path, i,
                guid_to_string (e->item_id, g, sizeof g));
      return -1;
    }
    else
      continue;
    if (*slot) {
      lf_error (EINVAL, "%s: VHDX metadata entry %" PRIu32 ": item {%s} "
                "appears twice", h->f->path, i,
                guid_to_string (e->item_id, g, sizeof g));
      return -1;
    }
    *slot = e;
  }
  if (!fp || !vs || !ls) {
    lf_error (EINVAL, "%s: VHDX metadata table has no %s item", h->f->path,
              !fp ? "file parameters" : !vs ? "virtual disk size" :
              "logical sector size");
    return -1;
  }

  if (read_item (h, fp, b8, 8, "file parameters") == -1 ||
      vhdx_decode_file_parameters (b8, h->f->path, &h->block_size,
                                   &flags) == -1)
    return -1;
  h->leave_allocated = flags & VHDX_PARAM_LEAVE_BLOCKS_ALLOCATED;
  h->has_parent = flags & VHDX_PARAM_HAS_PARENT;

  if (read_item (h, vs, b8, 8, "virtual disk size") == -1)
    return -1;
  h->size = lf_le64 (b8);
  if (read_item (h, ls, b8, 4, "logical sector size") == -1)
    return -1;
  h->logical_sector_size = lf_le32 (b8);
  h->physical_sector_size = 4096;
  if (ps) {
    if (read_item (h, ps, b8, 4, "physical sector size") == -1)
      return -1;
    h->physical_sector_size = lf_le32 (b8);
  }
  if (p83) {
    if (read_item (h, p83, b16, 16, "page 83 data") == -1)
      return -1;
    memcpy (h->page83, b16, 16);
  }

  /* Sanity checks. */
  if (h->logical_sector_size != 512 && h->logical_sector_size != 4096) {
    lf_error (EINVAL, "%s: VHDX logical sector size %" PRIu32 " is not 512 "
              "or 4096", h->f->path, h->logical_sector_size);
    return -1;
  }
  if (h->physical_sector_size != 512 && h->physical_sector_size != 4096) {
    lf_error (EINVAL, "%s: VHDX physical sector size %" PRIu32 " is not 512 "
              "or 4096", h->f->path, h->physical_sector_size);
    return -1;
  }
  if (h->size > VHDX_MAX_VIRTUAL_SIZE ||
      h->size % h->logical_sector_size != 0) {
    lf_error (EINVAL, "%s: VHDX virtual disk size %" PRIu64 " is larger than "
              "the limit of 64 TiB or not a multiple of the logical sector "
              "size (%" PRIu32 ")", h->f->path, h->size,
              h->logical_sector_size);
    return -1;
  }
  if (h->has_parent && !loc) {
    lf_error (EINVAL, "%s: VHDX file parameters say the disk has a parent, "
              "but there is no parent locator", h->f->path);
    return -1;
  }
  if (h->has_parent) {
    CLEANUP_FREE uint8_t *item = NULL;
    if (loc->length == 0) {
      lf_error (EINVAL, "%s: VHDX parent locator is empty", h->f->path);
      return -1;
    }
    item = malloc (loc->length);
    if (!item) {
      lf_error (ENOMEM, "%s: out of memory", h->f->path);
      return -1;
    }
    if (vhdx_read (h, item, loc->length,
                   h->regions.metadata.offset + loc->offset, false,
                   "parent locator") == -1 ||
        vhdx_decode_parent_locator (item, loc->length, h->f->path, pl) == -1)
      return -1;
  }
  return 0;
}

/* Check a present block (or sector bitmap) of LEN bytes at OFF: inside
 * the file and clear of the header section, the log and the regions.
 */
static int
check_block_offset (struct vhdx *h, uint64_t index, const char *what,
                    uint64_t off, uint64_t len)
{
  if (off < VHDX_HEADER_SECTION || off >= h->file_size) {
    lf_error (EINVAL, "%s: VHDX BAT entry %" PRIu64 ": %s at 0x%" PRIx64
              " is %s (file size 0x%" PRIx64 ")", h->f->path, index, what, off,
              off < VHDX_HEADER_SECTION ? "inside the header section" :
              "beyond end of file", h->file_size);
    return -1;
  }
  /* The last block may be only partly in the file (qemu allows it). */
  len = LF_MIN (len, h->file_size - off);
  if (ranges_overlap (off, len, h->regions.bat.offset,
                      h->regions.bat.length) ||
      ranges_overlap (off, len, h->regions.metadata.offset,
                      h->regions.metadata.length) ||
      ranges_overlap (off, len, h->log_offset, h->log_length)) {
    lf_error (EINVAL, "%s: VHDX BAT entry %" PRIu64 ": %s at 0x%" PRIx64
              " overlaps the %s", h->f->path, index, what, off,
              ranges_overlap (off, len, h->regions.bat.offset,
                              h->regions.bat.length) ? "BAT" :
              ranges_overlap (off, len, h->regions.metadata.offset,
                              h->regions.metadata.length) ? "metadata region" :
              "log");
    return -1;
  }
  return 0;
}

static uint64_t
payload_entry_index (const struct vhdx *h, uint64_t block)
{
  return block + block / h->chunk_ratio;
}

static uint64_t
bitmap_entry_index (const struct vhdx *h, uint64_t block)
{
  uint64_t chunk = block / h->chunk_ratio;
  return chunk * (h->chunk_ratio + 1) + h->chunk_ratio;
}

static int
vhdx_load_bat (struct vhdx *h)
{
  uint64_t nr_chunks, bytes;

  /* Both are powers of 2 and block_size <= 2^28, so this is >= 16. */
  h->chunk_ratio = ((UINT64_C (1) << 23) * h->logical_sector_size) /
    h->block_size;
  h->nr_blocks = (h->size + h->block_size - 1) / h->block_size;
  nr_chunks = (h->nr_blocks + h->chunk_ratio - 1) / h->chunk_ratio;
  if (h->has_parent)
    h->bat_entries = nr_chunks * (h->chunk_ratio + 1);
  else
    h->bat_entries = h->nr_blocks ?
      h->nr_blocks + (h->nr_blocks - 1) / h->chunk_ratio : 0;

  if (h->bat_entries > VHDX_MAX_BAT_ENTRIES) {
    lf_error (EINVAL, "%s: VHDX BAT has %" PRIu64 " entries, more than the "
              "limit of %" PRIu64, h->f->path, h->bat_entries,
              VHDX_MAX_BAT_ENTRIES);
    return -1;
  }
  bytes = h->bat_entries * 8;
  if (bytes > h->regions.bat.length) {
    lf_error (EINVAL, "%s: VHDX BAT region (%" PRIu32 " bytes) is too small "
              "for %" PRIu64 " entries", h->f->path, h->regions.bat.length,
              h->bat_entries);
    return -1;
  }
  if (bytes > h->file_size ||
      h->regions.bat.offset > h->file_size - bytes) {
    lf_error (EINVAL, "%s: VHDX BAT at 0x%" PRIx64 " (%" PRIu64 " bytes) is "
              "beyond end of file (0x%" PRIx64 ")", h->f->path,
              h->regions.bat.offset, bytes, h->file_size);
    return -1;
  }
  h->bat = malloc (bytes ? bytes : 1);
  if (!h->bat) {
    lf_error (ENOMEM, "%s: VHDX BAT (%" PRIu64 " bytes): out of memory",
              h->f->path, bytes);
    return -1;
  }
  if (vhdx_read (h, h->bat, bytes, h->regions.bat.offset, false,
                 "VHDX BAT") == -1)
    return -1;
  for (uint64_t i = 0; i < h->bat_entries; i++)
    h->bat[i] = lf_le64 (&h->bat[i]);

  /* Check every payload entry once, so reads need no checks. */
  for (uint64_t b = 0; b < h->nr_blocks; b++) {
    uint64_t i = payload_entry_index (h, b), e = h->bat[i];
    unsigned state = (unsigned) (e & VHDX_BAT_STATE_MASK);
    uint64_t off = (e >> 20) << 20;

    switch (state) {
    case PAYLOAD_BLOCK_NOT_PRESENT:
    case PAYLOAD_BLOCK_UNDEFINED:
    case PAYLOAD_BLOCK_ZERO:
    case PAYLOAD_BLOCK_UNMAPPED:
      break;
    case PAYLOAD_BLOCK_FULLY_PRESENT:
      if (check_block_offset (h, i, "payload block", off,
                              h->block_size) == -1)
        return -1;
      break;
    case PAYLOAD_BLOCK_PARTIALLY_PRESENT: {
      uint64_t si, se;
      if (!h->has_parent) {
        lf_error (EINVAL, "%s: VHDX BAT entry %" PRIu64 ": block %" PRIu64
                  " is partially present, but the disk has no parent",
                  h->f->path, i, b);
        return -1;
      }
      if (check_block_offset (h, i, "payload block", off,
                              h->block_size) == -1)
        return -1;
      si = bitmap_entry_index (h, b);
      se = h->bat[si];
      if ((se & VHDX_BAT_STATE_MASK) != SB_BLOCK_PRESENT) {
        lf_error (EINVAL, "%s: VHDX BAT entry %" PRIu64 ": block %" PRIu64
                  " is partially present, but its sector bitmap (entry %"
                  PRIu64 ") is in state %u", h->f->path, i, b, si,
                  (unsigned) (se & VHDX_BAT_STATE_MASK));
        return -1;
      }
      if (check_block_offset (h, si, "sector bitmap", (se >> 20) << 20,
                              VHDX_SECTOR_BITMAP_SIZE) == -1)
        return -1;
      if (((se >> 20) << 20) > h->file_size - VHDX_SECTOR_BITMAP_SIZE ||
          h->file_size < VHDX_SECTOR_BITMAP_SIZE) {
        lf_error (EINVAL, "%s: VHDX BAT entry %" PRIu64 ": sector bitmap at "
                  "0x%" PRIx64 " is beyond end of file (0x%" PRIx64 ")",
                  h->f->path, si, (se >> 20) << 20, h->file_size);
        return -1;
      }
      break;
    }
    default:
      lf_error (EINVAL, "%s: VHDX BAT entry %" PRIu64 ": block %" PRIu64
                " has invalid state %u", h->f->path, i, b, state);
      return -1;
    }
  }
  return 0;
}

/* Open the parent named by the locator and check it is the right one. */
static int
vhdx_open_parent (struct vhdx *h, struct vhdx_parent_locator *pl)
{
  const char *tries[2] = { NULL, NULL };
  CLEANUP_FREE char *rel = NULL, *abs_base = NULL;
  struct lf_error_record first;
  struct lf_disk *parent = NULL;
  const struct vhdx *ph;
  char g[40];

  if (pl->relative_path) {
    rel = strdup (pl->relative_path);
    if (!rel)
      goto nomem;
    for (char *q = rel; *q; q++)
      if (*q == '\\')
        *q = '/';
    tries[0] = rel;
  }
  if (pl->absolute_win32_path) {
    /* "C:\dir\parent.vhdx" cannot exist here: try its name beside us. */
    const char *s = pl->absolute_win32_path, *b = s;
    for (; *s; s++)
      if (*s == '\\' || *s == '/' || *s == ':')
        b = s + 1;
    if (*b) {
      abs_base = strdup (b);
      if (!abs_base)
        goto nomem;
      tries[tries[0] ? 1 : 0] = abs_base;
    }
  }
  if (!tries[0]) {
    lf_error (ENOENT, "%s: differencing VHDX: the parent locator has no "
              "relative_path or absolute_win32_path", h->f->path);
    return -1;
  }
  for (int i = 0; i < 2 && tries[i] && !parent; i++) {
    parent = lf_disk_open_backing (h->d, tries[i], "vhdx",
                                   "VHDX parent locator");
    if (!parent && i == 0)
      lf_error_save (&first);
  }
  if (!parent) {
    lf_error_restore (&first);
    lf_error_prefix ("%s: differencing VHDX: parent \"%s\"", h->f->path,
                     tries[0]);
    return -1;
  }
  h->d->backing = parent;

  /* The parent's data write GUID must be the linkage the child recorded. */
  ph = parent->h;
  guid_to_string (ph->data_write_guid, g, sizeof g);
  {
    const char *a = pl->parent_linkage, *a2 = pl->parent_linkage2;
    size_t n = strlen (g);
    if (a[0] == '{') a++;
    if (a2 && a2[0] == '{') a2++;
    if (strncasecmp (a, g, n) != 0 && !(a2 && strncasecmp (a2, g, n) == 0)) {
      lf_error (EINVAL, "%s: differencing VHDX: parent %s has data write GUID "
                "{%s}, but the child was made from %s: the parent changed "
                "since", h->f->path, parent->file->path, g,
                pl->parent_linkage);
      return -1;
    }
  }
  return 0;

 nomem:
  lf_error (ENOMEM, "%s: out of memory", h->f->path);
  return -1;
}

static void *
vhdx_open (struct lf_file *f, struct lf_disk *d)
{
  struct vhdx *h = NULL;
  uint8_t idbuf[sizeof (struct vhdx_file_id)];
  CLEANUP_FREE char *creator = NULL;
  struct vhdx_header_info hdr;
  struct vhdx_parent_locator pl = { 0 };

  h = calloc (1, sizeof *h);
  if (!h) {
    lf_error (errno, "out of memory");
    return NULL;
  }
  h->f = f;
  h->d = d;
  h->file_size = f->size;

  if (lf_file_read (f, idbuf, sizeof idbuf, 0,
                    "VHDX file identifier") == -1 ||
      vhdx_decode_file_id (idbuf, sizeof idbuf, f->path, &creator) == -1)
    goto error;
  LF_DEBUG (2, "%s: VHDX creator \"%s\"", f->path, creator);

  if (vhdx_load_headers (h, &hdr) == -1)
    goto error;
  memcpy (h->data_write_guid, hdr.data_write_guid, 16);
  /* The log region is reserved whether or not it holds entries. */
  h->log_offset = hdr.log_offset;
  h->log_length = hdr.log_length;
  if (vhdx_replay_log (h, &hdr) == -1)
    goto error;
  if (vhdx_load_regions (h) == -1)
    goto error;
  if (vhdx_load_metadata (h, &pl) == -1)
    goto error;
  if (vhdx_load_bat (h) == -1)
    goto error;
  LF_DEBUG (2, "%s: VHDX virtual size %" PRIu64 ", block size %" PRIu32
            ", logical sector %" PRIu32 ", physical sector %" PRIu32
            ", chunk ratio %" PRIu64 ", %" PRIu64 " BAT entries%s%s",
            f->path, h->size, h->block_size, h->logical_sector_size,
            h->physical_sector_size, h->chunk_ratio, h->bat_entries,
            h->leave_allocated ? ", blocks left allocated" : "",
            h->has_parent ? ", has a parent" : "");
  if (h->has_parent && vhdx_open_parent (h, &pl) == -1)
    goto error;

  d->size = h->size;
  snprintf (d->subformat, sizeof d->subformat, "%s",
            h->has_parent ? "differencing" :
            h->leave_allocated ? "fixed" : "dynamic");
  vhdx_free_parent_locator (&pl);
  return h;

 error:
  vhdx_free_parent_locator (&pl);
  vhdx_close (h);
  return NULL;
}

/* ---------------------------------------------------------------------- */
/* Reads. */

/* Read N bytes at IN of a partially present block B from this file where
 * its sector bitmap says so, else from the parent at VOFF.
 */
static int
read_partial (struct vhdx *h, uint64_t b, uint8_t *buf, uint64_t in,
              size_t n, uint64_t voff)
{
  uint64_t ss = h->logical_sector_size;
  uint64_t data_off = (h->bat[payload_entry_index (h, b)] >> 20) << 20;
  uint64_t sb_off = (h->bat[bitmap_entry_index (h, b)] >> 20) << 20;
  uint64_t first = in / ss, last = (in + n - 1) / ss;
  /* Bit for sector s of block b: (b % chunk_ratio) * sectors per block + s */
  uint64_t base_bit = (b % h->chunk_ratio) * (h->block_size / ss);
  uint64_t bit0 = base_bit + first, bit1 = base_bit + last;
  CLEANUP_FREE uint8_t *bits = NULL;
  size_t nbytes = (size_t) (bit1 / 8 - bit0 / 8 + 1);
  uint64_t s = first;

  bits = malloc (nbytes);
  if (!bits) {
    lf_error (ENOMEM, "%s: out of memory", h->f->path);
    return -1;
  }
  if (vhdx_read (h, bits, nbytes, sb_off + bit0 / 8, false,
                 "VHDX sector bitmap") == -1)
    return -1;
  while (s <= last) {
    uint64_t bit = base_bit + s - (bit0 / 8) * 8;
    bool present = bits[bit / 8] & (1u << (bit % 8));
    uint64_t t = s + 1, a, z;
    while (t <= last) {
      uint64_t bt = base_bit + t - (bit0 / 8) * 8;
      if (((bits[bt / 8] >> (bt % 8)) & 1) != present)
        break;
      t++;
    }
    /* Sectors [s, t) share one state; clip to the request. */
    a = LF_MAX (s * ss, in);
    z = LF_MIN (t * ss, in + n);
    if (present) {
      if (vhdx_read (h, buf + (a - in), z - a, data_off + a, true,
                     "VHDX payload block") == -1)
        return -1;
    }
    else if (lf_disk_pread_padded (h->d->backing, buf + (a - in), z - a,
                                   voff + (a - in)) == -1)
      return -1;
    s = t;
  }
  return 0;
}

static int
vhdx_pread (void *hv, void *bufv, size_t count, uint64_t offset)
{
  struct vhdx *h = hv;
  uint8_t *buf = bufv;

  while (count > 0) {
    uint64_t b = offset / h->block_size, in = offset % h->block_size;
    size_t n = (size_t) LF_MIN ((uint64_t) count, h->block_size - in);
    uint64_t e = h->bat[payload_entry_index (h, b)];

    switch (e & VHDX_BAT_STATE_MASK) {
    case PAYLOAD_BLOCK_FULLY_PRESENT:
      if (vhdx_read (h, buf, n, ((e >> 20) << 20) + in, true,
                     "VHDX payload block") == -1)
        return -1;
      break;
    case PAYLOAD_BLOCK_PARTIALLY_PRESENT:     /* has_parent, checked */
      if (read_partial (h, b, buf, in, n, offset) == -1)
        return -1;
      break;
    case PAYLOAD_BLOCK_ZERO:
      memset (buf, 0, n);
      break;
    default:                    /* not present, undefined, unmapped */
      if (h->d->backing) {
        if (lf_disk_pread_padded (h->d->backing, buf, n, offset) == -1)
          return -1;
      }
      else
        memset (buf, 0, n);
      break;
    }
    buf += n;
    count -= n;
    offset += n;
  }
  return 0;
}

static int
vhdx_extent (void *hv, uint64_t offset, uint64_t *len, unsigned *type)
{
  struct vhdx *h = hv;
  uint64_t b = offset / h->block_size, in = offset % h->block_size;
  uint64_t e = h->bat[payload_entry_index (h, b)];
  uint64_t n = LF_MIN (*len, h->block_size - in);

  *len = n;
  switch (e & VHDX_BAT_STATE_MASK) {
  case PAYLOAD_BLOCK_FULLY_PRESENT: {
    uint64_t foff = ((e >> 20) << 20) + in;
    *type = LF_EXTENT_DATA;
    /* Holes of the file itself (a fixed VHDX is often sparse), unless
     * the log replay wrote there.
     */
    if (foff >= h->f->size) {
      *type = LF_EXTENT_ZERO;
      return 0;
    }
    *len = LF_MIN (n, h->f->size - foff);
    if (vhdx_overlay_intersects (h, foff, *len))
      return 0;
    return lf_file_extent (h->f, foff, len, type);
  }
  case PAYLOAD_BLOCK_PARTIALLY_PRESENT:
    *type = LF_EXTENT_DATA;
    return 0;
  case PAYLOAD_BLOCK_ZERO:
    *type = LF_EXTENT_ZERO;
    return 0;
  default:
    if (h->d->backing)
      return lf_disk_extent_padded (h->d->backing, offset, len, type);
    *type = LF_EXTENT_ZERO;
    return 0;
  }
}

const struct lf_format vhdx_format = {
  .name    = "vhdx",
  .probe   = vhdx_probe,
  .open    = vhdx_open,
  .pread   = vhdx_pread,
  .extent  = vhdx_extent,
  .close   = vhdx_close,
};

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall convert/: unit tests of the VHDX reader.
 *
 * The reader's structure decoders are static, so this suite includes
 * vhdx.c itself (its vhdx_format then satisfies disk.c, and the library's
 * copy is not linked).  Real structures cut from real images
 * (../shared/testdata/images/libvhdi-fragments) test the decoders; small
 * VHDX files built here, damaged one way each, test the error paths.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert/vhdx.c"

#define FRAGMENTS "../shared/testdata/images/libvhdi-fragments/"

static uint8_t *
read_fragment (const char *name, size_t *len)
{
  char path[512];
  FILE *fp;
  uint8_t *buf;
  long n;

  snprintf (path, sizeof path, FRAGMENTS "%s", name);
  fp = fopen (path, "rb");
  if (!fp) {
    fprintf (stderr, "SKIP: %s is missing (run from /work/main with "
             "../shared present)\n", path);
    return NULL;
  }
  fseek (fp, 0, SEEK_END);
  n = ftell (fp);
  rewind (fp);
  buf = calloc (1, (size_t) n + VHDX_REGION_TABLE_SIZE);
  ck_assert_ptr_nonnull (buf);
  ck_assert_int_eq (fread (buf, 1, (size_t) n, fp), (size_t) n);
  fclose (fp);
  *len = (size_t) n;
  return buf;
}

#define ASSERT_ERROR(needle)                                            \
  ck_assert_msg (strstr (lf_last_error (), (needle)) != NULL,           \
                 "error \"%s\" lacks \"%s\"", lf_last_error (), (needle))

/* ---------------------------------------------------------------------- */
/* Layout and CRC. */

START_TEST (test_layout)
{
  ck_assert_int_eq (offsetof (struct vhdx_header, sequence_number), 0x08);
  ck_assert_int_eq (offsetof (struct vhdx_header, log_guid), 0x30);
  ck_assert_int_eq (offsetof (struct vhdx_header, log_version), 0x40);
  ck_assert_int_eq (offsetof (struct vhdx_header, log_length), 0x44);
  ck_assert_int_eq (offsetof (struct vhdx_region_table_entry, length), 0x18);
  ck_assert_int_eq (offsetof (struct vhdx_metadata_table_header, entry_count),
                    0x0a);
  ck_assert_int_eq (offsetof (struct vhdx_log_entry_header, log_guid), 0x20);
  ck_assert_int_eq (offsetof (struct vhdx_log_descriptor, file_offset), 0x10);
  ck_assert_int_eq (offsetof (struct vhdx_log_data_sector, sequence_low),
                    0xffc);
}
END_TEST

START_TEST (test_crc32c)
{
  ck_assert_uint_eq (crc32c_update (0, "123456789", 9), 0xe3069283);
  ck_assert_uint_eq (crc32c_update (crc32c_update (0, "1234", 4), "56789", 5),
                     0xe3069283);
  ck_assert_uint_eq (crc32c_update (0, "", 0), 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Real structures. */

START_TEST (test_fragment_file_id)
{
  size_t len;
  CLEANUP_FREE uint8_t *b = read_fragment ("file_identifier.1", &len);
  CLEANUP_FREE char *creator = NULL;
  if (!b)
    return;
  ck_assert_int_eq (vhdx_decode_file_id (b, len, "f", &creator), 0);
  ck_assert_str_eq (creator, "Microsoft Windows 10.0.19041.0");
  b[0] = 'V';
  ck_assert_int_eq (vhdx_decode_file_id (b, len, "f", NULL), -1);
  ASSERT_ERROR ("f: VHDX file identifier: bad signature");
  ck_assert_int_eq (vhdx_decode_file_id (b, 100, "f", NULL), -1);
  ASSERT_ERROR ("is 100 bytes, expected 520");
}
END_TEST

START_TEST (test_fragment_header)
{
  size_t len;
  CLEANUP_FREE uint8_t *b = read_fragment ("image_header.1", &len);
  struct vhdx_header_info hi;
  if (!b)
    return;
  ck_assert_int_eq (len, 4096);
  lf_fuzzing = false;
  ck_assert_int_eq (vhdx_decode_header (b, "f", "header 1", &hi), 0);
  ck_assert_uint_eq (hi.sequence_number, 6);
  ck_assert_uint_eq (hi.log_length, 1024 * 1024);
  ck_assert_uint_eq (hi.log_offset, 1024 * 1024);
  ck_assert (guid_is_zero (hi.log_guid));
  /* One flipped bit: the CRC-32C catches it, unless fuzzing. */
  b[0x100] ^= 1;
  ck_assert_int_eq (vhdx_decode_header (b, "f", "header 1", &hi), -1);
  ASSERT_ERROR ("f: VHDX header 1: checksum 0x9f69b235 does not match");
  lf_fuzzing = true;
  ck_assert_int_eq (vhdx_decode_header (b, "f", "header 1", &hi), 0);
  lf_fuzzing = false;
  /* Version 2. */
  b[0x42] = 2;
  lf_fuzzing = true;
  ck_assert_int_eq (vhdx_decode_header (b, "f", "header 1", &hi), -1);
  ASSERT_ERROR ("version 2 is not supported");
  b[0x42] = 1;
  b[0x44] = 1;                  /* log length not a multiple of 1 MiB */
  ck_assert_int_eq (vhdx_decode_header (b, "f", "header 1", &hi), -1);
  ASSERT_ERROR ("log length 0x100001 is not a multiple of 1 MiB");
  lf_fuzzing = false;
}
END_TEST

START_TEST (test_fragment_region_table)
{
  size_t len;
  /* The fragment is the used part of the 64 KiB table; the rest is zero. */
  CLEANUP_FREE uint8_t *b = read_fragment ("region_table.1", &len);
  struct vhdx_regions r;
  if (!b)
    return;
  lf_fuzzing = false;
  ck_assert_int_eq (vhdx_decode_region_table (b, "f", "region table 1", &r),
                    0);
  ck_assert_uint_eq (r.bat.offset, 3 * LF_MiB);
  ck_assert_uint_eq (r.bat.length, 1 * LF_MiB);
  ck_assert_uint_eq (r.metadata.offset, 2 * LF_MiB);
  ck_assert_uint_eq (r.metadata.length, 1 * LF_MiB);

  lf_fuzzing = true;            /* the damage below breaks the CRC */
  lf_put_le32 (b + 8, 5000);
  ck_assert_int_eq (vhdx_decode_region_table (b, "f", "region table 1", &r),
                    -1);
  ASSERT_ERROR ("5000 entries, more than the limit of 2047");
  lf_put_le32 (b + 8, 2);
  b[0x10] ^= 0xff;              /* the BAT GUID becomes unknown... */
  b[0x2c] = 1;                  /* ...and required */
  ck_assert_int_eq (vhdx_decode_region_table (b, "f", "region table 1", &r),
                    -1);
  ASSERT_ERROR ("entry 0: unknown region {2DC27799-");
  ASSERT_ERROR ("is marked required");
  b[0x2c] = 0;
  ck_assert_int_eq (vhdx_decode_region_table (b, "f", "region table 1", &r),
                    -1);
  ASSERT_ERROR ("no BAT region");
  b[0x10] ^= 0xff;
  lf_put_le64 (b + 0x20, 0x1000);
  ck_assert_int_eq (vhdx_decode_region_table (b, "f", "region table 1", &r),
                    -1);
  ASSERT_ERROR ("BAT region at 0x1000");
  lf_put_le64 (b + 0x20, 2 * LF_MiB);  /* on top of the metadata */
  ck_assert_int_eq (vhdx_decode_region_table (b, "f", "region table 1", &r),
                    -1);
  ASSERT_ERROR ("overlaps the metadata region");
  lf_fuzzing = false;
}
END_TEST

START_TEST (test_fragment_metadata)
{
  size_t hl, el;
  CLEANUP_FREE uint8_t *h = read_fragment ("metadata_table_header.1", &hl);
  CLEANUP_FREE uint8_t *e = read_fragment ("metadata_table_entry.1", &el);
  uint32_t count;
  struct vhdx_metadata_entry me;
  if (!h || !e)
    return;
  ck_assert_int_eq (vhdx_decode_metadata_table_header (h, "f", &count), 0);
  ck_assert_uint_eq (count, 5);
  ck_assert_int_eq (vhdx_decode_metadata_entry (e, "f", 0, LF_MiB, &me), 0);
  ck_assert_mem_eq (me.item_id, VHDX_FILE_PARAMETERS_GUID, 16);
  ck_assert_uint_eq (me.offset, 0x10000);
  ck_assert_uint_eq (me.length, 8);
  ck_assert_uint_eq (me.flags, VHDX_META_IS_REQUIRED);
  /* The same entry in a region too small for it. */
  ck_assert_int_eq (vhdx_decode_metadata_entry (e, "f", 3, 0x10004, &me), -1);
  ASSERT_ERROR ("metadata entry 3 {CAA16737-FA36-4D43-B3B6-33F0AA44E76B}");
  lf_put_le16 (h + 10, 3000);
  ck_assert_int_eq (vhdx_decode_metadata_table_header (h, "f", &count), -1);
  ASSERT_ERROR ("3000 entries, more than the limit of 2047");
  h[0] = 'M';
  ck_assert_int_eq (vhdx_decode_metadata_table_header (h, "f", &count), -1);
  ASSERT_ERROR ("bad signature");
}
END_TEST

START_TEST (test_fragment_parent_locator)
{
  size_t hl, el;
  CLEANUP_FREE uint8_t *h = read_fragment ("parent_locator_header.1", &hl);
  CLEANUP_FREE uint8_t *e = read_fragment ("parent_locator_entry.1", &el);
  const struct vhdx_parent_locator_entry *pe;
  struct vhdx_parent_locator pl;
  if (!h || !e)
    return;
  ck_assert_mem_eq (h, VHDX_PARENT_TYPE_VHDX_GUID, 16);
  ck_assert_uint_eq (lf_le16 (h + 18), 5);
  pe = (const void *) e;
  ck_assert_uint_eq (lf_le32 (&pe->key_offset), 0x50);
  ck_assert_uint_eq (lf_le32 (&pe->value_offset), 0x6c);
  ck_assert_uint_eq (lf_le16 (&pe->key_length), 28);    /* parent_linkage */
  ck_assert_uint_eq (lf_le16 (&pe->value_length), 76);  /* {GUID} */
  /* The header alone claims 5 entries that are not there. */
  ck_assert_int_eq (vhdx_decode_parent_locator (h, (uint32_t) hl, "f", &pl),
                    -1);
  ASSERT_ERROR ("5 entries do not fit in 20 bytes");
}
END_TEST

/* ---------------------------------------------------------------------- */
/* A small VHDX built here: 4 MiB virtual, 1 MiB blocks, log at 1 MiB,
 * metadata at 2 MiB, BAT at 3 MiB, data from 4 MiB.
 */
#define G_LOG   (1 * LF_MiB)
#define G_META  (2 * LF_MiB)
#define G_BAT   (3 * LF_MiB)
#define G_DATA  (4 * LF_MiB)
#define G_SIZE  (9 * LF_MiB)

struct gen {
  uint8_t *img;
  size_t size;
  uint64_t vsize;
  uint32_t block_size, lss, fp_flags;
  uint8_t log_guid[16];
  uint64_t seq1, seq2;
  bool has_locator;
  uint8_t data_write_guid[16];
  const char *parent_relative;
  const char *parent_linkage;
};

static void
gen_init (struct gen *g)
{
  memset (g, 0, sizeof *g);
  g->size = G_SIZE;
  g->img = calloc (1, g->size);
  ck_assert_ptr_nonnull (g->img);
  g->vsize = 4 * LF_MiB;
  g->block_size = (uint32_t) LF_MiB;
  g->lss = 512;
  g->seq1 = 1;
  g->seq2 = 2;
  memset (g->data_write_guid, 0x5a, 16);
}

static void
put_utf16 (uint8_t *p, const char *s)
{
  for (; *s; s++, p += 2)
    lf_put_le16 (p, (uint16_t) (unsigned char) *s);
}

/* Everything but the BAT contents and the checksums. */
static void
gen_layout (struct gen *g)
{
  uint8_t *img = g->img, *m = img + G_META;
  uint32_t n = 0;

  memcpy (img, "vhdxfile", 8);
  put_utf16 (img + 8, "landfall test");
  for (int i = 0; i < 2; i++) {
    uint8_t *h = img + (i ? VHDX_HEADER2_OFFSET : VHDX_HEADER1_OFFSET);
    memcpy (h, "head", 4);
    lf_put_le64 (h + 8, i ? g->seq2 : g->seq1);
    memcpy (h + 0x20, g->data_write_guid, 16);
    memcpy (h + 0x30, g->log_guid, 16);
    lf_put_le16 (h + 0x42, 1);
    lf_put_le32 (h + 0x44, (uint32_t) LF_MiB);
    lf_put_le64 (h + 0x48, G_LOG);
  }
  for (int i = 0; i < 2; i++) {
    uint8_t *r = img + (i ? VHDX_REGION2_OFFSET : VHDX_REGION1_OFFSET);
    memcpy (r, "regi", 4);
    lf_put_le32 (r + 8, 2);
    memcpy (r + 16, VHDX_BAT_GUID, 16);
    lf_put_le64 (r + 32, G_BAT);
    lf_put_le32 (r + 40, (uint32_t) LF_MiB);
    lf_put_le32 (r + 44, 1);
    memcpy (r + 48, VHDX_METADATA_GUID, 16);
    lf_put_le64 (r + 64, G_META);
    lf_put_le32 (r + 72, (uint32_t) LF_MiB);
    lf_put_le32 (r + 76, 1);
  }
  memcpy (m, "metadata", 8);
#define ITEM(guid, off, len) do {                                       \
    uint8_t *e = m + 32 + 32 * n++;                                     \
    memcpy (e, guid, 16);                                               \
    lf_put_le32 (e + 16, off);                                          \
    lf_put_le32 (e + 20, len);                                          \
    lf_put_le32 (e + 24, 4);                                            \
  } while (0)
  ITEM (VHDX_FILE_PARAMETERS_GUID, 0x10000, 8);
  lf_put_le32 (m + 0x10000, g->block_size);
  lf_put_le32 (m + 0x10004, g->fp_flags);
  ITEM (VHDX_VIRTUAL_DISK_SIZE_GUID, 0x10008, 8);
  lf_put_le64 (m + 0x10008, g->vsize);
  ITEM (VHDX_LOGICAL_SECTOR_GUID, 0x10010, 4);
  lf_put_le32 (m + 0x10010, g->lss);
  ITEM (VHDX_PHYSICAL_SECTOR_GUID, 0x10014, 4);
  lf_put_le32 (m + 0x10014, 4096);
  ITEM (VHDX_PAGE83_GUID, 0x10018, 16);
  memset (m + 0x10018, 0x83, 16);
  if (g->has_locator) {
    /* Locator at 0x11000: header, 2 entries, then the strings. */
    uint8_t *l = m + 0x11000, *s = l + 20 + 24;
    const char *kv[4] = { "parent_linkage", g->parent_linkage,
                          "relative_path", g->parent_relative };
    ITEM (VHDX_PARENT_LOCATOR_GUID, 0x11000, 0x1000);
    memcpy (l, VHDX_PARENT_TYPE_VHDX_GUID, 16);
    lf_put_le16 (l + 18, 2);
    for (int i = 0; i < 2; i++) {
      uint8_t *e = l + 20 + 12 * i;
      uint16_t kl = (uint16_t) (2 * strlen (kv[2 * i]));
      uint16_t vl = (uint16_t) (2 * strlen (kv[2 * i + 1]));
      lf_put_le32 (e, (uint32_t) (s - l));
      put_utf16 (s, kv[2 * i]);
      s += kl;
      lf_put_le32 (e + 4, (uint32_t) (s - l));
      put_utf16 (s, kv[2 * i + 1]);
      s += vl;
      lf_put_le16 (e + 8, kl);
      lf_put_le16 (e + 10, vl);
    }
  }
#undef ITEM
  lf_put_le16 (m + 10, (uint16_t) n);
}

static void
gen_bat (struct gen *g, uint64_t index, unsigned state, uint64_t off)
{
  lf_put_le64 (g->img + G_BAT + index * 8, off | state);
}

static void
gen_checksums (struct gen *g)
{
  for (int i = 0; i < 2; i++) {
    uint8_t *h = g->img + (i ? VHDX_HEADER2_OFFSET : VHDX_HEADER1_OFFSET);
    uint8_t *r = g->img + (i ? VHDX_REGION2_OFFSET : VHDX_REGION1_OFFSET);
    lf_put_le32 (h + 4, crc32c_with_zero_field (h, VHDX_HEADER_SIZE));
    lf_put_le32 (r + 4, crc32c_with_zero_field (r, VHDX_REGION_TABLE_SIZE));
  }
}

static char *
gen_write (struct gen *g, const char *name)
{
  char *path;
  int fd;

  if (name)
    ck_assert_int_ne (asprintf (&path, "/tmp/landfall-test-vhdx-%d-%s",
                                (int) getpid (), name), -1);
  else
    ck_assert_int_ne (asprintf (&path, "/tmp/landfall-test-vhdx-%d-XXXXXX",
                                (int) getpid ()), -1);
  fd = name ? open (path, O_RDWR | O_CREAT | O_TRUNC, 0600) : mkstemp (path);
  ck_assert_int_ge (fd, 0);
  ck_assert_int_eq (lf_pwrite_all (fd, g->img, g->size, 0), 0);
  close (fd);
  return path;
}

/* The default good image: block 0 present at 4 MiB, block 1 zero, block
 * 2 present at 6 MiB, block 3 not present.
 */
static void
gen_default (struct gen *g)
{
  gen_init (g);
  gen_layout (g);
  gen_bat (g, 0, PAYLOAD_BLOCK_FULLY_PRESENT, G_DATA);
  gen_bat (g, 1, PAYLOAD_BLOCK_ZERO, 0);
  gen_bat (g, 2, PAYLOAD_BLOCK_FULLY_PRESENT, G_DATA + 2 * LF_MiB);
  gen_bat (g, 3, PAYLOAD_BLOCK_NOT_PRESENT, 0);
  memset (g->img + G_DATA, 0xa0, LF_MiB);
  memset (g->img + G_DATA + 2 * LF_MiB, 0xa2, LF_MiB);
}

static struct lf_disk *
open_gen (struct gen *g)
{
  CLEANUP_FREE char *path = NULL;
  struct lf_disk *d;

  gen_checksums (g);
  path = gen_write (g, NULL);
  d = lf_disk_open (path, NULL);
  unlink (path);
  free (g->img);
  g->img = NULL;
  return d;
}

static uint8_t
byte_at (struct lf_disk *d, uint64_t off)
{
  uint8_t b;
  ck_assert_int_eq (lf_disk_pread (d, &b, 1, off), 0);
  return b;
}

START_TEST (test_good)
{
  struct gen g;
  struct lf_disk *d;
  CLEANUP_FREE uint8_t *buf = malloc (4 * LF_MiB);
  uint64_t len;
  unsigned type;

  gen_default (&g);
  d = open_gen (&g);
  ck_assert_msg (d != NULL, "%s", lf_last_error ());
  ck_assert_str_eq (lf_disk_format (d), "vhdx");
  ck_assert_str_eq (lf_disk_subformat (d), "dynamic");
  ck_assert_uint_eq (lf_disk_size (d), 4 * LF_MiB);
  ck_assert_int_eq (lf_disk_pread (d, buf, 4 * LF_MiB, 0), 0);
  for (uint64_t i = 0; i < 4 * LF_MiB; i += 4096)
    ck_assert_uint_eq (buf[i], i < LF_MiB ? 0xa0 :
                       i >= 2 * LF_MiB && i < 3 * LF_MiB ? 0xa2 : 0);
  /* Across block boundaries, unaligned. */
  ck_assert_int_eq (lf_disk_pread (d, buf, 3, LF_MiB - 1), 0);
  ck_assert_uint_eq (buf[0], 0xa0);
  ck_assert_uint_eq (buf[1], 0);
  len = 4 * LF_MiB;
  ck_assert_int_eq (lf_disk_extent (d, 0, &len, &type), 0);
  ck_assert_uint_eq (type, LF_EXTENT_DATA);
  ck_assert_uint_eq (len, LF_MiB);
  len = 3 * LF_MiB;
  ck_assert_int_eq (lf_disk_extent (d, LF_MiB, &len, &type), 0);
  ck_assert_uint_eq (type, LF_EXTENT_ZERO);
  ck_assert_uint_eq (len, LF_MiB);
  lf_disk_close (d);
}
END_TEST

START_TEST (test_fixed_flag)
{
  struct gen g;
  struct lf_disk *d;

  gen_default (&g);
  g.fp_flags = VHDX_PARAM_LEAVE_BLOCKS_ALLOCATED;
  gen_layout (&g);
  d = open_gen (&g);
  ck_assert_msg (d != NULL, "%s", lf_last_error ());
  ck_assert_str_eq (lf_disk_subformat (d), "fixed");
  lf_disk_close (d);
}
END_TEST

START_TEST (test_probe)
{
  struct gen g;
  CLEANUP_FREE char *path = NULL;
  struct lf_file *f;

  gen_default (&g);
  path = gen_write (&g, NULL);
  f = lf_file_open (path);
  ck_assert_int_eq (vhdx_probe (f), LF_MATCH);
  lf_file_close (f);
  g.img[0] = 'x';
  g.size = 4;
  free (path);
  path = gen_write (&g, NULL);
  f = lf_file_open (path);
  ck_assert_int_eq (vhdx_probe (f), LF_NO_MATCH);
  lf_file_close (f);
  unlink (path);
  free (g.img);
}
END_TEST

START_TEST (test_header_choice)
{
  struct gen g;
  struct lf_disk *d;

  /* Header 2 (higher sequence) is damaged: header 1 is used. */
  gen_default (&g);
  gen_checksums (&g);
  g.img[VHDX_HEADER2_OFFSET + 100] ^= 1;
  {
    CLEANUP_FREE char *path = gen_write (&g, NULL);
    d = lf_disk_open (path, NULL);
    unlink (path);
  }
  ck_assert_msg (d != NULL, "%s", lf_last_error ());
  lf_disk_close (d);

  /* Both damaged. */
  g.img[VHDX_HEADER1_OFFSET + 100] ^= 1;
  {
    CLEANUP_FREE char *path = gen_write (&g, NULL);
    d = lf_disk_open (path, NULL);
    unlink (path);
  }
  ck_assert_ptr_null (d);
  ASSERT_ERROR ("no valid VHDX header");
  ASSERT_ERROR ("header 1 (at 0x10000): checksum");
  free (g.img);
}
END_TEST

START_TEST (test_region_table_fallback)
{
  struct gen g;
  struct lf_disk *d;

  gen_default (&g);
  gen_checksums (&g);
  g.img[VHDX_REGION1_OFFSET + 20] ^= 1;
  {
    CLEANUP_FREE char *path = gen_write (&g, NULL);
    d = lf_disk_open (path, NULL);
    unlink (path);
  }
  ck_assert_msg (d != NULL, "%s", lf_last_error ());
  lf_disk_close (d);
  g.img[VHDX_REGION2_OFFSET + 20] ^= 1;
  {
    CLEANUP_FREE char *path = gen_write (&g, NULL);
    d = lf_disk_open (path, NULL);
    unlink (path);
  }
  ck_assert_ptr_null (d);
  ASSERT_ERROR ("no valid VHDX region table");
  ASSERT_ERROR ("region table 1 (at 0x30000): checksum");
  free (g.img);
}
END_TEST

START_TEST (test_bad_block_size)
{
  struct gen g;
  gen_default (&g);
  g.block_size = 3 * 1024 * 1024;
  gen_layout (&g);
  ck_assert_ptr_null (open_gen (&g));
  ASSERT_ERROR ("block size 3145728 is not a power of 2");
}
END_TEST

START_TEST (test_bad_sector_size)
{
  struct gen g;
  gen_default (&g);
  g.lss = 1000;
  gen_layout (&g);
  ck_assert_ptr_null (open_gen (&g));
  ASSERT_ERROR ("logical sector size 1000 is not 512 or 4096");
}
END_TEST

START_TEST (test_bad_virtual_size)
{
  struct gen g;
  gen_default (&g);
  g.vsize = 65 * LF_TiB;
  gen_layout (&g);
  ck_assert_ptr_null (open_gen (&g));
  ASSERT_ERROR ("virtual disk size 71468255805440 is larger than the limit");
}
END_TEST

START_TEST (test_bat_too_small)
{
  struct gen g;
  /* 64 TiB in 1 MiB blocks needs a 512 MiB BAT; the region is 1 MiB. */
  gen_default (&g);
  g.vsize = 64 * LF_TiB;
  gen_layout (&g);
  ck_assert_ptr_null (open_gen (&g));
  ASSERT_ERROR ("VHDX BAT region (1048576 bytes) is too small for");
}
END_TEST

START_TEST (test_bat_beyond_eof)
{
  struct gen g;
  gen_default (&g);
  gen_bat (&g, 2, PAYLOAD_BLOCK_FULLY_PRESENT, 100 * LF_MiB);
  ck_assert_ptr_null (open_gen (&g));
  ASSERT_ERROR ("BAT entry 2: payload block at 0x6400000 is beyond end of "
                "file (file size 0x900000)");
}
END_TEST

START_TEST (test_bat_overlaps)
{
  struct gen g;
  gen_default (&g);
  gen_bat (&g, 2, PAYLOAD_BLOCK_FULLY_PRESENT, G_META);
  ck_assert_ptr_null (open_gen (&g));
  ASSERT_ERROR ("BAT entry 2: payload block at 0x200000 overlaps the "
                "metadata region");
  gen_default (&g);
  gen_bat (&g, 0, PAYLOAD_BLOCK_FULLY_PRESENT, 0);
  ck_assert_ptr_null (open_gen (&g));
  ASSERT_ERROR ("inside the header section");
  gen_default (&g);
  gen_bat (&g, 0, PAYLOAD_BLOCK_FULLY_PRESENT, G_LOG);
  ck_assert_ptr_null (open_gen (&g));
  ASSERT_ERROR ("overlaps the log");
}
END_TEST

START_TEST (test_bat_bad_state)
{
  struct gen g;
  gen_default (&g);
  gen_bat (&g, 3, 4, 0);
  ck_assert_ptr_null (open_gen (&g));
  ASSERT_ERROR ("BAT entry 3: block 3 has invalid state 4");
  gen_default (&g);
  gen_bat (&g, 3, PAYLOAD_BLOCK_PARTIALLY_PRESENT, G_DATA + 3 * LF_MiB);
  ck_assert_ptr_null (open_gen (&g));
  ASSERT_ERROR ("block 3 is partially present, but the disk has no parent");
}
END_TEST

START_TEST (test_unknown_required_metadata)
{
  struct gen g;
  uint8_t *m;
  gen_default (&g);
  m = g.img + G_META;
  lf_put_le16 (m + 10, 6);
  memset (m + 32 + 5 * 32, 0x77, 16);
  lf_put_le32 (m + 32 + 5 * 32 + 16, 0x10100);
  lf_put_le32 (m + 32 + 5 * 32 + 20, 4);
  lf_put_le32 (m + 32 + 5 * 32 + 24, 4);
  ck_assert_ptr_null (open_gen (&g));
  ASSERT_ERROR ("metadata entry 5: unknown item "
                "{77777777-7777-7777-7777-777777777777} is marked required");
}
END_TEST

START_TEST (test_missing_metadata)
{
  struct gen g;
  gen_default (&g);
  lf_put_le16 (g.img + G_META + 10, 1);
  ck_assert_ptr_null (open_gen (&g));
  ASSERT_ERROR ("metadata table has no virtual disk size item");
}
END_TEST

START_TEST (test_has_parent_without_locator)
{
  struct gen g;
  gen_default (&g);
  g.fp_flags = VHDX_PARAM_HAS_PARENT;
  gen_layout (&g);
  ck_assert_ptr_null (open_gen (&g));
  ASSERT_ERROR ("has a parent, but there is no parent locator");
}
END_TEST

START_TEST (test_truncated)
{
  struct gen g;
  struct lf_disk *d;
  gen_default (&g);
  gen_checksums (&g);
  g.size = 200 * 1024;          /* through the headers only */
  {
    CLEANUP_FREE char *path = gen_write (&g, NULL);
    d = lf_disk_open (path, NULL);
    unlink (path);
  }
  ck_assert_ptr_null (d);
  ASSERT_ERROR ("region table 1 (at 0x30000) at 0x30000 (65536 bytes) is "
                "beyond end of file (0x32000)");
  free (g.img);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* The log. */

/* Append to the log at sector POS an entry of sequence SEQ holding one
 * data descriptor writing PAGE (4 KiB) at FILE_OFFSET and one zero
 * descriptor zeroing ZERO_LEN bytes at ZERO_OFF.  Returns its sectors.
 */
static uint32_t
gen_log_entry (struct gen *g, uint32_t pos, uint64_t seq, uint32_t tail,
               const uint8_t *page, uint64_t file_offset,
               uint64_t zero_off, uint64_t zero_len, uint64_t flushed)
{
  uint8_t *e = g->img + G_LOG + (uint64_t) pos * 4096;
  uint8_t *d0 = e + 64, *d1 = e + 96, *ds = e + 4096;
  uint32_t len = 2 * 4096;

  memcpy (e, "loge", 4);
  lf_put_le32 (e + 8, len);
  lf_put_le32 (e + 12, tail * 4096);
  lf_put_le64 (e + 16, seq);
  lf_put_le32 (e + 24, 2);
  memcpy (e + 32, g->log_guid, 16);
  lf_put_le64 (e + 48, flushed);
  lf_put_le64 (e + 56, G_SIZE);
  memcpy (d0, "desc", 4);
  memcpy (d0 + 4, page + 4092, 4);
  memcpy (d0 + 8, page, 8);
  lf_put_le64 (d0 + 16, file_offset);
  lf_put_le64 (d0 + 24, seq);
  memcpy (d1, "zero", 4);
  lf_put_le64 (d1 + 8, zero_len);
  lf_put_le64 (d1 + 16, zero_off);
  lf_put_le64 (d1 + 24, seq);
  memcpy (ds, "data", 4);
  lf_put_le32 (ds + 4, (uint32_t) (seq >> 32));
  memcpy (ds + 8, page + 8, 4084);
  lf_put_le32 (ds + 4092, (uint32_t) seq);
  lf_put_le32 (e + 4, 0);
  lf_put_le32 (e + 4, crc32c_with_zero_field (e, len));
  return 2;
}

/* The log's entry makes block 3 present at 7 MiB (a new BAT page) and
 * zeroes the first 64 KiB of block 0.  Without the replay block 3 would
 * read as zeros and block 0 as 0xa0.
 */
static void
gen_dirty (struct gen *g, uint64_t flushed)
{
  uint8_t page[4096];
  gen_default (g);
  memset (g->log_guid, 0x6c, 16);
  gen_layout (g);
  memset (g->img + G_DATA + 3 * LF_MiB, 0xa3, LF_MiB);
  memcpy (page, g->img + G_BAT, 4096);
  lf_put_le64 (page + 3 * 8, (G_DATA + 3 * LF_MiB) | 6);
  /* An older, already flushed entry at sector 0 (its tail), then the
   * head at sector 2 whose tail is itself.
   */
  gen_log_entry (g, 0, 9, 0, g->img + G_BAT, G_BAT, 0, 0, flushed);
  gen_log_entry (g, 2, 10, 2, page, G_BAT, G_DATA, 64 * 1024, flushed);
}

START_TEST (test_log_replay)
{
  struct gen g;
  struct lf_disk *d;

  gen_dirty (&g, G_SIZE);
  d = open_gen (&g);
  ck_assert_msg (d != NULL, "%s", lf_last_error ());
  ck_assert_uint_eq (byte_at (d, 0), 0);
  ck_assert_uint_eq (byte_at (d, 64 * 1024 - 1), 0);
  ck_assert_uint_eq (byte_at (d, 64 * 1024), 0xa0);
  ck_assert_uint_eq (byte_at (d, 3 * LF_MiB + 5), 0xa3);
  lf_disk_close (d);
}
END_TEST

START_TEST (test_log_bad_crc_ignored)
{
  struct gen g;
  struct lf_disk *d;

  gen_dirty (&g, G_SIZE);
  g.img[G_LOG + 2 * 4096 + 4096 + 100] ^= 1;  /* head's data sector */
  d = open_gen (&g);
  ck_assert_msg (d != NULL, "%s", lf_last_error ());
  /* Only the older entry is valid: it rewrites the BAT page unchanged. */
  ck_assert_uint_eq (byte_at (d, 0), 0xa0);
  ck_assert_uint_eq (byte_at (d, 3 * LF_MiB + 5), 0);
  lf_disk_close (d);
}
END_TEST

START_TEST (test_log_truncated_file)
{
  struct gen g;
  gen_dirty (&g, 100 * LF_MiB);
  ck_assert_ptr_null (open_gen (&g));
  ASSERT_ERROR ("flushed file offset 0x6400000 is beyond end of file "
                "(0x900000): the file was truncated");
}
END_TEST

START_TEST (test_overlay_order)
{
  /* Later writes win where they overlap. */
  struct vhdx h = { 0 };
  struct lf_file f = { .path = (char *) "t" };
  uint8_t p1[4096], p2[4096];
  struct log_write w[3] = {
    { .start = 0, .end = 4096, .src = p1, .prio = 0 },
    { .start = 1024, .end = 2048, .src = NULL, .prio = 1 },
    { .start = 4096 - 512, .end = 8192 - 512, .src = p2, .prio = 2 },
  };
  memset (p1, 1, sizeof p1);
  memset (p2, 2, sizeof p2);
  h.f = &f;
  ck_assert_int_eq (vhdx_build_overlay (&h, w, 3), 0);
  ck_assert_uint_eq (h.nr_overlay, 4);
  ck_assert_uint_eq (h.overlay[0].end, 1024);
  ck_assert_ptr_null (h.overlay[1].src);
  ck_assert_uint_eq (h.overlay[2].start, 2048);
  ck_assert_uint_eq (h.overlay[2].end, 4096 - 512);
  ck_assert_ptr_eq (h.overlay[3].src, p2);
  ck_assert_uint_eq (h.overlay[3].end, 8192 - 512);
  free (h.overlay);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Differencing. */

static const char *
guid_str (const uint8_t *g)
{
  static char buf[48];
  char s[40];
  snprintf (buf, sizeof buf, "{%s}", guid_to_string (g, s, sizeof s));
  return buf;
}

static void
diff_pair (const char *linkage, char **parent_path, char **child_path)
{
  struct gen p, c;
  char name[64];

  /* Parent: all four blocks present, 0xb0 + block. */
  gen_init (&p);
  gen_layout (&p);
  for (int i = 0; i < 4; i++) {
    gen_bat (&p, (uint64_t) i, PAYLOAD_BLOCK_FULLY_PRESENT,
             G_DATA + (uint64_t) i * LF_MiB);
    memset (p.img + G_DATA + (uint64_t) i * LF_MiB, 0xb0 + i, LF_MiB);
  }
  gen_checksums (&p);
  snprintf (name, sizeof name, "parent-%d.vhdx", (int) getpid ());
  *parent_path = gen_write (&p, name);
  free (p.img);

  /* Child: block 0 its own (0xc0), block 1 partially present (sectors 0
   * and 2 its own, 0xc1), block 2 zero, block 3 from the parent.
   */
  gen_init (&c);
  c.fp_flags = VHDX_PARAM_HAS_PARENT;
  c.has_locator = true;
  c.parent_linkage = linkage ? linkage : guid_str (p.data_write_guid);
  {
    char *rel;
    ck_assert_int_ne (asprintf (&rel, ".\\landfall-test-vhdx-%d-%s",
                                (int) getpid (), name), -1);
    c.parent_relative = rel;
  }
  gen_layout (&c);
  gen_bat (&c, 0, PAYLOAD_BLOCK_FULLY_PRESENT, G_DATA);
  gen_bat (&c, 1, PAYLOAD_BLOCK_PARTIALLY_PRESENT, G_DATA + LF_MiB);
  gen_bat (&c, 2, PAYLOAD_BLOCK_ZERO, 0);
  gen_bat (&c, 3, PAYLOAD_BLOCK_NOT_PRESENT, 0);
  gen_bat (&c, 4096, SB_BLOCK_PRESENT, G_DATA + 2 * LF_MiB);
  memset (c.img + G_DATA, 0xc0, LF_MiB);
  memset (c.img + G_DATA + LF_MiB, 0xc1, LF_MiB);
  /* Block 1 starts at bit 2048 of the chunk's bitmap. */
  c.img[G_DATA + 2 * LF_MiB + 2048 / 8] = 0x05;
  gen_checksums (&c);
  *child_path = gen_write (&c, NULL);
  free ((char *) c.parent_relative);
  free (c.img);
}

START_TEST (test_differencing)
{
  char *pp, *cp;
  struct lf_disk *d;

  diff_pair (NULL, &pp, &cp);
  d = lf_disk_open (cp, NULL);
  ck_assert_msg (d != NULL, "%s", lf_last_error ());
  ck_assert_str_eq (lf_disk_subformat (d), "differencing");
  ck_assert_ptr_nonnull (lf_disk_backing (d));
  ck_assert_uint_eq (byte_at (d, 100), 0xc0);
  ck_assert_uint_eq (byte_at (d, LF_MiB + 0), 0xc1);
  ck_assert_uint_eq (byte_at (d, LF_MiB + 511), 0xc1);
  ck_assert_uint_eq (byte_at (d, LF_MiB + 512), 0xb1);
  ck_assert_uint_eq (byte_at (d, LF_MiB + 1024), 0xc1);
  ck_assert_uint_eq (byte_at (d, LF_MiB + 1536), 0xb1);
  ck_assert_uint_eq (byte_at (d, LF_MiB + 9000), 0xb1);
  ck_assert_uint_eq (byte_at (d, 2 * LF_MiB + 7), 0);
  ck_assert_uint_eq (byte_at (d, 3 * LF_MiB + 7), 0xb3);
  {
    CLEANUP_FREE uint8_t *buf = malloc (4 * LF_MiB);
    ck_assert_int_eq (lf_disk_pread (d, buf, 4 * LF_MiB, 0), 0);
    ck_assert_uint_eq (buf[LF_MiB + 1030], 0xc1);
    ck_assert_uint_eq (buf[LF_MiB + 1600], 0xb1);
  }
  lf_disk_close (d);
  unlink (cp);
  unlink (pp);
  free (cp);
  free (pp);
}
END_TEST

START_TEST (test_differencing_wrong_parent)
{
  char *pp, *cp;
  diff_pair ("{00000000-1111-2222-3333-444444444444}", &pp, &cp);
  ck_assert_ptr_null (lf_disk_open (cp, NULL));
  ASSERT_ERROR ("the parent changed since");
  unlink (cp);
  unlink (pp);
  free (cp);
  free (pp);
}
END_TEST

START_TEST (test_differencing_missing_parent)
{
  char *pp, *cp;
  diff_pair (NULL, &pp, &cp);
  unlink (pp);
  ck_assert_ptr_null (lf_disk_open (cp, NULL));
  ASSERT_ERROR ("differencing VHDX: parent");
  unlink (cp);
  free (cp);
  free (pp);
}
END_TEST

static Suite *
vhdx_suite (void)
{
  Suite *s = suite_create ("vhdx");
  struct { const char *name; const TTest *t; } tests[] = {
#define T(x) { #x, x }
    T (test_layout), T (test_crc32c),
    T (test_fragment_file_id), T (test_fragment_header),
    T (test_fragment_region_table), T (test_fragment_metadata),
    T (test_fragment_parent_locator),
    T (test_good), T (test_fixed_flag), T (test_probe),
    T (test_header_choice), T (test_region_table_fallback),
    T (test_bad_block_size), T (test_bad_sector_size),
    T (test_bad_virtual_size), T (test_bat_too_small),
    T (test_bat_beyond_eof), T (test_bat_overlaps), T (test_bat_bad_state),
    T (test_unknown_required_metadata), T (test_missing_metadata),
    T (test_has_parent_without_locator), T (test_truncated),
    T (test_log_replay), T (test_log_bad_crc_ignored),
    T (test_log_truncated_file), T (test_overlay_order),
    T (test_differencing), T (test_differencing_wrong_parent),
    T (test_differencing_missing_parent),
#undef T
  };
  for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
    TCase *tc = tcase_create (tests[i].name);
    tcase_set_timeout (tc, 60);
    _tcase_add_test (tc, tests[i].t, 0, 0, 0, 1);
    suite_add_tcase (s, tc);
  }
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (vhdx_suite ());
  int failed;

  srunner_run_all (sr, CK_NORMAL);
  failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall: initramfs/ unit tests, against the real archives in
 * ../shared/testdata/cpio/ (3cpio, libarchive, dfvfs) and damaged ones
 * built in memory.  Debian's lsinitramfs and dracut's lsinitrd, when
 * installed, must list what we write.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "initramfs/initramfs.h"

#define TESTDATA "../shared/testdata/cpio"

static char tmpdir[] = "/tmp/landfall-test-initramfs-XXXXXX";

static uint8_t *
read_file (const char *path, size_t *len)
{
  FILE *fp = fopen (path, "rb");
  uint8_t *buf = NULL;
  long n;

  ck_assert_msg (fp != NULL, "%s: %s", path, strerror (errno));
  ck_assert (fseek (fp, 0, SEEK_END) == 0);
  n = ftell (fp);
  ck_assert (n >= 0);
  rewind (fp);
  buf = malloc ((size_t) n + 1);
  ck_assert (buf != NULL);
  ck_assert (fread (buf, 1, (size_t) n, fp) == (size_t) n);
  fclose (fp);
  *len = (size_t) n;
  return buf;
}

static void
write_file (const char *path, const void *buf, size_t len)
{
  FILE *fp = fopen (path, "wb");
  ck_assert_msg (fp != NULL, "%s: %s", path, strerror (errno));
  ck_assert (fwrite (buf, 1, len, fp) == len);
  ck_assert (fclose (fp) == 0);
}

static uint8_t *
sample (const char *rel, size_t *len)
{
  char path[512];
  snprintf (path, sizeof path, "%s/%s", TESTDATA, rel);
  return read_file (path, len);
}

/* A sample stored compressed: decoded by the real tool into tmpdir. */
static uint8_t *
sample_decoded (const char *rel, const char *tool, size_t *len)
{
  char cmd[4096], out[512];
  const char *base = strrchr (rel, '/');
  snprintf (out, sizeof out, "%s/%s.raw", tmpdir, base ? base + 1 : rel);
  snprintf (cmd, sizeof cmd, "%s -dc '%s/%s' > '%s'", tool, TESTDATA, rel,
            out);
  ck_assert_msg (system (cmd) == 0, "%s failed", cmd);
  return read_file (out, len);
}

/* "mode uid gid size path[ -> target]" per entry, one line each. */
static char *
listing (struct lf_initramfs *img, size_t segment)
{
  char *s = NULL;
  size_t n = 0;
  FILE *fp = open_memstream (&s, &n);
  ck_assert (fp != NULL);
  for (size_t i = 0; i < lf_initramfs_nentries (img); i++) {
    const struct lf_initramfs_entry *e = lf_initramfs_entry (img, i);
    if (e->segment != segment)
      continue;
    fprintf (fp, "%o %u %u %zu %s", e->mode, e->uid, e->gid, e->size,
             e->path);
    if (e->symlink)
      fprintf (fp, " -> %s", e->symlink);
    fputc ('\n', fp);
  }
  fclose (fp);
  return s;
}

static bool
have (const char *cmd)
{
  char buf[256];
  snprintf (buf, sizeof buf, "command -v %s >/dev/null 2>&1", cmd);
  return system (buf) == 0;
}

/* Run CMD, return its stdout (malloc'd). */
static char *
run (const char *cmd)
{
  FILE *fp = popen (cmd, "r");
  char *s = NULL;
  size_t n = 0, cap = 0;
  int c;
  ck_assert (fp != NULL);
  while ((c = fgetc (fp)) != EOF) {
    if (n + 2 > cap) {
      cap = cap ? cap * 2 : 4096;
      s = realloc (s, cap);
      ck_assert (s != NULL);
    }
    s[n++] = (char) c;
  }
  pclose (fp);
  if (!s)
    s = calloc (1, 1);
  else
    s[n] = '\0';
  return s;
}

static bool
has_line (const char *text, const char *line)
{
  size_t n = strlen (line);
  for (const char *p = text; (p = strstr (p, line)) != NULL; p += n)
    if ((p == text || p[-1] == '\n' || p[-1] == ' ') &&
        (p[n] == '\n' || p[n] == '\0'))
      return true;
  return false;
}

static void
expect_error (struct lf_initramfs *img, int errnum, const char *needle)
{
  ck_assert_msg (img == NULL, "parse unexpectedly succeeded (want \"%s\")",
                 needle);
  ck_assert_msg (strstr (lf_last_error (), needle) != NULL,
                 "error \"%s\" lacks \"%s\"", lf_last_error (), needle);
  if (errnum)
    ck_assert_msg (lf_last_errno () == errnum, "errno %d, want %d (%s)",
                   lf_last_errno (), errnum, lf_last_error ());
}

/* The compressors and the 3cpio samples. */

static const char *const compressors[] = {
  "gzip", "xz", "zstd", "lz4", "lzma", "bzip2",
};
#define NCOMP (sizeof compressors / sizeof compressors[0])

static const char single_list[] =
  "40775 0 0 0 .\n"
  "40775 0 0 0 path\n"
  "100664 0 0 8 path/file\n";
static const char shell_list[] =
  "40775 0 0 0 .\n"
  "40775 0 0 0 usr\n"
  "40775 0 0 0 usr/bin\n"
  "120777 0 0 2 usr/bin/ash -> sh\n"
  "100664 0 0 56 usr/bin/sh\n";

#define ADDED "usr/lib/modules/6.1.0-landfall/kernel/drivers/hv/hv_vmbus.ko"
static const char added_data[] = "\x7f" "ELF landfall test module\n";

static void
check_3cpio_image (struct lf_initramfs *img, const char *comp)
{
  CLEANUP_FREE char *l0 = NULL, *l1 = NULL;
  const struct lf_initramfs_entry *e;

  ck_assert_uint_eq (lf_initramfs_nsegments (img), 2);
  ck_assert_str_eq (lf_initramfs_segment (img, 0)->compression, "none");
  ck_assert_str_eq (lf_initramfs_segment (img, 0)->format, "newc");
  ck_assert_uint_eq (lf_initramfs_segment (img, 0)->offset, 0);
  ck_assert_uint_eq (lf_initramfs_segment (img, 1)->offset, 512);
  ck_assert_str_eq (lf_initramfs_segment (img, 1)->compression, comp);
  ck_assert_uint_eq (lf_initramfs_segment (img, 0)->nentries, 3);
  l0 = listing (img, 0);
  ck_assert_str_eq (l0, single_list);
  l1 = listing (img, 1);
  ck_assert_msg (strncmp (l1, shell_list, strlen (shell_list)) == 0,
                 "%s: segment 1 is\n%s", comp, l1);
  e = lf_initramfs_lookup (img, "path/file", true);
  ck_assert_msg (e != NULL, "%s", lf_last_error ());
  ck_assert_uint_eq (e->size, 8);
  ck_assert (memcmp (e->data, "content\n", 8) == 0);
  e = lf_initramfs_lookup (img, "/usr/bin/ash", true);
  ck_assert_msg (e != NULL, "%s", lf_last_error ());
  ck_assert_str_eq (e->path, "usr/bin/sh");
  ck_assert_uint_eq (e->size, 56);
  ck_assert (memcmp (e->data, "This is ", 8) == 0);
  e = lf_initramfs_lookup (img, "./usr//bin/ash", false);
  ck_assert_msg (e != NULL, "%s", lf_last_error ());
  ck_assert_str_eq (e->symlink, "sh");
}

START_TEST (test_3cpio_compressor)
{
  const char *comp = compressors[_i];
  char rel[64], path[512], cmd[4096];
  size_t len, outlen, out2len;
  CLEANUP_FREE uint8_t *buf = NULL;
  CLEANUP_FREE void *out = NULL, *out2 = NULL;
  CLEANUP_FREE char *ls = NULL;
  struct lf_initramfs *img, *img2;
  const struct lf_initramfs_entry *e;

  snprintf (rel, sizeof rel, "3cpio/%s.cpio", comp);
  buf = sample (rel, &len);
  img = lf_initramfs_parse (buf, len, rel);
  ck_assert_msg (img != NULL, "%s", lf_last_error ());
  check_3cpio_image (img, comp);
  ck_assert_uint_eq (lf_initramfs_segment (img, 1)->offset +
                     lf_initramfs_segment (img, 1)->length, len);

  /* Round trip without changes. */
  ck_assert_msg (lf_initramfs_write (img, &out, &outlen) == 0, "%s",
                 lf_last_error ());
  ck_assert (memcmp (out, buf, 512) == 0);
  img2 = lf_initramfs_parse (out, outlen, "round-trip");
  ck_assert_msg (img2 != NULL, "%s", lf_last_error ());
  check_3cpio_image (img2, comp);
  {
    CLEANUP_FREE char *a = NULL, *b = NULL;
    a = listing (img, 1);
    b = listing (img2, 1);
    ck_assert_str_eq (a, b);
  }
  lf_initramfs_free (img2);

  /* Add a module; read it back. */
  ck_assert_msg (lf_initramfs_add (img, ADDED, 0644, added_data,
                                   sizeof added_data - 1) == 0,
                 "%s", lf_last_error ());
  ck_assert_msg (lf_initramfs_write (img, &out2, &out2len) == 0, "%s",
                 lf_last_error ());
  ck_assert (memcmp (out2, buf, 512) == 0);
  img2 = lf_initramfs_parse (out2, out2len, "added");
  ck_assert_msg (img2 != NULL, "%s", lf_last_error ());
  ck_assert_str_eq (lf_initramfs_segment (img2, 1)->compression, comp);
  e = lf_initramfs_lookup (img2, ADDED, true);
  ck_assert_msg (e != NULL, "%s", lf_last_error ());
  ck_assert_uint_eq (e->segment, 1);
  ck_assert_uint_eq (e->mode, S_IFREG | 0644);
  ck_assert_uint_eq (e->size, sizeof added_data - 1);
  ck_assert (memcmp (e->data, added_data, e->size) == 0);
  e = lf_initramfs_find (img2, "usr/lib/modules/6.1.0-landfall");
  ck_assert_msg (e != NULL && S_ISDIR (e->mode), "parent not created");
  lf_initramfs_free (img2);
  lf_initramfs_free (img);

  /* Debian's own reader. */
  snprintf (path, sizeof path, "%s/initrd-%s.img", tmpdir, comp);
  write_file (path, out2, out2len);
  if (!have ("lsinitramfs"))
    fprintf (stderr, "SKIP: lsinitramfs not installed "
             "(apt-get install initramfs-tools-core)\n");
  else {
    snprintf (cmd, sizeof cmd, "lsinitramfs '%s' 2>&1", path);
    ls = run (cmd);
    ck_assert_msg (has_line (ls, ADDED), "%s: lsinitramfs:\n%s", comp, ls);
    ck_assert_msg (has_line (ls, "path/file"), "lsinitramfs:\n%s", ls);
    ck_assert_msg (has_line (ls, "usr/bin/sh"), "lsinitramfs:\n%s", ls);
  }
}
END_TEST

/* Build an early cpio the way dracut does (with its "early_cpio" marker
 * and a microcode file), padded to 512.
 */
static void
early_cpio (struct lf_ird_buf *b)
{
  static const char *const names[] = {
    "early_cpio", "kernel", "kernel/x86", "kernel/x86/microcode",
    "kernel/x86/microcode/GenuineIntel.bin",
  };
  for (size_t i = 0; i < 5; i++) {
    bool file = i == 0 || i == 4;
    const char *data = i == 0 ? "1\n" : "microcode";
    struct lf_cpio_record r = {
      .ino = i + 1, .mode = file ? 0100644 : 040755, .nlink = file ? 1 : 2,
      .size = file ? strlen (data) : 0, .name = names[i],
      .namelen = strlen (names[i]),
    };
    ck_assert (lf_cpio_write_newc (b, &r, data) == 0);
  }
  ck_assert (lf_cpio_write_trailer (b, 512) == 0);
}

START_TEST (test_dracut_layout)
{
  const char *comp = compressors[_i];
  char rel[64], path[512], cmd[4096];
  size_t len, outlen;
  CLEANUP_FREE uint8_t *buf = NULL;
  CLEANUP_FREE void *out = NULL;
  CLEANUP_FREE char *ls = NULL;
  struct lf_ird_buf b = { NULL, 0, 0 };
  struct lf_initramfs *img;

  snprintf (rel, sizeof rel, "3cpio/%s.cpio", comp);
  buf = sample (rel, &len);
  early_cpio (&b);
  ck_assert (lf_ird_buf_append (&b, buf + 512, len - 512) == 0);
  img = lf_initramfs_parse (b.p, b.len, "dracut-style");
  ck_assert_msg (img != NULL, "%s", lf_last_error ());
  ck_assert_uint_eq (lf_initramfs_nsegments (img), 2);
  ck_assert_msg (lf_initramfs_add (img, ADDED, 0644, added_data,
                                   sizeof added_data - 1) == 0,
                 "%s", lf_last_error ());
  ck_assert (lf_initramfs_add (img, "etc/cmdline.d/20-force_drivers.conf",
                               0644, "rd.driver.pre=hv_vmbus\n", 23) == 0);
  ck_assert (lf_initramfs_write (img, &out, &outlen) == 0);
  ck_assert (memcmp (out, b.p, 512) == 0);
  lf_initramfs_free (img);
  free (b.p);

  snprintf (path, sizeof path, "%s/dracut-%s.img", tmpdir, comp);
  write_file (path, out, outlen);
  if (!have ("lsinitrd")) {
    fprintf (stderr, "SKIP: lsinitrd not installed "
             "(apt-get install dracut-core)\n");
    return;
  }
  snprintf (cmd, sizeof cmd, "lsinitrd '%s' 2>&1", path);
  ls = run (cmd);
  ck_assert_msg (strstr (ls, " " ADDED "\n") != NULL,
                 "%s: lsinitrd:\n%s", comp, ls);
  ck_assert_msg (strstr (ls, " etc/cmdline.d/20-force_drivers.conf\n"),
                 "%s: lsinitrd:\n%s", comp, ls);
  ck_assert_msg (strstr (ls, "Early CPIO image") != NULL,
                 "%s: lsinitrd missed the early cpio:\n%s", comp, ls);
  free (ls);
  /* The file's content, as dracut reads it. */
  snprintf (cmd, sizeof cmd, "lsinitrd -f %s '%s' 2>&1", ADDED, path);
  ls = run (cmd);
  ck_assert_msg (strcmp (ls, added_data) == 0, "lsinitrd -f gave \"%s\"", ls);
}
END_TEST

static bool
keep_none (const char *path, uint64_t size, void *arg)
{
  (void) path; (void) size; (void) arg;
  return false;
}

/* 102.5 MB of zeros in a 3.3 KB zstd segment: streamed through, not held
 * (held, it is over INITRAMFS_MAX_HELD), and streamed again when written.
 */
START_TEST (test_bigdata)
{
  size_t len, outlen;
  CLEANUP_FREE uint8_t *buf = NULL;
  buf = sample ("3cpio/bigdata.cpio", &len);
  CLEANUP_FREE void *out = NULL;
  struct lf_initramfs_limits lim = lf_initramfs_default_limits;
  struct lf_initramfs *img = lf_initramfs_parse (buf, len, "bigdata.cpio");
  const struct lf_initramfs_entry *e;

  expect_error (img, EFBIG, "INITRAMFS_MAX_HELD");
  lim.keep = keep_none;
  img = lf_initramfs_parse_limits (buf, len, "bigdata.cpio", &lim);

  ck_assert_msg (img != NULL, "%s", lf_last_error ());
  ck_assert_uint_eq (lf_initramfs_nsegments (img), 3);
  ck_assert_str_eq (lf_initramfs_segment (img, 0)->compression, "none");
  ck_assert_str_eq (lf_initramfs_segment (img, 1)->compression, "none");
  ck_assert_str_eq (lf_initramfs_segment (img, 2)->compression, "zstd");
  ck_assert_uint_eq (lf_initramfs_segment (img, 2)->offset, 1536);
  ck_assert_uint_eq (lf_initramfs_segment (img, 2)->uncompressed_size,
                     102500352);
  e = lf_initramfs_lookup (img, "zeros", true);
  ck_assert_msg (e != NULL, "%s", lf_last_error ());
  ck_assert_uint_eq (e->size, 102500000);
  ck_assert (e->data == NULL);
  ck_assert_uint_eq (lf_initramfs_segment (img, 0)->nentries, 3);
  ck_assert_uint_eq (lf_initramfs_segment (img, 1)->nentries, 5);
  ck_assert (lf_initramfs_lookup (img, "path/file", true)->segment == 0);
  /* "." is in all three; the last one is what the kernel leaves. */
  ck_assert (lf_initramfs_find (img, ".")->segment == 2);
  ck_assert (lf_initramfs_add (img, "new", 0600, "x", 1) == 0);
  ck_assert_msg (lf_initramfs_write (img, &out, &outlen) == 0, "%s",
                 lf_last_error ());
  ck_assert (memcmp (out, buf, 1536) == 0);
  lf_initramfs_free (img);
  lim.keep = NULL;
  lim.max_held = 128 * LF_MiB;
  img = lf_initramfs_parse_limits (out, outlen, "bigdata rewritten", &lim);
  ck_assert_msg (img != NULL, "%s", lf_last_error ());
  ck_assert (lf_initramfs_lookup (img, "new", true) != NULL);
  e = lf_initramfs_lookup (img, "zeros", true);
  ck_assert_uint_eq (e->size, 102500000);
  ck_assert (e->data && lf_is_zero (e->data, e->size));
  lf_initramfs_free (img);
}
END_TEST

START_TEST (test_plain_samples)
{
  size_t len;
  CLEANUP_FREE uint8_t *a = NULL;
  a = sample ("3cpio/single.cpio", &len);
  struct lf_initramfs *img = lf_initramfs_parse (a, len, "single.cpio");
  CLEANUP_FREE char *l = NULL;
  CLEANUP_FREE uint8_t *b = NULL;
  CLEANUP_FREE char *l2 = NULL;

  ck_assert_msg (img != NULL, "%s", lf_last_error ());
  ck_assert_uint_eq (lf_initramfs_nsegments (img), 1);
  l = listing (img, 0);
  ck_assert_str_eq (l, single_list);
  lf_initramfs_free (img);

  b = sample ("3cpio/shell.cpio", &len);
  img = lf_initramfs_parse (b, len, "shell.cpio");
  ck_assert_msg (img != NULL, "%s", lf_last_error ());
  l2 = listing (img, 0);
  ck_assert_str_eq (l2, shell_list);
  lf_initramfs_free (img);
}
END_TEST

START_TEST (test_dfvfs_formats)
{
  static const char *const f[] = { "bin", "odc", "newc", "crc" };
  static const char *const fmt[] = { "bin-le", "odc", "newc", "newc+crc" };
  CLEANUP_FREE uint8_t *first = NULL;

  for (size_t i = 0; i < 4; i++) {
    char rel[64];
    size_t len;
    CLEANUP_FREE uint8_t *buf = NULL;
    struct lf_initramfs *img;
    const struct lf_initramfs_entry *e;

    snprintf (rel, sizeof rel, "dfvfs/syslog.%s.cpio", f[i]);
    buf = sample (rel, &len);
    img = lf_initramfs_parse (buf, len, rel);
    ck_assert_msg (img != NULL, "%s", lf_last_error ());
    ck_assert_str_eq (lf_initramfs_segment (img, 0)->format, fmt[i]);
    ck_assert_uint_eq (lf_initramfs_nentries (img), 1);
    e = lf_initramfs_entry (img, 0);
    ck_assert_str_eq (e->path, "syslog");
    ck_assert_uint_eq (e->size, 1247);
    ck_assert_uint_eq (e->mode, 0100664);
    ck_assert_uint_eq (e->uid, 1000);
    ck_assert_uint_eq (e->gid, 1000);
    if (i == 0) {
      first = malloc (1247);
      memcpy (first, e->data, 1247);
    }
    else
      ck_assert_msg (memcmp (first, e->data, 1247) == 0,
                     "%s: content differs", rel);
    lf_initramfs_free (img);
  }
}
END_TEST

START_TEST (test_crc_mismatch)
{
  size_t len;
  CLEANUP_FREE uint8_t *buf = NULL;
  buf = sample ("dfvfs/syslog.crc.cpio", &len);
  struct lf_initramfs_limits lim = lf_initramfs_default_limits;
  struct lf_initramfs *img;

  buf[120 + 8] ^= 1;            /* a byte of the data (name "syslog") */
  img = lf_initramfs_parse (buf, len, "syslog.crc.cpio");
  expect_error (img, EINVAL, "entry \"syslog\" at 0x0: checksum");
  lim.ignore_checksums = true;
  img = lf_initramfs_parse_limits (buf, len, "syslog.crc.cpio", &lim);
  ck_assert (img != NULL);
  lf_initramfs_free (img);
}
END_TEST

START_TEST (test_libarchive_hardlinks)
{
  size_t len, outlen;
  CLEANUP_FREE uint8_t *buf = NULL;
  buf = sample ("libarchive/test_compat_cpio_1.cpio", &len);
  CLEANUP_FREE void *out = NULL;
  struct lf_initramfs *img;
  static const char *const want[][2] = {
    { "foo1", "foo\n" }, { "foo2", "bar\n" },
    { "bar1", "baz\n" }, { "bar2", "baz\n" },
  };

  for (int pass = 0; pass < 2; pass++) {
    img = pass == 0 ? lf_initramfs_parse (buf, len, "compat_cpio_1")
      : lf_initramfs_parse (out, outlen, "compat_cpio_1 rewritten");
    ck_assert_msg (img != NULL, "%s", lf_last_error ());
    ck_assert_uint_eq (lf_initramfs_nentries (img), 4);
    for (size_t i = 0; i < 4; i++) {
      const struct lf_initramfs_entry *e = lf_initramfs_entry (img, i);
      ck_assert_str_eq (e->path, want[i][0]);
      ck_assert_uint_eq (e->size, 4);
      ck_assert_msg (memcmp (e->data, want[i][1], 4) == 0, "%s", e->path);
    }
    ck_assert_uint_eq (lf_initramfs_entry (img, 2)->nlink, 2);
    if (pass == 0)
      ck_assert (lf_initramfs_write (img, &out, &outlen) == 0);
    lf_initramfs_free (img);
  }
}
END_TEST

START_TEST (test_libarchive_others)
{
  size_t len;
  CLEANUP_FREE uint8_t *le = NULL;
  le = sample ("libarchive/test_read_format_cpio_bin_le.cpio", &len);
  struct lf_initramfs *img = lf_initramfs_parse (le, len, "bin_le");
  const struct lf_initramfs_entry *e;

  ck_assert_msg (img != NULL, "%s", lf_last_error ());
  ck_assert_str_eq (lf_initramfs_segment (img, 0)->format, "bin-le");
  ck_assert_uint_eq (lf_initramfs_nentries (img), 1);
  e = lf_initramfs_entry (img, 0);
  ck_assert_str_eq (e->path, "file1111222233334444");
  ck_assert_uint_eq (e->size, 5);
  ck_assert_uint_eq (e->uid, 1000);
  ck_assert_uint_eq (e->mode, 0100644);
  lf_initramfs_free (img);

  /* The same bytes, swapped to big-endian words. */
  for (size_t i = 0; i + 1 < CPIO_BIN_HEADER; i += 2) {
    uint8_t t = le[i]; le[i] = le[i + 1]; le[i + 1] = t;
  }
  img = lf_initramfs_parse (le, len, "bin_be");
  ck_assert_msg (img != NULL, "%s", lf_last_error ());
  ck_assert_str_eq (lf_initramfs_segment (img, 0)->format, "bin-be");
  ck_assert_str_eq (lf_initramfs_entry (img, 0)->path,
                    "file1111222233334444");
  lf_initramfs_free (img);

  CLEANUP_FREE uint8_t *ru = NULL;
  ru = sample ("libarchive/test_read_format_cpio_filename_utf8_ru.cpio", &len);
  img = lf_initramfs_parse (ru, len, "utf8_ru");
  ck_assert_msg (img != NULL, "%s", lf_last_error ());
  ck_assert_str_eq (lf_initramfs_segment (img, 0)->format, "odc");
  ck_assert_uint_eq (lf_initramfs_nentries (img), 2);
  ck_assert_str_eq (lf_initramfs_entry (img, 0)->path,
                    "\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2");
  ck_assert_str_eq (lf_initramfs_entry (img, 1)->path,
                    "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
  ck_assert (lf_initramfs_lookup (img, "привет", true) != NULL);
  lf_initramfs_free (img);

  CLEANUP_FREE uint8_t *gz = NULL;
  gz = sample_decoded ("libarchive/test_extract.cpio.gz", "gzip", &len);
  img = lf_initramfs_parse (gz, len, "test_extract.cpio");
  ck_assert_msg (img != NULL, "%s", lf_last_error ());
  e = lf_initramfs_lookup (img, "file1", true);
  ck_assert (e != NULL && e->size == 19);
  ck_assert (memcmp (e->data, "contents of file1.\n", 19) == 0);
  lf_initramfs_free (img);
  /* And compressed, as stored: one gzip segment holding odc. */
  CLEANUP_FREE uint8_t *gzraw = NULL;
  gzraw = sample ("libarchive/test_extract.cpio.gz", &len);
  img = lf_initramfs_parse (gzraw, len, "test_extract.cpio.gz");
  ck_assert_msg (img != NULL, "%s", lf_last_error ());
  ck_assert_str_eq (lf_initramfs_segment (img, 0)->compression, "gzip");
  ck_assert_uint_eq (lf_initramfs_nentries (img), 2);
  lf_initramfs_free (img);
}
END_TEST

START_TEST (test_symlink_trailer)
{
  size_t len;
  CLEANUP_FREE uint8_t *buf = NULL;
  buf = sample_decoded
    ("libarchive/test_read_format_cpio_symlink_trailer.cpio.xz", "xz", &len);
  struct lf_initramfs *img;
  struct lf_ird_buf b = { NULL, 0, 0 };
  const struct lf_initramfs_entry *e;

  /* A 128 KiB symlink target: over the cap (the kernel skips it). */
  img = lf_initramfs_parse (buf, len, "symlink_trailer");
  expect_error (img, ENAMETOOLONG,
                "symlink \"TRAILER!!!\" at 0x0: target of 131072 bytes");

  /* A symlink named TRAILER!!! with a short body is an entry, not the
   * end: the file after it and the real trailer follow.
   */
  struct lf_cpio_record s = {
    .mode = 0120777, .nlink = 1, .size = 6, .name = "TRAILER!!!",
    .namelen = 10,
  }, f = {
    .ino = 2, .mode = 0100644, .nlink = 1, .size = 6, .name = "after",
    .namelen = 5,
  };
  ck_assert (lf_cpio_write_newc (&b, &s, "target") == 0);
  ck_assert (lf_cpio_write_newc (&b, &f, "after\n") == 0);
  ck_assert (lf_cpio_write_trailer (&b, 512) == 0);
  img = lf_initramfs_parse (b.p, b.len, "symlink named TRAILER!!!");
  ck_assert_msg (img != NULL, "%s", lf_last_error ());
  ck_assert_uint_eq (lf_initramfs_nentries (img), 2);
  e = lf_initramfs_find (img, "TRAILER!!!");
  ck_assert (e != NULL && S_ISLNK (e->mode));
  ck_assert_str_eq (e->symlink, "target");
  ck_assert (lf_initramfs_find (img, "after") != NULL);
  lf_initramfs_free (img);

  /* A regular file named TRAILER!!! with data *is* the end (do_name):
   * what follows is a second archive.
   */
  b.len = 0;
  s.mode = 0100644;
  ck_assert (lf_cpio_write_newc (&b, &s, "target") == 0);
  ck_assert (lf_cpio_write_newc (&b, &f, "after\n") == 0);
  ck_assert (lf_cpio_write_trailer (&b, 512) == 0);
  img = lf_initramfs_parse (b.p, b.len, "file named TRAILER!!!");
  ck_assert_msg (img != NULL, "%s", lf_last_error ());
  ck_assert_uint_eq (lf_initramfs_nsegments (img), 2);
  ck_assert_uint_eq (lf_initramfs_nentries (img), 1);
  ck_assert_uint_eq (lf_initramfs_find (img, "after")->segment, 1);
  ck_assert (lf_initramfs_find (img, "TRAILER!!!") == NULL);
  lf_initramfs_free (img);

  /* "./TRAILER!!!" is a file for the kernel (strcmp on the raw name);
   * normalised to "TRAILER!!!", it must be written so that it stays one.
   */
  b.len = 0;
  s.name = "./TRAILER!!!";
  s.namelen = 12;
  ck_assert (lf_cpio_write_newc (&b, &s, "target") == 0);
  ck_assert (lf_cpio_write_newc (&b, &f, "after\n") == 0);
  ck_assert (lf_cpio_write_trailer (&b, 512) == 0);
  for (int pass = 0; pass < 2; pass++) {
    void *out = NULL;
    size_t outlen;
    img = lf_initramfs_parse (b.p, b.len, "./TRAILER!!!");
    ck_assert_msg (img != NULL, "%s", lf_last_error ());
    ck_assert_uint_eq (lf_initramfs_nsegments (img), 1);
    ck_assert_uint_eq (lf_initramfs_nentries (img), 2);
    ck_assert (S_ISREG (lf_initramfs_find (img, "TRAILER!!!")->mode));
    ck_assert (lf_initramfs_write (img, &out, &outlen) == 0);
    free (b.p);
    b.p = out;
    b.len = outlen;
    lf_initramfs_free (img);
  }

  /* A directory with a body: the kernel skips it; we refuse it. */
  b.len = 0;
  f.mode = 040755;
  ck_assert (lf_cpio_write_newc (&b, &f, "after\n") == 0);
  ck_assert (lf_cpio_write_trailer (&b, 512) == 0);
  img = lf_initramfs_parse (b.p, b.len, "dir-body");
  expect_error (img, EINVAL, "entry \"after\" at 0x0: mode 040755 with a "
                "body of 6 bytes");
  free (b.p);
}
END_TEST

START_TEST (test_path_traversal)
{
  size_t len, outlen;
  CLEANUP_FREE uint8_t *buf = NULL;
  buf = sample ("3cpio/path-traversal.cpio", &len);
  CLEANUP_FREE void *out = NULL;
  struct lf_initramfs *img = lf_initramfs_parse (buf, len, "traversal");
  const struct lf_initramfs_entry *e;
  struct stat st;
  bool existed = stat ("/tmp/trav.txt", &st) == 0;

  ck_assert_msg (img != NULL, "%s", lf_last_error ());
  e = lf_initramfs_find (img, "tmp");
  ck_assert (e != NULL && S_ISLNK (e->mode));
  ck_assert_str_eq (e->symlink, "/tmp");
  e = lf_initramfs_find (img, "tmp/trav.txt");
  ck_assert (e != NULL && S_ISREG (e->mode) && e->size == 15);
  /* tmp -> /tmp is "tmp" again inside the archive: a loop. */
  ck_assert (lf_initramfs_lookup (img, "tmp/trav.txt", true) == NULL);
  ck_assert_int_eq (lf_last_errno (), ELOOP);
  ck_assert (lf_initramfs_lookup (img, "tmp/trav.txt", false) == NULL);
  ck_assert (lf_initramfs_add (img, "tmp/evil", 0644, "x", 1) == -1);
  ck_assert_int_eq (lf_last_errno (), ELOOP);
  ck_assert (lf_initramfs_add (img, "../evil", 0644, "x", 1) == -1);
  ck_assert_int_eq (lf_last_errno (), EINVAL);
  /* Replacing the symlink itself is allowed: it is not followed. */
  ck_assert (lf_initramfs_add_dir (img, "tmp", 01777) == 0);
  ck_assert (lf_initramfs_add (img, "tmp/ok", 0644, "ok", 2) == 0);
  e = lf_initramfs_lookup (img, "/tmp/ok", true);
  ck_assert (e != NULL);
  ck_assert_str_eq (e->path, "tmp/ok");
  ck_assert (lf_initramfs_write (img, &out, &outlen) == 0);
  lf_initramfs_free (img);
  ck_assert (existed || stat ("/tmp/trav.txt", &st) == -1);
  ck_assert (stat ("/tmp/ok", &st) == -1 || !S_ISREG (st.st_mode) ||
             st.st_size != 2);
}
END_TEST

/* In-memory archives. */

static void
put (struct lf_ird_buf *b, const char *name, uint32_t mode, const char *data)
{
  static uint64_t ino = 100;
  struct lf_cpio_record r = {
    .ino = ino++, .mode = mode, .nlink = S_ISDIR (mode) ? 2 : 1,
    .size = data ? strlen (data) : 0, .name = name, .namelen = strlen (name),
  };
  ck_assert (lf_cpio_write_newc (b, &r, data) == 0);
}

START_TEST (test_merged_usr)
{
  struct lf_ird_buf b = { NULL, 0, 0 };
  struct lf_initramfs *img;
  const struct lf_initramfs_entry *e;
  CLEANUP_FREE char *real = NULL;
  CLEANUP_FREE void *out = NULL;
  size_t outlen;

  put (&b, ".", 040755, NULL);
  put (&b, "usr", 040755, NULL);
  put (&b, "usr/lib", 040755, NULL);
  put (&b, "lib", 0120777, "usr/lib");
  put (&b, "lib64", 0120777, "/usr/lib/../lib");
  put (&b, "escape", 0120777, "../../../../etc/passwd");
  put (&b, "abs", 0120777, "/etc/shadow");
  put (&b, "usr/lib/self", 0120777, "self");
  put (&b, "./usr/lib/file", 0100644, "data");
  put (&b, "a/../b", 0100644, "dotdot");
  ck_assert (lf_cpio_write_trailer (&b, 4) == 0);
  img = lf_initramfs_parse (b.p, b.len, "merged-usr");
  free (b.p);
  ck_assert_msg (img != NULL, "%s", lf_last_error ());

  e = lf_initramfs_lookup (img, "lib/file", true);
  ck_assert (e != NULL);
  ck_assert_str_eq (e->path, "usr/lib/file");
  e = lf_initramfs_lookup (img, "lib64/file", true);
  ck_assert (e != NULL);
  ck_assert_str_eq (e->path, "usr/lib/file");
  ck_assert (lf_initramfs_lookup (img, "lib", false) != NULL);
  ck_assert (S_ISDIR (lf_initramfs_lookup (img, "lib", true)->mode));
  real = lf_initramfs_resolve (img, "escape", true);
  ck_assert_str_eq (real, "etc/passwd");
  ck_assert (lf_initramfs_lookup (img, "escape", true) == NULL);
  ck_assert_int_eq (lf_last_errno (), ENOENT);
  ck_assert (lf_initramfs_lookup (img, "abs", true) == NULL);
  ck_assert (lf_initramfs_lookup (img, "lib/self", true) == NULL);
  ck_assert_int_eq (lf_last_errno (), ELOOP);
  ck_assert (lf_initramfs_lookup (img, "../../usr/lib/file", true) != NULL);
  ck_assert (lf_initramfs_lookup (img, "usr/lib/file/x", true) == NULL);
  ck_assert_int_eq (lf_last_errno (), ENOTDIR);
  /* Stored as named, never resolved to. */
  ck_assert (lf_initramfs_find (img, "a/../b") != NULL);
  ck_assert (lf_initramfs_lookup (img, "b", true) == NULL);
  /* The _opt lookup: absence with nothing recorded, errors as before. */
  lf_error_clear ();
  ck_assert_int_eq (lf_initramfs_lookup_opt (img, "escape", true, &e), 0);
  ck_assert_int_eq (lf_initramfs_lookup_opt (img, "no/such", true, &e), 0);
  ck_assert_int_eq (lf_last_errno (), 0);
  ck_assert_int_eq (lf_initramfs_lookup_opt (img, "lib64/file", true, &e), 1);
  ck_assert_str_eq (e->path, "usr/lib/file");
  ck_assert_int_eq (lf_initramfs_lookup_opt (img, "lib/self", true, &e), -1);
  ck_assert_int_eq (lf_last_errno (), ELOOP);

  /* Adding through lib -> usr/lib lands in usr/lib. */
  ck_assert (lf_initramfs_add (img, "lib/modules/6.1/kernel/hv.ko", 0644,
                               "ko", 2) == 0);
  ck_assert (lf_initramfs_find (img, "lib/modules") == NULL);
  e = lf_initramfs_find (img, "usr/lib/modules/6.1/kernel/hv.ko");
  ck_assert (e != NULL && e->size == 2);
  ck_assert (S_ISDIR (lf_initramfs_find (img, "usr/lib/modules")->mode));
  ck_assert (S_ISDIR (lf_initramfs_find (img, "usr/lib/modules/6.1")->mode));
  ck_assert (S_ISLNK (lf_initramfs_find (img, "lib")->mode));
  /* Adding at "escape" replaces the symlink; it does not follow it. */
  ck_assert (lf_initramfs_add (img, "escape", 0600, "replaced", 8) == 0);
  ck_assert (S_ISREG (lf_initramfs_find (img, "escape")->mode));
  ck_assert (lf_initramfs_find (img, "etc/passwd") == NULL);
  /* A file over a directory is refused; a file replaces a file. */
  ck_assert (lf_initramfs_add (img, "usr/lib", 0644, "x", 1) == -1);
  ck_assert_int_eq (lf_last_errno (), EISDIR);
  ck_assert (lf_initramfs_add (img, "usr/lib/file", 0644, "new!", 4) == 0);
  ck_assert (lf_initramfs_add_symlink (img, "sbin", "usr/sbin") == 0);
  ck_assert (lf_initramfs_add (img, "sbin/modprobe", 0755, "#!", 2) == 0);
  ck_assert (lf_initramfs_find (img, "usr/sbin/modprobe") != NULL);
  ck_assert (lf_initramfs_remove (img, "usr/lib/self") == 0);
  ck_assert (lf_initramfs_remove (img, "usr/lib") == -1);
  ck_assert_int_eq (lf_last_errno (), ENOTEMPTY);

  ck_assert (lf_initramfs_write (img, &out, &outlen) == 0);
  lf_initramfs_free (img);
  img = lf_initramfs_parse (out, outlen, "merged-usr rewritten");
  ck_assert_msg (img != NULL, "%s", lf_last_error ());
  e = lf_initramfs_lookup (img, "lib/file", true);
  ck_assert (e != NULL && e->size == 4 && memcmp (e->data, "new!", 4) == 0);
  ck_assert (lf_initramfs_find (img, "usr/lib/self") == NULL);
  ck_assert (lf_initramfs_lookup (img, "lib/modules/6.1/kernel/hv.ko",
                                  true) != NULL);
  /* Replaced in place, no duplicates, parents before children. */
  size_t nfile = 0;
  for (size_t i = 0; i < lf_initramfs_nentries (img); i++) {
    const char *p = lf_initramfs_entry (img, i)->path;
    if (strcmp (p, "usr/lib/file") == 0)
      nfile++;
    if (strcmp (p, "usr/lib/modules/6.1/kernel/hv.ko") == 0)
      ck_assert (lf_initramfs_find (img, "usr/lib/modules/6.1/kernel")
                 != NULL);
  }
  ck_assert_uint_eq (nfile, 1);
  lf_initramfs_free (img);
}
END_TEST

/* Damaged and hostile inputs. */

static uint8_t *
shell (size_t *len)
{
  return sample ("3cpio/shell.cpio", len);
}

START_TEST (test_truncated)
{
  size_t len, end;
  CLEANUP_FREE uint8_t *buf = NULL;
  buf = shell (&len);
  struct lf_initramfs *img = lf_initramfs_parse (buf, len, "shell.cpio");

  ck_assert (img != NULL);
  end = lf_initramfs_segment (img, 0)->length;   /* past the trailer */
  lf_initramfs_free (img);
  /* Every cut before the end of the trailer is an error; after it, the
   * rest is only padding.
   */
  for (size_t n = 1; n < len; n++) {
    img = lf_initramfs_parse (buf, n, "cut.cpio");
    if (n < end) {
      ck_assert_msg (img == NULL, "cut at %zu parsed", n);
      ck_assert_msg (n < 6 ||
                     strncmp (lf_last_error (), "cut.cpio: segment 0 (none "
                              "at 0x0): ", 33) == 0, "%s", lf_last_error ());
    }
    else
      ck_assert_msg (img != NULL, "cut at %zu: %s", n, lf_last_error ());
    lf_initramfs_free (img);
  }
  img = lf_initramfs_parse (buf, 0xe0, "cut.cpio");
  expect_error (img, EINVAL, "runs past the end");
}
END_TEST

START_TEST (test_bad_fields)
{
  size_t len;
  CLEANUP_FREE uint8_t *buf = NULL;
  buf = shell (&len);
  struct lf_initramfs *img;
  uint8_t save[8];

  /* Non-hex size in entry 0 (".", offset 0). */
  memcpy (save, buf + 0x36, 8);
  memcpy (buf + 0x36, "0000zz10", 8);
  img = lf_initramfs_parse (buf, len, "hex.cpio");
  expect_error (img, EINVAL,
                "newc header at 0x0: filesize field \"0000zz10\" is not "
                "hexadecimal");
  memcpy (buf + 0x36, save, 8);

  /* A name running past the end of the image. */
  memcpy (buf + 0x5e, "00000FF0", 8);
  img = lf_initramfs_parse (buf, len, "name.cpio");
  expect_error (img, EINVAL, "name of 4080 bytes at 0x6e runs past the end");
  memcpy (buf + 0x5e, "000FFFFF", 8);
  img = lf_initramfs_parse (buf, len, "name.cpio");
  expect_error (img, ENAMETOOLONG, "CPIO_MAX_NAME 4096");
  memcpy (buf + 0x5e, "00000000", 8);
  img = lf_initramfs_parse (buf, len, "name.cpio");
  expect_error (img, ENAMETOOLONG, "name size 0 is zero");
  memcpy (buf + 0x5e, "00000002", 8);

  /* A size past the end. */
  memcpy (buf + 0x36, "7FFFFFFF", 8);
  img = lf_initramfs_parse (buf, len, "size.cpio");
  expect_error (img, EINVAL, "data of 2147483647 bytes runs past the end");
  memcpy (buf + 0x36, save, 8);

  /* An unknown file type. */
  memcpy (buf + 0x0e, "0000F1FD", 8);
  img = lf_initramfs_parse (buf, len, "mode.cpio");
  expect_error (img, EINVAL, "mode 0170775 is not a known file type");
  memcpy (buf + 0x0e, "000041FD", 8);

  img = lf_initramfs_parse (buf, len, "restored.cpio");
  ck_assert (img != NULL);
  lf_initramfs_free (img);

  /* Junk after the archive; misaligned archive; empty input. */
  CLEANUP_FREE uint8_t *big = NULL;
  big = malloc (len + 8);
  memcpy (big, buf, len);
  memcpy (big + len, "garbage!", 8);
  img = lf_initramfs_parse (big, len + 8, "junk.img");
  expect_error (img, EINVAL, "junk.img: junk at 0x400 (bytes 67 61 72 62)");
  memmove (big + 1, buf, len);
  big[0] = 0;
  img = lf_initramfs_parse (big, len + 1, "misaligned.img");
  expect_error (img, EINVAL, "not 4-byte aligned");
  img = lf_initramfs_parse (big, 0, "empty.img");
  expect_error (img, EINVAL, "no cpio archive");
  memset (big, 0, len);
  img = lf_initramfs_parse (big, len, "zeros.img");
  expect_error (img, EINVAL, "no cpio archive");
  big[0] = 0x89; big[1] = 0x4c;
  img = lf_initramfs_parse (big, len, "lzo.img");
  expect_error (img, ENOTSUP, "lzo compression is not supported");
}
END_TEST

START_TEST (test_bad_gzip)
{
  size_t len;
  CLEANUP_FREE uint8_t *buf = NULL;
  buf = sample ("3cpio/gzip.cpio", &len);
  struct lf_initramfs *img;

  /* Garbage in the deflate data. */
  memset (buf + 512 + 20, 0xff, 40);
  img = lf_initramfs_parse (buf, len, "gzip.cpio");
  expect_error (img, EINVAL, "gzip.cpio: segment 1 (gzip at 0x200): gzip: ");
  free (buf);

  /* Truncated stream. */
  buf = sample ("3cpio/gzip.cpio", &len);
  img = lf_initramfs_parse (buf, len - 30, "gzip.cpio");
  expect_error (img, EINVAL, "gzip: stream truncated");

  /* A broken CRC32 in the trailer. */
  buf[len - 8] ^= 0xff;
  img = lf_initramfs_parse (buf, len, "gzip.cpio");
  expect_error (img, EINVAL, "incorrect data check");
}
END_TEST

START_TEST (test_bad_others)
{
  for (size_t i = 1; i < NCOMP; i++) {
    char rel[64];
    size_t len;
    CLEANUP_FREE uint8_t *buf = NULL;
    struct lf_initramfs *img;

    snprintf (rel, sizeof rel, "3cpio/%s.cpio", compressors[i]);
    buf = sample (rel, &len);
    img = lf_initramfs_parse (buf, len - 9, rel);
    ck_assert_msg (img == NULL, "%s truncated parsed", rel);
    ck_assert_msg (strstr (lf_last_error (), "segment 1") != NULL, "%s",
                   lf_last_error ());
    memset (buf + 512 + 24, 0x55, 30);
    img = lf_initramfs_parse (buf, len, rel);
    ck_assert_msg (img == NULL, "%s damaged parsed", rel);
  }
}
END_TEST

START_TEST (test_bomb)
{
  /* An lzma header claiming 2^40 bytes. */
  uint8_t lz[64] = { 0x5d, 0x00, 0x00, 0x80, 0x00 };
  struct lf_initramfs *img;
  struct lf_initramfs_limits lim = lf_initramfs_default_limits;
  CLEANUP_FREE uint8_t *zeros = NULL, *z = NULL;
  size_t zlen;

  lf_put_le64 (lz + 5, UINT64_C (1) << 40);
  img = lf_initramfs_parse (lz, sizeof lz, "bomb.lzma");
  expect_error (img, EFBIG, "lzma: header claims 1099511627776 bytes");

  /* A real one: 64 MiB of zeros in a few KiB, against small caps. */
  zeros = calloc (1, 64 * LF_MiB);
  ck_assert (zeros != NULL);
  ck_assert (lf_compress (LF_COMP_GZIP, zeros, 64 * LF_MiB, &z, &zlen) == 0);
  lim.bomb_floor = 1 * LF_MiB;
  lim.max_ratio = 100;
  img = lf_initramfs_parse_limits (z, zlen, "bomb.gz", &lim);
  expect_error (img, EFBIG, "decompression bomb: ratio cap 100:1");
  lim = lf_initramfs_default_limits;
  lim.max_uncompressed = 16 * LF_MiB;
  img = lf_initramfs_parse_limits (z, zlen, "bomb.gz", &lim);
  expect_error (img, EFBIG, "INITRAMFS_MAX_UNCOMPRESSED");
  free (z);
  z = NULL;
  ck_assert (lf_compress (LF_COMP_ZSTD, zeros, 64 * LF_MiB, &z, &zlen) == 0);
  lim = lf_initramfs_default_limits;
  lim.max_uncompressed = 16 * LF_MiB;
  img = lf_initramfs_parse_limits (z, zlen, "bomb.zst", &lim);
  expect_error (img, EFBIG, "zstd: frame header claims 67108864 bytes");
}
END_TEST

/* The declared size is checked at the header, before a byte of the data
 * is decoded: an entry declaring 1.9 GiB is refused for its size, not
 * after its data filled memory (or, here, the 8 MiB decoding cap).
 */
START_TEST (test_declared_size)
{
  struct lf_ird_buf b = { NULL, 0, 0 };
  struct lf_initramfs_limits lim = lf_initramfs_default_limits;
  struct lf_initramfs *img;
  struct lf_cpio_record r = {
    .ino = 1, .mode = 0100644, .nlink = 1, .size = UINT64_C (0x79999999),
    .name = "huge", .namelen = 4,
  };
  CLEANUP_FREE uint8_t *z = NULL;
  size_t zlen;

  ck_assert (lf_cpio_write_newc_header (&b, &r) == 0);
  ck_assert (lf_ird_buf_zeros (&b, 32 * LF_MiB) == 0);
  ck_assert (lf_compress (LF_COMP_GZIP, b.p, b.len, &z, &zlen) == 0);
  free (b.p);
  lim.max_uncompressed = 8 * LF_MiB;
  img = lf_initramfs_parse_limits (z, zlen, "declared.gz", &lim);
  expect_error (img, EFBIG, "entry \"huge\" at 0x0: size 2040109465 is over "
                "1073741824 (INITRAMFS_MAX_ENTRY_SIZE)");
  img = lf_initramfs_parse (z, zlen, "declared.gz");
  expect_error (img, EFBIG, "INITRAMFS_MAX_ENTRY_SIZE");
}
END_TEST

static bool
keep_link1 (const char *path, uint64_t size, void *arg)
{
  (void) size; (void) arg;
  return strcmp (path, "link1") == 0;
}

/* Contents not kept are streamed through when parsed and decoded again
 * when written, in any order: a hardlink whose data-carrying last link is
 * removed takes its data from behind the writer's position.
 */
START_TEST (test_streamed)
{
  struct lf_ird_buf b = { NULL, 0, 0 };
  struct lf_initramfs_limits lim = lf_initramfs_default_limits;
  struct lf_initramfs *img;
  const struct lf_initramfs_entry *e;
  CLEANUP_FREE uint8_t *z = NULL;
  CLEANUP_FREE void *out = NULL;
  size_t zlen, outlen;
  struct lf_cpio_record link1 = {
    .ino = 7, .mode = 0100644, .nlink = 2, .name = "link1", .namelen = 5,
  };
  struct lf_cpio_record link2 = link1;
  CLEANUP_FREE char *big = malloc (3 * LF_MiB + 1);

  ck_assert (big != NULL);
  for (size_t i = 0; i < 3 * LF_MiB; i++)
    big[i] = (char) ('a' + i % 23);
  big[3 * LF_MiB] = '\0';
  put (&b, "dir", 040755, NULL);
  ck_assert (lf_cpio_write_newc (&b, &link1, NULL) == 0);
  put (&b, "dir/big", 0100644, big);
  link2.name = "link2";
  link2.size = 5;
  ck_assert (lf_cpio_write_newc (&b, &link2, "hello") == 0);
  put (&b, "tail", 0100644, "tail\n");
  ck_assert (lf_cpio_write_trailer (&b, 512) == 0);
  ck_assert (lf_compress (LF_COMP_XZ, b.p, b.len, &z, &zlen) == 0);
  free (b.p);

  lim.max_held = LF_MiB;
  img = lf_initramfs_parse_limits (z, zlen, "held", &lim);
  expect_error (img, EFBIG, "INITRAMFS_MAX_HELD");
  /* Keeping link1 keeps the data it gets from link2, stored after it. */
  lim.keep = keep_link1;
  img = lf_initramfs_parse_limits (z, zlen, "link1 kept", &lim);
  ck_assert_msg (img != NULL, "%s", lf_last_error ());
  e = lf_initramfs_lookup (img, "link1", true);
  ck_assert (e != NULL && e->size == 5 && e->data &&
             memcmp (e->data, "hello", 5) == 0);
  ck_assert (lf_initramfs_lookup (img, "dir/big", true)->data == NULL);
  lf_initramfs_free (img);
  lim.keep = keep_none;
  img = lf_initramfs_parse_limits (z, zlen, "streamed", &lim);
  ck_assert_msg (img != NULL, "%s", lf_last_error ());
  e = lf_initramfs_lookup (img, "dir/big", true);
  ck_assert (e != NULL && e->size == 3 * LF_MiB && e->data == NULL);
  e = lf_initramfs_lookup (img, "link1", true);
  ck_assert (e != NULL && e->size == 5 && e->data == NULL);
  ck_assert (lf_initramfs_remove (img, "link2") == 0);
  ck_assert (lf_initramfs_add (img, "added", 0600, "new\n", 4) == 0);
  ck_assert_msg (lf_initramfs_write (img, &out, &outlen) == 0, "%s",
                 lf_last_error ());
  lf_initramfs_free (img);

  lim = lf_initramfs_default_limits;
  img = lf_initramfs_parse_limits (out, outlen, "streamed rewritten", &lim);
  ck_assert_msg (img != NULL, "%s", lf_last_error ());
  ck_assert_str_eq (lf_initramfs_segment (img, 0)->compression, "xz");
  e = lf_initramfs_lookup (img, "link1", true);
  ck_assert (e != NULL && e->size == 5 && memcmp (e->data, "hello", 5) == 0);
  e = lf_initramfs_lookup (img, "dir/big", true);
  ck_assert (e != NULL && e->size == 3 * LF_MiB &&
             memcmp (e->data, big, 3 * LF_MiB) == 0);
  e = lf_initramfs_lookup (img, "tail", true);
  ck_assert (e != NULL && e->size == 5 && memcmp (e->data, "tail\n", 5) == 0);
  ck_assert (lf_initramfs_lookup (img, "added", true) != NULL);
  ck_assert (lf_initramfs_lookup (img, "link2", true) == NULL);
  lf_initramfs_free (img);
}
END_TEST

START_TEST (test_caps)
{
  struct lf_ird_buf b = { NULL, 0, 0 };
  struct lf_initramfs_limits lim = lf_initramfs_default_limits;
  struct lf_initramfs *img;

  for (int i = 0; i < 10; i++) {
    char name[16];
    snprintf (name, sizeof name, "f%d", i);
    put (&b, name, 0100644, "0123456789");
  }
  ck_assert (lf_cpio_write_trailer (&b, 512) == 0);
  lim.max_entries = 5;
  img = lf_initramfs_parse_limits (b.p, b.len, "many", &lim);
  expect_error (img, EFBIG, "entry \"f5\" at 0x");
  ck_assert (strstr (lf_last_error (), "CPIO_MAX_ENTRIES") != NULL);
  lim = lf_initramfs_default_limits;
  lim.max_entry_size = 9;
  img = lf_initramfs_parse_limits (b.p, b.len, "big", &lim);
  expect_error (img, EFBIG, "INITRAMFS_MAX_ENTRY_SIZE");
  lim.max_entry_size = 10;
  img = lf_initramfs_parse_limits (b.p, b.len, "ok", &lim);
  ck_assert (img != NULL);
  ck_assert (lf_initramfs_add (img, "big", 0644, "01234567890", 11) == -1);
  ck_assert_int_eq (lf_last_errno (), EFBIG);
  lf_initramfs_free (img);
  free (b.p);
}
END_TEST

/* Segments: gzip streams concatenated, then zero padding. */
START_TEST (test_concatenated)
{
  size_t len, outlen, n;
  CLEANUP_FREE uint8_t *buf = NULL;
  buf = sample ("3cpio/gzip.cpio", &len);
  CLEANUP_FREE uint8_t *img_bytes = NULL;
  CLEANUP_FREE void *out = NULL;
  struct lf_initramfs *img;
  size_t glen = len - 512;

  n = 512 + 2 * glen + 100;
  img_bytes = calloc (1, n);
  memcpy (img_bytes, buf, len);
  memcpy (img_bytes + len, buf + 512, glen);
  img = lf_initramfs_parse (img_bytes, n, "concat");
  ck_assert_msg (img != NULL, "%s", lf_last_error ());
  ck_assert_uint_eq (lf_initramfs_nsegments (img), 3);
  ck_assert_uint_eq (lf_initramfs_segment (img, 2)->offset, len);
  ck_assert_uint_eq (lf_initramfs_segment (img, 2)->length, glen);
  ck_assert (lf_initramfs_add (img, "x", 0644, "y", 1) == 0);
  ck_assert (lf_initramfs_write (img, &out, &outlen) == 0);
  ck_assert (memcmp (out, img_bytes, len) == 0);
  lf_initramfs_free (img);
  img = lf_initramfs_parse (out, outlen, "concat rewritten");
  ck_assert (img != NULL);
  ck_assert_uint_eq (lf_initramfs_nsegments (img), 3);
  ck_assert_uint_eq (lf_initramfs_lookup (img, "x", true)->segment, 2);
  lf_initramfs_free (img);
}
END_TEST

/* Every compressor round-trips through our encoder and decoder, and the
 * reference tools read what we encode.
 */
START_TEST (test_codecs)
{
  static const char *const tool[] = {
    "gzip -dc", "xz -dc", "zstd -dcq", "lz4 -dc", "xz --format=lzma -dc",
    "bzip2 -dc",
  };
  static const enum lf_compression c[] = {
    LF_COMP_GZIP, LF_COMP_XZ, LF_COMP_ZSTD, LF_COMP_LZ4, LF_COMP_LZMA,
    LF_COMP_BZIP2,
  };
  size_t n = 9 * LF_MiB + 123;  /* two lz4 chunks */
  CLEANUP_FREE uint8_t *in = NULL;
  in = malloc (n);

  for (size_t i = 0; i < n; i++)
    in[i] = (uint8_t) ((i * 7) ^ (i >> 11));
  for (size_t k = 0; k < NCOMP; k++) {
    uint8_t *z = NULL, *back = NULL;
    size_t zlen, blen, used;
    char path[512], cmd[4096];

    ck_assert (lf_compress (c[k], in, n, &z, &zlen) == 0);
    ck_assert_msg (lf_decompress (c[k], z, zlen, n, "test", &back, &blen,
                                  &used) == 0, "%s: %s", tool[k],
                   lf_last_error ());
    ck_assert_uint_eq (blen, n);
    ck_assert_uint_eq (used, zlen);
    ck_assert (memcmp (in, back, n) == 0);
    free (back);
    snprintf (path, sizeof path, "%s/codec.%zu", tmpdir, k);
    write_file (path, z, zlen);
    snprintf (cmd, sizeof cmd, "%s < '%s' | cmp -s - '%s.in' || "
              "{ %s < '%s' | wc -c; exit 1; }", tool[k], path, path,
              tool[k], path);
    {
      char inpath[600];
      snprintf (inpath, sizeof inpath, "%s.in", path);
      write_file (inpath, in, n);
    }
    ck_assert_msg (system (cmd) == 0, "%s cannot read our stream", tool[k]);
    free (z);
  }
}
END_TEST

static Suite *
initramfs_suite (bool have_data)
{
  Suite *s = suite_create ("initramfs");
  TCase *tc = tcase_create ("samples");

  tcase_set_timeout (tc, 120);
  if (have_data) {
    tcase_add_loop_test (tc, test_3cpio_compressor, 0, NCOMP);
    tcase_add_loop_test (tc, test_dracut_layout, 0, NCOMP);
    tcase_add_test (tc, test_bigdata);
    tcase_add_test (tc, test_plain_samples);
    tcase_add_test (tc, test_dfvfs_formats);
    tcase_add_test (tc, test_crc_mismatch);
    tcase_add_test (tc, test_libarchive_hardlinks);
    tcase_add_test (tc, test_libarchive_others);
    tcase_add_test (tc, test_symlink_trailer);
    tcase_add_test (tc, test_path_traversal);
    tcase_add_test (tc, test_truncated);
    tcase_add_test (tc, test_bad_fields);
    tcase_add_test (tc, test_bad_gzip);
    tcase_add_test (tc, test_bad_others);
    tcase_add_test (tc, test_concatenated);
  }
  tcase_add_test (tc, test_merged_usr);
  tcase_add_test (tc, test_bomb);
  tcase_add_test (tc, test_caps);
  tcase_add_test (tc, test_declared_size);
  tcase_add_test (tc, test_streamed);
  tcase_add_test (tc, test_codecs);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  struct stat st;
  bool have_data = stat (TESTDATA, &st) == 0 && S_ISDIR (st.st_mode);
  SRunner *sr;
  int failed;
  char cmd[600];

  if (!have_data)
    fprintf (stderr, "SKIP: %s is missing: the real-archive tests do not "
             "run (only the in-memory ones)\n", TESTDATA);
  if (mkdtemp (tmpdir) == NULL) {
    perror ("mkdtemp");
    return 1;
  }
  sr = srunner_create (initramfs_suite (have_data));
  srunner_run_all (sr, CK_NORMAL);
  failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system (cmd) != 0)
    fprintf (stderr, "cannot remove %s\n", tmpdir);
  return failed ? 1 : 0;
}

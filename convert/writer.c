/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall convert/: the Azure fixed VHD writer.
 *
 * A copy walks the source's extent map and hands the data ranges, in
 * chunks, to worker threads; each worker reads (for compressed formats:
 * inflates) its chunk, skips all-zero runs and writes the rest with large
 * pwrites.  Holes are never read nor written: the output is created sparse
 * at its final size, so they stay holes.  The footer is written last, the
 * file fsynced and renamed into place; on any failure the temporary file
 * is removed, so nothing half-written is ever left under the output name.
 *
 * In place, a raw file is grown to a whole MiB and gets a footer appended:
 * O(1) whatever the size (disks.md §10).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "convert/format.h"

#define CHUNK_SIZE      (4 * LF_MiB)     /* one worker's read */
#define ZERO_GRANULE    (4 * LF_KiB)     /* zero detection: a filesystem block */
#define MAX_THREADS     64
#define QUEUE_LEN       (2 * MAX_THREADS)



int
lf_azure_size (uint64_t size, bool os_disk, uint64_t *ret)
{
  uint64_t limit = os_disk ? LF_AZURE_MAX_OS_DISK : LF_AZURE_MAX_DATA_DISK;
  uint64_t r;
  char a[32], b[32];

  if (size == 0) {
    lf_error (EINVAL, "the disk is empty (virtual size 0)");
    return -1;
  }
  if (lf_round_up_overflow (size, LF_MiB, &r) || r > limit) {
    lf_error (EFBIG, "virtual size %" PRIu64 " (%s) is over Azure's limit "
              "for %s disks, %" PRIu64 " bytes (%s)", size,
              lf_human_size (size, a, sizeof a), os_disk ? "OS" : "data",
              limit, lf_human_size (limit, b, sizeof b));
    return -1;
  }
  *ret = r;
  return 0;
}

/* The work queue: ranges of data for the workers. */
struct job {
  uint64_t offset, len;
};

struct copy {
  struct lf_disk *src;
  int fd;
  const char *dest;
  struct lf_progress *progress;

  pthread_mutex_t lock;
  pthread_cond_t not_empty, not_full;
  struct job q[QUEUE_LEN];
  unsigned head, count;
  bool eof;                     /* producer has finished */
  bool failed;                  /* stop everybody */
  struct lf_error_record err;   /* the first error */

  uint64_t data_bytes;          /* written, under lock */
};

static void
copy_fail (struct copy *c)
{
  pthread_mutex_lock (&c->lock);
  if (!c->failed) {
    c->failed = true;
    lf_error_save (&c->err);
  }
  pthread_cond_broadcast (&c->not_empty);
  pthread_cond_broadcast (&c->not_full);
  pthread_mutex_unlock (&c->lock);
}

/* Write the non-zero granules of BUF (LEN bytes at OFFSET), coalescing
 * neighbours into one pwrite.  Returns bytes written or -1.
 */
static int64_t
write_nonzero (struct copy *c, const char *buf, uint64_t len, uint64_t offset)
{
  uint64_t i = 0, written = 0;

  while (i < len) {
    uint64_t n = LF_MIN (ZERO_GRANULE, len - i);
    if (lf_is_zero (buf + i, n)) {
      i += n;
      continue;
    }
    uint64_t start = i;
    i += n;
    while (i < len) {
      n = LF_MIN (ZERO_GRANULE, len - i);
      if (lf_is_zero (buf + i, n))
        break;
      i += n;
    }
    if (lf_pwrite_all (c->fd, buf + start, i - start, offset + start) == -1) {
      lf_error_prefix ("%s", c->dest);
      return -1;
    }
    written += i - start;
  }
  return (int64_t) written;
}

static void *
worker (void *cv)
{
  struct copy *c = cv;
  char *buf = NULL;

  if (posix_memalign ((void **) &buf, 4096, CHUNK_SIZE) != 0) {
    lf_error (ENOMEM, "out of memory for a %" PRIu64 " byte buffer",
              CHUNK_SIZE);
    copy_fail (c);
    return NULL;
  }
  for (;;) {
    struct job j;

    pthread_mutex_lock (&c->lock);
    while (c->count == 0 && !c->eof && !c->failed)
      pthread_cond_wait (&c->not_empty, &c->lock);
    if (c->failed || (c->count == 0 && c->eof)) {
      pthread_mutex_unlock (&c->lock);
      break;
    }
    j = c->q[c->head];
    c->head = (c->head + 1) % QUEUE_LEN;
    c->count--;
    pthread_cond_signal (&c->not_full);
    pthread_mutex_unlock (&c->lock);

    if (lf_cancel) {
      lf_error (EINTR, "interrupted");
      copy_fail (c);
      break;
    }
    if (lf_disk_pread (c->src, buf, j.len, j.offset) == -1) {
      copy_fail (c);
      break;
    }
    int64_t w = write_nonzero (c, buf, j.len, j.offset);
    if (w == -1) {
      copy_fail (c);
      break;
    }
    pthread_mutex_lock (&c->lock);
    c->data_bytes += (uint64_t) w;
    pthread_mutex_unlock (&c->lock);
    lf_progress_add (c->progress, j.len);
  }
  free (buf);
  return NULL;
}

/* Queue one job; false if the copy has failed. */
static bool
enqueue (struct copy *c, uint64_t offset, uint64_t len)
{
  bool ok;

  pthread_mutex_lock (&c->lock);
  while (c->count == QUEUE_LEN && !c->failed)
    pthread_cond_wait (&c->not_full, &c->lock);
  ok = !c->failed;
  if (ok) {
    c->q[(c->head + c->count) % QUEUE_LEN] = (struct job) { offset, len };
    c->count++;
    pthread_cond_signal (&c->not_empty);
  }
  pthread_mutex_unlock (&c->lock);
  return ok;
}

static unsigned
default_threads (void)
{
  long n = sysconf (_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (unsigned) n;
}

/* Walk the extent map, queueing data in chunks aligned to CHUNK_SIZE so
 * that neighbouring jobs never share a granule.
 */
static int
produce (struct copy *c, uint64_t size)
{
  uint64_t off = 0;

  while (off < size) {
    uint64_t len = size - off;
    unsigned type;

    if (lf_cancel) {
      lf_error (EINTR, "interrupted");
      return -1;
    }
    if (lf_disk_extent (c->src, off, &len, &type) == -1)
      return -1;
    if (type == LF_EXTENT_ZERO)
      lf_progress_add (c->progress, len);
    else {
      uint64_t end = off + len;
      for (uint64_t o = off; o < end; ) {
        uint64_t n = LF_MIN (end - o, CHUNK_SIZE - o % CHUNK_SIZE);
        if (!enqueue (c, o, n))
          return 0;             /* a worker failed; its error is kept */
        o += n;
      }
    }
    off += len;
  }
  return 0;
}

int
lf_sha256_file (int fd, uint64_t size, char *hex)
{
  static const char digits[] = "0123456789abcdef";
  EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
  CLEANUP_FREE char *buf = malloc (CHUNK_SIZE);
  static const char zeros[64 * 1024];
  unsigned char md[32];
  unsigned mdlen = 0;
  uint64_t off = 0;
  int ret = -1;

  if (!ctx || !buf || EVP_DigestInit_ex (ctx, EVP_sha256 (), NULL) != 1) {
    lf_error (ENOMEM, "cannot set up SHA-256");
    goto out;
  }
  /* Holes hash as zeros without being read. */
  while (off < size) {
    off_t data = lseek (fd, (off_t) off, SEEK_DATA);
    uint64_t hole_end = (data == -1) ? size : LF_MIN ((uint64_t) data, size);
    while (off < hole_end) {
      uint64_t n = LF_MIN (hole_end - off, (uint64_t) sizeof zeros);
      EVP_DigestUpdate (ctx, zeros, n);
      off += n;
    }
    if (off >= size)
      break;
    off_t hole = lseek (fd, (off_t) off, SEEK_HOLE);
    uint64_t data_end = hole == -1 ? size : LF_MIN ((uint64_t) hole, size);
    if (data_end <= off)
      data_end = size;
    while (off < data_end) {
      size_t n = (size_t) LF_MIN (data_end - off, CHUNK_SIZE);
      if (lf_pread_all (fd, buf, n, off) == -1)
        goto out;
      EVP_DigestUpdate (ctx, buf, n);
      off += n;
    }
  }
  if (EVP_DigestFinal_ex (ctx, md, &mdlen) != 1 || mdlen != 32) {
    lf_error (EIO, "SHA-256 failed");
    goto out;
  }
  for (unsigned i = 0; i < 32; i++) {
    hex[2 * i] = digits[md[i] >> 4];
    hex[2 * i + 1] = digits[md[i] & 15];
  }
  hex[64] = '\0';
  ret = 0;
 out:
  EVP_MD_CTX_free (ctx);
  return ret;
}

int
lf_convert_to_vhd (struct lf_disk *src, const char *dest,
                   const struct lf_convert_opts *opts,
                   struct lf_convert_result *res)
{
  struct copy c = { .src = src, .fd = -1, .dest = dest,
                    .progress = opts->progress };
  CLEANUP_FREE char *tmp = NULL;
  uint8_t footer[LF_VHD_FOOTER_SIZE];
  pthread_t threads[MAX_THREADS];
  unsigned nthreads = opts->threads ? opts->threads : default_threads ();
  unsigned started = 0;
  struct stat st;
  int ret = -1;

  memset (res, 0, sizeof *res);
  res->source_size = lf_disk_size (src);
  if (lf_azure_size (res->source_size, opts->os_disk, &res->size) == -1) {
    lf_error_prefix ("%s", lf_disk_path (src));
    return -1;
  }
  res->file_size = res->size + LF_VHD_FOOTER_SIZE;
  if (nthreads > MAX_THREADS)
    nthreads = MAX_THREADS;

  /* Writing over the source (or its chain) would destroy the input. */
  if (stat (dest, &st) == 0)
    for (struct lf_disk *d = src; d; d = lf_disk_backing (d))
      if (st.st_dev == d->file->dev && st.st_ino == d->file->ino) {
        lf_error (EINVAL, "%s: the output is the same file as the input %s "
                  "(use --in-place to convert in place)", dest,
                  lf_disk_path (d));
        return -1;
      }

  if (asprintf (&tmp, "%s.landfall-XXXXXX", dest) == -1) {
    tmp = NULL;
    lf_error (errno, "out of memory");
    return -1;
  }
  c.fd = mkostemp (tmp, O_CLOEXEC);
  if (c.fd == -1) {
    lf_error (errno, "%s: cannot create a temporary file beside it: %m", dest);
    return -1;
  }
  (void) fchmod (c.fd, 0644);
  pthread_mutex_init (&c.lock, NULL);
  pthread_cond_init (&c.not_empty, NULL);
  pthread_cond_init (&c.not_full, NULL);

  if (ftruncate (c.fd, (off_t) res->file_size) == -1) {
    lf_error (errno, "%s: cannot size the output to %" PRIu64 " bytes: %m",
              dest, res->file_size);
    goto out;
  }
  for (started = 0; started < nthreads; started++)
    if (pthread_create (&threads[started], NULL, worker, &c) != 0) {
      lf_error (errno, "cannot start a worker thread");
      copy_fail (&c);
      break;
    }
  if (produce (&c, res->source_size) == -1)
    copy_fail (&c);
  pthread_mutex_lock (&c.lock);
  c.eof = true;
  pthread_cond_broadcast (&c.not_empty);
  pthread_mutex_unlock (&c.lock);
  for (unsigned i = 0; i < started; i++)
    pthread_join (threads[i], NULL);
  if (c.failed) {
    lf_error_restore (&c.err);
    goto out;
  }

  lf_vhd_make_fixed_footer (footer, res->size, opts->uuid, opts->timestamp);
  if (lf_pwrite_all (c.fd, footer, sizeof footer, res->size) == -1) {
    lf_error_prefix ("%s: footer", dest);
    goto out;
  }
  if (!opts->no_sync && fsync (c.fd) == -1) {
    lf_error (errno, "%s: fsync: %m", dest);
    goto out;
  }
  if (opts->checksum && lf_sha256_file (c.fd, res->file_size, res->sha256) == -1)
    goto out;
  if (rename (tmp, dest) == -1) {
    lf_error (errno, "%s: rename from %s: %m", dest, tmp);
    goto out;
  }
  free (tmp);
  tmp = NULL;
  if (!opts->no_sync && lf_fsync_dir_of (dest) == -1)
    goto out;

  lf_progress_done (opts->progress);
  res->action = "converted";
  res->data_bytes = c.data_bytes;
  res->zero_bytes = res->size - c.data_bytes;
  ret = 0;

 out:
  if (c.fd >= 0)
    close (c.fd);
  if (tmp)
    unlink (tmp);
  pthread_mutex_destroy (&c.lock);
  pthread_cond_destroy (&c.not_empty);
  pthread_cond_destroy (&c.not_full);
  return ret;
}

/* In place.  The order of the writes makes every crash point re-runnable
 * to the same result (see the comments at each step).
 */
int
lf_convert_in_place (const char *path, const struct lf_convert_opts *opts,
                     struct lf_convert_result *res)
{
  CLEANUP_CLOSE int fd = -1;
  struct stat st;
  uint8_t buf[LF_VHD_FOOTER_SIZE], footer[LF_VHD_FOOTER_SIZE];
  uint64_t data_len;
  bool had_footer = false;
  char desc[64] = "";

  memset (res, 0, sizeof *res);
  /* Only raw and fixed VHD can become a fixed VHD without a copy. */
  {
    struct lf_disk *d = lf_disk_open (path, NULL);
    if (!d)
      return -1;
    snprintf (desc, sizeof desc, "%s%s%s", lf_disk_format (d),
              lf_disk_subformat (d)[0] ? " " : "", lf_disk_subformat (d));
    bool ok = strcmp (lf_disk_format (d), "raw") == 0 ||
      (strcmp (lf_disk_format (d), "vhd") == 0 &&
       strcmp (lf_disk_subformat (d), "fixed") == 0);
    lf_disk_close (d);
    if (!ok) {
      lf_error (EINVAL, "%s: is %s: only a raw image or a fixed VHD can be "
                "converted in place; write a new file with -o instead",
                path, desc);
      return -1;
    }
  }

  fd = open (path, O_RDWR | O_CLOEXEC);
  if (fd == -1 || fstat (fd, &st) == -1) {
    lf_error (errno, "%s: %m", path);
    return -1;
  }
  if (!S_ISREG (st.st_mode)) {
    lf_error (EINVAL, "%s: in-place conversion needs a regular file (a "
              "block device cannot grow to take the footer)", path);
    return -1;
  }
  res->original_file_size = (uint64_t) st.st_size;
  data_len = (uint64_t) st.st_size;

  if (data_len >= LF_VHD_FOOTER_SIZE) {
    if (lf_pread_all (fd, buf, sizeof buf, data_len - sizeof buf) == -1) {
      lf_error_prefix ("%s", path);
      return -1;
    }
    if (lf_vhd_footer_has_cookie (buf)) {
      struct lf_vhd_footer_info fi;
      if (lf_vhd_footer_decode (buf, path, "footer", &fi) == -1)
        return -1;
      if (lf_vhd_footer_is_azure_ready (&fi, data_len)) {
        res->action = "already-azure-ready";
        res->source_size = res->size = fi.current_size;
        res->file_size = data_len;
        goto checksum;
      }
      had_footer = true;
      data_len -= LF_VHD_FOOTER_SIZE;
    }
  }
  res->source_size = data_len;
  if (lf_azure_size (data_len, opts->os_disk, &res->size) == -1) {
    lf_error_prefix ("%s", path);
    return -1;
  }
  res->file_size = res->size + LF_VHD_FOOTER_SIZE;
  lf_vhd_make_fixed_footer (footer, res->size, opts->uuid, opts->timestamp);

  if (had_footer && res->size != data_len) {
    /* Zero the old footer first: after a crash here the file is a raw
     * image of data_len + 512 bytes, which rounds up to the same MiB
     * (data_len is not a MiB multiple), so a re-run gives this result.
     */
    static const uint8_t zero[LF_VHD_FOOTER_SIZE];
    if (lf_pwrite_all (fd, zero, sizeof zero, data_len) == -1 ||
        fdatasync (fd) == -1) {
      lf_error_prefix ("%s: clearing the old footer", path);
      return -1;
    }
  }
  /* A crash after the growth leaves a raw image of a whole MiB, which a
   * re-run finishes by appending the same footer.
   */
  if (res->size > data_len && ftruncate (fd, (off_t) res->size) == -1) {
    lf_error (errno, "%s: cannot grow to %" PRIu64 " bytes: %m", path,
              res->size);
    return -1;
  }
  if (lf_pwrite_all (fd, footer, sizeof footer, res->size) == -1 ||
      fdatasync (fd) == -1) {
    lf_error_prefix ("%s: writing the footer", path);
    return -1;
  }
  res->action = had_footer ? "footer-rewritten" : "footer-appended";

 checksum:
  lf_progress_done (opts->progress);
  if (opts->checksum && lf_sha256_file (fd, res->file_size, res->sha256) == -1)
    return -1;
  return 0;
}

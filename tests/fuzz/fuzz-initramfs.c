/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall fuzz target: initramfs images (initramfs/): every segment
 * decoded, every entry walked, a few lookups, an add, and a write whose
 * output must parse again.  Caps are lowered so one input cannot decode
 * for minutes; the newc+CRC sum is not checked (libFuzzer cannot forge
 * it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "initramfs/initramfs.h"
#include "tests/fuzz/fuzz-buffer.h"

static bool
keep_odd (const char *path, uint64_t size, void *arg)
{
  (void) arg;
  return (strlen (path) + size) & 1;
}

static void
fuzz_one (const char *data, size_t size)
{
  struct lf_initramfs_limits lim = lf_initramfs_default_limits;
  struct lf_initramfs *img, *again;
  static const char *const paths[] = {
    ".", "init", "lib/modules", "usr/lib/modules/x/modules.dep",
    "tmp/trav.txt", "../../etc/passwd", "/bin/sh", "a/b/../../c",
  };
  void *out = NULL;
  size_t outlen = 0, total = 0;

  lim.max_uncompressed = 64 * LF_MiB;
  lim.bomb_floor = 16 * LF_MiB;
  lim.ignore_checksums = true;
  /* Contents held in memory for some inputs, streamed for others, as
   * the fix keeps only a few small files: the writer takes both paths.
   */
  if (size && (data[size - 1] & 1))
    lim.keep = keep_odd;
  img = lf_initramfs_parse_limits (data, size, "fuzz", &lim);
  if (!img)
    return;
  for (size_t i = 0; i < lf_initramfs_nsegments (img); i++)
    total += lf_initramfs_segment (img, i)->nentries;
  if (total != lf_initramfs_nentries (img))
    abort ();
  for (size_t i = 0; i < lf_initramfs_nentries (img); i++) {
    const struct lf_initramfs_entry *e = lf_initramfs_entry (img, i);
    volatile uint8_t sink = 0;
    if (e->size && e->data)
      sink ^= e->data[0] ^ e->data[e->size - 1];
    (void) sink;
    (void) lf_initramfs_lookup (img, e->path, true);
    if (e->symlink)
      free (lf_initramfs_resolve (img, e->symlink, true));
  }
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    (void) lf_initramfs_lookup (img, paths[i], true);
    (void) lf_initramfs_lookup (img, paths[i], false);
    (void) lf_initramfs_find (img, paths[i]);
  }
  (void) lf_initramfs_add (img, "lib/modules/fuzz/hv_vmbus.ko", 0644, "ko", 2);
  (void) lf_initramfs_add_symlink (img, "usr/lib/fuzz", "../../lib");
  (void) lf_initramfs_remove (img, "init");
  if (lf_initramfs_write (img, &out, &outlen) == 0) {
    /* What we write must read back. */
    again = lf_initramfs_parse_limits (out, outlen, "fuzz rewritten", &lim);
    if (!again && lf_last_errno () != EFBIG)
      abort ();
    lf_initramfs_free (again);
    free (out);
  }
  lf_initramfs_free (img);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall fuzz target: the boot configuration and fstab transforms
 * (bootfix/linux/cmdline.c, fstab-edit.c).  The first byte picks the kind
 * of file; every transform must succeed or fail cleanly, and must give
 * the same bytes when run on its own output.
 */
#include <string.h>

#include "bootfix/linux/bootcfg.h"
#include "guest/bootread.h"
#include "tests/fuzz/fuzz-buffer.h"

static const char *
resolve_resume (void *opaque, const char *dev)
{
  (void) opaque;
  return strcmp (dev, "/dev/sda2") == 0 ? "swap-uuid" : NULL;
}

static int
resolve_fstab (void *opaque, const char *spec, const char *mp,
               struct lf_fstab_res *r)
{
  (void) opaque;
  (void) mp;
  /* Consistent with itself: what a device name becomes resolves the same. */
  r->found = strncmp (spec, "/dev/sda", 8) == 0 ||
    strcmp (spec, "UUID=1234-abcd") == 0;
  r->os_disk = true;
  if (r->found && strcmp (spec, "/dev/sda9") != 0)
    strcpy (r->uuid, "1234-abcd");
  return 0;
}

static void
fuzz_one (const char *data, size_t size)
{
  /* A target's lists of arguments to add and remove, of each kind: a
   * whole word, a key with a value, a key whose every value goes.
   */
  static const char *const add[] = { "quiet2", "a.b=1", NULL };
  static const char *const rm[] = { "quiet", "console=", "x=1", NULL };
  struct lf_cmdline_opts o = {
    .root_uuid = "0000-root", .resolve = resolve_resume, .add = true,
    .ifnames = true, .rootdelay = -1, .params_add = add, .params_remove = rm,
    .serial_word = "console=ttyS0,115200n8",
  };
  struct lf_findings fnd = { 0 };
  char *out = NULL, *out2 = NULL;
  size_t outlen, outlen2;
  int n, n2;

  if (size < 1)
    return;
  /* The reader verify takes the default entry with (guest/bootread.c). */
  struct lf_boot_entry e;
  if (lf_grub_default_entry (data, size, &e)) {
    free (lf_cmdline_get (e.args, "root"));
    (void) lf_cmdline_has_console (e.args, "ttyS0");
    char *missing, *unwanted;
    lf_cmdline_audit (e.args, &o, &missing, &unwanted);
    free (missing);
    free (unwanted);
  }
  lf_boot_entry_free (&e);
  unsigned kind = (unsigned char) data[0] % (LF_BOOTCFG_KERNEL_CMDLINE + 2);
  data++;
  size--;
  if (kind == LF_BOOTCFG_KERNEL_CMDLINE + 1) {
    n = lf_fstab_edit (data, size, resolve_fstab, NULL, &out, &outlen, &fnd);
    if (n >= 0) {
      n2 = lf_fstab_edit (out, outlen, resolve_fstab, NULL, &out2, &outlen2,
                          &fnd);
      if (n2 != 0 || outlen2 != outlen || memcmp (out, out2, outlen) != 0)
        abort ();
      if (n == 0 && (outlen != size || memcmp (out, data, size) != 0))
        abort ();
    }
  }
  else {
    n = lf_bootcfg_edit (kind, "fuzz", data, size, &o, &out, &outlen, &fnd);
    if (n >= 0) {
      n2 = lf_bootcfg_edit (kind, "fuzz", out, outlen, &o, &out2, &outlen2,
                            &fnd);
      if (n2 != 0 || outlen2 != outlen || memcmp (out, out2, outlen) != 0)
        abort ();
      /* No edit: not one byte may differ. */
      if (n == 0 && (outlen != size || memcmp (out, data, size) != 0))
        abort ();
      if (kind == LF_BOOTCFG_GRUBENV && outlen != size)
        abort ();
    }
  }
  lf_error_clear ();
  free (out);
  free (out2);
  lf_findings_free (&fnd);
}

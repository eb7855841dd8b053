/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall convert/: the VHD footer (disks.md §2–§4).
 *
 * Shared by the VHD reader and the Azure fixed-VHD writer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "convert/format.h"

/* Seconds between the Unix epoch and 2000-01-01 00:00:00 UTC. */
#define VHD_EPOCH_OFFSET 946684800u

/* CHS limit: 65535 cylinders, 16 heads, 255 sectors per track. */
#define VHD_MAX_CHS_SECTORS (UINT64_C (65535) * 16 * 255)

_Static_assert (offsetof (struct vhd_footer, current_size) == 0x30,
                "current size at 0x30");
_Static_assert (offsetof (struct vhd_footer, checksum) == 0x40,
                "checksum at 0x40");
_Static_assert (offsetof (struct vhd_footer, saved_state) == 0x54,
                "saved state at 0x54");

uint32_t
lf_vhd_checksum (const uint8_t *buf, size_t len, size_t checksum_offset)
{
  uint32_t sum = 0;

  for (size_t i = 0; i < len; i++)
    if (i < checksum_offset || i >= checksum_offset + 4)
      sum += buf[i];
  return ~sum;
}

void
lf_vhd_chs (uint64_t size, uint16_t *cyl, uint8_t *heads, uint8_t *spt)
{
  uint64_t total = size / 512, cth;
  unsigned h, s;

  if (total > VHD_MAX_CHS_SECTORS)
    total = VHD_MAX_CHS_SECTORS;
  if (total >= UINT64_C (65535) * 16 * 63) {
    s = 255;
    h = 16;
    cth = total / s;
  }
  else {
    s = 17;
    cth = total / s;
    h = (unsigned) ((cth + 1023) / 1024);
    if (h < 4)
      h = 4;
    if (cth >= (uint64_t) h * 1024 || h > 16) {
      s = 31;
      h = 16;
      cth = total / s;
    }
    if (cth >= (uint64_t) h * 1024) {
      s = 63;
      h = 16;
      cth = total / s;
    }
  }
  *cyl = (uint16_t) (cth / h);
  *heads = (uint8_t) h;
  *spt = (uint8_t) s;
}

void
lf_vhd_make_fixed_footer (uint8_t *out, uint64_t size, const uint8_t *uuid,
                          uint32_t timestamp)
{
  struct vhd_footer *f = (struct vhd_footer *) out;
  uint16_t c;
  uint8_t h, s;

  memset (out, 0, sizeof *f);
  memcpy (f->cookie, "conectix", 8);
  lf_put_be32 (&f->features, 2);
  lf_put_be32 (&f->version, 0x00010000);
  lf_put_be64 (&f->data_offset, UINT64_MAX);
  if (timestamp == 0) {
    time_t now = time (NULL);
    timestamp = now > (time_t) VHD_EPOCH_OFFSET
      ? (uint32_t) (now - VHD_EPOCH_OFFSET) : 0;
  }
  lf_put_be32 (&f->timestamp, timestamp);
  /* "win " is in qemu's list of creators whose current size it trusts
   * (disks.md §5.3): with it, qemu-img info -f vpc reports exactly our
   * size instead of the CHS product, which is up to 32 KiB smaller and
   * would make qemu pipelines drop the end of the disk.  Hyper-V writes
   * the same, and Azure checks only the cookie and the sizes.
   */
  memcpy (f->creator_app, "win ", 4);
  lf_put_be32 (&f->creator_version, 0x000a0000);        /* 10.0 */
  lf_put_be32 (&f->creator_os, 0x5769326b);             /* "Wi2k" */
  lf_put_be64 (&f->original_size, size);
  lf_put_be64 (&f->current_size, size);
  lf_vhd_chs (size, &c, &h, &s);
  lf_put_be16 (&f->cylinders, c);
  f->heads = h;
  f->sectors = s;
  lf_put_be32 (&f->disk_type, VHD_TYPE_FIXED);
  if (uuid)
    memcpy (f->uuid, uuid, 16);
  else {
    if (getrandom (f->uuid, 16, 0) != 16) {
      /* Only uniqueness matters, not secrecy: fall back to time. */
      uint64_t t = (uint64_t) time (NULL) ^ (uint64_t) (uintptr_t) out;
      memcpy (f->uuid, &t, sizeof t);
    }
    f->uuid[6] = (uint8_t) ((f->uuid[6] & 0x0f) | 0x40);     /* version 4 */
    f->uuid[8] = (uint8_t) ((f->uuid[8] & 0x3f) | 0x80);     /* RFC 4122 */
  }
  lf_put_be32 (&f->checksum,
               lf_vhd_checksum (out, sizeof *f,
                                offsetof (struct vhd_footer, checksum)));
}

bool
lf_vhd_footer_has_cookie (const uint8_t *buf)
{
  return memcmp (buf, "conectix", 8) == 0;
}

int
lf_vhd_footer_decode (const uint8_t *buf, const char *path, const char *where,
                      struct lf_vhd_footer_info *r)
{
  const struct vhd_footer *f = (const struct vhd_footer *) buf;
  uint32_t stored, computed;

  memset (r, 0, sizeof *r);
  if (!lf_vhd_footer_has_cookie (buf)) {
    lf_error (EINVAL, "%s: %s: cookie is not \"conectix\"", path, where);
    return -1;
  }
  stored = lf_be32 (&f->checksum);
  computed = lf_vhd_checksum (buf, sizeof *f,
                              offsetof (struct vhd_footer, checksum));
  r->checksum_ok = stored == computed;
  if (!r->checksum_ok && !lf_fuzzing) {
    lf_error (EINVAL, "%s: %s: checksum 0x%08" PRIx32 " does not match the "
              "computed 0x%08" PRIx32, path, where, stored, computed);
    return -1;
  }
  r->data_offset = lf_be64 (&f->data_offset);
  r->original_size = lf_be64 (&f->original_size);
  r->current_size = lf_be64 (&f->current_size);
  r->disk_type = lf_be32 (&f->disk_type);
  r->creator_version = lf_be32 (&f->creator_version);
  r->timestamp = lf_be32 (&f->timestamp);
  memcpy (r->creator_app, f->creator_app, 4);
  r->creator_app[4] = '\0';
  r->cylinders = lf_be16 (&f->cylinders);
  r->heads = f->heads;
  r->sectors = f->sectors;
  memcpy (r->uuid, f->uuid, 16);

  LF_DEBUG (2, "%s: %s: type %" PRIu32 ", creator \"%.4s\" %" PRIu32 ".%" PRIu32
            ", current size %" PRIu64 "%s, CHS %u/%u/%u (%" PRIu64 " bytes), "
            "data offset 0x%" PRIx64, path, where, r->disk_type,
            r->creator_app, r->creator_version >> 16,
            r->creator_version & 0xffff, r->current_size,
            r->current_size % LF_MiB
            ? " (not a whole MiB: Azure will refuse this)" : "",
            r->cylinders, r->heads, r->sectors,
            (uint64_t) r->cylinders * r->heads * r->sectors * 512,
            r->data_offset);

  if (r->disk_type != VHD_TYPE_FIXED && r->disk_type != VHD_TYPE_DYNAMIC &&
      r->disk_type != VHD_TYPE_DIFFERENCING) {
    lf_error (EINVAL, "%s: %s: disk type %" PRIu32 " is not fixed (2), "
              "dynamic (3) or differencing (4)", path, where, r->disk_type);
    return -1;
  }
  if (r->current_size % 512) {
    lf_error (EINVAL, "%s: %s: current size %" PRIu64 " is not a multiple "
              "of 512", path, where, r->current_size);
    return -1;
  }
  return 0;
}

uint64_t
lf_vhd_footer_virtual_size (const struct lf_vhd_footer_info *r)
{
  uint64_t chs = (uint64_t) r->cylinders * r->heads * r->sectors * 512;
  /* Virtual PC sizes a disk by its geometry, Hyper-V, Disk2vhd, XenServer
   * and newer qemu by the current size (qemu block/vpc.c lists the same
   * creators).  A saturated geometry cannot express the size, so the
   * current size wins there too.  Disk2vhd writes "d2v\0", which qemu
   * misses; it always means the current size.
   */
  static const char *const trusted[] = {
    "win ", "qem2", "d2v ", "d2v", "CTXS", "tap",
  };
  bool use_current = r->cylinders == 65535 && r->heads == 16 &&
    r->sectors == 255;

  for (size_t i = 0; i < sizeof trusted / sizeof trusted[0]; i++)
    if (memcmp (r->creator_app, trusted[i], 4) == 0)  /* "tap" has its NUL */
      use_current = true;
  /* A geometry larger than the current size would read past the data. */
  if (use_current || chs > r->current_size)
    return r->current_size;
  return chs;
}

bool
lf_vhd_footer_is_azure_ready (const struct lf_vhd_footer_info *r,
                              uint64_t file_size)
{
  return r->checksum_ok && r->disk_type == VHD_TYPE_FIXED &&
    r->current_size > 0 && r->current_size % LF_MiB == 0 &&
    file_size == r->current_size + LF_VHD_FOOTER_SIZE &&
    lf_vhd_footer_virtual_size (r) == r->current_size;
}

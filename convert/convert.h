/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall convert/: disk image formats, public interface.
 *
 * convert/ knows nothing of filesystems, guests or jobs.  It opens an image
 * of any supported format read-only as a "disk" (a virtual block device),
 * tells which ranges hold data, and writes the Azure fixed VHD.
 */
#ifndef LF_CONVERT_H
#define LF_CONVERT_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

struct lf_disk;
struct lf_progress;

/* Extent types.  ZERO means "reads as zeros and need not be written". */
#define LF_EXTENT_DATA 0
#define LF_EXTENT_ZERO 1

/* disk.c */

/* Open PATH read-only.  FORMAT is a format name to force, or NULL to
 * probe.  Backing files and parents are opened too (the chain).
 */
extern struct lf_disk *lf_disk_open (const char *path, const char *format);
extern void lf_disk_close (struct lf_disk *d);
extern uint64_t lf_disk_size (const struct lf_disk *d);
extern const char *lf_disk_path (const struct lf_disk *d);
/* Whether FD is the file D was opened from, the whole of it (not an
 * archive member): a writer that opens lf_disk_path again checks it, so
 * that a path replaced after the read-only open is never written.
 */
extern bool lf_disk_is_file (const struct lf_disk *d, int fd);
extern const char *lf_disk_format (const struct lf_disk *d);
/* e.g. "streamOptimized", "dynamic"; "" if the format has none. */
extern const char *lf_disk_subformat (const struct lf_disk *d);
/* The disk below this one in a chain (backing file, parent), or NULL. */
extern struct lf_disk *lf_disk_backing (const struct lf_disk *d);
/* Thread-safe.  Fails on a range beyond the virtual size. */
extern int lf_disk_pread (struct lf_disk *d, void *buf, size_t count,
                          uint64_t offset);
/* The type (LF_EXTENT_*) of the range starting at OFFSET and how long it
 * is, at most *LEN (which is updated).  Adjacent extents of one type are
 * merged.  Thread-safe.
 */
extern int lf_disk_extent (struct lf_disk *d, uint64_t offset, uint64_t *len,
                           unsigned *type);
/* file.c: what a disk may pull in.  Backing files, parents and extents
 * a disk's metadata names must lie beneath that disk's directory, or
 * beneath a directory allowed here (process-wide: --allow-backing, a
 * job's or manifest's allow-backing).  DIR must exist; it is resolved.
 */
extern int lf_allow_backing (const char *dir);
extern void lf_allow_backing_reset (void);

/* Names of the registered formats, NULL-terminated. */
extern const char *const *lf_format_names (void);

/* ova.c: an OVA (tar) holding an OVF descriptor and disks. */
struct lf_ova_disk {
  char *name;                   /* member name, e.g. "vm-disk1.vmdk" */
  uint64_t offset, size;        /* where the member's data is in the tar */
};
/* LF_MATCH if PATH is a tar archive with an .ovf member. */
extern int lf_ova_probe (const char *path);
/* List the disk members of an OVA, in the OVF's order where it names
 * them, else tar order.  Returns the count or -1.
 */
extern int lf_ova_list (const char *path, struct lf_ova_disk **ret);
extern void lf_ova_free (struct lf_ova_disk *disks, int n);
/* Open one member of an OVA as a disk (the member is read in place). */
extern struct lf_disk *lf_disk_open_ova_member (const char *ova_path,
                                                const struct lf_ova_disk *m);

/* vhd-footer.c: the Azure fixed VHD footer. */
#define LF_VHD_FOOTER_SIZE 512
/* Azure's limits (../shared/reference/disks.md §1). */
#define LF_AZURE_MAX_DATA_DISK (UINT64_C (32767) * 1024 * 1024 * 1024)
#define LF_AZURE_MAX_OS_DISK   (UINT64_C (4) * 1024 * 1024 * 1024 * 1024)
#define LF_AZURE_MIN_DISK      (UINT64_C (20) * 1024 * 1024)

/* Fill FOOTER (512 bytes) for a fixed disk of SIZE bytes.  UUID (16
 * bytes) and TIMESTAMP (seconds since 2000) make the output reproducible;
 * NULL and 0 mean a random UUID and now.
 */
extern void lf_vhd_make_fixed_footer (uint8_t *footer, uint64_t size,
                                      const uint8_t *uuid, uint32_t timestamp);
extern uint32_t lf_vhd_checksum (const uint8_t *buf, size_t len,
                                 size_t checksum_offset);
/* Spec CHS for SIZE (disks.md §4). */
extern void lf_vhd_chs (uint64_t size, uint16_t *cyl, uint8_t *heads,
                        uint8_t *spt);

/* writer.c: convert to a fixed VHD. */
struct lf_convert_opts {
  unsigned threads;             /* 0: one per core */
  bool checksum;                /* SHA-256 of the output */
  bool os_disk;                 /* apply the OS disk size limit */
  bool no_sync;                 /* skip the fsyncs (the caller syncs, or
                                   accepts losing the output in a crash) */
  struct lf_progress *progress; /* may be NULL */
  /* The footer's unique id (16 bytes) and timestamp (seconds since
   * 2000-01-01).  NULL and 0 mean random and now; a job passes fixed
   * values so that a resumed or repeated run writes the same bytes.
   */
  const uint8_t *uuid;
  uint32_t timestamp;
};

struct lf_convert_result {
  const char *action;           /* "converted", "footer-appended",
                                   "footer-rewritten", "already-azure-ready" */
  uint64_t source_size;         /* virtual size of the source */
  uint64_t size;                /* virtual size of the output (MiB multiple) */
  uint64_t file_size;           /* size + 512 */
  uint64_t data_bytes;          /* bytes of data written */
  uint64_t zero_bytes;          /* bytes skipped as holes or zeros */
  uint64_t original_file_size;  /* in place: the file's size before */
  char sha256[65];              /* hex, or "" */
};

/* The size a disk of SIZE bytes becomes (next MiB), or -1 with an error
 * if it exceeds the limit for its role.
 */
extern int lf_azure_size (uint64_t size, bool os_disk, uint64_t *ret);

/* Write SRC as a fixed VHD at DEST.  DEST is written under a temporary
 * name and renamed when complete: on failure nothing is left behind.
 */
extern int lf_convert_to_vhd (struct lf_disk *src, const char *dest,
                              const struct lf_convert_opts *opts,
                              struct lf_convert_result *res);

/* Make PATH (a raw image, or a fixed VHD of the wrong size) a fixed VHD in
 * place: grow it to a whole MiB and append or move the footer.  No data is
 * copied.  A file already right is not touched.
 */
extern int lf_convert_in_place (const char *path,
                                const struct lf_convert_opts *opts,
                                struct lf_convert_result *res);

/* SHA-256 of the first SIZE bytes of FD as 64 hex digits and a NUL in HEX.
 * Holes are hashed without being read.
 */
extern int lf_sha256_file (int fd, uint64_t size, char *hex);

#endif /* LF_CONVERT_H */

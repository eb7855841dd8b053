/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall convert/: the format vtable and convert/'s internal header,
 * grouped by source file.
 *
 * Every format reader is one file ending in one `const struct lf_format`,
 * listed in the ordered table in disk.c.  Readers treat every byte of the
 * image as hostile: they read only through lf_file_read (bounded), check
 * every field that becomes an offset, count or allocation right after
 * decoding it, and name the file, the structure and the value in errors.
 */
#ifndef LF_FORMAT_H
#define LF_FORMAT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/common.h"
#include "convert/convert.h"

/* file.c
 *
 * A read-only window onto a file: usually the whole file, or one member of
 * an OVA (tar).  Every read is checked against the window.
 */
struct lf_file {
  int fd;
  char *path;                   /* for messages and to resolve siblings */
  uint64_t base;                /* window start within fd */
  uint64_t size;                /* window length */
  dev_t dev;                    /* identity, for backing-chain loops */
  ino_t ino;
  bool seek_data;               /* the filesystem answers SEEK_DATA */
  bool member;                  /* a window onto an archive (OVA member):
                                   it may name no other file */
};

extern struct lf_file *lf_file_open (const char *path);
extern struct lf_file *lf_file_open_window (const char *path, uint64_t base,
                                            uint64_t size);
/* Open NAME, a file NAMER's metadata names (WHAT: "qcow2 backing file",
 * "extent"), confined: it must resolve, after symlinks, beneath NAMER's
 * directory or a directory lf_allow_backing allowed, and be a regular
 * file (never a block device, FIFO, socket or character device).  A
 * member of an archive may name nothing.  Errors read
 * "NAMER: WHAT \"NAME\": what was wrong".
 */
extern struct lf_file *lf_file_open_named (const struct lf_file *namer,
                                           const char *name,
                                           const char *what);
extern void lf_file_close (struct lf_file *f);
/* Read LEN bytes at OFF.  WHAT names the structure for the error:
 * "PATH: WHAT at 0x... (N bytes) is beyond end of file (0x...)".
 */
extern int lf_file_read (struct lf_file *f, void *buf, size_t len,
                         uint64_t off, const char *what);
/* Allocate and read LEN bytes; LEN must not exceed MAX (a named limit). */
extern void *lf_file_read_alloc (struct lf_file *f, uint64_t len,
                                 uint64_t off, uint64_t max,
                                 const char *what);
/* Holes of the file itself (SEEK_DATA/SEEK_HOLE): the type of the range at
 * OFFSET and its length, at most *LEN.  All data where holes are unknown.
 */
extern int lf_file_extent (struct lf_file *f, uint64_t offset, uint64_t *len,
                           unsigned *type);
/* True if [OFF, OFF+LEN) lies inside the file. */
extern bool lf_file_contains (const struct lf_file *f, uint64_t off,
                              uint64_t len);

/* The vtable. */
struct lf_format {
  const char *name;             /* "raw", "vhd", "vmdk", "qcow2", "vhdx" */

  /* LF_MATCH, LF_NO_MATCH, or -1 with an error (I/O, or a file too short
   * for the format that starts with its magic: lf_probe_short).  A strange
   * file is LF_NO_MATCH.  Required.
   */
  int (*probe) (struct lf_file *f);

  /* Parse and check the metadata; return a handle or NULL with an error.
   * The format sets d->size (and optionally d->subformat, d->backing).
   * The file is owned by D; the handle must not close it.  Required.
   */
  void *(*open) (struct lf_file *f, struct lf_disk *d);

  /* Read COUNT bytes at OFFSET; OFFSET + COUNT <= d->size is guaranteed
   * by the caller.  Must be thread-safe.  Required.
   */
  int (*pread) (void *h, void *buf, size_t count, uint64_t offset);

  /* The type of the extent at OFFSET and its length, at most *LEN (which
   * is set, > 0).  Optional: NULL means all data.  Thread-safe.
   */
  int (*extent) (void *h, uint64_t offset, uint64_t *len, unsigned *type);

  void (*close) (void *h);      /* accepts a half-built handle; required */
};

/* disk.c */

/* Cap on backing chains and differencing parents. */
#define LF_MAX_CHAIN_DEPTH 64

struct lf_disk {
  const struct lf_format *fmt;
  struct lf_file *file;
  void *h;
  uint64_t size;                /* virtual size */
  char subformat[32];
  struct lf_disk *backing;      /* owned */
  unsigned depth;               /* 0 for the top of a chain */
  struct lf_disk *child;        /* the disk above this one, or NULL */
};

/* Open a backing file or parent named by CHILD's metadata (WHAT names
 * the field for errors), confined as lf_file_open_named says.  FORMAT may
 * be NULL (probe).  Refuses chains deeper than LF_MAX_CHAIN_DEPTH and
 * loops.  The result is owned by the caller (usually child->backing).
 */
extern struct lf_disk *lf_disk_open_backing (struct lf_disk *child,
                                             const char *name,
                                             const char *format,
                                             const char *what);
/* Open an already opened window as a disk (OVA members, VMDK extents). */
extern struct lf_disk *lf_disk_open_file (struct lf_file *f,
                                          const char *format,
                                          struct lf_disk *child);
/* Read from D, which may be shorter than requested: the part past its
 * size reads as zeros (a backing file smaller than its child).
 */
extern int lf_disk_pread_padded (struct lf_disk *d, void *buf, size_t count,
                                 uint64_t offset);
/* Extent of D at OFFSET, treating the part past its size as zeros. */
extern int lf_disk_extent_padded (struct lf_disk *d, uint64_t offset,
                                  uint64_t *len, unsigned *type);

/* No image of any format but raw has fewer bytes: qcow2's header cluster,
 * a VMDK sparse header, a VHD footer are at least one sector.
 */
#define LF_PROBE_MIN_SIZE 512
/* For a probe of a file shorter than LF_PROBE_MIN_SIZE: -1 with the error
 * "FILE: truncated NAME (N bytes)" if it starts with MAGIC (MLEN bytes),
 * else LF_NO_MATCH.  Such a file is a damaged image, which opened as raw
 * would be copied or fixed as a disk.
 */
extern int lf_probe_short (struct lf_file *f, const void *magic, size_t mlen,
                           const char *name);

/* The formats, in probe order (raw last: it matches anything). */
extern const struct lf_format vhd_format;
extern const struct lf_format vhdx_format;
extern const struct lf_format vmdk_format;
extern const struct lf_format qcow2_format;
extern const struct lf_format raw_format;

/* vhd-footer.c */

/* The 512-byte VHD footer.  NB. All fields are big-endian. */
struct vhd_footer {
  char     cookie[8];           /* 0x00 "conectix" */
  uint32_t features;            /* 0x08 bit 1 reserved, always set */
  uint32_t version;             /* 0x0c 0x00010000 */
  uint64_t data_offset;         /* 0x10 dynamic header, or all ones */
  uint32_t timestamp;           /* 0x18 seconds since 2000-01-01 UTC */
  char     creator_app[4];      /* 0x1c "win ", "qem2", "vpc ", "d2v\0" */
  uint32_t creator_version;     /* 0x20 */
  uint32_t creator_os;          /* 0x24 "Wi2k" */
  uint64_t original_size;       /* 0x28 */
  uint64_t current_size;        /* 0x30 */
  uint16_t cylinders;           /* 0x38 */
  uint8_t  heads;               /* 0x3a */
  uint8_t  sectors;             /* 0x3b */
  uint32_t disk_type;           /* 0x3c 2 fixed, 3 dynamic, 4 differencing */
  uint32_t checksum;            /* 0x40 one's complement of the byte sum */
  uint8_t  uuid[16];            /* 0x44 */
  uint8_t  saved_state;         /* 0x54 */
  uint8_t  reserved[427];       /* 0x55 */
} __attribute__ ((packed));
_Static_assert (sizeof (struct vhd_footer) == 512, "VHD footer is 512 bytes");

#define VHD_TYPE_FIXED        2
#define VHD_TYPE_DYNAMIC      3
#define VHD_TYPE_DIFFERENCING 4

/* A footer decoded into host order, with its checks done. */
struct lf_vhd_footer_info {
  uint64_t data_offset, original_size, current_size;
  uint32_t disk_type, creator_version;
  char creator_app[5];
  uint16_t cylinders;
  uint8_t heads, sectors;
  uint8_t uuid[16];
  uint32_t timestamp;
  bool checksum_ok;
};

/* LF_MATCH if BUF (512 bytes) starts with the cookie. */
extern bool lf_vhd_footer_has_cookie (const uint8_t *buf);
/* Decode and check: cookie, checksum (unless SKIP_CHECKSUM, for fuzzing),
 * type.  PATH and WHERE go into the error.
 */
extern int lf_vhd_footer_decode (const uint8_t *buf, const char *path,
                                 const char *where,
                                 struct lf_vhd_footer_info *ret);
/* The virtual size qemu and the creator agree on: current size when the
 * creator is one qemu trusts or the CHS is saturated, else CHS x 512.
 */
extern uint64_t lf_vhd_footer_virtual_size (const struct lf_vhd_footer_info *);
/* True if the footer of a fixed VHD is exactly what Azure wants for a
 * file of FILE_SIZE bytes.
 */
extern bool lf_vhd_footer_is_azure_ready (const struct lf_vhd_footer_info *,
                                          uint64_t file_size);

/* Set by fuzz targets: skip checksum comparisons so the fuzzer reaches
 * the code behind them (as e2fsprogs' fuzzers do).
 */
extern bool lf_fuzzing;

#endif /* LF_FORMAT_H */

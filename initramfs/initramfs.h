/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall: initramfs images (the directory's one header).
 *
 * An archive layer with no policy: it reads and writes the concatenated
 * cpio segments Linux unpacks at boot (init/initramfs.c) and knows nothing
 * of guests, jobs or what the files mean.
 *
 * The image model follows the kernel's unpack_to_rootfs ():
 *   - zero bytes between segments are padding and are skipped;
 *   - "070701"/"070702" at a 4-byte aligned offset starts an uncompressed
 *     cpio archive, which ends after its TRAILER!!! record;
 *   - anything else must be a compressed stream (gzip, xz, lzma, zstd,
 *     lz4 legacy, bzip2) whose decoded bytes are one or more cpio
 *     archives, each ended by a trailer and separated by zero padding;
 *   - a later entry with the same path overrides an earlier one.
 * We also read odc ("070707") and old binary cpio (both byte orders),
 * which the kernel refuses, so that such archives can be inspected.
 *
 * A record is the trailer exactly when the kernel takes it as one
 * (do_header/do_name): its name is "TRAILER!!!", it is not a symlink, and
 * it is a regular file or has no body.  A symlink named "TRAILER!!!" is an
 * ordinary entry.
 *
 * Paths.  Entry names are normalised: leading "/" and "./", repeated "/"
 * and "." components are dropped, the root is ".".  A ".." component is
 * kept verbatim in the stored name (we never extract to the host, so it
 * cannot reach outside anything); lookups never resolve to such a name,
 * and lf_initramfs_add refuses paths containing "..".  Symlinks are
 * resolved inside the archive namespace only, with chroot semantics: an
 * absolute target restarts at the archive root, ".." stops at the root,
 * and INITRAMFS_MAX_SYMLINK_HOPS bounds the walk.  Nothing here ever opens
 * a host path.  For example the 3cpio path-traversal sample (symlink
 * "tmp" -> "/tmp", then file "tmp/trav.txt") parses into two entries named
 * so; lf_initramfs_find ("tmp/trav.txt") returns the file as stored, and
 * lf_initramfs_lookup follows "tmp" -> "/tmp" -> "tmp"... and fails with
 * ELOOP, as the kernel's own extraction of that file would.
 *
 * Library code: errors are recorded with lf_error and -1/NULL returned.
 */
#ifndef LF_INITRAMFS_H
#define LF_INITRAMFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* Limits: "stop really stupid stuff and/or exploits" (hivex).  Each is
 * stated in the error when it is hit.
 */
#define CPIO_MAX_NAME               4096   /* name bytes with NUL (PATH_MAX) */
#define CPIO_MAX_SYMLINK            4096   /* symlink target (PATH_MAX) */
#define CPIO_MAX_ENTRIES            (1u << 20)     /* whole image */
#define INITRAMFS_MAX_UNCOMPRESSED  (2 * LF_GiB)   /* all segments decoded */
#define INITRAMFS_MAX_ENTRY_SIZE    (1 * LF_GiB)   /* one file's data */
#define INITRAMFS_MAX_SEGMENTS      64
/* File contents kept in memory while an image is open (the rest is
 * streamed through and decoded again when written).
 */
#define INITRAMFS_MAX_HELD          (64 * LF_MiB)
/* A stream may expand to BOMB_FLOOR bytes, or RATIO times its input if
 * that is more: bigdata.cpio's zstd segment (3.3 KB -> 102.5 MB) is
 * ~31000:1, under the floor.
 */
#define INITRAMFS_BOMB_FLOOR        (128 * LF_MiB)
#define INITRAMFS_MAX_RATIO         1000
#define INITRAMFS_MAX_SYMLINK_HOPS  40     /* Linux MAXSYMLINKS */
#define LZ4_LEGACY_MAGIC            UINT32_C (0x184C2102)
#define LZ4_LEGACY_CHUNK            (8 * 1024 * 1024) /* kernel unlz4 */

/* initramfs.c: the image. */

struct lf_initramfs;

struct lf_initramfs_limits {
  uint64_t max_uncompressed;    /* INITRAMFS_MAX_UNCOMPRESSED */
  uint64_t max_entry_size;      /* INITRAMFS_MAX_ENTRY_SIZE */
  uint64_t max_entries;         /* CPIO_MAX_ENTRIES */
  uint64_t bomb_floor;          /* INITRAMFS_BOMB_FLOOR */
  uint64_t max_ratio;           /* INITRAMFS_MAX_RATIO */
  uint64_t max_held;            /* INITRAMFS_MAX_HELD */
  /* Which regular files of compressed segments keep their content in
   * memory (entry.data); NULL: all, up to max_held.  PATH is normalised,
   * SIZE the declared size.  Uncompressed segments are in memory anyway.
   */
  bool (*keep) (const char *path, uint64_t size, void *arg);
  void *keep_arg;
  bool ignore_checksums;        /* fuzzing only: skip "070702" sums */
};
extern const struct lf_initramfs_limits lf_initramfs_default_limits;

struct lf_initramfs_segment {
  const char *compression;      /* "none", "gzip", "xz", "lzma", "zstd",
                                   "lz4" or "bzip2" */
  const char *format;           /* cpio format of its first archive:
                                   "newc", "newc+crc", "odc", "bin-le",
                                   "bin-be" */
  uint64_t offset;              /* in the image */
  uint64_t length;              /* stream or archive bytes, without the
                                   zero padding that follows */
  uint64_t uncompressed_size;   /* decoded bytes (== length if "none") */
  size_t narchives;             /* cpio archives (trailers) inside */
  size_t nentries;              /* entries, trailers excluded */
};

struct lf_initramfs_entry {
  const char *path;             /* normalised; "." is the root */
  uint32_t mode;                /* type and permission bits (S_IF*) */
  uint32_t uid, gid, nlink;
  uint64_t mtime;
  uint64_t ino;
  uint32_t dev_major, dev_minor;   /* device holding the file */
  uint32_t rdev_major, rdev_minor; /* device nodes */
  const uint8_t *data;          /* regular file content, hardlinks
                                   resolved; NULL when size is 0, or
                                   when limits.keep did not keep it */
  size_t size;
  const char *symlink;          /* target of a symlink, else NULL */
  size_t segment;               /* index of the segment holding it */
  uint64_t header_offset;       /* of its header in the segment's
                                   decoded bytes (added entries: 0) */
};

/* Decode and check the whole image; BUF is copied.  NAME is used in error
 * messages ("initrd.img-6.1.0-13-amd64").  The decoded bytes are streamed
 * through a small window, never held whole: memory is the raw image, the
 * entries' metadata and the contents limits.keep keeps.  Every declared
 * size is checked before its data is decoded, and the decoded total
 * while decoding (per segment and for the image).
 */
extern struct lf_initramfs *lf_initramfs_parse (const void *buf, size_t len,
                                                const char *name);
extern struct lf_initramfs *
lf_initramfs_parse_limits (const void *buf, size_t len, const char *name,
                           const struct lf_initramfs_limits *limits);
/* The same with BUF (malloc'd) taken over, not copied; freed on error. */
extern struct lf_initramfs *
lf_initramfs_parse_take (void *buf, size_t len, const char *name,
                         const struct lf_initramfs_limits *limits);
extern void lf_initramfs_free (struct lf_initramfs *img);

extern size_t lf_initramfs_nsegments (const struct lf_initramfs *img);
extern const struct lf_initramfs_segment *
lf_initramfs_segment (const struct lf_initramfs *img, size_t i);

/* Entries in archive order, segment by segment (the trailers are not
 * entries).  Pointers stay valid until the next add or remove.
 */
extern size_t lf_initramfs_nentries (const struct lf_initramfs *img);
extern const struct lf_initramfs_entry *
lf_initramfs_entry (const struct lf_initramfs *img, size_t i);

/* The entry the kernel would leave at exactly this (normalised) name: the
 * last one in archive order.  No symlink is followed.  NULL with ENOENT.
 */
extern const struct lf_initramfs_entry *
lf_initramfs_find (struct lf_initramfs *img, const char *path);

/* Resolve PATH inside the archive (chroot semantics, see above): symlinks
 * in directory components are always followed, the last component only
 * if FOLLOW.  A component with no entry of its own is taken as an
 * implicit directory.  NULL with ENOENT, ELOOP, ENOTDIR or ENAMETOOLONG.
 */
extern const struct lf_initramfs_entry *
lf_initramfs_lookup (struct lf_initramfs *img, const char *path,
                     bool follow);
/* The same with absence as a result: 1 and *RET, 0 if no entry is there
 * (nothing recorded), -1 on error (ELOOP, ENOTDIR, ENAMETOOLONG...).
 */
extern int lf_initramfs_lookup_opt (struct lf_initramfs *img,
                                    const char *path, bool follow,
                                    const struct lf_initramfs_entry **ret);
/* The same resolution, giving the real path (a new string, "." for the
 * root) whether or not an entry exists there.
 */
extern char *lf_initramfs_resolve (struct lf_initramfs *img,
                                   const char *path, bool follow);

/* Add to the last (main) segment, replacing an entry of the main segment
 * with the same path.  The parent is resolved first (never written
 * "through": "lib/x" with lib -> usr/lib adds "usr/lib/x"); missing parent
 * directories are created with mode 0755.  A last component that is a
 * symlink is replaced, not followed.  PERM is the permission bits only.
 * New entries get uid/gid 0, mtime 0 and a fresh inode number.
 */
extern int lf_initramfs_add (struct lf_initramfs *img, const char *path,
                             uint32_t perm, const void *data, size_t size);
extern int lf_initramfs_add_symlink (struct lf_initramfs *img,
                                     const char *path, const char *target);
extern int lf_initramfs_add_dir (struct lf_initramfs *img, const char *path,
                                 uint32_t perm);
/* Remove the entry at exactly PATH (resolved parent) from the main
 * segment.  An entry that lives only in an earlier segment cannot be
 * removed (EPERM): those segments are kept byte for byte.
 */
extern int lf_initramfs_remove (struct lf_initramfs *img, const char *path);

/* The whole image: every segment before the main one byte-identical
 * (padding included; copied, never decoded), the main segment re-encoded
 * as newc (entries in their order, added ones in place of those they
 * replaced or at the end, hardlink data on the last link, padded to 512)
 * and streamed through its original compressor: contents not held are
 * decoded again from the raw image, so only the compressed output is ever
 * whole in memory.  A main segment that held several archives, or odc or
 * binary ones, becomes one newc archive; zero padding after the main
 * segment is not kept.  *OUT is malloc'd.
 */
extern int lf_initramfs_write (struct lf_initramfs *img,
                               void **out, size_t *outlen);

/* compress.c: detection and codecs, one stream at a time. */

struct lf_ird_buf;

enum lf_compression {
  LF_COMP_NONE = 0,
  LF_COMP_GZIP,
  LF_COMP_XZ,
  LF_COMP_LZMA,
  LF_COMP_ZSTD,
  LF_COMP_LZ4,
  LF_COMP_BZIP2,
};

extern const char *lf_compression_name (enum lf_compression c);
/* LF_MATCH with *C set, LF_NO_MATCH, or -1 (recorded) for a method the
 * kernel knows but we do not read (lzo).
 */
extern int lf_compression_detect (const uint8_t *p, size_t avail,
                                  enum lf_compression *c);
/* Decode the one stream at the start of IN.  *CONSUMED is its length
 * (so what follows can be parsed), *OUT (malloc'd, never NULL on success)
 * holds *OUTLEN bytes.  Output beyond MAX_OUT bytes fails with EFBIG and
 * names CAP_WHAT.  Messages carry no file name: the caller prefixes them.
 */
extern int lf_decompress (enum lf_compression c, const uint8_t *in,
                          size_t inlen, uint64_t max_out,
                          const char *cap_what, uint8_t **out,
                          size_t *outlen, size_t *consumed);
/* The same, a piece at a time: only what the caller asks for is ever in
 * memory.  The cap is on the running total: the byte past MAX_OUT is never
 * handed out (EFBIG naming CAP_WHAT).  IN must outlive the decoder.
 */
struct lf_decoder;
extern struct lf_decoder *lf_decoder_new (enum lf_compression c,
                                          const uint8_t *in, size_t inlen,
                                          uint64_t max_out,
                                          const char *cap_what);
/* Up to N decoded bytes into BUF; *GOT is 0 only at the end of the
 * stream.  After an error the decoder only fails.
 */
extern int lf_decoder_read (struct lf_decoder *d, void *buf, size_t n,
                            size_t *got);
extern bool lf_decoder_ended (const struct lf_decoder *d);
extern uint64_t lf_decoder_total (const struct lf_decoder *d);
/* The stream's length in IN, once it has ended. */
extern size_t lf_decoder_consumed (const struct lf_decoder *d);
extern void lf_decoder_free (struct lf_decoder *d);

/* Encode IN as one stream the kernel reads (xz with CRC32, lz4 legacy). */
extern int lf_compress (enum lf_compression c, const uint8_t *in,
                        size_t inlen, uint8_t **out, size_t *outlen);
/* The same, a piece at a time, appended to OUT (which must outlive the
 * encoder).  PLEDGED is the total to come if known (zstd records it in
 * its frame header), else UINT64_MAX.
 */
struct lf_encoder;
extern struct lf_encoder *lf_encoder_new (enum lf_compression c,
                                          struct lf_ird_buf *out,
                                          uint64_t pledged);
extern int lf_encoder_write (struct lf_encoder *e, const void *buf,
                             size_t n);
extern int lf_encoder_finish (struct lf_encoder *e);
extern void lf_encoder_free (struct lf_encoder *e);

/* A growable byte buffer with a size cap (used by cpio.c and compress.c). */
struct lf_ird_buf {
  uint8_t *p;
  size_t len, cap;
};
extern int lf_ird_buf_reserve (struct lf_ird_buf *b, size_t more);
extern int lf_ird_buf_append (struct lf_ird_buf *b, const void *p, size_t n);
extern int lf_ird_buf_zeros (struct lf_ird_buf *b, size_t n);

/* cpio.c: one record at a time. */

enum lf_cpio_format {
  LF_CPIO_NEWC,          /* "070701" */
  LF_CPIO_CRC,           /* "070702": newc with a sum of the data bytes */
  LF_CPIO_ODC,           /* "070707": POSIX octal */
  LF_CPIO_BIN_LE,        /* 0x71c7 little-endian */
  LF_CPIO_BIN_BE,        /* 0x71c7 big-endian */
};

#define CPIO_NEWC_HEADER  110
#define CPIO_ODC_HEADER   76
#define CPIO_BIN_HEADER   26
#define CPIO_TRAILER      "TRAILER!!!"

/* The newc header as stored: every field 8 ASCII hex digits. */
struct cpio_newc_header {
  char magic[6];        /* 0x00 "070701" or "070702" */
  char ino[8];          /* 0x06 */
  char mode[8];         /* 0x0e */
  char uid[8];          /* 0x16 */
  char gid[8];          /* 0x1e */
  char nlink[8];        /* 0x26 */
  char mtime[8];        /* 0x2e */
  char filesize[8];     /* 0x36 */
  char devmajor[8];     /* 0x3e */
  char devminor[8];     /* 0x46 */
  char rdevmajor[8];    /* 0x4e */
  char rdevminor[8];    /* 0x56 */
  char namesize[8];     /* 0x5e, NUL included */
  char check[8];        /* 0x66 */
} __attribute__ ((packed));
_Static_assert (sizeof (struct cpio_newc_header) == CPIO_NEWC_HEADER,
                "newc header is 110 bytes");

/* odc: octal digits, no padding anywhere. */
struct cpio_odc_header {
  char magic[6];        /* 0x00 "070707" */
  char dev[6];          /* 0x06 */
  char ino[6];          /* 0x0c */
  char mode[6];         /* 0x12 */
  char uid[6];          /* 0x18 */
  char gid[6];          /* 0x1e */
  char nlink[6];        /* 0x24 */
  char rdev[6];         /* 0x2a */
  char mtime[11];       /* 0x30 */
  char namesize[6];     /* 0x3b */
  char filesize[11];    /* 0x41 */
} __attribute__ ((packed));
_Static_assert (sizeof (struct cpio_odc_header) == CPIO_ODC_HEADER,
                "odc header is 76 bytes");

/* Old binary: 16-bit words in the writer's byte order (the magic tells
 * which); 32-bit values are two words, most significant first.  Name and
 * data are padded to 2 bytes.
 */
struct cpio_bin_header {
  uint16_t magic;       /* 0x00 070707 octal = 0x71c7 */
  uint16_t dev;         /* 0x02 */
  uint16_t ino;         /* 0x04 */
  uint16_t mode;        /* 0x06 */
  uint16_t uid;         /* 0x08 */
  uint16_t gid;         /* 0x0a */
  uint16_t nlink;       /* 0x0c */
  uint16_t rdev;        /* 0x0e */
  uint16_t mtime[2];    /* 0x10 */
  uint16_t namesize;    /* 0x14 */
  uint16_t filesize[2]; /* 0x16 */
} __attribute__ ((packed));
_Static_assert (sizeof (struct cpio_bin_header) == CPIO_BIN_HEADER,
                "binary cpio header is 26 bytes");

/* A decoded record, host order. */
struct lf_cpio_record {
  enum lf_cpio_format format;
  uint64_t ino, mode, uid, gid, nlink, mtime, size;
  uint32_t dev_major, dev_minor, rdev_major, rdev_minor;
  uint32_t check;
  const char *name;             /* in the buffer; NUL-terminated, checked */
  size_t namelen;               /* without the NUL */
  uint64_t data_off;            /* body, in the buffer */
  uint64_t next_off;            /* the next record, padding skipped */
};

extern const char *lf_cpio_format_name (enum lf_cpio_format f);
/* LF_MATCH with *F set if a cpio magic starts at P, else LF_NO_MATCH. */
extern int lf_cpio_magic (const uint8_t *p, size_t avail,
                          enum lf_cpio_format *f);
/* Decode the record at OFF of BUF[0..LEN); alignment is counted from
 * BASE, where its archive started.  The message names no file.
 */
extern int lf_cpio_read (const uint8_t *buf, size_t len, uint64_t off,
                         uint64_t base, struct lf_cpio_record *r);
/* The same for a record whose header is at P (decoded offset OFF, AVAIL
 * bytes there; the name must be among them) and whose data is not read:
 * its declared size is checked against END (the end of the data if known,
 * else UINT64_MAX) before anyone decodes it.  data_off and next_off are
 * decoded offsets, as OFF.
 */
extern int lf_cpio_read_header (const uint8_t *p, size_t avail, uint64_t off,
                                uint64_t base, uint64_t end,
                                struct lf_cpio_record *r);
extern bool lf_cpio_is_trailer (const struct lf_cpio_record *r);
/* Append one newc record (R's name, fields and size) and its data to B,
 * offsets aligned from the start of B.
 */
extern int lf_cpio_write_newc (struct lf_ird_buf *b,
                               const struct lf_cpio_record *r,
                               const void *data);
/* Only the header and name (padded), for data streamed after it. */
extern int lf_cpio_write_newc_header (struct lf_ird_buf *b,
                                      const struct lf_cpio_record *r);
/* Append the trailer and zero padding up to a multiple of PAD bytes. */
extern int lf_cpio_write_trailer (struct lf_ird_buf *b, size_t pad);

#endif /* LF_INITRAMFS_H */

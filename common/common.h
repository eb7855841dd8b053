/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall: helpers shared by every directory (errors, debug, endian,
 * overflow checks, cleanup, progress).  Nothing here knows about disks,
 * guests or jobs, and nothing here includes another landfall header.
 *
 * Grouped by source file, so this header doubles as a map of common/.
 */
#ifndef LF_COMMON_H
#define LF_COMMON_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define LF_MATCH     1
#define LF_NO_MATCH  0

#define LF_KiB  UINT64_C(1024)
#define LF_MiB  (LF_KiB * 1024)
#define LF_GiB  (LF_MiB * 1024)
#define LF_TiB  (LF_GiB * 1024)

#define LF_PRINTF(fmt, args) __attribute__ ((format (printf, fmt, args)))

/* error.c
 *
 * Library code records an error and returns -1 or NULL; it never prints.
 * Only main programs print lf_last_error (), once.  The record is
 * thread-local, so conversion workers do not trample each other.
 */
extern void lf_error (int errnum, const char *fmt, ...) LF_PRINTF (2, 3);
/* Prefix the recorded message with "PREFIX: ", keeping its errno. */
extern void lf_error_prefix (const char *fmt, ...) LF_PRINTF (1, 2);
extern const char *lf_last_error (void);
extern int lf_last_errno (void);
extern void lf_error_clear (void);
/* Copy another thread's error into this one (workers report to main). */
struct lf_error_record { int errnum; char msg[1024]; };
extern void lf_error_save (struct lf_error_record *rec);
extern void lf_error_restore (const struct lf_error_record *rec);

/* debug.c
 *
 * -v or LANDFALL_DEBUG=1 gives level 1, -vv or LANDFALL_DEBUG=2 adds
 * structure dumps.  The macro tests the level before formatting.
 */
extern int lf_debug_level;
extern FILE *lf_debug_fp;       /* where LF_DEBUG writes; NULL: stderr */
extern void lf_debug_init (void);
extern void lf_debug_print (const char *func, const char *fmt, ...)
  LF_PRINTF (2, 3);
#define LF_DEBUG(level, fmt, ...)                                        \
  do {                                                                  \
    if (lf_debug_level >= (level))                                      \
      lf_debug_print (__func__, (fmt), ##__VA_ARGS__);                  \
  } while (0)

/* endian.h: byte order, one place (see endian.h). */
#include "common/endian.h"

/* checked.h: overflow-checked arithmetic (see checked.h). */
#include "common/checked.h"

/* vector.c: growable arrays (see vector.h). */
#include "common/vector.h"

/* cleanup.c */
extern void lf_cleanup_free (void *ptr);
extern void lf_cleanup_close (int *fd);
#define CLEANUP_FREE  __attribute__ ((cleanup (lf_cleanup_free)))
#define CLEANUP_CLOSE __attribute__ ((cleanup (lf_cleanup_close)))

/* Set from a signal handler to stop long work at the next safe point. */
extern volatile sig_atomic_t lf_cancel;

/* util.c */
extern bool lf_is_zero (const void *buf, size_t len);
/* Human-readable size such as "8.0 GiB" into BUF (at least 32 bytes). */
extern const char *lf_human_size (uint64_t n, char *buf, size_t buflen);
/* Parse "10G", "512M", "4096" (binary suffixes K M G T).  -1 on error. */
extern int lf_parse_size (const char *s, uint64_t *ret);
/* Parse S, all of it, as a decimal number from MIN to MAX: no sign, no
 * space, no suffix, no overflow.  -1 (EINVAL, nothing recorded: the
 * caller names the option or key) otherwise.
 */
extern int lf_parse_uint (const char *s, unsigned long min, unsigned long max,
                          unsigned long *ret);
extern double lf_now (void);            /* monotonic seconds */
/* SHA-256 of BUF as 64 lowercase hex digits and a NUL. */
extern void lf_sha256_hex (const void *buf, size_t len, char hex[65]);
/* mkdir -p PATH (mode 0755 for what it makes). */
extern int lf_mkdir_p (const char *path);
/* Directory part of PATH joined with NAME, unless NAME is absolute. */
extern char *lf_path_beside (const char *path, const char *name);
/* P if absolute, else BASEDIR/P (a new string; NULL with ENOMEM). */
extern char *lf_path_under (const char *basedir, const char *p);
/* Write all of BUF at OFFSET or fail (EINTR, short writes handled). */
extern int lf_pwrite_all (int fd, const void *buf, size_t len, uint64_t off);
/* Read exactly LEN bytes at OFFSET; a short read is an EIO error. */
extern int lf_pread_all (int fd, void *buf, size_t len, uint64_t off);
/* fsync the directory holding PATH, so a rename in it is durable. */
extern int lf_fsync_dir_of (const char *path);
/* UTF-16 (BIG_ENDIAN or little) of BYTES bytes to a new UTF-8 string,
 * stopping at a NUL.  Unpaired surrogates become U+FFFD.  NULL on ENOMEM.
 */
extern char *lf_utf16_to_utf8 (const void *buf, size_t bytes, bool big_endian);

/* progress.c
 *
 * A bar on a terminal, a "NN%" line every few seconds otherwise (serial
 * consoles, logs).  Thread-safe: workers call lf_progress_add.
 */
struct lf_progress;
extern struct lf_progress *lf_progress_new (const char *label, uint64_t total,
                                            int fd, bool enabled);
extern void lf_progress_add (struct lf_progress *p, uint64_t n);
extern void lf_progress_done (struct lf_progress *p);
extern void lf_progress_free (struct lf_progress *p);

#endif /* LF_COMMON_H */

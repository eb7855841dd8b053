/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall supervisor/: the command-line interface, grouped by source file.
 *
 * supervisor/ is the only layer that knows a whole job; the CLI around it
 * lives here too (DESIGN.md).  Each subcommand is one file.
 */
#ifndef LF_CLI_H
#define LF_CLI_H

#include <stdbool.h>

#include <jansson.h>

/* Exit codes, documented in README.md and every --help. */
#define LF_EXIT_OK       0
#define LF_EXIT_FAILED   1
#define LF_EXIT_USAGE    2
#define LF_EXIT_WARNINGS 3       /* landfall run: done, with warnings */
#define LF_EXIT_INTERRUPTED 4    /* landfall run: stopped, resumable */
#define LF_EXIT_SUSPENDED 5      /* landfall plan: waits for a manual action */

/* main.c */
extern const char *lf_progname;
/* Print "landfall: MESSAGE" for the recorded error, once. */
extern void lf_cli_print_error (void);
/* Print JSON to stdout, indented, with a final newline. */
extern int lf_cli_print_json (json_t *j);

/* --allow-backing DIR, the same in every command that opens disks: what
 * a disk's metadata names may also come from DIR (convert.h's
 * lf_allow_backing).  Returns 0, or -1 having printed the error.
 */
#define LF_OPT_ALLOW_BACKING 1000
#define LF_CLI_ALLOW_BACKING_OPTION \
  { "allow-backing", required_argument, NULL, LF_OPT_ALLOW_BACKING }
#define LF_CLI_ALLOW_BACKING_HELP \
"      --allow-backing DIR  backing files, parents and extents may also\n" \
"                      come from DIR (repeatable); by default only from\n" \
"                      the directory of the image that names them\n"
extern int lf_cli_allow_backing (const char *cmd, const char *dir);

/* --guestfs=WHEN, the same in every command that reads or writes a guest
 * (job.h's enum lf_guestfs_when).
 */
#define LF_OPT_GUESTFS 1001
#define LF_CLI_GUESTFS_OPTION \
  { "guestfs", required_argument, NULL, LF_OPT_GUESTFS }
#define LF_CLI_GUESTFS_HELP \
"      --guestfs=WHEN  read and write what no native backend does (XFS,\n" \
"                      btrfs, LVs that are not linear) with libguestfs, one\n" \
"                      helper VM for all the disks (seconds with KVM, ~30 s\n" \
"                      without): 'auto' (default) only when there is such a\n" \
"                      filesystem, 'always', or 'never'; LANDFALL_GUESTFS\n" \
"                      sets the default.  LANDFALL_KVM=0|1 overrides KVM\n" \
"                      detection.\n"
/* WHEN as given to --guestfs (or NULL: LANDFALL_GUESTFS, else "auto"), as
 * an enum lf_guestfs_when; -1 having printed the error.
 */
extern int lf_cli_guestfs (const char *cmd, const char *when);
/* run.c: lf_guest_open (PATHS, N, WRITABLE), then the libguestfs backend
 * for what the native ones could not open, as WHEN says: one appliance for
 * all the disks, which the filesystems it opened keep running until the
 * guest is closed.  *LAUNCHED (if not NULL) tells whether it opened any.
 */
struct lf_guest;
extern struct lf_guest *lf_cli_guest_open (const char *const *paths,
                                           size_t n, bool writable, int when,
                                           bool *launched);

/* cmd-convert.c */
extern int lf_cmd_convert (int argc, char *argv[]);

/* cmd-fix.c */
extern int lf_cmd_fix (int argc, char *argv[]);
extern int lf_cmd_undo (int argc, char *argv[]);

/* cmd-run.c */
extern int lf_cmd_run (int argc, char *argv[]);
/* pid1.c: the appliance's /init (supervisor/pid1.c says what it does). */
extern int lf_pid1_main (int argc, char *argv[]);
/* WHEN: --guestfs as given (enum lf_guestfs_when), or -1: the job's. */
extern int lf_cmd_undo_job (const char *path, bool json, int when);

/* cmd-inspect.c */
extern int lf_cmd_inspect (int argc, char *argv[]);

/* cmd-verify.c */
extern int lf_cmd_verify (int argc, char *argv[]);

/* cmd-plan.c */
extern int lf_cmd_plan (int argc, char *argv[]);

/* cmd-points.c */
extern int lf_cmd_points (int argc, char *argv[]);

#include "verify/verify.h"

#endif /* LF_CLI_H */

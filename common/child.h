/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall common/: running a program as a child, with a timeout.
 *
 * The child is in a process group of its own, so that a timeout or a
 * cancel stops what it started too (a script's sleeper, QEMU's helpers),
 * and a ^C on our terminal reaches only us (we stop the children in
 * order).  Its stdin is /dev/null unless given.
 */
#ifndef LF_CHILD_H
#define LF_CHILD_H

#include <stdbool.h>
#include <sys/types.h>

#define LF_SPAWN_GRACE 5.0      /* seconds from SIGTERM to SIGKILL */

struct lf_spawn_opts {
  int in;                       /* stdin; 0 in a zeroed struct is
                                 * /dev/null, not our stdin */
  int out, err;                 /* descriptors; 0: see out_path */
  const char *out_path;         /* appended to (created 0600) by stdout
                                 * and stderr when out is 0; neither:
                                 * /dev/null */
  const char *cwd;
  char *const *env;             /* "NAME=value"s added to our environment */
  const char *prog;             /* what to run; NULL: argv[0] */
  bool search_path;             /* looked up in $PATH */
  double timeout;               /* seconds; 0: none */
  double grace;                 /* 0: LF_SPAWN_GRACE */
  bool forward_cancel;          /* lf_cancel sends the group SIGTERM */
  /* A program that cannot be started: with WHO, the child says so on its
   * stderr ("WHO: cannot run PROG: ...") and exits 127, as a shell would;
   * without, lf_spawn fails with the error recorded.
   */
  const char *who;
};

struct lf_child {
  pid_t pid;                    /* the group's id too; 0 once reaped */
  double started, deadline, term_at, grace;
  bool forward_cancel, cancelled, timed_out;
  int status;                   /* waitpid's, once reaped */
};

/* Start ARGV; 0, or -1 with the error recorded. */
extern int lf_spawn (struct lf_child *c, char *const argv[],
                     const struct lf_spawn_opts *o);
/* Without blocking: 1 when it has ended (c->status), 0 while it runs (its
 * timeout and a cancel are enforced here), -1 on error.
 */
extern int lf_child_poll (struct lf_child *c);
/* Wait for one of CS[0..N) to end: its index, or -1 (N is 0, or an error,
 * recorded).
 */
extern ssize_t lf_child_wait_any (struct lf_child *const *cs, size_t n);
/* SIGTERM to its group, SIGKILL after the grace, reaped. */
extern void lf_child_stop (struct lf_child *c);
/* Its exit status, or 128 + the signal that ended it. */
extern int lf_child_exit_code (const struct lf_child *c);
/* Start ARGV and wait for it: its exit code (as lf_child_exit_code), or -1
 * with the error recorded.  *TIMED_OUT (may be NULL) tells whether the
 * timeout stopped it.
 */
extern int lf_spawn_run (char *const argv[], const struct lf_spawn_opts *o,
                         bool *timed_out);

#endif

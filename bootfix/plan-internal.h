/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/: what plan.c and journal.c share about a plan.  Only
 * those two files include this; concerns use bootfix.h.
 */
#ifndef LF_PLAN_INTERNAL_H
#define LF_PLAN_INTERNAL_H

#include "bootfix/bootfix.h"

enum lf_edit_kind { LF_EDIT_WRITE, LF_EDIT_REMOVE, LF_EDIT_MKDIR,
                    LF_EDIT_SYMLINK };

struct lf_edit {
  enum lf_edit_kind kind;
  char *concern;                /* "a, b": every concern that made it */
  size_t nby;                   /* changes per concern, in that order */
  char **by_concern;
  unsigned *by_changes;
  char *path;                   /* as the concern named it */
  struct lf_fs *fs;             /* where it resolves */
  char *fspath;
  char *why;
  /* Before: */
  bool old_exists;
  uint32_t old_mode;
  char *old;                    /* regular file content */
  size_t oldlen;
  char *old_link;               /* or a symlink's target */
  /* After (LF_EDIT_WRITE; LF_EDIT_SYMLINK: the link's target): */
  char *new;
  size_t newlen;
  uint32_t mode;
};

struct lf_finding_rec {
  char *concern;
  enum lf_finding what;
  char *msg;
};

struct lf_plan {
  struct lf_mounts *ms;
  size_t nedits, edits_cap;
  struct lf_edit *edits;
  size_t nfindings, findings_cap;
  struct lf_finding_rec *findings;
  struct lf_gpt_conv *disk_conv; /* an MBR->GPT conversion, or NULL */
  void *disk_gap;               /* its gap bytes, journalled */
};

/* SHA-256 of BUF as 64 hex digits and a NUL. */

#endif /* LF_PLAN_INTERNAL_H */

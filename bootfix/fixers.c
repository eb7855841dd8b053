/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/: which fix an operating system gets, one table for
 * every command (landfall fix, undo, run), so that an OS type with no fix
 * is refused the same way everywhere rather than given another OS's fix.
 */
#include <errno.h>
#include <string.h>

#include "bootfix/bootfix.h"

static const struct lf_fixer fixers[] = {
  { .type = "linux",   .fix = lf_fix_linux,
    .journal_dir = LF_LINUX_JOURNAL_DIR },
  { .type = "windows", .fix = lf_fix_windows,
    .journal_dir = LF_WINDOWS_JOURNAL_DIR },
};

const struct lf_fixer *
lf_fixer_find (const char *type)
{
  for (size_t i = 0; i < sizeof fixers / sizeof fixers[0]; i++)
    if (type && strcmp (fixers[i].type, type) == 0)
      return &fixers[i];
  lf_error (ENOTSUP, "no fix for an operating system of type '%s'",
            type ? type : "(none)");
  return NULL;
}

int
lf_fix_os (struct lf_guest *g, struct lf_os *os, struct lf_plan *p,
           const struct lf_fix_opts *o, const char **dir)
{
  const struct lf_fixer *f = lf_fixer_find (os->type);

  if (!f)
    return -1;
  if (dir)
    *dir = f->journal_dir;
  return f->fix (g, os, p, o);
}

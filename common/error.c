/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall: the thread-local error record (see common.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/common.h"

static _Thread_local struct lf_error_record last;

void
lf_error (int errnum, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (last.msg, sizeof last.msg, fmt, ap);
  va_end (ap);
  last.errnum = errnum;
  LF_DEBUG (1, "error recorded: %s", last.msg);
}

void
lf_error_prefix (const char *fmt, ...)
{
  char prefix[sizeof last.msg], old[sizeof last.msg];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (prefix, sizeof prefix, fmt, ap);
  va_end (ap);
  memcpy (old, last.msg, sizeof old);
  /* Truncation of a very long message is acceptable. */
  size_t n = strnlen (prefix, sizeof last.msg - 3);
  memcpy (last.msg, prefix, n);
  memcpy (last.msg + n, ": ", 2);
  size_t room = sizeof last.msg - n - 3;
  size_t m = strnlen (old, room);
  memcpy (last.msg + n + 2, old, m);
  last.msg[n + 2 + m] = '\0';
}

const char *
lf_last_error (void)
{
  return last.msg[0] ? last.msg : "unknown error";
}

int
lf_last_errno (void)
{
  return last.errnum;
}

void
lf_error_clear (void)
{
  last.errnum = 0;
  last.msg[0] = '\0';
}

void
lf_error_save (struct lf_error_record *rec)
{
  *rec = last;
}

void
lf_error_restore (const struct lf_error_record *rec)
{
  last = *rec;
}

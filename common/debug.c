/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall: debug output, to stderr (stdout carries --json). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/common.h"

int lf_debug_level;
FILE *lf_debug_fp;              /* NULL: stderr */

void
lf_debug_init (void)
{
  const char *s = getenv ("LANDFALL_DEBUG");

  if (s && *s) {
    int n = atoi (s);
    if (n > lf_debug_level)
      lf_debug_level = n;
  }
}

void
lf_debug_print (const char *func, const char *fmt, ...)
{
  va_list ap;

  /* One fprintf per line keeps lines from worker threads whole. */
  char line[2048];
  va_start (ap, fmt);
  vsnprintf (line, sizeof line, fmt, ap);
  va_end (ap);
  fprintf (lf_debug_fp ? lf_debug_fp : stderr, "landfall: debug: %s: %s\n",
           func, line);
}

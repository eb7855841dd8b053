/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall: progress reporting.
 *
 * On a terminal, a bar redrawn at most 10 times a second.  Otherwise (a
 * serial console, a log file) one "label: NN%" line every 5 seconds and
 * at the end, so a console stays readable and a stall is visible.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"

struct lf_progress {
  pthread_mutex_t lock;
  char *label;
  uint64_t total, done;
  int fd;
  bool enabled, tty;
  double start, last_print;
  int last_pct;
};

struct lf_progress *
lf_progress_new (const char *label, uint64_t total, int fd, bool enabled)
{
  struct lf_progress *p = calloc (1, sizeof *p);

  if (!p)
    return NULL;
  pthread_mutex_init (&p->lock, NULL);
  p->label = strdup (label);
  p->total = total;
  p->fd = fd;
  p->enabled = enabled;
  p->tty = isatty (fd);
  p->start = p->last_print = lf_now ();
  p->last_pct = -1;
  return p;
}

static void
print_locked (struct lf_progress *p, bool final)
{
  char line[256];
  int pct = p->total ? (int) (p->done * 100 / p->total) : 100;
  double now = lf_now ();

  if (pct > 100)
    pct = 100;
  if (p->tty) {
    if (!final && now - p->last_print < 0.1)
      return;
    int width = 40, fill = pct * width / 100;
    char bar[64];
    memset (bar, '#', (size_t) fill);
    memset (bar + fill, '-', (size_t) (width - fill));
    bar[width] = '\0';
    snprintf (line, sizeof line, "\r%s [%s] %3d%%%s", p->label, bar, pct,
              final ? "\n" : "");
  }
  else {
    if (!final && (now - p->last_print < 5.0 || pct == p->last_pct))
      return;
    /* Work that ended before the first line needs no "100%" either. */
    if (final && p->last_pct < 0 && now - p->start < 5.0)
      return;
    snprintf (line, sizeof line, "%s: %d%% (%.1f s)\n", p->label, pct,
              now - p->start);
  }
  p->last_print = now;
  p->last_pct = pct;
  (void) !write (p->fd, line, strlen (line));
}

void
lf_progress_add (struct lf_progress *p, uint64_t n)
{
  if (!p)
    return;
  pthread_mutex_lock (&p->lock);
  p->done += n;
  if (p->enabled)
    print_locked (p, false);
  pthread_mutex_unlock (&p->lock);
}

void
lf_progress_done (struct lf_progress *p)
{
  if (!p)
    return;
  pthread_mutex_lock (&p->lock);
  p->done = p->total;
  if (p->enabled)
    print_locked (p, true);
  pthread_mutex_unlock (&p->lock);
}

void
lf_progress_free (struct lf_progress *p)
{
  if (!p)
    return;
  pthread_mutex_destroy (&p->lock);
  free (p->label);
  free (p);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/linux: helpers the network transforms share (netcfg.h):
 * report notes, an output buffer, line iteration and the text checks
 * every guest config file goes through before it is parsed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootfix/linux/netcfg.h"

void
lf_netnotes_add (struct lf_netnotes *ns, enum lf_finding what,
                 const char *fmt, ...)
{
  va_list ap;
  char *msg = NULL;

  if (ns->n >= NETCFG_MAX_NOTES) {
    ns->dropped++;
    return;
  }
  va_start (ap, fmt);
  if (vasprintf (&msg, fmt, ap) == -1)
    msg = NULL;
  va_end (ap);
  if (!msg)
    return;                     /* a lost note is not worth failing for */
  if (lf_grow (&ns->v, &ns->cap, ns->n + 1, sizeof *ns->v) == -1) {
    free (msg);
    return;
  }
  ns->v[ns->n].what = what;
  ns->v[ns->n].msg = msg;
  ns->n++;
}

void
lf_netnotes_free (struct lf_netnotes *ns)
{
  for (size_t i = 0; i < ns->n; i++)
    free (ns->v[i].msg);
  free (ns->v);
  memset (ns, 0, sizeof *ns);
}

void
lf_netnotes_flush (struct lf_netnotes *ns, struct lf_plan *p,
                   const char *concern)
{
  for (size_t i = 0; i < ns->n; i++)
    lf_plan_note (p, concern, ns->v[i].what, "%s", ns->v[i].msg);
  if (ns->dropped)
    lf_plan_note (p, concern, LF_WARNING, "%zu more notes left out (limit %d "
                  "per file)", ns->dropped, NETCFG_MAX_NOTES);
  lf_netnotes_free (ns);
}

void
lf_netedit_free (struct lf_netedit *e)
{
  free (e->out);
  lf_netnotes_free (&e->notes);
  memset (e, 0, sizeof *e);
}

void
lf_sbuf_add (struct lf_sbuf *b, const void *p, size_t n)
{
  if (b->oom)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *s = realloc (b->s, cap);
    if (!s) {
      b->oom = true;
      return;
    }
    b->s = s;
    b->cap = cap;
  }
  memcpy (b->s + b->len, p, n);
  b->len += n;
  b->s[b->len] = '\0';
}

void
lf_sbuf_puts (struct lf_sbuf *b, const char *s)
{
  lf_sbuf_add (b, s, strlen (s));
}

void
lf_sbuf_printf (struct lf_sbuf *b, const char *fmt, ...)
{
  va_list ap;
  char *s = NULL;
  int n;

  va_start (ap, fmt);
  n = vasprintf (&s, fmt, ap);
  va_end (ap);
  if (n < 0) {
    b->oom = true;
    return;
  }
  lf_sbuf_add (b, s, (size_t) n);
  free (s);
}

void
lf_sbuf_section_end (struct lf_sbuf *b, const char *s)
{
  size_t k = b->len, n = strlen (s);

  if (b->oom)
    return;
  if (k && b->s[k - 1] != '\n') {
    lf_sbuf_puts (b, "\n");
    k = b->len;
  }
  while (k >= 2 && b->s[k - 1] == '\n' && b->s[k - 2] == '\n')
    k--;
  size_t tail = b->len - k;
  lf_sbuf_add (b, s, n);        /* grows the buffer */
  if (b->oom)
    return;
  memmove (b->s + k + n, b->s + k, tail);
  memcpy (b->s + k, s, n);
}

int
lf_sbuf_finish (struct lf_sbuf *b, char **out, size_t *outlen)
{
  if (!b->oom && !b->s)
    lf_sbuf_add (b, "", 0);
  if (b->oom) {
    free (b->s);
    memset (b, 0, sizeof *b);
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  *out = b->s;
  *outlen = b->len;
  memset (b, 0, sizeof *b);
  return 0;
}


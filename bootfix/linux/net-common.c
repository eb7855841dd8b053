/* landfall bootfix/linux: helpers the network transforms share (netcfg.h):
 * report notes, an output buffer, line iteration and the text checks
 * every guest config file goes through before it is parsed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netcfg.h"

void
lf_netnotes_add (struct lf_netnotes *ns, enum lf_finding what,
                 const char *fmt, ...)
{
  va_list ap;
  char *msg = NULL;
  struct lf_netnote *v;

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
  v = realloc (ns->v, (ns->n + 1) * sizeof *v);
  if (!v) {
    free (msg);
    return;
  }
  ns->v = v;
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

int
lf_net_check_text (const char *name, const char *in, size_t len)
{
  size_t line = 1, start = 0;

  if (len > NETCFG_MAX_FILE) {
    lf_error (EFBIG, "%s: %zu bytes is over the limit of %d for a "
              "configuration file", name, len, NETCFG_MAX_FILE);
    return -1;
  }
  for (size_t i = 0; i <= len; i++) {
    if (i == len || in[i] == '\n') {
      if (i - start > NETCFG_MAX_LINE) {
        lf_error (EINVAL, "%s:%zu: line of %zu bytes is over the limit of %d",
                  name, line, i - start, NETCFG_MAX_LINE);
        return -1;
      }
      if (i < len && ++line > NETCFG_MAX_LINES) {
        lf_error (EINVAL, "%s: more than %d lines", name, NETCFG_MAX_LINES);
        return -1;
      }
      start = i + 1;
    }
    else if (in[i] == '\0') {
      lf_error (EINVAL, "%s:%zu: NUL byte at offset 0x%zx: not a text file",
                name, line, i);
      return -1;
    }
  }
  return 0;
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

bool
lf_net_next_line (const char *in, size_t len, size_t *pos, const char **line,
                  size_t *n)
{
  if (*pos >= len)
    return false;
  const char *s = in + *pos;
  const char *nl = memchr (s, '\n', len - *pos);
  *n = nl ? (size_t) (nl - s) + 1 : len - *pos;
  *line = s;
  *pos += *n;
  return true;
}

void
lf_net_trim (const char *line, size_t n, const char **s, size_t *sn)
{
  while (n && (*line == ' ' || *line == '\t')) {
    line++;
    n--;
  }
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
               line[n - 1] == ' ' || line[n - 1] == '\t'))
    n--;
  *s = line;
  *sn = n;
}

void
lf_net_quote (const char *s, size_t n, char *buf, size_t bufsz)
{
  size_t o = 0;

  for (size_t i = 0; i < n && o + 5 < bufsz && i < 200; i++) {
    unsigned char c = (unsigned char) s[i];
    if (c >= 0x20 && c < 0x7f)
      buf[o++] = (char) c;
    else
      o += (size_t) snprintf (buf + o, bufsz - o, "\\x%02x", c);
  }
  if (bufsz)
    buf[o < bufsz ? o : bufsz - 1] = '\0';
}

/* Parse one line; false for blanks, comments and anything else. */
bool
lf_net_parse_ini (const char *line, size_t n, struct lf_iniline *l)
{
  const char *s;
  size_t sn;

  lf_net_trim (line, n, &s, &sn);
  memset (l, 0, sizeof *l);
  if (sn == 0 || s[0] == '#' || s[0] == ';')
    return false;
  if (s[0] == '[') {
    const char *e = memchr (s, ']', sn);
    if (!e)
      return false;
    l->section = true;
    l->name = s + 1;
    l->namelen = (size_t) (e - s - 1);
    return true;
  }
  const char *eq = memchr (s, '=', sn);
  if (!eq || eq == s)
    return false;
  l->name = s;
  l->namelen = (size_t) (eq - s);
  while (l->namelen && (s[l->namelen - 1] == ' ' || s[l->namelen - 1] == '\t'))
    l->namelen--;
  l->val = eq + 1;
  l->vallen = (size_t) (s + sn - l->val);
  while (l->vallen && (*l->val == ' ' || *l->val == '\t')) {
    l->val++;
    l->vallen--;
  }
  return true;
}

/* S (N bytes) equals the string LIT. */
bool
lf_net_is (const char *s, size_t n, const char *lit)
{
  return n == strlen (lit) && memcmp (s, lit, n) == 0;
}

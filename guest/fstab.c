/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall guest/: /etc/fstab, parsed as hostile input.
 *
 * fstab(5): six whitespace-separated fields, "#" comments, octal escapes
 * (\040 for a space) in the first two.  A malformed line is kept with the
 * reason (mount(8) skips it too) so reports can show it; limits cap the
 * line length and the number of entries.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guest/guest.h"

#define FSTAB_MAX_ENTRIES 1024
#define FSTAB_MAX_LINE    4096

char *
lf_fstab_unescape (const char *s, size_t len)
{
  char *r = malloc (len + 1), *o = r;

  if (!r)
    return NULL;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '\\' && i + 3 < len &&
        s[i + 1] >= '0' && s[i + 1] <= '3' &&
        s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      int c = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0');
      if (c != 0) {
        *o++ = (char) c;
        i += 3;
        continue;
      }
    }
    *o++ = s[i];
  }
  *o = '\0';
  return r;
}

unsigned
lf_fstab_split (const char *line, size_t n, const char **f, size_t *fl,
                unsigned max)
{
  unsigned nf = 0;

  for (size_t i = 0; i < n && nf < max; ) {
    while (i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
      i++;
    if (i >= n || line[i] == '#')
      break;
    f[nf] = line + i;
    while (i < n && line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
      i++;
    fl[nf] = (size_t) (line + i - f[nf]);
    nf++;
  }
  return nf;
}

void
lf_fstab_free (struct lf_fstab *t)
{
  for (size_t i = 0; i < t->n; i++) {
    free (t->e[i].spec);
    free (t->e[i].file);
    free (t->e[i].vfstype);
    free (t->e[i].mntops);
  }
  free (t->e);
  t->e = NULL;
  t->n = t->cap = 0;
}

int
lf_fstab_parse (const char *buf, size_t len, const char *name,
                struct lf_fstab *t)
{
  unsigned lineno = 0;
  size_t pos = 0;

  memset (t, 0, sizeof *t);
  while (pos < len) {
    const char *line = buf + pos;
    const char *nl = memchr (line, '\n', len - pos);
    size_t n = nl ? (size_t) (nl - line) : len - pos;
    const char *f[6] = { 0 };
    size_t fl[6] = { 0 };
    unsigned nf = 0;

    pos += n + (nl ? 1 : 0);
    lineno++;
    if (n > FSTAB_MAX_LINE) {
      lf_error (EINVAL, "%s: line %u is longer than %d bytes", name, lineno,
                FSTAB_MAX_LINE);
      goto error;
    }
    nf = lf_fstab_split (line, n, f, fl, 6);
    if (nf == 0)
      continue;
    if (t->n == FSTAB_MAX_ENTRIES) {
      lf_error (EINVAL, "%s: more than %d entries", name, FSTAB_MAX_ENTRIES);
      goto error;
    }
    if (lf_grow (&t->e, &t->cap, t->n + 1, sizeof *t->e) == -1)
      goto error;
    struct lf_fstab_entry *e = &t->e[t->n++];
    memset (e, 0, sizeof *e);
    e->line = lineno;
    e->spec = lf_fstab_unescape (f[0], fl[0]);
    e->file = nf > 1 ? lf_fstab_unescape (f[1], fl[1]) : strdup ("");
    e->vfstype = nf > 2 ? strndup (f[2], fl[2]) : strdup ("");
    e->mntops = nf > 3 ? strndup (f[3], fl[3]) : strdup ("defaults");
    if (!e->spec || !e->file || !e->vfstype || !e->mntops) {
      lf_error (ENOMEM, "out of memory");
      goto error;
    }
    e->freq = nf > 4 ? atoi (strndupa (f[4], LF_MIN (fl[4], (size_t) 10))) : 0;
    e->passno = nf > 5 ? atoi (strndupa (f[5], LF_MIN (fl[5], (size_t) 10))) : 0;
    e->valid = nf >= 3;
  }
  return 0;
 error:
  lf_fstab_free (t);
  return -1;
}

bool
lf_fstab_has_option (const struct lf_fstab_entry *e, const char *opt)
{
  size_t n = strlen (opt);
  const char *p = e->mntops;

  while (p && *p) {
    size_t len = strcspn (p, ",");
    if (len == n && strncmp (p, opt, n) == 0)
      return true;
    p += len;
    if (*p == ',')
      p++;
  }
  return false;
}

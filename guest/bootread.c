/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall guest/: the default boot entry and the kernel command line
 * (bootread.h).  Verify judged root= and console= with a reader of its
 * own that split at every blank, while the fix's editor knew quotes; both
 * now read words here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/bootread.h"

static bool
is_blank (char c)
{
  return c == ' ' || c == '\t';
}

const char *
lf_cmdline_word_end (const char *s, const char *end)
{
  char q = 0;
  for (; s < end; s++) {
    if (q) {
      if (*s == q)
        q = 0;
    }
    else if (*s == '"' || *s == '\'')
      q = *s;
    else if (is_blank (*s))
      break;
  }
  return s;
}

bool
lf_cmdline_quotes_balanced (const char *s, size_t len)
{
  char q = 0;
  for (size_t i = 0; i < len; i++) {
    if (q) {
      if (s[i] == q)
        q = 0;
    }
    else if (s[i] == '"' || s[i] == '\'')
      q = s[i];
  }
  return q == 0;
}

/* Word W (N bytes) without its quotes, as a new string. */
static char *
unquote (const char *w, size_t n)
{
  char *r = malloc (n + 1), *o = r;
  if (!r)
    return NULL;
  for (size_t i = 0; i < n; i++)
    if (w[i] != '"' && w[i] != '\'')
      *o++ = w[i];
  *o = '\0';
  return r;
}

char *
lf_cmdline_get (const char *args, const char *key)
{
  size_t kl = strlen (key);
  const char *end = args + strlen (args);
  char *val = NULL;

  for (const char *p = args; p < end; ) {
    while (p < end && is_blank (*p))
      p++;
    const char *e = lf_cmdline_word_end (p, end);
    char *w = unquote (p, (size_t) (e - p));
    if (w && strncmp (w, key, kl) == 0 && w[kl] == '=') {
      free (val);
      val = strdup (w + kl + 1);
    }
    free (w);
    p = e;
  }
  return val;
}

bool
lf_cmdline_has_console (const char *args, const char *tty)
{
  size_t tl = strlen (tty);
  const char *end = args + strlen (args);
  bool found = false;

  for (const char *p = args; p < end && !found; ) {
    while (p < end && is_blank (*p))
      p++;
    const char *e = lf_cmdline_word_end (p, end);
    char *w = unquote (p, (size_t) (e - p));
    if (w && strncmp (w, "console=", 8) == 0 && strncmp (w + 8, tty, tl) == 0 &&
        (w[8 + tl] == '\0' || w[8 + tl] == ','))
      found = true;
    free (w);
    p = e;
  }
  return found;
}

bool
lf_grub_default_entry (const char *text, size_t len, struct lf_boot_entry *e)
{
  static const char *const cmds[] = { "linux", "linux16", "linuxefi" };
  const char *p = text, *end = text + len;

  memset (e, 0, sizeof *e);
  while (p < end) {
    const char *eol = memchr (p, '\n', (size_t) (end - p));
    const char *le = eol ? eol : end;
    const char *q = p;
    while (q < le && is_blank (*q))
      q++;
    size_t n = (size_t) (le - q);
    if (n > 12 && memcmp (q, "set default=", 12) == 0 && !e->note) {
      const char *v = q + 12;
      size_t vl = (size_t) (le - v);
      if (vl >= 2 && *v == '"' && v[vl - 1] == '"')
        v++, vl -= 2;
      if (!(vl == 1 && *v == '0') && !(vl && *v == '$') &&
          asprintf (&e->note, "grub.cfg sets default=%.*s: the first entry "
                    "was checked", (int) (vl > 64 ? 64 : vl), v) == -1)
        e->note = NULL;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
      size_t cl = strlen (cmds[i]);
      if (n > cl && memcmp (q, cmds[i], cl) == 0 && is_blank (q[cl])) {
        const char *k = q + cl;
        while (k < le && is_blank (*k))
          k++;
        const char *ke = lf_cmdline_word_end (k, le);
        const char *a = ke;
        while (a < le && is_blank (*a))
          a++;
        size_t al = (size_t) (le - a);
        while (al && (a[al - 1] == '\r' || is_blank (a[al - 1])))
          al--;
        e->kernel = unquote (k, (size_t) (ke - k));
        e->args = strndup (a, al);
        return e->kernel && e->args;
      }
    }
    p = eol ? eol + 1 : end;
  }
  return false;
}

void
lf_boot_entry_free (struct lf_boot_entry *e)
{
  free (e->kernel);
  free (e->args);
  free (e->note);
  memset (e, 0, sizeof *e);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/linux: the kernel command line in boot configuration
 * text (reference/linux.md §3), as pure transforms (bootcfg.h).
 *
 * Every file is cut into lines; only the lines that carry a kernel
 * command line (or a key we set) are rebuilt, every other byte is copied.
 * Within an edited command line the separators of the arguments that stay
 * are kept; removed arguments go with their separator, ours are appended
 * with one space, console=ttyS0,115200n8 last (the last console= becomes
 * /dev/console, kernel Documentation/admin-guide/serial-console.rst).
 * Because ours are always removed and appended again in the same order,
 * a second edit gives the same bytes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bootfix/linux/bootcfg.h"
#include "guest/bootread.h"

void
lf_findings_add (struct lf_findings *fs, enum lf_finding what,
                 const char *fmt, ...)
{
  va_list ap;
  char *msg = NULL;

  if (fs->n >= BOOTCFG_MAX_FINDINGS) {
    fs->dropped++;
    return;
  }
  va_start (ap, fmt);
  if (vasprintf (&msg, fmt, ap) < 0)
    msg = NULL;
  va_end (ap);
  struct lf_text_finding *f = msg ? realloc (fs->f, (fs->n + 1) * sizeof *f)
                                  : NULL;
  if (!f) {
    free (msg);
    fs->dropped++;
    return;
  }
  fs->f = f;
  fs->f[fs->n].what = what;
  fs->f[fs->n].msg = msg;
  fs->n++;
}

void
lf_findings_free (struct lf_findings *fs)
{
  for (size_t i = 0; i < fs->n; i++)
    free (fs->f[i].msg);
  free (fs->f);
  fs->f = NULL;
  fs->n = fs->dropped = 0;
}

/* ---- the command line itself ---- */

static bool
is_blank (char c)
{
  return c == ' ' || c == '\t';
}

static bool
word_is (const char *w, size_t n, const char *lit)
{
  return n == strlen (lit) && memcmp (w, lit, n) == 0;
}

static bool
word_has_prefix (const char *w, size_t n, const char *prefix)
{
  size_t l = strlen (prefix);
  return n >= l && memcmp (w, prefix, l) == 0;
}

static bool region_has_word (const char *s, const char *end,
                             const char *prefix, bool exact);

/* PARAM's key: up to and including its '=', or all of it. */
static size_t
param_key_len (const char *param)
{
  const char *eq = strchr (param, '=');
  return eq ? (size_t) (eq - param) + 1 : strlen (param);
}

/* Does word W (N bytes) match PARAM: the same word, or, for a PARAM
 * ending in '=' ("console="), any value of that key?
 */
static bool
param_matches (const char *w, size_t n, const char *param)
{
  size_t l = strlen (param);
  if (l && param[l - 1] == '=')
    return word_has_prefix (w, n, param);
  return word_is (w, n, param);
}

/* Is W one of ours: a value of a key we append (any old value goes, so
 * that ours can be appended again in the same order)?
 */
static bool
is_own (const struct lf_cmdline_opts *o, const char *w, size_t n)
{
  for (const char *const *a = o->params_add; a && *a; a++) {
    size_t kl = param_key_len (*a);
    if (n >= kl && memcmp (w, *a, kl) == 0 &&
        ((*a)[kl - 1] == '=' || n == kl))
      return true;
  }
  return (*o->serial_word && word_has_prefix (w, n, "console=")) ||
    (o->ifnames && word_has_prefix (w, n, "net.ifnames=")) ||
    (o->rootdelay >= 0 && word_has_prefix (w, n, "rootdelay="));
}

static bool
is_removed (const struct lf_cmdline_opts *o, const char *w, size_t n)
{
  for (const char *const *r = o->params_remove; r && *r; r++)
    if (param_matches (w, n, *r))
      return true;
  return is_own (o, w, n);
}

int
lf_cmdline_opts_profile (struct lf_cmdline_opts *o,
                         const struct lf_hw_profile *p)
{
  o->params_add = (const char *const *) p->kernel_params_add;
  o->params_remove = (const char *const *) p->kernel_params_remove;
  o->serial_word[0] = '\0';
  if (*p->serial_console &&
      (size_t) snprintf (o->serial_word, sizeof o->serial_word,
                         "console=%s,115200n8", p->serial_console)
      >= sizeof o->serial_word) {
    o->serial_word[0] = '\0';
    lf_error (ENAMETOOLONG, "profile %s: serial console '%s' too long",
              p->name, p->serial_console);
    return -1;
  }
  return 0;
}

/* Append S to the comma-separated list *L. */
static void
list_append (char **l, const char *s, size_t n)
{
  char *nl = NULL;
  if (asprintf (&nl, "%s%s%.*s", *l ? *l : "", *l ? ", " : "", (int) n, s) < 0)
    return;
  free (*l);
  *l = nl;
}

void
lf_cmdline_audit (const char *args, const struct lf_cmdline_opts *o,
                  char **missing, char **unwanted)
{
  const char *end = args + strlen (args);

  *missing = *unwanted = NULL;
  for (const char *const *a = o->params_add; a && *a; a++)
    if (!region_has_word (args, end, *a, true))
      list_append (missing, *a, strlen (*a));
  for (const char *s = args; s < end; ) {
    while (s < end && is_blank (*s))
      s++;
    const char *we = lf_cmdline_word_end (s, end);
    size_t n = (size_t) (we - s);
    /* rootdelay= is the fix's to choose per generator (or --rootdelay)
     * where the target has a value for it at all.
     */
    bool wanted = (*o->serial_word && word_is (s, n, o->serial_word)) ||
      (o->rootdelay >= 0 && word_has_prefix (s, n, "rootdelay="));
    for (const char *const *a = o->params_add; !wanted && a && *a; a++)
      wanted = word_is (s, n, *a);
    if (n && !wanted) {
      for (const char *const *r = o->params_remove; r && *r; r++)
        if (param_matches (s, n, *r)) {
          list_append (unwanted, s, n);
          break;
        }
    }
    s = we;
  }
}

/* A device name that changes on the target, after "root=" or "resume=":
 * fstab's rule, on the word's bytes.
 */
static bool
is_device_name (const char *s, size_t n)
{
  CLEANUP_FREE char *spec = strndup (s, n);
  return spec && lf_fstab_spec_is_device_name (spec);
}

char *
lf_cmdline_edit (const char *args, size_t len, const struct lf_cmdline_opts *o,
                 bool *changed)
{
  char *out = NULL;
  size_t outlen = 0;
  FILE *fp;
  const char *s = args, *end = args + len;
  bool first = true;
  size_t nwords = 0;

  *changed = false;
  if (memchr (args, '\0', len) || !lf_cmdline_quotes_balanced (args, len)) {
    lf_error (EINVAL, "NUL byte or unbalanced quote in a kernel command line");
    return NULL;
  }
  fp = open_memstream (&out, &outlen);
  if (!fp) {
    lf_error (errno, "out of memory");
    return NULL;
  }
  /* Leading blanks belong to the line, not to an argument. */
  while (s < end && is_blank (*s))
    s++;
  fwrite (args, 1, (size_t) (s - args), fp);
  const char *sep = s;
  while (s < end) {
    const char *w = s, *we = lf_cmdline_word_end (s, end);
    size_t wl = (size_t) (we - w);
    const char *next = we;
    while (next < end && is_blank (*next))
      next++;
    if (++nwords > BOOTCFG_MAX_WORDS) {
      fclose (fp);
      free (out);
      lf_error (E2BIG, "kernel command line has more than %d arguments",
                BOOTCFG_MAX_WORDS);
      return NULL;
    }
    if (!is_removed (o, w, wl)) {
      if (!first)
        fwrite (sep, 1, (size_t) (w - sep), fp);
      if (o->root_uuid && word_has_prefix (w, wl, "root=") &&
          is_device_name (w + 5, wl - 5))
        fprintf (fp, "root=UUID=%s", o->root_uuid);
      else if (o->resolve && word_has_prefix (w, wl, "resume=") &&
               is_device_name (w + 7, wl - 7)) {
        CLEANUP_FREE char *dev = strndup (w + 7, wl - 7);
        const char *uuid = dev ? o->resolve (o->opaque, dev) : NULL;
        if (uuid)
          fprintf (fp, "resume=UUID=%s", uuid);
        else
          fwrite (w, 1, wl, fp);
      }
      else
        fwrite (w, 1, wl, fp);
      first = false;
    }
    /* The separator before the next argument (kept with it). */
    sep = we;
    s = next;
    if (s >= end)
      break;
  }
  if (o->add) {
    if (o->ifnames) {
      fputs (first ? "" : " ", fp);
      fputs ("net.ifnames=0", fp);
      first = false;
    }
    if (o->rootdelay >= 0) {
      fprintf (fp, "%srootdelay=%d", first ? "" : " ", o->rootdelay);
      first = false;
    }
    for (const char *const *a = o->params_add; a && *a; a++) {
      fprintf (fp, "%s%s", first ? "" : " ", *a);
      first = false;
    }
    if (*o->serial_word) {
      fprintf (fp, "%s%s", first ? "" : " ", o->serial_word);
      first = false;
    }
  }
  /* Trailing blanks (RHEL's kernelopts ends with one) stay trailing. */
  const char *t = end;
  while (t > args && is_blank (t[-1]))
    t--;
  if (t >= sep)
    fwrite (t, 1, (size_t) (end - t), fp);
  if (fclose (fp) != 0) {
    free (out);
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  *changed = outlen != len || memcmp (out, args, len) != 0;
  return out;
}

/* ---- line-oriented files ---- */

struct editor {
  FILE *fp;
  char *out;
  size_t outlen;
  int nedits;
  const char *name;
  struct lf_findings *fnd;
};

static int
editor_open (struct editor *ed, const char *name, struct lf_findings *fnd)
{
  memset (ed, 0, sizeof *ed);
  ed->name = name;
  ed->fnd = fnd;
  ed->fp = open_memstream (&ed->out, &ed->outlen);
  if (!ed->fp) {
    lf_error (errno, "out of memory");
    return -1;
  }
  return 0;
}

static int
editor_close (struct editor *ed, char **out, size_t *outlen)
{
  if (fclose (ed->fp) != 0) {
    free (ed->out);
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  *out = ed->out;
  *outlen = ed->outlen;
  return ed->nedits;
}

static void
editor_abort (struct editor *ed)
{
  fclose (ed->fp);
  free (ed->out);
}

/* Edit the command line ARGS..END of a line and write it; the caller has
 * written the part before ARGS.
 */
static int
put_cmdline (struct editor *ed, const char *args, const char *end,
             const struct lf_cmdline_opts *o)
{
  bool changed;
  if (memchr (args, '\0', (size_t) (end - args)) ||
      !lf_cmdline_quotes_balanced (args, (size_t) (end - args))) {
    lf_findings_add (ed->fnd, LF_WARNING, "%s: NUL byte or unbalanced quote "
                     "in a kernel command line: left as it is", ed->name);
    fwrite (args, 1, (size_t) (end - args), ed->fp);
    return 0;
  }
  CLEANUP_FREE char *a = lf_cmdline_edit (args, (size_t) (end - args), o,
                                          &changed);
  if (!a)
    return -1;
  fputs (a, ed->fp);
  if (changed)
    ed->nedits++;
  return 0;
}

/* Does the argument region contain an unquoted shell/grub-script
 * operator?  Then it is not a plain command line: leave it.
 */
static bool
has_operator (const char *s, const char *end)
{
  char q = 0;
  for (; s < end; s++) {
    if (*s == '\0' || *s == '\r')
      return true;
    if (q) {
      if (*s == q)
        q = 0;
      continue;
    }
    if (*s == '"' || *s == '\'')
      q = *s;
    else if (*s == ';' || *s == '|' || *s == '&' || *s == '{' ||
             *s == '}' || *s == '`' || *s == '\\' || *s == '\0' ||
             *s == '\r')
      return true;
  }
  return q != 0;
}

/* Does the region contain the word WORD (exact) or one starting PREFIX? */
static bool
region_has_word (const char *s, const char *end, const char *prefix,
                 bool exact)
{
  while (s < end) {
    while (s < end && is_blank (*s))
      s++;
    const char *we = lf_cmdline_word_end (s, end);
    if (we > s && (exact ? word_is (s, (size_t) (we - s), prefix)
                         : word_has_prefix (s, (size_t) (we - s), prefix)))
      return true;
    s = we;
  }
  return false;
}

/* The keyword at the start of LINE (after blanks): its end, or NULL. */
static const char *
keyword (const char *line, const char *end, const char *kw, bool nocase)
{
  size_t kl = strlen (kw);
  while (line < end && is_blank (*line))
    line++;
  if ((size_t) (end - line) < kl ||
      (nocase ? strncasecmp (line, kw, kl) : strncmp (line, kw, kl)) != 0 ||
      ((size_t) (end - line) > kl && !is_blank (line[kl])))
    return NULL;
  return line + kl;
}

static const char *
skip_blanks (const char *s, const char *end)
{
  while (s < end && is_blank (*s))
    s++;
  return s;
}

/* A comment ending the arguments ("... quiet # old"): args end there. */
static const char *
args_end (const char *a, const char *end)
{
  const char *s = a;
  while (s < end) {
    s = skip_blanks (s, end);
    if (s < end && *s == '#') {
      while (s > a && is_blank (s[-1]))
        s--;
      return s;
    }
    s = lf_cmdline_word_end (s, end);
  }
  return end;
}

/* A kernel line: KEYWORD PATH ARGS (grub.cfg, menu.lst) or KEYWORD ARGS
 * (BLS options, extlinux APPEND).  Edited if its arguments carry root=
 * (reference §3: "every linux line that carries root="), or always
 * (ALWAYS) unless they come from $kernelopts.  Returns 1 if handled.
 */
static int
kernel_line (struct editor *ed, const char *line, const char *end,
             const char *kwend, bool has_path, bool always, unsigned lineno,
             const struct lf_cmdline_opts *o)
{
  const char *a = skip_blanks (kwend, end);
  if (has_path) {
    /* grub legacy allows options before the path (kernel --type=...). */
    while (a < end && a[0] == '-' && a + 1 < end && a[1] == '-')
      a = skip_blanks (lf_cmdline_word_end (a, end), end);
    a = skip_blanks (lf_cmdline_word_end (a, end), end);
  }
  const char *e = args_end (a, end);
  bool root = region_has_word (a, e, "root=", false);
  if (!root && (!always || region_has_word (a, e, "$kernelopts", true) ||
                region_has_word (a, e, "${kernelopts}", true)))
    return 0;
  if (has_operator (a, e)) {
    lf_findings_add (ed->fnd, LF_WARNING, "%s: line %u: the kernel command "
                     "line has quotes or operators that landfall does not "
                     "edit: left as it is", ed->name, lineno);
    return 0;
  }
  /* A kernel with no argument yet needs a separator. */
  const char *pre_end = a;
  fwrite (line, 1, (size_t) (pre_end - line), ed->fp);
  if (a == e && (a == line || !is_blank (a[-1])))
    fputc (' ', ed->fp);
  if (put_cmdline (ed, a, e, o) == -1)
    return -1;
  /* A comment right after the keyword must not stick to our arguments. */
  if (e < end && !is_blank (*e))
    fputc (' ', ed->fp);
  fwrite (e, 1, (size_t) (end - e), ed->fp);
  return 1;
}

/* grub.cfg "set kernelopts="..."" (RHEL 8's fallback when grubenv has
 * none; Fedora's default_kernelopts).  Returns 1 if handled.
 */
static int
set_kernelopts_line (struct editor *ed, const char *line, const char *end,
                     const char *kwend, unsigned lineno,
                     const struct lf_cmdline_opts *o)
{
  static const char *const keys[] = { "kernelopts=", "default_kernelopts=" };
  const char *a = skip_blanks (kwend, end);
  size_t k;

  for (k = 0; k < 2; k++)
    if ((size_t) (end - a) >= strlen (keys[k]) &&
        memcmp (a, keys[k], strlen (keys[k])) == 0)
      break;
  if (k == 2)
    return 0;
  a += strlen (keys[k]);
  char q = a < end && (*a == '"' || *a == '\'') ? *a : 0;
  const char *v = q ? a + 1 : a;
  const char *ve = q ? memchr (v, q, (size_t) (end - v)) : lf_cmdline_word_end (v, end);
  if (!ve || has_operator (v, ve) ||
      skip_blanks (q ? ve + 1 : ve, end) != end) {
    lf_findings_add (ed->fnd, LF_WARNING, "%s: line %u: %.*s is not a plain "
                     "quoted value: left as it is", ed->name, lineno,
                     (int) strlen (keys[k]) - 1, keys[k]);
    return 0;
  }
  fwrite (line, 1, (size_t) (v - line), ed->fp);
  if (put_cmdline (ed, v, ve, o) == -1)
    return -1;
  fwrite (ve, 1, (size_t) (end - ve), ed->fp);
  return 1;
}

#define SERIAL_CMD "serial --speed=115200 --unit=0 --word=8 --parity=no --stop=1"

/* grub.cfg terminals: every terminal_input/terminal_output gets "serial";
 * if there is none, the 00_header block gets the commands grub-mkconfig
 * writes for GRUB_TERMINAL="console serial" (form unverified, §3).
 */
struct grub_scan {
  bool has_serial_cmd, has_terminal_output;
  size_t header_at;             /* offset after the 00_header marker line */
  bool header;
};

static void
grub_scan (const char *text, size_t len, struct grub_scan *gs)
{
  memset (gs, 0, sizeof *gs);
  for (size_t pos = 0; pos < len; ) {
    const char *line = text + pos;
    const char *nl = memchr (line, '\n', len - pos);
    const char *end = nl ? nl : text + len;
    pos = (size_t) (end - text) + (nl ? 1 : 0);
    if ((size_t) (end - line) > BOOTCFG_MAX_LINE)
      continue;
    if (keyword (line, end, "serial", false))
      gs->has_serial_cmd = true;
    if (keyword (line, end, "terminal_output", false))
      gs->has_terminal_output = true;
    static const char marker[] = "### BEGIN /etc/grub.d/00_header ###";
    if (!gs->header && (size_t) (end - line) >= sizeof marker - 1 &&
        memcmp (line, marker, sizeof marker - 1) == 0) {
      gs->header = true;
      gs->header_at = pos;
    }
  }
}

/* The commands for GRUB_TERMINAL="console serial", where the 00_header
 * block would have them.
 */
static void
grub_terminal_block (struct editor *ed, bool *serial_done)
{
  if (!*serial_done)
    fputs (SERIAL_CMD "\n", ed->fp);
  *serial_done = true;
  fputs ("terminal_input console serial\nterminal_output console serial\n",
         ed->fp);
  ed->nedits++;
}

/* terminal_input/terminal_output without serial: add it, with a serial
 * command before the first one if the file has none.
 */
static int
terminal_line (struct editor *ed, const char *line, const char *end,
               const char *kwend, bool *serial_done)
{
  const char *a = skip_blanks (kwend, end);
  const char *e = args_end (a, end);
  if (has_operator (a, e) || region_has_word (a, e, "serial", true))
    return 0;
  if (!*serial_done) {
    fputs (SERIAL_CMD "\n", ed->fp);
    *serial_done = true;
  }
  fwrite (line, 1, (size_t) (e - line), ed->fp);
  fputs (e > line && is_blank (e[-1]) ? "serial" : " serial", ed->fp);
  if (e < end && !is_blank (*e))
    fputc (' ', ed->fp);
  fwrite (e, 1, (size_t) (end - e), ed->fp);
  ed->nedits++;
  return 1;
}

/* ---- /etc/default/grub ---- */

struct shval {
  const char *key_end;          /* after "KEY=" */
  const char *v, *ve;           /* the value without quotes */
  char q;                       /* the quote, or 0 */
};

/* Parse "[export ]KEY=VALUE[ # comment]" for KEY; 1 if it is KEY's line
 * and plain enough to edit, 0 if not KEY's, -1 if KEY's but too odd.
 */
static int
shell_assignment (const char *line, const char *end, const char *key,
                  struct shval *sv)
{
  const char *s = skip_blanks (line, end);
  if ((size_t) (end - s) > 7 && memcmp (s, "export", 6) == 0 &&
      is_blank (s[6]))
    s = skip_blanks (s + 7, end);
  size_t kl = strlen (key);
  if ((size_t) (end - s) < kl + 1 || memcmp (s, key, kl) != 0 || s[kl] != '=')
    return 0;
  s += kl + 1;
  sv->key_end = s;
  const char *after;
  if (s < end && (*s == '"' || *s == '\'')) {
    sv->q = *s;
    sv->v = s + 1;
    sv->ve = memchr (sv->v, sv->q, (size_t) (end - sv->v));
    if (!sv->ve)
      return -1;
    after = sv->ve + 1;
    /* No command substitution or escapes in a value we rewrite. */
    for (const char *c = sv->v; c < sv->ve; c++)
      if (*c == '`' || *c == '\\' || *c == '\0' ||
          (sv->q == '"' && *c == '$' && c + 1 < sv->ve && c[1] == '('))
        return -1;
  }
  else {
    sv->q = 0;
    sv->v = s;
    sv->ve = s;
    while (sv->ve < end && !is_blank (*sv->ve))
      sv->ve++;
    for (const char *c = sv->v; c < sv->ve; c++)
      if (strchr ("\"'`\\$;&|(){}", *c) || *c == '\0')
        return -1;
    after = sv->ve;
  }
  after = skip_blanks (after, end);
  if (after < end && *after != '#' && *after != '\r')
    return -1;
  return 1;
}

static bool
value_has_word (const struct shval *sv, const char *word)
{
  return region_has_word (sv->v, sv->ve, word, true);
}

enum dg_key {
  DG_CMDLINE, DG_CMDLINE_DEFAULT, DG_TERMINAL, DG_SERIAL, DG_NKEYS
};
static const char *const dg_keys[DG_NKEYS] = {
  "GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT", "GRUB_TERMINAL",
  "GRUB_SERIAL_COMMAND",
};

static int
default_grub_line (struct editor *ed, const char *line, const char *end,
                   unsigned lineno, const struct lf_cmdline_opts *o,
                   bool seen[DG_NKEYS])
{
  struct shval sv;
  for (int k = 0; k < DG_NKEYS; k++) {
    int r = shell_assignment (line, end, dg_keys[k], &sv);
    if (r == 0)
      continue;
    seen[k] = true;
    if (r == -1) {
      lf_findings_add (ed->fnd, LF_WARNING, "%s: line %u: %s is not a plain "
                       "value (quotes, escapes or substitutions): left as it "
                       "is, check it by hand", ed->name, lineno, dg_keys[k]);
      return 0;
    }
    if (k == DG_SERIAL)
      return 0;                 /* the guest's own serial settings stay */
    if (k == DG_TERMINAL) {
      if (value_has_word (&sv, "serial"))
        return 0;
      fwrite (line, 1, (size_t) (sv.key_end - line), ed->fp);
      fputs ("\"console serial\"", ed->fp);
      fwrite (sv.q ? sv.ve + 1 : sv.ve, 1,
              (size_t) (end - (sv.q ? sv.ve + 1 : sv.ve)), ed->fp);
      ed->nedits++;
      return 1;
    }
    if (!lf_cmdline_quotes_balanced (sv.v, (size_t) (sv.ve - sv.v))) {
      lf_findings_add (ed->fnd, LF_WARNING, "%s: line %u: %s has an "
                       "unbalanced quote: left as it is", ed->name, lineno,
                       dg_keys[k]);
      return 0;
    }
    struct lf_cmdline_opts oo = *o;
    oo.add = k == DG_CMDLINE;
    bool changed;
    CLEANUP_FREE char *a = lf_cmdline_edit (sv.v, (size_t) (sv.ve - sv.v),
                                            &oo, &changed);
    if (!a)
      return -1;
    if (!changed)
      return 0;
    /* An unquoted value that now has blanks needs quotes. */
    char q = sv.q ? sv.q : '"';
    fwrite (line, 1, (size_t) (sv.key_end - line), ed->fp);
    fprintf (ed->fp, "%c%s%c", q, a, q);
    const char *rest = sv.q ? sv.ve + 1 : sv.ve;
    fwrite (rest, 1, (size_t) (end - rest), ed->fp);
    ed->nedits++;
    return 1;
  }
  /* grub-mkconfig with GRUB_DISABLE_LINUX_UUID=true writes root=/dev/sdX
   * again on the next kernel update: device names are what change.
   */
  if (shell_assignment (line, end, "GRUB_DISABLE_LINUX_UUID", &sv) == 1 &&
      region_has_word (sv.v, sv.ve, "true", true)) {
    fputs ("#", ed->fp);
    fwrite (line, 1, (size_t) (end - line), ed->fp);
    ed->nedits++;
    return 1;
  }
  return 0;
}

static void
default_grub_append (struct editor *ed, const char *text, size_t len,
                     const struct lf_cmdline_opts *o, const bool seen[DG_NKEYS])
{
  bool nl_needed = len > 0 && text[len - 1] != '\n';
  if (!seen[DG_CMDLINE]) {
    struct lf_cmdline_opts oo = *o;
    bool changed;
    oo.add = true;
    CLEANUP_FREE char *a = lf_cmdline_edit ("", 0, &oo, &changed);
    fprintf (ed->fp, "%sGRUB_CMDLINE_LINUX=\"%s\"\n", nl_needed ? "\n" : "",
             a ? a : "");
    nl_needed = false;
    ed->nedits++;
  }
  if (!seen[DG_TERMINAL]) {
    fprintf (ed->fp, "%sGRUB_TERMINAL=\"console serial\"\n",
             nl_needed ? "\n" : "");
    nl_needed = false;
    ed->nedits++;
  }
  if (!seen[DG_SERIAL]) {
    fprintf (ed->fp, "%sGRUB_SERIAL_COMMAND=\"" SERIAL_CMD "\"\n",
             nl_needed ? "\n" : "");
    ed->nedits++;
  }
}

/* ---- grubenv ---- */

static int
grubenv_edit (const char *name, const char *text, size_t len,
              const struct lf_cmdline_opts *o, char **out, size_t *outlen,
              struct lf_findings *fnd)
{
  static const char hdr[] = "# GRUB Environment Block\n";
  struct editor ed;
  size_t body;

  if (len > GRUBENV_MAX_SIZE || len < sizeof hdr - 1 ||
      memcmp (text, hdr, sizeof hdr - 1) != 0) {
    lf_findings_add (fnd, LF_WARNING, "%s: not a GRUB environment block "
                     "(header or size, %zu bytes, limit %d): left as it is",
                     name, len, GRUBENV_MAX_SIZE);
    goto unchanged;
  }
  /* The variables end at the last newline; '#' padding fills the rest. */
  body = len;
  while (body > sizeof hdr - 1 && text[body - 1] == '#')
    body--;
  if (text[body - 1] != '\n') {
    lf_findings_add (fnd, LF_WARNING, "%s: the padding of the environment "
                     "block is not '#' after a newline: left as it is", name);
    goto unchanged;
  }
  if (memchr (text, '\0', len)) {
    lf_findings_add (fnd, LF_WARNING, "%s: NUL bytes in the environment "
                     "block: left as it is", name);
    goto unchanged;
  }
  if (editor_open (&ed, name, fnd) == -1)
    return -1;
  unsigned lineno = 0;
  for (size_t pos = 0; pos < body; ) {
    const char *line = text + pos;
    const char *nl = memchr (line, '\n', body - pos);
    const char *end = nl;       /* body ends with '\n' */
    pos = (size_t) (end - text) + 1;
    lineno++;
    static const char key[] = "kernelopts=";
    if ((size_t) (end - line) >= sizeof key - 1 &&
        memcmp (line, key, sizeof key - 1) == 0) {
      fwrite (line, 1, sizeof key - 1, ed.fp);
      if (put_cmdline (&ed, line + sizeof key - 1, end, o) == -1) {
        editor_abort (&ed);
        return -1;
      }
    }
    else
      fwrite (line, 1, (size_t) (end - line), ed.fp);
    fputc ('\n', ed.fp);
  }
  int n = editor_close (&ed, out, outlen);
  if (n == -1)
    return -1;
  if (*outlen > len) {
    lf_findings_add (fnd, LF_FAILED, "%s: the new kernelopts do not fit in "
                     "the %zu-byte environment block: left as it is", name,
                     len);
    free (*out);
    goto unchanged;
  }
  /* Pad to the original size, as grub-editenv does. */
  char *o2 = realloc (*out, len ? len : 1);
  if (!o2) {
    free (*out);
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  memset (o2 + *outlen, '#', len - *outlen);
  *out = o2;
  *outlen = len;
  return n;

 unchanged:
  *out = malloc (len ? len : 1);
  if (!*out) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  memcpy (*out, text, len);
  *outlen = len;
  return 0;
}

/* ---- the dispatcher ---- */

int
lf_bootcfg_edit (enum lf_bootcfg_kind kind, const char *name,
                 const char *text, size_t len, const struct lf_cmdline_opts *o,
                 char **out, size_t *outlen, struct lf_findings *fnd)
{
  struct editor ed;
  struct grub_scan gs;
  bool seen[DG_NKEYS] = { false };
  bool serial_done = false, block_done = false;
  unsigned lineno = 0;

  if (len > BOOTCFG_MAX_SIZE) {
    lf_error (EFBIG, "%s: %zu bytes, more than the %d a boot configuration "
              "may have", name, len, BOOTCFG_MAX_SIZE);
    return -1;
  }
  if (kind == LF_BOOTCFG_GRUBENV)
    return grubenv_edit (name, text, len, o, out, outlen, fnd);
  if (kind == LF_BOOTCFG_GRUB2)
    grub_scan (text, len, &gs);
  else
    memset (&gs, 0, sizeof gs);
  serial_done = gs.has_serial_cmd;
  if (editor_open (&ed, name, fnd) == -1)
    return -1;
  if (kind == LF_BOOTCFG_GRUB2 && !gs.has_terminal_output && !gs.header) {
    grub_terminal_block (&ed, &serial_done);
    block_done = true;
  }
  for (size_t pos = 0; pos < len; ) {
    const char *line = text + pos;
    const char *nl = memchr (line, '\n', len - pos);
    const char *end = nl ? nl : text + len;
    int r = 0;
    pos = (size_t) (end - text) + (nl ? 1 : 0);
    lineno++;
    if ((size_t) (end - line) > BOOTCFG_MAX_LINE) {
      lf_findings_add (fnd, LF_WARNING, "%s: line %u is longer than %d "
                       "bytes: left as it is", name, lineno, BOOTCFG_MAX_LINE);
    }
    else {
      const char *kw = NULL;
      switch (kind) {
      case LF_BOOTCFG_GRUB2:
        if ((kw = keyword (line, end, "linux", false)) ||
            (kw = keyword (line, end, "linux16", false)) ||
            (kw = keyword (line, end, "linuxefi", false)))
          r = kernel_line (&ed, line, end, kw, true, false, lineno, o);
        else if ((kw = keyword (line, end, "set", false)))
          r = set_kernelopts_line (&ed, line, end, kw, lineno, o);
        else if ((kw = keyword (line, end, "terminal_output", false)) ||
                 (kw = keyword (line, end, "terminal_input", false)))
          r = terminal_line (&ed, line, end, kw, &serial_done);
        break;
      case LF_BOOTCFG_BLS:
        if ((kw = keyword (line, end, "options", false)))
          r = kernel_line (&ed, line, end, kw, false, true, lineno, o);
        break;
      case LF_BOOTCFG_GRUB_LEGACY:
        if ((kw = keyword (line, end, "kernel", false)))
          r = kernel_line (&ed, line, end, kw, true, false, lineno, o);
        break;
      case LF_BOOTCFG_EXTLINUX:
        if ((kw = keyword (line, end, "append", true)))
          r = kernel_line (&ed, line, end, kw, false, false, lineno, o);
        break;
      case LF_BOOTCFG_DEFAULT_GRUB:
      case LF_BOOTCFG_DEFAULT_GRUB_D:
        r = default_grub_line (&ed, line, end, lineno, o, seen);
        break;
      case LF_BOOTCFG_KERNEL_CMDLINE:
        if (lineno == 1 && !has_operator (line, end)) {
          if (put_cmdline (&ed, line, end, o) == -1)
            r = -1;
          else
            r = 1;
        }
        break;
      case LF_BOOTCFG_GRUBENV:
        break;
      }
    }
    if (r == -1) {
      editor_abort (&ed);
      return -1;
    }
    if (r == 0)
      fwrite (line, 1, (size_t) (end - line), ed.fp);
    if (nl)
      fputc ('\n', ed.fp);
    if (kind == LF_BOOTCFG_GRUB2 && !block_done && gs.header &&
        !gs.has_terminal_output && pos == gs.header_at) {
      if (!nl)
        fputc ('\n', ed.fp);
      grub_terminal_block (&ed, &serial_done);
      block_done = true;
    }
  }
  if (kind == LF_BOOTCFG_DEFAULT_GRUB)
    default_grub_append (&ed, text, len, o, seen);
  return editor_close (&ed, out, outlen);
}

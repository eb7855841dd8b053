/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/windows: editing a hive through the plan (winfix.h).
 *
 * The hive's bytes come from the plan and are opened through guest/'s
 * hive adapter (the only code that knows hivex); every value changed is
 * a finding of the concern editing at the time, and the edited bytes are
 * planned once for the guest path, as one edit shared by the concerns
 * that changed something in it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bootfix/windows/winfix.h"

struct lf_whive *
lf_whive_open (struct lf_plan *p, const char *concern, const char *path,
               const char *label)
{
  struct lf_whive *w = calloc (1, sizeof *w);
  CLEANUP_FREE char *buf = NULL;
  size_t len = 0;
  uint32_t seq1, seq2;

  if (!w || !(w->path = strdup (path)) || !(w->label = strdup (label))) {
    lf_error (ENOMEM, "out of memory");
    goto error;
  }
  w->p = p;
  w->concern = concern;
  if (lf_plan_read (p, path, WIN_HIVE_MAX, &buf, &len) == -1)
    goto error;
  /* The base block's sequence numbers (0x04, 0x08), before hivex, which
   * ignores them but may refuse the header for other reasons.
   */
  seq1 = len >= 12 ? lf_le32 (buf + 4) : 0;
  seq2 = len >= 12 ? lf_le32 (buf + 8) : 0;
  if (len >= 4096 && memcmp (buf, "regf", 4) == 0 && seq1 != seq2) {
    lf_error (EUCLEAN, "%s: base block sequence numbers differ (%" PRIu32
              " != %" PRIu32 "): its transaction logs (.LOG1/.LOG2) hold "
              "changes not yet written to the hive; start Windows once and "
              "shut it down cleanly, then try again", path, seq1, seq2);
    goto error;
  }
  if (!(w->hv = lf_hive_open_buf (path, buf, len, true)))
    goto error;
  return w;

 error:
  lf_whive_close (w);
  return NULL;
}

void
lf_whive_close (struct lf_whive *w)
{
  if (!w)
    return;
  lf_hive_close (w->hv);
  free (w->path);
  free (w->label);
  free (w);
}

void
lf_whive_cleanup (struct lf_whive **w)
{
  lf_whive_close (*w);
}

void
lf_whive_set_concern (struct lf_whive *w, const char *concern)
{
  w->concern = concern;
}

/* One more change by the concern editing now. */
static void
count_change (struct lf_whive *w)
{
  size_t i;

  w->changes++;
  for (i = 0; i < w->nby; i++)
    if (strcmp (w->by[i].concern, w->concern) == 0)
      break;
  if (i == w->nby) {
    if (w->nby == WIN_MAX_CONCERNS)
      i = w->nby - 1;           /* cannot happen: fix.c has 8 concerns */
    else
      w->by[w->nby++] = (struct lf_plan_by) { .concern = w->concern };
  }
  w->by[i].changes++;
}

int
lf_whive_commit (struct lf_whive *w, const char *why)
{
  char *buf = NULL;
  size_t len = 0;

  if (w->changes == 0)
    return 0;
  if (lf_hive_commit (w->hv, &buf, &len) == -1)
    return -1;
  return lf_plan_write_by (w->p, w->by, w->nby, w->path, buf, len, 0644, why);
}

uint64_t
lf_whive_node (struct lf_whive *w, uint64_t from, const char *path)
{
  return lf_hive_node_from (w->hv, from, path);
}

char **
lf_whive_children (struct lf_whive *w, uint64_t node)
{
  if (!node) {
    lf_error (EINVAL, "%s: no key to list", w->path);
    return NULL;
  }
  return lf_hive_children (w->hv, node);
}

static bool
is_control_set (const char *name)
{
  return strncasecmp (name, "ControlSet", 10) == 0 && strlen (name) == 13 &&
    name[10] >= '0' && name[10] <= '9' && name[11] >= '0' && name[11] <= '9' &&
    name[12] >= '0' && name[12] <= '9';
}

char **
lf_whive_control_sets (struct lf_whive *w)
{
  char **all = lf_whive_children (w, lf_hive_root (w->hv));
  size_t n = 0;

  if (!all)
    return NULL;
  for (size_t i = 0; all[i]; i++) {
    char *name = all[i];
    all[i] = NULL;
    if (!is_control_set (name)) {
      free (name);
      continue;
    }
    all[n++] = name;
    if (n > WIN_MAX_CONTROL_SETS) {
      lf_error (E2BIG, "%s: more than %d control sets", w->path,
                WIN_MAX_CONTROL_SETS);
      for (size_t k = i + 1; all[k]; k++)
        free (all[k]);
      lf_free_names (all);
      return NULL;
    }
  }
  if (n == 0) {
    lf_error (ENOENT, "%s: no ControlSet00N key: not a SYSTEM hive?",
              w->path);
    lf_free_names (all);
    return NULL;
  }
  return all;
}

int
lf_whive_get (struct lf_whive *w, uint64_t node, const char *name,
              uint32_t *t, char **data, size_t *len)
{
  return lf_hive_get (w->hv, node, name, t, data, len);
}

int
lf_whive_get_dword (struct lf_whive *w, uint64_t node, const char *name,
                    uint32_t *v)
{
  uint32_t t;
  CLEANUP_FREE char *d = NULL;
  size_t len;
  int r = lf_whive_get (w, node, name, &t, &d, &len);

  if (r != LF_MATCH)
    return r;
  if (t == LF_REG_DWORD && len == 4)
    *v = lf_le32 (d);
  else if (t == LF_REG_DWORD_BIG_ENDIAN && len == 4)
    *v = lf_be32 (d);
  else
    return LF_NO_MATCH;
  return LF_MATCH;
}

char *
lf_whive_get_sz (struct lf_whive *w, uint64_t node, const char *name)
{
  uint32_t t;
  CLEANUP_FREE char *d = NULL;
  size_t len;

  if (lf_whive_get (w, node, name, &t, &d, &len) != LF_MATCH)
    return NULL;
  if ((t != LF_REG_SZ && t != LF_REG_EXPAND_SZ) || len > WIN_MAX_STRING)
    return NULL;
  return lf_utf16_to_utf8 (d, len, false);
}

int
lf_whive_get_multi (struct lf_whive *w, uint64_t node, const char *name,
                    char ***list)
{
  uint32_t t;
  CLEANUP_FREE char *d = NULL;
  size_t len, n = 0;
  char **out;
  int r = lf_whive_get (w, node, name, &t, &d, &len);

  if (r != LF_MATCH)
    return r;
  if ((t != LF_REG_MULTI_SZ && t != LF_REG_SZ &&
       t != LF_REG_EXPAND_SZ) || len > WIN_MAX_STRING)
    return LF_NO_MATCH;
  out = calloc (WIN_MAX_MULTI + 1, sizeof *out);
  if (!out) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  /* UTF-16 units up to each NUL unit; lf_whive_get padded the data with
   * two NULs, so the last string ends even when the data does not.  Empty
   * strings are skipped rather than ending the list: Windows' own writers
   * never put one in the middle, and a name after one is still a name.
   */
  len &= ~(size_t) 1;
  for (size_t i = 0; i < len; ) {
    size_t j = i;
    while (j < len && (d[j] || d[j + 1]))
      j += 2;
    if (j > i) {
      if (n == WIN_MAX_MULTI) {
        lf_error (E2BIG, "%s: value \"%s\" holds more than %d strings",
                  w->path, name, WIN_MAX_MULTI);
        lf_free_names (out);
        return -1;
      }
      out[n] = lf_utf16_to_utf8 (d + i, j - i, false);
      if (!out[n]) {             /* out of memory, recorded */
        lf_free_names (out);
        return -1;
      }
      n++;
    }
    i = j + 2;
  }
  *list = out;
  return LF_MATCH;
}

char *
lf_win_utf16le (const char *s, size_t *len)
{
  size_t n = strlen (s), o = 0;
  uint8_t *out = malloc (2 * n + 2);    /* one unit per byte at most, +NUL */
  const uint8_t *u = (const uint8_t *) s;

  if (!out) {
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  for (size_t i = 0; i < n; ) {
    uint32_t c;
    size_t k;
    if (u[i] < 0x80)
      c = u[i], k = 1;
    else if ((u[i] & 0xe0) == 0xc0)
      c = u[i] & 0x1f, k = 2;
    else if ((u[i] & 0xf0) == 0xe0)
      c = u[i] & 0x0f, k = 3;
    else if ((u[i] & 0xf8) == 0xf0)
      c = u[i] & 0x07, k = 4;
    else
      goto bad;
    if (i + k > n)
      goto bad;
    for (size_t j = 1; j < k; j++) {
      if ((u[i + j] & 0xc0) != 0x80)
        goto bad;
      c = (c << 6) | (u[i + j] & 0x3f);
    }
    i += k;
    if (c >= 0x10000) {         /* a surrogate pair: 4 bytes in, 4 out */
      c -= 0x10000;
      out[o++] = (uint8_t) ((0xd800 + (c >> 10)) & 0xff);
      out[o++] = (uint8_t) ((0xd800 + (c >> 10)) >> 8);
      c = 0xdc00 + (c & 0x3ff);
    }
    out[o++] = (uint8_t) (c & 0xff);
    out[o++] = (uint8_t) (c >> 8);
  }
  out[o++] = 0;
  out[o++] = 0;
  *len = o;
  return (char *) out;

 bad:
  free (out);
  lf_error (EINVAL, "\"%s\": not valid UTF-8", s);
  return NULL;
}

static int
append (char **s, size_t *n, size_t *cap, const char *fmt, ...)
  LF_PRINTF (4, 5);

static int
append (char **s, size_t *n, size_t *cap, const char *fmt, ...)
{
  va_list ap;
  int k;

  for (;;) {
    va_start (ap, fmt);
    k = vsnprintf (*s + *n, *cap - *n, fmt, ap);
    va_end (ap);
    if (k < 0)
      return -1;
    if ((size_t) k < *cap - *n) {
      *n += (size_t) k;
      return 0;
    }
    char *ns = realloc (*s, *cap * 2 + (size_t) k);
    if (!ns)
      return -1;
    *s = ns;
    *cap = *cap * 2 + (size_t) k;
  }
}

char *
lf_whive_describe (uint32_t t, const void *data, size_t len)
{
  const uint8_t *d = data;
  size_t n = 0, cap = 64;
  char *s = malloc (cap);
  int r = 0;

  if (!s)
    return NULL;
  s[0] = '\0';
  if (!data)
    r = append (&s, &n, &cap, "absent");
  else if (t == LF_REG_DWORD && len == 4)
    r = append (&s, &n, &cap, "%" PRIu32, lf_le32 (d));
  else if ((t == LF_REG_SZ || t == LF_REG_EXPAND_SZ) &&
           len <= WIN_MAX_STRING) {
    CLEANUP_FREE char *u = lf_utf16_to_utf8 (d, len, false);
    r = append (&s, &n, &cap, "%s\"%s\"",
                t == LF_REG_EXPAND_SZ ? "expand:" : "", u ? u : "?");
  }
  else if (t == LF_REG_MULTI_SZ && len <= WIN_MAX_STRING) {
    r = append (&s, &n, &cap, "[");
    for (size_t i = 0; r == 0 && i + 1 < len; ) {
      size_t j = i;
      while (j + 1 < len && (d[j] || d[j + 1]))
        j += 2;
      if (j == i)
        break;                  /* the empty string ends the list */
      CLEANUP_FREE char *u = lf_utf16_to_utf8 (d + i, j - i, false);
      r = append (&s, &n, &cap, "%s\"%s\"", i ? ", " : "", u ? u : "?");
      i = j + 2;
    }
    if (r == 0)
      r = append (&s, &n, &cap, "]");
  }
  else {
    r = append (&s, &n, &cap, "type %d hex:", (int) t);
    for (size_t i = 0; r == 0 && i < len && i < WIN_SHOW_BINARY; i++)
      r = append (&s, &n, &cap, "%s%02x", i ? "," : "", d[i]);
    if (r == 0 && len > WIN_SHOW_BINARY)
      r = append (&s, &n, &cap, ",... (%zu bytes)", len);
  }
  if (r == -1) {
    free (s);
    return NULL;
  }
  return s;
}

static void
note_value (struct lf_whive *w, enum lf_finding what, const char *where,
            const char *name, const char *old, const char *new)
{
  if (what == LF_ALREADY_RIGHT)
    lf_plan_note (w->p, w->concern, what, "%s\\%s\\%s: %s", w->label, where,
                  name, new ? new : "?");
  else
    lf_plan_note (w->p, w->concern, what, "%s\\%s\\%s: %s -> %s", w->label,
                  where, name, old ? old : "?", new ? new : "?");
}

int
lf_whive_set (struct lf_whive *w, uint64_t node, const char *where,
              const char *name, uint32_t t, const void *data, size_t len)
{
  uint32_t ot = LF_REG_NONE;
  CLEANUP_FREE char *old = NULL;
  CLEANUP_FREE char *oldname = NULL;
  CLEANUP_FREE char *o = NULL;
  CLEANUP_FREE char *n = NULL;
  size_t olen = 0;
  int r = lf_whive_get (w, node, name, &ot, &old, &olen);

  if (r == -1)
    return -1;
  n = lf_whive_describe (t, data, len);
  if (r == LF_MATCH && ot == t && olen == len && memcmp (old, data, len) == 0) {
    note_value (w, LF_ALREADY_RIGHT, where, name, NULL, n);
    return 0;
  }
  o = lf_whive_describe (ot, r == LF_MATCH ? old : NULL, olen);
  /* Keep the name as Windows spelled it. */
  if (r == LF_MATCH)
    oldname = lf_hive_value_key (w->hv, node, name);
  if (lf_hive_set_value (w->hv, node, oldname ? oldname : name, t, data,
                         len) == -1) {
    lf_error_prefix ("%s", where);
    return -1;
  }
  count_change (w);
  note_value (w, LF_CHANGED, where, name, o, n);
  return 1;
}

int
lf_whive_set_dword (struct lf_whive *w, uint64_t node, const char *where,
                    const char *name, uint32_t v)
{
  uint8_t b[4];

  lf_put_le32 (b, v);
  return lf_whive_set (w, node, where, name, LF_REG_DWORD, b, 4);
}

int
lf_whive_set_sz (struct lf_whive *w, uint64_t node, const char *where,
                 const char *name, const char *s, bool expand)
{
  size_t len;
  CLEANUP_FREE char *u = lf_win_utf16le (s, &len);

  if (!u)
    return -1;
  return lf_whive_set (w, node, where, name,
                       expand ? LF_REG_EXPAND_SZ : LF_REG_SZ, u, len);
}

int
lf_whive_set_multi (struct lf_whive *w, uint64_t node, const char *where,
                    const char *name, const char *const *strs)
{
  CLEANUP_FREE char *buf = NULL;
  size_t len = 0;

  for (size_t i = 0; strs[i]; i++) {
    size_t l;
    CLEANUP_FREE char *u = lf_win_utf16le (strs[i], &l);
    char *nb = u ? realloc (buf, len + l + 2) : NULL;
    if (!nb) {
      if (u)
        lf_error (ENOMEM, "out of memory");
      return -1;
    }
    buf = nb;
    memcpy (buf + len, u, l);
    len += l;
  }
  char *nb = realloc (buf, len + 2);
  if (!nb) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  buf = nb;
  buf[len++] = 0;
  buf[len++] = 0;
  return lf_whive_set (w, node, where, name, LF_REG_MULTI_SZ, buf, len);
}

int
lf_whive_delete (struct lf_whive *w, uint64_t node, const char *where,
                 const char *name)
{
  uint32_t t = LF_REG_NONE;
  CLEANUP_FREE char *old = NULL;
  CLEANUP_FREE char *o = NULL;
  size_t len = 0;
  int r = lf_hive_delete_value (w->hv, node, name, &t, &old, &len);

  if (r == -1)
    lf_error_prefix ("%s", where);
  if (r != 1)
    return r;
  o = lf_whive_describe (t, old, len);
  count_change (w);
  lf_plan_note (w->p, w->concern, LF_CHANGED, "%s\\%s\\%s: %s -> deleted",
                w->label, where, name, o ? o : "?");
  return 1;
}

int
lf_whive_delete_key (struct lf_whive *w, const char *path)
{
  uint64_t node = lf_whive_node (w, 0, path);
  char **values = NULL, **subkeys = NULL;
  char *was = NULL;
  size_t n = 0, cap = 64;
  int r = -1;

  if (!node)
    return 0;
  if (!(was = calloc (1, cap))) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  /* What goes, for the report: its values (and how many subkeys). */
  if (!(values = lf_hive_value_names (w->hv, node)) ||
      !(subkeys = lf_whive_children (w, node)))
    goto out;
  for (char **v = values; *v; v++) {
    uint32_t t;
    CLEANUP_FREE char *d = NULL;
    CLEANUP_FREE char *desc = NULL;
    size_t len;
    if (lf_whive_get (w, node, *v, &t, &d, &len) != LF_MATCH)
      continue;
    desc = lf_whive_describe (t, d, len);
    if (append (&was, &n, &cap, "%s%s = %s", n ? ", " : "", **v ? *v : "@",
                desc ? desc : "?") == -1) {
      lf_error (ENOMEM, "out of memory");
      goto out;
    }
  }
  if (lf_hive_delete_key (w->hv, node) == -1) {
    lf_error_prefix ("%s", path);
    goto out;
  }
  count_change (w);
  size_t nsub = 0;
  while (subkeys[nsub])
    nsub++;
  lf_plan_note (w->p, w->concern, LF_CHANGED, "%s\\%s: key deleted (%s%s; "
                "%zu subkey%s)", w->label, path, n ? "values: " : "no values",
                was, nsub, nsub == 1 ? "" : "s");
  r = 1;
 out:
  lf_free_names (values);
  lf_free_names (subkeys);
  free (was);
  return r;
}

uint64_t
lf_whive_key (struct lf_whive *w, uint64_t parent, const char *where,
              const char *name)
{
  uint64_t node = lf_hive_child (w->hv, parent, name);

  if (node)
    return node;
  node = lf_hive_add_child (w->hv, parent, name);
  if (!node) {
    lf_error_prefix ("%s", where);
    return 0;
  }
  count_change (w);
  lf_plan_note (w->p, w->concern, LF_CHANGED, "%s\\%s\\%s: key created",
                w->label, where, name);
  return node;
}

int
lf_whive_each_control_set (struct lf_whive *w, lf_whive_set_fn fn, void *arg)
{
  char **sets = lf_whive_control_sets (w);
  int r = -1;

  if (!sets)
    return -1;
  for (char **cs = sets; *cs; cs++)
    if (fn (w, *cs, arg) == -1)
      goto out;
  r = 0;
 out:
  lf_free_names (sets);
  return r;
}

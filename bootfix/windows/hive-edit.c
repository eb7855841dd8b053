/* landfall bootfix/windows: editing a hive through the plan (winfix.h).
 *
 * The hive's bytes come from the plan, go to a private temporary file
 * that hivex opens for writing, and leave through hivex_commit to another
 * temporary file whose bytes are planned for the guest path.  hivex
 * never opens the guest's file (STYLE.md: hivex_commit rewrites its
 * target in place).  Only this file knows hivex's conventions (errno set,
 * 0 or NULL returned).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "winfix.h"

/* A private temporary file in TMPDIR (or /tmp) holding BUF; its name into
 * TMP.  -1 on error.
 */
static int
make_temp (char *tmp, size_t size, const void *buf, size_t len)
{
  const char *dir = getenv ("TMPDIR");
  int fd;

  if (!dir || !*dir || strlen (dir) > size - 32)
    dir = "/tmp";
  snprintf (tmp, size, "%s/landfall-hive-XXXXXX", dir);
  fd = mkstemp (tmp);
  if (fd == -1) {
    lf_error (errno, "%s: cannot make a temporary file: %m", tmp);
    tmp[0] = '\0';
    return -1;
  }
  if (buf && lf_pwrite_all (fd, buf, len, 0) == -1) {
    lf_error (errno, "%s: cannot write a temporary file: %m", tmp);
    close (fd);
    return -1;
  }
  if (close (fd) == -1) {
    lf_error (errno, "%s: close: %m", tmp);
    return -1;
  }
  return 0;
}

struct lf_whive *
lf_whive_open (struct lf_plan *p, const char *concern, const char *path,
               const char *label)
{
  struct lf_whive *w = calloc (1, sizeof *w);
  CLEANUP_FREE char *buf = NULL;
  size_t len = 0;

  if (!w || !(w->concern = strdup (concern)) || !(w->path = strdup (path)) ||
      !(w->label = strdup (label))) {
    lf_error (ENOMEM, "out of memory");
    goto error;
  }
  w->p = p;
  if (lf_plan_read (p, path, WIN_HIVE_MAX, &buf, &len) == -1)
    goto error;
  /* The base block: "regf", then the two sequence numbers (0x04, 0x08).
   * hivex checks the rest; the sequence numbers it ignores.
   */
  if (len < 4096 || memcmp (buf, "regf", 4) != 0) {
    lf_error (EINVAL, "%s: not a registry hive (%zu bytes, no \"regf\" "
              "base block)", path, len);
    goto error;
  }
  uint32_t seq1 = lf_le32 (buf + 4), seq2 = lf_le32 (buf + 8);
  if (seq1 != seq2) {
    lf_error (EUCLEAN, "%s: base block sequence numbers differ (%" PRIu32
              " != %" PRIu32 "): its transaction logs (.LOG1/.LOG2) hold "
              "changes not yet written to the hive; start Windows once and "
              "shut it down cleanly, then try again", path, seq1, seq2);
    goto error;
  }
  if (make_temp (w->tmp, sizeof w->tmp, buf, len) == -1)
    goto error;
  errno = 0;
  w->h = hivex_open (w->tmp, HIVEX_OPEN_WRITE);
  if (!w->h) {
    lf_error (errno ? errno : EINVAL,
              "%s: hivex cannot open the hive: %s (damaged?)", path,
              strerror (errno ? errno : EINVAL));
    goto error;
  }
  LF_DEBUG (1, "%s: %s opened for editing (%zu bytes)", concern, path, len);
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
  if (w->h)
    hivex_close (w->h);
  if (w->tmp[0])
    unlink (w->tmp);
  free (w->concern);
  free (w->path);
  free (w->label);
  free (w);
}

void
lf_whive_cleanup (struct lf_whive **w)
{
  lf_whive_close (*w);
}

int
lf_whive_commit (struct lf_whive *w, const char *why)
{
  char out[64] = "";
  CLEANUP_FREE char *buf = NULL;
  struct stat st;
  int fd = -1, r = -1;

  if (w->changes == 0)
    return 0;
  if (make_temp (out, sizeof out, NULL, 0) == -1)
    goto out;
  /* Never the guest file, never NULL (hivex's own file): see above. */
  if (hivex_commit (w->h, out, 0) == -1) {
    lf_error (errno, "%s: hivex cannot write the edited hive: %m", w->path);
    goto out;
  }
  fd = open (out, O_RDONLY | O_CLOEXEC);
  if (fd == -1 || fstat (fd, &st) == -1) {
    lf_error (errno, "%s: %m", out);
    goto out;
  }
  if (st.st_size < 4096 || (uint64_t) st.st_size > WIN_HIVE_MAX) {
    lf_error (EFBIG, "%s: hivex wrote %jd bytes (limit %" PRIu64 ")", w->path,
              (intmax_t) st.st_size, (uint64_t) WIN_HIVE_MAX);
    goto out;
  }
  buf = malloc ((size_t) st.st_size);
  if (!buf) {
    lf_error (ENOMEM, "out of memory");
    goto out;
  }
  if (lf_pread_all (fd, buf, (size_t) st.st_size, 0) == -1) {
    lf_error (errno, "%s: %m", out);
    goto out;
  }
  r = lf_plan_write (w->p, w->concern, w->path, buf, (size_t) st.st_size,
                     0644, why);
 out:
  if (fd >= 0)
    close (fd);
  if (out[0])
    unlink (out);
  return r;
}

hive_node_h
lf_whive_node (struct lf_whive *w, hive_node_h from, const char *path)
{
  hive_node_h node = from ? from : hivex_root (w->h);
  CLEANUP_FREE char *copy = strdup (path);
  char *save = NULL;

  if (!copy || !node)
    return 0;
  for (char *c = strtok_r (copy, "\\", &save); c && node;
       c = strtok_r (NULL, "\\", &save))
    node = hivex_node_get_child (w->h, node, c);
  return node;
}

char **
lf_whive_children (struct lf_whive *w, hive_node_h node)
{
  hive_node_h *kids;
  char **names;
  size_t n = 0;

  errno = 0;
  kids = hivex_node_children (w->h, node);
  if (!kids) {
    lf_error (errno ? errno : EINVAL, "%s: cannot list subkeys: %s", w->path,
              strerror (errno ? errno : EINVAL));
    return NULL;
  }
  while (kids[n])
    n++;
  if (n > WIN_MAX_SUBKEYS) {
    CLEANUP_FREE char *name = hivex_node_name (w->h, node);
    lf_error (E2BIG, "%s: key \"%s\" has %zu subkeys (limit %d)", w->path,
              name ? name : "?", n, WIN_MAX_SUBKEYS);
    free (kids);
    return NULL;
  }
  names = calloc (n + 1, sizeof *names);
  for (size_t i = 0; names && i < n; i++) {
    names[i] = hivex_node_name (w->h, kids[i]);
    if (!names[i]) {
      lf_error (errno ? errno : EINVAL, "%s: a subkey name cannot be read",
                w->path);
      lf_free_names (names);
      free (kids);
      return NULL;
    }
  }
  free (kids);
  if (!names)
    lf_error (ENOMEM, "out of memory");
  return names;
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
  char **all = lf_whive_children (w, hivex_root (w->h));
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
lf_whive_get (struct lf_whive *w, hive_node_h node, const char *name,
              hive_type *t, char **data, size_t *len)
{
  hive_value_h v;
  char *d, *padded;

  errno = 0;
  v = hivex_node_get_value (w->h, node, name);
  if (!v) {
    if (errno && errno != ENOENT) {
      lf_error (errno, "%s: value \"%s\": %m", w->path, name);
      return -1;
    }
    return LF_NO_MATCH;
  }
  d = hivex_value_value (w->h, v, t, len);
  if (!d) {
    lf_error (errno ? errno : EINVAL, "%s: value \"%s\" cannot be read: %s",
              w->path, name, strerror (errno ? errno : EINVAL));
    return -1;
  }
  /* Two NULs after the data, so that UTF-16 readers always stop. */
  padded = realloc (d, *len + 2);
  if (!padded) {
    free (d);
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  padded[*len] = padded[*len + 1] = '\0';
  *data = padded;
  return LF_MATCH;
}

int
lf_whive_get_dword (struct lf_whive *w, hive_node_h node, const char *name,
                    uint32_t *v)
{
  hive_type t;
  CLEANUP_FREE char *d = NULL;
  size_t len;
  int r = lf_whive_get (w, node, name, &t, &d, &len);

  if (r != LF_MATCH)
    return r;
  if (t == hive_t_REG_DWORD && len == 4)
    *v = lf_le32 (d);
  else if (t == hive_t_REG_DWORD_BIG_ENDIAN && len == 4)
    *v = lf_be32 (d);
  else
    return LF_NO_MATCH;
  return LF_MATCH;
}

char *
lf_whive_get_sz (struct lf_whive *w, hive_node_h node, const char *name)
{
  hive_type t;
  CLEANUP_FREE char *d = NULL;
  size_t len;

  if (lf_whive_get (w, node, name, &t, &d, &len) != LF_MATCH)
    return NULL;
  if ((t != hive_t_REG_SZ && t != hive_t_REG_EXPAND_SZ) || len > WIN_MAX_STRING)
    return NULL;
  return lf_utf16_to_utf8 (d, len, false);
}

int
lf_whive_get_multi (struct lf_whive *w, hive_node_h node, const char *name,
                    char ***list)
{
  hive_type t;
  CLEANUP_FREE char *d = NULL;
  size_t len, n = 0;
  char **out;
  int r = lf_whive_get (w, node, name, &t, &d, &len);

  if (r != LF_MATCH)
    return r;
  if ((t != hive_t_REG_MULTI_SZ && t != hive_t_REG_SZ &&
       t != hive_t_REG_EXPAND_SZ) || len > WIN_MAX_STRING)
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
lf_whive_describe (hive_type t, const void *data, size_t len)
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
  else if (t == hive_t_REG_DWORD && len == 4)
    r = append (&s, &n, &cap, "%" PRIu32, lf_le32 (d));
  else if ((t == hive_t_REG_SZ || t == hive_t_REG_EXPAND_SZ) &&
           len <= WIN_MAX_STRING) {
    CLEANUP_FREE char *u = lf_utf16_to_utf8 (d, len, false);
    r = append (&s, &n, &cap, "%s\"%s\"",
                t == hive_t_REG_EXPAND_SZ ? "expand:" : "", u ? u : "?");
  }
  else if (t == hive_t_REG_MULTI_SZ && len <= WIN_MAX_STRING) {
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
lf_whive_set (struct lf_whive *w, hive_node_h node, const char *where,
              const char *name, hive_type t, const void *data, size_t len)
{
  hive_type ot = hive_t_REG_NONE;
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
  if (r == LF_MATCH) {
    /* Keep the name as Windows spelled it. */
    hive_value_h v = hivex_node_get_value (w->h, node, name);
    oldname = v ? hivex_value_key (w->h, v) : NULL;
  }
  hive_set_value sv = {
    .key = oldname ? oldname : (char *) name,
    .t = t,
    .len = len,
    .value = (char *) data,
  };
  if (hivex_node_set_value (w->h, node, &sv, 0) == -1) {
    lf_error (errno, "%s: %s\\%s: hivex cannot set the value: %m", w->path,
              where, name);
    return -1;
  }
  w->changes++;
  note_value (w, LF_CHANGED, where, name, o, n);
  return 1;
}

int
lf_whive_set_dword (struct lf_whive *w, hive_node_h node, const char *where,
                    const char *name, uint32_t v)
{
  uint8_t b[4];

  lf_put_le32 (b, v);
  return lf_whive_set (w, node, where, name, hive_t_REG_DWORD, b, 4);
}

int
lf_whive_set_sz (struct lf_whive *w, hive_node_h node, const char *where,
                 const char *name, const char *s, bool expand)
{
  size_t len;
  CLEANUP_FREE char *u = lf_win_utf16le (s, &len);

  if (!u)
    return -1;
  return lf_whive_set (w, node, where, name,
                       expand ? hive_t_REG_EXPAND_SZ : hive_t_REG_SZ, u, len);
}

int
lf_whive_set_multi (struct lf_whive *w, hive_node_h node, const char *where,
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
  return lf_whive_set (w, node, where, name, hive_t_REG_MULTI_SZ, buf, len);
}

int
lf_whive_delete (struct lf_whive *w, hive_node_h node, const char *where,
                 const char *name)
{
  hive_value_h *vals = NULL;
  hive_set_value *sv = NULL;
  size_t n = 0, k = 0;
  int r = -1;
  bool found = false;
  CLEANUP_FREE char *o = NULL;

  errno = 0;
  vals = hivex_node_values (w->h, node);
  if (!vals) {
    lf_error (errno ? errno : EINVAL, "%s: %s: cannot list values", w->path,
              where);
    return -1;
  }
  while (vals[n])
    n++;
  sv = calloc (n + 1, sizeof *sv);
  if (!sv) {
    lf_error (ENOMEM, "out of memory");
    goto out;
  }
  /* hivex has no "delete value": set the key's values to all the others,
   * in their order.
   */
  for (size_t i = 0; i < n; i++) {
    char *key = hivex_value_key (w->h, vals[i]);
    hive_type t;
    size_t len;
    char *data = key ? hivex_value_value (w->h, vals[i], &t, &len) : NULL;
    if (!key || !data) {
      lf_error (errno ? errno : EINVAL, "%s: %s: a value cannot be read",
                w->path, where);
      free (key);
      free (data);
      goto out;
    }
    if (!found && strcasecmp (key, name) == 0) {
      found = true;
      o = lf_whive_describe (t, data, len);
      free (key);
      free (data);
      continue;
    }
    sv[k++] = (hive_set_value) { .key = key, .t = t, .len = len,
                                 .value = data };
  }
  if (!found) {
    r = 0;
    goto out;
  }
  if (hivex_node_set_values (w->h, node, k, sv, 0) == -1) {
    lf_error (errno, "%s: %s\\%s: hivex cannot delete the value: %m",
              w->path, where, name);
    goto out;
  }
  w->changes++;
  lf_plan_note (w->p, w->concern, LF_CHANGED, "%s\\%s\\%s: %s -> deleted",
                w->label, where, name, o ? o : "?");
  r = 1;
 out:
  for (size_t i = 0; sv && i < k; i++) {
    free (sv[i].key);
    free (sv[i].value);
  }
  free (sv);
  free (vals);
  return r;
}

hive_node_h
lf_whive_key (struct lf_whive *w, hive_node_h parent, const char *where,
              const char *name)
{
  hive_node_h node = hivex_node_get_child (w->h, parent, name);

  if (node)
    return node;
  node = hivex_node_add_child (w->h, parent, name);
  if (!node) {
    lf_error (errno, "%s: %s: hivex cannot add key \"%s\": %m", w->path,
              where, name);
    return 0;
  }
  w->changes++;
  lf_plan_note (w->p, w->concern, LF_CHANGED, "%s\\%s\\%s: key created",
                w->label, where, name);
  return node;
}

int
lf_whive_each_control_set (struct lf_os *os, struct lf_plan *p,
                           const char *concern, lf_whive_set_fn fn, void *arg)
{
  char path[512];
  CLEANUP_WHIVE struct lf_whive *w = NULL;
  char **sets = NULL;
  int r = -1;

  if (lf_win_hive_path (os, "SYSTEM", path, sizeof path) == -1 ||
      !(w = lf_whive_open (p, concern, path, "SYSTEM")) ||
      !(sets = lf_whive_control_sets (w)))
    goto out;
  for (char **cs = sets; *cs; cs++)
    if (fn (w, *cs, arg) == -1)
      goto out;
  r = lf_whive_commit (w, WIN_HIVE_WHY);
 out:
  lf_free_names (sets);
  return r;
}

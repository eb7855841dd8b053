/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall guest/: a guest kernel's modules.dep, parsed as hostile
 * text (modread.h).
 *
 * depmod writes one line per module: its path relative to
 * lib/modules/KVER, a colon, then every module it needs (the whole
 * closure, in load order reversed), space-separated.  The paths here are
 * later joined to guest and initramfs paths, so each is checked: relative,
 * no empty, "." or ".." component, printable ASCII, a module suffix.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guest/modread.h"

static const char *const module_exts[] = { ".ko", ".ko.xz", ".ko.zst",
                                           ".ko.gz" };

int
lf_module_name (const char *path, char *buf, size_t size)
{
  const char *base = strrchr (path, '/');
  size_t n;

  base = base ? base + 1 : path;
  n = strcspn (base, ".");
  if (n == 0 || n >= size || n > MODULE_MAX_NAME) {
    lf_error (EINVAL, "\"%.100s\": no module name (empty or over %d bytes)",
              path, MODULE_MAX_NAME);
    return -1;
  }
  for (size_t i = 0; i < n; i++)
    buf[i] = base[i] == '-' ? '_' : base[i];
  buf[n] = '\0';
  return 0;
}

bool
lf_modules_builtin_has (const char *builtin, size_t len, const char *name)
{
  const char *p = builtin, *end = builtin + len;
  char want[MODULE_MAX_NAME + 1], got[MODULE_MAX_NAME + 1];
  char line[MODULES_DEP_MAX_PATH];

  if (lf_module_name (name, want, sizeof want) == -1) {
    lf_error_clear ();
    return false;
  }
  while (p < end) {
    const char *nl = memchr (p, '\n', (size_t) (end - p));
    size_t n = nl ? (size_t) (nl - p) : (size_t) (end - p);
    if (n > 0 && n < sizeof line) {
      memcpy (line, p, n);
      line[n] = '\0';
      if (lf_module_name (line, got, sizeof got) == 0 &&
          strcmp (got, want) == 0)
        return true;
      lf_error_clear ();
    }
    p += n + 1;
  }
  return false;
}

/* A module path as depmod writes it for a module inside its directory. */
static int
check_path (const char *name, size_t line, const char *s, size_t n)
{
  bool ext_ok = false;

  if (n == 0 || n >= MODULES_DEP_MAX_PATH) {
    lf_error (EINVAL, "%s: line %zu: module path of %zu bytes (1 to %d "
              "allowed)", name, line, n, MODULES_DEP_MAX_PATH - 1);
    return -1;
  }
  if (s[0] == '/') {
    lf_error (EINVAL, "%s: line %zu: \"%.*s\" is absolute: only modules "
              "inside the module directory are supported", name, line,
              (int) n, s);
    return -1;
  }
  for (size_t i = 0; i < n; i++)
    if (s[i] <= ' ' || s[i] > '~' || s[i] == ':') {
      lf_error (EINVAL, "%s: line %zu: byte 0x%02x at %zu of a module path "
                "is not printable ASCII", name, line,
                (unsigned) (unsigned char) s[i], i);
      return -1;
    }
  for (size_t i = 0; i < n; ) {
    size_t c = 0;
    while (i + c < n && s[i + c] != '/')
      c++;
    if (c == 0 || (c == 1 && s[i] == '.') ||
        (c == 2 && s[i] == '.' && s[i + 1] == '.')) {
      lf_error (EINVAL, "%s: line %zu: \"%.*s\" has an empty, \".\" or "
                "\"..\" component", name, line, (int) n, s);
      return -1;
    }
    i += c + 1;
    if (i == n) {               /* a trailing '/' */
      lf_error (EINVAL, "%s: line %zu: \"%.*s\" ends with '/'", name, line,
                (int) n, s);
      return -1;
    }
  }
  for (size_t e = 0; e < sizeof module_exts / sizeof module_exts[0]; e++) {
    size_t el = strlen (module_exts[e]);
    if (n > el && memcmp (s + n - el, module_exts[e], el) == 0)
      ext_ok = true;
  }
  if (!ext_ok) {
    lf_error (EINVAL, "%s: line %zu: \"%.*s\" does not end in .ko, .ko.xz, "
              ".ko.zst or .ko.gz", name, line, (int) n, s);
    return -1;
  }
  return 0;
}

static const struct lf_moddep *sort_dep;        /* for the comparators */

static int
by_name_cmp (const void *a, const void *b)
{
  size_t x = *(const size_t *) a, y = *(const size_t *) b;
  int c = strcmp (sort_dep->e[x].name, sort_dep->e[y].name);
  return c ? c : x < y ? -1 : x > y ? 1 : 0;
}

static int
by_path_cmp (const void *a, const void *b)
{
  size_t x = *(const size_t *) a, y = *(const size_t *) b;
  int c = strcmp (sort_dep->e[x].path, sort_dep->e[y].path);
  return c ? c : x < y ? -1 : x > y ? 1 : 0;
}

/* Index of the entry with PATH through BY_PATH, or SIZE_MAX. */
static size_t
find_path (const struct lf_moddep *d, const size_t *by_path, const char *path)
{
  size_t lo = 0, hi = d->n;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp (d->e[by_path[mid]].path, path);
    if (c == 0)
      return by_path[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return SIZE_MAX;
}

void
lf_moddep_free (struct lf_moddep *d)
{
  if (!d)
    return;
  for (size_t i = 0; i < d->n; i++) {
    free (d->e[i].path);
    free (d->e[i].name);
    free (d->e[i].deps);
  }
  free (d->e);
  free (d->by_name);
  memset (d, 0, sizeof *d);
}

int
lf_moddep_parse (const char *buf, size_t len, const char *name,
                 struct lf_moddep *ret)
{
  struct lf_moddep d = { 0 };
  size_t cap = 0, lineno = 0;
  const char *p = buf, *end = buf + len;
  /* Dependency paths as written, per entry, resolved after the scan. */
  char ***dpaths = NULL;
  CLEANUP_FREE size_t *by_path = NULL;

  memset (ret, 0, sizeof *ret);
  if (len > MODULES_DEP_MAX_SIZE) {
    lf_error (EFBIG, "%s: %zu bytes is over the limit of %llu", name, len,
              (unsigned long long) MODULES_DEP_MAX_SIZE);
    return -1;
  }
  while (p < end) {
    const char *nl = memchr (p, '\n', (size_t) (end - p));
    const char *le = nl ? nl : end;
    size_t n = (size_t) (le - p);
    const char *colon, *q;
    struct lf_moddep_entry *e;
    char mname[MODULE_MAX_NAME + 1];

    lineno++;
    if (n > MODULES_DEP_MAX_LINE) {
      lf_error (EINVAL, "%s: line %zu is %zu bytes long (limit %d)", name,
                lineno, n, MODULES_DEP_MAX_LINE);
      goto error;
    }
    if (memchr (p, '\0', n)) {
      lf_error (EINVAL, "%s: line %zu holds a NUL byte", name, lineno);
      goto error;
    }
    if (n == 0 || p[0] == '#') {
      p = le + 1;
      continue;
    }
    colon = memchr (p, ':', n);
    if (!colon) {
      lf_error (EINVAL, "%s: line %zu: no ':' after the module path", name,
                lineno);
      goto error;
    }
    if (check_path (name, lineno, p, (size_t) (colon - p)) == -1)
      goto error;
    if (d.n >= MODULES_DEP_MAX_LINES) {
      lf_error (E2BIG, "%s: more than %u modules (limit)", name,
                MODULES_DEP_MAX_LINES);
      goto error;
    }
    if (d.n == cap) {
      size_t ncap = cap ? cap * 2 : 256;
      struct lf_moddep_entry *ne = realloc (d.e, ncap * sizeof *ne);
      char ***nd = ne ? realloc (dpaths, ncap * sizeof *nd) : NULL;
      if (ne)
        d.e = ne;
      if (nd)
        dpaths = nd;
      if (!ne || !nd) {
        lf_error (ENOMEM, "out of memory");
        goto error;
      }
      cap = ncap;
    }
    e = &d.e[d.n];
    memset (e, 0, sizeof *e);
    dpaths[d.n] = NULL;
    d.n++;
    e->line = lineno;
    e->path = strndup (p, (size_t) (colon - p));
    if (!e->path) {
      lf_error (ENOMEM, "out of memory");
      goto error;
    }
    if (lf_module_name (e->path, mname, sizeof mname) == -1) {
      lf_error_prefix ("%s: line %zu", name, lineno);
      goto error;
    }
    e->name = strdup (mname);
    if (!e->name) {
      lf_error (ENOMEM, "out of memory");
      goto error;
    }
    /* The dependencies. */
    size_t ndeps = 0;
    for (q = colon + 1; q < le; ) {
      while (q < le && (*q == ' ' || *q == '\t' || *q == '\r'))
        q++;
      if (q == le)
        break;
      const char *w = q;
      while (q < le && *q != ' ' && *q != '\t' && *q != '\r')
        q++;
      if (check_path (name, lineno, w, (size_t) (q - w)) == -1)
        goto error;
      if (ndeps >= MODULES_DEP_MAX_DEPS) {
        lf_error (E2BIG, "%s: line %zu: %s has more than %d dependencies "
                  "(limit)", name, lineno, e->path, MODULES_DEP_MAX_DEPS);
        goto error;
      }
      char **nd = realloc (dpaths[d.n - 1], (ndeps + 2) * sizeof *nd);
      if (!nd) {
        lf_error (ENOMEM, "out of memory");
        goto error;
      }
      dpaths[d.n - 1] = nd;
      nd[ndeps + 1] = NULL;
      nd[ndeps] = strndup (w, (size_t) (q - w));
      if (!nd[ndeps]) {
        lf_error (ENOMEM, "out of memory");
        goto error;
      }
      ndeps++;
    }
    e->ndeps = ndeps;
    p = le + 1;
  }

  /* Resolve dependency paths to entries. */
  sort_dep = &d;
  by_path = malloc ((d.n ? d.n : 1) * sizeof *by_path);
  d.by_name = malloc ((d.n ? d.n : 1) * sizeof *d.by_name);
  if (!by_path || !d.by_name) {
    lf_error (ENOMEM, "out of memory");
    goto error;
  }
  for (size_t i = 0; i < d.n; i++)
    by_path[i] = d.by_name[i] = i;
  qsort (by_path, d.n, sizeof *by_path, by_path_cmp);
  qsort (d.by_name, d.n, sizeof *d.by_name, by_name_cmp);
  for (size_t i = 0; i + 1 < d.n; i++)
    if (strcmp (d.e[by_path[i]].path, d.e[by_path[i + 1]].path) == 0) {
      lf_error (EINVAL, "%s: line %zu: %s is listed again (first on line "
                "%zu)", name, d.e[by_path[i + 1]].line,
                d.e[by_path[i + 1]].path, d.e[by_path[i]].line);
      goto error;
    }
  for (size_t i = 0; i < d.n; i++) {
    struct lf_moddep_entry *e = &d.e[i];
    if (e->ndeps == 0)
      continue;
    e->deps = malloc (e->ndeps * sizeof *e->deps);
    if (!e->deps) {
      lf_error (ENOMEM, "out of memory");
      goto error;
    }
    for (size_t j = 0; j < e->ndeps; j++) {
      size_t k = find_path (&d, by_path, dpaths[i][j]);
      if (k == SIZE_MAX) {
        lf_error (EINVAL, "%s: line %zu: dependency %s of %s has no line "
                  "of its own", name, e->line, dpaths[i][j], e->path);
        goto error;
      }
      e->deps[j] = k;
    }
  }
  for (size_t i = 0; i < d.n; i++) {
    for (char **s = dpaths[i]; s && *s; s++)
      free (*s);
    free (dpaths[i]);
  }
  free (dpaths);
  *ret = d;
  return 0;

 error:
  for (size_t i = 0; dpaths && i < d.n; i++) {
    for (char **s = dpaths[i]; s && *s; s++)
      free (*s);
    free (dpaths[i]);
  }
  free (dpaths);
  lf_moddep_free (&d);
  return -1;
}

const struct lf_moddep_entry *
lf_moddep_find (const struct lf_moddep *d, const char *name)
{
  char want[MODULE_MAX_NAME + 1];
  size_t lo = 0, hi = d->n;

  if (lf_module_name (name, want, sizeof want) == -1) {
    lf_error_clear ();
    return NULL;
  }
  /* The first of equal names: the module depmod put first. */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (strcmp (d->e[d->by_name[mid]].name, want) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < d->n && strcmp (d->e[d->by_name[lo]].name, want) == 0)
    return &d->e[d->by_name[lo]];
  return NULL;
}

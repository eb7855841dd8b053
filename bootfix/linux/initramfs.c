/* landfall bootfix/linux: the target's drivers in the guest's initramfs
 * images (reference/linux.md §2), natively: nothing from the guest runs.
 *
 * For every kernel with an initramfs: the profile's linux.modules (Azure's
 * hv_vmbus, hv_storvsc and hv_netvsc) and their dependency closure (from the guest's own
 * modules.dep) are copied from the guest's module tree into the image's
 * main segment, at the same relative path and with the same compression;
 * the image's module indexes, text and binary, are rebuilt from the
 * guest's full-tree ones filtered to the modules the image holds (what
 * "depmod -b" over the image gives); they go into the generator's
 * early-load list; and the guest's generator config gets them too, so
 * the next kernel update keeps them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ctype.h>

#include "bootfix.h"

/* ---- The fix -------------------------------------------------------- */

#define CONCERN "initramfs"
#define MODULE_FILE_MAX   (64 * LF_MiB)   /* one module file */
#define MODULES_INDEX_MAX (64 * LF_MiB)   /* one modules.* file */
#define MODULES_TEXT_MAX_LINE 8192        /* one alias/symbol line */

static const char *const module_exts[] = { ".ko", ".ko.xz", ".ko.zst",
                                           ".ko.gz" };

static bool
is_module_path (const char *path)
{
  size_t n = strlen (path);
  for (size_t e = 0; e < sizeof module_exts / sizeof module_exts[0]; e++) {
    size_t el = strlen (module_exts[e]);
    if (n > el && strcmp (path + n - el, module_exts[e]) == 0)
      return true;
  }
  return false;
}

/* A guest or image file that may be absent: 0 with *BUF NULL if so. */
static int
read_opt (struct lf_plan *p, const char *path, size_t max, char **buf,
          size_t *len)
{
  *buf = NULL;
  *len = 0;
  if (lf_plan_read (p, path, max, buf, len) == 0)
    return 0;
  if (lf_last_errno () == ENOENT) {
    lf_error_clear ();
    return 0;
  }
  return -1;
}

/* The modules an image holds for one kernel: name -> path relative to
 * its module directory, sorted by name.
 */
struct present {
  size_t n, cap;
  char **name, **rel;
};

static void
present_free (struct present *ps)
{
  for (size_t i = 0; i < ps->n; i++) {
    free (ps->name[i]);
    free (ps->rel[i]);
  }
  free (ps->name);
  free (ps->rel);
  memset (ps, 0, sizeof *ps);
}

static ssize_t
present_find (const struct present *ps, const char *name)
{
  size_t lo = 0, hi = ps->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp (ps->name[mid], name);
    if (c == 0)
      return (ssize_t) mid;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

/* Insert or replace (a later archive entry overrides an earlier one). */
static int
present_add (struct present *ps, const char *name, const char *rel)
{
  size_t lo = 0, hi = ps->n;
  char *n = NULL, *r = NULL;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp (ps->name[mid], name);
    if (c == 0) {
      if (!(r = strdup (rel)))
        goto nomem;
      free (ps->rel[mid]);
      ps->rel[mid] = r;
      return 0;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (ps->n == ps->cap) {
    size_t ncap = ps->cap ? ps->cap * 2 : 256;
    char **a = realloc (ps->name, ncap * sizeof *a);
    if (!a)
      goto nomem;
    ps->name = a;
    a = realloc (ps->rel, ncap * sizeof *a);
    if (!a)
      goto nomem;
    ps->rel = a;
    ps->cap = ncap;
  }
  n = strdup (name);
  r = strdup (rel);
  if (!n || !r)
    goto nomem;
  memmove (ps->name + lo + 1, ps->name + lo, (ps->n - lo) * sizeof (char *));
  memmove (ps->rel + lo + 1, ps->rel + lo, (ps->n - lo) * sizeof (char *));
  ps->name[lo] = n;
  ps->rel[lo] = r;
  ps->n++;
  return 0;

 nomem:
  free (n);
  free (r);
  lf_error (ENOMEM, "out of memory");
  return -1;
}

/* Every module file under MODDIR (the image's resolved module directory). */
static int
scan_present (struct lf_initramfs *img, const char *moddir,
              struct present *ps)
{
  size_t dl = strlen (moddir);

  for (size_t i = 0; i < lf_initramfs_nentries (img); i++) {
    const struct lf_initramfs_entry *e = lf_initramfs_entry (img, i);
    char name[MODULE_MAX_NAME + 1];

    if (!S_ISREG (e->mode) || strncmp (e->path, moddir, dl) != 0 ||
        e->path[dl] != '/' || !is_module_path (e->path))
      continue;
    if (lf_module_name (e->path, name, sizeof name) == -1) {
      lf_error_clear ();
      continue;
    }
    if (present_add (ps, name, e->path + dl + 1) == -1)
      return -1;
  }
  return 0;
}

/* Split LINE (no newline) into at most MAX whitespace-separated fields. */
static size_t
fields (char *line, char **f, size_t max)
{
  size_t n = 0;
  char *save = NULL;
  for (char *t = strtok_r (line, " \t\r", &save); t && n < max;
       t = strtok_r (NULL, " \t\r", &save))
    f[n++] = t;
  return n;
}

/* What the rebuild needs to know about the modules. */
struct modset {
  const struct lf_moddep *guest;        /* the guest's full tree */
  const struct present *ps;             /* the image's, after additions */
  const char *const *order;             /* names in output order */
  size_t norder;
};

/* Priority of a module in the indexes: its place in modules.dep (depmod's
 * mod->idx).
 */
static uint32_t
mod_prio (const struct modset *ms, const char *name)
{
  for (size_t i = 0; i < ms->norder; i++)
    if (strcmp (ms->order[i], name) == 0)
      return (uint32_t) i;
  return UINT32_MAX;
}

/* Is the module one the output covers from SRC?  From the guest's files:
 * present in the image and known to the guest's tree; from the image's
 * old files: present and unknown to the guest's tree.
 */
static bool
covered (const struct modset *ms, const char *name, bool from_guest)
{
  if (present_find (ms->ps, name) < 0)
    return false;
  return (lf_moddep_find (ms->guest, name) != NULL) == from_guest;
}

enum text_kind { TXT_ALIAS, TXT_SYMBOLS, TXT_SOFTDEP, TXT_DEVNAME };

/* Filter one modules.{alias,symbols,softdep,weakdep,devname} text to the
 * covered modules into OUT, adding alias/symbol entries to BIN.  Comment
 * lines are copied when WITH_COMMENTS.
 */
static int
filter_text (const struct modset *ms, const char *fname, const char *src,
             size_t len, enum text_kind kind, bool from_guest,
             bool with_comments, struct lf_ird_buf *out,
             struct lf_kmod_index *bin)
{
  const char *p = src, *end = src + len;
  size_t lineno = 0;
  char line[MODULES_TEXT_MAX_LINE], norm[KMOD_INDEX_MAX_KEY + 1];

  while (p < end) {
    const char *nl = memchr (p, '\n', (size_t) (end - p));
    size_t n = nl ? (size_t) (nl - p) : (size_t) (end - p);
    char *f[3];
    size_t nf;
    const char *mod;

    lineno++;
    if (n >= sizeof line) {
      lf_error (EINVAL, "%s: line %zu is %zu bytes long (limit %d)", fname,
                lineno, n, MODULES_TEXT_MAX_LINE - 1);
      return -1;
    }
    memcpy (line, p, n);
    line[n] = '\0';
    if (memchr (p, '\0', n)) {
      lf_error (EINVAL, "%s: line %zu holds a NUL byte", fname, lineno);
      return -1;
    }
    if (n == 0 || line[0] == '#') {
      if (with_comments && n > 0 &&
          (lf_ird_buf_append (out, p, n) == -1 ||
           lf_ird_buf_append (out, "\n", 1) == -1))
        return -1;
      p += n + 1;
      continue;
    }
    nf = fields (line, f, 3);
    mod = NULL;
    switch (kind) {
    case TXT_ALIAS: case TXT_SYMBOLS:
      if (nf == 3 && strcmp (f[0], "alias") == 0)
        mod = f[2];
      break;
    case TXT_SOFTDEP:
      if (nf >= 2)
        mod = f[1];
      break;
    case TXT_DEVNAME:
      if (nf >= 1)
        mod = f[0];
      break;
    }
    if (mod && covered (ms, mod, from_guest)) {
      if (lf_ird_buf_append (out, p, n) == -1 ||
          lf_ird_buf_append (out, "\n", 1) == -1)
        return -1;
      if (bin && kind == TXT_ALIAS) {
        /* depmod leaves an alias it cannot normalise out of the index. */
        if (lf_kmod_alias_normalize (f[1], norm, sizeof norm) == 0) {
          if (lf_kmod_index_add (bin, norm, mod, mod_prio (ms, mod)) == -1)
            return -1;
        }
        else
          lf_error_clear ();
      }
      else if (bin && kind == TXT_SYMBOLS) {
        if (lf_kmod_index_add (bin, f[1], mod, mod_prio (ms, mod)) == -1)
          return -1;
      }
    }
    p += n + 1;
  }
  return 0;
}

/* Add BUF to the image at DIR/NAME. */
static int
put_file (struct lf_initramfs *img, const char *dir, const char *name,
          const void *buf, size_t len)
{
  CLEANUP_FREE char *path = NULL;
  if (asprintf (&path, "%s/%s", dir, name) == -1) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  return lf_initramfs_add (img, path, 0644, buf, len);
}

static int
put_index (struct lf_initramfs *img, const char *dir, const char *name,
           struct lf_kmod_index *bin)
{
  CLEANUP_FREE void *buf = NULL;
  size_t len;
  if (lf_kmod_index_write (bin, &buf, &len) == -1)
    return -1;
  return put_file (img, dir, name, buf, len);
}

static bool
image_has (struct lf_initramfs *img, const char *dir, const char *name)
{
  char path[1024];
  snprintf (path, sizeof path, "%s/%s", dir, name);
  bool r = lf_initramfs_lookup (img, path, true) != NULL;
  lf_error_clear ();
  return r;
}

/* The text files of the guest and the image, for one kind of index. */
struct texts {
  char *guest, *image;
  size_t glen, ilen;
};

static int
load_texts (struct lf_plan *p, struct lf_initramfs *img, const char *gdir,
            const char *idir, const char *name, struct texts *t)
{
  char path[1024];
  snprintf (path, sizeof path, "%s/%s", gdir, name);
  if (read_opt (p, path, MODULES_INDEX_MAX, &t->guest, &t->glen) == -1)
    return -1;
  snprintf (path, sizeof path, "%s/%s", idir, name);
  return lf_initramfs_text (img, path, &t->image, &t->ilen);
}

static void
texts_free (struct texts *t)
{
  free (t->guest);
  free (t->image);
}

/* One filtered text index (and its .bin if BINNAME), from the guest's
 * file and the image's old one.  HEADER is depmod's first line.
 */
static int
rebuild_text (struct lf_plan *p, struct lf_initramfs *img,
              const struct modset *ms, const char *gdir, const char *idir,
              const char *name, const char *binname, const char *header,
              enum text_kind kind)
{
  struct texts t = { 0 };
  struct lf_ird_buf out = { 0 };
  struct lf_kmod_index *bin = NULL;
  int r = -1;

  if (load_texts (p, img, gdir, idir, name, &t) == -1)
    goto done;
  if (binname && !(bin = lf_kmod_index_new (binname)))
    goto done;
  if (header && lf_ird_buf_append (&out, header, strlen (header)) == -1)
    goto done;
  if ((t.guest && filter_text (ms, name, t.guest, t.glen, kind, true,
                               !header, &out, bin) == -1) ||
      (t.image && filter_text (ms, name, t.image, t.ilen, kind, false,
                               false, &out, bin) == -1))
    goto done;
  if (put_file (img, idir, name, out.p ? (void *) out.p : (void *) "",
                out.len) == -1 ||
      (bin && put_index (img, idir, binname, bin) == -1))
    goto done;
  r = 0;
 done:
  texts_free (&t);
  free (out.p);
  lf_kmod_index_free (bin);
  return r;
}

/* modules.dep(.bin) for the present modules; fills the output order. */
static int
rebuild_dep (struct lf_initramfs *img, struct modset *ms,
             const struct lf_moddep *old, const char *idir,
             const char **order)
{
  struct lf_ird_buf out = { 0 };
  struct lf_kmod_index *bin = lf_kmod_index_new ("modules.dep.bin");
  int r = -1;
  size_t n = 0;

  if (!bin)
    return -1;
  /* The guest's order (depmod's), then modules only the image knows. */
  for (int pass = 0; pass < 2; pass++) {
    const struct lf_moddep *d = pass == 0 ? ms->guest : old;
    for (size_t i = 0; d && i < d->n; i++) {
      const struct lf_moddep_entry *e = &d->e[i];
      ssize_t k = present_find (ms->ps, e->name);
      size_t start = out.len;
      if (k < 0 || (pass == 1 && lf_moddep_find (ms->guest, e->name)))
        continue;
      /* A name twice in the guest's tree (updates/ overriding kernel/):
       * the first line is the one modprobe uses.
       */
      if (pass == 0 && lf_moddep_find (ms->guest, e->name) != e)
        continue;
      const char *rel = ms->ps->rel[k];
      if (lf_ird_buf_append (&out, rel, strlen (rel)) == -1 ||
          lf_ird_buf_append (&out, ":", 1) == -1)
        goto done;
      for (size_t j = 0; j < e->ndeps; j++) {
        ssize_t dk = present_find (ms->ps, d->e[e->deps[j]].name);
        if (dk < 0)
          continue;             /* as depmod over the image: not there */
        if (lf_ird_buf_append (&out, " ", 1) == -1 ||
            lf_ird_buf_append (&out, ms->ps->rel[dk],
                               strlen (ms->ps->rel[dk])) == -1)
          goto done;
      }
      if (lf_ird_buf_append (&out, "\0", 1) == -1)
        goto done;
      if (lf_kmod_index_add (bin, e->name, (const char *) out.p + start,
                             (uint32_t) n) == -1)
        goto done;
      out.p[out.len - 1] = '\n';
      order[n++] = e->name;
    }
  }
  ms->order = order;
  ms->norder = n;
  if (put_file (img, idir, "modules.dep", out.p ? (void *) out.p : (void *) "",
                out.len) == -1 ||
      put_index (img, idir, "modules.dep.bin", bin) == -1)
    goto done;
  r = 0;
 done:
  free (out.p);
  lf_kmod_index_free (bin);
  return r;
}

/* modules.builtin(.bin), and modules.builtin.modinfo with
 * modules.builtin.alias.bin where the image has them: the kernel's, so
 * the guest's files as they are.
 */
static int
rebuild_builtin (struct lf_plan *p, struct lf_initramfs *img,
                 const char *gdir, const char *idir)
{
  CLEANUP_FREE char *b = NULL, *mi = NULL;
  size_t blen, milen;
  char path[1024];
  struct lf_kmod_index *bin = NULL;
  int r = -1;

  snprintf (path, sizeof path, "%s/modules.builtin", gdir);
  if (read_opt (p, path, MODULES_INDEX_MAX, &b, &blen) == -1)
    return -1;
  if (b) {
    if (!(bin = lf_kmod_index_new ("modules.builtin.bin")))
      return -1;
    for (const char *q = b, *end = b + blen; q < end; ) {
      const char *nl = memchr (q, '\n', (size_t) (end - q));
      size_t n = nl ? (size_t) (nl - q) : (size_t) (end - q);
      char line[MODULES_DEP_MAX_PATH], name[MODULE_MAX_NAME + 1];
      /* depmod takes lines that start with a letter. */
      if (n > 0 && n < sizeof line && isalpha ((unsigned char) q[0])) {
        memcpy (line, q, n);
        line[n] = '\0';
        if (lf_module_name (line, name, sizeof name) == -1 ||
            lf_kmod_index_add (bin, name, "", 0) == -1) {
          lf_error_prefix ("%s", path);
          goto done;
        }
      }
      q += n + 1;
    }
    if (put_file (img, idir, "modules.builtin", b, blen) == -1 ||
        put_index (img, idir, "modules.builtin.bin", bin) == -1)
      goto done;
    lf_kmod_index_free (bin);
    bin = NULL;
  }

  snprintf (path, sizeof path, "%s/modules.builtin.modinfo", gdir);
  if (read_opt (p, path, MODULES_INDEX_MAX, &mi, &milen) == -1)
    goto done;
  if (mi && (image_has (img, idir, "modules.builtin.modinfo") ||
             image_has (img, idir, "modules.builtin.alias.bin"))) {
    char norm[KMOD_INDEX_MAX_KEY + 1];
    if (!(bin = lf_kmod_index_new ("modules.builtin.alias.bin")))
      goto done;
    /* NUL-separated "module.key=value" strings. */
    for (const char *q = mi, *end = mi + milen; q < end; ) {
      const char *z = memchr (q, '\0', (size_t) (end - q));
      size_t n = z ? (size_t) (z - q) : (size_t) (end - q);
      const char *dot = memchr (q, '.', n);
      char mod[MODULE_MAX_NAME + 1], val[KMOD_INDEX_MAX_KEY + 1];
      if (dot && (size_t) (dot - q) <= MODULE_MAX_NAME &&
          n - (size_t) (dot - q) > 7 && strncmp (dot, ".alias=", 7) == 0 &&
          n - (size_t) (dot - q) - 7 <= KMOD_INDEX_MAX_KEY) {
        size_t ml = (size_t) (dot - q), vl = n - ml - 7;
        memcpy (mod, q, ml);
        mod[ml] = '\0';
        memcpy (val, dot + 7, vl);
        val[vl] = '\0';
        if (lf_kmod_alias_normalize (val, norm, sizeof norm) == 0) {
          if (lf_kmod_index_add (bin, norm, mod, 0) == -1)
            goto done;
        }
        else
          lf_error_clear ();
      }
      q += n + 1;
    }
    if ((image_has (img, idir, "modules.builtin.modinfo") &&
         put_file (img, idir, "modules.builtin.modinfo", mi, milen) == -1) ||
        put_index (img, idir, "modules.builtin.alias.bin", bin) == -1)
      goto done;
  }
  r = 0;
 done:
  lf_kmod_index_free (bin);
  return r;
}

/* Every index of IDIR for the modules in PS. */
static int
rebuild_indexes (struct lf_plan *p, struct lf_initramfs *img,
                 const struct lf_moddep *guest, const struct present *ps,
                 const char *gdir, const char *idir)
{
  struct modset ms = { .guest = guest, .ps = ps };
  struct lf_moddep old = { 0 };
  CLEANUP_FREE char *oldtxt = NULL;
  CLEANUP_FREE const char **order = NULL;
  char path[1024];
  size_t oldlen;
  int r = -1;

  /* The image's own modules.dep, for modules the guest's tree lacks. */
  snprintf (path, sizeof path, "%s/modules.dep", idir);
  if (lf_initramfs_text (img, path, &oldtxt, &oldlen) == -1)
    goto done;
  if (oldtxt && lf_moddep_parse (oldtxt, oldlen, path, &old) == -1)
    lf_error_clear ();          /* a damaged one is simply replaced */
  order = malloc ((guest->n + old.n + 1) * sizeof *order);
  if (!order) {
    lf_error (ENOMEM, "out of memory");
    goto done;
  }
  if (rebuild_dep (img, &ms, &old, idir, order) == -1 ||
      rebuild_text (p, img, &ms, gdir, idir, "modules.alias",
                    "modules.alias.bin",
                    "# Aliases extracted from modules themselves.\n",
                    TXT_ALIAS) == -1 ||
      rebuild_text (p, img, &ms, gdir, idir, "modules.symbols",
                    "modules.symbols.bin",
                    "# Aliases for symbols, used by symbol_request().\n",
                    TXT_SYMBOLS) == -1 ||
      rebuild_builtin (p, img, gdir, idir) == -1)
    goto done;
  if (image_has (img, idir, "modules.softdep") &&
      rebuild_text (p, img, &ms, gdir, idir, "modules.softdep", NULL,
                    "# Soft dependencies extracted from modules themselves.\n",
                    TXT_SOFTDEP) == -1)
    goto done;
  if (image_has (img, idir, "modules.weakdep") &&
      rebuild_text (p, img, &ms, gdir, idir, "modules.weakdep", NULL,
                    "# Weak dependencies extracted from modules themselves.\n",
                    TXT_SOFTDEP) == -1)
    goto done;
  if (image_has (img, idir, "modules.devname") &&
      rebuild_text (p, img, &ms, gdir, idir, "modules.devname", NULL,
                    "# Device nodes to trigger on-demand module loading.\n",
                    TXT_DEVNAME) == -1)
    goto done;
  r = 0;
 done:
  lf_moddep_free (&old);
  return r;
}

/* Does an early-load list name module NAME?  initramfs-tools style (also
 * /etc/initramfs-tools/modules): a line's first word; dracut style:
 * rd.driver.pre=a,b words.
 */
static bool
early_list_has (const char *txt, bool dracut, const char *name)
{
  size_t nl = strlen (name);

  for (const char *q = txt; q && *q; ) {
    size_t n = strcspn (q, "\n");
    if (!dracut) {
      /* One module (and its options) per line: a line's first word. */
      size_t sp = strspn (q, " \t");
      if (n >= sp + nl && strncmp (q + sp, name, nl) == 0 &&
          (sp + nl == n || q[sp + nl] == ' ' || q[sp + nl] == '\t' ||
           q[sp + nl] == '\r'))
        return true;
    }
    else {
      /* rd.driver.pre=a,b words anywhere on the line. */
      for (const char *w = q; w < q + n; ) {
        size_t wl;
        w += strspn (w, " \t\r");
        wl = strcspn (w, " \t\r\n");
        if (wl > 14 && strncmp (w, "rd.driver.pre=", 14) == 0)
          for (const char *m = w + 14; m < w + wl; ) {
            size_t ml = strcspn (m, ", \t\r\n");
            if (ml == nl && strncmp (m, name, nl) == 0)
              return true;
            m += ml + 1;
          }
        if (wl == 0)
          break;
        w += wl;
      }
    }
    q += n + (q[n] == '\n');
  }
  return false;
}

/* The early-load list in the image (initramfs-tools: conf/modules; dracut:
 * rd.driver.pre= in etc/cmdline.d files, written to the file dracut's
 * force_drivers writes): *OK if it names all NNEED of NEED; if APPLY,
 * the missing ones are appended.
 */
#define EARLY_TOOLS   "conf/modules"
#define EARLY_DRACUT  "etc/cmdline.d/20-force_drivers.conf"

static int
early_list (struct lf_initramfs *img, const char *gen, const char **need,
            size_t nneed, bool apply, bool *ok)
{
  bool dracut = strcmp (gen, "dracut") == 0;
  const char *path = dracut ? EARLY_DRACUT : EARLY_TOOLS;
  CLEANUP_FREE char *txt = NULL, *all = NULL;
  size_t len;
  struct lf_ird_buf out = { 0 };
  int r = -1;

  *ok = true;
  if (lf_initramfs_text (img, path, &txt, &len) == -1)
    return -1;
  if (dracut && !txt) {
    /* rd.driver.pre= in any other etc/cmdline.d file counts too. */
    for (size_t i = 0; i < lf_initramfs_nentries (img); i++) {
      const struct lf_initramfs_entry *e = lf_initramfs_entry (img, i);
      if (S_ISREG (e->mode) && strncmp (e->path, "etc/cmdline.d/", 14) == 0 &&
          e->size < 65536 && (e->data || e->size == 0)) {
        char *n = NULL;
        if (asprintf (&n, "%s%.*s\n", all ? all : "", (int) e->size,
                      (const char *) e->data) == -1) {
          lf_error (ENOMEM, "out of memory");
          return -1;
        }
        free (all);
        all = n;
      }
    }
  }
  if (txt && lf_ird_buf_append (&out, txt, len) == -1)
    goto done;
  for (size_t i = 0; i < nneed; i++) {
    if (early_list_has (txt, dracut, need[i]) ||
        early_list_has (all, dracut, need[i]))
      continue;
    *ok = false;
    if (out.len && out.p[out.len - 1] != '\n' &&
        lf_ird_buf_append (&out, "\n", 1) == -1)
      goto done;
    if ((dracut && lf_ird_buf_append (&out, "rd.driver.pre=", 14) == -1) ||
        lf_ird_buf_append (&out, need[i], strlen (need[i])) == -1 ||
        lf_ird_buf_append (&out, "\n", 1) == -1)
      goto done;
  }
  if (!*ok && apply &&
      lf_initramfs_add (img, path, 0644, out.p, out.len) == -1)
    goto done;
  r = 0;
 done:
  free (out.p);
  return r;
}

/* Does the image's modules.dep.bin resolve module NAME to REL? */
static bool
dep_bin_resolves (struct lf_initramfs *img, const char *idir,
                  const char *name, const char *rel)
{
  char path[1024];
  CLEANUP_FREE char *value = NULL;
  const struct lf_initramfs_entry *e;
  size_t rl = strlen (rel);

  snprintf (path, sizeof path, "%s/modules.dep.bin", idir);
  e = lf_initramfs_lookup (img, path, true);
  if (!e || !S_ISREG (e->mode) || !e->data) {
    lf_error_clear ();
    return false;
  }
  if (lf_kmod_index_lookup (e->data, e->size, path, name, &value) != LF_MATCH) {
    lf_error_clear ();
    return false;
  }
  return strncmp (value, rel, rl) == 0 && value[rl] == ':';
}

/* The modules a profile wants in every initramfs: the first NREQ must be
 * there, the rest where the kernel has them.  FOUND[m] is set when a
 * kernel's image got (or had) module m, for the generator's config.
 */
struct modlist {
  const struct lf_hw_profile *hw;
  const char **name;
  bool *found;
  size_t n, nreq;
};

/* The rescue image of a BLS system (dracut --no-hostonly): generic, so it
 * should hold the drivers already; never rebuilt here.
 */
static void
check_rescue (struct lf_plan *p, const char *path,
              const struct lf_hw_profile *hw)
{
  char *buf = NULL;
  size_t len;
  struct lf_initramfs *img;
  char missing[512] = "";

  if (lf_plan_read (p, path, LF_INITRAMFS_READ_MAX, &buf, &len) == -1) {
    lf_plan_note (p, CONCERN, LF_WARNING, "rescue image: %s", lf_last_error ());
    lf_error_clear ();
    return;
  }
  img = lf_linux_initramfs_parse (buf, len, path, false);
  if (!img) {
    lf_plan_note (p, CONCERN, LF_WARNING, "rescue image: %s", lf_last_error ());
    lf_error_clear ();
    return;
  }
  for (char **m = hw->linux_modules; *m; m++) {
    bool have = false;
    for (size_t i = 0; !have && i < lf_initramfs_nentries (img); i++) {
      const struct lf_initramfs_entry *e = lf_initramfs_entry (img, i);
      char name[MODULE_MAX_NAME + 1];
      if (!S_ISREG (e->mode) || !is_module_path (e->path) ||
          lf_module_name (e->path, name, sizeof name) == -1) {
        lf_error_clear ();
        continue;
      }
      have = strcmp (name, *m) == 0;
    }
    if (!have && strlen (missing) + strlen (*m) + 3 < sizeof missing)
      snprintf (missing + strlen (missing), sizeof missing - strlen (missing),
                "%s%s", *missing ? ", " : "", *m);
  }
  lf_initramfs_free (img);
  if (!*missing)
    lf_plan_note (p, CONCERN, LF_ALREADY_RIGHT,
                  "%s: a generic rescue image holding the drivers %s needs "
                  "(not rebuilt)", path, hw->name);
  else
    lf_plan_note (p, CONCERN, LF_WARNING,
                  "%s: rescue image without %s: it will not find its disk "
                  "on %s (not rebuilt: rescue images are generic)", path,
                  missing, hw->name);
}

/* One kernel's image.  Problems are findings; -1 only for ENOMEM-like
 * failures that should stop the fix.  *PERSIST is set when the guest's
 * generator config should name the drivers.
 */
static int
fix_image (struct lf_plan *p, struct lf_os *os, const char *path,
           const char *kver, const struct modlist *ml, bool *persist)
{
  char gdir[600], mpath[1200];
  CLEANUP_FREE char *depbuf = NULL, *builtin = NULL, *imgbuf = NULL;
  CLEANUP_FREE char *idir = NULL, *added = NULL;
  CLEANUP_FREE bool *need = NULL;
  CLEANUP_FREE size_t *queue = NULL;
  CLEANUP_FREE const char **early = NULL;
  /* Declared before any goto: cleanup must never see them uninitialised. */
  CLEANUP_FREE void *out = NULL;
  CLEANUP_FREE char *why = NULL;
  size_t outlen, qn = 0;
  size_t deplen, blen, imglen, nearly = 0, nadded = 0, nadded_deps = 0;
  struct lf_moddep d = { 0 };
  struct present ps = { 0 };
  struct lf_initramfs *img = NULL;
  const char *gen;
  bool missing = false, idx_ok = true, early_ok;
  int r = 0;

  if (strchr (kver, '/') || strcmp (kver, "..") == 0 || strcmp (kver, ".") == 0) {
    lf_plan_note (p, CONCERN, LF_FAILED, "%s: kernel version \"%s\" is not a "
                  "directory name", path, kver);
    return 0;
  }
  snprintf (gdir, sizeof gdir, "/lib/modules/%s", kver);

  /* What the kernel has built in, and the guest's module tree. */
  snprintf (mpath, sizeof mpath, "%s/modules.builtin", gdir);
  if (read_opt (p, mpath, MODULES_INDEX_MAX, &builtin, &blen) == -1)
    goto failed;
  snprintf (mpath, sizeof mpath, "%s/modules.dep", gdir);
  if (read_opt (p, mpath, MODULES_DEP_MAX_SIZE, &depbuf, &deplen) == -1)
    goto failed;
  if (!depbuf) {
    lf_plan_note (p, CONCERN, LF_FAILED, "%s: %s is missing: the module tree "
                  "of kernel %s cannot be read (is its modules package "
                  "installed?)", path, mpath, kver);
    return 0;
  }
  if (lf_moddep_parse (depbuf, deplen, mpath, &d) == -1)
    goto failed;

  need = calloc (d.n + 1, sizeof *need);
  queue = malloc ((d.n + 1) * sizeof *queue);
  early = calloc (ml->n + 1, sizeof *early);
  if (!need || !queue || !early) {
    lf_error (ENOMEM, "out of memory");
    r = -1;
    goto done;
  }
  for (size_t m = 0; m < ml->n; m++) {
    const char *mod = ml->name[m];
    const struct lf_moddep_entry *e;
    if (builtin && lf_modules_builtin_has (builtin, blen, mod)) {
      lf_plan_note (p, CONCERN, LF_ALREADY_RIGHT, "kernel %s: %s is built in",
                    kver, mod);
      continue;
    }
    e = lf_moddep_find (&d, mod);
    if (e) {
      snprintf (mpath, sizeof mpath, "%s/%s", gdir, e->path);
      if (!lf_plan_exists (p, mpath))
        e = NULL;
    }
    if (!e && m >= ml->nreq) {
      lf_plan_note (p, CONCERN, LF_SKIPPED, "kernel %s has no %s (optional "
                    "for %s)", kver, mod, ml->hw->name);
      continue;
    }
    if (!e) {
      lf_plan_note (p, CONCERN, LF_FAILED, "%s missing from %s: %s needs it "
                    "installed (%s not changed)", mod, gdir, ml->hw->name,
                    path);
      missing = true;
      continue;
    }
    ml->found[m] = true;
    early[nearly++] = mod;
    /* With the dependency closure (depmod lists it whole; walk it anyway). */
    qn = lf_moddep_closure (&d, (size_t) (e - d.e), need, queue, qn);
  }
  if (missing)
    goto done;
  if (nearly == 0)
    goto done;                  /* all built in: nothing to load */
  *persist = true;

  /* The image. */
  if (lf_plan_read (p, path, LF_INITRAMFS_READ_MAX, &imgbuf, &imglen) == -1)
    goto failed;
  img = lf_linux_initramfs_parse (imgbuf, imglen, path, true);
  imgbuf = NULL;
  if (!img)
    goto failed;
  gen = lf_initramfs_generator (img);
  if (strcmp (gen, "unknown") == 0)
    gen = json_string_value (json_object_get (os->facts,
                                              "initramfs_generator")) ?: "unknown";
  snprintf (mpath, sizeof mpath, "lib/modules/%s", kver);
  idir = lf_initramfs_resolve (img, mpath, true);
  if (!idir || scan_present (img, idir, &ps) == -1)
    goto failed;

  for (size_t qi = 0; qi < qn; qi++) {
    const struct lf_moddep_entry *e = &d.e[queue[qi]];
    ssize_t k = present_find (&ps, e->name);
    if (k >= 0) {
      if (!dep_bin_resolves (img, idir, e->name, ps.rel[k]))
        idx_ok = false;
      continue;
    }
    /* Copy the guest's file as it is (same compression), at its path. */
    CLEANUP_FREE char *mod = NULL;
    size_t modlen;
    snprintf (mpath, sizeof mpath, "%s/%s", gdir, e->path);
    if (lf_plan_read (p, mpath, MODULE_FILE_MAX, &mod, &modlen) == -1)
      goto failed;
    snprintf (mpath, sizeof mpath, "%s/%s", idir, e->path);
    if (lf_initramfs_add (img, mpath, 0644, mod, modlen) == -1 ||
        present_add (&ps, e->name, e->path) == -1)
      goto failed;
    if (qi < nearly)
      nadded++;
    else
      nadded_deps++;
    char *n = NULL;
    if (asprintf (&n, "%s%s%s", added ? added : "", added ? ", " : "",
                  e->name) == -1) {
      lf_error (ENOMEM, "out of memory");
      r = -1;
      goto done;
    }
    free (added);
    added = n;
  }
  if (early_list (img, gen, early, nearly, false, &early_ok) == -1)
    goto failed;
  if (nadded + nadded_deps == 0 && idx_ok && early_ok) {
    char names[512] = "";
    for (size_t m = 0; m < nearly; m++)
      if (strlen (names) + strlen (early[m]) + 3 < sizeof names)
        snprintf (names + strlen (names), sizeof names - strlen (names),
                  "%s%s", m ? ", " : "", early[m]);
    lf_plan_note (p, CONCERN, LF_ALREADY_RIGHT, "%s holds %s with %zu "
                  "dependencies, resolved by its module index and in its "
                  "early-load list", path, names, qn - nearly);
    goto done;
  }
  if ((nadded + nadded_deps > 0 || !idx_ok) &&
      rebuild_indexes (p, img, &d, &ps, gdir, idir) == -1)
    goto failed;
  if (!early_ok) {
    if (strcmp (gen, "initramfs-tools") != 0 && strcmp (gen, "dracut") != 0)
      lf_plan_note (p, CONCERN, LF_WARNING, "%s: generator %s: no early-load "
                    "list written (udev loads the drivers by their aliases)",
                    path, gen);
    else if (early_list (img, gen, early, nearly, true, &early_ok) == -1)
      goto failed;
  }

  if (lf_initramfs_write (img, &out, &outlen) == -1)
    goto failed;
  /* The raw image is not needed past here: one copy less in memory. */
  lf_initramfs_free (img);
  img = NULL;
  if (added)
    r = asprintf (&why, "added %s (%zu module%s + %zu dependenc%s) to %s", added,
                  nadded, nadded == 1 ? "" : "s", nadded_deps,
                  nadded_deps == 1 ? "y" : "ies", path);
  else
    r = asprintf (&why, "%s: module indexes and early-load list brought up "
                  "to date (%s)", path, gen);
  if (r == -1) {
    lf_error (ENOMEM, "out of memory");
    goto done;
  }
  r = 0;
  r = lf_plan_write_take (p, CONCERN, path, out, outlen, 0644, why);
  out = NULL;
  if (r == -1) {
    r = 0;
    goto failed;
  }
  lf_plan_note (p, CONCERN, LF_CHANGED, "%s", why);
  goto done;

 failed:
  lf_plan_note (p, CONCERN, LF_FAILED, "%s: %s", path, lf_last_error ());
  lf_error_clear ();
 done:
  lf_initramfs_free (img);
  present_free (&ps);
  lf_moddep_free (&d);
  return r;
}

/* Append the missing names of ML's found modules to a list-style config. */
static int
persist_list (struct lf_plan *p, const char *path, bool create,
              const struct modlist *ml)
{
  char persist_comment[LF_HW_MAX_STRING + 32];
  CLEANUP_FREE char *old = NULL;
  size_t len;
  struct lf_ird_buf out = { 0 };
  bool changed = false;
  int r = -1;

  if (read_opt (p, path, LF_MiB, &old, &len) == -1)
    goto error;
  if (!old && !create)
    return 0;
  if (old && lf_ird_buf_append (&out, old, len) == -1)
    goto error;
  snprintf (persist_comment, sizeof persist_comment,
            "# landfall: drivers for %s\n", ml->hw->name);
  for (size_t m = 0; m < ml->n; m++) {
    if (!ml->found[m] || (old && early_list_has (old, false, ml->name[m])))
      continue;
    if (out.len && out.p[out.len - 1] != '\n' &&
        lf_ird_buf_append (&out, "\n", 1) == -1)
      goto error;
    if (!changed && lf_ird_buf_append (&out, persist_comment,
                                       strlen (persist_comment)) == -1)
      goto error;
    if (lf_ird_buf_append (&out, ml->name[m], strlen (ml->name[m])) == -1 ||
        lf_ird_buf_append (&out, "\n", 1) == -1)
      goto error;
    changed = true;
  }
  r = lf_plan_write (p, CONCERN, path, out.p ? (void *) out.p : (void *) "",
                     out.len, 0644, changed ?
                     "the profile's drivers in every future initramfs" :
                     "already lists the profile's drivers");
 error:
  free (out.p);
  return r;
}

/* SUSE mkinitrd: INITRD_MODULES="..." in /etc/sysconfig/kernel. */
static int
persist_sysconfig (struct lf_plan *p, const struct modlist *ml)
{
  const char *path = "/etc/sysconfig/kernel";
  CLEANUP_FREE char *old = NULL;
  size_t len;
  struct lf_ird_buf out = { 0 };
  bool found = false;
  int r = -1;

  if (read_opt (p, path, LF_MiB, &old, &len) == -1)
    return -1;
  for (const char *q = old, *end = old ? old + len : NULL; q && q < end; ) {
    const char *nl = memchr (q, '\n', (size_t) (end - q));
    size_t n = nl ? (size_t) (nl - q) : (size_t) (end - q);
    const char *close;
    if (!found && n > 16 && strncmp (q, "INITRD_MODULES=\"", 16) == 0 &&
        (close = memchr (q + 16, '"', n - 16))) {
      CLEANUP_FREE char *val = strndup (q + 16, (size_t) (close - q - 16));
      if (!val)
        goto nomem;
      found = true;
      if (lf_ird_buf_append (&out, q, (size_t) (close - q)) == -1)
        goto error;
      for (size_t m = 0; m < ml->n; m++) {
        bool has = false;
        if (!ml->found[m])
          continue;
        CLEANUP_FREE char *copy = strdup (val);
        char *save = NULL;
        if (!copy)
          goto nomem;
        for (char *t = strtok_r (copy, " \t", &save); t;
             t = strtok_r (NULL, " \t", &save))
          if (strcmp (t, ml->name[m]) == 0)
            has = true;
        if (!has && (lf_ird_buf_append (&out, " ", 1) == -1 ||
                     lf_ird_buf_append (&out, ml->name[m],
                                        strlen (ml->name[m])) == -1))
          goto error;
      }
      if (lf_ird_buf_append (&out, close, n - (size_t) (close - q)) == -1)
        goto error;
    }
    else if (lf_ird_buf_append (&out, q, n) == -1)
      goto error;
    if (nl && lf_ird_buf_append (&out, "\n", 1) == -1)
      goto error;
    q += n + 1;
  }
  if (!found) {
    bool first = true;
    if ((out.len && out.p[out.len - 1] != '\n' &&
         lf_ird_buf_append (&out, "\n", 1) == -1) ||
        lf_ird_buf_append (&out, "INITRD_MODULES=\"", 16) == -1)
      goto error;
    for (size_t m = 0; m < ml->n; m++) {
      if (!ml->found[m])
        continue;
      if ((!first && lf_ird_buf_append (&out, " ", 1) == -1) ||
          lf_ird_buf_append (&out, ml->name[m], strlen (ml->name[m])) == -1)
        goto error;
      first = false;
    }
    if (lf_ird_buf_append (&out, "\"\n", 2) == -1)
      goto error;
  }
  r = lf_plan_write (p, CONCERN, path, out.p, out.len, 0644,
                     "INITRD_MODULES: the profile's drivers in every future "
                     "initrd");
  goto error;
 nomem:
  lf_error (ENOMEM, "out of memory");
 error:
  free (out.p);
  return r;
}

static int
persist (struct lf_plan *p, const char *gen, const struct modlist *ml)
{
  if (strcmp (gen, "initramfs-tools") == 0)
    return persist_list (p, "/etc/initramfs-tools/modules", true, ml);
  if (strcmp (gen, "dracut") == 0) {
    /* One file for whichever profile the guest was fixed for last: a
     * failback replaces the Azure drivers' line rather than adding to it.
     */
    struct lf_ird_buf conf = { 0 };
    char head[LF_HW_MAX_STRING + 80];
    int r;
    snprintf (head, sizeof head, "# landfall: drivers for %s in every "
              "initramfs dracut makes\nadd_drivers+=\" ", ml->hw->name);
    if (lf_ird_buf_append (&conf, head, strlen (head)) == -1)
      goto nomem;
    for (size_t m = 0; m < ml->n; m++)
      if (ml->found[m] &&
          (lf_ird_buf_append (&conf, ml->name[m], strlen (ml->name[m])) == -1 ||
           lf_ird_buf_append (&conf, " ", 1) == -1))
        goto nomem;
    if (lf_ird_buf_append (&conf, "\"\n", 2) == -1)
      goto nomem;
    r = lf_plan_write (p, CONCERN, "/etc/dracut.conf.d/90-landfall.conf",
                       conf.p, conf.len, 0644,
                       "the profile's drivers in every future initramfs");
    free (conf.p);
    return r;
  nomem:
    free (conf.p);
    return -1;
  }
  if (strcmp (gen, "mkinitrd") == 0)
    return persist_sysconfig (p, ml);
  lf_plan_note (p, CONCERN, LF_WARNING, "initramfs generator \"%s\": the "
                "drivers are not recorded for future kernels", gen);
  return 0;
}

int
lf_fix_linux_initramfs (struct lf_guest *g, struct lf_os *os,
                        struct lf_plan *p, const struct lf_fix_opts *o)
{
  size_t i;
  json_t *ent;
  bool want_persist = false, any = false;
  const char *gen;
  struct modlist ml = { .hw = o->profile };
  const char *names[2 * LF_HW_MAX_LIST];
  bool found[2 * LF_HW_MAX_LIST] = { false };

  (void) g;
  ml.name = names;
  ml.found = found;
  for (char **m = o->profile->linux_modules; *m && ml.n < LF_HW_MAX_LIST; m++)
    names[ml.n++] = *m;
  ml.nreq = ml.n;
  for (char **m = o->profile->linux_modules_optional;
       m && *m && ml.n < 2 * LF_HW_MAX_LIST; m++)
    names[ml.n++] = *m;
  json_array_foreach (json_object_get (os->facts, "initramfs"), i, ent) {
    const char *path = json_string_value (json_object_get (ent, "path"));
    const char *kver = json_string_value (json_object_get (ent, "kernel"));
    const char *base;

    if (!path || !kver)
      continue;
    any = true;
    base = strrchr (path, '/');
    base = base ? base + 1 : path;
    if (strstr (base, "kdump")) {
      lf_plan_note (p, CONCERN, LF_SKIPPED, "%s: kdump image, not used to "
                    "boot", path);
      continue;
    }
    if (strstr (base, "-rescue-")) {
      check_rescue (p, path, o->profile);
      continue;
    }
    if (fix_image (p, os, path, kver, &ml, &want_persist) == -1)
      return -1;
  }
  if (!any) {
    lf_plan_note (p, CONCERN, LF_WARNING, "no initramfs found for any "
                  "kernel in /boot");
    return 0;
  }
  if (!want_persist)
    return 0;
  /* The guest's generator, as inspection found its config. */
  gen = json_string_value (json_object_get (os->facts, "initramfs_generator"))
    ?: "unknown";
  if (persist (p, gen, &ml) == -1) {
    lf_plan_note (p, CONCERN, LF_FAILED, "%s", lf_last_error ());
    lf_error_clear ();
  }
  return 0;
}

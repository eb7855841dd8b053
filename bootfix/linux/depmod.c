/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/linux: depmod's work on an initramfs image, natively
 * (what "depmod -b" over the image gives): the image's module indexes,
 * text and binary, rebuilt from the guest's full-tree ones filtered to
 * the modules the image holds, in modules.dep's order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ctype.h>

#include "bootfix/linux/initramfs-fix.h"

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
  if (lf_present_find (ms->ps, name) < 0)
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
    nf = lf_ird_fields (line, f, 3);
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
  if (lf_ird_read_opt (p, path, MODULES_INDEX_MAX, &t->guest, &t->glen) == -1)
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
      ssize_t k = lf_present_find (ms->ps, e->name);
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
        ssize_t dk = lf_present_find (ms->ps, d->e[e->deps[j]].name);
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
  if (lf_ird_read_opt (p, path, MODULES_INDEX_MAX, &b, &blen) == -1)
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
  if (lf_ird_read_opt (p, path, MODULES_INDEX_MAX, &mi, &milen) == -1)
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
int
lf_depmod_rebuild (struct lf_plan *p, struct lf_initramfs *img,
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

/* Does the image's modules.dep.bin resolve module NAME to REL? */
bool
lf_depmod_bin_resolves (struct lf_initramfs *img, const char *idir,
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


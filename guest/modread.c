/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall guest/: a module and its dependency closure in an initramfs
 * image (modread.h).  Verify walked the closure with its own copy of the
 * image lookup, the fix with another, inspect searched modules.dep with
 * strstr; the closure and the lookup are here once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "guest/modread.h"

/* ---- the images ---- */

/* The image files the fix and verify read: every modules.* index (under
 * whatever directory symlinks resolve to), initramfs-tools' early-load
 * list and dracut's command-line snippets.  Nothing else is kept.
 */
static bool
keep_small_files (const char *path, uint64_t size, void *arg)
{
  const char *base = strrchr (path, '/');

  (void) size; (void) arg;
  base = base ? base + 1 : path;
  return strncmp (base, "modules.", 8) == 0 ||
    strcmp (path, "conf/modules") == 0 ||
    strncmp (path, "etc/cmdline.d/", 14) == 0;
}

static bool
keep_nothing (const char *path, uint64_t size, void *arg)
{
  (void) path; (void) size; (void) arg;
  return false;
}

struct lf_initramfs *
lf_linux_initramfs_parse (void *buf, size_t len, const char *name,
                          bool contents)
{
  struct lf_initramfs_limits lim = lf_initramfs_default_limits;

  lim.keep = contents ? keep_small_files : keep_nothing;
  return lf_initramfs_parse_take (buf, len, name, &lim);
}

/* Is there an entry at PATH?  An unresolvable path is as good as none. */
static bool
has_entry (struct lf_initramfs *img, const char *path)
{
  const struct lf_initramfs_entry *e;
  int r = lf_initramfs_lookup_opt (img, path, true, &e);

  if (r == -1)
    lf_error_clear ();
  return r == 1;
}

/* The generator an image's contents show. */
const char *
lf_initramfs_generator (struct lf_initramfs *img)
{
  if (has_entry (img, "conf/initramfs.conf"))
    return "initramfs-tools";
  if (has_entry (img, "usr/lib/dracut") || has_entry (img, "etc/cmdline.d"))
    return "dracut";
  if (has_entry (img, "linuxrc") && has_entry (img, "run_all.sh"))
    return "mkinitrd";
  return "unknown";
}

int
lf_initramfs_text (struct lf_initramfs *img, const char *path, char **out,
                   size_t *len)
{
  const struct lf_initramfs_entry *e = NULL;
  char *s;

  *out = NULL;
  *len = 0;
  if (lf_initramfs_lookup_opt (img, path, true, &e) != 1 ||
      !S_ISREG (e->mode)) {
    lf_error_clear ();          /* unresolvable: as if absent */
    return 0;
  }
  if (e->size && !e->data) {
    lf_error (EFAULT, "%s of the image was not kept in memory", path);
    return -1;
  }
  s = malloc (e->size + 1);
  if (!s) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  if (e->size)
    memcpy (s, e->data, e->size);
  s[e->size] = '\0';
  *out = s;
  *len = e->size;
  return 0;
}

/* ---- modules ---- */

size_t
lf_moddep_closure (const struct lf_moddep *d, size_t k, bool *seen,
                   size_t *queue, size_t qn)
{
  size_t qi = qn;

  if (k >= d->n || seen[k])
    return qn;
  seen[k] = true;
  queue[qn++] = k;
  for (; qi < qn; qi++) {
    const struct lf_moddep_entry *e = &d->e[queue[qi]];
    for (size_t j = 0; j < e->ndeps; j++)
      if (e->deps[j] < d->n && !seen[e->deps[j]]) {
        seen[e->deps[j]] = true;
        queue[qn++] = e->deps[j];
      }
  }
  return qn;
}

bool
lf_initramfs_has_module (struct lf_initramfs *img, const char *dir,
                         const char *rel)
{
  static const char *const exts[] = { ".ko", ".ko.xz", ".ko.zst", ".ko.gz" };
  const char *ko = strstr (rel, ".ko");
  char path[4200];

  if (!ko)
    return false;
  for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
    snprintf (path, sizeof path, "%s%s%.*s%s", dir, *dir ? "/" : "",
              (int) (ko - rel), rel, exts[i]);
    const struct lf_initramfs_entry *e = NULL;
    if (lf_initramfs_lookup_opt (img, path, true, &e) == 1 &&
        S_ISREG (e->mode))
      return true;
  }
  lf_error_clear ();
  return false;
}

int
lf_initramfs_module (struct lf_initramfs *img, const char *dir,
                     const struct lf_moddep *dep, const char *builtin,
                     size_t blen, const char *gbuiltin, size_t gblen,
                     const char *name, struct lf_modcheck *ret)
{
  memset (ret, 0, sizeof *ret);
  if ((builtin && lf_modules_builtin_has (builtin, blen, name)) ||
      (gbuiltin && lf_modules_builtin_has (gbuiltin, gblen, name))) {
    ret->state = LF_MOD_BUILTIN;
    return 0;
  }
  const struct lf_moddep_entry *e = dep ? lf_moddep_find (dep, name) : NULL;
  if (!e || !lf_initramfs_has_module (img, dir, e->path)) {
    ret->state = LF_MOD_MISSING;
    return 0;
  }
  /* The kernel loads none of them if one is absent. */
  bool *seen = calloc (dep->n + 1, sizeof *seen);
  size_t *queue = calloc (dep->n + 1, sizeof *queue);
  if (!seen || !queue) {
    free (seen);
    free (queue);
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  size_t qn = lf_moddep_closure (dep, (size_t) (e - dep->e), seen, queue, 0);
  ret->state = LF_MOD_PRESENT;
  ret->ndeps = qn - 1;
  for (size_t i = 1; i < qn; i++) {
    const struct lf_moddep_entry *x = &dep->e[queue[i]];
    if (!lf_initramfs_has_module (img, dir, x->path)) {
      snprintf (ret->missing, sizeof ret->missing, "%s (%s)", x->name,
                x->path);
      ret->state = LF_MOD_UNRESOLVED;
      break;
    }
  }
  free (seen);
  free (queue);
  return 0;
}

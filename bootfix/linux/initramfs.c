/* SPDX-License-Identifier: LGPL-2.1-or-later */
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

#include "bootfix/linux/initramfs-fix.h"
/* ---- The fix -------------------------------------------------------- */


static const char *const module_exts[] = { ".ko", ".ko.xz", ".ko.zst",
                                           ".ko.gz" };

bool
lf_is_module_path (const char *path)
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
int
lf_ird_read_opt (struct lf_plan *p, const char *path, size_t max, char **buf,
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


void
lf_present_free (struct present *ps)
{
  for (size_t i = 0; i < ps->n; i++) {
    free (ps->name[i]);
    free (ps->rel[i]);
  }
  free (ps->name);
  free (ps->rel);
  memset (ps, 0, sizeof *ps);
}

ssize_t
lf_present_find (const struct present *ps, const char *name)
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
int
lf_present_add (struct present *ps, const char *name, const char *rel)
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
int
lf_present_scan (struct lf_initramfs *img, const char *moddir,
                 struct present *ps)
{
  size_t dl = strlen (moddir);

  for (size_t i = 0; i < lf_initramfs_nentries (img); i++) {
    const struct lf_initramfs_entry *e = lf_initramfs_entry (img, i);
    char name[MODULE_MAX_NAME + 1];

    if (!S_ISREG (e->mode) || strncmp (e->path, moddir, dl) != 0 ||
        e->path[dl] != '/' || !lf_is_module_path (e->path))
      continue;
    if (lf_module_name (e->path, name, sizeof name) == -1) {
      lf_error_clear ();
      continue;
    }
    if (lf_present_add (ps, name, e->path + dl + 1) == -1)
      return -1;
  }
  return 0;
}

/* Split LINE (no newline) into at most MAX whitespace-separated fields. */
size_t
lf_ird_fields (char *line, char **f, size_t max)
{
  size_t n = 0;
  char *save = NULL;
  for (char *t = strtok_r (line, " \t\r", &save); t && n < max;
       t = strtok_r (NULL, " \t\r", &save))
    f[n++] = t;
  return n;
}


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
      if (!S_ISREG (e->mode) || !lf_is_module_path (e->path) ||
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
  if (lf_ird_read_opt (p, mpath, MODULES_INDEX_MAX, &builtin, &blen) == -1)
    goto failed;
  snprintf (mpath, sizeof mpath, "%s/modules.dep", gdir);
  if (lf_ird_read_opt (p, mpath, MODULES_DEP_MAX_SIZE, &depbuf, &deplen) == -1)
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
  if (!idir || lf_present_scan (img, idir, &ps) == -1)
    goto failed;

  for (size_t qi = 0; qi < qn; qi++) {
    const struct lf_moddep_entry *e = &d.e[queue[qi]];
    ssize_t k = lf_present_find (&ps, e->name);
    if (k >= 0) {
      if (!lf_depmod_bin_resolves (img, idir, e->name, ps.rel[k]))
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
        lf_present_add (&ps, e->name, e->path) == -1)
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
  if (lf_early_list (img, gen, early, nearly, false, &early_ok) == -1)
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
      lf_depmod_rebuild (p, img, &d, &ps, gdir, idir) == -1)
    goto failed;
  if (!early_ok) {
    if (strcmp (gen, "initramfs-tools") != 0 && strcmp (gen, "dracut") != 0)
      lf_plan_note (p, CONCERN, LF_WARNING, "%s: generator %s: no early-load "
                    "list written (udev loads the drivers by their aliases)",
                    path, gen);
    else if (lf_early_list (img, gen, early, nearly, true, &early_ok) == -1)
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
  lf_present_free (&ps);
  lf_moddep_free (&d);
  return r;
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
  if (lf_early_persist (p, gen, &ml) == -1) {
    lf_plan_note (p, CONCERN, LF_FAILED, "%s", lf_last_error ());
    lf_error_clear ();
  }
  return 0;
}

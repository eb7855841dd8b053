/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/linux: the early-load lists of the initramfs
 * generators: the list inside an image (initramfs-tools conf/modules,
 * dracut's rd.driver.pre=) and the guest's generator config that keeps
 * the drivers for future kernels (/etc/initramfs-tools/modules,
 * /etc/dracut.conf.d, mkinitrd's INITRD_MODULES).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ctype.h>

#include "bootfix/linux/initramfs-fix.h"

/* Does an early-load list name module NAME?  initramfs-tools style (also
 * /etc/initramfs-tools/modules): a line's first word; dracut style:
 * rd.driver.pre=a,b words.
 */
bool
lf_early_list_has (const char *txt, bool dracut, const char *name)
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

int
lf_early_list (struct lf_initramfs *img, const char *gen, const char **need,
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
    if (lf_early_list_has (txt, dracut, need[i]) ||
                           lf_early_list_has (all, dracut, need[i]))
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

  if (lf_ird_read_opt (p, path, LF_MiB, &old, &len) == -1)
    goto error;
  if (!old && !create)
    return 0;
  if (old && lf_ird_buf_append (&out, old, len) == -1)
    goto error;
  snprintf (persist_comment, sizeof persist_comment,
            "# landfall: drivers for %s\n", ml->hw->name);
  for (size_t m = 0; m < ml->n; m++) {
    if (!ml->found[m] || (old && lf_early_list_has (old, false, ml->name[m])))
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

  if (lf_ird_read_opt (p, path, LF_MiB, &old, &len) == -1)
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

int
lf_early_persist (struct lf_plan *p, const char *gen, const struct modlist *ml)
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


/* landfall bootfix/linux: the kernel command line in every boot loader
 * configuration (reference/linux.md §3).
 *
 * Added: console=tty1 console=ttyS0,115200n8 earlyprintk=ttyS0 rootdelay=N
 * net.ifnames=0 (console=ttyS0 last: the last console is /dev/console);
 * removed: rhgb, quiet, splash and the like; root=/dev/sdXN becomes
 * root=UUID=.  grub.cfg is edited as well as /etc/default/grub, since
 * grub-mkconfig is not run (it would be a guest program).
 *
 * rootdelay: Azure's guides recommend rootdelay=300, but what it costs
 * depends on the initramfs generator.  initramfs-tools' /init sleeps
 * rootdelay seconds unconditionally after loading its drivers ("if
 * [ "$ROOTDELAY" ]; then sleep ..."): measured here, the fixed Debian 12
 * guest sat 300 s at "Loading essential drivers ... done." under QEMU,
 * and boots to a login in ~35 s without it.  Its scripts/local waits for
 * the root device by itself, as dracut's initqueue does (rd.timeout), so
 * for both the argument is left out (and an old one removed).  Older
 * generators (SUSE and RHEL 5 mkinitrd) poll for a fixed time only: they
 * get Azure's 300.  --rootdelay N forces a value.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bootfix.h"

#define BOOTCFG_MAX (4 << 20)

static const char *const drop[] = {
  "rhgb", "quiet", "splash", "splash=silent", "crashkernel=auto", "acpi=0",
};
/* Arguments we set: any old value goes, ours is appended. */
static const char *const ours[] = {
  "console=", "earlyprintk=", "rootdelay=", "net.ifnames=",
};

/* The new argument list for ARGS (N bytes, no newline). */
static char *
edit_cmdline (const char *args, size_t n, const char *root_uuid, int rootdelay,
              bool *changed)
{
  char *out = NULL;
  size_t outlen = 0;
  FILE *fp = open_memstream (&out, &outlen);
  const char *s = args, *end = args + n;
  bool first = true;

  if (!fp)
    return NULL;
  while (s < end) {
    while (s < end && (*s == ' ' || *s == '\t'))
      s++;
    if (s >= end)
      break;
    const char *w = s;
    while (s < end && *s != ' ' && *s != '\t')
      s++;
    size_t wl = (size_t) (s - w);
    bool skip = false;
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
      if (wl == strlen (drop[i]) && memcmp (w, drop[i], wl) == 0)
        skip = true;
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
      if (wl >= strlen (ours[i]) && memcmp (w, ours[i], strlen (ours[i])) == 0)
        skip = true;
    if (skip)
      continue;
    if (root_uuid && wl > 12 && memcmp (w, "root=/dev/", 10) == 0 &&
        (memcmp (w + 10, "sd", 2) == 0 || memcmp (w + 10, "hd", 2) == 0 ||
         memcmp (w + 10, "vd", 2) == 0 || memcmp (w + 10, "xvd", 3) == 0)) {
      fprintf (fp, "%sroot=UUID=%s", first ? "" : " ", root_uuid);
      first = false;
      continue;
    }
    fprintf (fp, "%s%.*s", first ? "" : " ", (int) wl, w);
    first = false;
  }
  fprintf (fp, "%snet.ifnames=0 console=tty1 earlyprintk=ttyS0 ",
           first ? "" : " ");
  if (rootdelay >= 0)
    fprintf (fp, "rootdelay=%d ", rootdelay);
  fputs ("console=ttyS0,115200n8", fp);
  if (fclose (fp) != 0) {
    free (out);
    return NULL;
  }
  *changed = strlen (out) != n || memcmp (out, args, n) != 0;
  return out;
}

/* Rewrite the argument part of each line that KEYWORD starts (after
 * leading blanks): grub.cfg "linux /vmlinuz ARGS", BLS "options ARGS",
 * menu.lst "kernel /vmlinuz ARGS", extlinux "APPEND ARGS".  SKIP_FIRST:
 * the first word after the keyword is the kernel path, kept.
 */
static char *
edit_lines (const char *text, size_t len, const char *const *keywords,
            bool skip_first, const char *root_uuid, int rootdelay,
            unsigned *nchanged, size_t *outlen)
{
  char *out = NULL;
  FILE *fp = open_memstream (&out, outlen);

  if (!fp)
    return NULL;
  for (const char *s = text; s < text + len; ) {
    const char *nl = memchr (s, '\n', (size_t) (text + len - s));
    size_t n = nl ? (size_t) (nl - s) : (size_t) (text + len - s);
    const char *w = s;
    while (w < s + n && (*w == ' ' || *w == '\t'))
      w++;
    const char *kw = NULL;
    for (const char *const *k = keywords; *k; k++) {
      size_t kl = strlen (*k);
      if ((size_t) (s + n - w) > kl && strncasecmp (w, *k, kl) == 0 &&
          (w[kl] == ' ' || w[kl] == '\t')) {
        kw = w + kl;
        break;
      }
    }
    if (kw) {
      const char *a = kw;
      while (a < s + n && (*a == ' ' || *a == '\t'))
        a++;
      if (skip_first) {
        while (a < s + n && *a != ' ' && *a != '\t')
          a++;
        while (a < s + n && (*a == ' ' || *a == '\t'))
          a++;
      }
      bool changed = false;
      CLEANUP_FREE char *args = edit_cmdline (a, (size_t) (s + n - a),
                                              root_uuid, rootdelay, &changed);
      if (!args) {
        fclose (fp);
        free (out);
        return NULL;
      }
      /* A kernel with no arguments yet needs a separator. */
      fprintf (fp, "%.*s%s%s", (int) (a - s), s,
               a > w && (a[-1] == ' ' || a[-1] == '\t') ? "" : " ", args);
      if (changed)
        (*nchanged)++;
    }
    else
      fwrite (s, 1, n, fp);
    if (nl)
      fputc ('\n', fp);
    s += n + (nl ? 1 : 0);
  }
  if (fclose (fp) != 0) {
    free (out);
    return NULL;
  }
  return out;
}

/* /etc/default/grub: the value of GRUB_CMDLINE_LINUX (quoted). */
static char *
edit_default_grub (const char *text, size_t len, const char *root_uuid,
                   int rootdelay, unsigned *nchanged, size_t *outlen)
{
  char *out = NULL;
  FILE *fp = open_memstream (&out, outlen);
  bool seen = false;

  if (!fp)
    return NULL;
  for (const char *s = text; s < text + len; ) {
    const char *nl = memchr (s, '\n', (size_t) (text + len - s));
    size_t n = nl ? (size_t) (nl - s) : (size_t) (text + len - s);
    static const char *const keys[] = { "GRUB_CMDLINE_LINUX=",
                                        "GRUB_CMDLINE_LINUX_DEFAULT=" };
    size_t k;
    for (k = 0; k < 2; k++)
      if (n > strlen (keys[k]) && strncmp (s, keys[k], strlen (keys[k])) == 0)
        break;
    if (n >= 28 && strncmp (s, "GRUB_DISABLE_LINUX_UUID=true", 28) == 0) {
      /* grub-mkconfig would write root=/dev/sdX again on the next kernel
       * update: device names are what change on Azure.
       */
      fprintf (fp, "#%.*s", (int) n, s);
      (*nchanged)++;
    }
    else if (k < 2) {
      const char *v = s + strlen (keys[k]);
      size_t vn = n - strlen (keys[k]);
      char q = (vn >= 2 && (v[0] == '"' || v[0] == '\'') && v[vn - 1] == v[0]) ? v[0] : 0;
      if (q) {
        v++;
        vn -= 2;
      }
      bool changed = false;
      CLEANUP_FREE char *args = NULL;
      if (k == 0) {
        seen = true;
        args = edit_cmdline (v, vn, root_uuid, rootdelay, &changed);
      }
      else {
        /* Only drop the quiet/splash family from the default entry. */
        char *tmp = edit_cmdline (v, vn, NULL, 0, &changed);
        char *cut = tmp ? strstr (tmp, "net.ifnames=0 console=tty1") : NULL;
        if (cut) {
          while (cut > tmp && cut[-1] == ' ')
            cut--;
          *cut = '\0';
        }
        args = tmp;
        changed = tmp && (strlen (tmp) != vn || memcmp (tmp, v, vn) != 0);
      }
      if (!args) {
        fclose (fp);
        free (out);
        return NULL;
      }
      fprintf (fp, "%s\"%s\"", keys[k], args);
      if (changed)
        (*nchanged)++;
    }
    else
      fwrite (s, 1, n, fp);
    if (nl)
      fputc ('\n', fp);
    s += n + (nl ? 1 : 0);
  }
  if (!seen) {
    CLEANUP_FREE char *args = NULL;
    bool changed;
    args = edit_cmdline ("", 0, root_uuid, rootdelay, &changed);
    fprintf (fp, "GRUB_CMDLINE_LINUX=\"%s\"\n", args ? args : "");
    (*nchanged)++;
  }
  if (fclose (fp) != 0) {
    free (out);
    return NULL;
  }
  return out;
}

/* Edit one file with FN-style line editing; plan it if it changed. */
static int
edit_file (struct lf_plan *p, const char *path, const char *const *keywords,
           bool skip_first, const char *root_uuid, int rootdelay)
{
  char *buf = NULL, *out;
  size_t len, outlen = 0;
  unsigned n = 0;

  if (lf_plan_read (p, path, BOOTCFG_MAX, &buf, &len) == -1) {
    lf_error_clear ();
    return 0;                   /* not there: nothing to do */
  }
  out = keywords
    ? edit_lines (buf, len, keywords, skip_first, root_uuid, rootdelay, &n, &outlen)
    : edit_default_grub (buf, len, root_uuid, rootdelay, &n, &outlen);
  free (buf);
  if (!out) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  int r = 0;
  if (n == 0)
    lf_plan_note (p, "boot", LF_ALREADY_RIGHT, "%s: kernel command line "
                  "already set for Azure", path);
  else {
    lf_plan_note (p, "boot", LF_CHANGED, "%s: %u command line%s set for "
                  "Azure (serial console, %s)", path, n, n == 1 ? "" : "s",
                  rootdelay >= 0 ? "rootdelay for an initramfs that does "
                  "not wait for its root device"
                  : "no rootdelay: this initramfs waits for the root device");
    r = lf_plan_write (p, "boot", path, out, outlen, 0644,
                       "kernel command line for Azure");
  }
  free (out);
  return r;
}

int
lf_fix_linux_boot (struct lf_guest *g, struct lf_os *os, struct lf_plan *p,
                   const struct lf_fix_opts *o)
{
  static const char *const grub_kw[] = { "linux", "linux16", "linuxefi",
                                         NULL };
  static const char *const bls_kw[] = { "options", NULL };
  static const char *const legacy_kw[] = { "kernel", NULL };
  static const char *const extlinux_kw[] = { "append", NULL };
  const char *root_uuid = NULL;
  const char *gen = json_string_value (json_object_get (os->facts,
                                                       "initramfs_generator"));
  bool waits = gen && (strcmp (gen, "initramfs-tools") == 0 ||
                       strcmp (gen, "dracut") == 0);
  int rootdelay = o->rootdelay >= 0 ? o->rootdelay : waits ? -1 : 300;
  char **entries = NULL;

  root_uuid = g->fss[os->root].info.uuid[0] ? g->fss[os->root].info.uuid : NULL;
  if (edit_file (p, "/etc/default/grub", NULL, false, root_uuid, rootdelay) == -1)
    return -1;
  static const char *const grubcfgs[] = {
    "/boot/grub/grub.cfg", "/boot/grub2/grub.cfg",
  };
  for (size_t i = 0; i < 2; i++)
    if (edit_file (p, grubcfgs[i], grub_kw, true, root_uuid, rootdelay) == -1)
      return -1;
  if (edit_file (p, "/boot/grub/menu.lst", legacy_kw, true, root_uuid, rootdelay) == -1 ||
      edit_file (p, "/boot/grub/grub.conf", legacy_kw, true, root_uuid, rootdelay) == -1 ||
      edit_file (p, "/boot/extlinux/extlinux.conf", extlinux_kw, false, root_uuid, rootdelay) == -1 ||
      edit_file (p, "/boot/syslinux/syslinux.cfg", extlinux_kw, false, root_uuid, rootdelay) == -1)
    return -1;
  if (lf_guest_list (&os->mounts, "/boot/loader/entries", &entries) == 0) {
    for (char **e = entries; *e; e++) {
      size_t l = strlen (*e);
      char path[600];
      if (l < 6 || strcmp (*e + l - 5, ".conf") != 0)
        continue;
      snprintf (path, sizeof path, "/boot/loader/entries/%s", *e);
      if (edit_file (p, path, bls_kw, false, root_uuid, rootdelay) == -1) {
        lf_free_names (entries);
        return -1;
      }
    }
    lf_free_names (entries);
  }
  lf_error_clear ();
  return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall guest/: Linux inspection.
 *
 * Reads files only (never runs anything from the guest) and records what
 * later steps need: distribution and family, architecture, kernels and
 * their Hyper-V drivers, initramfs images and their generator, boot loader
 * and firmware, fstab and what each entry resolves to, network stacks,
 * persistent-net rules, VMware tools, Azure agents and SELinux.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "guest/guest.h"
#include "guest/netread.h"
#include "guest/modread.h"

/* Config files are small; anything larger is not what we expect. */
#define CONF_MAX (1 << 20)

static char *
read_text (struct lf_os *os, const char *path)
{
  char *buf = NULL;
  size_t len;

  if (lf_guest_read (&os->mounts, path, CONF_MAX, &buf, &len) == -1) {
    lf_error_clear ();
    return NULL;
  }
  return buf;                   /* backends NUL-terminate */
}

static bool
exists (struct lf_os *os, const char *path)
{
  bool r = lf_guest_exists (&os->mounts, path);
  lf_error_clear ();
  return r;
}

/* VALUE of KEY in a shell-style KEY=value file (os-release, sysconfig),
 * quotes removed, or NULL.
 */
char *
lf_shvar_get (const char *text, const char *key)
{
  size_t klen = strlen (key);
  const char *p = text;

  while (p && *p) {
    const char *eol = strchr (p, '\n');
    size_t n = eol ? (size_t) (eol - p) : strlen (p);
    while (n && (*p == ' ' || *p == '\t')) {
      p++;
      n--;
    }
    if (n > klen && strncmp (p, key, klen) == 0 && p[klen] == '=') {
      const char *v = p + klen + 1;
      size_t vn = n - klen - 1;
      while (vn && (v[vn - 1] == '\r' || v[vn - 1] == ' '))
        vn--;
      if (vn >= 2 && (v[0] == '"' || v[0] == '\'') && v[vn - 1] == v[0]) {
        v++;
        vn -= 2;
      }
      return strndup (v, vn);
    }
    p = eol ? eol + 1 : NULL;
  }
  return NULL;
}

static void
set_str (json_t *o, const char *key, const char *v)
{
  json_object_set_new (o, key, v ? json_string (v) : json_null ());
}

static const char *
family_of (const char *id, const char *like)
{
  static const struct { const char *word, *family; } map[] = {
    { "debian", "debian" }, { "ubuntu", "debian" },
    { "rhel", "rhel" }, { "centos", "rhel" }, { "fedora", "rhel" },
    { "rocky", "rhel" }, { "almalinux", "rhel" }, { "ol", "rhel" },
    { "suse", "suse" }, { "sles", "suse" }, { "opensuse", "suse" },
  };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (id && strcmp (id, map[i].word) == 0)
      return map[i].family;
  for (size_t i = 0; like && i < sizeof map / sizeof map[0]; i++) {
    const char *w = strstr (like, map[i].word);
    if (w && (w == like || w[-1] == ' ') &&
        (w[strlen (map[i].word)] == '\0' || w[strlen (map[i].word)] == ' '))
      return map[i].family;
  }
  return "unknown";
}

static void
inspect_distro (struct lf_os *os)
{
  CLEANUP_FREE char *osr = read_text (os, "/etc/os-release");
  json_t *d = json_object ();

  if (!osr)
    osr = read_text (os, "/usr/lib/os-release");
  if (osr) {
    CLEANUP_FREE char *id = lf_shvar_get (osr, "ID");
    CLEANUP_FREE char *like = lf_shvar_get (osr, "ID_LIKE");
    CLEANUP_FREE char *ver = lf_shvar_get (osr, "VERSION_ID");
    CLEANUP_FREE char *name = lf_shvar_get (osr, "PRETTY_NAME");
    set_str (d, "id", id);
    set_str (d, "version", ver);
    set_str (d, "name", name);
    set_str (d, "family", family_of (id, like));
    set_str (d, "source", "/etc/os-release");
  }
  else {
    /* Older systems, in Azure's order (reference/linux.md §1). */
    static const struct { const char *file, *id, *family; } old[] = {
      { "/etc/enterprise-release", "oracle", "rhel" },
      { "/etc/oracle-release", "ol", "rhel" },
      { "/etc/redhat-release", "rhel", "rhel" },
      { "/etc/SuSE-release", "sles", "suse" },
      { "/etc/lsb-release", "ubuntu", "debian" },
      { "/etc/debian_version", "debian", "debian" },
    };
    for (size_t i = 0; i < sizeof old / sizeof old[0]; i++) {
      CLEANUP_FREE char *t = read_text (os, old[i].file);
      if (!t)
        continue;
      char *nl = strchr (t, '\n');
      if (nl)
        *nl = '\0';
      const char *v = t + strcspn (t, "0123456789");
      set_str (d, "id", old[i].id);
      set_str (d, "name", t);
      json_object_set_new (d, "version", *v ? json_stringn (v, strspn (v, "0123456789.")) : json_null ());
      set_str (d, "family", old[i].family);
      set_str (d, "source", old[i].file);
      break;
    }
  }
  json_object_set_new (os->facts, "distro", d);
}

/* ELF e_machine of the first of a few binaries. */
static void
inspect_arch (struct lf_os *os)
{
  static const char *const bins[] = { "/sbin/init", "/bin/sh", "/bin/ls",
                                      "/usr/bin/ls" };
  const char *arch = NULL;

  for (size_t i = 0; i < sizeof bins / sizeof bins[0] && !arch; i++) {
    char *buf = NULL;
    size_t len;
    if (lf_guest_read (&os->mounts, bins[i], 64 << 20, &buf, &len) == -1) {
      lf_error_clear ();
      continue;
    }
    if (len >= 20 && memcmp (buf, "\177ELF", 4) == 0) {
      uint16_t m = buf[5] == 2 ? lf_be16 (buf + 18) : lf_le16 (buf + 18);
      bool is64 = buf[4] == 2;
      arch = m == 62 ? "x86_64" : m == 3 ? "i386" : m == 183 ? "aarch64"
        : m == 40 ? "arm" : m == 21 ? (is64 ? "ppc64" : "ppc")
        : m == 22 ? "s390x" : "unknown";
    }
    free (buf);
  }
  set_str (os->facts, "arch", arch);
}

/* "builtin", "module" or "missing" for module NAME of kernel KVER, by
 * the same readers verify and the fix use (modread.h).
 */
static const char *
module_state (struct lf_os *os, const char *kver, const char *name,
              const char *builtin, const struct lf_moddep *dep, char **path)
{
  *path = NULL;
  if (builtin && lf_modules_builtin_has (builtin, strlen (builtin), name))
    return "builtin";
  const struct lf_moddep_entry *e = dep ? lf_moddep_find (dep, name) : NULL;
  if (!e)
    return "missing";
  if (asprintf (path, "/lib/modules/%s/%s", kver, e->path) == -1) {
    *path = NULL;
    return "missing";
  }
  return exists (os, *path) ? "module" : "missing";
}

static const char *
initramfs_generator (struct lf_os *os)
{
  if (exists (os, "/etc/initramfs-tools/initramfs.conf"))
    return "initramfs-tools";
  if (exists (os, "/etc/dracut.conf") || exists (os, "/usr/bin/dracut") ||
      exists (os, "/sbin/dracut"))
    return "dracut";
  if (exists (os, "/sbin/mkinitrd") || exists (os, "/etc/sysconfig/kernel"))
    return "mkinitrd";
  return "unknown";
}

static void
inspect_kernels (struct lf_os *os)
{
  json_t *kernels = json_array (), *initrds = json_array ();
  char **names = NULL;
  const char *gen = initramfs_generator (os);

  set_str (os->facts, "initramfs_generator", gen);
  if (lf_guest_list (&os->mounts, "/boot", &names) == -1) {
    lf_error_clear ();
    names = NULL;
  }
  for (char **n = names; n && *n; n++) {
    const char *kver;
    if (strncmp (*n, "vmlinuz-", 8) == 0)
      kver = *n + 8;
    else if (strncmp (*n, "vmlinux-", 8) == 0)
      kver = *n + 8;
    else
      continue;
    char moddir[512], f[600];
    snprintf (moddir, sizeof moddir, "/lib/modules/%s", kver);
    json_t *k = json_object ();
    json_object_set_new (k, "version", json_string (kver));
    json_object_set_new (k, "path", json_sprintf ("/boot/%s", *n));
    json_object_set_new (k, "modules_dir", json_boolean (exists (os, moddir)));
    /* Its initramfs, by each generator's naming. */
    static const char *const patterns[] = {
      "/boot/initrd.img-%s", "/boot/initramfs-%s.img", "/boot/initrd-%s",
      "/boot/initramfs-%s", "/boot/initrd-%s.img",
    };
    json_t *img = json_null ();
    for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
      snprintf (f, sizeof f, patterns[i], kver);
      if (exists (os, f)) {
        img = json_string (f);
        json_array_append_new (initrds,
                               json_pack ("{s:s, s:s, s:s}", "path", f,
                                          "kernel", kver, "generator", gen));
        break;
      }
    }
    json_object_set_new (k, "initramfs", img);
    json_array_append_new (kernels, k);
  }
  lf_free_names (names);
  json_object_set_new (os->facts, "kernels", kernels);
  json_object_set_new (os->facts, "initramfs", initrds);
}

int
lf_linux_module_facts (struct lf_os *os, const char *const *names)
{
  size_t i;
  json_t *k, *ent;

  json_array_foreach (json_object_get (os->facts, "kernels"), i, k) {
    const char *kver = json_string_value (json_object_get (k, "version"));
    char f[600];
    if (!kver)
      continue;
    snprintf (f, sizeof f, "/lib/modules/%s/modules.builtin", kver);
    CLEANUP_FREE char *builtin = read_text (os, f);
    snprintf (f, sizeof f, "/lib/modules/%s/modules.dep", kver);
    char *deptext = NULL;
    size_t deplen;
    struct lf_moddep dep = { 0 };
    bool have_dep = false;
    if (lf_guest_read (&os->mounts, f, MODULES_DEP_MAX_SIZE, &deptext,
                       &deplen) == 0)
      have_dep = lf_moddep_parse (deptext, deplen, f, &dep) == 0;
    if (!have_dep && deptext)
      json_object_set_new (k, "modules_dep_error", json_string (lf_last_error ()));
    lf_error_clear ();
    free (deptext);
    json_t *mods = json_object ();
    for (const char *const *m = names; *m; m++) {
      CLEANUP_FREE char *path = NULL;
      const char *st = module_state (os, kver, *m, builtin,
                                     have_dep ? &dep : NULL, &path);
      json_t *mj = json_pack ("{s:s}", "state", st);
      if (path)
        json_object_set_new (mj, "file", json_string (path));
      json_object_set_new (mods, *m, mj);
    }
    if (have_dep)
      lf_moddep_free (&dep);
    json_object_set_new (k, "profile_modules", mods);
  }

  /* What each image holds of them: a module's file at its path inside. */
  json_array_foreach (json_object_get (os->facts, "initramfs"), i, ent) {
    const char *path = json_string_value (json_object_get (ent, "path"));
    const char *kver = json_string_value (json_object_get (ent, "kernel"));
    char *buf = NULL;
    size_t len, j;
    struct lf_initramfs *img;

    if (!path || !kver)
      continue;
    if (lf_guest_read (&os->mounts, path, LF_INITRAMFS_READ_MAX, &buf,
                       &len) == -1) {
      json_object_set_new (ent, "error", json_string (lf_last_error ()));
      lf_error_clear ();
      continue;
    }
    if (!(img = lf_linux_initramfs_parse (buf, len, path, false))) {
      json_object_set_new (ent, "error", json_string (lf_last_error ()));
      lf_error_clear ();
      continue;
    }
    json_t *segs = json_array ();
    for (size_t s = 0; s < lf_initramfs_nsegments (img); s++)
      json_array_append_new (segs, json_string (lf_initramfs_segment (img, s)->compression));
    json_object_set_new (ent, "segments", segs);
    json_object_set_new (ent, "contents_generator",
                         json_string (lf_initramfs_generator (img)));
    json_t *kmods = NULL;
    json_array_foreach (json_object_get (os->facts, "kernels"), j, k)
      if (strcmp (json_string_value (json_object_get (k, "version")) ?: "",
                  kver) == 0)
        kmods = json_object_get (k, "profile_modules");
    json_t *mods = json_object ();
    for (const char *const *m = names; *m; m++) {
      json_t *km = json_object_get (kmods, *m);
      const char *state = json_string_value (json_object_get (km, "state"));
      const char *file = json_string_value (json_object_get (km, "file"));
      const char *v;
      if (state && strcmp (state, "builtin") == 0)
        v = "builtin";
      else if (file && file[0] == '/' &&
               lf_initramfs_has_module (img, "", file + 1))
        v = "present";
      else
        v = "absent";
      json_object_set_new (mods, *m, json_string (v));
    }
    json_object_set_new (ent, "profile_modules", mods);
    lf_initramfs_free (img);
  }
  return 0;
}

/* Resolve an fstab spec to a filesystem of the guest. */
static struct lf_guest_fs *
resolve_spec (struct lf_guest *g, const char *spec, const char **how)
{
  static const struct { const char *prefix, *key; } keyed[] = {
    { "UUID=", "UUID" }, { "LABEL=", "LABEL" },
    { "/dev/disk/by-uuid/", "UUID" }, { "/dev/disk/by-label/", "LABEL" },
  };
  for (size_t i = 0; i < sizeof keyed / sizeof keyed[0]; i++)
    if (strncmp (spec, keyed[i].prefix, strlen (keyed[i].prefix)) == 0) {
      *how = keyed[i].key;
      return lf_guest_find_fs (g, keyed[i].key, spec + strlen (keyed[i].prefix));
    }
  /* /dev/sda1, /dev/vdb2, /dev/hda1, /dev/xvda1: disk letter and number,
   * in the order the disks were given (what the source VM had).
   */
  const char *d = NULL;
  if (strncmp (spec, "/dev/sd", 7) == 0 || strncmp (spec, "/dev/vd", 7) == 0 ||
      strncmp (spec, "/dev/hd", 7) == 0)
    d = spec + 7;
  else if (strncmp (spec, "/dev/xvd", 8) == 0)
    d = spec + 8;
  if (d && d[0] >= 'a' && d[0] <= 'z') {
    size_t disk = (size_t) (d[0] - 'a');
    unsigned part = (unsigned) atoi (d + 1);
    *how = "device name";
    for (size_t i = 0; i < g->nfs; i++)
      if (g->fss[i].disk == disk && g->fss[i].part == part)
        return &g->fss[i];
    return NULL;
  }
  /* /dev/mapper/vg-lv ("-" in names doubled) and /dev/vg/lv. */
  char vg[128], lv[128];
  if (strncmp (spec, "/dev/mapper/", 12) == 0) {
    const char *s = spec + 12;
    size_t o = 0, i = 0;
    *how = "LVM name";
    while (s[i] && o < sizeof vg - 1) {
      if (s[i] == '-' && s[i + 1] == '-') { vg[o++] = '-'; i += 2; continue; }
      if (s[i] == '-') break;
      vg[o++] = s[i++];
    }
    vg[o] = '\0';
    if (s[i] != '-')
      return NULL;
    o = 0;
    for (i++; s[i] && o < sizeof lv - 1; ) {
      if (s[i] == '-' && s[i + 1] == '-') { lv[o++] = '-'; i += 2; continue; }
      lv[o++] = s[i++];
    }
    lv[o] = '\0';
  }
  else if (sscanf (spec, "/dev/%127[^/]/%127s", vg, lv) == 2)
    *how = "LVM name";
  else {
    *how = "unsupported";
    return NULL;
  }
  char want[300];
  snprintf (want, sizeof want, "%s/%s", vg, lv);
  for (size_t i = 0; i < g->nfs; i++)
    if (strcmp (g->fss[i].lv, want) == 0)
      return &g->fss[i];
  return NULL;
}

static void
inspect_fstab (struct lf_guest *g, struct lf_os *os)
{
  char *buf = NULL;
  size_t len;
  struct lf_fstab t;
  json_t *arr = json_array ();

  if (lf_guest_read (&os->mounts, "/etc/fstab", CONF_MAX, &buf, &len) == -1) {
    json_object_set_new (os->facts, "fstab_error", json_string (lf_last_error ()));
    lf_error_clear ();
    json_object_set_new (os->facts, "fstab", arr);
    return;
  }
  if (lf_fstab_parse (buf, len, "/etc/fstab", &t) == -1) {
    json_object_set_new (os->facts, "fstab_error", json_string (lf_last_error ()));
    free (buf);
    json_object_set_new (os->facts, "fstab", arr);
    return;
  }
  free (buf);
  for (size_t i = 0; i < t.n; i++) {
    const struct lf_fstab_entry *e = &t.e[i];
    const char *how = "";
    json_t *j = json_pack ("{s:i, s:s, s:s, s:s, s:s, s:b}",
                           "line", (int) e->line, "spec", e->spec,
                           "mountpoint", e->file, "type", e->vfstype,
                           "options", e->mntops,
                           "nofail", lf_fstab_has_option (e, "nofail"));
    if (!e->valid) {
      json_object_set_new (j, "error", json_string ("fewer than 3 fields"));
      json_array_append_new (arr, j);
      continue;
    }
    bool virtual_fs = strcmp (e->vfstype, "proc") == 0 ||
      strcmp (e->vfstype, "sysfs") == 0 || strcmp (e->vfstype, "tmpfs") == 0 ||
      strcmp (e->vfstype, "devpts") == 0 || strcmp (e->vfstype, "swap") == 0 ||
      strncmp (e->vfstype, "nfs", 3) == 0 || strcmp (e->vfstype, "cifs") == 0 ||
      strcmp (e->vfstype, "none") == 0;
    if (strcmp (e->vfstype, "swap") == 0 || !virtual_fs) {
      struct lf_guest_fs *f = resolve_spec (g, e->spec, &how);
      if (f && strcmp (f->info.type, "btrfs") == 0 &&
          strcmp (e->vfstype, "swap") != 0) {
        /* Which subvolume: the one the options name, not the first of
         * the volume's UUID.  None is a layout the fix does not handle:
         * it would write under the mount point, on the wrong subvolume.
         */
        f = lf_guest_btrfs_subvol (g, f, e->mntops);
        if (!f) {
          json_object_set_new (j, "unhandled", json_string (lf_last_error ()));
          lf_error_clear ();
        }
      }
      json_object_set_new (j, "resolved_by", json_string (how));
      json_object_set_new (j, "resolves_to",
                           f ? json_string (lf_guest_fs_device (g, f)) : json_null ());
      if (f && f->fs && e->file[0] == '/' && strcmp (e->file, "/") != 0 &&
          strcmp (e->vfstype, "swap") != 0)
        (void) lf_mounts_add (&os->mounts, e->file, f->fs);
    }
    json_array_append_new (arr, j);
  }
  lf_fstab_free (&t);
  json_object_set_new (os->facts, "fstab", arr);
}

static void
inspect_boot (struct lf_guest *g, struct lf_os *os)
{
  json_t *loaders = json_array ();
  static const struct { const char *path, *name; } cfgs[] = {
    { "/boot/grub/grub.cfg", "grub2" }, { "/boot/grub2/grub.cfg", "grub2" },
    { "/boot/grub/menu.lst", "grub-legacy" }, { "/boot/grub/grub.conf", "grub-legacy" },
    { "/boot/extlinux/extlinux.conf", "extlinux" },
    { "/boot/syslinux/syslinux.cfg", "extlinux" },
    { "/boot/loader/entries", "bls" },
  };
  for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++)
    if (exists (os, cfgs[i].path))
      json_array_append_new (loaders, json_pack ("{s:s, s:s}", "type",
                                                 cfgs[i].name, "config",
                                                 cfgs[i].path));
  json_object_set_new (os->facts, "bootloaders", loaders);

  lf_guest_firmware (g, os);
}

/* Every stack's interfaces (guest/netread.c), the primary NIC marked: the
 * facts verify judges and fix acts on.
 */
static void
inspect_network (struct lf_os *os)
{
  json_t *arr = json_array ();
  struct lf_netfacts nf;

  if (lf_net_facts_read (&os->mounts, &nf) == -1)
    lf_error_clear ();
  for (size_t i = 0; i < nf.n; i++) {
    const struct lf_net_fact *f = &nf.v[i];
    json_array_append_new (arr, json_pack ("{s:s, s:s, s:s?, s:s, s:b, s:b, s:b}",
                                           "stack", lf_net_stack_name (f->stack),
                                           "file", f->file, "interface",
                                           *f->nic.name ? f->nic.name : NULL,
                                           "mode", lf_net_mode_name (f->nic.mode),
                                           "gateway", f->nic.gateway,
                                           "mac_bound", f->nic.mac_bound,
                                           "primary", i == nf.primary));
  }
  json_object_set_new (os->facts, "network", arr);
  if (nf.unreadable)
    json_object_set_new (os->facts, "network_error", json_string (nf.error));
  lf_net_facts_free (&nf);

  json_t *rules = json_array ();
  static const char *const pn[] = {
    "/etc/udev/rules.d/70-persistent-net.rules",
    "/etc/udev/rules.d/75-persistent-net-generator.rules",
  };
  for (size_t i = 0; i < 2; i++)
    if (exists (os, pn[i]))
      json_array_append_new (rules, json_string (pn[i]));
  json_object_set_new (os->facts, "persistent_net_rules", rules);
}

static void
inspect_agents (struct lf_os *os)
{
  json_t *vmw = json_array ();
  static const char *const tools[] = {
    "/usr/bin/vmtoolsd", "/etc/vmware-tools",
    "/etc/systemd/system/multi-user.target.wants/open-vm-tools.service",
    "/etc/systemd/system/multi-user.target.wants/vmtoolsd.service",
    "/etc/init.d/vmware-tools",
  };
  for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++)
    if (exists (os, tools[i]))
      json_array_append_new (vmw, json_string (tools[i]));
  json_object_set_new (os->facts, "vmware_tools", vmw);
  json_object_set_new (os->facts, "waagent",
                       json_boolean (exists (os, "/usr/sbin/waagent") ||
                                     exists (os, "/etc/waagent.conf")));
  json_object_set_new (os->facts, "cloud_init",
                       json_boolean (exists (os, "/etc/cloud/cloud.cfg")));
  CLEANUP_FREE char *se = read_text (os, "/etc/selinux/config");
  CLEANUP_FREE char *mode = se ? lf_shvar_get (se, "SELINUX") : NULL;
  set_str (os->facts, "selinux", mode ? mode : "absent");
}

int
lf_inspect_linux (struct lf_guest *g, struct lf_os *os)
{
  inspect_distro (os);
  inspect_arch (os);
  inspect_fstab (g, os);        /* first: later files may be on /boot etc. */
  inspect_kernels (os);
  inspect_boot (g, os);
  inspect_network (os);
  inspect_agents (os);
  return 0;
}

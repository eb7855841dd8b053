/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/linux: the network on Azure (reference/linux.md §5-§6).
 *
 * On Azure the NIC is a hv_netvsc device with a new MAC: static addresses
 * and MAC bindings from VMware would leave the VM unreachable.  The
 * primary NIC is eth0 (NETCFG_NIC: hv_netvsc has no PCI path, so
 * predictable naming keeps eth0, and boot.c adds net.ifnames=0 for other
 * hypervisors such as the QEMU boot test) and is put on DHCP in every
 * stack the guest configures: ifupdown, netplan, NetworkManager keyfiles,
 * RHEL ifcfg, SUSE sysconfig (wicked), systemd-networkd.  Whatever is
 * removed (addresses, gateways, DNS servers, MAC bindings) is reported.
 * Persistent-net udev rules, which pin names to the old MACs, go.
 *
 * This file does the guest I/O through the plan; the transforms are pure
 * functions in net-*.c (netcfg.h), which the unit tests drive.  Files are
 * "moved aside" by planning a copy under NETCFG_ASIDE_DIR and the
 * removal of the original: both are journalled, so undo restores them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bootfix/bootfix.h"
#include "bootfix/linux/netcfg.h"

#define CONCERN NETCFG_CONCERN

/* Read PATH through the plan.  0: read; 1: absent, or unusable (reported,
 * left alone); -1: out of memory.
 */
int
lf_net_read (struct lf_netctx *c, const char *path, char **buf, size_t *len)
{
  *buf = NULL;
  if (lf_plan_read (c->p, path, NETCFG_MAX_FILE, buf, len) == 0)
    return 0;
  int e = lf_last_errno ();
  if (e == ENOMEM)
    return -1;
  if (e != ENOENT && e != ENOTDIR)
    lf_plan_note (c->p, (c->concern ? c->concern : CONCERN), LF_FAILED, "%s: %s: left alone", path,
                  lf_last_error ());
  lf_error_clear ();
  return 1;
}

/* A transform failed: -1 if out of memory, else a finding. */
int
lf_net_failed (struct lf_netctx *c, const char *path)
{
  if (lf_last_errno () == ENOMEM)
    return -1;
  lf_plan_note (c->p, (c->concern ? c->concern : CONCERN), LF_FAILED, "%s: left alone, check its network "
                "configuration by hand", lf_last_error ());
  lf_error_clear ();
  (void) path;
  return 0;
}

int
lf_net_aside (struct lf_netctx *c, const char *path, const char *buf, size_t len,
            const char *why)
{
  CLEANUP_FREE char *dest = NULL;

  if (asprintf (&dest, "%s%s", NETCFG_ASIDE_DIR, path) == -1) {
    dest = NULL;
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  if (lf_plan_write (c->p, (c->concern ? c->concern : CONCERN), dest, buf, len, 0600,
                     "moved aside (a copy out of the configuration "
                     "directory)") == -1 ||
      lf_plan_remove (c->p, (c->concern ? c->concern : CONCERN), path, why) == -1)
    return -1;
  lf_plan_note (c->p, (c->concern ? c->concern : CONCERN), LF_CHANGED, "%s moved aside to %s (%s)", path,
                dest, why);
  return 0;
}

/* Plan what a transform decided for PATH (whose content is BUF). */
int
lf_net_plan (struct lf_netctx *c, const char *path, const char *buf, size_t len,
           struct lf_netedit *e, const char *why)
{
  int r = 0;

  lf_netnotes_flush (&e->notes, c->p, (c->concern ? c->concern : CONCERN));
  switch (e->action) {
  case LF_NET_KEEP:
    break;
  case LF_NET_REWRITE:
    r = lf_plan_write (c->p, (c->concern ? c->concern : CONCERN), path, e->out, e->outlen, 0644, why);
    break;
  case LF_NET_ASIDE:
    r = lf_net_aside (c, path, buf, len, why);
    break;
  }
  lf_netedit_free (e);
  return r;
}

/* Regular files (or links to them) in DIR that the plan keeps, sorted,
 * with names accepted by KEEP; at most NETCFG_MAX_FILES.
 */
char **
lf_net_list (struct lf_netctx *c, const char *dir,
            bool (*keep) (const char *name))
{
  char **names = NULL;
  size_t n = 0, o = 0;

  if (lf_guest_list_opt (&c->os->mounts, dir, &names) != 1) {
    lf_error_clear ();
    return NULL;
  }
  for (char **s = names; *s; s++)
    n++;
  if (n > NETCFG_MAX_FILES) {
    lf_plan_note (c->p, (c->concern ? c->concern : CONCERN), LF_WARNING, "%s: %zu files, over the limit "
                  "of %d: only the first %d are looked at", dir, n,
                  NETCFG_MAX_FILES, NETCFG_MAX_FILES);
    for (size_t i = NETCFG_MAX_FILES; i < n; i++) {
      free (names[i]);
      names[i] = NULL;
    }
    n = NETCFG_MAX_FILES;
  }
  for (size_t i = 0; i < n; i++) {
    char path[4096];
    struct lf_stat st;
    snprintf (path, sizeof path, "%s/%s", dir, names[i]);
    if ((keep && !keep (names[i])) || !lf_plan_exists (c->p, path) ||
        lf_guest_stat_opt (&c->os->mounts, path, &st) != 1 ||
        !S_ISREG (st.mode)) {
      lf_error_clear ();
      free (names[i]);
      continue;
    }
    names[o++] = names[i];
  }
  names[o] = NULL;
  return names;
}

int
lf_net_dir_read (struct lf_netctx *c, const char *dir,
                 bool (*keep) (const char *name), size_t size,
                 lf_net_scan_fn scan, struct lf_netdir *d)
{
  const struct lf_net_nic **nics = NULL;

  memset (d, 0, sizeof *d);
  d->primary = SIZE_MAX;
  d->size = size;
  d->names = lf_net_list (c, dir, keep);
  if (!d->names)
    return 0;
  while (d->names[d->n])
    d->n++;
  d->paths = calloc (d->n + 1, sizeof *d->paths);
  d->bufs = calloc (d->n + 1, sizeof *d->bufs);
  d->lens = calloc (d->n + 1, sizeof *d->lens);
  d->info = calloc (d->n + 1, size);
  nics = calloc (d->n + 1, sizeof *nics);
  if (!d->paths || !d->bufs || !d->lens || !d->info || !nics)
    goto oom;
  for (size_t i = 0; i < d->n; i++) {
    if (asprintf (&d->paths[i], "%s/%s", dir, d->names[i]) == -1) {
      d->paths[i] = NULL;
      goto oom;
    }
    int r = lf_net_read (c, d->paths[i], &d->bufs[i], &d->lens[i]);
    if (r == -1)
      goto fail;
    if (r == 1 || scan (c, d->paths[i], d->bufs[i], d->lens[i],
                        LF_NETDIR_INFO (d, i), &nics[i]) == -1) {
      if (r == 0 && lf_net_failed (c, d->paths[i]) == -1)
        goto fail;
      free (d->bufs[i]);
      d->bufs[i] = NULL;
      nics[i] = NULL;
    }
  }
  d->primary = lf_net_primary (nics, d->n);
  free (nics);
  return 0;
 oom:
  lf_error (ENOMEM, "out of memory");
 fail:
  free (nics);
  lf_net_dir_free (d);
  return -1;
}

void
lf_net_dir_free (struct lf_netdir *d)
{
  for (size_t i = 0; i < d->n; i++) {
    if (d->paths)
      free (d->paths[i]);
    if (d->bufs)
      free (d->bufs[i]);
  }
  free (d->paths);
  free (d->bufs);
  free (d->lens);
  free (d->info);
  if (d->names)
    lf_free_names (d->names);
  memset (d, 0, sizeof *d);
  d->primary = SIZE_MAX;
}

/* ---- udev ---- */

/* "ens192 was bound to 00:50:56:..." for each rule of a persistent-net
 * rules file.
 */
static void
note_udev_rules (struct lf_netctx *c, const char *path, const char *buf,
                 size_t len)
{
  size_t pos = 0, n, lineno = 0;
  const char *line;

  while (lf_net_next_line (buf, len, &pos, &line, &n)) {
    char l[NETCFG_MAX_LINE + 1], name[NETCFG_MAX_NAME] = "",
      mac[NETCFG_MAX_NAME] = "";
    lineno++;
    if (n > NETCFG_MAX_LINE)
      continue;
    memcpy (l, line, n);
    l[n] = '\0';
    const char *a = strstr (l, "ATTR{address}==\"");
    const char *nm = strstr (l, "NAME=\"");
    if (l[strspn (l, " \t")] == '#' || !nm)
      continue;
    if (a)
      sscanf (a + 16, "%63[^\"]", mac);
    sscanf (nm + 6, "%63[^\"]", name);
    lf_plan_note (c->p, CONCERN, LF_CHANGED, "%s:%zu: rule naming %s%s%s "
                  "removed", path, lineno, name, *mac ? " by MAC " : "", mac);
  }
}

#define UDEV_MASK_TEXT \
  "# landfall: masks the persistent-net generator, which would bind NIC\n" \
  "# names to MAC addresses (a new MAC on Azure means a new name).\n"

static int
fix_udev (struct lf_netctx *c)
{
  static const char *const gone[] = {
    "/etc/udev/rules.d/70-persistent-net.rules",
    "/etc/udev/rules.d/85-persistent-net-cloud-init.rules",
  };
  static const char *const gens[] = {
    "/lib/udev/rules.d/75-persistent-net-generator.rules",
    "/usr/lib/udev/rules.d/75-persistent-net-generator.rules",
  };
  const char *mask = "/etc/udev/rules.d/75-persistent-net-generator.rules";
  unsigned done = 0;

  for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
    CLEANUP_FREE char *buf = NULL;
    size_t len;
    struct lf_stat st;
    if (lf_guest_lstat_opt (&c->os->mounts, gone[i], &st) != 1 ||
        !lf_plan_exists (c->p, gone[i])) {
      lf_error_clear ();
      continue;
    }
    if (S_ISREG (st.mode) && lf_net_read (c, gone[i], &buf, &len) == 0)
      note_udev_rules (c, gone[i], buf, len);
    if (lf_plan_remove (c->p, CONCERN, gone[i], "persistent-net rules pin "
                        "NIC names to VMware MACs") == -1)
      return -1;
    lf_plan_note (c->p, CONCERN, LF_CHANGED, "%s removed", gone[i]);
    done++;
  }

  /* The generator (Debian <= 8, Ubuntu <= 16.04, older RHEL/SUSE):
   * overridden from /etc by a file of the same name with no rules
   * (udev(7)).  A link to /dev/null there already masks it.
   */
  bool gen = false;
  for (size_t i = 0; i < sizeof gens / sizeof gens[0]; i++)
    if (lf_guest_exists (&c->os->mounts, gens[i]))
      gen = true;
  lf_error_clear ();
  struct lf_stat st;
  if (lf_guest_lstat_opt (&c->os->mounts, mask, &st) == 1) {
    gen = true;                 /* an /etc copy is the active generator */
    if (S_ISLNK (st.mode)) {
      CLEANUP_FREE char *target = NULL;
      if (lf_guest_readlink (&c->os->mounts, mask, &target) == 0 &&
          strcmp (target, "/dev/null") == 0) {
        lf_plan_note (c->p, CONCERN, LF_ALREADY_RIGHT, "%s masked (-> "
                      "/dev/null)", mask);
        gen = false;
      }
      else {
        lf_plan_note (c->p, CONCERN, LF_WARNING, "%s is a symlink to %s: "
                      "left alone; mask it to stop NIC names being bound "
                      "to MACs", mask, target ? target : "?");
        gen = false;
      }
    }
  }
  lf_error_clear ();
  if (gen) {
    if (lf_plan_write (c->p, CONCERN, mask, UDEV_MASK_TEXT,
                       strlen (UDEV_MASK_TEXT), 0644,
                       "persistent-net generator masked") == -1)
      return -1;
    done++;
  }
  if (!done)
    lf_plan_note (c->p, CONCERN, LF_ALREADY_RIGHT, "no persistent-net udev "
                  "rules");
  return 0;
}

/* eth0 by name relies on net.ifnames=0 where the NIC has a PCI path
 * (QEMU, another hypervisor); boot.c (run before this concern) adds it.
 * Say so if no boot configuration will carry it.
 */
static void
check_ifnames (struct lf_netctx *c)
{
  static const char *const cfgs[] = {
    "/etc/default/grub", "/boot/grub/grub.cfg", "/boot/grub2/grub.cfg",
  };
  bool found = false;
  char **names;

  for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0] && !found; i++) {
    CLEANUP_FREE char *buf = NULL;
    size_t len;
    if (lf_net_read (c, cfgs[i], &buf, &len) == 0 && strstr (buf, "net.ifnames=0"))
      found = true;
  }
  names = found ? NULL : lf_net_list (c, "/boot/loader/entries", NULL);
  for (char **s = names; s && *s && !found; s++) {
    char path[4096];
    CLEANUP_FREE char *buf = NULL;
    size_t len;
    snprintf (path, sizeof path, "/boot/loader/entries/%s", *s);
    if (lf_net_read (c, path, &buf, &len) == 0 && strstr (buf, "net.ifnames=0"))
      found = true;
  }
  if (names)
    lf_free_names (names);
  if (!found)
    lf_plan_note (c->p, CONCERN, LF_WARNING, "the network configuration names "
                  "the NIC %s, but no boot configuration passes net.ifnames=0: "
                  "on Azure hv_netvsc is %s anyway, elsewhere the NIC may get "
                  "a predictable name (ens3...) and no address", NETCFG_NIC,
                  NETCFG_NIC);
}

/* The primary NIC as inspect and verify see it (the one reader and rule
 * of guest/netread.c), so that the report says which NIC becomes eth0.
 * Each stack's driver picks its file by the same rule.
 */
static int
note_primary (struct lf_netctx *c)
{
  struct lf_netfacts nf;

  if (lf_net_facts_read (&c->os->mounts, &nf) == -1)
    return -1;
  if (nf.primary != SIZE_MAX) {
    const struct lf_net_fact *f = &nf.v[nf.primary];
    bool right = f->nic.mode == LF_NETMODE_DHCP &&
      strcmp (f->nic.name, NETCFG_NIC) == 0;
    lf_plan_note (c->p, CONCERN, right ? LF_ALREADY_RIGHT : LF_CHANGED,
                  "primary NIC %s (%s, %s, %s)%s", *f->nic.name ? f->nic.name
                  : "(any)", lf_net_mode_name (f->nic.mode),
                  lf_net_stack_name (f->stack), f->file,
                  right ? "" : ": configured as " NETCFG_NIC " on DHCP");
  }
  lf_net_facts_free (&nf);
  return 0;
}

int
lf_fix_linux_network (struct lf_guest *g, struct lf_os *os,
                      struct lf_plan *p, const struct lf_fix_opts *o)
{
  struct lf_netctx c = { .p = p, .os = os };

  (void) g;
  (void) o;
  if (note_primary (&c) == -1 ||
      lf_fix_net_ifupdown (&c) == -1 ||
      lf_fix_net_netplan (&c) == -1 ||
      lf_fix_net_ifcfg (&c) == -1 ||
      lf_fix_net_nm (&c) == -1 ||
      lf_fix_net_networkd (&c) == -1 ||
      fix_udev (&c) == -1)
    return -1;
  if (c.stacks)
    check_ifnames (&c);
  if (c.stacks == 0)
    lf_plan_note (p, CONCERN, LF_WARNING, "no network configuration for a "
                  "NIC found (ifupdown, netplan, NetworkManager, ifcfg, "
                  "networkd): check that %s gets an address by DHCP",
                  NETCFG_NIC);
  return 0;
}

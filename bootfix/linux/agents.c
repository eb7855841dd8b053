/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/linux: VMware tools off, Azure agents configured or
 * reported (reference/linux.md §7, §8, §11).
 *
 * VMware tools: the enablement symlinks of their systemd units (in every
 * /etc/systemd/system/<unit>.wants and .requires directory, and Alias=
 * links) and the S links of their SysV scripts are removed; the removal
 * of a symlink is journalled and undo puts it back.  Package files,
 * vendor units under /lib and /usr/lib and the tools' configuration stay.
 *
 * waagent: /etc/waagent.conf set for a migrated (specialised) VM;
 * cloud-init: its datasource list reported, the Azure datasource written
 * only when asked (o->cloud_init_azure).  Absent agents are findings.
 *
 * Which of these is done is the profile's ("agents"): Azure's turn VMware
 * tools off and configure waagent and cloud-init; a failback to VMware
 * keeps the tools and reports the Azure agents, which would hurt there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bootfix/bootfix.h"
#include "bootfix/linux/netcfg.h"

#define CONCERN "agents"

/* Units of open-vm-tools (Debian/Ubuntu name it open-vm-tools.service with
 * Alias=vmtoolsd.service; RHEL/SUSE vmtoolsd.service and vgauthd.service)
 * and of VMware's own installer.
 */
static const char *const vmware_units[] = {
  "open-vm-tools.service", "vmtoolsd.service", "vgauth.service",
  "vgauthd.service", "vmware-tools.service", "vmware-tools-thinprint.service",
  "vmware-vmblock-fuse.service", "run-vmblock\\x2dfuse.mount",
};
/* SysV script names whose S links start them. */
static const char *const vmware_scripts[] = {
  "vmware-tools", "vmware-tools-thinprint", "open-vm-tools", "vmtoolsd",
};

static bool
is_vmware_unit (const char *name)
{
  for (size_t i = 0; i < sizeof vmware_units / sizeof vmware_units[0]; i++)
    if (strcmp (name, vmware_units[i]) == 0)
      return true;
  return false;
}

/* Remove PATH if it is a symlink (never a file: that would be an admin's
 * unit or script).  Returns 1 if planned, 0 if not, -1 on error.
 */
static int
remove_link (struct lf_plan *p, struct lf_os *os, const char *path,
             const char *what)
{
  struct lf_stat st;
  CLEANUP_FREE char *target = NULL;

  if (lf_guest_lstat_opt (&os->mounts, path, &st) != 1 || !S_ISLNK (st.mode)) {
    lf_error_clear ();
    return 0;
  }
  if (lf_guest_readlink (&os->mounts, path, &target) == -1)
    lf_error_clear ();
  if (target && strcmp (target, "/dev/null") == 0)
    return 0;                   /* a mask, not an enablement */
  if (lf_plan_remove (p, CONCERN, path, "VMware tools disabled on Azure") == -1)
    return -1;
  lf_plan_note (p, CONCERN, LF_CHANGED, "%s disabled: %s -> %s removed",
                what, path, target ? target : "?");
  return 1;
}

static int
disable_vmware_tools (struct lf_plan *p, struct lf_os *os)
{
  static const char *const sysv_dirs[] = {
    "/etc/rc0.d", "/etc/rc1.d", "/etc/rc2.d", "/etc/rc3.d", "/etc/rc4.d",
    "/etc/rc5.d", "/etc/rc6.d", "/etc/rcS.d",
    "/etc/rc.d/rc0.d", "/etc/rc.d/rc1.d", "/etc/rc.d/rc2.d", "/etc/rc.d/rc3.d",
    "/etc/rc.d/rc4.d", "/etc/rc.d/rc5.d", "/etc/rc.d/rc6.d",
    "/etc/init.d/rc0.d", "/etc/init.d/rc1.d", "/etc/init.d/rc2.d",
    "/etc/init.d/rc3.d", "/etc/init.d/rc4.d", "/etc/init.d/rc5.d",
    "/etc/init.d/rc6.d", "/etc/init.d/rcS.d", "/etc/init.d/boot.d",
  };
  const char *sd = "/etc/systemd/system";
  char **names = NULL;
  unsigned removed = 0;
  int r;

  /* systemd: <target>.wants/, <unit>.requires/ and Alias= links. */
  if (lf_guest_list_opt (&os->mounts, sd, &names) == -1)
    lf_error_clear ();
  for (size_t i = 0; names && names[i] && i < NETCFG_MAX_FILES; i++) {
    char path[4096];
    const char *n = names[i];
    snprintf (path, sizeof path, "%s/%s", sd, n);
    if (is_vmware_unit (n)) {
      if ((r = remove_link (p, os, path, n)) == -1)
        goto error;
      removed += (unsigned) r;
      continue;
    }
    if (!lf_net_has_suffix (n, ".wants") && !lf_net_has_suffix (n, ".requires"))
      continue;
    char **units = NULL;
    if (lf_guest_list_opt (&os->mounts, path, &units) != 1) {
      lf_error_clear ();
      continue;
    }
    for (size_t j = 0; units[j] && j < NETCFG_MAX_FILES; j++) {
      char upath[8192];
      if (!is_vmware_unit (units[j]))
        continue;
      snprintf (upath, sizeof upath, "%s/%s", path, units[j]);
      if ((r = remove_link (p, os, upath, units[j])) == -1) {
        lf_free_names (units);
        goto error;
      }
      removed += (unsigned) r;
    }
    lf_free_names (units);
  }
  lf_free_names (names);
  names = NULL;

  /* SysV: S<nn><script> links. */
  for (size_t d = 0; d < sizeof sysv_dirs / sizeof sysv_dirs[0]; d++) {
    if (lf_guest_list_opt (&os->mounts, sysv_dirs[d], &names) != 1) {
      lf_error_clear ();
      names = NULL;
      continue;
    }
    for (size_t i = 0; names[i] && i < NETCFG_MAX_FILES; i++) {
      const char *n = names[i];
      if (n[0] != 'S' || strlen (n) < 4 || n[1] < '0' || n[1] > '9' ||
          n[2] < '0' || n[2] > '9')
        continue;
      for (size_t s = 0; s < sizeof vmware_scripts / sizeof vmware_scripts[0]; s++)
        if (strcmp (n + 3, vmware_scripts[s]) == 0) {
          char path[4096];
          snprintf (path, sizeof path, "%s/%s", sysv_dirs[d], n);
          if ((r = remove_link (p, os, path, vmware_scripts[s])) == -1)
            goto error;
          removed += (unsigned) r;
        }
    }
    lf_free_names (names);
    names = NULL;
  }

  if (removed)
    lf_plan_note (p, CONCERN, LF_CHANGED, "VMware tools: %u service link%s "
                  "removed (packages and their files kept)", removed,
                  removed == 1 ? "" : "s");
  else if (json_array_size (json_object_get (os->facts, "vmware_tools")))
    lf_plan_note (p, CONCERN, LF_ALREADY_RIGHT, "VMware tools installed but "
                  "not enabled at boot");
  else
    lf_plan_note (p, CONCERN, LF_ALREADY_RIGHT, "no VMware tools");
  return 0;
 error:
  lf_free_names (names);
  return -1;
}

/* ---- waagent.conf (pure) ---- */

/* Set KEY=VALUE on its line; ADD: append it if no line sets it. */
static void
conf_set (const char *name, struct lf_sbuf *b, struct lf_netnotes *notes,
          const char *key, const char *value, bool add)
{
  size_t klen = strlen (key), pos = 0, n, lineno = 0;
  const char *line;
  struct lf_sbuf o = { 0 };
  bool found = false;

  /* Works on B's current text, so several keys can be set in turn. */
  while (lf_net_next_line (b->s, b->len, &pos, &line, &n)) {
    const char *s;
    size_t sn;
    lineno++;
    lf_net_trim (line, n, &s, &sn);
    if (sn > klen && memcmp (s, key, klen) == 0 &&
        (s[klen] == '=' || s[klen] == ' ')) {
      const char *v = memchr (s, '=', sn);
      if (!v) {
        lf_sbuf_add (&o, line, n);
        continue;
      }
      v++;
      size_t vn = (size_t) (s + sn - v);
      while (vn && (*v == ' ' || *v == '\t')) {
        v++;
        vn--;
      }
      found = true;
      if (vn == strlen (value) && memcmp (v, value, vn) == 0) {
        lf_sbuf_add (&o, line, n);
        continue;
      }
      char q[256];
      lf_net_quote (v, vn, q, sizeof q);
      lf_netnotes_add (notes, LF_CHANGED, "%s:%zu: %s: %s -> %s", name,
                       lineno, key, q, value);
      lf_sbuf_printf (&o, "%s=%s\n", key, value);
      continue;
    }
    lf_sbuf_add (&o, line, n);
  }
  if (!found && add) {
    if (o.len && o.s[o.len - 1] != '\n')
      lf_sbuf_puts (&o, "\n");
    lf_sbuf_printf (&o, "%s=%s\n", key, value);
    lf_netnotes_add (notes, LF_CHANGED, "%s: %s=%s added", name, key, value);
  }
  b->oom |= o.oom;
  free (b->s);
  *b = o;
  if (!b->s)
    lf_sbuf_add (b, "", 0);
}

static bool
conf_has (const char *in, size_t len, const char *key)
{
  size_t klen = strlen (key), pos = 0, n;
  const char *line;

  while (lf_net_next_line (in, len, &pos, &line, &n)) {
    const char *s;
    size_t sn;
    lf_net_trim (line, n, &s, &sn);
    if (sn > klen && memcmp (s, key, klen) == 0 &&
        (s[klen] == '=' || s[klen] == ' '))
      return true;
  }
  return false;
}

int
lf_waagent_conf_edit (const char *name, const char *in, size_t len,
                      bool cloud_init, struct lf_netedit *ret)
{
  struct lf_sbuf b = { 0 };

  memset (ret, 0, sizeof *ret);
  if (lf_net_check_text (name, in, len) == -1)
    return -1;
  lf_sbuf_add (&b, in, len);
  /* A migrated VM is specialised: never provisioned again (and never
   * deprovisioned).  Older agents know only Provisioning.Enabled.
   */
  if (conf_has (in, len, "Provisioning.Agent") ||
      !conf_has (in, len, "Provisioning.Enabled"))
    conf_set (name, &b, &ret->notes, "Provisioning.Agent", "disabled",
              true);
  if (conf_has (in, len, "Provisioning.Enabled"))
    conf_set (name, &b, &ret->notes, "Provisioning.Enabled", "n",
              false);
  if (cloud_init) {
    conf_set (name, &b, &ret->notes, "ResourceDisk.Format", "n", true);
    conf_set (name, &b, &ret->notes, "ResourceDisk.EnableSwap", "n",
              false);
  }
  else {
    conf_set (name, &b, &ret->notes, "ResourceDisk.Format", "y", true);
    conf_set (name, &b, &ret->notes, "ResourceDisk.Filesystem", "ext4",
              false);
    conf_set (name, &b, &ret->notes, "ResourceDisk.MountPoint",
              "/mnt/resource", false);
  }
  if (lf_sbuf_finish (&b, &ret->out, &ret->outlen) == -1) {
    lf_netedit_free (ret);
    return -1;
  }
  if (ret->outlen == len && memcmp (ret->out, in, len) == 0) {
    free (ret->out);
    ret->out = NULL;
    ret->outlen = 0;
    ret->action = LF_NET_KEEP;
  }
  else
    ret->action = LF_NET_REWRITE;
  return 0;
}

/* ---- cloud-init (pure) ---- */

bool
lf_cloud_init_datasources (const char *in, size_t len, char *buf, size_t bufsz)
{
  size_t pos = 0, n;
  const char *line;
  bool found = false;

  while (lf_net_next_line (in, len, &pos, &line, &n)) {
    const char *s;
    size_t sn;
    /* Only a top-level key counts: no indentation. */
    if (n < 16 || memcmp (line, "datasource_list", 15) != 0)
      continue;
    lf_net_trim (line, n, &s, &sn);
    const char *c = memchr (s, ':', sn);
    if (!c)
      continue;
    c++;
    size_t cn = (size_t) (s + sn - c);
    while (cn && (*c == ' ' || *c == '\t')) {
      c++;
      cn--;
    }
    lf_net_quote (c, cn, buf, bufsz);
    found = true;               /* the last one wins, as in the merge */
  }
  return found;
}

#define CLOUD_AZURE_CFG "/etc/cloud/cloud.cfg.d/91-azure_datasource.cfg"
#define CLOUD_AZURE_TEXT \
  "# landfall: the Azure datasource (reference: Azure's image guide)\n" \
  "datasource_list: [ Azure ]\n" \
  "datasource:\n" \
  "    Azure:\n" \
  "        apply_network_config: False\n"

static bool
agent_in (char **list, const char *name)
{
  for (char **a = list; a && *a; a++)
    if (strcmp (*a, name) == 0)
      return true;
  return false;
}

/* CONFIGURE: the target is Azure's (datasource checked, written when
 * asked); otherwise a datasource list that names Azure only, or the file
 * an Azure fix wrote, is reported: cloud-init would look for Azure there.
 */
static int
fix_cloud_init (struct lf_netctx *c, const struct lf_fix_opts *o,
                bool configure)
{
  char list[256] = "";
  const char *where = NULL;
  char **names;
  CLEANUP_FREE char *where_d = NULL;

  {
    CLEANUP_FREE char *buf = NULL;
    size_t len;
    if (lf_net_read (c, "/etc/cloud/cloud.cfg", &buf, &len) == -1)
      return -1;
    if (buf && lf_cloud_init_datasources (buf, len, list, sizeof list))
      where = "/etc/cloud/cloud.cfg";
  }
  names = lf_net_list (c, "/etc/cloud/cloud.cfg.d", NULL);
  for (char **s = names; s && *s; s++) {
    char path[4096];
    CLEANUP_FREE char *buf = NULL;
    size_t len;
    if (!lf_net_has_suffix (*s, ".cfg"))
      continue;
    snprintf (path, sizeof path, "/etc/cloud/cloud.cfg.d/%s", *s);
    int r = lf_net_read (c, path, &buf, &len);
    if (r == -1) {
      lf_free_names (names);
      return -1;
    }
    if (r == 0 && lf_cloud_init_datasources (buf, len, list, sizeof list)) {
      free (where_d);
      where_d = strdup (path);
      where = where_d;
    }
  }
  lf_free_names (names);

  bool azure = !where || strstr (list, "Azure") != NULL;
  if (!configure) {
    bool only_azure = where && azure && !strchr (list, ',');
    if (lf_plan_exists (c->p, CLOUD_AZURE_CFG) || only_azure)
      lf_plan_note (c->p, CONCERN, LF_WARNING, "cloud-init: datasource_list "
                    "%s (%s) is Azure's: on %s cloud-init would wait for "
                    "Azure's metadata service at boot; set the target's "
                    "datasource (or remove %s)", list, where ? where :
                    CLOUD_AZURE_CFG, o->profile->name, CLOUD_AZURE_CFG);
    else
      lf_plan_note (c->p, CONCERN, LF_ALREADY_RIGHT, "cloud-init: "
                    "datasource_list %s%s%s%s", where ? list : "default",
                    where ? " (" : "", where ? where : "", where ? ")" : "");
    return 0;
  }
  if (o && o->cloud_init_azure) {
    if (lf_plan_write (c->p, CONCERN, CLOUD_AZURE_CFG, CLOUD_AZURE_TEXT,
                       strlen (CLOUD_AZURE_TEXT), 0644,
                       "cloud-init: the Azure datasource") == -1)
      return -1;
  }
  else if (!where)
    lf_plan_note (c->p, CONCERN, LF_ALREADY_RIGHT, "cloud-init: default "
                  "datasource list (ds-identify finds Azure)");
  else if (azure)
    lf_plan_note (c->p, CONCERN, LF_ALREADY_RIGHT, "cloud-init: "
                  "datasource_list %s (%s)", list, where);
  else
    lf_plan_note (c->p, CONCERN, LF_WARNING, "cloud-init: datasource_list "
                  "%s (%s) has no Azure: on Azure cloud-init falls back to "
                  "no datasource; set \"datasource_list: [ Azure ]\" in %s",
                  list, where, CLOUD_AZURE_CFG);
  return 0;
}

static int
fix_waagent (struct lf_netctx *c, bool cloud_init)
{
  static const char *const units[] = {
    "/etc/systemd/system/multi-user.target.wants/waagent.service",
    "/etc/systemd/system/multi-user.target.wants/walinuxagent.service",
  };
  CLEANUP_FREE char *buf = NULL;
  size_t len;
  struct lf_netedit e;
  int r;

  r = lf_net_read (c, "/etc/waagent.conf", &buf, &len);
  if (r == -1)
    return -1;
  if (r == 1)
    lf_plan_note (c->p, CONCERN, LF_WARNING, "waagent installed without "
                  "/etc/waagent.conf: left alone");
  else if (lf_waagent_conf_edit ("/etc/waagent.conf", buf, len, cloud_init,
                                 &e) == -1) {
    if (lf_net_failed (c, "/etc/waagent.conf") == -1)
      return -1;
  }
  else {
    if (e.action == LF_NET_KEEP)
      lf_plan_note (c->p, CONCERN, LF_ALREADY_RIGHT, "/etc/waagent.conf set "
                    "for a migrated VM");
    if (lf_net_plan (c, "/etc/waagent.conf", buf, len, &e,
                     "waagent set for a migrated (specialised) VM") == -1)
      return -1;
  }
  bool enabled = false;
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (lf_guest_exists (&c->os->mounts, units[i]))
      enabled = true;
  lf_error_clear ();
  if (enabled || !lf_guest_exists (&c->os->mounts, "/etc/systemd/system")) {
    lf_error_clear ();
    return 0;
  }
  /* Enable it as systemctl would: the wants link to the packaged unit
   * (its [Install] section says multi-user.target for both names).
   */
  static const char *const dirs[] = { "/usr/lib/systemd/system",
                                      "/lib/systemd/system" };
  for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++)
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
      const char *name = strrchr (units[i], '/') + 1;
      char unit[128];
      snprintf (unit, sizeof unit, "%s/%s", dirs[d], name);
      if (!lf_plan_exists (c->p, unit))
        continue;
      if (lf_plan_symlink (c->p, CONCERN, units[i], unit,
                           "waagent enabled at boot") == -1)
        return -1;
      lf_plan_note (c->p, CONCERN, LF_CHANGED, "%s enabled at boot", name);
      return 0;
    }
  lf_plan_note (c->p, CONCERN, LF_WARNING, "waagent is installed but not "
                "enabled at boot, and no waagent.service or "
                "walinuxagent.service unit was found to enable");
  return 0;
}

int
lf_fix_linux_agents (struct lf_guest *g, struct lf_os *os, struct lf_plan *p,
                     const struct lf_fix_opts *o)
{
  struct lf_netctx c = { .concern = CONCERN, .p = p, .os = os };
  bool cloud_init = json_is_true (json_object_get (os->facts, "cloud_init"));
  const char *family = json_string_value
    (json_object_get (json_object_get (os->facts, "distro"), "family"));

  const struct lf_hw_profile *hw = o->profile;
  bool waagent = json_is_true (json_object_get (os->facts, "waagent"));

  (void) g;
  if (agent_in (hw->agents_disable, "vmware-tools")) {
    if (disable_vmware_tools (p, os) == -1)
      return -1;
  }
  else
    lf_plan_note (p, CONCERN, LF_SKIPPED, "VMware tools: left as they are "
                  "(%s does not turn them off)", hw->name);
  if (agent_in (hw->agents_configure, "waagent")) {
    if (waagent) {
      if (fix_waagent (&c, cloud_init) == -1)
        return -1;
    }
    else
      lf_plan_note (p, CONCERN, LF_WARNING, "waagent not installed: install "
                    "%s for the Azure VM agent (extensions, password reset, "
                    "boot diagnostics); the VM boots and networks without it",
                    family && strcmp (family, "debian") == 0 ? "walinuxagent"
                    : "WALinuxAgent");
  }
  else if (waagent && agent_in (hw->agents_report, "waagent"))
    lf_plan_note (p, CONCERN, LF_WARNING, "waagent is installed: the Azure "
                  "VM agent has no use on %s and looks for Azure's wire "
                  "server at every boot; disable or remove it there", hw->name);
  if (cloud_init && (agent_in (hw->agents_configure, "cloud-init") ||
                     agent_in (hw->agents_report, "cloud-init"))) {
    if (fix_cloud_init (&c, o, agent_in (hw->agents_configure,
                                         "cloud-init")) == -1)
      return -1;
  }
  else if (!cloud_init)
    lf_plan_note (p, CONCERN, LF_SKIPPED, "cloud-init not installed");
  return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall guest/: Windows inspection, from the registry hives alone.
 *
 * SOFTWARE gives the product, version, build and edition; SYSTEM gives the
 * control sets, the state of the drivers a profile names (lf_win_driver_facts:
 * the list is the caller's), the SAN policy,
 * MountedDevices (drive letters), the NICs' addressing, VMware Tools and
 * the Azure agent.  The hives are also checked for unreplayed transaction
 * logs, and the volume for BitLocker and hibernation.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "guest/guest.h"

/* An ImagePath longer than this is no driver path (MAX_PATH is 260). */
#define WIN_MAX_IMAGE_PATH 1024

char *
lf_win_image_path (const char *sysroot, const char *image)
{
  static const char *const roots[] = { "\\SystemRoot\\", "%SystemRoot%\\",
                                       "%windir%\\" };
  const char *rel = NULL, *base = sysroot;
  char *out;

  if (!image || !*image || strlen (image) > WIN_MAX_IMAGE_PATH)
    return NULL;
  for (size_t i = 0; i < sizeof roots / sizeof roots[0] && !rel; i++)
    if (strncasecmp (image, roots[i], strlen (roots[i])) == 0)
      rel = image + strlen (roots[i]);
  /* The system volume is C: (W76); another letter is another volume. */
  if (!rel && strncasecmp (image, "\\??\\C:\\", 7) == 0)
    rel = image + 7, base = "";
  if (!rel && strncasecmp (image, "C:\\", 3) == 0)
    rel = image + 3, base = "";
  if (!rel && image[0] != '\\' && !strpbrk (image, ":%\""))
    rel = image;
  if (!rel || !*rel || strstr (rel, ".."))
    return NULL;
  if (asprintf (&out, "%s/%s", base, rel) == -1)
    return NULL;
  for (char *c = out; *c; c++)
    if (*c == '\\')
      *c = '/';
  /* ImagePaths spell "system32" as they like; the directories are
   * System32 and drivers, and a mounted tree (ntfs-3g, the appliance's
   * kernel) looks names up case-sensitively.
   */
  size_t b = strlen (base);
  if (b && strncasecmp (out + b, "/System32/", 10) == 0) {
    memcpy (out + b, "/System32/", 10);
    if (strncasecmp (out + b + 9, "/drivers/", 9) == 0)
      memcpy (out + b + 9, "/drivers/", 9);
  }
  return out;
}

static const char *const vmware_services[] = {
  "VMTools", "vmci", "vmhgfs", "vmmouse", "VMMemCtl", "vmrawdsk",
  "vmvss", "vm3dmp", "vmxnet3ndis6", "vsock",
};

static const char *
start_name (uint32_t s)
{
  static const char *const names[] = { "boot", "system", "automatic",
                                       "manual", "disabled" };
  return s < 5 ? names[s] : "invalid";
}

static void
inspect_software (struct lf_os *os, const char *sysroot)
{
  char path[256];
  struct lf_hive *hv;
  json_t *w = json_object ();

  snprintf (path, sizeof path, "%s/System32/config/SOFTWARE", sysroot);
  hv = lf_hive_open (&os->mounts, path, false);
  if (!hv) {
    json_object_set_new (w, "error", json_string (lf_last_error ()));
    json_object_set_new (os->facts, "product", w);
    return;
  }
  uint64_t cv = lf_hive_node (hv, "Microsoft\\Windows NT\\CurrentVersion");
  static const char *const keys[][2] = {
    { "ProductName", "name" }, { "CurrentVersion", "version" },
    { "CurrentBuildNumber", "build" }, { "EditionID", "edition" },
    { "InstallationType", "installation_type" },
    { "DisplayVersion", "display_version" }, { "CSDVersion", "service_pack" },
  };
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    CLEANUP_FREE char *v = lf_hive_get_string (hv, cv, keys[i][0]);
    if (v)
      json_object_set_new (w, keys[i][1], json_string (v));
  }
  if (!json_object_get (w, "build")) {
    CLEANUP_FREE char *b = lf_hive_get_string (hv, cv, "CurrentBuild");
    if (b)
      json_object_set_new (w, "build", json_string (b));
  }
  /* Windows 10 and later keep "6.3" in CurrentVersion for old programs. */
  uint32_t major, minor;
  if (lf_hive_get_dword (hv, cv, "CurrentMajorVersionNumber", &major) == 0 &&
      lf_hive_get_dword (hv, cv, "CurrentMinorVersionNumber", &minor) == 0)
    json_object_set_new (w, "version", json_sprintf ("%u.%u", major, minor));
  json_object_set_new (w, "hive_dirty", json_boolean (lf_hive_dirty (hv)));
  json_object_set_new (os->facts, "product", w);
  lf_hive_close (hv);
}

/* MountedDevices: "\DosDevices\C:" -> 12 bytes (MBR signature, offset) or
 * "DMIO:ID:" + a GPT partition GUID.
 */
struct md_ctx {
  struct lf_guest *g;
  json_t *letters;
};

static void
guid_str (const uint8_t *b, char *out)
{
  sprintf (out, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x",
           lf_le32 (b), lf_le16 (b + 4), lf_le16 (b + 6), b[8], b[9], b[10],
           b[11], b[12], b[13], b[14], b[15]);
}

static int
md_value (void *opaque, const char *name, uint32_t type, const void *data,
          size_t len)
{
  struct md_ctx *c = opaque;
  const uint8_t *d = data;
  json_t *j;

  (void) type;
  if (strncmp (name, "\\DosDevices\\", 12) != 0)
    return 0;
  j = json_pack ("{s:s}", "letter", name + 12);
  if (len == 12) {
    uint32_t sig = lf_le32 (d);
    uint64_t off = lf_le64 (d + 4);
    char id[16];
    snprintf (id, sizeof id, "0x%08" PRIx32, sig);
    json_object_set_new (j, "mbr_signature", json_string (id));
    json_object_set_new (j, "offset", json_integer ((json_int_t) off));
    for (size_t i = 0; i < c->g->ndisks; i++)
      if (strcasecmp (c->g->tables[i].id, id) == 0)
        for (size_t p = 0; p < c->g->tables[i].n; p++)
          if (c->g->tables[i].parts[p].offset == off) {
            char dev[600];
            snprintf (dev, sizeof dev, "%s:p%u", lf_disk_path (c->g->disks[i]),
                      c->g->tables[i].parts[p].number);
            json_object_set_new (j, "partition", json_string (dev));
          }
  }
  else if (len == 24 && memcmp (d, "DMIO:ID:", 8) == 0) {
    char guid[40];
    guid_str (d + 8, guid);
    json_object_set_new (j, "gpt_partition_guid", json_string (guid));
    for (size_t i = 0; i < c->g->ndisks; i++)
      for (size_t p = 0; p < c->g->tables[i].n; p++)
        if (strcasecmp (c->g->tables[i].parts[p].uuid, guid) == 0) {
          char dev[600];
          snprintf (dev, sizeof dev, "%s:p%u", lf_disk_path (c->g->disks[i]),
                    c->g->tables[i].parts[p].number);
          json_object_set_new (j, "partition", json_string (dev));
        }
  }
  else if (len % 2 == 0 && len >= 4) {
    /* A device path in UTF-16 (CD-ROMs, removable media, volumes). */
    CLEANUP_FREE char *dev = lf_utf16_to_utf8 (d, len, false);
    if (dev)
      json_object_set_new (j, "device", json_string (dev));
  }
  json_array_append_new (c->letters, j);
  return 0;
}

static json_t *
control_set_json (struct lf_hive *hv, const char *cs)
{
  json_t *j = json_object (), *vmw = json_array ();
  json_t *nics = json_array ();
  char path[512];


  uint32_t san;
  snprintf (path, sizeof path, "%s\\Services\\partmgr\\Parameters", cs);
  if (lf_hive_get_dword (hv, lf_hive_node (hv, path), "SanPolicy", &san) == 0)
    json_object_set_new (j, "san_policy", json_integer (san));
  else
    json_object_set_new (j, "san_policy", json_null ());

  for (size_t i = 0; i < sizeof vmware_services / sizeof vmware_services[0]; i++) {
    uint32_t start;
    snprintf (path, sizeof path, "%s\\Services\\%s", cs, vmware_services[i]);
    uint64_t n = lf_hive_node (hv, path);
    if (n && lf_hive_get_dword (hv, n, "Start", &start) == 0)
      json_array_append_new (vmw, json_pack ("{s:s, s:i, s:s}", "service",
                                             vmware_services[i], "start",
                                             (int) start, "start_name",
                                             start_name (start)));
  }
  json_object_set_new (j, "vmware_tools", vmw);

  static const char *const agents[] = { "WindowsAzureGuestAgent", "RdAgent" };
  json_t *ag = json_array ();
  for (size_t i = 0; i < 2; i++) {
    snprintf (path, sizeof path, "%s\\Services\\%s", cs, agents[i]);
    if (lf_hive_node (hv, path))
      json_array_append_new (ag, json_string (agents[i]));
  }
  json_object_set_new (j, "azure_agent", ag);

  snprintf (path, sizeof path, "%s\\Services\\Tcpip\\Parameters\\Interfaces", cs);
  uint64_t ifs = lf_hive_node (hv, path);
  char **names = lf_hive_children (hv, ifs);
  for (char **n = names; n && *n; n++) {
    char ipath[700];
    snprintf (ipath, sizeof ipath, "%s\\%s", path, *n);
    uint64_t node = lf_hive_node (hv, ipath);
    uint32_t dhcp = 0;
    bool has = lf_hive_get_dword (hv, node, "EnableDHCP", &dhcp) == 0;
    json_t *nic = json_pack ("{s:s}", "interface", *n);
    json_object_set_new (nic, "dhcp", has ? json_boolean (dhcp) : json_null ());
    static const char *const multi[] = { "IPAddress", "SubnetMask",
                                         "DefaultGateway" };
    for (size_t k = 0; k < 3; k++) {
      char **v = lf_hive_get_multi (hv, node, multi[k]);
      json_t *a = json_array ();
      for (char **p = v; p && *p; p++) {
        if (**p)
          json_array_append_new (a, json_string (*p));
        free (*p);
      }
      free (v);
      json_object_set_new (nic, multi[k], a);
    }
    CLEANUP_FREE char *ns = lf_hive_get_string (hv, node, "NameServer");
    if (ns && *ns)
      json_object_set_new (nic, "NameServer", json_string (ns));
    json_array_append_new (nics, nic);
  }
  lf_free_names (names);
  json_object_set_new (j, "nics", nics);
  return j;
}

static void
inspect_system (struct lf_guest *g, struct lf_os *os, const char *sysroot)
{
  char path[256];
  struct lf_hive *hv;
  json_t *sets;
  uint32_t current = 0, lkg = 0, def = 0;

  snprintf (path, sizeof path, "%s/System32/config/SYSTEM", sysroot);
  hv = lf_hive_open (&os->mounts, path, false);
  if (!hv) {
    json_object_set_new (os->facts, "system_hive_error",
                         json_string (lf_last_error ()));
    return;
  }
  /* A hive whose sequence numbers differ was not flushed at shutdown:
   * its .LOG1/.LOG2 hold changes hivex does not replay.
   */
  json_t *hive = json_pack ("{s:s, s:b}", "path", path,
                            "dirty", lf_hive_dirty (hv));
  json_t *logs = json_array ();
  for (int i = 1; i <= 2; i++) {
    char lp[300];
    snprintf (lp, sizeof lp, "%s.LOG%d", path, i);
    if (lf_guest_exists (&os->mounts, lp))
      json_array_append_new (logs, json_string (lp));
    lf_error_clear ();
  }
  json_object_set_new (hive, "logs", logs);
  json_object_set_new (os->facts, "system_hive", hive);
  sets = json_object ();

  uint64_t sel = lf_hive_node (hv, "Select");
  (void) lf_hive_get_dword (hv, sel, "Current", &current);
  (void) lf_hive_get_dword (hv, sel, "Default", &def);
  (void) lf_hive_get_dword (hv, sel, "LastKnownGood", &lkg);
  json_object_set_new (os->facts, "select",
                       json_pack ("{s:i, s:i, s:i}", "current", (int) current,
                                  "default", (int) def,
                                  "last_known_good", (int) lkg));
  char **roots = lf_hive_children (hv, lf_hive_node (hv, ""));
  for (char **n = roots; n && *n; n++)
    if (strncasecmp (*n, "ControlSet", 10) == 0)
      json_object_set_new (sets, *n, control_set_json (hv, *n));
  lf_free_names (roots);
  json_object_set_new (os->facts, "control_sets", sets);
  snprintf (path, sizeof path, "ControlSet%03u", current);
  json_object_set_new (os->facts, "current_control_set", json_string (path));

  char envp[300];
  snprintf (envp, sizeof envp, "%s\\Control\\Session Manager\\Environment", path);
  CLEANUP_FREE char *arch = lf_hive_get_string (hv, lf_hive_node (hv, envp),
                                                "PROCESSOR_ARCHITECTURE");
  json_object_set_new (os->facts, "arch",
                       !arch ? json_null ()
                       : json_string (strcasecmp (arch, "AMD64") == 0 ? "x86_64"
                                      : strcasecmp (arch, "x86") == 0 ? "i386"
                                      : strcasecmp (arch, "ARM64") == 0 ? "aarch64"
                                      : arch));

  struct md_ctx c = { .g = g, .letters = json_array () };
  uint64_t md = lf_hive_node (hv, "MountedDevices");
  if (md)
    (void) lf_hive_values (hv, md, md_value, &c);
  json_object_set_new (os->facts, "drive_letters", c.letters);
  lf_hive_close (hv);
}

static bool
has_control_set (json_t *sets, const char *name)
{
  const char *k;
  json_t *v;

  json_object_foreach (sets, k, v)
    if (strcasecmp (k, name) == 0)
      return true;
  return false;
}

int
lf_win_select_check (const struct lf_os *os, char *buf, size_t size,
                     bool *fatal)
{
  static const struct { const char *fact, *value; bool fatal; } vals[] = {
    { "current", "Current", true },
    { "default", "Default", true },
    { "last_known_good", "LastKnownGood", false },
  };
  json_t *sel = json_object_get (os->facts, "select");
  json_t *sets = json_object_get (os->facts, "control_sets");
  char have[256] = "";
  size_t used = 0;
  int n = 0;
  const char *k;
  json_t *v;

  *fatal = false;
  if (size)
    buf[0] = '\0';
  json_object_foreach (sets, k, v) {
    size_t l = strlen (have);
    snprintf (have + l, sizeof have - l, "%s%s", l ? ", " : "", k);
  }
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    json_int_t x = json_integer_value (json_object_get (sel, vals[i].fact));
    char name[32];
    int w;
    snprintf (name, sizeof name, "ControlSet%03u", (unsigned) (x & 0xffffffff));
    /* An absent LastKnownGood only means the boot menu offers none. */
    if ((x == 0 && !vals[i].fatal) || (x > 0 && has_control_set (sets, name)))
      continue;
    if (x == 0)
      w = snprintf (buf + used, size - used, "%sSelect\\%s is absent or 0: "
                    "it names no control set (the hive has %s)",
                    n ? "; " : "", vals[i].value, *have ? have : "none");
    else
      w = snprintf (buf + used, size - used, "%sSelect\\%s is %lld, but the "
                    "hive has no %s (it has %s)", n ? "; " : "",
                    vals[i].value, (long long) x, name,
                    *have ? have : "none");
    if (w > 0)
      used = LF_MIN (size - 1, used + (size_t) w);
    n++;
    *fatal = *fatal || vals[i].fatal;
  }
  return n;
}

int
lf_inspect_windows (struct lf_guest *g, struct lf_os *os)
{
  const char *sysroot = lf_guest_exists (&os->mounts, "/Windows/System32")
    ? "/Windows" : "/WINNT";
  lf_error_clear ();
  json_object_set_new (os->facts, "systemroot", json_string (sysroot));
  inspect_software (os, sysroot);
  inspect_system (g, os, sysroot);

  bool bitlocker = false;
  for (size_t i = 0; i < g->nfs; i++)
    if (strcmp (g->fss[i].info.type, "BitLocker") == 0)
      bitlocker = true;
  json_object_set_new (os->facts, "bitlocker", json_boolean (bitlocker));
  /* A hibernated or dirty volume (fast startup) must not be changed: the
   * fix refuses it, inspection reports it.
   */
  bool dirty = false, hibernated = false;
  if (lf_ntfs_state (g->fss[os->root].fs, &dirty, &hibernated) == 0) {
    json_object_set_new (os->facts, "ntfs_dirty", json_boolean (dirty));
    json_object_set_new (os->facts, "hibernated", json_boolean (hibernated));
  }
  lf_error_clear ();
  lf_guest_firmware (g, os);
  return 0;
}

int
lf_win_driver_facts (struct lf_os *os, const char *const *services,
                     const char *const *files)
{
  const char *sysroot = json_string_value (json_object_get (os->facts,
                                                            "systemroot"));
  const char *hive = json_string_value (json_object_get (
      json_object_get (os->facts, "system_hive"), "path"));
  json_t *sets = json_object_get (os->facts, "control_sets"), *set;
  const char *cs;
  CLEANUP_HIVE struct lf_hive *hv = NULL;

  if (!sysroot || !hive || !sets)
    return 0;
  if (!(hv = lf_hive_open (&os->mounts, hive, false)))
    return -1;
  json_object_foreach (sets, cs, set) {
    json_t *drivers = json_object ();
    for (size_t i = 0; services[i] && files[i]; i++) {
      char path[512];
      uint32_t start;
      snprintf (path, sizeof path, "%s\\Services\\%s", cs, services[i]);
      uint64_t n = lf_hive_node (hv, path);
      CLEANUP_FREE char *image = n ? lf_hive_get_string (hv, n, "ImagePath")
        : NULL;
      CLEANUP_FREE char *sys = lf_win_image_path (sysroot, image);
      if (!sys && asprintf (&sys, "%s/System32/drivers/%s", sysroot,
                            files[i]) == -1)
        sys = NULL;
      bool file = sys && lf_guest_exists (&os->mounts, sys);
      lf_error_clear ();
      json_t *d = json_pack ("{s:b, s:b}", "service", n != 0, "file", file);
      if (n && lf_hive_get_dword (hv, n, "Start", &start) == 0) {
        json_object_set_new (d, "start", json_integer (start));
        json_object_set_new (d, "start_name", json_string (start_name (start)));
      }
      json_object_set_new (drivers, services[i], d);
    }
    json_object_set_new (set, "profile_drivers", drivers);
  }
  return 0;
}

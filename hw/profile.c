/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall hw/: target hardware profiles, read from JSON files.
 *
 * A profile is data so that QA can add a target (a new Azure generation,
 * an NVMe-only size) without a C change.  The file is untrusted text: it
 * is size-capped, parsed by jansson with duplicate keys refused, and every
 * field is checked for type, range and length before use.  Unknown
 * fields are errors, since a misspelt "max_os_disk_size" silently falling
 * back to no limit would make verify pass disks Azure refuses.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hw/hw.h"

#ifndef LF_HW_DIR
#define LF_HW_DIR "/usr/local/share/landfall/hw"
#endif

/* The parse context: the file name for messages, and a failure flag so
 * that field readers can be chained and the first error kept.
 */
struct ctx {
  const char *file;
  bool failed;
};

static void LF_PRINTF (3, 4)
fail (struct ctx *c, const char *field, const char *fmt, ...)
{
  char msg[512];
  va_list ap;

  if (c->failed)
    return;
  c->failed = true;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  lf_error (EINVAL, "%s: field '%s': %s", c->file, field, msg);
}

/* Refuse keys of OBJ not in ALLOWED (NULL-terminated). */
static void
only_keys (struct ctx *c, json_t *obj, const char *where,
           const char *const *allowed)
{
  const char *key;
  json_t *v;

  json_object_foreach (obj, key, v) {
    bool ok = false;
    for (const char *const *a = allowed; *a; a++)
      ok |= strcmp (*a, key) == 0;
    if (!ok) {
      char f[LF_HW_MAX_STRING + 64];
      snprintf (f, sizeof f, "%s%s%.*s", where, *where ? "." : "",
                LF_HW_MAX_STRING, key);
      fail (c, f, "not a known field (a typo?)");
      return;
    }
  }
}

static json_t *
get_object (struct ctx *c, json_t *obj, const char *key, const char *field,
            bool required)
{
  json_t *v = json_object_get (obj, key);
  if (!v) {
    if (required)
      fail (c, field, "missing");
    return NULL;
  }
  if (!json_is_object (v)) {
    fail (c, field, "expected an object");
    return NULL;
  }
  return v;
}

/* A printable string without control characters, at most
 * LF_HW_MAX_STRING bytes: profile strings end up on QEMU's command line
 * and in reports.
 */
static bool
check_string (struct ctx *c, const char *field, json_t *v, bool allow_empty)
{
  const char *s;
  size_t n;

  if (!json_is_string (v)) {
    fail (c, field, "expected a string");
    return false;
  }
  s = json_string_value (v);
  n = json_string_length (v);
  if (n > LF_HW_MAX_STRING) {
    fail (c, field, "%zu bytes long (at most %d)", n, LF_HW_MAX_STRING);
    return false;
  }
  if (!allow_empty && n == 0) {
    fail (c, field, "empty");
    return false;
  }
  for (size_t i = 0; i < n; i++)
    if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) {
      fail (c, field, "control character 0x%02x at byte %zu",
            (unsigned) (unsigned char) s[i], i);
      return false;
    }
  return true;
}

static char *
get_string (struct ctx *c, json_t *obj, const char *key, const char *field,
            bool required, const char *dflt)
{
  json_t *v = json_object_get (obj, key);
  char *s;

  if (c->failed)
    return NULL;
  if (!v) {
    if (required) {
      fail (c, field, "missing");
      return NULL;
    }
    v = NULL;
  }
  else if (!check_string (c, field, v, true))
    return NULL;
  s = strdup (v ? json_string_value (v) : dflt ? dflt : "");
  if (!s)
    fail (c, field, "out of memory");
  return s;
}

/* A string that must be one of CHOICES. */
static char *
get_choice (struct ctx *c, json_t *obj, const char *key, const char *field,
            const char *const *choices)
{
  char *s = get_string (c, obj, key, field, true, NULL);
  char list[256] = "";

  if (!s)
    return NULL;
  for (const char *const *ch = choices; *ch; ch++) {
    if (strcmp (s, *ch) == 0)
      return s;
    snprintf (list + strlen (list), sizeof list - strlen (list), "%s'%s'",
              *list ? ", " : "", *ch);
  }
  fail (c, field, "'%s' is not one of %s", s, list);
  free (s);
  return NULL;
}

static void
free_list (char **l)
{
  if (l)
    for (char **p = l; *p; p++)
      free (*p);
  free (l);
}

/* A list of non-empty strings; a missing optional list is empty. */
static char **
get_list (struct ctx *c, json_t *obj, const char *key, const char *field,
          bool required, bool nonempty)
{
  json_t *v = json_object_get (obj, key), *e;
  char **l;
  size_t i;

  if (c->failed)
    return NULL;
  if (!v && required) {
    fail (c, field, "missing");
    return NULL;
  }
  if (v && !json_is_array (v)) {
    fail (c, field, "expected an array of strings");
    return NULL;
  }
  size_t n = v ? json_array_size (v) : 0;
  if (n > LF_HW_MAX_LIST) {
    fail (c, field, "%zu entries (at most %d)", n, LF_HW_MAX_LIST);
    return NULL;
  }
  if (nonempty && n == 0) {
    fail (c, field, "empty");
    return NULL;
  }
  l = calloc (n + 1, sizeof *l);
  if (!l) {
    fail (c, field, "out of memory");
    return NULL;
  }
  json_array_foreach (v, i, e) {
    char f[128];
    snprintf (f, sizeof f, "%s[%zu]", field, i);
    if (!check_string (c, f, e, false) ||
        !(l[i] = strdup (json_string_value (e)))) {
      fail (c, f, "out of memory");
      free_list (l);
      return NULL;
    }
  }
  return l;
}

/* A positive integer in [MIN, MAX]. */
static uint64_t
get_uint (struct ctx *c, json_t *obj, const char *key, const char *field,
          uint64_t min, uint64_t max)
{
  json_t *v = json_object_get (obj, key);
  json_int_t n;

  if (c->failed)
    return 0;
  if (!v) {
    fail (c, field, "missing");
    return 0;
  }
  if (!json_is_integer (v)) {
    fail (c, field, "expected an integer");
    return 0;
  }
  n = json_integer_value (v);
  if (n < 0 || (uint64_t) n < min || (uint64_t) n > max) {
    fail (c, field, "%lld is out of range [%llu, %llu]", (long long) n,
          (unsigned long long) min, (unsigned long long) max);
    return 0;
  }
  return (uint64_t) n;
}

static bool
is_name (const char *s)
{
  if (!*s || *s == '.')
    return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
      return false;
  return true;
}

static void
free_readiness (struct lf_hw_readiness *r, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free (r[i].name); free (r[i].file); free (r[i].since); free (r[i].why);
  }
  free (r);
}

void
lf_hw_profile_free (struct lf_hw_profile *p)
{
  if (!p)
    return;
  free (p->name); free (p->file); free (p->description); free (p->firmware);
  free_list (p->partition_tables); free (p->boot_bus); free (p->container);
  free_list (p->linux_modules); free (p->serial_console);
  free_list (p->linux_modules_optional);
  free_list (p->kernel_params_add); free_list (p->kernel_params_remove);
  free_list (p->udev_rules);
  free_readiness (p->linux_readiness, p->nlinux_readiness);
  free_readiness (p->win_readiness, p->nwin_readiness);
  for (size_t i = 0; i < p->nwin_registry; i++) {
    free (p->win_registry[i].key);
    free (p->win_registry[i].value);
    free (p->win_registry[i].why);
  }
  free (p->win_registry);
  free_list (p->agents_disable); free_list (p->agents_configure);
  free_list (p->agents_report);
  for (size_t i = 0; i < p->nwin_drivers; i++) {
    free (p->win_drivers[i].service);
    free (p->win_drivers[i].file);
    free_list (p->win_drivers[i].needs);
    free (p->win_drivers[i].group);
    free (p->win_drivers[i].any_of);
  }
  free (p->win_drivers);
  free (p->qemu_machine); free (p->qemu_firmware);
  free_list (p->qemu_ovmf_code); free_list (p->qemu_ovmf_vars);
  free (p->qemu_disk_bus); free (p->qemu_scsi_controller);
  free (p->qemu_nic); free (p->qemu_cpu); free (p->qemu_hyperv);
  free (p);
}

static const char *const top_keys[] = {
  "name", "description", "firmware", "secure_boot", "partition_tables",
  "boot_bus", "disk", "linux", "windows", "agents", "qemu", NULL };
static const char *const agents_keys[] = { "disable", "configure", "report",
                                           NULL };
static const char *const agent_names[] = { "vmware-tools", "waagent",
                                           "cloud-init", NULL };
static const char *const disk_keys[] = {
  "container", "size_multiple", "max_os_disk_size", NULL };
static const char *const linux_keys[] = { "modules", "modules_optional",
                                          "serial_console", "kernel_params",
                                          "rootdelay", "udev_rules",
                                          "readiness", NULL };
static const char *const params_keys[] = { "add", "remove", NULL };
static const char *const windows_keys[] = { "boot_drivers", "registry",
                                            "readiness", NULL };
static const char *const registry_keys[] = { "key", "value", "delete",
                                             "dword", "why", NULL };
static const char *const readiness_keys[] = { "module", "service", "file",
                                              "since", "why", NULL };
static const char *const driver_keys[] = { "service", "file", "needs",
                                           "group", "any_of", NULL };
static const char *const qemu_keys[] = {
  "machine", "firmware", "ovmf_code", "ovmf_vars", "disk_bus",
  "scsi_controller", "nic", "cpu", "hyperv", "memory_mib", NULL };

static const char *const firmwares[] = { "bios", "uefi", NULL };
static const char *const buses[] = { "ide", "scsi", "nvme", NULL };
static const char *const containers[] = { "vhd-fixed", "any", NULL };
static const char *const qemu_firmwares[] = { "seabios", "ovmf", NULL };
static const char *const qemu_buses[] = { "ide", "scsi", "nvme", NULL };
static const char *const tables[] = { "dos", "gpt", NULL };

/* The array of objects OBJ[KEY] (optional) in *ARR, and zeroed room for
 * its entries (SIZE bytes each, one more at the end) in *MEM.  Their
 * number; 0 when absent, empty or failed (*ARR NULL then, so a
 * json_array_foreach over it does nothing).
 */
static size_t
get_objects (struct ctx *c, json_t *obj, const char *key, const char *field,
             json_t **arr, void **mem, size_t size)
{
  json_t *v = json_object_get (obj, key);
  size_t n;

  *arr = NULL;
  if (c->failed || !v)
    return 0;
  if (!json_is_array (v)) {
    fail (c, field, "expected an array of objects");
    return 0;
  }
  n = json_array_size (v);
  if (n > LF_HW_MAX_LIST) {
    fail (c, field, "%zu entries (at most %d)", n, LF_HW_MAX_LIST);
    return 0;
  }
  if (n && !(*mem = calloc (n + 1, size))) {
    fail (c, field, "out of memory");
    return 0;
  }
  *arr = n ? v : NULL;
  return n;
}

/* Element I of array FIELD: an object with only KEYS; its name
 * ("windows.registry[0]") in F.
 */
static bool
element (struct ctx *c, json_t *e, const char *field, size_t i,
         const char *const *keys, char *f, size_t fsize)
{
  snprintf (f, fsize, "%s[%zu]", field, i);
  if (!json_is_object (e)) {
    fail (c, f, "expected an object");
    return false;
  }
  only_keys (c, e, f, keys);
  return !c->failed;
}

/* String KEY of element F, named "F.KEY" in messages. */
static char *
elem_string (struct ctx *c, json_t *e, const char *f, const char *key,
             bool required, const char *dflt)
{
  char ff[200];
  snprintf (ff, sizeof ff, "%s.%s", f, key);
  return get_string (c, e, key, ff, required, dflt);
}

static void
parse_drivers (struct ctx *c, json_t *win, struct lf_hw_profile *p)
{
  json_t *v, *e;
  size_t i;

  get_objects (c, win, "boot_drivers", "windows.boot_drivers", &v,
               (void **) &p->win_drivers, sizeof *p->win_drivers);
  json_array_foreach (v, i, e) {
    char f[128], ff[160];
    struct lf_hw_win_driver *d = &p->win_drivers[i];
    if (!element (c, e, "windows.boot_drivers", i, driver_keys, f, sizeof f))
      return;
    p->nwin_drivers = i + 1;
    d->service = elem_string (c, e, f, "service", true, NULL);
    d->file = elem_string (c, e, f, "file", true, NULL);
    snprintf (ff, sizeof ff, "%s.needs", f);
    d->needs = get_list (c, e, "needs", ff, false, false);
    d->group = elem_string (c, e, f, "group", false, "");
    d->any_of = elem_string (c, e, f, "any_of", false, "");
    snprintf (ff, sizeof ff, "%s.group", f);
    if (c->failed)
      return;
    /* The group is a registry value: printable, no control characters. */
    for (const char *g = d->group; *g; g++)
      if ((unsigned char) *g < 0x20 || *g == 0x7f) {
        fail (c, ff, "control character in group '%s'", d->group);
        return;
      }
    if (*d->any_of && !is_name (d->any_of)) {
      fail (c, f, "any_of '%s' is not a plain name", d->any_of);
      return;
    }
    /* Both become registry key and file names: no path separators. */
    if (!is_name (d->service))
      fail (c, f, "service '%s' is not a plain name", d->service);
    else if (!is_name (d->file))
      fail (c, f, "file '%s' is not a plain file name", d->file);
    for (char **n = d->needs; !c->failed && *n; n++)
      if (!is_name (*n))
        fail (c, f, "needs '%s' is not a plain file name", *n);
  }
}

/* A kernel command line argument: printable, no blanks or quotes (it is
 * one word of every boot loader's configuration).
 */
static bool
is_param (const char *s)
{
  if (!*s || *s == '=')
    return false;
  for (; *s; s++)
    if (*s == ' ' || *s == '\t' || *s == '"' || *s == '\'' || *s == '\\' ||
        *s == '$' || *s == ';' || *s == '#' || *s == '`')
      return false;
  return true;
}

/* Registry paths: backslash-separated names, no empty component. */
static bool
is_reg_path (const char *s)
{
  if (!*s || *s == '\\')
    return false;
  for (const char *q = s; *q; q++)
    if (*q == '\\' && (q[1] == '\\' || q[1] == '\0'))
      return false;
  return true;
}

static void
parse_readiness (struct ctx *c, json_t *o, const char *field, bool windows,
                 struct lf_hw_readiness **out, size_t *nout)
{
  json_t *arr, *e;
  size_t i;

  get_objects (c, o, "readiness", field, &arr, (void **) out, sizeof **out);
  json_array_foreach (arr, i, e) {
    char f[128], ff[160];
    struct lf_hw_readiness *r = &(*out)[i];
    if (!element (c, e, field, i, readiness_keys, f, sizeof f))
      return;
    *nout = i + 1;
    r->name = elem_string (c, e, f, windows ? "service" : "module", true,
                           NULL);
    snprintf (ff, sizeof ff, "%s.%s", f, windows ? "since" : "file");
    if (windows)
      r->file = elem_string (c, e, f, "file", true, NULL);
    else
      r->since = elem_string (c, e, f, "since", false, "");
    if (json_object_get (e, windows ? "since" : "file"))
      fail (c, ff, "only %s readiness items name a %s",
            windows ? "Linux" : "Windows",
            windows ? "kernel version" : "file");
    r->why = elem_string (c, e, f, "why", true, NULL);
    if (c->failed)
      return;
    if (!is_name (r->name) || (r->file && !is_name (r->file)))
      fail (c, f, "'%s' is not a plain name", r->name);
    for (const char *v = r->since ? r->since : ""; !c->failed && *v; v++)
      if (!(*v >= '0' && *v <= '9') && *v != '.')
        fail (c, ff, "'%s' is not a kernel version like 6.2", r->since);
  }
}

static void
parse_registry (struct ctx *c, json_t *win, struct lf_hw_profile *p)
{
  json_t *arr, *e;
  size_t i;

  get_objects (c, win, "registry", "windows.registry", &arr,
               (void **) &p->win_registry, sizeof *p->win_registry);
  json_array_foreach (arr, i, e) {
    char f[128], ff[160];
    struct lf_hw_reg_edit *r = &p->win_registry[i];
    if (!element (c, e, "windows.registry", i, registry_keys, f, sizeof f))
      return;
    p->nwin_registry = i + 1;
    r->key = elem_string (c, e, f, "key", true, NULL);
    r->why = elem_string (c, e, f, "why", true, NULL);
    if (c->failed)
      return;
    json_t *val = json_object_get (e, "value"), *del = json_object_get (e,
                                                                      "delete");
    json_t *dw = json_object_get (e, "dword");
    if (val && !(r->value = elem_string (c, e, f, "value", true, NULL)))
      return;
    if (del && !json_is_true (del)) {
      fail (c, f, "'delete' may only be true");
      return;
    }
    if (!is_reg_path (r->key)) {
      fail (c, f, "key '%s' is not a relative registry path", r->key);
      return;
    }
    if (del && dw)
      fail (c, f, "'delete' and 'dword' exclude each other");
    else if (del)
      r->action = val ? LF_HW_REG_DELETE_VALUE : LF_HW_REG_DELETE_KEY;
    else if (dw && val) {
      snprintf (ff, sizeof ff, "%s.dword", f);
      r->action = LF_HW_REG_SET_DWORD;
      r->dword = (uint32_t) get_uint (c, e, "dword", ff, 0, UINT32_MAX);
    }
    else
      fail (c, f, "needs 'delete': true, or 'value' with 'dword'");
  }
}

static void
parse_linux_extras (struct ctx *c, json_t *o, struct lf_hw_profile *p)
{
  json_t *kp = json_object_get (o, "kernel_params") ?
    get_object (c, o, "kernel_params", "linux.kernel_params", true) : NULL;
  static const char *const fields[] = { "linux.kernel_params.add",
                                        "linux.kernel_params.remove" };
  char ***lists[] = { &p->kernel_params_add, &p->kernel_params_remove };

  if (kp)
    only_keys (c, kp, "linux.kernel_params", params_keys);
  for (size_t l = 0; l < 2; l++) {
    /* Absent: an empty list (get_list on an object without the key). */
    *lists[l] = get_list (c, kp ? kp : o, kp ? params_keys[l] : "-",
                          fields[l], false, false);
    for (char **w = *lists[l]; !c->failed && w && *w; w++)
      if (!is_param (*w))
        fail (c, fields[l], "'%s' is not one kernel argument (no blanks, "
              "quotes, '$', ';', '#' or a leading '=')", *w);
  }
  p->rootdelay = -1;
  if (!c->failed && json_object_get (o, "rootdelay"))
    p->rootdelay = (int) get_uint (c, o, "rootdelay", "linux.rootdelay", 0,
                                   3600);
  p->udev_rules = get_list (c, o, "udev_rules", "linux.udev_rules", false,
                            false);
  for (char **r = p->udev_rules; !c->failed && r && *r; r++)
    if (!is_name (*r))
      fail (c, "linux.udev_rules", "'%s' is not a plain file name", *r);
  parse_readiness (c, o, "linux.readiness", false, &p->linux_readiness,
                   &p->nlinux_readiness);
}

struct lf_hw_profile *
lf_hw_profile_parse (const char *buf, size_t len, const char *file)
{
  struct ctx c = { .file = file, .failed = false };
  struct lf_hw_profile *p = NULL;
  json_error_t jerr;
  json_t *root = NULL, *o;
  char base[LF_HW_MAX_STRING + 1];
  const char *slash = strrchr (file, '/');

  if (len > LF_HW_PROFILE_MAX_SIZE) {
    lf_error (EFBIG, "%s: %zu bytes (a profile is at most %d)", file, len,
              LF_HW_PROFILE_MAX_SIZE);
    return NULL;
  }
  /* JSON_REJECT_DUPLICATES: two "firmware" keys must not let the second
   * quietly win.
   */
  root = json_loadb (buf, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root) {
    lf_error (EINVAL, "%s: line %d, column %d: %s", file, jerr.line,
              jerr.column, jerr.text);
    return NULL;
  }
  if (!json_is_object (root)) {
    lf_error (EINVAL, "%s: expected a JSON object", file);
    goto error;
  }
  p = calloc (1, sizeof *p);
  if (!p || !(p->file = strdup (file))) {
    lf_error (ENOMEM, "out of memory");
    goto error;
  }
  only_keys (&c, root, "", top_keys);
  p->name = get_string (&c, root, "name", "name", true, NULL);
  if (p->name) {
    snprintf (base, sizeof base, "%s", slash ? slash + 1 : file);
    size_t bl = strlen (base);
    if (bl > 5 && strcmp (base + bl - 5, ".json") == 0)
      base[bl - 5] = '\0';
    if (!is_name (p->name))
      fail (&c, "name", "'%s' is not a plain name ([A-Za-z0-9._-])", p->name);
    else if (strcmp (p->name, base) != 0)
      fail (&c, "name", "'%s' differs from the file's name '%s'", p->name,
            base);
  }
  p->description = get_string (&c, root, "description", "description", false,
                               "");
  p->firmware = get_choice (&c, root, "firmware", "firmware", firmwares);
  {
    json_t *sb = json_object_get (root, "secure_boot");
    if (sb && !json_is_boolean (sb))
      fail (&c, "secure_boot", "expected true or false");
    else if (json_is_true (sb) && p->firmware &&
             strcmp (p->firmware, "uefi") != 0)
      fail (&c, "secure_boot", "Secure Boot needs firmware 'uefi'");
    p->secure_boot = json_is_true (sb);
  }
  p->partition_tables = get_list (&c, root, "partition_tables",
                                  "partition_tables", true, true);
  for (char **t = p->partition_tables; !c.failed && t && *t; t++) {
    bool ok = false;
    for (const char *const *k = tables; *k; k++)
      ok |= strcmp (*t, *k) == 0;
    if (!ok)
      fail (&c, "partition_tables", "'%s' is not 'dos' or 'gpt'", *t);
  }
  p->boot_bus = get_choice (&c, root, "boot_bus", "boot_bus", buses);

  o = get_object (&c, root, "disk", "disk", true);
  if (o) {
    only_keys (&c, o, "disk", disk_keys);
    p->container = get_choice (&c, o, "container", "disk.container",
                               containers);
    p->size_multiple = get_uint (&c, o, "size_multiple", "disk.size_multiple",
                                 512, LF_GiB);
    if (!c.failed && (p->size_multiple & (p->size_multiple - 1)) != 0)
      fail (&c, "disk.size_multiple", "%llu is not a power of 2",
            (unsigned long long) p->size_multiple);
    p->max_os_disk_size = get_uint (&c, o, "max_os_disk_size",
                                    "disk.max_os_disk_size", LF_MiB,
                                    UINT64_C (1) << 60);
  }

  o = get_object (&c, root, "linux", "linux", true);
  if (o) {
    only_keys (&c, o, "linux", linux_keys);
    p->linux_modules = get_list (&c, o, "modules", "linux.modules", true,
                                 false);
    for (char **m = p->linux_modules; !c.failed && m && *m; m++)
      if (!is_name (*m))
        fail (&c, "linux.modules", "'%s' is not a module name", *m);
    p->linux_modules_optional = get_list (&c, o, "modules_optional",
                                          "linux.modules_optional", false,
                                          false);
    for (char **m = p->linux_modules_optional; !c.failed && m && *m; m++)
      if (!is_name (*m))
        fail (&c, "linux.modules_optional", "'%s' is not a module name", *m);
    p->serial_console = get_string (&c, o, "serial_console",
                                    "linux.serial_console", false, "");
    if (!c.failed && !is_name (p->serial_console) && *p->serial_console)
      fail (&c, "linux.serial_console", "'%s' is not a device name",
            p->serial_console);
    parse_linux_extras (&c, o, p);
  }

  /* Optional: a profile without it leaves every agent alone. */
  o = json_object_get (root, "agents") ? get_object (&c, root, "agents",
                                                     "agents", true) : NULL;
  {
    static const char *const fields[] = { "agents.disable",
                                          "agents.configure",
                                          "agents.report" };
    char ***lists[] = { &p->agents_disable, &p->agents_configure,
                        &p->agents_report };
    if (o)
      only_keys (&c, o, "agents", agents_keys);
    for (size_t l = 0; l < 3; l++) {
      *lists[l] = get_list (&c, o ? o : root, o ? agents_keys[l] : "agents",
                            fields[l], false, false);
      for (char **a = *lists[l]; !c.failed && a && *a; a++) {
        bool ok = false;
        for (const char *const *k = agent_names; *k; k++)
          ok |= strcmp (*a, *k) == 0;
        if (!ok)
          fail (&c, fields[l], "'%s' is not 'vmware-tools', 'waagent' or "
                "'cloud-init'", *a);
      }
    }
  }

  o = get_object (&c, root, "windows", "windows", true);
  if (o) {
    only_keys (&c, o, "windows", windows_keys);
    if (!c.failed)
      parse_drivers (&c, o, p);
    parse_registry (&c, o, p);
    parse_readiness (&c, o, "windows.readiness", true, &p->win_readiness,
                     &p->nwin_readiness);
  }

  o = get_object (&c, root, "qemu", "qemu", true);
  if (o) {
    only_keys (&c, o, "qemu", qemu_keys);
    p->qemu_machine = get_string (&c, o, "machine", "qemu.machine", true,
                                  NULL);
    p->qemu_firmware = get_choice (&c, o, "firmware", "qemu.firmware",
                                   qemu_firmwares);
    p->qemu_ovmf_code = get_list (&c, o, "ovmf_code", "qemu.ovmf_code",
                                  false, false);
    p->qemu_ovmf_vars = get_list (&c, o, "ovmf_vars", "qemu.ovmf_vars",
                                  false, false);
    p->qemu_disk_bus = get_choice (&c, o, "disk_bus", "qemu.disk_bus",
                                   qemu_buses);
    p->qemu_scsi_controller = get_string (&c, o, "scsi_controller",
                                          "qemu.scsi_controller", false,
                                          "virtio-scsi-pci");
    p->qemu_nic = get_string (&c, o, "nic", "qemu.nic", true, NULL);
    p->qemu_cpu = get_string (&c, o, "cpu", "qemu.cpu", false, "qemu64");
    p->qemu_hyperv = get_string (&c, o, "hyperv", "qemu.hyperv", false, "");
    p->qemu_memory_mib = (unsigned) get_uint (&c, o, "memory_mib",
                                              "qemu.memory_mib", 128, 65536);
    if (!c.failed && strcmp (p->qemu_firmware, "ovmf") == 0 &&
        (!p->qemu_ovmf_code[0] || !p->qemu_ovmf_vars[0]))
      fail (&c, "qemu.ovmf_code", "firmware 'ovmf' needs ovmf_code and "
            "ovmf_vars paths");
    /* These become comma-separated QEMU option values: a comma or '='
     * would smuggle in options of its own.
     */
    const char *plain[] = { p->qemu_machine, p->qemu_scsi_controller,
                            p->qemu_nic, p->qemu_cpu };
    const char *pname[] = { "qemu.machine", "qemu.scsi_controller",
                            "qemu.nic", "qemu.cpu" };
    for (size_t i = 0; !c.failed && i < 4; i++)
      if (strpbrk (plain[i], ",= "))
        fail (&c, pname[i], "'%s' may not hold ',', '=' or spaces",
              plain[i]);
    for (size_t i = 0; !c.failed && i < 2; i++)
      for (char **f = i ? p->qemu_ovmf_vars : p->qemu_ovmf_code; *f; f++)
        if ((*f)[0] != '/' || strchr (*f, ','))
          fail (&c, i ? "qemu.ovmf_vars" : "qemu.ovmf_code",
                "'%s' is not an absolute path without ','", *f);
    if (!c.failed && strpbrk (p->qemu_hyperv, " "))
      fail (&c, "qemu.hyperv", "may not hold spaces");
  }
  if (c.failed)
    goto error;
  json_decref (root);
  return p;

 error:
  json_decref (root);
  lf_hw_profile_free (p);
  return NULL;
}

static json_t *
list_json (char **l)
{
  json_t *a = json_array ();
  for (char **p = l; p && *p; p++)
    json_array_append_new (a, json_string (*p));
  return a;
}

static json_t *
readiness_json (const struct lf_hw_readiness *r, size_t n)
{
  json_t *a = json_array ();
  for (size_t i = 0; i < n; i++) {
    json_t *o = json_pack ("{s:s, s:s}", "name", r[i].name, "why", r[i].why);
    if (r[i].file)
      json_object_set_new (o, "file", json_string (r[i].file));
    if (r[i].since && *r[i].since)
      json_object_set_new (o, "since", json_string (r[i].since));
    json_array_append_new (a, o);
  }
  return a;
}

/* The parts of the model past the original fields, added to J. */
static json_t *
profile_json_extras (const struct lf_hw_profile *p, json_t *j)
{
  static const char *const actions[] = { "delete-key", "delete-value",
                                         "set-dword" };
  json_t *lx = json_object_get (j, "linux"), *win = json_object_get (j,
                                                                    "windows");
  json_t *reg = json_array ();

  if (!lx || !win)
    return j;
  json_object_set_new (lx, "kernel_params",
                       json_pack ("{s:o, s:o}",
                                  "add", list_json (p->kernel_params_add),
                                  "remove", list_json (p->kernel_params_remove)));
  json_object_set_new (lx, "rootdelay", json_integer (p->rootdelay));
  json_object_set_new (lx, "udev_rules", list_json (p->udev_rules));
  json_object_set_new (lx, "readiness",
                       readiness_json (p->linux_readiness, p->nlinux_readiness));
  for (size_t i = 0; i < p->nwin_registry; i++) {
    const struct lf_hw_reg_edit *r = &p->win_registry[i];
    json_t *o = json_pack ("{s:s, s:s, s:s}", "action", actions[r->action],
                           "key", r->key, "why", r->why);
    if (r->value)
      json_object_set_new (o, "value", json_string (r->value));
    if (r->action == LF_HW_REG_SET_DWORD)
      json_object_set_new (o, "dword", json_integer (r->dword));
    json_array_append_new (reg, o);
  }
  json_object_set_new (win, "registry", reg);
  json_object_set_new (win, "readiness",
                       readiness_json (p->win_readiness, p->nwin_readiness));
  return j;
}

json_t *
lf_hw_profile_json (const struct lf_hw_profile *p)
{
  json_t *drv = json_array ();
  for (size_t i = 0; i < p->nwin_drivers; i++)
    json_array_append_new (drv, json_pack ("{s:s, s:s, s:o, s:s, s:s}",
                           "service", p->win_drivers[i].service,
                           "file", p->win_drivers[i].file,
                           "needs", list_json (p->win_drivers[i].needs),
                           "group", p->win_drivers[i].group,
                           "any_of", p->win_drivers[i].any_of));
  json_t *j = profile_json_extras (p, json_pack ("{s:s, s:s, s:s, s:s, s:o, s:s, "
                    "s:{s:s, s:I, s:I}, s:{s:o, s:o, s:s}, s:{s:o}, s:{s:o, s:o, s:o}, "
                    "s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i}}",
                    "name", p->name, "file", p->file,
                    "description", p->description,
                    "firmware", p->firmware,
                    "partition_tables", list_json (p->partition_tables),
                    "boot_bus", p->boot_bus,
                    "disk", "container", p->container,
                    "size_multiple", (json_int_t) p->size_multiple,
                    "max_os_disk_size", (json_int_t) p->max_os_disk_size,
                    "linux", "modules", list_json (p->linux_modules),
                    "modules_optional", list_json (p->linux_modules_optional),
                    "serial_console", p->serial_console,
                    "windows", "boot_drivers", drv,
                    "agents", "disable", list_json (p->agents_disable),
                    "configure", list_json (p->agents_configure),
                    "report", list_json (p->agents_report),
                    "qemu", "machine", p->qemu_machine,
                    "firmware", p->qemu_firmware,
                    "disk_bus", p->qemu_disk_bus,
                    "scsi_controller", p->qemu_scsi_controller,
                    "nic", p->qemu_nic, "cpu", p->qemu_cpu,
                    "hyperv", p->qemu_hyperv,
                    "memory_mib", (int) p->qemu_memory_mib));
  if (j)
    json_object_set_new (j, "secure_boot", json_boolean (p->secure_boot));
  return j;
}

static bool
is_dir (const char *path)
{
  struct stat st;
  return stat (path, &st) == 0 && S_ISDIR (st.st_mode);
}

const char *
lf_hw_dir (void)
{
  static char found[PATH_MAX];
  const char *env = getenv ("LANDFALL_HW_DIR");
  char exe[PATH_MAX];
  ssize_t n;

  if (env && *env) {
    if (!is_dir (env)) {
      lf_error (ENOENT, "LANDFALL_HW_DIR=%s: not a directory", env);
      return NULL;
    }
    return env;
  }
  /* Relative to the binary, so that both build/landfall in a source tree
   * and an installed PREFIX/bin/landfall find their own profiles, not
   * another installation's.
   */
  n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    char *slash = strrchr (exe, '/');
    if (slash) {
      *slash = '\0';
      static const char *const rel[] = { "../share/landfall/hw", "../hw" };
      for (size_t i = 0; i < 2; i++) {
        /* exe is shorter than found, so only the tail can be cut, and a
         * cut path is not used.
         */
        size_t el = strlen (exe), rl = strlen (rel[i]);
        if (el + 1 + rl >= sizeof found)
          continue;
        memcpy (found, exe, el);
        found[el] = '/';
        memcpy (found + el + 1, rel[i], rl + 1);
        if (is_dir (found))
          return found;
      }
    }
  }
  if (is_dir (LF_HW_DIR))
    return LF_HW_DIR;
  lf_error (ENOENT, "no hardware profile directory: set LANDFALL_HW_DIR, or "
            "install the profiles in %s", LF_HW_DIR);
  return NULL;
}

static int
cmp_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

char **
lf_hw_profile_names (const char *dir)
{
  DIR *d;
  struct dirent *de;
  char **names = NULL;
  size_t n = 0;

  if (!dir && !(dir = lf_hw_dir ()))
    return NULL;
  if (!(d = opendir (dir))) {
    lf_error (errno, "%s: %m", dir);
    return NULL;
  }
  if (!(names = calloc (LF_HW_MAX_PROFILES + 1, sizeof *names)))
    goto oom;
  while ((de = readdir (d)) != NULL) {
    size_t l = strlen (de->d_name);
    if (l <= 5 || strcmp (de->d_name + l - 5, ".json") != 0 ||
        de->d_name[0] == '.')
      continue;
    if (n == LF_HW_MAX_PROFILES) {
      lf_error (E2BIG, "%s: more than %d profiles", dir, LF_HW_MAX_PROFILES);
      closedir (d);
      free_list (names);
      return NULL;
    }
    if (!(names[n] = strndup (de->d_name, l - 5)))
      goto oom;
    n++;
  }
  closedir (d);
  qsort (names, n, sizeof *names, cmp_names);
  return names;
 oom:
  closedir (d);
  free_list (names);
  lf_error (ENOMEM, "out of memory");
  return NULL;
}

struct lf_hw_profile *
lf_hw_profile_load (const char *dir, const char *name)
{
  CLEANUP_FREE char *path = NULL;
  CLEANUP_FREE char *buf = NULL;
  CLEANUP_CLOSE int fd = -1;
  struct stat st;

  if (!dir && !(dir = lf_hw_dir ()))
    return NULL;
  if (!is_name (name)) {
    lf_error (EINVAL, "profile '%s': a profile is named, not a path "
              "([A-Za-z0-9._-])", name);
    return NULL;
  }
  if (asprintf (&path, "%s/%s.json", dir, name) == -1) {
    path = NULL;
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd == -1) {
    int e = errno;
    char **names = lf_hw_profile_names (dir);
    char list[512] = "";
    for (char **p = names; p && *p; p++)
      snprintf (list + strlen (list), sizeof list - strlen (list), "%s%s",
                *list ? ", " : "", *p);
    free_list (names);
    lf_error (e, "profile '%s': %s: %s (profiles in %s: %s)", name, path,
              strerror (e), dir, *list ? list : "none");
    return NULL;
  }
  if (fstat (fd, &st) == -1) {
    lf_error (errno, "%s: %m", path);
    return NULL;
  }
  if (!S_ISREG (st.st_mode) || st.st_size > LF_HW_PROFILE_MAX_SIZE) {
    lf_error (EFBIG, "%s: not a regular file of at most %d bytes", path,
              LF_HW_PROFILE_MAX_SIZE);
    return NULL;
  }
  if (!(buf = malloc ((size_t) st.st_size + 1))) {
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  if (lf_pread_all (fd, buf, (size_t) st.st_size, 0) == -1) {
    lf_error_prefix ("%s", path);
    return NULL;
  }
  return lf_hw_profile_parse (buf, (size_t) st.st_size, path);
}

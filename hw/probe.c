/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall hw/: the hardware landfall runs on.
 *
 * The appliance records where it ran in its report: a failover helper on
 * Azure, a workstation, or a test VM behave differently (VMBus disks,
 * emulated IDE, no KVM...), and a report that says so saves guessing.
 * Everything comes from sysfs and /proc, read as plain files under ROOT
 * so that tests can give a fake tree; nothing is executed.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/hw.h"

/* DMI strings are short (SMBIOS strings are at most 64 bytes in practice). */
#define DMI_MAX 256
/* /proc/cpuinfo's first "flags" line is all we need; cap the read. */
#define CPUINFO_MAX (256 * 1024)
#define VMBUS_MAX_DEVICES 4096

/* Azure's chassis asset tag (Hyper-V hosts in Azure set it; on-premises
 * Hyper-V does not): the documented way to tell Azure from Hyper-V.
 */
#define AZURE_ASSET_TAG "7783-7084-3265-9085-8269-3286-77"

static char *
read_line (const char *root, const char *rel, size_t max)
{
  char path[4096];
  FILE *fp;
  char *buf;
  size_t n;

  snprintf (path, sizeof path, "%s/%s", strcmp (root, "/") ? root : "", rel);
  if (!(fp = fopen (path, "re")))
    return NULL;
  if (!(buf = malloc (max + 1))) {
    fclose (fp);
    return NULL;
  }
  n = fread (buf, 1, max, fp);
  fclose (fp);
  buf[n] = '\0';
  if (max == DMI_MAX) {
    /* One value: up to the first newline, control bytes dropped. */
    buf[strcspn (buf, "\n")] = '\0';
    for (char *p = buf; *p; p++)
      if ((unsigned char) *p < 0x20 || *p == 0x7f)
        *p = '?';
  }
  return buf;
}

static bool
contains (const char *s, const char *what)
{
  return s && strcasestr (s, what) != NULL;
}

json_t *
lf_hw_probe (const char *root)
{
  static const char *const dmi[] = {
    "sys_vendor", "product_name", "product_version", "product_uuid",
    "board_vendor", "board_name", "bios_vendor", "bios_version",
    "chassis_vendor", "chassis_asset_tag",
  };
  json_t *j = json_object (), *d = json_object (), *devs = json_array ();
  char *val[sizeof dmi / sizeof dmi[0]] = { NULL };
  char path[4096];
  DIR *dir;
  bool vmbus = false, hypervisor = false;
  const char *platform;

  for (size_t i = 0; i < sizeof dmi / sizeof dmi[0]; i++) {
    char rel[64];
    snprintf (rel, sizeof rel, "sys/class/dmi/id/%s", dmi[i]);
    val[i] = read_line (root, rel, DMI_MAX);
    if (val[i])
      json_object_set_new (d, dmi[i], json_string (val[i]));
  }
  json_object_set_new (j, "dmi", d);

  snprintf (path, sizeof path, "%s/sys/bus/vmbus/devices",
            strcmp (root, "/") ? root : "");
  if ((dir = opendir (path)) != NULL) {
    struct dirent *de;
    size_t n = 0;
    vmbus = true;
    while ((de = readdir (dir)) != NULL && n < VMBUS_MAX_DEVICES) {
      if (de->d_name[0] == '.')
        continue;
      char rel[512];
      snprintf (rel, sizeof rel, "sys/bus/vmbus/devices/%.200s/class_id",
                de->d_name);
      CLEANUP_FREE char *cls = read_line (root, rel, DMI_MAX);
      json_array_append_new (devs, json_pack ("{s:s, s:s?}", "device",
                                              de->d_name, "class_id", cls));
      n++;
    }
    closedir (dir);
  }
  json_object_set_new (j, "vmbus", json_pack ("{s:b, s:o}", "present", vmbus,
                                               "devices", devs));

  CLEANUP_FREE char *cpu = read_line (root, "proc/cpuinfo", CPUINFO_MAX);
  if (cpu) {
    const char *flags = strstr (cpu, "\nflags");
    if (flags) {
      size_t n = strcspn (flags + 1, "\n");
      char *line = strndup (flags + 1, n);
      hypervisor = line && (strstr (line, " hypervisor ") ||
                            (n >= 11 && strcmp (line + n - 11, " hypervisor") == 0));
      free (line);
    }
  }
  json_object_set_new (j, "cpu_hypervisor_flag", json_boolean (hypervisor));

  const char *vendor = val[0], *product = val[1], *tag = val[9];
  if (contains (vendor, "Microsoft") && contains (product, "Virtual Machine"))
    platform = tag && strcmp (tag, AZURE_ASSET_TAG) == 0 ? "azure" : "hyper-v";
  else if (vmbus)
    platform = "hyper-v";
  else if (contains (vendor, "VMware"))
    platform = "vmware";
  else if (contains (vendor, "QEMU"))
    platform = "qemu";
  else if (contains (product, "KVM"))
    platform = "kvm";
  else if (contains (vendor, "innotek") || contains (product, "VirtualBox"))
    platform = "virtualbox";
  else if (contains (vendor, "Xen"))
    platform = "xen";
  else if (vendor && !hypervisor)
    platform = "physical";
  else
    platform = "unknown";
  json_object_set_new (j, "platform", json_string (platform));
  for (size_t i = 0; i < sizeof dmi / sizeof dmi[0]; i++)
    free (val[i]);
  return j;
}

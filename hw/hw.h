/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall hw/: target hardware profiles as data, and the probe of the
 * hardware landfall itself runs on, grouped by source file.
 *
 * hw/ is data plus a probe (DESIGN.md): it decides nothing about a guest.
 * A profile is one JSON file, hw/NAME.json in the source tree, installed
 * as PREFIX/share/landfall/hw/NAME.json; adding a profile needs no C
 * change.  Profiles are parsed as hostile input: every field's type, range
 * and length is checked, unknown fields are refused (a typo must not pass
 * silently), and each error names the file and the field.
 */
#ifndef LF_HW_H
#define LF_HW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/common.h"

#define LF_HW_PROFILE_MAX_SIZE  (64 * 1024)   /* one profile file */
#define LF_HW_MAX_LIST          64            /* entries of any list */
#define LF_HW_MAX_STRING        256           /* bytes of any string */
#define LF_HW_MAX_PROFILES      256           /* files in the directory */

/* profile.c */
struct lf_hw_win_driver {
  char *service;                /* "storvsc": Services\storvsc */
  char *file;                   /* "storvsc.sys", in System32\drivers when
                                   the service has no ImagePath */
  char **needs;                 /* port drivers it loads ("pciidex.sys") */
  char *group;                  /* load-order group a created service key
                                   gets ("SCSI miniport"); "" for none */
  char *any_of;                 /* "": required.  Otherwise the name of a
                                   set of alternatives (VMware's storage
                                   controllers): those of the set that are
                                   present are made boot start, and it is a
                                   failure only when none is present. */
};

/* A registry edit in every control set; KEY is relative to ControlSetNNN
 * ("Services\\stornvme\\StartOverride").
 */
enum lf_hw_reg_action {
  LF_HW_REG_DELETE_KEY,         /* the key and everything below it */
  LF_HW_REG_DELETE_VALUE,       /* value VALUE of KEY */
  LF_HW_REG_SET_DWORD,          /* VALUE = DWORD, where KEY exists */
};
struct lf_hw_reg_edit {
  enum lf_hw_reg_action action;
  char *key;
  char *value;                  /* NULL for LF_HW_REG_DELETE_KEY */
  uint32_t dword;
  char *why;                    /* for reports: why the target needs it */
};

/* Report-only readiness (accelerated networking): a Linux module or a
 * Windows driver whose absence is a note, never a failure.
 */
struct lf_hw_readiness {
  char *name;                   /* module ("mana") or service ("mana") */
  char *file;                   /* Windows: driver file; Linux: NULL */
  char *since;                  /* Linux: kernel version it is in-tree
                                   from ("6.2"), or "" */
  char *why;                    /* what it is for */
};

struct lf_hw_profile {
  char *name;                   /* "azure-gen1": the file's base name */
  char *file;                   /* where it was read from */
  char *description;
  char *firmware;               /* "bios" or "uefi" */
  bool secure_boot;             /* "secure_boot": true (Trusted Launch):
                                   only a signed chain boots (shim) */
  char **partition_tables;      /* "dos", "gpt" (libblkid's names) */
  char *boot_bus;               /* "ide", "scsi" or "nvme" */
  /* disk */
  char *container;              /* "vhd-fixed" */
  uint64_t size_multiple;       /* 1048576: Azure wants whole MiB */
  uint64_t max_os_disk_size;    /* bytes */
  /* linux */
  char **linux_modules;         /* in every initramfs: a failure if the
                                   kernel has neither module nor builtin */
  char **linux_modules_optional;  /* added to every initramfs where the
                                     kernel has them; reported when not */
  char *serial_console;         /* "ttyS0": console= on the command line */
  /* The kernel command line: each of ADD is appended (an old value of
   * the same "key=" goes first), each of REMOVE dropped wherever found
   * (one ending in '=' drops every value of that key).  The serial
   * console's console=, if any, is appended last.
   */
  char **kernel_params_add;
  char **kernel_params_remove;
  int rootdelay;                /* seconds for initramfs generators that do
                                   not wait for the root device themselves;
                                   -1: none */
  char **udev_rules;            /* rule files whose absence is a warning
                                   ("80-azure-disk.rules") */
  size_t nlinux_readiness;
  struct lf_hw_readiness *linux_readiness;
  /* windows */
  size_t nwin_drivers;
  struct lf_hw_win_driver *win_drivers;   /* boot start, files present */
  size_t nwin_registry;
  struct lf_hw_reg_edit *win_registry;    /* in every control set */
  size_t nwin_readiness;
  struct lf_hw_readiness *win_readiness;
  /* agents ("vmware-tools", "waagent", "cloud-init"): the source's to turn
   * off, the target's to configure (or recommend), and those that do not
   * belong on the target: reported where found, since they would hurt there
   */
  char **agents_disable;
  char **agents_configure;
  char **agents_report;
  /* qemu: how --boot emulates the target */
  char *qemu_machine;           /* "pc", "q35" */
  char *qemu_firmware;          /* "seabios" or "ovmf" */
  char **qemu_ovmf_code;        /* candidate paths, first existing wins */
  char **qemu_ovmf_vars;        /* the matching variable store templates */
  char *qemu_disk_bus;          /* "ide", "scsi" or "nvme" */
  char *qemu_scsi_controller;   /* "virtio-scsi-pci", "lsi53c895a" */
  char *qemu_nic;               /* "e1000", "virtio-net-pci" */
  char *qemu_cpu;               /* model under TCG ("qemu64") */
  char *qemu_hyperv;            /* "hv_relaxed,hv_vapic,..." or "" */
  unsigned qemu_memory_mib;
};

/* Parse profile text BUF (LEN bytes) read from FILE.  The "name" field
 * must equal FILE's base name without ".json".  NULL with the error
 * recorded ("hw/x.json: field 'qemu.nic': expected a string").
 */
extern struct lf_hw_profile *lf_hw_profile_parse (const char *buf, size_t len,
                                                  const char *file);
extern void lf_hw_profile_free (struct lf_hw_profile *p);
/* The profile as JSON, for reports. */
extern json_t *lf_hw_profile_json (const struct lf_hw_profile *p);

/* Where profiles are read from: $LANDFALL_HW_DIR if set; else, beside the
 * running binary, ../share/landfall/hw (an installed tree) or ../hw (the
 * build directory of a source tree: build/landfall -> hw/); else the
 * compiled-in LF_HW_DIR (PREFIX/share/landfall/hw).  A static string, or
 * NULL with the error recorded when none exists.
 */
extern const char *lf_hw_dir (void);
/* Load profile NAME (a name, not a path: [A-Za-z0-9._-] only) from DIR
 * (NULL: lf_hw_dir ()).  An unknown name is ENOENT listing those there.
 */
extern struct lf_hw_profile *lf_hw_profile_load (const char *dir,
                                                 const char *name);
/* The profile names in DIR (NULL: lf_hw_dir ()), sorted, NULL-terminated;
 * free each and the array.
 */
extern char **lf_hw_profile_names (const char *dir);

/* probe.c: the hardware landfall runs on (the appliance records it in its
 * report).  ROOT is "/" normally; tests give a fake tree.  DMI strings
 * from ROOT/sys/class/dmi/id, VMBus devices under ROOT/sys/bus/vmbus,
 * the CPU's hypervisor flag and vendor from ROOT/proc/cpuinfo, and what
 * that makes the platform ("azure", "hyper-v", "vmware", "qemu", "kvm",
 * "virtualbox", "xen", "physical" or "unknown").  Never fails: missing
 * files are absent fields.
 */
extern json_t *lf_hw_probe (const char *root);

#endif /* LF_HW_H */

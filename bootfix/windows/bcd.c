/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/windows: the BCD store (reference/windows.md §8).
 *
 * A BCD store is a registry hive: Objects\{GUID}\Description\Type gives
 * an object's type, Objects\{GUID}\Elements\<type as 8 hex digits>\Element
 * each element (booleans as one byte, integers as 8 bytes little-endian,
 * REG_BINARY; object references as REG_SZ "{guid}").  {current} and
 * {default} are aliases a running bcdedit resolves; offline, the loader
 * to edit is the one {bootmgr}'s default element (23000003) names, and
 * every loader in its display order (24000001) with the same system root
 * (22000002).  Edited: EMS on in {bootmgr} (16000020) and in those
 * loaders (260000b0), EMS on COM1 at 115200 baud in {emssettings}
 * (15000022, 15000023; the object is created if absent), and boot status
 * policy IgnoreAllFailures (250000e0) and automatic recovery off
 * (16000009) in the loaders, so that a failed boot does not stop at a
 * recovery menu nobody can see; the boot menu is displayed (26000020)
 * with a 5-second timeout (25000004), so that the serial console can
 * choose another entry (the Azure upload guide's bcdedit commands).
 *
 * The store is \Boot\BCD on the system volume (BIOS) or
 * \EFI\Microsoft\Boot\BCD on the EFI system partition (UEFI), the EFI one
 * first, as Azure's step looks.  A store on a volume other than the
 * Windows one (a "System Reserved" partition, an ESP) is reported, not
 * edited: the plan and the journal live on the Windows volume.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bootfix/windows/winfix.h"

#define CONCERN "bcd"

#define BCD_BOOTMGR      "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
#define BCD_EMSSETTINGS  "{0ce4991b-e6b3-4b16-b23c-5e0d9250e5d9}"
#define BCD_TYPE_LOADER  UINT32_C (0x10200003)
#define BCD_TYPE_INHERIT UINT32_C (0x20100000)  /* library settings */

#define BCD_BOOTMGR_DEFAULT   UINT32_C (0x23000003)
#define BCD_BOOTMGR_DISPLAY   UINT32_C (0x24000001)
#define BCD_BOOTMGR_TIMEOUT   UINT32_C (0x25000004)
#define BCD_BOOTMGR_SHOW_MENU UINT32_C (0x26000020)
#define BCD_LIB_AUTO_RECOVERY UINT32_C (0x16000009)
#define BCD_LIB_EMS_ENABLED   UINT32_C (0x16000020)
#define BCD_LIB_EMS_PORT      UINT32_C (0x15000022)
#define BCD_LIB_EMS_BAUD      UINT32_C (0x15000023)
#define BCD_OS_SYSTEM_ROOT    UINT32_C (0x22000002)
#define BCD_OS_EMS_ENABLED    UINT32_C (0x260000b0)
#define BCD_OS_BOOT_STATUS    UINT32_C (0x250000e0)
#define BCD_BOOT_STATUS_IGNORE_ALL 1
#define BCD_EMS_PORT          1         /* COM1 */
#define BCD_EMS_BAUD          115200
#define BCD_MENU_TIMEOUT      5         /* seconds */
#define BCD_MAX_LOADERS       64

static const char *const stores[] = {
  "/EFI/Microsoft/Boot/BCD", "/Boot/BCD",
};

/* The Elements\<type> key of object OBJ, created with its parents if
 * CREATE.
 */
static uint64_t
element_key (struct lf_whive *w, uint64_t obj, const char *objwhere,
             uint32_t type, bool create)
{
  char where[300], name[16];
  uint64_t els;

  snprintf (name, sizeof name, "%08x", type);
  snprintf (where, sizeof where, "%s\\Elements", objwhere);
  if (!create)
    return lf_whive_node (w, obj, "Elements") ?
      lf_whive_node (w, lf_whive_node (w, obj, "Elements"), name) : 0;
  els = lf_whive_key (w, obj, objwhere, "Elements");
  return els ? lf_whive_key (w, els, where, name) : 0;
}

static int
set_element (struct lf_whive *w, uint64_t obj, const char *objwhere,
             uint32_t type, const void *data, size_t len)
{
  char where[300];
  uint64_t el = element_key (w, obj, objwhere, type, true);

  if (!el)
    return -1;
  snprintf (where, sizeof where, "%s\\Elements\\%08x", objwhere, type);
  return lf_whive_set (w, el, where, "Element", LF_REG_BINARY, data, len)
    == -1 ? -1 : 0;
}

static int
set_bool (struct lf_whive *w, uint64_t obj, const char *objwhere,
          uint32_t type, bool v)
{
  uint8_t b = v;
  return set_element (w, obj, objwhere, type, &b, 1);
}

static int
set_int (struct lf_whive *w, uint64_t obj, const char *objwhere,
         uint32_t type, uint64_t v)
{
  uint8_t b[8];
  lf_put_le64 (b, v);
  return set_element (w, obj, objwhere, type, b, 8);
}

/* An element's string value (REG_SZ) or NULL. */
static char *
get_string (struct lf_whive *w, uint64_t obj, uint32_t type)
{
  uint64_t el = element_key (w, obj, "", type, false);
  return el ? lf_whive_get_sz (w, el, "Element") : NULL;
}

static bool
is_guid (const char *s)
{
  if (strlen (s) != 38 || s[0] != '{' || s[37] != '}')
    return false;
  for (size_t i = 1; i < 37; i++)
    if (i == 9 || i == 14 || i == 19 || i == 24 ? s[i] != '-'
        : !strchr ("0123456789abcdefABCDEF", s[i]))
      return false;
  return true;
}

/* Loaders to edit: the default one, and the displayed ones with the same
 * system root.  GUIDs into OUT (each 39 bytes), their count returned.
 */
static size_t
loaders (struct lf_whive *w, uint64_t objects, uint64_t bm,
         char out[][39])
{
  CLEANUP_FREE char *def = get_string (w, bm, BCD_BOOTMGR_DEFAULT);
  CLEANUP_FREE char *root = NULL;
  size_t n = 0;

  if (!def || !is_guid (def))
    return 0;
  uint64_t d = lf_whive_node (w, objects, def);
  uint32_t t;
  if (!d || lf_whive_get_dword (w, lf_whive_node (w, d, "Description"), "Type",
                                &t) != LF_MATCH || t != BCD_TYPE_LOADER)
    return 0;
  memcpy (out[n++], def, 39);
  root = get_string (w, d, BCD_OS_SYSTEM_ROOT);

  uint64_t dl = element_key (w, bm, "", BCD_BOOTMGR_DISPLAY, false);
  uint32_t ht;
  CLEANUP_FREE char *list = NULL;
  size_t len;
  if (!root || !dl ||
      lf_whive_get (w, dl, "Element", &ht, &list, &len) != LF_MATCH ||
      ht != LF_REG_MULTI_SZ || len > WIN_MAX_STRING)
    return n;
  for (size_t i = 0; i + 1 < len && n < BCD_MAX_LOADERS; ) {
    size_t j = i;
    while (j + 1 < len && (list[j] || list[j + 1]))
      j += 2;
    if (j == i)
      break;
    CLEANUP_FREE char *g = lf_utf16_to_utf8 (list + i, j - i, false);
    i = j + 2;
    bool dup = false;
    if (!g || !is_guid (g))
      continue;
    for (size_t k = 0; k < n; k++)
      dup |= strcasecmp (out[k], g) == 0;
    uint64_t o = dup ? 0 : lf_whive_node (w, objects, g);
    if (!o ||
        lf_whive_get_dword (w, lf_whive_node (w, o, "Description"), "Type",
                            &t) != LF_MATCH || t != BCD_TYPE_LOADER)
      continue;
    CLEANUP_FREE char *r = get_string (w, o, BCD_OS_SYSTEM_ROOT);
    if (r && strcasecmp (r, root) == 0)
      memcpy (out[n++], g, 39);
  }
  return n;
}

static int
fix_store (struct lf_winfix *c, const char *path)
{
  struct lf_plan *p = c->p;
  struct lf_whive *w = lf_whive_open (p, CONCERN, path, "BCD");
  char where[300];
  char ld[BCD_MAX_LOADERS][39];
  size_t n;

  if (!w)
    return -1;
  /* Committed with the other hives (lf_winfix_commit). */
  lf_whive_close (c->bcd);
  c->bcd = w;
  uint64_t objects = lf_whive_node (w, 0, "Objects");
  uint64_t bm = objects ? lf_whive_node (w, objects, BCD_BOOTMGR) : 0;
  if (!bm) {
    lf_plan_note (p, CONCERN, LF_WARNING, "%s: no {bootmgr} object: not a "
                  "Windows boot store? left alone", path);
    return 0;
  }
  n = loaders (w, objects, bm, ld);
  if (n == 0) {
    lf_plan_note (p, CONCERN, LF_WARNING, "%s: {bootmgr} names no default "
                  "Windows loader (element 23000003): left alone", path);
    return 0;
  }
  /* B01-B03: the menu shown for 5 seconds, EMS in the boot manager. */
  if (set_bool (w, bm, "Objects\\" BCD_BOOTMGR, BCD_BOOTMGR_SHOW_MENU,
                true) == -1 ||
      set_int (w, bm, "Objects\\" BCD_BOOTMGR, BCD_BOOTMGR_TIMEOUT,
               BCD_MENU_TIMEOUT) == -1 ||
      set_bool (w, bm, "Objects\\" BCD_BOOTMGR, BCD_LIB_EMS_ENABLED,
                true) == -1)
    return -1;
  /* B05: {emssettings}, created as bcdedit would. */
  uint64_t ems = lf_whive_node (w, objects, BCD_EMSSETTINGS);
  if (!ems) {
    ems = lf_whive_key (w, objects, "Objects", BCD_EMSSETTINGS);
    uint64_t desc = ems ? lf_whive_key (w, ems, "Objects\\" BCD_EMSSETTINGS,
                                           "Description") : 0;
    if (!desc ||
        lf_whive_set_dword (w, desc, "Objects\\" BCD_EMSSETTINGS "\\Description",
                            "Type", BCD_TYPE_INHERIT) == -1)
      return -1;
  }
  if (set_int (w, ems, "Objects\\" BCD_EMSSETTINGS, BCD_LIB_EMS_PORT,
               BCD_EMS_PORT) == -1 ||
      set_int (w, ems, "Objects\\" BCD_EMSSETTINGS, BCD_LIB_EMS_BAUD,
               BCD_EMS_BAUD) == -1)
    return -1;
  /* B04, B06, B07: every loader of this Windows. */
  for (size_t i = 0; i < n; i++) {
    uint64_t o = lf_whive_node (w, objects, ld[i]);
    snprintf (where, sizeof where, "Objects\\%.38s", ld[i]);
    if (!o || set_bool (w, o, where, BCD_OS_EMS_ENABLED, true) == -1 ||
        set_int (w, o, where, BCD_OS_BOOT_STATUS,
                 BCD_BOOT_STATUS_IGNORE_ALL) == -1 ||
        set_bool (w, o, where, BCD_LIB_AUTO_RECOVERY, false) == -1)
      return -1;
  }
  return 0;
}

/* Stores on the other volumes of the machine: reported only. */
static void
report_other_stores (struct lf_guest *g, struct lf_os *os, struct lf_plan *p)
{
  for (size_t i = 0; i < g->nfs; i++) {
    struct lf_mounts ms = { 0 };
    if (i == os->root || !g->fss[i].fs ||
        lf_mounts_add (&ms, "/", g->fss[i].fs) == -1) {
      lf_error_clear ();
      continue;
    }
    for (size_t k = 0; k < sizeof stores / sizeof stores[0]; k++)
      if (lf_guest_exists (&ms, stores[k]))
        lf_plan_note (p, CONCERN, LF_WARNING, "%s%s: a BCD store on another "
                      "volume than Windows': not edited (enable EMS and "
                      "bootstatuspolicy there with bcdedit)",
                      lf_guest_fs_device (g, &g->fss[i]), stores[k]);
    lf_error_clear ();
    lf_mounts_free (&ms);
  }
}

int
lf_fix_windows_bcd (struct lf_winfix *c)
{
  struct lf_plan *p = c->p;

  report_other_stores (c->g, c->os, p);
  for (size_t k = 0; k < sizeof stores / sizeof stores[0]; k++)
    if (lf_plan_exists (p, stores[k]))
      return fix_store (c, stores[k]);
  lf_plan_note (p, CONCERN, LF_WARNING, "no BCD store on the Windows volume "
                "(\\Boot\\BCD): serial console and boot status policy not "
                "set");
  return 0;
}

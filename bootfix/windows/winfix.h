/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/windows: what the Windows concerns share, grouped by
 * source file.  Only bootfix/windows/ and its unit tests include this;
 * the rest of the tree uses bootfix.h.
 *
 * fix.c opens each hive once (hive-edit.c, over guest/'s hive adapter):
 * the hive's bytes as the plan leaves them, opened writable; every
 * concern receives the open hives (struct lf_winfix) and sets values
 * through helpers that compare old and new and record "PATH\Name: old ->
 * new" (or "already right") in the plan as findings of the concern
 * editing; at the end, a hive in which anything changed is committed
 * once and its bytes planned for the guest path as one edit, shared by
 * the concerns that changed it.
 */
#ifndef LF_WINFIX_H
#define LF_WINFIX_H

#include "bootfix/bootfix.h"

#define WIN_HIVE_MAX          LF_HIVE_MAX
/* ControlSet001..ControlSet999 can exist; Windows keeps two or three. */
#define WIN_MAX_CONTROL_SETS  32
/* Concerns that can share one hive edit (fix.c has eight). */
#define WIN_MAX_CONCERNS      16
/* Bytes of a binary value shown in a report line. */
#define WIN_SHOW_BINARY       32
/* A value written or read as a string (paths, rule strings). */
#define WIN_MAX_STRING        65536
/* Strings read from one REG_MULTI_SZ (class filter lists). */
#define WIN_MAX_MULTI         256

/* The report line of a hive edit: one edit per hive file whichever
 * concerns changed it, so the values are the findings.
 */
#define WIN_HIVE_WHY "registry values (each one is listed in the findings)"
#define WIN_BCD_WHY  "serial console (EMS), boot menu shown for 5 seconds, " \
  "boot status policy IgnoreAllFailures, automatic recovery off"

/* hive-edit.c */
struct lf_whive {
  struct lf_plan *p;
  const char *concern;          /* the concern editing now (static) */
  char *path;                   /* the guest path */
  char *label;                  /* "SYSTEM", "SOFTWARE", "BCD" in notes */
  struct lf_hive *hv;
  unsigned changes;             /* values and keys changed so far */
  size_t nby;
  struct lf_plan_by by[WIN_MAX_CONCERNS]; /* the same per concern */
};

/* Open guest hive PATH (as the plan leaves it) for editing by CONCERN (a
 * string that outlives the handle).  A hive whose base-block sequence
 * numbers differ (unreplayed .LOG1/.LOG2) is refused (EUCLEAN), as is
 * anything hivex will not open.  LABEL names the hive in notes.
 */
extern struct lf_whive *lf_whive_open (struct lf_plan *p, const char *concern,
                                       const char *path, const char *label);
/* Changes from now on are CONCERN's (a string that outlives the handle). */
extern void lf_whive_set_concern (struct lf_whive *w, const char *concern);
/* If anything changed: commit to a temporary file and plan its bytes for
 * the guest path.  WHY is the edit's line in the report.
 */
extern int lf_whive_commit (struct lf_whive *w, const char *why);
extern void lf_whive_close (struct lf_whive *w);
extern void lf_whive_cleanup (struct lf_whive **w);
#define CLEANUP_WHIVE __attribute__ ((cleanup (lf_whive_cleanup)))

/* The node at backslash PATH below FROM (0: the root), looked up
 * case-insensitively; 0 if absent (not an error).
 */
extern uint64_t lf_whive_node (struct lf_whive *w, uint64_t from,
                                  const char *path);
/* Subkey names of NODE (NULL-terminated, lf_free_names), at most
 * WIN_MAX_SUBKEYS; NULL with the error recorded on failure.
 */
extern char **lf_whive_children (struct lf_whive *w, uint64_t node);
/* ControlSet001, ControlSet002, ... (root subkeys named "ControlSet" and
 * three digits), in hive order.  An empty list is an error (ENOENT).
 */
extern char **lf_whive_control_sets (struct lf_whive *w);
/* The usual shape of a SYSTEM concern: FN on every control set of W,
 * stopping at its first -1.
 */
typedef int (*lf_whive_set_fn) (struct lf_whive *w, const char *cs,
                                void *arg);
extern int lf_whive_each_control_set (struct lf_whive *w, lf_whive_set_fn fn,
                                      void *arg);

/* Value NAME of NODE: LF_MATCH with *T, *DATA (malloc'd, NUL-padded by two
 * bytes) and *LEN; LF_NO_MATCH if absent; -1 on error.
 */
extern int lf_whive_get (struct lf_whive *w, uint64_t node,
                         const char *name, uint32_t *t, char **data,
                         size_t *len);
/* A REG_DWORD value: LF_MATCH, or LF_NO_MATCH if absent or of another
 * type (or -1).
 */
extern int lf_whive_get_dword (struct lf_whive *w, uint64_t node,
                               const char *name, uint32_t *v);
/* A REG_SZ/REG_EXPAND_SZ value as UTF-8, or NULL (absent, other type,
 * bad UTF-16).
 */
extern char *lf_whive_get_sz (struct lf_whive *w, uint64_t node,
                              const char *name);

/* A REG_MULTI_SZ value (or a REG_SZ, as a list of one) as UTF-8 strings,
 * empty ones left out: LF_MATCH with *LIST (NULL-terminated,
 * lf_free_names), LF_NO_MATCH if absent or of another type, -1 on error
 * (more than WIN_MAX_MULTI strings is E2BIG).
 */
extern int lf_whive_get_multi (struct lf_whive *w, uint64_t node,
                               const char *name, char ***list);

/* Set value NAME of NODE (WHERE is the key's path for the report).
 * Returns 1 if it changed, 0 if it already held exactly that, -1 on
 * error.  A value that exists keeps the case of its name.
 */
extern int lf_whive_set (struct lf_whive *w, uint64_t node,
                         const char *where, const char *name, uint32_t t,
                         const void *data, size_t len);
extern int lf_whive_set_dword (struct lf_whive *w, uint64_t node,
                               const char *where, const char *name,
                               uint32_t v);
/* REG_SZ, or REG_EXPAND_SZ if EXPAND: UTF-8 S stored as UTF-16LE. */
extern int lf_whive_set_sz (struct lf_whive *w, uint64_t node,
                            const char *where, const char *name,
                            const char *s, bool expand);
/* REG_MULTI_SZ from a NULL-terminated list. */
extern int lf_whive_set_multi (struct lf_whive *w, uint64_t node,
                               const char *where, const char *name,
                               const char *const *strs);
/* Delete value NAME (its old data goes to the report): 1 if deleted,
 * 0 if absent, -1 on error.
 */
extern int lf_whive_delete (struct lf_whive *w, uint64_t node,
                            const char *where, const char *name);
/* Delete key PATH (from the root) and all below it, its values in the
 * report: 1 if deleted, 0 if absent, -1 on error.
 */
extern int lf_whive_delete_key (struct lf_whive *w, const char *path);
/* Subkey NAME of PARENT, created (and reported) if absent; 0 on error. */
extern uint64_t lf_whive_key (struct lf_whive *w, uint64_t parent,
                                 const char *where, const char *name);

/* A value for a report line: "3", "\"text\"", "[\"a\", \"b\"]",
 * "hex:01,00" (the first WIN_SHOW_BINARY bytes), "absent" if DATA is NULL.
 */
extern char *lf_whive_describe (uint32_t t, const void *data, size_t len);
/* UTF-8 to UTF-16LE with a terminating NUL; *LEN in bytes.  NULL (EINVAL)
 * for bad UTF-8.
 */
extern char *lf_win_utf16le (const char *s, size_t *len);

/* fix.c: what every concern receives, the hives opened once. */
struct lf_winfix {
  struct lf_guest *g;
  struct lf_os *os;
  struct lf_plan *p;
  const struct lf_fix_opts *o;
  struct lf_whive *system;      /* SYSTEM */
  struct lf_whive *software;    /* SOFTWARE, NULL if the guest has none */
  struct lf_whive *bcd;         /* the BCD store bcd.c found, or NULL */
};
/* Open OS's SYSTEM and SOFTWARE hives through P (once for the whole fix;
 * bcd.c opens the BCD store it finds into C->bcd).
 */
extern int lf_winfix_open (struct lf_winfix *c, struct lf_guest *g,
                           struct lf_os *os, struct lf_plan *p,
                           const struct lf_fix_opts *o);
/* Run concern FN, its changes to the hives attributed to NAME. */
typedef int lf_winfix_fn (struct lf_winfix *c);
extern int lf_winfix_run (struct lf_winfix *c, const char *name,
                          lf_winfix_fn *fn);
/* Commit every hive in which something changed: one plan edit each. */
extern int lf_winfix_commit (struct lf_winfix *c);
extern void lf_winfix_close (struct lf_winfix *c);

/* The Windows concerns (reference/windows.md), one file each, with the
 * Linux concerns' contract: -1 stops the whole fix, a problem with one
 * item (a missing driver file in one control set) is a finding.  Each
 * edits every control set of the open SYSTEM hive.
 */
/* boot-drivers.c: storvsc, vmbus, storflt, intelide, atapi boot start;
 * "needs driver injection" when a driver file is missing */
extern int lf_fix_windows_boot_drivers (struct lf_winfix *c);
/* san-policy.c: SanPolicy OnlineAll */
extern int lf_fix_windows_san_policy (struct lf_winfix *c);
/* drive-letters.c: MountedDevices kept and reported, page file */
extern int lf_fix_windows_drive_letters (struct lf_winfix *c);
/* network.c: Dhcp automatic, every interface on DHCP */
extern int lf_fix_windows_network (struct lf_winfix *c);
/* rdp.c: Remote Desktop and its firewall rules on */
extern int lf_fix_windows_rdp (struct lf_winfix *c);
/* agents.c: VMware Tools off, Azure guest agent automatic */
extern int lf_fix_windows_agents (struct lf_winfix *c);
/* time.c: hardware clock read as UTC, Windows Time automatic */
extern int lf_fix_windows_time (struct lf_winfix *c);
/* bcd.c: EMS serial console, boot status policy in the BCD store (its own
 * hive, opened once here) */
extern int lf_fix_windows_bcd (struct lf_winfix *c);

/* fix.c: the guest paths of the hives. */
extern const char *lf_win_sysroot (const struct lf_os *os); /* "/Windows" */
extern int lf_win_hive_path (const struct lf_os *os, const char *name,
                             char *buf, size_t size);
/* Windows' version from the inspected SOFTWARE hive as major * 100 +
 * minor (601 for 7 / 2008 R2, 603 for 8.1 / 2012 R2, 1000 for 10 and
 * later); 0 if unknown.
 */
extern unsigned lf_win_version (const struct lf_os *os);

/* boot-drivers.c */
/* The class GUIDs whose UpperFilters/LowerFilters load with the boot
 * disk (W10): a filter listed there that cannot load stops Windows with
 * 0x7B.
 */
extern const char *const lf_win_storage_classes[4];
/* Every name in those filter lists of control set CS (NULL-terminated,
 * lf_free_names; possibly empty), or NULL on error.
 */
extern char **lf_win_class_filters (struct lf_whive *w, const char *cs);
/* W10: each filter of control set CS has a service key, is not disabled
 * and its driver file is present; LF_FAILED notes otherwise.  -1 on
 * error.
 */
extern int lf_win_check_class_filters (struct lf_whive *w,
                                       const char *sysroot, const char *cs);
/* W11: on Windows 6.3 (8.1 / 2012 R2), whether the VMBus driver package
 * knows the ACPI id newer Hyper-V hosts use; LF_WARNING notes otherwise.
 */
extern void lf_win_check_vmbus_acpi (struct lf_whive *w,
                                     const struct lf_os *os);

#endif /* LF_WINFIX_H */

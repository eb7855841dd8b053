/* landfall bootfix/windows: what the Windows concerns share, grouped by
 * source file.  Only bootfix/windows/ and its unit tests include this;
 * the rest of the tree uses bootfix.h.
 *
 * Every concern edits a hive the same way (hive-edit.c): the hive's bytes
 * as the plan will leave them (lf_plan_read, so a concern sees an earlier
 * one's edits) go to a private temporary file that hivex opens for
 * writing; values are set through helpers that compare old and new and
 * record "PATH\Name: old -> new" (or "already right") in the plan; if
 * anything changed, hivex commits to another temporary file and those
 * bytes are planned for the guest path (lf_plan_write).  hivex never sees
 * the guest's file, so its in-place hivex_commit cannot touch it.
 */
#ifndef LF_WINFIX_H
#define LF_WINFIX_H

#include <hivex.h>

#include "bootfix.h"

/* A SYSTEM hive of a busy server can reach a few hundred MiB. */
#define WIN_HIVE_MAX          (512 * LF_MiB)
/* ControlSet001..ControlSet999 can exist; Windows keeps two or three. */
#define WIN_MAX_CONTROL_SETS  32
/* Subkeys looked at under one key (NIC interfaces, BCD objects). */
#define WIN_MAX_SUBKEYS       4096
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

/* hive-edit.c */
struct lf_whive {
  struct lf_plan *p;
  char *concern;
  char *path;                   /* the guest path */
  char *label;                  /* "SYSTEM", "SOFTWARE", "BCD" in notes */
  hive_h *h;
  char tmp[64];                 /* the private copy hivex opened */
  unsigned changes;             /* values and keys changed so far */
};

/* Open guest hive PATH (as the plan leaves it) for editing.  A hive whose
 * base-block sequence numbers differ (unreplayed .LOG1/.LOG2) is refused
 * (EUCLEAN), as is anything hivex will not open.  LABEL names the hive in
 * notes.
 */
extern struct lf_whive *lf_whive_open (struct lf_plan *p, const char *concern,
                                       const char *path, const char *label);
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
extern hive_node_h lf_whive_node (struct lf_whive *w, hive_node_h from,
                                  const char *path);
/* Subkey names of NODE (NULL-terminated, lf_free_names), at most
 * WIN_MAX_SUBKEYS; NULL with the error recorded on failure.
 */
extern char **lf_whive_children (struct lf_whive *w, hive_node_h node);
/* ControlSet001, ControlSet002, ... (root subkeys named "ControlSet" and
 * three digits), in hive order.  An empty list is an error (ENOENT).
 */
extern char **lf_whive_control_sets (struct lf_whive *w);
/* The usual shape of a SYSTEM concern: open OS's SYSTEM hive for CONCERN
 * through P, run FN on every control set (stopping at its first -1), and
 * commit the result with WIN_HIVE_WHY.
 */
typedef int (*lf_whive_set_fn) (struct lf_whive *w, const char *cs,
                                void *arg);
extern int lf_whive_each_control_set (struct lf_os *os, struct lf_plan *p,
                                      const char *concern,
                                      lf_whive_set_fn fn, void *arg);

/* Value NAME of NODE: LF_MATCH with *T, *DATA (malloc'd, NUL-padded by two
 * bytes) and *LEN; LF_NO_MATCH if absent; -1 on error.
 */
extern int lf_whive_get (struct lf_whive *w, hive_node_h node,
                         const char *name, hive_type *t, char **data,
                         size_t *len);
/* A REG_DWORD value: LF_MATCH, or LF_NO_MATCH if absent or of another
 * type (or -1).
 */
extern int lf_whive_get_dword (struct lf_whive *w, hive_node_h node,
                               const char *name, uint32_t *v);
/* A REG_SZ/REG_EXPAND_SZ value as UTF-8, or NULL (absent, other type,
 * bad UTF-16).
 */
extern char *lf_whive_get_sz (struct lf_whive *w, hive_node_h node,
                              const char *name);

/* A REG_MULTI_SZ value (or a REG_SZ, as a list of one) as UTF-8 strings,
 * empty ones left out: LF_MATCH with *LIST (NULL-terminated,
 * lf_free_names), LF_NO_MATCH if absent or of another type, -1 on error
 * (more than WIN_MAX_MULTI strings is E2BIG).
 */
extern int lf_whive_get_multi (struct lf_whive *w, hive_node_h node,
                               const char *name, char ***list);

/* Set value NAME of NODE (WHERE is the key's path for the report).
 * Returns 1 if it changed, 0 if it already held exactly that, -1 on
 * error.  A value that exists keeps the case of its name.
 */
extern int lf_whive_set (struct lf_whive *w, hive_node_h node,
                         const char *where, const char *name, hive_type t,
                         const void *data, size_t len);
extern int lf_whive_set_dword (struct lf_whive *w, hive_node_h node,
                               const char *where, const char *name,
                               uint32_t v);
/* REG_SZ, or REG_EXPAND_SZ if EXPAND: UTF-8 S stored as UTF-16LE. */
extern int lf_whive_set_sz (struct lf_whive *w, hive_node_h node,
                            const char *where, const char *name,
                            const char *s, bool expand);
/* REG_MULTI_SZ from a NULL-terminated list. */
extern int lf_whive_set_multi (struct lf_whive *w, hive_node_h node,
                               const char *where, const char *name,
                               const char *const *strs);
/* Delete value NAME (its old data goes to the report): 1 if deleted,
 * 0 if absent, -1 on error.
 */
extern int lf_whive_delete (struct lf_whive *w, hive_node_h node,
                            const char *where, const char *name);
/* Subkey NAME of PARENT, created (and reported) if absent; 0 on error. */
extern hive_node_h lf_whive_key (struct lf_whive *w, hive_node_h parent,
                                 const char *where, const char *name);

/* A value for a report line: "3", "\"text\"", "[\"a\", \"b\"]",
 * "hex:01,00" (the first WIN_SHOW_BINARY bytes), "absent" if DATA is NULL.
 */
extern char *lf_whive_describe (hive_type t, const void *data, size_t len);
/* UTF-8 to UTF-16LE with a terminating NUL; *LEN in bytes.  NULL (EINVAL)
 * for bad UTF-8.
 */
extern char *lf_win_utf16le (const char *s, size_t *len);

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

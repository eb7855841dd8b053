/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/windows: drive letters and the page file
 * (reference/windows.md W23-W28, W76).
 *
 * MountedDevices is never changed: the mount manager gives a returning
 * volume its stored letter by matching those bytes, and the conversion
 * keeps disk signatures, offsets and GPT GUIDs.  The letter of every
 * volume is reported; a kept volume on D: is reported with the letter
 * Azure's temporary disk will take instead (the first free one, under
 * the OnlineAll SAN policy).  A page file on a letter that will not exist
 * is moved to the system volume (Windows would fall back to it anyway,
 * but only after complaining at every boot).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bootfix/windows/winfix.h"

#define CONCERN "drive-letters"
#define PAGING_MAX_ENTRIES 64

/* Letters (bit per 'A'..'Z') of MountedDevices entries that map to a
 * partition of the disks given (they will exist after failover), and of
 * every entry (reserved).
 */
static void
letters (struct lf_plan *p, const struct lf_os *os, uint32_t *kept,
         uint32_t *reserved, char *sysletter)
{
  json_t *a = json_object_get (os->facts, "drive_letters");
  const char *root = json_string_value (json_object_get (os->facts, "root"));
  size_t i;
  json_t *l;

  *kept = *reserved = 0;
  *sysletter = 0;
  json_array_foreach (a, i, l) {
    const char *letter = json_string_value (json_object_get (l, "letter"));
    const char *part = json_string_value (json_object_get (l, "partition"));
    const char *dev = json_string_value (json_object_get (l, "device"));
    if (!letter || letter[0] < 'A' || letter[0] > 'Z' || letter[1] != ':')
      continue;
    uint32_t bit = UINT32_C (1) << (letter[0] - 'A');
    *reserved |= bit;
    if (part) {
      *kept |= bit;
      if (root && strcmp (part, root) == 0)
        *sysletter = letter[0];
      lf_plan_note (p, CONCERN, LF_ALREADY_RIGHT, "%s is %s (MountedDevices "
                    "kept byte for byte)", letter, part);
    }
    else if (dev)
      lf_plan_note (p, CONCERN, LF_ALREADY_RIGHT, "%s is reserved for %s "
                    "(not a disk given; kept)", letter, dev);
    else
      lf_plan_note (p, CONCERN, LF_WARNING, "%s names a volume that is not "
                    "on the disks given (an excluded disk?): it will have no "
                    "volume on Azure", letter);
  }
}

/* W27: PagingFiles in one control set. */
static int
fix_paging (struct lf_whive *w, const char *cs, uint32_t kept, char sys)
{
  char where[300];
  uint32_t t;
  CLEANUP_FREE char *data = NULL;
  size_t len;
  char *out[PAGING_MAX_ENTRIES + 1] = { NULL };
  size_t n = 0;
  bool change = false;
  int r = 0;

  snprintf (where, sizeof where,
            "%s\\Control\\Session Manager\\Memory Management", cs);
  uint64_t mm = lf_whive_node (w, 0, where);
  if (!mm)
    return 0;
  r = lf_whive_get (w, mm, "PagingFiles", &t, &data, &len);
  if (r != LF_MATCH)
    return r;
  if (t != LF_REG_MULTI_SZ || len > WIN_MAX_STRING) {
    lf_plan_note (w->p, CONCERN, LF_WARNING, "SYSTEM\\%s\\PagingFiles is not "
                  "a REG_MULTI_SZ: left alone", where);
    return 0;
  }
  r = 0;
  for (size_t i = 0; i + 1 < len; ) {
    size_t j = i;
    while (j + 1 < len && (data[j] || data[j + 1]))
      j += 2;
    if (j == i)
      break;
    if (n == PAGING_MAX_ENTRIES) {
      lf_plan_note (w->p, CONCERN, LF_WARNING, "SYSTEM\\%s\\PagingFiles has "
                    "more than %d entries: left alone", where,
                    PAGING_MAX_ENTRIES);
      goto out;
    }
    char *e = lf_utf16_to_utf8 (data + i, j - i, false);
    i = j + 2;
    if (!e) {
      r = -1;
      goto out;
    }
    out[n++] = e;
    char c = e[0] >= 'a' && e[0] <= 'z' ? (char) (e[0] - 32) : e[0];
    if (c >= 'A' && c <= 'Z' && e[1] == ':' &&
        !(kept & (UINT32_C (1) << (c - 'A')))) {
      if (!sys) {
        lf_plan_note (w->p, CONCERN, LF_WARNING, "SYSTEM\\%s\\PagingFiles: "
                      "\"%s\" is on %c:, which will not exist, and the "
                      "system volume's letter is unknown: Windows will fall "
                      "back to its own choice", where, e, c);
        continue;
      }
      e[0] = sys;
      change = true;
      /* The same file twice: keep the first. */
      for (size_t k = 0; k + 1 < n; k++)
        if (strncasecmp (out[k], e, strcspn (e, " ")) == 0 &&
            (out[k][strcspn (e, " ")] == ' ' ||
             out[k][strcspn (e, " ")] == '\0')) {
          free (out[--n]);
          out[n] = NULL;
          break;
        }
    }
  }
  if (change) {
    lf_plan_note (w->p, CONCERN, LF_WARNING, "SYSTEM\\%s\\PagingFiles: a "
                  "page file on a letter that will not exist on Azure moves "
                  "to %c: (never to the temporary disk, whose letter is known "
                  "only at boot)", where, sys);
    r = lf_whive_set_multi (w, mm, where, "PagingFiles",
                            (const char *const *) out);
    r = r == -1 ? -1 : 0;
  }
 out:
  for (size_t k = 0; k < n; k++)
    free (out[k]);
  return r;
}

int
lf_fix_windows_drive_letters (struct lf_winfix *c)
{
  struct lf_os *os = c->os;
  struct lf_plan *p = c->p;
  struct lf_whive *w = c->system;
  char **sets = NULL;
  uint32_t kept, reserved;
  char sys;
  int r = -1;

  letters (p, os, &kept, &reserved, &sys);
  if (sys && sys != 'C')
    lf_plan_note (p, CONCERN, LF_WARNING, "Windows is on %c:, not C: (Azure "
                  "Site Recovery requires C:)", sys);
  if (!sys)
    lf_plan_note (p, CONCERN, LF_WARNING, "MountedDevices gives no letter to "
                  "the Windows volume: Windows will choose one at boot");
  if (kept & (UINT32_C (1) << ('D' - 'A'))) {
    char next = 0;
    for (char l = 'E'; l <= 'Z' && !next; l++)
      if (!(reserved & (UINT32_C (1) << (l - 'A'))))
        next = l;
    lf_plan_note (p, CONCERN, LF_WARNING, "a kept volume is D:: Azure's "
                  "temporary disk takes the first free letter instead (%c:); "
                  "never put the page file on it", next ? next : '?');
  }
  else
    lf_plan_note (p, CONCERN, LF_ALREADY_RIGHT, "no kept volume on D:: "
                  "Azure's temporary disk will be D:");

  if (!(sets = lf_whive_control_sets (w)))
    goto out;
  for (char **cs = sets; *cs; cs++)
    if (fix_paging (w, *cs, kept, sys) == -1)
      goto out;
  r = 0;
 out:
  lf_free_names (sets);
  return r;
}

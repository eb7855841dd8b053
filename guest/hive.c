/* landfall guest/: Windows registry hives, through hivex.
 *
 * The hive's bytes are read through the guest filesystem interface into a
 * private temporary file that hivex opens (hivex wants a path); the guest
 * file itself is never opened by hivex, so hivex_commit's in-place rewrite
 * (STYLE.md, anti-pattern 1) can never touch the guest.  Only this file
 * knows hivex's conventions (errno, NULL/0 returns).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hivex.h>

#include "guest.h"

/* A SYSTEM hive of a busy server can reach a few hundred MiB. */
#define HIVE_MAX (512 * 1024 * 1024)

struct lf_hive {
  hive_h *h;
  char *guest_path;
  char tmp[64];
  uint32_t seq1, seq2;          /* regf header sequence numbers */
};

struct lf_hive *
lf_hive_open (struct lf_mounts *ms, const char *path, bool write)
{
  struct lf_hive *hv = calloc (1, sizeof *hv);
  char *buf = NULL;
  size_t len = 0;
  int fd = -1;

  if (!hv) {
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  if (lf_guest_read (ms, path, HIVE_MAX, &buf, &len) == -1)
    goto error;
  if (len < 4096 || memcmp (buf, "regf", 4) != 0) {
    lf_error (EINVAL, "%s: not a registry hive (no \"regf\" header)", path);
    goto error;
  }
  hv->seq1 = lf_le32 (buf + 4);
  hv->seq2 = lf_le32 (buf + 8);
  snprintf (hv->tmp, sizeof hv->tmp, "/tmp/landfall-hive-XXXXXX");
  fd = mkstemp (hv->tmp);
  if (fd == -1 || lf_pwrite_all (fd, buf, len, 0) == -1) {
    lf_error (errno, "%s: cannot make a private copy: %m", path);
    goto error;
  }
  close (fd);
  fd = -1;
  free (buf);
  buf = NULL;
  hv->guest_path = strdup (path);
  hv->h = hivex_open (hv->tmp, write ? HIVEX_OPEN_WRITE : 0);
  if (!hv->h) {
    lf_error (errno, "%s: hivex cannot open the hive: %m (damaged?)", path);
    goto error;
  }
  return hv;

 error:
  if (fd >= 0)
    close (fd);
  free (buf);
  lf_hive_close (hv);
  return NULL;
}

void
lf_hive_close (struct lf_hive *hv)
{
  if (!hv)
    return;
  if (hv->h)
    hivex_close (hv->h);
  if (hv->tmp[0])
    unlink (hv->tmp);
  free (hv->guest_path);
  free (hv);
}

bool
lf_hive_dirty (const struct lf_hive *hv)
{
  return hv->seq1 != hv->seq2;
}

void *
lf_hive_handle (struct lf_hive *hv)
{
  return hv->h;
}

/* Node at a backslash-separated PATH from the root (case-insensitive, as
 * Windows), or 0.
 */
uint64_t
lf_hive_node (struct lf_hive *hv, const char *path)
{
  hive_node_h node = hivex_root (hv->h);
  CLEANUP_FREE char *copy = strdup (path);
  char *save = NULL;

  if (!copy || !node)
    return 0;
  for (char *c = strtok_r (copy, "\\", &save); c && node;
       c = strtok_r (NULL, "\\", &save))
    node = hivex_node_get_child (hv->h, node, c);
  return node;
}

int
lf_hive_get_dword (struct lf_hive *hv, uint64_t node, const char *name,
                   uint32_t *ret)
{
  hive_value_h v;
  hive_type t;
  size_t len;

  if (!node || !(v = hivex_node_get_value (hv->h, node, name)))
    return -1;
  if (hivex_value_type (hv->h, v, &t, &len) == -1 ||
      (t != hive_t_REG_DWORD && t != hive_t_REG_DWORD_BIG_ENDIAN) || len < 4)
    return -1;
  *ret = (uint32_t) hivex_value_dword (hv->h, v);
  return 0;
}

char *
lf_hive_get_string (struct lf_hive *hv, uint64_t node, const char *name)
{
  hive_value_h v;

  if (!node || !(v = hivex_node_get_value (hv->h, node, name)))
    return NULL;
  return hivex_value_string (hv->h, v);
}

char **
lf_hive_get_multi (struct lf_hive *hv, uint64_t node, const char *name)
{
  hive_value_h v;

  if (!node || !(v = hivex_node_get_value (hv->h, node, name)))
    return NULL;
  return hivex_value_multiple_strings (hv->h, v);
}

char **
lf_hive_children (struct lf_hive *hv, uint64_t node)
{
  hive_node_h *kids;
  char **names;
  size_t n = 0;

  if (!node || !(kids = hivex_node_children (hv->h, node)))
    return NULL;
  while (kids[n])
    n++;
  names = calloc (n + 1, sizeof *names);
  for (size_t i = 0; names && i < n; i++)
    names[i] = hivex_node_name (hv->h, kids[i]);
  free (kids);
  return names;
}

/* Values of NODE as (name, type, bytes) triples, for MountedDevices. */
int
lf_hive_values (struct lf_hive *hv, uint64_t node,
                int (*fn) (void *opaque, const char *name, uint32_t type,
                           const void *data, size_t len),
                void *opaque)
{
  hive_value_h *vals = hivex_node_values (hv->h, node);

  if (!vals)
    return -1;
  for (size_t i = 0; vals[i]; i++) {
    CLEANUP_FREE char *key = hivex_value_key (hv->h, vals[i]);
    hive_type t;
    size_t len;
    CLEANUP_FREE char *data = hivex_value_value (hv->h, vals[i], &t, &len);
    if (key && data && fn (opaque, key, (uint32_t) t, data, len) == -1) {
      free (vals);
      return -1;
    }
  }
  free (vals);
  return 0;
}

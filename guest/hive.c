/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall guest/: Windows registry hives, through hivex: the one adapter
 * for inspection (read-only) and for the Windows fix (writable).
 *
 * The hive's bytes (read through the guest filesystem interface, or given
 * by the caller: the fix passes the bytes its plan will leave) go to a
 * private temporary file that hivex opens (hivex wants a path); an edited
 * hive is committed to another temporary file whose bytes go back to the
 * caller.  hivex never opens the guest's file, so its in-place
 * hivex_commit (STYLE.md, anti-pattern 1) can never touch the guest.
 * Only this file knows hivex's conventions (errno set, 0 or NULL
 * returned); every open and commit is one debug line ("hive open: PATH"),
 * so that a test can count them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hivex.h>

#include "guest/guest.h"

_Static_assert (LF_REG_SZ == hive_t_REG_SZ &&
                LF_REG_EXPAND_SZ == hive_t_REG_EXPAND_SZ &&
                LF_REG_BINARY == hive_t_REG_BINARY &&
                LF_REG_DWORD == hive_t_REG_DWORD &&
                LF_REG_DWORD_BIG_ENDIAN == hive_t_REG_DWORD_BIG_ENDIAN &&
                LF_REG_MULTI_SZ == hive_t_REG_MULTI_SZ,
                "LF_REG_* are the registry's (and hivex's) type numbers");

struct lf_hive {
  hive_h *h;
  char *name;                   /* the guest path, for messages */
  char tmp[64];                 /* the private copy hivex opened */
  uint32_t seq1, seq2;          /* base block sequence numbers */
};

static unsigned hive_opens;

unsigned
lf_hive_open_count (void)
{
  return hive_opens;
}

/* errno as hivex left it, or EINVAL when it left none. */
static int
hivex_errno (void)
{
  return errno ? errno : EINVAL;
}

/* A private temporary file in TMPDIR (or /tmp) holding BUF (none if
 * NULL); its name into TMP.  -1 on error.
 */
static int
make_temp (char *tmp, size_t size, const void *buf, size_t len)
{
  const char *dir = getenv ("TMPDIR");
  int fd;

  if (!dir || !*dir || strlen (dir) > size - 32)
    dir = "/tmp";
  snprintf (tmp, size, "%s/landfall-hive-XXXXXX", dir);
  fd = mkstemp (tmp);
  if (fd == -1) {
    lf_error (errno, "%s: cannot make a temporary file: %m", tmp);
    tmp[0] = '\0';
    return -1;
  }
  if (buf && lf_pwrite_all (fd, buf, len, 0) == -1) {
    lf_error (errno, "%s: cannot write a temporary file: %m", tmp);
    close (fd);
    return -1;
  }
  if (close (fd) == -1) {
    lf_error (errno, "%s: close: %m", tmp);
    return -1;
  }
  return 0;
}

struct lf_hive *
lf_hive_open_buf (const char *name, const void *buf, size_t len, bool write)
{
  struct lf_hive *hv = calloc (1, sizeof *hv);

  if (!hv || !(hv->name = strdup (name))) {
    lf_error (ENOMEM, "out of memory");
    goto error;
  }
  /* The base block: "regf", then the two sequence numbers (0x04, 0x08).
   * hivex checks the rest; the sequence numbers it ignores.
   */
  if (len < 4096 || memcmp (buf, "regf", 4) != 0) {
    lf_error (EINVAL, "%s: not a registry hive (%zu bytes, no \"regf\" "
              "base block)", name, len);
    goto error;
  }
  hv->seq1 = lf_le32 ((const char *) buf + 4);
  hv->seq2 = lf_le32 ((const char *) buf + 8);
  if (make_temp (hv->tmp, sizeof hv->tmp, buf, len) == -1)
    goto error;
  errno = 0;
  hv->h = hivex_open (hv->tmp, write ? HIVEX_OPEN_WRITE : 0);
  if (!hv->h) {
    int e = hivex_errno ();
    lf_error (e, "%s: hivex cannot open the hive: %s (damaged?)", name,
              strerror (e));
    goto error;
  }
  hive_opens++;
  LF_DEBUG (1, "hive open: %s (%s, %zu bytes)", name,
            write ? "writable" : "read-only", len);
  return hv;

 error:
  lf_hive_close (hv);
  return NULL;
}

struct lf_hive *
lf_hive_open (struct lf_mounts *ms, const char *path, bool write)
{
  CLEANUP_FREE char *buf = NULL;
  size_t len = 0;

  if (lf_guest_read (ms, path, LF_HIVE_MAX, &buf, &len) == -1)
    return NULL;
  return lf_hive_open_buf (path, buf, len, write);
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
  free (hv->name);
  free (hv);
}

void
lf_hive_cleanup (struct lf_hive **hv)
{
  lf_hive_close (*hv);
}

bool
lf_hive_dirty (const struct lf_hive *hv)
{
  return hv->seq1 != hv->seq2;
}

const char *
lf_hive_name (const struct lf_hive *hv)
{
  return hv->name;
}

uint64_t
lf_hive_root (struct lf_hive *hv)
{
  return hivex_root (hv->h);
}

uint64_t
lf_hive_node_from (struct lf_hive *hv, uint64_t from, const char *path)
{
  hive_node_h node = from ? from : hivex_root (hv->h);
  CLEANUP_FREE char *copy = strdup (path);
  char *save = NULL;

  if (!copy || !node)
    return 0;
  for (char *c = strtok_r (copy, "\\", &save); c && node;
       c = strtok_r (NULL, "\\", &save))
    node = hivex_node_get_child (hv->h, node, c);
  return node;
}

/* Node at a backslash-separated PATH from the root (case-insensitive, as
 * Windows), or 0.
 */
uint64_t
lf_hive_node (struct lf_hive *hv, const char *path)
{
  return lf_hive_node_from (hv, 0, path);
}

char *
lf_hive_node_name (struct lf_hive *hv, uint64_t node)
{
  return hivex_node_name (hv->h, node);
}

int
lf_hive_get (struct lf_hive *hv, uint64_t node, const char *name,
             uint32_t *t, char **data, size_t *len)
{
  hive_value_h v;
  hive_type ht;
  char *d, *padded;

  if (!node)
    return LF_NO_MATCH;
  errno = 0;
  v = hivex_node_get_value (hv->h, node, name);
  if (!v) {
    if (errno && errno != ENOENT) {
      lf_error (errno, "%s: value \"%s\": %m", hv->name, name);
      return -1;
    }
    return LF_NO_MATCH;
  }
  d = hivex_value_value (hv->h, v, &ht, len);
  if (!d) {
    int e = hivex_errno ();
    lf_error (e, "%s: value \"%s\" cannot be read: %s", hv->name, name,
              strerror (e));
    return -1;
  }
  /* Two NULs after the data, so that UTF-16 readers always stop. */
  padded = realloc (d, *len + 2);
  if (!padded) {
    free (d);
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  padded[*len] = padded[*len + 1] = '\0';
  *t = (uint32_t) ht;
  *data = padded;
  return LF_MATCH;
}

char *
lf_hive_value_key (struct lf_hive *hv, uint64_t node, const char *name)
{
  hive_value_h v = node ? hivex_node_get_value (hv->h, node, name) : 0;
  return v ? hivex_value_key (hv->h, v) : NULL;
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

  if (!node)
    return NULL;
  errno = 0;
  kids = hivex_node_children (hv->h, node);
  if (!kids) {
    int e = hivex_errno ();
    lf_error (e, "%s: cannot list subkeys: %s", hv->name, strerror (e));
    return NULL;
  }
  while (kids[n])
    n++;
  if (n > LF_HIVE_MAX_SUBKEYS) {
    CLEANUP_FREE char *name = hivex_node_name (hv->h, node);
    lf_error (E2BIG, "%s: key \"%s\" has %zu subkeys (limit %d)", hv->name,
              name ? name : "?", n, LF_HIVE_MAX_SUBKEYS);
    free (kids);
    return NULL;
  }
  names = calloc (n + 1, sizeof *names);
  for (size_t i = 0; names && i < n; i++) {
    names[i] = hivex_node_name (hv->h, kids[i]);
    if (!names[i]) {
      lf_error (hivex_errno (), "%s: a subkey name cannot be read",
                hv->name);
      lf_free_names (names);
      free (kids);
      return NULL;
    }
  }
  free (kids);
  if (!names)
    lf_error (ENOMEM, "out of memory");
  return names;
}

char **
lf_hive_value_names (struct lf_hive *hv, uint64_t node)
{
  hive_value_h *vals;
  char **names;
  size_t n = 0;

  errno = 0;
  vals = hivex_node_values (hv->h, node);
  if (!vals) {
    lf_error (hivex_errno (), "%s: cannot list values", hv->name);
    return NULL;
  }
  while (vals[n])
    n++;
  names = calloc (n + 1, sizeof *names);
  for (size_t i = 0, k = 0; names && i < n; i++) {
    char *key = hivex_value_key (hv->h, vals[i]);
    if (key)                    /* an unreadable name is skipped */
      names[k++] = key;
  }
  free (vals);
  if (!names)
    lf_error (ENOMEM, "out of memory");
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

int
lf_hive_set_value (struct lf_hive *hv, uint64_t node, const char *name,
                   uint32_t t, const void *data, size_t len)
{
  hive_set_value sv = {
    .key = (char *) name,
    .t = (hive_type) t,
    .len = len,
    .value = (char *) data,
  };

  if (hivex_node_set_value (hv->h, node, &sv, 0) == -1) {
    lf_error (hivex_errno (), "%s: hivex cannot set value \"%s\": %m",
              hv->name, name);
    return -1;
  }
  return 0;
}

int
lf_hive_delete_value (struct lf_hive *hv, uint64_t node, const char *name,
                      uint32_t *t, char **data, size_t *len)
{
  hive_value_h *vals = NULL;
  hive_set_value *sv = NULL;
  size_t n = 0, k = 0;
  int r = -1;
  bool found = false;

  errno = 0;
  vals = hivex_node_values (hv->h, node);
  if (!vals) {
    lf_error (hivex_errno (), "%s: cannot list values", hv->name);
    return -1;
  }
  while (vals[n])
    n++;
  sv = calloc (n + 1, sizeof *sv);
  if (!sv) {
    lf_error (ENOMEM, "out of memory");
    goto out;
  }
  /* hivex has no "delete value": set the key's values to all the others,
   * in their order.
   */
  for (size_t i = 0; i < n; i++) {
    char *key = hivex_value_key (hv->h, vals[i]);
    hive_type vt;
    size_t vlen;
    char *d = key ? hivex_value_value (hv->h, vals[i], &vt, &vlen) : NULL;
    if (!key || !d) {
      lf_error (hivex_errno (), "%s: a value cannot be read", hv->name);
      free (key);
      free (d);
      goto out;
    }
    if (!found && strcasecmp (key, name) == 0) {
      found = true;
      *t = (uint32_t) vt;
      *data = d;
      *len = vlen;
      free (key);
      continue;
    }
    sv[k++] = (hive_set_value) { .key = key, .t = vt, .len = vlen,
                                 .value = d };
  }
  if (!found) {
    r = 0;
    goto out;
  }
  if (hivex_node_set_values (hv->h, node, k, sv, 0) == -1) {
    lf_error (hivex_errno (), "%s: hivex cannot delete value \"%s\": %m",
              hv->name, name);
    free (*data);
    *data = NULL;
    goto out;
  }
  r = 1;
 out:
  for (size_t i = 0; sv && i < k; i++) {
    free (sv[i].key);
    free (sv[i].value);
  }
  free (sv);
  free (vals);
  return r;
}

uint64_t
lf_hive_child (struct lf_hive *hv, uint64_t parent, const char *name)
{
  return hivex_node_get_child (hv->h, parent, name);
}

uint64_t
lf_hive_add_child (struct lf_hive *hv, uint64_t parent, const char *name)
{
  hive_node_h node = hivex_node_add_child (hv->h, parent, name);

  if (!node)
    lf_error (hivex_errno (), "%s: hivex cannot add key \"%s\": %m",
              hv->name, name);
  return node;
}

int
lf_hive_delete_key (struct lf_hive *hv, uint64_t node)
{
  if (node == lf_hive_root (hv)) {
    lf_error (EINVAL, "%s: the root key cannot be deleted", hv->name);
    return -1;
  }
  if (hivex_node_delete_child (hv->h, node) == -1) {
    lf_error (hivex_errno (), "%s: hivex cannot delete a key: %m", hv->name);
    return -1;
  }
  return 0;
}

int
lf_hive_commit (struct lf_hive *hv, char **buf, size_t *len)
{
  char out[64] = "";
  struct stat st;
  int fd = -1, r = -1;

  *buf = NULL;
  if (make_temp (out, sizeof out, NULL, 0) == -1)
    goto out;
  /* Never the guest file, never NULL (hivex's own file): see above. */
  if (hivex_commit (hv->h, out, 0) == -1) {
    lf_error (hivex_errno (), "%s: hivex cannot write the edited hive: %m",
              hv->name);
    goto out;
  }
  fd = open (out, O_RDONLY | O_CLOEXEC);
  if (fd == -1 || fstat (fd, &st) == -1) {
    lf_error (errno, "%s: %m", out);
    goto out;
  }
  if (st.st_size < 4096 || (uint64_t) st.st_size > LF_HIVE_MAX) {
    lf_error (EFBIG, "%s: hivex wrote %jd bytes (limit %" PRIu64 ")",
              hv->name, (intmax_t) st.st_size, (uint64_t) LF_HIVE_MAX);
    goto out;
  }
  *buf = malloc ((size_t) st.st_size);
  if (!*buf) {
    lf_error (ENOMEM, "out of memory");
    goto out;
  }
  if (lf_pread_all (fd, *buf, (size_t) st.st_size, 0) == -1) {
    lf_error (errno, "%s: %m", out);
    free (*buf);
    *buf = NULL;
    goto out;
  }
  *len = (size_t) st.st_size;
  LF_DEBUG (1, "hive commit: %s (%zu bytes)", hv->name, *len);
  r = 0;
 out:
  if (fd >= 0)
    close (fd);
  if (out[0])
    unlink (out);
  return r;
}

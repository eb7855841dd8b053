/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall supervisor/: what the job file, the recovery-point manifest
 * and the recovery plan have in common as inputs: small files read whole
 * (capped: the parsers report the size error, with the file's name),
 * hashed so that a resumed run can tell the file changed, and, for the
 * JSON ones, the same hostile-input checks of fields.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "supervisor/job.h"

int
lf_input_read (const char *path, size_t max, char **ret, size_t *ret_len,
               char dir[])
{
  CLEANUP_CLOSE int fd = -1;
  CLEANUP_FREE char *copy = NULL;
  char *buf = NULL;
  struct stat st;
  size_t len = 0;
  ssize_t n = 0;

  /* O_NONBLOCK: a FIFO would block the open until a writer came. */
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd == -1 || fstat (fd, &st) == -1) {
    lf_error (errno, "%s: %m", path);
    return -1;
  }
  if (!S_ISREG (st.st_mode)) {
    lf_error (EINVAL, "%s: not a regular file", path);
    return -1;
  }
  buf = malloc (max + 1);
  copy = strdup (path);
  if (!buf || !copy) {
    free (buf);
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  /* To EOF, not st_size (the file may change under us), but one byte
   * past MAX at most: enough for the parser to say it is too big.
   */
  while (len <= max && (n = read (fd, buf + len, max + 1 - len)) > 0)
    len += (size_t) n;
  if (len <= max && n == -1) {
    lf_error (errno, "%s: %m", path);
    free (buf);
    return -1;
  }
  if (!realpath (dirname (copy), dir)) {
    lf_error (errno, "%s: its directory: %m", path);
    free (buf);
    return -1;
  }
  buf[len] = '\0';
  *ret = buf;
  *ret_len = len;
  return 0;
}

int
lf_json_only_keys (const char *name, const char *field, json_t *o,
                   const char *const *keys)
{
  const char *k;
  json_t *v;

  json_object_foreach (o, k, v) {
    bool known = false;
    for (size_t i = 0; keys[i]; i++)
      known |= strcmp (k, keys[i]) == 0;
    if (!known) {
      lf_error (EINVAL, "%s: %s: unknown key '%.64s'", name, field, k);
      return -1;
    }
  }
  return 0;
}

/* jansson allows "\u0000" in strings: it would cut a C string short. */
static bool
plain_string (json_t *v)
{
  return json_is_string (v) &&
    strlen (json_string_value (v)) == json_string_length (v);
}

char *
lf_json_path (const char *name, const char *field, json_t *v,
              const char *basedir)
{
  if (!plain_string (v) || json_string_length (v) == 0 ||
      json_string_length (v) >= PATH_MAX) {
    lf_error (EINVAL, "%s: %s: not a file name (a non-empty string under %d "
              "bytes)", name, field, PATH_MAX);
    return NULL;
  }
  return lf_path_under (basedir, json_string_value (v));
}

bool
lf_name_ok (const char *s)
{
  size_t n = strlen (s);

  if (n == 0 || n > LF_NAME_MAX)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
          c == ':'))
      return false;
  }
  return true;
}

const char *
lf_json_name (const char *name, const char *field, json_t *v, bool optional)
{
  const char *s;

  if (!v && optional)
    return NULL;
  s = json_string_value (v);
  if (!plain_string (v) || !lf_name_ok (s)) {
    lf_error (EINVAL, "%s: %s: %s not a name of 1 to %d letters, digits, "
              "'-', '_', '.' or ':'", name, field, v ? "is" : "missing:",
              LF_NAME_MAX);
    return LF_JSON_BAD;
  }
  return s;
}

const char *
lf_json_text (const char *name, const char *field, json_t *v, size_t max,
              bool optional)
{
  if (!v && optional)
    return NULL;
  if (!plain_string (v) || json_string_length (v) == 0 ||
      json_string_length (v) > max) {
    lf_error (EINVAL, "%s: %s: %s not a string of 1 to %zu bytes", name,
              field, v ? "is" : "missing:", max);
    return LF_JSON_BAD;
  }
  return json_string_value (v);
}

json_t *
lf_json_load_object (const char *buf, size_t len, const char *name,
                     const char *what, size_t max, const char *const *keys)
{
  json_error_t err;
  json_t *root;

  if (len > max) {
    lf_error (EFBIG, "%s: %zu bytes: a %s is at most %zu bytes", name, len,
              what, max);
    return NULL;
  }
  /* Duplicate keys are refused: which of two "processed" would win is a
   * guess.  Depth is bounded by jansson (2048).
   */
  root = json_loadb (buf, len, JSON_REJECT_DUPLICATES, &err);
  if (!root) {
    lf_error (EINVAL, "%s:%d: not JSON: %s", name, err.line, err.text);
    return NULL;
  }
  if (!json_is_object (root)) {
    lf_error (EINVAL, "%s: not a JSON object", name);
    json_decref (root);
    return NULL;
  }
  if (lf_json_only_keys (name, what, root, keys) == -1) {
    json_decref (root);
    return NULL;
  }
  return root;
}

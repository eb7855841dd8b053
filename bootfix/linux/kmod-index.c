/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/linux: kmod's binary module index, written and read
 * without libkmod (the initramfs gets new modules.*.bin files and nothing
 * from the guest is run to make them).
 *
 * The format, from kmod's libkmod/libkmod-index.c and tools/depmod.c (read,
 * not copied):
 *
 *   u32 magic 0xB007F457, u32 version 0x00020001, u32 root node offset;
 *   then nodes.  A node offset's high nibble says which parts the node at
 *   (offset & 0x0FFFFFFF) has, in this order:
 *     PREFIX  0x80000000  NUL-terminated string: key bytes consumed after
 *                         the edge that led here;
 *     CHILDS  0x20000000  u8 first, u8 last, (last - first + 1) u32 child
 *                         offsets indexed by the next key byte (0: none);
 *     VALUES  0x40000000  u32 count, then count times { u32 priority,
 *                         NUL-terminated value }.
 *   Every integer is big-endian.  Keys are 7-bit ASCII.
 *
 * depmod builds a path-compressed trie by insertion and writes it in
 * post-order (children in byte order, then the node).  The trie insertion
 * gives is the canonical one: a node where keys branch or end, the root
 * with an empty prefix.  We build the same trie from the sorted keys, so
 * the output is byte-identical to depmod's for the same input.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bootfix/bootfix.h"

struct kidx_entry {
  char *key;
  char *value;
  uint32_t priority;
  size_t seq;                   /* insertion order */
};

struct lf_kmod_index {
  char *name;                   /* "modules.dep.bin", for messages */
  size_t n, cap;
  struct kidx_entry *e;
};

struct lf_kmod_index *
lf_kmod_index_new (const char *name)
{
  struct lf_kmod_index *idx = calloc (1, sizeof *idx);

  if (!idx || !(idx->name = strdup (name))) {
    free (idx);
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  return idx;
}

void
lf_kmod_index_free (struct lf_kmod_index *idx)
{
  if (!idx)
    return;
  for (size_t i = 0; i < idx->n; i++) {
    free (idx->e[i].key);
    free (idx->e[i].value);
  }
  free (idx->e);
  free (idx->name);
  free (idx);
}

/* 7-bit ASCII without NUL, at most MAX bytes. */
static int
check_string (const struct lf_kmod_index *idx, const char *what,
              const char *s, size_t max)
{
  size_t i;

  for (i = 0; s[i]; i++) {
    if ((unsigned char) s[i] >= 128) {
      lf_error (EINVAL, "%s: %s \"%.64s\": byte 0x%02x at %zu is not 7-bit "
                "ASCII (kmod indexes hold ASCII only)", idx->name, what, s,
                (unsigned) (unsigned char) s[i], i);
      return -1;
    }
    if (i >= max) {
      lf_error (E2BIG, "%s: %s \"%.64s...\" is longer than the limit of %zu "
                "bytes", idx->name, what, s, max);
      return -1;
    }
  }
  return 0;
}

int
lf_kmod_index_add (struct lf_kmod_index *idx, const char *key,
                   const char *value, uint32_t priority)
{
  struct kidx_entry *e;

  if (check_string (idx, "key", key, KMOD_INDEX_MAX_KEY) == -1 ||
      check_string (idx, "value", value, KMOD_INDEX_MAX_VALUE) == -1)
    return -1;
  if (idx->n >= KMOD_INDEX_MAX_ENTRIES) {
    lf_error (E2BIG, "%s: more than %u entries (limit)", idx->name,
              KMOD_INDEX_MAX_ENTRIES);
    return -1;
  }
  if (idx->n == idx->cap) {
    size_t ncap = idx->cap ? idx->cap * 2 : 256;
    e = realloc (idx->e, ncap * sizeof *e);
    if (!e) {
      lf_error (ENOMEM, "out of memory");
      return -1;
    }
    idx->e = e;
    idx->cap = ncap;
  }
  e = &idx->e[idx->n];
  e->key = strdup (key);
  e->value = strdup (value);
  if (!e->key || !e->value) {
    free (e->key);
    free (e->value);
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  e->priority = priority;
  e->seq = idx->n;
  idx->n++;
  return 0;
}

/* Keys in byte order; a key's values by priority, the later added first
 * among equal priorities (depmod's insert puts a new value before the
 * first one whose priority is not lower).
 */
static int
entry_cmp (const void *a, const void *b)
{
  const struct kidx_entry *x = a, *y = b;
  int c = strcmp (x->key, y->key);

  if (c)
    return c;
  if (x->priority != y->priority)
    return x->priority < y->priority ? -1 : 1;
  return x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0;
}

static int
put_u32 (struct lf_ird_buf *b, uint32_t v)
{
  uint8_t be[4] = { (uint8_t) (v >> 24), (uint8_t) (v >> 16),
                    (uint8_t) (v >> 8), (uint8_t) v };
  return lf_ird_buf_append (b, be, 4);
}

/* Write the node for entries [LO, HI), which share their first D key
 * bytes, after its children (post-order).  *RET is its offset with flags.
 */
static int
write_node (struct lf_kmod_index *idx, struct lf_ird_buf *b, size_t lo,
            size_t hi, size_t d, bool root, uint32_t *ret)
{
  const char *first = idx->e[lo].key, *last = idx->e[hi - 1].key;
  size_t p = d, vhi = lo;
  uint32_t child[128] = { 0 };
  int cfirst = -1, clast = -1;
  uint32_t off;

  /* The prefix: what every key has in common from D on. */
  if (!root)
    while (first[p] && first[p] == last[p])
      p++;
  /* Values: the keys that end at P sort first. */
  while (vhi < hi && idx->e[vhi].key[p] == '\0')
    vhi++;
  /* Children, grouped by the byte at P. */
  for (size_t i = vhi; i < hi; ) {
    unsigned char ch = (unsigned char) idx->e[i].key[p];
    size_t j = i + 1;
    while (j < hi && (unsigned char) idx->e[j].key[p] == ch)
      j++;
    if (write_node (idx, b, i, j, p + 1, false, &child[ch]) == -1)
      return -1;
    if (cfirst < 0)
      cfirst = ch;
    clast = ch;
    i = j;
  }

  if (b->len > KMOD_INDEX_NODE_MASK) {
    lf_error (EFBIG, "%s: index grows past %u bytes (the format's limit)",
              idx->name, (unsigned) KMOD_INDEX_NODE_MASK);
    return -1;
  }
  off = (uint32_t) b->len;
  if (p > d) {
    if (lf_ird_buf_append (b, first + d, p - d) == -1 ||
        lf_ird_buf_zeros (b, 1) == -1)
      return -1;
    off |= KMOD_INDEX_NODE_PREFIX;
  }
  if (cfirst >= 0) {
    uint8_t range[2] = { (uint8_t) cfirst, (uint8_t) clast };
    if (lf_ird_buf_append (b, range, 2) == -1)
      return -1;
    for (int c = cfirst; c <= clast; c++)
      if (put_u32 (b, child[c]) == -1)
        return -1;
    off |= KMOD_INDEX_NODE_CHILDS;
  }
  if (vhi > lo) {
    if (put_u32 (b, (uint32_t) (vhi - lo)) == -1)
      return -1;
    for (size_t i = lo; i < vhi; i++)
      if (put_u32 (b, idx->e[i].priority) == -1 ||
          lf_ird_buf_append (b, idx->e[i].value,
                             strlen (idx->e[i].value) + 1) == -1)
        return -1;
    off |= KMOD_INDEX_NODE_VALUES;
  }
  *ret = off;
  return 0;
}

int
lf_kmod_index_write (struct lf_kmod_index *idx, void **out, size_t *outlen)
{
  struct lf_ird_buf b = { 0 };
  uint32_t root = 0;

  if (idx->n > 0)
    qsort (idx->e, idx->n, sizeof *idx->e, entry_cmp);
  if (put_u32 (&b, KMOD_INDEX_MAGIC) == -1 ||
      put_u32 (&b, KMOD_INDEX_VERSION) == -1 || put_u32 (&b, 0) == -1)
    goto error;
  if (idx->n == 0) {
    /* depmod writes an empty root node: no prefix, children or values. */
    root = (uint32_t) b.len;
  }
  else if (write_node (idx, &b, 0, idx->n, 0, true, &root) == -1)
    goto error;
  b.p[8] = (uint8_t) (root >> 24);
  b.p[9] = (uint8_t) (root >> 16);
  b.p[10] = (uint8_t) (root >> 8);
  b.p[11] = (uint8_t) root;
  *out = b.p;
  *outlen = b.len;
  return 0;

 error:
  free (b.p);
  return -1;
}

/* Reading (for "is it already right?" and the tests). */

static int
get_u32 (const uint8_t *p, size_t len, size_t off, uint32_t *v)
{
  if (off > len || len - off < 4)
    return -1;
  *v = (uint32_t) p[off] << 24 | (uint32_t) p[off + 1] << 16 |
       (uint32_t) p[off + 2] << 8 | p[off + 3];
  return 0;
}

/* The string at OFF, NUL-terminated inside the buffer; its length. */
static int
get_str (const uint8_t *p, size_t len, size_t off, size_t *slen)
{
  const uint8_t *nul;

  if (off >= len || !(nul = memchr (p + off, '\0', len - off)))
    return -1;
  *slen = (size_t) (nul - (p + off));
  return 0;
}

int
lf_kmod_index_lookup (const void *buf, size_t len, const char *name,
                      const char *key, char **value)
{
  const uint8_t *p = buf;
  uint32_t magic, version, node;
  size_t i = 0, hops = 0, klen = strlen (key);

  *value = NULL;
  if (get_u32 (p, len, 0, &magic) == -1 || get_u32 (p, len, 4, &version) == -1 ||
      get_u32 (p, len, 8, &node) == -1) {
    lf_error (EINVAL, "%s: %zu bytes is too short for a kmod index header",
              name, len);
    return -1;
  }
  if (magic != KMOD_INDEX_MAGIC || version >> 16 != KMOD_INDEX_VERSION >> 16) {
    lf_error (EINVAL, "%s: not a kmod index (magic 0x%08x, version 0x%08x)",
              name, magic, version);
    return -1;
  }
  for (;;) {
    size_t off = node & KMOD_INDEX_NODE_MASK, slen;

    /* An empty node (an empty index's root) holds nothing. */
    if ((node & ~KMOD_INDEX_NODE_MASK) == 0)
      return LF_NO_MATCH;
    /* Each hop consumes a key byte: a loop cannot outlast the key. */
    if (++hops > klen + 1 || off < 12 || off >= len) {
      lf_error (EINVAL, "%s: node offset 0x%zx is outside the index (0x%zx "
                "bytes) or loops", name, off, len);
      return -1;
    }
    if (node & KMOD_INDEX_NODE_PREFIX) {
      if (get_str (p, len, off, &slen) == -1)
        goto damaged;
      if (slen > klen - i || memcmp (p + off, key + i, slen) != 0)
        return LF_NO_MATCH;
      i += slen;
      off += slen + 1;
    }
    if (key[i] == '\0') {
      uint32_t count, prio;
      if (!(node & KMOD_INDEX_NODE_VALUES))
        return LF_NO_MATCH;
      if (node & KMOD_INDEX_NODE_CHILDS) {
        if (off > len || len - off < 2 || p[off] > p[off + 1])
          goto damaged;
        off += 2 + 4 * ((size_t) p[off + 1] - p[off] + 1);
      }
      if (get_u32 (p, len, off, &count) == -1 || count == 0 ||
          get_u32 (p, len, off + 4, &prio) == -1 ||
          get_str (p, len, off + 8, &slen) == -1)
        goto damaged;
      *value = strndup ((const char *) p + off + 8, slen);
      if (!*value) {
        lf_error (ENOMEM, "out of memory");
        return -1;
      }
      return LF_MATCH;
    }
    if (!(node & KMOD_INDEX_NODE_CHILDS))
      return LF_NO_MATCH;
    if (off > len || len - off < 2 || p[off] > p[off + 1])
      goto damaged;
    unsigned char ch = (unsigned char) key[i], cf = p[off], cl = p[off + 1];
    if (ch < cf || ch > cl)
      return LF_NO_MATCH;
    if (get_u32 (p, len, off + 2 + 4 * (size_t) (ch - cf), &node) == -1)
      goto damaged;
    if (node == 0)
      return LF_NO_MATCH;
    i++;
  }

 damaged:
  lf_error (EINVAL, "%s: node at 0x%zx runs past the end of the index "
            "(0x%zx bytes)", name, (size_t) (node & KMOD_INDEX_NODE_MASK),
            len);
  return -1;
}

int
lf_kmod_alias_normalize (const char *alias, char *buf, size_t size)
{
  size_t i;

  for (i = 0; alias[i]; i++) {
    if (i + 1 >= size) {
      lf_error (E2BIG, "alias \"%.64s...\" is longer than %zu bytes", alias,
                size - 1);
      return -1;
    }
    switch (alias[i]) {
    case '-':
      buf[i] = '_';
      break;
    case ']':
      lf_error (EINVAL, "alias \"%s\": unmatched ']'", alias);
      return -1;
    case '[': {
      size_t n = strcspn (alias + i, "]");
      if (alias[i + n] == '\0') {
        lf_error (EINVAL, "alias \"%s\": unmatched '['", alias);
        return -1;
      }
      if (i + n + 1 >= size) {
        lf_error (E2BIG, "alias \"%.64s...\" is longer than %zu bytes",
                  alias, size - 1);
        return -1;
      }
      memcpy (buf + i, alias + i, n + 1);
      i += n;
      break;
    }
    default:
      buf[i] = alias[i];
    }
  }
  buf[i] = '\0';
  return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall guest/: LVM2 read natively, without the lvm tools and without
 * device-mapper (neither exists in the appliance's use of it, nor on the
 * build hosts).
 *
 * On-disk format (LVM2 lib/format_text/layout.h, lib/label/label.h):
 *
 *   - a label in one of the first 4 sectors: "LABELONE", the sector's own
 *     number, a CRC of the rest of the sector, the offset of the contents
 *     (the pv_header) and "LVM2 001";
 *   - the pv_header: the PV UUID (32 characters, no dashes), the device
 *     size, then two lists of (offset, size) pairs in bytes, each ended by
 *     (0, 0): the data area (its offset is pe_start) and the metadata
 *     areas (at most two: the start and the end of the PV);
 *   - each metadata area starts with a 512-byte mda_header: a CRC of the
 *     rest, the magic " LVM2 x[5A%r0N*>", version 1, its own absolute
 *     start and size, and raw_locn slots (offset in the area, size,
 *     checksum of the text, flags).  The area after the header is a
 *     circular buffer: text running past the end of the area continues
 *     right after the header;
 *   - the text: LVM2's config syntax, one top-level section named after
 *     the VG holding physical_volumes and logical_volumes.
 *
 * A linear LV (every segment "striped" with stripe_count = 1) becomes a
 * block device over its PVs with lf_bd_new_linear: extent E of PV P is at
 * byte (pe_start + E * extent_size) * 512.  Other segment types need
 * device-mapper's logic (RAID, thin, cache, striping) and are reported
 * with a reason instead.
 *
 * Every number in the label, the headers and the text is hostile: checked
 * against the named limits below, the device and each other, with
 * overflow-checked arithmetic.  Damaged metadata is an error naming the
 * device, the structure and the value.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/guest.h"

/* Limits ("to stop really stupid stuff and/or exploits"). */
#define LVM_MAX_METADATA   (16 * LF_MiB)  /* one copy of the text */
#define LVM_MAX_MDAS       8              /* LVM writes at most 2 */
#define LVM_MAX_DEPTH      32             /* nested sections/arrays */
#define LVM_MAX_NODES      (1024 * 1024)  /* parsed values in one text */
#define LVM_MAX_STRING     (64 * 1024)    /* one string value */
#define LVM_MAX_PVS        4096           /* PVs in one VG */
#define LVM_MAX_LVS        16384          /* LVs in one VG */
#define LVM_MAX_SEGMENTS   65536          /* segments in one LV */
#define LVM_MAX_VGS        1024           /* distinct VGs in one scan */

#define LVM_SECTOR         512u
#define LVM_LABEL_SCAN     4              /* sectors searched for a label */
#define LVM_MDA_HEADER     512u
#define LVM_INITIAL_CRC    UINT32_C (0xf597a6cf)
#define LVM_MDA_MAGIC      "\040LVM2\040x[5A%r0N*>"
#define LVM_RAW_LOCN_IGNORED 1u

/* NB. All on-disk fields are little-endian. */
struct lvm_label_header {
  char     id[8];               /* 0x00 "LABELONE" */
  uint64_t sector;              /* 0x08 the sector holding this label */
  uint32_t crc;                 /* 0x10 from 0x14 to the end of the sector */
  uint32_t offset;              /* 0x14 of the pv_header from the label */
  char     type[8];             /* 0x18 "LVM2 001" */
} __attribute__ ((packed));
_Static_assert (sizeof (struct lvm_label_header) == 32, "label header");

struct lvm_disk_locn {
  uint64_t offset;              /* 0x00 bytes from the start of the PV */
  uint64_t size;                /* 0x08 bytes */
} __attribute__ ((packed));
_Static_assert (sizeof (struct lvm_disk_locn) == 16, "disk_locn");

struct lvm_pv_header {
  char     uuid[32];            /* 0x00 without dashes */
  uint64_t device_size;         /* 0x20 bytes */
  /* 0x28 struct lvm_disk_locn lists follow */
} __attribute__ ((packed));
_Static_assert (sizeof (struct lvm_pv_header) == 40, "pv_header");

struct lvm_raw_locn {
  uint64_t offset;              /* 0x00 from the start of the area */
  uint64_t size;                /* 0x08 bytes of text */
  uint32_t checksum;            /* 0x10 LVM CRC of the text */
  uint32_t flags;               /* 0x14 LVM_RAW_LOCN_IGNORED */
} __attribute__ ((packed));
_Static_assert (sizeof (struct lvm_raw_locn) == 24, "raw_locn");

struct lvm_mda_header {
  uint32_t checksum;            /* 0x00 LVM CRC of 0x04..0x200 */
  char     magic[16];           /* 0x04 LVM_MDA_MAGIC */
  uint32_t version;             /* 0x14 1 */
  uint64_t start;               /* 0x18 absolute start of this header */
  uint64_t size;                /* 0x20 size of the area, header included */
  /* 0x28 struct lvm_raw_locn slots, ended by a zero one */
} __attribute__ ((packed));
_Static_assert (sizeof (struct lvm_mda_header) == 40, "mda_header");

/* LVM2's CRC-32 (lib/misc/crc.c): the reflected IEEE polynomial, an
 * initial value of LVM_INITIAL_CRC and no final inversion.
 */
static uint32_t
lvm_crc (uint32_t crc, const void *buf, size_t len)
{
  static uint32_t table[256];
  static bool init;
  const uint8_t *p = buf;

  if (!init) {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++)
        c = (c & 1) ? (c >> 1) ^ UINT32_C (0xedb88320) : c >> 1;
      table[i] = c;
    }
    init = true;
  }
  for (size_t i = 0; i < len; i++)
    crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

/* ---- The text metadata parser ---------------------------------------
 *
 * LVM2's config syntax, as much as its metadata uses:
 *
 *   file    := item*
 *   item    := NAME '=' value | NAME '{' item* '}'
 *   value   := STRING | NUMBER | '[' (value (',' value)*)? ','? ']'
 *
 * '#' starts a comment to the end of the line.  Strings are in double
 * quotes with backslash escapes.  Numbers are decimal integers, maybe
 * negative; a fraction is accepted and dropped.  Depth, node count and
 * string length are capped; any syntax error is reported with its line.
 */
enum cfg_type { CFG_SECTION, CFG_INT, CFG_STRING, CFG_ARRAY };

struct cfg_node {
  enum cfg_type type;
  char *key;                    /* NULL for array elements */
  char *str;                    /* CFG_STRING */
  int64_t num;                  /* CFG_INT */
  struct cfg_node *child, *last; /* CFG_SECTION, CFG_ARRAY */
  struct cfg_node *next;
  unsigned line;
};

struct cfg_parser {
  const char *p, *end;
  unsigned line;
  size_t nodes;
  const char *what;             /* for messages: "disk.img: metadata" */
};

static void
cfg_free (struct cfg_node *n)
{
  while (n) {
    struct cfg_node *next = n->next;
    cfg_free (n->child);
    free (n->key);
    free (n->str);
    free (n);
    n = next;
  }
}

static void
skip_space (struct cfg_parser *ps)
{
  while (ps->p < ps->end) {
    char c = *ps->p;
    if (c == '\n') {
      ps->line++;
      ps->p++;
    }
    else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v')
      ps->p++;
    else if (c == '#') {
      while (ps->p < ps->end && *ps->p != '\n')
        ps->p++;
    }
    else
      break;
  }
}

static bool
is_name_char (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' || c == '+' ||
    c == '/' || c == ':' || c == '@' || c == '%';
}

static int
syntax_error (struct cfg_parser *ps, const char *fmt, ...) LF_PRINTF (2, 3);

static int
syntax_error (struct cfg_parser *ps, const char *fmt, ...)
{
  char msg[256];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  lf_error (EINVAL, "%s: line %u: %s", ps->what, ps->line, msg);
  return -1;
}

static struct cfg_node *
new_node (struct cfg_parser *ps, enum cfg_type type)
{
  struct cfg_node *n;

  if (++ps->nodes > LVM_MAX_NODES) {
    syntax_error (ps, "more than %d values (limit)", LVM_MAX_NODES);
    return NULL;
  }
  n = calloc (1, sizeof *n);
  if (!n) {
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  n->type = type;
  n->line = ps->line;
  return n;
}

static void
append (struct cfg_node *parent, struct cfg_node *n)
{
  if (parent->last)
    parent->last->next = n;
  else
    parent->child = n;
  parent->last = n;
}

static char *
parse_string (struct cfg_parser *ps)
{
  CLEANUP_FREE char *s = NULL;
  size_t len = 0;

  ps->p++;                      /* the opening quote */
  s = malloc (64);
  if (!s) {
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  for (size_t cap = 64;; ) {
    char c;
    if (ps->p >= ps->end) {
      syntax_error (ps, "unterminated string");
      return NULL;
    }
    c = *ps->p++;
    if (c == '"')
      break;
    if (c == '\\') {
      if (ps->p >= ps->end) {
        syntax_error (ps, "unterminated string");
        return NULL;
      }
      c = *ps->p++;
    }
    if (c == '\n')
      ps->line++;
    if (c == '\0') {
      syntax_error (ps, "NUL byte in a string");
      return NULL;
    }
    if (len + 1 >= LVM_MAX_STRING) {
      syntax_error (ps, "string longer than %d bytes (limit)", LVM_MAX_STRING);
      return NULL;
    }
    if (len + 1 >= cap) {
      char *t = realloc (s, cap * 2);
      if (!t) {
        lf_error (ENOMEM, "out of memory");
        return NULL;
      }
      s = t;
      cap *= 2;
    }
    s[len++] = c;
  }
  s[len] = '\0';
  {
    char *r = s;
    s = NULL;
    return r;
  }
}

static struct cfg_node *parse_value (struct cfg_parser *ps, unsigned depth);

static int
parse_number (struct cfg_parser *ps, int64_t *ret)
{
  bool neg = false;
  uint64_t v = 0;

  if (*ps->p == '-' || *ps->p == '+') {
    neg = *ps->p == '-';
    ps->p++;
  }
  if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
    return syntax_error (ps, "expected a number");
  while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
    if (MUL_OVERFLOW (v, UINT64_C (10), &v) ||
        ADD_OVERFLOW (v, (uint64_t) (*ps->p - '0'), &v) ||
        v > (uint64_t) INT64_MAX)
      return syntax_error (ps, "number too large");
    ps->p++;
  }
  if (ps->p < ps->end && *ps->p == '.') {       /* a float: drop the fraction */
    ps->p++;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
      ps->p++;
  }
  if (ps->p < ps->end && is_name_char (*ps->p))
    return syntax_error (ps, "bad character '%c' after a number", *ps->p);
  *ret = neg ? -(int64_t) v : (int64_t) v;
  return 0;
}

static struct cfg_node *
parse_value (struct cfg_parser *ps, unsigned depth)
{
  struct cfg_node *n = NULL;

  skip_space (ps);
  if (ps->p >= ps->end) {
    syntax_error (ps, "unexpected end of metadata (a value was expected)");
    return NULL;
  }
  if (*ps->p == '"') {
    if (!(n = new_node (ps, CFG_STRING)) || !(n->str = parse_string (ps)))
      goto error;
    return n;
  }
  if (*ps->p == '[') {
    if (depth >= LVM_MAX_DEPTH) {
      syntax_error (ps, "nested more than %d deep (limit)", LVM_MAX_DEPTH);
      return NULL;
    }
    if (!(n = new_node (ps, CFG_ARRAY)))
      return NULL;
    ps->p++;
    for (;;) {
      struct cfg_node *e;
      skip_space (ps);
      if (ps->p >= ps->end) {
        syntax_error (ps, "unterminated array (missing ']')");
        goto error;
      }
      if (*ps->p == ']') {
        ps->p++;
        return n;
      }
      if (!(e = parse_value (ps, depth + 1)))
        goto error;
      append (n, e);
      skip_space (ps);
      if (ps->p < ps->end && *ps->p == ',')
        ps->p++;
      else if (ps->p < ps->end && *ps->p != ']') {
        syntax_error (ps, "expected ',' or ']' in an array, not '%c'",
                      *ps->p);
        goto error;
      }
    }
  }
  if (*ps->p == '-' || *ps->p == '+' || (*ps->p >= '0' && *ps->p <= '9')) {
    if (!(n = new_node (ps, CFG_INT)) || parse_number (ps, &n->num) == -1)
      goto error;
    return n;
  }
  syntax_error (ps, "unexpected character '%c' (a value was expected)",
                *ps->p);
  return NULL;

 error:
  cfg_free (n);
  return NULL;
}

/* Items into SECTION until '}' (if DEPTH > 0) or the end of the text. */
static int
parse_items (struct cfg_parser *ps, struct cfg_node *section, unsigned depth)
{
  for (;;) {
    const char *name;
    size_t namelen;
    struct cfg_node *n;

    skip_space (ps);
    if (ps->p >= ps->end) {
      if (depth > 0)
        return syntax_error (ps, "unexpected end of metadata: %u section%s "
                             "not closed (missing '}')", depth,
                             depth > 1 ? "s" : "");
      return 0;
    }
    if (*ps->p == '\0' && depth == 0) {         /* trailing NUL padding */
      while (ps->p < ps->end && *ps->p == '\0')
        ps->p++;
      continue;
    }
    if (*ps->p == '}') {
      if (depth == 0)
        return syntax_error (ps, "unbalanced '}'");
      ps->p++;
      return 0;
    }
    if (!is_name_char (*ps->p))
      return syntax_error (ps, "unexpected character '%c' (a name was "
                           "expected)", *ps->p);
    name = ps->p;
    while (ps->p < ps->end && is_name_char (*ps->p))
      ps->p++;
    namelen = (size_t) (ps->p - name);
    skip_space (ps);
    if (ps->p >= ps->end)
      return syntax_error (ps, "unexpected end of metadata after '%.*s'",
                           (int) LF_MIN (namelen, (size_t) 64), name);
    if (*ps->p == '{') {
      if (depth >= LVM_MAX_DEPTH)
        return syntax_error (ps, "sections nested more than %d deep (limit)",
                             LVM_MAX_DEPTH);
      ps->p++;
      if (!(n = new_node (ps, CFG_SECTION)))
        return -1;
      append (section, n);
      if (!(n->key = strndup (name, namelen))) {
        lf_error (ENOMEM, "out of memory");
        return -1;
      }
      if (parse_items (ps, n, depth + 1) == -1)
        return -1;
    }
    else if (*ps->p == '=') {
      ps->p++;
      if (!(n = parse_value (ps, depth + 1)))
        return -1;
      append (section, n);
      if (!(n->key = strndup (name, namelen))) {
        lf_error (ENOMEM, "out of memory");
        return -1;
      }
    }
    else
      return syntax_error (ps, "expected '=' or '{' after '%.*s', not '%c'",
                           (int) LF_MIN (namelen, (size_t) 64), name,
                           *ps->p);
  }
}

/* Parse TEXT (LEN bytes, not necessarily NUL-terminated).  WHAT names it
 * in errors.  Returns the root section or NULL with an error.
 */
static struct cfg_node *
cfg_parse (const char *text, size_t len, const char *what)
{
  struct cfg_parser ps = { .p = text, .end = text + len, .line = 1,
                           .what = what };
  struct cfg_node *root = calloc (1, sizeof *root);

  if (!root) {
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  root->type = CFG_SECTION;
  if (parse_items (&ps, root, 0) == -1) {
    cfg_free (root);
    return NULL;
  }
  return root;
}

static const struct cfg_node *
cfg_get (const struct cfg_node *sec, const char *key)
{
  if (!sec || sec->type != CFG_SECTION)
    return NULL;
  for (const struct cfg_node *n = sec->child; n; n = n->next)
    if (n->key && strcmp (n->key, key) == 0)
      return n;
  return NULL;
}

static const struct cfg_node *
cfg_get_section (const struct cfg_node *sec, const char *key)
{
  const struct cfg_node *n = cfg_get (sec, key);
  return n && n->type == CFG_SECTION ? n : NULL;
}

static const char *
cfg_get_str (const struct cfg_node *sec, const char *key)
{
  const struct cfg_node *n = cfg_get (sec, key);
  return n && n->type == CFG_STRING ? n->str : NULL;
}

/* A non-negative integer at most MAX, or -1 with an error naming
 * WHERE (e.g. "VG vg0: LV root: segment1") and KEY.
 */
static int
cfg_get_uint (const struct cfg_node *sec, const char *key, uint64_t max,
              const char *where, uint64_t *ret)
{
  const struct cfg_node *n = cfg_get (sec, key);

  if (!n || n->type != CFG_INT) {
    lf_error (EINVAL, "%s: %s is missing or not a number", where, key);
    return -1;
  }
  if (n->num < 0 || (uint64_t) n->num > max) {
    lf_error (EINVAL, "%s: %s = %" PRId64 " is out of range (0..%" PRIu64 ")",
              where, key, n->num, max);
    return -1;
  }
  *ret = (uint64_t) n->num;
  return 0;
}

static bool
cfg_array_has (const struct cfg_node *sec, const char *key, const char *s)
{
  const struct cfg_node *a = cfg_get (sec, key);

  if (!a || a->type != CFG_ARRAY)
    return false;
  for (const struct cfg_node *e = a->child; e; e = e->next)
    if (e->type == CFG_STRING && strcmp (e->str, s) == 0)
      return true;
  return false;
}

/* ---- Physical volumes: label and metadata areas --------------------- */

struct pv {
  struct lf_blockdev *bd;
  char uuid[33];                /* without dashes */
  uint64_t pe_start;            /* bytes, from the data area */
  char *text;                   /* the newest good metadata, or NULL */
  size_t textlen;
  struct cfg_node *root;        /* parsed TEXT */
};

/* Normalise a UUID: drop dashes; must leave 32 printable characters. */
static bool
uuid_norm (const char *in, char out[33])
{
  size_t n = 0;

  for (; *in; in++) {
    if (*in == '-')
      continue;
    if (n == 32 || *in <= ' ' || *in > '~')
      return false;
    out[n++] = *in;
  }
  out[n] = '\0';
  return n == 32;
}

/* Find and check the label, fill PV's UUID and pe_start, and return the
 * metadata areas in MDAS (count in *NMDAS).
 */
static int
read_label (struct pv *pv, struct lvm_disk_locn *mdas, size_t *nmdas)
{
  const char *name = lf_bd_name (pv->bd);
  uint64_t size = lf_bd_size (pv->bd);
  uint8_t sec[LVM_SECTOR];
  struct lvm_label_header lh;
  struct lvm_pv_header ph;
  size_t off, list;
  bool found = false;
  unsigned s;

  for (s = 0; s < LVM_LABEL_SCAN; s++) {
    if ((uint64_t) (s + 1) * LVM_SECTOR > size)
      break;
    if (lf_bd_pread (pv->bd, sec, LVM_SECTOR, (uint64_t) s * LVM_SECTOR) == -1)
      return -1;
    if (memcmp (sec, "LABELONE", 8) == 0) {
      found = true;
      break;
    }
  }
  if (!found) {
    lf_error (EINVAL, "%s: not an LVM2 physical volume (no LABELONE label "
              "in the first %d sectors)", name, LVM_LABEL_SCAN);
    return -1;
  }
  /* Decode once into host order. */
  memcpy (lh.id, sec, 8);
  lh.sector = lf_le64 (sec + 0x08);
  lh.crc = lf_le32 (sec + 0x10);
  lh.offset = lf_le32 (sec + 0x14);
  memcpy (lh.type, sec + 0x18, 8);

  /* Sanity checks. */
  if (lh.sector != s) {
    lf_error (EINVAL, "%s: LVM2 label in sector %u says it is in sector %"
              PRIu64, name, s, lh.sector);
    return -1;
  }
  if (lvm_crc (LVM_INITIAL_CRC, sec + 0x14, LVM_SECTOR - 0x14) != lh.crc) {
    lf_error (EINVAL, "%s: LVM2 label in sector %u: bad checksum 0x%08" PRIx32
              " (computed 0x%08" PRIx32 ")", name, s, lh.crc,
              lvm_crc (LVM_INITIAL_CRC, sec + 0x14, LVM_SECTOR - 0x14));
    return -1;
  }
  if (memcmp (lh.type, "LVM2 001", 8) != 0) {
    lf_error (ENOTSUP, "%s: LVM label type \"%.8s\" is not \"LVM2 001\" "
              "(LVM1 or a newer format?)", name, lh.type);
    return -1;
  }
  if (lh.offset < sizeof lh || lh.offset > LVM_SECTOR - sizeof ph) {
    lf_error (EINVAL, "%s: LVM2 label: pv_header offset %" PRIu32 " is "
              "outside the label sector", name, lh.offset);
    return -1;
  }
  off = lh.offset;
  memcpy (ph.uuid, sec + off, 32);
  ph.device_size = lf_le64 (sec + off + 0x20);
  {
    char u[33];
    memcpy (u, ph.uuid, 32);
    u[32] = '\0';
    if (!uuid_norm (u, pv->uuid)) {
      lf_error (EINVAL, "%s: LVM2 pv_header: the PV UUID is not 32 printable "
                "characters", name);
      return -1;
    }
  }
  if (ph.device_size > size)
    LF_DEBUG (1, "%s: PV size %" PRIu64 " is larger than the device (%" PRIu64
              "): the disk may be truncated", name, ph.device_size, size);

  /* The data area list (one entry: pe_start), then the metadata areas. */
  list = off + sizeof ph;
  *nmdas = 0;
  for (int which = 0; which < 2; which++) {
    for (size_t i = 0;; i++) {
      struct lvm_disk_locn dl;
      if (list + sizeof dl > LVM_SECTOR) {
        lf_error (EINVAL, "%s: LVM2 pv_header: the %s area list runs past "
                  "the label sector", name, which ? "metadata" : "data");
        return -1;
      }
      dl.offset = lf_le64 (sec + list);
      dl.size = lf_le64 (sec + list + 8);
      list += sizeof dl;
      if (dl.offset == 0)
        break;
      if (which == 0) {
        if (i == 0)
          pv->pe_start = dl.offset;
        continue;
      }
      if (*nmdas == LVM_MAX_MDAS) {
        lf_error (EINVAL, "%s: LVM2 pv_header: more than %d metadata areas "
                  "(limit)", name, LVM_MAX_MDAS);
        return -1;
      }
      mdas[(*nmdas)++] = dl;
    }
  }
  LF_DEBUG (2, "%s: LVM2 PV %s, label in sector %u, device_size %" PRIu64
            ", pe_start %" PRIu64 ", %zu metadata area(s)", name, pv->uuid, s,
            ph.device_size, pv->pe_start, *nmdas);
  return 0;
}

/* Read the current metadata text of one area into *TEXT (NUL-terminated;
 * *LEN excludes the NUL and trailing NULs).  *TEXT = NULL if the area is
 * marked ignored or empty.
 */
static int
read_mda (struct pv *pv, const struct lvm_disk_locn *dl, unsigned idx,
          char **text, size_t *len)
{
  const char *name = lf_bd_name (pv->bd);
  uint8_t h[LVM_MDA_HEADER];
  struct lvm_mda_header mh;
  struct lvm_raw_locn rl;
  uint64_t end, first, rest;
  uint32_t crc;
  CLEANUP_FREE char *buf = NULL;

  *text = NULL;
  *len = 0;
  if (dl->size < LVM_MDA_HEADER ||
      ADD_OVERFLOW (dl->offset, dl->size, &end) || end > lf_bd_size (pv->bd)) {
    lf_error (EINVAL, "%s: LVM2 metadata area %u at 0x%" PRIx64 " (%" PRIu64
              " bytes) is outside the device (0x%" PRIx64 ")", name, idx,
              dl->offset, dl->size, lf_bd_size (pv->bd));
    return -1;
  }
  if (lf_bd_pread (pv->bd, h, sizeof h, dl->offset) == -1)
    return -1;
  mh.checksum = lf_le32 (h);
  memcpy (mh.magic, h + 0x04, 16);
  mh.version = lf_le32 (h + 0x14);
  mh.start = lf_le64 (h + 0x18);
  mh.size = lf_le64 (h + 0x20);
  rl.offset = lf_le64 (h + 0x28);
  rl.size = lf_le64 (h + 0x30);
  rl.checksum = lf_le32 (h + 0x38);
  rl.flags = lf_le32 (h + 0x3c);

  /* Sanity checks. */
  if (memcmp (mh.magic, LVM_MDA_MAGIC, 16) != 0) {
    lf_error (EINVAL, "%s: LVM2 metadata area %u at 0x%" PRIx64 ": bad "
              "magic", name, idx, dl->offset);
    return -1;
  }
  crc = lvm_crc (LVM_INITIAL_CRC, h + 4, sizeof h - 4);
  if (crc != mh.checksum) {
    lf_error (EINVAL, "%s: LVM2 metadata area %u header at 0x%" PRIx64
              ": bad checksum 0x%08" PRIx32 " (computed 0x%08" PRIx32 ")",
              name, idx, dl->offset, mh.checksum, crc);
    return -1;
  }
  if (mh.version != 1) {
    lf_error (ENOTSUP, "%s: LVM2 metadata area %u: version %" PRIu32
              " (only 1 is known)", name, idx, mh.version);
    return -1;
  }
  if (mh.start != dl->offset || mh.size != dl->size) {
    lf_error (EINVAL, "%s: LVM2 metadata area %u header says start 0x%" PRIx64
              " size %" PRIu64 ", the label says 0x%" PRIx64 " size %" PRIu64,
              name, idx, mh.start, mh.size, dl->offset, dl->size);
    return -1;
  }
  if (rl.offset == 0 || (rl.flags & LVM_RAW_LOCN_IGNORED)) {
    LF_DEBUG (1, "%s: LVM2 metadata area %u is %s", name, idx,
              rl.offset ? "marked ignored" : "empty");
    return 0;
  }
  if (rl.offset < LVM_MDA_HEADER || rl.offset >= mh.size ||
      rl.size == 0 || rl.size > mh.size - LVM_MDA_HEADER ||
      rl.size > LVM_MAX_METADATA) {
    lf_error (EINVAL, "%s: LVM2 metadata area %u: text at offset 0x%" PRIx64
              " (%" PRIu64 " bytes) does not fit the %" PRIu64 "-byte area "
              "(limit %" PRIu64 " bytes)", name, idx, rl.offset, rl.size,
              mh.size, (uint64_t) LVM_MAX_METADATA);
    return -1;
  }
  /* The circular buffer: what runs past the end continues after the
   * header.  Both parts are inside the area by the checks above.
   */
  first = LF_MIN (rl.size, mh.size - rl.offset);
  rest = rl.size - first;
  buf = malloc ((size_t) rl.size + 1);
  if (!buf) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  if (lf_bd_pread (pv->bd, buf, (size_t) first, mh.start + rl.offset) == -1 ||
      (rest && lf_bd_pread (pv->bd, buf + first, (size_t) rest,
                            mh.start + LVM_MDA_HEADER) == -1))
    return -1;
  crc = lvm_crc (LVM_INITIAL_CRC, buf, (size_t) rl.size);
  if (crc != rl.checksum) {
    lf_error (EINVAL, "%s: LVM2 metadata area %u: text at offset 0x%" PRIx64
              " (%" PRIu64 " bytes%s): bad checksum 0x%08" PRIx32
              " (computed 0x%08" PRIx32 ")", name, idx, rl.offset, rl.size,
              rest ? ", wrapped" : "", rl.checksum, crc);
    return -1;
  }
  buf[rl.size] = '\0';
  *len = strnlen (buf, (size_t) rl.size);
  *text = buf;
  buf = NULL;
  LF_DEBUG (2, "%s: LVM2 metadata area %u: %zu bytes of text%s", name, idx,
            *len, rest ? " (wrapped around the circular buffer)" : "");
  return 0;
}

/* The VG section: the one top-level section. */
static const struct cfg_node *
vg_section (const struct cfg_node *root)
{
  for (const struct cfg_node *n = root->child; n; n = n->next)
    if (n->type == CFG_SECTION)
      return n;
  return NULL;
}

/* Read PV's label and the newest good metadata of its areas.  A PV with
 * no metadata area (pvcreate --metadatacopies 0) is fine: another PV of
 * its VG carries the metadata.  A PV whose every area is damaged is an
 * error.
 */
static int
read_pv (struct pv *pv)
{
  struct lvm_disk_locn mdas[LVM_MAX_MDAS];
  size_t nmdas = 0;
  struct lf_error_record first_err = { 0, "" };
  bool failed = false;
  uint64_t best_seq = 0;

  if (read_label (pv, mdas, &nmdas) == -1)
    return -1;
  for (size_t i = 0; i < nmdas; i++) {
    CLEANUP_FREE char *text = NULL;
    size_t len = 0;
    struct cfg_node *root = NULL;
    char what[256];
    const struct cfg_node *vg;
    uint64_t seq;

    snprintf (what, sizeof what, "%s: LVM2 metadata area %zu",
              lf_bd_name (pv->bd), i);
    if (read_mda (pv, &mdas[i], (unsigned) i, &text, &len) == -1 ||
        (text && !(root = cfg_parse (text, len, what)))) {
      if (!failed)
        lf_error_save (&first_err);
      failed = true;
      continue;
    }
    if (!text)
      continue;
    vg = vg_section (root);
    if (!vg) {
      lf_error (EINVAL, "%s: no volume group section", what);
      cfg_free (root);
      if (!failed)
        lf_error_save (&first_err);
      failed = true;
      continue;
    }
    if (cfg_get_uint (vg, "seqno", UINT64_MAX >> 1, what, &seq) == -1)
      seq = 0;
    if (!pv->root || seq > best_seq) {
      cfg_free (pv->root);
      free (pv->text);
      pv->root = root;
      pv->text = text;
      pv->textlen = len;
      text = NULL;
      best_seq = seq;
    }
    else
      cfg_free (root);
  }
  if (!pv->root && failed) {
    lf_error_restore (&first_err);
    return -1;
  }
  if (failed)
    LF_DEBUG (1, "%s: one LVM2 metadata copy is damaged (%s); using "
              "another", lf_bd_name (pv->bd), first_err.msg);
  return 0;
}

/* ---- Volume groups and logical volumes ------------------------------ */

struct vg_pv {                  /* one entry of physical_volumes */
  const char *name;             /* "pv0" */
  char uuid[33];
  uint64_t pe_start;            /* sectors */
  uint64_t pe_count;
  struct pv *pv;                /* the device found, or NULL */
};

struct lv_seg {
  uint64_t start_extent, extent_count;
  uint64_t pv_index, pe;        /* linear only */
};

static int
cmp_seg (const void *a, const void *b)
{
  const struct lv_seg *x = a, *y = b;
  return x->start_extent < y->start_extent ? -1 :
    x->start_extent > y->start_extent;
}

static int
add_lv (struct lf_lvm *ret, const char *vg, const char *name,
        const char *uuid, struct lf_lvm_lv **lv)
{
  if (lf_grow (&ret->lvs, &ret->lvs_cap, ret->n + 1, sizeof *ret->lvs) == -1)
    return -1;
  *lv = &ret->lvs[ret->n++];
  memset (*lv, 0, sizeof **lv);
  snprintf ((*lv)->vg, sizeof (*lv)->vg, "%s", vg);
  snprintf ((*lv)->name, sizeof (*lv)->name, "%s", name);
  snprintf ((*lv)->uuid, sizeof (*lv)->uuid, "%s", uuid ? uuid : "");
  return 0;
}

/* Map one LV.  Returns -1 on damaged metadata; an LV that is fine but not
 * linear, or whose PVs are missing, gets why_not and 0.
 */
static int
map_lv (const char *vgname, const struct cfg_node *lvs_sec,
        const struct vg_pv *pvs, size_t npvs, uint64_t extent_size,
        struct lf_lvm *ret)
{
  const char *lvname = lvs_sec->key;
  char where[320];
  uint64_t segcount, nsegs = 0, next = 0;
  CLEANUP_FREE struct lv_seg *segs = NULL;
  CLEANUP_FREE struct lf_bd_segment *bsegs = NULL;
  struct lf_lvm_lv *lv;
  const char *why = NULL;
  char whybuf[128];
  char devname[300];

  snprintf (where, sizeof where, "VG %s: LV %s", vgname, lvname);
  if (strlen (lvname) >= sizeof lv->name) {
    lf_error (EINVAL, "VG %s: LV name of %zu characters (limit %zu)",
              vgname, strlen (lvname), sizeof lv->name - 1);
    return -1;
  }
  if (cfg_get_uint (lvs_sec, "segment_count", LVM_MAX_SEGMENTS, where,
                    &segcount) == -1)
    return -1;
  if (segcount == 0) {
    lf_error (EINVAL, "%s: segment_count is 0", where);
    return -1;
  }
  segs = calloc ((size_t) segcount, sizeof *segs);
  if (!segs) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  for (const struct cfg_node *s = lvs_sec->child; s; s = s->next) {
    const char *type;
    uint64_t stripes;
    char swhere[400];
    struct lv_seg *g;

    if (s->type != CFG_SECTION)
      continue;
    snprintf (swhere, sizeof swhere, "%s: %s", where, s->key);
    if (nsegs == segcount) {
      lf_error (EINVAL, "%s: more segments than segment_count (%" PRIu64 ")",
                where, segcount);
      return -1;
    }
    g = &segs[nsegs++];
    if (cfg_get_uint (s, "start_extent", UINT32_MAX, swhere,
                      &g->start_extent) == -1 ||
        cfg_get_uint (s, "extent_count", UINT32_MAX, swhere,
                      &g->extent_count) == -1)
      return -1;
    if (g->extent_count == 0) {
      lf_error (EINVAL, "%s: extent_count is 0", swhere);
      return -1;
    }
    type = cfg_get_str (s, "type");
    if (!type) {
      lf_error (EINVAL, "%s: type is missing", swhere);
      return -1;
    }
    if (strcmp (type, "striped") != 0 && strcmp (type, "linear") != 0) {
      if (!why) {
        snprintf (whybuf, sizeof whybuf, "needs libguestfs: %s segments",
                  type);
        why = whybuf;
      }
      continue;
    }
    if (cfg_get_uint (s, "stripe_count", LVM_MAX_PVS, swhere, &stripes) == -1)
      return -1;
    if (stripes != 1) {
      if (!why) {
        snprintf (whybuf, sizeof whybuf, "needs libguestfs: striped segments "
                  "(%" PRIu64 " stripes)", stripes);
        why = whybuf;
      }
      continue;
    }
    {
      const struct cfg_node *a = cfg_get (s, "stripes");
      const struct cfg_node *pvn, *pen;
      size_t k;
      if (!a || a->type != CFG_ARRAY || !(pvn = a->child) ||
          pvn->type != CFG_STRING || !(pen = pvn->next) ||
          pen->type != CFG_INT || pen->next) {
        lf_error (EINVAL, "%s: stripes is not [ \"pvN\", extent ]", swhere);
        return -1;
      }
      for (k = 0; k < npvs; k++)
        if (strcmp (pvs[k].name, pvn->str) == 0)
          break;
      if (k == npvs) {
        lf_error (EINVAL, "%s: stripes names PV \"%s\", which is not in "
                  "physical_volumes", swhere, pvn->str);
        return -1;
      }
      if (pen->num < 0 || (uint64_t) pen->num >= pvs[k].pe_count ||
          g->extent_count > pvs[k].pe_count - (uint64_t) pen->num) {
        lf_error (EINVAL, "%s: extents %" PRId64 "+%" PRIu64 " are beyond "
                  "%s's pe_count %" PRIu64, swhere, pen->num,
                  g->extent_count, pvs[k].name, pvs[k].pe_count);
        return -1;
      }
      g->pv_index = k;
      g->pe = (uint64_t) pen->num;
      if (!pvs[k].pv && !why) {
        snprintf (whybuf, sizeof whybuf, "VG %.40s is incomplete: PV %s "
                  "(%s) was not found", vgname, pvs[k].name, pvs[k].uuid);
        why = whybuf;
      }
    }
  }
  if (nsegs != segcount) {
    lf_error (EINVAL, "%s: segment_count is %" PRIu64 " but %" PRIu64
              " segments are present", where, segcount, nsegs);
    return -1;
  }
  qsort (segs, (size_t) nsegs, sizeof *segs, cmp_seg);
  for (uint64_t i = 0; i < nsegs; i++) {
    if (segs[i].start_extent != next) {
      lf_error (EINVAL, "%s: segments are not contiguous: extent %" PRIu64
                " expected, a segment starts at %" PRIu64, where, next,
                segs[i].start_extent);
      return -1;
    }
    if (ADD_OVERFLOW (next, segs[i].extent_count, &next)) {
      lf_error (EINVAL, "%s: extent counts overflow", where);
      return -1;
    }
  }

  if (add_lv (ret, vgname, lvname, cfg_get_str (lvs_sec, "id"), &lv) == -1)
    return -1;
  if (why) {
    snprintf (lv->why_not, sizeof lv->why_not, "%s", why);
    LF_DEBUG (1, "%s/%s: not mapped: %s", vgname, lvname, why);
    return 0;
  }
  bsegs = calloc ((size_t) nsegs, sizeof *bsegs);
  if (!bsegs) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  for (uint64_t i = 0; i < nsegs; i++) {
    const struct vg_pv *p = &pvs[segs[i].pv_index];
    uint64_t sect, off, len;
    /* (pe_start + pe * extent_size) * 512, extent_count * extent_size * 512 */
    if (MUL_OVERFLOW (segs[i].pe, extent_size, &sect) ||
        ADD_OVERFLOW (sect, p->pe_start, &sect) ||
        MUL_OVERFLOW (sect, (uint64_t) LVM_SECTOR, &off) ||
        MUL_OVERFLOW (segs[i].extent_count, extent_size, &len) ||
        MUL_OVERFLOW (len, (uint64_t) LVM_SECTOR, &len)) {
      lf_error (EINVAL, "%s: segment %" PRIu64 " (extent %" PRIu64 " of %s, "
                "%" PRIu64 " extents) overflows", where, i, segs[i].pe,
                p->name, segs[i].extent_count);
      return -1;
    }
    bsegs[i].dev = p->pv->bd;
    bsegs[i].dev_offset = off;
    bsegs[i].len = len;
  }
  snprintf (devname, sizeof devname, "%s/%s", vgname, lvname);
  lv->bd = lf_bd_new_linear (bsegs, (size_t) nsegs, devname);
  if (!lv->bd)
    return -1;
  LF_DEBUG (1, "%s: linear, %" PRIu64 " segment(s), %" PRIu64 " bytes",
            devname, nsegs, lf_bd_size (lv->bd));
  return 0;
}

/* Map the LVs of the VG described by ROOT over the PVs found. */
static int
map_vg (const struct cfg_node *root, struct pv *found, size_t nfound,
        struct lf_lvm *ret)
{
  const struct cfg_node *vg = vg_section (root);
  const struct cfg_node *pvsec, *lvsec;
  const char *vgname = vg->key;
  CLEANUP_FREE struct vg_pv *pvs = NULL;
  size_t npvs = 0, nlvs = 0;
  uint64_t extent_size;
  char where[200];

  snprintf (where, sizeof where, "VG %s", vgname);
  if (strlen (vgname) >= sizeof ret->lvs[0].vg) {
    lf_error (EINVAL, "VG name of %zu characters (limit %zu)",
              strlen (vgname), sizeof ret->lvs[0].vg - 1);
    return -1;
  }
  /* Extent size in sectors: LVM requires a multiple of 8 (4 KiB); the cap
   * keeps extent arithmetic in range.
   */
  if (cfg_get_uint (vg, "extent_size", UINT32_MAX, where, &extent_size) == -1)
    return -1;
  if (extent_size == 0) {
    lf_error (EINVAL, "%s: extent_size is 0", where);
    return -1;
  }
  pvsec = cfg_get_section (vg, "physical_volumes");
  if (!pvsec) {
    lf_error (EINVAL, "%s: no physical_volumes section", where);
    return -1;
  }
  for (const struct cfg_node *n = pvsec->child; n; n = n->next)
    if (n->type == CFG_SECTION && ++npvs > LVM_MAX_PVS) {
      lf_error (EINVAL, "%s: more than %d physical volumes (limit)", where,
                LVM_MAX_PVS);
      return -1;
    }
  pvs = calloc (npvs ? npvs : 1, sizeof *pvs);
  if (!pvs) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  npvs = 0;
  for (const struct cfg_node *n = pvsec->child; n; n = n->next) {
    struct vg_pv *p;
    const char *id;
    char pwhere[400];
    if (n->type != CFG_SECTION)
      continue;
    p = &pvs[npvs++];
    p->name = n->key;
    snprintf (pwhere, sizeof pwhere, "%s: %s", where, n->key);
    id = cfg_get_str (n, "id");
    if (!id || !uuid_norm (id, p->uuid)) {
      lf_error (EINVAL, "%s: id is missing or not a PV UUID", pwhere);
      return -1;
    }
    if (cfg_get_uint (n, "pe_start", UINT64_MAX / LVM_SECTOR, pwhere,
                      &p->pe_start) == -1 ||
        cfg_get_uint (n, "pe_count", UINT32_MAX, pwhere, &p->pe_count) == -1)
      return -1;
    for (size_t k = 0; k < nfound; k++) {
      if (strcmp (found[k].uuid, p->uuid) != 0)
        continue;
      if (p->pv) {
        lf_error (EINVAL, "%s: PV %s (%s) is on two devices, %s and %s "
                  "(a cloned disk?)", where, n->key, id,
                  lf_bd_name (p->pv->bd), lf_bd_name (found[k].bd));
        return -1;
      }
      p->pv = &found[k];
    }
  }
  {
    struct lf_lvm_pv *lp = calloc (npvs ? npvs : 1, sizeof *lp);
    if (!lp) {
      lf_error (ENOMEM, "out of memory");
      return -1;
    }
    if (lf_grow (&ret->vgs, &ret->vgs_cap, ret->nvgs + 1,
                 sizeof *ret->vgs) == -1) {
      free (lp);
      return -1;
    }
    struct lf_lvm_vg *nv = &ret->vgs[ret->nvgs++];
    memset (nv, 0, sizeof *nv);
    snprintf (nv->name, sizeof nv->name, "%s", vgname);
    nv->pvs = lp;
    nv->npvs = npvs;
    for (size_t k = 0; k < npvs; k++) {
      const char *hint = NULL;
      for (const struct cfg_node *n = pvsec->child; n; n = n->next)
        if (n->type == CFG_SECTION && n->key == pvs[k].name) {
          hint = cfg_get_str (n, "device");
          snprintf (lp[k].uuid, sizeof lp[k].uuid, "%s", cfg_get_str (n, "id"));
        }
      snprintf (lp[k].name, sizeof lp[k].name, "%s", pvs[k].name);
      /* Only a hint, from the source machine: printable or nothing. */
      if (hint) {
        size_t j = 0;
        for (; hint[j] && j < sizeof lp[k].hint - 1; j++)
          lp[k].hint[j] = hint[j] >= 0x20 && hint[j] < 0x7f ? hint[j] : '?';
        lp[k].hint[j] = '\0';
      }
      lp[k].bd = pvs[k].pv ? pvs[k].pv->bd : NULL;
    }
  }
  size_t first_lv = ret->n, vg_index = ret->nvgs - 1;
  lvsec = cfg_get_section (vg, "logical_volumes");
  if (!lvsec)
    return 0;                   /* a VG with no LVs */
  for (const struct cfg_node *n = lvsec->child; n; n = n->next) {
    if (n->type != CFG_SECTION)
      continue;
    if (++nlvs > LVM_MAX_LVS) {
      lf_error (EINVAL, "%s: more than %d logical volumes (limit)", where,
                LVM_MAX_LVS);
      return -1;
    }
    /* Hidden LVs are parts of others (RAID images, thin pool data,
     * pmspare): not the user's volumes.
     */
    if (!cfg_array_has (n, "status", "VISIBLE"))
      continue;
    if (map_lv (vgname, n, pvs, npvs, extent_size, ret) == -1)
      return -1;
  }
  for (size_t k = first_lv; k < ret->n; k++)
    ret->lvs[k].vg_index = vg_index;
  return 0;
}

void
lf_lvm_free (struct lf_lvm *lvm)
{
  if (!lvm)
    return;
  for (size_t i = 0; i < lvm->n; i++)
    lf_bd_free (lvm->lvs[i].bd);
  free (lvm->lvs);
  lvm->lvs = NULL;
  lvm->n = lvm->lvs_cap = 0;
  for (size_t i = 0; i < lvm->nvgs; i++)
    free (lvm->vgs[i].pvs);
  free (lvm->vgs);
  lvm->vgs = NULL;
  lvm->nvgs = lvm->vgs_cap = 0;
}

int
lf_lvm_scan (struct lf_blockdev **pvdevs, size_t npvs, struct lf_lvm *ret)
{
  struct pv *pvs = NULL;
  const struct cfg_node **vgs = NULL;  /* newest metadata of each VG */
  size_t nvgs = 0;
  int rv = -1;

  memset (ret, 0, sizeof *ret);
  pvs = calloc (npvs ? npvs : 1, sizeof *pvs);
  vgs = calloc (npvs ? npvs : 1, sizeof *vgs);
  if (!pvs || !vgs) {
    lf_error (ENOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < npvs; i++) {
    pvs[i].bd = pvdevs[i];
    if (read_pv (&pvs[i]) == -1)
      goto out;
  }
  /* One VG per id: keep the copy with the highest seqno.  Two VGs may
   * share a name (disks of two VMs); ids tell them apart.
   */
  for (size_t i = 0; i < npvs; i++) {
    const struct cfg_node *vg;
    const char *id;
    uint64_t seq, oseq;
    size_t k;

    if (!pvs[i].root)
      continue;
    vg = vg_section (pvs[i].root);
    id = cfg_get_str (vg, "id");
    if (!id) {
      lf_error (EINVAL, "%s: LVM2 metadata: VG %s has no id",
                lf_bd_name (pvs[i].bd), vg->key);
      goto out;
    }
    if (cfg_get_uint (vg, "seqno", UINT64_MAX >> 1, vg->key, &seq) == -1) {
      lf_error_prefix ("%s: LVM2 metadata", lf_bd_name (pvs[i].bd));
      goto out;
    }
    for (k = 0; k < nvgs; k++)
      if (strcmp (cfg_get_str (vg_section (vgs[k]), "id"), id) == 0)
        break;
    if (k == nvgs) {
      if (nvgs == LVM_MAX_VGS) {
        lf_error (EINVAL, "more than %d volume groups (limit)", LVM_MAX_VGS);
        goto out;
      }
      vgs[nvgs++] = pvs[i].root;
      continue;
    }
    if (cfg_get_uint (vg_section (vgs[k]), "seqno", UINT64_MAX >> 1,
                      vg->key, &oseq) == 0 && seq > oseq)
      vgs[k] = pvs[i].root;
  }
  for (size_t k = 0; k < nvgs; k++)
    if (map_vg (vgs[k], pvs, npvs, ret) == -1)
      goto out;
  rv = 0;

 out:
  if (pvs) {
    for (size_t i = 0; i < npvs; i++) {
      cfg_free (pvs[i].root);
      free (pvs[i].text);
    }
  }
  free (pvs);
  free (vgs);
  if (rv == -1)
    lf_lvm_free (ret);
  return rv;
}

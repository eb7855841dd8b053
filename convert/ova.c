/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall convert/: OVA, a tar archive holding an OVF descriptor and the
 * disks it names (usually streamOptimized VMDKs).
 *
 * We walk the 512-byte tar headers (POSIX ustar, GNU and pax: long names
 * from "././@LongLink" members and pax "path=" records, sizes in octal,
 * base-256 or pax "size="), record where each member's data lies, and
 * open a disk member in place through a window onto the archive: nothing
 * is extracted.  Member names are only names: they are never used as
 * paths.  The OVF is scanned for <File ovf:href> and <Disk ovf:fileRef>
 * attributes only, to order the disks; it is never parsed as XML.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "convert/format.h"

/* A tar header.  Numbers are octal ASCII (or GNU base-256 for sizes). */
struct tar_header {
  char name[100];               /* 0x000 */
  char mode[8];                 /* 0x064 */
  char uid[8];                  /* 0x06c */
  char gid[8];                  /* 0x074 */
  char size[12];                /* 0x07c */
  char mtime[12];               /* 0x088 */
  char chksum[8];               /* 0x094 */
  char typeflag;                /* 0x09c */
  char linkname[100];           /* 0x09d */
  char magic[6];                /* 0x101 "ustar\0" or GNU "ustar " */
  char version[2];              /* 0x107 */
  char uname[32];               /* 0x109 */
  char gname[32];               /* 0x129 */
  char devmajor[8];             /* 0x149 */
  char devminor[8];             /* 0x151 */
  char prefix[155];             /* 0x159 ustar only */
  char pad[12];                 /* 0x1f4 */
} __attribute__ ((packed));
_Static_assert (sizeof (struct tar_header) == 512, "tar header is 512 bytes");
_Static_assert (offsetof (struct tar_header, magic) == 257, "magic at 257");

#define TAR_BLOCK 512u

/* Limits. */
#define OVA_MAX_MEMBERS    10000        /* headers walked, all types */
#define OVA_MAX_NAME       4096u        /* GNU long name or pax path */
#define OVA_MAX_PAX        (1u << 20)   /* one pax extended header */
#define OVA_MAX_OVF        (16u << 20)  /* the descriptor we scan */
#define OVA_MAX_OVF_REFS   1024         /* <File> and <Disk> elements */

struct ova_member {
  char *name;
  char type;                    /* '0' regular, '5' directory, ... */
  uint64_t offset, size;        /* the data, within the archive */
};

struct ova_archive {
  struct ova_member *m;
  size_t n;
};

static void
ova_archive_free (struct ova_archive *a)
{
  for (size_t i = 0; i < a->n; i++)
    free (a->m[i].name);
  free (a->m);
  a->m = NULL;
  a->n = 0;
}

/* Sum of the header bytes with the checksum field read as spaces;
 * unsigned, and signed as some old tars wrote it.
 */
static void
tar_checksums (const uint8_t *b, uint32_t *usum, int32_t *ssum)
{
  *usum = 0;
  *ssum = 0;
  for (size_t i = 0; i < TAR_BLOCK; i++) {
    uint8_t c = (i >= 148 && i < 156) ? ' ' : b[i];
    *usum += c;
    *ssum += (int8_t) c;
  }
}

/* An octal field: leading spaces, digits, then NUL or space.  -1 if not a
 * number or it overflows.
 */
static int
parse_octal (const char *p, size_t len, uint64_t *ret)
{
  size_t i = 0;
  uint64_t v = 0;
  bool any = false;

  while (i < len && p[i] == ' ')
    i++;
  for (; i < len && p[i] >= '0' && p[i] <= '7'; i++) {
    if (v > (UINT64_MAX >> 3))
      return -1;
    v = (v << 3) | (uint64_t) (p[i] - '0');
    any = true;
  }
  if (!any)
    return -1;
  for (; i < len; i++)
    if (p[i] != ' ' && p[i] != '\0')
      return -1;
  *ret = v;
  return 0;
}

/* The size field: octal, or GNU base-256 (top bit of the first byte). */
static int
parse_size (const char *p, size_t len, uint64_t *ret)
{
  const uint8_t *u = (const uint8_t *) p;
  uint64_t v;

  if (!(u[0] & 0x80))
    return parse_octal (p, len, ret);
  if (u[0] & 0x40)
    return -1;                  /* negative */
  v = u[0] & 0x3f;
  for (size_t i = 1; i < len; i++) {
    if (v > (UINT64_MAX >> 8))
      return -1;
    v = (v << 8) | u[i];
  }
  *ret = v;
  return 0;
}

static bool
header_checksum_ok (const uint8_t *b)
{
  const struct tar_header *h = (const void *) b;
  uint64_t stored;
  uint32_t usum;
  int32_t ssum;

  if (parse_octal (h->chksum, sizeof h->chksum, &stored) == -1)
    return false;
  tar_checksums (b, &usum, &ssum);
  return stored == usum || (int64_t) stored == ssum;
}

/* A copy of a name field of at most LEN bytes (not always terminated),
 * with control characters made harmless for messages.
 */
static char *
name_dup (const char *p, size_t len)
{
  char *s = strndup (p, len);
  if (s)
    for (char *q = s; *q; q++)
      if ((unsigned char) *q < 0x20 || *q == 0x7f)
        *q = '?';
  return s;
}

/* Find "path=" and "size=" in a pax extended header (records are
 * "LEN KEY=VALUE\n", LEN counting the whole record).
 */
static int
parse_pax (const char *path, const char *buf, size_t len, char **pax_path,
           bool *have_size, uint64_t *size)
{
  size_t off = 0;

  while (off < len) {
    size_t rlen = 0, i = off;
    const char *kv, *eq, *rend;

    if (buf[i] == '\0')
      break;                    /* padding */
    while (i < len && buf[i] >= '0' && buf[i] <= '9' && i - off < 10) {
      rlen = rlen * 10 + (size_t) (buf[i] - '0');
      i++;
    }
    if (i >= len || buf[i] != ' ' || rlen <= i - off + 1 ||
        rlen > len - off || buf[off + rlen - 1] != '\n') {
      lf_error (EINVAL, "%s: tar pax header: bad record at byte %zu", path,
                off);
      return -1;
    }
    kv = buf + i + 1;
    rend = buf + off + rlen - 1;        /* the newline */
    eq = memchr (kv, '=', (size_t) (rend - kv));
    if (eq) {
      size_t klen = (size_t) (eq - kv), vlen = (size_t) (rend - eq - 1);
      if (klen == 4 && memcmp (kv, "path", 4) == 0) {
        if (vlen == 0 || vlen > OVA_MAX_NAME) {
          lf_error (EINVAL, "%s: tar pax header: path of %zu bytes (limit "
                    "%u)", path, vlen, OVA_MAX_NAME);
          return -1;
        }
        free (*pax_path);
        *pax_path = name_dup (eq + 1, vlen);
        if (!*pax_path) {
          lf_error (ENOMEM, "%s: out of memory", path);
          return -1;
        }
      }
      else if (klen == 4 && memcmp (kv, "size", 4) == 0) {
        uint64_t v = 0;
        if (vlen == 0 || vlen > 20) {
          lf_error (EINVAL, "%s: tar pax header: bad size", path);
          return -1;
        }
        for (size_t k = 0; k < vlen; k++) {
          char c = eq[1 + k];
          if (c < '0' || c > '9' || v > (UINT64_MAX - 9) / 10) {
            lf_error (EINVAL, "%s: tar pax header: bad size", path);
            return -1;
          }
          v = v * 10 + (uint64_t) (c - '0');
        }
        *have_size = true;
        *size = v;
      }
    }
    off += rlen;
  }
  return 0;
}

/* Walk the archive.  With PROBE, stop (successfully) at the first member
 * whose name ends in ".ovf".  Returns 0, or -1 with an error.
 */
static int
ova_walk (struct lf_file *f, bool probe, struct ova_archive *a, bool *found)
{
  uint64_t off = 0;
  CLEANUP_FREE char *long_name = NULL;
  CLEANUP_FREE char *pax_path = NULL;
  bool have_pax_size = false;
  uint64_t pax_size = 0;
  size_t cap = 0;
  int headers = 0;

  if (found)
    *found = false;
  for (;;) {
    uint8_t b[TAR_BLOCK];
    const struct tar_header *h = (const void *) b;
    uint64_t size, data, padded, next;
    CLEANUP_FREE char *name = NULL;

    if (off == f->size)
      break;                    /* no end-of-archive blocks: tolerated */
    if (lf_file_read (f, b, sizeof b, off, "tar header") == -1)
      return -1;
    if (lf_is_zero (b, sizeof b))
      break;                    /* end of archive */
    if (++headers > OVA_MAX_MEMBERS) {
      lf_error (EINVAL, "%s: tar: more than the limit of %d members",
                f->path, OVA_MAX_MEMBERS);
      return -1;
    }
    if (!lf_fuzzing && !header_checksum_ok (b)) {
      lf_error (EINVAL, "%s: tar header at 0x%" PRIx64 ": bad checksum",
                f->path, off);
      return -1;
    }
    if (parse_size (h->size, sizeof h->size, &size) == -1) {
      lf_error (EINVAL, "%s: tar header at 0x%" PRIx64 ": bad size field",
                f->path, off);
      return -1;
    }
    if (have_pax_size && h->typeflag != 'x' && h->typeflag != 'g')
      size = pax_size;
    data = off + TAR_BLOCK;
    if (lf_round_up_overflow (size, TAR_BLOCK, &padded) ||
        ADD_OVERFLOW (data, padded, &next) ||
        size > f->size || data > f->size - size) {
      lf_error (EINVAL, "%s: tar member at 0x%" PRIx64 " (%" PRIu64 " bytes) "
                "is beyond end of file (0x%" PRIx64 "): truncated archive",
                f->path, data, size, f->size);
      return -1;
    }
    next = LF_MIN (next, f->size);

    switch (h->typeflag) {
    case 'L':                   /* GNU long name for the next member */
      if (size == 0 || size > OVA_MAX_NAME) {
        lf_error (EINVAL, "%s: tar GNU long name at 0x%" PRIx64 " is %" PRIu64
                  " bytes (limit %u)", f->path, off, size, OVA_MAX_NAME);
        return -1;
      }
      free (long_name);
      long_name = malloc (size);
      if (!long_name) {
        lf_error (ENOMEM, "%s: out of memory", f->path);
        return -1;
      }
      if (lf_file_read (f, long_name, size, data, "tar GNU long name") == -1)
        return -1;
      {
        char *t = name_dup (long_name, size);
        free (long_name);
        long_name = t;
      }
      if (!long_name) {
        lf_error (ENOMEM, "%s: out of memory", f->path);
        return -1;
      }
      off = next;
      continue;
    case 'x': {                 /* pax extended header for the next member */
      CLEANUP_FREE char *pax = NULL;
      pax = lf_file_read_alloc (f, size, data, OVA_MAX_PAX, "tar pax header");
      if (!pax)
        return -1;
      if (parse_pax (f->path, pax, size, &pax_path, &have_pax_size,
                     &pax_size) == -1)
        return -1;
      off = next;
      continue;
    }
    case 'g':                   /* pax global header: nothing we need */
    case 'K':                   /* GNU long link name */
      off = next;
      continue;
    default:
      break;
    }

    if (pax_path) {
      name = pax_path;
      pax_path = NULL;
    }
    else if (long_name) {
      name = long_name;
      long_name = NULL;
    }
    else if (memcmp (h->magic, "ustar", 5) == 0 && h->prefix[0] &&
             memcmp (h->magic, "ustar ", 6) != 0) {
      CLEANUP_FREE char *pre = NULL;
      CLEANUP_FREE char *base = NULL;
      pre = name_dup (h->prefix, sizeof h->prefix);
      base = name_dup (h->name, sizeof h->name);
      if (pre && base && asprintf (&name, "%s/%s", pre, base) == -1)
        name = NULL;
    }
    else
      name = name_dup (h->name, sizeof h->name);
    if (!name) {
      lf_error (ENOMEM, "%s: out of memory", f->path);
      return -1;
    }
    free (long_name);
    long_name = NULL;
    have_pax_size = false;

    if (probe) {
      size_t nl = strlen (name);
      if (nl > 4 && strcasecmp (name + nl - 4, ".ovf") == 0) {
        *found = true;
        return 0;
      }
    }
    else {
      if (a->n == cap) {
        size_t ncap = cap ? cap * 2 : 16;
        struct ova_member *t = realloc (a->m, ncap * sizeof *t);
        if (!t) {
          lf_error (ENOMEM, "%s: out of memory", f->path);
          return -1;
        }
        a->m = t;
        cap = ncap;
      }
      a->m[a->n++] = (struct ova_member) {
        .name = name, .type = h->typeflag ? h->typeflag : '0',
        .offset = data, .size = size,
      };
      name = NULL;
    }
    off = next;
  }
  return 0;
}

int
lf_ova_probe (const char *path)
{
  struct lf_file *f = lf_file_open (path);
  uint8_t b[TAR_BLOCK];
  bool found = false;
  int r = LF_NO_MATCH;

  if (!f)
    return -1;
  if (f->size < TAR_BLOCK)
    goto out;
  if (lf_file_read (f, b, sizeof b, 0, "tar header") == -1) {
    r = -1;
    goto out;
  }
  if (!header_checksum_ok (b))
    goto out;
  /* A damaged archive is not an OVA for probing; lf_ova_list says why. */
  if (ova_walk (f, true, NULL, &found) == 0 && found)
    r = LF_MATCH;
  else
    lf_error_clear ();
 out:
  lf_file_close (f);
  return r;
}

/* ---------------------------------------------------------------------- */
/* The OVF: a tolerant scan for <File ...> and <Disk ...> attributes. */

struct ovf_ref {
  char *id, *href, *compression, *chunk_size;     /* <File> */
  char *file_ref;                                 /* <Disk> */
};

struct ovf_refs {
  struct ovf_ref files[OVA_MAX_OVF_REFS];
  size_t nfiles;
  struct ovf_ref disks[OVA_MAX_OVF_REFS];
  size_t ndisks;
};

static void
ovf_ref_clear (struct ovf_ref *ref)
{
  free (ref->id);
  free (ref->href);
  free (ref->compression);
  free (ref->chunk_size);
  free (ref->file_ref);
  memset (ref, 0, sizeof *ref);
}

static void
ovf_refs_free (struct ovf_refs *r)
{
  if (!r)
    return;
  for (size_t i = 0; i < r->nfiles; i++)
    ovf_ref_clear (&r->files[i]);
  for (size_t i = 0; i < r->ndisks; i++)
    ovf_ref_clear (&r->disks[i]);
  free (r);
}

/* Local name (after any "prefix:") of [P, P+LEN) equals WANT. */
static bool
local_name_is (const char *p, size_t len, const char *want)
{
  const char *colon = memchr (p, ':', len);
  if (colon) {
    len -= (size_t) (colon + 1 - p);
    p = colon + 1;
  }
  return strlen (want) == len && memcmp (p, want, len) == 0;
}

static int
ovf_scan (const char *buf, size_t len, struct ovf_refs *r)
{
  size_t i = 0;

  while (i < len) {
    const char *lt = memchr (buf + i, '<', len - i);
    size_t ns, ne;
    bool is_file, is_disk;
    struct ovf_ref ref = { 0 };

    if (!lt)
      break;
    ns = (size_t) (lt - buf) + 1;
    ne = ns;
    while (ne < len && buf[ne] != ' ' && buf[ne] != '\t' && buf[ne] != '\n' &&
           buf[ne] != '\r' && buf[ne] != '/' && buf[ne] != '>')
      ne++;
    is_file = local_name_is (buf + ns, ne - ns, "File");
    is_disk = local_name_is (buf + ns, ne - ns, "Disk");
    i = ne;
    if (!is_file && !is_disk)
      continue;
    /* Attributes up to '>': NAME = "VALUE" or 'VALUE'. */
    while (i < len && buf[i] != '>') {
      size_t as, ae, vs, ve;
      char q;
      char **slot = NULL;

      while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' ||
                         buf[i] == '\r' || buf[i] == '/'))
        i++;
      as = i;
      while (i < len && buf[i] != '=' && buf[i] != '>' && buf[i] != ' ' &&
             buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\r')
        i++;
      ae = i;
      while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' ||
                         buf[i] == '\r'))
        i++;
      if (i >= len || buf[i] != '=') {
        if (ae == as && i < len && buf[i] != '>')
          i++;                  /* stray character: step over it */
        continue;
      }
      i++;
      while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' ||
                         buf[i] == '\r'))
        i++;
      if (i >= len || (buf[i] != '"' && buf[i] != '\''))
        continue;
      q = buf[i++];
      vs = i;
      while (i < len && buf[i] != q)
        i++;
      ve = i;
      if (i < len)
        i++;
      if (is_file && local_name_is (buf + as, ae - as, "id")) slot = &ref.id;
      else if (is_file && local_name_is (buf + as, ae - as, "href"))
        slot = &ref.href;
      else if (is_file && local_name_is (buf + as, ae - as, "compression"))
        slot = &ref.compression;
      else if (is_file && local_name_is (buf + as, ae - as, "chunkSize"))
        slot = &ref.chunk_size;
      else if (is_disk && local_name_is (buf + as, ae - as, "fileRef"))
        slot = &ref.file_ref;
      if (slot && !*slot && ve - vs <= OVA_MAX_NAME) {
        *slot = name_dup (buf + vs, ve - vs);
        if (!*slot) {
          ovf_ref_clear (&ref);
          return -1;
        }
      }
    }
    if (is_file && ref.id && ref.href && r->nfiles < OVA_MAX_OVF_REFS)
      r->files[r->nfiles++] = ref;
    else if (is_disk && ref.file_ref && r->ndisks < OVA_MAX_OVF_REFS)
      r->disks[r->ndisks++] = ref;
    else
      ovf_ref_clear (&ref);
  }
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Listing and opening. */

static bool
has_suffix (const char *name, const char *suffix)
{
  size_t n = strlen (name), s = strlen (suffix);
  return n >= s && strcasecmp (name + n - s, suffix) == 0;
}

/* Members that are never disks, whatever the OVF says. */
static bool
is_excluded (const char *name)
{
  static const char *const skip[] = { ".ovf", ".mf", ".cert", ".iso",
                                      ".nvram", NULL };
  for (size_t i = 0; skip[i]; i++)
    if (has_suffix (name, skip[i]))
      return true;
  return false;
}

static bool
is_disk_name (const char *name)
{
  static const char *const disk[] = { ".vmdk", ".vhd", ".vhdx", ".qcow2",
                                      ".img", ".raw", NULL };
  for (size_t i = 0; disk[i]; i++)
    if (has_suffix (name, disk[i]))
      return true;
  return false;
}

static bool
is_compressed_name (const char *name)
{
  return has_suffix (name, ".gz") || has_suffix (name, ".xz") ||
    has_suffix (name, ".bz2") || has_suffix (name, ".zst");
}

static const struct ova_member *
find_member (const struct ova_archive *a, const char *name)
{
  for (size_t i = 0; i < a->n; i++)
    if ((a->m[i].type == '0' || a->m[i].type == '7') &&
        strcmp (a->m[i].name, name) == 0)
      return &a->m[i];
  return NULL;
}

static int
add_disk (const char *path, struct lf_ova_disk *disks, int *n,
          const struct ova_member *m)
{
  for (int i = 0; i < *n; i++)
    if (disks[i].offset == m->offset)
      return 0;                 /* named twice */
  if (is_compressed_name (m->name)) {
    lf_error (ENOTSUP, "%s: OVA member \"%s\" is compressed; compressed "
              "members are not supported (extract and decompress it first)",
              path, m->name);
    return -1;
  }
  disks[*n].name = strdup (m->name);
  if (!disks[*n].name) {
    lf_error (ENOMEM, "%s: out of memory", path);
    return -1;
  }
  disks[*n].offset = m->offset;
  disks[*n].size = m->size;
  (*n)++;
  return 0;
}

/* The disks in the OVF's order: each <Disk ovf:fileRef> names a <File
 * ovf:id>, whose ovf:href names the member.  0 with *N = 0 if the OVF
 * names no disk we can resolve.
 */
static int
list_from_ovf (struct lf_file *f, const struct ova_archive *a,
               struct lf_ova_disk *disks, int *n)
{
  const struct ova_member *ovf = NULL;
  CLEANUP_FREE char *buf = NULL;
  struct ovf_refs *r = NULL;
  int ret = -1;

  for (size_t i = 0; i < a->n && !ovf; i++)
    if ((a->m[i].type == '0' || a->m[i].type == '7') &&
        has_suffix (a->m[i].name, ".ovf"))
      ovf = &a->m[i];
  if (!ovf)
    return 0;
  buf = lf_file_read_alloc (f, ovf->size, ovf->offset, OVA_MAX_OVF,
                            "OVF descriptor");
  if (!buf)
    return -1;
  r = calloc (1, sizeof *r);
  if (!r) {
    lf_error (ENOMEM, "%s: out of memory", f->path);
    return -1;
  }
  if (ovf_scan (buf, ovf->size, r) == -1) {
    lf_error (ENOMEM, "%s: out of memory", f->path);
    goto out;
  }
  for (size_t d = 0; d < r->ndisks; d++) {
    const struct ovf_ref *file = NULL;
    const struct ova_member *m;
    for (size_t i = 0; i < r->nfiles && !file; i++)
      if (strcmp (r->files[i].id, r->disks[d].file_ref) == 0)
        file = &r->files[i];
    if (!file)
      continue;                 /* an empty disk (no file) */
    if (file->compression && strcasecmp (file->compression, "identity")) {
      lf_error (ENOTSUP, "%s: OVF file \"%s\" is %s-compressed; compressed "
                "members are not supported", f->path, file->href,
                file->compression);
      goto out;
    }
    if (file->chunk_size) {
      lf_error (ENOTSUP, "%s: OVF file \"%s\" is split into chunks; chunked "
                "disks are not supported", f->path, file->href);
      goto out;
    }
    m = find_member (a, file->href);
    if (!m) {
      lf_error (ENOENT, "%s: the OVF names disk file \"%s\", which is not in "
                "the archive", f->path, file->href);
      goto out;
    }
    if (add_disk (f->path, disks, n, m) == -1)
      goto out;
  }
  ret = 0;
 out:
  ovf_refs_free (r);
  return ret;
}

int
lf_ova_list (const char *path, struct lf_ova_disk **ret)
{
  struct lf_file *f = NULL;
  struct ova_archive a = { 0 };
  struct lf_ova_disk *disks = NULL;
  int n = 0;

  *ret = NULL;
  f = lf_file_open (path);
  if (!f)
    return -1;
  if (ova_walk (f, false, &a, NULL) == -1)
    goto error;
  disks = calloc (a.n ? a.n : 1, sizeof *disks);
  if (!disks) {
    lf_error (ENOMEM, "%s: out of memory", path);
    goto error;
  }
  if (list_from_ovf (f, &a, disks, &n) == -1)
    goto error;
  if (n == 0) {                 /* no usable OVF: disks in tar order */
    for (size_t i = 0; i < a.n; i++) {
      const struct ova_member *m = &a.m[i];
      if ((m->type != '0' && m->type != '7') || is_excluded (m->name))
        continue;
      if (is_disk_name (m->name) ||
          (is_compressed_name (m->name) && strchr (m->name, '.') &&
           strstr (m->name, ".vmdk")))
        if (add_disk (path, disks, &n, m) == -1)
          goto error;
    }
  }
  if (n == 0) {
    lf_error (ENOENT, "%s: the OVA holds no disk", path);
    goto error;
  }
  ova_archive_free (&a);
  lf_file_close (f);
  *ret = disks;
  return n;

 error:
  lf_ova_free (disks, n);
  ova_archive_free (&a);
  lf_file_close (f);
  return -1;
}

void
lf_ova_free (struct lf_ova_disk *disks, int n)
{
  if (!disks)
    return;
  for (int i = 0; i < n; i++)
    free (disks[i].name);
  free (disks);
}

struct lf_disk *
lf_disk_open_ova_member (const char *ova_path, const struct lf_ova_disk *m)
{
  struct lf_file *f;
  struct lf_disk *d;

  f = lf_file_open_window (ova_path, m->offset, m->size);
  if (!f) {
    lf_error_prefix ("%s: member \"%s\"", ova_path, m->name);
    return NULL;
  }
  d = lf_disk_open_file (f, NULL, NULL);     /* owns f, even on error */
  if (!d)
    lf_error_prefix ("OVA member \"%s\"", m->name);
  return d;
}

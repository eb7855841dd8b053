/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall: an initramfs image as Linux reads it (see initramfs.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "initramfs/initramfs.h"

const struct lf_initramfs_limits lf_initramfs_default_limits = {
  .max_uncompressed = INITRAMFS_MAX_UNCOMPRESSED,
  .max_entry_size = INITRAMFS_MAX_ENTRY_SIZE,
  .max_entries = CPIO_MAX_ENTRIES,
  .bomb_floor = INITRAMFS_BOMB_FLOOR,
  .max_ratio = INITRAMFS_MAX_RATIO,
  .max_held = INITRAMFS_MAX_HELD,
  .keep = NULL,
  .keep_arg = NULL,
  .ignore_checksums = false,
};

/* An entry: the public part first, so a public pointer converts back. */
struct ent {
  struct lf_initramfs_entry pub;
  char *path;
  char *target;
  uint8_t *owned;               /* data of added entries */
  /* Where the data is in its segment's decoded bytes (a hardlink: its
   * donor's), for the writer to stream it from there when it was not
   * held; has_src is false for added entries.
   */
  uint64_t src_off;
  bool has_src;
};

struct seg {
  struct lf_initramfs_segment pub;
  enum lf_compression comp;
};

struct lf_initramfs {
  char *name;
  uint8_t *raw;                 /* a copy of the input */
  size_t rawlen;
  struct seg *segs;
  size_t nsegs, segcap;
  struct ent **ents;
  size_t nents, entcap;
  /* Path index: open addressing, the last entry with a path wins. */
  struct ent **tab;
  size_t tabcap;
  bool tab_stale;
  uint64_t next_ino;
  uint64_t decoded_total;
  struct lf_initramfs_limits lim;
  /* File contents kept in memory (limits.keep), freed with the image:
   * hardlinks share them, so an entry does not own them.
   */
  uint8_t **held;
  size_t nheld, heldcap;
  uint64_t held_bytes;
};

static void
ent_free (struct ent *e)
{
  if (e) {
    free (e->path);
    free (e->target);
    free (e->owned);
    free (e);
  }
}

void
lf_initramfs_free (struct lf_initramfs *img)
{
  if (!img)
    return;
  for (size_t i = 0; i < img->nents; i++)
    ent_free (img->ents[i]);
  free (img->ents);
  for (size_t i = 0; i < img->nheld; i++)
    free (img->held[i]);
  free (img->held);
  free (img->segs);
  free (img->tab);
  free (img->raw);
  free (img->name);
  free (img);
}

/* Paths. */

/* Normalise N bytes of NAME: drop leading "/" and "./", empty and "."
 * components; keep ".." (flagged).  The root is ".".
 */
static char *
normalise (const char *name, size_t n, bool *dotdot)
{
  char *out = malloc (n + 2);
  size_t o = 0, i = 0;

  if (!out) {
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  *dotdot = false;
  while (i < n) {
    size_t j = i;
    while (j < n && name[j] != '/')
      j++;
    size_t len = j - i;
    if (len == 0 || (len == 1 && name[i] == '.'))
      ;
    else {
      if (len == 2 && name[i] == '.' && name[i + 1] == '.')
        *dotdot = true;
      if (o)
        out[o++] = '/';
      memcpy (out + o, name + i, len);
      o += len;
    }
    i = j + 1;
  }
  if (o == 0)
    out[o++] = '.';
  out[o] = '\0';
  return out;
}

static uint64_t
hash_path (const char *s)
{
  uint64_t h = UINT64_C (14695981039346656037);
  for (; *s; s++)
    h = (h ^ (uint8_t) *s) * UINT64_C (1099511628211);
  return h;
}

static int
rebuild_index (struct lf_initramfs *img)
{
  size_t cap = 16;

  while (cap < img->nents * 2 + 16)
    cap *= 2;
  free (img->tab);
  img->tab = calloc (cap, sizeof *img->tab);
  if (!img->tab) {
    img->tabcap = 0;
    lf_error (ENOMEM, "out of memory for the path index");
    return -1;
  }
  img->tabcap = cap;
  for (size_t i = 0; i < img->nents; i++) {
    struct ent *e = img->ents[i];
    size_t k = (size_t) hash_path (e->path) & (cap - 1);
    while (img->tab[k] && strcmp (img->tab[k]->path, e->path) != 0)
      k = (k + 1) & (cap - 1);
    img->tab[k] = e;            /* later entries override */
  }
  img->tab_stale = false;
  return 0;
}

/* Exact (normalised) name; NULL if absent, no error recorded. */
static struct ent *
find_exact (struct lf_initramfs *img, const char *path)
{
  if (img->tab_stale && rebuild_index (img) == -1)
    return NULL;
  if (img->tabcap == 0)
    return NULL;
  size_t k = (size_t) hash_path (path) & (img->tabcap - 1);
  while (img->tab[k]) {
    if (strcmp (img->tab[k]->path, path) == 0)
      return img->tab[k];
    k = (k + 1) & (img->tabcap - 1);
  }
  return NULL;
}

/* Resolve PATH with chroot semantics (see initramfs.h). */
static char *
resolve (struct lf_initramfs *img, const char *path, bool follow_last)
{
  CLEANUP_FREE char *rest = NULL;
  char res[CPIO_MAX_NAME];
  size_t reslen = 0, pos = 0;
  unsigned hops = 0;
  char *ret;

  rest = strdup (path);
  if (!rest) {
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  res[0] = '\0';
  for (;;) {
    while (rest[pos] == '/')
      pos++;
    if (rest[pos] == '\0')
      break;
    size_t start = pos;
    while (rest[pos] && rest[pos] != '/')
      pos++;
    size_t clen = pos - start;
    size_t after = pos;
    while (rest[after] == '/')
      after++;
    bool last = rest[after] == '\0';

    if (clen == 1 && rest[start] == '.')
      continue;
    if (clen == 2 && rest[start] == '.' && rest[start + 1] == '.') {
      while (reslen > 0 && res[reslen - 1] != '/')
        reslen--;
      if (reslen > 0)
        reslen--;               /* the '/' */
      res[reslen] = '\0';
      continue;
    }
    size_t oldlen = reslen, newlen = reslen + (reslen ? 1 : 0) + clen;
    if (newlen >= sizeof res) {
      lf_error (ENAMETOOLONG, "%s: resolving \"%.64s\": path longer than "
                "CPIO_MAX_NAME %d", img->name, path, CPIO_MAX_NAME);
      return NULL;
    }
    if (reslen)
      res[reslen++] = '/';
    memcpy (res + reslen, rest + start, clen);
    reslen = newlen;
    res[reslen] = '\0';

    struct ent *e = find_exact (img, res);
    if (e && S_ISLNK (e->pub.mode) && (!last || follow_last)) {
      if (++hops > INITRAMFS_MAX_SYMLINK_HOPS) {
        lf_error (ELOOP, "%s: resolving \"%s\": more than %d symlinks "
                  "(INITRAMFS_MAX_SYMLINK_HOPS) at \"%s\"", img->name, path,
                  INITRAMFS_MAX_SYMLINK_HOPS, res);
        return NULL;
      }
      const char *t = e->target;
      size_t tlen = strlen (t), rlen = strlen (rest + pos);
      if (tlen + rlen + 2 > 16 * CPIO_MAX_NAME) {
        lf_error (ENAMETOOLONG, "%s: resolving \"%.64s\": symlink "
                  "expansion too long", img->name, path);
        return NULL;
      }
      char *nrest = malloc (tlen + rlen + 2);
      if (!nrest) {
        lf_error (ENOMEM, "out of memory");
        return NULL;
      }
      memcpy (nrest, t, tlen);
      nrest[tlen] = '/';
      memcpy (nrest + tlen + 1, rest + pos, rlen + 1);
      free (rest);
      rest = nrest;
      pos = 0;
      /* An absolute target restarts at the archive root; a relative one
       * at the symlink's directory.
       */
      reslen = t[0] == '/' ? 0 : oldlen;
      res[reslen] = '\0';
      continue;
    }
    if (e && !last && !S_ISDIR (e->pub.mode)) {
      lf_error (ENOTDIR, "%s: resolving \"%s\": \"%s\" is not a directory",
                img->name, path, res);
      return NULL;
    }
  }
  ret = strdup (reslen ? res : ".");
  if (!ret)
    lf_error (ENOMEM, "out of memory");
  return ret;
}

char *
lf_initramfs_resolve (struct lf_initramfs *img, const char *path, bool follow)
{
  return resolve (img, path, follow);
}

const struct lf_initramfs_entry *
lf_initramfs_find (struct lf_initramfs *img, const char *path)
{
  CLEANUP_FREE char *norm = NULL;
  bool dotdot;
  struct ent *e;

  norm = normalise (path, strlen (path), &dotdot);
  if (!norm)
    return NULL;
  e = find_exact (img, norm);
  if (!e) {
    lf_error (ENOENT, "%s: no entry \"%s\"", img->name, norm);
    return NULL;
  }
  return &e->pub;
}

int
lf_initramfs_lookup_opt (struct lf_initramfs *img, const char *path,
                         bool follow, const struct lf_initramfs_entry **ret)
{
  CLEANUP_FREE char *real = NULL;
  struct ent *e;

  real = resolve (img, path, follow);
  if (!real)
    return -1;
  e = find_exact (img, real);
  if (!e)
    return 0;
  *ret = &e->pub;
  return 1;
}

const struct lf_initramfs_entry *
lf_initramfs_lookup (struct lf_initramfs *img, const char *path, bool follow)
{
  const struct lf_initramfs_entry *e = NULL;
  int r = lf_initramfs_lookup_opt (img, path, follow, &e);

  if (r == 0) {
    CLEANUP_FREE char *real = resolve (img, path, follow);
    lf_error (ENOENT, "%s: \"%s\" (resolved to \"%s\") not found",
              img->name, path, real ? real : "?");
  }
  return r == 1 ? e : NULL;
}

/* Accessors. */

size_t
lf_initramfs_nsegments (const struct lf_initramfs *img)
{
  return img->nsegs;
}

const struct lf_initramfs_segment *
lf_initramfs_segment (const struct lf_initramfs *img, size_t i)
{
  return i < img->nsegs ? &img->segs[i].pub : NULL;
}

size_t
lf_initramfs_nentries (const struct lf_initramfs *img)
{
  return img->nents;
}

const struct lf_initramfs_entry *
lf_initramfs_entry (const struct lf_initramfs *img, size_t i)
{
  return i < img->nents ? &img->ents[i]->pub : NULL;
}

/* Parsing. */

static int
push_entry (struct lf_initramfs *img, struct ent *e, size_t at)
{
  if (img->nents == img->entcap) {
    size_t ncap = img->entcap ? img->entcap * 2 : 64;
    struct ent **p = realloc (img->ents, ncap * sizeof *p);
    if (!p) {
      lf_error (ENOMEM, "out of memory for %zu entries", ncap);
      return -1;
    }
    img->ents = p;
    img->entcap = ncap;
  }
  memmove (img->ents + at + 1, img->ents + at,
           (img->nents - at) * sizeof *img->ents);
  img->ents[at] = e;
  img->nents++;
  img->tab_stale = true;
  return 0;
}

static bool
valid_type (uint32_t mode)
{
  switch (mode & S_IFMT) {
  case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR: case S_IFBLK:
  case S_IFIFO: case S_IFSOCK:
    return true;
  default:
    return false;
  }
}

/* Hardlinks within one archive (the kernel forgets links at each
 * trailer): regular files with nlink >= 2 and the same (dev, ino) are one
 * file; members stored with no data (newc keeps it on the last, odc on
 * the first) get the data of the last member that has some.
 */
static int
cmp_link (const void *a, const void *b)
{
  const struct ent *x = *(struct ent * const *) a;
  const struct ent *y = *(struct ent * const *) b;
#define CMP(f) if (x->pub.f != y->pub.f) return x->pub.f < y->pub.f ? -1 : 1
  CMP (dev_major); CMP (dev_minor); CMP (ino); CMP (header_offset);
#undef CMP
  return 0;
}

static int
resolve_hardlinks (struct lf_initramfs *img, size_t first)
{
  CLEANUP_FREE struct ent **v = NULL;
  size_t n = 0;

  for (size_t i = first; i < img->nents; i++)
    if (S_ISREG (img->ents[i]->pub.mode) && img->ents[i]->pub.nlink >= 2)
      n++;
  if (n < 2)
    return 0;
  v = malloc (n * sizeof *v);
  if (!v) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  n = 0;
  for (size_t i = first; i < img->nents; i++)
    if (S_ISREG (img->ents[i]->pub.mode) && img->ents[i]->pub.nlink >= 2)
      v[n++] = img->ents[i];
  qsort (v, n, sizeof *v, cmp_link);
  for (size_t i = 0; i < n; ) {
    size_t j = i;
    const struct ent *donor = NULL;
    while (j < n && v[j]->pub.ino == v[i]->pub.ino &&
           v[j]->pub.dev_major == v[i]->pub.dev_major &&
           v[j]->pub.dev_minor == v[i]->pub.dev_minor) {
      if (v[j]->pub.size)
        donor = v[j];
      j++;
    }
    for (size_t k = i; donor && k < j; k++)
      if (v[k]->pub.size == 0) {
        v[k]->pub.data = donor->pub.data;
        v[k]->pub.size = donor->pub.size;
        v[k]->src_off = donor->src_off;
        v[k]->has_src = donor->has_src;
      }
    i = j;
  }
  return 0;
}

/* A segment's decoded bytes, read forward through a small window: the
 * raw bytes themselves for an uncompressed segment (offsets are the
 * image's), a decoder's output for a compressed one (offsets from 0).
 * Nothing here ever holds more than the window.
 */
#define RD_WINDOW  (256 * LF_KiB)
/* What one header needs in view: the longest header and name. */
#define RD_HEADER  (CPIO_NEWC_HEADER + CPIO_MAX_NAME)

struct rd {
  const uint8_t *raw;           /* uncompressed: the image */
  size_t rawlen;
  struct lf_decoder *dec;       /* compressed */
  uint8_t *win;
  size_t wpos, wlen;            /* unread bytes: win[wpos..wlen) */
  uint64_t pos;                 /* offset of win[wpos] */
};

static void
rd_init_raw (struct rd *rd, const uint8_t *raw, size_t rawlen, uint64_t off)
{
  memset (rd, 0, sizeof *rd);
  rd->raw = raw;
  rd->rawlen = rawlen;
  rd->pos = off;
}

static int
rd_init_dec (struct rd *rd, struct lf_decoder *dec)
{
  memset (rd, 0, sizeof *rd);
  rd->dec = dec;
  rd->win = malloc (RD_WINDOW);
  if (!rd->win) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  return 0;
}

static void
rd_free (struct rd *rd)
{
  free (rd->win);
  rd->win = NULL;
}

/* Make up to NEED (<= RD_WINDOW) bytes visible at *P; *AVAIL is fewer
 * only at the end of the segment's bytes.
 */
static int
rd_peek (struct rd *rd, size_t need, const uint8_t **p, size_t *avail)
{
  if (!rd->dec) {
    size_t left = rd->pos < rd->rawlen ? rd->rawlen - (size_t) rd->pos : 0;
    *p = rd->raw + LF_MIN (rd->pos, (uint64_t) rd->rawlen);
    *avail = left;
    return 0;
  }
  if (rd->wlen - rd->wpos < need) {
    memmove (rd->win, rd->win + rd->wpos, rd->wlen - rd->wpos);
    rd->wlen -= rd->wpos;
    rd->wpos = 0;
    while (rd->wlen < need) {
      size_t got;
      if (lf_decoder_read (rd->dec, rd->win + rd->wlen, RD_WINDOW - rd->wlen,
                           &got) == -1)
        return -1;
      if (got == 0)
        break;
      rd->wlen += got;
    }
  }
  *p = rd->win + rd->wpos;
  *avail = rd->wlen - rd->wpos;
  return 0;
}

/* Move past N bytes already peeked. */
static void
rd_skip (struct rd *rd, size_t n)
{
  rd->pos += n;
  if (rd->dec)
    rd->wpos += n;
}

/* Move forward to offset TO, reading through; false if the bytes end
 * first (then at the end).
 */
static int
rd_advance (struct rd *rd, uint64_t to, bool *reached)
{
  while (rd->pos < to) {
    const uint8_t *p;
    size_t avail;
    if (rd_peek (rd, (size_t) LF_MIN (to - rd->pos, (uint64_t) RD_WINDOW),
                 &p, &avail) == -1)
      return -1;
    if (avail == 0) {
      *reached = false;
      return 0;
    }
    rd_skip (rd, (size_t) LF_MIN (to - rd->pos, (uint64_t) avail));
  }
  *reached = true;
  return 0;
}

static uint32_t
sum_bytes (const uint8_t *p, size_t n)
{
  uint32_t s = 0;
  for (size_t i = 0; i < n; i++)
    s += p[i];
  return s;
}

/* Keep N bytes of content in memory for the image's lifetime. */
static uint8_t *
hold (struct lf_initramfs *img, size_t n, const char *name, uint64_t off)
{
  uint8_t *p;

  if (n > img->lim.max_held - img->held_bytes) {
    lf_error (EFBIG, "entry \"%s\" at 0x%" PRIx64 ": keeping its %zu bytes "
              "would hold more than %" PRIu64 " bytes of content in memory "
              "(INITRAMFS_MAX_HELD)", name, off, n, img->lim.max_held);
    return NULL;
  }
  if (img->nheld == img->heldcap) {
    size_t ncap = img->heldcap ? img->heldcap * 2 : 64;
    uint8_t **v = realloc (img->held, ncap * sizeof *v);
    if (!v) {
      lf_error (ENOMEM, "out of memory");
      return NULL;
    }
    img->held = v;
    img->heldcap = ncap;
  }
  p = malloc (n ? n : 1);
  if (!p) {
    lf_error (ENOMEM, "cannot allocate %zu bytes for \"%s\"", n, name);
    return NULL;
  }
  img->held[img->nheld++] = p;
  img->held_bytes += n;
  return p;
}

/* The files (dev, ino) of hardlinks that limits.keep wants, for newc's
 * data-carrying last link to be held: a small open-addressing set.
 */
struct link_id {
  uint32_t major, minor;
  uint64_t ino;
  bool used;
};

struct link_set {
  struct link_id *v;
  size_t n, cap;
};

static size_t
link_slot (const struct link_set *ls, const struct ent *e)
{
  uint64_t h = e->pub.ino * UINT64_C (0x9e3779b97f4a7c15) ^
    ((uint64_t) e->pub.dev_major << 32 | e->pub.dev_minor);
  size_t k = (size_t) (h ^ (h >> 29)) & (ls->cap - 1);

  while (ls->v[k].used &&
         (ls->v[k].ino != e->pub.ino || ls->v[k].major != e->pub.dev_major ||
          ls->v[k].minor != e->pub.dev_minor))
    k = (k + 1) & (ls->cap - 1);
  return k;
}

static bool
link_has (const struct link_set *ls, const struct ent *e)
{
  return ls->cap && ls->v[link_slot (ls, e)].used;
}

static int
link_add (struct link_set *ls, const struct ent *e)
{
  if ((ls->n + 1) * 2 > ls->cap) {
    struct link_set bigger = { NULL, 0, ls->cap ? ls->cap * 2 : 64 };
    bigger.v = calloc (bigger.cap, sizeof *bigger.v);
    if (!bigger.v) {
      lf_error (ENOMEM, "out of memory");
      return -1;
    }
    for (size_t i = 0; i < ls->cap; i++)
      if (ls->v[i].used) {
        struct ent tmp = { .pub = { .ino = ls->v[i].ino,
                                    .dev_major = ls->v[i].major,
                                    .dev_minor = ls->v[i].minor } };
        bigger.v[link_slot (&bigger, &tmp)] = ls->v[i];
        bigger.n++;
      }
    free (ls->v);
    *ls = bigger;
  }
  size_t k = link_slot (ls, e);
  if (!ls->v[k].used) {
    ls->v[k] = (struct link_id) { e->pub.dev_major, e->pub.dev_minor,
                                  e->pub.ino, true };
    ls->n++;
  }
  return 0;
}

/* Read one cpio archive starting at START of RD (a segment's bytes,
 * known to end at END if uncompressed, else UINT64_MAX); *FINISH is just
 * past its trailer record.  SEGNO names the segment.  Every declared size
 * is checked before a byte of its data is decoded; data is streamed
 * through and kept only when limits.keep asks for it.
 */
static int
read_archive_1 (struct lf_initramfs *img, size_t segno, struct rd *rd,
                uint64_t start, uint64_t end, uint64_t *finish,
                struct link_set *wanted)
{
  struct seg *s = &img->segs[segno];
  size_t first = img->nents;
  struct lf_cpio_record r;
  char name[CPIO_MAX_NAME];

  for (;;) {
    struct ent *e = NULL;
    bool dotdot, reached;
    const uint8_t *p;
    size_t avail;
    uint64_t off = rd->pos;

    if (rd_peek (rd, RD_HEADER, &p, &avail) == -1)
      return -1;
    if (avail == 0) {
      lf_error (EINVAL, "archive at 0x%" PRIx64 " ends at 0x%" PRIx64
                " without a " CPIO_TRAILER " entry (truncated?)", start, off);
      return -1;
    }
    if (lf_cpio_read_header (p, avail, off, start, end, &r) == -1)
      return -1;
    /* The window moves on: the name is needed after that. */
    memcpy (name, r.name, r.namelen + 1);
    r.name = name;
    if (lf_cpio_is_trailer (&r)) {
      if (rd_advance (rd, r.next_off, &reached) == -1)
        return -1;
      *finish = rd->pos;
      break;
    }
    if (r.next_off > end) {
      lf_error (EINVAL, "entry \"%s\" at 0x%" PRIx64 ": padding runs past "
                "the end, and no " CPIO_TRAILER " follows", r.name, off);
      return -1;
    }
    if (img->nents >= img->lim.max_entries) {
      lf_error (EFBIG, "entry \"%s\" at 0x%" PRIx64 ": more than %" PRIu64
                " entries (CPIO_MAX_ENTRIES)", r.name, off,
                img->lim.max_entries);
      return -1;
    }
    if (r.mode > UINT32_MAX || !valid_type ((uint32_t) r.mode)) {
      lf_error (EINVAL, "entry \"%s\" at 0x%" PRIx64 ": mode 0%" PRIo64
                " is not a known file type", r.name, off, r.mode);
      return -1;
    }
    if (r.uid > UINT32_MAX || r.gid > UINT32_MAX || r.nlink > UINT32_MAX) {
      lf_error (EINVAL, "entry \"%s\" at 0x%" PRIx64 ": uid, gid or nlink "
                "over 32 bits", r.name, off);
      return -1;
    }
    if (!S_ISREG (r.mode) && !S_ISLNK (r.mode) && r.size != 0) {
      lf_error (EINVAL, "entry \"%s\" at 0x%" PRIx64 ": mode 0%" PRIo64
                " with a body of %" PRIu64 " bytes (the kernel would skip "
                "this entry)", r.name, off, r.mode, r.size);
      return -1;
    }
    /* The declared size, before any of it is decoded. */
    if (S_ISREG (r.mode) && r.size > img->lim.max_entry_size) {
      lf_error (EFBIG, "entry \"%s\" at 0x%" PRIx64 ": size %" PRIu64
                " is over %" PRIu64 " (INITRAMFS_MAX_ENTRY_SIZE)", r.name,
                off, r.size, img->lim.max_entry_size);
      return -1;
    }
    if (S_ISLNK (r.mode) && (r.size == 0 || r.size > CPIO_MAX_SYMLINK)) {
      lf_error (r.size ? ENAMETOOLONG : EINVAL, "symlink \"%s\" at 0x%"
                PRIx64 ": target of %" PRIu64 " bytes (CPIO_MAX_SYMLINK %d, "
                "the kernel would skip it)", r.name, off, r.size,
                CPIO_MAX_SYMLINK);
      return -1;
    }

    e = calloc (1, sizeof *e);
    if (!e) {
      lf_error (ENOMEM, "out of memory");
      return -1;
    }
    e->path = normalise (r.name, r.namelen, &dotdot);
    if (!e->path) {
      ent_free (e);
      return -1;
    }
    e->pub.path = e->path;
    e->pub.mode = (uint32_t) r.mode;
    e->pub.uid = (uint32_t) r.uid;
    e->pub.gid = (uint32_t) r.gid;
    e->pub.nlink = (uint32_t) r.nlink;
    e->pub.mtime = r.mtime;
    e->pub.ino = r.ino;
    e->pub.dev_major = r.dev_major;
    e->pub.dev_minor = r.dev_minor;
    e->pub.rdev_major = r.rdev_major;
    e->pub.rdev_minor = r.rdev_minor;
    e->pub.segment = segno;
    e->pub.header_offset = off;
    e->src_off = r.data_off;
    e->has_src = true;

    /* The body, streamed through. */
    if (rd_advance (rd, r.data_off, &reached) == -1)
      goto error;
    uint8_t *dst = NULL;
    if (S_ISLNK (r.mode)) {
      if (rd_peek (rd, (size_t) r.size, &p, &avail) == -1)
        goto error;
      if (avail < r.size)
        goto past_end;
      if (memchr (p, '\0', (size_t) r.size) != NULL) {
        lf_error (EINVAL, "symlink \"%s\" at 0x%" PRIx64 ": target contains "
                  "a NUL byte", r.name, off);
        goto error;
      }
      e->target = strndup ((const char *) p, (size_t) r.size);
      if (!e->target) {
        lf_error (ENOMEM, "out of memory");
        goto error;
      }
      e->pub.symlink = e->target;
      e->pub.data = (const uint8_t *) e->target;
      e->pub.size = (size_t) r.size;
      rd_skip (rd, (size_t) r.size);
    }
    else if (S_ISREG (r.mode) && r.nlink >= 2 && rd->dec && img->lim.keep &&
             img->lim.keep (e->path, r.size, img->lim.keep_arg) &&
             link_add (wanted, e) == -1)
      goto error;
    else if (S_ISREG (r.mode) && r.size) {
      uint32_t sum = 0;
      bool check = r.format == LF_CPIO_CRC && !img->lim.ignore_checksums;
      e->pub.size = (size_t) r.size;
      if (!rd->dec)
        /* Uncompressed: the image is in memory already. */
        e->pub.data = rd->raw + r.data_off;
      else if (!img->lim.keep ||
               img->lim.keep (e->path, r.size, img->lim.keep_arg) ||
               (r.nlink >= 2 && link_has (wanted, e))) {
        dst = hold (img, (size_t) r.size, r.name, off);
        if (!dst)
          goto error;
        e->pub.data = dst;
      }
      for (uint64_t left = r.size; left > 0; ) {
        if (rd_peek (rd, (size_t) LF_MIN (left, (uint64_t) RD_WINDOW), &p,
                     &avail) == -1)
          goto error;
        if (avail == 0)
          goto past_end;
        size_t n = (size_t) LF_MIN (left, (uint64_t) avail);
        if (check)
          sum += sum_bytes (p, n);
        if (dst) {
          memcpy (dst, p, n);
          dst += n;
        }
        rd_skip (rd, n);
        left -= n;
      }
      if (check && sum != r.check) {
        lf_error (EINVAL, "entry \"%s\" at 0x%" PRIx64 ": checksum 0x%08"
                  PRIx32 " does not match the data (0x%08" PRIx32 ")", r.name,
                  off, r.check, sum);
        goto error;
      }
    }
    if (rd_advance (rd, r.next_off, &reached) == -1)
      goto error;
    if (!reached) {
      lf_error (EINVAL, "entry \"%s\" at 0x%" PRIx64 ": padding runs past "
                "the end, and no " CPIO_TRAILER " follows", r.name, off);
      goto error;
    }
    if (push_entry (img, e, img->nents) == -1)
      goto error;
    if (e->pub.ino >= img->next_ino)
      img->next_ino = e->pub.ino + 1;
    s->pub.nentries++;
    continue;

  past_end:
    lf_error (EINVAL, "%s entry \"%s\" at 0x%" PRIx64 ": data of %" PRIu64
              " bytes runs past the end (0x%" PRIx64 ")",
              lf_cpio_format_name (r.format), r.name, off, r.size, rd->pos);
  error:
    ent_free (e);
    return -1;
  }
  s->pub.narchives++;
  return resolve_hardlinks (img, first);
}

/* A link limits.keep wants may get its data from another link (newc
 * stores it on the last): that one is held too.
 */
static int
read_archive (struct lf_initramfs *img, size_t segno, struct rd *rd,
              uint64_t start, uint64_t end, uint64_t *finish)
{
  struct link_set wanted = { NULL, 0, 0 };
  int r = read_archive_1 (img, segno, rd, start, end, finish, &wanted);

  free (wanted.v);
  return r;
}

static struct seg *
new_segment (struct lf_initramfs *img, enum lf_compression c, uint64_t off)
{
  struct seg *p;

  if (img->nsegs >= INITRAMFS_MAX_SEGMENTS) {
    lf_error (EFBIG, "%s: more than %d segments at 0x%" PRIx64
              " (INITRAMFS_MAX_SEGMENTS)", img->name, INITRAMFS_MAX_SEGMENTS,
              off);
    return NULL;
  }
  if (lf_grow (&img->segs, &img->segcap, img->nsegs + 1,
               sizeof *img->segs) == -1)
    return NULL;
  p = &img->segs[img->nsegs++];
  memset (p, 0, sizeof *p);
  p->comp = c;
  p->pub.compression = lf_compression_name (c);
  p->pub.offset = off;
  return p;
}

static int
parse_uncompressed (struct lf_initramfs *img, uint64_t off, uint64_t *next)
{
  struct seg *s;
  enum lf_cpio_format f = LF_CPIO_NEWC;
  uint64_t end = 0;
  size_t segno = img->nsegs;
  struct rd rd;

  (void) lf_cpio_magic (img->raw + off, img->rawlen - off, &f);
  if ((f == LF_CPIO_NEWC || f == LF_CPIO_CRC) && (off & 3) != 0) {
    lf_error (EINVAL, "%s: cpio archive at 0x%" PRIx64 " is not 4-byte "
              "aligned (the kernel reports broken padding)", img->name, off);
    return -1;
  }
  s = new_segment (img, LF_COMP_NONE, off);
  if (!s)
    return -1;
  s->pub.format = lf_cpio_format_name (f);
  rd_init_raw (&rd, img->raw, img->rawlen, off);
  if (read_archive (img, segno, &rd, off, img->rawlen, &end) == -1) {
    lf_error_prefix ("%s: segment %zu (none at 0x%" PRIx64 ")", img->name,
                     segno, off);
    return -1;
  }
  s = &img->segs[segno];
  s->pub.length = end - off;
  s->pub.uncompressed_size = end - off;
  if (end - off > img->lim.max_uncompressed - img->decoded_total) {
    lf_error (EFBIG, "%s: segment %zu (none at 0x%" PRIx64 "): the image "
              "decodes to more than %" PRIu64 " bytes "
              "(INITRAMFS_MAX_UNCOMPRESSED)", img->name, segno, off,
              img->lim.max_uncompressed);
    return -1;
  }
  img->decoded_total += end - off;
  *next = end;
  return 0;
}

/* The most a compressed segment at OFF may decode to, and why. */
static uint64_t
segment_cap (const struct lf_initramfs *img, uint64_t off, char *what,
             size_t whatlen)
{
  uint64_t budget, ratio_cap, inlen = img->rawlen - off;

  budget = img->lim.max_uncompressed - img->decoded_total;
  if (MUL_OVERFLOW (inlen, img->lim.max_ratio, &ratio_cap))
    ratio_cap = UINT64_MAX;
  ratio_cap = LF_MAX (ratio_cap, img->lim.bomb_floor);
  if (budget <= ratio_cap) {
    snprintf (what, whatlen, "the image may decode to %" PRIu64
              " bytes: INITRAMFS_MAX_UNCOMPRESSED",
              img->lim.max_uncompressed);
    return budget;
  }
  snprintf (what, whatlen, "decompression bomb: ratio cap %" PRIu64
            ":1 above %" PRIu64 " bytes", img->lim.max_ratio,
            img->lim.bomb_floor);
  return ratio_cap;
}

static int
parse_compressed (struct lf_initramfs *img, enum lf_compression c,
                  uint64_t off, uint64_t *next)
{
  struct seg *s;
  size_t segno = img->nsegs;
  struct lf_decoder *dec = NULL;
  struct rd rd = { 0 };
  uint64_t cap;
  char what[160];

  s = new_segment (img, c, off);
  if (!s)
    return -1;
  cap = segment_cap (img, off, what, sizeof what);
  dec = lf_decoder_new (c, img->raw + off, img->rawlen - (size_t) off, cap,
                        what);
  if (!dec || rd_init_dec (&rd, dec) == -1)
    goto error;

  /* The decoded bytes: cpio archives separated by zero padding, as
   * flush_buffer () accepts them.
   */
  for (;;) {
    enum lf_cpio_format f;
    uint64_t end = 0;
    const uint8_t *p;
    size_t avail, z;

    for (;;) {
      if (rd_peek (&rd, 6, &p, &avail) == -1)
        goto error;
      for (z = 0; z < avail && p[z] == 0; z++)
        ;
      rd_skip (&rd, z);
      if (z < avail || avail == 0)
        break;
    }
    if (rd_peek (&rd, 6, &p, &avail) == -1)
      goto error;
    if (avail == 0)
      break;
    if (lf_cpio_magic (p, avail, &f) != LF_MATCH) {
      lf_error (EINVAL, "junk at decoded offset 0x%" PRIx64 " (byte 0x%02x)"
                ": not a cpio header", rd.pos, p[0]);
      goto error;
    }
    if ((f == LF_CPIO_NEWC || f == LF_CPIO_CRC) && (rd.pos & 3) != 0) {
      lf_error (EINVAL, "cpio archive at decoded offset 0x%" PRIx64
                " is not 4-byte aligned", rd.pos);
      goto error;
    }
    s = &img->segs[segno];
    if (s->pub.format == NULL)
      s->pub.format = lf_cpio_format_name (f);
    if (read_archive (img, segno, &rd, rd.pos, UINT64_MAX, &end) == -1)
      goto error;
  }
  s = &img->segs[segno];
  if (s->pub.narchives == 0) {
    lf_error (EINVAL, "%" PRIu64 " decoded bytes hold no cpio archive",
              lf_decoder_total (dec));
    goto error;
  }
  s->pub.length = lf_decoder_consumed (dec);
  s->pub.uncompressed_size = lf_decoder_total (dec);
  img->decoded_total += lf_decoder_total (dec);
  *next = off + lf_decoder_consumed (dec);
  rd_free (&rd);
  lf_decoder_free (dec);
  return 0;

 error:
  rd_free (&rd);
  lf_decoder_free (dec);
  lf_error_prefix ("%s: segment %zu (%s at 0x%" PRIx64 ")", img->name, segno,
                   lf_compression_name (c), off);
  return -1;
}

/* BUF is copied, or if OWNED (malloc'd) taken over. */
static struct lf_initramfs *
parse (const void *buf, size_t len, void *owned, const char *name,
       const struct lf_initramfs_limits *limits)
{
  struct lf_initramfs *img = NULL;
  uint64_t off = 0;

  img = calloc (1, sizeof *img);
  if (!img) {
    free (owned);
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  img->raw = owned;
  img->rawlen = len;
  img->lim = *limits;
  img->next_ino = 1;
  img->tab_stale = true;
  img->name = strdup (name ? name : "initramfs");
  if (!img->name) {
    lf_error (ENOMEM, "out of memory");
    goto error;
  }
  if (len > img->lim.max_uncompressed) {
    lf_error (EFBIG, "%s: image of %zu bytes is over %" PRIu64
              " (INITRAMFS_MAX_UNCOMPRESSED)", img->name, len,
              img->lim.max_uncompressed);
    goto error;
  }
  if (!img->raw) {
    img->raw = malloc (len ? len : 1);
    if (!img->raw) {
      lf_error (ENOMEM, "%s: cannot copy %zu bytes", img->name, len);
      goto error;
    }
    if (len)
      memcpy (img->raw, buf, len);
  }

  /* unpack_to_rootfs (): zeros are padding, a cpio magic starts an
   * uncompressed archive, anything else must be a compressed stream.
   */
  while (off < len) {
    enum lf_cpio_format f;
    enum lf_compression c;
    int r;

    if (img->raw[off] == 0) {
      off++;
      continue;
    }
    if (lf_cpio_magic (img->raw + off, len - off, &f) == LF_MATCH) {
      if (parse_uncompressed (img, off, &off) == -1)
        goto error;
      continue;
    }
    r = lf_compression_detect (img->raw + off, len - off, &c);
    if (r == -1) {
      lf_error_prefix ("%s: segment %zu at 0x%" PRIx64, img->name,
                       img->nsegs, off);
      goto error;
    }
    if (r == LF_NO_MATCH) {
      const uint8_t *p = img->raw + off;
      size_t n = LF_MIN (len - off, (size_t) 4);
      lf_error (EINVAL, "%s: junk at 0x%" PRIx64 " (bytes %02x %02x %02x "
                "%02x): neither a cpio header nor a known compression",
                img->name, off, p[0], n > 1 ? p[1] : 0, n > 2 ? p[2] : 0,
                n > 3 ? p[3] : 0);
      goto error;
    }
    if (parse_compressed (img, c, off, &off) == -1)
      goto error;
  }
  if (img->nsegs == 0) {
    lf_error (EINVAL, "%s: no cpio archive in %zu bytes", img->name, len);
    goto error;
  }
  if (rebuild_index (img) == -1)
    goto error;
  return img;

 error:
  lf_initramfs_free (img);
  return NULL;
}

struct lf_initramfs *
lf_initramfs_parse_limits (const void *buf, size_t len, const char *name,
                           const struct lf_initramfs_limits *limits)
{
  return parse (buf, len, NULL, name, limits);
}

struct lf_initramfs *
lf_initramfs_parse_take (void *buf, size_t len, const char *name,
                         const struct lf_initramfs_limits *limits)
{
  return parse (NULL, len, buf, name, limits);
}

struct lf_initramfs *
lf_initramfs_parse (const void *buf, size_t len, const char *name)
{
  return lf_initramfs_parse_limits (buf, len, name,
                                    &lf_initramfs_default_limits);
}

/* Editing the main segment. */

static size_t
main_segment (const struct lf_initramfs *img)
{
  return img->nsegs - 1;
}

/* Index of the last main-segment entry named PATH, or -1. */
static ssize_t
find_in_main (const struct lf_initramfs *img, const char *path)
{
  size_t m = main_segment (img);
  for (size_t i = img->nents; i-- > 0; ) {
    if (img->ents[i]->pub.segment != m)
      break;
    if (strcmp (img->ents[i]->path, path) == 0)
      return (ssize_t) i;
  }
  return -1;
}

static void
remove_at (struct lf_initramfs *img, size_t i)
{
  struct ent *e = img->ents[i];

  img->segs[e->pub.segment].pub.nentries--;
  ent_free (e);
  memmove (img->ents + i, img->ents + i + 1,
           (img->nents - i - 1) * sizeof *img->ents);
  img->nents--;
  img->tab_stale = true;
}

/* Put E (named E->path) in the main segment, replacing same-named
 * entries there.
 */
static int
insert_main (struct lf_initramfs *img, struct ent *e)
{
  ssize_t at;
  size_t pos = img->nents;

  while ((at = find_in_main (img, e->path)) >= 0) {
    pos = (size_t) at;
    remove_at (img, (size_t) at);
  }
  e->pub.segment = main_segment (img);
  if (push_entry (img, e, pos) == -1)
    return -1;
  img->segs[e->pub.segment].pub.nentries++;
  return 0;
}

static struct ent *
new_entry (struct lf_initramfs *img, const char *path, uint32_t mode)
{
  struct ent *e = calloc (1, sizeof *e);

  if (!e || !(e->path = strdup (path))) {
    free (e);
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  e->pub.path = e->path;
  e->pub.mode = mode;
  e->pub.nlink = S_ISDIR (mode) ? 2 : 1;
  e->pub.ino = img->next_ino++ & UINT32_MAX;
  return e;
}

/* Resolve the parent of PATH, create missing directories, and return the
 * real path at which an entry for PATH belongs.
 */
static char *
place (struct lf_initramfs *img, const char *path)
{
  CLEANUP_FREE char *norm = NULL, *parent = NULL;
  const char *base, *slash;
  bool dotdot;
  char *final;
  size_t plen;

  norm = normalise (path, strlen (path), &dotdot);
  if (!norm)
    return NULL;
  if (dotdot || strcmp (norm, ".") == 0) {
    lf_error (EINVAL, "%s: cannot add \"%s\": %s", img->name, path,
              dotdot ? "the path has a \"..\" component" : "it is the root");
    return NULL;
  }
  slash = strrchr (norm, '/');
  base = slash ? slash + 1 : norm;
  if (slash) {
    norm[slash - norm] = '\0';
    parent = resolve (img, norm, true);
  }
  else
    parent = strdup (".");
  if (!parent) {
    if (slash)
      lf_error_prefix ("cannot add \"%s\"", path);
    else
      lf_error (ENOMEM, "out of memory");
    return NULL;
  }

  /* Missing directories, outermost first.  Each existing prefix of the
   * resolved parent is a directory (or nothing): resolve () checked them.
   */
  if (strcmp (parent, ".") != 0) {
    plen = strlen (parent);
    for (size_t i = 0; i <= plen; i++) {
      if (parent[i] != '/' && parent[i] != '\0')
        continue;
      char save = parent[i];
      parent[i] = '\0';
      struct ent *p = find_exact (img, parent);
      if (!p) {
        struct ent *d = new_entry (img, parent, S_IFDIR | 0755);
        if (!d || insert_main (img, d) == -1) {
          ent_free (d);
          parent[i] = save;
          return NULL;
        }
      }
      else if (!S_ISDIR (p->pub.mode)) {
        lf_error (ENOTDIR, "%s: cannot add \"%s\": \"%s\" is not a "
                  "directory", img->name, path, parent);
        parent[i] = save;
        return NULL;
      }
      parent[i] = save;
    }
  }
  if (strcmp (parent, ".") == 0)
    final = strdup (base);
  else if (asprintf (&final, "%s/%s", parent, base) == -1)
    final = NULL;
  if (!final) {
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  if (strlen (final) + 1 > CPIO_MAX_NAME) {
    lf_error (ENAMETOOLONG, "%s: cannot add \"%.64s...\": name over "
              "CPIO_MAX_NAME %d", img->name, final, CPIO_MAX_NAME);
    free (final);
    return NULL;
  }
  return final;
}

static int
add_entry (struct lf_initramfs *img, const char *path, uint32_t mode,
           const void *data, size_t size, const char *target)
{
  CLEANUP_FREE char *real = NULL;
  struct ent *e = NULL, *old;

  if (S_ISREG (mode) && size > img->lim.max_entry_size) {
    lf_error (EFBIG, "%s: cannot add \"%s\": %zu bytes is over %" PRIu64
              " (INITRAMFS_MAX_ENTRY_SIZE)", img->name, path, size,
              img->lim.max_entry_size);
    return -1;
  }
  if (target && (target[0] == '\0' || strlen (target) > CPIO_MAX_SYMLINK)) {
    lf_error (EINVAL, "%s: cannot add symlink \"%s\": target is empty or "
              "over CPIO_MAX_SYMLINK %d", img->name, path, CPIO_MAX_SYMLINK);
    return -1;
  }
  real = place (img, path);
  if (!real)
    return -1;
  old = find_exact (img, real);
  if (old && S_ISDIR (old->pub.mode) && !S_ISDIR (mode)) {
    lf_error (EISDIR, "%s: cannot add \"%s\": \"%s\" is a directory",
              img->name, path, real);
    return -1;
  }
  e = new_entry (img, real, mode);
  if (!e)
    return -1;
  if (target) {
    e->target = strdup (target);
    if (!e->target) {
      lf_error (ENOMEM, "out of memory");
      goto error;
    }
    e->pub.symlink = e->target;
    e->pub.data = (const uint8_t *) e->target;
    e->pub.size = strlen (target);
  }
  else if (size) {
    e->owned = malloc (size);
    if (!e->owned) {
      lf_error (ENOMEM, "%s: cannot allocate %zu bytes for \"%s\"",
                img->name, size, path);
      goto error;
    }
    memcpy (e->owned, data, size);
    e->pub.data = e->owned;
    e->pub.size = size;
  }
  if (insert_main (img, e) == -1)
    goto error;
  return 0;

 error:
  ent_free (e);
  return -1;
}

static int
check_perm (struct lf_initramfs *img, const char *path, uint32_t perm)
{
  if (perm & ~UINT32_C (07777)) {
    lf_error (EINVAL, "%s: cannot add \"%s\": mode 0%o has bits other than "
              "permissions", img->name, path, perm);
    return -1;
  }
  return 0;
}

int
lf_initramfs_add (struct lf_initramfs *img, const char *path, uint32_t perm,
                  const void *data, size_t size)
{
  if (check_perm (img, path, perm) == -1)
    return -1;
  return add_entry (img, path, S_IFREG | perm, data, size, NULL);
}

int
lf_initramfs_add_symlink (struct lf_initramfs *img, const char *path,
                          const char *target)
{
  return add_entry (img, path, S_IFLNK | 0777, NULL, 0, target);
}

int
lf_initramfs_add_dir (struct lf_initramfs *img, const char *path,
                      uint32_t perm)
{
  if (check_perm (img, path, perm) == -1)
    return -1;
  return add_entry (img, path, S_IFDIR | perm, NULL, 0, NULL);
}

int
lf_initramfs_remove (struct lf_initramfs *img, const char *path)
{
  CLEANUP_FREE char *norm = NULL, *parent = NULL, *real = NULL;
  bool dotdot;
  ssize_t at;
  char *slash;
  struct ent *e;

  norm = normalise (path, strlen (path), &dotdot);
  if (!norm)
    return -1;
  slash = strrchr (norm, '/');
  if (slash) {
    *slash = '\0';
    parent = resolve (img, norm, true);
    if (!parent)
      return -1;
  }
  if (!parent || strcmp (parent, ".") == 0)
    real = strdup (slash ? slash + 1 : norm);
  else if (asprintf (&real, "%s/%s", parent, slash + 1) == -1)
    real = NULL;
  if (!real) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  e = find_exact (img, real);
  if (!e) {
    lf_error (ENOENT, "%s: cannot remove \"%s\": no such entry", img->name,
              path);
    return -1;
  }
  if (e->pub.segment != main_segment (img)) {
    lf_error (EPERM, "%s: cannot remove \"%s\": it is in segment %zu, "
              "which is kept byte for byte", img->name, path,
              e->pub.segment);
    return -1;
  }
  if (S_ISDIR (e->pub.mode)) {
    size_t n = strlen (e->path);
    for (size_t i = 0; i < img->nents; i++)
      if (strncmp (img->ents[i]->path, e->path, n) == 0 &&
          img->ents[i]->path[n] == '/') {
        lf_error (ENOTEMPTY, "%s: cannot remove \"%s\": directory is not "
                  "empty", img->name, path);
        return -1;
      }
  }
  /* Every main-segment entry of that name; one in an earlier segment, if
   * any, is what the kernel will then leave there.
   */
  while ((at = find_in_main (img, real)) >= 0)
    remove_at (img, (size_t) at);
  return 0;
}

/* Writing. */

static bool
same_file (const struct ent *a, const struct ent *b)
{
  return a->pub.ino == b->pub.ino && a->pub.dev_major == b->pub.dev_major &&
    a->pub.dev_minor == b->pub.dev_minor;
}

/* Do two links carry the same bytes?  Held contents are compared; links
 * whose data was streamed compare by where it is (the same donor).
 */
static bool
same_data (const struct ent *a, const struct ent *b)
{
  if (a->pub.size != b->pub.size)
    return false;
  if (a->pub.data && b->pub.data)
    return memcmp (a->pub.data, b->pub.data, a->pub.size) == 0;
  return !a->pub.data && !b->pub.data && a->has_src && b->has_src &&
    a->src_off == b->src_off;
}

/* The main segment's data, for entries whose content was not held:
 * decoded again from the raw bytes, forward, restarting only when an
 * entry's data lies behind (a hardlink whose donor came first).
 */
struct src {
  struct lf_initramfs *img;
  const struct seg *s;
  struct lf_decoder *dec;
  struct rd rd;
};

static void
src_close (struct src *sr)
{
  rd_free (&sr->rd);
  lf_decoder_free (sr->dec);
  sr->dec = NULL;
}

static int
src_open (struct src *sr)
{
  const struct seg *s = sr->s;
  struct lf_initramfs *img = sr->img;

  src_close (sr);
  sr->dec = lf_decoder_new (s->comp, img->raw + s->pub.offset,
                            (size_t) s->pub.length, s->pub.uncompressed_size,
                            "the segment as it was parsed");
  if (!sr->dec || rd_init_dec (&sr->rd, sr->dec) == -1)
    return -1;
  return 0;
}

/* Feed the SIZE bytes at OFF of the main segment to ENC. */
static int
src_copy (struct src *sr, uint64_t off, uint64_t size,
          struct lf_encoder *enc)
{
  bool reached;

  if (!sr->dec || sr->rd.pos > off) {
    if (src_open (sr) == -1)
      return -1;
  }
  if (rd_advance (&sr->rd, off, &reached) == -1)
    return -1;
  while (reached && size > 0) {
    const uint8_t *p;
    size_t avail;
    if (rd_peek (&sr->rd, (size_t) LF_MIN (size, (uint64_t) RD_WINDOW), &p,
                 &avail) == -1)
      return -1;
    if (avail == 0)
      break;
    size_t n = (size_t) LF_MIN (size, (uint64_t) avail);
    if (lf_encoder_write (enc, p, n) == -1)
      return -1;
    rd_skip (&sr->rd, n);
    size -= n;
  }
  if (!reached || size > 0) {
    lf_error (EIO, "the segment decoded shorter than when it was parsed");
    return -1;
  }
  return 0;
}

static const uint8_t zeros[512];

/* The main segment as one newc archive, into ENC; with ENC NULL only
 * counted into *TOTAL (the length, told to the encoder first).
 */
static int
encode_main (struct lf_initramfs *img, struct lf_encoder *enc,
             struct src *sr, uint64_t *total)
{
  size_t m = main_segment (img), first = img->nents;
  struct lf_ird_buf h = { NULL, 0, 0 };
  uint64_t pos = 0;
  size_t pad;
  int ret = -1;

  while (first > 0 && img->ents[first - 1]->pub.segment == m)
    first--;
  for (size_t i = first; i < img->nents; i++) {
    const struct ent *e = img->ents[i];
    struct lf_cpio_record r = {
      .format = LF_CPIO_NEWC, .ino = e->pub.ino, .mode = e->pub.mode,
      .uid = e->pub.uid, .gid = e->pub.gid, .nlink = e->pub.nlink,
      .mtime = e->pub.mtime, .size = e->pub.size,
      .dev_major = e->pub.dev_major, .dev_minor = e->pub.dev_minor,
      .rdev_major = e->pub.rdev_major, .rdev_minor = e->pub.rdev_minor,
      .name = e->path, .namelen = strlen (e->path),
    };
    /* An entry normalised to "TRAILER!!!" (from "./TRAILER!!!", or a
     * symlink) must not become the end of the archive.
     */
    if (strcmp (e->path, CPIO_TRAILER) == 0) {
      r.name = "./" CPIO_TRAILER;
      r.namelen += 2;
    }
    /* Hardlinks: the data goes on the last link only (newc, as GNU cpio
     * writes it), when every link has the same data.
     */
    if (S_ISREG (e->pub.mode) && e->pub.nlink >= 2 && e->pub.size) {
      for (size_t j = i + 1; j < img->nents; j++) {
        const struct ent *o = img->ents[j];
        if (S_ISREG (o->pub.mode) && o->pub.nlink >= 2 && same_file (e, o) &&
            same_data (o, e)) {
          r.size = 0;
          break;
        }
      }
    }
    h.len = 0;
    if (lf_cpio_write_newc_header (&h, &r) == -1)
      goto error;
    pad = (4 - (r.size & 3)) & 3;
    pos += h.len + r.size + pad;
    if (!enc)
      continue;
    if (lf_encoder_write (enc, h.p, h.len) == -1)
      goto error;
    if (r.size) {
      if (e->pub.data) {
        if (lf_encoder_write (enc, e->pub.data, (size_t) r.size) == -1)
          goto error;
      }
      else if (!e->has_src || src_copy (sr, e->src_off, r.size, enc) == -1)
        goto error;
      if (lf_encoder_write (enc, zeros, pad) == -1)
        goto error;
    }
  }
  h.len = 0;
  if (lf_cpio_write_trailer (&h, 0) == -1)
    goto error;
  pos += h.len;
  pad = (size_t) ((512 - pos % 512) % 512);
  pos += pad;
  if (enc && (lf_encoder_write (enc, h.p, h.len) == -1 ||
              lf_encoder_write (enc, zeros, pad) == -1))
    goto error;
  *total = pos;
  ret = 0;
 error:
  if (ret == -1)
    lf_error_prefix ("%s: writing segment %zu", img->name, m);
  free (h.p);
  return ret;
}

int
lf_initramfs_write (struct lf_initramfs *img, void **out, size_t *outlen)
{
  struct lf_ird_buf res = { NULL, 0, 0 };
  const struct seg *s = &img->segs[main_segment (img)];
  struct src sr = { .img = img, .s = s };
  struct lf_encoder *enc = NULL;
  uint64_t total = 0, written = 0;

  /* Everything before the main segment, byte for byte.  An odc or
   * binary main segment may have started unaligned: newc must not (zero
   * padding is skipped by every reader).  Then the main segment, streamed
   * through its compressor: only the compressed bytes are ever whole.
   */
  if (encode_main (img, NULL, NULL, &total) == -1 ||
      lf_ird_buf_append (&res, img->raw, (size_t) s->pub.offset) == -1 ||
      (s->comp == LF_COMP_NONE &&
       lf_ird_buf_zeros (&res, (4 - (res.len & 3)) & 3) == -1))
    goto error;
  enc = lf_encoder_new (s->comp, &res, total);
  if (!enc || encode_main (img, enc, &sr, &written) == -1)
    goto error;
  if (lf_encoder_finish (enc) == -1) {
    lf_error_prefix ("%s: compressing segment %zu", img->name,
                     main_segment (img));
    goto error;
  }
  lf_encoder_free (enc);
  src_close (&sr);
  if (res.p == NULL && (res.p = malloc (1)) == NULL) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  *out = res.p;
  *outlen = res.len;
  return 0;

 error:
  lf_encoder_free (enc);
  src_close (&sr);
  free (res.p);
  return -1;
}

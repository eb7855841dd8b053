/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall convert: disk images to Azure fixed VHDs. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "convert/convert.h"
#include "supervisor/cli.h"

static void
usage (FILE *fp)
{
  fprintf (fp,
"Usage: landfall convert [OPTIONS] SRC\n"
"\n"
"Convert the disk image SRC to a fixed VHD that Azure accepts: virtual\n"
"size rounded up to a whole MiB, an exact 512-byte footer, holes kept\n"
"sparse.  SRC is never modified unless --in-place is given.\n"
"\n"
"Input formats (probed): raw, VHD (fixed, dynamic, differencing with its\n"
"parent found through the locators), VMDK (monolithicSparse,\n"
"streamOptimized, monolithicFlat, twoGbMaxExtent*, via a descriptor),\n"
"qcow2 (v2, v3, compressed clusters, backing files), VHDX (read), and OVA\n"
"archives (each disk is converted).\n"
"\n"
"Options:\n"
"  -o, --output DEST   output file (default: SRC's name with .vhd, in the\n"
"                      current directory); for an OVA, a directory\n"
"      --in-place      make SRC itself a fixed VHD without copying data:\n"
"                      grow it to a whole MiB and append (or rewrite) the\n"
"                      footer; raw images and fixed VHDs only.  A file\n"
"                      that is already right is left untouched\n"
"  -f, --format FMT    SRC's format, instead of probing (");
  for (const char *const *n = lf_format_names (); *n; n++)
    fprintf (fp, "%s%s", *n, n[1] ? ", " : ")\n");
  fprintf (fp,
"      --os-disk       check the OS disk limit (4 TiB) instead of the data\n"
"                      disk limit (32767 GiB)\n"
"      --checksum      add the SHA-256 of the output to the report\n"
"      --no-sync       do not wait for the output to reach the disk (as\n"
"                      qemu-img's default cache mode); faster, but a crash\n"
"                      soon after may leave the output incomplete\n"
"  -j, --threads N     worker threads (default: one per core)\n"
"      --json          print the report as JSON on stdout\n"
"      --no-progress   no progress bar or percentage lines\n"
"  -q, --quiet         print nothing but errors (and --json)\n"
"  -v, --verbose       debug output on stderr (repeat for more)\n"
LF_CLI_ALLOW_BACKING_HELP
"  -h, --help          this help\n"
"\n"
"What a disk names (qcow2 backing files, VHD and VHDX parents, VMDK\n"
"extents and parents) must resolve, after symlinks, inside the directory\n"
"of the file that names it, or inside an --allow-backing DIR, and be a\n"
"regular file: a block device only as SRC itself.  An OVA is\n"
"self-contained: a member that names any other file is refused.  Two\n"
"OVA disks of one base name get the disk's place in the OVA appended\n"
"(disk-1.vhd, disk-2.vhd).  A FIFO, socket or character device is\n"
"refused at once.\n"
"\n"
"Progress goes to stderr: a bar on a terminal, a percentage line every\n"
"few seconds otherwise (serial consoles, logs).\n"
"\n"
"Exit status: 0 success, 1 failure (nothing is left at the output name),\n"
"2 usage error.\n"
"\n"
"Examples:\n"
"  landfall convert web01.vmdk -o web01.vhd\n"
"  landfall convert --in-place --checksum disk.raw\n"
"  landfall convert appliance.ova -o out/ --json\n");
}

struct options {
  const char *output, *format;
  bool in_place, os_disk, checksum, json, quiet, progress, no_sync;
  unsigned threads;
};

/* SRC's base name with its extension replaced by ".vhd", in DIR (or the
 * current directory when DIR is NULL).
 */
static char *
default_output (const char *src, const char *dir)
{
  CLEANUP_FREE char *copy = strdup (src);
  char *base, *dot, *r = NULL;

  if (!copy)
    return NULL;
  base = basename (copy);
  dot = strrchr (base, '.');
  if (dot && dot != base)
    *dot = '\0';
  if (asprintf (&r, "%s%s%s.vhd", dir ? dir : "", dir ? "/" : "", base) == -1)
    return NULL;
  return r;
}

static json_t *
disk_json (struct lf_disk *d)
{
  json_t *chain = json_array ();
  json_t *j = json_pack ("{s:s, s:s, s:s, s:I}",
                         "path", lf_disk_path (d),
                         "format", lf_disk_format (d),
                         "subformat", lf_disk_subformat (d),
                         "virtual_size", (json_int_t) lf_disk_size (d));
  for (struct lf_disk *b = lf_disk_backing (d); b; b = lf_disk_backing (b))
    json_array_append_new (chain,
                           json_pack ("{s:s, s:s, s:s, s:I}",
                                      "path", lf_disk_path (b),
                                      "format", lf_disk_format (b),
                                      "subformat", lf_disk_subformat (b),
                                      "virtual_size",
                                      (json_int_t) lf_disk_size (b)));
  json_object_set_new (j, "backing_chain", chain);
  return j;
}

static json_t *
result_json (const char *dest, const struct lf_convert_result *r, double secs)
{
  json_t *o = json_pack ("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}",
                         "path", dest, "format", "vhd", "subformat", "fixed",
                         "virtual_size", (json_int_t) r->size,
                         "file_size", (json_int_t) r->file_size,
                         "rounded_up_by",
                         (json_int_t) (r->size - r->source_size),
                         "data_bytes", (json_int_t) r->data_bytes,
                         "zero_bytes", (json_int_t) r->zero_bytes);
  if (r->original_file_size)
    json_object_set_new (o, "original_file_size",
                         json_integer ((json_int_t) r->original_file_size));
  if (r->sha256[0])
    json_object_set_new (o, "sha256", json_string (r->sha256));
  return json_pack ("{s:s, s:o, s:f}", "action", r->action, "output", o,
                    "seconds", secs);
}

static void
print_human (const struct options *o, const char *src, const char *desc,
             const char *dest, const struct lf_convert_result *r, double secs)
{
  char a[32], b[32];

  if (o->quiet)
    return;
  if (strcmp (r->action, "already-azure-ready") == 0)
    printf ("%s: already an Azure-ready fixed VHD (%s): left untouched\n",
            src, lf_human_size (r->size, a, sizeof a));
  else if (strcmp (r->action, "converted") == 0)
    printf ("%s (%s) -> %s: fixed VHD, %s, %s of data, in %.2f s\n", src,
            desc, dest, lf_human_size (r->size, a, sizeof a),
            lf_human_size (r->data_bytes, b, sizeof b), secs);
  else
    printf ("%s: %s in place: fixed VHD, %s, in %.3f s (was %" PRIu64
            " bytes, now %" PRIu64 ")\n", src,
            strcmp (r->action, "footer-appended") == 0
            ? "footer appended" : "footer rewritten",
            lf_human_size (r->size, a, sizeof a), secs,
            r->original_file_size, r->file_size);
  if (r->size != r->source_size)
    printf ("  virtual size rounded up from %" PRIu64 " to %" PRIu64
            " bytes (a whole MiB, as Azure requires)\n",
            r->source_size, r->size);
  if (r->sha256[0])
    printf ("  sha256 %s\n", r->sha256);
}

/* Convert one opened disk to DEST; fills REPORT. */
static int
convert_disk (const struct options *o, struct lf_disk *d, const char *label,
              const char *dest, json_t *disks)
{
  struct lf_convert_result r;
  struct lf_convert_opts co = { .threads = o->threads,
                                .checksum = o->checksum,
                                .os_disk = o->os_disk,
                                .no_sync = o->no_sync };
  char desc[96];
  double t0 = lf_now ();
  int ret;

  snprintf (desc, sizeof desc, "%s%s%s", lf_disk_format (d),
            lf_disk_subformat (d)[0] ? " " : "", lf_disk_subformat (d));
  co.progress = lf_progress_new (label, lf_disk_size (d), 2,
                                 o->progress && !o->quiet);
  ret = lf_convert_to_vhd (d, dest, &co, &r);
  lf_progress_free (co.progress);
  if (ret == -1)
    return -1;
  double secs = lf_now () - t0;
  json_t *j = result_json (dest, &r, secs);
  json_object_set_new (j, "source", disk_json (d));
  json_array_append_new (disks, j);
  print_human (o, label, desc, dest, &r, secs);
  return 0;
}

/* The output names of an OVA's N disks, in DIR: each member's base name
 * with .vhd, but where two members share a base name ("a/disk.vmdk" and
 * "b/disk.vmdk") each of them is told apart by its place in the OVA
 * ("disk-1.vhd", "disk-2.vhd"): one disk's output must never overwrite
 * another's.  A name that still collides is refused.
 */
static char **
ova_outputs (const char *src, const struct lf_ova_disk *m, int n,
             const char *dir)
{
  char **v = calloc ((size_t) n, sizeof *v);

  if (!v)
    goto nomem;
  for (int i = 0; i < n; i++)
    if (!(v[i] = default_output (m[i].name, dir)))
      goto nomem;
  for (int i = 0; i < n; i++) {
    bool shared = false;
    for (int j = 0; j < n; j++) {
      CLEANUP_FREE char *b = default_output (m[j].name, dir);
      if (!b)
        goto nomem;
      shared |= j != i && strcmp (b, v[i]) == 0;
    }
    if (shared) {
      size_t len = strlen (v[i]) - 4;    /* without ".vhd" */
      char *r;
      if (asprintf (&r, "%.*s-%d.vhd", (int) len, v[i], i + 1) == -1)
        goto nomem;
      free (v[i]);
      v[i] = r;
    }
  }
  for (int i = 0; i < n; i++)
    for (int j = 0; j < i; j++)
      if (strcmp (v[i], v[j]) == 0) {
        lf_error (EEXIST, "%s: members \"%s\" and \"%s\" would both be "
                  "written to %s: refused (one would overwrite the other)",
                  src, m[j].name, m[i].name, v[i]);
        goto error;
      }
  return v;

 nomem:
  lf_error (ENOMEM, "out of memory");
 error:
  for (int i = 0; v && i < n; i++)
    free (v[i]);
  free (v);
  return NULL;
}

static int
convert_ova (const struct options *o, const char *src, json_t *disks)
{
  struct lf_ova_disk *members = NULL;
  const char *dir = o->output ? o->output : ".";
  int n = lf_ova_list (src, &members), ret = -1;
  char **dests = NULL;

  if (n == -1)
    return -1;
  if (n == 0) {
    lf_error (EINVAL, "%s: the OVA holds no disk", src);
    goto out;
  }
  if (!(dests = ova_outputs (src, members, n, dir)))
    goto out;
  if (mkdir (dir, 0755) == -1 && errno != EEXIST) {
    lf_error (errno, "%s: %m", dir);
    goto out;
  }
  for (int i = 0; i < n; i++) {
    struct lf_disk *d = lf_disk_open_ova_member (src, &members[i]);
    const char *dest = dests[i];
    CLEANUP_FREE char *label = NULL;
    if (!d)
      goto out;
    if (asprintf (&label, "%s:%s", src, members[i].name) == -1) {
      label = NULL;
      lf_error (ENOMEM, "out of memory");
      lf_disk_close (d);
      goto out;
    }
    int r = convert_disk (o, d, label, dest, disks);
    lf_disk_close (d);
    if (r == -1) {
      lf_error_prefix ("%s", members[i].name);
      goto out;
    }
  }
  ret = 0;
 out:
  for (int i = 0; dests && i < n; i++)
    free (dests[i]);
  free (dests);
  lf_ova_free (members, n);
  return ret;
}

static int
in_place (const struct options *o, const char *src, json_t *disks)
{
  struct lf_convert_result r;
  struct lf_convert_opts co = { .checksum = o->checksum,
                                .os_disk = o->os_disk };
  double t0 = lf_now ();

  if (lf_convert_in_place (src, &co, &r) == -1)
    return -1;
  double secs = lf_now () - t0;
  json_t *j = result_json (src, &r, secs);
  json_array_append_new (disks, j);
  print_human (o, src, "", src, &r, secs);
  return 0;
}

int
lf_cmd_convert (int argc, char *argv[])
{
  enum { OPT_IN_PLACE = 256, OPT_OS_DISK, OPT_CHECKSUM, OPT_JSON,
         OPT_NO_PROGRESS, OPT_NO_SYNC };
  static const struct option longopts[] = {
    { "output",      required_argument, NULL, 'o' },
    { "format",      required_argument, NULL, 'f' },
    { "threads",     required_argument, NULL, 'j' },
    { "in-place",    no_argument,       NULL, OPT_IN_PLACE },
    { "os-disk",     no_argument,       NULL, OPT_OS_DISK },
    { "checksum",    no_argument,       NULL, OPT_CHECKSUM },
    { "json",        no_argument,       NULL, OPT_JSON },
    { "no-progress", no_argument,       NULL, OPT_NO_PROGRESS },
    { "no-sync",     no_argument,       NULL, OPT_NO_SYNC },
    { "quiet",       no_argument,       NULL, 'q' },
    { "verbose",     no_argument,       NULL, 'v' },
    LF_CLI_ALLOW_BACKING_OPTION,
    { "help",        no_argument,       NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  struct options o = { .progress = true };
  json_t *report = NULL, *disks = NULL;
  const char *src;
  double t0 = lf_now ();
  int c, probe, ret = LF_EXIT_FAILED;

  optind = 1;
  while ((c = getopt_long (argc, argv, "o:f:j:qvh", longopts, NULL)) != -1) {
    switch (c) {
    case 'o': o.output = optarg; break;
    case 'f': o.format = optarg; break;
    case 'j': {
      unsigned long n;
      if (lf_parse_uint (optarg, 1, 64, &n) == -1) {
        fprintf (stderr, "%s convert: --threads takes a number from 1 to 64\n",
                 lf_progname);
        return LF_EXIT_USAGE;
      }
      o.threads = (unsigned) n;
      break;
    }
    case OPT_IN_PLACE: o.in_place = true; break;
    case OPT_OS_DISK: o.os_disk = true; break;
    case OPT_CHECKSUM: o.checksum = true; break;
    case OPT_JSON: o.json = true; break;
    case OPT_NO_PROGRESS: o.progress = false; break;
    case OPT_NO_SYNC: o.no_sync = true; break;
    case 'q': o.quiet = true; break;
    case 'v': lf_debug_level++; break;
    case LF_OPT_ALLOW_BACKING:
      if (lf_cli_allow_backing ("convert", optarg) == -1)
        return LF_EXIT_USAGE;
      break;
    case 'h': usage (stdout); return LF_EXIT_OK;
    default: usage (stderr); return LF_EXIT_USAGE;
    }
  }
  if (optind != argc - 1) {
    fprintf (stderr, "%s convert: expected one source image (see --help)\n",
             lf_progname);
    return LF_EXIT_USAGE;
  }
  src = argv[optind];
  if (o.in_place && (o.output || o.format)) {
    fprintf (stderr, "%s convert: --in-place takes neither -o nor -f\n",
             lf_progname);
    return LF_EXIT_USAGE;
  }
  /* --json keeps stdout for the document: the human summary goes away. */
  if (o.json)
    o.quiet = true;

  disks = json_array ();
  if (o.in_place) {
    if (in_place (&o, src, disks) == -1)
      goto out;
  }
  else if (!o.format && (probe = lf_ova_probe (src)) != LF_NO_MATCH) {
    /* -1: the source cannot be opened (a FIFO, say): say so once, rather
     * than open it a second time as a disk.
     */
    if (probe == -1 || convert_ova (&o, src, disks) == -1)
      goto out;
  }
  else {
    struct lf_disk *d = lf_disk_open (src, o.format);
    CLEANUP_FREE char *dest = NULL;
    if (!d)
      goto out;
    if (o.output)
      dest = strdup (o.output);
    else
      dest = default_output (src, NULL);
    if (!dest) {
      lf_error (ENOMEM, "out of memory");
      lf_disk_close (d);
      goto out;
    }
    int r = convert_disk (&o, d, src, dest, disks);
    lf_disk_close (d);
    if (r == -1)
      goto out;
  }
  ret = LF_EXIT_OK;

 out:
  if (ret != LF_EXIT_OK)
    lf_cli_print_error ();
  if (o.json) {
    report = json_pack ("{s:s, s:b, s:o, s:f}", "command", "convert",
                        "ok", ret == LF_EXIT_OK, "disks", disks,
                        "seconds", lf_now () - t0);
    disks = NULL;
    if (ret != LF_EXIT_OK)
      json_object_set_new (report, "error", json_string (lf_last_error ()));
    lf_cli_print_json (report);
    json_decref (report);
  }
  json_decref (disks);
  return ret;
}

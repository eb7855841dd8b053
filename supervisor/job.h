/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall supervisor/: the failover job, grouped by source file.
 *
 * A job names one machine, its disks, where the result goes and how; the
 * runner sequences prerequisites, convert, fix, verify and report, keeps a
 * state file so that a killed run resumes, and writes the report.  The
 * same code serves `landfall run` and, later, the appliance's PID 1, so
 * nothing here prints except through the caller's log callbacks and
 * nothing here exits.
 */
#ifndef LF_JOB_H
#define LF_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* input.c
 *
 * The small input files (job, manifest, plan): read whole and capped,
 * hashed, and the JSON ones' fields checked as hostile input, each error
 * naming the file and the field ("groups[2].pre[0].timeout").
 */
#define LF_NAME_MAX 64          /* ids, group and plan names */
#define LF_JSON_BAD ((const char *) -1)

/* Read PATH, a regular file, into a new NUL-terminated *RET: at most
 * MAX + 1 bytes (more than MAX is the parser's error to report).  DIR
 * gets PATH's directory, resolved: relative names in the file are
 * relative to it.
 */
extern int lf_input_read (const char *path, size_t max, char **ret,
                          size_t *len, char dir[]);
/* Only KEYS may appear in object O (FIELD names it in messages). */
extern int lf_json_only_keys (const char *name, const char *field, json_t *o,
                              const char *const *keys);
/* BUF (LEN bytes, at most MAX) as a JSON object with only KEYS; WHAT
 * ("manifest", "plan") names it in messages.  A new reference or NULL.
 */
extern json_t *lf_json_load_object (const char *buf, size_t len,
                                    const char *name, const char *what,
                                    size_t max, const char *const *keys);
/* A file name (resolved under BASEDIR, a new string), or NULL. */
extern char *lf_json_path (const char *name, const char *field, json_t *v,
                           const char *basedir);
/* Printable, no spaces, 1 to LF_NAME_MAX bytes: safe in file names,
 * messages and listings.
 */
extern bool lf_name_ok (const char *s);
/* V as a name (lf_name_ok); NULL if absent and OPTIONAL; LF_JSON_BAD
 * with the error recorded.
 */
extern const char *lf_json_name (const char *name, const char *field,
                                 json_t *v, bool optional);
/* V as text of 1 to MAX bytes without NUL, as lf_json_name returns. */
extern const char *lf_json_text (const char *name, const char *field,
                                 json_t *v, size_t max, bool optional);

/* disks.c
 *
 * Disks named as the platform attaches them (lun:N, lun:H:N, nvme:N,
 * serial:S, /dev/disk/by-id/NAME, /dev/disk/azure/scsi1/lunN), resolved
 * from sysfs: the appliance has no udev.  The syntax is at the top of
 * disks.c and in README.md.
 */
#define LF_DISK_MAX_SPEC     256
#define LF_DISK_MAX_LUN      16383        /* SCSI's flat LUN space */
#define LF_DISK_MAX_HOST     65535
#define LF_DISK_MAX_NSID     4294967294UL
#define LF_DISK_MAX_DEVICES  4096
#define LF_DISK_MAX_SERIAL   128

enum lf_disk_kind {
  LF_DISK_LUN, LF_DISK_NVME, LF_DISK_SERIAL, LF_DISK_BYID,
  LF_DISK_PATH,                 /* another /dev/disk/ link: udev's only */
};

struct lf_disk_spec {
  enum lf_disk_kind kind;
  long host;                    /* lun:H:N; -1: the other controller */
  unsigned long num;            /* LUN or namespace id */
  char text[LF_DISK_MAX_SERIAL + 1];    /* serial, by-id name */
};

struct lf_blockdev {
  char name[64];                /* "sdc", "nvme0n2", "vdb" */
  int host, channel, target;    /* SCSI address; host -1: not SCSI */
  unsigned long lun;
  int nvme_ctrl;                /* -1: not NVMe */
  unsigned long nsid;
  char serial[LF_DISK_MAX_SERIAL + 1];  /* "" if none */
  uint64_t size;                /* bytes */
};

struct lf_blockdevs {
  size_t n;
  struct lf_blockdev *d;        /* by SCSI host, LUN, then name */
};

/* Is S meant as a disk name rather than a file (lun:, nvme:, serial:,
 * /dev/disk/)?  Its shape is checked by lf_disk_spec_parse.
 */
extern bool lf_disk_spec_is (const char *s);
extern int lf_disk_spec_parse (const char *s, struct lf_disk_spec *spec);
/* The whole disks under ROOT/sys/class/block (ROOT "/" for the system's). */
extern int lf_blockdevs_scan (const char *root, struct lf_blockdevs *devs);
extern void lf_blockdevs_free (struct lf_blockdevs *devs);
extern const struct lf_blockdev *lf_blockdevs_find (const struct lf_blockdevs *devs,
                                                    const char *name);
/* For reports: every disk with its SCSI address, LUN, namespace, serial
 * and size; OWN_HOST's are marked as the system's own.
 */
extern json_t *lf_blockdevs_json (const struct lf_blockdevs *devs, long own_host);
extern void lf_blockdev_describe (const struct lf_blockdev *d, char *buf,
                                  size_t len);
/* The device node SPEC names among DEVS into NAME ("/dev/sdc").  lun:N
 * looks at every SCSI host but OWN_HOST (-1: none).  -1 with the error
 * recorded: no such disk (naming the LUNs, namespaces or serials seen),
 * or several.
 */
extern int lf_disk_spec_resolve (const struct lf_blockdevs *devs,
                                 const char *spec, long own_host,
                                 char *name, size_t len);
/* The SCSI host of disk OWN_DISK ("sda" or "/dev/sda"), or -1. */
extern long lf_disk_own_host (const struct lf_blockdevs *devs,
                              const char *own_disk);
/* The whole disk "/" is on ("sda"), or "". */
extern void lf_disk_of_root (const char *root, char *name, size_t len);
/* The whole disk's name ("sda") for the sysfs directory SYSDIR of a disk
 * or of one of its partitions; "" if SYSDIR does not resolve.
 */
extern void lf_sysfs_disk_name (const char *sysdir, char *name, size_t len);

/* job.c
 *
 * The job file is key = value text, one setting per line (documented in
 * `landfall run --help` and README.md).  It is small and typed by hand
 * or generated; it is still checked as hostile input: every line, value
 * and count is capped and every error names the file and the line.
 */
#define LF_JOB_MAX_SIZE     (64 * 1024)  /* the whole file */
#define LF_JOB_MAX_LINE     4096         /* bytes in one line (PATH_MAX) */
#define LF_JOB_MAX_DISKS    64           /* Azure allows 64 data disks */
#define LF_JOB_MAX_MACHINE  64           /* machine name: it names files */
#define LF_JOB_MAX_ROOTDELAY 3600        /* seconds */

struct lf_job_disk {
  char *given;                  /* as written in the job file */
  char *path;                   /* resolved against the job's directory */
  bool os;                      /* the OS disk (always disks[0]) */
  bool spec;                    /* PATH is a disk name (lf_disk_spec_is),
                                   resolved by the run's first step */
  size_t line;                  /* 1-based line in the job file */
};

/* When the libguestfs backend reads and writes a guest: the job key
 * guestfs and every command's --guestfs.  AUTO launches its appliance only
 * for what no native backend reads (XFS, btrfs, LVs that are not linear).
 */
enum lf_guestfs_when { LF_GUESTFS_AUTO, LF_GUESTFS_ALWAYS, LF_GUESTFS_NEVER };
/* "auto", "always", "never"; -1 for anything else. */
extern int lf_guestfs_when_parse (const char *s);

struct lf_job {
  char *name;                   /* the job file's name, for messages */
  char *machine;
  char *source;                 /* "physical", "vmware", "hyperv-as-physical" */
  char *profile;                /* "azure-gen1", "azure-gen2", "auto" */
  bool in_place;
  char *output;                 /* resolved directory; NULL when in place */
  size_t ndisks;
  struct lf_job_disk *disks;    /* the OS disk first, then data disks in
                                   the file's order */
  bool rdp_no_nla;
  bool checksum;
  int rootdelay;                /* -1: chosen by the fix */
  int guestfs;                  /* enum lf_guestfs_when, or -1: not given
                                   (LANDFALL_GUESTFS, else auto) */
  char sha256[65];              /* of the file's bytes but the
                                   recovery-point line: a resumed run must
                                   run the same job (the point is checked
                                   apart: changing it re-runs from it) */
  /* Recovery points (points.c): with a manifest the disks are the chosen
   * point's overlays, filled in by lf_job_load.
   */
  char **allow_backing;         /* resolved directories (allow-backing),
                                   registered by lf_job_load */
  size_t nallow_backing;
  char *manifest;               /* resolved, or NULL */
  size_t manifest_line;
  char *recovery_point;         /* the option or point id ("latest") */
  char *point_id;               /* the point chosen, once loaded */
  char *point_time;
  const char *point_why;        /* static */
};

/* Parse BUF (LEN bytes, need not be NUL-terminated) named NAME; relative
 * paths are taken relative to BASEDIR.  NULL with the error recorded as
 * "NAME:LINE: what".
 */
extern struct lf_job *lf_job_parse (const char *buf, size_t len,
                                    const char *name, const char *basedir);
/* Read and parse the job file PATH (paths relative to its directory);
 * with a manifest, choose the recovery point and take its overlays as
 * the disks.  GROUP_POINT (or NULL) is the common point a recovery plan
 * chose for the machine's replication group from every member's
 * manifest, which one job alone cannot see.
 */
extern struct lf_job *lf_job_load (const char *path,
                                   const char *group_point);
extern void lf_job_free (struct lf_job *job);
/* For a job with a manifest: choose the point, fill in the disks. */
extern int lf_job_choose_point (struct lf_job *job,
                                const char *group_point);
/* Does PATH look like a job file (a small regular file whose first
 * setting is a known key)?  For `landfall undo`, which takes disks or a
 * job.  No error is recorded.
 */
extern bool lf_job_looks_like (const char *path);
/* The output file of disk I: OUTPUT/MACHINE-os.vhd, MACHINE-data1.vhd...,
 * or the source itself in place.  A new string.
 */
extern char *lf_job_output_path (const struct lf_job *job, size_t i);
/* The job's state file: OUTPUT/.landfall-job.json, or in place
 * .landfall-job-MACHINE.json beside the job file's directory.
 */
extern char *lf_job_state_path (const struct lf_job *job, const char *jobdir);

/* points.c
 *
 * A protected disk's recovery points (failover.md section 7): a JSON
 * manifest names the machine's base images and, oldest first, its points,
 * each an overlay per disk (qcow2 with a backing file, VHD differencing)
 * whose chain ends at that disk's base.  Documented in README.md and
 * `landfall points --help`.  Parsed as hostile input; selection is pure.
 */
#define LF_POINTS_MAX_SIZE   (1024 * 1024)  /* the manifest file */
#define LF_POINTS_MAX_POINTS 4096         /* 15 days at one per 5 min */
#define LF_POINTS_MAX_ID     LF_NAME_MAX  /* point id, group name */

struct lf_point {
  char *id;
  int64_t time;                 /* seconds since 1970, UTC */
  char time_text[21];           /* YYYY-MM-DDTHH:MM:SSZ */
  bool app;                     /* app-consistent (else crash-consistent) */
  bool processed;
  char *group;                  /* a multi-VM point of this group, or NULL */
  char **overlays;              /* [ndisks], resolved */
};

struct lf_points {
  char *name;                   /* the manifest's path, for messages */
  char *machine;                /* or NULL */
  char *group;                  /* the machine's replication group, or NULL */
  char *committed;              /* the point committed to, or NULL */
  bool source_available;        /* false: pending data cannot be processed */
  size_t ndisks;
  char **bases;                 /* [ndisks], resolved; the OS disk first */
  size_t nallow_backing;
  char **allow_backing;         /* "allow-backing", resolved */
  size_t npoints;
  struct lf_point *points;      /* oldest first */
};

/* Parse BUF (LEN bytes) named NAME; relative paths relative to BASEDIR.
 * NULL with "NAME: field: what" recorded.  Opens no file.
 */
extern struct lf_points *lf_points_parse (const char *buf, size_t len,
                                          const char *name,
                                          const char *basedir);
/* Read, parse, and check every overlay's real chain (lf_points_check). */
extern struct lf_points *lf_points_load (const char *path);
extern void lf_points_free (struct lf_points *m);
/* Open each overlay and check that its chain is the manifest's: itself,
 * then only earlier points' overlays of the same disk, newest first, then
 * the base, and nothing below.
 */
extern int lf_points_check (const struct lf_points *m);

/* The recovery-point options, as in the job file and --select. */
extern const char *const lf_point_options[];
/* Is S an option name (else it is taken as a point id)? */
extern bool lf_point_is_option (const char *s);
/* Is S one of the latest-multivm-* options (a group's common point)? */
extern bool lf_point_is_multivm (const char *s);
/* The point OPTION chooses for machine MS[WHICH]; the other manifests
 * of MS are the other machines failing over with it (the members of its
 * replication group, if any).  The index into MS[WHICH]->points, or -1
 * with the reason recorded.  *WHY (may be NULL) gets a static note.
 */
extern long lf_points_select (struct lf_points *const *ms, size_t n,
                              size_t which, const char *option,
                              const char **why);
/* The overlays (all disks) in the chain of point K of M, as a new
 * NULL-terminated array of paths (realpath'd); NULL on error.
 */
extern char **lf_points_chain (const struct lf_points *m, size_t k);

/* run.c (with run-state.c, run-prereq.c, run-steps.c, run-report.c) */

enum lf_run_result {
  LF_RUN_OK,                    /* every step done, no warning */
  LF_RUN_WARNINGS,              /* done, with warnings in the report */
  LF_RUN_FAILED,                /* a step failed (the report says which) */
  LF_RUN_INTERRUPTED,           /* SIGINT/SIGTERM: stopped at a safe point,
                                   resumable by the same command */
};

struct lf_run_opts {
  bool progress;                /* progress bars / percentage lines */
  int log_fd;                   /* step lines and progress (stderr), -1: none */
  const char *jobdir;           /* the job file's directory */
  const char *job_path;         /* for the report */
  json_t *appliance;            /* the appliance's facts (PID 1), put in the
                                   report as "appliance"; NULL on the CLI */
};

/* Run (or resume) JOB.  *REPORT gets the report (also written to the
 * output directory once the job got past its prerequisites); it is set
 * whatever the result, except when -1 is returned for an error outside
 * the steps (the state file unreadable, out of memory), recorded.
 */
extern int lf_run_job (const struct lf_job *job, const struct lf_run_opts *o,
                       enum lf_run_result *result, json_t **report);
/* Revert the fixes of JOB's output disks (the guest journal), and mark
 * the fix, verify and report steps pending in its state file.
 */
extern int lf_run_undo (const struct lf_job *job, const char *jobdir,
                        json_t **report);
/* Write J to PATH atomically (temporary, fsync, rename, fsync of the
 * directory): a crash leaves the old file or the new.
 */
extern int lf_write_json_atomic (const char *path, json_t *j);
/* The one-screen summary of REPORT, for a terminal or a serial console. */
extern void lf_run_print_summary (const json_t *report, FILE *fp);

/* recovery-plan-file.c (the file), recovery-plan.c (the run)
 *
 * A recovery plan (failover.md section 8): machines (job files) in
 * ordered groups, with scripts and manual actions before and after each
 * group and around them all.  The file format is at the top of
 * recovery-plan-file.c and in `landfall plan --help`.
 */
#define LF_RPLAN_MAX_SIZE      (256 * 1024)
#define LF_RPLAN_MAX_GROUPS    7        /* as ASR */
#define LF_RPLAN_MAX_MACHINES  100      /* as ASR, in the whole plan */
#define LF_RPLAN_MAX_ACTIONS   32       /* in one pre or post list */
#define LF_RPLAN_MAX_NAME      128      /* an action's name */
#define LF_RPLAN_MAX_TEXT      4096     /* a manual action's instructions */
#define LF_RPLAN_DEFAULT_TIMEOUT 600    /* seconds, as ASR's scripts */
#define LF_RPLAN_MAX_TIMEOUT   86400

enum lf_failover_type {
  LF_FAILOVER_TEST, LF_FAILOVER_PLANNED, LF_FAILOVER_UNPLANNED,
};
/* "test", "planned" or "unplanned" to *T; -1 with the error recorded. */
extern int lf_failover_type (const char *s, enum lf_failover_type *t);
extern const char *lf_failover_type_name (enum lf_failover_type t);

struct lf_rplan_action {
  char *name;
  char *script;                 /* resolved; NULL: a manual action */
  char *instructions;           /* a manual action's */
  unsigned timeout;             /* seconds (scripts) */
  unsigned applies;             /* bit 1 << enum lf_failover_type */
};

struct lf_rplan_list {
  size_t n;
  struct lf_rplan_action *a;
};

struct lf_rplan_group {
  size_t nmachines;
  char **jobs;                  /* job files, resolved */
  struct lf_rplan_list pre, post;
};

struct lf_rplan {
  char *file;                   /* for messages */
  char *name;
  char *output;                 /* resolved: state, logs, report */
  char sha256[65];              /* of the file: a re-run must be the same
                                   plan */
  struct lf_rplan_list pre, post;       /* "All groups failover" */
  size_t ngroups;
  struct lf_rplan_group *groups;
};

extern struct lf_rplan *lf_rplan_parse (const char *buf, size_t len,
                                        const char *name,
                                        const char *basedir);
extern struct lf_rplan *lf_rplan_load (const char *path);
extern void lf_rplan_free (struct lf_rplan *p);

struct lf_rplan_opts {
  enum lf_failover_type type;
  bool resume;                  /* the operator did the manual action the
                                   plan waits for */
  const char *comment;          /* recorded with it, or NULL */
  unsigned jobs;                /* machines at once (>= 1) */
  int log_fd;                   /* task lines, -1: none */
};

enum lf_rplan_result {
  LF_RPLAN_OK, LF_RPLAN_WARNINGS, LF_RPLAN_FAILED, LF_RPLAN_SUSPENDED,
  LF_RPLAN_INTERRUPTED,
};

/* Run (or continue) plan P; *REPORT gets the aggregated report, also
 * written to P's output directory.  -1 (error recorded) for what stops
 * the plan from running at all: the preflight checks (a job file that
 * does not load, a machine twice, two jobs with one output directory),
 * a changed plan, an unwritable state file.
 */
extern int lf_rplan_run (const struct lf_rplan *p,
                         const struct lf_rplan_opts *o,
                         enum lf_rplan_result *res, json_t **report);
extern void lf_rplan_print_summary (const json_t *report, FILE *fp);
/* RES as `landfall plan`'s exit status. */
extern int lf_rplan_exit_status (enum lf_rplan_result res);

#endif /* LF_JOB_H */

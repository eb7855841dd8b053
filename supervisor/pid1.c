/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall supervisor/: PID 1 of the appliance.
 *
 * The appliance's initramfs holds landfall as /init and nothing else that
 * runs.  As PID 1 it: mounts proc, sys, dev, run; loads the kernel modules
 * listed at build time (images/mk-appliance.sh: /etc/landfall/modules,
 * dependencies first, since there is no modprobe for the kernel to call);
 * waits for the job disk (a filesystem labelled LANDFALLJOB, or what
 * landfall.job= names); mounts it; runs the job file on it with the
 * guest filesystems mounted by the kernel (LANDFALL_MOUNT=kernel); writes
 * the report and the log back to the job disk; and powers off.
 *
 * PID 1 must never exit (the kernel panics).  Every fatal error is logged,
 * written to the job disk when it is mounted, synced, and then the machine
 * powers off -- or, with landfall.debug=1 on the command line, stays up so
 * the console can be read.
 *
 * Kernel command line:
 *   landfall.job=LABEL=NAME | /dev/NODE | lun:N | serial:S ...
 *                                         the job disk (default
 *                                         LABEL=LANDFALLJOB; the disk names
 *                                         of supervisor/disks.c)
 *   landfall.file=NAME                    the job file on it (default landfall.job)
 *   landfall.wait=SECONDS                 for the disks (default 60)
 *   landfall.debug=1                      stay up after an error; verbose
 *   landfall.test=crash                   (tests) the job process crashes
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <blkid.h>
#include <jansson.h>

#include "common/common.h"
#include "supervisor/cli.h"
#include "hw/hw.h"
#include "supervisor/job.h"

#define JOBDIR   "/run/landfall/job"
#define LOGTMP   "/run/landfall/landfall.log"

static struct {
  char job[256];                /* landfall.job= */
  char file[128];               /* landfall.file= */
  int wait;                     /* landfall.wait= */
  bool debug;                   /* landfall.debug= */
  bool test_crash;              /* landfall.test=crash: the job process
                                   kills itself (tests/test-appliance.sh) */
  double t_start;               /* kernel uptime at our first line */
  bool job_mounted;
  int logfd;                    /* the log, in /run until the job disk */
  json_t *events;               /* what PID 1 did, for the report */
} st = { .wait = 60, .logfd = -1 };

static double
uptime (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_BOOTTIME, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* One line to the console (stdout) and the log, with the time since the
 * kernel started, the way the kernel stamps its own lines.
 */
static void LF_PRINTF (1, 2)
say (const char *fmt, ...)
{
  char line[1024];
  va_list ap;
  int n = snprintf (line, sizeof line, "[%8.3f] landfall: ", uptime ());
  va_start (ap, fmt);
  vsnprintf (line + n, sizeof line - (size_t) n, fmt, ap);
  va_end (ap);
  size_t len = strlen (line);
  if (len < sizeof line - 1)
    line[len++] = '\n';
  (void) !write (1, line, len);
  if (st.logfd >= 0)
    (void) !write (st.logfd, line, len);
}

/* fd 2 (our errors, the runner's step lines) goes through a pipe to the
 * console and the log both.
 */
static int console_fd = -1;
static void *
tee_thread (void *arg)
{
  int rfd = (int) (intptr_t) arg;
  char buf[4096];
  ssize_t n;
  while ((n = read (rfd, buf, sizeof buf)) > 0) {
    (void) !write (console_fd, buf, (size_t) n);
    if (st.logfd >= 0)
      (void) !write (st.logfd, buf, (size_t) n);
  }
  return NULL;
}

static void
setup_console (void)
{
  int fd = open ("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd >= 0) {
    dup2 (fd, 0);
    dup2 (fd, 1);
    console_fd = fd;
  }
  else
    console_fd = dup (1);
  int p[2];
  pthread_t t;
  if (pipe2 (p, O_CLOEXEC) == 0 &&
      pthread_create (&t, NULL, tee_thread, (void *) (intptr_t) p[0]) == 0) {
    dup2 (p[1], 2);
    close (p[1]);
    pthread_detach (t);
  }
  else if (fd >= 0)
    dup2 (fd, 2);
  setvbuf (stderr, NULL, _IOLBF, 0);
}

static void
mount_early (void)
{
  static const struct { const char *src, *dir, *type; unsigned long fl; } m[] = {
    { "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC },
    { "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC },
    { "devtmpfs", "/dev", "devtmpfs", MS_NOSUID },
    { "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV },
    { "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV },
  };
  for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
    mkdir (m[i].dir, 0755);
    (void) mount (m[i].src, m[i].dir, m[i].type, m[i].fl, NULL);
  }
  mkdir ("/run/landfall", 0700);
}

static void
read_cmdline (void)
{
  char buf[4096] = "";
  FILE *fp = fopen ("/proc/cmdline", "r");
  if (fp) {
    if (!fgets (buf, sizeof buf, fp))
      buf[0] = '\0';
    fclose (fp);
  }
  snprintf (st.job, sizeof st.job, "LABEL=LANDFALLJOB");
  snprintf (st.file, sizeof st.file, "landfall.job");
  for (char *save = NULL, *w = strtok_r (buf, " \t\n", &save); w;
       w = strtok_r (NULL, " \t\n", &save)) {
    if (strncmp (w, "landfall.job=", 13) == 0)
      snprintf (st.job, sizeof st.job, "%s", w + 13);
    else if (strncmp (w, "landfall.file=", 14) == 0 && !strchr (w + 14, '/'))
      snprintf (st.file, sizeof st.file, "%s", w + 14);
    else if (strncmp (w, "landfall.wait=", 14) == 0)
      st.wait = LF_MAX (1, atoi (w + 14));
    else if (strcmp (w, "landfall.debug=1") == 0)
      st.debug = true;
    else if (strcmp (w, "landfall.test=crash") == 0)
      st.test_crash = true;
    else if (strncmp (w, "landfall.image_bytes=", 21) == 0)
      json_object_set_new (st.events, "image_bytes",
                           json_integer (strtoll (w + 21, NULL, 10)));
  }
}

/* The modules, in the order mk-appliance.sh resolved.  A driver for
 * hardware that is not there loads and idles, or says ENODEV: both fine.
 */
static void
load_modules (const char *list)
{
  FILE *fp = fopen (list, "r");
  char path[512];
  unsigned ok = 0, failed = 0, idle = 0;
  double t0 = uptime ();

  if (!fp) {
    say ("no %s: loading no modules", list);
    return;
  }
  while (fgets (path, sizeof path, fp)) {
    path[strcspn (path, "\n")] = '\0';
    if (!path[0])
      continue;
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    /* EEXIST: built in or loaded; ENODEV: no such hardware (hv_vmbus
     * off Hyper-V); ENOENT from finit_module: a module it needs did not
     * load for that reason (hv_storvsc then).  Only the rest is news.
     */
    if (fd == -1 || syscall (SYS_finit_module, fd, "", 0) == -1) {
      if (fd == -1 || (errno != EEXIST && errno != ENODEV && errno != ENOENT)) {
        failed++;
        say ("module %s: %m", path);
      }
      else
        idle++;
    }
    else
      ok++;
    if (fd >= 0)
      close (fd);
  }
  fclose (fp);
  say ("%s: %u modules loaded in %.2f s (%u for absent hardware)%s", list,
       ok, uptime () - t0, idle, failed ? "; some failed: see above" : "");
  json_t *m = json_object_get (st.events, "modules");
  if (!m)
    json_object_set_new (st.events, "modules", m = json_object ());
  json_object_set_new (m, list, json_pack ("{s:i, s:i, s:f}", "loaded", ok,
                                           "failed", failed,
                                           "seconds", uptime () - t0));
}

/* Every block device the kernel has, with what blkid finds on it. */
static json_t *
list_disks (const char *want_label, char *found, size_t n)
{
  json_t *disks = json_array ();
  DIR *d = opendir ("/sys/class/block");
  struct dirent *e;

  if (found)
    found[0] = '\0';
  if (!d)
    return disks;
  while ((e = readdir (d)) != NULL) {
    char node[300];
    if (e->d_name[0] == '.' || strncmp (e->d_name, "loop", 4) == 0 ||
        strncmp (e->d_name, "ram", 3) == 0)
      continue;
    snprintf (node, sizeof node, "/dev/%s", e->d_name);
    const char *label = NULL, *type = NULL;
    blkid_probe pr = blkid_new_probe_from_filename (node);
    if (pr) {
      blkid_probe_enable_superblocks (pr, 1);
      blkid_probe_set_superblocks_flags (pr, BLKID_SUBLKS_LABEL | BLKID_SUBLKS_TYPE);
      if (blkid_do_safeprobe (pr) == 0) {
        blkid_probe_lookup_value (pr, "LABEL", &label, NULL);
        blkid_probe_lookup_value (pr, "TYPE", &type, NULL);
      }
    }
    json_array_append_new (disks, json_pack ("{s:s, s:s, s:s}", "device", node,
                                             "type", type ? type : "",
                                             "label", label ? label : ""));
    if (found && !found[0] && want_label && label && strcmp (label, want_label) == 0)
      snprintf (found, n, "%s", node);
    if (pr)
      blkid_free_probe (pr);
  }
  closedir (d);
  return disks;
}

/* The modules of the filesystem types now on the disks that the base
 * list left out (/etc/landfall/modules.TYPE).
 */
static void
load_fs_modules (void)
{
  json_t *disks = list_disks (NULL, NULL, 0), *dk;
  size_t i;
  json_array_foreach (disks, i, dk) {
    const char *t = json_string_value (json_object_get (dk, "type"));
    char list[128];
    if (!t || !*t || strchr (t, '/') || strlen (t) > 32)
      continue;
    snprintf (list, sizeof list, "/etc/landfall/modules.%s", t);
    if (access (list, R_OK) == 0 &&
        !json_object_get (json_object_get (st.events, "modules"), list))
      load_modules (list);
  }
  json_decref (disks);
}

/* The appliance's own disk: the one whose partition is labelled LFBOOT
 * (images/mk-appliance.sh), as "sda"; "" when it booted without one (PXE,
 * QEMU -kernel).  Its SCSI controller is not where lun:N looks.
 */
static void
find_own_disk (json_t *disks, char *own, size_t n)
{
  size_t i;
  json_t *dk;

  own[0] = '\0';
  json_array_foreach (disks, i, dk) {
    const char *dev = json_string_value (json_object_get (dk, "device"));
    const char *label = json_string_value (json_object_get (dk, "label"));
    char sys[300];
    if (!dev || !label || strcmp (label, "LFBOOT") != 0)
      continue;
    snprintf (sys, sizeof sys, "/sys/class/block/%s", dev + 5);
    lf_sysfs_disk_name (sys, own, n);
    if (own[0])
      return;
  }
}

/* A disk named as the platform attaches it (lun:N, serial:S...), now:
 * 0 with its node, or -1 with the reason recorded.
 */
static int
resolve_now (const char *spec, const char *own, char *node, size_t n)
{
  struct lf_blockdevs devs;
  int r = -1;
  if (lf_blockdevs_scan ("/", &devs) == 0) {
    r = lf_disk_spec_resolve (&devs, spec, lf_disk_own_host (&devs, own),
                              node, n);
    lf_blockdevs_free (&devs);
  }
  return r;
}

/* Every disk with its SCSI address, LUN, serial and size: to the log and
 * the report, so that whoever attached the disks sees what arrived where.
 */
static void
record_disks (const char *own, const char *when)
{
  struct lf_blockdevs devs;
  char desc[256];

  if (lf_blockdevs_scan ("/", &devs) == -1)
    return;
  long own_host = lf_disk_own_host (&devs, own);
  say ("disks %s:", when);
  for (size_t i = 0; i < devs.n; i++) {
    lf_blockdev_describe (&devs.d[i], desc, sizeof desc);
    say ("  %s%s", desc, own_host >= 0 && devs.d[i].host == own_host
         ? " (the appliance's own controller)" : "");
  }
  json_object_set_new (st.events, "disks", lf_blockdevs_json (&devs, own_host));
  lf_blockdevs_free (&devs);
}

static char own_disk[64];

/* Wait for the job disk; its device node, or -1. */
static int
find_job_disk (char *node, size_t n, char *type, size_t tn)
{
  const char *label = strncmp (st.job, "LABEL=", 6) == 0 ? st.job + 6 : NULL;
  bool spec = lf_disk_spec_is (st.job);
  double deadline = uptime () + st.wait;

  for (;;) {
    json_t *disks = list_disks (label, node, n);
    find_own_disk (disks, own_disk, sizeof own_disk);
    if (spec) {
      if (resolve_now (st.job, own_disk, node, n) == -1)
        node[0] = '\0';
    }
    else if (!label) {
      struct stat s;
      if (stat (st.job, &s) == 0 && S_ISBLK (s.st_mode))
        snprintf (node, n, "%s", st.job);
    }
    if (node[0] || uptime () > deadline) {
      json_object_set (st.events, "block_devices", disks);
      size_t i;
      json_t *dk;
      json_array_foreach (disks, i, dk)
        if (!node[0] || strcmp (json_string_value (json_object_get (dk, "device")), node) == 0)
          snprintf (type, tn, "%s", json_string_value (json_object_get (dk, "type")));
      if (node[0]) {
        say ("job disk: %s (%s); %zu block devices:", node, type,
             json_array_size (disks));
        json_array_foreach (disks, i, dk)
          say ("  %-14s %-8s %s", json_string_value (json_object_get (dk, "device")),
               json_string_value (json_object_get (dk, "type")),
               json_string_value (json_object_get (dk, "label")));
      }
      json_decref (disks);
      return node[0] ? 0 : -1;
    }
    json_decref (disks);
    struct timespec ts = { 0, 100 * 1000 * 1000 };
    nanosleep (&ts, NULL);
  }
}

/* The log so far, from /run to the job disk, and on from there. */
static void
move_log (void)
{
  char dst[256];
  snprintf (dst, sizeof dst, JOBDIR "/landfall.log");
  int out = open (dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0)
    return;
  int in = open (LOGTMP, O_RDONLY | O_CLOEXEC);
  char buf[8192];
  ssize_t r;
  while (in >= 0 && (r = read (in, buf, sizeof buf)) > 0)
    (void) !write (out, buf, (size_t) r);
  if (in >= 0)
    close (in);
  int old = st.logfd;
  st.logfd = out;
  if (old >= 0)
    close (old);
}

/* R as PATH on the job disk: temporary, fsync, rename. */
static void
write_report_file (const char *path, json_t *r)
{
  char tmp[600];
  char *text = json_dumps (r, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
  if (!text)
    return;
  snprintf (tmp, sizeof tmp, "%s.tmp", path);
  int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    (void) !write (fd, text, strlen (text));
    (void) !write (fd, "\n", 1);
    fsync (fd);
    close (fd);
    if (rename (tmp, path) == -1)
      say ("writing %s: %m", path);
  }
  free (text);
}

/* A report for a job that never ran (no job disk, a bad job file). */
static void
write_failure_report (const char *why)
{
  if (!st.job_mounted)
    return;
  json_t *r = json_pack ("{s:s, s:s, s:O}", "result", "failed", "error", why,
                         "appliance", st.events);
  write_report_file (JOBDIR "/landfall-report.json", r);
  json_decref (r);
}

_Noreturn static void
finish (int status, const char *why)
{
  if (why) {
    say ("error: %s", why);
    write_failure_report (why);
  }
  say ("%s", status == 0 ? "job done: powering off"
       : st.debug ? "job failed: staying up (landfall.debug=1)"
       : "job failed: powering off (landfall.debug=1 keeps the machine up)");
  if (st.logfd >= 0)
    fsync (st.logfd);
  sync ();
  if (st.job_mounted && !(status != 0 && st.debug)) {
    if (st.logfd >= 0) {
      close (st.logfd);
      st.logfd = -1;
    }
    if (umount2 (JOBDIR, 0) == -1)
      say ("unmounting the job disk: %m");
    sync ();
  }
  if (status != 0 && st.debug)
    for (;;)
      pause ();
  reboot (RB_POWER_OFF);
  /* Only if the power-off itself failed: PID 1 must not return. */
  for (;;)
    pause ();
}

/* The job itself, in the child PID 1 forks: 0 when it succeeded (with
 * or without warnings), 1 otherwise; the report is on the job disk.
 */
static int
run_job (struct lf_job *job, const char *path)
{
  enum lf_run_result res = LF_RUN_FAILED;
  json_t *report = NULL;
  struct lf_run_opts o = {
    .progress = true, .log_fd = 2, .jobdir = JOBDIR, .job_path = path,
    .appliance = st.events,
  };
  if (lf_run_job (job, &o, &res, &report) == -1) {
    say ("error: %s", lf_last_error ());
    write_failure_report (lf_last_error ());
    return 1;
  }
  if (report) {
    fflush (stderr);
    lf_run_print_summary (report, stdout);
    fflush (stdout);
    /* A job refused in its prerequisites writes nothing (on a
     * workstation that is the point); here the job disk is the only way
     * back to whoever attached it, so the report goes there regardless.
     */
    char rp[512];
    struct stat s;
    snprintf (rp, sizeof rp, JOBDIR "/%s-landfall-report.json", job->machine);
    if (stat (rp, &s) == -1)
      write_report_file (rp, report);
    json_decref (report);
  }
  fflush (NULL);
  return res == LF_RUN_OK || res == LF_RUN_WARNINGS ? 0 : 1;
}

int
lf_pid1_main (int argc, char *argv[])
{
  (void) argc;
  (void) argv;
  char node[300], type[64] = "", why[1024];
  struct utsname u;

  mount_early ();
  setup_console ();
  st.events = json_object ();
  st.logfd = open (LOGTMP, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  st.t_start = uptime ();
  uname (&u);
  say ("appliance supervisor started %.3f s after the kernel (Linux %s)",
       st.t_start, u.release);
  json_object_set_new (st.events, "kernel", json_string (u.release));
  json_object_set_new (st.events, "kernel_to_supervisor_s",
                       json_real (st.t_start));
  read_cmdline ();
  if (st.debug)
    lf_debug_level = 1;
  load_modules ("/etc/landfall/modules");

  if (find_job_disk (node, sizeof node, type, sizeof type) == -1) {
    if (lf_disk_spec_is (st.job)) {
      resolve_now (st.job, own_disk, node, sizeof node);
      snprintf (why, sizeof why, "no job disk within %d s: %s", st.wait,
                lf_last_error ());
    }
    else
      snprintf (why, sizeof why, "no job disk (%s) appeared within %d s",
                st.job, st.wait);
    record_disks (own_disk, "seen");
    finish (1, why);
  }
  if (own_disk[0])
    setenv ("LANDFALL_OWN_DISK", own_disk, 1);
  mkdir (JOBDIR, 0700);
  const char *fstypes[] = { type[0] ? type : "vfat", "vfat", "ext4" };
  int mr = -1;
  for (size_t i = 0; i < 3 && mr == -1; i++)
    mr = mount (node, JOBDIR, fstypes[i], MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  if (mr == -1) {
    snprintf (why, sizeof why, "mounting the job disk %s (%s): %m", node, type);
    finish (1, why);
  }
  st.job_mounted = true;
  move_log ();

  /* Before the job is read: its profile is checked against those here. */
  setenv ("LANDFALL_HW_DIR", "/usr/share/landfall/hw", 1);
  char path[512];
  snprintf (path, sizeof path, JOBDIR "/%s", st.file);
  struct lf_job *job = lf_job_load (path, NULL);
  if (!job) {
    snprintf (why, sizeof why, "%s", lf_last_error ());
    finish (1, why);
  }
  say ("job %s: machine %s, %zu disk%s, %s", st.file, job->machine,
       job->ndisks, job->ndisks == 1 ? "" : "s",
       job->in_place ? "in place" : job->output);

  /* The job's disks may still be arriving (storvsc scans LUNs after the
   * job disk's): wait for each, within the same limit.
   */
  double deadline = st.t_start + st.wait;
  for (size_t i = 0; i < job->ndisks; i++) {
    struct stat s;
    char dn[128];
    /* A name that does not resolve yet may be a disk still arriving;
     * the run's first step resolves it again and, if it still does not,
     * refuses the job with what it found.
     */
    /* Only a disk not there yet is worth waiting for: a name no disk
     * can match, or one several already match, stays so.
     */
    while ((job->disks[i].spec
            ? resolve_now (job->disks[i].path, own_disk, dn, sizeof dn) == -1 &&
              lf_last_errno () == ENOENT
            : stat (job->disks[i].path, &s) == -1) && uptime () < deadline) {
      struct timespec ts = { 0, 100 * 1000 * 1000 };
      nanosleep (&ts, NULL);
    }
  }
  record_disks (own_disk, "attached");

  load_fs_modules ();

  /* The guests' filesystems through the kernel's own drivers. */
  setenv ("LANDFALL_MOUNT", "kernel", 1);
  setenv ("LANDFALL_MOUNT_DIR", "/run/landfall/mnt", 1);
  setenv ("LANDFALL_GUESTFS", "never", 1);

  /* The job runs in a child: a crash in it (a bug, hostile input that
   * got past a check) must end in a report and a power-off, not in a
   * kernel panic and a reboot that would run the job again and again.
   */
  json_object_set_new (st.events, "job_start_s", json_real (uptime ()));
  /* What this helper VM runs on (Azure, Hyper-V, QEMU, a physical server). */
  json_t *host = lf_hw_probe ("/");
  if (host)
    json_object_set_new (st.events, "host", host);
  fflush (NULL);
  pid_t pid = fork ();
  if (pid == 0) {
    if (st.test_crash)
      raise (SIGSEGV);
    _exit (run_job (job, path));
  }
  if (pid == -1) {
    snprintf (why, sizeof why, "fork: %m");
    finish (1, why);
  }
  int status = 0;
  pid_t w;
  /* As PID 1 we also reap whatever else ends; only our child matters. */
  while ((w = waitpid (-1, &status, 0)) != pid)
    if (w == -1 && errno != EINTR) {
      snprintf (why, sizeof why, "waiting for the job: %m");
      finish (1, why);
    }
  lf_job_free (job);
  if (WIFSIGNALED (status)) {
    snprintf (why, sizeof why, "the job process died of signal %d (%s): "
              "landfall.log has its last lines", WTERMSIG (status),
              strsignal (WTERMSIG (status)));
    finish (1, why);
  }
  finish (WIFEXITED (status) && WEXITSTATUS (status) == 0 ? 0 : 1, NULL);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall verify --boot: boot the disks under QEMU configured like the
 * target profile and watch the serial console for userspace.
 *
 * The disks are never written: each gets a qcow2 overlay in a private
 * temporary directory (QEMU opens a backing file read-only), removed
 * afterwards.  Guest code does run here, but inside QEMU, which is the
 * point of the check; landfall itself runs nothing from the guest.
 *
 * KVM is used only where it really works (lf_kvm_works): on machines
 * where /dev/kvm exists but hangs guests, TCG is slower but answers.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "common/child.h"
#include "guest/guest.h"
#include "hw/hw.h"
#include "verify/verify.h"

#define BOOT_ARGV_MAX   64
#define BOOT_LOG_MAX    (16 * LF_MiB)   /* console bytes searched */
#define BOOT_TAIL_LINES 15

/* Run ARGV to completion, output to ERRFILE; its exit status or -1. */
static int
run_wait (char *const argv[], const char *errfile)
{
  struct lf_spawn_opts so = { .out_path = errfile, .search_path = true };

  return lf_spawn_run (argv, &so, NULL);
}

static char *
read_small (const char *path, size_t max, size_t *len)
{
  FILE *fp = fopen (path, "re");
  char *buf;

  *len = 0;
  if (!fp)
    return NULL;
  if ((buf = malloc (max + 1)) != NULL) {
    *len = fread (buf, 1, max, fp);
    buf[*len] = '\0';
    /* The console may carry NULs; they must not end the search early. */
    for (size_t i = 0; i < *len; i++)
      if (buf[i] == '\0')
        buf[i] = ' ';
  }
  fclose (fp);
  return buf;
}

/* The last N lines of TEXT, control characters but newlines dropped. */
static char *
tail_lines (const char *text, size_t len, int n)
{
  size_t start = len;
  int lines = 0;
  while (start > 0 && lines <= n)
    if (text[--start] == '\n')
      lines++;
  char *out = strndup (text + start, len - start);
  if (out)
    for (char *p = out; *p; p++)
      if (((unsigned char) *p < 0x20 && *p != '\n') || *p == 0x7f)
        *p = ' ';
  return out;
}

/* Commas in QEMU option values are escaped by doubling; a path with one
 * is simply refused to keep this short.
 */
static bool
qemu_safe (const char *s)
{
  return !strchr (s, ',');
}

static const char *
qemu_format (const char *fmt)
{
  return strcmp (fmt, "vhd") == 0 ? "vpc" : fmt;
}

json_t *
lf_verify_boot (struct lf_guest *g, const struct lf_hw_profile *p,
                const struct lf_verify_boot_opts *o)
{
  char tmpl[] = "/tmp/landfall-verify-XXXXXX";
  char *dir = NULL;
  char log[256], errf[256], vars[256], ovl[LF_VERIFY_MAX_DISKS][256];
  char opt_machine[300], opt_cpu[700], opt_mem[32], code_opt[600],
    vars_opt[300], nic_opt[300], disk_opt[LF_VERIFY_MAX_DISKS][400],
    dev_opt[LF_VERIFY_MAX_DISKS][200], ctrl_opt[300];
  const char *argv[BOOT_ARGV_MAX];
  size_t ac = 0;
  const char *kvm_why = NULL;
  bool kvm = lf_kvm_works (&kvm_why);
  json_t *r = NULL;
  const char *subject = lf_disk_path (g->disks[0]);
  struct lf_child qemu = { .pid = 0 };
  double t0;
  CLEANUP_FREE char *text = NULL;
  /* Here, not where it is computed: the error paths jump past that to
   * "out", and its cleanup would free an uninitialised pointer.
   */
  CLEANUP_FREE char *tail = NULL;
  size_t len = 0;
  const char *seen = NULL;
  bool panic = false, exited = false;

  vars[0] = '\0';
  if (g->ndisks > LF_VERIFY_MAX_DISKS) {
    lf_error (E2BIG, "--boot: at most %d disks", LF_VERIFY_MAX_DISKS);
    return NULL;
  }
  if (!(dir = mkdtemp (tmpl))) {
    lf_error (errno, "mkdtemp: %m");
    return NULL;
  }
  snprintf (log, sizeof log, "%s/console.log", dir);
  snprintf (errf, sizeof errf, "%s/qemu.log", dir);
  const char *console = o->log ? o->log : log;
  if (!qemu_safe (console)) {
    lf_error (EINVAL, "%s: a console log path may not hold ','", console);
    goto out;
  }

  /* One overlay per disk: QEMU writes there, the disk is a read-only
   * backing file.  qemu-img wants the backing path absolute.
   */
  for (size_t i = 0; i < g->ndisks; i++) {
    CLEANUP_FREE char *abs = realpath (lf_disk_path (g->disks[i]), NULL);
    const char *fmt = qemu_format (lf_disk_format (g->disks[i]));
    if (!abs || !qemu_safe (abs)) {
      lf_error (EINVAL, "%s: cannot give it to QEMU (no absolute path, or "
                "a ',' in it)", lf_disk_path (g->disks[i]));
      goto out;
    }
    snprintf (ovl[i], sizeof ovl[i], "%s/disk%zu.qcow2", dir, i);
    const char *img[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-F",
                          fmt, "-b", abs, ovl[i], NULL };
    if (run_wait ((char *const *) img, errf) != 0) {
      size_t el;
      CLEANUP_FREE char *e = read_small (errf, 4096, &el);
      lf_error (EIO, "qemu-img create (overlay of %s) failed: %s", abs,
                e ? e : "");
      goto out;
    }
  }

  argv[ac++] = "qemu-system-x86_64";
  argv[ac++] = "-nodefaults";
  argv[ac++] = "-no-user-config";
  argv[ac++] = "-display";
  argv[ac++] = "none";
  argv[ac++] = "-no-reboot";
  snprintf (opt_machine, sizeof opt_machine, "%s,accel=%s", p->qemu_machine,
            kvm ? "kvm" : "tcg");
  argv[ac++] = "-machine";
  argv[ac++] = opt_machine;
  /* Hyper-V enlightenments: TCG accepts hv_relaxed, hv_vapic,
   * hv_spinlocks and hv_time (checked with QEMU 7.2); a guest sees a
   * Hyper-V-like CPUID, as on Azure.  VMBus is not emulated: QEMU's
   * vmbus-bridge needs KVM's SynIC, so storvsc and netvsc are not
   * exercised by this boot (the static checks cover their presence).
   */
  snprintf (opt_cpu, sizeof opt_cpu, "%s%s%s", kvm ? "host" : p->qemu_cpu,
            *p->qemu_hyperv ? "," : "", p->qemu_hyperv);
  argv[ac++] = "-cpu";
  argv[ac++] = opt_cpu;
  snprintf (opt_mem, sizeof opt_mem, "%u", p->qemu_memory_mib);
  argv[ac++] = "-m";
  argv[ac++] = opt_mem;
  argv[ac++] = "-smp";
  argv[ac++] = "1";
  static char serial[300];
  snprintf (serial, sizeof serial, "file:%s", console);
  argv[ac++] = "-serial";
  argv[ac++] = serial;

  if (strcmp (p->qemu_firmware, "ovmf") == 0) {
    const char *code = NULL, *vtmpl = NULL;
    struct stat st;
    for (size_t i = 0; p->qemu_ovmf_code[i]; i++)
      if (stat (p->qemu_ovmf_code[i], &st) == 0) {
        code = p->qemu_ovmf_code[i];
        /* The variable store must match the code's size (2 or 4 MiB
         * builds): the one at the same index, else the first there.
         */
        for (size_t j = 0; p->qemu_ovmf_vars[j]; j++)
          if (stat (p->qemu_ovmf_vars[j], &st) == 0 && (j == i || !vtmpl))
            vtmpl = p->qemu_ovmf_vars[j];
        break;
      }
    if (!code || !vtmpl) {
      lf_error (ENOENT, "%s: no OVMF firmware found (%s...): install "
                "Debian's ovmf package", p->file, p->qemu_ovmf_code[0]);
      goto out;
    }
    snprintf (vars, sizeof vars, "%s/vars.fd", dir);
    const char *cp[] = { "cp", vtmpl, vars, NULL };
    if (run_wait ((char *const *) cp, errf) != 0) {
      lf_error (EIO, "cannot copy %s", vtmpl);
      goto out;
    }
    snprintf (code_opt, sizeof code_opt,
              "if=pflash,format=raw,unit=0,readonly=on,file=%s", code);
    snprintf (vars_opt, sizeof vars_opt, "if=pflash,format=raw,unit=1,file=%s",
              vars);
    argv[ac++] = "-drive";
    argv[ac++] = code_opt;
    argv[ac++] = "-drive";
    argv[ac++] = vars_opt;
  }
  bool nvme = strcmp (p->qemu_disk_bus, "nvme") == 0;
  /* NVMe as Azure presents it: one controller, the OS disk its first
   * namespace (nvme0n1), data disks the next ones.
   */
  if (strcmp (p->qemu_disk_bus, "scsi") == 0 || nvme) {
    if (nvme)
      snprintf (ctrl_opt, sizeof ctrl_opt, "nvme,id=nvme0,serial=landfall0");
    else
      snprintf (ctrl_opt, sizeof ctrl_opt, "%s,id=scsi0",
                p->qemu_scsi_controller);
    argv[ac++] = "-device";
    argv[ac++] = ctrl_opt;
  }
  for (size_t i = 0; i < g->ndisks; i++) {
    if (nvme || strcmp (p->qemu_disk_bus, "scsi") == 0) {
      if ((size_t) snprintf (disk_opt[i], sizeof disk_opt[i],
                             "file=%s,format=qcow2,if=none,id=disk%zu",
                             ovl[i], i) >= sizeof disk_opt[i]) {
        lf_error (ENAMETOOLONG, "%s: path too long for QEMU's -drive", ovl[i]);
        goto out;
      }
      if (nvme)
        snprintf (dev_opt[i], sizeof dev_opt[i],
                  "nvme-ns,drive=disk%zu,bus=nvme0,nsid=%zu%s", i, i + 1,
                  i == 0 ? ",bootindex=0" : "");
      else
        snprintf (dev_opt[i], sizeof dev_opt[i],
                  "scsi-hd,drive=disk%zu,bus=scsi0.0,scsi-id=%zu%s", i, i,
                  i == 0 ? ",bootindex=0" : "");
      argv[ac++] = "-drive";
      argv[ac++] = disk_opt[i];
      argv[ac++] = "-device";
      argv[ac++] = dev_opt[i];
    }
    else {
      if ((size_t) snprintf (disk_opt[i], sizeof disk_opt[i],
                             "file=%s,format=qcow2,if=ide,index=%zu,media=disk",
                             ovl[i], i) >= sizeof disk_opt[i]) {
        lf_error (ENAMETOOLONG, "%s: path too long for QEMU's -drive", ovl[i]);
        goto out;
      }
      argv[ac++] = "-drive";
      argv[ac++] = disk_opt[i];
    }
  }
  snprintf (nic_opt, sizeof nic_opt, "%s,netdev=net0", p->qemu_nic);
  argv[ac++] = "-netdev";
  argv[ac++] = "user,id=net0";
  argv[ac++] = "-device";
  argv[ac++] = nic_opt;
  argv[ac] = NULL;

  json_t *cmd = json_array ();
  for (size_t i = 0; i < ac; i++)
    json_array_append_new (cmd, json_string (argv[i]));

  fprintf (stderr, "landfall verify: booting %s under QEMU (%s, %s; %s), "
           "timeout %u s\n", subject, p->qemu_machine,
           kvm ? "KVM" : "TCG", kvm_why ? kvm_why : "", o->timeout);

  struct lf_spawn_opts so = { .out_path = errf, .search_path = true };
  if (lf_spawn (&qemu, (char *const *) argv, &so) == -1) {
    json_decref (cmd);
    goto out;
  }

  t0 = lf_now ();
  while (lf_now () - t0 < o->timeout && !lf_cancel) {
    struct timespec ts = { 0, 500 * 1000 * 1000 };
    nanosleep (&ts, NULL);
    free (text);
    text = read_small (console, BOOT_LOG_MAX, &len);
    for (size_t i = 0; text && o->markers[i]; i++)
      if (strstr (text, o->markers[i]))
        seen = o->markers[i];
    /* A panic will not turn into a login: stop waiting. */
    if (text && (strstr (text, "Kernel panic") ||
                 strstr (text, "end Kernel panic")))
      panic = true;
    if (seen || panic)
      break;
    if (lf_child_poll (&qemu) != 0) {
      exited = true;
      break;
    }
  }
  double t = lf_now () - t0;
  lf_child_stop (&qemu);
  free (text);
  text = read_small (console, BOOT_LOG_MAX, &len);
  tail = text ? tail_lines (text, len, BOOT_TAIL_LINES) : NULL;
  char reason[1024];
  if (seen)
    snprintf (reason, sizeof reason, "'%s' on the serial console after "
              "%.0f s (%s, %s, %s disk, %s NIC)", seen, t, kvm ? "KVM" : "TCG",
              p->qemu_machine, p->qemu_disk_bus, p->qemu_nic);
  else if (panic)
    snprintf (reason, sizeof reason, "kernel panic after %.0f s (%s)", t,
              kvm ? "KVM" : "TCG");
  else if (exited) {
    size_t el;
    CLEANUP_FREE char *qe = read_small (errf, 2048, &el);
    snprintf (reason, sizeof reason, "QEMU exited after %.0f s without "
              "reaching userspace%s%s", t, qe && *qe ? ": " : "",
              qe ? qe : "");
  }
  else
    snprintf (reason, sizeof reason, "no %s%s on the serial console within "
              "%u s (%s)", o->markers[0], o->markers[1] ? " (or another "
              "marker)" : "", o->timeout, kvm ? "KVM" : "TCG");
  r = json_pack ("{s:s, s:s, s:s, s:s, s:s?, s:f, s:s, s:s?, s:o, s:s?}",
                 "check", "boot", "subject", subject,
                 "status", seen ? "pass" : "fail", "reason", reason,
                 "what_to_do", seen ? NULL
                 : "read the console log (--boot-log FILE) and the failed "
                   "static checks; run landfall fix if not done",
                 "seconds", t, "accel", kvm ? "kvm" : "tcg",
                 "accel_why", kvm_why, "qemu", cmd,
                 "console_tail", seen ? NULL : tail);

 out:
  if (qemu.pid > 0) {
    kill (-qemu.pid, SIGKILL);
    lf_child_stop (&qemu);
  }
  for (size_t i = 0; i < g->ndisks && i < LF_VERIFY_MAX_DISKS; i++) {
    char pth[300];
    snprintf (pth, sizeof pth, "%s/disk%zu.qcow2", dir, i);
    unlink (pth);
  }
  unlink (log);
  unlink (errf);
  if (vars[0])
    unlink (vars);
  rmdir (dir);
  return r;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the boot configuration and fstab transforms
 * (bootfix/linux/cmdline.c, fstab-edit.c): exact output on the real grubby
 * files of ../shared/testdata/configs/grubby and on hand-written snippets,
 * idempotence (twice == once), unrelated bytes kept, hostile input.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootfix/linux/bootcfg.h"

#define S(lit) (lit), (sizeof (lit) - 1)
#define UUID "4f3c9d2a-5b1e-4c6f-9a7d-0e8b1c2d3e43"
#define TAIL "net.ifnames=0 earlyprintk=ttyS0 console=tty1 console=ttyS0,115200n8"

static const char *
swap_uuid (void *opaque, const char *dev)
{
  (void) opaque;
  return strcmp (dev, "/dev/sda2") == 0 ? "5555-swap" : NULL;
}

/* The arguments of the shipped azure-gen1 profile (hw/azure-gen1.json):
 * the outputs below are what fix writes for it.
 */
static struct lf_cmdline_opts
opts (void)
{
  static struct lf_hw_profile *hw;
  struct lf_cmdline_opts o = {
    .root_uuid = UUID, .resolve = swap_uuid, .add = true, .ifnames = true,
    .rootdelay = -1,
  };
  if (!hw)
    hw = lf_hw_profile_load ("hw", "azure-gen1");
  ck_assert_msg (hw, "hw/azure-gen1.json: %s", lf_last_error ());
  ck_assert_int_eq (lf_cmdline_opts_profile (&o, hw), 0);
  return o;
}

/* Edit TEXT as KIND; check the result against WANT (if not NULL), that a
 * second edit changes nothing, and return the output (caller frees).
 */
static char *
edit (enum lf_bootcfg_kind kind, const char *text, size_t len,
      const struct lf_cmdline_opts *o, const char *want, int *nedits,
      struct lf_findings *fnd)
{
  char *out = NULL, *out2 = NULL;
  size_t outlen, outlen2;
  struct lf_findings f2 = { 0 };
  int n = lf_bootcfg_edit (kind, "test", text, len, o, &out, &outlen, fnd);
  ck_assert_int_ge (n, 0);
  if (nedits)
    *nedits = n;
  if (want) {
    ck_assert_uint_eq (outlen, strlen (want));
    ck_assert_str_eq (out, want);
  }
  ck_assert_int_eq (lf_bootcfg_edit (kind, "test", out, outlen, o, &out2,
                                     &outlen2, &f2), 0);
  ck_assert_uint_eq (outlen, outlen2);
  ck_assert (memcmp (out, out2, outlen) == 0);
  free (out2);
  lf_findings_free (&f2);
  /* NUL-terminate for strstr in the tests (text has no NULs there). */
  char *r = realloc (out, outlen + 1);
  ck_assert_ptr_nonnull (r);
  r[outlen] = '\0';
  return r;
}

static char *
read_testdata (const char *name, size_t *len)
{
  const char *dirs[] = { getenv ("LANDFALL_SHARED"), "../shared",
                         "/work/shared" };
  for (size_t i = 0; i < 3; i++) {
    char path[4096];
    if (!dirs[i])
      continue;
    snprintf (path, sizeof path, "%s/testdata/configs/grubby/%s", dirs[i],
              name);
    FILE *fp = fopen (path, "rb");
    if (!fp)
      continue;
    char *buf = malloc (1 << 20);
    ck_assert_ptr_nonnull (buf);
    *len = fread (buf, 1, (1 << 20) - 1, fp);
    buf[*len] = '\0';
    fclose (fp);
    return buf;
  }
  ck_abort_msg ("testdata/configs/grubby/%s not found (set LANDFALL_SHARED)",
                name);
  return NULL;
}

/* Every line of A not in the edited set is in B, byte for byte. */
static void
check_other_lines_kept (const char *a, const char *b, const char *edited_kw)
{
  for (const char *s = a; *s; ) {
    const char *nl = strchr (s, '\n');
    size_t n = nl ? (size_t) (nl - s) : strlen (s);
    char line[8192];
    snprintf (line, sizeof line, "%.*s", (int) n, s);
    const char *t = line;
    while (*t == ' ' || *t == '\t')
      t++;
    if (strncmp (t, edited_kw, strlen (edited_kw)) != 0 &&
        strncmp (t, "terminal_", 9) != 0)
      ck_assert_msg (strstr (b, line), "line lost: %s", line);
    s += n + (nl ? 1 : 0);
  }
}

/* ---- the command line ---- */

START_TEST (test_cmdline_basic)
{
  struct lf_cmdline_opts o = opts ();
  bool changed;
  char *r = lf_cmdline_edit (S ("root=/dev/sda1 ro quiet splash"), &o,
                             &changed);
  ck_assert (changed);
  ck_assert_str_eq (r, "root=UUID=" UUID " ro " TAIL);
  free (r);
  /* Every console= goes, ours come last; separators of kept args stay. */
  r = lf_cmdline_edit (S ("ro\tconsole=ttyS1,9600  rhgb LANG=C console=tty0 "
                          "crashkernel=auto resume=/dev/sda2 rootdelay=10"),
                       &o, &changed);
  ck_assert_str_eq (r, "ro LANG=C resume=UUID=5555-swap " TAIL);
  /* (the separator of a kept argument is the blank run before it) */
  free (r);
  /* Already right: the same bytes. */
  r = lf_cmdline_edit (S ("root=UUID=x ro " TAIL), &o, &changed);
  ck_assert (!changed);
  ck_assert_str_eq (r, "root=UUID=x ro " TAIL);
  free (r);
  /* rootdelay where asked; mapper and LABEL roots stay. */
  o.rootdelay = 300;
  r = lf_cmdline_edit (S ("root=/dev/mapper/vg-root ro"), &o, &changed);
  ck_assert_str_eq (r, "root=/dev/mapper/vg-root ro net.ifnames=0 "
                    "rootdelay=300 earlyprintk=ttyS0 console=tty1 "
                    "console=ttyS0,115200n8");
  free (r);
  /* Strip only (GRUB_CMDLINE_LINUX_DEFAULT). */
  o.add = false;
  r = lf_cmdline_edit (S ("quiet splash console=ttyS0 foo=bar"), &o, &changed);
  ck_assert_str_eq (r, "foo=bar");
  free (r);
  r = lf_cmdline_edit (S (""), &o, &changed);
  ck_assert (!changed);
  free (r);
}
END_TEST

/* A target's own lists: an added key replaces every old value of it, a
 * removed key with '=' drops all its values; verify's audit agrees.
 */
START_TEST (test_cmdline_profile_lists)
{
  static const char *const add[] = { "nvme_core.io_timeout=240", "nomodeset",
                                     NULL };
  static const char *const rm[] = { "panic=", "quiet", NULL };
  struct lf_cmdline_opts o = { .add = true, .rootdelay = -1,
                               .params_add = add, .params_remove = rm,
                               .serial_word = "console=ttyS0,115200n8" };
  bool changed;
  char *missing, *unwanted;
  char *r = lf_cmdline_edit (S ("ro panic=-1 nvme_core.io_timeout=30 quiet "
                                "console=tty0 nomodeset x=1"), &o, &changed);
  ck_assert (changed);
  ck_assert_str_eq (r, "ro x=1 nvme_core.io_timeout=240 nomodeset "
                    "console=ttyS0,115200n8");
  lf_cmdline_audit (r, &o, &missing, &unwanted);
  ck_assert_ptr_null (missing);
  ck_assert_ptr_null (unwanted);
  free (r);
  lf_cmdline_audit ("ro panic=-1 quiet nomodeset rootdelay=300", &o, &missing,
                    &unwanted);
  ck_assert_str_eq (missing, "nvme_core.io_timeout=240");
  ck_assert_str_eq (unwanted, "panic=-1, quiet");
  free (missing);
  free (unwanted);
  /* A target with a rootdelay: the fix's choice of it is no fault. */
  static const char *const rm2[] = { "rootdelay=", NULL };
  o.params_remove = rm2;
  lf_cmdline_audit ("rootdelay=10", &o, &missing, &unwanted);
  ck_assert_str_eq (unwanted, "rootdelay=10");
  free (missing);
  free (unwanted);
  o.rootdelay = 300;
  lf_cmdline_audit ("rootdelay=10", &o, &missing, &unwanted);
  ck_assert_ptr_null (unwanted);
  free (missing);
}
END_TEST

START_TEST (test_cmdline_hostile)
{
  struct lf_cmdline_opts o = opts ();
  bool changed;
  /* Too many words: refused, not truncated. */
  size_t n = 3 * (BOOTCFG_MAX_WORDS + 10);
  char *big = malloc (n + 1);
  for (size_t i = 0; i < n; i += 3)
    memcpy (big + i, "ab ", 3);
  big[n] = '\0';
  ck_assert_ptr_null (lf_cmdline_edit (big, n, &o, &changed));
  ck_assert_int_eq (lf_last_errno (), E2BIG);
  lf_error_clear ();
  free (big);
  /* Unbalanced quotes and NULs are refused (left by the callers). */
  ck_assert_ptr_null (lf_cmdline_edit (S ("a \"b c quiet"), &o, &changed));
  lf_error_clear ();
  char *r = lf_cmdline_edit (S ("a \"b c\" quiet"), &o, &changed);
  ck_assert_str_eq (r, "a \"b c\" " TAIL);
  free (r);
  ck_assert_ptr_null (lf_cmdline_edit ("a \"b c\0 quiet", 13, &o, &changed));
  ck_assert_int_eq (lf_last_errno (), EINVAL);
  lf_error_clear ();
}
END_TEST

/* ---- grub.cfg ---- */

START_TEST (test_grub2_fedora)
{
  size_t len;
  char *in = read_testdata ("grub2.1", &len);
  struct lf_cmdline_opts o = opts ();
  struct lf_findings fnd = { 0 };
  int n;
  char *out = edit (LF_BOOTCFG_GRUB2, in, len, &o, NULL, &n, &fnd);
  /* Two kernels, and the terminal commands (no terminal_output there). */
  ck_assert_int_eq (n, 3);
  ck_assert_ptr_nonnull (strstr (out, "\tlinux\t/vmlinuz-2.6.38.8-32.fc15.x86_64 "
                                 "root=/dev/mapper/vg_pjones5-lv_root ro " TAIL
                                 "\n"));
  ck_assert_ptr_null (strstr (out, "rhgb"));
  ck_assert_ptr_nonnull (strstr (out, "### BEGIN /etc/grub.d/00_header ###\n"
                                 "serial --speed=115200 --unit=0 --word=8 "
                                 "--parity=no --stop=1\nterminal_input console "
                                 "serial\nterminal_output console serial\n"));
  check_other_lines_kept (in, out, "linux");
  free (out);
  free (in);
  lf_findings_free (&fnd);
}
END_TEST

START_TEST (test_grub2_rhel7)
{
  size_t len;
  char *in = read_testdata ("grub2.16", &len);
  struct lf_cmdline_opts o = opts ();
  struct lf_findings fnd = { 0 };
  int n;
  char *out = edit (LF_BOOTCFG_GRUB2, in, len, &o, NULL, &n, &fnd);
  /* Three linux16 lines; serial terminals already there. */
  ck_assert_int_eq (n, 3);
  ck_assert_ptr_nonnull (strstr (out, "rd.lvm.lv=rhel_hp-dl380pgen8-02-vm-10/"
                                 "swap  $tuned_params LANG=en_US.UTF-8 " TAIL
                                 "\n"));
  ck_assert_ptr_null (strstr (out, "crashkernel=auto"));
  ck_assert_ptr_null (strstr (out, "115200n81"));
  ck_assert_ptr_nonnull (strstr (out, "\nterminal_output serial console\n"));
  check_other_lines_kept (in, out, "linux16");
  free (out);
  free (in);
  lf_findings_free (&fnd);
}
END_TEST

START_TEST (test_grub2_snippets)
{
  struct lf_cmdline_opts o = opts ();
  struct lf_findings fnd = { 0 };
  /* Debian: terminal_output without serial; memtest untouched; no final
   * newline; RHEL 8's kernelopts fallback.
   */
  char *out = edit (LF_BOOTCFG_GRUB2, S (
      "terminal_output gfxterm\n"
      "  set kernelopts=\"root=/dev/sda2 ro rhgb quiet \"\n"
      "\tlinux16 /boot/memtest86+.bin\n"
      "\tlinux\t/vmlinuz root=/dev/sda1 ro quiet # old\n"
      "\tlinux ($root)/vmlinuz $kernelopts\n"
      "\tlinux /vmlinuz root=/dev/sda1 ro; echo x"),
    &o, "serial --speed=115200 --unit=0 --word=8 --parity=no --stop=1\n"
      "terminal_output gfxterm serial\n"
      "  set kernelopts=\"root=UUID=" UUID " ro " TAIL " \"\n"
      "\tlinux16 /boot/memtest86+.bin\n"
      "\tlinux\t/vmlinuz root=UUID=" UUID " ro " TAIL " # old\n"
      "\tlinux ($root)/vmlinuz $kernelopts\n"
      "\tlinux /vmlinuz root=/dev/sda1 ro; echo x", NULL, &fnd);
  free (out);
  ck_assert_uint_ge (fnd.n, 1);         /* the line with ";" */
  /* A comment right after terminal_input (found by fuzzing). */
  out = edit (LF_BOOTCFG_GRUB2, S ("serial\nterminal_output console\n"
                                   "terminal_input #x\n"), &o,
              "serial\nterminal_output console serial\n"
              "terminal_input serial #x\n", NULL, &fnd);
  free (out);
  lf_findings_free (&fnd);
}
END_TEST

/* ---- BLS, grubenv, legacy, extlinux, /etc/kernel/cmdline ---- */

START_TEST (test_bls)
{
  struct lf_cmdline_opts o = opts ();
  struct lf_findings fnd = { 0 };
  char *out = edit (LF_BOOTCFG_BLS, S (
      "title Rocky Linux (5.14.0-362.el9.x86_64) 9.3 (Blue Onyx)\n"
      "version 5.14.0-362.el9.x86_64\n"
      "linux /vmlinuz-5.14.0-362.el9.x86_64\n"
      "initrd /initramfs-5.14.0-362.el9.x86_64.img $tuned_initrd\n"
      "options root=/dev/mapper/rl-root ro crashkernel=1G-4G:192M rhgb quiet\n"
      "grub_users $grub_users\n"),
    &o, "title Rocky Linux (5.14.0-362.el9.x86_64) 9.3 (Blue Onyx)\n"
      "version 5.14.0-362.el9.x86_64\n"
      "linux /vmlinuz-5.14.0-362.el9.x86_64\n"
      "initrd /initramfs-5.14.0-362.el9.x86_64.img $tuned_initrd\n"
      "options root=/dev/mapper/rl-root ro crashkernel=1G-4G:192M " TAIL "\n"
      "grub_users $grub_users\n", NULL, &fnd);
  free (out);
  /* RHEL 8: $kernelopts is grubenv's business. */
  out = edit (LF_BOOTCFG_BLS, S ("options $kernelopts $tuned_params\n"), &o,
              "options $kernelopts $tuned_params\n", NULL, &fnd);
  free (out);
  lf_findings_free (&fnd);
}
END_TEST

START_TEST (test_grubenv)
{
  size_t len;
  char *in = read_testdata ("grubenv.0", &len);
  struct lf_cmdline_opts o = opts ();
  struct lf_findings fnd = { 0 };
  int n;
  ck_assert_uint_eq (len, 1024);
  /* No kernelopts: nothing to do, same bytes. */
  char *out = edit (LF_BOOTCFG_GRUBENV, in, len, &o, NULL, &n, &fnd);
  ck_assert_int_eq (n, 0);
  ck_assert (memcmp (out, in, len) == 0);
  free (out);
  /* The same block with variables, as RHEL 8 writes it. */
  static const char vars[] = "saved_entry=abc-4.18.0\nkernelopts=root=/dev/sda2 "
    "ro crashkernel=auto resume=/dev/sda3 rhgb quiet \nboot_success=0\n";
  char blk[1024];
  memcpy (blk, in, 25);
  memcpy (blk + 25, vars, sizeof vars - 1);
  memset (blk + 25 + sizeof vars - 1, '#', 1024 - 25 - (sizeof vars - 1));
  char *out2 = NULL;
  size_t outlen;
  n = lf_bootcfg_edit (LF_BOOTCFG_GRUBENV, "grubenv", blk, 1024, &o, &out2,
                       &outlen, &fnd);
  ck_assert_int_eq (n, 1);
  ck_assert_uint_eq (outlen, 1024);
  char z[1025];
  memcpy (z, out2, 1024);
  z[1024] = '\0';
  ck_assert_ptr_nonnull (strstr (z, "# GRUB Environment Block\nsaved_entry="
                                 "abc-4.18.0\nkernelopts=root=UUID=" UUID
                                 " ro resume=/dev/sda3 " TAIL
                                 " \nboot_success=0\n###"));
  ck_assert_int_eq (out2[1023], '#');
  free (out2);
  /* No room: refused, unchanged. */
  char full[1024];
  memcpy (full, in, 25);
  memcpy (full + 25, "kernelopts=", 11);
  memset (full + 36, 'x', 1024 - 36 - 2);
  full[1022] = '\n';
  full[1023] = '#';
  n = lf_bootcfg_edit (LF_BOOTCFG_GRUBENV, "grubenv", full, 1024, &o, &out2,
                       &outlen, &fnd);
  ck_assert_int_eq (n, 0);
  ck_assert (outlen == 1024 && memcmp (out2, full, 1024) == 0);
  free (out2);
  /* Not a grubenv. */
  n = lf_bootcfg_edit (LF_BOOTCFG_GRUBENV, "grubenv", S ("kernelopts=quiet\n"),
                       &o, &out2, &outlen, &fnd);
  ck_assert_int_eq (n, 0);
  free (out2);
  free (in);
  lf_findings_free (&fnd);
}
END_TEST

START_TEST (test_grub_legacy)
{
  size_t len;
  char *in = read_testdata ("grub.1", &len);
  struct lf_cmdline_opts o = opts ();
  struct lf_findings fnd = { 0 };
  int n;
  char *out = edit (LF_BOOTCFG_GRUB_LEGACY, in, len, &o, NULL, &n, &fnd);
  ck_assert_int_ge (n, 1);
  ck_assert_ptr_nonnull (strstr (out, "\tkernel /vmlinuz-2.4.7-2 ro root=UUID="
                                 UUID " " TAIL "\n"));
  /* The comment with an example kernel line is a comment. */
  ck_assert_ptr_nonnull (strstr (out, "#          kernel /vmlinuz-version ro "
                                 "root=/dev/sda1\n"));
  check_other_lines_kept (in, out, "kernel");
  free (out);
  free (in);
  lf_findings_free (&fnd);
}
END_TEST

START_TEST (test_extlinux_and_kernel_cmdline)
{
  struct lf_cmdline_opts o = opts ();
  struct lf_findings fnd = { 0 };
  char *out = edit (LF_BOOTCFG_EXTLINUX, S (
      "DEFAULT linux\nLABEL linux\n  KERNEL /vmlinuz\n"
      "  APPEND root=/dev/sda1 initrd=/initrd.img quiet\n"
      "  append initrd=/x.img\n"),
    &o, "DEFAULT linux\nLABEL linux\n  KERNEL /vmlinuz\n"
      "  APPEND root=UUID=" UUID " initrd=/initrd.img " TAIL "\n"
      "  append initrd=/x.img\n", NULL, &fnd);
  free (out);
  out = edit (LF_BOOTCFG_KERNEL_CMDLINE, S ("root=UUID=x ro rhgb quiet\n"), &o,
              "root=UUID=x ro " TAIL "\n", NULL, &fnd);
  free (out);
  lf_findings_free (&fnd);
}
END_TEST

/* ---- /etc/default/grub ---- */

START_TEST (test_default_grub)
{
  struct lf_cmdline_opts o = opts ();
  struct lf_findings fnd = { 0 };
  char *out = edit (LF_BOOTCFG_DEFAULT_GRUB, S (
      "# If you change this file, run 'update-grub'\n"
      "GRUB_DEFAULT=0\n"
      "GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n"
      "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet splash\"\n"
      "GRUB_CMDLINE_LINUX=\"\"\n"
      "GRUB_DISABLE_LINUX_UUID=true\n"
      "#GRUB_TERMINAL=console"),
    &o, "# If you change this file, run 'update-grub'\n"
      "GRUB_DEFAULT=0\n"
      "GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n"
      "GRUB_CMDLINE_LINUX_DEFAULT=\"\"\n"
      "GRUB_CMDLINE_LINUX=\"" TAIL "\"\n"
      "#GRUB_DISABLE_LINUX_UUID=true\n"
      "#GRUB_TERMINAL=console\n"
      "GRUB_TERMINAL=\"console serial\"\n"
      "GRUB_SERIAL_COMMAND=\"serial --speed=115200 --unit=0 --word=8 "
      "--parity=no --stop=1\"\n", NULL, &fnd);
  free (out);
  /* RHEL: single quotes, an unquoted terminal, export, odd values left. */
  out = edit (LF_BOOTCFG_DEFAULT_GRUB, S (
      "GRUB_TERMINAL_OUTPUT=\"console\"\n"
      "export GRUB_CMDLINE_LINUX='crashkernel=auto rd.lvm.lv=rhel/root rhgb quiet'\n"
      "GRUB_TERMINAL=console # comment\n"
      "GRUB_CMDLINE_LINUX_DEFAULT=\"$(cat /x) quiet\"\n"
      "GRUB_SERIAL_COMMAND=\"serial --unit=1\"\n"),
    &o, "GRUB_TERMINAL_OUTPUT=\"console\"\n"
      "export GRUB_CMDLINE_LINUX='rd.lvm.lv=rhel/root " TAIL "'\n"
      "GRUB_TERMINAL=\"console serial\" # comment\n"
      "GRUB_CMDLINE_LINUX_DEFAULT=\"$(cat /x) quiet\"\n"
      "GRUB_SERIAL_COMMAND=\"serial --unit=1\"\n", NULL, &fnd);
  free (out);
  ck_assert_uint_ge (fnd.n, 1);
  lf_findings_free (&fnd);
  /* grub.d snippets: existing keys only. */
  out = edit (LF_BOOTCFG_DEFAULT_GRUB_D, S (
      "GRUB_CMDLINE_LINUX_DEFAULT=\"console=tty1 console=ttyS0\"\n"
      "GRUB_TIMEOUT=0\n"),
    &o, "GRUB_CMDLINE_LINUX_DEFAULT=\"\"\nGRUB_TIMEOUT=0\n", NULL, &fnd);
  free (out);
  lf_findings_free (&fnd);
}
END_TEST

START_TEST (test_bootcfg_hostile)
{
  struct lf_cmdline_opts o = opts ();
  struct lf_findings fnd = { 0 };
  /* A line over the cap is left alone, with a finding. */
  size_t n = BOOTCFG_MAX_LINE + 100;
  char *big = malloc (n + 1);
  memcpy (big, "linux /v root=/dev/sda1 ", 24);
  memset (big + 24, 'a', n - 24);
  big[n] = '\0';
  char *out = edit (LF_BOOTCFG_GRUB2, big, n, &o, NULL, NULL, &fnd);
  ck_assert (strstr (out, "root=/dev/sda1 aaaa"));
  ck_assert_uint_ge (fnd.n, 1);
  free (out);
  free (big);
  lf_findings_free (&fnd);
  /* NULs: bytes kept, no crash; every kind. */
  static const char nul[] = "linux /v root=/dev/sda1\0 quiet\nkernel\0\n"
    "options \0\nAPPEND\t\0root=\nGRUB_CMDLINE_LINUX=\"\0\"\n\0";
  for (int k = LF_BOOTCFG_GRUB2; k <= LF_BOOTCFG_KERNEL_CMDLINE; k++) {
    char *o2 = NULL;
    size_t l2;
    ck_assert_int_ge (lf_bootcfg_edit (k, "nul", nul, sizeof nul - 1, &o, &o2,
                                       &l2, &fnd), 0);
    free (o2);
  }
  lf_findings_free (&fnd);
  /* Too big a file: an error, not a truncation. */
  char *o3 = NULL;
  size_t l3;
  ck_assert_int_eq (lf_bootcfg_edit (LF_BOOTCFG_GRUB2, "huge", "", 
                                     (size_t) BOOTCFG_MAX_SIZE + 1, &o, &o3,
                                     &l3, &fnd), -1);
  ck_assert_int_eq (lf_last_errno (), EFBIG);
  lf_error_clear ();
}
END_TEST

/* ---- fstab ---- */

/* The disks of a made-up guest: sda1 / (OS disk), sda2 swap (OS disk),
 * sdb1 data, sdc absent; by-path target 1 is sdb.
 */
static int
fake_resolve (void *opaque, const char *spec, const char *mp,
              struct lf_fstab_res *r)
{
  (void) opaque;
  (void) mp;
  static const struct { const char *spec, *uuid; bool os; } t[] = {
    { "/dev/sda1", "aaaa-1111", true }, { "/dev/sda2", "swap-2222", true },
    { "/dev/sdb1", "bbbb-1111", false }, { "UUID=aaaa-1111", "aaaa-1111", true },
    { "UUID=bbbb-1111", "bbbb-1111", false },
    { "/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:1:0-part1", "bbbb-1111", false },
    { "/dev/mapper/vg-data", "cccc", false }, { "/dev/sda3", "", true },
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (strcmp (spec, t[i].spec) == 0) {
      r->found = true;
      r->os_disk = t[i].os;
      snprintf (r->uuid, sizeof r->uuid, "%s", t[i].uuid);
    }
  return 0;
}

static char *
fstab (const char *in, size_t len, const char *want, int *n,
       struct lf_findings *fnd)
{
  char *out = NULL, *out2 = NULL;
  size_t outlen, outlen2;
  struct lf_findings f2 = { 0 };
  int r = lf_fstab_edit (in, len, fake_resolve, NULL, &out, &outlen, fnd);
  ck_assert_int_ge (r, 0);
  if (n)
    *n = r;
  if (want) {
    ck_assert_uint_eq (outlen, strlen (want));
    ck_assert (memcmp (out, want, outlen) == 0);
  }
  ck_assert_int_eq (lf_fstab_edit (out, outlen, fake_resolve, NULL, &out2,
                                   &outlen2, &f2), 0);
  ck_assert (outlen2 == outlen && memcmp (out, out2, outlen) == 0);
  free (out2);
  lf_findings_free (&f2);
  return out;
}

START_TEST (test_fstab)
{
  struct lf_findings fnd = { 0 };
  int n;
  char *out = fstab (S (
      "# /etc/fstab: static file system information.\n"
      "#\n"
      "# <file system> <mount point>   <type>  <options>       <dump>  <pass>\n"
      "/dev/sda1       /               ext4    errors=remount-ro 0       1\n"
      "/dev/sda2 none swap sw 0 0\n"
      "/dev/sdb1\t/data\txfs\tdefaults\t0 2\n"
      "/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:1:0-part1 /data2 ext4 defaults 0 2\n"
      "/dev/sdc1  /srv  ext4  defaults  0  2\n"
      "UUID=bbbb-1111 /backup ext4 defaults,nofail 0 2\n"
      "UUID=dead-beef /gone ext4 defaults 0 2\n"
      "/dev/mapper/vg-data /var/lib/x ext4 noatime\n"
      "proc /proc proc defaults 0 0\n"
      "/dev/sr0        /media/cdrom0   udf,iso9660 user,noauto     0       0\n"
      "srv:/export /mnt/nfs nfs4 defaults 0 0\n"
      "/srv/a /srv/b none bind 0 0\n"
      "   \n"
      "/dev/sdb1 /d3 ext4"),
    "# /etc/fstab: static file system information.\n"
      "#\n"
      "# <file system> <mount point>   <type>  <options>       <dump>  <pass>\n"
      "UUID=aaaa-1111       /               ext4    errors=remount-ro 0       1\n"
      "UUID=swap-2222 none swap sw,nofail 0 0\n"
      "UUID=bbbb-1111\t/data\txfs\tdefaults,nofail\t0 2\n"
      "UUID=bbbb-1111 /data2 ext4 defaults,nofail 0 2\n"
      "# landfall: disabled, /dev/sdc1 not found on the disks given (a missing "
      "device would stop the boot)\n"
      "#/dev/sdc1  /srv  ext4  defaults  0  2\n"
      "UUID=bbbb-1111 /backup ext4 defaults,nofail 0 2\n"
      "UUID=dead-beef /gone ext4 defaults,nofail 0 2\n"
      "/dev/mapper/vg-data /var/lib/x ext4 noatime,nofail\n"
      "proc /proc proc defaults 0 0\n"
      "/dev/sr0        /media/cdrom0   udf,iso9660 user,noauto     0       0\n"
      "# landfall: disabled, network filesystem nfs4 on /mnt/nfs (not "
      "reachable when a migrated machine first boots)\n"
      "#srv:/export /mnt/nfs nfs4 defaults 0 0\n"
      "/srv/a /srv/b none bind 0 0\n"
      "   \n"
      "UUID=bbbb-1111 /d3 ext4\tdefaults,nofail", &n, &fnd);
  ck_assert_int_eq (n, 9);
  free (out);
  /* Swap on the OS disk is reported; swap without a UUID commented out. */
  bool os_swap = false;
  for (size_t i = 0; i < fnd.n; i++)
    if (strstr (fnd.f[i].msg, "swap /dev/sda2 is on the OS disk"))
      os_swap = true;
  ck_assert (os_swap);
  lf_findings_free (&fnd);
  out = fstab (S ("/dev/sda3 none swap sw 0 0\n"),
               "# landfall: disabled, /dev/sda3 has no UUID on the disks given "
               "(a missing device would stop the boot)\n"
               "#/dev/sda3 none swap sw 0 0\n", NULL, &fnd);
  free (out);
  lf_findings_free (&fnd);
  /* A root that leads nowhere is reported, never commented out. */
  out = fstab (S ("/dev/sdz1 / ext4 defaults 0 1\n"),
               "/dev/sdz1 / ext4 defaults 0 1\n", &n, &fnd);
  ck_assert_int_eq (n, 0);
  ck_assert_int_eq (fnd.f[0].what, LF_FAILED);
  free (out);
  lf_findings_free (&fnd);
}
END_TEST

START_TEST (test_fstab_hostile)
{
  struct lf_findings fnd = { 0 };
  /* NULs, a huge line, escapes, CR: kept byte for byte. */
  static const char in[] = "/dev/sda1\0 / ext4 d 0 1\n/dev/sd\\040b1 /x ext4\r\n"
    "/dev/sdb1 /a\\040b ext4 defaults 0 2\n";
  char *out = fstab (in, sizeof in - 1, NULL, NULL, &fnd);
  ck_assert (memcmp (out, in, 24) == 0);
  ck_assert (strstr (out + 25, "UUID=bbbb-1111 /a\\040b ext4 defaults,nofail 0 2\n"));
  free (out);
  lf_findings_free (&fnd);
  size_t n = BOOTCFG_MAX_LINE + 10;
  char *big = malloc (n);
  memcpy (big, "/dev/sda1 / ", 12);
  memset (big + 12, 'x', n - 12);
  out = fstab (big, n, NULL, NULL, &fnd);
  ck_assert (memcmp (out, big, n) == 0);
  free (out);
  free (big);
  lf_findings_free (&fnd);
}
END_TEST

static Suite *
text_suite (void)
{
  Suite *s = suite_create ("linux-text");
  TCase *tc = tcase_create ("text");
  tcase_add_test (tc, test_cmdline_basic);
  tcase_add_test (tc, test_cmdline_profile_lists);
  tcase_add_test (tc, test_cmdline_hostile);
  tcase_add_test (tc, test_grub2_fedora);
  tcase_add_test (tc, test_grub2_rhel7);
  tcase_add_test (tc, test_grub2_snippets);
  tcase_add_test (tc, test_bls);
  tcase_add_test (tc, test_grubenv);
  tcase_add_test (tc, test_grub_legacy);
  tcase_add_test (tc, test_extlinux_and_kernel_cmdline);
  tcase_add_test (tc, test_default_grub);
  tcase_add_test (tc, test_bootcfg_hostile);
  tcase_add_test (tc, test_fstab);
  tcase_add_test (tc, test_fstab_hostile);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (text_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the default boot entry and command line reader
 * (bootread.c), which verify and bootfix/linux's editor share: quoted
 * arguments are one word (verify split them at every blank and judged
 * console="ttyS0,115200" absent), the last root= counts.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "guest/bootread.h"

#define S_(x) x, strlen (x)

START_TEST (test_cmdline_quotes)
{
  const char *a = "ro root=/dev/sda1 console=\"ttyS0,115200n8\" "
    "opt=\"a b\" root=UUID=1234";
  char *v = lf_cmdline_get (a, "root");
  ck_assert_str_eq (v, "UUID=1234");
  free (v);
  v = lf_cmdline_get (a, "opt");
  ck_assert_str_eq (v, "a b");
  free (v);
  ck_assert_ptr_null (lf_cmdline_get (a, "resume"));
  ck_assert (lf_cmdline_has_console (a, "ttyS0"));
  ck_assert (!lf_cmdline_has_console (a, "ttyS1"));
  ck_assert (!lf_cmdline_has_console ("console=ttyS00", "ttyS0"));
  ck_assert (lf_cmdline_has_console ("quiet console=ttyS0", "ttyS0"));
  /* Inside quotes a blank is not a word's end. */
  ck_assert (!lf_cmdline_has_console ("x=\"a console=ttyS0\"", "ttyS0"));
  ck_assert (lf_cmdline_quotes_balanced (S_ ("a=\"b c\" d='e'")));
  ck_assert (!lf_cmdline_quotes_balanced (S_ ("a=\"b c d")));
}
END_TEST

START_TEST (test_grub_default)
{
  static const char cfg[] =
    "set default=\"0\"\n"
    "menuentry 'Debian' {\n"
    "\tlinux\t/boot/vmlinuz-6.1.0-18-amd64 root=UUID=abcd ro "
    "console=\"ttyS0,115200n8\"\n"
    "\tinitrd /boot/initrd.img-6.1.0-18-amd64\n}\n"
    "menuentry 'old' {\n\tlinux /boot/vmlinuz-5.10 root=/dev/sda1\n}\n";
  struct lf_boot_entry e;
  ck_assert (lf_grub_default_entry (cfg, strlen (cfg), &e));
  ck_assert_str_eq (e.kernel, "/boot/vmlinuz-6.1.0-18-amd64");
  ck_assert_str_eq (e.args, "root=UUID=abcd ro console=\"ttyS0,115200n8\"");
  ck_assert_ptr_null (e.note);
  ck_assert (lf_cmdline_has_console (e.args, "ttyS0"));
  lf_boot_entry_free (&e);

  static const char saved[] = "set default=\"${saved_entry}\"\nset default=2\n"
    "linux16 /vmlinuz root=/dev/sda1";       /* no newline at the end */
  ck_assert (lf_grub_default_entry (saved, strlen (saved), &e));
  ck_assert_str_eq (e.note, "grub.cfg sets default=2: the first entry was checked");
  ck_assert_str_eq (e.args, "root=/dev/sda1");
  lf_boot_entry_free (&e);

  ck_assert (!lf_grub_default_entry (S_ ("menuentry x {\n  linuxefi\n}\n"), &e));
  lf_boot_entry_free (&e);
  /* The length is the end: nothing past it is read. */
  ck_assert (!lf_grub_default_entry ("linux /v root=x", 5, &e));
  lf_boot_entry_free (&e);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("bootread");
  TCase *tc = tcase_create ("bootread");
  tcase_add_test (tc, test_cmdline_quotes);
  tcase_add_test (tc, test_grub_default);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

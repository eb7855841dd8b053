/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for common/: byte order, overflow checks, sizes, UTF-16. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

/* Table-driven, as e2fsprogs' tst_byteswap.c: each value in both orders. */
static const struct {
  uint8_t bytes[8];
  uint64_t le64, be64;
  uint32_t le32, be32;
  uint16_t le16, be16;
} swaps[] = {
  { { 1, 2, 3, 4, 5, 6, 7, 8 }, 0x0807060504030201, 0x0102030405060708,
    0x04030201, 0x01020304, 0x0201, 0x0102 },
  { { 0xff, 0, 0, 0, 0, 0, 0, 0x80 }, 0x80000000000000ff, 0xff00000000000080,
    0x000000ff, 0xff000000, 0x00ff, 0xff00 },
  { { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 0xfffffffffffffffe,
    0xfeffffffffffffff, 0xfffffffe, 0xfeffffff, 0xfffe, 0xfeff },
};

START_TEST (test_endian)
{
  for (size_t i = 0; i < sizeof swaps / sizeof swaps[0]; i++) {
    uint8_t buf[9], out[8];
    /* Unaligned on purpose. */
    memcpy (buf + 1, swaps[i].bytes, 8);
    ck_assert_uint_eq (lf_le64 (buf + 1), swaps[i].le64);
    ck_assert_uint_eq (lf_be64 (buf + 1), swaps[i].be64);
    ck_assert_uint_eq (lf_le32 (buf + 1), swaps[i].le32);
    ck_assert_uint_eq (lf_be32 (buf + 1), swaps[i].be32);
    ck_assert_uint_eq (lf_le16 (buf + 1), swaps[i].le16);
    ck_assert_uint_eq (lf_be16 (buf + 1), swaps[i].be16);
    lf_put_le64 (out, swaps[i].le64);
    ck_assert_mem_eq (out, swaps[i].bytes, 8);
    lf_put_be64 (out, swaps[i].be64);
    ck_assert_mem_eq (out, swaps[i].bytes, 8);
    lf_put_le32 (out, swaps[i].le32);
    ck_assert_mem_eq (out, swaps[i].bytes, 4);
    lf_put_be32 (out, swaps[i].be32);
    ck_assert_mem_eq (out, swaps[i].bytes, 4);
    lf_put_le16 (out, swaps[i].le16);
    ck_assert_mem_eq (out, swaps[i].bytes, 2);
    lf_put_be16 (out, swaps[i].be16);
    ck_assert_mem_eq (out, swaps[i].bytes, 2);
  }
}
END_TEST

START_TEST (test_overflow)
{
  uint64_t r;
  uint32_t r32;
  ck_assert (!ADD_OVERFLOW (UINT64_C (1), UINT64_C (2), &r));
  ck_assert_uint_eq (r, 3);
  ck_assert (ADD_OVERFLOW (UINT64_MAX, UINT64_C (1), &r));
  ck_assert (MUL_OVERFLOW (UINT64_C (1) << 32, UINT64_C (1) << 32, &r));
  ck_assert (MUL_OVERFLOW (UINT32_C (65536), UINT32_C (65536), &r32));
  ck_assert (!lf_round_up_overflow (1, LF_MiB, &r));
  ck_assert_uint_eq (r, LF_MiB);
  ck_assert (!lf_round_up_overflow (LF_MiB, LF_MiB, &r));
  ck_assert_uint_eq (r, LF_MiB);
  ck_assert (lf_round_up_overflow (UINT64_MAX - 5, LF_MiB, &r));
  ck_assert (lf_is_power_of_2 (4096));
  ck_assert (!lf_is_power_of_2 (0));
  ck_assert (!lf_is_power_of_2 (3));
}
END_TEST

START_TEST (test_parse_size)
{
  uint64_t r;
  ck_assert_int_eq (lf_parse_size ("4096", &r), 0);
  ck_assert_uint_eq (r, 4096);
  ck_assert_int_eq (lf_parse_size ("10G", &r), 0);
  ck_assert_uint_eq (r, 10 * LF_GiB);
  ck_assert_int_eq (lf_parse_size ("2t", &r), 0);
  ck_assert_uint_eq (r, 2 * LF_TiB);
  ck_assert_int_eq (lf_parse_size ("-1", &r), -1);
  ck_assert_int_eq (lf_parse_size ("12X", &r), -1);
  ck_assert_int_eq (lf_parse_size ("99999999999999999999", &r), -1);
  ck_assert_int_eq (lf_parse_size ("17179869184T", &r), -1);   /* overflows */
  ck_assert_int_eq (lf_last_errno (), EINVAL);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "17179869184T"));
}
END_TEST

/* Numeric options and keys: the whole string, a plain decimal in range. */
START_TEST (test_parse_uint)
{
  unsigned long v = 7;
  ck_assert_int_eq (lf_parse_uint ("0", 0, 10, &v), 0);
  ck_assert_uint_eq (v, 0);
  ck_assert_int_eq (lf_parse_uint ("3600", 0, 3600, &v), 0);
  ck_assert_uint_eq (v, 3600);
  v = 7;
  static const char *const bad[] = {
    "", " 5", "+5", "-1", "5 ", "5s", "0x10", "3601", "abc",
    "99999999999999999999999", NULL,
  };
  for (const char *const *b = bad; *b; b++)
    ck_assert_msg (lf_parse_uint (*b, 0, 3600, &v) == -1, "'%s' accepted", *b);
  ck_assert_int_eq (lf_parse_uint (NULL, 0, 3600, &v), -1);
  ck_assert_int_eq (lf_parse_uint ("0", 1, 64, &v), -1);
  ck_assert_uint_eq (v, 7);
}
END_TEST

START_TEST (test_is_zero)
{
  static char buf[70000];
  ck_assert (lf_is_zero (buf, sizeof buf));
  ck_assert (lf_is_zero (buf, 0));
  ck_assert (lf_is_zero (buf, 5));
  buf[69999] = 1;
  ck_assert (!lf_is_zero (buf, sizeof buf));
  ck_assert (lf_is_zero (buf, 69999));
  buf[69999] = 0;
  buf[3] = 1;
  ck_assert (!lf_is_zero (buf, 4));
  ck_assert (!lf_is_zero (buf, sizeof buf));
  buf[3] = 0;
}
END_TEST

START_TEST (test_utf16)
{
  /* "a", U+00E9, U+20AC, U+1F600 (a surrogate pair), then NUL. */
  static const uint8_t le[] = { 'a', 0, 0xe9, 0, 0xac, 0x20,
                                0x3d, 0xd8, 0x00, 0xde, 0, 0, 'x', 0 };
  uint8_t be[sizeof le];
  for (size_t i = 0; i < sizeof le; i += 2) {
    be[i] = le[i + 1];
    be[i + 1] = le[i];
  }
  char *s = lf_utf16_to_utf8 (le, sizeof le, false);
  ck_assert_str_eq (s, "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  free (s);
  s = lf_utf16_to_utf8 (be, sizeof be, true);
  ck_assert_str_eq (s, "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  free (s);
  /* An unpaired high surrogate at the end, and an odd byte count. */
  static const uint8_t bad[] = { 'b', 0, 0x00, 0xd8, 0x41 };
  s = lf_utf16_to_utf8 (bad, sizeof bad, false);
  ck_assert_str_eq (s, "b\xef\xbf\xbd");
  free (s);
}
END_TEST

START_TEST (test_error_prefix)
{
  lf_error (ENOENT, "%s: not found", "x.vhd");
  lf_error_prefix ("disk %d", 2);
  ck_assert_str_eq (lf_last_error (), "disk 2: x.vhd: not found");
  ck_assert_int_eq (lf_last_errno (), ENOENT);
  struct lf_error_record rec;
  lf_error_save (&rec);
  lf_error_clear ();
  ck_assert_str_eq (lf_last_error (), "unknown error");
  lf_error_restore (&rec);
  ck_assert_str_eq (lf_last_error (), "disk 2: x.vhd: not found");
}
END_TEST

START_TEST (test_path_beside)
{
  char *p = lf_path_beside ("/a/b/child.vhd", "parent.vhd");
  ck_assert_str_eq (p, "/a/b/parent.vhd");
  free (p);
  p = lf_path_beside ("child.vhd", "parent.vhd");
  ck_assert_str_eq (p, "./parent.vhd");
  free (p);
  p = lf_path_beside ("/a/child.vhd", "/abs/parent.vhd");
  ck_assert_str_eq (p, "/abs/parent.vhd");
  free (p);
}
END_TEST

LF_VECTOR (int_vector, int)

START_TEST (test_vector_append)
{
  struct int_vector v = { 0 };
  for (int i = 0; i < 1000; i++)
    ck_assert_int_eq (int_vector_append (&v, i * 3), 0);
  ck_assert_uint_eq (v.len, 1000);
  for (int i = 0; i < 1000; i++)
    ck_assert_int_eq (v.ptr[i], i * 3);
  /* Doubling from LF_VECTOR_MIN_CAP: 8, 16, ... 1024. */
  ck_assert_uint_eq (v.cap, 1024);
  int_vector_reset (&v);
  ck_assert_ptr_null (v.ptr);
  ck_assert_uint_eq (v.len, 0);
  ck_assert_uint_eq (v.cap, 0);
}
END_TEST

START_TEST (test_vector_grow)
{
  uint64_t *a = NULL;
  size_t cap = 0;

  ck_assert_int_eq (lf_grow (&a, &cap, 1, sizeof *a), 0);
  ck_assert_uint_eq (cap, LF_VECTOR_MIN_CAP);
  a[0] = 42;
  uint64_t *before = a;
  /* Room already there: nothing moves. */
  ck_assert_int_eq (lf_grow (&a, &cap, LF_VECTOR_MIN_CAP, sizeof *a), 0);
  ck_assert_ptr_eq (a, before);
  ck_assert_uint_eq (cap, LF_VECTOR_MIN_CAP);
  ck_assert_int_eq (lf_grow (&a, &cap, 100, sizeof *a), 0);
  ck_assert_uint_eq (cap, 128);
  ck_assert_uint_eq (a[0], 42);
  before = a;

  /* count * size overflows: refused, the array left as it was. */
  lf_error_clear ();
  ck_assert_int_eq (lf_grow (&a, &cap, SIZE_MAX / 4, sizeof *a), -1);
  ck_assert_int_eq (lf_last_errno (), EOVERFLOW);
  ck_assert_ptr_eq (a, before);
  ck_assert_uint_eq (cap, 128);
  ck_assert_int_eq (lf_grow (&a, &cap, SIZE_MAX, 1), -1);
  ck_assert_int_eq (lf_last_errno (), EOVERFLOW);
  ck_assert_uint_eq (a[0], 42);
  free (a);
}
END_TEST

START_TEST (test_vector_reserve_overflow)
{
  struct int_vector v = { 0 };
  ck_assert_int_eq (int_vector_append (&v, 7), 0);
  /* len + n wraps around: must fail, not reserve a tiny array. */
  lf_error_clear ();
  ck_assert_int_eq (int_vector_reserve (&v, SIZE_MAX), -1);
  ck_assert_int_eq (lf_last_errno (), EOVERFLOW);
  ck_assert_uint_eq (v.len, 1);
  ck_assert_int_eq (v.ptr[0], 7);
  int_vector_reset (&v);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("common");
  TCase *tc = tcase_create ("common");
  tcase_add_test (tc, test_endian);
  tcase_add_test (tc, test_overflow);
  tcase_add_test (tc, test_parse_size);
  tcase_add_test (tc, test_parse_uint);
  tcase_add_test (tc, test_is_zero);
  tcase_add_test (tc, test_utf16);
  tcase_add_test (tc, test_error_prefix);
  tcase_add_test (tc, test_path_beside);
  tcase_add_test (tc, test_vector_append);
  tcase_add_test (tc, test_vector_grow);
  tcase_add_test (tc, test_vector_reserve_overflow);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

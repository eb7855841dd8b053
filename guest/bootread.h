/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall guest/: the boot loader's default entry and its kernel command
 * line, read once for verify and for bootfix/linux's editor.
 *
 * The command line is split into words the way grub and the kernel do:
 * blanks end a word except inside quotes (console="ttyS0,115200" is one
 * word).  Input is hostile: the functions stop at the given end, never
 * read past it, and say "unbalanced" rather than guess.
 */
#ifndef LF_BOOTREAD_H
#define LF_BOOTREAD_H

#include <stdbool.h>
#include <stddef.h>

/* The end of the word at S (before END): a blank outside quotes. */
extern const char *lf_cmdline_word_end (const char *s, const char *end);
/* Every quote of S (LEN bytes) closed?  An open one would swallow the
 * arguments after it into one word.
 */
extern bool lf_cmdline_quotes_balanced (const char *s, size_t len);
/* The value of the last KEY= in ARGS (the one the kernel takes), quotes
 * removed, as a new string; NULL if none (or out of memory).
 */
extern char *lf_cmdline_get (const char *args, const char *key);
/* Does ARGS have console=TTY (with or without ",options")? */
extern bool lf_cmdline_has_console (const char *args, const char *tty);

/* The default entry of a grub.cfg: what Azure boots.  "set default=" other
 * than 0 or a variable is reported in NOTE (the first entry is the one
 * read); no grubenv is consulted.
 */
struct lf_boot_entry {
  char *kernel;                 /* the path on the linux line */
  char *args;                   /* the rest of the line */
  char *note;                   /* or NULL */
};
/* false if TEXT has no linux line (or out of memory); free with
 * lf_boot_entry_free either way.
 */
extern bool lf_grub_default_entry (const char *text, size_t len,
                                   struct lf_boot_entry *e);
extern void lf_boot_entry_free (struct lf_boot_entry *e);

#endif /* LF_BOOTREAD_H */

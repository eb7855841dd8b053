/* landfall bootfix/: the changes that make a guest boot and connect on
 * Azure, one file per concern, grouped here by source file.
 *
 * bootfix/ is written against guest/'s filesystem interface and
 * initramfs/'s archive layer, decides what to change, and knows no job.
 */
#ifndef LF_BOOTFIX_H
#define LF_BOOTFIX_H

#include "guest.h"
#include "initramfs.h"

/* The drivers every Azure (Hyper-V) Linux guest needs early. */
extern const char *const lf_hyperv_modules[3];

/* linux/initramfs.c */

/* For each initramfs inspection listed in OS's facts, open it (read-only)
 * and add what it holds: its segments and their compression, the
 * generator its contents show, and whether each Hyper-V module is in it
 * (or built into the kernel).  Problems with one image are recorded in
 * its entry ("error"), not returned.
 */
extern int lf_linux_initramfs_facts (struct lf_guest *g, struct lf_os *os);

#endif /* LF_BOOTFIX_H */

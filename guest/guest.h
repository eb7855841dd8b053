/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall guest/: everything that reads or writes inside a guest disk,
 * grouped by source file.
 *
 * guest/ decides no changes and knows no job.  It turns disks (from
 * convert/) into block devices (whole disks, partitions, logical volumes),
 * finds filesystems on them, gives one filesystem interface over several
 * backends, and inspects the operating systems found.
 *
 * Paths given to this layer are guest paths ("/etc/fstab").  Symlinks are
 * resolved by one function (fs.c: lf_mounts_resolve) as if in a chroot: a
 * link to "/../../etc/shadow" names the guest's /etc/shadow, never the
 * host's.  Backends receive only resolved paths with no symlink in them
 * except, where stated, the last component.
 */
#ifndef LF_GUEST_H
#define LF_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "common/common.h"
#include "convert/convert.h"

/* blockdev.c
 *
 * A linear range of bytes: a whole disk, a window of one (a partition), or
 * a concatenation of windows (an LVM linear logical volume).  Reads go
 * through convert/ (any image format); writes need a disk whose bytes are
 * stored as they are (raw, fixed VHD) opened writable.  Thread-compatible
 * (not thread-safe): one guest is worked on by one thread.
 */
struct lf_blockdev;

struct lf_bd_segment {
  struct lf_blockdev *dev;      /* the underlying device (a PV) */
  uint64_t dev_offset;          /* where the segment starts in it */
  uint64_t len;                 /* bytes */
};

/* WRITABLE: open the image file for writing too (raw or fixed VHD only).
 * The disk stays owned by the caller and must outlive the device.
 */
/* inuse.c: refuse (-1, EBUSY, naming the mount point, swap or holder) to
 * write PATH, open as FD, while the kernel uses its bytes: the device or a
 * partition of it mounted (other than by this process:
 * lf_kernel_mount_is_ours), a swap, a device-mapper or RAID member, a
 * loop device over the same file mounted, or held open exclusively.
 * *EXCL_OK says whether an exclusive open of the device may be held from
 * now on (a block device with no mount of ours on it).
 */
extern int lf_check_not_in_use (const char *path, int fd, bool *excl_ok);
/* tree.c: MOUNTPOINT (as /proc/self/mountinfo shows it) was mounted by
 * this process (lf_fs_open_kernel) and is still mounted.
 */
extern bool lf_kernel_mount_is_ours (const char *mountpoint);
extern struct lf_blockdev *lf_bd_new_disk (struct lf_disk *disk,
                                           bool writable, const char *name);
extern struct lf_blockdev *lf_bd_new_window (struct lf_blockdev *parent,
                                             uint64_t offset, uint64_t size,
                                             const char *name);
extern struct lf_blockdev *lf_bd_new_linear (const struct lf_bd_segment *segs,
                                             size_t n, const char *name);
/* Children hold no reference: free them before their parent. */
extern void lf_bd_free (struct lf_blockdev *bd);
extern int lf_bd_pread (struct lf_blockdev *bd, void *buf, size_t count,
                        uint64_t offset);
extern int lf_bd_pwrite (struct lf_blockdev *bd, const void *buf,
                         size_t count, uint64_t offset);
extern int lf_bd_flush (struct lf_blockdev *bd);
extern uint64_t lf_bd_size (const struct lf_blockdev *bd);
extern const char *lf_bd_name (const struct lf_blockdev *bd);
extern bool lf_bd_writable (const struct lf_blockdev *bd);
/* A linear device's segments (*N of them); NULL for other kinds. */
extern const struct lf_bd_segment *lf_bd_segments (const struct lf_blockdev *bd,
                                                   size_t *n);
/* For a whole disk or a window of one stored as raw bytes (raw, fixed
 * VHD): the image file and the device's offset in it, so that libraries
 * that want a path (libblkid, libext2fs' unix I/O, hivex) can use it
 * directly.  Returns false for anything else (VMDK, LVM...).
 */
extern bool lf_bd_raw_location (const struct lf_blockdev *bd,
                                const char **path, uint64_t *offset);
/* Extent map of the device (holes of the image), for reads that skip
 * holes.  Same contract as lf_disk_extent.
 */
extern int lf_bd_extent (struct lf_blockdev *bd, uint64_t offset,
                         uint64_t *len, unsigned *type);

/* partition.c: partition tables, probed with libblkid. */
struct lf_partition {
  unsigned number;              /* 1-based, as Linux names them */
  uint64_t offset, size;        /* bytes */
  char type[40];                /* "0x83", or a GPT type GUID */
  char uuid[40];                /* GPT partition GUID, or "SIGNATURE-NN" */
  char name[72];                /* GPT name (UTF-8), or "" */
  bool bootable;                /* MBR active flag */
  bool extended;                /* the MBR extended container itself */
  bool logical;                 /* inside an extended partition */
};

struct lf_partition_table {
  char type[8];                 /* "dos", "gpt", or "" for none */
  char id[40];                  /* MBR signature "0x1234abcd" or GPT GUID */
  bool hybrid;                  /* GPT with a populated MBR too */
  size_t n;
  struct lf_partition *parts;
};

/* Probe BD's partition table.  A disk with none gives type "" and n = 0
 * (a bare filesystem).  Damaged tables are errors.
 */
extern int lf_partitions_probe (struct lf_blockdev *bd,
                                struct lf_partition_table *ret);
extern void lf_partitions_free (struct lf_partition_table *t);

/* probe.c: what is on a block device (libblkid's superblock probe). */
struct lf_fsinfo {
  char type[32];                /* "ext4", "ntfs", "xfs", "LVM2_member",
                                   "crypto_LUKS", "swap", or "" */
  char uuid[64];
  char label[256];
  char version[32];
  uint64_t block_size;
};
extern int lf_fs_probe (struct lf_blockdev *bd, struct lf_fsinfo *ret);
/* For partition.c: a file descriptor libblkid can read BD through, and
 * BD's offset in it (the image file itself, or a sparse memfd holding the
 * regions libblkid reads).  The caller closes it.
 */
extern int lf_bd_probe_fd (struct lf_blockdev *bd, uint64_t *offset);

/* lvm.c: LVM2 volume groups read natively (text metadata); linear
 * logical volumes become block devices without device-mapper.
 */
struct lf_lvm_lv {
  char vg[128], name[128];
  char uuid[64];
  struct lf_blockdev *bd;       /* NULL if not mappable (with reason) */
  char why_not[128];            /* e.g. "raid1 segments need libguestfs" */
  size_t vg_index;              /* its VG in lf_lvm.vgs */
};
/* A PV as its VG's metadata lists it, and the device it was found on: a
 * job must hold every disk of a VG it uses, and names the missing ones.
 */
struct lf_lvm_pv {
  char name[32];                /* "pv0" */
  char uuid[64];                /* as the metadata writes it (dashes) */
  char hint[128];               /* "device", where LVM last saw it, or "" */
  struct lf_blockdev *bd;       /* the PV device found, or NULL: missing */
};
struct lf_lvm_vg {
  char name[128];
  size_t npvs;
  struct lf_lvm_pv *pvs;
};
struct lf_lvm {
  size_t n, lvs_cap;
  struct lf_lvm_lv *lvs;
  size_t nvgs, vgs_cap;
  struct lf_lvm_vg *vgs;
};
/* PVS are the LVM2_member devices found; LVs of every VG complete across
 * them are mapped.
 */
extern int lf_lvm_scan (struct lf_blockdev **pvs, size_t npvs,
                        struct lf_lvm *ret);
extern void lf_lvm_free (struct lf_lvm *lvm);

/* dm.c: device-mapper devices (the appliance: an LV the kernel mounts).
 * A linear target: LEN sectors of DEV from sector OFFSET.
 */
struct lf_dm_target {
  dev_t dev;
  uint64_t offset, len;         /* 512-byte sectors */
};
/* "lf-VG-LV" ('-' doubled, as LVM names its devices) into BUF. */
extern int lf_dm_name (const char *vg, const char *lv, char *buf, size_t n);
/* "MAJOR:MINOR OFFSET", the linear target's parameters. */
extern int lf_dm_table_line (const struct lf_dm_target *t, char *params,
                             size_t n);
/* Device NAME (UUID "LANDFALL-" UUID) as the concatenation of T[0..N),
 * read-only unless WRITABLE; *NODE its /dev node.  One of ours of that
 * name left by an earlier run is removed first.
 */
extern int lf_dm_create (const char *name, const char *uuid,
                         const struct lf_dm_target *t, size_t n,
                         bool writable, char *node, size_t nodesz);
/* Remove NAME; if it is still open, when it is last closed. */
extern int lf_dm_remove (const char *name);

/* fs.c: the filesystem interface. */
struct lf_stat {
  uint32_t mode;                /* S_IFREG|0644 etc., as stat(2) */
  uint64_t size;
  uint64_t ino;
  uint32_t nlink, uid, gid;
  int64_t mtime;
};

struct lf_fs;

struct lf_fs_ops {
  const char *name;             /* "ext2fs", "ntfs-3g", "tree", "guestfs" */
  /* lstat: the last component is not followed.  Required (every backend
   * uses lf_fs_lstat_by_lookup).
   */
  int (*lstat) (struct lf_fs *fs, const char *path, struct lf_stat *st);
  /* lstat with absence as a result: 1 and *ST if PATH exists, 0 if it or
   * a directory on the way does not (nothing recorded: a guest lacking
   * /etc/netplan is a fact, not an error), -1 on error.  Required.
   */
  int (*lookup) (struct lf_fs *fs, const char *path, struct lf_stat *st);
  /* Required. */
  int (*readlink) (struct lf_fs *fs, const char *path, char **target);
  /* Whole file into a new buffer; more than MAX bytes is an error (EFBIG).
   * Required.
   */
  int (*read) (struct lf_fs *fs, const char *path, size_t max, char **buf,
               size_t *len);
  /* Entry names without "." and "..", sorted, NULL-terminated. Required. */
  int (*list) (struct lf_fs *fs, const char *path, char ***names);
  /* The rest are NULL on a read-only backend. */
  /* Replace or create PATH with BUF: a temporary name in the same
   * directory, flushed, then renamed over PATH (or the backend's closest
   * equivalent, documented in it).  MODE applies to a new file; an
   * existing file keeps its mode and owner.
   */
  int (*write_atomic) (struct lf_fs *fs, const char *path, const void *buf,
                       size_t len, uint32_t mode);
  int (*mkdir) (struct lf_fs *fs, const char *path, uint32_t mode);
  int (*rename) (struct lf_fs *fs, const char *from, const char *to);
  /* A file, a symlink or an empty directory; not followed. */
  int (*remove) (struct lf_fs *fs, const char *path);
  int (*symlink) (struct lf_fs *fs, const char *target, const char *path);
  int (*sync) (struct lf_fs *fs);
  void (*close) (struct lf_fs *fs);
};

struct lf_fs {
  const struct lf_fs_ops *ops;
  char *name;                   /* for messages, e.g. "disk.img:p1 (ext4)" */
  bool writable;
  void *priv;                   /* the backend's */
};

/* Open the filesystem on BD with the backend that fits its type (ext2/3/4
 * with libext2fs, ntfs with libntfs-3g), writable if asked and possible.
 * Types no native backend reads are an error naming the type.
 */
/* The lstat op of every backend: lookup, with absence an ENOENT error. */
extern int lf_fs_lstat_by_lookup (struct lf_fs *fs, const char *path,
                                  struct lf_stat *st);
extern struct lf_fs *lf_fs_open (struct lf_blockdev *bd,
                                 const struct lf_fsinfo *info, bool writable);
extern void lf_fs_close (struct lf_fs *fs);
/* The time written into inodes and superblocks from now on (seconds since
 * the Unix epoch), instead of the current time; 0 goes back to the
 * current time.  A job sets one for its whole run, so that the same fix
 * of the same image writes the same bytes (a resumed job gives the same
 * output hash as an uninterrupted one).  Honoured by the libext2fs
 * backend; libntfs-3g takes the clock itself.
 */
extern void lf_fs_set_clock (int64_t t);
extern int64_t lf_fs_clock (void);

/* ext2.c, ntfs.c, tree.c, guestfs.c: the backends' constructors. */
extern struct lf_fs *lf_fs_open_ext2 (struct lf_blockdev *bd, bool writable);
extern struct lf_fs *lf_fs_open_ntfs (struct lf_blockdev *bd, bool writable);
/* ntfs.c: the state of an NTFS volume, found when it was opened (also
 * read-only, as findings).  DIRTY: the volume's dirty flag is set (not
 * shut down cleanly, or chkdsk pending).  HIBERNATED: hiberfil.sys holds a
 * hibernation image (hibernate or Windows fast startup).  A writable open
 * refuses both, as it refuses BitLocker (EACCES).  -1 if FS is not NTFS.
 */
extern int lf_ntfs_state (struct lf_fs *fs, bool *dirty, bool *hibernated);
/* A directory on the host that holds a guest filesystem (a kernel mount in
 * the appliance, or a test fixture).  Every path is resolved beneath ROOT
 * (openat2 RESOLVE_IN_ROOT): nothing outside ROOT is ever reached.
 */
extern struct lf_fs *lf_fs_open_tree (const char *root, bool writable);
/* DEVICE (a block device node) mounted by the kernel as FSTYPE under
 * $LANDFALL_MOUNT_DIR (default /run/landfall/mnt), then read as a tree;
 * closing it unmounts it.  The appliance's way to its guests' filesystems,
 * with the kernel's own drivers (and journal replay).
 */
extern struct lf_fs *lf_fs_open_kernel (const char *device,
                                        const char *fstype, bool writable);

/* guestfs.c: the libguestfs backend, for what no native backend reads
 * (XFS, btrfs, LUKS with a key, LVM volumes that are not linear), on a
 * workstation.  One appliance per guest, holding all its disks, launched
 * when a call first needs it (30 s or so under TCG).  The handle is
 * reference-counted: each filesystem opened on it holds a reference, so
 * lf_guestfs_close may come as soon as the filesystems are open; the
 * appliance shuts down when the last of them is closed.  Built without
 * libguestfs, lf_kvm_works, lf_guestfs_available and
 * lf_guestfs_parse_device still work and the rest fails with ENOTSUP.
 */
/* Does KVM really work here?  /dev/kvm is opened, its API version read, a
 * VM and a vCPU created, and the CPU must show vmx or svm (a software KVM
 * such as kvm_pvm answers every ioctl, yet ordinary guests hang on it).
 * LANDFALL_KVM=0 or 1 in the environment decides instead.  The probe runs
 * once per process.  *REASON (if REASON is not NULL) says why, in a
 * static string.
 */
extern bool lf_kvm_works (const char **reason);
/* Compiled with libguestfs? */
extern bool lf_guestfs_available (void);

struct lf_guestfs;
struct lf_guestfs_fs {
  char device[400];             /* "/dev/sda1", "/dev/VG/LV", "/dev/mapper/x",
                                   "btrfsvol:/dev/sda1/@home" */
  char volume[128];             /* the device, without "btrfsvol:" and the
                                   subvolume */
  struct lf_fsinfo info;        /* type ("" if unknown), uuid, label */
  /* btrfs: the subvolume's path from the top level ("" for the top
   * level), its id (0: unknown), and whether it is the default subvolume
   * (what mounting the device without subvol= gives: the device itself).
   */
  char subvol[256];
  uint64_t subvolid;
  bool subvol_default;
  char md_uuid[40];             /* an md array: its UUID, hex digits only */
};
extern struct lf_guestfs *lf_guestfs_new (void);
/* FORMAT: lf_disk_format's name ("raw", "qcow2", "vmdk", "vhd", "vhdx")
 * or QEMU's ("vpc").  Disks become /dev/sda, /dev/sdb... in this order.
 * READONLY disks get a throwaway overlay: filesystems on them cannot be
 * opened writable (EROFS).  Only before the launch.
 */
extern int lf_guestfs_add_disk (struct lf_guestfs *g, const char *path,
                                const char *format, bool readonly);
/* Explicit launch (the calls below launch when needed).  A failed launch
 * fails again, at once, on every later call.
 */
extern int lf_guestfs_launch (struct lf_guestfs *g);
/* Every filesystem the appliance sees (list_filesystems, with vfs_uuid and
 * vfs_label), in a new array.  A btrfs device is its default subvolume;
 * its other subvolumes follow it (device "btrfsvol:DEVICE/PATH", opened
 * with lf_fs_open_guestfs_subvol (VOLUME, SUBVOL)), except snapshots
 * (under a ".snapshots" or "timeshift-btrfs" directory): old copies of a
 * root would be found as more operating systems.
 */
extern int lf_guestfs_filesystems (struct lf_guestfs *g,
                                   struct lf_guestfs_fs **ret, size_t *n);
/* Open LUKS DEVICE with KEY as /dev/mapper/NAME (returned, new string) and
 * activate any LVM inside it.
 */
extern char *lf_guestfs_open_luks (struct lf_guestfs *g, const char *device,
                                   const char *key, const char *name);
/* Mount DEVICE (as the appliance names it) at a private mount point,
 * read-only unless WRITABLE; the filesystem holds a reference to G.
 */
extern struct lf_fs *lf_fs_open_guestfs (struct lf_guestfs *g,
                                         const char *device, bool writable);
/* The same for btrfs subvolume SUBVOL (its path from the top level) of
 * DEVICE; NULL SUBVOL: the default subvolume, as lf_fs_open_guestfs.
 */
extern struct lf_fs *lf_fs_open_guestfs_subvol (struct lf_guestfs *g,
                                                const char *device,
                                                const char *subvol,
                                                bool writable);
/* Drop the caller's reference (NULL is fine). */
extern void lf_guestfs_close (struct lf_guestfs *g);
/* The appliance's name for a disk, partition or LV back to ours:
 * "/dev/sdb2" gives DISK 1, PART 2, LV ""; "/dev/sdc" DISK 2, PART 0;
 * "/dev/rhel/root" DISK SIZE_MAX and LV "rhel/root".  -1 (EINVAL) for
 * anything else (/dev/mapper/..., /dev/md127).
 */
extern int lf_guestfs_parse_device (const char *device, size_t *disk,
                                    unsigned *part, char *lv, size_t lvlen);

/* mounts.c: a guest's filesystems at their mount points. */
struct lf_mount {
  char *mountpoint;             /* "/", "/boot", "/var", or "C:" */
  struct lf_fs *fs;             /* not owned */
};

struct lf_mounts {
  size_t n, cap;
  struct lf_mount *m;           /* longest mount point first */
};

extern int lf_mounts_add (struct lf_mounts *ms, const char *mountpoint,
                          struct lf_fs *fs);
extern void lf_mounts_free (struct lf_mounts *ms);

/* Resolve guest PATH: every symlink followed (the last one only if
 * FOLLOW_LAST), ".." clamped at "/", at most LF_MAX_SYMLINKS links.
 * Returns the filesystem and the path inside it (new string).
 */
#define LF_MAX_SYMLINKS 40
extern int lf_mounts_resolve (struct lf_mounts *ms, const char *path,
                              bool follow_last, struct lf_fs **fs,
                              char **fspath);
/* The same with a missing directory on the way a result: 1 resolved (the
 * last component may not exist: the caller may create it), 0 if a
 * directory on the way does not exist (nothing recorded), -1 on error.
 */
extern int lf_mounts_resolve_opt (struct lf_mounts *ms, const char *path,
                                  bool follow_last, struct lf_fs **fs,
                                  char **fspath);

/* Convenience wrappers over lf_mounts_resolve + the ops: 0, or -1 with
 * the error recorded (a missing file is ENOENT).
 */
extern int lf_guest_stat (struct lf_mounts *ms, const char *path,
                          struct lf_stat *st);      /* follows */
extern int lf_guest_lstat (struct lf_mounts *ms, const char *path,
                           struct lf_stat *st);
extern int lf_guest_read (struct lf_mounts *ms, const char *path, size_t max,
                          char **buf, size_t *len);
extern int lf_guest_readlink (struct lf_mounts *ms, const char *path,
                              char **target);
extern int lf_guest_list (struct lf_mounts *ms, const char *path,
                          char ***names);
/* The same for what a guest may well not have: 1 (LF_MATCH) if PATH
 * exists (and was read), 0 (LF_NO_MATCH) if it, or a directory on the
 * way, does not, with nothing recorded; -1 on a real error (recorded; a
 * file on the way where a directory should be is ENOTDIR).
 * Symlinks are followed, but by lf_guest_lstat_opt and
 * lf_guest_readlink_opt for the last component.
 */
extern int lf_guest_stat_opt (struct lf_mounts *ms, const char *path,
                              struct lf_stat *st);
extern int lf_guest_lstat_opt (struct lf_mounts *ms, const char *path,
                               struct lf_stat *st);
extern int lf_guest_read_opt (struct lf_mounts *ms, const char *path,
                              size_t max, char **buf, size_t *len);
extern int lf_guest_readlink_opt (struct lf_mounts *ms, const char *path,
                                  char **target);
extern int lf_guest_list_opt (struct lf_mounts *ms, const char *path,
                              char ***names);
/* lf_guest_stat_opt == 1; a real error is recorded and gives false. */
extern bool lf_guest_exists (struct lf_mounts *ms, const char *path);
extern void lf_free_names (char **names);

/* fstab.c: /etc/fstab (fstab(5)), parsed as hostile input. */
struct lf_fstab_entry {
  char *spec, *file, *vfstype, *mntops;  /* octal escapes decoded */
  int freq, passno;
  unsigned line;                /* 1-based line number */
  bool valid;                   /* has at least the first three fields */
};
struct lf_fstab {
  size_t n, cap;
  struct lf_fstab_entry *e;
};
/* NAME is used in messages.  Comments and blank lines are skipped. */
/* The fields of one fstab line (N bytes, no newline): blanks and CR
 * separate them, '#' ends the line; at most MAX.  The editor in
 * bootfix/linux keeps their places, so it splits with this too.
 */
extern unsigned lf_fstab_split (const char *line, size_t n, const char **f,
                                size_t *fl, unsigned max);
/* A field with fstab(5)'s octal escapes (\040) decoded, as a new string. */
extern char *lf_fstab_unescape (const char *s, size_t len);
extern int lf_fstab_parse (const char *buf, size_t len, const char *name,
                           struct lf_fstab *ret);
extern void lf_fstab_free (struct lf_fstab *t);
extern bool lf_fstab_has_option (const struct lf_fstab_entry *e,
                                 const char *opt);

/* hive.c: registry hives through hivex, on a private copy: the one
 * adapter, for inspection (read-only) and for the Windows fix (writable,
 * committed to bytes the caller plans).  Nodes are hivex's offsets (0:
 * none); types are the registry's REG_* numbers.
 */
#define LF_REG_NONE             0
#define LF_REG_SZ               1
#define LF_REG_EXPAND_SZ        2
#define LF_REG_BINARY           3
#define LF_REG_DWORD            4
#define LF_REG_DWORD_BIG_ENDIAN 5
#define LF_REG_MULTI_SZ         7
/* A SYSTEM hive of a busy server can reach a few hundred MiB. */
#define LF_HIVE_MAX             (512 * LF_MiB)
/* Subkeys listed under one key (services, NIC interfaces, BCD objects):
 * Windows has about a thousand services. */
#define LF_HIVE_MAX_SUBKEYS     4096
struct lf_hive;
/* PATH of the guest, read through MS.  WRITE opens the copy for editing
 * (lf_hive_commit gives the edited bytes back).
 */
extern struct lf_hive *lf_hive_open (struct lf_mounts *ms, const char *path,
                                     bool write);
/* The same from BUF (LEN bytes), NAME for messages.  Anything but a
 * "regf" base block and what hivex opens is refused; the sequence
 * numbers are the caller's to judge (lf_hive_dirty).
 */
extern struct lf_hive *lf_hive_open_buf (const char *name, const void *buf,
                                         size_t len, bool write);
extern void lf_hive_close (struct lf_hive *hv);
extern void lf_hive_cleanup (struct lf_hive **hv);
#define CLEANUP_HIVE __attribute__ ((cleanup (lf_hive_cleanup)))
/* Hives opened so far by this process (tests count them). */
extern unsigned lf_hive_open_count (void);
/* Header sequence numbers differ: changes sit in unreplayed logs. */
extern bool lf_hive_dirty (const struct lf_hive *hv);
extern const char *lf_hive_name (const struct lf_hive *hv);
extern uint64_t lf_hive_root (struct lf_hive *hv);
/* A node by backslash path from the root ("" is the root), or 0. */
extern uint64_t lf_hive_node (struct lf_hive *hv, const char *path);
/* The same below FROM (0: the root). */
extern uint64_t lf_hive_node_from (struct lf_hive *hv, uint64_t from,
                                   const char *path);
extern uint64_t lf_hive_child (struct lf_hive *hv, uint64_t parent,
                               const char *name);
extern char *lf_hive_node_name (struct lf_hive *hv, uint64_t node);
/* Value NAME of NODE: LF_MATCH with *T, *DATA (malloc'd, NUL-padded by
 * two bytes) and *LEN; LF_NO_MATCH if absent; -1 on error.
 */
extern int lf_hive_get (struct lf_hive *hv, uint64_t node, const char *name,
                        uint32_t *t, char **data, size_t *len);
/* The name of value NAME as the hive spells it, or NULL. */
extern char *lf_hive_value_key (struct lf_hive *hv, uint64_t node,
                                const char *name);
/* Inspection's readers: 0 or -1 (absent, another type). */
extern int lf_hive_get_dword (struct lf_hive *hv, uint64_t node,
                              const char *name, uint32_t *ret);
extern char *lf_hive_get_string (struct lf_hive *hv, uint64_t node,
                                 const char *name);
extern char **lf_hive_get_multi (struct lf_hive *hv, uint64_t node,
                                 const char *name);
/* Subkey names, NULL-terminated (free with lf_free_names); NULL for node
 * 0, or with the error recorded (more than LF_HIVE_MAX_SUBKEYS: E2BIG).
 */
extern char **lf_hive_children (struct lf_hive *hv, uint64_t node);
/* Value names of NODE, NULL-terminated, or NULL with the error recorded. */
extern char **lf_hive_value_names (struct lf_hive *hv, uint64_t node);
extern int lf_hive_values (struct lf_hive *hv, uint64_t node,
                           int (*fn) (void *opaque, const char *name,
                                      uint32_t type, const void *data,
                                      size_t len),
                           void *opaque);
/* Editing (a hive opened with WRITE).  Set value NAME (as spelled). */
extern int lf_hive_set_value (struct lf_hive *hv, uint64_t node,
                              const char *name, uint32_t t, const void *data,
                              size_t len);
/* Delete value NAME (case-insensitive): 1 with its old *T, *DATA
 * (malloc'd) and *LEN, 0 if absent, -1 on error.
 */
extern int lf_hive_delete_value (struct lf_hive *hv, uint64_t node,
                                 const char *name, uint32_t *t, char **data,
                                 size_t *len);
/* A new subkey (0 with the error recorded). */
extern uint64_t lf_hive_add_child (struct lf_hive *hv, uint64_t parent,
                                   const char *name);
/* Delete key NODE and everything below it (not the root). */
extern int lf_hive_delete_key (struct lf_hive *hv, uint64_t node);
/* The edited hive's bytes (*BUF malloc'd). */
extern int lf_hive_commit (struct lf_hive *hv, char **buf, size_t *len);

/* inspect.c: everything found on a set of disks. */
/* --- Linux md RAID (mdraid.c) ---------------------------------------- */

#define LF_MD_MAX_DISKS 64

/* What a member's superblock says. */
struct lf_md_member {
  char metadata[8];             /* "0.90", "1.0", "1.1", "1.2" */
  char uuid[37];                /* the array's, as blkid spells it */
  char set_name[33];            /* 1.x: "host:0"; 0.90: "" */
  char name[48];                /* the array's device: "md0", "md/data" */
  int level;                    /* 1 for RAID1, -1 linear... */
  unsigned raid_disks;
  int role;                     /* slot in the array, -1 spare or faulty */
  uint64_t data_offset, data_size;  /* bytes, in the member */
};
/* 1 and M filled if BD holds a member superblock, 0 if not, -1 (error
 * set) if it is damaged.
 */
extern int lf_md_probe (struct lf_blockdev *bd, struct lf_md_member *m);
extern const char *lf_md_level_name (const struct lf_md_member *m,
                                     char *buf, size_t n);

/* An array, from the members found on the disks given. */
struct lf_md_array {
  struct lf_md_member sb;       /* the first member's superblock */
  unsigned present;             /* distinct roles found */
  uint64_t roles;               /* bit r: role r found */
  uint64_t disks;               /* bit d: disk d holds a member */
  char members[512];            /* "a.img:p2 (member 0), b.img:p2 (...)" */
};

struct lf_guest_fs {
  struct lf_blockdev *bd;       /* not owned (the guest's bds are); NULL
                                   for an LV only libguestfs reaches */
  size_t disk;                  /* index of its disk, SIZE_MAX for an LV */
  unsigned part;                /* partition number, 0 for a whole disk */
  char lv[300];                 /* "vg/lv" for a logical volume */
  struct lf_fsinfo info;
  struct lf_fs *fs;             /* opened, or NULL (see error) */
  char error[512];              /* why it could not be probed or opened */
  char dm[128];                 /* the device-mapper device FS is mounted
                                   from (dm.c), removed after it */
  /* btrfs through libguestfs: the subvolume (as struct lf_guestfs_fs has
   * it); a subvolume other than the default is an entry of its own, with
   * the device's bd, disk, part and lv, and a name saying which.
   */
  char subvol[256];
  uint64_t subvolid;
  bool subvol_default;
  char name[420];
};

struct lf_os {
  const char *type;             /* "linux" or "windows" */
  size_t root;                  /* index into fss */
  struct lf_mounts mounts;      /* "/" and, for Linux, fstab's mounts */
  json_t *facts;                /* what inspection found, for reports */
};

struct lf_guest {
  bool writable;
  size_t ndisks;
  struct lf_disk **disks;
  struct lf_blockdev **disk_bds;
  struct lf_partition_table *tables;
  size_t nbds, bds_cap;
  struct lf_blockdev **bds;     /* partitions (LVs belong to lvm) */
  struct lf_lvm lvm;
  size_t nfs, fss_cap;
  struct lf_guest_fs *fss;
  size_t nos, oses_cap;
  struct lf_os *oses;
  size_t nmd, md_cap;
  struct lf_md_array *md;       /* md arrays with a member on the disks */
};

/* Open PATHS (the disks of one machine) and find their filesystems. */
extern struct lf_guest *lf_guest_open (const char *const *paths, size_t n,
                                       bool writable);
extern void lf_guest_close (struct lf_guest *g);
/* After lf_guest_open: open with libguestfs (guestfs.c) what no native
 * backend read: XFS, btrfs and the like, and LVs lvm.c cannot map (added
 * to fss with bd NULL).  One appliance for the guest's disks, launched
 * only if some such filesystem exists (vfat alone is not worth 30 s), or
 * if ALWAYS; once it runs, it opens every filesystem still unopened that
 * it can mount.  Failing to launch is a finding recorded in the waiting
 * filesystems' error, not a failure.  Returns how many were opened, or -1.
 */
extern int lf_guest_open_guestfs (struct lf_guest *g, bool always);
/* -1 (error set, naming the array, its level and the members given) if
 * an md array lacks a member among the disks: writing one mirror alone
 * would make them differ.
 */
extern int lf_guest_md_check (const struct lf_guest *g);
/* The md array filesystem F is on (its name in F->lv), or NULL. */
extern const struct lf_md_array *lf_guest_md (const struct lf_guest *g,
                                              const struct lf_guest_fs *f);
/* Find and inspect every OS root. */
extern int lf_guest_inspect (struct lf_guest *g);
/* Inspect again, after the guest was written through G (the facts of
 * lf_guest_inspect are those of the moment it ran).  Pointers into
 * g->oses are invalid afterwards.
 */
extern int lf_guest_reinspect (struct lf_guest *g);
extern json_t *lf_guest_report (struct lf_guest *g);
/* Whether the facts' array ARR (e.g. os->facts' "firmware") holds S. */
extern bool lf_facts_has (json_t *arr, const char *s);
/* "disk.img:p1" or "vg0/root". */
extern const char *lf_guest_fs_device (const struct lf_guest *g,
                                       const struct lf_guest_fs *f);
/* By "UUID" or "LABEL" (case-insensitive), or NULL. */
extern struct lf_guest_fs *lf_guest_find_fs (struct lf_guest *g,
                                             const char *key,
                                             const char *value);
/* The btrfs subvolume of F's volume that mount options MNTOPS (fstab's,
 * or rootflags=) name: subvol=, subvolid=, or else the default subvolume.
 * F itself when it is not btrfs; NULL (EINVAL, saying which) when no
 * subvolume of the volume that was opened matches.
 */
extern struct lf_guest_fs *lf_guest_btrfs_subvol (struct lf_guest *g,
                                                  struct lf_guest_fs *f,
                                                  const char *mntops);

/* Firmware the disks boot with and the Azure generations that fit. */
extern void lf_guest_firmware (struct lf_guest *g, struct lf_os *os);

/* inspect-linux.c, inspect-windows.c: fill os->facts (and os->mounts). */
/* KEY's value in a shell-style KEY=value text (os-release, sysconfig),
 * quotes removed; a new string or NULL.
 */
extern char *lf_shvar_get (const char *text, const char *key);
extern int lf_inspect_linux (struct lf_guest *g, struct lf_os *os);
extern int lf_inspect_windows (struct lf_guest *g, struct lf_os *os);
/* The Select values of a Windows OS's SYSTEM hive, as inspected, that name
 * no control set the hive has, in BUF as one text ("Select\Current is 5,
 * but the hive has no ControlSet005 (it has ControlSet001,
 * ControlSet002)"; several joined by "; ").  Returns how many; *FATAL is
 * set when Current or Default is among them: Windows boots the Default
 * set and the Current one is what was booted and what verify reads, so
 * neither can be fixed or checked.  A missing LastKnownGood only loses
 * the boot menu's fallback.  The one reader of both fix and verify, so
 * that they cannot disagree.
 */
extern int lf_win_select_check (const struct lf_os *os, char *buf,
                                size_t size, bool *fatal);
/* The guest path of a service's ImagePath under SYSROOT ("/Windows"):
 * "\SystemRoot\System32\drivers\x.sys", "%SystemRoot%\...",
 * "system32\drivers\x.sys" (relative to the system root), "C:\..." and
 * "\??\C:\...".  NULL (no error recorded) for anything else: another
 * drive, a quoted command line, an empty or overlong value.
 */
extern char *lf_win_image_path (const char *sysroot, const char *image);

/* inspect-windows.c: facts of the driver services SERVICES (with the
 * files FILES they load when their key has no ImagePath; both NULL-
 * terminated, the caller's, from a profile) in every control set listed
 * in OS: "profile_drivers" {service: {"service", "file", "start",
 * "start_name"}}.  -1 if the SYSTEM hive cannot be opened.
 */
extern int lf_win_driver_facts (struct lf_os *os, const char *const *services,
                                const char *const *files);

#endif /* LF_GUEST_H */

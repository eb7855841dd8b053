/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/: an MBR disk made GPT with an EFI system partition,
 * offline, for UEFI firmware (Azure generation 2).
 *
 * Every partition keeps its start and size, so the filesystems are not
 * touched: GPT's primary header and entries go in sectors 1..33 (the old
 * MBR gap, where grub's core.img was), the disk grows at the end by the
 * ESP and GPT's backup header, and the ESP (FAT32 made by mkfs.fat and
 * filled by mtools, host tools) goes in that new space.  libfdisk reads
 * the MBR and writes the GPT, on a sparse scratch file of the new size
 * (a fixed VHD's footer must not be mistaken for the disk's last sector);
 * the sectors it wrote are then copied into the image.
 *
 * What undo needs to give the BIOS disk back byte for byte is the gap
 * (sector 0 and every sector before the first partition), the old size
 * and, for a VHD, the old footer: the caller journals them
 * (lf_plan_set_disk_backup) before anything here writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libfdisk/libfdisk.h>

#include "bootfix/bootfix.h"
#include "convert/convert.h"

extern char **environ;

#define SECTOR 512u
#define GPT_SECTORS 33u         /* header + 128 entries of 128 bytes */
#define LF_GPT_MAX_GAP (64 * LF_MiB)

static const struct {
  unsigned mbr;
  const char *guid;
} type_map[] = {
  { 0x83, "0FC63DAF-8483-4772-8E79-3D69D8477DE4" },  /* Linux filesystem */
  { 0x82, "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F" },  /* Linux swap */
  { 0x8e, "E6D6D379-F507-44C2-A23C-238F2A3DF928" },  /* Linux LVM */
  { 0xfd, "A19D880F-05FC-4D3B-A006-743F0F84911E" },  /* Linux RAID */
  { 0xef, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" },  /* EFI system */
  { 0x07, "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7" },  /* basic data */
  { 0x06, "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7" },
  { 0x0b, "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7" },
  { 0x0c, "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7" },
  { 0x0e, "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7" },
};
#define ESP_GUID "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"

static const char *
gpt_type (unsigned mbr)
{
  for (size_t i = 0; i < sizeof type_map / sizeof type_map[0]; i++)
    if (type_map[i].mbr == mbr)
      return type_map[i].guid;
  return NULL;
}

int
lf_gpt_conv_check (const struct lf_gpt_part *parts, size_t n,
                   uint64_t disk_bytes, const char *name)
{
  if (n == 0) {
    lf_error (EINVAL, "%s: no partitions in the MBR: nothing to convert",
              name);
    return -1;
  }
  if (n > LF_GPT_MAX_PARTS - 1) {
    lf_error (E2BIG, "%s: %zu partitions: GPT holds 128 with the new EFI "
              "system partition, so at most 127 can be converted", name, n);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    const struct lf_gpt_part *p = &parts[i];
    uint64_t end;
    if (p->number == 0 || p->number > LF_GPT_MAX_PARTS) {
      lf_error (EINVAL, "%s: partition %u: a number GPT has no entry for",
                name, p->number);
      return -1;
    }
    if (p->start < 1 + GPT_SECTORS) {
      lf_error (ENOSPC, "%s: partition %u starts at sector %" PRIu64
                ", inside where GPT's header and entries must go (sectors "
                "1 to %u): it cannot be converted without moving it",
                name, p->number, p->start, GPT_SECTORS);
      return -1;
    }
    if (ADD_OVERFLOW (p->start, p->size, &end) || p->size == 0 ||
        end > disk_bytes / SECTOR) {
      lf_error (EINVAL, "%s: partition %u (start %" PRIu64 ", %" PRIu64
                " sectors) does not fit the disk of %" PRIu64 " sectors",
                name, p->number, p->start, p->size, disk_bytes / SECTOR);
      return -1;
    }
    if (!gpt_type (p->mbr_type)) {
      lf_error (ENOTSUP, "%s: partition %u has MBR type 0x%02x, which "
                "landfall does not know a GPT type for (known: Linux, swap, "
                "LVM, RAID, FAT, NTFS, ESP)", name, p->number, p->mbr_type);
      return -1;
    }
    for (size_t j = 0; j < i; j++)
      if (parts[j].number == p->number) {
        lf_error (EINVAL, "%s: partition number %u twice", name, p->number);
        return -1;
      }
  }
  return 0;
}

/* A GUID from the disk's MBR signature and WHAT: the same disk converted
 * twice gets the same GPT, so a job's output is reproducible.
 */
static void
derived_guid (uint32_t disk_id, const char *what, char out[37])
{
  char in[64], hex[65];

  snprintf (in, sizeof in, "landfall-gpt-%08" PRIx32 "-%s", disk_id, what);
  lf_sha256_hex (in, strlen (in), hex);
  hex[12] = '4';                                /* version 4 */
  hex[16] = "89ab"[hex[16] % 4];                /* RFC 4122 variant */
  snprintf (out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
            hex + 16, hex + 20);
}

int
lf_gpt_conv_plan (const char *path, bool vhd, uint64_t disk_bytes,
                  struct lf_gpt_conv *c)
{
  struct fdisk_context *cxt = NULL;
  struct fdisk_table *tb = NULL;
  struct fdisk_iter *itr = NULL;
  struct fdisk_partition *pa;
  struct stat st;
  int ret = -1, r;
  uint64_t first = UINT64_MAX;
  char sig[16];

  memset (c, 0, sizeof *c);
  if (stat (path, &st) == -1) {
    lf_error (errno, "%s: %m", path);
    return -1;
  }
  if (!S_ISREG (st.st_mode)) {
    lf_error (ENOSPC, "%s: %s: converting it to GPT needs room to grow at "
              "its end for the EFI system partition, and a device cannot "
              "grow (fix a copy as an image file)", path,
              S_ISBLK (st.st_mode) ? "a block device" : "not a regular file");
    return -1;
  }
  if (snprintf (c->path, sizeof c->path, "%s", path) >= (int) sizeof c->path) {
    lf_error (ENAMETOOLONG, "%s: path too long", path);
    return -1;
  }
  c->vhd = vhd;
  c->old_size = disk_bytes;
  c->old_file_size = (uint64_t) st.st_size;
  if (disk_bytes % SECTOR || disk_bytes + (vhd ? LF_VHD_FOOTER_SIZE : 0) !=
      (uint64_t) st.st_size) {
    lf_error (EINVAL, "%s: disk size %" PRIu64 " does not match the file "
              "(%" PRIu64 " bytes)", path, disk_bytes, (uint64_t) st.st_size);
    return -1;
  }

  if (!(cxt = fdisk_new_context ())) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  fdisk_disable_dialogs (cxt, 1);
  if ((r = fdisk_assign_device (cxt, path, 1)) < 0) {
    lf_error (-r, "%s: libfdisk cannot open it: %s", path, strerror (-r));
    goto out;
  }
  if (!fdisk_is_label (cxt, DOS)) {
    lf_error (EINVAL, "%s: not an MBR (dos) disk", path);
    goto out;
  }
  {
    char *idstr = NULL;
    if (fdisk_get_disklabel_id (cxt, &idstr) == 0 && idstr)
      c->disk_id = (uint32_t) strtoul (idstr, NULL, 16);
    free (idstr);
  }
  if ((r = fdisk_get_partitions (cxt, &tb)) < 0) {
    lf_error (-r, "%s: reading the MBR partitions: %s", path, strerror (-r));
    goto out;
  }
  itr = fdisk_new_iter (FDISK_ITER_FORWARD);
  while (itr && fdisk_table_next_partition (tb, itr, &pa) == 0) {
    if (!fdisk_partition_is_used (pa))
      continue;
    struct fdisk_parttype *t = fdisk_partition_get_type (pa);
    unsigned code = t ? fdisk_parttype_get_code (t) : 0;
    /* The extended container is MBR bookkeeping: its logical partitions
     * become GPT entries of their own, the EBRs stay where they are
     * (outside every partition) for undo.
     */
    if (fdisk_partition_is_container (pa)) {
      c->had_extended = true;
      continue;
    }
    if (code == 0xee) {
      lf_error (EINVAL, "%s: a protective MBR (type 0xee): the disk is GPT "
                "already", path);
      goto out;
    }
    if (c->nparts == LF_GPT_MAX_PARTS) {
      lf_error (E2BIG, "%s: more than %d partitions: GPT holds 128 with the "
                "new EFI system partition", path, LF_GPT_MAX_PARTS - 1);
      goto out;
    }
    struct lf_gpt_part *p = &c->parts[c->nparts++];
    p->number = (unsigned) fdisk_partition_get_partno (pa) + 1;
    p->start = fdisk_partition_get_start (pa);
    p->size = fdisk_partition_get_size (pa);
    p->mbr_type = code;
    p->bootable = fdisk_partition_is_bootable (pa);
    first = LF_MIN (first, p->start);
  }
  if (lf_gpt_conv_check (c->parts, c->nparts, disk_bytes, path) == -1)
    goto out;
  /* Sector 0 and the gap before the first partition: the MBR, its boot
   * code and grub's core.img.  An extended partition's first EBR may sit
   * before the first logical partition, but it is never overwritten.
   */
  c->gap = first * SECTOR;
  if (c->gap > LF_GPT_MAX_GAP) {
    lf_error (EFBIG, "%s: the first partition starts at sector %" PRIu64
              ": the %" PRIu64 " bytes before it are more than landfall "
              "journals for undo (%d MiB)", path, first, c->gap,
              (int) (LF_GPT_MAX_GAP / LF_MiB));
    goto out;
  }
  {
    /* The ESP in new space past the old end, MiB-aligned; the backup GPT
     * after it; the whole a MiB multiple (Azure's fixed VHD rule).
     */
    uint64_t esp = (disk_bytes + LF_MiB - 1) / LF_MiB * LF_MiB;
    c->esp_start = esp / SECTOR;
    c->esp_sectors = LF_ESP_SIZE / SECTOR;
    c->new_size = esp + LF_ESP_SIZE + LF_MiB;
  }
  for (unsigned n = 1; n <= LF_GPT_MAX_PARTS; n++) {
    bool used = false;
    for (size_t i = 0; i < c->nparts; i++)
      used |= c->parts[i].number == n;
    if (!used) {
      c->esp_number = n;
      break;
    }
  }
  snprintf (sig, sizeof sig, "%08" PRIX32, c->disk_id);
  snprintf (c->esp_volid, sizeof c->esp_volid, "%.4s-%.4s", sig, sig + 4);
  ret = 0;
 out:
  fdisk_free_iter (itr);
  fdisk_unref_table (tb);
  fdisk_unref_context (cxt);
  return ret;
}

void
lf_gpt_conv_free (struct lf_gpt_conv *c)
{
  if (!c)
    return;
  free (c->loader);
  free (c->grub);
  free (c);
}

/* Run ARGV; its output into LOG (appended).  0 if it exited 0. */
static int
run_tool (char *const argv[], const char *log)
{
  posix_spawn_file_actions_t fa;
  pid_t pid;
  int st, r;

  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_addopen (&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen (&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND,
                                    0600);
  posix_spawn_file_actions_adddup2 (&fa, 1, 2);
  r = posix_spawnp (&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  if (r != 0) {
    lf_error (r, "%s: %s (install %s)", argv[0], strerror (r),
              strncmp (argv[0], "grub", 4) == 0 ? "grub-efi-amd64-bin"
              : strncmp (argv[0], "mkfs", 4) == 0 ? "dosfstools" : "mtools");
    return -1;
  }
  while (waitpid (pid, &st, 0) == -1)
    if (errno != EINTR) {
      lf_error (errno, "waitpid: %m");
      return -1;
    }
  if (!WIFEXITED (st) || WEXITSTATUS (st) != 0) {
    char buf[512] = "";
    int fd = open (log, O_RDONLY | O_CLOEXEC);
    if (fd != -1) {
      off_t end = lseek (fd, 0, SEEK_END);
      ssize_t n = pread (fd, buf, sizeof buf - 1, end > 400 ? end - 400 : 0);
      buf[n > 0 ? n : 0] = '\0';
      close (fd);
    }
    lf_error (EIO, "%s failed (status %d): %s", argv[0],
              WIFEXITED (st) ? WEXITSTATUS (st) : 128 + WTERMSIG (st), buf);
    return -1;
  }
  return 0;
}

static int
write_file (const char *path, const void *buf, size_t len)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd == -1 || lf_pwrite_all (fd, buf, len, 0) == -1) {
    if (fd == -1)
      lf_error (errno, "%s: %m", path);
    if (fd != -1)
      close (fd);
    return -1;
  }
  return close (fd);
}

/* The grub configuration embedded in a loader landfall builds: find the
 * guest's /boot by UUID and hand over to its own grub.cfg.
 */
char *
lf_gpt_conv_embedded_cfg (const struct lf_gpt_conv *c)
{
  char *s = NULL;
  if (asprintf (&s,
                "search --no-floppy --fs-uuid --set=root %s\n"
                "set prefix=($root)%s\n"
                "configfile $prefix/grub.cfg\n",
                c->boot_uuid, c->grub_prefix) == -1)
    return NULL;
  return s;
}

/* Modules a Debian grub.cfg loads (insmod) or uses, built into the image:
 * the guest's /boot/grub has only i386-pc modules.
 */
static const char *const grub_modules[] = {
  "part_gpt", "part_msdos", "ext2", "xfs", "btrfs", "lvm", "fat", "search",
  "search_fs_uuid", "search_label", "search_fs_file", "normal", "configfile",
  "linux", "echo", "test", "ls", "cat", "gzio", "all_video", "efi_gop",
  "font", "gfxterm", "loadenv", "reboot", "halt", "sleep", "serial",
  "terminal", "minicmd", "regexp", "probe", NULL
};

/* The FAT32 image of the ESP in DIR/esp.img. */
static int
build_esp (const struct lf_gpt_conv *c, const char *dir)
{
  char img[4096], log[4096], f1[4096], f2[4096], cfg[4096], sz[32];
  char *argv[64];
  size_t a = 0;
  CLEANUP_FREE char *ecfg = NULL;

  snprintf (img, sizeof img, "%s/esp.img", dir);
  snprintf (log, sizeof log, "%s/tools.log", dir);
  snprintf (f1, sizeof f1, "%s/BOOTX64.EFI", dir);
  snprintf (f2, sizeof f2, "%s/grubx64.efi", dir);
  snprintf (cfg, sizeof cfg, "%s/grub.cfg", dir);
  if (!(ecfg = lf_gpt_conv_embedded_cfg (c))) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  if (c->loader) {
    if (write_file (f1, c->loader, c->loaderlen) == -1 ||
        write_file (f2, c->grub, c->grublen) == -1)
      return -1;
  }
  else {
    char *gv[64 + LF_ARRAY_SIZE (grub_modules)];
    size_t n = 0;
    gv[n++] = (char *) "grub-mkimage";
    gv[n++] = (char *) "-O";
    gv[n++] = (char *) "x86_64-efi";
    gv[n++] = (char *) "-d";
    gv[n++] = (char *) lf_grub_efi_dir ();
    gv[n++] = (char *) "-p";
    gv[n++] = (char *) "/EFI/BOOT";
    gv[n++] = (char *) "-c";
    gv[n++] = cfg;
    gv[n++] = (char *) "-o";
    gv[n++] = f1;
    for (size_t i = 0; grub_modules[i]; i++)
      gv[n++] = (char *) grub_modules[i];
    gv[n] = NULL;
    if (write_file (cfg, ecfg, strlen (ecfg)) == -1 || run_tool (gv, log) == -1)
      return -1;
  }
  /* Signed grub reads grub.cfg beside itself (Debian's looks in
   * \EFI\debian too): the same hand-over there.
   */
  if (write_file (cfg, ecfg, strlen (ecfg)) == -1)
    return -1;

  snprintf (sz, sizeof sz, "%" PRIu64, c->esp_sectors * SECTOR / 1024);
  {
    int fd = open (img, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd == -1 || ftruncate (fd, (off_t) (c->esp_sectors * SECTOR)) == -1) {
      lf_error (errno, "%s: %m", img);
      if (fd != -1)
        close (fd);
      return -1;
    }
    close (fd);
  }
  char volid[16];
  snprintf (volid, sizeof volid, "%.4s%.4s", c->esp_volid, c->esp_volid + 5);
  a = 0;
  argv[a++] = (char *) "mkfs.fat";
  argv[a++] = (char *) "-F";
  argv[a++] = (char *) "32";
  argv[a++] = (char *) "-s";
  argv[a++] = (char *) "1";
  argv[a++] = (char *) "-i";
  argv[a++] = volid;
  argv[a++] = (char *) "-n";
  argv[a++] = (char *) "EFI";
  argv[a++] = img;
  argv[a] = NULL;
  if (run_tool (argv, log) == -1)
    return -1;
  static const char *const dirs[] = { "::/EFI", "::/EFI/BOOT", "::/EFI/debian" };
  for (size_t i = 0; i < LF_ARRAY_SIZE (dirs); i++) {
    char *mv[] = { (char *) "mmd", (char *) "-i", img, (char *) dirs[i], NULL };
    if (run_tool (mv, log) == -1)
      return -1;
  }
  struct { const char *src, *dst; bool want; } files[] = {
    { f1, "::/EFI/BOOT/BOOTX64.EFI", true },
    { f2, "::/EFI/BOOT/grubx64.efi", c->loader != NULL },
    { cfg, "::/EFI/BOOT/grub.cfg", true },
    { cfg, "::/EFI/debian/grub.cfg", true },
  };
  for (size_t i = 0; i < LF_ARRAY_SIZE (files); i++) {
    if (!files[i].want)
      continue;
    char *cv[] = { (char *) "mcopy", (char *) "-i", img, (char *) "-o",
                   (char *) files[i].src, (char *) files[i].dst, NULL };
    if (run_tool (cv, log) == -1)
      return -1;
  }
  return 0;
}

/* The GPT libfdisk writes for C, on the scratch file TMP of the new size. */
static int
build_gpt (const struct lf_gpt_conv *c, const char *tmp)
{
  struct fdisk_context *cxt = NULL;
  struct fdisk_label *lb;
  int ret = -1, r;
  char guid[37];
  int fd = open (tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

  if (fd == -1 || ftruncate (fd, (off_t) c->new_size) == -1) {
    lf_error (errno, "%s: %m", tmp);
    if (fd != -1)
      close (fd);
    return -1;
  }
  close (fd);
  if (!(cxt = fdisk_new_context ())) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  fdisk_disable_dialogs (cxt, 1);
  /* libfdisk aligns the first usable sector to 1 MiB; a partition of
   * the old DOS alignment (sector 63) must stay where it is.
   */
  if ((r = fdisk_assign_device (cxt, tmp, 0)) < 0 ||
      (fdisk_set_first_lba (cxt, 2 + GPT_SECTORS - 1), 0) ||
      (r = fdisk_create_disklabel (cxt, "gpt")) < 0) {
    lf_error (-r, "%s: libfdisk: creating a GPT: %s", tmp, strerror (-r));
    goto out;
  }
  lb = fdisk_get_label (cxt, NULL);
  derived_guid (c->disk_id, "disk", guid);
  if ((r = fdisk_set_disklabel_id_from_string (cxt, guid)) < 0) {
    lf_error (-r, "libfdisk: setting the disk GUID: %s", strerror (-r));
    goto out;
  }
  for (size_t i = 0; i <= c->nparts; i++) {
    bool esp = i == c->nparts;
    unsigned num = esp ? c->esp_number : c->parts[i].number;
    struct fdisk_partition *pa = fdisk_new_partition ();
    struct fdisk_parttype *t = fdisk_label_get_parttype_from_string
      (lb, esp ? ESP_GUID : gpt_type (c->parts[i].mbr_type));
    char what[32];
    size_t got;
    snprintf (what, sizeof what, "part-%u", num);
    derived_guid (c->disk_id, what, guid);
    if (!pa || !t) {
      fdisk_unref_partition (pa);
      fdisk_unref_parttype (t);
      lf_error (ENOMEM, "libfdisk: partition %u: no type", num);
      goto out;
    }
    fdisk_partition_set_partno (pa, num - 1);
    fdisk_partition_set_start (pa, esp ? c->esp_start : c->parts[i].start);
    fdisk_partition_set_size (pa, esp ? c->esp_sectors : c->parts[i].size);
    fdisk_partition_set_type (pa, t);
    fdisk_partition_set_uuid (pa, guid);
    if (esp)
      fdisk_partition_set_name (pa, "EFI system partition");
    r = fdisk_add_partition (cxt, pa, &got);
    fdisk_unref_parttype (t);
    fdisk_unref_partition (pa);
    if (r < 0) {
      lf_error (-r, "libfdisk: adding partition %u (start %" PRIu64 "): %s",
                num, esp ? c->esp_start : c->parts[i].start, strerror (-r));
      goto out;
    }
  }
  if ((r = fdisk_write_disklabel (cxt)) < 0) {
    lf_error (-r, "libfdisk: writing the GPT: %s", strerror (-r));
    goto out;
  }
  ret = 0;
 out:
  fdisk_unref_context (cxt);
  return ret;
}

static int
copy_range (int from, int to, uint64_t off, uint64_t len)
{
  char buf[64 * 1024];

  while (len > 0) {
    size_t n = (size_t) LF_MIN (len, (uint64_t) sizeof buf);
    if (lf_pread_all (from, buf, n, off) == -1)
      return -1;
    if (!lf_is_zero (buf, n) && lf_pwrite_all (to, buf, n, off) == -1)
      return -1;
    off += n;
    len -= n;
  }
  return 0;
}

/* The footer of the image grown to SIZE: the old one with the new size,
 * geometry and checksum (its unique id and timestamp kept).
 */
static void
grown_footer (uint8_t f[512], uint64_t size)
{
  uint16_t cyl;
  uint8_t heads, spt;

  for (int i = 0; i < 8; i++)
    f[0x30 + i] = (uint8_t) (size >> (56 - 8 * i));
  lf_vhd_chs (size, &cyl, &heads, &spt);
  f[0x38] = (uint8_t) (cyl >> 8);
  f[0x39] = (uint8_t) cyl;
  f[0x3a] = heads;
  f[0x3b] = spt;
  uint32_t sum = lf_vhd_checksum (f, 512, 0x40);
  for (int i = 0; i < 4; i++)
    f[0x40 + i] = (uint8_t) (sum >> (24 - 8 * i));
}

int
lf_gpt_conv_apply (const struct lf_gpt_conv *c, bool with_esp)
{
  char dir[] = "/tmp/landfall-gpt-XXXXXX";
  char tmp[4096], esp[4096];
  int ret = -1, ifd = -1, tfd = -1, efd = -1;
  uint8_t footer[512];

  if (!mkdtemp (dir)) {
    lf_error (errno, "mkdtemp: %m");
    return -1;
  }
  snprintf (tmp, sizeof tmp, "%s/gpt.img", dir);
  snprintf (esp, sizeof esp, "%s/esp.img", dir);
  if ((with_esp && build_esp (c, dir) == -1) || build_gpt (c, tmp) == -1)
    goto out;
  if ((ifd = open (c->path, O_RDWR | O_CLOEXEC)) == -1 ||
      (tfd = open (tmp, O_RDONLY | O_CLOEXEC)) == -1 ||
      (with_esp && (efd = open (esp, O_RDONLY | O_CLOEXEC)) == -1)) {
    lf_error (errno, "%s: %m", ifd == -1 ? c->path : tfd == -1 ? tmp : esp);
    goto out;
  }
  if (c->vhd && lf_pread_all (ifd, footer, sizeof footer, c->old_size) == -1)
    goto out;
  /* Grow, then the new space (ESP, backup GPT, footer), then the primary
   * GPT, and sector 0 last: until it is written the disk is the MBR disk
   * it was, and a re-run converts it again.
   */
  if (ftruncate (ifd, (off_t) (c->new_size + (c->vhd ? LF_VHD_FOOTER_SIZE : 0))) == -1) {
    lf_error (errno, "%s: growing it to %" PRIu64 " bytes: %m", c->path,
              c->new_size);
    goto out;
  }
  {
    /* The old footer now lies in the new space: zero it. */
    static const uint8_t zero[512];
    if (c->vhd && lf_pwrite_all (ifd, zero, sizeof zero, c->old_size) == -1)
      goto out;
  }
  if (with_esp) {
    char buf[64 * 1024];
    for (uint64_t o = 0; o < c->esp_sectors * SECTOR; o += sizeof buf) {
      if (lf_pread_all (efd, buf, sizeof buf, o) == -1)
        goto out;
      if (!lf_is_zero (buf, sizeof buf) &&
          lf_pwrite_all (ifd, buf, sizeof buf, c->esp_start * SECTOR + o) == -1)
        goto out;
    }
  }
  if (copy_range (tfd, ifd, c->new_size - GPT_SECTORS * SECTOR - SECTOR,
                  GPT_SECTORS * SECTOR + SECTOR) == -1)
    goto out;
  if (c->vhd) {
    grown_footer (footer, c->new_size);
    if (lf_pwrite_all (ifd, footer, sizeof footer, c->new_size) == -1)
      goto out;
  }
  if (fdatasync (ifd) == -1) {
    lf_error (errno, "%s: %m", c->path);
    goto out;
  }
  {
    uint8_t buf[(1 + GPT_SECTORS) * SECTOR];
    if (lf_pread_all (tfd, buf, sizeof buf, 0) == -1)
      goto out;
    /* No BIOS boot code: grub's core.img it jumped to is gone. */
    memset (buf, 0, 440);
    if (lf_pwrite_all (ifd, buf + SECTOR, sizeof buf - SECTOR, SECTOR) == -1 ||
        fdatasync (ifd) == -1 ||
        lf_pwrite_all (ifd, buf, SECTOR, 0) == -1 || fsync (ifd) == -1) {
      lf_error_prefix ("%s: writing the GPT", c->path);
      goto out;
    }
  }
  ret = 0;
 out:
  if (ifd != -1)
    close (ifd);
  if (tfd != -1)
    close (tfd);
  if (efd != -1)
    close (efd);
  {
    static const char *const names[] = { "gpt.img", "esp.img", "tools.log",
                                         "BOOTX64.EFI", "grubx64.efi",
                                         "grub.cfg" };
    for (size_t i = 0; i < LF_ARRAY_SIZE (names); i++) {
      char f[4200];
      snprintf (f, sizeof f, "%s/%s", dir, names[i]);
      unlink (f);
    }
    rmdir (dir);
  }
  return ret;
}

int
lf_gpt_conv_undo (const char *path, const json_t *meta, const void *gap,
                  size_t gaplen)
{
  uint64_t old_file = (uint64_t) json_integer_value (json_object_get (meta, "old_file_size"));
  uint64_t new_file = (uint64_t) json_integer_value (json_object_get (meta, "new_file_size"));
  const char *fhex = json_string_value (json_object_get (meta, "old_footer"));
  uint8_t footer[512];
  struct stat st;
  int fd;

  if (!old_file || !new_file || gaplen < SECTOR || gaplen > old_file ||
      (fhex && strlen (fhex) != 1024)) {
    lf_error (EINVAL, "journal: damaged disk conversion record");
    return -1;
  }
  if (fhex)
    for (size_t i = 0; i < 512; i++) {
      unsigned v;
      if (sscanf (fhex + 2 * i, "%2x", &v) != 1) {
        lf_error (EINVAL, "journal: damaged footer in the disk conversion "
                  "record");
        return -1;
      }
      footer[i] = (uint8_t) v;
    }
  if ((fd = open (path, O_RDWR | O_CLOEXEC)) == -1 || fstat (fd, &st) == -1) {
    lf_error (errno, "%s: %m", path);
    if (fd != -1)
      close (fd);
    return -1;
  }
  if ((uint64_t) st.st_size != new_file && (uint64_t) st.st_size != old_file) {
    lf_error (EINVAL, "%s: %" PRIu64 " bytes, neither the size before the "
              "GPT conversion (%" PRIu64 ") nor after it (%" PRIu64 "): "
              "left alone", path, (uint64_t) st.st_size, old_file, new_file);
    close (fd);
    return -1;
  }
  /* The MBR sectors first (the partitions are where they were), then
   * the size, then the old footer at the old end.
   */
  if (lf_pwrite_all (fd, gap, gaplen, 0) == -1 || fdatasync (fd) == -1 ||
      ftruncate (fd, (off_t) old_file) == -1 ||
      (fhex && lf_pwrite_all (fd, footer, sizeof footer, old_file - 512) == -1) ||
      fsync (fd) == -1) {
    lf_error_prefix ("%s: restoring the MBR disk", path);
    if (lf_last_errno () == 0)
      lf_error (errno, "%s: %m", path);
    close (fd);
    return -1;
  }
  close (fd);
  return 0;
}

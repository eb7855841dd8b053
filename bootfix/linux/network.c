/* landfall bootfix/linux: the network on Azure (reference/linux.md §6).
 *
 * On Azure the NIC is a hv_netvsc device with a new MAC: static addresses
 * and MAC bindings from VMware would leave the VM unreachable.  The kernel
 * command line gets net.ifnames=0 (boot.c), so the first NIC is eth0 on
 * Azure, under QEMU and on any hypervisor; it is configured for DHCP, and
 * persistent-net udev rules, which pin names to the old MACs, go.
 *
 * This version handles ifupdown (Debian, Ubuntu before netplan); other
 * stacks are reported as not handled yet.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootfix.h"

#define NETCFG_MAX (1 << 20)

/* /etc/network/interfaces: every stanza of a non-loopback interface is
 * replaced by one DHCP stanza for eth0; what was removed is reported.
 */
static int
fix_ifupdown (struct lf_plan *p)
{
  const char *path = "/etc/network/interfaces";
  char *buf = NULL;
  size_t len;
  char *out = NULL;
  size_t outlen = 0;
  FILE *fp;
  bool in_stanza = false, has_eth0_dhcp = false;
  unsigned removed = 0;

  if (lf_plan_read (p, path, NETCFG_MAX, &buf, &len) == -1) {
    lf_error_clear ();
    return 0;
  }
  fp = open_memstream (&out, &outlen);
  if (!fp) {
    free (buf);
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  for (char *s = buf; s < buf + len; ) {
    char *nl = memchr (s, '\n', (size_t) (buf + len - s));
    size_t n = nl ? (size_t) (nl - s) + 1 : (size_t) (buf + len - s);
    char w1[32] = "", w2[64] = "", w3[16] = "", w4[16] = "";
    char line[512];
    snprintf (line, sizeof line, "%.*s", (int) LF_MIN (n, sizeof line - 1), s);
    int nw = sscanf (line, " %31s %63s %15s %15s", w1, w2, w3, w4);
    bool stanza_start = nw >= 1 && (strcmp (w1, "iface") == 0 ||
      strcmp (w1, "auto") == 0 || strncmp (w1, "allow-", 6) == 0 ||
      strcmp (w1, "mapping") == 0 || strcmp (w1, "source") == 0 ||
      strcmp (w1, "source-directory") == 0);
    if (stanza_start)
      in_stanza = false;
    if (stanza_start && nw >= 2 && strcmp (w2, "lo") != 0 &&
        (strcmp (w1, "iface") == 0 || strcmp (w1, "auto") == 0 ||
         strncmp (w1, "allow-", 6) == 0)) {
      if (strcmp (w1, "iface") == 0 && strcmp (w2, "eth0") == 0 &&
          nw >= 4 && strcmp (w4, "dhcp") == 0) {
        has_eth0_dhcp = true;   /* already ours (or the admin's) */
        fwrite (s, 1, n, fp);
        s += n;
        continue;
      }
      if ((strcmp (w1, "auto") == 0 || strncmp (w1, "allow-", 6) == 0) &&
          strcmp (w2, "eth0") == 0) {
        fwrite (s, 1, n, fp);
        s += n;
        continue;
      }
      if (strcmp (w1, "iface") == 0) {
        lf_plan_note (p, "network", LF_CHANGED, "%s: %s (%s) removed",
                      path, w2, nw >= 4 ? w4 : "?");
        in_stanza = true;
      }
      removed++;
      s += n;
      continue;
    }
    if (in_stanza && nw >= 1 && w1[0] != '#') {
      /* address, netmask, gateway, dns-* of the removed stanza */
      lf_plan_note (p, "network", LF_CHANGED, "%s: removed \"%s %s\"", path,
                    w1, nw >= 2 ? w2 : "");
      s += n;
      continue;
    }
    fwrite (s, 1, n, fp);
    s += n;
  }
  if (!has_eth0_dhcp) {
    if (outlen && out && out[outlen - 1] != '\n')
      fputc ('\n', fp);
    fputs ("\n# The primary network interface on Azure (landfall)\n"
           "allow-hotplug eth0\niface eth0 inet dhcp\n", fp);
  }
  fclose (fp);
  int r = 0;
  if (removed == 0 && has_eth0_dhcp)
    lf_plan_note (p, "network", LF_ALREADY_RIGHT, "%s: eth0 on DHCP", path);
  else
    r = lf_plan_write (p, "network", path, out, outlen, 0644,
                       "primary NIC (eth0) on DHCP");
  free (out);
  free (buf);
  return r;
}

int
lf_fix_linux_network (struct lf_guest *g, struct lf_os *os,
                      struct lf_plan *p, const struct lf_fix_opts *o)
{
  size_t i;
  json_t *n;
  bool other = false;

  (void) g;
  (void) o;
  if (fix_ifupdown (p) == -1)
    return -1;
  json_array_foreach (json_object_get (os->facts, "network"), i, n) {
    const char *stack = json_string_value (json_object_get (n, "stack"));
    if (stack && strcmp (stack, "ifupdown") != 0 && !other) {
      other = true;
      lf_plan_note (p, "network", LF_WARNING, "%s configuration (%s) is not "
                    "handled yet: check that the NIC uses DHCP", stack,
                    json_string_value (json_object_get (n, "file")));
    }
  }
  json_array_foreach (json_object_get (os->facts, "persistent_net_rules"), i, n) {
    const char *path = json_string_value (n);
    if (path && lf_plan_remove (p, "network", path,
                                "persistent-net rules pin names to the old "
                                "MACs") == -1)
      return -1;
    if (path)
      lf_plan_note (p, "network", LF_CHANGED, "%s removed", path);
  }
  return 0;
}

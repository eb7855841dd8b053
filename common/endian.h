/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall: every byte-order function, in one place.
 *
 * VHD and qcow2 are big-endian, VMDK, VHDX and the registry little-endian.
 * Parsers decode a raw on-disk header once into a host-order struct with
 * these, or swap at every access; never keep a half-swapped struct.
 * Loads and stores go through memcpy, so unaligned pointers are fine.
 */
#ifndef LF_ENDIAN_H
#define LF_ENDIAN_H

#include <stdint.h>
#include <string.h>

static inline uint16_t
lf_le16 (const void *p)
{
  const uint8_t *b = p;
  return (uint16_t) (b[0] | (b[1] << 8));
}

static inline uint32_t
lf_le32 (const void *p)
{
  const uint8_t *b = p;
  return (uint32_t) b[0] | ((uint32_t) b[1] << 8) |
    ((uint32_t) b[2] << 16) | ((uint32_t) b[3] << 24);
}

static inline uint64_t
lf_le64 (const void *p)
{
  const uint8_t *b = p;
  return (uint64_t) lf_le32 (b) | ((uint64_t) lf_le32 (b + 4) << 32);
}

static inline uint16_t
lf_be16 (const void *p)
{
  const uint8_t *b = p;
  return (uint16_t) ((b[0] << 8) | b[1]);
}

static inline uint32_t
lf_be32 (const void *p)
{
  const uint8_t *b = p;
  return ((uint32_t) b[0] << 24) | ((uint32_t) b[1] << 16) |
    ((uint32_t) b[2] << 8) | (uint32_t) b[3];
}

static inline uint64_t
lf_be64 (const void *p)
{
  const uint8_t *b = p;
  return ((uint64_t) lf_be32 (b) << 32) | (uint64_t) lf_be32 (b + 4);
}

static inline void
lf_put_le16 (void *p, uint16_t v)
{
  uint8_t *b = p;
  b[0] = (uint8_t) v; b[1] = (uint8_t) (v >> 8);
}

static inline void
lf_put_le32 (void *p, uint32_t v)
{
  uint8_t *b = p;
  b[0] = (uint8_t) v; b[1] = (uint8_t) (v >> 8);
  b[2] = (uint8_t) (v >> 16); b[3] = (uint8_t) (v >> 24);
}

static inline void
lf_put_le64 (void *p, uint64_t v)
{
  lf_put_le32 (p, (uint32_t) v);
  lf_put_le32 ((uint8_t *) p + 4, (uint32_t) (v >> 32));
}

static inline void
lf_put_be16 (void *p, uint16_t v)
{
  uint8_t *b = p;
  b[0] = (uint8_t) (v >> 8); b[1] = (uint8_t) v;
}

static inline void
lf_put_be32 (void *p, uint32_t v)
{
  uint8_t *b = p;
  b[0] = (uint8_t) (v >> 24); b[1] = (uint8_t) (v >> 16);
  b[2] = (uint8_t) (v >> 8); b[3] = (uint8_t) v;
}

static inline void
lf_put_be64 (void *p, uint64_t v)
{
  lf_put_be32 (p, (uint32_t) (v >> 32));
  lf_put_be32 ((uint8_t *) p + 4, (uint32_t) v);
}

#endif /* LF_ENDIAN_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall fuzz target: the vmdk reader (see fuzz-common.h). */
#define FUZZ_FORMAT "vmdk"
#include "tests/fuzz/fuzz-common.h"

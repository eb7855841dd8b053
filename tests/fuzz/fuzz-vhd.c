/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall fuzz target: the vhd reader (see fuzz-common.h). */
#define FUZZ_FORMAT "vhd"
#include "tests/fuzz/fuzz-common.h"

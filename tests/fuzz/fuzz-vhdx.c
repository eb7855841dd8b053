/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall fuzz target: the vhdx reader (see fuzz-common.h). */
#define FUZZ_FORMAT "vhdx"
#include "tests/fuzz/fuzz-common.h"

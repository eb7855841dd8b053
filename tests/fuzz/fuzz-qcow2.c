/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall fuzz target: the qcow2 reader (see fuzz-common.h). */
#define FUZZ_FORMAT "qcow2"
#include "tests/fuzz/fuzz-common.h"

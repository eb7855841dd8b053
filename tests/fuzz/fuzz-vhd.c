/* landfall fuzz target: the vhd reader (see fuzz-common.h). */
#define FUZZ_FORMAT "vhd"
#include "tests/fuzz/fuzz-common.h"

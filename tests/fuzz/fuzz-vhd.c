/* landfall fuzz target: the vhd reader (see fuzz-common.h). */
#define FUZZ_FORMAT "vhd"
#include "fuzz-common.h"

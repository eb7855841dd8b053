/* landfall fuzz target: the vmdk reader (see fuzz-common.h). */
#define FUZZ_FORMAT "vmdk"
#include "fuzz-common.h"

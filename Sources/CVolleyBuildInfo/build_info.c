#include "volley_build_info.h"

// Replaced at link time by scripts/package (see volley_build_info.h). Weak, so the compiler
// cannot assume its contents here and the packaged definition takes its place without a
// duplicate-symbol error.
__attribute__((weak)) const char volley_build_info_text[] = "";

const char *volley_build_info(void) { return volley_build_info_text; }

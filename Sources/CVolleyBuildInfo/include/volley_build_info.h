#ifndef VOLLEY_BUILD_INFO_H
#define VOLLEY_BUILD_INFO_H

/// How this binary was built, as "key: value" lines for `volley --version` (commit, build
/// time, toolchain, how it is linked); empty in a development build.
///
/// build_info.c defines the text as a weak, empty symbol. scripts/package compiles the real
/// text into an object of its own and links it in (`-Xlinker build_info.o`), where its strong
/// definition wins: a new commit relinks the binary instead of recompiling every module, as a
/// `-Xcc -D` define would.
const char *_Nonnull volley_build_info(void);

#endif

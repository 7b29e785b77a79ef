#ifndef VOLLEY_MALLOC_TUNING_H
#define VOLLEY_MALLOC_TUNING_H

/// Tunes glibc's allocator for the sidecar (see malloc_tuning.c). It already ran, as a
/// constructor, when the program was loaded; calling it keeps that code linked in.
void volley_tune_malloc(void);

#endif

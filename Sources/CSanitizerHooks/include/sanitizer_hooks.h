#ifndef VOLLEY_SANITIZER_HOOKS_H
#define VOLLEY_SANITIZER_HOOKS_H

/// Tells ThreadSanitizer that the lock at `address` (its mutex) was just taken
/// (`volley_tsan_acquire`) or is about to be released (`volley_tsan_release`). In a build
/// without ThreadSanitizer both do nothing. See VolleySystem's `Locked` for why they exist.
void volley_tsan_acquire(void *address);
void volley_tsan_release(void *address);

#endif

// ThreadSanitizer learns of a lock by intercepting pthread_mutex_lock and friends. Swift's
// Synchronization.Mutex on Linux locks with raw futex system calls and carries no annotations,
// so without these calls every access it guards looks like a race (68 reports of the first
// `scripts/test --sanitize thread` run, all of them inside withLock). `Locked.withLock` calls
// them with its mutex's address: acquire after the lock is taken, release before it is let go,
// which is the happens-before edge the futex gives.
//
// SwiftPM compiles this file with -fsanitize=thread in a ThreadSanitizer build (swift build
// --sanitize thread), and only then are the runtime's __tsan_* entry points called or linked.
#include "sanitizer_hooks.h"

#if defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define VOLLEY_THREAD_SANITIZER 1
#  endif
#endif

#ifdef VOLLEY_THREAD_SANITIZER
// From compiler-rt's sanitizer/tsan_interface.h, declared here so no sanitizer header is needed.
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);

void volley_tsan_acquire(void *address) { __tsan_acquire(address); }
void volley_tsan_release(void *address) { __tsan_release(address); }
#else
void volley_tsan_acquire(void *address) { (void)address; }
void volley_tsan_release(void *address) { (void)address; }
#endif

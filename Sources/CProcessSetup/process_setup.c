#include "process_setup.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

// Descriptors, prepared before main, while the process still has one thread.
//
// 1. The soft limit on open files goes up to the hard limit, as Go's runtime does: each
//    connection is a descriptor, and the usual soft limit of 1,024 made a batch at
//    concurrency 1,500 fail most of its requests with "Failed to connect" (EMFILE). The hard
//    limit is what the administrator allows; we only stop pretending it is lower.
//
// 2. The descriptor table is grown once, here, to room for `table_slots` descriptors. Linux
//    grows it by doubling as descriptors are opened (64, 128, 256, ...), and in a process
//    with several threads each growth waits for an RCU grace period (expand_files ->
//    synchronize_rcu): ~12 ms with the transport thread stalled, three or four times while
//    a batch opens its first 500 connections (bench W2: 10 of its 40 ms to get 500 requests
//    on the wire). With one thread no wait is needed. The table costs 8 bytes per slot.
enum { table_slots = 16384 };

__attribute__((constructor)) static void volley_prepare_descriptors(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0) getrlimit(RLIMIT_NOFILE, &limit);
    }
    rlim_t highest = limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > table_slots ? table_slots : limit.rlim_cur;
    if (highest < 2) return;
    int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (probe < 0) return;
    // The lowest free descriptor at or above highest - 1: the table grows to hold it.
    int high = fcntl(probe, F_DUPFD_CLOEXEC, (int)(highest - 1));
    if (high >= 0) close(high);
    close(probe);
}

void volley_process_setup(void) {}

// LeakSanitizer reads this when `volley` is built with `--sanitize address`
// (`scripts/test --sanitize address`); otherwise nothing calls it. Each entry is a one-time
// allocation of the Swift runtime that LeakSanitizer cannot see is still referenced, never
// memory that grows with work (a 100,000-item soak reports the same few allocations as a start
// and exit would: bench/results/2026-12-07-soak.md). In the binary, because tests spawn the
// sidecar with environments of their own, where LSAN_OPTIONS does not reach.
// - formWeakReference: a weak reference's side table, whose address the object's refcount word
//   holds shifted into its bits (an encoded pointer LeakSanitizer cannot follow).
// - swift_getTypeName, swift_getMangledTypeName: type names cached for the process's life
//   (swift-argument-parser asks for them at start-up).
const char *__lsan_default_suppressions(void) {
    return "leak:formWeakReference\nleak:swift_getTypeName\nleak:swift_getMangledTypeName\n";
}

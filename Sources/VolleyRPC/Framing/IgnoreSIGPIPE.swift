#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Makes the process ignore `SIGPIPE`, so writing to a closed stdout fails with `EPIPE` (which
/// ``FrameWriter`` reports through `onBroken`) instead of killing the process.
///
/// Call once at start, before any thread writes. Affects the whole process, including libcurl
/// sockets, which is what the design wants.
public func ignoreSIGPIPE() {
    _ = signal(SIGPIPE, SIG_IGN)
}

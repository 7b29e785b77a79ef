import Dispatch

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// SIGINT and SIGTERM delivered as an async value instead of killing the process.
///
/// Created before the server starts, so a signal that arrives while it binds is not lost.
struct TerminationSignals {
    private let stream: AsyncStream<Int32>
    /// Kept so the sources live as long as this value does.
    private let sources: [any DispatchSourceSignal]

    init() {
        let queue = DispatchQueue(label: "volley-fake-llm.signals")
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)  // the dispatch source sees it; the default action would exit
            sources.append(DispatchSource.makeSignalSource(signal: number, queue: queue))
        }
        stream = AsyncStream { continuation in
            for source in sources {
                let number = Int32(source.handle)
                source.setEventHandler { continuation.yield(number) }
                source.resume()
            }
        }
        self.sources = sources
    }

    /// Waits for the first SIGINT or SIGTERM and returns its number.
    func next() async -> Int32 {
        for await number in stream { return number }
        return SIGTERM
    }
}

/// A method the server knows, grouped by how it runs (docs/protocol.md, "Methods"), so that
/// the dispatcher and each handler switch over cases instead of comparing strings.
enum RPCMethod: Sendable, Hashable {
    /// Runs as a registered task that `cancel`, `shutdown` and signals can stop.
    case cancellable(Cancellable)
    /// Stops accepting requests on the reader thread, then answers once work has settled.
    case shutdown
    /// Everything else: answered from a short task.
    case other(Other)

    enum Cancellable: String, Sendable, CaseIterable {
        case gather
        case asCompleted = "as_completed"
        case call
    }

    enum Other: String, Sendable, CaseIterable {
        case initialize, ping, cancel, stats, configure, exit

        /// Whether the method may change the providers: it is then handled in line order,
        /// before any later request starts (docs/protocol.md, "Ordering").
        var changesConfiguration: Bool { self == .initialize || self == .configure }
    }

    /// The method named `name`, or nil when there is none (answered -32601).
    init?(_ name: String) {
        if name == "shutdown" {
            self = .shutdown
        } else if let method = Cancellable(rawValue: name) {
            self = .cancellable(method)
        } else if let method = Other(rawValue: name) {
            self = .other(method)
        } else {
            return nil
        }
    }

    var name: String {
        switch self {
        case .cancellable(let method): method.rawValue
        case .shutdown: "shutdown"
        case .other(let method): method.rawValue
        }
    }

    /// Every method, in the order `initialize` lists them.
    static let all: [RPCMethod] = [
        .other(.initialize), .other(.ping), .cancellable(.gather), .cancellable(.asCompleted), .cancellable(.call),
        .other(.cancel), .other(.stats), .other(.configure), .shutdown, .other(.exit),
    ]
}

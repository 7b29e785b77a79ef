import VolleyJSON

/// What one connection of a shared sidecar knows of the daemon serving it: its own id (its
/// engine session's) and how to list every connection (for `initialize` and `stats`).
struct ConnectionContext: Sendable {
    var id: UInt64
    /// `stats.connections`: every connection now open, by id.
    var connections: @Sendable () -> JSONValue
}

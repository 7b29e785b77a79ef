/// A failure of the test harness itself (a wait that timed out, a binary not found, a reply
/// that is not what the harness needs to go on), with a message that says what was awaited.
public struct HarnessError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Bound of every wait of the sidecar harnesses, in seconds: a hang fails the test instead of
/// blocking the run.
public let defaultTimeoutSeconds: Double = 30

/// The limiter an item uses: its name (in `stats` and logs) and the settings it is admitted under.
///
/// A class, made once per (provider, model) by the `LimiterTable` and shared by every item of
/// that pair: held inline, its settings made each prepared item ~150 bytes larger (3 MB of
/// sidecar RSS at bench W1's 20,000 items).
final class LimiterAssignment: Sendable, Equatable {
    let name: String
    let settings: LimiterSettings

    init(name: String, settings: LimiterSettings) {
        self.name = name
        self.settings = settings
    }

    static func == (a: LimiterAssignment, b: LimiterAssignment) -> Bool {
        a === b || (a.name == b.name && a.settings == b.settings)
    }
}

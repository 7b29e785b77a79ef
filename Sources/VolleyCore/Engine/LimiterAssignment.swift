/// The limiter an item uses: its name (in `stats` and logs) and the settings it is admitted under.
struct LimiterAssignment: Sendable, Equatable {
    var name: String
    var settings: LimiterSettings
}

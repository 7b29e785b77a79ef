/// The `GET /fake/stats` body: every counter in snake_case, without the per-request records.
enum StatsJSON {
    static func body(_ stats: FakeLLMStats, uptimeSeconds: Double) -> FakeJSON {
        let statuses = stats.statusCounts.sorted { $0.key < $1.key }.map { (String($0.key), FakeJSON.int($0.value)) }
        return .object([
            ("requests", .int(stats.requests)),
            ("responses_completed", .int(stats.responsesCompleted)),
            ("connections_accepted", .int(stats.connectionsAccepted)),
            ("connections_open", .int(stats.connectionsOpen)),
            ("peak_connections", .int(stats.peakConnections)),
            ("in_flight", .int(stats.inFlight)),
            ("peak_in_flight", .int(stats.peakInFlight)),
            ("in_flight_admitted", .int(stats.inFlightAdmitted)),
            ("peak_in_flight_admitted", .int(stats.peakInFlightAdmitted)),
            ("in_flight_refused", .int(stats.inFlightRefused)),
            ("client_disconnects_before_response_end", .int(stats.clientDisconnectsBeforeResponseEnd)),
            ("rate_limited", .int(stats.rateLimited)),
            ("status_counts", .object(statuses)),
            ("input_tokens", .int(stats.inputTokens)),
            ("output_tokens", .int(stats.outputTokens)),
            ("record_count", .int(stats.records.count)),
            ("uptime_seconds", .number((uptimeSeconds * 1000).rounded() / 1000)),
        ])
    }
}

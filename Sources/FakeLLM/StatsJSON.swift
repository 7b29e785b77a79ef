import VolleyJSON

/// The `GET /fake/stats` body: every counter in snake_case, without the per-request records.
enum StatsJSON {
    static func body(_ stats: FakeLLMStats, uptimeSeconds: Double) -> JSONValue {
        var statuses = JSONObject(minimumCapacity: stats.statusCounts.count)
        for (status, count) in stats.statusCounts.sorted(by: { $0.key < $1.key }) {
            statuses.updateValue(JSONValue(count), forKey: String(status))
        }
        return .object([
            "requests": JSONValue(stats.requests),
            "responses_completed": JSONValue(stats.responsesCompleted),
            "connections_accepted": JSONValue(stats.connectionsAccepted),
            "connections_open": JSONValue(stats.connectionsOpen),
            "peak_connections": JSONValue(stats.peakConnections),
            "in_flight": JSONValue(stats.inFlight),
            "peak_in_flight": JSONValue(stats.peakInFlight),
            "in_flight_admitted": JSONValue(stats.inFlightAdmitted),
            "peak_in_flight_admitted": JSONValue(stats.peakInFlightAdmitted),
            "in_flight_refused": JSONValue(stats.inFlightRefused),
            "client_disconnects_before_response_end": JSONValue(stats.clientDisconnectsBeforeResponseEnd),
            "rate_limited": JSONValue(stats.rateLimited),
            "status_counts": .object(statuses),
            "input_tokens": JSONValue(stats.inputTokens),
            "output_tokens": JSONValue(stats.outputTokens),
            "record_count": JSONValue(stats.records.count),
            "uptime_seconds": .fakeNumber((uptimeSeconds * 1000).rounded() / 1000),
        ])
    }
}

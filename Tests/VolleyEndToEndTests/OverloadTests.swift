import Testing
import VolleyCore
import VolleyTestSupport

/// -32011: too much work waiting across batches.
@Suite(.tags(.endToEnd)) struct OverloadTests {
    @Test("a batch beyond --max-pending-items is refused with -32011 and retry_after_ms; later ones run once there is room")
    func overloaded() async throws {
        try await withVolley(arguments: ["--max-pending-items", "10"]) { volley in
            // Eight items that wait a minute occupy the budget...
            try volley.send(rpcRequest("gather", id: "long", params: ["requests": mockItems(8, latencyMs: 60_000)]))
            // A ping's answer does not mean the batch's task has counted its items yet (the two
            // run concurrently): wait, bounded, until stats shows the eight in flight.
            var inFlight = 0
            for attempt in 0..<500 where inFlight < 8 {
                inFlight = try await volley.request("stats", id: .string("sync-\(attempt)"))["result"]?["in_flight"]?.intValue ?? 0
            }
            try #require(inFlight == 8, "the long batch never had its eight items in flight")
            // ...so three more do not fit, but two do.
            let refused = try await volley.request("gather", id: "more", params: ["requests": mockItems(3, latencyMs: 0)])
            #expect(refused.errorCode == -32011, "\(refused.jsonString)")
            #expect((refused.errorData?["retry_after_ms"]?.intValue ?? 0) > 0)
            let fits = try await volley.request("gather", id: "fits", params: ["requests": mockItems(2, latencyMs: 0)])
            #expect(fits["result"]?["stats"]?["succeeded"] == 2, "\(fits.jsonString)")
            // Once the long batch is cancelled there is room again.
            let cancelled = try await volley.request("cancel", id: "c", params: ["id": "long"])
            #expect(cancelled["result"]?["cancelled"] == true)
            let stopped = try await volley.response(to: "long")
            #expect(stopped.errorCode == -32800)
            let later = try await volley.request("gather", id: "later", params: ["requests": mockItems(3, latencyMs: 0)])
            #expect(later["result"]?["stats"]?["succeeded"] == 3, "\(later.jsonString)")
        }
    }
}

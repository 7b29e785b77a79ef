import Testing
import VolleyCore
@testable import VolleyRPC

@Suite("OutcomeCollector")
struct OutcomeCollectorTests {
    private static func outcome(_ index: Int) -> Outcome {
        Outcome(index: index, key: "k\(index)", provider: "mock",
                result: index % 3 == 0 ? .failure(ItemError(.timeout, "slow \(index)"))
                    : .success(ItemValue(text: "reply \(index)", finishReason: "stop", model: "m", usage: nil)),
                attempts: 1, latencyMs: Double(index), queuedMs: 0)
    }

    /// Every order of arrival gives the same response: the JSON-RPC envelope around the
    /// outcomes in input order (each as `Outcome.json` writes it) and the stats.
    @Test(arguments: [[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0], [2, 0, 5, 1, 4, 3], [1, 2, 3, 4, 5, 0]])
    func outcomesArrivingInAnyOrderAreAnsweredInInputOrder(_ arrival: [Int]) throws {
        let collector = OutcomeCollector(count: 6, id: .number(7))
        for index in arrival { collector.store(Self.outcome(index)) }
        let stats: JSONValue = ["succeeded": 4, "failed": 2]
        let response = collector.response(stats: stats)
        let expected: JSONValue = [
            "jsonrpc": "2.0", "id": 7,
            "result": ["results": .array((0..<6).map { .object(Self.outcome($0).json) }), "stats": stats],
        ]
        #expect(try JSONParser.parse(response) == expected)
    }

    @Test func aStoppedBatchListsWhatArrivedInOrderAndIgnoresRepeatsAndStrangers() throws {
        let collector = OutcomeCollector(count: 5, id: .string("g"))
        for index in [4, 1, 0, 1, 9, -1] { collector.store(Self.outcome(index)) }
        // 0 and 1 are in the reply, 4 waits for 2 and 3, which never come; the repeat of 1 and
        // the indices outside the batch are ignored.
        #expect(collector.ordered() == [0, 1, 4].map { .object(Self.outcome($0).json) })
        let response = try JSONParser.parse(collector.response(stats: [:]))
        #expect(response["result"]?["results"] == .array([0, 1, 4].map { .object(Self.outcome($0).json) }))
    }
}

import Testing
import VolleyCore
import VolleyTestSupport

/// `initialize` and `configure` apply in line order: a request written right after one of
/// them sees the providers it set (before, the gather raced the configuration and usually
/// lost with "unknown provider").
@Suite("Configuration applies in line order", .timeLimit(.minutes(1)), .tags(.endToEnd))
struct ConfigurationOrderTests {
    private func gatherLine(id: Int, provider: String) -> String {
        rpcRequest("gather", id: .number(JSONNumber(id)), params: ["requests": [
            ["provider": .string(provider), "request": ["model": "m", "messages": [["role": "user", "content": "hi"]]]],
        ]]).jsonString
    }

    @Test("a gather on the same write as the configure that adds its provider succeeds, every time")
    func gatherRightAfterConfigure() async throws {
        try await withVolley { volley in
            for round in 0..<20 {
                let provider = "p\(round)"
                let providers: JSONObject = [provider: ["kind": "mock"]]
                let configure = rpcRequest("configure", id: .number(JSONNumber(1000 + round)), params: [
                    "providers": .object(providers),
                ]).jsonString
                try volley.sendLine(configure + "\n" + gatherLine(id: round, provider: provider))
                let reply = try await volley.response(to: .number(JSONNumber(round)))
                #expect(reply["error"] == nil, "round \(round): \(reply.jsonString)")
                #expect(reply["result"]?["results"]?[0]?["ok"] == true, "round \(round): \(reply.jsonString)")
            }
        }
    }

    @Test("the same for initialize with providers, and inside one batch array")
    func gatherRightAfterInitializeAndInABatch() async throws {
        try await withVolley { volley in
            let initialize = rpcRequest("initialize", id: "init", params: [
                "protocol_version": 1, "providers": ["first": ["kind": "mock"]],
            ]).jsonString
            try volley.sendLine(initialize + "\n" + gatherLine(id: 1, provider: "first"))
            let first = try await volley.response(to: 1)
            #expect(first["result"]?["results"]?[0]?["ok"] == true, "\(first.jsonString)")

            let configure = rpcRequest("configure", id: "cfg", params: ["providers": ["second": ["kind": "mock"]]]).jsonString
            try volley.sendLine("[\(configure),\(gatherLine(id: 2, provider: "second"))]")
            // The batch's replies come back as one array line, after the two lines above.
            var replies: [JSONValue]?
            for index in 0..<10 {
                if let array = try await volley.line(at: index).arrayValue {
                    replies = array
                    break
                }
            }
            let gather = try requireValue(replies, "the batch's reply line").first { $0["id"] == 2 }
            #expect(gather?["result"]?["results"]?[0]?["ok"] == true, "\(replies ?? [])")
        }
    }

    @Test("configure says what the default now is, keeps the one in force, and warns of a provider without a key")
    func configureKeepsTheDefaultAndWarns() async throws {
        try await withVolley { volley in
            let first = try await volley.request("configure", id: 1, params: ["providers": ["a": ["kind": "mock"]]])
            #expect(first["result"]?["default_provider"] == "a", "\(first.jsonString)")
            let second = try await volley.request("configure", id: 2, params: [
                "providers": ["b": ["kind": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "NOT_SET_ANYWHERE"]],
            ])
            #expect(second["result"]?["default_provider"] == "a", "the default in force stays: \(second.jsonString)")
            let warnings = second["result"]?["warnings"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(warnings.count == 1 && warnings.first?.contains("NOT_SET_ANYWHERE is not set") == true, "\(second.jsonString)")
            #expect(first["result"]?["warnings"] == nil, "no warnings, no member")
        }
    }
}


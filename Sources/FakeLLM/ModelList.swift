import VolleyJSON

/// The small, fixed `GET /v1/models` list.
enum ModelList {
    static let ids = ["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "o4-mini", "claude-haiku-4-5", "claude-sonnet-4-5"]

    static let body: JSONValue = .object([
        "object": .string("list"),
        "data": .array(
                ids.map { id in
                    .object([
                        "id": .string(id), "object": .string("model"), "created": JSONValue(1_700_000_000),
                        "owned_by": .string("fake-llm"),
                    ])
                }),
    ])
}

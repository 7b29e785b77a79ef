import FakeLLM

/// Starts a fake LLM server configured by `configure` for `body`, and shuts it down whatever
/// happens (a failing test does not leave its server listening).
public func withFakeServer<Result>(
    _ configure: (inout FakeLLMConfiguration) -> Void = { _ in },
    _ body: (FakeLLMServer) async throws -> Result
) async throws -> Result {
    var configuration = FakeLLMConfiguration()
    configure(&configuration)
    let server = try await FakeLLMServer.start(configuration)
    do {
        let result = try await body(server)
        try await server.shutdown()
        return result
    } catch {
        try? await server.shutdown()
        throw error
    }
}

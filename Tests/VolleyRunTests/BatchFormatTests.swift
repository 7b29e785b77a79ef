import FakeLLM
import FakeLLMTestSupport
import Foundation
import Testing
import VolleyCore
import VolleyTestSupport
@testable import VolleyRun

/// `volley run` on OpenAI Batch input files: every endpoint the Batch API has, output lines in
/// its output format (checked field for field), failures in `--errors`, and resume.
@Suite(.tags(.timeSensitive)) struct BatchFormatTests {
    static func line(_ id: String, _ url: String, _ body: JSONObject) -> String {
        var body = body
        if body["mock"] == nil { body["mock"] = ["latency_ms": 0] }
        return JSONValue.object(["custom_id": .string(id), "method": "POST", "url": .string(url), "body": .object(body)]).jsonString
    }

    static let mixed = [
        line("chat-1", "/v1/chat/completions", ["model": "gpt-4o-mini", "messages": [["role": "user", "content": "hi"]]]),
        line("emb-1", "/v1/embeddings", ["model": "text-embedding-3-small", "input": ["a", "b"], "dimensions": 4]),
        line("resp-1", "/v1/responses", ["model": "gpt-4o-mini", "input": "hello"]),
        line("cmpl-1", "/v1/completions", ["model": "gpt-3.5-turbo-instruct", "prompt": "once"]),
        line("bad-1", "/v1/chat/completions", ["model": "gpt-4o-mini", "messages": [["role": "user", "content": "x"]],
                                               "mock": ["latency_ms": 0, "fail": "http", "status": 400]]),
        line("bad-2", "/v1/audio/speech", ["input": "x"]),
    ].joined(separator: "\n")

    /// The OpenAI Batch output schema, field for field: a list of what is wrong with `object`.
    static func schemaProblems(_ object: JSONObject) -> [String] {
        var problems: [String] = []
        func expect(_ condition: Bool, _ what: String) { if !condition { problems.append(what) } }
        expect(Set(object.keys) == ["id", "custom_id", "response", "error"], "members \(object.keys.sorted())")
        expect(object["id"]?.stringValue?.hasPrefix("batch_req_") == true, "id")
        expect(object["custom_id"]?.stringValue != nil, "custom_id")
        switch (object["response"], object["error"]) {
        case (.object(let response)?, .null?):
            expect(Set(response.keys) == ["status_code", "request_id", "body"], "response members \(response.keys.sorted())")
            expect(response["status_code"]?.intValue != nil, "status_code")
            expect(response["request_id"]?.stringValue != nil, "request_id")
            expect(response["body"]?.objectValue != nil, "body")
        case (.null?, .object(let error)?):
            expect(Set(error.keys) == ["code", "message"], "error members \(error.keys.sorted())")
            expect(error["code"]?.stringValue != nil && error["message"]?.stringValue != nil, "error code and message")
        default:
            problems.append("exactly one of response and error must be null")
        }
        return problems
    }

    /// The body of each endpoint, as OpenAI answers it.
    static func bodyProblems(_ body: JSONValue?, url: String) -> [String] {
        var problems: [String] = []
        func expect(_ condition: Bool, _ what: String) { if !condition { problems.append("\(url): \(what)") } }
        let usage = body?["usage"]
        switch url {
        case "/v1/chat/completions":
            expect(body?["object"] == "chat.completion" && body?["id"]?.stringValue != nil && body?["created"]?.intValue != nil, "header")
            expect(body?["choices"]?[0]?["message"]?["role"] == "assistant", "message")
            expect(body?["choices"]?[0]?["message"]?["content"]?.stringValue != nil, "content")
            expect(body?["choices"]?[0]?["finish_reason"]?.stringValue != nil && body?["choices"]?[0]?["index"] == 0, "choice")
            expect(usage?["prompt_tokens"]?.intValue != nil && usage?["completion_tokens"]?.intValue != nil && usage?["total_tokens"]?.intValue != nil, "usage")
        case "/v1/embeddings":
            expect(body?["object"] == "list" && body?["model"]?.stringValue != nil, "header")
            let data = body?["data"]?.arrayValue ?? []
            expect(data.count == 2 && data[1]["index"] == 1 && data[0]["object"] == "embedding", "data")
            expect(data.first?["embedding"]?.arrayValue?.count == 4 && data.first?["embedding"]?[0]?.doubleValue != nil, "float vectors (the API's default)")
            expect(usage?["prompt_tokens"]?.intValue != nil && usage?["total_tokens"]?.intValue != nil, "usage")
        case "/v1/responses":
            expect(body?["object"] == "response" && body?["status"] == "completed" && body?["id"]?.stringValue != nil, "header")
            expect(body?["output"]?[0]?["type"] == "message" && body?["output"]?[0]?["content"]?[0]?["type"] == "output_text", "output")
            expect(body?["output"]?[0]?["content"]?[0]?["text"]?.stringValue != nil, "text")
            expect(usage?["input_tokens"]?.intValue != nil && usage?["output_tokens"]?.intValue != nil && usage?["total_tokens"]?.intValue != nil, "usage")
        case "/v1/completions":
            expect(body?["object"] == "text_completion" && body?["choices"]?[0]?["text"]?.stringValue != nil, "choices")
            expect(usage?["prompt_tokens"]?.intValue != nil, "usage")
        default:
            problems.append("unknown url \(url)")
        }
        return problems
    }

    @Test func aMixedBatchFileGetsBatchOutputLinesFieldForFieldAndFailuresInTheErrorsFile() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = try dir.write("batch.jsonl", Self.mixed)
        let errors = dir.path("errors.jsonl")
        let report = await runInProcess(RunOptions(inputPath: path, provider: "mock", errorsPath: errors))
        #expect(report.exitCode == 1)
        let output = try outcomes(in: try dir.read("batch.out.jsonl"))
        let failed = try outcomes(in: try dir.read("errors.jsonl"))
        #expect(output.count == 4 && failed.count == 2)
        let urls = ["chat-1": "/v1/chat/completions", "emb-1": "/v1/embeddings", "resp-1": "/v1/responses", "cmpl-1": "/v1/completions"]
        for line in output + failed {
            #expect(Self.schemaProblems(line).isEmpty, "\(Self.schemaProblems(line)): \(JSONValue.object(line).jsonString.prefix(300))")
        }
        for line in output {
            let id = line["custom_id"]?.stringValue ?? ""
            #expect(line["response"]?["status_code"] == 200)
            let problems = Self.bodyProblems(line["response"]?["body"], url: urls[id] ?? "?")
            #expect(problems.isEmpty, "\(problems): \(JSONValue.object(line).jsonString.prefix(400))")
        }
        let byID = Dictionary(failed.map { ($0["custom_id"]?.stringValue ?? "", $0) }, uniquingKeysWith: { first, _ in first })
        // A failure the provider answered: its status and an OpenAI error body, error null.
        #expect(byID["bad-1"]?["response"]?["status_code"] == 400)
        #expect(byID["bad-1"]?["response"]?["body"]?["error"]?["message"]?.stringValue != nil)
        // A line that could not run: response null, error {code, message}.
        #expect(byID["bad-2"]?["error"]?["code"] == "invalid_request")

        // Resume: the successes are done, the failures (in --errors, not the journal) run again.
        let again = await runInProcess(RunOptions(inputPath: path, provider: "mock", errorsPath: errors))
        #expect(again.counts.skippedSucceeded == 4, "\(again.counts)")
        #expect(again.counts.failed == 2)
        #expect(try outcomes(in: try dir.read("batch.out.jsonl")).count == 4, "nothing paid twice")
    }

    @Test func withAnOpenAIProviderTheRepliesPassThroughWhole() async throws {
        try await withFakeServer { server in
            let dir = try TempDir()
            defer { dir.cleanup() }
            let config = try dir.write("config.json", JSONValue.object([
                "providers": ["fake": ["kind": "openai", "base_url": .string(server.baseURL + "/v1"), "api_key": "sk-fake"]],
            ]).jsonString)
            let input = [
                Self.line("chat-1", "/v1/chat/completions", ["model": "gpt-4o-mini", "messages": [["role": "user", "content": "hi"]], "max_tokens": 8]),
                Self.line("emb-1", "/v1/embeddings", ["model": "text-embedding-3-small", "input": ["a", "b"], "dimensions": 4]),
                Self.line("resp-1", "/v1/responses", ["model": "gpt-4o-mini", "input": "hello", "max_output_tokens": 16]),
            ].joined(separator: "\n")
            let path = try dir.write("batch.jsonl", input)
            let report = await runInProcess(RunOptions(inputPath: path, configPath: config, provider: "fake"))
            #expect(report.exitCode == 0, "\(report)")
            let lines = try outcomes(in: try dir.read("batch.out.jsonl"))
            #expect(lines.count == 3)
            let urls = ["chat-1": "/v1/chat/completions", "emb-1": "/v1/embeddings", "resp-1": "/v1/responses"]
            for line in lines {
                #expect(Self.schemaProblems(line).isEmpty, "\(Self.schemaProblems(line))")
                let problems = Self.bodyProblems(line["response"]?["body"], url: urls[line["custom_id"]?.stringValue ?? ""] ?? "?")
                #expect(problems.isEmpty, "\(problems): \(JSONValue.object(line).jsonString.prefix(400))")
            }
            // The server's own reply, as it sent it: fields Volley never writes itself are there.
            let chat = lines.first { $0["custom_id"] == "chat-1" }
            #expect(chat?["response"]?["body"]?["system_fingerprint"]?.stringValue != nil)
            #expect(chat?["response"]?["body"]?["service_tier"] == "default")
            #expect(Set(server.stats().records.map(\.path)) == ["/v1/chat/completions", "/v1/embeddings", "/v1/responses"])
        }
    }

    @Test func outputFormatFlagForcesEitherFormat() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = try dir.write("items.jsonl", mockItem("a", "alpha"))
        _ = await runInProcess(RunOptions(inputPath: path, provider: "mock", outputFormat: .openAIBatch))
        let lines = try outcomes(in: try dir.read("items.out.jsonl"))
        #expect(lines.count == 1 && Self.schemaProblems(lines[0]).isEmpty && lines[0]["custom_id"] == "a")
        #expect(lines.first?["response"]?["body"]?["choices"]?[0]?["message"]?["content"] == "Mock reply to: alpha")
        let problems = Self.bodyProblems(lines.first?["response"]?["body"], url: "/v1/chat/completions")
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test func batchDecodingMapsEachURLToItsEndpoint() {
        #expect(LineDecoder.batchEndpoint("/v1/embeddings")?.endpoint == .embeddings)
        #expect(LineDecoder.batchEndpoint("/responses")?.url == "/v1/responses")
        #expect(LineDecoder.batchEndpoint("/v1/audio/speech") == nil)
        let raw = LineDecoder.decode(Array(Self.line("x", "/v1/embeddings", ["input": "a"]).utf8), line: 1,
                                     defaults: LineDefaults(batchLinesAsRawCalls: true))
        guard case .item(_, let value, let url) = raw else {
            Issue.record("\(raw)")
            return
        }
        #expect(value["path"] == "/v1/embeddings" && url == "/v1/embeddings", "an OpenAI provider's reply passes through whole")
        #expect(value["request"]?["encoding_format"] == nil, "sent as written")
    }
}

/// `volley run --max-cost`: one budget across the whole file.
@Suite(.tags(.timeSensitive)) struct RunBudgetTests {
    @Test func maxCostHoldsAcrossTheFileAndTheSummarySaysWhatItCost() async throws {
        try await withFakeServer { server in
            let dir = try TempDir()
            defer { dir.cleanup() }
            let config = try dir.write("config.json", JSONValue.object([
                "providers": ["fake": ["kind": "openai", "base_url": .string(server.baseURL + "/v1"), "api_key": "sk-fake"]],
            ]).jsonString)
            // gpt-4o: $10 a million out; 1,000 max_tokens: each worst case ~$0.01. $0.05 affords ~5.
            let lines = (0..<20).map { index in
                JSONValue.object(["key": .string("k\(index)"), "provider": "fake", "request": [
                    "model": "gpt-4o", "messages": [["role": "user", "content": "hi"]], "max_tokens": 1_000,
                    "fake": ["output_tokens": 900],
                ]]).jsonString
            }.joined(separator: "\n")
            let path = try dir.write("in.jsonl", lines)
            let console = CapturedConsole()
            let report = await runInProcess(RunOptions(inputPath: path, configPath: config, concurrency: 20, maxCostUSD: 0.05),
                                            console: console)
            let outcomes = try outcomes(in: try dir.read("in.out.jsonl"))
            let spent = outcomes.compactMap { $0["cost_usd"]?.doubleValue }.reduce(0, +)
            let refused = outcomes.filter { $0["error"]?["kind"] == "budget_exceeded" }
            #expect(outcomes.count == 20 && spent <= 0.05 && spent > 0.03, "spent \(spent)")
            #expect(refused.count >= 14 && refused.allSatisfy { $0["attempts"] == 0 }, "\(refused.count) refused")
            #expect(server.stats().requests == 20 - refused.count)
            #expect(report.exitCode == 1)
            #expect(console.output.contains("cost:      $0.0"), "\(console.output)")
        }
    }
}

/// `volley run --dry-run`: the estimate, and nothing sent or written.
@Suite struct DryRunTests {
    @Test func theEstimateIsTheInputsPriceAndTheMaxTokensPriceAndNothingIsWritten() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let config = try dir.write("config.json", JSONValue.object([
            "providers": ["p": ["kind": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": "k"]],
        ]).jsonString)
        // 400 characters = 100 tokens in, 1,000 out, at gpt-4o-mini ($0.15 / $0.60 a million): per line
        // $0.000015 in and $0.0006 out; 1,000 lines.
        let text = String(repeating: "abcd", count: 100)
        var lines = (0..<1_000).map { index in
            JSONValue.object(["key": .string("k\(index)"), "provider": "p", "request": [
                "model": "gpt-4o-mini", "messages": [["role": "user", "content": .string(text)]], "max_tokens": 1_000,
            ]]).jsonString
        }
        lines.append(#"{"key":"local","provider":"p","request":{"model":"my-local","messages":[{"role":"user","content":"x"}]}}"#)
        lines.append("{broken")
        let path = try dir.write("in.jsonl", lines.joined(separator: "\n"))
        let console = CapturedConsole()
        let report = await runInProcess(RunOptions(inputPath: path, configPath: config, dryRun: true), console: console)
        #expect(report.exitCode == 0)
        #expect(console.output.contains("lines:     1002 (1 that cannot run, 1 whose model has no price)"), "\(console.output)")
        #expect(console.output.contains("at least $0.0150 (inputs alone), ~$0.3150 (answers at half their max_tokens), at most $0.6150"),
                "\(console.output)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("in.out.jsonl")), "nothing written")
    }
}

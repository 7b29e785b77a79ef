import Synchronization
import Testing
@testable import VolleyCore

/// One limiter per (origin, key, model) across the sessions of an engine (issue 15, shared
/// mode): what several hosts' configurations make of one limiter, without sockets.
struct LimiterDirectoryTests {
    private func table(_ directory: LimiterDirectory, session: UInt64, _ providers: JSONValue) throws -> (LimiterTable, ProviderSet) {
        var set = ProviderSet()
        try set.merge(providers, defaultProvider: nil, environment: [:])
        return (LimiterTable(set, directory: directory, session: session), set)
    }

    private func provider(_ key: String, concurrency: Int, url: String = "https://api.example.com/v1") -> JSONValue {
        ["kind": "openai", "base_url": .string(url), "api_key": .string(key), "limits": ["concurrency": .number(JSONNumber(concurrency))]]
    }

    private func assignment(_ pair: (LimiterTable, ProviderSet), _ name: String, _ model: String? = "m") throws -> LimiterAssignment {
        pair.0.assignment(for: try #require(pair.1.providers[name]), model: model)
    }

    @Test func twoSessionsOnOneKeyShareOneLimiterUnderTheStrictestLimits() throws {
        let changes = Mutex<[LimiterSettings]>([])
        let directory = LimiterDirectory { changed in changes.withLock { $0 += changed.map(\.settings) } }
        let a = try table(directory, session: 2, ["work": provider("sk-k", concurrency: 8)])
        let b = try table(directory, session: 3, ["team": provider("sk-k", concurrency: 2)])
        let first = try assignment(a, "work")
        #expect(first.settings.concurrency == 8, "b has not registered yet")
        // A session counts once it registers (it configured), before any item of its own.
        b.0.register()
        #expect(first.settings.concurrency == 2)
        #expect(changes.withLock { $0.last?.concurrency } == 2, "the scheduler is told at once")
        let second = try assignment(b, "team")
        #expect(first === second)
        #expect(first.name == "work/m", "named by the session registered first")
        #expect(first.settings.providers == ["team", "work"])
        #expect(first.settings.sessions == [2, 3])
        // b goes: a's own limits again, and a's alone.
        directory.withdraw(session: 3)
        #expect(first.settings.concurrency == 8)
        #expect(first.settings.sessions == [2])
        #expect(directory.inUse()[first.key] === first)
        directory.withdraw(session: 2)
        #expect(directory.inUse().isEmpty)
    }

    @Test func oneProviderNameWithTwoKeysIsTwoLimitersWithTwoNames() throws {
        let directory = LimiterDirectory()
        let a = try table(directory, session: 2, ["openai": provider("sk-a", concurrency: 4)])
        let b = try table(directory, session: 3, ["openai": provider("sk-b", concurrency: 4)])
        let first = try assignment(a, "openai"), second = try assignment(b, "openai")
        #expect(first !== second)
        #expect(first.key != second.key)
        #expect(first.name == "openai/m")
        #expect(second.name == "openai/m~2")
        // The first host leaves: the name is free again, and the limiter keeps its key.
        directory.withdraw(session: 2)
        #expect(second.name == "openai/m")
        #expect(directory.inUse().keys.sorted() == [second.key])
    }

    @Test func anotherModelOrOriginIsAnotherLimiter() throws {
        let directory = LimiterDirectory()
        let a = try table(directory, session: 2, ["x": provider("sk-k", concurrency: 1)])
        let b = try table(directory, session: 3, ["y": provider("sk-k", concurrency: 1, url: "https://other.example.com/v1")])
        #expect(try assignment(a, "x", "m") !== assignment(a, "x", "n"))
        #expect(try assignment(a, "x") !== assignment(b, "y"))
    }

    @Test func aReconfiguredSessionKeepsNamingTheLimiter() throws {
        let directory = LimiterDirectory()
        let a = try table(directory, session: 2, ["zed": provider("sk-k", concurrency: 4)])
        let shared = try assignment(a, "zed")
        let b = try table(directory, session: 3, ["alpha": provider("sk-k", concurrency: 4)])
        b.0.register()
        // a registers again (a `configure`), still on the key: it was first, it keeps the name.
        let again = try table(directory, session: 2, ["zed": provider("sk-k", concurrency: 3)])
        again.0.register()
        #expect(shared.name == "zed/m")
        #expect(shared.settings.concurrency == 3)
        #expect(try assignment(again, "zed") === shared)
    }
}

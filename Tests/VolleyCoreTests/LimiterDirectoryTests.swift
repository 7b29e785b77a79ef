import Testing
@testable import VolleyCore
import VolleySystem

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
        let changes = Locked<[LimiterSettings]>([])
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

/// Provider budgets (`budget`): one per account across sessions and models, the strictest of
/// the configured sessions', the spending kept when a session reconfigures or leaves.
struct AccountBudgetDirectoryTests {
    private func table(_ directory: LimiterDirectory, session: UInt64, _ providers: JSONValue) throws -> (LimiterTable, ProviderSet) {
        var set = ProviderSet()
        try set.merge(providers, defaultProvider: nil, environment: [:])
        let table = LimiterTable(set, directory: directory, session: session)
        table.register()
        return (table, set)
    }

    private func provider(_ key: String, budget: JSONValue?) -> JSONValue {
        var object: JSONObject = ["kind": "openai", "base_url": "https://api.example.com/v1", "api_key": .string(key)]
        if let budget { object["budget"] = budget }
        return .object(object)
    }

    @Test func sessionsOnOneKeySpendOneBudgetUnderTheStrictestLimit() throws {
        let directory = LimiterDirectory()
        let a = try table(directory, session: 2, ["work": provider("sk-k", budget: ["max_cost_usd": 10, "per": "day"])])
        let b = try table(directory, session: 3, ["team": provider("sk-k", budget: ["max_cost_usd": 4, "per": "day"])])
        let c = try table(directory, session: 4, ["solo": provider("sk-other", budget: nil)])
        let work = try #require(a.1.providers["work"]), team = try #require(b.1.providers["team"])
        let solo = try #require(c.1.providers["solo"])
        let budget = a.0.assignment(for: work, model: "gpt-4o").budget
        #expect(budget === b.0.assignment(for: team, model: "gpt-4o-mini").budget, "one budget for every model of the key")
        #expect(budget !== c.0.assignment(for: solo, model: "gpt-4o").budget, "another key, another budget")
        #expect(budget.reserve(3, now: 0) == .success(3))
        guard case .failure(.tooDear(.day, 4, _, _)) = budget.reserve(2, now: 0) else {
            Issue.record("the strictest session's $4 holds")
            return
        }
        budget.settle(reserved: 3, cost: 3, now: 1)
        // The strict host leaves: the other's $10 applies, and the $3 spent still counts.
        directory.withdraw(session: 3)
        #expect(budget.reserve(7, now: 2) == .success(7))
        #expect(budget.reserve(0.5, now: 2) != .success(0.5))
        budget.settle(reserved: 7, cost: 0, now: 3)
        // Reconfigured without a budget: nothing is enforced, and nothing spent is forgotten.
        _ = try table(directory, session: 2, ["work": provider("sk-k", budget: nil)])
        #expect(!budget.isEnforced && budget.reserve(nil, now: 4) == .success(0))
        _ = try table(directory, session: 2, ["work": provider("sk-k", budget: ["max_cost_usd": 3.5])])
        #expect(budget.reserve(1, now: 5) != .success(1), "$3 of a $3.50 lifetime budget is spent")
        #expect(budget.reserve(0.5, now: 5) == .success(0.5))
    }

    @Test func aBudgetIsParsedAndBadOnesAreRefused() throws {
        var set = ProviderSet()
        try set.merge(["p": provider("sk", budget: ["max_cost_usd": 2.5, "per": "day"]),
                       "q": provider("sk2", budget: ["max_cost_usd": 1])], defaultProvider: nil, environment: [:])
        #expect(set.providers["p"]?.budget == ProviderBudget(maxCostUSD: 2.5, per: .day))
        #expect(set.providers["q"]?.budget == ProviderBudget(maxCostUSD: 1, per: .lifetime))
        for (bad, message) in [(JSONValue.object(["max_cost_usd": -1]), "max_cost_usd must be"), (["max_cost_usd": 1, "per": "week"], "per must be lifetime or day"),
                               (["per": "day"], "max_cost_usd is required"), (["max_cost_usd": 1, "cap": 2], "cap is not a known setting"), (5, "must be an object")] {
            var other = ProviderSet()
            #expect(throws: ConfigError.self) { try other.merge(["p": provider("sk", budget: bad)], defaultProvider: nil, environment: [:]) }
            do {
                try other.merge(["p": provider("sk", budget: bad)], defaultProvider: nil, environment: [:])
            } catch {
                #expect(error.message.contains(message), "\(error.message)")
            }
        }
    }
}

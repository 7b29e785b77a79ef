import Testing
import VolleyRedis
@testable import VolleyCore

/// `shared_limits` (issue 22): where Redis is, what happens without it; what a degraded
/// sidecar keeps of its limits; Redis ids without key material.
struct SharedLimitsSettingsTests {
    @Test func offUnlessSomethingSetsIt() throws {
        #expect(try SharedLimitsSettings.resolve(configFile: nil, redisURL: nil, environment: [:]) == nil)
        #expect(try SharedLimitsSettings.resolve(configFile: Array(#"{"providers": {}}"#.utf8), redisURL: nil, environment: [:]) == nil)
    }

    @Test func theConfigFileTheFlagAndTheEnvironment() throws {
        let file = Array(#"{"shared_limits": {"redis_url": "redis://cfg:6379/1", "key_prefix": "team", "on_unavailable": "fail", "local_fraction": 0.25, "password_env": "RPW"}}"#.utf8)
        let fromFile = try #require(try SharedLimitsSettings.resolve(configFile: file, redisURL: nil, environment: ["RPW": "pw1"]))
        #expect(fromFile.url.host == "cfg" && fromFile.url.database == 1 && fromFile.url.password == "pw1")
        #expect(fromFile.keyPrefix == "team" && fromFile.onUnavailable == .fail && fromFile.localFraction == 0.25)
        // The flag's URL wins over the environment's and the file's; the file's other fields stay.
        let flagged = try #require(try SharedLimitsSettings.resolve(configFile: file, redisURL: "redis://flag:7000",
                                                                     environment: ["VOLLEY_REDIS_URL": "redis://env", "VOLLEY_REDIS_PASSWORD": "pw2"]))
        #expect(flagged.url.host == "flag" && flagged.url.password == "pw2" && flagged.keyPrefix == "team")
        let fromEnvironment = try #require(try SharedLimitsSettings.resolve(configFile: nil, redisURL: nil,
                                                                             environment: ["VOLLEY_REDIS_URL": "redis://env:6380"]))
        #expect(fromEnvironment.url.port == 6380 && fromEnvironment.onUnavailable == .local && fromEnvironment.localFraction == 0.5)
    }

    @Test(arguments: [
        #"{"shared_limits": {"redis_url": "rediss://h"}}"#,
        #"{"shared_limits": {}}"#,
        #"{"shared_limits": {"redis_url": "redis://h", "on_unavailable": "maybe"}}"#,
        #"{"shared_limits": {"redis_url": "redis://h", "local_fraction": 0}}"#,
        #"{"shared_limits": {"redis_url": "redis://h", "key_prefix": "a{b}"}}"#,
        #"{"shared_limits": {"redis_url": "redis://h", "prefix": "x"}}"#,
    ])
    func badSettingsAreRefused(_ text: String) {
        #expect(throws: ConfigError.self) { try SharedLimitsSettings.resolve(configFile: Array(text.utf8), redisURL: nil, environment: [:]) }
    }

    @Test func aDegradedSidecarKeepsItsShareOfEveryRateButAllItsConcurrency() {
        let settings = LimiterSettings(concurrency: 64, rpm: 3_000, tpm: 100_001)
        let half = settings.scaled(0.5)
        #expect(half.rpm == 1_500 && half.tpm == 50_000 && half.concurrency == 64)
        #expect(LimiterSettings(concurrency: 1, rpm: 1).scaled(0.1).rpm == 1, "never down to zero")
        #expect(settings.scaled(1) == settings)
    }

    @Test func theDirectoryScalesEveryLimiterAndTellsTheScheduler() throws {
        var set = ProviderSet()
        try set.merge(["p": ["kind": "openai", "base_url": "https://api.example.com/v1", "api_key": "sk-k", "limits": ["rpm": 600]]],
                      defaultProvider: nil, environment: [:])
        let directory = LimiterDirectory()
        let table = LimiterTable(set, directory: directory, session: 2)
        let assignment = table.assignment(for: try #require(set.providers["p"]), model: "m")
        directory.setRateScale(0.5)
        #expect(assignment.settings.rpm == 300)
        directory.setRateScale(1)
        #expect(assignment.settings.rpm == 600)
    }

    @Test func redisIDsAreStableAndHoldNoKeyMaterial() throws {
        let key = "sk-live-abcdef0123456789"
        var set = ProviderSet()
        try set.merge(["p": ["kind": "openai", "base_url": "https://api.example.com/v1", "api_key": .string(key)],
                       "mock": ["kind": "mock"]], defaultProvider: nil, environment: [:])
        let one = LimiterTable(set).assignment(for: try #require(set.providers["p"]), model: "m").sharedID
        let two = LimiterTable(set).assignment(for: try #require(set.providers["p"]), model: "m").sharedID
        let id = try #require(one)
        #expect(one == two, "every machine computes the same id")
        #expect(id.count == 24)
        #expect(!id.contains(String(key.suffix(8))))
        let other = LimiterTable(set).assignment(for: try #require(set.providers["p"]), model: "n").sharedID
        #expect(other != one)
        #expect(LimiterTable(set).assignment(for: try #require(set.providers["mock"]), model: nil).sharedID == nil, "a mock is never shared")
    }
}

import Foundation
import Synchronization
import Testing
import VolleyRedis
import VolleySystem
import VolleyTestSupport

/// The shared day budget's script against a real redis-server: reservations that together
/// never pass the limit under racing clients, settlements, lapsed reservations charged at their
/// worst case, and minutes leaving the window.
@Suite(.serialized, .tags(.timeSensitive)) struct SharedBudgetScriptTests {
    private func keys(_ name: String = #function) -> SharedBudgetKeys {
        SharedBudgetKeys(prefix: "volley-test", account: name.filter { $0.isLetter })
    }

    @Test func racingReservationsNeverTogetherPassTheLimit() async throws {
        let redis = try RedisProcess()
        let url = try RedisURL(redis.url)
        let keys = keys()
        let granted = Atomic<Int>(0)
        let failures = Locked<[String]>([])
        let start = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        // 64 machines' calls at once, each worst case $0.03, under $1.00: 33 fit.
        for index in 0..<64 {
            done.enter()
            Thread.detachNewThread {
                defer { done.leave() }
                do {
                    let client = SharedBudgetClient(try RedisConnection(url, timeoutSeconds: 5))
                    start.wait()
                    let reading = try client.one(.reserve(keys, limit: 1.0, id: "r\(index)", dollars: 0.03, lapse: 600))
                    if reading.granted { granted.add(1, ordering: .relaxed) }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        for _ in 0..<64 { start.signal() }
        await TestTools.onThread { done.wait() }
        #expect(failures.withLock { $0 }.isEmpty)
        #expect(granted.load(ordering: .relaxed) == 33)
        let reading = try SharedBudgetClient(try RedisConnection(url)).one(.read(keys))
        #expect(reading.spent == 0 && abs(reading.held - 0.99) < 1e-6)
    }

    @Test func settlementsReplaceReservationsOnceAndLooseCostsCount() throws {
        let redis = try RedisProcess()
        let client = SharedBudgetClient(try RedisConnection(RedisURL(redis.url)))
        let keys = keys()
        #expect(try client.one(.reserve(keys, limit: 1.0, id: "a", dollars: 0.4, lapse: 600)).granted)
        #expect(try client.one(.reserve(keys, limit: 1.0, id: "b", dollars: 0.4, lapse: 600)).granted)
        let refused = try client.one(.reserve(keys, limit: 1.0, id: "c", dollars: 0.4, lapse: 600))
        #expect(!refused.granted && abs(refused.held - 0.8) < 1e-6)
        // a cost 0.1 of its 0.4; b failed unbilled; a machine without a budget spent 0.05.
        let settled = try client.one(.settle(keys, [("a", 0.1), ("b", 0), ("", 0.05)]))
        #expect(abs(settled.spent - 0.15) < 1e-6 && settled.held == 0)
        // Settling a again (a retried message) charges nothing more.
        #expect(abs(try client.one(.settle(keys, [("a", 0.1)])).spent - 0.15) < 1e-6)
        #expect(try client.one(.reserve(keys, limit: 1.0, id: "d", dollars: 0.85, lapse: 600)).granted)
        #expect(try !client.one(.reserve(keys, limit: 1.0, id: "e", dollars: 0.01, lapse: 600)).granted)
    }

    @Test func aLapsedReservationIsChargedItsWorstCaseOnce() throws {
        let redis = try RedisProcess()
        let client = SharedBudgetClient(try RedisConnection(RedisURL(redis.url)))
        let keys = keys()
        // Its sidecar died mid-call: it lapses (at once here) and counts as spent in full.
        #expect(try client.one(.reserve(keys, limit: 1.0, id: "dead", dollars: 0.7, lapse: 0)).granted)
        let reading = try client.one(.read(keys))
        #expect(abs(reading.spent - 0.7) < 1e-6 && reading.held == 0)
        // Its settlement, late, is not charged on top.
        #expect(abs(try client.one(.settle(keys, [("dead", 0.2)])).spent - 0.7) < 1e-6)
        #expect(try !client.one(.reserve(keys, limit: 1.0, id: "next", dollars: 0.31, lapse: 600)).granted)
    }

    @Test func minutesLeaveTheWindowADayAfterTheyEnded() throws {
        let redis = try RedisProcess()
        let connection = try RedisConnection(RedisURL(redis.url))
        let client = SharedBudgetClient(connection)
        let keys = keys()
        // Spending written as if a day ago: one minute just out of the window, one just in.
        let minute = Int(Date().timeIntervalSince1970 / 60)
        let gone = minute - 1_441, kept = minute - 1_440 + 1
        _ = try connection.command(["HSET", keys.keys[0], String(gone), "0.6", String(kept), "0.3", "first", String(gone), "sum", "0.9"])
        let reading = try client.one(.read(keys))
        #expect(abs(reading.spent - 0.3) < 1e-6, "the minute a day and a minute old left; the newer one stays")
        #expect(try connection.command(["HEXISTS", keys.keys[0], String(gone)]) == .integer(0))
        #expect(try client.one(.reserve(keys, limit: 1.0, id: "x", dollars: 0.7, lapse: 600)).granted)
        // Nothing for over a day: everything left.
        _ = try connection.command(["HSET", keys.keys[0], "first", String(minute - 5_000)])
        #expect(try client.one(.settle(keys, [("x", 0)])).spent == 0)
    }
}

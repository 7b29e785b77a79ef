@testable import VolleyCore

/// A server model for `LimiterSimulation`: decides, at the time a request arrives, whether it
/// is accepted, the way a real server would.
protocol SimulatedServer {
    /// Whether a request arriving at `time` is accepted; on refusal, its `retry-after` and
    /// whether the body says the limit is on concurrency. `inFlight`: requests the server is
    /// processing (accepted, not yet answered) when it arrives.
    mutating func receive(at time: Double, inFlight: Int) -> SimulatedAnswer
}

enum SimulatedAnswer: Equatable {
    case accepted
    case refused(retryAfter: Double?, concurrencyHint: Bool)
}

/// nginx `limit_req rate=R burst=B nodelay`: a leaky bucket that drains at R per second and
/// refuses a request that would take it past B + 1 (so B + 1 pass back to back after idle).
struct LeakyBucketServer: SimulatedServer {
    var rate: Double
    var burst: Int
    var retryAfter: Double? = nil
    private var level = 0.0
    private var last = -Double.infinity

    init(rate: Double, burst: Int, retryAfter: Double? = nil) {
        self.rate = rate
        self.burst = burst
        self.retryAfter = retryAfter
    }

    mutating func receive(at time: Double, inFlight: Int) -> SimulatedAnswer {
        let drained = last.isFinite ? max(0, level - (time - last) * rate) : 0
        guard drained + 1 <= Double(burst + 1) + 1e-9 else {
            level = drained
            last = time
            return .refused(retryAfter: retryAfter, concurrencyHint: false)
        }
        level = drained + 1
        last = time
        return .accepted
    }
}

/// A server that refuses above `limit` requests in flight, whatever the rate.
struct ConcurrencyCapServer: SimulatedServer {
    var limit: Int
    var hint = false

    mutating func receive(at time: Double, inFlight: Int) -> SimulatedAnswer {
        inFlight < limit ? .accepted : .refused(retryAfter: nil, concurrencyHint: hint)
    }
}

/// Refuses everything (with `retryAfter`) until `until`, then behaves as `then`.
struct OutageServer<Then: SimulatedServer>: SimulatedServer {
    var until: Double
    var retryAfter: Double?
    var then: Then

    mutating func receive(at time: Double, inFlight: Int) -> SimulatedAnswer {
        if time < until { return .refused(retryAfter: retryAfter, concurrencyHint: false) }
        return then.receive(at: time, inFlight: inFlight)
    }
}

/// Runs a batch through `SchedulerCore` against a simulated server in virtual time: grants,
/// request and response delays, refusals, retries with the engine's retry policy, the
/// scheduler's timer. Deterministic (seeded jitter), no sockets, no sleeps.
struct LimiterSimulation<Server: SimulatedServer> {
    struct Result {
        var succeeded = 0
        var failed = 0
        var requests = 0
        var refused = 0
        /// When the last item finished.
        var finishedAt = 0.0
        /// Most requests the server was processing at once.
        var peakServerInFlight = 0
        /// Accepted requests' arrival times.
        var acceptedAt: [Double] = []

        var refusedShare: Double { requests == 0 ? 0 : Double(refused) / Double(requests) }

        /// Accepted requests per second between `from` and `to`.
        func acceptedRate(from: Double, to: Double) -> Double {
            Double(acceptedAt.filter { $0 >= from && $0 < to }.count) / (to - from)
        }
    }

    var server: Server
    var settings: LimiterSettings
    var retry = RetrySettings(maxRetries: 10)
    /// Server processing time of an accepted request; a refusal is answered at once.
    var latency = 0.05
    /// One-way network delay.
    var delay = 0.0005
    /// Items the batch keeps in flight (the engine's batch concurrency).
    var batchConcurrency = 10_000
    /// Stops the simulation at this virtual time whatever is left.
    var horizon = 3_600.0

    private enum Event {
        case arrive(item: Int, ticket: SchedulerCore.Ticket, attempt: Int)
        case respond(item: Int, ticket: SchedulerCore.Ticket, attempt: Int, answer: SimulatedAnswer)
        case retry(item: Int, attempt: Int)
        case timer
    }

    private var events: [(time: Double, order: Int, event: Event)] = []
    private var order = 0
    private var core = SchedulerCore()
    private var random = SplitMix(seed: 7)
    private var attempts: [UInt64: (item: Int, attempt: Int)] = [:]
    private var nextID: UInt64 = 1
    private var serverInFlight = 0
    private var timerAt: Double?

    init(server: Server, settings: LimiterSettings) {
        self.server = server
        self.settings = settings
    }

    /// The controller's state at the end, for assertions.
    private(set) var finalControl: AdaptiveLimit?

    mutating func run(items count: Int) -> Result {
        var result = Result()
        var next = 0
        var done = 0
        func schedule(_ time: Double, _ event: Event) {
            order += 1
            let entry = (time, order, event)
            let index = events.firstIndex { $0.time > time } ?? events.endIndex
            events.insert(entry, at: index)
        }
        func enqueue(item: Int, attempt: Int, now: Double) {
            let id = nextID
            nextID += 1
            attempts[id] = (item, attempt)
            let waiter = SchedulerCore.Waiter(id: id, batch: 1, priority: .interactive, limiter: "l", tokens: .zero)
            if case .success(let grants) = core.enqueue(waiter, settings: settings, now: now) { start(grants, now: now) }
            armTimer(now: now)
        }
        func start(_ grants: [SchedulerCore.Grant], now: Double) {
            for grant in grants {
                guard let (item, attempt) = attempts.removeValue(forKey: grant.id) else { continue }
                result.requests += 1
                schedule(now + delay, .arrive(item: item, ticket: grant.ticket, attempt: attempt))
            }
        }
        func armTimer(now: Double) {
            guard let wake = core.nextWake(now: now) else { return }
            if let current = timerAt, current <= wake { return }
            timerAt = wake
            schedule(wake, .timer)
        }
        func refill(now: Double) {
            while next < count, next - done < batchConcurrency {
                enqueue(item: next, attempt: 1, now: now)
                next += 1
            }
        }
        refill(now: 0)
        while !events.isEmpty {
            let (now, _, event) = events.removeFirst()
            if now > horizon { break }
            switch event {
            case .arrive(let item, let ticket, let attempt):
                let answer = server.receive(at: now, inFlight: serverInFlight)
                if answer == .accepted {
                    serverInFlight += 1
                    result.peakServerInFlight = max(result.peakServerInFlight, serverInFlight)
                    result.acceptedAt.append(now)
                    schedule(now + latency + delay, .respond(item: item, ticket: ticket, attempt: attempt, answer: answer))
                } else {
                    result.refused += 1
                    schedule(now + delay, .respond(item: item, ticket: ticket, attempt: attempt, answer: answer))
                }
            case .respond(let item, let ticket, let attempt, let answer):
                let verdict: SchedulerCore.Verdict
                switch answer {
                case .accepted:
                    serverInFlight -= 1
                    verdict = .accepted(clean: attempt == 1)
                case .refused(let retryAfter, let hint):
                    verdict = .refused(AdaptiveLimit.Refusal(retryAfter: retryAfter, concurrencyHint: hint))
                }
                start(core.release(limiter: "l", ticket: ticket, verdict: verdict, reservedTokens: .zero, usedTokens: nil,
                                   random: random.unit(), now: now), now: now)
                switch answer {
                case .accepted:
                    result.succeeded += 1
                    done += 1
                    result.finishedAt = now
                    refill(now: now)
                case .refused(let retryAfter, _):
                    let error = ItemError(.rateLimited, "429", status: 429, retryable: true, retryAfterSeconds: retryAfter)
                    if let wait = RetryPolicy(retry).delay(beforeRetry: attempt, after: error, random: random.unit()) {
                        schedule(now + wait, .retry(item: item, attempt: attempt + 1))
                    } else {
                        result.failed += 1
                        done += 1
                        result.finishedAt = now
                        refill(now: now)
                    }
                }
                armTimer(now: now)
            case .retry(let item, let attempt):
                enqueue(item: item, attempt: attempt, now: now)
            case .timer:
                if timerAt == now { timerAt = nil }
                start(core.poll(now: now).granted, now: now)
                armTimer(now: now)
            }
        }
        finalControl = core.control(of: "l")
        return result
    }
}

/// A small seeded generator (SplitMix64) for deterministic jitter.
struct SplitMix {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func unit() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53)
    }
}

/// The shared limiters' algorithm, run inside Redis: GCRA buckets (requests per minute and the
/// three token budgets) and a cooldown, per limiter, each operation one atomic script on the
/// server's own clock (`TIME`), so no client clock ever decides and no two machines can both
/// take the last permit. Never the `GCRA` command of some Redis builds (pulled from release).
///
/// A bucket is a theoretical arrival time (TAT, µs since the epoch of the server's clock): a
/// unit costs `60 s / per_minute`; a bucket holding `burst` units admits when `TAT + cost - now
/// <= burst * interval`. Every key of one limiter carries the limiter's hash tag
/// (`prefix:{id}:...`), so a script touches one slot (Redis Cluster, Dragonfly), and expires
/// once its bucket is full again, so idle limiters vanish.
public enum SharedLimitScript {
    /// The four buckets, in the order of `SharedLimiterKeys.keys`.
    public static let bucketNames = ["rpm", "tpm", "itpm", "otpm"]

    public static let source = #"""
        -- Volley shared limits. KEYS[1..4]: TATs (µs) of the request, token, input-token and
        -- output-token buckets; KEYS[5]: the cooldown's end (µs). ARGV[1]: the operation;
        -- ARGV[6..13]: each bucket's (per_minute, burst), per_minute 0 for none; ARGV[14] and
        -- after: the operation's own.
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
        local op = ARGV[1]

        local function per_minute(i) return tonumber(ARGV[4 + 2 * i]) end
        local function burst(i) return tonumber(ARGV[5 + 2 * i]) end
        local function interval(i) return 60000000 / per_minute(i) end
        local function tat_of(key)
          local tat = tonumber(redis.call('GET', key))
          if tat == nil or tat < now then return now end
          return tat
        end
        -- The cooldown in force: its end (µs) and who set it.
        local function cooldown_of()
          local value = redis.call('GET', KEYS[5])
          if not value then return nil, nil end
          local ends, owner = string.match(value, '^(%d+) ?(.*)$')
          return tonumber(ends), owner
        end
        local function store(key, at)
          if at <= now then
            redis.call('DEL', key)
          else
            redis.call('SET', key, string.format('%.0f', at), 'PX', math.ceil((at - now) / 1000) + 1000)
          end
        end

        if op == 'acquire' then
          -- ARGV[2]: permits wanted, in order; ARGV[14]: how far ahead (µs) a permit may be
          -- reserved when it does not fit now; ARGV[15]: the caller's id; ARGV[16..]: runs of
          -- permits, each (count, then the tokens each costs: total, input, output). Permits
          -- are granted in order while each
          -- fits now or within the horizon; the first that does not ends the grant. Reply:
          -- {granted, µs until the first refused one could be, 1 when a cooldown another
          -- caller set is the reason, then each granted permit's start (µs from now)}.
          local cool, owner = cooldown_of()
          if cool ~= nil and cool > now then
            return {0, math.ceil(cool - now), owner ~= ARGV[15] and 1 or 0}
          end
          local horizon = tonumber(ARGV[14])
          local tats, touched = {}, {}
          for i = 1, 4 do
            if per_minute(i) > 0 then tats[i] = tat_of(KEYS[i]) end
          end
          local reply = {0, 0, 0}
          local j = 0
          for run = 16, #ARGV, 4 do
            local costs = {1, tonumber(ARGV[run + 1]), tonumber(ARGV[run + 2]), tonumber(ARGV[run + 3])}
            for _ = 1, tonumber(ARGV[run]) do
              -- The earliest start every bucket allows (GCRA: TAT + cost - burst <= start).
              local start = now
              for i = 1, 4 do
                if tats[i] ~= nil and costs[i] > 0 then
                  local due = tats[i] + (costs[i] - burst(i)) * interval(i)
                  if due > start then start = due end
                end
              end
              if start - now < 1 then start = now end  -- Rounding of µs since the epoch.
              if start - now > horizon then
                reply[2] = math.max(1, math.ceil(start - now))
                break
              end
              for i = 1, 4 do
                if tats[i] ~= nil and costs[i] > 0 then
                  tats[i] = math.max(tats[i], start) + costs[i] * interval(i)
                  touched[i] = true
                end
              end
              j = j + 1
              reply[1] = j
              reply[3 + j] = math.ceil(start - now)
            end
            if reply[2] > 0 then break end
          end
          for i = 1, 4 do
            if touched[i] then store(KEYS[i], tats[i]) end
          end
          return reply
        elseif op == 'refund' then
          -- ARGV[2..5]: units given back per bucket (negative: charged on top), clamped to now.
          for i = 1, 4 do
            local amount = tonumber(ARGV[1 + i])
            if per_minute(i) > 0 and amount ~= 0 then
              store(KEYS[i], math.max(now, tat_of(KEYS[i]) - amount * interval(i)))
            end
          end
          return {0, 0}
        elseif op == 'cooldown' then
          -- ARGV[2]: µs from now; a later end already set is kept.
          -- ARGV[15]: the caller's id, kept with the end so others know the 429 was not theirs.
          local ends = now + tonumber(ARGV[2])
          local cool = cooldown_of()
          if cool == nil or cool < ends then
            redis.call('SET', KEYS[5], string.format('%.0f', ends) .. ' ' .. ARGV[15], 'PX', math.ceil((ends - now) / 1000) + 1000)
            cool = ends
          end
          return {0, math.ceil(cool - now)}
        elseif op == 'sync' then
          -- ARGV[2..5]: units the server says remain per bucket (-1: unknown); only ever slower.
          for i = 1, 4 do
            local remaining = tonumber(ARGV[1 + i])
            if per_minute(i) > 0 and remaining >= 0 then
              local target = now + (burst(i) - remaining) * interval(i)
              if target > tat_of(KEYS[i]) then store(KEYS[i], target) end
            end
          end
          return {0, 0}
        end
        return redis.error_reply('volley: unknown shared-limit operation ' .. tostring(op))
        """#
}

/// The Redis keys of one limiter: its four buckets and its cooldown, under one hash tag.
public struct SharedLimiterKeys: Sendable, Hashable {
    public let keys: [String]

    /// - Parameter limiter: an opaque id of the limiter's identity (no key material).
    public init(prefix: String, limiter: String) {
        keys = (SharedLimitScript.bucketNames + ["cooldown"]).map { "\(prefix):{\(limiter)}:\($0)" }
    }
}

/// One bucket of a shared limiter: its rate and how many units it holds.
public struct SharedBucket: Sendable, Hashable {
    public var perMinute: Double
    public var burst: Double

    public init(perMinute: Double, burst: Double) {
        self.perMinute = perMinute
        self.burst = burst
    }
}

/// The four buckets of a limiter (nil: none), in `SharedLimitScript.bucketNames` order.
public struct SharedBuckets: Sendable, Hashable {
    public var requests: SharedBucket?
    public var tokens: SharedBucket?
    public var inputTokens: SharedBucket?
    public var outputTokens: SharedBucket?

    public init(requests: SharedBucket? = nil, tokens: SharedBucket? = nil, inputTokens: SharedBucket? = nil,
                outputTokens: SharedBucket? = nil) {
        self.requests = requests
        self.tokens = tokens
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
    }

    var arguments: [String] {
        [requests, tokens, inputTokens, outputTokens].flatMap { bucket in
            [format(bucket?.perMinute ?? 0), format(bucket?.burst ?? 0)]
        }
    }
}

/// Decimal text Lua's `tonumber` reads back exactly (no exponent for whole numbers).
func format(_ value: Double) -> String {
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return String(value)
}

/// What one permit costs in the token buckets (total, input, output).
public struct PermitTokens: Sendable, Hashable {
    public var total: Int
    public var input: Int
    public var output: Int

    public init(total: Int, input: Int, output: Int) {
        self.total = total
        self.input = input
        self.output = output
    }

    public static let none = PermitTokens(total: 0, input: 0, output: 0)
}

/// One call of the shared limiters' script. `caller` names the sidecar (an opaque random id):
/// a cooldown says who set it, so an acquire can tell another machine's 429 from its own.
public enum SharedLimitOperation: Sendable {
    /// Permits in order, each costing its tokens, each all or nothing: granted while each fits
    /// now or, reserved, within `reserveAhead` seconds; the first that does not ends the grant.
    /// At a cooldown, none.
    case acquire(SharedLimiterKeys, permits: [PermitTokens], SharedBuckets, reserveAhead: Double, caller: String)
    /// Units given back to the buckets (negative: charged on top), never past full (now).
    case refund(SharedLimiterKeys, requests: Double, tokens: (total: Double, input: Double, output: Double), SharedBuckets)
    /// A cooldown of this many seconds for every machine (a later end already set is kept).
    case cooldown(SharedLimiterKeys, seconds: Double, SharedBuckets, caller: String)
    /// What the provider's rate-limit headers say remains (nil: not said).
    case sync(SharedLimiterKeys, remaining: (requests: Int?, tokens: Int?, input: Int?, output: Int?), SharedBuckets)

    var keys: SharedLimiterKeys {
        switch self {
        case .acquire(let keys, _, _, _, _), .refund(let keys, _, _, _), .cooldown(let keys, _, _, _), .sync(let keys, _, _): keys
        }
    }

    /// ARGV: the operation, its four numbers, the buckets, the horizon, the caller, then (an
    /// acquire's) its permits, alike neighbours as one run (a lease's refill is one).
    var arguments: [String] {
        switch self {
        case .acquire(_, let permits, let buckets, let ahead, let caller):
            ["acquire", String(permits.count), "0", "0", "0"] + buckets.arguments + [format((ahead * 1_000_000).rounded()), caller]
                + runs(permits).flatMap { [String($0.count), String($0.tokens.total), String($0.tokens.input), String($0.tokens.output)] }
        case .refund(_, let requests, let tokens, let buckets):
            ["refund", format(requests), format(tokens.total), format(tokens.input), format(tokens.output)] + buckets.arguments + ["0", ""]
        case .cooldown(_, let seconds, let buckets, let caller):
            ["cooldown", format((seconds * 1_000_000).rounded()), "0", "0", "0"] + buckets.arguments + ["0", caller]
        case .sync(_, let remaining, let buckets):
            ["sync"] + [remaining.requests, remaining.tokens, remaining.input, remaining.output].map { String($0 ?? -1) }
                + buckets.arguments + ["0", ""]
        }
    }
}

/// Neighbouring permits of equal cost as (count, tokens) runs.
func runs(_ permits: [PermitTokens]) -> [(count: Int, tokens: PermitTokens)] {
    var runs: [(count: Int, tokens: PermitTokens)] = []
    for permit in permits {
        if let last = runs.last, last.tokens == permit {
            runs[runs.count - 1].count += 1
        } else {
            runs.append((1, permit))
        }
    }
    return runs
}

/// What an acquire got.
public struct SharedGrant: Sendable, Equatable {
    /// The permits granted, in the order asked: each one's start, seconds from now (0: at once;
    /// more: reserved, its slot held until then).
    public var starts: [Double]
    /// When not every permit was granted: seconds until the first refused one could be.
    public var retryAfter: Double
    /// Refused because of a cooldown another caller set (its 429, not ours).
    public var othersCooldown: Bool

    public var granted: Int { starts.count }

    /// The script's reply: `{granted, µs until the next, others' cooldown, starts (µs)...}`.
    public init?(reply: [Int64]) {
        // Compared as the count of starts, never `3 + reply[0]`: a reply near Int64.max (a
        // broken or hostile server) overflowed that sum and trapped.
        guard reply.count >= 3, reply[0] >= 0, reply[0] == Int64(reply.count - 3) else { return nil }
        starts = reply.dropFirst(3).map { Double($0) / 1_000_000 }
        retryAfter = Double(reply[1]) / 1_000_000
        othersCooldown = reply[2] == 1
    }
}

/// The script's operations over one connection (`RedisScript`: loaded once, called by digest).
/// Several operations go in one pipelined round trip (`run(_:)`).
public final class SharedLimitClient {
    public let connection: RedisConnection
    private let script = RedisScript(SharedLimitScript.source, name: "shared-limits")

    public init(_ connection: RedisConnection) {
        self.connection = connection
    }

    /// What an acquire got: permits granted (0 to the number asked), and how long until one
    /// could be (none granted) or until the last reserved one may start.
    public struct Acquired: Sendable, Equatable {
        public var granted: Int
        public var waitSeconds: Double
    }

    /// `requests` permits that each cost `tokens` (see `SharedLimitOperation.acquire`).
    public func acquire(_ keys: SharedLimiterKeys, requests: Int = 1, tokens: (total: Int, input: Int, output: Int) = (0, 0, 0),
                        buckets: SharedBuckets, reserveAhead: Double = 0, caller: String = "") throws(RedisError) -> Acquired {
        let permits = Array(repeating: PermitTokens(total: tokens.total, input: tokens.input, output: tokens.output), count: requests)
        let grant = try acquire(keys, permits: permits, buckets: buckets, reserveAhead: reserveAhead, caller: caller)
        return Acquired(granted: grant.granted, waitSeconds: grant.starts.last ?? grant.retryAfter)
    }

    public func acquire(_ keys: SharedLimiterKeys, permits: [PermitTokens], buckets: SharedBuckets, reserveAhead: Double = 0,
                        caller: String = "") throws(RedisError) -> SharedGrant {
        let reply = try one(.acquire(keys, permits: permits, buckets, reserveAhead: reserveAhead, caller: caller))
        guard let grant = SharedGrant(reply: reply) else {
            throw RedisError(.server, "unexpected reply from the shared-limits script: \(reply)")
        }
        return grant
    }

    public func refund(_ keys: SharedLimiterKeys, requests: Double = 0, tokens: (total: Double, input: Double, output: Double),
                       buckets: SharedBuckets) throws(RedisError) {
        _ = try one(.refund(keys, requests: requests, tokens: tokens, buckets))
    }

    /// Returns the seconds left of the cooldown in force.
    @discardableResult
    public func cooldown(_ keys: SharedLimiterKeys, seconds: Double, buckets: SharedBuckets, caller: String = "") throws(RedisError) -> Double {
        Double(try one(.cooldown(keys, seconds: seconds, buckets, caller: caller))[1]) / 1_000_000
    }

    public func sync(_ keys: SharedLimiterKeys, remaining: (requests: Int?, tokens: Int?, input: Int?, output: Int?),
                     buckets: SharedBuckets) throws(RedisError) {
        _ = try one(.sync(keys, remaining: remaining, buckets))
    }

    private func one(_ operation: SharedLimitOperation) throws(RedisError) -> [Int64] {
        switch try run([operation])[0] {
        case .success(let reply): return reply
        case .failure(let error): throw error
        }
    }

    /// Runs `operations` in one pipelined round trip (two when Redis had forgotten the script).
    /// Each gets the script's numbers (two, or an acquire's grant), or the server's error for it.
    /// - Throws: `.unavailable` when the connection broke or timed out.
    public func run(_ operations: [SharedLimitOperation]) throws(RedisError) -> [Result<[Int64], RedisError>] {
        try script.run(on: connection, operations.map { ($0.keys.keys, $0.arguments) })
    }

    /// One reply of the script: its numbers (two at least), or the server's error.
    package static func scriptResult(_ reply: RedisValue) -> Result<[Int64], RedisError> {
        RedisScript.result(reply, name: "shared-limits")
    }
}

/// A Lua script run by digest: loaded once per connection (`SCRIPT LOAD`), called with
/// `EVALSHA`, loaded again when Redis forgot it (restarted, flushed). Its replies are arrays of
/// two or more integers.
final class RedisScript {
    let source: String
    /// For messages: "the <name> script".
    let name: String
    private var digest: String?

    init(_ source: String, name: String) {
        self.source = source
        self.name = name
    }

    /// Runs `calls` (keys, arguments) in one pipelined round trip (two when Redis had forgotten
    /// the script); each gets its integers or the server's error for it.
    /// - Throws: `.unavailable` when the connection broke or timed out.
    func run(on connection: RedisConnection, _ calls: [(keys: [String], arguments: [String])]) throws(RedisError) -> [Result<[Int64], RedisError>] {
        var results = try attempt(on: connection, calls)
        let forgotten = results.indices.filter { if case .failure(let error) = results[$0] { error.message.contains("NOSCRIPT") } else { false } }
        if !forgotten.isEmpty {
            digest = nil  // Redis restarted or flushed its scripts: load it again.
            let again = try attempt(on: connection, forgotten.map { calls[$0] })
            for (index, result) in zip(forgotten, again) { results[index] = result }
        }
        return results
    }

    private func attempt(on connection: RedisConnection, _ calls: [(keys: [String], arguments: [String])]) throws(RedisError) -> [Result<[Int64], RedisError>] {
        let sha = try loaded(on: connection)
        let replies = try connection.pipeline(calls.map { call in
            ["EVALSHA", sha, String(call.keys.count)] + call.keys + call.arguments
        })
        return replies.map { Self.result($0, name: name) }
    }

    /// One reply of the script named `name`: its numbers (two at least), or the server's error.
    package static func result(_ reply: RedisValue, name: String) -> Result<[Int64], RedisError> {
        switch reply {
        case .array(let values) where values.count >= 2:
            let numbers = values.compactMap(\.integer)
            if numbers.count == values.count { return .success(numbers) }
            return .failure(RedisError(.server, "unexpected reply from the \(name) script: \(reply)"))
        case .error(let message):
            return .failure(RedisError(.server, message.hasPrefix("NOSCRIPT") ? message : "the \(name) script failed: \(message)"))
        default:
            return .failure(RedisError(.server, "unexpected reply from the \(name) script: \(reply)"))
        }
    }

    private func loaded(on connection: RedisConnection) throws(RedisError) -> String {
        if let digest { return digest }
        let reply = try connection.command(["SCRIPT", "LOAD", source])
        guard case .string = reply, let sha = reply.text else {
            throw RedisError(.server, "Redis refused the \(name) script: \(reply.text ?? "\(reply)")")
        }
        digest = sha
        return sha
    }
}

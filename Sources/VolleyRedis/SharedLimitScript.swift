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
        -- ARGV[6..13]: each bucket's (per_minute, burst), per_minute 0 for none.
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
        local function store(key, at)
          if at <= now then
            redis.call('DEL', key)
          else
            redis.call('SET', key, string.format('%.0f', at), 'PX', math.ceil((at - now) / 1000) + 1000)
          end
        end

        if op == 'acquire' then
          -- ARGV[2]: requests wanted; ARGV[3..5]: tokens each costs (total, input, output);
          -- ARGV[14]: how far ahead (µs) one permit may be reserved when none fits now.
          local cool = tonumber(redis.call('GET', KEYS[5]))
          if cool ~= nil and cool > now then return {0, math.ceil(cool - now)} end
          local costs = {1, tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])}
          local granted = tonumber(ARGV[2])
          local wait = 0
          local tats = {}
          for i = 1, 4 do
            if per_minute(i) > 0 and costs[i] > 0 then
              local unit = costs[i] * interval(i)
              local tat = tat_of(KEYS[i])
              tats[i] = tat
              local fits = math.floor((now + burst(i) * interval(i) - tat) / unit + 1e-9)
              if fits < granted then granted = math.max(fits, 0) end
              if fits < 1 then
                local until_due = tat + unit - burst(i) * interval(i) - now
                if until_due > wait then wait = until_due end
              end
            end
          end
          local ahead = 0
          if granted < 1 then
            -- Not now: reserve the next slot if it comes within the horizon (the caller starts
            -- then, with no second round trip), else say when to ask again.
            if wait > tonumber(ARGV[14] or '0') then return {0, math.max(1, math.ceil(wait))} end
            granted = 1
            ahead = wait
          end
          for i = 1, 4 do
            if tats[i] ~= nil then store(KEYS[i], math.max(tats[i], now + ahead) + granted * costs[i] * interval(i)) end
          end
          return {granted, math.ceil(ahead)}
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
          local ends = now + tonumber(ARGV[2])
          local cool = tonumber(redis.call('GET', KEYS[5]))
          if cool == nil or cool < ends then
            redis.call('SET', KEYS[5], string.format('%.0f', ends), 'PX', math.ceil((ends - now) / 1000) + 1000)
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
public struct SharedLimiterKeys: Sendable, Equatable {
    public let keys: [String]

    /// - Parameter limiter: an opaque id of the limiter's identity (no key material).
    public init(prefix: String, limiter: String) {
        keys = (SharedLimitScript.bucketNames + ["cooldown"]).map { "\(prefix):{\(limiter)}:\($0)" }
    }
}

/// One bucket of a shared limiter: its rate and how many units it holds.
public struct SharedBucket: Sendable, Equatable {
    public var perMinute: Double
    public var burst: Double

    public init(perMinute: Double, burst: Double) {
        self.perMinute = perMinute
        self.burst = burst
    }
}

/// The four buckets of a limiter (nil: none), in `SharedLimitScript.bucketNames` order.
public struct SharedBuckets: Sendable, Equatable {
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

/// One call of the shared limiters' script.
public enum SharedLimitOperation: Sendable {
    /// Up to `requests` permits, each costing `tokens` (total, input, output) in the token
    /// buckets, all or nothing per permit; at a cooldown, none. When none fits now but one
    /// would within `reserveAhead` seconds, that one is reserved: granted, to start after the
    /// returned wait.
    case acquire(SharedLimiterKeys, requests: Int, tokens: (total: Int, input: Int, output: Int), SharedBuckets,
                 reserveAhead: Double = 0)
    /// Units given back to the buckets (negative: charged on top), never past full (now).
    case refund(SharedLimiterKeys, requests: Double, tokens: (total: Double, input: Double, output: Double), SharedBuckets)
    /// A cooldown of this many seconds for every machine (a later end already set is kept).
    case cooldown(SharedLimiterKeys, seconds: Double, SharedBuckets)
    /// What the provider's rate-limit headers say remains (nil: not said).
    case sync(SharedLimiterKeys, remaining: (requests: Int?, tokens: Int?, input: Int?, output: Int?), SharedBuckets)

    var keys: SharedLimiterKeys {
        switch self {
        case .acquire(let keys, _, _, _, _), .refund(let keys, _, _, _), .cooldown(let keys, _, _), .sync(let keys, _, _): keys
        }
    }

    var arguments: [String] {
        switch self {
        case .acquire(_, let requests, let tokens, let buckets, let ahead):
            ["acquire", String(requests), String(tokens.total), String(tokens.input), String(tokens.output)] + buckets.arguments
                + [format((ahead * 1_000_000).rounded())]
        case .refund(_, let requests, let tokens, let buckets):
            ["refund", format(requests), format(tokens.total), format(tokens.input), format(tokens.output)] + buckets.arguments
        case .cooldown(_, let seconds, let buckets):
            ["cooldown", format((seconds * 1_000_000).rounded()), "0", "0", "0"] + buckets.arguments
        case .sync(_, let remaining, let buckets):
            ["sync"] + [remaining.requests, remaining.tokens, remaining.input, remaining.output].map { String($0 ?? -1) }
                + buckets.arguments
        }
    }
}

/// The script's operations over one connection. Loads the script once (`SCRIPT LOAD`) and
/// calls it by digest (`EVALSHA`); a Redis that forgot it (restarted, flushed) gets it again.
/// Several operations go in one pipelined round trip (`run(_:)`).
public final class SharedLimitClient {
    public let connection: RedisConnection
    private var digest: String?

    public init(_ connection: RedisConnection) {
        self.connection = connection
    }

    /// What an acquire got: requests granted (0 to the number asked), and how long until one
    /// could be (none granted) or until the reserved one may start (one granted ahead).
    public struct Acquired: Sendable, Equatable {
        public var granted: Int
        public var waitSeconds: Double
    }

    public func acquire(_ keys: SharedLimiterKeys, requests: Int = 1, tokens: (total: Int, input: Int, output: Int) = (0, 0, 0),
                        buckets: SharedBuckets, reserveAhead: Double = 0) throws(RedisError) -> Acquired {
        let reply = try one(.acquire(keys, requests: requests, tokens: tokens, buckets, reserveAhead: reserveAhead))
        return Acquired(granted: Int(reply.0), waitSeconds: Double(reply.1) / 1_000_000)
    }

    public func refund(_ keys: SharedLimiterKeys, requests: Double = 0, tokens: (total: Double, input: Double, output: Double),
                       buckets: SharedBuckets) throws(RedisError) {
        _ = try one(.refund(keys, requests: requests, tokens: tokens, buckets))
    }

    /// Returns the seconds left of the cooldown in force.
    @discardableResult
    public func cooldown(_ keys: SharedLimiterKeys, seconds: Double, buckets: SharedBuckets) throws(RedisError) -> Double {
        Double(try one(.cooldown(keys, seconds: seconds, buckets)).1) / 1_000_000
    }

    public func sync(_ keys: SharedLimiterKeys, remaining: (requests: Int?, tokens: Int?, input: Int?, output: Int?),
                     buckets: SharedBuckets) throws(RedisError) {
        _ = try one(.sync(keys, remaining: remaining, buckets))
    }

    private func one(_ operation: SharedLimitOperation) throws(RedisError) -> (Int64, Int64) {
        switch try run([operation])[0] {
        case .success(let reply): return reply
        case .failure(let error): throw error
        }
    }

    /// Runs `operations` in one pipelined round trip (two when Redis had forgotten the script).
    /// Each gets the script's two numbers, or the server's error for it.
    /// - Throws: `.unavailable` when the connection broke or timed out.
    public func run(_ operations: [SharedLimitOperation]) throws(RedisError) -> [Result<(Int64, Int64), RedisError>] {
        var results = try attempt(operations)
        let forgotten = results.indices.filter { if case .failure(let error) = results[$0] { error.message.contains("NOSCRIPT") } else { false } }
        if !forgotten.isEmpty {
            digest = nil  // Redis restarted or flushed its scripts: load it again.
            let again = try attempt(forgotten.map { operations[$0] })
            for (index, result) in zip(forgotten, again) { results[index] = result }
        }
        return results
    }

    private func attempt(_ operations: [SharedLimitOperation]) throws(RedisError) -> [Result<(Int64, Int64), RedisError>] {
        let sha = try loaded()
        let replies = try connection.pipeline(operations.map { operation in
            ["EVALSHA", sha, String(operation.keys.keys.count)] + operation.keys.keys + operation.arguments
        })
        return replies.map { reply in
            switch reply {
            case .array(let values) where values.count == 2:
                if let first = values[0].integer, let second = values[1].integer { return .success((first, second)) }
                return .failure(RedisError(.server, "unexpected reply from the shared-limits script: \(reply)"))
            case .error(let message):
                return .failure(RedisError(.server, message.hasPrefix("NOSCRIPT") ? message : "the shared-limits script failed: \(message)"))
            default:
                return .failure(RedisError(.server, "unexpected reply from the shared-limits script: \(reply)"))
            }
        }
    }

    private func loaded() throws(RedisError) -> String {
        if let digest { return digest }
        let reply = try connection.command(["SCRIPT", "LOAD", SharedLimitScript.source])
        guard case .string = reply, let sha = reply.text else {
            throw RedisError(.server, "Redis refused the shared-limits script: \(reply.text ?? "\(reply)")")
        }
        digest = sha
        return sha
    }
}

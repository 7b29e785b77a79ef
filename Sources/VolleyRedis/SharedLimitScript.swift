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
          -- ARGV[2]: requests wanted; ARGV[3..5]: tokens each costs (total, input, output).
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
          if granted < 1 then return {0, math.max(1, math.ceil(wait))} end
          for i = 1, 4 do
            if tats[i] ~= nil then store(KEYS[i], tats[i] + granted * costs[i] * interval(i)) end
          end
          return {granted, 0}
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

/// The script's operations over one connection. Loads the script once (`SCRIPT LOAD`) and
/// calls it by digest (`EVALSHA`); a Redis that forgot it (restarted, flushed) gets it again.
public final class SharedLimitClient {
    public let connection: RedisConnection
    private var digest: String?

    public init(_ connection: RedisConnection) {
        self.connection = connection
    }

    /// What an acquire got: requests granted (0 to the number asked), and when none, how
    /// long until one could be.
    public struct Acquired: Sendable, Equatable {
        public var granted: Int
        public var waitSeconds: Double
    }

    /// Takes up to `requests` permits, each costing `tokens` (total, input, output) in the token
    /// buckets, all or nothing per permit; at a cooldown, none.
    public func acquire(_ keys: SharedLimiterKeys, requests: Int = 1, tokens: (total: Int, input: Int, output: Int) = (0, 0, 0),
                        buckets: SharedBuckets) throws(RedisError) -> Acquired {
        let reply = try run(keys, ["acquire", String(requests), String(tokens.total), String(tokens.input), String(tokens.output)]
                                  + buckets.arguments)
        return Acquired(granted: Int(reply.0), waitSeconds: Double(reply.1) / 1_000_000)
    }

    /// Gives units back to the buckets (negative: charges more), never past full (now).
    public func refund(_ keys: SharedLimiterKeys, requests: Double = 0, tokens: (total: Double, input: Double, output: Double),
                       buckets: SharedBuckets) throws(RedisError) {
        _ = try run(keys, ["refund", format(requests), format(tokens.total), format(tokens.input), format(tokens.output)]
                          + buckets.arguments)
    }

    /// Starts (or keeps, when a later one is set) a cooldown of `seconds` for every machine;
    /// returns the seconds left of the cooldown in force.
    @discardableResult
    public func cooldown(_ keys: SharedLimiterKeys, seconds: Double, buckets: SharedBuckets) throws(RedisError) -> Double {
        let reply = try run(keys, ["cooldown", format((seconds * 1_000_000).rounded()), "0", "0", "0"] + buckets.arguments)
        return Double(reply.1) / 1_000_000
    }

    /// What the provider's rate-limit headers say remains (nil: not said); a bucket only ever
    /// becomes emptier.
    public func sync(_ keys: SharedLimiterKeys, remaining: (requests: Int?, tokens: Int?, input: Int?, output: Int?),
                     buckets: SharedBuckets) throws(RedisError) {
        let values = [remaining.requests, remaining.tokens, remaining.input, remaining.output].map { String($0 ?? -1) }
        _ = try run(keys, ["sync"] + values + buckets.arguments)
    }

    private func run(_ keys: SharedLimiterKeys, _ arguments: [String]) throws(RedisError) -> (Int64, Int64) {
        for attempt in 0..<2 {
            let sha = try loaded()
            let reply = try connection.command(["EVALSHA", sha, String(keys.keys.count)] + keys.keys + arguments)
            switch reply {
            case .array(let values):
                guard values.count == 2, let first = values[0].integer, let second = values[1].integer else {
                    throw RedisError(.server, "unexpected reply from the shared-limits script: \(reply)")
                }
                return (first, second)
            case .error(let message) where message.hasPrefix("NOSCRIPT") && attempt == 0:
                digest = nil  // Redis restarted or flushed its scripts: load it again.
            case .error(let message):
                throw RedisError(.server, "the shared-limits script failed: \(message)")
            default:
                throw RedisError(.server, "unexpected reply from the shared-limits script: \(reply)")
            }
        }
        throw RedisError(.server, "Redis keeps forgetting the shared-limits script")
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

/// A dollar budget over a rolling window, kept in Redis for every sidecar on one API key (a
/// provider's `budget` with `per: day` when shared limits are configured). Each operation is one
/// atomic script on the server's clock (`TIME`), so two machines can never both take the last
/// dollar.
///
/// Two keys under one hash tag: `spent`, a hash of dollars settled per minute (field: the
/// minute's number since the epoch) with a running `sum` and the `first` minute still kept; and
/// `held`, a hash of the reservations in flight (field: the reservation's id; value: its
/// dollars and when it lapses, µs). A minute leaves the window a whole window after it ended,
/// as in the sidecar's own `CostBudget`. A reservation that lapses unsettled (its sidecar died
/// mid-call, or lost Redis) is charged at its worst case: the call may have been billed, and an
/// undercount would let the machines overspend.
public enum SharedBudgetScript {
    public static let source = #"""
        -- Volley shared budget. KEYS[1]: dollars per minute (hash, with `sum` and `first`);
        -- KEYS[2]: reservations held (hash: id -> "dollars lapse_us"). ARGV[1]: the operation;
        -- ARGV[2]: the window in minutes. Dollars come back as integers of micro-dollars.
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
        local minute = math.floor(now / 60000000)
        local window = tonumber(ARGV[2])
        local op = ARGV[1]
        local function micro(dollars) return math.floor(dollars * 1000000 + 0.5) end

        -- Spending that left the window goes; lapsed reservations are charged. Returns what is
        -- spent and what is held now.
        local function tidy()
          local oldest = minute - window
          local first = tonumber(redis.call('HGET', KEYS[1], 'first') or minute)
          local sum = tonumber(redis.call('HGET', KEYS[1], 'sum') or '0')
          if first < oldest then
            if oldest - first > window then
              redis.call('DEL', KEYS[1])
              sum = 0
            else
              for m = first, oldest - 1 do
                local spent = redis.call('HGET', KEYS[1], tostring(m))
                if spent then
                  sum = sum - tonumber(spent)
                  redis.call('HDEL', KEYS[1], tostring(m))
                end
              end
            end
            if sum < 0 then sum = 0 end
            redis.call('HSET', KEYS[1], 'first', oldest, 'sum', tostring(sum))
          end
          local held = 0
          local holds = redis.call('HGETALL', KEYS[2])
          for i = 1, #holds, 2 do
            local dollars, lapse = string.match(holds[i + 1], '^(%S+) (%S+)$')
            if tonumber(lapse) <= now then
              redis.call('HDEL', KEYS[2], holds[i])
              sum = sum + tonumber(dollars)
              redis.call('HINCRBYFLOAT', KEYS[1], tostring(minute), dollars)
              redis.call('HSET', KEYS[1], 'sum', tostring(sum))
            else
              held = held + tonumber(dollars)
            end
          end
          return sum, held
        end

        local function charge(dollars)
          if dollars <= 0 then return end
          if not redis.call('HGET', KEYS[1], 'first') then redis.call('HSET', KEYS[1], 'first', minute) end
          local sum = tonumber(redis.call('HGET', KEYS[1], 'sum') or '0') + dollars
          redis.call('HINCRBYFLOAT', KEYS[1], tostring(minute), tostring(dollars))
          redis.call('HSET', KEYS[1], 'sum', tostring(sum))
        end

        -- Both keys outlive the window (and the longest hold) by a minute, then vanish.
        local function keep(hold_us)
          redis.call('PEXPIRE', KEYS[1], (window + 2) * 60000)
          local ttl = redis.call('PTTL', KEYS[2])
          local want = math.ceil(hold_us / 1000) + 60000
          if ttl < want then redis.call('PEXPIRE', KEYS[2], want) end
        end

        if op == 'reserve' then
          -- ARGV[3]: the limit (dollars); ARGV[4]: the reservation's id; ARGV[5]: its dollars;
          -- ARGV[6]: µs until it lapses. Reply: {1 granted or 0, spent, held} (micro-dollars,
          -- before this reservation).
          local spent, held = tidy()
          local dollars = tonumber(ARGV[5])
          if spent + held + dollars > tonumber(ARGV[3]) + 1e-8 then
            return {0, micro(spent), micro(held)}
          end
          if dollars > 0 then
            redis.call('HSET', KEYS[2], ARGV[4], ARGV[5] .. ' ' .. string.format('%.0f', now + tonumber(ARGV[6])))
          end
          keep(tonumber(ARGV[6]))
          return {1, micro(spent), micro(held)}
        elseif op == 'settle' then
          -- ARGV[3..]: (reservation id or "", dollars it cost) pairs. A reservation that lapsed
          -- was charged its worst case already: its cost is not charged again. Reply: {spent, held}.
          for i = 3, #ARGV, 2 do
            local id, cost = ARGV[i], tonumber(ARGV[i + 1])
            if id == '' or redis.call('HDEL', KEYS[2], id) == 1 then charge(cost) end
          end
          local spent, held = tidy()
          keep(0)
          return {micro(spent), micro(held)}
        elseif op == 'read' then
          local spent, held = tidy()
          return {micro(spent), micro(held)}
        end
        return redis.error_reply('volley: unknown shared-budget operation ' .. tostring(op))
        """#
}

/// The Redis keys of one account's shared budget, under one hash tag.
public struct SharedBudgetKeys: Sendable, Hashable {
    public let keys: [String]

    /// - Parameter account: an opaque id of the API origin and key (no key material).
    public init(prefix: String, account: String) {
        keys = ["spent", "held"].map { "\(prefix):{budget-\(account)}:\($0)" }
    }
}

/// One call of the shared budget's script.
public enum SharedBudgetOperation: Sendable {
    /// Holds `dollars` under `limit` for a call, until it is settled or `lapse` seconds pass.
    case reserve(SharedBudgetKeys, limit: Double, id: String, dollars: Double, lapse: Double)
    /// Calls that ended: each reservation id ("" for a call that reserved nothing) and its cost.
    case settle(SharedBudgetKeys, [(id: String, cost: Double)])
    /// What is spent and held.
    case read(SharedBudgetKeys)

    var keys: SharedBudgetKeys {
        switch self {
        case .reserve(let keys, _, _, _, _), .settle(let keys, _), .read(let keys): keys
        }
    }

    /// The window is a day: the only shared period (a sidecar's lifetime is its own).
    static let windowMinutes = "1440"

    var arguments: [String] {
        switch self {
        case .reserve(_, let limit, let id, let dollars, let lapse):
            ["reserve", Self.windowMinutes, String(limit), id, String(dollars), format((lapse * 1_000_000).rounded())]
        case .settle(_, let settled):
            ["settle", Self.windowMinutes] + settled.flatMap { [$0.id, String($0.cost)] }
        case .read:
            ["read", Self.windowMinutes]
        }
    }
}

/// What the script says of a budget (dollars).
public struct SharedBudgetReading: Sendable, Equatable {
    /// Whether a reservation was granted (true for settle and read).
    public var granted: Bool
    public var spent: Double
    public var held: Double

    /// A reserve's `{granted, spent, held}` or a settle's or read's `{spent, held}`.
    public init?(reply: [Int64]) {
        switch reply.count {
        case 3: (granted, spent, held) = (reply[0] == 1, Double(reply[1]) / 1_000_000, Double(reply[2]) / 1_000_000)
        case 2: (granted, spent, held) = (true, Double(reply[0]) / 1_000_000, Double(reply[1]) / 1_000_000)
        default: return nil
        }
    }
}

/// The shared budget's operations over one connection, pipelined.
public final class SharedBudgetClient {
    public let connection: RedisConnection
    private let script = RedisScript(SharedBudgetScript.source, name: "shared-budget")

    public init(_ connection: RedisConnection) {
        self.connection = connection
    }

    /// Runs `operations` in one round trip; each gets its reading or the server's error.
    /// - Throws: `.unavailable` when the connection broke or timed out.
    public func run(_ operations: [SharedBudgetOperation]) throws(RedisError) -> [Result<SharedBudgetReading, RedisError>] {
        try script.run(on: connection, operations.map { ($0.keys.keys, $0.arguments) }).map { result in
            result.flatMap { reply in
                SharedBudgetReading(reply: reply).map { .success($0) }
                    ?? .failure(RedisError(.server, "unexpected reply from the shared-budget script: \(reply)"))
            }
        }
    }

    public func one(_ operation: SharedBudgetOperation) throws(RedisError) -> SharedBudgetReading {
        try run([operation])[0].get()
    }
}

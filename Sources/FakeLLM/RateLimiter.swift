/// The server's RPM and TPM buckets together, deciding whether a request is admitted.
///
/// A pure value driven by the caller's clock. One limiter serves the whole server (every model
/// and both APIs share it), which is enough to test a client's limiter against.
struct RateLimiter: Sendable, Equatable {
    /// Which limit turned a request away; also the OpenAI error `type` ("requests" / "tokens").
    enum Kind: String, Sendable, Equatable {
        case requests
        case tokens
    }

    /// One bucket's state as the rate-limit headers report it.
    struct BucketState: Sendable, Equatable {
        var limit: Int
        var remaining: Int
        var secondsUntilFull: Double
    }

    /// Both buckets' state (nil for a limit that is not configured).
    struct Snapshot: Sendable, Equatable {
        var requests: BucketState?
        var tokens: BucketState?

        var isEmpty: Bool { requests == nil && tokens == nil }
    }

    /// The answer to `admit`.
    enum Decision: Sendable, Equatable {
        /// Charged; the snapshot is taken after charging.
        case admitted(Snapshot)
        /// Over a limit; nothing was charged.
        case limited(kind: Kind, limit: Int, used: Int, requested: Int, retryAfterSeconds: Double, snapshot: Snapshot)
        /// The request's token estimate exceeds the TPM bucket's capacity: it can never fit.
        case tooLarge(limit: Int, requested: Int, snapshot: Snapshot)
    }

    private(set) var requests: TokenBucket?
    private(set) var tokens: TokenBucket?

    /// Buckets holding `burstSeconds` of each limit; `requestBurst`, when set, is the request
    /// bucket's capacity instead (at least 1; the refill rate is unchanged).
    init(requestsPerMinute: Int?, tokensPerMinute: Int?, burstSeconds: Double, requestBurst: Int? = nil, now: Double) {
        requests = requestsPerMinute.map { limit in
            guard let requestBurst else { return TokenBucket(limitPerMinute: limit, burstSeconds: burstSeconds, now: now) }
            return TokenBucket(limitPerMinute: limit, capacity: Double(max(1, requestBurst)), now: now)
        }
        tokens = tokensPerMinute.map { TokenBucket(limitPerMinute: $0, burstSeconds: burstSeconds, now: now) }
    }

    var isConfigured: Bool { requests != nil || tokens != nil }

    /// Admits one request estimated at `tokenCost` tokens, charging both buckets, or neither.
    mutating func admit(tokenCost: Int, now: Double) -> Decision {
        let cost = Double(max(0, tokenCost))
        if var bucket = requests {
            let fits = bucket.canTake(1, now: now)
            requests = bucket
            if !fits {
                return .limited(
                    kind: .requests, limit: bucket.limitPerMinute, used: used(bucket), requested: 1,
                    retryAfterSeconds: bucket.secondsUntilAvailable(1), snapshot: snapshot(now: now))
            }
        }
        if var bucket = tokens {
            if cost > bucket.capacity {
                return .tooLarge(limit: bucket.limitPerMinute, requested: tokenCost, snapshot: snapshot(now: now))
            }
            let fits = bucket.canTake(cost, now: now)
            tokens = bucket
            if !fits {
                return .limited(
                    kind: .tokens, limit: bucket.limitPerMinute, used: used(bucket), requested: tokenCost,
                    retryAfterSeconds: bucket.secondsUntilAvailable(cost), snapshot: snapshot(now: now))
            }
        }
        requests?.take(1)
        tokens?.take(cost)
        return .admitted(snapshot(now: now))
    }

    /// Seconds until one more request (of `tokenCost` tokens) would fit; 0 when it fits now.
    mutating func secondsUntilAdmissible(tokenCost: Int, now: Double) -> Double {
        var wait = 0.0
        if var bucket = requests {
            bucket.refill(now: now)
            requests = bucket
            wait = max(wait, bucket.secondsUntilAvailable(1))
        }
        if var bucket = tokens {
            bucket.refill(now: now)
            tokens = bucket
            let needed = min(Double(max(0, tokenCost)), bucket.capacity)
            wait = max(wait, bucket.secondsUntilAvailable(needed))
        }
        return wait
    }

    /// Both buckets' state, refilled to `now`.
    mutating func snapshot(now: Double) -> Snapshot {
        requests?.refill(now: now)
        tokens?.refill(now: now)
        return Snapshot(requests: requests.map(Self.state), tokens: tokens.map(Self.state))
    }

    private static func state(_ bucket: TokenBucket) -> BucketState {
        BucketState(limit: bucket.limitPerMinute, remaining: bucket.remaining, secondsUntilFull: bucket.secondsUntilFull)
    }

    /// What OpenAI's message calls "Used": the limit minus what is left.
    private func used(_ bucket: TokenBucket) -> Int {
        min(bucket.limitPerMinute, max(0, bucket.limitPerMinute - bucket.remaining))
    }
}

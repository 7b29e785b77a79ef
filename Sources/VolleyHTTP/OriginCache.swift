/// Origins of recently seen URLs: a provider sends every request to the same URL, and
/// parsing it each time showed in the profile. Bounded: emptied when full.
struct OriginCache {
    private var origins: [String: Origin] = [:]
    private let capacity: Int

    init(capacity: Int = 1024) {
        self.capacity = capacity
    }

    /// The origin of `url`, or nil when it is not an absolute http(s) URL.
    mutating func origin(of url: String) -> Origin? {
        if let cached = origins[url] { return cached }
        guard let origin = Origin(url: url) else { return nil }
        if origins.count >= capacity { origins.removeAll(keepingCapacity: true) }
        origins[url] = origin
        return origin
    }
}

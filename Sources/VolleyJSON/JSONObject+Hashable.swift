extension JSONObject: Hashable {
    /// Two objects are equal when they have the same keys with equal values, in any order.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.count == rhs.count else { return false }
        // Fast path: objects built the same way usually list their keys in the same order.
        var sameOrder = true
        for (left, right) in zip(lhs, rhs) {
            guard Name.same(left.key, right.key) else {
                sameOrder = false
                break
            }
            guard left.value == right.value else { return false }
        }
        if sameOrder { return true }
        for (key, value) in lhs {
            guard rhs[key] == value else { return false }
        }
        return true
    }

    /// Hashes the members independently of their order, to agree with `==`.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        var combined = 0
        for (key, value) in self {
            var memberHasher = Hasher()
            memberHasher.combine(Name(key))
            memberHasher.combine(value)
            combined = combined &+ memberHasher.finalize()
        }
        hasher.combine(combined)
    }
}

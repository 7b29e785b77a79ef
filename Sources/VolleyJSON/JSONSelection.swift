/// The parts of a JSON document to build when parsing it; everything else is checked just
/// as strictly and skipped without allocating. For reading a few fields out of a large
/// response (an LLM reply's text and usage) without building the rest.
///
///     let selection: JSONSelection = .members(["model": .all, "usage": .members(["prompt_tokens": .all])])
public struct JSONSelection: Sendable {
    /// One kept member: its name, the name's UTF-8 (matched against raw keys without making a
    /// string), and what to keep of its value.
    struct Member: Sendable {
        let name: String
        let utf8: [UInt8]
        let selection: JSONSelection
    }

    /// `true` for `.all`.
    let keepsAll: Bool
    /// The members `.members` keeps (empty for `.all`).
    let members: [Member]

    /// The whole value.
    public static let all = JSONSelection(keepsAll: true, members: [])

    /// In an object, only these members, each under its own selection. In an array, every
    /// element under this same selection. A scalar is kept as it is.
    public static func members(_ members: [String: JSONSelection]) -> JSONSelection {
        JSONSelection(keepsAll: false, members: members.map { Member(name: $0.key, utf8: Array($0.key.utf8), selection: $0.value) })
    }

    /// The member named by the raw key bytes `start..<start + count`, if kept.
    func member(matching base: UnsafeRawPointer, start: Int, count: Int) -> Member? {
        for member in members where member.utf8.count == count {
            var equal = true
            for offset in 0..<count where member.utf8[offset] != base.load(fromByteOffset: start + offset, as: UInt8.self) {
                equal = false
                break
            }
            if equal { return member }
        }
        return nil
    }

    /// The member named `name`, if kept.
    func member(named name: String) -> Member? {
        members.first { JSONObject.Name.same($0.name, name) }
    }
}

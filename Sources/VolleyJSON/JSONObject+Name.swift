extension JSONObject {
    /// A member's name as JSON compares names: equal when their UTF-8 is (so their Unicode
    /// scalars are), hashed the same way. `String`'s own equality is canonical equivalence,
    /// which would make `"é"` and `"e\u{301}"` one key and drop a member of a parsed object.
    struct Name: Hashable {
        let text: String

        init(_ text: String) {
            self.text = text
        }

        static func == (left: Name, right: Name) -> Bool {
            same(left.text, right.text)
        }

        func hash(into hasher: inout Hasher) {
            let hashed: Void? = text.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
            if hashed == nil {
                for byte in text.utf8 { hasher.combine(byte) }
            }
        }

        /// Whether two names are the same name: the same UTF-8, byte for byte.
        @inline(__always)
        static func same(_ left: String, _ right: String) -> Bool {
            let leftUTF8 = left.utf8, rightUTF8 = right.utf8
            guard leftUTF8.count == rightUTF8.count else { return false }
            // Strings that are not even canonically equivalent differ in bytes too; `!=` says
            // so at once for the common miss (two short ASCII names compare as two words).
            // Equivalent ones may still differ in bytes, so a match is confirmed below.
            if left != right { return false }
            let contiguous = leftUTF8.withContiguousStorageIfAvailable { leftBytes in
                rightUTF8.withContiguousStorageIfAvailable { rightBytes in
                    Bytes.equal(UnsafeRawBufferPointer(leftBytes), UnsafeRawBufferPointer(rightBytes))
                }
            }
            if let equal = contiguous ?? nil { return equal }
            return leftUTF8.elementsEqual(rightUTF8)
        }
    }
}

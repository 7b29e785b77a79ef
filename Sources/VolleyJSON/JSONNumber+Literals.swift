extension JSONNumber: ExpressibleByIntegerLiteral {
    /// An integer literal, written in decimal.
    public init(integerLiteral value: Int) {
        self.init(value)
    }
}

extension JSONNumber: ExpressibleByFloatLiteral {
    /// A float literal, converted to `Double` first (`1.10` is written as `1.1`).
    ///
    /// A literal is written by the programmer, so a non-finite one (`1e999`) is a bug and traps.
    public init(floatLiteral value: Double) {
        guard let number = JSONNumber(value) else {
            preconditionFailure("JSON numbers must be finite; \(value) is not")
        }
        self = number
    }
}

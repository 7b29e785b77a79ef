import Testing
import VolleyJSON

@Suite("JSONNumber")
struct JSONNumberTests {
    @Test func textIsKeptExactly() throws {
        for text in ["12345678901234567890", "1.10", "-0", "1E+2", "0.000", "-1e-0"] {
            #expect(JSONNumber(text: text)?.text == text)
        }
    }

    @Test(arguments: ["+1", "01", ".5", "NaN", "Infinity", " 1", "1 ", "1e", "", "0x10", "1,2", "\"1\""])
    func invalidTextIsRejected(_ text: String) {
        #expect(JSONNumber(text: text) == nil)
    }

    @Test func fromIntegers() {
        #expect(JSONNumber(42).text == "42")
        #expect(JSONNumber(Int.min).text == "-9223372036854775808")
        #expect(JSONNumber(UInt64.max).text == "18446744073709551615")
        #expect(JSONNumber(Int8(-5)).text == "-5")
    }

    @Test func fromDoublesUsesShortestRoundTripText() {
        // `JSONNumber(0.1)` with a literal would be literal coercion; go through Double values.
        func text(_ value: Double) -> String? { JSONNumber(value)?.text }
        #expect(text(0.1) == "0.1")
        #expect(text(3.0) == "3.0")
        #expect(text(-2.5) == "-2.5")
        #expect(text(1e-7) == "1e-07")
        #expect(text(1e20) == "1e+20")
        #expect(JSONNumber(Double.greatestFiniteMagnitude)?.double == Double.greatestFiniteMagnitude)
        for value in [0.1, 1.0 / 3.0, Double.leastNonzeroMagnitude, -0.0, 123456.789, 1e300] {
            let number = JSONNumber(value)
            #expect(number?.double == value)
            #expect(number.flatMap { JSONNumber(text: $0.text) } == number)
        }
    }

    @Test func nonFiniteDoublesAreNotNumbers() {
        #expect(JSONNumber(Double.nan) == nil)
        #expect(JSONNumber(Double.infinity) == nil)
        #expect(JSONNumber(-Double.infinity) == nil)
        #expect(JSONValue(Double.nan) == .null)
        #expect(JSONValue(1.5) == .number(JSONNumber(floatLiteral: 1.5)))
        #expect(JSONValue(7) == 7)
    }

    @Test(arguments: [
        ("0", 0), ("-0", 0), ("42", 42), ("-42", -42), ("1e3", 1000), ("1E+3", 1000), ("1.0", 1),
        ("12.50e1", 125), ("-0.0", 0), ("100e-2", 1), ("0e999999999999", 0), ("0.00", 0),
        ("9223372036854775807", Int.max), ("-9223372036854775808", Int.min),
        ("922337203685477580.7e1", Int.max), ("-9.223372036854775808e18", Int.min),
    ] as [(String, Int)])
    func exactIntegers(_ text: String, _ expected: Int) throws {
        #expect(try #require(JSONNumber(text: text)).int == expected)
    }

    @Test(arguments: ["1.5", "1e-1", "9223372036854775808", "-9223372036854775809", "1e19", "1e999999999", "12345678901234567890", "0.1e1000"])
    func notExactIntegers(_ text: String) throws {
        #expect(try #require(JSONNumber(text: text)).int == nil)
    }

    @Test func doubles() throws {
        #expect(try #require(JSONNumber(text: "1.10")).double == 1.1)
        #expect(try #require(JSONNumber(text: "1E+2")).double == 100)
        #expect(try #require(JSONNumber(text: "-0")).double == 0)
        #expect(try #require(JSONNumber(text: "1e400")).double == nil)
        #expect(try #require(JSONNumber(text: "1e-400")).double == 0)
    }

    @Test func equalityIsTextual() throws {
        #expect(JSONNumber(text: "1") != JSONNumber(text: "1.0"))
        #expect(JSONNumber(text: "1.10") == JSONNumber(text: "1.10"))
        #expect(JSONNumber(1) == 1)
        #expect(JSONNumber(floatLiteral: 2.5) == 2.5)
    }
}

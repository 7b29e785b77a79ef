import Testing

@testable import FakeLLM

@Suite("Go durations and RFC 3339 timestamps")
struct FormattingTests {
    @Test(arguments: [
        (Int64(0), "0s"),
        (1, "1ns"),
        (999, "999ns"),
        (1_500, "1.5µs"),
        (12_000_000, "12ms"),
        (120_500_000, "120.5ms"),
        (1_000_000_000, "1s"),
        (8_640_000_000, "8.64s"),
        (59_999_000_000, "59.999s"),
        (90_500_000_000, "1m30.5s"),
        (360_000_000_000, "6m0s"),
        (3_600_000_000_000, "1h0m0s"),
        (3_723_000_000_000, "1h2m3s"),
        (-1_000_000_000, "-1s"),
    ])
    func goDuration(nanoseconds: Int64, expected: String) {
        #expect(GoDuration.format(nanoseconds: nanoseconds) == expected)
    }

    @Test func goDurationFromSecondsRoundsUpToMilliseconds() {
        #expect(GoDuration.format(seconds: 0) == "0s")
        #expect(GoDuration.format(seconds: -3) == "0s")
        #expect(GoDuration.format(seconds: 0.1201) == "121ms")
        #expect(GoDuration.format(seconds: 1) == "1s")
        #expect(GoDuration.format(seconds: 9.9931) == "9.994s")
        #expect(GoDuration.format(seconds: 360) == "6m0s")
        #expect(GoDuration.format(seconds: .infinity) == "0s")
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00Z"),
        (-1, "1969-12-31T23:59:59Z"),
        (951_782_400, "2000-02-29T00:00:00Z"),
        (1_714_564_803, "2024-05-01T12:00:03Z"),
        (1_795_577_620, "2026-11-25T03:33:40Z"),
        (4_102_444_800, "2100-01-01T00:00:00Z"),
    ])
    func rfc3339(unixSeconds: Int64, expected: String) {
        #expect(RFC3339.format(unixSeconds: unixSeconds) == expected)
    }

    @Test func rfc3339RoundsFractionalTimesUp() {
        #expect(RFC3339.format(unixTime: 1_714_564_802.2) == "2024-05-01T12:00:03Z")
        #expect(RFC3339.format(unixTime: 1_714_564_803) == "2024-05-01T12:00:03Z")
    }
}
